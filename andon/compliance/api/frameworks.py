"""The compliance API: frameworks. Read the library, a version's requirements, one requirement,
what changed between two versions and the mappings of a URN; import a framework or mappings."""

import base64
import binascii
from datetime import date, datetime
from typing import Annotated, Literal

from django.shortcuts import get_object_or_404
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, MappedQuery, NamedRouter, Pages, documented
from andon.platform.permissions import requires

from .. import frameworks
from ..models import Framework, RequirementMapping

router = NamedRouter("andon_compliance_api_")

MAX_TEXT = 7 * 1024 * 1024  # a 5 MB file, base64-encoded for XLSX


class FrameworkVersionOut(Schema):
    id: int
    framework_id: int
    framework_urn: str
    version: str
    effective_on: date | None
    is_current: bool
    previous_id: int | None
    source_name: str
    sha256: str
    loaded_at: datetime

    @staticmethod
    def resolve_framework_urn(version):
        return version.framework.urn


class FrameworkOut(Schema):
    id: int
    urn: str
    name: str
    kind: str
    publisher: str
    source_url: str
    description: str
    current_version: FrameworkVersionOut | None

    @staticmethod
    def resolve_current_version(framework):
        return framework.current


class RequirementOut(Schema):
    id: int
    urn: str
    version_id: int
    parent_urn: str | None
    chapter_urn: str | None
    depth: int
    position: int
    citation: str
    title: str
    summary: str
    guidance: str
    evidence_hints: list[str]
    assessable: bool
    change: str

    @staticmethod
    def resolve_parent_urn(requirement):
        return requirement.parent.urn if requirement.parent_id else None

    @staticmethod
    def resolve_chapter_urn(requirement):
        return requirement.chapter.urn if requirement.chapter_id else None


class FieldChangeOut(Schema):
    field: str
    before: str | bool | list[str] | None
    after: str | bool | list[str] | None


class ChangedOut(Schema):
    urn: str
    old_id: int
    new_id: int
    fields: list[FieldChangeOut]


class BriefRequirementOut(Schema):
    id: int
    urn: str
    citation: str
    title: str


class ChangesOut(Schema):
    old_version_id: int
    new_version_id: int
    added: list[BriefRequirementOut]
    removed: list[BriefRequirementOut]
    changed: list[ChangedOut]


class MappingOut(Schema):
    source_urn: str
    target_urn: str
    relation: str
    note: str
    other_urn: str | None = PydanticField(description="With urn: the other end of the mapping")
    other_requirement_id: int | None = PydanticField(
        description="With urn: the other end in its framework's current version, if loaded")
    evidence_shows_here: bool | None = PydanticField(
        description="With urn: whether evidence for the other end shows against the URN asked about")


class FrameworkFieldsIn(Body):
    urn: Annotated[str, PydanticField(max_length=200)] = ""
    name: Annotated[str, PydanticField(max_length=200)] = ""
    kind: Literal["regulation", "accreditation", "internal", ""] = ""
    publisher: Annotated[str, PydanticField(max_length=200)] = ""
    source_url: Annotated[str, PydanticField(max_length=500)] = ""
    version: Annotated[str, PydanticField(max_length=50)] = ""
    effective_on: IsoDate | None = None
    description: Annotated[str, PydanticField(max_length=5000)] = ""


class ImportIn(Body):
    what: Literal["framework", "mappings"] = "framework"
    format: Literal["yaml", "csv", "xlsx"]
    text: Annotated[str, PydanticField(min_length=1, max_length=MAX_TEXT,
                                       description="The file's text; for xlsx, the file's bytes in base64")]
    source_name: Annotated[str, PydanticField(min_length=1, max_length=200)] = "api upload"
    framework: FrameworkFieldsIn | None = PydanticField(None, description="For CSV and XLSX frameworks: its fields")


class FrameworkImportOut(Schema):
    created: bool = PydanticField(description="False: this version was already loaded unchanged; nothing changed")
    version: FrameworkVersionOut | None
    requirements: int
    mappings: int


@router.get("/frameworks", response=documented(list[FrameworkOut]), summary="The framework library")
@requires("compliance.view")
@paginate(Pages)
def list_frameworks(request):
    return Framework.objects.order_by("name", "pk")


@router.get("/frameworks/{framework_id}/versions", response=documented(list[FrameworkVersionOut], not_found=True),
            summary="A framework's versions, newest first")
@requires("compliance.view")
@paginate(Pages)
def list_versions(request, framework_id: Id):
    framework = get_object_or_404(Framework, pk=framework_id)
    return framework.versions.select_related("framework").order_by("-loaded_at", "-pk")


