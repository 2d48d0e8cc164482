"""The FPPE API: the list, starting one for a concern, its plan, beginning it, its cases and the
committee's decision; under the same policy and services as the pages."""

from datetime import date
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.permissions import requires

from .. import fppe as fppes
from ..models import CaseResult, FppeDecisionKind, FppeMethod, GrantedPrivilege, Practitioner
from ..practitioners import access_practitioner

router = NamedRouter("andon_medstaff_api_fppe_")

Reason = Annotated[str, PydanticField(min_length=1, max_length=4000)]


class FppeProgressOut(Schema):
    cases: int
    concerns: int
    cases_required: int | None
    ends_on: date | None
    days_left: int | None


class FppeOut(Schema):
    id: int
    reference: str
    practitioner_id: int
    trigger: str
    reason: str
    source_reference: str
    source_privilege_id: int | None
    status: str
    started_on: date
    begun_on: date | None
    concluded_on: date | None
    methods: list[str]
    cases_required: int | None
    duration_days: int | None
    proctor_id: int | None
    progress: FppeProgressOut
    version: int

    @staticmethod
    def resolve_progress(fppe):
        return fppes.progress_of(fppe).__dict__


class FppeCaseOut(Schema):
    id: int
    case_date: date
    case_reference: str
    result: str
    notes: str
    recorded_by_id: int


class FppeDecisionOut(Schema):
    id: int
    decision: str
    reason: str
    decided_on: date
    decided_by_id: int


class FppeConcernIn(Body):
    practitioner_id: Id
    trigger: Literal[tuple(v for v, _ in fppes.CONCERNS)]
    reason: Reason
    source_reference: Annotated[str, PydanticField(max_length=200)] = ""


class FppePlanIn(Body):
    methods: list[Literal[tuple(FppeMethod.values)]] = PydanticField(min_length=1, max_length=4)
    cases_required: Annotated[int, PydanticField(ge=1, le=500)] | None = None
    duration_days: Annotated[int, PydanticField(ge=1, le=730)] | None = None
    proctor_id: Id | None = None
    version: Version = None


class BeginIn(Body):
    version: Version = None


class FppeCaseIn(Body):
    case_date: IsoDate
    case_reference: Annotated[str, PydanticField(min_length=1, max_length=100)]
    result: Literal[tuple(CaseResult.values)]
    notes: Annotated[str, PydanticField(max_length=4000)] = ""


class FppeDecisionIn(Body):
    decision: Literal[tuple(FppeDecisionKind.values)]
    reason: Reason
    decided_on: IsoDate
    grant_ids: list[Id] = PydanticField([], max_length=50, description="Grants restricted or revoked (a concern's "
                                                                        "FPPE); left out: the privilege it evaluates")
    more_cases: Annotated[int, PydanticField(ge=1, le=500)] | None = None
    more_days: Annotated[int, PydanticField(ge=1, le=730)] | None = None
    version: Version = None


@router.get("/fppes", response=documented(list[FppeOut]), summary="FPPEs the caller reads or proctors, open first")
@requires("medstaff.use_fppe")
@paginate(Pages)
def list_fppes(request, status: Literal["planning", "in_progress", "concluded"] | None = None):
    found = fppes.visible_fppes(request.user)
    return found.filter(status=status) if status else found


@router.post("/fppes", response=documented(FppeOut, 201, not_found=True), summary="Start an FPPE for a concern")
@requires("medstaff.manage_fppe")
def start_fppe(request, payload: FppeConcernIn):
    practitioner = access_practitioner(request.user, payload.practitioner_id, "medstaff.manage_fppe")
    try:
        return Status(201, fppes.start_fppe(request.user, practitioner, trigger=payload.trigger, reason=payload.reason,
                                            source_reference=payload.source_reference))
    except ValidationError as error:
        return refused(error)


@router.get("/fppes/{fppe_id}", response=documented(FppeOut, not_found=True), summary="One FPPE with its progress")
@requires("medstaff.use_fppe")
def get_fppe(request, fppe_id: Id):
    return fppes.access_fppe(request.user, fppe_id)


@router.put("/fppes/{fppe_id}/plan", response=documented(FppeOut, not_found=True, versioned=True),
            summary="The FPPE's plan: methods, cases or days, proctor")
@requires("medstaff.manage_fppe")
def plan_fppe(request, fppe_id: Id, payload: FppePlanIn):
    fppe = fppes.access_fppe(request.user, fppe_id, "medstaff.manage_fppe")
    proctor = Practitioner.objects.filter(pk=payload.proctor_id).first() if payload.proctor_id else None
    if payload.proctor_id and proctor is None:
        return refused(ValidationError({"proctor_id": "No such practitioner."}))
    try:
        return fppes.plan_fppe(request.user, fppe, payload.version, methods=payload.methods,
                               cases_required=payload.cases_required, duration_days=payload.duration_days,
                               proctor=proctor)
    except ValidationError as error:
        return refused(error)


@router.post("/fppes/{fppe_id}/begin", response=documented(FppeOut, not_found=True, versioned=True),
             summary="Planning → in progress")
@requires("medstaff.manage_fppe")
def begin_fppe(request, fppe_id: Id, payload: BeginIn):
    fppe = fppes.access_fppe(request.user, fppe_id, "medstaff.manage_fppe")
    try:
        return fppes.begin_fppe(request.user, fppe, payload.version)
    except ValidationError as error:
        return refused(error)


@router.get("/fppes/{fppe_id}/cases", response=documented(list[FppeCaseOut], not_found=True),
            summary="The FPPE's cases")
@requires("medstaff.use_fppe")
def list_cases(request, fppe_id: Id):
    return list(fppes.access_fppe(request.user, fppe_id).cases.all())


@router.post("/fppes/{fppe_id}/cases", response=documented(FppeCaseOut, 201, not_found=True),
             summary="Record a case (the proctor, or those who manage FPPE)")
@requires("medstaff.use_fppe")
def record_case(request, fppe_id: Id, payload: FppeCaseIn):
    fppe = fppes.access_fppe(request.user, fppe_id, "medstaff.record_fppe_case")
    try:
        return Status(201, fppes.record_fppe_case(request.user, fppe, **payload.model_dump()))
    except ValidationError as error:
        return refused(error)


@router.post("/fppes/{fppe_id}/decision", response=documented(FppeDecisionOut, 201, not_found=True, versioned=True),
             summary="The credentials committee's decision (restricted or revoked changes the privilege)")
@requires("medstaff.decide_fppe")
def decide_fppe(request, fppe_id: Id, payload: FppeDecisionIn):
    fppe = fppes.access_fppe(request.user, fppe_id, "medstaff.decide_fppe")
    grants = list(GrantedPrivilege.objects.filter(pk__in=payload.grant_ids))
    if len(grants) != len(set(payload.grant_ids)):
        return refused(ValidationError({"grant_ids": "One of the granted privileges does not exist."}))
    try:
        return Status(201, fppes.decide_fppe(request.user, fppe, payload.version, decision=payload.decision,
                                             reason=payload.reason, decided_on=payload.decided_on, grants=grants,
                                             more_cases=payload.more_cases, more_days=payload.more_days))
    except ValidationError as error:
        return refused(error)
