"""Safety events over the REST API, under the same policy and services as the pages.

Reporting through the API is always named (a token identifies its owner); anonymous reports
are made through the pages, and anonymous follow-up uses the receipt page.
"""

from datetime import datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField

from andon.api.common import MappedQuery, Pages, documented, refused
from andon.platform import permissions
from andon.platform.permissions import requires

from . import services, taxonomy
from .models import Kind, Review, SafetyEvent
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


@router.get("/events", response=documented(list[EventSummaryOut]), summary="Events the caller may open")
@requires("safety.report")
@paginate(Pages)
def events(request, status: Literal[tuple(EventStatus.values)] | None = None,  # type: ignore[valid-type]
           category: str | None = None, unit_id: int | None = None):
    found = services.events_visible_to(request.user).order_by("-reported_at", "-pk")
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
