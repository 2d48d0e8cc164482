"""Safety events over the API: report (named), list, read, triage and move along; the
reporter's own reports with their feedback; the share of reports with timely feedback."""

from datetime import datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from ninja import Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import permissions
from andon.platform import inputs
from andon.platform.api_kit import Body, Flag, Id, MappedQuery, Moment, NamedRouter, Pages, Version, documented, refused
from andon.platform.permissions import requires

from .. import sac, services, taxonomy
from ..models import Kind, PersonAffected, Review, SafetyEvent
from ..models import Status as EventStatus
from .shared import current_taxonomy

router = NamedRouter("andon_safety_api_")

Text = Annotated[str, PydanticField(max_length=10_000)]
# A category's answer: a text, a whole number or yes/no (the taxonomy's kinds of field).
Answer = (Annotated[str, PydanticField(max_length=2000)]
          | Annotated[int, PydanticField(ge=-inputs.NUMBER_LIMIT, le=inputs.NUMBER_LIMIT)] | bool)


class ReportIn(Body):
    kind: Literal[tuple(Kind.values)]  # type: ignore[valid-type]
    category: Annotated[str, PydanticField(max_length=40)]
    unit_id: Id
    occurred_at: Moment
    narrative: Text
    harm: Annotated[str, PydanticField(max_length=20)] = ""
    details: Annotated[dict[Annotated[str, PydanticField(max_length=40)], Answer], PydanticField(max_length=50)] = {}
    immediate_action: Annotated[str, PydanticField(max_length=2000)] = ""
    share_identity: Flag = False
    person_affected: Literal[("", *PersonAffected.values)] = ""  # type: ignore[valid-type]
    patient_identifier: Annotated[str, PydanticField(max_length=64, description=(
        "The patient's MRN, FHIR Patient id, or encounter id or identifier; looked up in the FHIR store"))] = ""
    witnesses: Annotated[str, PydanticField(max_length=1000)] = ""
    location_detail: Annotated[str, PydanticField(max_length=200, description="Where exactly, within the unit")] = ""


class TriageIn(Body):
    category: Annotated[str, PydanticField(max_length=40)]
    harm: Annotated[str, PydanticField(max_length=20)] = ""
    sac_severity: Literal["catastrophic", "major", "moderate", "minor"]
    sac_probability: Literal["frequent", "occasional", "uncommon", "remote"]
    sentinel: Flag = False
    review: Literal[tuple(Review.values)]  # type: ignore[valid-type]
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    version: Version = None


class MoveIn(Body):
    action: Literal["plan_actions", "close", "reopen"]
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    closing_summary: Annotated[str, PydanticField(max_length=4000)] = ""
    open_actions_reason: Annotated[str, PydanticField(
        max_length=2000, description="Needed to close while an action of the event is still open: why")] = ""
    version: Version = None


class ReviewFindingsIn(Body):
    findings: Annotated[str, PydanticField(min_length=1, max_length=4000)]
    version: Version = None


class ReviewWaiverIn(Body):
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    version: Version = None


class DeescalationIn(Body):
    sac_severity: Literal[tuple(sac.SEVERITIES)]  # type: ignore[valid-type]
    sac_probability: Literal[tuple(sac.PROBABILITIES)]  # type: ignore[valid-type]
    sentinel: Flag
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    version: Version = None


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


class DeescalationOut(Schema):
    at: datetime
    by: str
    reason: str
    sac_before: int | None
    sentinel_before: bool
    sac_after: int
    sentinel_after: bool
    deadlines_removed: bool


class WaiverOut(Schema):
    review: str
    at: datetime
    by: str
    reason: str


class PatientOut(Schema):
    identifier: str = PydanticField(description="As reported")
    found: bool = PydanticField(description="Whether the FHIR store had the patient when it was reported")
    fhir_patient_id: str
    fhir_encounter_id: str
    name: str = PydanticField(description="From the FHIR store; empty when not found")
    mrn: str
    birth_date: str


class EventOut(EventSummaryOut):
    version: int
    occurred_at: datetime
    narrative: str
    immediate_action: str
    details: dict
    person_affected: str
    patient: PatientOut | None
    witnesses: str
    location_detail: str
    is_anonymous: bool
    reporter: str | None
    sac_scheme: str
    sac_severity: str
    sac_probability: str
    review: str
    triage_reason: str
    rca_start_due: datetime | None
    closing_summary: str
    open_actions_reason: str
    review_outstanding: str = PydanticField(
        description="What the review the triage required still lacks (empty when it is done or waived)")
    review_findings: str
    review_findings_by: str | None
    review_findings_at: datetime | None
    review_waivers: list[WaiverOut]
    transitions: list[TransitionOut]
    deescalations: list[DeescalationOut]
    messages: list[MessageOut]


