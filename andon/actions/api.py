"""The actions API: list, read, create, move along and decide on actions.

Registered at the end of andon/api/api.py:
    from andon.actions.api import router as actions_router
    api.add_router("/", actions_router)
It imports the shared pieces from andon.platform.api_kit, never andon.api (which sits above it).
"""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, Pages, Version, documented, refused
from andon.platform.models import Unit, User
from andon.platform.permissions import requires

from . import services
from .models import OPEN_STATUSES

router = Router(tags=["actions"])

StatusName = Literal["planned", "in_progress", "done", "cancelled"]
StrengthName = Literal["stronger", "intermediate", "weaker"]


class ActionOut(Schema):
    id: int
    title: str
    description: str
    source_type: str | None
    source_id: int | None
    source_label: str
    unit_id: int
    unit: str
    owner_id: int
    owner: str
    due_date: date
    overdue: bool
    strength: str
    measure: str
    status: str
    approval: str
    approval_reason: str
    approved_by_id: int | None
    approved_at: datetime | None
    effectiveness_check_date: date | None
    effectiveness_result: str
    effectiveness_note: str
    created_by_id: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    version: int

    @staticmethod
    def resolve_source_type(action):
        return f"{action.source_type.app_label}.{action.source_type.model}" if action.source_type_id else None

    @staticmethod
    def resolve_unit(action):
        return action.unit.name

    @staticmethod
    def resolve_owner(action):
        return str(action.owner)

    @staticmethod
    def resolve_overdue(action):
        return action.is_overdue()


class ActionIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    description: Annotated[str, PydanticField(max_length=4000)] = ""
    source_label: Annotated[str, PydanticField(max_length=200)] = ""
    unit_id: Id
    owner_id: Id
    due_date: IsoDate
    strength: StrengthName
    measure: Annotated[str, PydanticField(min_length=1, max_length=2000)]


class StatusIn(Body):
    status: StatusName
    note: Annotated[str, PydanticField(max_length=2000)] = ""
    version: Version = None


class DecisionIn(Body):
    approve: bool
    reason: Annotated[str, PydanticField(max_length=2000)] = ""
    version: Version = None


@router.get("/actions", response=documented(list[ActionOut]), summary="Actions the caller owns or may see, soonest due first")
@requires("actions.use")
@paginate(Pages)
def list_actions(request, status: StatusName | Literal["open"] | None = None, strength: StrengthName | None = None,
                 overdue: bool = False, mine: bool = False):
    actions = services.visible_actions(request.user).select_related("source_type")
    if status == "open":
        actions = actions.filter(status__in=OPEN_STATUSES)
    elif status:
        actions = actions.filter(status=status)
    if strength:
        actions = actions.filter(strength=strength)
    if overdue:
        actions = services.overdue(actions, timezone.localdate())
    if mine:
        actions = actions.filter(owner=request.user)
    return actions.order_by("due_date", "pk")


@router.get("/actions/{action_id}", response=documented(ActionOut, not_found=True), summary="One action")
@requires("actions.use")
def get_action(request, action_id: Id):
    return services.access_action(request.user, action_id)


@router.post("/actions", response=documented(ActionOut, 201), summary="Record an action")
@requires("actions.manage")
def create_action(request, payload: ActionIn):
    data = payload.model_dump()
    unit = Unit.objects.select_related("facility").filter(pk=data.pop("unit_id")).first()
    owner = User.objects.filter(pk=data.pop("owner_id")).first()
    try:
        action = services.create_action(request.user, unit=unit, owner=owner, **data)
    except ValidationError as error:
        return refused(error)
    return Status(201, action)


@router.post("/actions/{action_id}/status", response=documented(ActionOut, not_found=True, versioned=True),
             summary="Move an action along (planned, in progress, done, cancelled)")
@requires("actions.use")
def set_status(request, action_id: Id, payload: StatusIn):
    action = services.access_action(request.user, action_id)
    try:
        return services.set_status(request.user, action, payload.status, payload.note, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/actions/{action_id}/decision", response=documented(ActionOut, not_found=True, versioned=True),
             summary="Approve or reject an action (a rejection needs a reason)")
@requires("actions.approve")
def decide(request, action_id: Id, payload: DecisionIn):
    action = services.access_action(request.user, action_id)
    try:
        return services.decide(request.user, action, payload.approve, payload.reason, payload.version)
    except ValidationError as error:
        return refused(error)
