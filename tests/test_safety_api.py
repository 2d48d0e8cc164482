"""The safety API (andon/safety/api/), subject by subject: the reporter's own reports
(events.py), root cause analysis (investigation.py), analysis (analysis.py), export and import
(exchange.py) and conduct concerns (conduct.py), each through the test client with a personal
token, against values computed here. Reporting, triage and moves over the API are exercised by
the permission matrix and test_safety_rca.py."""

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from andon.actions.models import Action
from andon.platform import permissions
from andon.platform import services as platform
from andon.platform.roles import Role
from andon.safety import analysis, imports, services
from andon.safety.models import ContributingFactor, Investigation, Review, SafetyEvent, Status

API = "/api/v1/safety"


@pytest.fixture
def bearer(client):
    """bearer(user) -> headers for the user's calls: a personal token for those whose role may
    hold one, else their session (staff reporters and board members use the API from the pages)."""

    def credentials(user) -> dict:
        if permissions.can(user, "platform.manage_own_tokens"):
            _, raw = platform.issue_token(user, "test")
            return {"Authorization": f"Bearer {raw}"}
        client.force_login(user)
        return {}

    return credentials


def fall(unit, narrative="Found on the floor.", **overrides):
    fields = dict(kind="incident", category="fall", unit_id=unit.pk, occurred_at=timezone.now() - timedelta(hours=2),
                  narrative=narrative, harm="none", details={"injury_level": "none"})
    fields.update(overrides)
    return services.Report(**fields)


def reads_of(record, actor, reason):
    return LogEntry.objects.filter(action=LogEntry.Action.ACCESS, actor=actor, object_pk=str(record.pk),
                                   content_type__model=record._meta.model_name,
                                   additional_data__reason=reason).count()


# --- the reporter's own reports (events.py) -----------------------------------------------------

