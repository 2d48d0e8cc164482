"""Safety events over the REST API, under the same policy and services as the pages.

Reporting through the API is always named (a token identifies its owner); anonymous reports
are made through the pages, and anonymous follow-up uses the receipt page. Drafts, attachments
and the SVG pictures (fishbone, Pareto) also stay page-only: the JSON carries the same findings
and counts, and an import with problems is accepted by sending the file again with
`accept_valid` rather than through the page's kept copy.

The reporter reads their own reports under /my-reports (feedback without the analysis, as on
the My reports page). Opening an event, its root cause analysis or one's own report, and each
conduct concern listed, are checked and audited as on the pages; /analysis returns aggregates
only (board members read it), and /export is the page's de-identified CSV.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from andon.platform.api_kit import IsoDate, MappedQuery, Pages, documented, refused
from andon.platform import audit, permissions
from andon.platform.exports import streaming_csv
from andon.platform.permissions import requires

from . import analysis, imports, services, taxonomy
from .models import ConductConcern, Kind, Review, SafetyEvent
from .models import Status as EventStatus

router = Router(tags=["safety"])

Text = Annotated[str, PydanticField(max_length=10_000)]


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal[tuple(Kind.values)]  # type: ignore[valid-type]
    category: Annotated[str, PydanticField(max_length=40)]
    unit_id: int
    occurred_at: datetime
    narrative: Text
    harm: Annotated[str, PydanticField(max_length=20)] = ""
    details: dict[str, str | int | bool] = {}
    immediate_action: Annotated[str, PydanticField(max_length=2000)] = ""
    share_identity: bool = False


class TriageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Annotated[str, PydanticField(max_length=40)]
    harm: Annotated[str, PydanticField(max_length=20)] = ""
    sac_severity: Literal["catastrophic", "major", "moderate", "minor"]
    sac_probability: Literal["frequent", "occasional", "uncommon", "remote"]
    sentinel: bool = False
    review: Literal[tuple(Review.values)]  # type: ignore[valid-type]
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["plan_actions", "close", "reopen"]
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    closing_summary: Annotated[str, PydanticField(max_length=4000)] = ""


class ConcernIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: int
    about: Annotated[str, PydanticField(min_length=1, max_length=200)]
    narrative: Annotated[str, PydanticField(min_length=1, max_length=10_000)]


class EventSummaryOut(Schema):
    id: int
    reference: str
    kind: str
    category: str
    unit_id: int
    unit: str
    status: str
    harm: str
    sac_score: int | None
    is_sentinel: bool
    reported_at: datetime
    rca_complete_due: datetime | None


class MessageOut(Schema):
    text: str
    is_closing_summary: bool
    created_at: datetime


class TransitionOut(Schema):
    source: str
    target: str
    by: str
    at: datetime
    reason: str


class EventOut(EventSummaryOut):
    occurred_at: datetime
    narrative: str
    immediate_action: str
    details: dict
    is_anonymous: bool
    reporter: str | None
    sac_scheme: str
    sac_severity: str
    sac_probability: str
    review: str
    rca_start_due: datetime | None
    closing_summary: str
    transitions: list[TransitionOut]
    messages: list[MessageOut]


class FeedbackShareOut(Schema):
    met: int
    judged: int
    share: float | None
    days: int


class ConcernOut(Schema):
    id: int
    unit_id: int
    about: str
    raised_at: datetime


def _summary(event: SafetyEvent) -> dict:
    return {
        "id": event.pk, "reference": event.reference, "kind": event.kind, "category": event.category,
        "unit_id": event.unit_id, "unit": event.unit.name, "status": event.status, "harm": event.harm,
        "sac_score": event.sac_score, "is_sentinel": event.is_sentinel, "reported_at": event.reported_at,
        "rca_complete_due": event.rca_complete_due,
    }


def _detail(user, event: SafetyEvent) -> dict:
    reporter = None
    if permissions.can(user, "safety.see_reporter", event):
        reporter = event.reporter.get_full_name() or event.reporter.username
    return {
        **_summary(event), "occurred_at": event.occurred_at, "narrative": event.narrative,
        "immediate_action": event.immediate_action, "details": event.details, "is_anonymous": event.is_anonymous,
        "reporter": reporter, "sac_scheme": event.sac_scheme, "sac_severity": event.sac_severity,
        "sac_probability": event.sac_probability, "review": event.review, "rca_start_due": event.rca_start_due,
        "closing_summary": event.closing_summary,
        "transitions": [
            {"source": t.source, "target": t.target, "by": str(t.by) if t.by else "", "at": t.at, "reason": t.reason}
            for t in event.transitions.select_related("by")
        ],
        "messages": list(event.reporter_messages.values("text", "is_closing_summary", "created_at")),
    }


@router.post("/events", response=documented(EventOut, 201), summary="Report a safety event (named)")
@requires("safety.report")
def report(request, payload: ReportIn):
    try:
        taxonomy.current()
        event, _ = services.submit_report(request.user, services.Report(
            kind=payload.kind, category=payload.category, unit_id=payload.unit_id, occurred_at=payload.occurred_at,
            narrative=payload.narrative, harm=payload.harm, details=payload.details,
            immediate_action=payload.immediate_action, share_identity=payload.share_identity,
        ))
    except taxonomy.TaxonomyMissing as missing:
        raise HttpError(400, str(missing)) from None
    except ValidationError as error:
        return refused(error)
    return Status(201, _detail(request.user, event))


@router.get("/events", response=documented(list[EventSummaryOut]),
            summary="Events in the caller's scope (a reporter's own reports are under /my-reports)")
@requires("safety.report")
@paginate(Pages)
def events(request, status: Literal[tuple(EventStatus.values)] | None = None,  # type: ignore[valid-type]
           category: str | None = None, unit_id: int | None = None):
    # Triage results (SAC, sentinel, review) are not the reporter's to read: their own reports
    # are listed under /my-reports, with the feedback.
    found = services.events_visible_to(request.user, own=False).order_by("-reported_at", "-pk")
    if status:
        found = found.filter(status=status)
    if category:
        found = found.filter(category=category)
    if unit_id:
        found = found.filter(unit_id=unit_id)
    return MappedQuery(found, _summary)


@router.get("/events/{event_id}", response=documented(EventOut, not_found=True), summary="One event (the read is audited)")
@requires("safety.report")
def event(request, event_id: int):
    found = get_object_or_404(SafetyEvent.objects.select_related("unit", "reporter"), pk=event_id)
    if found.reporter_id == request.user.pk and not permissions.can(request.user, "safety.view_events", found):
        # As on the pages: the reporter reads feedback, not the triage and the analysis.
        raise HttpError(403, f"Read your own report at /api/v1/safety/my-reports/{found.pk}.")
    services.open_event(request.user, found, reason="read through the API")
    return _detail(request.user, found)


@router.get("/triage-queue", response=documented(list[EventSummaryOut]), summary="Events waiting for triage")
@requires("safety.triage")
@paginate(Pages)
def triage_queue(request):
    return MappedQuery(services.triage_queue(request.user), _summary)


@router.post("/events/{event_id}/triage", response=documented(EventOut, not_found=True), summary="Triage an event")
@requires("safety.triage")
def triage(request, event_id: int, payload: TriageIn):
    found = get_object_or_404(SafetyEvent, pk=event_id)
    try:
        updated = services.triage(request.user, found, services.Triage(**payload.model_dump()))
    except ValidationError as error:
        return refused(error)
    return _detail(request.user, updated)


@router.post("/events/{event_id}/moves", response=documented(EventOut, not_found=True),
             summary="Move an event along the workflow")
@requires("safety.manage_workflow")
def move(request, event_id: int, payload: MoveIn):
    found = get_object_or_404(SafetyEvent, pk=event_id)
    try:
        updated = services.move(request.user, found, payload.action, payload.reason, payload.closing_summary)
    except ValidationError as error:
        return refused(error)
    return _detail(request.user, updated)


@router.get("/feedback-share", response=documented(FeedbackShareOut),
            summary="Share of reports with feedback to the reporter within the window")
@requires("safety.view_feedback_stats")
def feedback_share(request):
    from django.conf import settings

    units = permissions.units_where(request.user, "safety.view_feedback_stats")
    met, judged = services.feedback_share(SafetyEvent.objects.filter(unit__in=units))
    return {"met": met, "judged": judged, "share": met / judged if judged else None,
            "days": settings.ANDON_FEEDBACK_DAYS}


@router.post("/conduct-concerns", response=documented(ConcernOut, 201),
             summary="Raise a concern about an individual's conduct (not a safety event)")
@requires("safety.raise_conduct_concern")
def conduct_concern(request, payload: ConcernIn):
    try:
        concern = services.raise_conduct_concern(request.user, **payload.model_dump())
    except ValidationError as error:
        return refused(error)
    return Status(201, concern)


# --- shared pieces of the endpoints below -------------------------------------------------------

Id = Annotated[int, PydanticField(ge=1, le=2**63 - 1)]


class Body(BaseModel):
    # Plain pydantic: unknown fields and non-object bodies are refused, not ignored.
    model_config = ConfigDict(extra="forbid")


def _current_taxonomy():
    try:
        return taxonomy.current()
    except taxonomy.TaxonomyMissing:
        return None


def _taxonomy_needed():
    try:
        return taxonomy.current()
    except taxonomy.TaxonomyMissing as missing:
        raise HttpError(400, str(missing)) from None


# --- the reporter's own reports -----------------------------------------------------------------

class MyReportSummaryOut(Schema):
    id: int
    reference: str
    kind: str
    category: str
    category_label: str
    status: str
    status_label: str
    reported_at: datetime
    feedback_count: int
    last_feedback_at: datetime | None


class LabelledValueOut(Schema):
    label: str
    value: str


class MyReportOut(Schema):
    id: int
    reference: str
    kind: str
    kind_label: str
    category: str
    category_label: str
    unit_id: int
    unit: str
    facility: str
    occurred_at: datetime
    reported_at: datetime
    harm: str
    harm_label: str
    details: list[LabelledValueOut]
    narrative: str
    immediate_action: str
    status: str
    status_label: str
    shares_identity: bool
    feedback: list[MessageOut]
    attachments: list[str]


@router.get("/my-reports", response=documented(list[MyReportSummaryOut]),
            summary="The caller's own named reports, newest first")
@requires("safety.report")
@paginate(Pages)
def my_reports(request):
    user, tax = request.user, _current_taxonomy()
    found = (services.events_visible_to(user).filter(reporter=user)
             .annotate(last_feedback_at=Max("reporter_messages__created_at"),
                       feedback_count=Count("reporter_messages"))
             .order_by("-reported_at", "-pk"))

    def row(event):
        return {
            "id": event.pk, "reference": event.reference, "kind": event.kind, "category": event.category,
            "category_label": tax.category_label(event.category) if tax else event.category,
            "status": event.status, "status_label": services.REPORTER_STATUS.get(event.status, event.get_status_display()),
            "reported_at": event.reported_at, "feedback_count": event.feedback_count,
            "last_feedback_at": event.last_feedback_at,
        }

    return MappedQuery(found, row)


@router.get("/my-reports/{event_id}", response=documented(MyReportOut, not_found=True),
            summary="One of the caller's own reports and its feedback, without the analysis (the read is audited)")
@requires("safety.report")
def my_report(request, event_id: int):
    # The same query and audit as the My reports page: someone else's report is not found.
    event = get_object_or_404(SafetyEvent.objects.select_related("unit", "unit__facility"),
                              pk=event_id, reporter=request.user)
    services.open_event(request.user, event, reason="reporter read own report")
    shown = services.reporter_view(event)  # as on the My reports page
    return {
        "id": event.pk, "reference": event.reference, "kind": event.kind, "kind_label": shown["kind_label"],
        "category": event.category, "category_label": shown["category_label"], "unit_id": event.unit_id,
        "unit": event.unit.name, "facility": event.unit.facility.name, "occurred_at": event.occurred_at,
        "reported_at": event.reported_at, "harm": event.harm, "harm_label": shown["harm_label"],
        "details": [{"label": label, "value": value} for label, value in shown["details"]],
        "narrative": event.narrative, "immediate_action": event.immediate_action, "status": event.status,
        "status_label": shown["status_label"], "shares_identity": event.reporter_shares_identity,
        "feedback": [{"text": m.text, "is_closing_summary": m.is_closing_summary, "created_at": m.created_at}
                     for m in shown["feedback"]],
        "attachments": shown["attachment_names"],
    }


# --- analysis, export and import ----------------------------------------------------------------

class ParetoRowOut(Schema):
    label: str
    count: int
    cumulative: int
    cumulative_percent: float


class CountOut(Schema):
    label: str
    count: int


class MonthOut(Schema):
    month: str = PydanticField(description="YYYY-MM (UTC)")
    count: int


class FactorRowOut(ParetoRowOut):
    investigations: int


class FactorSummaryOut(Schema):
    investigations: int
    completed: int
    factors: int
    rows: list[FactorRowOut]


class FiltersOut(Schema):
    from_: date | None = PydanticField(alias="from")
    to: date | None
    facility: int | None
    unit: int | None
    described: str


class AnalysisOut(Schema):
    filters: FiltersOut
    total_reports: int
    safety_events: int
    categories: list[ParetoRowOut]
    harm: list[CountOut]
    units: list[CountOut]
    months: list[MonthOut]
    kinds: list[CountOut]
    factors: FactorSummaryOut


PROBLEMS_SHOWN = 1000  # as on the import page


class ImportProblemOut(Schema):
    row: int = PydanticField(description="The row of the file; the header is row 1")
    field: str
    reason: str


class ImportOut(Schema):
    rows: int = PydanticField(description="Rows of events checked")
    stored: int
    invalid_rows: int
    problem_count: int
    problems: list[ImportProblemOut] = PydanticField(description=f"The first {PROBLEMS_SHOWN:,} problems")


class ConcernListOut(Schema):
    id: int
    unit_id: int
    unit: str
    facility: str
    about: str
    narrative: str
    state: str
    raised_by: str
    raised_at: datetime


class _WrongFilters(Exception):
    def __init__(self, problems):
        self.problems = problems


def _filters(user, capability, since, until, facility, unit) -> analysis.Filters:
    """The analysis filters, limited to the caller's scope for `capability` (as on the pages)."""
    facilities, units = analysis.filter_choices(user, capability)
    problems = []
    chosen_facility = chosen_unit = None
    if facility is not None:
        chosen_facility = facilities.filter(pk=facility).first()
        if chosen_facility is None:
            problems.append(("facility", "Not a facility in your scope."))
    if unit is not None:
        chosen_unit = units.filter(pk=unit).first()
        if chosen_unit is None:
            problems.append(("unit", "Not a unit in your scope."))
    if since and until and since > until:
        problems.append(("to", "The end comes before the start."))
    if problems:
        raise _WrongFilters(problems)
    return analysis.Filters(since=since, until=until, facility=chosen_facility, unit=chosen_unit)


