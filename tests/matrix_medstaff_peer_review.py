"""The permission matrix's rows for peer review (andon/medstaff/peer_review.py): confidential under
the state peer-review statutes. A case is read by the peer review committee and the medical staff
office, and by its assigned reviewers (an object rule: OBJECT_CASES); a peer reviewer not assigned
is refused; the patient safety officer who refers a case, unit managers, the CMO, HR and the board
are refused the case, and the board, the CMO and the CQO read the counts only."""

from datetime import timedelta

from django.utils import timezone

from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case

ALL = frozenset(Role)
READERS = frozenset({Role.PEER_REVIEW_COMMITTEE, Role.MEDICAL_STAFF_OFFICE})
REFERRERS = frozenset({Role.PATIENT_SAFETY_OFFICER, Role.MEDICAL_STAFF_OFFICE, Role.DEPARTMENT_CHAIR, Role.CMO,
                       Role.PEER_REVIEW_COMMITTEE})
# Referring from an event needs the event too: of the referrers, those who read safety events.
EVENT_REFERRERS = frozenset({Role.PATIENT_SAFETY_OFFICER, Role.CMO})
COMMITTEE = frozenset({Role.PEER_REVIEW_COMMITTEE})
COUNTERS = frozenset({Role.PEER_REVIEW_COMMITTEE, Role.MEDICAL_STAFF_OFFICE, Role.CMO, Role.CQO, Role.BOARD_MEMBER})
OFFICE = frozenset({Role.MEDICAL_STAFF_OFFICE})
API = "/api/v1/medstaff/peer-review"


def _office():
    from andon.platform import services
    from andon.platform.models import User

    office = User.objects.filter(username="matrix-pr-office").first()
    if office is None:
        from andon.platform.models import Organisation

        office = services.create_user("matrix-pr-office", email="matrix-pr-office@example.org")
        services.grant_role(office, Role.MEDICAL_STAFF_OFFICE, Organisation.objects.get())
    return office


def _subject():
    """A Medicine practitioner of the matrix's hospital, whose care is reviewed."""
    from andon.medstaff.models import Practitioner
    from andon.medstaff.practitioners import create_practitioner
    from andon.platform.models import Unit

    found = Practitioner.objects.filter(family_name="Matrix").first()
    return found or create_practitioner(_office(), department=Unit.objects.get(code="medicine", facility__code="rgh"),
                                        family_name="Matrix", given_name="Pat", degree="MD", group="Matrix group")


def _reviewer():
    from andon.platform import services
    from andon.platform.models import Unit, User

    found = User.objects.filter(username="matrix-pr-reviewer").first()
    if found is None:
        found = services.create_user("matrix-pr-reviewer", email="matrix-pr-reviewer@example.org")
        services.grant_role(found, Role.PEER_REVIEWER, Unit.objects.get(code="medicine", facility__code="rgh"))
    return found


def _case(stage="referred", assign=None, practitioner_user=None):
    """A case at `stage` (referred, reviewed, decided); `assign`: also assigned to this person
    (the object rule's fact, whatever their role)."""
    from andon.medstaff import peer_review
    from andon.medstaff.models import PeerReviewAssignment

    office, subject = _office(), _subject()
    if practitioner_user is not None:
        subject.user = practitioner_user
        subject.save(update_fields=["user"])
    case = peer_review.refer_by_hand(office, practitioner=subject, summary="Matrix case")
    if stage in ("reviewed", "decided"):
        peer_review.assign_reviewers(office, case, [_reviewer()])
        peer_review.submit_review(_reviewer(), case, care_level="2", system_level="none", narrative="Matrix review")
    if stage == "decided":
        from andon.platform.models import User

        committee = User.objects.filter(username="matrix-pr-committee").first()
        if committee is None:
            from andon.platform import services
            from andon.platform.models import Organisation

            committee = services.create_user("matrix-pr-committee", email="matrix-pr-committee@example.org")
            services.grant_role(committee, Role.PEER_REVIEW_COMMITTEE, Organisation.objects.get())
        peer_review.decide_case(committee, case, outcome="2", system_level="none", committee_note="Matrix words")
    if assign is not None:
        PeerReviewAssignment.objects.create(case=case, reviewer=assign, assigned_by=office)
    case.refresh_from_db()
    return case


def a_case(stage="referred"):
    return lambda user, other: ([_case(stage).pk], {})


def an_assigned_case(user, other):
    return [_case(assign=user).pk], {}


def own_decided_case(user, other):
    return [_case("decided", practitioner_user=user).pk], {}