def test_my_reports_lists_only_own_named_reports_and_one_reads_as_on_the_page(client, bearer, hospital, make_user,
                                                                              safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    colleague = make_user(Role.STAFF_REPORTER, "rgh/4w")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    unit = hospital.unit("rgh/4w")
    first, _ = services.submit_report(nurse, fall(unit, "First fall."))
    second, _ = services.submit_report(nurse, fall(unit, "Second fall.", immediate_action="Called the doctor."))
    services.submit_report(nurse, fall(unit, "Told anonymously.", anonymous=True))
    theirs, _ = services.submit_report(colleague, fall(unit, "Not mine."))
    services.triage(officer, second, services.Triage(
        category="fall", harm="none", sac_severity="minor", sac_probability="remote", sentinel=False,
        review=Review.LOCAL, reason="Local review"))
    headers = bearer(nurse)

    listed = client.get(f"{API}/my-reports", headers=headers)
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 2  # neither the anonymous report nor the colleague's
    second.refresh_from_db()
    assert [(r["id"], r["reference"], r["status"], r["status_label"], r["feedback_count"]) for r in body["items"]] == [
        (second.pk, second.reference, "review", "Under review", 2),  # triage started, sent to review
        (first.pk, first.reference, "submitted", "Received", 0),
    ]
    assert body["items"][0]["category_label"] == "Fall" and body["items"][0]["kind"] == "incident"

    one = client.get(f"{API}/my-reports/{second.pk}", headers=headers)
    assert one.status_code == 200
    report = one.json()
    expected_feedback = list(second.reporter_messages.order_by("created_at", "pk").values_list("text", flat=True))
    assert [m["text"] for m in report["feedback"]] == expected_feedback == [
        "A patient safety officer is reading your report.",
        "Your report is being reviewed, with the unit or with similar reports."]
    assert (report["reference"], report["narrative"], report["immediate_action"]) == (
        second.reference, "Second fall.", "Called the doctor.")
    assert report["details"] == [{"label": "Injury from the fall", "value": "No injury"}]
    assert (report["category_label"], report["harm_label"], report["kind_label"]) == (
        "Fall", "No harm", "Incident (reached the patient)")
    assert report["unit"] == unit.name and report["status_label"] == "Under review"
    # Feedback without the analysis: nothing of triage reaches the reporter.
    for internal in ("sac_score", "sac_severity", "review", "transitions", "reporter", "is_sentinel"):
        assert internal not in report
    assert reads_of(second, nurse, "reporter read own report") == 1

    assert client.get(f"{API}/my-reports/{theirs.pk}", headers=headers).status_code == 404
    assert reads_of(theirs, nurse, "reporter read own report") == 0
    assert client.get(f"{API}/my-reports/{second.pk}", headers=bearer(colleague)).status_code == 404


# --- root cause analysis (investigation.py) -----------------------------------------------------

@pytest.fixture
def sentinel_fall(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "", username="pso")
    event, _ = services.submit_report(nurse, fall(hospital.unit("rgh/4w"), "Fall at night; hip fracture.",
                                                  harm="severe", details={"injury_level": "major"}))
    event = services.triage(officer, event, services.Triage(
        category="fall", harm="severe", sac_severity="catastrophic", sac_probability="occasional",
        sentinel=True, review=Review.RCA, reason="Fall with fracture is a sentinel event"))
    return event, officer


def test_an_rca_built_over_the_api_reads_back_whole(client, bearer, hospital, make_user, sentinel_fall):
    event, officer = sentinel_fall
    headers = bearer(officer)
    base = f"{API}/events/{event.pk}/investigation"

    def post(path, body=None):
        return client.post(base + path, body or {}, content_type="application/json", headers=headers)

    assert client.get(base, headers=headers).status_code == 404  # not started yet
    started = post("")
    assert started.status_code == 201
    assert started.json()["team"] == [{"person_id": officer.pk, "name": str(officer), "part": "lead",
                                       "part_label": "Lead"}]
    assert post("").status_code == 200  # starting again changes nothing
    assert Investigation.objects.filter(event=event).count() == 1

    expert = make_user(Role.STAFF_REPORTER, "rgh/icu", username="expert")
    owner = make_user(Role.UNIT_MANAGER, "rgh/4w", username="owner")
    other, _ = services.submit_report(make_user(Role.STAFF_REPORTER, "rgh/5e"),
                                      fall(hospital.unit("rgh/5e"), "Near fall.", kind="near_miss", harm=""))
    due = timezone.localdate() + timedelta(days=30)
    assert post("/team", {"person_id": expert.pk, "part": "expert"}).status_code == 201
    assert post("/timeline", {"at": "2026-01-05T02:10:00Z", "fact": "Bed alarm was off."}).status_code == 201
    chain = post("/why-chains", {"problem": "Why was the alarm off?",
                                 "whys": ["Alarm fatigue", " ", "Too many false alarms"]})
    assert chain.status_code == 201 and chain.json()["whys"] == ["Alarm fatigue", "Too many false alarms"]
    factor = post("/factors", {"category": "environment", "description": "Bed alarm switched off"})
    assert factor.status_code == 201 and factor.json()["category_label"] == "Environment and equipment"
    second_factor = post("/factors", {"category": "communication", "description": "Handover omitted fall risk"})
    assert second_factor.status_code == 201
    wrong = post("/factors", {"category": "astrology", "description": "Mercury in retrograde"})
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "category"]
    assert wrong.json()["detail"][0]["msg"].startswith("Choose one of: barriers, communication")
    assert post("/related-events", {"event_id": other.pk}).status_code == 201
    assert post("/related-events", {"event_id": event.pk}).json()["detail"][0]["msg"] == \
        "An event is not related to itself."
    for title, strength in (("Alarm that cannot be silenced", "stronger"), ("Falls training", "weaker")):
        added = post("/actions", {"title": title, "owner_id": owner.pk, "due_date": due.isoformat(),
                                  "strength": strength, "measure": "Falls per 1,000 bed days"})
        assert added.status_code == 201, added.content
    not_yet = post("/complete", {"reason": "Done"})
    assert not_yet.status_code == 422 and not_yet.json()["detail"] == [{
        "loc": ["body", "root_causes"], "msg": "State at least one root cause before completing the analysis.",
        "type": "value_error"}]
    statement = "Alarm fatigue led staff to disable bed alarms, so the fall went unnoticed."
    assert post("/root-causes", {"statement": statement}).status_code == 201

    completed = post("/complete", {"reason": "Analysis approved"})
    assert completed.status_code == 200 and completed.json()["event_status"] == "action_planning"
    assert completed.json()["completed_at"] is not None
    late = post("/timeline", {"at": "2026-01-05T03:00:00Z", "fact": "Late fact"})
    assert late.status_code == 422 and late.json()["detail"][0]["loc"] == ["body", "investigation"]

    read = client.get(base, headers=headers)
    assert read.status_code == 200
    rca = read.json()
    investigation = Investigation.objects.get(event=event)
    assert rca["started_at"] is not None and rca["reference"] == event.reference
    assert [(m["name"], m["part"]) for m in rca["team"]] == [(str(officer), "lead"), ("expert", "expert")]
    assert [(f["at"], f["fact"]) for f in rca["timeline"]] == [("2026-01-05T02:10:00Z", "Bed alarm was off.")]
    assert [(c["problem"], c["whys"]) for c in rca["why_chains"]] == [
        ("Why was the alarm off?", ["Alarm fatigue", "Too many false alarms"])]
    assert sorted((f["category"], f["category_label"], f["description"]) for f in rca["factors"]) == [
        ("communication", "Human factors: communication", "Handover omitted fall risk"),
        ("environment", "Environment and equipment", "Bed alarm switched off")]
    bones = {bone["code"]: bone["factors"] for bone in rca["fishbone"]}
    assert bones["environment"] == ["Bed alarm switched off"] and bones["training"] == []
    assert [c["statement"] for c in rca["root_causes"]] == [statement]
    assert rca["related_events"] == [{"id": other.pk, "reference": other.reference}]
    assert [(a["title"], a["strength"], a["owner_id"]) for a in rca["actions"]] == [
        ("Alarm that cannot be silenced", "stronger", owner.pk), ("Falls training", "weaker", owner.pk)]
    assert rca["strong_share_percent"] == 50  # one stronger of two
    assert Action.objects.filter(source_id=investigation.pk).count() == 2
    assert rca["completed_at"] is not None and rca["event_status"] == "action_planning"

    # The move is in the event's own history, and the RCA read is audited as the page's is.
    assert client.get(f"{API}/events/{event.pk}", headers=headers).json()["status"] == "action_planning"
    event.refresh_from_db()
    assert event.status == Status.ACTION_PLANNING and event.rca_started_at is not None
    assert reads_of(event, officer, "read the root cause analysis") >= 2

    # The factors named over the API are what the analysis counts (labels and counts, no descriptions).
    counted = client.get(f"{API}/analysis", headers=headers).json()["factors"]
    assert (counted["investigations"], counted["completed"], counted["factors"]) == (1, 1, 2)
    assert _rows(counted["rows"], "label", "count", "cumulative", "cumulative_percent", "investigations") == [
        ["Environment and equipment", 1, 1, 50.0, 1], ["Human factors: communication", 1, 2, 100.0, 1]]