class FeedbackShareOut(Schema):
    met: int
    judged: int
    share: float | None
    days: int


def event_summary(event: SafetyEvent) -> dict:
    return {
        "id": event.pk, "reference": event.reference, "kind": event.kind, "category": event.category,
        "unit_id": event.unit_id, "unit": event.unit.name, "status": event.status, "harm": event.harm,
        "sac_score": event.sac_score, "is_sentinel": event.is_sentinel, "reported_at": event.reported_at,
        "rca_complete_due": event.rca_complete_due,
    }


def _patient(event: SafetyEvent) -> dict | None:
    """The patient the event names, with the identity read from the FHIR store (for those who
    see the event's analysis: this body is theirs, never the reporter's)."""
    if not event.patient_identifier:
        return None
    identity = services.patient_of(event)
    return {"identifier": event.patient_identifier, "found": bool(event.patient_fhir_id),
            "fhir_patient_id": event.patient_fhir_id, "fhir_encounter_id": event.encounter_fhir_id,
            "name": identity.name if identity else "", "mrn": identity.mrn if identity else "",
            "birth_date": identity.birth_date if identity else ""}


def _detail(user, event: SafetyEvent) -> dict:
    reporter = None
    if permissions.can(user, "safety.see_reporter", event):
        reporter = event.reporter.get_full_name() or event.reporter.username
    return {
        **event_summary(event), "occurred_at": event.occurred_at, "narrative": event.narrative,
        "immediate_action": event.immediate_action, "details": event.details, "is_anonymous": event.is_anonymous,
        "person_affected": event.person_affected, "patient": _patient(event), "witnesses": event.witnesses,
        "location_detail": event.location_detail,
        "reporter": reporter, "sac_scheme": event.sac_scheme, "sac_severity": event.sac_severity,
        "sac_probability": event.sac_probability, "review": event.review, "triage_reason": event.triage_reason,
        "rca_start_due": event.rca_start_due, "closing_summary": event.closing_summary, "version": event.version,
        "open_actions_reason": event.open_actions_reason,
        "review_outstanding": services.review_outstanding(event) if event.status in services.REVIEW_STATUSES else "",
        "review_findings": event.review_findings,
        "review_findings_by": str(event.review_findings_by) if event.review_findings_by_id else None,
        "review_findings_at": event.review_findings_at,
        "review_waivers": [{"review": w.review, "at": w.at, "by": str(w.by), "reason": w.reason}
                           for w in event.review_waivers.select_related("by")],
        "transitions": [
            {"source": t.source, "target": t.target, "by": str(t.by) if t.by else "", "at": t.at, "reason": t.reason}
            for t in event.transitions.select_related("by")
        ],
        "deescalations": [
            {"at": d.at, "by": str(d.by), "reason": d.reason, "sac_before": d.sac_before,
             "sentinel_before": d.sentinel_before, "sac_after": d.sac_after, "sentinel_after": d.sentinel_after,
             "deadlines_removed": d.deadlines_removed}
            for d in event.deescalations.select_related("by")
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
            person_affected=payload.person_affected, patient_identifier=payload.patient_identifier,
            witnesses=payload.witnesses, location_detail=payload.location_detail,
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
           category: Annotated[str, PydanticField(max_length=40)] | None = None, unit_id: Id | None = None):
    # Triage results (SAC, sentinel, review) are not the reporter's to read: their own reports
    # are listed under /my-reports, with the feedback.
    found = services.events_visible_to(request.user).order_by("-reported_at", "-pk")
    if status:
        found = found.filter(status=status)
    if category:
        found = found.filter(category=category)
    if unit_id:
        found = found.filter(unit_id=unit_id)
    return MappedQuery(found, event_summary)


@router.get("/events/{event_id}", response=documented(EventOut, not_found=True), summary="One event (the read is audited)")
@requires("safety.report")
def event(request, event_id: Id):
    found = services.access_event(request.user, event_id)
    if found.reporter_id == request.user.pk and not permissions.can(request.user, "safety.view_events", found):
        # As on the pages: the reporter reads feedback, not the triage and the analysis.
        raise HttpError(403, f"Read your own report at /api/v1/safety/my-reports/{found.pk}.")
    services.open_event(request.user, found, reason="read through the API")
    return _detail(request.user, found)


@router.get("/triage-queue", response=documented(list[EventSummaryOut]), summary="Events waiting for triage")
@requires("safety.triage")
@paginate(Pages)
def triage_queue(request):
    return MappedQuery(services.triage_queue(request.user), event_summary)


def _decided(request, event_id: int, capability: str, decide):
    """One decision on an event: opened with `capability`, taken by `decide(event)`; the event as
    it then is, or the service's refusal (422; 409 when the event changed since `version`)."""
    found = services.access_event(request.user, event_id, capability)
    try:
        return _detail(request.user, decide(found))
    except ValidationError as error:
        return refused(error)


@router.post("/events/{event_id}/triage", response=documented(EventOut, not_found=True, versioned=True),
             summary="Triage an event waiting for triage (send the version read: a stale one is a 409)")
@requires("safety.triage")
def triage(request, event_id: Id, payload: TriageIn):
    decision = services.Triage(**payload.model_dump(exclude={"version"}))
    return _decided(request, event_id, "safety.triage",
                    lambda event: services.triage(request.user, event, decision, payload.version))


@router.post("/events/{event_id}/moves", response=documented(EventOut, not_found=True, versioned=True),
             summary="Move an event along the workflow")
@requires("safety.manage_workflow")
def move(request, event_id: Id, payload: MoveIn):
    return _decided(request, event_id, "safety.manage_workflow", lambda event: services.move(
        request.user, event, payload.action, payload.reason, payload.closing_summary, payload.version,
        open_actions_reason=payload.open_actions_reason))


@router.post("/events/{event_id}/review-findings", response=documented(EventOut, not_found=True, versioned=True),
             summary="Record the findings of the event's local or aggregated review")
@requires("safety.record_review")
def record_review_findings(request, event_id: Id, payload: ReviewFindingsIn):
    return _decided(request, event_id, "safety.record_review", lambda event: services.record_review_findings(
        request.user, event, payload.findings, payload.version))


@router.post("/events/{event_id}/review-waiver", response=documented(EventOut, not_found=True, versioned=True),
             summary="Waive the review the triage required (CQO, CMO), with the reason")
@requires("safety.waive_review")
def waive_review(request, event_id: Id, payload: ReviewWaiverIn):
    def waive(event):
        services.waive_review(request.user, event, payload.reason, payload.version)
        event.refresh_from_db()
        return event

    return _decided(request, event_id, "safety.waive_review", waive)


@router.post("/events/{event_id}/deescalation", response=documented(EventOut, not_found=True, versioned=True),
             summary="Lower a SAC 3 or clear the sentinel flag once the RCA is under way (with the reason)")
@requires("safety.deescalate")
def deescalate(request, event_id: Id, payload: DeescalationIn):
    return _decided(request, event_id, "safety.deescalate",
                    lambda event: services.deescalate(request.user, event, **payload.model_dump()))


@router.get("/feedback-share", response=documented(FeedbackShareOut),
            summary="Share of reports with feedback to the reporter within the window")
@requires("safety.view_feedback_stats")
def feedback_share(request):
    from django.conf import settings

    units = permissions.units_where(request.user, "safety.view_feedback_stats")
    met, judged = services.feedback_share(SafetyEvent.objects.filter(unit__in=units))
    return {"met": met, "judged": judged, "share": met / judged if judged else None,
            "days": settings.ANDON_FEEDBACK_DAYS}


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
    person_affected: str
    patient_identifier: str
    witnesses: str
    location_detail: str
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
    user, tax = request.user, current_taxonomy()
    found = (services.events_visible_to(user, own=True).filter(reporter=user)
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
def my_report(request, event_id: Id):
    # The same query and audit as the My reports page: someone else's report is not found.
    event = services.access_own_report(request.user, event_id)
    services.open_event(request.user, event, reason="reporter read own report")
    services.notifications_read(request.user, event, escalations=())
    shown = services.reporter_view(event)  # as on the My reports page
    return {
        "id": event.pk, "reference": event.reference, "kind": event.kind, "kind_label": shown["kind_label"],
        "category": event.category, "category_label": shown["category_label"], "unit_id": event.unit_id,
        "unit": event.unit.name, "facility": event.unit.facility.name, "occurred_at": event.occurred_at,
        "reported_at": event.reported_at, "harm": event.harm, "harm_label": shown["harm_label"],
        "details": [{"label": label, "value": value} for label, value in shown["details"]],
        "narrative": event.narrative, "immediate_action": event.immediate_action,
        "person_affected": event.person_affected, "patient_identifier": shown["patient_identifier"],
        "witnesses": event.witnesses, "location_detail": event.location_detail, "status": event.status,
        "status_label": shown["status_label"], "shares_identity": event.reporter_shares_identity,
        "feedback": [{"text": m.text, "is_closing_summary": m.is_closing_summary, "created_at": m.created_at}
                     for m in shown["feedback"]],
        "attachments": shown["attachment_names"],
    }
