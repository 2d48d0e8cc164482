"""Safety analysis: counts and Pareto against an independent computation, month buckets, scope,
the aggregate-only page, the SVG chart, the de-identified CSV export and the import of
historical events."""

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from andon.platform.roles import Role
from andon.safety import analysis, imports, services
from andon.safety.models import SafetyEvent

SVG = "{http://www.w3.org/2000/svg}"
DETAILS = {"fall": {"injury_level": "none"}, "medication": {"ncc_merp": "C", "process_stage": "administering"},
           "other": {}}


def make_event(hospital, category="fall", *, unit="rgh/4w", kind="incident", harm="none", when=None,
               narrative="Patient found on the floor", reporter=None):
    when = when or datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    event = SafetyEvent(
        kind=kind, category=category, taxonomy_version="2026.1", unit=hospital.unit(unit), occurred_at=when,
        reported_at=when, narrative=narrative, harm=harm if kind == "incident" else "",
        details=DETAILS.get(category, {}), reporter=reporter)
    services.assign_reference(event)
    event.save()
    return event


@pytest.fixture
def dataset(hospital, safety_taxonomy):
    """5 falls, 3 medication events and 2 others, over three units and two months."""
    events = []
    for i in range(5):
        events.append(make_event(hospital, "fall", unit="rgh/4w" if i < 3 else "rgh/5e",
                                 when=datetime(2025, 1, 31, 23, 30, tzinfo=UTC) if i == 0 else None))
    for _ in range(3):
        events.append(make_event(hospital, "medication", unit="rgh/icu", harm="mild"))
    events.append(make_event(hospital, "other", unit="lch/2a", kind="near_miss"))
    events.append(make_event(hospital, "other", unit="rgh/4w", kind="unsafe_condition",
                             when=datetime(2025, 5, 1, 0, 0, tzinfo=UTC)))
    return events


# --- counting ----------------------------------------------------------------------------------

def test_pareto_orders_and_accumulates():
    rows = analysis.pareto([("Other", 2), ("Fall", 5), ("Medication", 3)])
    assert [(r.label, r.count, r.cumulative, r.cumulative_percent) for r in rows] == [
        ("Fall", 5, 5, 50.0), ("Medication", 3, 8, 80.0), ("Other", 2, 10, 100.0)]


def test_pareto_breaks_ties_by_label_and_handles_nothing():
    assert [r.label for r in analysis.pareto([("b", 2), ("c", 3), ("a", 2)])] == ["c", "a", "b"]
    assert analysis.pareto([]) == []


def test_counts_match_an_independent_computation(dataset, safety_taxonomy, make_user):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    summary = analysis.summarise(analysis.events_in_scope(officer), safety_taxonomy)
    expected = Counter(safety_taxonomy.category_label(e.category) for e in dataset)
    total = sum(expected.values())
    running, independent = 0, []
    for label, count in sorted(expected.items(), key=lambda item: (-item[1], item[0])):
        running += count
        independent.append((label, count, running, round(100 * running / total, 6)))
    assert [(r.label, r.count, r.cumulative, round(r.cumulative_percent, 6)) for r in summary.categories] == independent
    assert [r.cumulative_percent for r in summary.categories] == [50.0, 80.0, 100.0]
    assert summary.safety_events == summary.total_reports == 10
    harm = dict(summary.harm)
    assert harm["No harm"] == 5 and harm["Mild harm"] == 3 and sum(harm.values()) == 8  # incidents only
    assert dict(summary.kinds) == {"Incident (reached the patient)": 8, "Near miss (did not reach the patient)": 1,
                                   "Unsafe condition (no patient involved)": 1,
                                   "Good catch (someone stopped an error)": 0,
                                   "Excellent care (recognise a colleague)": 0}
    units = dict(summary.units)
    assert units == {"rgh/4w · 4 West Medical": 4, "rgh/icu · Intensive Care Unit": 3,
                     "rgh/5e · 5 East Cardiology": 2, "lch/2a · 2A Medical": 1}


def test_month_buckets_are_utc_calendar_months_with_gaps_filled(dataset, make_user):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    months = analysis.by_month(analysis.events_in_scope(officer))
    # 23:30 UTC on 31 January stays in January; nothing in April is still a row.
    assert months == [(date(2025, 1, 1), 1), (date(2025, 2, 1), 0), (date(2025, 3, 1), 8), (date(2025, 4, 1), 0),
                      (date(2025, 5, 1), 1)]