def test_similar_events_are_those_of_the_same_category_and_hospital(client, bearer, hospital, make_user, sentinel_fall):
    event, officer = sentinel_fall
    headers = bearer(officer)
    client.post(f"{API}/events/{event.pk}/investigation", headers=headers)
    nurse = make_user(Role.STAFF_REPORTER, "rgh/5e")
    same, _ = services.submit_report(nurse, fall(hospital.unit("rgh/5e"), "Near fall.", kind="near_miss", harm=""))
    services.submit_report(nurse, fall(hospital.unit("lch/2a"), "Other hospital.", kind="near_miss", harm=""))
    services.submit_report(nurse, services.Report(kind="near_miss", category="other", occurred_at=timezone.now(),
                                                  unit_id=hospital.unit("rgh/5e").pk, narrative="Spill."))
    response = client.get(f"{API}/events/{event.pk}/investigation/similar", headers=headers)
    assert response.status_code == 200
    assert [(e["id"], e["reference"], e["category"]) for e in response.json()] == [(same.pk, same.reference, "fall")]


def test_the_rca_is_read_under_the_events_policy(client, bearer, hospital, make_user, sentinel_fall):
    event, officer = sentinel_fall
    client.post(f"{API}/events/{event.pk}/investigation", headers=bearer(officer))
    url = f"{API}/events/{event.pk}/investigation"
    outsider_manager = make_user(Role.UNIT_MANAGER, "lch")
    for person in (make_user(Role.BOARD_MEMBER, ""), make_user(Role.QUALITY_ANALYST, ""), outsider_manager):
        assert client.get(url, headers=bearer(person)).status_code == 403
        assert client.post(f"{url}/timeline", {"at": "2026-01-05T02:10:00Z", "fact": "x"},
                           content_type="application/json", headers=bearer(person)).status_code == 403
    manager = make_user(Role.UNIT_MANAGER, "rgh/4w")
    assert client.get(url, headers=bearer(manager)).status_code == 200
    assert reads_of(event, manager, "read the root cause analysis") == 1
    # Reading is not working on it: the manager is not on the team.
    assert client.post(f"{url}/root-causes", {"statement": "x"}, content_type="application/json",
                       headers=bearer(manager)).status_code == 403
    assert client.get(f"{API}/events/999999/investigation", headers=bearer(officer)).status_code == 404


