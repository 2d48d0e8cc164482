"""The grievance committee over the API: escalating a grievance, the committee's queue, its
decision, and the actions it opens in the shared tracker."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from pydantic import Field as PydanticField

from andon.platform import permissions
from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Version, documented, refused
from andon.platform.models import User
from andon.platform.permissions import requires

from .. import services
from ..models import Grievance

router = NamedRouter("andon_voice_api_committee_")


class GrievanceEscalationOut(Schema):
    id: int
    grievance_id: int
    reason: str
    escalated_by_id: int
    escalated_at: datetime
    review: str
    decision: str = PydanticField(description="upheld, partly_upheld, not_upheld; empty while waiting")
    findings: str
    decided_by_id: int | None
    decided_at: datetime | None
    version: int


class GrievanceEscalateIn(Body):
    reason: Annotated[str, PydanticField(min_length=1, max_length=4000)]


class GrievanceDecisionIn(Body):
    decision: Literal["upheld", "partly_upheld", "not_upheld"]
    findings: Annotated[str, PydanticField(min_length=1, max_length=8000)]
    review: Annotated[str, PydanticField(max_length=8000)] = ""
    version: Version = None


class GrievanceActionIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    owner_id: Id
    due_date: IsoDate
    measure: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    strength: Literal["stronger", "intermediate", "weaker"] = "intermediate"
    description: Annotated[str, PydanticField(max_length=4000)] = ""


class GrievanceActionOut(Schema):
    id: int
    title: str
    owner_id: int
    due_date: date
    source_label: str


@router.post("/grievances/{grievance_id}/escalate", response=documented(GrievanceEscalationOut, 201, not_found=True),
             summary="Escalate a grievance to the grievance committee (with the reason)")
@requires("voice.manage_grievances")
def grievance_escalate(request, grievance_id: Id, payload: GrievanceEscalateIn):
    grievance = permissions.fetch_checked(request.user, "voice.manage_grievances", Grievance, pk=grievance_id)
    try:
        return Status(201, services.escalate_grievance(request.user, grievance, payload.reason))
    except ValidationError as error:
        return refused(error)


@router.get("/committee", response=documented(list[GrievanceEscalationOut]),
            summary="The committee's queue: escalations waiting for a decision (decided=true: those decided)")
@requires("voice.decide_grievances")
def committee_queue(request, decided: bool = False):
    return list(services.committee_queue(request.user, decided=decided).order_by("escalated_at", "pk")[:500])


@router.post("/committee/{escalation_id}/decision", response=documented(GrievanceEscalationOut, not_found=True,
                                                                        versioned=True),
             summary="Record the committee's review and decision with its findings")
@requires("voice.decide_grievances")
def committee_decision(request, escalation_id: Id, payload: GrievanceDecisionIn):
    escalation = services.access_escalation(request.user, escalation_id, "voice.decide_grievances")
    try:
        return services.decide_escalation(request.user, escalation, payload.decision, payload.findings,
                                          payload.review, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/committee/{escalation_id}/actions", response=documented(GrievanceActionOut, 201, not_found=True),
             summary="Open an action in the shared tracker from the committee's decision")
@requires("voice.decide_grievances")
def committee_action(request, escalation_id: Id, payload: GrievanceActionIn):
    escalation = services.access_escalation(request.user, escalation_id, "voice.decide_grievances")
    owner = User.objects.filter(pk=payload.owner_id, is_active=True).first()
    if owner is None:
        return refused(ValidationError({"owner_id": f"no active person {payload.owner_id}"}))
    fields = payload.model_dump(exclude={"owner_id"})
    try:
        return Status(201, services.open_committee_action(request.user, escalation, owner=owner, **fields))
    except ValidationError as error:
        return refused(error)
