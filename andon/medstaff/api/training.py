"""Training and competencies over the API: the requirements, the import of completions from the
learning system's CSV (the same report as the page), compliance by unit, and recording a month's
counts in the measure; under the same policy and services as the pages."""

from datetime import date
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from ninja import File, Schema, Status, UploadedFile
from pydantic import Field as PydanticField

from andon.platform import inputs
from andon.platform.api_kit import Body, Flag, Id, IsoDate, JobOut, NamedRouter, Version, documented, refused
from andon.platform.models import Organisation, Unit
from andon.platform.permissions import requires

from .. import training

router = NamedRouter("andon_medstaff_api_training_")
Code = Annotated[str, PydanticField(min_length=1, max_length=training.CODE_MAX)]


class TrainingRequirementOut(Schema):
    id: int
    organisation_id: int
    course_code: str
    title: str
    kind: str
    job_roles: list[str]
    unit_id: int | None = PydanticField(description="Required in this unit and below it; null: the whole organisation")
    renewal_months: int | None = PydanticField(description="Renewed every so many months; null: never")
    active: bool
    version: int


class RequirementIn(Body):
    course_code: Code
    title: Annotated[str, PydanticField(min_length=1, max_length=training.TITLE_MAX)]
    kind: Literal["training", "competency"] = "training"
    job_roles: list[Annotated[str, PydanticField(max_length=training.ROLE_MAX)]] = PydanticField(
        max_length=training.ROLES_MAX, description="As the learning system writes them (RN, HCA, Physician)")
    unit_id: Id | None = PydanticField(None, description="None: the whole organisation")
    renewal_months: Annotated[int, PydanticField(ge=1, le=training.RENEWAL_MAX)] | None = None
    version: Version = None


class ActiveIn(Body):
    active: Flag
    version: Version = None


class ProblemOut(Schema):
    row: int = PydanticField(description="The row of the file; the header is row 1")
    field: str
    reason: str


class TrainingImportOut(Schema):
    rows: int
    stored: int = PydanticField(description="Completions not imported before")
    invalid_rows: int
    problem_count: int
    problems: list[ProblemOut] = PydanticField(description=f"The first {training.PROBLEMS_SHOWN:,} problems")
    measure_counts: int = PydanticField(description="Monthly unit counts sent to the training-compliance measure")
    measure_problems: list[str]


class UnitComplianceOut(Schema):
    unit_id: int
    code: str = PydanticField(description="facility/unit")
    name: str
    required: int = PydanticField(description="(person, required course) pairs of the unit and the units below it")
    compliant: int = PydanticField(description="Of them, with a current completion on the day")
    expiring: int = PydanticField(description=f"Current but expiring within {training.SOON_DAYS} days")
    share: float | None = PydanticField(description="compliant ÷ required; null when nothing is required")


class ComplianceOut(Schema):
    on: date
    units: list[UnitComplianceOut]


class MonthIn(Body):
    month: Annotated[str, PydanticField(pattern=r"^\d{4}-\d{2}$")] | None = PydanticField(
        None, description="YYYY-MM; this month when left out")


class TrainingSentOut(Schema):
    months: int
    counts: int
    problems: list[str]


def _unit(unit_id):
    if unit_id is None:
        return None
    unit = Unit.objects.select_related("facility__organisation").filter(pk=unit_id).first()
    if unit is None:
        raise Http404("no such unit")
    return unit


def _organisation(user, unit) -> Organisation:
    if unit is not None:
        return unit.facility.organisation
    first = training.training_units(user).first()
    if first is None:
        raise Http404("you manage the training of no unit")
    return first.facility.organisation


@router.get("/training/requirements", response=documented(list[TrainingRequirementOut]),
            summary="Training and competency requirements of the caller's organisations")
@requires(training.VIEW)
def list_requirements(request):
    return list(training.visible_requirements(request.user).order_by("-active", "title", "pk"))


