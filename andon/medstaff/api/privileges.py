"""The privileges API: the catalogue, requests and their steps, granted privileges; under the same
policy and services as the pages."""

from datetime import date
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import privileges
from ..models import FppeMethod, Privilege, PrivilegeKind
from ..practitioners import access_practitioner

router = NamedRouter("andon_medstaff_api_privileges_")

Text = Annotated[str, PydanticField(max_length=2000)]
Note = Annotated[str, PydanticField(max_length=4000)]
Method = Literal[tuple(FppeMethod.values)]


class PrivilegeOut(Schema):
    id: int
    department_id: int
    name: str
    kind: str
    description: str
    education: str
    training: str
    volume: str
    certification: str
    active: bool
    fppe_methods: list[str]
    fppe_cases: int | None
    fppe_days: int | None
    version: int


class PrivilegeIn(Body):
    name: Annotated[str, PydanticField(min_length=1, max_length=200)]
    kind: Literal[tuple(PrivilegeKind.values)] = PrivilegeKind.CORE
    description: Text = ""
    education: Text = ""
    training: Text = ""
    volume: Text = ""
    certification: Text = ""
    fppe_methods: list[Method] = PydanticField([], max_length=4)
    fppe_cases: Annotated[int, PydanticField(ge=1, le=500)] | None = None
    fppe_days: Annotated[int, PydanticField(ge=1, le=730)] | None = None


class NewPrivilegeIn(PrivilegeIn):
    department_id: Id


class EditPrivilegeIn(PrivilegeIn):
    version: Version = None


class StepOut(Schema):
    step: str
    outcome: str
    met_on: date
    note: str
    recorded_by_id: int


class RequestOut(Schema):
    id: int
    reference: str
    practitioner_id: int
    privilege_ids: list[int]
    stage: str
    note: str
    requested_on: date
    steps: list[StepOut]
    version: int

    @staticmethod
    def resolve_privilege_ids(found):
        return sorted(found.privileges.values_list("pk", flat=True))

    @staticmethod
    def resolve_steps(found):
        return list(found.steps.all())


class RequestIn(Body):
    practitioner_id: Id
    privilege_ids: list[Id] = PydanticField(min_length=1, max_length=50)
    note: Note = ""


class StepIn(Body):
    step: Literal["chair", "credentials", "mec", "board"]
    outcome: Literal["recommend", "approve", "deny", "defer"]
    met_on: IsoDate
    note: Note = ""
    version: Version = None


class GrantedPrivilegeOut(Schema):
    id: int
    practitioner_id: int
    privilege_id: int
    privilege: str
    request_id: int | None
    granted_from: date
    granted_until: date
    status: str
    status_reason: str
    licence_flag: str
    version: int

    @staticmethod
    def resolve_privilege(grant):
        return grant.privilege.name


class GrantStatusIn(Body):
    status: Literal[tuple(privileges.SETTABLE)]
    reason: Annotated[str, PydanticField(min_length=1, max_length=4000)]
    version: Version = None


# --- the catalogue ------------------------------------------------------------------------------

@router.get("/privileges", response=documented(list[PrivilegeOut]),
            summary="The privilege catalogue of the departments whose files the caller reads")
@requires("medstaff.view_practitioners")
@paginate(Pages)
def list_privileges(request):
    return privileges.visible_privileges(request.user).order_by("department_id", "kind", "name", "pk")


@router.post("/privileges", response=documented(PrivilegeOut, 201, not_found=True),
             summary="Add a privilege to a department's catalogue")
@requires("medstaff.manage_privilege_catalogue")
def create_privilege(request, payload: NewPrivilegeIn):
    department = get_object_or_404(Unit, pk=payload.department_id)
    data = payload.model_dump(exclude={"department_id"})
    try:
        return Status(201, privileges.create_privilege(request.user, department, **data))
    except ValidationError as error:
        return refused(error)


@router.put("/privileges/{privilege_id}", response=documented(PrivilegeOut, not_found=True, versioned=True),
            summary="Edit a privilege's name, kind, criteria and default FPPE plan")
@requires("medstaff.manage_privilege_catalogue")
def edit_privilege(request, privilege_id: Id, payload: EditPrivilegeIn):
    privilege = privileges.access_privilege(request.user, privilege_id, "medstaff.manage_privilege_catalogue")
    data = payload.model_dump(exclude={"version"})
    try:
        return privileges.edit_privilege(request.user, privilege, payload.version, **data)
    except ValidationError as error:
        return refused(error)