def _wrong_filters(error: _WrongFilters):
    return Status(422, {"detail": [{"loc": ["query", name], "msg": message, "type": "value_error"}
                                   for name, message in error.problems]})


# The same query parameters as the analysis page's filter form.
SINCE = Query(None, alias="from", description="First day (UTC), inclusive")
UNTIL = Query(None, alias="to", description="Last day (UTC), inclusive")
FACILITY = Query(None, description="A facility in the caller's scope")
UNIT = Query(None, description="A unit in the caller's scope (with the units below it)")


@router.get("/analysis", response=documented(AnalysisOut), by_alias=True,
            summary="Counts of safety events by category (Pareto), harm, unit, month and kind, and contributing "
                    "factors (aggregates only)")
@requires("safety.view_aggregates")
def analysis_counts(request, since: IsoDate | None = SINCE, until: IsoDate | None = UNTIL,
                    facility: Id | None = FACILITY, unit: Id | None = UNIT):
    try:
        filters = _filters(request.user, analysis.AGGREGATES, since, until, facility, unit)
    except _WrongFilters as error:
        return _wrong_filters(error)
    _taxonomy_needed()
    found = analysis.analyse(request.user, filters)
    summary, factors = found.summary, found.factors
    return {
        "filters": {"from": filters.since, "to": filters.until,
                    "facility": filters.facility.pk if filters.facility else None,
                    "unit": filters.unit.pk if filters.unit else None, "described": analysis.describe(filters)},
        "total_reports": summary.total_reports, "safety_events": summary.safety_events,
        "categories": [_pareto_row(row) for row in summary.categories],
        "harm": [{"label": label, "count": count} for label, count in summary.harm],
        "units": [{"label": label, "count": count} for label, count in summary.units],
        "months": [{"month": f"{month:%Y-%m}", "count": count} for month, count in summary.months],
        "kinds": [{"label": label, "count": count} for label, count in summary.kinds],
        "factors": {"investigations": factors.investigations, "completed": factors.completed,
                    "factors": factors.factors,
                    "rows": [{**_pareto_row(row), "investigations": row.investigations} for row in factors.rows]},
    }