def test_date_and_unit_filters(dataset, hospital, make_user):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    events = analysis.events_in_scope(officer)
    march = analysis.apply_filters(events, analysis.Filters(since=date(2025, 2, 1), until=date(2025, 4, 30)))
    assert march.count() == 8
    # "to" is inclusive: the event at 00:00 on 1 May counts on 1 May, not on 30 April.
    assert analysis.apply_filters(events, analysis.Filters(until=date(2025, 4, 30))).count() == 9
    assert analysis.apply_filters(events, analysis.Filters(since=date(2025, 5, 1))).count() == 1
    medicine = analysis.apply_filters(events, analysis.Filters(unit=hospital.unit("rgh/medicine")))
    assert medicine.count() == 6
    assert analysis.apply_filters(events, analysis.Filters(facility=hospital.facility("lch"))).count() == 1


def test_excellent_care_is_counted_by_kind_only(hospital, safety_taxonomy, make_user):
    make_event(hospital, "fall")
    make_event(hospital, "other", kind="excellent_care")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    summary = analysis.summarise(analysis.events_in_scope(officer), safety_taxonomy)
    assert (summary.total_reports, summary.safety_events) == (2, 1)
    assert [r.label for r in summary.categories] == ["Fall"]
    assert dict(summary.kinds)["Excellent care (recognise a colleague)"] == 1


def test_a_unit_manager_counts_only_their_units(dataset, make_user, safety_taxonomy):
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    summary = analysis.summarise(analysis.events_in_scope(manager), safety_taxonomy)
    assert summary.safety_events == 6  # 4 on rgh/4w and 2 on rgh/5e
    assert dict(summary.units) == {"rgh/4w · 4 West Medical": 4, "rgh/5e · 5 East Cardiology": 2}
    assert [(r.label, r.count) for r in summary.categories] == [("Fall", 5), ("Other", 1)]


# --- contributing factors -----------------------------------------------------------------------

FACTORS = [  # (event index in `dataset`, fishbone category, description)
    (0, "communication", "Handover did not mention the falls risk"),
    (0, "environment", "Call bell out of reach"),
    (1, "communication", "No bedside handover at night"),
    (1, "communication", "Bed alarm status not passed on"),
    (1, "rules", "Falls policy silent on night checks"),
    (5, "communication", "Allergy not read back"),  # a medication event in rgh/icu
    (9, "barriers", "Unsafe condition: no sign on the wet floor"),  # rgh/4w, in May
]


@pytest.fixture
def rcas(dataset, make_user):
    from andon.safety.models import ContributingFactor, Investigation

    lead = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    investigations = {}
    for index, category, description in FACTORS:
        if index not in investigations:
            investigations[index] = Investigation.objects.create(event=dataset[index], started_by=lead)
        ContributingFactor.objects.create(investigation=investigations[index], category=category,
                                          description=description)
    investigations[0].completed_at = timezone.now()
    investigations[0].save()
    return investigations


def _independent_factor_pareto(taxonomy, rows):
    counts = Counter(taxonomy.factor_label(category) for _, category, _ in rows)
    rcas = {label: len({i for i, c, _ in rows if taxonomy.factor_label(c) == label}) for label in counts}
    total, running, expected = sum(counts.values()), 0, []
    for label, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        running += count
        expected.append((label, count, running, round(100 * running / total, 6), rcas[label]))
    return expected


def test_factor_pareto_matches_an_independent_count(rcas, dataset, safety_taxonomy, make_user):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    found = analysis.analyse(officer, analysis.Filters())
    assert (found.factors.investigations, found.factors.completed, found.factors.factors) == (4, 1, 7)
    assert [(r.label, r.count, r.cumulative, round(r.cumulative_percent, 6), r.investigations)
            for r in found.factors.rows] == _independent_factor_pareto(safety_taxonomy, FACTORS)
    assert found.factors.rows[0].label == "Human factors: communication"
    assert (found.factors.rows[0].count, found.factors.rows[0].investigations) == (4, 3)


def test_factor_pareto_follows_the_filters_and_the_scope(rcas, dataset, hospital, safety_taxonomy, make_user):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    may = analysis.analyse(officer, analysis.Filters(since=date(2025, 5, 1)))
    assert [(r.label, r.count) for r in may.factors.rows] == [("Barriers (controls)", 1)]
    icu = analysis.analyse(officer, analysis.Filters(unit=hospital.unit("rgh/icu")))
    assert [(r.label, r.count) for r in icu.factors.rows] == [("Human factors: communication", 1)]
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")  # 4w and 5e, not the ICU
    mine = analysis.analyse(manager, analysis.Filters())
    expected = [row for row in FACTORS if row[0] != 5]
    assert [(r.label, r.count) for r in mine.factors.rows] == [
        (label, count) for label, count, *_ in _independent_factor_pareto(safety_taxonomy, expected)]


