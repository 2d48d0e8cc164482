"""The root cause analysis over the REST API (under /api/v1/safety/events/{id}/investigation):
read an event's RCA, start it, add its team, facts, 5-whys chains, factors, root causes, related
events and actions, and complete it. Reads go through `rca.access_investigation` (checked and
audited as on the RCA page); every change through the RCA services.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, Moment, NamedRouter, documented, refused
from andon.platform.models import User
from andon.platform.permissions import requires

from .. import rca, services
from ..models import Investigation, SafetyEvent, TeamMember
from .events import EventSummaryOut, event_summary


# Named as when these handlers were in api_rca.py: operation ids are part of the published API.
router = NamedRouter("andon_safety_api_rca_")


class TeamMemberOut(Schema):
    person_id: int
    name: str
    part: str
    part_label: str


class FactOut(Schema):
    id: int
    at: datetime
    fact: str


class WhyChainOut(Schema):
    id: int
    problem: str
    whys: list[str]


class FactorOut(Schema):
    id: int
    category: str
    category_label: str
    description: str


class BoneOut(Schema):
    code: str
    label: str
    factors: list[str]


class RootCauseOut(Schema):
    id: int
    statement: str


class RelatedEventOut(Schema):
    id: int
    reference: str | None


class RcaActionOut(Schema):
    id: int
    title: str
    owner_id: int
    owner: str
    due_date: date
    strength: str
    measure: str
    status: str
    approval: str


class InvestigationOut(Schema):
    event_id: int
    reference: str
    event_status: str
    started_at: datetime
    completed_at: datetime | None
    start_due: datetime | None
    complete_due: datetime | None
    team: list[TeamMemberOut]
    timeline: list[FactOut]
    why_chains: list[WhyChainOut]
    factors: list[FactorOut]
    fishbone: list[BoneOut]
    root_causes: list[RootCauseOut]
    related_events: list[RelatedEventOut]
    actions: list[RcaActionOut]
    strong_share_percent: int | None = PydanticField(
        description="Share of the actions (not cancelled) that are stronger or intermediate (RCA²), in percent")


class TeamMemberIn(Body):
    person_id: Id
    part: Literal[tuple(TeamMember.Part.values)]  # type: ignore[valid-type]


class FactIn(Body):
    at: Moment
    fact: Annotated[str, PydanticField(min_length=1, max_length=2000)]


class WhyChainIn(Body):
    problem: Annotated[str, PydanticField(min_length=1, max_length=1000)]
    whys: Annotated[list[Annotated[str, PydanticField(max_length=500)]],
                    PydanticField(min_length=1, max_length=rca.MAX_WHYS)]


class FactorIn(Body):
    category: Annotated[str, PydanticField(min_length=1, max_length=40)]
    description: Annotated[str, PydanticField(min_length=1, max_length=1000)]


class RootCauseIn(Body):
    statement: Annotated[str, PydanticField(min_length=1, max_length=2000)]


class RelatedEventIn(Body):
    event_id: Id


class RcaActionIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    description: Annotated[str, PydanticField(max_length=4000)] = ""
    owner_id: Id
    due_date: IsoDate
    strength: Literal["stronger", "intermediate", "weaker"]
    measure: Annotated[str, PydanticField(min_length=1, max_length=2000)]


class CompleteIn(Body):
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]


def _rca_action(action) -> dict:
    return {"id": action.pk, "title": action.title, "owner_id": action.owner_id, "owner": str(action.owner),
            "due_date": action.due_date, "strength": action.strength, "measure": action.measure,
            "status": action.status, "approval": action.approval}


def _investigation_out(investigation: Investigation) -> dict:
    event = investigation.event
    bones = rca.fishbone(investigation)
    labels = {bone["code"]: bone["label"] for bone in bones}
    actions = services.actions_for_investigation(investigation)
    return {
        "event_id": event.pk, "reference": event.reference, "event_status": event.status,
        "started_at": investigation.started_at, "completed_at": investigation.completed_at,
        "start_due": event.rca_start_due, "complete_due": event.rca_complete_due,
        "team": [{"person_id": m.person_id, "name": str(m.person), "part": m.part, "part_label": m.get_part_display()}
                 for m in investigation.team.select_related("person").order_by("pk")],
        "timeline": [{"id": f.pk, "at": f.at, "fact": f.fact} for f in investigation.timeline.all()],
        "why_chains": [{"id": c.pk, "problem": c.problem, "whys": c.whys} for c in investigation.why_chains.all()],
        "factors": [{"id": f.pk, "category": f.category, "category_label": labels.get(f.category, f.category),
                     "description": f.description} for f in investigation.factors.all()],
        "fishbone": bones,
        "root_causes": [{"id": c.pk, "statement": c.statement} for c in investigation.root_causes.all()],
        "related_events": [{"id": e.pk, "reference": e.reference} for e in investigation.related_events.order_by("pk")],
        "actions": [_rca_action(a) for a in actions["items"]],
        "strong_share_percent": actions["strong_share_percent"],
    }


@router.get("/events/{event_id}/investigation", response=documented(InvestigationOut, not_found=True),
            summary="The event's root cause analysis (the read is audited)")
@requires("safety.report")
def investigation(request, event_id: Id):
    return _investigation_out(rca.access_investigation(request.user, event_id))


@router.post("/events/{event_id}/investigation",
             response={**documented(InvestigationOut, 201, not_found=True), 200: InvestigationOut},
             summary="Start the root cause analysis of an event sent to investigation (201; 200 if already started)")
@requires("safety.investigate")
def start_investigation(request, event_id: Id):
    event = services.access_event(request.user, event_id)
    services.open_event(request.user, event, reason="started the root cause analysis")
    existed = Investigation.objects.filter(event=event).exists()
    try:
        started = rca.start_investigation(request.user, event)
    except ValidationError as error:
        return refused(error)
    return Status(200 if existed else 201, _investigation_out(started))


@router.get("/events/{event_id}/investigation/similar", response=documented(list[EventSummaryOut], not_found=True),
            summary="Events of the same category and hospital within 180 days, that the caller may open")
@requires("safety.report")
def similar_events(request, event_id: Id):
    found = rca.access_investigation(request.user, event_id)
    return [event_summary(event) for event in rca.similar_events(request.user, found.event)]


@router.post("/events/{event_id}/investigation/team", response=documented(TeamMemberOut, 201, not_found=True),
             summary="Add a person to the analysis team (or change their part)")
@requires("safety.investigate")
def add_team_member(request, event_id: Id, payload: TeamMemberIn):
    found = rca.access_investigation(request.user, event_id)
    person = User.objects.filter(pk=payload.person_id).first()
    try:
        if person is None:
            raise ValidationError({"person": "No member of staff has this id."})
        member = rca.add_team_member(request.user, found, person, payload.part)
    except ValidationError as error:
        return refused(error)
    return Status(201, {"person_id": person.pk, "name": str(person), "part": member.part,
                        "part_label": member.get_part_display()})


@router.post("/events/{event_id}/investigation/timeline", response=documented(FactOut, 201, not_found=True),
             summary="Add a fact to the timeline")
@requires("safety.report")
def add_fact(request, event_id: Id, payload: FactIn):
    found = rca.access_investigation(request.user, event_id)
    try:
        fact = rca.add_fact(request.user, found, payload.at, payload.fact)
    except ValidationError as error:
        return refused(error)
    return Status(201, {"id": fact.pk, "at": fact.at, "fact": fact.fact})


@router.post("/events/{event_id}/investigation/why-chains", response=documented(WhyChainOut, 201, not_found=True),
             summary="Add a 5-whys chain (a problem and the successive answers to “why?”)")
@requires("safety.report")
def add_why_chain(request, event_id: Id, payload: WhyChainIn):
    found = rca.access_investigation(request.user, event_id)
    try:
        chain = rca.add_why_chain(request.user, found, payload.problem, payload.whys)
    except ValidationError as error:
        return refused(error)
    return Status(201, {"id": chain.pk, "problem": chain.problem, "whys": chain.whys})


@router.post("/events/{event_id}/investigation/factors", response=documented(FactorOut, 201, not_found=True),
             summary="Add a contributing factor on a bone of the fishbone")
@requires("safety.report")
def add_factor(request, event_id: Id, payload: FactorIn):
    found = rca.access_investigation(request.user, event_id)
    try:
        factor = rca.add_factor(request.user, found, payload.category, payload.description)
    except ValidationError as error:
        return refused(error)
    labels = {bone["code"]: bone["label"] for bone in rca.fishbone(found)}
    return Status(201, {"id": factor.pk, "category": factor.category,
                        "category_label": labels.get(factor.category, factor.category),
                        "description": factor.description})


@router.post("/events/{event_id}/investigation/root-causes", response=documented(RootCauseOut, 201, not_found=True),
             summary="State a root cause")
@requires("safety.report")
def add_root_cause(request, event_id: Id, payload: RootCauseIn):
    found = rca.access_investigation(request.user, event_id)
    try:
        cause = rca.add_root_cause(request.user, found, payload.statement)
    except ValidationError as error:
        return refused(error)
    return Status(201, {"id": cause.pk, "statement": cause.statement})


@router.post("/events/{event_id}/investigation/related-events",
             response=documented(RelatedEventOut, 201, not_found=True),
             summary="Link a related event (one the caller may open)")
@requires("safety.report")
def link_related_event(request, event_id: Id, payload: RelatedEventIn):
    found = rca.access_investigation(request.user, event_id)
    other = SafetyEvent.objects.select_related("unit").filter(pk=payload.event_id).first()
    try:
        if other is None:
            raise ValidationError({"related": "No event has this id."})
        rca.link_related(request.user, found, other)
    except ValidationError as error:
        return refused(error)
    return Status(201, {"id": other.pk, "reference": other.reference})


@router.post("/events/{event_id}/investigation/actions", response=documented(RcaActionOut, 201, not_found=True),
             summary="Add an action to the analysis (in the shared action tracker)")
@requires("safety.report")
def add_rca_action(request, event_id: Id, payload: RcaActionIn):
    found = rca.access_investigation(request.user, event_id)
    data = payload.model_dump()
    owner = User.objects.filter(pk=data.pop("owner_id")).first()
    try:
        action = services.add_rca_action(request.user, found, owner=owner, **data)
    except ValidationError as error:
        return refused(error)
    return Status(201, _rca_action(action))


@router.post("/events/{event_id}/investigation/complete", response=documented(InvestigationOut, not_found=True),
             summary="Complete the analysis (needs a root cause); the event moves to action planning")
@requires("safety.investigate")
def complete_investigation(request, event_id: Id, payload: CompleteIn):
    found = rca.access_investigation(request.user, event_id)
    try:
        rca.complete_investigation(request.user, found, payload.reason)
    except ValidationError as error:
        return refused(error)
    found.event.refresh_from_db()
    return _investigation_out(found)
