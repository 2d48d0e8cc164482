"""The demo hospital opens like a real one (issue 15, friction 16). The plan of its safety events
is checked here without a database (cheap); the loaded demo (events, states by age, measures,
eCQMs, dashboard) is checked once, in test_measures_pages.py's demo test, which loads it anyway."""

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from andon.safety import demo

NOW = timezone.make_aware(datetime(2026, 12, 2, 21, 0))
WARD_MIXES = {"medical", "surgical", "icu", "maternity", "rehab"}


def _month(moment) -> tuple[int, int]:
    local = timezone.localtime(moment)
    return local.year, local.month


def test_the_demo_plans_24_months_of_reports_ending_today_the_same_every_time():
    planned = demo.plan(NOW)
    assert planned == demo.plan(NOW)  # deterministic for the seed
    months = sorted({_month(p.occurred_at) for p in planned})
    # the measures' 24 months (December 2024 to November 2026) and the current month so far
    assert (months[0], months[-1], len(months)) == ((2024, 12), (2026, 12), 25)
    assert all(p.occurred_at <= NOW for p in planned)
    assert 500 < len(planned) < 1200  # about 30 a month for two small hospitals
    # a month later, the same demo a month on
    later = demo.plan(NOW + timedelta(days=31))
    assert sorted({_month(p.occurred_at) for p in later})[0] == (2025, 1)


def test_every_ward_reports_every_month_with_a_plausible_mix_of_harm():
    planned = demo.plan(NOW)
    wards = [path for path, (_, mix) in demo.UNITS.items() if mix in WARD_MIXES]
    by_ward_month = Counter((p.unit, _month(p.occurred_at)) for p in planned)
    months = sorted({_month(p.occurred_at) for p in planned})
    assert [(w, m) for w in wards for m in months if not by_ward_month[(w, m)]] == []
    harms = Counter(p.harm for p in planned if p.kind == "incident")
    incidents = sum(harms.values())
    assert (harms["none"] + harms["mild"]) / incidents > 0.7  # most no or low harm
    assert 0.01 < harms["severe"] / incidents < 0.08  # few severe
    assert set(harms) <= {"none", "mild", "moderate", "severe"}
    categories = Counter(p.category for p in planned)
    assert categories.most_common(3)[0][0] in {"medication", "fall"} and len(categories) >= 9
    # the details agree with the harm: a fall without harm had no injury, a severe one a major one
    falls = [(p.harm, p.details["injury_level"]) for p in planned if p.category == "fall"]
    assert {injury for harm, injury in falls if harm == "none"} == {"none"}
    assert {injury for harm, injury in falls if harm == "severe"} <= {"major"}


def test_more_falls_in_winter_and_fewer_on_4_west_after_its_rca_actions():
    planned = demo.plan(NOW)
    falls = Counter(timezone.localtime(p.occurred_at).month for p in planned if p.category == "fall")
    winter, summer = falls[12] + falls[1] + falls[2], falls[6] + falls[7] + falls[8]
    assert winter > 1.3 * summer
    west = [p for p in planned if p.unit == "rgh/4w" and p.category == "fall"]
    actions = demo.month_start(NOW.date(), demo.FALL_ACTIONS_MONTHS_AGO)
    first = demo.month_start(NOW.date(), demo.MONTHS)
    before = sum(p.occurred_at.date() < actions for p in west) / ((actions - first).days / 30.4)
    after = sum(p.occurred_at.date() >= actions for p in west) / ((NOW.date() - actions).days / 30.4)
    assert after < 0.6 * before