def an_event(user, other):
    from andon.platform.models import Unit
    from andon.safety import services as safety

    event, _ = safety.submit_report(other, safety.Report(
        kind="incident", category="fall", unit_id=Unit.objects.get(code="4w").pk,
        occurred_at=timezone.now() - timedelta(hours=2), narrative="Found on the floor.", harm="none",
        details={"injury_level": "none"}))
    return [event.pk], {"practitioner": _subject().pk, "summary": "Matrix referral"}


def _assign_data(user, other):
    case = _case()
    return [case.pk], {"reviewers": [_reviewer().pk], "version": case.version}


def _decide_data(user, other):
    case = _case("reviewed")
    return [case.pk], {"version": case.version, "outcome": "1", "system_level": "none", "committee_note": "Words"}


REVIEW = {"care_level": "1", "system_level": "none", "narrative": "Matrix narrative"}

PAGES = {
    # The readers, and the peer reviewers, who find there the cases assigned to them.
    "medstaff:peer_review_list": Case(READERS | {Role.PEER_REVIEWER}),
    "medstaff:peer_review_refer": Case(REFERRERS),
    "medstaff:peer_review_counts": Case(COUNTERS),
    "medstaff:peer_review_scale": Case(OFFICE),
    "medstaff:peer_review_misses": Case(READERS),
    "medstaff:peer_review_refer_event": Case(EVENT_REFERRERS, method="post", setup=an_event),
    "medstaff:peer_review_case": Case(READERS, setup=a_case()),
    "medstaff:peer_review_assign": Case(READERS, method="post", setup=_assign_data),
    # Reviewing is the assigned reviewer's alone (OBJECT_CASES): a peer reviewer not assigned is refused.
    "medstaff:peer_review_review": Case(frozenset(), method="post", setup=a_case(), data=REVIEW),
    "medstaff:peer_review_conflict": Case(frozenset(), method="post", setup=a_case(), data={"note": "A conflict"}),
    "medstaff:peer_review_decide": Case(COMMITTEE, method="post", setup=_decide_data),
    "medstaff:peer_review_letter": Case(READERS, setup=a_case("decided")),
}
OBJECT_CASES = {
    # The assigned reviewer reads and reviews their case, or withdraws from it, whatever their role.
    "medstaff:peer_review_case (assigned)": ("medstaff:peer_review_case", Case(ALL, setup=an_assigned_case)),
    "medstaff:peer_review_review (assigned)": ("medstaff:peer_review_review", Case(
        ALL, method="post", setup=an_assigned_case, data=REVIEW)),
    "medstaff:peer_review_conflict (assigned)": ("medstaff:peer_review_conflict", Case(
        ALL, method="post", setup=an_assigned_case, data={"note": "A conflict"})),
    # The practitioner reads the feedback letter of their own decided case.
    "medstaff:peer_review_letter (the practitioner)": ("medstaff:peer_review_letter", Case(
        ALL, setup=own_decided_case)),
}


def _api_case(stage="referred", assign=False, own=False):
    def setup(user, other, hospital):
        return {"case_id": _case(stage, assign=user if assign else None,
                                 practitioner_user=user if own else None).pk}
    return setup


def _api_event(user, other, hospital):
    return {"event_id": an_event(user, other)[0][0]}


API = {
    ("GET", API + "/cases"): ApiCase(READERS | {Role.PEER_REVIEWER}),
    ("POST", API + "/cases"): ApiCase(REFERRERS, body=lambda hospital: {
        "practitioner_id": _subject().pk, "summary": "Matrix referral"}),
    ("POST", API + "/from-event/{event_id}"): ApiCase(EVENT_REFERRERS, setup=_api_event, body=lambda hospital: {
        "practitioner_id": _subject().pk, "summary": "Matrix referral"}),
    ("GET", API + "/cases/{case_id}"): ApiCase(READERS, setup=_api_case()),
    ("GET", API + "/cases/{case_id}/reviews"): ApiCase(READERS, setup=_api_case("reviewed")),
    ("POST", API + "/cases/{case_id}/assignments"): ApiCase(READERS, setup=_api_case(), body=lambda hospital: {
        "reviewer_ids": [_reviewer().pk]}),
    # The rule is the assignment: each caller is assigned the case first (pages: the unassigned refused).
    ("POST", API + "/cases/{case_id}/review"): ApiCase(ALL, setup=_api_case(assign=True), body=REVIEW),
    ("POST", API + "/cases/{case_id}/conflict"): ApiCase(ALL, setup=_api_case(assign=True),
                                                         body={"note": "A conflict"}),
    ("POST", API + "/cases/{case_id}/decision"): ApiCase(COMMITTEE, setup=_api_case("reviewed"), body={
        "outcome": "1", "system_level": "none", "committee_note": "Words"}),
    ("GET", API + "/cases/{case_id}/letter"): ApiCase(READERS, setup=_api_case("decided")),
    ("GET", API + "/counts"): ApiCase(COUNTERS),
}
