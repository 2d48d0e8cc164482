"""Peer review over the API: referral (by hand, from a safety event), the cases (their readers
only, each read audited), assignment, the reviewer's review and conflict, the committee's
decision and the feedback letter, the counts by outcome; under the same policy and services as
the pages."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils import timezone
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Flag, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.models import User
from andon.platform.permissions import can, requires
from andon.safety import services as safety

from .. import peer_review
from ..models import Practitioner

router = NamedRouter("andon_medstaff_api_peer_review_")

Summary = Annotated[str, PydanticField(min_length=1, max_length=peer_review.SUMMARY_LIMIT)]
Code = Annotated[str, PydanticField(min_length=1, max_length=20)]
Note = Annotated[str, PydanticField(max_length=peer_review.NOTE_LIMIT)]
FhirId = Annotated[str, PydanticField(max_length=64)]


class PeerCaseOut(Schema):
    id: int
    reference: str
    practitioner_id: int
    department_id: int
    source: str
    safety_event_id: int | None
    trigger_rule: str
    encounter_id: str
    patient_id: str
    occurred_on: date | None
    summary: str
    status: str
    outcome: str
    system_level: str
    committee_note: str
    decided_on: date | None
    fppe_reference: str
    action_id: int | None
    referred_at: datetime
    version: int

    @staticmethod
    def resolve_department_id(case):
        return case.practitioner.department_id


class ReferralOut(Schema):
    """What a referrer learns: the reference and the day, nothing of the review."""
    reference: str
    referred_on: date


class AssignmentOut(Schema):
    id: int
    reviewer_id: int
    assigned_at: datetime
    conflict_declared: bool

    @staticmethod
    def resolve_conflict_declared(assignment):
        return assignment.conflict_declared_at is not None


class ReviewOut(Schema):
    reviewer_id: int
    care_level: str
    system_level: str
    documentation_issue: bool
    documentation_note: str
    communication_issue: bool
    communication_note: str
    narrative: str
    submitted_at: datetime

    @staticmethod
    def resolve_reviewer_id(review):
        return review.assignment.reviewer_id


class PeerReviewCountOut(Schema):
    department: str
    outcome: str
    status: str
    cases: int


class ReferIn(Body):
    practitioner_id: Id
    summary: Summary
    encounter_id: FhirId = ""
    patient_id: FhirId = ""
    occurred_on: IsoDate | None = None


class ReferEventIn(Body):
    practitioner_id: Id
    summary: Summary


class PeerAssignIn(Body):
    reviewer_ids: list[Id] = PydanticField(min_length=1, max_length=20)
    version: Version = None


class ReviewIn(Body):
    care_level: Code
    system_level: Code
    documentation_issue: Flag = False
    documentation_note: Note = ""
    communication_issue: Flag = False
    communication_note: Note = ""
    narrative: Annotated[str, PydanticField(min_length=1, max_length=peer_review.NARRATIVE_LIMIT)]


class ConflictIn(Body):
    note: Annotated[str, PydanticField(min_length=1, max_length=peer_review.NOTE_LIMIT)]


class SystemActionIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    owner_id: Id
    due_date: IsoDate
    strength: Literal["stronger", "intermediate", "weaker"] = "intermediate"


class DecideIn(Body):
    outcome: Code
    system_level: Code
    committee_note: Summary
    start_fppe: Flag = False
    system_action: SystemActionIn | None = None
    version: Version = None


def _practitioner(pk) -> Practitioner:
    found = Practitioner.objects.select_related("department__facility", "organisation").filter(pk=pk).first()
    if found is None:
        raise ValidationError({"practitioner_id": f"no practitioner {pk}"})
    return found


@router.get("/peer-review/cases", response=documented(list[PeerCaseOut]),
            summary="Peer review cases the caller reads (the committee, the office, a case's reviewers)")
@requires("medstaff.use_peer_review")
@paginate(Pages)
def list_cases(request):
    return peer_review.visible_cases(request.user).order_by("-referred_at", "-pk")


@router.post("/peer-review/cases", response=documented(ReferralOut, 201),
             summary="Refer a practitioner's care to peer review by hand (PR-<year>-NNN)")
@requires("medstaff.refer_peer_review")
def refer(request, payload: ReferIn):
    try:
        case = peer_review.refer_by_hand(request.user, practitioner=_practitioner(payload.practitioner_id),
                                         summary=payload.summary, encounter_id=payload.encounter_id,
                                         patient_id=payload.patient_id, occurred_on=payload.occurred_on)
    except ValidationError as error:
        return refused(error)
    return Status(201, {"reference": case.reference, "referred_on": timezone.localtime(case.referred_at).date()})


@router.post("/peer-review/from-event/{event_id}", response=documented(ReferralOut, 201, not_found=True),
             summary="Refer a practitioner's care in a safety event the caller reads to peer review")
@requires("medstaff.refer_peer_review")
def refer_event(request, event_id: Id, payload: ReferEventIn):
    event = safety.access_event(request.user, event_id)
    try:
        case = peer_review.refer_from_event(request.user, event, practitioner=_practitioner(payload.practitioner_id),
                                            summary=payload.summary)
    except ValidationError as error:
        return refused(error)
    return Status(201, {"reference": case.reference, "referred_on": timezone.localtime(case.referred_at).date()})


@router.get("/peer-review/cases/{case_id}", response=documented(PeerCaseOut, not_found=True),
            summary="One peer review case (its reading is recorded)")
@requires("medstaff.view_peer_case")
def get_case(request, case_id: Id):
    return peer_review.access_case(request.user, case_id)


@router.get("/peer-review/cases/{case_id}/reviews", response=documented(list[ReviewOut], not_found=True),
            summary="A case's reviews: all for the committee and the office, one's own for a reviewer")
@requires("medstaff.view_peer_case")
def get_reviews(request, case_id: Id):
    case = peer_review.access_case(request.user, case_id, reason="reading the reviews")
    reviews = peer_review.reviews_of(case)
    if can(request.user, "medstaff.view_peer_review", case):
        return reviews
    return [review for review in reviews if review.assignment.reviewer_id == request.user.pk]


@router.post("/peer-review/cases/{case_id}/assignments", response=documented(list[AssignmentOut], 201,
                                                                              not_found=True, versioned=True),
             summary="Assign reviewers (a conflict of interest is refused by name)")
@requires("medstaff.assign_peer_review")
def assign(request, case_id: Id, payload: PeerAssignIn):
    case = peer_review.access_case(request.user, case_id, "medstaff.assign_peer_review", reason="assigning")
    people = {person.pk: person for person in User.objects.filter(pk__in=payload.reviewer_ids, is_active=True)}
    missing = [pk for pk in payload.reviewer_ids if pk not in people]
    if missing:
        return refused(ValidationError({"reviewer_ids": f"no active person {missing[0]}"}))
    try:
        made = peer_review.assign_reviewers(request.user, case, [people[pk] for pk in payload.reviewer_ids],
                                            payload.version)
    except ValidationError as error:
        return refused(error)
    return Status(201, made)


@router.post("/peer-review/cases/{case_id}/review", response=documented(ReviewOut, not_found=True),
             summary="The assigned reviewer's structured review (replaces theirs until the decision)")
@requires("medstaff.review_peer_case")
def review(request, case_id: Id, payload: ReviewIn):
    case = peer_review.access_case(request.user, case_id, "medstaff.review_peer_case", reason="reviewing")
    try:
        return peer_review.submit_review(request.user, case, **payload.model_dump())
    except ValidationError as error:
        return refused(error)


@router.post("/peer-review/cases/{case_id}/conflict", response=documented(AssignmentOut, not_found=True),
             summary="The assigned reviewer declares a conflict of interest and withdraws")
@requires("medstaff.review_peer_case")
def conflict(request, case_id: Id, payload: ConflictIn):
    case = peer_review.access_case(request.user, case_id, "medstaff.review_peer_case", reason="declaring a conflict")
    try:
        return peer_review.declare_conflict(request.user, case, payload.note)
    except ValidationError as error:
        return refused(error)


@router.post("/peer-review/cases/{case_id}/decision", response=documented(PeerCaseOut, not_found=True, versioned=True),
             summary="The committee's decision: outcome, system level, words to the practitioner, FPPE, action")
@requires("medstaff.decide_peer_review")
def decide(request, case_id: Id, payload: DecideIn):
    case = peer_review.access_case(request.user, case_id, "medstaff.decide_peer_review", reason="deciding")
    wanted = None
    if payload.system_action is not None:
        owner = User.objects.filter(pk=payload.system_action.owner_id, is_active=True).first()
        if owner is None:
            return refused(ValidationError({"system_action": f"no active person {payload.system_action.owner_id}"}))
        wanted = {**payload.system_action.model_dump(exclude={"owner_id"}), "owner": owner}
    try:
        return peer_review.decide_case(request.user, case, outcome=payload.outcome, system_level=payload.system_level,
                                       committee_note=payload.committee_note, system_action=wanted,
                                       start_fppe=payload.start_fppe, version=payload.version)
    except ValidationError as error:
        return refused(error)


@router.get("/peer-review/cases/{case_id}/letter", response=documented(bytes, not_found=True),
            summary="The feedback letter of a decided case as a PDF (the practitioner's, the committee's, "
                    "the office's)")
@requires("medstaff.read_peer_letter")
def letter(request, case_id: Id):
    case = peer_review.access_case(request.user, case_id, "medstaff.read_peer_letter", reason="the feedback letter")
    try:
        body = peer_review.feedback_letter_pdf(case)
    except ValidationError as error:
        return refused(error)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{case.reference}-feedback.pdf"'
    return response


@router.get("/peer-review/counts", response=documented(list[PeerReviewCountOut]),
            summary="Cases by department, outcome and status: aggregates, no case, no name")
@requires("medstaff.view_peer_review_aggregates")
def counts(request):
    return peer_review.aggregates(request.user)
