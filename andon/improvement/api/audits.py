"""The improvement API: clinical audit tools, criteria, audits (planning), the draw, cases and
answers (round-aware: the second round is blind), and the agreement between auditors; under the
same policy and services as the pages."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Number, Pages, Version, documented, refused
from andon.platform.models import User
from andon.platform.permissions import requires

from .. import audits, entry, sampling
from ..models import AuditCase

router = NamedRouter("andon_improvement_api_audits_")

Text = Annotated[str, PydanticField(max_length=4000)]
Place = Annotated[str, PydanticField(pattern=r"^[ofu][0-9]{1,18}$", description="o<id>, f<id> or u<id>")]


class ToolOut(Schema):
    id: int
    reference: str
    title: str
    topic: str
    standard_source: str
    measure: str | None
    organisation_id: int
    facility_id: int | None
    unit_id: int | None
    active: bool
    version: int

    @staticmethod
    def resolve_measure(tool):
        return tool.measure.key if tool.measure_id else None


class CriterionOut(Schema):
    id: int
    number: int
    text: str
    target: float
    exceptions: str
    guidance: str
    active: bool


class AuditOut(Schema):
    id: int
    reference: str
    tool_id: int
    previous_id: int | None
    title: str
    organisation_id: int
    facility_id: int | None
    unit_id: int | None
    period_start: date
    period_end: date
    lead_id: int
    auditor_ids: list[int]
    stage: str
    planned_on: date
    collect_from: date | None
    cohort_kind: str
    cohort_source: str
    cohort_size: int | None
    cohort_digest: str
    expected: float
    margin: float
    confidence: float
    sample_size: int | None
    seed: int | None
    drawn_at: datetime | None
    double_share: float
    version: int

    @staticmethod
    def resolve_auditor_ids(found):
        return sorted(found.auditors.values_list("pk", flat=True))


class CaseOut(Schema):
    id: int
    position: int
    case_ref: str
    label: str
    drawn: bool
    auditor_id: int | None
    second_auditor_id: int | None


class AnswerOut(Schema):
    criterion_id: int
    round: str
    answer: str
    note: str
    auditor_id: int
    answered_at: datetime


class KappaOut(Schema):
    n: int
    observed: float
    expected: float
    kappa: float | None
    standard_error: float | None
    interval: list[float] | None
    reading: str


class CriterionKappaOut(Schema):
    criterion_id: int
    number: int
    agreement: KappaOut | None


class AgreementOut(Schema):
    cases: int
    overall: KappaOut | None
    per_criterion: list[CriterionKappaOut]
    disagreements: list[dict]


class ToolIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    place: Place
    topic: Annotated[str, PydanticField(max_length=2000)] = ""
    standard_source: Annotated[str, PydanticField(max_length=300)] = ""
    measure: Annotated[str, PydanticField(max_length=100)] | None = PydanticField(
        None, description="The key of a measure of the library entered by hand or CSV")


class CriterionIn(Body):
    text: Annotated[str, PydanticField(min_length=1, max_length=500)]
    target: Number = PydanticField(description="Expected compliance, 0 to 100 %")
    exceptions: Annotated[str, PydanticField(max_length=2000)] = ""
    guidance: Text = ""
    number: Annotated[int, PydanticField(ge=1, le=999)] | None = None


class AuditPlanIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    place: Place | None = PydanticField(None, description="Whose care is audited; the tool's place when left out")
    period_start: IsoDate
    period_end: IsoDate
    lead_id: Id
    auditor_ids: list[Id] = PydanticField(max_length=50)
    cohort_kind: Literal["view", "ecqm", "list", "manual"] = "manual"
    cohort_source: Annotated[str, PydanticField(max_length=300)] = ""
    expected: Number = 50
    margin: Number = 10
    confidence: Number = 95
    double_share: Number = 10


class DrawIn(Body):
    references: list[Annotated[str, PydanticField(max_length=400)]] = PydanticField(
        [], max_length=100_000, description="A list cohort's references (a tab may separate a label)")


class CaseIn(Body):
    case_ref: Annotated[str, PydanticField(min_length=1, max_length=200)]
    label: Annotated[str, PydanticField(max_length=200)] = ""


class CaseAnswerIn(Body):
    criterion: Id
    answer: str = PydanticField(max_length=20, description="met, not_met or na")
    note: Annotated[str, PydanticField(max_length=1000)] = ""


class AnswersIn(Body):
    round: Literal["first", "second"] = "first"
    answers: list[CaseAnswerIn] = PydanticField(max_length=200)


class EmptyIn(Body):
    version: Version = None


def _people(ids):
    found = {u.pk: u for u in User.objects.filter(pk__in=ids)}
    return [found.get(pk, pk) for pk in ids]


def _place(code):
    return audits.place_from_code(code) if code else None


# --- tools and criteria -------------------------------------------------------------------------

@router.get("/audit-tools", response=documented(list[ToolOut]), summary="Audit tools placed where the caller reads")
@requires("improvement.view")
@paginate(Pages)
def list_tools(request):
    return audits.visible_tools(request.user).order_by("title", "pk")


@router.post("/audit-tools", response=documented(ToolOut, 201), summary="Make an audit tool (AT-NNN)")
@requires("improvement.manage_audits")
def create_tool(request, payload: ToolIn):
    try:
        return Status(201, audits.create_tool(request.user, title=payload.title, place=_place(payload.place),
                                              topic=payload.topic, standard_source=payload.standard_source,
                                              measure=payload.measure))
    except ValidationError as error:
        return refused(error)


@router.get("/audit-tools/{tool_id}", response=documented(ToolOut, not_found=True), summary="One audit tool")
@requires("improvement.view")
def get_tool(request, tool_id: Id):
    return audits.access_tool(request.user, tool_id)


@router.get("/audit-tools/{tool_id}/criteria", response=documented(list[CriterionOut], not_found=True),
            summary="A tool's criteria in order, retired ones included (active false)")
@requires("improvement.view")
def list_criteria(request, tool_id: Id):
    return audits.access_tool(request.user, tool_id).criteria.order_by("number")


@router.post("/audit-tools/{tool_id}/criteria", response=documented(CriterionOut, 201, not_found=True),
             summary="Add a criterion (target 0 to 100 %)")
@requires("improvement.manage_audits")
def add_criterion(request, tool_id: Id, payload: CriterionIn):
    tool = audits.access_tool(request.user, tool_id, "improvement.manage_audits")
    try:
        return Status(201, audits.add_criterion(request.user, tool, **payload.model_dump()))
    except ValidationError as error:
        return refused(error)


@router.put("/audit-tools/{tool_id}/criteria/{criterion_id}", response=documented(CriterionOut, not_found=True),
            summary="Edit a criterion (one already answered keeps its standard and number)")
@requires("improvement.manage_audits")
def edit_criterion(request, tool_id: Id, criterion_id: Id, payload: CriterionIn):
    criterion = audits.access_criterion(request.user, tool_id, criterion_id)
    try:
        return audits.edit_criterion(request.user, criterion, **payload.model_dump())
    except ValidationError as error:
        return refused(error)


@router.post("/audit-tools/{tool_id}/criteria/{criterion_id}/retire", response=documented(list[CriterionOut],
                                                                                         not_found=True),
             summary="Retire a criterion (kept with its answers) or remove one never answered; the tool's criteria")
@requires("improvement.manage_audits")
def retire_criterion(request, tool_id: Id, criterion_id: Id):
    criterion = audits.access_criterion(request.user, tool_id, criterion_id)
    try:
        audits.retire_criterion(request.user, criterion)
    except ValidationError as error:
        return refused(error)
    return criterion.tool.criteria.order_by("number")


# --- audits, the draw and the cases -------------------------------------------------------------

@router.get("/audits", response=documented(list[AuditOut]), summary="Audits the caller is named on or may read")
@requires("improvement.use_audits")
@paginate(Pages)
def list_audits(request, stage: Literal["plan", "collect", "analyse", "act", "closed"] | None = None):
    found = audits.visible_audits(request.user).prefetch_related("auditors")
    return (found.filter(stage=stage) if stage else found).order_by("-planned_on", "-pk")


@router.post("/audit-tools/{tool_id}/audits", response=documented(AuditOut, 201, not_found=True),
             summary="Plan an audit of a tool (AUD-<year>-NNN) with its sample size")
@requires("improvement.manage_audits")
def plan_audit(request, tool_id: Id, payload: AuditPlanIn):
    tool = audits.access_tool(request.user, tool_id)
    data = payload.model_dump()
    try:
        return Status(201, audits.plan_audit(
            request.user, tool, title=data["title"], place=_place(data["place"]), period_start=data["period_start"],
            period_end=data["period_end"], lead=User.objects.filter(pk=data["lead_id"]).first(),
            auditors=_people(data["auditor_ids"]), cohort_kind=data["cohort_kind"],
            cohort_source=data["cohort_source"], expected=data["expected"], margin=data["margin"],
            confidence=data["confidence"], double_share=data["double_share"]))
    except ValidationError as error:
        return refused(error)


@router.get("/audits/{audit_id}", response=documented(AuditOut, not_found=True), summary="One audit")
@requires("improvement.use_audits")
def get_audit(request, audit_id: Id):
    return audits.access_audit(request.user, audit_id)


@router.post("/audits/{audit_id}/draw", response=documented(list[CaseOut], not_found=True),
             summary="Draw the sample from the cohort (a list cohort: its references); once only")
@requires("improvement.use_audits")
def draw_sample(request, audit_id: Id, payload: DrawIn):
    found = audits.access_audit(request.user, audit_id, "improvement.run_audit")
    try:
        return sampling.draw_sample(request.user, found, text="\n".join(payload.references))
    except ValidationError as error:
        return refused(error)


@router.get("/audits/{audit_id}/cases", response=documented(list[CaseOut], not_found=True),
            summary="The audit's cases (they name patients: the reading is recorded)")
@requires("improvement.use_audits")
def list_cases(request, audit_id: Id):
    found = audits.access_audit(request.user, audit_id, "improvement.read_audit_cases")
    return list(sampling.read_cases(request.user, found))


@router.post("/audits/{audit_id}/cases", response=documented(CaseOut, 201, not_found=True),
             summary="Add a case by hand (refused when it is already in the audit)")
@requires("improvement.use_audits")
def add_case(request, audit_id: Id, payload: CaseIn):
    found = audits.access_audit(request.user, audit_id, "improvement.run_audit")
    try:
        return Status(201, sampling.add_case(request.user, found, case_ref=payload.case_ref, label=payload.label))
    except ValidationError as error:
        return refused(error)


@router.post("/audits/{audit_id}/collect", response=documented(AuditOut, not_found=True),
             summary="Plan → collect: auditors and the double-audit cases are given out")
@requires("improvement.use_audits")
def start_collection(request, audit_id: Id, payload: EmptyIn):
    found = audits.access_audit(request.user, audit_id, "improvement.run_audit")
    try:
        return sampling.start_collection(request.user, found)
    except ValidationError as error:
        return refused(error)


# --- answers and agreement ----------------------------------------------------------------------

def _case(request, audit_id, case_id, capability="improvement.answer_audit"):
    found = audits.access_audit(request.user, audit_id, capability)
    return found, get_object_or_404(AuditCase, pk=case_id, audit=found)


@router.get("/audits/{audit_id}/cases/{case_id}/answers", response=documented(list[AnswerOut], not_found=True),
            summary="One round's answers of a case (the second auditor never reads the first round)")
@requires("improvement.use_audits")
def get_answers(request, audit_id: Id, case_id: Id, round: Literal["first", "second"] = "first"):  # noqa: A002
    found, case = _case(request, audit_id, case_id, "improvement.view_audit")  # answers_of decides who reads
    return sorted(entry.answers_of(request.user, found, case, round).values(), key=lambda a: a.criterion_id)


@router.put("/audits/{audit_id}/cases/{case_id}/answers", response=documented(list[AnswerOut], not_found=True),
            summary="Answer every active criterion of a case for one round (saving again edits the answers)")
@requires("improvement.use_audits")
def record_answers(request, audit_id: Id, case_id: Id, payload: AnswersIn):
    found, case = _case(request, audit_id, case_id)
    try:
        return entry.record_answers(request.user, found, case, [a.model_dump() for a in payload.answers],
                                    payload.round)
    except ValidationError as error:
        return refused(error)


def _kappa(result):
    if result is None:
        return None
    return {"n": result.n, "observed": result.observed, "expected": result.expected, "kappa": result.kappa,
            "standard_error": result.standard_error, "interval": list(result.interval) if result.interval else None,
            "reading": result.reading}


@router.get("/audits/{audit_id}/agreement", response=documented(AgreementOut, not_found=True),
            summary="Cohen's kappa over the double-audited cases, per criterion and overall; the disagreements "
                    "for those who run the audit")
@requires("improvement.use_audits")
def get_agreement(request, audit_id: Id):
    found = audits.access_audit(request.user, audit_id)
    result = entry.agreement(request.user, found)
    return {"cases": result.cases, "overall": _kappa(result.overall),
            "per_criterion": [{"criterion_id": row.criterion.pk, "number": row.criterion.number,
                               "agreement": _kappa(row.result)} for row in result.per_criterion],
            "disagreements": [{"case_id": d["case"].pk, "position": d["case"].position,
                               "criterion": d["criterion"].number, "first": d["first"].answer,
                               "second": d["second"].answer} for d in result.disagreements]}