@router.post("/training/requirements", response=documented(TrainingRequirementOut, 201, not_found=True),
             summary="Require a course or competency of some job roles in a unit (or the whole organisation)")
@requires(training.MANAGE)
def create_requirement(request, body: RequirementIn):
    unit = _unit(body.unit_id)
    try:
        found = training.create_requirement(
            request.user, organisation=_organisation(request.user, unit), course_code=body.course_code,
            title=body.title, kind=body.kind, job_roles=body.job_roles, unit=unit, renewal_months=body.renewal_months)
    except ValidationError as error:
        return refused(error)
    return Status(201, found)


@router.put("/training/requirements/{requirement_id}", response=documented(TrainingRequirementOut, not_found=True,
                                                                           versioned=True),
            summary="Change a requirement (the whole record)")
@requires(training.MANAGE)
def edit_requirement(request, requirement_id: Id, body: RequirementIn):
    requirement = training.access_requirement(request.user, requirement_id)
    try:
        return training.edit_requirement(
            request.user, requirement, body.version, course_code=body.course_code, title=body.title, kind=body.kind,
            job_roles=body.job_roles, unit=_unit(body.unit_id), renewal_months=body.renewal_months)
    except ValidationError as error:
        return refused(error)


@router.post("/training/requirements/{requirement_id}/active", response=documented(
    TrainingRequirementOut, not_found=True, versioned=True), summary="Retire a requirement (active false) or require it again")
@requires(training.MANAGE)
def set_active(request, requirement_id: Id, body: ActiveIn):
    requirement = training.access_requirement(request.user, requirement_id)
    try:
        return training.set_requirement_active(request.user, requirement, body.version, body.active)
    except ValidationError as error:
        return refused(error)


@router.post("/training/imports", response={**documented(TrainingImportOut), 202: JobOut},
             summary="Import completions from the learning system's CSV (employee_id, name, unit, job_role, "
                     "course_code, completed_on, optional expires_on): a file with any problem stores nothing and "
                     "the answer lists each by row and field; completions imported before are not imported again. "
                     "A file of more than ANDON_IMPORT_JOB_ROWS rows is imported by a background job (202)")
@requires(training.MANAGE)
def import_completions(request, file: File[UploadedFile]):
    try:
        if file.size > training.MAX_BYTES:
            raise training.ImportFileError(
                f"The file is larger than {training.MAX_BYTES // (1024 * 1024)} MB ({file.size:,} bytes).")
        data = file.read()
        if job := training.queue_import_if_large(request.user, data, file.name or "the file"):
            return Status(202, job)
        return training.import_completions(request.user, data, file.name or "the file")
    except training.ImportFileError as problem:
        return refused(ValidationError({"file": str(problem)}))


@router.get("/training/compliance", response=documented(ComplianceOut, not_found=True),
            summary="Compliance by unit on a day: each unit of the caller's scope (or of unit_id and below it) with "
                    "the units below it")
@requires(training.VIEW)
def compliance(request, unit_id: Id | None = None, on: IsoDate | None = None):
    on = on or timezone.localdate()
    _scope, rows = training.compliance_by_unit(request.user, unit=_unit(unit_id), on=on)
    return {"on": on, "units": [
        {"unit_id": row.unit.pk, "code": training.unit_code(row.unit), "name": row.unit.name, "required": row.required,
         "compliant": row.compliant, "expiring": row.expiring, "share": row.share} for row in rows]}


@router.post("/training/record-month", response=documented(TrainingSentOut, not_found=True),
             summary="Send a month's counts (this month by default) to the training-compliance measure")
@requires(training.MANAGE)
def record_month(request, body: MonthIn):
    try:
        month = inputs.month(body.month) if body.month else None
        return training.record_month(request.user, _organisation(request.user, None), month)
    except inputs.InputError as problem:
        return refused(ValidationError({"month": str(problem)}))
    except ValidationError as error:
        return refused(error)
