"""The demo hospital's grievance letters and committee work, on the intake's demo grievances (its
loader runs first): of the open grievances, the oldest has had its interim letter sent, the next
is resolved with an approved resolution letter, and a third is escalated to the grievance committee,
which upheld it in part and opened an action for the unit manager. Nothing happens without
grievances or the demo's people, and nothing twice (a refreshed demo keeps its letters)."""

from datetime import timedelta

from django.utils import timezone

from andon.platform.models import User

from . import committee, letters
from .models import ComplaintKind, Escalation, Grievance, GrievanceStatus, Letter


def _person(username: str):
    return User.objects.filter(username=username, is_active=True).first()


def load() -> None:
    pablo, grace, fatima = _person("pr.pablo"), _person("gc.grace"), _person("mgr.fatima")
    if pablo is None or Letter.objects.exists() or Escalation.objects.exists():
        return
    candidates = list(Grievance.objects.filter(status=GrievanceStatus.OPEN, kind=ComplaintKind.GRIEVANCE,
                                               unit__isnull=False).order_by("received_at", "pk")[:3])
    today = timezone.localdate()
    if candidates:
        _interim_sent(pablo, candidates[0], today)
    if len(candidates) > 1:
        _resolved(pablo, candidates[1], today)
    if len(candidates) > 2 and grace is not None:
        _escalated(pablo, grace, fatima, candidates[2], today)


def _interim_sent(pablo, grievance: Grievance, today) -> None:
    letter = letters.draft_letter(pablo, grievance, "interim")
    letters.edit_letter(pablo, letter, promised_on=today + timedelta(days=14))
    letters.approve_letter(pablo, letter)
    letters.send_letter(pablo, letter, "post", today)


def _resolved(pablo, grievance: Grievance, today) -> None:
    letter = letters.draft_letter(pablo, grievance, "resolution")
    letters.edit_letter(
        pablo, letter, contact_person="Pablo Reyes, Patient Relations, (555) 010-2200",
        investigation_steps="We read the care record, spoke with the nurses on duty and the charge nurse, and met "
                            "the ward manager.",
        results="Your concern was upheld: the call bell was answered late on two nights. The ward now checks call "
                "bell response times at each handover, and the staff involved have had feedback.",
        completed_on=today)
    letters.approve_letter(pablo, letter)
    letters.send_letter(pablo, letter, "email", today)


def _escalated(pablo, grace, fatima, grievance: Grievance, today) -> None:
    escalation = committee.escalate_grievance(
        pablo, grievance, "The family disputes the ward's account and asks for an independent review.")
    committee.decide_escalation(grace, escalation, "partly_upheld",
                                "Discharge information was not given in writing; the clinical care was appropriate.",
                                review="The care record, the ward's statement and the family's letter.")
    owner = fatima or grace
    committee.open_committee_action(
        grace, escalation, title="Written discharge information for every patient", owner=owner,
        due_date=today + timedelta(days=45), measure="Monthly audit of 20 discharges: written information given",
        description="From the grievance committee's decision on " + grievance.reference)