def test_the_shipped_ecqm_content_is_the_default_and_says_its_licence():
    shipped = Path(settings.BASE_DIR).parent / "content" / "ecqm"
    assert settings.SHIPPED_ECQM_CONTENT == shipped and shipped.resolve() in settings.ANDON_ECQM_CONTENT
    readme = (shipped / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "Public Domain" in readme


def test_the_shipped_ecqm_content_runs_and_its_test_cases_pass():
    from andon.analytics.cql.check import check

    outcomes = check([settings.SHIPPED_ECQM_CONTENT])
    measures = Counter(o.measure for o in outcomes)
    assert set(measures) == {"CMS108VTEProphylaxisFHIR", "CMS334FHIRPCCesareanBirth", "CMS71FHIRSTKAnticoagAFFlutter",
                             "CMS816HHHypoFHIR", "CMS871HHHyperFHIR", "CMSFHIR529HybridHospitalWideReadmission"}
    assert [f"{o.measure}/{o.case}" for o in outcomes if not o.passed] == []


def check_the_loaded_demo_events():
    """The loaded demo's safety events (called by the demo test of test_measures_pages.py, which
    loads the whole demo once): spread, states by age, the workflow's rules, the two RCAs."""
    from andon.actions.models import Action
    from andon.platform.models import Notification
    from andon.safety.models import Investigation, SafetyEvent, Status, Transition

    now = timezone.now()
    events = list(SafetyEvent.objects.select_related("unit"))
    months = {_month(e.occurred_at) for e in events}
    assert len(months) == 25 and max(months) == _month(now) and len(events) > 500
    # the demo's dates make sense: reported after it happened, moved after it was reported
    assert all(e.occurred_at <= e.reported_at <= now for e in events if not e.is_anonymous)
    assert all(e.reference.startswith(f"EV-{e.reported_at.year}-") for e in events)
    moves = {}
    for t in Transition.objects.order_by("at", "pk"):
        moves.setdefault(t.event_id, []).append(t)
    by_pk = {e.pk: e for e in events}
    for event_id, found in moves.items():
        event = by_pk[event_id]
        assert [t.source for t in found[1:]] == [t.target for t in found[:-1]]  # one chain, in time order
        assert event.reported_at <= found[0].at and found[-1].target == event.status
    # states by age: old reports closed, the last days' waiting for triage
    old = [e for e in events if now - e.occurred_at > timedelta(days=120)]
    assert {e.status for e in old} == {Status.CLOSED}
    assert {e.status for e in events if now - e.occurred_at < timedelta(days=2)} <= {Status.SUBMITTED, Status.TRIAGE}
    recent = Counter(e.status for e in events if now - e.occurred_at < timedelta(days=45))
    assert recent[Status.REVIEW] and recent[Status.SUBMITTED] and recent[Status.CLOSED]
    assert all(e.triaged_at for e in events if e.status in (Status.REVIEW, Status.ACTION_PLANNING, Status.CLOSED))
    # the workflow's rule: an event whose triage requires an RCA has a completed analysis with a
    # root cause before it is in action planning or closed
    for event in events:
        if (event.sac_score == 3 or event.is_sentinel) and event.status in (Status.ACTION_PLANNING, Status.CLOSED):
            investigation = Investigation.objects.get(event=event)
            assert investigation.completed_at and investigation.root_causes.exists(), event.reference
            # signed by its lead, then approved by leadership, after it was completed
            assert investigation.completed_at < investigation.signed_at < investigation.approved_at < now
            assert investigation.approved_by.username == "cqo.olivia"
        # a local review's findings are recorded before the event moves on
        if event.review == "local" and event.status in (Status.ACTION_PLANNING, Status.CLOSED) and any(
                t.source == Status.REVIEW for t in moves.get(event.pk, [])):
            assert event.review_findings and event.review_findings_at <= now, event.reference
    sentinel = sorted((e.status, e.category) for e in events if e.is_sentinel)
    assert sentinel == [(Status.CLOSED, "fall"), (Status.INVESTIGATION, "surgery_anaesthesia")]
    fall = next(e for e in events if e.is_sentinel and e.category == "fall")
    actions = Action.objects.filter(unit=fall.unit, source_label=f"RCA for {fall.reference}")
    assert sorted(a.status for a in actions) == ["done", "done"]
    assert {a.effectiveness_result for a in actions} == {"effective"}
    assert all(a.completed_at < fall.closed_at < now for a in actions)
    swab = Investigation.objects.get(event__is_sentinel=True, event__category="surgery_anaesthesia")
    assert swab.completed_at is None and swab.team.count() == 2
    # a reporter's home page is not flooded with two years of updates
    assert Notification.objects.filter(recipient__username="nurse.ana", read_at__isnull=True).count() < 30


def test_the_made_up_ehr_population_gives_the_ecqms_no_case(tmp_path):
    """Why the demo evaluates its eCQMs over their own patients alone (measures/demo.py): the
    synthetic population has nothing they read, so leaving it out changes no case."""
    from datetime import date

    from andon.analytics.cql import run
    from andon.analytics.fhir import ingest, store, synthetic
    from andon.measures import demo as measures_demo

    options = synthetic.Options(80, date(2025, 1, 1), 12, list(measures_demo.WARDS), measures_demo.EMERGENCY[0],
                                seed=2026, readmission_rate=0.1)
    synthetic.write_ndjson(options, tmp_path / "ehr")
    connection = store.connect(tmp_path / "fhir.duckdb")
    try:
        ingest.load_paths(connection, [tmp_path / "ehr"])
        names = sorted(p.name for p in (settings.SHIPPED_ECQM_CONTENT / "measures").glob("*.json"))
        assert len(names) == 6
        for name in names:
            cases, evaluated, errors = run.run_cases(connection, [settings.SHIPPED_ECQM_CONTENT], name.removesuffix(".json"),
                                                     ("2025-01-01", "2025-12-31"), jobs=1)
            assert (cases, evaluated, errors) == ([], 80, []), name
    finally:
        connection.close()


def test_the_shipped_ecqm_evaluations_are_for_the_shipped_measures(db):
    """andon/measures/demo_ecqm_results.json (scripts/demo_ecqm.py) holds the engine's output
    for the shipped eCQM measures at their versions: run the script again when they change (else
    the demo evaluates them, slowly). And a file for other versions is not used."""
    import json

    from andon.measures import demo as measures_demo
    from andon.measures.models import Measure, MeasureResult
    from andon.platform import content
    from andon.platform.demo import SHIPPED_CONTENT

    content.load_content([SHIPPED_CONTENT])
    data = json.loads(measures_demo.ECQM_RESULTS.read_text(encoding="utf-8"))
    ecqms = {m.key: m.version for m in Measure.objects.filter(active=True) if m.source_kind == "ecqm"}
    assert data["measures"] == ecqms and set(data["evaluations"]) == set(ecqms)
    months = {row[5] for found in data["evaluations"].values() for row in found["rows"]}
    # episodes: evaluated once over the window (month 0); each counts in its encounter's month
    assert months <= set(range(24)) and all(found["rows"] for found in data["evaluations"].values())
    first = measures_demo.window()[0]
    restored = measures_demo.restore_ecqm_evaluations(sorted(ecqms), first)
    table, evaluated, errors, measured = restored["vte-prophylaxis"]
    assert table.num_rows == len(data["evaluations"]["vte-prophylaxis"]["rows"]) and not errors
    assert min(table.column("period_at").to_pylist()) == first.isoformat() and measured[0][0] == first
    stale = settings.DATA_DIR / "stale.json"
    stale.write_text(json.dumps({**data, "measures": {**ecqms, "vte-prophylaxis": "1900.1"}}), encoding="utf-8")
    assert measures_demo.restore_ecqm_evaluations(sorted(ecqms), first, stale) is None
    assert not MeasureResult.objects.exists()


def test_on_the_first_morning_of_a_month_the_demo_has_reports_of_it_already():
    first_morning = timezone.make_aware(datetime(2027, 1, 1, 0, 40))
    planned = demo.plan(first_morning)
    months = sorted({_month(p.occurred_at) for p in planned})
    assert (months[-1], len(months)) == ((2027, 1), 25)
    assert all(p.occurred_at <= first_morning for p in planned)
