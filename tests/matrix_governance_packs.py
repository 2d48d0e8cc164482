"""The permission matrix's rows of the board quality pack (andon/governance/packs.py): the board,
the CQO, the CMO and quality analysts read published versions; the pack's editors (CQO, quality
analysts) also read drafts, write narratives and draft; the CQO approves and publishes."""

from django.utils import timezone

from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case

VIEWERS = frozenset({Role.BOARD_MEMBER, Role.CQO, Role.CMO, Role.QUALITY_ANALYST})
EDITORS = frozenset({Role.CQO, Role.QUALITY_ANALYST})
APPROVERS = frozenset({Role.CQO})
BASE = "/api/v1/governance"
SECTION = {"key": "matrix", "title": "Matrix section", "html": "<p>Figures</p>", "order": 1,
           "figures": {"Falls, May": 3}}


def _version(status="draft"):
    from andon.governance.models import BoardPack, PackVersion
    from andon.platform.models import Organisation

    pack, _ = BoardPack.objects.get_or_create(organisation=Organisation.objects.order_by("pk").first(),
                                              month=timezone.localdate().replace(day=1))
    number = (pack.versions.count() or 0) + 1
    return PackVersion.objects.create(pack=pack, number=number, status=status, sections=[SECTION],
                                      published_at=timezone.now() if status == "published" else None)


def a_draft(user, other):
    return [_version().pk], {"key": "matrix", "narrative": "Falls fell.", "version": 1}


def an_approved(user, other):
    return [_version("approved").pk], {"version": 1}


def a_published(user, other):
    return [_version("published").pk], {}


PAGES = {
    "governance:packs": Case(VIEWERS),
    "governance:pack_draft": Case(EDITORS, method="post", data={"month": "2026-01"}),
    "governance:pack_version": Case(VIEWERS, setup=a_published),
    "governance:pack_narrative": Case(EDITORS, method="post", setup=a_draft),
    "governance:pack_approve": Case(APPROVERS, method="post", setup=lambda user, other: ([_version().pk],
                                                                                         {"version": 1})),
    "governance:pack_publish": Case(APPROVERS, method="post", setup=an_approved),
    "governance:pack_pdf": Case(VIEWERS, setup=a_published),
}


def draft_id(user, other, hospital):
    return {"version_id": _version().pk}


def approved_id(user, other, hospital):
    return {"version_id": _version("approved").pk}


def published_id(user, other, hospital):
    return {"version_id": _version("published").pk}


API = {
    ("GET", BASE + "/packs"): ApiCase(VIEWERS),
    ("GET", BASE + "/packs/{version_id}"): ApiCase(VIEWERS, setup=published_id),
    ("POST", BASE + "/packs/{version_id}/narratives"): ApiCase(EDITORS, setup=draft_id,
                                                               body={"key": "matrix", "narrative": "Falls fell."}),
    ("POST", BASE + "/packs/{version_id}/approve"): ApiCase(APPROVERS, setup=draft_id),
    ("POST", BASE + "/packs/{version_id}/publish"): ApiCase(APPROVERS, setup=approved_id),
    ("POST", BASE + "/packs"): ApiCase(EDITORS, body={"month": "2026-01"}),
    ("GET", BASE + "/packs/{version_id}/pdf"): ApiCase(VIEWERS, setup=published_id),
}
