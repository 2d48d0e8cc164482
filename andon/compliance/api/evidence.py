"""The compliance API: evidence. List (filtered, paged), add (links, policies and measures as
JSON; documents as a multipart upload), read, change, retire, revisions (upload, list, download),
links to requirements, and the evidence for a requirement with its states and verdicts."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import File, Form, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Flag, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.models import Organisation, Unit, User
from andon.platform import permissions
from andon.platform.permissions import requires

from .. import evidence as service
from ..models import Policy

router = NamedRouter("andon_compliance_api_")

KindName = Literal["document", "link", "policy", "measure", "audit"]
StateName = Literal["current", "due_soon", "expired", "retired"]
Title = Annotated[str, PydanticField(min_length=1, max_length=200)]
Text = Annotated[str, PydanticField(max_length=4000)]
Urn = Annotated[str, PydanticField(min_length=1, max_length=300)]


class EvidenceOut(Schema):
    id: int
    kind: str
    title: str
    description: str
    owner_id: int
    owner: str
    organisation_id: int
    unit_id: int | None
    unit: str | None
    review_on: date | None
    state: str
    url: str
    policy_id: int | None
    measure_key: str
    requirement_urns: list[str]
    created_at: datetime
    retired_at: datetime | None
    version: int

    @staticmethod
    def resolve_owner(piece):
        return str(piece.owner)

    @staticmethod
    def resolve_unit(piece):
        return piece.unit.name if piece.unit_id else None

    @staticmethod
    def resolve_state(piece):
        return service.evidence_state(piece)

    @staticmethod
    def resolve_requirement_urns(piece):
        return sorted(row.requirement_urn for row in piece.links.all())


class RevisionOut(Schema):
    number: int
    name: str
    content_type: str
    size: int
    sha256: str
    note: str
    uploaded_by_id: int
    uploaded_at: datetime


class VerdictOut(Schema):
    key: str
    title: str
    code: str | None
    words: str
    period_start: date | None
    value: float | None


class EntryOut(Schema):
    evidence: EvidenceOut
    state: str
    state_words: str
    through_urn: str = PydanticField(description="The mapped requirement it is linked to; empty when direct")
    through_relation: str
    verdict: VerdictOut | None
    policy_published_version: int | None
    policy_review_on: date | None


class RequirementEvidenceOut(Schema):
    urn: str
    status: str = PydanticField(description="green, amber or none")
    evidence: list[EntryOut]


class EvidenceIn(Body):
    kind: Literal["link", "policy", "measure", "audit"]
    title: Title
    description: Text = ""
    owner_id: Id
    unit_id: Id | None = None
    review_on: IsoDate | None = None
    url: Annotated[str, PydanticField(max_length=1000)] | None = None
    policy_id: Id | None = None
    measure_key: Annotated[str, PydanticField(max_length=100)] | None = None


class EvidenceChangeIn(Body):
    title: Title | None = None
    description: Text | None = None
    owner_id: Id | None = None
    unit_id: Id | None = None
    whole_organisation: Flag = PydanticField(False, description="Move it to the whole organisation (no unit)")
    review_on: IsoDate | None = None
    url: Annotated[str, PydanticField(max_length=1000)] | None = None
    policy_id: Id | None = None
    measure_key: Annotated[str, PydanticField(max_length=100)] | None = None
    version: Version = None


class EvidenceRetireIn(Body):
    version: Version = None


class LinksIn(Body):
    requirement_urns: Annotated[list[Urn], PydanticField(min_length=1, max_length=200)]
    note: Text = ""


class LinksOut(Schema):
    changed: int
    requirement_urns: list[str]


def _organisation(user):
    grants = permissions.active_grants(user)
    return Organisation.objects.filter(pk=grants[0].organisation_id).first() if grants else None


def _unit(unit_id):
    if unit_id is None:
        return None
    unit = Unit.objects.select_related("facility__organisation").filter(pk=unit_id).first()
    if unit is None:
        raise ValidationError({"unit_id": f"There is no unit {unit_id}."})
    return unit


def _owner(owner_id):
    return User.objects.filter(pk=owner_id).first() if owner_id else None


def _with_links(queryset):
    return queryset.prefetch_related("links")


@router.get("/evidence", response=documented(list[EvidenceOut]),
            summary="Evidence the caller may see, by title (filters: kind, state, owner, unit, title)")
@requires("compliance.view")
@paginate(Pages)
def list_evidence(request, kind: KindName | None = None, state: StateName | None = None, owner_id: Id | None = None,
                  unit_id: Id | None = None, q: Annotated[str, PydanticField(max_length=200)] | None = None):
    pieces = service.visible_evidence(request.user)
    if unit_id is not None:
        unit = Unit.objects.filter(pk=unit_id).first()
        if unit is None:
            return pieces.none()
        scope = permissions.scope_for(request.user, "compliance.view", unit=unit)  # outside the grants: 403
        pieces = pieces.filter(unit__in=scope.units)
    if kind:
        pieces = pieces.filter(kind=kind)
    if state:
        pieces = pieces.filter(service.state_filter(state))
    if owner_id:
        pieces = pieces.filter(owner_id=owner_id)
    if q:
        pieces = pieces.filter(title__icontains=q)
    return _with_links(pieces.order_by("title", "pk"))


@router.post("/evidence", response=documented(EvidenceOut, 201),
             summary="Add a link, policy or measure as evidence (documents: POST /compliance/evidence/documents)")
@requires("compliance.manage_evidence")
def create_evidence(request, payload: EvidenceIn):
    data = payload.model_dump()
    try:
        piece = service.add_evidence(
            request.user, kind=data["kind"], title=data["title"], description=data["description"],
            owner=_owner(data["owner_id"]), organisation=_organisation(request.user), unit=_unit(data["unit_id"]),
            review_on=data["review_on"], url=data["url"], measure_key=data["measure_key"],
            policy=Policy.objects.filter(pk=data["policy_id"]).first() if data["policy_id"] else None)
    except ValidationError as error:
        return refused(error)
    return Status(201, piece)


@router.post("/evidence/documents", response=documented(EvidenceOut, 201),
             summary="Add a document as evidence: a multipart form with its file (its revision 1)")
@requires("compliance.manage_evidence")
def create_document(request, file: File[UploadedFile], title: Form[Title], owner_id: Form[Id],
                    review_on: Form[IsoDate], description: Form[str] = "", unit_id: Form[Id | None] = None,
                    note: Form[str] = ""):
    try:
        piece = service.add_evidence(
            request.user, kind="document", title=title, description=description, owner=_owner(owner_id),
            organisation=_organisation(request.user), unit=_unit(unit_id), review_on=review_on, upload=file,
            note=note)
    except ValidationError as error:
        return refused(error)
    return Status(201, piece)


@router.get("/evidence/{evidence_id}", response=documented(EvidenceOut, not_found=True),
            summary="One piece of evidence")
@requires("compliance.view")
def get_evidence(request, evidence_id: Id):
    return service.access_evidence(request.user, evidence_id)


@router.post("/evidence/{evidence_id}", response=documented(EvidenceOut, not_found=True, versioned=True),
             summary="Change a piece of evidence (only the fields sent)")
@requires("compliance.view")
def update_evidence(request, evidence_id: Id, payload: EvidenceChangeIn):
    piece = service.access_evidence(request.user, evidence_id, "compliance.edit_evidence")
    data = payload.model_dump(exclude_unset=True)
    version = data.pop("version", None)
    fields = {name: data[name] for name in ("title", "description", "review_on", "url", "measure_key") if name in data}
    try:
        if "owner_id" in data:
            fields["owner"] = _owner(data["owner_id"])
        if data.get("whole_organisation"):
            fields["unit"] = None
        elif "unit_id" in data:
            fields["unit"] = _unit(data["unit_id"])
        if "policy_id" in data:
            fields["policy"] = Policy.objects.filter(pk=data["policy_id"]).first() if data["policy_id"] else None
        return service.update_evidence(request.user, piece, version, **fields)
    except ValidationError as error:
        return refused(error)


@router.post("/evidence/{evidence_id}/retirement",
             response=documented(EvidenceOut, not_found=True, versioned=True),
             summary="Retire a piece of evidence (kept, but serving no requirement)")
@requires("compliance.view")
def retire_evidence(request, evidence_id: Id, payload: EvidenceRetireIn):
    piece = service.access_evidence(request.user, evidence_id, "compliance.edit_evidence")
    try:
        return service.retire_evidence(request.user, piece, payload.version)
    except ValidationError as error:
        return refused(error)


@router.get("/evidence/{evidence_id}/revisions", response=documented(list[RevisionOut], not_found=True),
            summary="A document's revisions, the newest first")
@requires("compliance.view")
def list_revisions(request, evidence_id: Id):
    return list(service.access_evidence(request.user, evidence_id).revisions.order_by("-number"))


@router.post("/evidence/{evidence_id}/revisions",
             response=documented(RevisionOut, 201, not_found=True, versioned=True),
             summary="Upload a document's next revision (multipart form)")
@requires("compliance.view")
def add_revision(request, evidence_id: Id, file: File[UploadedFile], note: Form[str] = "",
                 review_on: Form[IsoDate | None] = None, version: Form[Version] = None):
    piece = service.access_evidence(request.user, evidence_id, "compliance.edit_evidence")
    try:
        return Status(201, service.add_revision(request.user, piece, file, note, version, review_on=review_on))
    except ValidationError as error:
        return refused(error)


@router.get("/evidence/{evidence_id}/revisions/{number}/file",
            response=documented(None, not_found=True), summary="Download a revision's file (as an attachment)",
            openapi_extra={"responses": {200: {"description": "The file, as an attachment", "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}})
@requires("compliance.view")
def download_revision(request, evidence_id: Id, number: Annotated[int, PydanticField(ge=1, le=2**31 - 1)]):
    return service.revision_download(request.user, service.access_revision(request.user, evidence_id, number))


@router.post("/evidence/{evidence_id}/links", response=documented(LinksOut, not_found=True),
             summary="Let the evidence serve requirements (by URN)")
@requires("compliance.view")
def link_evidence(request, evidence_id: Id, payload: LinksIn):
    piece = service.access_evidence(request.user, evidence_id, "compliance.edit_evidence")
    try:
        made = service.link(request.user, piece, payload.requirement_urns, payload.note)
    except ValidationError as error:
        return refused(error)
    return {"changed": len(made), "requirement_urns": sorted(piece.links.values_list("requirement_urn", flat=True))}


@router.post("/evidence/{evidence_id}/unlinks", response=documented(LinksOut, not_found=True),
             summary="The evidence no longer serves these requirements")
@requires("compliance.view")
def unlink_evidence(request, evidence_id: Id, payload: LinksIn):
    piece = service.access_evidence(request.user, evidence_id, "compliance.edit_evidence")
    try:
        gone = service.unlink(request.user, piece, payload.requirement_urns)
    except ValidationError as error:
        return refused(error)
    return {"changed": gone, "requirement_urns": sorted(piece.links.values_list("requirement_urn", flat=True))}


@router.get("/requirement-evidence", response=documented(RequirementEvidenceOut),
            summary="The evidence for a requirement (by URN), direct and through mappings, with states and verdicts")
@requires("compliance.view")
def requirement_evidence(request, urn: Urn):
    entries = service.evidence_for(urn, request.user)
    return {"urn": urn, "status": service.requirement_status([urn])[urn], "evidence": [{
        "evidence": entry.evidence, "state": entry.state, "state_words": entry.state_words,
        "through_urn": entry.through_urn, "through_relation": entry.through_relation, "verdict": entry.verdict,
        "policy_published_version": entry.published_version.number if entry.published_version else None,
        "policy_review_on": entry.policy_review_on} for entry in entries]}