def test_analysis_needs_the_aggregate_capability(dataset, make_user):
    with pytest.raises(PermissionDenied):
        analysis.analyse(make_user(Role.STAFF_REPORTER, "rgh/4w"), analysis.Filters())


def test_factor_pareto_page_and_chart_show_counts_not_descriptions(client, rcas, make_user):
    client.force_login(make_user(Role.BOARD_MEMBER, ""))
    page = client.get(reverse("safety:analysis")).content.decode()
    assert "Contributing factors in root cause analyses" in page
    assert "7 contributing factors named in 4 root cause analyses of these events (1 completed)" in page
    assert reverse("safety:pareto_svg", args=["factors"]) in page
    for _, _, description in FACTORS:
        assert description not in page
    response = client.get(reverse("safety:pareto_svg", args=["factors"]))
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.find(f"{SVG}title").text.startswith("Contributing factors in root cause analyses")
    assert root.find(f"{SVG}desc").text.startswith("Pareto chart of 7 factors. Human factors: communication: 4 (57.1%")
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == 4
    for _, _, description in FACTORS:
        assert description.encode() not in response.content


def test_no_factors_says_so(client, dataset, make_user):
    client.force_login(make_user(Role.QUALITY_ANALYST, ""))
    page = client.get(reverse("safety:analysis")).content.decode()
    assert "No contributing factors recorded for these events." in page
    root = ET.fromstring(client.get(reverse("safety:pareto_svg", args=["factors"])).content)
    assert root.find(f"{SVG}desc").text == "Pareto chart of 0 factors. No factors match the filters."


# --- kept (cached) aggregates --------------------------------------------------------------------

def _fall_count(found):
    return dict((r.label, r.count) for r in found.summary.categories).get("Fall", 0)


def test_kept_analysis_follows_every_change_to_what_is_counted(dataset, hospital, safety_taxonomy, make_user):
    """The analysis is kept in the cache; a report, a re-categorisation in triage, a contributing
    factor and a renamed unit each make the next analysis count afresh."""
    from andon.safety import rca, services
    from andon.safety.models import Investigation, Review, Status

    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    first = analysis.analyse(officer, analysis.Filters())
    assert _fall_count(first) == 5
    assert analysis.analyse(officer, analysis.Filters()) == first  # kept: the same numbers

    services.submit_report(officer, services.Report(
        kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=1), narrative="Found on the floor", harm="none",
        details={"injury_level": "none"}))
    assert _fall_count(analysis.analyse(officer, analysis.Filters())) == 6

    event = dataset[6]  # a medication event, re-categorised as a fall in triage
    services.triage(officer, event, services.Triage(category="fall", harm="mild", sac_severity="catastrophic",
                                                    sac_probability="remote", sentinel=False, review=Review.RCA,
                                                    reason="It was a fall"))
    after = analysis.analyse(officer, analysis.Filters())
    assert _fall_count(after) == 7
    assert dict((r.label, r.count) for r in after.summary.categories)["Medication or other substance"] == 2

    assert after.factors.factors == 0
    investigation = rca.start_investigation(officer, SafetyEvent.objects.get(pk=event.pk))
    assert Investigation.objects.get(pk=investigation.pk).event.status == Status.INVESTIGATION
    rca.add_factor(officer, investigation, "training", "Agency nurse not trained on the pump")
    assert [(r.label, r.count) for r in analysis.analyse(officer, analysis.Filters()).factors.rows] == [
        ("Human factors: training", 1)]

    unit = hospital.unit("rgh/icu")
    unit.name = "Intensive Care (renamed)"
    unit.save()
    assert any("Intensive Care (renamed)" in label for label, _ in analysis.analyse(officer, analysis.Filters()).summary.units)


def test_kept_analysis_is_per_scope_and_filters(dataset, hospital, make_user):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    assert analysis.analyse(officer, analysis.Filters()).summary.safety_events == 10
    assert analysis.analyse(manager, analysis.Filters()).summary.safety_events == 6
    assert analysis.analyse(officer, analysis.Filters(facility=hospital.facility("lch"))).summary.safety_events == 1
    assert analysis.analyse(officer, analysis.Filters()).summary.safety_events == 10


