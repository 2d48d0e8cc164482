"""Bad input at every boundary is refused with a clear error and stores nothing (issue 14, items
10 and 12): non-finite and huge numbers, malformed peer MeasureReports, unreadable cells, deep
JSON, dates at the ends of the calendar with extreme offsets, ids beyond the database's keys.

The first tests are the probes that failed, each with the answer it should have had. Then one
fuzzing test per importer (peer MeasureReports, counts CSV, historical safety events CSV, the
compliance frameworks, mappings and assessments, the risk register in CSV and XLSX) and per
form family (reporting, triage and workflow, the RCA worksheet, actions, measures, filters in
query strings), through Django's test client against the real views: whatever is sent, the
answer is never a server error, and a refusal changes nothing (no row, no audit entry of a
change). Their example counts come from tests/fuzz.py's examples(n): small in the default run,
ten times more in `make test-deep`. The API is fuzzed by schemathesis (test_api_schema.py); its
JSON parser and types share the checks tested here.

The hospital, taxonomy, measure library, one person holding every role and the records the forms
work on (an event in triage, an RCA under way, an action, a year of results) are made once for
the module in a transaction rolled back at its end; each test's own transaction nests in it.
"""

import csv
import io
import json
import math
import re
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.messages import constants as message_levels
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from andon.actions import services as action_services
from andon.actions.models import Action
from andon.compliance import assessments, frameworks
from andon.compliance.models import AssessmentItem, Framework, FrameworkVersion, Requirement, RequirementMapping
from andon.measures import compute
from andon.measures import services as measure_services
from andon.measures.models import Annotation, ManualCount, Measure, PeerResult, UnitMapping
from andon.platform import content, inputs
from andon.platform import services as platform_services
from andon.platform.demo import ORGANISATION_FILE
from andon.platform.models import AccessToken, Job
from andon.platform.roles import Role
from andon.risk import exchange as risk_exchange
from andon.risk import services as risk_services
from andon.risk.models import Risk, ScoreRecord
from andon.safety import rca
from andon.safety import services as safety_services
from andon.safety.models import (
    ConductConcern,
    ContributingFactor,
    Review,
    RootCause,
    SafetyEvent,
    TeamMember,
    TimelineEntry,
    WhyChain,
)
from tests.conftest import Hospital
from tests.fuzz import HOSTILE, examples, hostile_cell, hostile_text
from tests.test_compliance_frameworks import rewritten
from tests.test_measures import LIBRARY
from tests.test_measures_pages import months

CONTENT = LIBRARY.parent