def _pareto_row(row) -> dict:
    return {"label": row.label, "count": row.count, "cumulative": row.cumulative,
            "cumulative_percent": row.cumulative_percent}


CSV_RESPONSE = {"responses": {200: {
    "description": "De-identified CSV (no reporter), one event a row; formulas defused",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}}}


@router.get("/export", response={code: out for code, out in documented(None).items() if code != 200},  # the refusals
            openapi_extra=CSV_RESPONSE, summary="De-identified CSV of the events in scope (the export is audited)")
@requires("safety.export_events")
def export_events(request, since: IsoDate | None = SINCE, until: IsoDate | None = UNTIL,
                  facility: Id | None = FACILITY, unit: Id | None = UNIT):
    # As the page's export: the filters in the export scope, record_export, spreadsheet-safe cells.
    try:
        filters = _filters(request.user, analysis.EXPORT, since, until, facility, unit)
    except _WrongFilters as error:
        return _wrong_filters(error)
    tax = _taxonomy_needed()
    count, events = analysis.record_export(request.user, filters)
    return streaming_csv(analysis.EXPORT_COLUMNS, analysis.export_rows(events, tax), analysis.export_filename(),
                         count=count)


@router.post("/imports", response=documented(ImportOut),
             summary="Import historical events from CSV: every row is checked; nothing is stored from a file with "
                     "problems unless accept_valid is true (then only its valid rows)")
