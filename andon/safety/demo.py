"""Made-up safety events for the demo hospital, so that every page has something to show:
reports in every state, an RCA with actions, feedback to reporters. Loaded once."""

import random
from datetime import timedelta

from django.utils import timezone

from andon.platform.models import Unit, User

from . import rca, services
from .models import Review, SafetyEvent

NARRATIVES = {
    "fall": "Patient found on the floor beside the bed at night; call bell out of reach.",
    "medication": "Wrong dose of enoxaparin drawn up; noticed at the bedside check.",
    "pressure_injury": "Stage 2 pressure injury on the sacrum found at the morning skin check.",
    "device": "Infusion pump alarm silenced and not reset; occlusion missed for an hour.",
    "other": "Wet floor in the corridor outside the ward without a sign.",
}
DETAILS = {
    "fall": {"injury_level": "minor", "assisted": "no"},
    "medication": {"ncc_merp": "B", "process_stage": "administering"},
    "pressure_injury": {"stage": "2", "present_on_admission": "no"},
    "device": {"device": "Volumetric infusion pump", "health_it": "no", "problem": "use_error"},
    "other": {},
}


def load_demo_events() -> None:
    if SafetyEvent.objects.exists():
        return
    people = {u.username: u for u in User.objects.filter(is_demo=True)}
    if "pso.hana" not in people:
        return
    chance = random.Random(2026)
    reporters = [people[n] for n in ("nurse.ana", "nurse.ben", "nurse.chloe", "pharm.dev", "dr.evans")]
    units = {u.code: u for u in Unit.objects.filter(facility__code="rgh")}
    now = timezone.now()
    events = []
    for i in range(24):
        category = chance.choice(list(NARRATIVES))
        kind = "incident" if category in ("fall", "pressure_injury") else chance.choice(["near_miss", "incident"])
        report = services.Report(
            kind=kind, category=category, unit_id=units[chance.choice(["4w", "5e", "icu", "6n", "ed"])].pk,
            occurred_at=now - timedelta(days=60 - i * 2, hours=chance.randint(0, 20)),
            narrative=NARRATIVES[category], harm="mild" if kind == "incident" else "",
            details=DETAILS[category], anonymous=i % 7 == 3, share_identity=i % 5 == 0 and i % 7 != 3)
        events.append(services.submit_report(reporters[i % len(reporters)], report)[0])
    officer = people["pso.hana"]
    for event in events[:12]:
        review = Review.NONE if event.kind == "near_miss" else Review.LOCAL
        event = services.triage(officer, event, services.Triage(
            category=event.category, harm=event.harm, sac_severity="minor", sac_probability="occasional",
            sentinel=False, review=review, reason="Weekly triage"))
        if review == Review.LOCAL:  # the review is done before actions are planned
            event = services.record_review_findings(officer, event, "Reviewed with the unit at the weekly huddle: "
                                                                    "the checks were not done at handover.")
        services.move(officer, event, "close" if review == Review.NONE else "plan_actions", "Reviewed",
                      closing_summary="Thank you for reporting. The team has changed the process.")
    _demo_rca(officer, events[12], people)


def _demo_rca(officer, event, people) -> None:
    event = services.triage(officer, event, services.Triage(
        category=event.category, harm=event.harm or "", sac_severity="major", sac_probability="frequent",
        sentinel=False, review=Review.RCA, reason="SAC 3: individual RCA required"))
    investigation = rca.start_investigation(officer, event)
    rca.add_fact(officer, investigation, event.occurred_at, "The event was found at the next check.")
    rca.add_why_chain(officer, investigation, "Why was it not caught earlier?",
                      ["Checks were missed", "Staffing was short", "Two admissions at once"])
    rca.add_factor(officer, investigation, "fatigue", "Two nurses for 28 beds on nights")
    rca.add_factor(officer, investigation, "communication", "Risk not passed on at handover")
    rca.add_root_cause(officer, investigation,
                       "Handover without a structured risk check led to missed checks, so the event was found late.")
    due = timezone.localdate() + timedelta(days=30)
    services.add_rca_action(officer, investigation, title="Structured handover with a risk checklist",
                            owner=people["mgr.fatima"], due_date=due, strength="intermediate",
                            measure="Handover audit: risk section completed in 95% of handovers")