def test_imported_events_are_counted_at_once(client, dataset, hospital, make_user):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    assert _fall_count(analysis.analyse(officer, analysis.Filters())) == 5
    rows = "kind,category,unit,occurred_at,narrative,harm,details\n" + "".join(
        f'incident,fall,rgh/4w,2024-0{i}-10T10:00:00Z,Old fall {i},none,"{{""injury_level"": ""none""}}"\n'
        for i in range(1, 4))
    outcome = imports.import_file(officer, rows.encode())
    assert not outcome.checked.problems and len(outcome.stored) == 3
    assert _fall_count(analysis.analyse(officer, analysis.Filters())) == 8


# --- the page ----------------------------------------------------------------------------------

def test_board_member_sees_counts_but_no_event(client, dataset, make_user):
    dataset[0].narrative = "SECRET-NARRATIVE Mrs Example fell"
    dataset[0].save()
    board = make_user(Role.BOARD_MEMBER, "")
    client.force_login(board)
    response = client.get(reverse("safety:analysis"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Medication or other substance" in page and "80.0%" in page
    assert "SECRET-NARRATIVE" not in page and "Patient found" not in page
    for event in dataset:
        assert event.reference not in page
    assert reverse("safety:pareto_svg", args=["category"]) in page
    assert reverse("safety:export_csv") not in page  # board members cannot export
    assert " style=" not in page and "<script>" not in page


def test_page_links_the_chart_and_the_export_with_the_same_filters(client, dataset, make_user, hospital):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    client.force_login(officer)
    unit = hospital.unit("rgh/medicine").pk
    response = client.get(reverse("safety:analysis"), {"from": "2025-03-01", "to": "2025-03-31", "unit": unit})
    page = response.content.decode()
    query = f"from=2025-03-01&amp;to=2025-03-31&amp;unit={unit}"
    assert f'{reverse("safety:pareto_svg", args=["category"])}?{query}' in page
    assert f'{reverse("safety:export_csv")}?{query}' in page
    assert response.context["summary"].safety_events == 4  # 2 on 4w and 2 on 5e in March


def test_wrong_filters_show_an_error(client, dataset, make_user):
    client.force_login(make_user(Role.QUALITY_ANALYST, ""))
    response = client.get(reverse("safety:analysis"), {"from": "2025-05-01", "to": "2025-01-01"})
    assert response.status_code == 200 and response.context["summary"] is None
    assert "The end comes before the start." in response.content.decode()


def test_a_manager_cannot_filter_to_a_unit_outside_their_scope(client, dataset, make_user, hospital):
    client.force_login(make_user(Role.UNIT_MANAGER, "rgh/medicine"))
    response = client.get(reverse("safety:analysis"), {"unit": hospital.unit("rgh/icu").pk})
    assert response.context["summary"] is None


# --- the chart ---------------------------------------------------------------------------------

def test_pareto_svg_is_well_formed_with_one_bar_per_category(client, dataset, make_user):
    client.force_login(make_user(Role.BOARD_MEMBER, ""))
    response = client.get(reverse("safety:pareto_svg", args=["category"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text.startswith("Safety events by category")
    assert "Fall: 5 (50.0% cumulative)" in root.find(f"{SVG}desc").text
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == 3
    heights = [float(bar.get("height")) for bar in bars]
    assert heights == sorted(heights, reverse=True)
    assert len([c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]) == 3
    assert any(line.get("class") == "reference" for line in root.iter(f"{SVG}line"))
    assert all(element.get("style") is None for element in root.iter())
    assert b"SECRET" not in response.content and b"Patient found" not in response.content


def test_pareto_svg_filters_escapes_and_refuses_unknown_dimensions(client, dataset, make_user, hospital):
    client.force_login(make_user(Role.QUALITY_ANALYST, ""))
    response = client.get(reverse("safety:pareto_svg", args=["category"]), {"facility": hospital.facility("lch").pk})
    root = ET.fromstring(response.content)
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]) == 1
    assert client.get(reverse("safety:pareto_svg", args=["harm"])).status_code == 404
    empty = client.get(reverse("safety:pareto_svg", args=["category"]), {"from": "2030-01-01"})
    assert [r for r in ET.fromstring(empty.content).iter(f"{SVG}rect") if r.get("class") == "bar"] == []
    # Labels are escaped text.
    svg = analysis.pareto_svg(analysis.pareto([("<b>&\"x\"</b>", 1)]), "T <&>")
    assert ET.fromstring(svg).find(f"{SVG}title").text == "T <&>"


# --- export ------------------------------------------------------------------------------------

def _csv(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_is_deidentified_and_defuses_formulas(client, hospital, safety_taxonomy, make_user):
    reporter = make_user(Role.STAFF_REPORTER, "rgh/4w", username="reporter-name")
    event = make_event(hospital, "fall", narrative="=HYPERLINK(\"http://evil\")", reporter=reporter)
    make_event(hospital, "medication", unit="lch/2a", harm="mild")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    client.force_login(officer)
    response = client.get(reverse("safety:export_csv"), {"facility": hospital.facility("rgh").pk})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert list(rows[0]) == analysis.EXPORT_COLUMNS
    assert not any("reporter" in column for column in rows[0])
    assert len(rows) == 1
    row = rows[0]
    assert row["narrative"] == "'=HYPERLINK(\"http://evil\")"
    assert row["reference"] == event.reference and row["category_label"] == "Fall"
    assert (row["unit"], row["facility"], row["is_sentinel"]) == ("4w", "rgh", "false")
    assert json.loads(row["details"]) == {"injury_level": "none"}
    assert row["occurred_at"] == "2025-03-10T12:00:00+00:00"
    body = "".join(row.values())
    assert "reporter-name" not in body
    # The export is in the audit trail: a summary entry and a read of the event.
    reads = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, actor=officer)
    assert reads.filter(object_pk=str(event.pk), content_type__model="safetyevent").count() == 1
    assert reads.filter(content_type__model="organisation",
                        additional_data__reason__startswith="exported 1 safety events").count() == 1


def test_export_is_refused_to_analysts_and_board(client, dataset, make_user):
    for role in (Role.QUALITY_ANALYST, Role.BOARD_MEMBER, Role.UNIT_MANAGER):
        client.force_login(make_user(role, ""))
        assert client.get(reverse("safety:export_csv")).status_code == 403


def test_export_scope_follows_the_export_capability(client, dataset, make_user):
    client.force_login(make_user(Role.CQO, "lch"))
    assert len(_csv(client.get(reverse("safety:export_csv")))) == 1


# --- import ------------------------------------------------------------------------------------

HEADER = "kind,category,unit,occurred_at,narrative,harm,details,reference_external\n"
GOOD_ROWS = [
    'incident,fall,rgh/4w,2024-02-03,Found on the floor,none,"{""injury_level"": ""none""}",OLD-1\n',
    'near_miss,medication,rgh/icu,2024-02-04T10:15:00Z,Wrong dose caught,,"{""ncc_merp"": ""B"", ""process_stage"": ""dispensing""}",OLD-2\n',
    "unsafe_condition,other,lch/2a,2024-03-01T08:00,Wet floor,,,\n",
]


def _upload(client, text, name="events.csv", encoding="utf-8"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = text.encode(encoding) if isinstance(text, str) else text
    return client.post(reverse("safety:import_events"), {"file": SimpleUploadedFile(name, data, "text/csv")})


@pytest.fixture
def importer(client, hospital, safety_taxonomy, make_user, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    client.force_login(officer)
    return officer


def test_a_clean_file_stores_every_event(client, importer, hospital):
    response = _upload(client, "\ufeff" + HEADER + "".join(GOOD_ROWS))
    assert response.status_code == 302
    events = SafetyEvent.objects.order_by("occurred_at")
    assert events.count() == 3
    first = events[0]
    assert (first.kind, first.category, first.unit, first.harm) == ("incident", "fall", hospital.unit("rgh/4w"), "none")
    assert first.reporter is None and not first.is_anonymous and first.status == "submitted"
    assert first.occurred_at == first.reported_at == timezone.make_aware(datetime(2024, 2, 3))
    assert first.details == {"injury_level": "none", "reference_external": "OLD-1"}
    # Numbered in the year of the event, in the file's order.
    assert [e.reference for e in events] == ["EV-2024-000001", "EV-2024-000002", "EV-2024-000003"]
    assert events[1].occurred_at == datetime(2024, 2, 4, 10, 15, tzinfo=UTC)
    created = LogEntry.objects.filter(action=LogEntry.Action.CREATE, content_type__model="safetyevent")
    assert created.count() == 3 and set(created.values_list("actor", flat=True)) == {importer.pk}


BAD_ROWS = [
    "incident,fall,rgh/nowhere,2024-02-05,Slipped,none,\"{\"\"injury_level\"\": \"\"none\"\"}\",\n",  # bad unit
    "incident,castle,rgh/4w,05/02/2024,Something,lots,,\n",  # bad category, date and harm
]


def test_a_file_with_bad_rows_stores_nothing_and_reports_each_problem(client, importer, safety_taxonomy):
    text = HEADER + GOOD_ROWS[0] + BAD_ROWS[0] + GOOD_ROWS[1] + BAD_ROWS[1] + GOOD_ROWS[2]
    response = _upload(client, text)
    assert response.status_code == 200
    assert SafetyEvent.objects.count() == 0
    problems = [(p.row, p.field, p.reason) for p in response.context["problems"]]
    categories = ", ".join(c["code"] for c in safety_taxonomy.categories)
    assert problems == [
        (3, "unit", "'rgh/nowhere' is not a unit you may import into (FACILITY/UNIT, e.g. rgh/4w)."),
        (5, "occurred_at", "'05/02/2024' is not an ISO 8601 date or date and time (e.g. 2025-03-14 or "
                           "2025-03-14T09:30)."),
        (5, "category", f"'castle' is not a category; one of {categories}."),
        (5, "harm", "An incident reached the patient: choose the harm (or Unknown). Given 'lots'; one of "
                    "death, severe, moderate, mild, none, unknown."),
    ]
    checked = response.context["checked"]
    assert (len(checked.valid), checked.invalid_rows, checked.rows) == (3, 2, 5)
    page = response.content.decode()
    assert "Import the 3 valid rows" in page
    token = response.context["token"]
    # Accepting stores the valid rows only.
    response = client.post(reverse("safety:import_events"), {"token": token, "accept_valid": "1"})
    assert response.status_code == 302
    assert sorted(SafetyEvent.objects.values_list("details__reference_external", flat=True), key=str) == [
        None, "OLD-1", "OLD-2"]
    # The kept file is gone: the same acceptance cannot import twice.
    response = client.post(reverse("safety:import_events"), {"token": token, "accept_valid": "1"})
    assert "no longer available" in response.content.decode() and SafetyEvent.objects.count() == 3


def test_someone_else_cannot_accept_my_file(client, importer, make_user):
    response = _upload(client, HEADER + GOOD_ROWS[0] + BAD_ROWS[0])
    token = response.context["token"]
    client.force_login(make_user(Role.PATIENT_SAFETY_OFFICER, ""))
    response = client.post(reverse("safety:import_events"), {"token": token, "accept_valid": "1"})
    assert "no longer available" in response.content.decode() and SafetyEvent.objects.count() == 0
    response = client.post(reverse("safety:import_events"), {"token": "../../etc/passwd", "accept_valid": "1"})
    assert "no longer available" in response.content.decode()


def test_reporting_rules_apply_to_each_row(client, importer):
    future = (timezone.now() + timedelta(days=2)).date().isoformat()
    rows = [
        f"incident,fall,rgh/4w,{future},Later,none,\"{{\"\"injury_level\"\": \"\"none\"\"}}\",\n",
        "incident,fall,rgh/4w,2024-01-01,No details,none,,\n",
        "near_miss,fall,rgh/4w,2024-01-01,Harm on a near miss,mild,\"{\"\"injury_level\"\": \"\"none\"\"}\",\n",
        "incident,fall,rgh/4w,2024-01-01,,none,\"[1]\",\n",
        "incident,fall,rgh/4w,2024-01-01,Dup,none,\"{\"\"injury_level\"\": \"\"none\"\"}\",X\n",
        "incident,fall,rgh/4w,2024-01-01,Dup,none,\"{\"\"injury_level\"\": \"\"none\"\"}\",X\n",
        "incident,fall,rgh/4w\n",
    ]
    response = _upload(client, HEADER + "".join(rows))
    problems = [(p.row, p.field) for p in response.context["problems"]]
    assert problems == [(2, "occurred_at"), (3, "details.injury_level"), (4, "harm"), (5, "details"),
                        (5, "narrative"), (7, "reference_external"), (8, "")]
    assert SafetyEvent.objects.count() == 0


def test_an_external_reference_is_imported_once(client, importer):
    assert _upload(client, HEADER + GOOD_ROWS[0]).status_code == 302
    response = _upload(client, HEADER + GOOD_ROWS[0])
    assert [(p.row, p.field, p.reason) for p in response.context["problems"]] == [
        (2, "reference_external", "'OLD-1' has already been imported.")]
    assert SafetyEvent.objects.count() == 1


def test_a_unit_outside_the_importers_scope_is_refused(client, hospital, safety_taxonomy, make_user, settings,
                                                       tmp_path):
    settings.DATA_DIR = tmp_path
    client.force_login(make_user(Role.PATIENT_SAFETY_OFFICER, "lch"))
    response = _upload(client, HEADER + GOOD_ROWS[0] + GOOD_ROWS[2])
    assert [(p.row, p.field) for p in response.context["problems"]] == [(2, "unit")]
    assert SafetyEvent.objects.count() == 0


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The submitted file is empty."),  # Django's own check
    (b"  \n\n", "The file is empty."),
    (HEADER.encode(), "The file has a header but no events."),
    (("kind,category,unit,occurred_at,narrative,harm\nincident,fall,rgh/4w,2024-01-01,Tomb\u00e9,none\n")
     .encode("latin-1"), "The file is not UTF-8 text: byte 0xe9 on line 2"),
    (b"kind,category,unit,occurred_at,narrative\nincident,fall,rgh/4w,2024-01-01,x\n",
     "Row 1 (the header): missing column: harm."),
    (b"kind,category,unit,occurred_at,narrative,harm,patient\nincident,fall,rgh/4w,2024-01-01,x,none,Smith\n",
     "Row 1 (the header): unknown column: patient."),
    (b"kind,kind,category,unit,occurred_at,narrative,harm\n", "Row 1: column kind appear"),
])
def test_unreadable_files_are_refused_whole(client, importer, content, message):
    response = _upload(client, content)
    assert response.status_code == 200
    assert SafetyEvent.objects.count() == 0
    errors = " ".join(response.context["form"].errors.get("file", []))
    assert message in errors, errors


def test_size_and_row_limits(client, importer, monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    response = _upload(client, HEADER + "".join(GOOD_ROWS))
    assert "at most 2 at once" in " ".join(response.context["form"].errors["file"])
    monkeypatch.setattr(imports, "MAX_BYTES", 100)
    response = _upload(client, HEADER + "".join(GOOD_ROWS))
    assert "larger than" in " ".join(response.context["form"].errors["file"])
    assert SafetyEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)  # the job runs in the worker, which commits (test_jobs.py)
def test_a_large_file_is_imported_by_a_job_with_progress_and_the_same_report(client, importer, settings,
                                                                              monkeypatch, make_user):
    from django.core.management import call_command

    from andon.platform.models import Job

    def run_worker():
        call_command("db_worker", batch=True, startup_delay=False, verbosity=0)

    settings.ANDON_IMPORT_JOB_ROWS = 4
    text = HEADER + GOOD_ROWS[0] + BAD_ROWS[0] + GOOD_ROWS[1] + BAD_ROWS[1] + GOOD_ROWS[2]  # 5 rows
    monkeypatch.setattr(imports, "MAX_ROWS", 4)  # the limit holds before anything is queued
    response = _upload(client, text)
    assert "at most 4 at once" in " ".join(response.context["form"].errors["file"]) and not Job.objects.exists()
    monkeypatch.undo()

    response = _upload(client, text, name="old-system.csv")
    job = Job.objects.get(requested_by=importer)
    watch = f"{reverse('safety:import_events')}?job={job.pk}"
    assert response.status_code == 302 and response["Location"] == watch
    page = client.get(watch).content.decode()
    assert "Import of old-system.csv" in page and 'hx-trigger="every 2s"' in page and "Queued" in page
    run_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.traceback
    assert (job.progress_done, job.progress_total, job.message) == (5, 5, "Checked 5 of 5 rows")
    # The same row/field/reason report as a small file's, nothing stored until the importer decides.
    assert {name: job.result[name] for name in ("rows", "valid", "invalid_rows", "stored", "problem_count")} == {
        "rows": 5, "valid": 3, "invalid_rows": 2, "stored": 0, "problem_count": 4}
    assert job.result["problems"] == imports.report(imports.check_file(importer, text.encode()))["problems"]
    assert [(p["row"], p["field"]) for p in job.result["problems"]] == [
        (3, "unit"), (5, "occurred_at"), (5, "category"), (5, "harm")]
    assert SafetyEvent.objects.count() == 0
    partial = client.get(watch, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and "hx-trigger" not in partial
    assert "Nothing was imported from old-system.csv" in partial and "Import the 3 valid rows" in partial
    assert "&#x27;rgh/nowhere&#x27; is not a unit you may import into" in partial
    download = client.get(reverse("platform:job_download", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert rows[0] == ["row", "field", "reason"] and [row[:2] for row in rows[1:]] == [
        ["3", "unit"], ["5", "occurred_at"], ["5", "category"], ["5", "harm"]]

    # Accepting the valid rows is a job too; they are stored together, audited as the importer's.
    response = client.post(reverse("safety:import_events"),
                           {"token": job.result["token"], "accept_valid": "1", "name": "old-system.csv"})
    accepted = Job.objects.exclude(pk=job.pk).get()
    assert response["Location"] == f"{reverse('safety:import_events')}?job={accepted.pk}"
    run_worker()
    accepted.refresh_from_db()
    assert (accepted.status, accepted.result["stored"], accepted.result["invalid_rows"]) == ("succeeded", 3, 2)
    assert (accepted.progress_done, accepted.progress_total, accepted.message) == (3, 3, "Stored 3 of 3 events")
    assert sorted(SafetyEvent.objects.values_list("details__reference_external", flat=True), key=str) == [
        None, "OLD-1", "OLD-2"]
    created = LogEntry.objects.filter(action=LogEntry.Action.CREATE, content_type__model="safetyevent")
    assert created.count() == 3 and set(created.values_list("actor", flat=True)) == {importer.pk}
    page = client.get(f"{reverse('safety:import_events')}?job={accepted.pk}").content.decode()
    assert "Imported 3 historical events; 2 rows with problems left out." in page
    response = client.post(reverse("safety:import_events"), {"token": job.result["token"], "accept_valid": "1"})
    assert "no longer available" in response.content.decode() and SafetyEvent.objects.count() == 3
    client.force_login(make_user(Role.PATIENT_SAFETY_OFFICER, ""))  # another importer: not their job
    assert client.get(watch).status_code == 403


def test_only_patient_safety_officers_import(client, hospital, safety_taxonomy, make_user):
    for role in (Role.CQO, Role.QUALITY_ANALYST, Role.BOARD_MEMBER):
        client.force_login(make_user(role, ""))
        assert client.get(reverse("safety:import_events")).status_code == 403


def test_an_import_job_number_that_is_not_a_number_is_not_found_not_a_crash(client, importer):
    """`str.isdigit` lets through digits `int()` refuses (such as '²'): the import page answered 500."""
    client.force_login(importer)
    for bad in ("²", "12³", "99999999999999999999"):
        assert client.get(reverse("safety:import_events"), {"job": bad}).status_code == 404, bad


def test_an_import_takes_who_and_where_and_refuses_a_wrong_person(client, importer, hospital):
    header = "kind,category,unit,occurred_at,narrative,harm,person_affected,location_detail,witnesses\n"
    good = ('incident,other,rgh/4w,2024-02-03,Visitor slipped,none,visitor,Corridor by the lift,Porter on duty\n'
            'unsafe_condition,other,rgh/4w,2024-02-04,Wet floor,,,,\n')
    assert _upload(client, header + good).status_code == 302
    assert list(SafetyEvent.objects.order_by("occurred_at").values_list(
        "person_affected", "location_detail", "witnesses")) == [
        ("visitor", "Corridor by the lift", "Porter on duty"), ("", "", "")]
    response = _upload(client, header + "near_miss,other,rgh/4w,2024-02-05,Almost,,neighbour,,\n")
    assert response.status_code == 200 and SafetyEvent.objects.count() == 2
    assert "Choose who was affected" in response.content.decode()


def test_months_and_days_are_the_organisations_not_utcs(hospital, safety_taxonomy, make_user, settings):
    """A fall at 21:00 on 31 January in Chicago (03:00 on 1 February UTC) is a January fall, as the
    measures count it and every page shows its time; a filter to 31 January includes it."""
    settings.TIME_ZONE = "America/Chicago"
    make_event(hospital, when=datetime(2025, 2, 1, 3, 0, tzinfo=UTC))
    make_event(hospital, when=datetime(2025, 2, 1, 6, 30, tzinfo=UTC))  # 00:30 on 1 February in Chicago
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    events = analysis.events_in_scope(officer)
    assert analysis.by_month(events) == [(date(2025, 1, 1), 1), (date(2025, 2, 1), 1)]
    january = analysis.apply_filters(events, analysis.Filters(since=date(2025, 1, 31), until=date(2025, 1, 31)))
    assert [e.occurred_at for e in january] == [datetime(2025, 2, 1, 3, 0, tzinfo=UTC)]
