"""The demo hospital's peer review (made-up): the default scale; a pulmonary embolism on 4 West
(Medicine) referred by the patient safety officer to peer review about a Medicine practitioner,
assigned to the hospitalist peer reviewer dr.yusuf for the browser journey to score and decide;
and an earlier case of the same practitioner, reviewed by dr.yusuf and decided by the committee.

Runs after the practitioners' demo loader (registered before it, in practitioners.connect()):
it uses their "Yusuf Demir, MD" (dr.yusuf, group Riverside Hospitalists) and creates him, and
the reviewed practitioner, when they are absent."""

from datetime import datetime, timedelta

from django.utils import timezone

from andon.platform.models import Organisation, Unit, User

from . import peer_review
from .practitioners import create_practitioner
from .models import PeerReviewCase, Practitioner, PractitionerStatus

SUBJECT = ("Osei", "Amara", "MD", "Medicine Associates")
REVIEWER = ("Demir", "Yusuf", "MD", "Riverside Hospitalists")


def _practitioner(family, given, degree, group, department, creator, account=None) -> Practitioner:
    found = Practitioner.objects.filter(user=account).first() if account else None
    found = found or Practitioner.objects.filter(family_name=family, given_name=given,
                                                 organisation=department.facility.organisation).first()
    if found is None:
        found = create_practitioner(creator, department=department, family_name=family, given_name=given,
                                    degree=degree, group=group, account=account, specialty="Internal medicine")
    return found


def _subject(medicine, creator, reviewer_practitioner) -> Practitioner:
    """A Medicine practitioner dr.yusuf may review: not himself, not of his group."""
    others = Practitioner.objects.filter(department=medicine, status=PractitionerStatus.ACTIVE).exclude(
        pk=reviewer_practitioner.pk)
    if reviewer_practitioner.group:
        others = others.exclude(group=reviewer_practitioner.group)
    return others.filter(family_name=SUBJECT[0]).first() or others.first() or _practitioner(
        *SUBJECT, medicine, creator)


def load() -> None:
    if PeerReviewCase.objects.filter(summary__startswith="[demo]").exists():
        return
    people = {u.username: u for u in User.objects.filter(username__in=[
        "nurse.ana", "pso.hana", "mso.quinn", "dr.yusuf", "prc.zara", "chair.victor"])}
    if len(people) < 6:
        return
    organisation = Organisation.objects.order_by("pk").first()
    peer_review.ensure_scale(organisation)
    medicine = Unit.objects.get(code="medicine", facility__code="rgh")
    yusuf = _practitioner(*REVIEWER, medicine, people["mso.quinn"], account=people["dr.yusuf"])
    subject = _subject(medicine, people["mso.quinn"], yusuf)
    _decided_case(people, subject)
    _event_case(people, subject)


def _decided_case(people, subject) -> None:
    """Two months ago: referred by the chair by hand, reviewed by dr.yusuf, decided at level 2."""
    case = peer_review.refer_by_hand(
        people["chair.victor"], practitioner=subject, encounter_id="demo-encounter-1187",
        occurred_on=timezone.localdate() - timedelta(days=70),
        summary="[demo] Sepsis recognised late on 4 West: antibiotics given 5 hours after the first "
                "qSOFA of 2; the patient recovered after an ICU stay of two days.")
    peer_review.assign_reviewers(people["mso.quinn"], case, [people["dr.yusuf"]])
    peer_review.submit_review(
        people["dr.yusuf"], case, care_level="2", system_level="minor", documentation_issue=True,
        documentation_note="The evening review did not record the lactate.",
        narrative="The diagnosis was reasonable once made; most peers would have repeated the lactate and "
                  "escalated an hour or two earlier. The sepsis screening alert fired but went to a shared inbox.")
    peer_review.decide_case(
        people["prc.zara"], case, outcome="2", system_level="minor",
        committee_note="Care acceptable with minor differences: please repeat lactate at 2 hours when the first "
                       "is raised. The committee has asked for the sepsis alert to reach the responsible doctor.")


def _event_case(people, subject) -> None:
    """A pulmonary embolism on 4 West last week, referred from the safety event and assigned to
    dr.yusuf: waiting for his review."""
    from andon.safety import services as safety

    occurred = timezone.make_aware(datetime.combine(timezone.localdate() - timedelta(days=6),
                                                    datetime.min.time()) + timedelta(hours=14))
    event, _ = safety.submit_report(people["nurse.ana"], safety.Report(
        kind="incident", category="vte", unit_id=Unit.objects.get(code="4w", facility__code="rgh").pk,
        occurred_at=occurred, harm="moderate", details={"type": "pe", "prophylaxis_given": False},
        narrative="Patient admitted with pneumonia developed a pulmonary embolism on day 4; no VTE risk "
                  "assessment on admission and no prophylaxis prescribed.",
        immediate_action="Anticoagulation started; doctor informed.", share_identity=True))
    case = peer_review.refer_from_event(
        people["pso.hana"], event, practitioner=subject,
        summary="[demo] No VTE risk assessment and no prophylaxis prescribed on admission for pneumonia; "
                "pulmonary embolism on day 4 (safety event).")
    peer_review.assign_reviewers(people["mso.quinn"], case, [people["dr.yusuf"]])
