"""Meetings over the API, under the same policy and services as the pages: a committee's meetings,
planning one, a meeting with its agenda, attendance, quorum and decisions, building the agenda
(with the modules' proposals), picking proposals, attendance, holding it, decisions and the
actions they open, and approving the last meeting's minutes."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Schema, Status
from pydantic import Field as PydanticField

from andon.platform import permissions
from andon.platform.api_kit import Body, Id, IsoDate, Moment, NamedRouter, Version, documented, refused
from andon.platform.models import Unit, User
from andon.platform.permissions import requires

from .. import committees, meetings as services
from ..models import Decision

router = NamedRouter("andon_governance_api_meetings_")


class MeetingOut(Schema):
    id: int
    committee_id: int
    reference: str
    starts_at: datetime
    location: str
    period_first: date
    period_last: date
    status: str = PydanticField(description="planned, held, approved (minutes approved), cancelled")
    minutes_approved_at_id: int | None
    minutes_approved_on: date | None
    version: int


class AgendaItemOut(Schema):
    id: int
    position: int
    kind: str
    title: str
    source: str
    count: int | None
    detail: str
    url: str
    notes: str


class AttendanceOut(Schema):
    user_id: int
    presence: str
    voting: bool


class DecisionOut(Schema):
    id: int
    reference: str
    text: str
    agenda_item_id: int | None
    recorded_by_id: int
    recorded_at: datetime


class QuorumOut(Schema):
    present: int
    required: int
    met: bool


class MeetingDetailOut(MeetingOut):
    minutes: str
    agenda: list[AgendaItemOut]
    attendance: list[AttendanceOut]
    quorum: QuorumOut
    decisions: list[DecisionOut]


class ProposalOut(Schema):
    key: str = PydanticField(description="Send it back to add the item to the agenda")
    source: str
    title: str
    count: int
    detail: str
    url: str
    severity: str


class AgendaOut(Schema):
    agenda: list[AgendaItemOut]
    proposals: list[ProposalOut]
    problems: list[str]


class MeetingIn(Body):
    starts_at: Moment
    period_first: IsoDate
    period_last: IsoDate
    location: Annotated[str, PydanticField(max_length=200)] = ""


class MeetingVersionIn(Body):
    version: Version = None


class ProposalsIn(Body):
    keys: Annotated[list[Annotated[str, PydanticField(max_length=400)]], PydanticField(min_length=1, max_length=100)]


class PresenceIn(Body):
    user_id: Id
    presence: Literal["present", "apologies", "absent"]


class AttendanceIn(Body):
    attendance: Annotated[list[PresenceIn], PydanticField(min_length=1, max_length=200)]
    version: Version = None


class MeetingDecisionIn(Body):
    text: Annotated[str, PydanticField(min_length=1, max_length=4000)]
    agenda_item_id: Id | None = None


class DecisionActionIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    unit_id: Id
    owner_id: Id
    due_date: IsoDate
    measure: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    strength: Literal["stronger", "intermediate", "weaker"] = "intermediate"
    description: Annotated[str, PydanticField(max_length=4000)] = ""


class DecisionActionOut(Schema):
    id: int
    title: str
    unit_id: int
    owner_id: int
    due_date: date
    source_label: str


def _detail(meeting):
    """The meeting with its quorum; ninja reads the agenda, attendance and decisions as lists."""
    count = services.quorum(meeting)
    meeting.quorum = {"present": count.present, "required": count.required, "met": count.met}
    return meeting


@router.get("/committees/{committee_id}/meetings", response=documented(list[MeetingOut], not_found=True),
            summary="A committee's meetings, latest first")
@requires("governance.view_own_committees")
def meeting_list(request, committee_id: Id):
    committee = committees.access_committee(request.user, committee_id)
    return list(services.meetings_of(committee)[:500])


@router.post("/committees/{committee_id}/meetings", response=documented(MeetingOut, 201, not_found=True),
             summary="Plan a meeting of the committee (its chair, secretary, or governance.run_meetings)")
@requires("governance.view_own_committees")
def meeting_create(request, committee_id: Id, payload: MeetingIn):
    committee = committees.access_committee(request.user, committee_id, "governance.run_meeting")
    try:
        return Status(201, services.plan_meeting(request.user, committee, **payload.model_dump()))
    except ValidationError as error:
        return refused(error)


@router.get("/meetings/{meeting_id}", response=documented(MeetingDetailOut, not_found=True),
            summary="A meeting: agenda, attendance and quorum, minutes, decisions")
@requires("governance.view_own_committees")
def meeting_read(request, meeting_id: Id):
    return _detail(services.access_meeting(request.user, meeting_id))


@router.post("/meetings/{meeting_id}/agenda", response=documented(AgendaOut, not_found=True, versioned=True),
             summary="Build the agenda (standing items, the last meeting's minutes) and read the modules' proposals")
@requires("governance.view_own_committees")
def agenda_build(request, meeting_id: Id, payload: MeetingVersionIn):
    meeting = services.access_meeting(request.user, meeting_id, "governance.run_meeting")
    try:
        agenda = services.build_agenda(request.user, meeting, payload.version)
    except ValidationError as error:
        return refused(error)
    offered, problems = services.proposals(request.user, meeting)
    return {"agenda": agenda, "proposals": [p.__dict__ for p in offered], "problems": problems}


@router.post("/meetings/{meeting_id}/agenda/proposals", response=documented(list[AgendaItemOut], 201,
                                                                            not_found=True),
             summary="Add proposals (by their key) to the agenda")
@requires("governance.view_own_committees")
def proposals_add(request, meeting_id: Id, payload: ProposalsIn):
    meeting = services.access_meeting(request.user, meeting_id, "governance.run_meeting")
    try:
        return Status(201, services.add_proposals(request.user, meeting, payload.keys))
    except ValidationError as error:
        return refused(error)


@router.put("/meetings/{meeting_id}/attendance", response=documented(QuorumOut, not_found=True, versioned=True),
            summary="Record who was present, sent apologies or was absent; answers the quorum")
@requires("governance.view_own_committees")
def attendance(request, meeting_id: Id, payload: AttendanceIn):
    meeting = services.access_meeting(request.user, meeting_id, "governance.run_meeting")
    people = User.objects.in_bulk([p.user_id for p in payload.attendance])
    missing = [p.user_id for p in payload.attendance if p.user_id not in people]
    if missing:
        return refused(ValidationError({"attendance": f"no person {', '.join(map(str, missing))}"}))
    try:
        count = services.record_attendance(request.user, meeting, {people[p.user_id]: p.presence
                                                                   for p in payload.attendance}, payload.version)
    except ValidationError as error:
        return refused(error)
    return {"present": count.present, "required": count.required, "met": count.met}


@router.post("/meetings/{meeting_id}/held", response=documented(MeetingOut, not_found=True, versioned=True),
             summary="Record that the meeting took place (its minutes are then in draft)")
@requires("governance.view_own_committees")
def held(request, meeting_id: Id, payload: MeetingVersionIn):
    meeting = services.access_meeting(request.user, meeting_id, "governance.run_meeting")
    try:
        return services.mark_held(request.user, meeting, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/meetings/{meeting_id}/approve-last-minutes",
             response=documented(MeetingOut, not_found=True, versioned=True),
             summary="At this (held, quorate) meeting, approve the minutes of the committee's last meeting; "
                     "answers the last meeting")
@requires("governance.view_own_committees")
def approve_last_minutes(request, meeting_id: Id, payload: MeetingVersionIn):
    meeting = services.access_meeting(request.user, meeting_id, "governance.run_meeting")
    try:
        return services.approve_previous_minutes(request.user, meeting, payload.version)
    except ValidationError as error:
        return refused(error)


@router.get("/meetings/{meeting_id}/decisions", response=documented(list[DecisionOut], not_found=True),
            summary="The meeting's decisions")
@requires("governance.view_own_committees")
def decision_list(request, meeting_id: Id):
    return list(services.access_meeting(request.user, meeting_id).decisions.all())


@router.post("/meetings/{meeting_id}/decisions", response=documented(DecisionOut, 201, not_found=True),
             summary="Record a decision (refused while the quorum is not met)")
@requires("governance.view_own_committees")
def decision_create(request, meeting_id: Id, payload: MeetingDecisionIn):
    meeting = services.access_meeting(request.user, meeting_id, "governance.run_meeting")
    item = None
    if payload.agenda_item_id is not None:
        item = meeting.agenda.filter(pk=payload.agenda_item_id).first()
        if item is None:
            return refused(ValidationError({"agenda_item_id": "not an item of this meeting's agenda"}))
    try:
        return Status(201, services.record_decision(request.user, meeting, payload.text, item))
    except ValidationError as error:
        return refused(error)


@router.post("/decisions/{decision_id}/actions", response=documented(DecisionActionOut, 201, not_found=True),
             summary="Open an action in the shared tracker from a decision (actions.manage over its unit)")
@requires("governance.view_own_committees")
def decision_action(request, decision_id: Id, payload: DecisionActionIn):
    decision = get_object_or_404(Decision.objects.select_related("meeting__committee"), pk=decision_id)
    permissions.check(request.user, "governance.run_meeting", decision.meeting)
    unit = Unit.objects.filter(pk=payload.unit_id).first()
    owner = User.objects.filter(pk=payload.owner_id, is_active=True).first()
    if unit is None or owner is None:
        field = "unit_id" if unit is None else "owner_id"
        return refused(ValidationError({field: f"no {'unit' if unit is None else 'active person'} "
                                               f"{getattr(payload, field)}"}))
    fields = payload.model_dump(exclude={"owner_id", "unit_id"})
    try:
        return Status(201, services.open_decision_action(request.user, decision, unit=unit, owner=owner, **fields))
    except ValidationError as error:
        return refused(error)