def test_an_event_without_an_analysis_yet_is_a_404_that_says_so_to_those_who_may_see_it(
        client, bearer, make_user, sentinel_fall):
    event, officer = sentinel_fall
    url = f"{API}/events/{event.pk}/investigation"
    missing = client.get(url, headers=bearer(officer))
    assert (missing.status_code, missing.json()) == (404, {"detail": "This event has no root cause analysis yet."})
    # A stranger is refused rather than told whether an analysis exists.
    assert client.get(url, headers=bearer(make_user(Role.UNIT_MANAGER, "lch"))).status_code == 403
    client.force_login(officer)
    assert client.get(f"/safety/events/{event.pk}/rca/").status_code == 404  # the page refuses alike


# --- analysis (analysis.py) ---------------------------------------------------------------------

DETAILS = {"fall": {"injury_level": "none"}, "medication": {"ncc_merp": "C", "process_stage": "administering"},
           "other": {}}
# (kind, category, unit, harm, occurred_at)
DATASET = [
    ("incident", "fall", "rgh/4w", "none", datetime(2025, 1, 31, 23, 30, tzinfo=UTC)),
    ("incident", "fall", "rgh/4w", "mild", datetime(2025, 3, 10, 12, 0, tzinfo=UTC)),
    ("incident", "fall", "rgh/5e", "none", datetime(2025, 3, 11, 8, 0, tzinfo=UTC)),
    ("incident", "medication", "rgh/icu", "mild", datetime(2025, 3, 12, 9, 0, tzinfo=UTC)),
    ("incident", "medication", "rgh/icu", "moderate", datetime(2025, 4, 2, 9, 0, tzinfo=UTC)),
    ("near_miss", "medication", "lch/2a", "", datetime(2025, 4, 3, 9, 0, tzinfo=UTC)),
    ("unsafe_condition", "other", "rgh/4w", "", datetime(2025, 5, 1, 0, 0, tzinfo=UTC)),
    ("excellent_care", "other", "rgh/4w", "", datetime(2025, 5, 2, 10, 0, tzinfo=UTC)),
]
FACTORS = [(0, "communication", "Handover silent on falls risk"), (0, "environment", "Call bell out of reach"),
           (1, "communication", "No bedside handover"), (3, "rules", "Policy silent on double checks")]


def make_event(hospital, kind, category, unit, harm, when, narrative="Patient found on the floor", reporter=None):
    event = SafetyEvent(
        kind=kind, category=category, taxonomy_version="2026.1", unit=hospital.unit(unit), occurred_at=when,
        reported_at=when, narrative=narrative, harm=harm, details=DETAILS[category], reporter=reporter)
    services.assign_reference(event)
    event.save()
    return event


