"""The board quality pack over the API: the versions the caller may read, one version (sections,
narratives, figures, what changed), a narrative written, approval, publication, a draft (a job)
and the PDF (its download audited); the same policy and services as the pages."""

from datetime import date, datetime
from typing import Annotated

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import inputs
from andon.platform.api_kit import Body, Id, JobOut, NamedRouter, Pages, Version, documented, refused
from andon.platform.permissions import requires

from .. import packs, packs_render
from ..models import PackVersion

router = NamedRouter("andon_governance_api_packs_")


class PackVersionOut(Schema):
    id: int
    month: date
    number: int
    status: str
    drafted_at: datetime
    approved_at: datetime | None
    published_at: datetime | None
    pdf_sha256: str
    version: int


class PackSectionOut(Schema):
    key: str
    title: str
    html: str
    figures: dict[str, float | str | None]
    narrative: str
    changes: list[dict] = PydanticField(description="Figures that differ from last month's pack: label, now, "
                                                    "before, direction (up, down, changed, new, gone)")


class PackVersionDetailOut(PackVersionOut):
    sections: list[PackSectionOut]
    problems: list[str]
    compared_with_id: int | None = PydanticField(description="Last month's version the changes are against")


class NarrativeIn(Body):
    key: Annotated[str, PydanticField(min_length=1, max_length=200)]
    narrative: Annotated[str, PydanticField(max_length=packs.NARRATIVE_MAX)]
    version: Version = None


class PackVersionIn(Body):
    version: Version = None


class PackDraftIn(Body):
    month: Annotated[str, PydanticField(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]


def _out(version: PackVersion) -> dict:
    return {"id": version.pk, "month": version.pack.month, "number": version.number, "status": version.status,
            "drafted_at": version.drafted_at, "approved_at": version.approved_at,
            "published_at": version.published_at, "pdf_sha256": version.pdf_sha256, "version": version.version}


def _detail(version: PackVersion) -> dict:
    previous = packs.previous_version(version)
    changed = packs_render.changes(version, previous)
    sections = [{"key": s["key"], "title": s["title"], "html": s["html"], "figures": s.get("figures", {}),
                 "narrative": version.narratives.get(s["key"], ""),
                 "changes": [{"label": c.label, "now": c.now, "before": c.before, "direction": c.direction}
                             for c in changed.get(s["key"], [])]} for s in version.sections]
    return {**_out(version), "sections": sections, "problems": version.problems,
            "compared_with_id": previous.pk if previous else None}


@router.get("/packs", response=documented(list[PackVersionOut]),
            summary="Board pack versions the caller may read, newest month first (board members: published ones)")
@requires(packs.VIEW)
@paginate(Pages)
def list_pack_versions(request):
    organisation = packs.organisation_for(request.user, packs.VIEW)
    return [_out(v) for v in packs.visible_versions(request.user, organisation)]


@router.get("/packs/{version_id}", response=documented(PackVersionDetailOut, not_found=True),
            summary="One pack version: its sections (markup and figures), narratives and what changed since last month")
@requires(packs.VIEW)
def read_pack_version(request, version_id: Id):
    return _detail(packs.access_version(request.user, version_id))


@router.post("/packs/{version_id}/narratives", response=documented(PackVersionDetailOut, not_found=True,
                                                                    versioned=True),
             summary="Write (or clear, with empty text) the narrative of one section of a draft")
@requires(packs.EDIT)
def write_pack_narrative(request, version_id: Id, payload: NarrativeIn):
    version = packs.access_version(request.user, version_id, packs.EDIT)
    try:
        return _detail(packs.write_narrative(request.user, version, payload.key, payload.narrative, payload.version))
    except ValidationError as error:
        return refused(error)


@router.post("/packs/{version_id}/approve", response=documented(PackVersionOut, not_found=True, versioned=True),
             summary="Approve a draft (the CQO): its PDF is made and stored with its SHA-256")
@requires(packs.APPROVE)
def approve_pack_version(request, version_id: Id, payload: PackVersionIn):
    version = packs.access_version(request.user, version_id, packs.APPROVE)
    try:
        return _out(packs.approve(request.user, version, payload.version))
    except ValidationError as error:
        return refused(error)


@router.post("/packs/{version_id}/publish", response=documented(PackVersionOut, not_found=True, versioned=True),
             summary="Publish an approved version: everyone who may view packs is notified with a link")
@requires(packs.APPROVE)
def publish_pack_version(request, version_id: Id, payload: PackVersionIn):
    version = packs.access_version(request.user, version_id, packs.APPROVE)
    try:
        return _out(packs.publish(request.user, version, payload.version))
    except ValidationError as error:
        return refused(error)


@router.post("/packs", response=documented(JobOut, 202),
             summary="Draft the month's pack: starts the job that drafts it (202 with the job)")
@requires(packs.EDIT)
def draft_pack(request, payload: PackDraftIn):
    organisation = packs.organisation_for(request.user, packs.EDIT)
    try:
        month = inputs.month(payload.month)
    except inputs.InputError as problem:
        return refused(ValidationError({"month": str(problem)}))
    try:
        return Status(202, packs.start_draft(request.user, organisation, month))
    except ValidationError as error:
        return refused(error)


@router.get("/packs/{version_id}/pdf", response=documented(bytes, not_found=True),
            summary="A pack version as PDF (the stored file of an approved or published one); the download is audited")
@requires(packs.VIEW)
def pack_version_pdf(request, version_id: Id):
    version = packs.access_version(request.user, version_id)
    try:
        data = packs.pdf_for(request.user, version)
    except ValidationError as error:
        return refused(error)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = (f'attachment; filename="board-pack-{version.pack.month:%Y-%m}'
                                       f'-v{version.number}.pdf"')
    return response
