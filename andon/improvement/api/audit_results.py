"""The improvement API: a clinical audit's results (compliance per criterion with its Wilson
interval against the target), the re-audit's comparison with the audit before it, the cycle
(stages, the re-audit), findings that open actions, the results sent to the measure, and the
report as a PDF; under the same policy and services as the results page."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from ninja import Schema, Status
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Version, documented, refused
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import audits, cycle, report, results
from .audits import AuditOut

router = NamedRouter("andon_improvement_api_audit_results_")

Share = Annotated[float | None, PydanticField(description="A share from 0 to 1; null without applicable cases")]


class CriterionResultOut(Schema):
    criterion_id: int
    number: int
    text: str
    active: bool
    n: int = PydanticField(description="Applicable cases: met + not met")
    met: int
    not_met: int
    not_applicable: int
    unanswered: int
    compliance: Share
    wilson_low: Share
    wilson_high: Share
    target: float = PydanticField(description="The criterion's target as a share from 0 to 1 (90 % is 0.9)")
    reading: Literal["meets", "below", "cannot_tell", "no_cases"]
    reading_words: str
    short_of_target: bool = PydanticField(description="Compliance under the target: a finding may be raised")


class OverallOut(Schema):
    met_all: int = PydanticField(description="Cases meeting every criterion applicable to them")
    applicable: int = PydanticField(description="Complete cases with at least one applicable criterion")
    complete: int = PydanticField(description="Cases answered for every criterion")
    cases: int
    compliance: Share
    wilson_low: Share
    wilson_high: Share


class ResultsOut(Schema):
    audit_id: int
    reference: str
    stage: str
    answered: int = PydanticField(description="Cases answered for every active criterion")
    sampled: int = PydanticField(description="Cases in the sample (its planned size when larger)")
    confidence: float
    criteria: list[CriterionResultOut]
    overall: OverallOut


class ComparedOut(Schema):
    number: int = PydanticField(description="The criterion's number; 0 for the overall compliance")
    text: str
    met_before: int
    n_before: int
    met_after: int
    n_after: int
    p1: Share = PydanticField(description="Compliance in the audit re-audited")
    p2: Share = PydanticField(description="Compliance in this re-audit")
    difference: float | None = PydanticField(description="p2 − p1")
    newcombe_low: float | None
    newcombe_high: float | None
    fisher_p: float | None = PydanticField(description="Fisher's exact test, two-sided")
    test_words: str
    verdict: Literal["improved", "worse", "no_change", "no_cases"]
    verdict_words: str
    verdict_note: str


class ReAuditComparisonOut(Schema):
    previous_id: int | None = PydanticField(description="The audit this one re-audits; null (and nothing "
                                                        "compared) when it re-audits none")
    previous_reference: str | None
    criteria: list[ComparedOut]
    overall: ComparedOut | None


class AuditCycleOut(AuditOut):
    analyse_from: date | None
    act_from: date | None
    closed_on: date | None
    re_audit_due: date | None
    analysed_cases: int | None
    partial_reason: str
    reopen_reason: str
    sent_to_measure_at: datetime | None


class StageOut(Schema):
    audit: AuditCycleOut
    note: str = PydanticField(description="What else happened (the count sent to the measure on reaching act)")


class AuditActionOut(Schema):
    id: int
    title: str
    description: str
    source_label: str
    unit_id: int
    owner_id: int
    due_date: date
    strength: str
    measure: str
    status: str


class SentOut(Schema):
    measure: str = PydanticField(description="The measure's key")
    unit_id: int
    month: date
    numerator: float
    denominator: float
    replaced: bool = PydanticField(description="It replaced the count this audit had sent before")


class StageIn(Body):
    stage: Literal["plan", "collect", "analyse", "act", "closed"] = PydanticField(
        description="The next stage, or analyse from act (the lead, with a reason)")
    reason: Annotated[str, PydanticField(max_length=cycle.REASON_MAX)] = PydanticField(
        "", description="Why the analysis is reopened, or why it is made with part of the sample")
    with_cases: Annotated[int, PydanticField(ge=0, le=1_000_000)] | None = PydanticField(
        None, description="Analyse with this many answered cases of the sample (the number seen)")
    version: Version = None


class ReAuditIn(Body):
    period_start: IsoDate | None = PydanticField(None, description="By default the day after the audit's period")
    period_end: IsoDate | None = PydanticField(None, description="By default a period as long as the audit's")


class FindingIn(Body):
    title: Annotated[str, PydanticField(max_length=150)] = PydanticField(
        "", description="What will be done; the criterion's text when left empty")
    owner_id: Id
    due_date: IsoDate
    strength: Literal["stronger", "intermediate", "weaker"]
    measure: Annotated[str, PydanticField(min_length=1, max_length=2000)] = PydanticField(
        description="How you will know it worked: the re-audit, for one")
    description: Annotated[str, PydanticField(max_length=4000)] = PydanticField(
        "", description="By default the criterion's counts against its target")
    unit_id: Id | None = PydanticField(None, description="Only for an audit that sits in no unit: the unit that acts")


# --- helpers ------------------------------------------------------------------------------------

def _criterion_row(row: results.CriterionResult) -> dict:
    return {"criterion_id": row.criterion.pk, "number": row.criterion.number, "text": row.criterion.text,
            "active": row.criterion.active, "n": row.n, "met": row.met, "not_met": row.not_met,
            "not_applicable": row.not_applicable, "unanswered": row.unanswered, "compliance": row.compliance,
            "wilson_low": row.low, "wilson_high": row.high, "target": row.target, "reading": row.reading,
            "reading_words": row.reading_words, "short_of_target": row.short_of_target}


def _compared_row(row: results.CriterionComparison) -> dict:
    (x1, n1), (x2, n2) = row.counts_before, row.counts_after
    d = row.difference
    return {"number": row.number, "text": row.text, "met_before": x1, "n_before": n1, "met_after": x2,
            "n_after": n2, "p1": x1 / n1 if n1 else None, "p2": x2 / n2 if n2 else None,
            "difference": d and d.difference, "newcombe_low": d and d.low, "newcombe_high": d and d.high,
            "fisher_p": row.fisher and row.fisher.p_value, "test_words": row.test_words, "verdict": row.verdict,
            "verdict_words": row.verdict_words, "verdict_note": row.verdict_note}


def _renamed(error: ValidationError, names: dict) -> ValidationError:
    """A service's error on `owner` or `unit` named as the body's field (`owner_id`, `unit_id`)."""
    if not hasattr(error, "error_dict"):
        return error
    return ValidationError({names.get(field, field): problems for field, problems in error.message_dict.items()})


# --- results and the comparison -----------------------------------------------------------------

@router.get("/audits/{audit_id}/results", response=documented(ResultsOut, not_found=True),
            summary="Compliance per criterion (first-round answers) with its 95 % Wilson interval against the "
                    "target, and overall")
@requires("improvement.use_audits")
def get_results(request, audit_id: Id):
    found = audits.access_audit(request.user, audit_id)
    shown = results.audit_results(found)
    done, sampled = cycle.cases_answered(found)
    overall = shown.overall
    return {"audit_id": found.pk, "reference": found.reference, "stage": found.stage, "answered": done,
            "sampled": sampled, "confidence": results.CONFIDENCE,
            "criteria": [_criterion_row(row) for row in shown.criteria],
            "overall": {"met_all": overall.met_all, "applicable": overall.applicable, "complete": overall.complete,
                        "cases": overall.cases, "compliance": overall.compliance, "wilson_low": overall.low,
                        "wilson_high": overall.high}}


@router.get("/audits/{audit_id}/comparison", response=documented(ReAuditComparisonOut, not_found=True),
            summary="The re-audit against the audit before it: the difference with Newcombe's 95 % interval and "
                    "Fisher's exact test, per criterion (by number) and overall")
@requires("improvement.use_audits")
def get_comparison(request, audit_id: Id):
    found = audits.access_audit(request.user, audit_id)
    compared = results.compare_with_previous(found)
    if compared is None:
        return {"previous_id": None, "previous_reference": None, "criteria": [], "overall": None}
    return {"previous_id": compared.previous.pk, "previous_reference": compared.previous.reference,
            "criteria": [_compared_row(row) for row in compared.criteria], "overall": _compared_row(compared.overall)}


# --- the cycle ----------------------------------------------------------------------------------

@router.post("/audits/{audit_id}/stage", response=documented(StageOut, not_found=True, versioned=True),
             summary="Move the audit to its next stage (analyse with part of the sample: with_cases and a reason), "
                     "or back from act to analyse (its lead, with a reason)")
@requires("improvement.use_audits")
def change_stage(request, audit_id: Id, payload: StageIn):
    found = audits.access_audit(request.user, audit_id, "improvement.run_audit")
    try:
        moved = cycle.advance(request.user, found, payload.stage, reason=payload.reason,
                              with_cases=payload.with_cases, version=payload.version)
    except ValidationError as error:
        return refused(error)
    return {"audit": moved.audit, "note": moved.note}


@router.post("/audits/{audit_id}/re-audit", response=documented(AuditCycleOut, 201, not_found=True),
             summary="Plan the re-audit of an audit in act or closed: the same tool, place, people and sample "
                     "parameters, over a later period")
@requires("improvement.use_audits")
def plan_re_audit(request, audit_id: Id, payload: ReAuditIn):
    found = audits.access_audit(request.user, audit_id, "improvement.run_audit")
    try:
        return Status(201, cycle.plan_re_audit(request.user, found, period_start=payload.period_start,
                                               period_end=payload.period_end))
    except ValidationError as error:
        return refused(error)


# --- findings and actions -----------------------------------------------------------------------

@router.post("/audits/{audit_id}/criteria/{criterion_id}/findings",
             response=documented(AuditActionOut, 201, not_found=True),
             summary="Raise a finding on a criterion short of its target: an action in the shared tracker with the "
                     "audit as its source (in analyse or act)")
@requires("improvement.use_audits")
def raise_finding(request, audit_id: Id, criterion_id: Id, payload: FindingIn):
    found = audits.access_audit(request.user, audit_id, "improvement.run_audit")
    criterion = found.tool.criteria.filter(pk=criterion_id).first()
    if criterion is None:
        raise Http404("no such criterion in this audit's tool")
    try:
        owner = results.finding_owners(found).filter(pk=payload.owner_id).first()
        if owner is None:
            raise ValidationError({"owner_id": f"Person {payload.owner_id} is not active staff of "
                                               f"{found.organisation}, where the audit was done."})
        unit = Unit.objects.select_related("facility").filter(pk=payload.unit_id).first() if payload.unit_id else None
        if payload.unit_id and unit is None:
            raise ValidationError({"unit_id": f"There is no unit {payload.unit_id}."})
        action = results.raise_finding(request.user, found, criterion, owner=owner, title=payload.title,
                                       due_date=payload.due_date, strength=payload.strength, measure=payload.measure,
                                       description=payload.description, unit=unit)
    except ValidationError as error:
        return refused(_renamed(error, {"owner": "owner_id", "unit": "unit_id"}))
    return Status(201, action)


@router.get("/audits/{audit_id}/actions", response=documented(list[AuditActionOut], not_found=True),
            summary="The actions raised from the audit that the caller may see, soonest due first")
@requires("improvement.use_audits")
def list_actions(request, audit_id: Id):
    return list(results.audit_actions(request.user, audits.access_audit(request.user, audit_id)))


# --- the measure and the report -----------------------------------------------------------------

@router.post("/audits/{audit_id}/measure", response=documented(SentOut, not_found=True),
             summary="Send the overall compliance to the tool's measure, as the count of the audit's unit for the "
                     "month its period ends (sent again, it replaces its own count)")
@requires("improvement.use_audits")
def send_to_measure(request, audit_id: Id):
    found = audits.access_audit(request.user, audit_id, "improvement.run_audit")
    try:
        count, replaced = results.send_to_measure(request.user, found)
    except ValidationError as error:
        return refused(error)
    return {"measure": found.tool.measure.key, "unit_id": count.unit_id, "month": count.month,
            "numerator": count.numerator, "denominator": count.denominator, "replaced": replaced}


@router.get("/audits/{audit_id}/report", response=documented(bytes, not_found=True),
            summary="The audit report as a PDF (an attachment): results, chart, comparison, cycle and findings")
@requires("improvement.use_audits")
def get_report(request, audit_id: Id):
    found = audits.access_audit(request.user, audit_id)
    response = HttpResponse(report.report_pdf(request.user, found), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.report_filename(found)}"'
    return response