@pytest.fixture
def dataset(hospital, safety_taxonomy, make_user):
    events = [make_event(hospital, *row, narrative=f"SECRET narrative {i}") for i, row in enumerate(DATASET)]
    lead = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    investigations = {}
    for index, category, description in FACTORS:
        if index not in investigations:
            investigations[index] = Investigation.objects.create(event=events[index], started_by=lead)
        ContributingFactor.objects.create(investigation=investigations[index], category=category,
                                          description=description)
    Investigation.objects.filter(pk=investigations[0].pk).update(completed_at=timezone.now())
    return events


def _pareto(counts: Counter) -> list:
    total, running, rows = sum(counts.values()), 0, []
    for label, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        running += count
        rows.append([label, count, running, round(100 * running / total, 6)])
    return rows


def _independent(tax, rows, factors):
    """The analysis of `rows` (DATASET rows) computed here, without the code under test."""
    safety = [row for row in rows if row[0] != "excellent_care"]
    unit_labels = {"rgh/4w": "rgh/4w · 4 West Medical", "rgh/5e": "rgh/5e · 5 East Cardiology",
                   "rgh/icu": "rgh/icu · Intensive Care Unit", "lch/2a": "lch/2a · 2A Medical"}
    harm = Counter(tax.harm_label(row[3]) for row in safety if row[0] == "incident")
    months = Counter(f"{row[4]:%Y-%m}" for row in safety)
    factor_counts = Counter(tax.factor_label(category) for _, category, _ in factors)
    rcas = {label: len({i for i, c, _ in factors if tax.factor_label(c) == label}) for label in factor_counts}
    return {
        "total_reports": len(rows), "safety_events": len(safety),
        "categories": _pareto(Counter(tax.category_label(row[1]) for row in safety)),
        "harm": {label: n for label, n in harm.items()},
        "units": sorted(Counter(unit_labels[row[2]] for row in safety).items(), key=lambda item: (-item[1], item[0])),
        "months": months,
        "kinds": Counter(row[0] for row in rows),
        "factors": [[*row, rcas[row[0]]] for row in _pareto(factor_counts)],
    }


def _rows(items, *names):
    return [[round(item[n], 6) if isinstance(item[n], float) else item[n] for n in names] for item in items]


def test_analysis_counts_equal_an_independent_count(client, bearer, dataset, make_user, safety_taxonomy, hospital):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    response = client.get(f"{API}/analysis", headers=bearer(officer))
    assert response.status_code == 200
    found, expected = response.json(), _independent(safety_taxonomy, DATASET, FACTORS)
    assert (found["total_reports"], found["safety_events"]) == (expected["total_reports"], 7) == (8, 7)
    assert _rows(found["categories"], "label", "count", "cumulative", "cumulative_percent") == expected["categories"]
    assert found["categories"][0] == {"label": "Fall", "count": 3, "cumulative": 3,
                                      "cumulative_percent": pytest.approx(300 / 7)}
    harm = {row["label"]: row["count"] for row in found["harm"]}
    assert {label: n for label, n in harm.items() if n} == expected["harm"]
    assert [(row["label"], row["count"]) for row in found["units"]] == expected["units"]
    assert [(row["month"], row["count"]) for row in found["months"]] == [
        ("2025-01", 1), ("2025-02", 0), ("2025-03", 3), ("2025-04", 2), ("2025-05", 1)]
    assert {row["month"]: row["count"] for row in found["months"] if row["count"]} == dict(expected["months"])
    kind_labels = {"incident": "Incident (reached the patient)", "near_miss": "Near miss (did not reach the patient)",
                   "unsafe_condition": "Unsafe condition (no patient involved)",
                   "excellent_care": "Excellent care (recognise a colleague)"}
    kinds = {row["label"]: row["count"] for row in found["kinds"]}
    assert {label: n for label, n in kinds.items() if n} == {kind_labels[k]: n for k, n in expected["kinds"].items()}
    assert kinds["Good catch (someone stopped an error)"] == 0  # every kind is listed
    factors = found["factors"]
    assert (factors["investigations"], factors["completed"], factors["factors"]) == (3, 1, 4)
    assert _rows(factors["rows"], "label", "count", "cumulative", "cumulative_percent",
                 "investigations") == expected["factors"]
    assert factors["rows"][0]["label"] == "Human factors: communication"
    assert found["filters"] == {"from": None, "to": None, "facility": None, "unit": None, "described": "no filters"}

    # Filters: inclusive UTC days, and a unit with the units below it.
    march = client.get(f"{API}/analysis", {"from": "2025-03-10", "to": "2025-03-12"}, headers=bearer(officer)).json()
    in_march = [row for row in DATASET if date(2025, 3, 10) <= row[4].date() <= date(2025, 3, 12)]
    assert march["total_reports"] == len(in_march) == 3
    assert (march["filters"]["from"], march["filters"]["described"]) == (
        "2025-03-10", "from 2025-03-10, to 2025-03-12")
    icu = client.get(f"{API}/analysis", {"unit": hospital.unit("rgh/icu").pk}, headers=bearer(officer)).json()
    assert _rows(icu["categories"], "label", "count") == [["Medication or other substance", 2]]
    assert _rows(icu["factors"]["rows"], "label", "count") == [["Rules, policies and procedures", 1]]
    lch = client.get(f"{API}/analysis", {"facility": hospital.facility("lch").pk}, headers=bearer(officer)).json()
    assert lch["safety_events"] == 1

    # Every count and label, nothing that names an event or a person.
    for event in dataset:
        assert event.reference not in response.content.decode()
    for _, _, description in FACTORS:
        assert description not in response.content.decode()
    assert "SECRET" not in response.content.decode()