@requires("safety.import_events")
def import_events(request, file: File[UploadedFile], accept_valid: Form[bool] = False):
    try:
        if file.size > imports.MAX_BYTES:
            raise imports.ImportFileError(
                f"The file is larger than {imports.MAX_BYTES // (1024 * 1024)} MB ({file.size:,} bytes).")
        _taxonomy_needed()
        outcome = imports.import_file(request.user, file.read(), accept_valid=accept_valid)
    except imports.ImportFileError as problem:
        return refused(ValidationError({"file": str(problem)}))
    checked = outcome.checked
    return {
        "rows": checked.rows, "stored": len(outcome.stored), "invalid_rows": checked.invalid_rows,
        "problem_count": len(checked.problems),
        "problems": [{"row": p.row, "field": p.field, "reason": p.reason} for p in checked.problems[:PROBLEMS_SHOWN]],
    }


# --- conduct concerns ---------------------------------------------------------------------------

@router.get("/conduct-concerns", response=documented(list[ConcernListOut]),
            summary="Conduct concerns in the caller's units, newest first (each one listed is recorded as read)")
@requires("safety.review_conduct_concerns")
@paginate(Pages)
def conduct_concerns(request):
    user = request.user
    units = permissions.units_where(user, "safety.review_conduct_concerns")
    concerns = (ConductConcern.objects.filter(unit__in=units).select_related("raised_by", "unit", "unit__facility")
                .order_by("-raised_at", "-pk"))

    def row(concern):
        # As the page: every concern shown is recorded as read, and only those shown.
        audit.record_read(concern, actor=user, reason="conduct concern list")
        return {"id": concern.pk, "unit_id": concern.unit_id, "unit": concern.unit.name,
                "facility": concern.unit.facility.name, "about": concern.about, "narrative": concern.narrative,
                "state": concern.state, "raised_by": concern.raised_by.get_full_name() or concern.raised_by.username,
                "raised_at": concern.raised_at}

    return MappedQuery(concerns, row)


# The root cause analysis endpoints (api_rca.py) join this router.
from . import api_rca  # noqa: E402,F401
