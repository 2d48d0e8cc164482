"""The demo hospital's clinical audits: a hand-hygiene observation tool (the WHO "5 moments", in our
own words) feeding the library's hand-hygiene measure; one audit of 4 West, closed, with its 20
observed cases answered (10 % audited twice); and its re-audit, in collection, with a sample of 10
drawn from a list of observations, for auditor.mia. Made through the services, with fixed seeds
so that the demo is the same each time."""

import random
from datetime import timedelta

from django.utils import timezone

from andon.platform.models import Unit, User

from . import audits, entry, sampling
from .models import Audit, AuditStage

TOOL_TITLE = "Hand hygiene: the five moments"
MOMENTS = [
    ("Hands are cleaned before touching the patient.",
     "Count each contact with the patient or their clothes; gloves do not replace hand cleaning."),
    ("Hands are cleaned before a clean or aseptic task (a line, a dressing, mouth care, medicines).",
     "Observe the moment just before the task: cleaning at the door does not count if the hands touched "
     "anything since."),
    ("Hands are cleaned after a risk of contact with body fluids, and after taking gloves off.",
     "Includes emptying a urine bag or handling a specimen."),
    ("Hands are cleaned after touching the patient.", "Before leaving the bedside or touching anything else."),
    ("Hands are cleaned after touching the patient's surroundings, without touching the patient.",
     "Bed rails, monitors, the bedside table: any object in the patient zone."),
]
EXCEPTIONS = "Not applicable when the moment did not arise during the observation."


def load_demo_audits() -> None:
    people = {u.username: u for u in User.objects.filter(is_demo=True, username__in=["auditor.mia", "analyst.jo"])}
    ward = Unit.objects.filter(facility__code="rgh", code="4w").select_related("facility__organisation").first()
    if len(people) < 2 or ward is None or Audit.objects.filter(tool__title=TOOL_TITLE).exists():
        return
    mia, jo = people["auditor.mia"], people["analyst.jo"]
    tool = _tool(mia, ward)
    first = _closed_audit(mia, jo, tool, ward)
    _re_audit(mia, tool, ward, first)


def _tool(mia, ward):
    measure = audits.feedable_measures().filter(key="hand-hygiene").first()
    tool = audits.create_tool(
        mia, title=TOOL_TITLE, place={"unit": None, "facility": ward.facility, "organisation": ward.facility.organisation},
        topic="Direct observation of hand hygiene at the five moments of care, on the wards.",
        standard_source="WHO Guidelines on Hand Hygiene in Health Care (2009): the five moments; hospital policy IC-04",
        measure=measure)
    for text, guidance in MOMENTS:
        audits.add_criterion(mia, tool, text=text, target=90, exceptions=EXCEPTIONS, guidance=guidance)
    return tool


def _observations(prefix: str, count: int) -> str:
    return "\n".join(f"{prefix}-{number:03d}\tObservation {number}, 4 West" for number in range(1, count + 1))


def _closed_audit(mia, jo, tool, ward):
    today = timezone.localdate()
    start = today - timedelta(days=120)
    found = audits.plan_audit(
        mia, tool, title="Hand hygiene, 4 West", place={"unit": ward, "facility": ward.facility,
                                                        "organisation": ward.facility.organisation},
        period_start=start, period_end=start + timedelta(days=27), lead=mia, auditors=[mia, jo],
        cohort_kind="list", expected=80, margin=15, confidence=95, double_share=10)
    sampling.draw_sample(mia, found, text=_observations("HH1", 65), seed=20260101)
    sampling.start_collection(mia, found)
    chance = random.Random(7)
    criteria = list(tool.criteria.order_by("number"))
    for case in found.cases.order_by("position"):
        answers = [{"criterion": c.pk, "answer": _answer(chance, 0.78), "note": ""} for c in criteria]
        entry.record_answers(case.auditor, found, case, answers, "first")
        if case.second_auditor_id:
            again = [dict(a, answer=a["answer"] if chance.random() < 0.9 else "not_met") for a in answers]
            entry.record_answers(case.second_auditor, found, case, again, "second")
    # The later stages (analyse, act, closed) are the cycle's (cycle.py); the demo's first audit is
    # simply shown as done, with its dates.
    found.stage, found.analyse_from = AuditStage.CLOSED, start + timedelta(days=40)
    found.act_from, found.closed_on = start + timedelta(days=45), start + timedelta(days=60)
    found.re_audit_due = today
    found.save()
    return found


def _answer(chance, rate: float) -> str:
    roll = chance.random()
    return "met" if roll < rate else "na" if roll > 0.95 else "not_met"


def _re_audit(mia, tool, ward, first):
    today = timezone.localdate()
    found = audits.plan_audit(
        mia, tool, title="Hand hygiene, 4 West: re-audit", place={"unit": ward, "facility": ward.facility,
                                                                  "organisation": ward.facility.organisation},
        period_start=today - timedelta(days=28), period_end=today, lead=mia, auditors=[mia],
        cohort_kind="list", expected=80, margin=15, confidence=90, double_share=0, previous=first)
    sampling.draw_sample(mia, found, text=_observations("HH2", 19), seed=20260401)
    sampling.start_collection(mia, found)
