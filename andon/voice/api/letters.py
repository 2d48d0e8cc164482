"""The grievance's clock and letters over the API: the clock (read), reopening, the letters (list,
draft, edit while a draft, approve, send, PDF) and the dashboard's figures; the same policy and
services as the pages."""

from datetime import date
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.utils import timezone
from ninja import Schema, Status
from pydantic import Field as PydanticField

from andon.platform import permissions
from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Version, documented, refused
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import services
from ..models import Grievance, GrievanceClock

router = NamedRouter("andon_voice_api_letters_")


class GrievanceClockOut(Schema):
    grievance_id: int
    reference: str
    status: str
    received_on: date | None
    due_on: date | None
    days_left: int | None = PydanticField(description="0 on the day due, negative when overdue")
    reopened_count: int
    interim_asked_on: date | None = PydanticField(description="The day the sweep asked for the interim letter")
    promised_on: date | None = PydanticField(description="The date of the full response the interim letter gave")
    resolved_on: date | None
    resolved_in_time: bool | None
    version: int


class GrievanceReopenIn(Body):
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    version: Version = None


class GrievanceLetterOut(Schema):
    id: int
    grievance_id: int
    kind: str
    status: str
    addressee: str
    address: str
    body: str
    promised_on: date | None
    contact_person: str
    investigation_steps: str
    results: str
    completed_on: date | None
    approved_by_id: int | None
    approved_at: str | None
    sent_on: date | None
    sent_via: str
    replaces_id: int | None
    version: int

    @staticmethod
    def resolve_approved_at(letter):
        return letter.approved_at.isoformat() if letter.approved_at else None


class GrievanceLetterNewIn(Body):
    kind: Literal["interim", "resolution"]


class GrievanceLetterEditIn(Body):
    addressee: Annotated[str, PydanticField(max_length=200)] | None = None
    address: Annotated[str, PydanticField(max_length=400)] | None = None
    body: Annotated[str, PydanticField(max_length=8000)] | None = None
    promised_on: IsoDate | None = None
    contact_person: Annotated[str, PydanticField(max_length=300)] | None = None
    investigation_steps: Annotated[str, PydanticField(max_length=4000)] | None = None
    results: Annotated[str, PydanticField(max_length=4000)] | None = None
    completed_on: IsoDate | None = None
    version: Version = None


class GrievanceLetterVersionIn(Body):
    version: Version = None


class GrievanceLetterSendIn(Body):
    via: Literal["post", "email", "by_hand"]
    sent_on: IsoDate | None = PydanticField(None, description="Today when left out")
    version: Version = None


class GrievanceCountOut(Schema):
    label: str
    open: int


class GrievanceMonthOut(Schema):
    month: date
    resolved: int
    in_time: int = PydanticField(description="Of them, resolved within the time frame")


class GrievanceDashboardOut(Schema):
    by_status: dict[str, int]
    overdue: int
    due_in_7_days: int
    interim_letters_owed: int
    open_by_category: list[GrievanceCountOut]
    open_by_unit: list[GrievanceCountOut]
    resolved_in_time_by_month: list[GrievanceMonthOut]


def _grievance(user, grievance_id, capability="voice.view_grievances") -> Grievance:
    return permissions.fetch_checked(user, capability, Grievance, pk=grievance_id)


def _clock(grievance: Grievance) -> dict:
    clock = GrievanceClock.objects.filter(grievance=grievance).first()
    return {"grievance_id": grievance.pk, "reference": grievance.reference, "status": grievance.status,
            "received_on": grievance.received_on, "due_on": grievance.due_on,
            "days_left": services.days_left(grievance, timezone.localdate()),
            "reopened_count": grievance.reopened_count, "resolved_on": grievance.resolved_on,
            "interim_asked_on": clock and clock.interim_asked_on, "promised_on": clock and clock.promised_on,
            "resolved_in_time": clock and clock.resolved_in_time, "version": grievance.version}


@router.get("/grievances/{grievance_id}/clock", response=documented(GrievanceClockOut, not_found=True),
            summary="A grievance's clock: received, due, days left, the interim letter's promised date")
