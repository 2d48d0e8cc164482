"""The compliance API: tracers. Plan, read, answer, add and remove photos, raise findings and
complete, under the same policy and services as the pages (compliance.fill_tracer lets a surveyor
for the day who holds no compliance role fill their own tracer)."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import File, Schema, Status, UploadedFile
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.models import Unit, User
from andon.platform.permissions import requires

from .. import tracers
from ..models import FrameworkVersion, Requirement
from ..uploads import serve

router = NamedRouter("andon_compliance_api_")

AnswerName = Literal["yes", "no", "na"]
RiskName = Literal["low", "moderate", "high", "extreme"]


class TracerOut(Schema):
    id: int
    title: str
    kind: str
    topic: str
    unit_id: int
    unit: str
    surveyor_id: int
    surveyor: str
    patient_path: str
    planned_on: date | None
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    summary: str
    created_by_id: int
    created_at: datetime
    answered: int
    questions: int
    version: int

    @staticmethod
    def resolve_unit(tracer):
        return tracer.unit.name

    @staticmethod
    def resolve_surveyor(tracer):
        return tracer.surveyor.get_full_name() or tracer.surveyor.username

    @staticmethod
    def resolve_answered(tracer):
        if hasattr(tracer, "answered_count"):  # annotated by the list
            return tracer.answered_count
        return tracers.tracer_progress(tracer).answered

    @staticmethod
    def resolve_questions(tracer):
        if hasattr(tracer, "item_count"):
            return tracer.item_count
        return tracers.tracer_progress(tracer).total


class TracerItemOut(Schema):
    id: int
    position: int
    question: str
    requirement_id: int | None
    requirement_urn: str | None
    answer: str
    observation: str
    answered_at: datetime | None
    photos: int
    version: int

    @staticmethod
    def resolve_requirement_urn(item):
        return item.requirement.urn if item.requirement_id else None

    @staticmethod
    def resolve_photos(item):
        return tracers.shown_photos(item).count()


class PhotoOut(Schema):
    id: int
    item_id: int
    name: str
    content_type: str
    size: int
    uploaded_by_id: int
    uploaded_at: datetime
    removed_at: datetime | None
    removed_by_id: int | None


class TracerFindingOut(Schema):
    id: int
    title: str
    description: str
    risk: str
    status: str
    requirement_id: int
    unit_id: int
    tracer_id: int | None
    raised_at: datetime


Text200 = Annotated[str, PydanticField(max_length=200)]
Text4000 = Annotated[str, PydanticField(max_length=4000)]


class PlanIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    kind: Literal["patient", "system"]
    topic: Text200 = ""
    unit_id: Id
    surveyor_id: Id
    planned_on: IsoDate
    patient_path: Text200 = PydanticField("", description="A description of the path, never a patient's name or number")
    version_id: Id | None = PydanticField(None, description="The framework version of requirement_urns")
    requirement_ids: list[Id] = PydanticField([], max_length=500,
                                              description="Requirements or chapters (a chapter: each assessable one)")
    requirement_urns: list[Annotated[str, PydanticField(max_length=300)]] = PydanticField([], max_length=500)
    extra_questions: list[Annotated[str, PydanticField(max_length=500)]] = PydanticField([], max_length=100)


class AnswerIn(Body):
    answer: AnswerName
    observation: Text4000 = ""
    version: Version = None


class TracerFindingIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    risk: RiskName
    description: Text4000 = ""


class TracerCompleteIn(Body):
    summary: Annotated[str, PydanticField(min_length=1, max_length=4000)]
    version: Version = None


class ReopenIn(Body):
    reason: Annotated[str, PydanticField(min_length=1, max_length=2000)]
    version: Version = None


class StartIn(Body):
    version: Version = None


@router.get("/tracers", response=documented(list[TracerOut]),
            summary="Tracers the caller surveys or may see, the latest planned first")
@requires("compliance.use_tracers")
@paginate(Pages)
def list_tracers(request, status: Literal["planned", "in_progress", "completed"] | None = None, mine: bool = False):
    found = tracers.visible_tracers(request.user)
    if status:
        found = found.filter(status=status)
    if mine:
        found = found.filter(surveyor=request.user)
    return found.order_by("-planned_on", "-pk")


@router.post("/tracers", response=documented(TracerOut, 201),
             summary="Plan a tracer: one question per requirement given (a chapter gives each assessable requirement "
                     "in it) and the extra questions; the surveyor and the unit's compliance specialists are told")
@requires("compliance.plan_tracers")
def plan_tracer(request, payload: PlanIn):
    data = payload.model_dump()
    version = FrameworkVersion.objects.filter(pk=data.pop("version_id")).first() if payload.version_id else None
    ids = data.pop("requirement_ids")
    rows = list(Requirement.objects.filter(pk__in=ids))
    urns = data.pop("requirement_urns")
    try:
        if len(rows) != len(set(ids)):
            missing = sorted(set(ids) - {r.pk for r in rows})
            raise ValidationError({"requirement_ids": f"No requirement with id {', '.join(map(str, missing[:10]))}."})
        tracer = tracers.plan_tracer(
            request.user, title=data["title"], kind=data["kind"], topic=data["topic"],
            unit=Unit.objects.select_related("facility").filter(pk=data["unit_id"]).first(),
            surveyor=User.objects.filter(pk=data["surveyor_id"]).first(), planned_on=data["planned_on"],
            patient_path=data["patient_path"], requirements=[*rows, *urns], version=version,
            extra_questions=data["extra_questions"])
    except ValidationError as error:
        return refused(error)
    return Status(201, tracer)


@router.get("/tracers/{tracer_id}", response=documented(TracerOut, not_found=True), summary="One tracer")
@requires("compliance.use_tracers")
def get_tracer(request, tracer_id: Id):
    return tracers.access_tracer(request.user, tracer_id)


@router.get("/tracers/{tracer_id}/items", response=documented(list[TracerItemOut], not_found=True),
            summary="The tracer's questions in order, with their answers")
@requires("compliance.use_tracers")
def list_tracer_items(request, tracer_id: Id):
    tracer = tracers.access_tracer(request.user, tracer_id)
    return tracer.items.select_related("requirement").order_by("position", "pk")


@router.post("/tracers/{tracer_id}/start", response=documented(TracerOut, not_found=True, versioned=True),
             summary="Start a planned tracer (answering its first question also starts it)")
@requires("compliance.use_tracers")
def start_tracer(request, tracer_id: Id, payload: StartIn):
    tracer = tracers.access_tracer(request.user, tracer_id, "compliance.fill_tracer")
    try:
        return tracers.start_tracer(request.user, tracer, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/tracers/{tracer_id}/items/{item_id}/answer", response=documented(TracerItemOut, not_found=True, versioned=True),
             summary="Answer a question (yes, no, na); a 'no' needs an observation")
@requires("compliance.use_tracers")
def answer_tracer_item(request, tracer_id: Id, item_id: Id, payload: AnswerIn):
    item = tracers.access_tracer_item(request.user, tracer_id, item_id)
    try:
        return tracers.answer_item(request.user, item, payload.version, payload.answer, payload.observation)
    except ValidationError as error:
        return refused(error)


@router.get("/tracers/{tracer_id}/items/{item_id}/photos", response=documented(list[PhotoOut], not_found=True),
            summary="The photos of a question")
@requires("compliance.use_tracers")
def list_tracer_photos(request, tracer_id: Id, item_id: Id):
    item = tracers.access_tracer_item(request.user, tracer_id, item_id, "compliance.view_tracer")
    return tracers.shown_photos(item).order_by("uploaded_at", "pk")


@router.post("/tracers/{tracer_id}/items/{item_id}/photos", response=documented(PhotoOut, 201, not_found=True),
             summary="Add a photo (JPEG or PNG, checked by its first bytes; camera metadata is removed)")
@requires("compliance.use_tracers")
def add_tracer_photo(request, tracer_id: Id, item_id: Id, photo: File[UploadedFile]):
    item = tracers.access_tracer_item(request.user, tracer_id, item_id)
    try:
        return Status(201, tracers.add_photo(request.user, item, photo))
    except ValidationError as error:
        return refused(error)


PHOTO_RESPONSE = {"responses": {200: {
    "description": "The photo, as an attachment (its viewing is recorded in the audit trail)",
    "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}}},
}}}


@router.get("/tracers/{tracer_id}/photos/{photo_id}",
            response={code: out for code, out in documented(None, not_found=True).items() if code != 200},
            openapi_extra=PHOTO_RESPONSE, summary="Download a photo (audited)")
@requires("compliance.use_tracers")
def download_tracer_photo(request, tracer_id: Id, photo_id: Id):
    photo = tracers.access_tracer_photo(request.user, tracer_id, photo_id)
    tracers.open_tracer_photo(request.user, photo)
    return serve(photo.file, photo.name, photo.content_type)


@router.post("/tracers/{tracer_id}/photos/{photo_id}/removal", response=documented(PhotoOut, not_found=True),
             summary="Remove a photo while the tracer is open (whoever may fill it); it is kept for the record and "
                     "shown to nobody again")
@requires("compliance.use_tracers")
def remove_tracer_photo(request, tracer_id: Id, photo_id: Id):
    photo = tracers.access_tracer_photo(request.user, tracer_id, photo_id, "compliance.fill_tracer")
    try:
        return tracers.remove_photo(request.user, photo)
    except ValidationError as error:
        return refused(error)


@router.post("/tracers/{tracer_id}/items/{item_id}/findings", response=documented(TracerFindingOut, 201, not_found=True),
             summary="Raise a finding from a question answered 'no', against its requirement in the tracer's unit")
@requires("compliance.use_tracers")
def raise_tracer_finding(request, tracer_id: Id, item_id: Id, payload: TracerFindingIn):
    item = tracers.access_tracer_item(request.user, tracer_id, item_id)
    try:
        return Status(201, tracers.raise_tracer_finding(request.user, item, payload.title, payload.risk,
                                                        payload.description))
    except ValidationError as error:
        return refused(error)


@router.post("/tracers/{tracer_id}/complete", response=documented(TracerOut, not_found=True, versioned=True),
             summary="Complete a tracer with its summary; refused while questions are unanswered (they are named)")
@requires("compliance.use_tracers")
def complete_tracer(request, tracer_id: Id, payload: TracerCompleteIn):
    tracer = tracers.access_tracer(request.user, tracer_id, "compliance.fill_tracer")
    try:
        return tracers.complete_tracer(request.user, tracer, payload.summary, payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/tracers/{tracer_id}/reopen", response=documented(TracerOut, not_found=True, versioned=True),
             summary="Reopen a completed tracer for corrections (its planners); the surveyor is told why")
@requires("compliance.plan_tracers")
def reopen_tracer(request, tracer_id: Id, payload: ReopenIn):
    tracer = tracers.access_tracer(request.user, tracer_id, "compliance.plan_tracers")
    try:
        return tracers.reopen_tracer(request.user, tracer, payload.reason, payload.version)
    except ValidationError as error:
        return refused(error)

