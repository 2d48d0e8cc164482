"""The board quality pack (issue 21): drafted from the modules' sections (the platform's reporting
registry: governance imports no module), narratives written per section by the pack's editors,
approved by the CQO (its PDF stored then, with its digest), published to the board (each board
member notified with a link). Every version is kept whole; re-drafting after a draft or an
approval makes the next version and marks the older one replaced; a published version stays.
Rendering, the PDF and "what changed since last month" are in packs_render.py."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, concurrency, notifications, permissions, reporting, schedules
from andon.platform.jobs import JobFailed, job_task, start_job
from andon.platform.models import Organisation

from . import packs_render
from .models import BoardPack, PackStatus, PackVersion

EDIT, APPROVE, VIEW, READ = ("governance.edit_packs", "governance.approve_packs", "governance.view_packs",
                             "governance.read_pack_version")
NARRATIVE_MAX = 4000  # characters: a page's box, not an essay


def first_of(month: date) -> date:
    return date(month.year, month.month, 1)


def last_of(month: date) -> date:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return following - timedelta(days=1)


def previous_month(day: date) -> date:
    return first_of(first_of(day) - timedelta(days=1))


# --- reading ------------------------------------------------------------------------------------

def organisation_for(user, capability: str) -> Organisation:
    """The organisation whose packs the user reads (the first of their grants' holding `capability`)."""
    for organisation_id in sorted({g.organisation_id for g in permissions.active_grants(user)}):
        organisation = Organisation.objects.filter(pk=organisation_id).first()
        if organisation is not None and permissions.can(user, capability, organisation):
            return organisation
    raise Http404("no organisation whose packs you may read")


def access_version(user, version_id: int, capability: str = READ) -> PackVersion:
    """One version, if the user may read it (board members: published ones only) and `capability`."""
    version = permissions.fetch_checked(user, READ, PackVersion.objects.select_related("pack__organisation"),
                                        pk=version_id)
    if capability != READ:
        permissions.check(user, capability, version)
    return version


def visible_versions(user, organisation: Organisation):
    """The versions the user may read, newest month first: editors every one, readers the published."""
    versions = PackVersion.objects.filter(pack__organisation=organisation).select_related("pack")
    if not permissions.can(user, EDIT, organisation):
        versions = versions.filter(status=PackStatus.PUBLISHED)
    return versions.order_by("-pack__month", "-number")


def previous_version(version: PackVersion) -> PackVersion | None:
    """Last month's pack to compare with: its published version, else its latest."""
    earlier = PackVersion.objects.filter(pack__organisation=version.pack.organisation,
                                         pack__month=previous_month(version.pack.month))
    return earlier.filter(status=PackStatus.PUBLISHED).order_by("-number").first() or earlier.order_by("-number").first()


# --- drafting -----------------------------------------------------------------------------------

def _sections_for(organisation: Organisation, month: date, today: date) -> tuple[list[dict], list[str]]:
    context = reporting.ReportingContext(organisation.pk, first_of(month), last_of(month), today)
    sections, problems = reporting.pack_sections(context)
    kept = [{"key": s.key, "title": s.title, "html": str(s.html), "order": s.order,
             "figures": {label: _plain(value) for label, value in s.figures.items()}} for s in sections]
    return kept, problems


def _plain(value):
    """A figure as JSON keeps it: numbers as float (or int), words as text."""
    if value is None or isinstance(value, int | float | str):
        return value
    return float(value) if hasattr(value, "__float__") else str(value)


@audit.changes_by_user
@transaction.atomic
def draft(user, organisation: Organisation, month: date, *, today: date | None = None) -> PackVersion:
    """A new version of the month's pack from the sections as they are now. `user` None: the
    schedule. An earlier draft or approved version is replaced (its narratives carried over for
    the sections that are still there); a published one stays as it was."""
    if user is not None:
        permissions.check(user, EDIT, organisation)
    month = first_of(month)
    today = today or timezone.localdate()
    if month > first_of(today):
        raise ValidationError({"month": f"{month:%B %Y} has not begun: a pack reports a month that has"})
    sections, problems = _sections_for(organisation, month, today)
    pack, _ = BoardPack.objects.get_or_create(organisation=organisation, month=month)
    pack = BoardPack.objects.select_for_update().get(pk=pack.pk)  # one new number at a time
    latest = pack.versions.order_by("-number").first()
    narratives = {}
    if latest is not None:
        keys = {s["key"] for s in sections}
        narratives = {k: v for k, v in latest.narratives.items() if k in keys}
        if latest.status in (PackStatus.DRAFT, PackStatus.APPROVED):
            latest.status = PackStatus.REPLACED
            latest.save(update_fields=["status"])
    return PackVersion.objects.create(pack=pack, number=(latest.number + 1) if latest else 1, sections=sections,
                                      narratives=narratives, problems=problems, drafted_by=user)


def start_draft(user, organisation: Organisation, month: date):
    """The "Draft the pack" button: the job that drafts it (many charts take a while)."""
    permissions.check(user, EDIT, organisation)
    month = first_of(month)
    if month > first_of(timezone.localdate()):
        raise ValidationError({"month": f"{month:%B %Y} has not begun: a pack reports a month that has"})
    return start_job(draft_pack, f"Board quality pack for {month:%B %Y}", user, organisation.pk, month.isoformat())


@job_task
def draft_pack(job, organisation_id: int, month_iso: str):
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise JobFailed("The organisation no longer exists.")
    version = draft(job.job.requested_by, organisation, date.fromisoformat(month_iso))
    return {"pack_version_id": version.pk, "number": version.number, "problems": version.problems}


def holidays() -> set[date]:
    return {date.fromisoformat(d) for d in getattr(settings, "ANDON_HOLIDAYS", []) or []}


def fifth_working_day(month: date) -> date:
    """The fifth day of the month that is Monday to Friday and not a holiday (ANDON_HOLIDAYS)."""
    day, counted, off = first_of(month), 0, holidays()
    while True:
        if day.weekday() < 5 and day not in off:
            counted += 1
            if counted == 5:
                return day
        day += timedelta(days=1)


def scheduled_draft(slot: datetime) -> dict:
    """The schedule's run: on the fifth working day, last month's pack for each organisation that
    has none yet; other days nothing (said so)."""
    today = timezone.localtime(slot).date() if timezone.is_aware(slot) else slot.date()
    if today != fifth_working_day(today):
        return {"drafted": [], "reason": f"{today} is not the fifth working day of the month"}
    month = previous_month(today)
    drafted = []
    for organisation in Organisation.objects.order_by("pk"):
        if not PackVersion.objects.filter(pack__organisation=organisation, pack__month=month).exists():
            drafted.append(draft(None, organisation, month, today=today).pk)
    return {"drafted": drafted, "month": month.isoformat()}


# --- narratives, approval, publication --------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def write_narrative(user, version: PackVersion, key: str, text: str, seen: int | None = None) -> PackVersion:
    """The narrative of one section (its key), while the version is a draft; `seen`: the version
    count the editor read, so that two editors do not overwrite each other silently."""
    permissions.check(user, EDIT, version)
    concurrency.lock(version, seen)
    if version.status != PackStatus.DRAFT:
        raise ValidationError({"narrative": f"Version {version.number} is {version.get_status_display().lower()}: "
                                            "only a draft's narratives are written (draft the pack again to change it)"})
    if key not in {s["key"] for s in version.sections}:
        raise ValidationError({"key": f"The pack has no section {key!r}"})
    text = (text or "").strip()
    if len(text) > NARRATIVE_MAX:
        raise ValidationError({"narrative": f"At most {NARRATIVE_MAX} characters ({len(text)} written)"})
    narratives = dict(version.narratives)
    if text:
        narratives[key] = text
    else:
        narratives.pop(key, None)
    version.narratives = narratives
    version.save(update_fields=["narratives"])
    return version


def _store_pdf(version: PackVersion) -> None:
    data = packs_render.pdf(version, previous_version(version))
    folder = Path(settings.DATA_DIR) / "governance"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"board-pack-{version.pack.organisation_id}-{version.pack.month:%Y-%m}-v{version.number}.pdf"
    partial = folder / (name + ".part")
    partial.write_bytes(data)
    partial.replace(folder / name)  # whole or not at all
    version.pdf_file, version.pdf_sha256 = name, hashlib.sha256(data).hexdigest()


@audit.changes_by_user
@transaction.atomic
def approve(user, version: PackVersion, seen: int | None = None) -> PackVersion:
    """The CQO approves a draft: its PDF is made and stored now (with its digest), so what is
    published is what was approved."""
    permissions.check(user, APPROVE, version)
    concurrency.lock(version, seen)
    if version.status != PackStatus.DRAFT:
        raise ValidationError({"status": f"Version {version.number} is {version.get_status_display().lower()}, "
                                         "not a draft: it cannot be approved"})
    _store_pdf(version)
    version.status, version.approved_by, version.approved_at = PackStatus.APPROVED, user, timezone.now()
    version.save(update_fields=["status", "approved_by", "approved_at", "pdf_file", "pdf_sha256"])
    return version


@audit.changes_by_user
@transaction.atomic
def publish(user, version: PackVersion, seen: int | None = None) -> PackVersion:
    """Publish an approved version: the board (everyone who may view packs) is told, with a link."""
    permissions.check(user, APPROVE, version)
    concurrency.lock(version, seen)
    if version.status != PackStatus.APPROVED:
        raise ValidationError({"status": f"Version {version.number} is {version.get_status_display().lower()}: "
                                         "only an approved version is published"})
    version.status, version.published_at = PackStatus.PUBLISHED, timezone.now()
    version.save(update_fields=["status", "published_at"])
    url = reverse("governance:pack_version", args=[version.pk])
    notifications.notify(permissions.people_who(VIEW, version.pack.organisation),
                         f"The board quality pack for {version.pack.month:%B %Y} is published",
                         body="Read it in Andon or download its PDF.", url=url)
    return version


def pdf_for(user, version: PackVersion) -> bytes:
    """The PDF of a version, its reading audited: the stored file of an approved or published
    version (checked against its digest), or a draft's made now for its editors."""
    if version.pdf_file:
        data = (Path(settings.DATA_DIR) / "governance" / version.pdf_file).read_bytes()
        if hashlib.sha256(data).hexdigest() != version.pdf_sha256:
            raise ValidationError("The stored PDF does not match its digest: it was changed after approval")
    else:
        data = packs_render.pdf(version, previous_version(version))
    audit.record_read(version, actor=user, reason="download board pack PDF")
    return data


def connect() -> None:
    """Registries of this subject, from ready()."""
    from andon.platform import navigation

    from . import demo_packs

    navigation.add(navigation.NavEntry("Board packs", "governance:packs", VIEW, "journal-richtext"))
    audit.register(BoardPack)
    audit.register(PackVersion, exclude_fields=["sections"])  # the drafted markup is kept whole on the row
    schedules.register_scheduled_task("governance.draft_board_pack", "Draft the board quality pack",
                                      scheduled_draft, default_spec="0 6 * * 1-5")
    demo_packs.register()