@requires("voice.view_grievances")
def grievance_clock(request, grievance_id: Id):
    return _clock(_grievance(request.user, grievance_id))


@router.post("/grievances/{grievance_id}/reopen", response=documented(GrievanceClockOut, not_found=True,
                                                                      versioned=True),
             summary="Reopen a resolved grievance (with the reason): a new time frame from today")
@requires("voice.manage_grievances")
def grievance_reopen(request, grievance_id: Id, payload: GrievanceReopenIn):
    grievance = _grievance(request.user, grievance_id, "voice.manage_grievances")
    try:
        services.reopen_grievance(request.user, grievance, payload.reason, payload.version)
    except ValidationError as error:
        return refused(error)
    return _clock(grievance)


@router.get("/grievances/{grievance_id}/letters", response=documented(list[GrievanceLetterOut], not_found=True),
            summary="A grievance's letters, oldest first")
@requires("voice.view_grievances")
def grievance_letters(request, grievance_id: Id):
    return list(services.letters_of(_grievance(request.user, grievance_id)))


@router.post("/grievances/{grievance_id}/letters", response=documented(GrievanceLetterOut, 201, not_found=True),
             summary="Draft a letter (interim or resolution) from the record and the template")
@requires("voice.manage_grievances")
def letter_new(request, grievance_id: Id, payload: GrievanceLetterNewIn):
    grievance = _grievance(request.user, grievance_id, "voice.manage_grievances")
    try:
        return Status(201, services.draft_letter(request.user, grievance, payload.kind))
    except ValidationError as error:
        return refused(error)


@router.patch("/letters/{letter_id}", response=documented(GrievanceLetterOut, not_found=True, versioned=True),
              summary="Change a draft letter (the fields sent); an approved letter is not changed")
@requires("voice.manage_grievances")
def letter_edit(request, letter_id: Id, payload: GrievanceLetterEditIn):
    letter = services.access_letter(request.user, letter_id, "voice.manage_grievances")
    fields = payload.model_dump(exclude_unset=True, exclude={"version"})
    try:
        return services.edit_letter(request.user, letter, payload.version, **fields)
    except ValidationError as error:
        return refused(error)


@router.post("/letters/{letter_id}/approve", response=documented(GrievanceLetterOut, not_found=True, versioned=True),
             summary="Approve a draft letter (the resolution letter's four elements are required)")
@requires("voice.approve_letters")
def letter_approve(request, letter_id: Id, payload: GrievanceLetterVersionIn):
    letter = services.access_letter(request.user, letter_id, "voice.approve_letters")
    try:
        return services.approve_letter(request.user, letter, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/letters/{letter_id}/send", response=documented(GrievanceLetterOut, not_found=True, versioned=True),
             summary="Record an approved letter as sent; the resolution letter resolves the grievance")
@requires("voice.manage_grievances")
def letter_send(request, letter_id: Id, payload: GrievanceLetterSendIn):
    letter = services.access_letter(request.user, letter_id, "voice.manage_grievances")
    try:
        return services.send_letter(request.user, letter, payload.via, payload.sent_on, payload.version)
    except ValidationError as error:
        return refused(error)


@router.get("/letters/{letter_id}/pdf", response=documented(bytes, not_found=True), summary="A letter as PDF")
@requires("voice.view_grievances")
def letter_pdf(request, letter_id: Id):
    letter = services.access_letter(request.user, letter_id)
    response = HttpResponse(services.letter_pdf(request.user, letter), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{letter.grievance.reference}-{letter.kind}.pdf"'
    return response


@router.get("/grievance-dashboard", response=documented(GrievanceDashboardOut, not_found=True),
            summary="The grievance dashboard's figures over the caller's units (or unit_id and below it)")
@requires("voice.view_grievances")
def grievance_dashboard(request, unit_id: Id | None = None):
    unit = None
    if unit_id is not None:
        unit = Unit.objects.filter(pk=unit_id).first()
        if unit is None:
            raise Http404("no such unit")
    figures = services.dashboard_figures(request.user, unit=unit).as_dict()
    for key in ("open_by_category", "open_by_unit"):
        figures[key] = [{"label": row.get("category", row.get("unit")), "open": row["open"]} for row in figures[key]]
    return figures