def test_analysis_filters_outside_the_scope_are_refused(client, bearer, dataset, make_user, hospital):
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")  # 4w and 5e
    headers = bearer(manager)
    mine = client.get(f"{API}/analysis", headers=headers).json()
    assert mine["safety_events"] == 4  # 3 on rgh/4w (excellent care aside) and 1 on rgh/5e
    for query, field in (({"unit": hospital.unit("rgh/icu").pk}, "unit"), ({"facility": hospital.facility("lch").pk},
                                                                             "facility")):
        refused = client.get(f"{API}/analysis", query, headers=headers)
        assert refused.status_code == 422
        assert [(d["loc"], d["msg"]) for d in refused.json()["detail"]] == [
            (["query", field], f"Not a {field} in your scope.")]
    backwards = client.get(f"{API}/analysis", {"from": "2025-05-01", "to": "2025-01-01"}, headers=headers)
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "to"]
    assert client.get(f"{API}/analysis", {"from": "01/05/2025"}, headers=headers).status_code == 422
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh")
    assert client.get(f"{API}/export", {"facility": hospital.facility("lch").pk},
                      headers=bearer(officer)).status_code == 422


def test_a_board_member_gets_analysis_but_not_the_export_nor_an_event(client, bearer, dataset, make_user):
    board = make_user(Role.BOARD_MEMBER, "")
    headers = bearer(board)
    response = client.get(f"{API}/analysis", headers=headers)
    assert response.status_code == 200 and response.json()["total_reports"] == len(DATASET)
    assert client.get(f"{API}/export", headers=headers).status_code == 403
    assert client.get(f"{API}/events/{dataset[0].pk}", headers=headers).status_code == 403
    assert client.get(f"{API}/events/{dataset[0].pk}/investigation", headers=headers).status_code == 403
    assert client.get(f"{API}/analysis", headers=bearer(make_user(Role.STAFF_REPORTER, "rgh/4w"))).status_code == 403


# --- export (exchange.py) -----------------------------------------------------------------------

