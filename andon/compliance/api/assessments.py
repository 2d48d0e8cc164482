"""The compliance API: assessments, their items, readiness, trend, comparison, export and import,
and findings (with actions in the shared tracker). The same services and policy as the pages."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Schema, Status, UploadedFile
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import permissions
from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.exports import streaming_csv
from andon.platform.models import Facility, Organisation, Unit, User
from andon.platform.permissions import requires

from .. import assessments as service
from .. import findings as finding_service
from ..models import FrameworkVersion
from ..uploads import SPREADSHEETS, check_upload

router = NamedRouter("andon_compliance_api_")

WorkingStatusName = Literal["not_started", "in_progress", "in_review", "done"]
ResultName = Literal["", "met", "partly_met", "not_met", "not_applicable"]
RiskName = Literal["low", "moderate", "high", "extreme"]
Text = Annotated[str, PydanticField(max_length=4000)]


class AssessmentOut(Schema):
    id: int
    title: str
    framework: str
    version_assessed_id: int
    version_assessed: str
    organisation_id: int
    facility_id: int | None
    unit_id: int | None
    lead_id: int
    status: str
    due_on: date | None
    created_at: datetime
    closed_at: datetime | None
    version: int

    @staticmethod
    def resolve_framework(assessment):
        return assessment.version_assessed.framework.urn

    @staticmethod
    def resolve_version_assessed(assessment):
        return assessment.version_assessed.version


class AssessmentItemOut(Schema):
    id: int
    assessment_id: int
    requirement_id: int
    requirement_urn: str
    citation: str
    title: str
    chapter_urn: str
    for_unit_id: int | None
    owner_id: int | None
    working_status: str
    result: str
    not_applicable_reason: str
    rationale: str
    weight: float
    reviewed_by_id: int | None
    reviewed_at: datetime | None
    updated_at: datetime
    version: int

    @staticmethod
    def resolve_requirement_urn(item):
        return item.requirement.urn

    @staticmethod
    def resolve_citation(item):
        return item.requirement.citation

    @staticmethod
    def resolve_title(item):
        return item.requirement.title

    @staticmethod
    def resolve_chapter_urn(item):
        return (item.requirement.chapter or item.requirement).urn


class ScoreOut(Schema):
    key: str
    label: str
    score: float | None = PydanticField(description="Weighted share met, 0 to 1; null when nothing is scored")
    earned: float
    possible: float
    counts: dict[str, int]
    open_findings: dict[str, int]
    held_back: int = PydanticField(description="Items kept from counting by an open high or extreme finding")


class ReadinessOut(Schema):
    overall: ScoreOut
    by_chapter: list[ScoreOut]
    by_unit: list[ScoreOut]


class TrendPointOut(Schema):
    taken_on: date
    score: float


class MoveOut(Schema):
    requirement_urn: str
    for_unit_id: int | None
    before: str
    after: str
    direction: str


class ChapterMoveOut(Schema):
    chapter_urn: str
    label: str
    before: float | None
    after: float | None


class ComparisonOut(Schema):
    before_id: int
    after_id: int
    readiness_before: float | None
    readiness_after: float | None
    better: int
    worse: int
    moved: list[MoveOut]
    added: list[str]
    removed: list[str]
    chapters: list[ChapterMoveOut]


class AssessmentFindingOut(Schema):
    id: int
    title: str
    description: str
    risk: str
    status: str
    requirement_id: int
    requirement_urn: str
    item_id: int | None
    unit_id: int
    raised_by_id: int
    raised_at: datetime
    closed_at: datetime | None
    closing_note: str
    version: int

    @staticmethod
    def resolve_requirement_urn(finding):
        return finding.requirement.urn


class AssessmentImportProblemOut(Schema):
    row: int = PydanticField(description="The row of the file; the header is row 1")
    field: str
    reason: str


class AssessmentImportOut(Schema):
    changed: int
    problems: list[AssessmentImportProblemOut]


class AssessmentIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    version_id: Id
    organisation_id: Id | None = None
    facility_id: Id | None = None
    unit_id: Id | None = None
    requirements: list[Annotated[str, PydanticField(max_length=300)]] = PydanticField(
        default_factory=list, max_length=5000, description="Chapter or requirement URNs; none: every requirement")
    per_unit_ids: list[Id] = PydanticField(default_factory=list, max_length=500,
                                           description="Units of the scope to assess one by one")
    lead_id: Id
    due_on: IsoDate | None = None


class ItemIn(Body):
    working_status: WorkingStatusName
    result: ResultName = ""
    not_applicable_reason: Annotated[str, PydanticField(max_length=2000)] = ""
    rationale: Text = ""
    weight: Annotated[float, PydanticField(ge=0, le=1000, allow_inf_nan=False)] | None = None
    version: Version = None


class AssignIn(Body):
    item_ids: list[Id] = PydanticField(min_length=1, max_length=5000)
    owner_id: Id | None = None


class VersionIn(Body):
    version: Version = None


class ItemFindingIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    risk: RiskName
    description: Text = ""
    unit_id: Id | None = PydanticField(None, description="For an item of a whole facility or organisation")


class CloseIn(Body):
    note: Annotated[str, PydanticField(min_length=1, max_length=4000)]
    version: Version = None


class FindingActionIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    owner_id: Id
    due_date: IsoDate
    strength: Literal["stronger", "intermediate", "weaker"]
    measure: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    description: Text = ""


class FindingActionOut(Schema):
    id: int
    title: str
    source_label: str
    unit_id: int
    owner_id: int
    due_date: date
    status: str


def _scope(payload: AssessmentIn):
    named = [(model, key) for model, key in ((Unit, payload.unit_id), (Facility, payload.facility_id),
                                             (Organisation, payload.organisation_id)) if key is not None]
    if len(named) != 1:
        raise ValidationError({"scope": "Name one of organisation_id, facility_id or unit_id."})
    model, key = named[0]
    scope = model.objects.filter(pk=key).first()
    if scope is None:
        raise ValidationError({"scope": f"No {model._meta.verbose_name} {key}."})
    return scope


@router.get("/assessments", response=documented(list[AssessmentOut]), summary="Assessments the caller may see")
@requires("compliance.view")
@paginate(Pages)
def list_assessments(request, status: Literal["open", "closed"] | None = None):
    assessments = service.visible_assessments(request.user)
    return assessments.filter(status=status) if status else assessments


@router.post("/assessments", response=documented(AssessmentOut, 201),
             summary="Start an assessment of a scope against a framework version (or a chosen part of it)")
@requires("compliance.assess")
def create_assessment(request, payload: AssessmentIn):
    try:
        version = FrameworkVersion.objects.filter(pk=payload.version_id).first()
        units = list(Unit.objects.filter(pk__in=payload.per_unit_ids).select_related("facility"))
        if len(units) != len(set(payload.per_unit_ids)):
            raise ValidationError({"per_unit_ids": "One of the units does not exist."})
        assessment = service.create_assessment(
            request.user, title=payload.title, version=version, scope=_scope(payload),
            requirements=payload.requirements, per_unit_units=units,
            lead=User.objects.filter(pk=payload.lead_id).first(), due_on=payload.due_on)
    except ValidationError as error:
        return refused(error)
    return Status(201, assessment)


@router.get("/assessments/{before}/compared-with/{after}", response=documented(ComparisonOut, not_found=True),
            summary="What moved from one assessment (before) to another of the same framework (after), items "
                    "matched by requirement URN and unit")
@requires("compliance.view")
def compare(request, before: Id, after: Id):
    try:
        found = service.compare_assessments(service.access_assessment(request.user, before),
                                            service.access_assessment(request.user, after))
    except ValidationError as error:
        return refused(error)
    return {"before_id": before, "after_id": after,
            "readiness_before": _float(found["overall"][0].score), "readiness_after": _float(found["overall"][1].score),
            "better": found["better"], "worse": found["worse"],
            "moved": [{"requirement_urn": m["urn"], "for_unit_id": m["after"].for_unit_id, "before": m["before"].result,
                       "after": m["after"].result, "direction": m["direction"]} for m in found["moved"]],
            "added": [i.requirement.urn for i in found["added"]],
            "removed": [i.requirement.urn for i in found["removed"]],
            "chapters": [{"chapter_urn": c["key"], "label": c["label"],
                          "before": _float(c["before"].score) if c["before"] else None,
                          "after": _float(c["after"].score) if c["after"] else None} for c in found["chapters"]]}


def _float(value):
    return None if value is None else float(value)


@router.get("/assessments/{assessment_id}", response=documented(AssessmentOut, not_found=True),
            summary="One assessment")
@requires("compliance.view")
def get_assessment(request, assessment_id: Id):
    return service.access_assessment(request.user, assessment_id)


@router.post("/assessments/{assessment_id}/close", response=documented(AssessmentOut, not_found=True, versioned=True),
             summary="Close an assessment (its items no longer change; readiness is kept as it stands)")
@requires("compliance.assess")
def close_assessment(request, assessment_id: Id, payload: VersionIn):
    assessment = service.access_assessment(request.user, assessment_id, "compliance.assess")
    try:
        return service.close_assessment(request.user, assessment, payload.version)
    except ValidationError as error:
        return refused(error)


@router.get("/assessments/{assessment_id}/items", response=documented(list[AssessmentItemOut], not_found=True),
            summary="The assessment's items, in framework order, filtered")
@requires("compliance.view")
@paginate(Pages)
def list_items(request, assessment_id: Id, chapter: Annotated[str, PydanticField(max_length=300)] = "",
               owner_id: Id | None = None, working_status: WorkingStatusName | None = None,
               result: ResultName | None = None):
    items = service.items_of(service.access_assessment(request.user, assessment_id))
    if chapter:
        items = items.filter(requirement__chapter__urn=chapter)
    if owner_id:
        items = items.filter(owner_id=owner_id)
    if working_status:
        items = items.filter(working_status=working_status)
    if result is not None:
        items = items.filter(result=result)
    return items.order_by("requirement__position", "for_unit_id")


@router.post("/assessments/{assessment_id}/assignments", response=documented(dict[str, int], not_found=True),
             summary="Give items of the assessment to an owner (none: take them back); the owner is told")
@requires("compliance.assess")
def assign(request, assessment_id: Id, payload: AssignIn):
    assessment = service.access_assessment(request.user, assessment_id, "compliance.assess")
    items = list(assessment.items.filter(pk__in=payload.item_ids))
    try:
        if len(items) != len(set(payload.item_ids)):
            raise ValidationError({"item_ids": "Some of the items are not of this assessment."})
        owner = None
        if payload.owner_id is not None:
            owner = User.objects.filter(pk=payload.owner_id).first()
            if owner is None:
                raise ValidationError({"owner_id": "No such person."})
        return {"assigned": service.assign_items(request.user, items, owner)}
    except ValidationError as error:
        return refused(error)


@router.get("/assessments/{assessment_id}/readiness", response=documented(ReadinessOut, not_found=True),
            summary="Readiness overall, by chapter and by unit, with the counts and open findings behind it")
@requires("compliance.view")
def get_readiness(request, assessment_id: Id):
    return service.readiness(service.access_assessment(request.user, assessment_id)).as_dict()


@router.get("/assessments/{assessment_id}/trend", response=documented(list[TrendPointOut], not_found=True),
            summary="Readiness by day (daily snapshots)")
@requires("compliance.view")
def get_trend(request, assessment_id: Id):
    assessment = service.access_assessment(request.user, assessment_id)
    return [{"taken_on": day, "score": score} for day, score in service.trend(assessment)]


SPREADSHEET_RESPONSE = {"responses": {200: {
    "description": "One row per item; formulas defused",
    "content": {"text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}}},
}}}


@router.get("/assessments/{assessment_id}/export",
            response={code: out for code, out in documented(None, not_found=True).items() if code != 200},
            openapi_extra=SPREADSHEET_RESPONSE, summary="The items as CSV or XLSX, to edit and import back")
@requires("compliance.view")
def export(request, assessment_id: Id, format: Literal["csv", "xlsx"] = "csv"):
    assessment = service.access_assessment(request.user, assessment_id)
    if format == "csv":
        return streaming_csv(service.EXPORT_HEADER, service.assessment_export_rows(assessment),
                             f"assessment-{assessment.pk}.csv")
    response = HttpResponse(service.export_xlsx(assessment),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="assessment-{assessment.pk}.xlsx"'
    return response


@router.post("/assessments/{assessment_id}/import", response=documented(AssessmentImportOut, not_found=True),
             summary="Load an edited export back: every row checked first; with any problem nothing changes "
                     "(the problems by row, field and reason, with status 422)")
@requires("compliance.assess")
def import_items(request, assessment_id: Id, file: File[UploadedFile]):
    assessment = service.access_assessment(request.user, assessment_id, "compliance.assess")
    try:
        changed, problems = service.import_items(request.user, assessment, check_upload(file, SPREADSHEETS))
    except ValidationError as error:
        return refused(error)
    if problems:
        return Status(422, {"detail": [{"loc": ["file", f"row {p.row}", p.field], "msg": p.reason,
                                        "type": "value_error"} for p in problems]})
    return {"changed": changed, "problems": []}


@router.post("/items/{item_id}", response=documented(AssessmentItemOut, not_found=True, versioned=True),
             summary="Record an item's working status, result, reason and rationale (its owner or an assessor)")
@requires("compliance.assessment_work")
def update_item(request, item_id: Id, payload: ItemIn):
    item = service.access_item(request.user, item_id, "compliance.work_on_item")
    try:
        return service.update_item(request.user, item, payload.version, working_status=payload.working_status,
                                   result=payload.result, not_applicable_reason=payload.not_applicable_reason,
                                   rationale=payload.rationale, weight=payload.weight)
    except ValidationError as error:
        return refused(error)


@router.post("/items/{item_id}/sign-off", response=documented(AssessmentItemOut, not_found=True, versioned=True),
             summary="A reviewer (not the owner) signs off an item in review or done with a result")
@requires("compliance.review_items")
def sign_off(request, item_id: Id, payload: VersionIn):
    item = service.access_item(request.user, item_id, "compliance.review_items")
    try:
        return service.sign_off(request.user, item, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/items/{item_id}/findings", response=documented(AssessmentFindingOut, 201, not_found=True),
             summary="Raise a finding from an item not met or partly met")
@requires("compliance.raise_findings")
def raise_finding(request, item_id: Id, payload: ItemFindingIn):
    item = service.access_item(request.user, item_id)
    try:
        unit = None
        if payload.unit_id is not None:
            unit = Unit.objects.select_related("facility").filter(pk=payload.unit_id).first()
            if unit is None:
                raise ValidationError({"unit_id": "No such unit."})
        finding = finding_service.raise_finding_for_item(request.user, item, title=payload.title, risk=payload.risk,
                                                         description=payload.description, unit=unit)
    except ValidationError as error:
        return refused(error)
    return Status(201, finding)


@router.get("/findings", response=documented(list[AssessmentFindingOut], not_found=True),
            summary="Findings in the caller's scope, filtered (a unit_id outside it: 403; no such unit: 404)")
@requires("compliance.view")
@paginate(Pages)
def list_findings(request, status: Literal["open", "closed"] | None = None, risk: RiskName | None = None,
                  chapter: Annotated[str, PydanticField(max_length=300)] = "", unit_id: Id | None = None):
    unit = get_object_or_404(Unit, pk=unit_id) if unit_id else None
    scope = permissions.scope_for(request.user, "compliance.view", unit=unit) if unit else None
    return finding_service.visible_findings(request.user, status=status or "", risk=risk or "", chapter_urn=chapter,
                                            units=scope.units if scope else None)


@router.get("/findings/{finding_id}", response=documented(AssessmentFindingOut, not_found=True), summary="One finding")
@requires("compliance.view")
def get_finding(request, finding_id: Id):
    return finding_service.access_finding(request.user, finding_id)


@router.post("/findings/{finding_id}/close", response=documented(AssessmentFindingOut, not_found=True, versioned=True),
             summary="Close a finding with a note on how it was resolved")
@requires("compliance.raise_findings")
def close_finding(request, finding_id: Id, payload: CloseIn):
    finding = finding_service.access_finding(request.user, finding_id, "compliance.raise_findings")
    try:
        return finding_service.close_finding(request.user, finding, payload.note, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/findings/{finding_id}/actions", response=documented(FindingActionOut, 201, not_found=True),
             summary="Open an action in the shared tracker with the finding as its source")
@requires("compliance.raise_findings")
def open_action(request, finding_id: Id, payload: FindingActionIn):
    finding = finding_service.access_finding(request.user, finding_id, "compliance.raise_findings")
    try:
        owner = User.objects.filter(pk=payload.owner_id).first()
        action = finding_service.open_action_for_finding(
            request.user, finding, owner=owner, title=payload.title, due_date=payload.due_date,
            strength=payload.strength, measure=payload.measure, description=payload.description)
    except ValidationError as error:
        return refused(error)
    return Status(201, action)
