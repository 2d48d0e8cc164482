"""Complaints and grievances over the API: the list (the page's filters), one record, logging,
classifying, and links to safety events; the same policy and services as the pages. The public
form has no API: it is a page, rate-limited, for people without an account."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Flag, Id, IsoDate, Moment, NamedRouter, Pages, Version, documented, refused
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import grievances as service
from ..models.grievances import Channel, ComplaintKind, GrievanceStatus

router = NamedRouter("andon_voice_api_grievances_")
Short = Annotated[str, PydanticField(max_length=200)]


def _text(limit: int):
    return Annotated[str, PydanticField(max_length=limit)]


class GrievanceOut(Schema):
    id: int
    reference: str
    kind: str
    channel: str
    status: str
    received_at: datetime
    received_on: date | None
    due_on: date | None
    resolved_on: date | None
    resolved_at_time: bool
    rule: str = PydanticField(description="Why it is a complaint or a grievance, in words")
    description: str
    unit_id: int | None
    category_ids: list[int]
    owner_id: int | None
    version: int

    @staticmethod
    def resolve_rule(obj):
        return service.rule_words(obj.channel, obj.resolved_at_time)

    @staticmethod
    def resolve_category_ids(obj):
        return [c.pk for c in obj.categories.all()]


class GrievanceDetailOut(GrievanceOut):
    other_unit_ids: list[int]
    people_involved: str
    patient_identifier: str
    patient_name: str
    encounter_reference: str
    contact_name: str
    relationship: str
    contact_details: str
    anonymous: bool
    safety_event_ids: list[int] = PydanticField(description="Linked events the caller may see")

    @staticmethod
    def resolve_other_unit_ids(obj):
        return [u.pk for u in obj.other_units.all()]


class GrievanceLogIn(Body):
    channel: Literal[tuple(Channel.values)]
    received_at: Moment
    description: _text(service.DESCRIPTION_MAX)
    resolved_at_time: Flag = False
    unit_id: Id | None = None
    other_unit_ids: list[Id] = PydanticField(default_factory=list, max_length=20)
    category_ids: list[Id] = PydanticField(default_factory=list, max_length=20)
    people_involved: _text(400) = ""
    patient_identifier: _text(64) = ""
    patient_name: _text(200) = ""
    encounter_reference: _text(64) = ""
    contact_name: _text(200) = ""
    relationship: _text(60) = ""
    contact_details: _text(400) = ""


class GrievanceClassifyIn(Body):
    category_ids: list[Id] = PydanticField(default_factory=list, max_length=20)
    unit_id: Id | None = None
    other_unit_ids: list[Id] = PydanticField(default_factory=list, max_length=20)
    people_involved: _text(400) = ""
    patient_identifier: _text(64) = ""
    patient_name: _text(200) = ""
    encounter_reference: _text(64) = ""
    owner_id: Id | None = PydanticField(None, description="Someone in patient relations")
    version: Version = None


class GrievanceLinkIn(Body):
    reference: Annotated[str, PydanticField(min_length=1, max_length=60)]


class GrievanceOpenEventIn(Body):
    kind: Literal["incident", "near_miss", "unsafe_condition"]
    category: Annotated[str, PydanticField(min_length=1, max_length=60)]
    harm: Annotated[str, PydanticField(max_length=60)] = ""
    details: dict[Annotated[str, PydanticField(max_length=60)], Annotated[str, PydanticField(max_length=200)]] = (
        PydanticField(default_factory=dict, max_length=20, description="The category's own answers (the taxonomy's)"))


class GrievanceEventOut(Schema):
    id: int
    reference: str


def _detail(request, grievance):
    grievance.safety_event_ids = [e.pk for e in service.linked_events(request.user, grievance)]
    return grievance


@router.get("/grievances", response=documented(list[GrievanceOut]),
            summary="Complaints and grievances the caller may see, soonest due first")
@requires("voice.view_grievances")
@paginate(Pages)
def list_grievances(request, status: Literal[tuple(GrievanceStatus.values)] | None = None,
                    kind: Literal[tuple(ComplaintKind.values)] | None = None, category_id: Id | None = None,
                    unit_id: Id | None = None, received_from: IsoDate | None = None,
                    received_to: IsoDate | None = None, overdue: bool = False, q: Short = ""):
    unit = None
    if unit_id is not None:
        unit = Unit.objects.filter(pk=unit_id).first()
        if unit is None:
            return service.visible_grievances(request.user).none()
    return service.find_grievances(
        request.user, status=status or "", kind=kind or "", category=category_id, unit=unit,
        received_from=received_from, received_to=received_to, overdue=overdue, words=q
    ).prefetch_related("categories")


@router.get("/grievances/{grievance_id}", response=documented(GrievanceDetailOut, not_found=True),
            summary="One complaint or grievance")
@requires("voice.view_grievances")
def get_grievance(request, grievance_id: Id):
    return _detail(request, service.access_grievance(request.user, grievance_id))


@router.post("/grievances", response=documented(GrievanceDetailOut, 201),
             summary="Log a complaint (the rule decides complaint or grievance)")
@requires("voice.log_complaints")
def log_grievance(request, body: GrievanceLogIn):
    try:
        grievance = service.log_complaint(request.user, service.Intake(**body.model_dump()))
    except ValidationError as error:
        return refused(error)
    return Status(201, _detail(request, grievance))


@router.put("/grievances/{grievance_id}/classification", response=documented(
    GrievanceDetailOut, not_found=True, versioned=True), summary="Classify a grievance (and open it)")
@requires("voice.manage_grievances")
def classify_grievance(request, grievance_id: Id, body: GrievanceClassifyIn):
    grievance = service.access_grievance(request.user, grievance_id, "voice.manage_grievances")
    data = body.model_dump()
    version = data.pop("version")
    try:
        grievance = service.classify(request.user, grievance, service.Classification(**data), version)
    except ValidationError as error:
        return refused(error)
    return _detail(request, grievance)


@router.post("/grievances/{grievance_id}/events", response=documented(GrievanceEventOut, not_found=True),
             summary="Link a safety event the caller may see, by its reference")
@requires("voice.manage_grievances")
def link_grievance_event(request, grievance_id: Id, body: GrievanceLinkIn):
    grievance = service.access_grievance(request.user, grievance_id, "voice.manage_grievances")
    try:
        return service.link_event(request.user, grievance, body.reference)
    except ValidationError as error:
        return refused(error)


@router.post("/grievances/{grievance_id}/events/new", response=documented(GrievanceEventOut, 201, not_found=True),
             summary="Report a safety event from the grievance (its text, unit and day) and link it")
@requires("voice.manage_grievances")
def open_grievance_event(request, grievance_id: Id, body: GrievanceOpenEventIn):
    grievance = service.access_grievance(request.user, grievance_id, "voice.manage_grievances")
    try:
        event = service.open_event_for(request.user, grievance, kind=body.kind, category=body.category,
                                       harm=body.harm, details=body.details)
    except ValidationError as error:
        return refused(error)
    return Status(201, event)