def test_export_is_the_deidentified_csv_with_formulas_defused(client, bearer, hospital, safety_taxonomy, make_user):
    reporter = make_user(Role.STAFF_REPORTER, "rgh/4w", username="reporter-name")
    when = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    event = make_event(hospital, "incident", "fall", "rgh/4w", "none", when,
                       narrative='=HYPERLINK("http://evil")', reporter=reporter)
    make_event(hospital, "incident", "medication", "lch/2a", "mild", when)
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    response = client.get(f"{API}/export", {"facility": hospital.facility("rgh").pk}, headers=bearer(officer))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["X-Andon-Rows"] == "1"
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0].split(",") == analysis.EXPORT_COLUMNS
    assert not any("reporter" in column for column in rows[0])
    assert len(rows) == 1
    row = rows[0]
    assert row["narrative"] == "'=HYPERLINK(\"http://evil\")"
    assert (row["reference"], row["category_label"], row["unit"], row["facility"]) == (
        event.reference, "Fall", "4w", "rgh")
    assert row["occurred_at"] == "2025-03-10T12:00:00+00:00"
    assert "reporter-name" not in text
    # Audited as the page's export: a summary on the organisation and a read of each event.
    reads = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, actor=officer)
    assert reads.filter(object_pk=str(event.pk), content_type__model="safetyevent").count() == 1
    assert reads.filter(content_type__model="organisation",
                        additional_data__reason="exported 1 safety events (facility rgh)").count() == 1
    for role in (Role.QUALITY_ANALYST, Role.UNIT_MANAGER):
        assert client.get(f"{API}/export", headers=bearer(make_user(role, ""))).status_code == 403


# --- import (exchange.py) -----------------------------------------------------------------------

HEADER = "kind,category,unit,occurred_at,narrative,harm,details,reference_external\n"
GOOD_ROWS = [
    'incident,fall,rgh/4w,2024-02-03,Found on the floor,none,"{""injury_level"": ""none""}",OLD-1\n',
    "unsafe_condition,other,lch/2a,2024-03-01T08:00,Wet floor,,,\n",
]
BAD_ROW = "incident,castle,rgh/nowhere,05/02/2024,Something,none,,\n"


@pytest.fixture
def importer(hospital, safety_taxonomy, make_user, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return make_user(Role.PATIENT_SAFETY_OFFICER, "")


def _import(client, bearer, user, data: bytes, accept_valid=None):
    form = {"file": SimpleUploadedFile("events.csv", data, "text/csv")}
    if accept_valid is not None:
        form["accept_valid"] = "true" if accept_valid else "false"
    return client.post(f"{API}/imports", form, headers=bearer(user))


def test_an_import_with_a_bad_row_stores_nothing_until_the_valid_rows_are_accepted(client, bearer, importer,
                                                                                   safety_taxonomy):
    data = (HEADER + GOOD_ROWS[0] + BAD_ROW + GOOD_ROWS[1]).encode()
    first = _import(client, bearer, importer, data)
    assert first.status_code == 200
    report = first.json()
    categories = ", ".join(c["code"] for c in safety_taxonomy.categories)
    expected = [
        {"row": 3, "field": "unit",
         "reason": "'rgh/nowhere' is not a unit you may import into (FACILITY/UNIT, e.g. rgh/4w)."},
        {"row": 3, "field": "occurred_at",
         "reason": "'05/02/2024' is not an ISO 8601 date or date and time (e.g. 2025-03-14 or 2025-03-14T09:30)."},
        {"row": 3, "field": "category", "reason": f"'castle' is not a category; one of {categories}."},
    ]
    assert report == {"rows": 3, "stored": 0, "invalid_rows": 1, "problem_count": 3, "problems": expected}
    assert SafetyEvent.objects.count() == 0
    assert _import(client, bearer, importer, data, accept_valid=False).json()["stored"] == 0
    assert SafetyEvent.objects.count() == 0

    accepted = _import(client, bearer, importer, data, accept_valid=True)
    assert accepted.status_code == 200
    assert (accepted.json()["stored"], accepted.json()["problems"]) == (2, expected)
    stored = SafetyEvent.objects.order_by("occurred_at")
    assert [(e.kind, e.category, e.unit.code, e.source) for e in stored] == [
        ("incident", "fall", "4w", "import"), ("unsafe_condition", "other", "2a", "import")]
    assert stored[0].details == {"injury_level": "none", "reference_external": "OLD-1"}
    assert set(LogEntry.objects.filter(action=LogEntry.Action.CREATE, content_type__model="safetyevent")
               .values_list("actor", flat=True)) == {importer.pk}


def test_a_clean_file_is_stored_at_once(client, bearer, importer):
    response = _import(client, bearer, importer, (HEADER + "".join(GOOD_ROWS)).encode())
    assert response.json() == {"rows": 2, "stored": 2, "invalid_rows": 0, "problem_count": 0, "problems": []}
    assert SafetyEvent.objects.count() == 2


def test_a_large_import_is_a_job_that_answers_with_the_same_report(client, bearer, importer, settings):
    settings.ANDON_IMPORT_JOB_ROWS = 1  # the page's test (test_safety_analysis.py) runs such a job
    response = _import(client, bearer, importer, (HEADER + "".join(GOOD_ROWS)).encode())
    assert response.status_code == 202
    job = response.json()
    assert (job["title"], job["status"], job["attempts"], job["lost_attempts"]) == (
        "Import of events.csv", "queued", 0, [])
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=bearer(importer)).json()["status"] == "queued"
    assert SafetyEvent.objects.count() == 0


