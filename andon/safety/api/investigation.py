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


class ChangeOut(Schema):
    at: datetime
    by: str
    text: str


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
    signed_by: str | None = PydanticField(description="The RCA lead who signed the findings")
    signed_at: datetime | None
    approved_by: str | None = PydanticField(description="Who approved the signed findings (CQO, CMO)")
    approved_at: datetime | None
    changes: list[ChangeOut] = PydanticField(description="The worksheet's history in plain words, newest first")


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


class TeamPartIn(Body):
    part: Literal[tuple(TeamMember.Part.values)]  # type: ignore[valid-type]


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
        "signed_by": str(investigation.signed_by) if investigation.signed_by_id else None,
        "signed_at": investigation.signed_at,
        "approved_by": str(investigation.approved_by) if investigation.approved_by_id else None,
        "approved_at": investigation.approved_at,
        "changes": [{"at": c.at, "by": str(c.by), "text": c.text} for c in rca.changes(investigation)],
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


# --- editing and removing items of the worksheet; the sign-off ------------------------------------

def _changed(request, event_id: int, change):
    """One change of the worksheet by `change(investigation)`; the analysis as it then is."""
    found = rca.access_investigation(request.user, event_id)
    try:
        change(found)
    except ValidationError as error:
        return refused(error)
    found.refresh_from_db()
    return _investigation_out(found)


@router.post("/events/{event_id}/investigation/team/{person_id}", response=documented(InvestigationOut, not_found=True),
             summary="Change a team member's part")
@requires("safety.investigate")
def set_team_part(request, event_id: Id, person_id: Id, payload: TeamPartIn):
    def change(found):
        member = TeamMember.objects.filter(investigation=found, person_id=person_id).first()
        if member is None:
            raise ValidationError({"person": "This person is not on the team."})
        rca.set_team_part(request.user, found, member.pk, payload.part)

    return _changed(request, event_id, change)


@router.post("/events/{event_id}/investigation/timeline/{item_id}", response=documented(InvestigationOut, not_found=True),
             summary="Edit a fact of the timeline")
@requires("safety.report")
def edit_fact(request, event_id: Id, item_id: Id, payload: FactIn):
    return _changed(request, event_id, lambda found: rca.edit_fact(request.user, found, item_id, payload.at,
                                                                   payload.fact))


@router.post("/events/{event_id}/investigation/why-chains/{item_id}",
             response=documented(InvestigationOut, not_found=True), summary="Edit a 5-whys chain")
@requires("safety.report")
def edit_why_chain(request, event_id: Id, item_id: Id, payload: WhyChainIn):
    return _changed(request, event_id, lambda found: rca.edit_why_chain(request.user, found, item_id, payload.problem,
                                                                        payload.whys))


@router.post("/events/{event_id}/investigation/factors/{item_id}", response=documented(InvestigationOut, not_found=True),
             summary="Edit a contributing factor")
@requires("safety.report")
def edit_factor(request, event_id: Id, item_id: Id, payload: FactorIn):
    return _changed(request, event_id, lambda found: rca.edit_factor(request.user, found, item_id, payload.category,
                                                                     payload.description))


@router.post("/events/{event_id}/investigation/root-causes/{item_id}",
             response=documented(InvestigationOut, not_found=True), summary="Edit a root cause")
@requires("safety.report")
def edit_root_cause(request, event_id: Id, item_id: Id, payload: RootCauseIn):
    return _changed(request, event_id, lambda found: rca.edit_root_cause(request.user, found, item_id,
                                                                         payload.statement))


REMOVAL_KINDS = {"team": "team", "timeline": "fact", "why-chains": "why", "factors": "factor",
                 "root-causes": "root_cause", "related-events": "related", "actions": "action"}


@router.post("/events/{event_id}/investigation/{kind}/{item_id}/removal",
             response=documented(InvestigationOut, not_found=True),
             summary="Remove an item of the worksheet (a team member by person id; an action is cancelled)")
@requires("safety.report")
def remove_item(request, event_id: Id, kind: Literal[tuple(REMOVAL_KINDS)], item_id: Id):  # type: ignore[valid-type]
    part = REMOVAL_KINDS[kind]

    def change(found):
        if part == "related":
            rca.unlink_related(request.user, found, item_id)
        elif part == "action":
            services.remove_rca_action(request.user, found, item_id)
        elif part == "team":
            member = TeamMember.objects.filter(investigation=found, person_id=item_id).first()
            if member is None:
                raise ValidationError({"person": "This person is not on the team."})
            rca.remove_item(request.user, found, "team", member.pk)
        else:
            rca.remove_item(request.user, found, part, item_id)

    return _changed(request, event_id, change)


@router.post("/events/{event_id}/investigation/signature", response=documented(InvestigationOut, not_found=True),
             summary="The RCA lead signs the findings of the completed analysis")
@requires("safety.report")
def sign(request, event_id: Id):
    return _changed(request, event_id, lambda found: rca.sign_findings(request.user, found))


@router.post("/events/{event_id}/investigation/approval", response=documented(InvestigationOut, not_found=True),
             summary="Approve the findings the lead signed (CQO, CMO)")
@requires("safety.approve_investigation")
def approve(request, event_id: Id):
    return _changed(request, event_id, lambda found: rca.approve_investigation(request.user, found))