@router.post("/privileges/{privilege_id}/retire", response=documented(PrivilegeOut, not_found=True),
             summary="Retire a privilege: no longer requested; those who hold it keep it")
@requires("medstaff.manage_privilege_catalogue")
def retire_privilege(request, privilege_id: Id):
    privilege = privileges.access_privilege(request.user, privilege_id, "medstaff.manage_privilege_catalogue")
    try:
        return privileges.retire_privilege(request.user, privilege)
    except ValidationError as error:
        return refused(error)


# --- requests -----------------------------------------------------------------------------------

@router.get("/privilege-requests", response=documented(list[RequestOut]),
            summary="Privilege requests of the departments whose files the caller reads")
@requires("medstaff.view_practitioners")
@paginate(Pages)
def list_requests(request, stage: Literal["chair", "credentials", "mec", "board", "granted", "denied"] | None = None):
    found = privileges.visible_privilege_requests(request.user).prefetch_related("privileges", "steps")
    return (found.filter(stage=stage) if stage else found).order_by("-requested_on", "-pk")


@router.post("/privilege-requests", response=documented(RequestOut, 201, not_found=True),
             summary="Request privileges of the practitioner's department (PRQ-<year>-NNN), to the chair")
@requires("medstaff.request_privileges")
def create_request(request, payload: RequestIn):
    practitioner = access_practitioner(request.user, payload.practitioner_id, "medstaff.request_privileges")
    chosen = list(Privilege.objects.filter(pk__in=payload.privilege_ids))
    if len(chosen) != len(set(payload.privilege_ids)):
        return refused(ValidationError({"privilege_ids": "One of the privileges does not exist."}))
    try:
        return Status(201, privileges.request_privileges(request.user, practitioner, chosen, note=payload.note))
    except ValidationError as error:
        return refused(error)


@router.get("/privilege-requests/{request_id}", response=documented(RequestOut, not_found=True),
            summary="One request and its steps")
@requires("medstaff.view_practitioners")
def get_request(request, request_id: Id):
    return privileges.access_privilege_request(request.user, request_id)


@router.post("/privilege-requests/{request_id}/steps", response=documented(RequestOut, 201, not_found=True,
                                                                           versioned=True),
             summary="Record the decision of the step the request waits at (the board's approval grants)")
@requires("medstaff.view_practitioners")
def record_step(request, request_id: Id, payload: StepIn):
    found = privileges.access_privilege_request(request.user, request_id)
    try:
        privileges.record_step(request.user, found, payload.step, outcome=payload.outcome, met_on=payload.met_on,
                               note=payload.note, version=payload.version)
    except ValidationError as error:
        return refused(error)
    return Status(201, found)


# --- granted privileges -------------------------------------------------------------------------

@router.get("/granted-privileges", response=documented(list[GrantedPrivilegeOut]),
            summary="Granted privileges the caller reads, flagged when the practitioner's licence expired")
@requires("medstaff.view_practitioners")
@paginate(Pages)
def list_grants(request):
    return privileges.visible_granted_privileges(request.user).order_by("practitioner_id", "privilege__name", "pk")


@router.get("/practitioners/{practitioner_id}/privileges",
            response=documented(list[GrantedPrivilegeOut], not_found=True),
            summary="One practitioner's granted privileges, every status, flagged when the licence expired")
@requires("medstaff.view_practitioners")
def list_grants_of(request, practitioner_id: Id):
    practitioner = access_practitioner(request.user, practitioner_id, "medstaff.view_practitioners")
    return list(privileges.granted_privileges_of(practitioner))


@router.post("/granted-privileges/{grant_id}/status",
             response=documented(GrantedPrivilegeOut, not_found=True, versioned=True),
             summary="Change a granted privilege's status, with the reason")
@requires("medstaff.record_privilege_decisions")
def set_status(request, grant_id: Id, payload: GrantStatusIn):
    grant = privileges.access_granted_privilege(request.user, grant_id, "medstaff.record_privilege_decisions")
    try:
        return privileges.set_grant_status(request.user, grant, payload.status, reason=payload.reason,
                                           version=payload.version)
    except ValidationError as error:
        return refused(error)