def fuzz(count: int):
    """Hypothesis settings of a fuzzing test here: `count` examples (times ANDON_FUZZ_SCALE), the
    same ones on every run (CI is reproducible), no deadline (each is a real request)."""
    return settings(max_examples=examples(count), deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@dataclass
class World:
    hospital: Hospital
    boss: object  # every role over the whole organisation: every form is open to them
    token: str
    triaged: SafetyEvent  # waiting for triage
    investigated: SafetyEvent  # an RCA under way
    action: Action


def _world() -> World:
    organisation = content.load_organisation(content.read_file(ORGANISATION_FILE), str(ORGANISATION_FILE))
    content.load_content([CONTENT / "taxonomies", LIBRARY])
    hospital = Hospital(organisation)
    boss = platform_services.create_user("inputs-boss", email="inputs-boss@example.org")
    for role in Role:
        platform_services.grant_role(boss, role, organisation)
    ward = hospital.unit("rgh/4w")
    report = safety_services.Report(kind="incident", category="fall", unit_id=ward.pk,
                                    occurred_at=timezone.now() - timedelta(hours=5), narrative="Fall at night.",
                                    harm="severe", details={"injury_level": "major"})
    triaged, _ = safety_services.submit_report(boss, report)
    investigated, _ = safety_services.submit_report(boss, report)
    investigated = safety_services.triage(boss, investigated, safety_services.Triage(
        category="fall", harm="severe", sac_severity="catastrophic", sac_probability="occasional", sentinel=True,
        review=Review.RCA, reason="Fall with fracture is a sentinel event"))
    rca.start_investigation(boss, investigated)
    action = action_services.create_action(boss, unit=ward, owner=boss, title="Bed alarms on",
                                           due_date=timezone.localdate() + timedelta(days=60), strength="stronger",
                                           measure="Falls per 1,000 bed days")
    _results(hospital)
    return World(hospital, boss, AccessToken.issue(boss, "inputs")[1], triaged, investigated, action)


def _results(hospital):
    """Two years of readmission results of two wards, small (the funnel's exact limits take time
    in proportion to the denominators)."""
    measure = Measure.objects.get(key="readmission-30-day")
    cells = [compute.Cell(start, unit, "", "", 20, numerator, 20, compute.score(measure, numerator, 20))
             for start in months(24) for unit, numerator in ((None, 4), (hospital.unit("rgh/4w").pk, 3),
                                                              (hospital.unit("rgh/5e").pk, 1))]
    measure_services.replace_results(measure, "month", date(2024, 1, 1), date(2026, 1, 1), cells, "test load")


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def boss(world, db, sign_in_with_mfa):
    sign_in_with_mfa(world.boss)
    return world.boss


class Api:
    """The API with the boss's token: raw JSON texts in."""

    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def post(self, path, body):
        return self.client.post(f"/api/v1/{path}", body, content_type="application/json", headers=self.headers)

    def get(self, path):
        return self.client.get(f"/api/v1/{path}", headers=self.headers)


@pytest.fixture
def api(world, db, client):
    return Api(client, world.token)


MODELS = (SafetyEvent, ConductConcern, TimelineEntry, WhyChain, ContributingFactor, RootCause, TeamMember, Action,
          ManualCount, PeerResult, Annotation, UnitMapping, Job, Framework, FrameworkVersion, Requirement,
          RequirementMapping, AssessmentItem, Risk, ScoreRecord)


def writes() -> tuple:
    """What a refused input must leave as it was: the rows of every table a form or importer here
    writes, the versions of assessment items and risks (an import changes them in place), and the
    audit trail's entries of changes (reads are audited even when refused)."""
    return (*(model.objects.count() for model in MODELS),
            *(tuple(model.objects.order_by("pk").values_list("version", flat=True)) for model in (AssessmentItem, Risk)),
            LogEntry.objects.exclude(action=LogEntry.Action.ACCESS).count())


def errors_of(response) -> list[str]:
    """The error messages this request left for the next page (not those an earlier redirect
    left unread; none when a middleware refused the request before the messages')."""
    storage = getattr(response.wsgi_request, "_messages", None)
    queued = storage._queued_messages if storage is not None else []
    return [str(m) for m in queued if m.level == message_levels.ERROR]


def refused(response) -> bool:
    """Every page here answers an accepted input with a redirect and no error message, except the
    report form: it answers a sent report with its "sent" page (200), named and anonymous alike,
    so that the two cannot be told apart in a log (docs/safety.md)."""
    sent = any(template.name == "safety/report/sent.html" for template in response.templates)
    return not (response.status_code == 302 or (response.status_code == 200 and sent)) or bool(errors_of(response))


def upload(client, url, name, data, field="csv"):
    return client.post(url, {field: SimpleUploadedFile(name, data)})


# --- item 10: non-finite numbers ----------------------------------------------------------------

PEERS = reverse("measures:peers", args=["readmission-30-day"])


def peer_report(numerator=120, denominator=1000, **changes):
    report = {"resourceType": "MeasureReport", "type": "summary", "status": "complete",
              "measure": "urn:andon:measure:readmission-30-day", "reporter": {"display": "St Elsewhere"},
              "period": {"start": "2025-01-01", "end": "2025-12-31"},
              "group": [{"population": [
                  {"code": {"coding": [{"code": "numerator"}]}, "count": numerator},
                  {"code": {"coding": [{"code": "denominator"}]}, "count": denominator}]}]}
    return {**report, **changes}


def test_a_peer_report_with_infinite_counts_is_refused_and_the_unit_comparison_still_works(client, boss):
    text = json.dumps(peer_report(math.inf, math.inf))
    assert '"count": Infinity' in text  # what Python's json writes, and reads back
    response = upload(client, PEERS, "peer.json", text.encode())
    assert errors_of(response) == ["Nothing was imported: the file: Infinity is not a number JSON allows"]
    assert not PeerResult.objects.exists()
    # One stored before imports refused them is left off the comparison, which still shows.
    PeerResult.objects.create(measure=Measure.objects.get(key="readmission-30-day"), peer="Old import",
                              period_start=date(2025, 1, 1), period_end=date(2025, 12, 31), numerator=math.inf,
                              denominator=math.inf, value=None, source="peer.json", imported_by=boss)
    page = client.get(reverse("measures:units", args=["readmission-30-day"]))
    assert page.status_code == 200 and "Old import" not in page.content.decode()


@pytest.mark.parametrize(("score", "reason"), [
    (math.nan, "the file: NaN is not a number JSON allows"),
    (1e308, "the report.group[0].measureScore.value: 1e+308 is not between -1e+15 and 1e+15"),
    (-math.inf, "the file: -Infinity is not a number JSON allows"),
])
def test_peer_scores_that_are_nan_infinite_or_beyond_the_limit_are_refused(client, boss, score, reason):
    report = peer_report(group=[{"measureScore": {"value": score}}])
    response = upload(client, PEERS, "peer.json", json.dumps(report).encode())
    assert errors_of(response) == [f"Nothing was imported: {reason}"]
    assert not PeerResult.objects.exists()


def test_counts_by_form_file_and_api_are_finite_and_in_range(client, boss, world, api):
    ward = world.hospital.unit("rgh/4w").pk
    url = reverse("measures:counts", args=["hand-hygiene"])
    for numerator, denominator in (("1e308", "1e308"), ("1_0", "20"), ("nan", "1")):
        page = client.post(url, {"unit": ward, "month": "2025-02", "numerator": numerator, "denominator": denominator})
        assert page.status_code == 200 and page.context["form"].errors
    assert page.context["form"].errors["numerator"] == ["'nan' is not a number (write it like 12 or 12.5)."]
    cells = (b"unit,month,numerator,denominator\n"
             b"rgh/4w,2025-01,nan,inf\nrgh/4w,2025-02,1e308,1e308\nrgh/4w,2025-03,1,inf\n")
    page = upload(client, url, "counts.csv", cells)
    assert page.status_code == 200
    assert page.context["report"].errors == [
        (2, "numerator: 'nan' is not a number (write it like 12 or 12.5)"),
        (3, "numerator: 1e+308 is not between 0 and 1e+15"),
        (4, "denominator: 'inf' is not a number (write it like 12 or 12.5)"),
    ]
    body = '{"unit_id": %d, "month": "2025-01", "numerator": %s, "denominator": %s}'
    assert api.post("measures/hand-hygiene/counts", body % (ward, 1, "Infinity")).status_code == 400
    assert api.post("measures/hand-hygiene/counts", body % (ward, "NaN", 1)).status_code == 400
    too_big = api.post("measures/hand-hygiene/counts", body % (ward, "1e308", "1e308"))
    assert too_big.status_code == 422 and too_big.json()["detail"][0]["loc"] == ["body", "payload", "numerator"]
    assert api.post("measures/hand-hygiene/counts", body % (ward, '"1_0"', 20)).status_code == 422
    assert not ManualCount.objects.exists()
    assert api.post("measures/hand-hygiene/counts", body % (ward, 19, 20)).status_code == 201


def test_a_non_finite_count_from_any_caller_is_refused_by_the_service(world, db):
    measure = Measure.objects.get(key="hand-hygiene")
    for numerator, denominator in ((math.inf, math.inf), (math.nan, 1.0), (1.0, 1e300)):
        with pytest.raises(Exception, match="not a finite number|is not between"):
            measure_services.enter_count(world.boss, measure, world.hospital.unit("rgh/4w"), date(2025, 1, 1),
                                         numerator, denominator)
    assert not ManualCount.objects.exists()


def test_a_computation_whose_sums_overflow_keeps_the_stored_results(world, db, monkeypatch):
    measure = Measure.objects.get(key="hand-hygiene")
    measure_services.enter_count(world.boss, measure, world.hospital.unit("rgh/4w"), date(2025, 1, 1), 19, 20)
    [done] = measure_services.compute_measures(["hand-hygiene"], first=date(2025, 1, 1), last=date(2025, 1, 31))
    stored = list(measure.results.values_list("numerator", "denominator", "value"))
    assert done.error == "" and (19, 20, 95) in stored
    overflowing = compute.Cell(date(2025, 1, 1), None, "", "", 2, math.inf, 40, math.inf)  # two of 1e308
    monkeypatch.setattr(compute, "from_manual", lambda *args: ([overflowing], {}))
    [done] = measure_services.compute_measures(["hand-hygiene"], first=date(2025, 1, 1), last=date(2025, 1, 31))
    assert done.error == ("hand-hygiene: the result for 2025-01 (the organisation) is not a finite number; the "
                          "stored results are kept")
    assert list(measure.results.values_list("numerator", "denominator", "value")) == stored


# --- item 12: bad input answered with a clear error, nothing stored ----------------------------

MALFORMED_PEER_REPORTS = [
    ("[]", "expected a MeasureReport or a Bundle of them"),
    ('{"resourceType": "Bundle", "entry": [1]}', "entry 1: not a MeasureReport"),
    ('{"resourceType": "Bundle", "entry": {"a": 1}}', "entry: expected a list"),
    ('{"resourceType": "Bundle", "entry": [{"resource": 1}]}', "entry 1: not a MeasureReport"),
    (json.dumps(peer_report(reporter="x")), "the report.reporter: expected an object"),
    (json.dumps(peer_report(reporter={"display": 5})), "the report.reporter.display: expected a text"),
    (json.dumps(peer_report(period="x")), "the report.period: expected an object"),
    (json.dumps(peer_report(period={"start": 5, "end": None})),
     "the report.period.start: expected a date (YYYY-MM-DD)"),
    (json.dumps(peer_report(period={"start": "0001-01-01", "end": "2025-01-01"})),
     "the report.period.start: 0001-01-01 is not a date from 1900-01-01 to 2199-12-31"),
    (json.dumps(peer_report(group={"a": 1})), "the report.group: expected a list"),
    (json.dumps(peer_report(group=[1])), "the report.group[0]: expected an object"),
    (json.dumps(peer_report(group=[{"population": "x"}])), "the report.group[0].population: expected a list"),
    (json.dumps(peer_report(group=[{"population": [1]}])), "the report.group[0].population[0]: expected an object"),
    (json.dumps(peer_report(group=[{"population": [{"code": "x", "count": 1}]}])),
     "the report.group[0].population[0].code: expected an object"),
    (json.dumps(peer_report(group=[{"population": [{"code": {"coding": [{"code": ["x"]}]}, "count": 1}]}])),
     "the report.group[0].population[0].code.coding[0].code: expected a text"),
    (json.dumps(peer_report(numerator=12.5)), "the report.group[0].population[0].count: 12.5 is not a whole number"),
    (json.dumps(peer_report(numerator=-1)), "the report.group[0].population[0].count: -1 is not between 0 and 1e+15"),
    (json.dumps(peer_report(group=[{"measureScore": "x"}])), "the report.group[0].measureScore: expected an object"),
    (json.dumps(peer_report(measure=["x"])), "the report.measure: ['x'] is not urn:andon:measure:readmission-30-day"),
    ('{"a":' * 5000 + "1" + "}" * 5000, "the file: nested more than 32 levels deep"),
    ("[" * 100_000 + "]" * 100_000, "the file: nested more than 32 levels deep"),
    ("9" * 5000, "the file: a whole number of 5,000 digits (at most 100)"),
    (json.dumps(peer_report(reporter={"display": "St \u0000 Elsewhere"})), "the file: a text contains a NUL character"),
]


@pytest.mark.parametrize(("text", "reason"), MALFORMED_PEER_REPORTS)
def test_malformed_peer_reports_are_refused_saying_where_and_why(client, boss, text, reason):
    before = writes()
    response = upload(client, PEERS, "peer.json", text.encode())
    assert errors_of(response) == [f"Nothing was imported: {reason}"]
    assert writes() == before


def test_a_peer_report_that_is_not_utf8_is_refused_by_its_byte(client, boss):
    text = json.dumps(peer_report(reporter={"display": "Tomb\u00e9"}), ensure_ascii=False)
    response = upload(client, PEERS, "peer.json", text.encode("latin-1"))
    assert errors_of(response) == ["Nothing was imported: the file is not UTF-8 text: byte 0xe9 on line 1 "
                                   "(position 155) cannot be read."]


@pytest.mark.parametrize(("cells", "problem"), [
    (b"rgh/4w,2025-01,nan,1", (2, "numerator: 'nan' is not a number (write it like 12 or 12.5)")),
    (b"rgh/4w,2025-01,1," + b"9" * 400, (2, "denominator: '" + "9" * 36 + "... is too large a number")),
    (b"rgh/4w,0000-01,1,2", (2, "month: '0000-01' is not a month as YYYY-MM")),
    (b"rgh/4w,2025-01," + b"1" * 200_000 + b",2", (2, "not valid CSV: field larger than field limit (131072)")),
    (b"x" * 300 + b",2025-01,1,2", (2, "unit 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... is not a unit "
                                       "(write facility/unit codes, e.g. rgh/4w)")),
])
def test_bad_cells_in_a_counts_file_are_reported_by_line_and_field(client, boss, cells, problem):
    page = upload(client, reverse("measures:counts", args=["hand-hygiene"]), "counts.csv",
                  b"unit,month,numerator,denominator\n" + cells + b"\n")
    assert page.status_code == 200 and page.context["report"].errors == [problem]
    assert not ManualCount.objects.exists()


def test_a_counts_file_that_is_not_utf8_is_refused_by_its_byte(client, boss):
    page = upload(client, reverse("measures:counts", args=["hand-hygiene"]), "counts.csv",
                  "unit,month,numerator,denominator\nrgh/4w,2025-01,1,2 Tomb\u00e9\n".encode("latin-1"))
    assert page.status_code == 200
    assert page.context["upload"].errors["csv"] == ["The file is not UTF-8 text: byte 0xe9 on line 2 (position 56) "
                                                    "cannot be read."]


EVENTS_HEADER = "kind,category,unit,occurred_at,narrative,harm,details\n"


@pytest.mark.parametrize(("row", "problem"), [
    ('unsafe_condition,other,rgh/4w,0001-01-01T00:00+14:00,Wet floor,,\n',
     ("occurred_at", "0001-01-01T00:00:00+14:00 is not a time from 1900-01-01 to 2199-12-31.")),
    ('unsafe_condition,other,rgh/4w,9999-12-31T23:59-14:00,Wet floor,,\n',
     ("occurred_at", "9999-12-31T23:59:00-14:00 is not a time from 1900-01-01 to 2199-12-31.")),
    ('incident,fall,rgh/4w,2024-01-01,Fall,none,"{""injury_level"": ' + "[" * 3000 + "]" * 3000 + '}"\n',
     ("details", "nested more than 2 levels deep.")),
    ('incident,fall,rgh/4w,2024-01-01,Fall,none,"{""injury_level"": ' + "9" * 5000 + '}"\n',
     ("details", "a whole number of 5,000 digits (at most 100).")),
    ('incident,fall,rgh/4w,2024-01-01,Fall,none,"{""injury_level"": NaN}"\n',
     ("details", "NaN is not a number JSON allows.")),
    ('incident,fall,rgh/4w,2024-01-01,Fall,none,"{""injury_level"": ""none"", ""injury_level"": ""major""}"\n',
     ("details", "the key 'injury_level' appears more than once in an object.")),
])
def test_the_safety_import_refuses_bad_cells_by_row_and_field(client, boss, settings, tmp_path, row, problem):
    settings.DATA_DIR = tmp_path
    page = upload(client, reverse("safety:import_events"), "events.csv", (EVENTS_HEADER + row).encode(), "file")
    assert page.status_code == 200
    assert [(p.row, p.field, p.reason) for p in page.context["problems"]] == [(2, *problem)]
    assert SafetyEvent.objects.count() == 2  # the world's two


def test_a_nul_in_an_imported_file_is_refused_whole(client, boss, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    data = (EVENTS_HEADER + "unsafe_condition,other,rgh/4w,2024-01-01,Wet\x00 floor,,\n").encode()
    page = upload(client, reverse("safety:import_events"), "events.csv", data, "file")
    assert page.context["form"].errors["file"] == [
        "The file is not text: a NUL character on line 2 (position 98). Save the file as 'CSV UTF-8' and try again."]


def test_ids_and_dates_beyond_what_the_database_holds_are_not_found_or_refused(client, boss, api):
    for query in ("unit=\u00b2", "unit=" + "9" * 25, "unit=-1"):
        assert client.get(reverse("measures:measure", args=["readmission-30-day"]) + "?" + query).status_code == 404
    cases = reverse("measures:cases", args=["readmission-30-day"])
    assert client.get(cases + "?period=2024-W01").status_code == 404
    assert client.get(cases + "?period=0001-01").status_code == 404
    statuses = [client.get(url + "?from=0001-01-01&to=9999-12-31").status_code for url in (
        reverse("safety:analysis"), reverse("safety:pareto_svg", args=["category"]), reverse("safety:export_csv"))]
    assert statuses == [200, 400, 400]  # the page shows the form's errors; the chart and the file are refused
    page = client.get(reverse("safety:analysis") + "?to=9999-12-31")
    assert page.context["form"].errors["to"] == ["9999-12-31 is not a date from 1900-01-01 to 2199-12-31."]
    for path in ("safety/analysis?to=9999-12-31", "safety/export?to=9999-12-31"):
        assert api.get(path).status_code == 422


def test_compute_and_annotate_refuse_dates_outside_the_calendar_they_can_count(client, boss):
    page = client.post(reverse("measures:compute"), {"kind": "month", "first": "1850-01-01", "last": "1860-01-01"})
    assert page.status_code == 200 and page.context["form"].errors["first"] == [
        "1850-01-01 is not a date from 1900-01-01 to 2199-12-31."]
    page = client.post(reverse("measures:compute"), {"kind": "month", "first": "1900-01-01", "last": "2199-12-31"})
    assert page.status_code == 200
    assert page.context["form"].non_field_errors() == [
        "Choose a range from 1900 on, ending after it starts, of at most 20 years."]
    response = client.post(reverse("measures:annotate", args=["readmission-30-day"]),
                           {"date": "9999-12-31", "kind": "action", "text": "x"})
    assert errors_of(response) and not Annotation.objects.exists()


def test_api_times_are_read_in_the_servers_zone_without_an_offset_and_refused_beyond_the_calendar(world, api):
    report = {"kind": "unsafe_condition", "category": "other", "unit_id": world.hospital.unit("rgh/4w").pk,
              "narrative": "Wet floor"}
    refused_year_one = api.post("safety/events", json.dumps({**report, "occurred_at": "0001-01-01T00:00:00+14:00"}))
    assert refused_year_one.status_code == 422
    assert refused_year_one.json()["detail"][0]["loc"] == ["body", "payload", "occurred_at"]
    assert api.post("safety/events", json.dumps({**report, "occurred_at": "2024-01-01T00:00:00"})).status_code == 201
    event = SafetyEvent.objects.get(narrative="Wet floor")
    assert event.occurred_at == timezone.make_aware(timezone.datetime(2024, 1, 1))
    fact = api.post(f"safety/events/{world.investigated.pk}/investigation/timeline",
               json.dumps({"at": "9999-12-31T23:59:00-14:00", "fact": "x"}))
    assert fact.status_code == 422 and not TimelineEntry.objects.exists()


def test_an_rca_fact_at_year_one_with_an_offset_is_refused_on_the_page(client, boss, world):
    page = client.post(reverse("safety:add_to_investigation", args=[world.investigated.pk, "fact"]),
                       {"at": "0001-01-01T00:00+14:00", "fact": "Bed alarm off"})
    assert page.status_code == 400 and not TimelineEntry.objects.exists()


# --- fuzzing: importers -------------------------------------------------------------------------

JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12), st.sampled_from(HOSTILE),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.just([[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
)
PEER_PATHS = [
    (), ("resourceType",), ("type",), ("measure",), ("reporter",), ("reporter", "display"), ("period",),
    ("period", "start"), ("period", "end"), ("group",), ("group", 0), ("group", 0, "population"),
    ("group", 0, "population", 0), ("group", 0, "population", 0, "count"), ("group", 0, "population", 1, "count"),
    ("group", 0, "population", 0, "code"), ("group", 0, "population", 0, "code", "coding"),
    ("group", 0, "population", 0, "code", "coding", 0), ("group", 0, "population", 0, "code", "coding", 0, "code"),
    ("group", 0, "measureScore"), ("group", 0, "measureScore", "value"), ("group", 0, "extension"),
]


def _replaced(document, path, value):
    """`document` with the part at `path` set to `value`, making the parts on the way."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(key, int):
        items = list(document) if isinstance(document, list) else []
        items += [None] * (key + 1 - len(items))
        items[key] = _replaced(items[key], rest, value)
        return items
    copy = dict(document) if isinstance(document, dict) else {}
    copy[key] = _replaced(copy.get(key), rest, value)
    return copy


@st.composite
def peer_files(draw) -> bytes:
    """A valid report with a part or two replaced by something else, alone or in a Bundle; now
    and then any text, in UTF-8 or Latin-1."""
    if not draw(st.integers(0, 5)):
        return draw(hostile_text(200)).encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")
    report = peer_report(draw(st.integers(0, 500)), draw(st.integers(500, 2000)))
    for _ in range(draw(st.integers(1, 2))):
        report = _replaced(report, draw(st.sampled_from(PEER_PATHS)), draw(JSON_VALUES))
    if draw(st.booleans()):
        report = {"resourceType": "Bundle", "type": "collection", "entry": draw(st.sampled_from(
            [[{"resource": report}], [{"resource": peer_report()}, {"resource": report}], [report], None, "x"]))}
    return json.dumps(report, allow_nan=True).encode()


@fuzz(20)
@given(data=peer_files())
def test_fuzz_peer_measure_reports(client, boss, data):
    before = writes()
    response = upload(client, PEERS, "peer.json", data)
    assert response.status_code == 302
    if refused(response):
        assert writes() == before
    for peer in PeerResult.objects.all():
        assert all(math.isfinite(v) and abs(v) <= inputs.NUMBER_LIMIT
                   for v in (peer.numerator, peer.denominator, peer.value) if v is not None)


def csv_file(valid_rows: list[list[str]], rows=None, encodings=("utf-8", "latin-1")):
    """CSV bytes: valid rows with cells replaced by hostile text (or the rows `rows` draws),
    written by a CSV writer or joined raw (quotes and separators left in), in UTF-8 or Latin-1
    (or one of `encodings`)."""
    @st.composite
    def build(draw) -> bytes:
        if rows is None:
            table = [[draw(st.one_of(st.just(cell), st.just(cell), hostile_text())) for cell in row]
                     for row in valid_rows]
        else:
            table = draw(rows)
        if draw(st.booleans()):
            out = io.StringIO()
            csv.writer(out).writerows(table)
            text = out.getvalue()
        else:
            text = "\n".join(",".join(row) for row in table)
        return text.encode(draw(st.sampled_from(encodings)), errors="replace")
    return build()


@fuzz(12)
@given(data=csv_file([["unit", "month", "numerator", "denominator"], ["rgh/4w", "2025-01", "19", "20"],
                      ["rgh/5e", "2025-02", "3", "4"]]))
def test_fuzz_counts_csv(client, boss, data):
    before = writes()
    response = upload(client, reverse("measures:counts", args=["hand-hygiene"]), "counts.csv", data)
    if refused(response):
        assert response.status_code == 200 and writes() == before
    assert all(math.isfinite(n) and math.isfinite(d) and 0 <= n <= d <= inputs.NUMBER_LIMIT
               for n, d in ManualCount.objects.values_list("numerator", "denominator"))


@fuzz(12)
@given(data=csv_file([["kind", "category", "unit", "occurred_at", "narrative", "harm", "details", "reference_external"],
                      ["incident", "fall", "rgh/4w", "2024-02-03", "Found on the floor", "none",
                       '{"injury_level": "none"}', "OLD-1"],
                      ["unsafe_condition", "other", "lch/2a", "2024-03-01T08:00+14:00", "Wet floor", "", "", ""]]))
def test_fuzz_safety_events_csv(client, boss, settings, tmp_path, data):
    settings.DATA_DIR = tmp_path
    before = writes()
    response = upload(client, reverse("safety:import_events"), "events.csv", data, "file")
    if refused(response):
        assert response.status_code == 200 and writes() == before


# --- fuzzing: compliance importers ----------------------------------------------------------------

FUZZ_A, FUZZ_B = "urn:t:fuzz-a", "urn:t:fuzz-b"
FRAMEWORK_YAML = """\
framework:
  urn: {urn}
  name: {name}
  kind: internal
  version: "{version}"
requirements:
  - urn: {urn}:A
    citation: {citation}
    title: {title}
    children:
      - urn: {urn}:A.1
        citation: A.1
        title: {child}
        evidence_hints: [{hint}]
"""
FRAMEWORK_FIELDS = {"name": "Fuzz standards", "citation": "A", "title": "Reporting", "child": "Triage",
                    "hint": "Triage times"}
FRAMEWORK_ROWS = [["urn", "parent", "citation", "title", "summary", "guidance", "evidence_hints", "assessable"],
                  [f"{FUZZ_A}:A", "", "A", "Reporting", "Staff report events.", "", "", "false"],
                  [f"{FUZZ_A}:A.1", f"{FUZZ_A}:A", "A.1", "Triage", "Within a day.", "", "Triage times", "true"]]
MAPPING_ROWS = [["source", "target", "relation", "note"], [f"{FUZZ_A}:A.1", f"{FUZZ_B}:A.1", "subset", "Triage"]]


@pytest.fixture(scope="module")
def compliance(world, django_db_blocker):
    """Two small frameworks (mappings join them) and an assessment of the first, over the
    organisation, made once for the module inside the world's transaction."""
    with django_db_blocker.unblock():
        for urn in (FUZZ_A, FUZZ_B):
            frameworks.load_framework_text(FRAMEWORK_YAML.format(urn=urn, version="1", **FRAMEWORK_FIELDS),
                                           f"{urn}.yaml")
        version = FrameworkVersion.objects.get(framework__urn=FUZZ_A)
        return assessments.create_assessment(world.boss, title="Fuzzed", version=version,
                                             scope=world.hospital.organisation, lead=world.boss)


def xlsx_file(rows: list[list[str]]) -> bytes:
    """A workbook of one sheet (a text starting with = is written as a formula, as a person's would be)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook()
    for row in rows:
        book.active.append([ILLEGAL_CHARACTERS_RE.sub("", value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """The file as built, or now and then cut short, or bytes of any kind under its name; a
    workbook also with its sheet cut short inside an archive that is whole."""
    how = draw(st.integers(0, 4))
    if how == 0:
        return data[:draw(st.integers(0, len(data)))]
    if how == 1:
        return draw(st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b)))
    if how == 2 and data.startswith(b"PK"):
        cut = draw(st.integers(0, 2000))
        return rewritten(data, {"xl/worksheets/sheet1.xml": lambda sheet: sheet[:cut]})
    return data


@st.composite
def hostile_rows(draw, valid_rows: list[list[str]]) -> list[list[str]]:
    """The valid rows with one to three cells replaced by hostile ones (formulas and huge fields
    among them), the header's now and then: a file mostly right, so that it is read through."""
    rows = [list(row) for row in valid_rows]
    for _ in range(draw(st.integers(1, 3))):
        row = rows[draw(st.integers(0 if draw(st.integers(0, 5)) == 0 else 1, len(rows) - 1))]
        row[draw(st.integers(0, len(row) - 1))] = draw(hostile_cell())
    return rows


@st.composite
def spreadsheet_file(draw, valid_rows: list[list[str]], kinds=("csv", "xlsx")) -> tuple[str, bytes]:
    """(kind, bytes): the rows with hostile cells, as CSV (UTF-8, Latin-1 or UTF-16) or XLSX,
    then perhaps damaged."""
    kind = draw(st.sampled_from(kinds))
    if kind == "csv":
        data = draw(csv_file(valid_rows, hostile_rows(valid_rows), ("utf-8", "utf-8", "latin-1", "utf-16")))
    else:
        data = xlsx_file(draw(hostile_rows(valid_rows)))
    return kind, draw(damaged(data))


@st.composite
def framework_yaml(draw, version: str) -> bytes:
    """The framework YAML with fields replaced by hostile text, raw (YAML reads it as it may) or
    quoted as a YAML string."""
    fields = {name: draw(st.one_of(st.just(valid), st.just(valid), hostile_cell().map(json.dumps), hostile_cell()))
              for name, valid in FRAMEWORK_FIELDS.items()}
    text = FRAMEWORK_YAML.format(urn=FUZZ_A, version=version, **fields)
    return draw(damaged(text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")))


def check_import(client, url: str, post: dict) -> None:
    """Whatever the file, the page answers without a server error; a refusal says why (the
    problems by row, or the form's errors) and changes nothing."""
    before = writes()
    response = client.post(url, post)
    assert response.status_code < 500
    if response.status_code != 302:
        assert response.context["problems"] or response.context["form"].errors
        assert writes() == before


@fuzz(14)
@given(data=st.data())
def test_fuzz_compliance_framework_files(client, boss, compliance, data):
    version = str(data.draw(st.integers(2, 10**6)))  # most often a new version: the file is read through
    kind = data.draw(st.sampled_from(["yaml", "csv", "xlsx"]))
    post = {"what": "framework"}
    if kind == "yaml":
        content = data.draw(framework_yaml(version))
    else:
        kind, content = data.draw(spreadsheet_file(FRAMEWORK_ROWS, (kind,)))
        post |= {"urn": FUZZ_A, "name": "Fuzz standards", "kind": "internal", "version": version}
    check_import(client, reverse("compliance:framework_import"),
                 post | {"file": SimpleUploadedFile(f"framework.{kind}", content)})


@fuzz(10)
@given(data=st.data())
def test_fuzz_compliance_mapping_files(client, boss, compliance, data):
    kind, content = data.draw(spreadsheet_file(MAPPING_ROWS))
    check_import(client, reverse("compliance:framework_import"),
                 {"what": "mappings", "file": SimpleUploadedFile(f"mappings.{kind}", content)})


@fuzz(12)
@given(data=st.data())
def test_fuzz_assessment_imports(client, boss, compliance, data):
    rows = [assessments.EXPORT_HEADER] + [[str(row[name]) for name in assessments.EXPORT_HEADER]
                                          for row in assessments.assessment_export_rows(compliance)]
    rows[1][5:9] = ["in_progress", "met", "", "Seen on the ward."]  # an import that changes an item
    kind, content = data.draw(spreadsheet_file(rows))
    check_import(client, reverse("compliance:assessment_import", args=[compliance.pk]),
                 {"file": SimpleUploadedFile(f"items.{kind}", content)})


# --- bad input and fuzzing: the risk register's import -------------------------------------------

RISK_NEW = {"title": "Pressure injuries on 4 West", "cause": "too few mattresses", "event": "skin breaks down",
            "effect": "pain and longer stays", "category": "clinical", "facility": "rgh", "unit": "4w",
            "owner": "inputs-boss", "inherent_consequence": "3", "inherent_likelihood": "3",
            "current_consequence": "3", "current_likelihood": "2", "target_consequence": "2",
            "target_likelihood": "2"}


@pytest.fixture(scope="module")
def risk_rows(world, django_db_blocker) -> list[list[str]]:
    """The register's import as a risk manager would send it: the export's header, one risk of 4
    West exported and edited (a new title and current score), and a new risk (no reference). The
    risk is raised once for the module inside the world's transaction."""
    review_on = (timezone.localdate() + timedelta(days=30)).isoformat()
    with django_db_blocker.unblock():
        risk_services.raise_risk(world.boss, title="Falls on 4 West", cause="one nurse for 14 beds at night",
                                 event="confused patients get up unaided", effect="a fall with harm",
                                 category="clinical", owner=world.boss, unit=world.hospital.unit("rgh/4w"),
                                 review_on=timezone.localdate() + timedelta(days=30),
                                 scores={"inherent": (4, 4), "current": (4, 2), "target": (4, 1)})
        [exported] = risk_exchange.export_rows(world.boss)
    edited = exported | {"title": "Falls with harm on 4 West", "current_likelihood": 3, "current_score": 12,
                         "current_band": "High"}
    new = dict.fromkeys(risk_exchange.EXPORT_COLUMNS, "") | RISK_NEW | {"review_on": review_on}
    return [risk_exchange.EXPORT_COLUMNS] + [[str(row[column]) for column in risk_exchange.EXPORT_COLUMNS]
                                             for row in (edited, new)]


def risk_import(client, name: str, data: bytes):
    """Send a file to the register's import page: the answer, what it reported (row, column,
    reason) or the file's refusal, and whether anything changed."""
    before = writes()
    response = client.post(reverse("risk:exchange"), {"file": SimpleUploadedFile(name, data)})
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 302:
        return response, [], []
    result, form = response.context["result"], response.context["form"]
    problems = [(p.row, p.field, p.reason) for p in (result.problems if result else [])]
    assert problems or form.errors["file"], "a refusal says why"
    assert writes() == before, "a refusal stores nothing"
    return response, problems, form.errors.get("file", [])


def risk_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def _changed(rows: list[list[str]], row: int, **cells) -> list[list[str]]:
    """The rows with cells of one row (the header is row 1) set by column name."""
    rows = [list(cells_) for cells_ in rows]
    for column, value in cells.items():
        rows[row - 1][rows[0].index(column)] = value
    return rows


@pytest.mark.parametrize(("row", "cells", "problems"), [
    # A score out of the matrix, however it is written.
    (3, {"inherent_consequence": "6"}, [(3, "inherent_consequence", "Consequence 6 is out of range")]),
    (3, {"inherent_consequence": "0"}, [(3, "inherent_consequence", "Consequence 0 is out of range")]),
    (2, {"current_likelihood": "-1"}, [(2, "current_likelihood", "'-1' is not a whole number of 1 or more.")]),
    (3, {"target_likelihood": "1e308"}, [(3, "target_likelihood", "'1e308' is not a whole number of 1 or more.")]),
    (3, {"target_likelihood": "nan"}, [(3, "target_likelihood", "'nan' is not a whole number of 1 or more.")]),
    (3, {"target_likelihood": "\u0662"}, [(3, "target_likelihood", "'\u0662' is not a whole number of 1 or more.")]),
    (3, {"inherent_likelihood": "9" * 400}, [(3, "inherent_likelihood", "Likelihood 999")]),
    (2, {"current_score": "13"}, [(2, "current_score", "'13' is not 4 × 3 = 12.")]),
    # An unknown band, category, unit, facility or owner.
    (2, {"current_band": "Severe"}, [(2, "current_band", "'Severe' is not a band of this matrix (bands: Low, ")]),
    (2, {"current_band": "Low"}, [(2, "current_band", "'Low' does not match the score 12, which is High")]),
    (3, {"category": "castle"}, [(3, "category", "'castle' is not a category; choose one of Clinical, ")]),
    (3, {"unit": "9z"}, [(3, "unit", "'9z' is not a unit of Riverside General Hospital (rgh).")]),
    (3, {"facility": "<script>"}, [(3, "facility", "'<script>' is not a facility code (")]),
    (3, {"owner": "' OR 1=1 --"}, [(3, "owner", "\"' OR 1=1 --\" is not the username of an active member")]),
    # Hostile texts: beyond the field, or blank.
    (3, {"title": "x" * 5000}, [(3, "title", "The title is 5000 characters long; keep it to ")]),
    (2, {"effect": " "}, [(2, "effect", "The effect is needed: ")]),
    (3, {"review_on": "0001-01-01"}, [(3, "review_on", "")]),
    (3, {"review_on": "2024-02-30"}, [(3, "review_on", "'2024-02-30' is not a day of the calendar.")]),
    (3, {"review_on": "9999-12-31"}, [(3, "review_on", "")]),
])
def test_risk_import_refuses_bad_cells_by_row_column_and_reason(client, boss, risk_rows, row, cells, problems):
    for kind in ("csv", "xlsx"):
        rows = _changed(risk_rows, row, **cells)
        data = risk_csv(rows) if kind == "csv" else xlsx_file(rows)
        response, found, _ = risk_import(client, f"risks.{kind}", data)
        assert response.status_code == 400 and "Nothing was stored." in response.content.decode()
        assert [(r, f) for r, f, _ in found] == [(r, f) for r, f, _ in problems], (kind, found)
        for (_, _, reason), (_, _, expected) in zip(found, problems):
            assert reason.startswith(expected), (kind, reason)


def test_risk_import_of_a_malformed_row_names_it_and_stores_nothing(client, boss, risk_rows):
    header, edited, new = (",".join(row) for row in risk_rows)
    # A text with a comma, unquoted: the row's cells move one column along.
    shifted = new.replace("too few mattresses", "too few mattresses, and old ones")
    _, found, _ = risk_import(client, "risks.csv", "\n".join([header, edited, shifted]).encode())
    assert found and {row for row, _, _ in found} == {3}
    assert ("category", "'pain and longer stays' is not a category; choose one of Clinical, Operational, Financial, "
            "Compliance, Reputation.") in [(field, reason) for _, field, reason in found]
    # A row cut short, and a quote left open to the end of the file.
    _, found, _ = risk_import(client, "risks.csv", "\n".join([header, edited, new[:40]]).encode())
    assert found and {row for row, _, _ in found} == {3} and (3, "owner", "Name the owner by their username.") in found
    _, _, refusal = risk_import(client, "risks.csv", "\n".join([header, edited, '"' + new]).encode())
    assert refusal == ["risks.csv is not valid CSV: unexpected end of data."]
    # A formula in a CSV is a text, stored as written (the export defuses it): not a refusal. In a
    # workbook it is read as the value saved with it, never run: none here, so the title is missing.
    formula = _changed(risk_rows, 3, title="=HYPERLINK(\"http://evil.example\",\"Open\")")
    _, found, _ = risk_import(client, "risks.xlsx", xlsx_file(formula))
    assert [(row, field) for row, field, _ in found] == [(3, "title")]
    response, _, _ = risk_import(client, "risks.csv", risk_csv(formula))
    assert response.status_code == 302
    assert Risk.objects.get(title__startswith="=HYPERLINK").cause == "too few mattresses"


def test_risk_import_refuses_a_zip_bomb_before_the_workbook_is_read(client, boss, risk_rows):
    good = xlsx_file(risk_rows)
    sheet = "xl/worksheets/sheet1.xml"
    # The sheet padded with a megabyte of blanks packs 500 to one (a gigabyte would pack into 2 MB).
    bomb = rewritten(good, {sheet: lambda old: old + b" " * 2**20})
    assert len(bomb) < len(good) + 5000
    _, _, refusal = risk_import(client, "risks.xlsx", bomb)
    assert len(refusal) == 1 and re.fullmatch(
        r"risks\.xlsx cannot be read as a workbook: the part 'xl/worksheets/sheet1\.xml' unpacks to \d{3} times "
        r"its packed size \(at most 100\): it looks like a zip bomb\.", refusal[0]), refusal
    _, _, refusal = risk_import(client, "risks.xlsx", good[:len(good) // 2])
    assert refusal == ["risks.xlsx cannot be read as a workbook: not a valid ZIP archive, as an XLSX or DOCX file "
                       "is (File is not a zip file)."]
    # A sheet that claims every row and column is read as the rows it holds, quickly.
    claims_all = rewritten(good, {sheet: lambda old: re.sub(rb'<dimension ref="[^"]*" ?/>',
                                                           b'<dimension ref="A1:XFD1048576"/>', old)})
    started = time.monotonic()
    response, found, refusal = risk_import(client, "risks.xlsx", claims_all)
    assert (response.status_code, found, refusal) == (302, [], [])
    assert time.monotonic() - started < 10
    assert Risk.objects.filter(title="Pressure injuries on 4 West").exists()


@fuzz(16)
@given(data=st.data())
def test_fuzz_risk_register_imports(client, boss, risk_rows, data):
    """Hostile cells in CSV (UTF-8, Latin-1, UTF-16) and XLSX, damaged files: never a server error;
    a refusal names the row (2 or more) and a column of the export, or the file, and stores nothing."""
    kind, content = data.draw(spreadsheet_file(risk_rows))
    _, problems, _ = risk_import(client, f"risks.{kind}", content)
    for row, column, reason in problems:
        assert row >= 2 and column in risk_exchange.EXPORT_COLUMNS and reason.strip(), (row, column, reason)


# --- fuzzing: forms -----------------------------------------------------------------------------

PERSON, UNIT = "<person>", "<unit>"  # the world's boss and 4 West, filled in when a test runs


def filled(world, data: dict) -> dict:
    ids = {PERSON: str(world.boss.pk), UNIT: str(world.hospital.unit("rgh/4w").pk)}
    return {key: ids.get(value, value) for key, value in data.items()}


def posted(valid: dict):
    """Form data: each field its valid value or hostile text."""
    return st.fixed_dictionaries({name: st.one_of(st.just(value), hostile_text()) for name, value in valid.items()})


def one_form_of(forms: dict):
    """(name, data) of one of `forms` ({name: valid data}), its data posted()."""
    return st.sampled_from(sorted(forms)).flatmap(lambda name: st.tuples(st.just(name), posted(forms[name])))


def check_form(client, world, url, data):
    before = writes()
    response = client.post(url, filled(world, data))
    assert response.status_code < 500
    if refused(response):
        assert writes() == before


REPORTING_FORMS = {
    "safety:report": {"kind": "incident", "category": "fall", "unit": UNIT, "occurred_at": "2024-02-03T10:00",
                      "narrative": "Found on the floor", "harm": "none", "details.injury_level": "none",
                      "immediate_action": "", "share_identity": "", "person_affected": "patient",
                      "patient_identifier": "RGH-0042", "location_detail": "Bed 12", "witnesses": "Night nurse"},
    # The anonymous report without signing in, and the answer given with a receipt code.
    "safety:public_report": {"kind": "near_miss", "category": "other", "unit": UNIT, "occurred_at": "2024-02-03T10:00",
                             "narrative": "Wet floor", "person_affected": "visitor", "location_detail": "Corridor"},
    "safety:receipt": {"code": "AAAA-BBBB-CCCC-DDDD", "question": "1", "answer": "The utility room"},
    "safety:conduct_concern": {"unit": UNIT, "about": "A surgeon", "narrative": "Shouted at a nurse"},
}


@fuzz(12)
@given(form=one_form_of(REPORTING_FORMS))
def test_fuzz_reporting_forms(client, boss, world, form):
    route, data = form
    check_form(client, world, reverse(route), data)


TRIAGE_FORMS = {
    "safety:triage_event": {"category": "fall", "harm": "severe", "sac_severity": "major", "sac_probability": "remote",
                            "sentinel": "", "review": "local", "reason": "Reviewed"},
    "safety:move_event": {"action": "plan_actions", "reason": "Reviewed", "closing_summary": ""},
    "safety:remove_from_pses": {"pses-reason": "State report"},
    "safety:ask_reporter": {"ask-text": "Which pump was it?"},
}


@fuzz(12)
@given(form=one_form_of(TRIAGE_FORMS))
def test_fuzz_triage_and_workflow_forms(client, boss, world, form):
    route, data = form
    check_form(client, world, reverse(route, args=[world.triaged.pk]), data)


RCA_PARTS = {
    "fact": {"at": "2024-02-03T10:00", "fact": "Bed alarm off"},
    "why": {"problem": "Alarm off", "whys": "Fatigue\nFalse alarms"},
    "factor": {"category": "environment", "description": "Alarm switched off"},
    "root_cause": {"statement": "Alarm fatigue led to the fall"},
    "team": {"person": PERSON, "part": "expert"},
    "related": {"reference": "EV-2024-000001"},
    "action": {"title": "Fix alarms", "owner": PERSON, "due_date": "2026-01-01", "strength": "stronger",
               "measure": "Falls"},
}


@fuzz(14)
@given(form=one_form_of(RCA_PARTS))
def test_fuzz_rca_worksheet_forms(client, boss, world, form):
    part, data = form
    check_form(client, world, reverse("safety:add_to_investigation", args=[world.investigated.pk, part]), data)


ACTION_FORMS = {
    "actions:new": {"title": "Bed alarms", "description": "", "unit": UNIT, "owner": PERSON, "due_date": "2026-01-01",
                    "strength": "stronger", "measure": "Falls"},
    "actions:edit": {"title": "Bed alarms", "description": "", "unit": UNIT, "owner": PERSON,
                     "due_date": "2026-01-01", "strength": "weaker", "measure": "Falls"},
    "actions:status": {"status": "in_progress", "note": ""},
    "actions:decision": {"decision": "approved", "reason": ""},
    "actions:effectiveness": {"result": "effective", "checked_on": "2026-02-01", "note": ""},
}


@fuzz(14)
@given(form=one_form_of(ACTION_FORMS))
def test_fuzz_action_forms(client, boss, world, form):
    route, data = form
    url = reverse(route) if route == "actions:new" else reverse(route, args=[world.action.pk])
    check_form(client, world, url, data)


MEASURE_FORMS = {
    "counts": {"unit": UNIT, "month": "2025-01", "numerator": "19", "denominator": "20"},
    "annotate": {"date": "2025-03-01", "kind": "action", "text": "New checklist", "rebase": ""},
    "compute": {"kind": "month", "first": "2025-01-01", "last": "2025-03-31"},
    "mappings": {"kind": "location", "external_id": "Location/1", "unit": UNIT},
}


@fuzz(14)
@given(form=one_form_of(MEASURE_FORMS))
def test_fuzz_measure_forms(client, boss, world, form):
    name, data = form
    key = "hand-hygiene" if name == "counts" else "readmission-30-day"
    url = reverse(f"measures:{name}") if name in ("compute", "mappings") else reverse(f"measures:{name}", args=[key])
    check_form(client, world, url, data)


FILTERED_PAGES = {
    "safety:event_list": ("q", "status", "harm", "category", "unit", "kind", "sort", "overdue", "page"),
    "safety:triage_queue": ("harm", "category", "unit", "age", "sac", "sort", "page"),
    "safety:analysis": ("from", "to", "facility", "unit"),
    "safety:export_csv": ("from", "to", "facility", "unit"),
    "platform:audit": ("action", "model", "actor", "object_pk", "since", "until", "page"),
    "actions:list": ("status", "strength", "overdue", "mine", "page"),
    "measures:measure": ("unit", "stratum", "value"),
    "measures:cases": ("unit", "period", "stratum", "value"),
    "measures:units": ("level",),
    "measures:equity": ("stratum",),
}


@fuzz(15)
@given(route=st.sampled_from(sorted(FILTERED_PAGES)), data=st.data())
def test_fuzz_filters_in_query_strings(client, boss, route, data):
    names = FILTERED_PAGES[route]
    query = data.draw(st.dictionaries(st.sampled_from(names), hostile_text(), max_size=len(names)))
    url = reverse(route, args=["readmission-30-day"]) if route.startswith("measures:") else reverse(route)
    before = writes()
    response = client.get(url, query)
    assert response.status_code in (200, 400, 404)
    assert writes() == before