def test_oversize_and_unreadable_files_are_refused_whole(client, bearer, importer, monkeypatch, make_user):
    unreadable = _import(client, bearer, importer, (HEADER + GOOD_ROWS[0]).encode("utf-16"))
    assert unreadable.status_code == 422
    assert unreadable.json()["detail"][0]["loc"] == ["body", "file"]
    assert unreadable.json()["detail"][0]["msg"].startswith("The file is not UTF-8 text: byte 0xff on line 1")
    assert _import(client, bearer, importer, b"kind,category\nincident,fall\n").json()["detail"][0]["msg"].startswith(
        "Row 1 (the header): missing columns: unit, occurred_at, narrative, harm.")
    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    oversize = _import(client, bearer, importer, (HEADER + "".join(GOOD_ROWS)).encode())
    assert oversize.status_code == 422
    assert oversize.json()["detail"][0]["msg"].startswith("The file is larger than 0 MB (")
    assert SafetyEvent.objects.count() == 0
    assert _import(client, bearer, make_user(Role.CQO, ""), (HEADER + GOOD_ROWS[0]).encode()).status_code == 403


# --- conduct concerns (conduct.py) --------------------------------------------------------------

def test_conduct_concerns_are_listed_to_reviewers_and_each_read_is_audited(client, bearer, hospital, make_user):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", first_name="Nora", last_name="Nurse")
    for about in ("Dr A", "Dr B"):
        raised = client.post(f"{API}/conduct-concerns", {"unit_id": hospital.unit("rgh/4w").pk, "about": about,
                                                          "narrative": "Shouted at a patient."},
                             content_type="application/json", headers=bearer(nurse))
        assert raised.status_code == 201
    cmo = make_user(Role.CMO, "")
    page = client.get(f"{API}/conduct-concerns", {"limit": 1}, headers=bearer(cmo))
    assert page.status_code == 200
    body = page.json()
    assert body["count"] == 2 and [c["about"] for c in body["items"]] == ["Dr B"]
    assert (body["items"][0]["raised_by"], body["items"][0]["unit"]) == ("Nora Nurse", "4 West Medical")
    from andon.safety.models import ConductConcern

    newest, oldest = ConductConcern.objects.order_by("-raised_at", "-pk")
    # Exactly as the page: the concerns shown are recorded as read, and only those.
    assert reads_of(newest, cmo, "conduct concern list") == 1
    assert reads_of(oldest, cmo, "conduct concern list") == 0
    client.get(f"{API}/conduct-concerns", headers=bearer(cmo))
    assert (reads_of(newest, cmo, "conduct concern list"), reads_of(oldest, cmo, "conduct concern list")) == (2, 1)
    # Outside the reviewer's units nothing is listed; others are refused.
    assert client.get(f"{API}/conduct-concerns", headers=bearer(make_user(Role.CMO, "lch"))).json()["count"] == 0
    for role in (Role.PATIENT_SAFETY_OFFICER, Role.CQO, Role.STAFF_REPORTER):
        assert client.get(f"{API}/conduct-concerns", headers=bearer(make_user(role, ""))).status_code == 403