@router.get("/framework-versions/{version_id}/requirements", response=documented(list[RequirementOut], not_found=True),
            summary="A version's requirements in order, depth-first; optionally one chapter's")
@requires("compliance.view")
@paginate(Pages)
def list_requirements(request, version_id: Id, chapter: Annotated[str, PydanticField(max_length=300)] = ""):
    version = frameworks.access_framework_version(request.user, version_id)
    rows = version.requirements.select_related("parent", "chapter").order_by("position")
    return rows.filter(chapter__urn=chapter) if chapter else rows


@router.get("/requirements/{requirement_id}", response=documented(RequirementOut, not_found=True),
            summary="One requirement")
@requires("compliance.view")
def get_requirement(request, requirement_id: Id):
    return frameworks.access_requirement(request.user, requirement_id)


@router.get("/framework-versions/{version_id}/changes", response=documented(ChangesOut, not_found=True),
            summary="What a version adds, removes and changes against another (by default the one before it)")
@requires("compliance.view")
def version_changes(request, version_id: Id, against: Id | None = None):
    new = frameworks.access_framework_version(request.user, version_id)
    if against is None and new.previous_id is None:
        return Status(404, {"detail": "This is the framework's first version: there is nothing to compare it with."})
    old = frameworks.access_framework_version(request.user, against or new.previous_id)
    if old.framework_id != new.framework_id:
        return Status(404, {"detail": "Only two versions of one framework can be compared."})
    changes = frameworks.version_changes(old, new)
    return {
        "old_version_id": old.pk, "new_version_id": new.pk, "added": changes.added, "removed": changes.removed,
        "changed": [{"urn": after.urn, "old_id": before.pk, "new_id": after.pk,
                     "fields": [vars(change) for change in diff]} for before, after, diff in changes.changed],
    }


@router.get("/mappings", response=documented(list[MappingOut]),
            summary="Mappings between requirements; with urn, those of one requirement, both ways")
@requires("compliance.view")
@paginate(Pages)
def list_mappings(request, urn: Annotated[str, PydanticField(max_length=300)] = ""):
    if not urn:
        return MappedQuery(RequirementMapping.objects.order_by("pk"), _mapping_row)
    return [_mapping_row(m.mapping, m) for m in frameworks.mappings_of(urn)]


def _mapping_row(mapping, mapped=None) -> dict:
    return {"source_urn": mapping.source_urn, "target_urn": mapping.target_urn, "relation": mapping.relation,
            "note": mapping.note, "other_urn": mapped.other_urn if mapped else None,
            "other_requirement_id": mapped.requirement.pk if mapped and mapped.requirement else None,
            "evidence_shows_here": mapped.evidence_shows_here if mapped else None}


@router.post("/frameworks/imports", response=documented(FrameworkImportOut, 201),
             summary="Import a framework (a new one, or a new version) or mappings; 422 lists every problem",
             description="A refused file is a 422 whose `detail` lists each problem with its `source`, `line`, "
                         "`sheet`, `field` and `reason` (and `msg`, all of it in words); nothing is stored.")
@requires("compliance.manage_frameworks")
def import_file(request, payload: ImportIn):
    try:
        data = _file_bytes(payload)
        if payload.what == "mappings":
            count = frameworks.import_mappings(request.user, data, payload.format, payload.source_name)
            return Status(201, {"created": count > 0, "version": None, "requirements": 0, "mappings": count})
        metadata = payload.framework.model_dump(exclude_defaults=True) if payload.framework else {}
        outcome = frameworks.import_framework(request.user, data, payload.format, payload.source_name, metadata)
    except frameworks.FrameworkFileError as error:
        return Status(422, {"detail": [
            {"loc": ["body", "text"], "msg": str(p), "type": "file_problem", "source": p.source, "line": p.line,
             "sheet": p.sheet, "field": p.field, "reason": p.reason} for p in error.problems]})
    return Status(201, {"created": outcome.created, "version": outcome.version,
                        "requirements": outcome.version.requirements.count(), "mappings": outcome.mappings})


def _file_bytes(payload: ImportIn) -> bytes:
    if payload.format != "xlsx":
        return payload.text.encode("utf-8")
    try:
        return base64.b64decode(payload.text, validate=True)
    except (binascii.Error, ValueError):
        raise frameworks.FrameworkFileError([frameworks.Problem(payload.source_name, None, "text",
                                                                "an XLSX file is sent as base64; this is not base64")]) from None
