"""Compliance: evidence. The domain logic of this subject; other modules reach it through
andon.compliance.services (which re-exports the names in __all__).

A piece of evidence is a document (with numbered revisions), a link, a policy of the document
control, or a measure of the measures library (audit results will come from the clinical audit
module). Each has an owner and a review (or expiry) date, and serves any number of requirements
through links by URN; mappings between frameworks make it show against the mapped requirements
too (frameworks.mapped_urns). Expired evidence turns its requirements amber and its owner is told
once by the daily sweep, and again only after it was renewed and expired again.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Q
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, concurrency, history, navigation, permissions
from andon.platform.models import Organisation, Unit, User
from andon.platform.notifications import email
from andon.platform.roles import roles_with

from . import uploads
from .frameworks import mapped_urns
from .models import (
    Evidence, EvidenceKind, EvidenceLink, EvidenceRevision, MappingRelation, Policy, PolicyStatus, Requirement,
    RequirementMapping,
)
from .sweep import register_sweep

__all__ = [
    "EvidenceEntry", "STATE_WORDS", "access_evidence", "access_revision", "add_evidence", "add_revision",
    "due_soon_days", "evidence_for", "evidence_of_owner_needing_care", "evidence_state", "link", "notify_expired",
    "requirement_status", "retire_evidence", "revision_download", "state_filter", "unlink", "update_evidence",
    "visible_evidence",
]

TITLE_MAX = 200
TEXT_MAX = 4000
URN_MAX = 300
LINKS_AT_ONCE = 200

CURRENT, DUE_SOON, EXPIRED, RETIRED = "current", "due_soon", "expired", "retired"
STATE_WORDS = {CURRENT: "Current", DUE_SOON: "Due for review soon", EXPIRED: "Expired", RETIRED: "Retired"}
# Bootstrap's colours for the badges; the words always go with them (never colour alone).
STATE_COLOURS = {CURRENT: "success", DUE_SOON: "warning", EXPIRED: "danger", RETIRED: "secondary"}
EDITABLE = ("title", "description", "owner", "unit", "review_on", "url", "policy", "measure_key")


# --- states -------------------------------------------------------------------------------------

def due_soon_days() -> int:
    return int(getattr(settings, "ANDON_COMPLIANCE_EVIDENCE_DUE_SOON_DAYS", 30))


def evidence_state(evidence: Evidence, today: date | None = None) -> str:
    """current, due_soon (review within ANDON_COMPLIANCE_EVIDENCE_DUE_SOON_DAYS), expired (the
    review date is before today) or retired."""
    today = today or timezone.localdate()
    if evidence.retired_at is not None:
        return RETIRED
    if evidence.review_on is None or evidence.review_on < today:
        return EXPIRED  # evidence nobody has dated vouches for nothing
    if evidence.review_on <= today + timedelta(days=due_soon_days()):
        return DUE_SOON
    return CURRENT


def state_filter(state: str, today: date | None = None) -> Q:
    """The rows in `state`, as a filter (the library's and the API's)."""
    today = today or timezone.localdate()
    live = Q(retired_at__isnull=True)
    soon = today + timedelta(days=due_soon_days())
    return {
        CURRENT: live & Q(review_on__gt=soon),
        DUE_SOON: live & Q(review_on__gte=today, review_on__lte=soon),
        EXPIRED: live & (Q(review_on__lt=today) | Q(review_on__isnull=True)),
        RETIRED: Q(retired_at__isnull=False),
    }[state]


# --- reading ------------------------------------------------------------------------------------

def _organisations_held(user, capability: str) -> list[int]:
    """Organisations over whose whole the user holds `capability` (what organisation-wide
    evidence, placed in no unit, needs)."""
    roles = roles_with(capability)
    return [g.organisation_id for g in permissions.active_grants(user)
            if g.role in roles and not g.facility_id and not g.unit_id]


def visible_evidence(user):
    """Evidence the user may see: in the units where they hold compliance.view, the
    organisation's own where they hold it over the organisation, and what they own."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Evidence.objects.none()
    units = permissions.units_where(user, "compliance.view")
    return Evidence.objects.filter(
        Q(unit__in=units) | Q(unit__isnull=True, organisation_id__in=_organisations_held(user, "compliance.view"))
        | Q(owner=user)).select_related("owner", "unit__facility", "policy")


def access_evidence(user, evidence_id, capability: str = "compliance.view") -> Evidence:
    """The evidence, if the user may see it (compliance.view over its scope, or as its owner) and
    `capability` it: Http404 when there is none, PermissionDenied when they may not."""
    evidence = get_object_or_404(Evidence.objects.select_related(
        "owner", "unit__facility", "organisation", "policy", "created_by"), pk=evidence_id)
    if evidence.owner_id != getattr(user, "pk", None):
        permissions.check(user, "compliance.view", evidence)
    if capability != "compliance.view":
        permissions.check(user, capability, evidence)
    return evidence


def access_revision(user, evidence_id, number) -> EvidenceRevision:
    evidence = access_evidence(user, evidence_id)
    revision = evidence.revisions.select_related("uploaded_by").filter(number=number).first()
    if revision is None:
        raise permissions.Missing("This evidence has no revision with that number.")
    return revision


def revision_download(user, revision: EvidenceRevision):
    """The file of a revision, as an attachment; the download is in the audit trail."""
    audit.record_read(revision, actor=user, reason=f"download of revision {revision.number} of evidence "
                                                   f"{revision.evidence_id}")
    return uploads.serve(revision.file, revision.name, revision.content_type)


def evidence_of_owner_needing_care(user, today: date | None = None):
    """The user's own evidence that has expired or is due for review soon, the earliest first."""
    today = today or timezone.localdate()
    return Evidence.objects.filter(state_filter(EXPIRED, today) | state_filter(DUE_SOON, today),
                                   owner=user).order_by("review_on", "pk")


# --- checks -------------------------------------------------------------------------------------

def _clean_text(errors: dict, fields: dict) -> None:
    if "title" in fields:
        title = (fields["title"] or "").strip()
        if not title:
            errors["title"] = "Give the evidence a title (what a surveyor would ask for)."
        elif len(title) > TITLE_MAX:
            errors["title"] = f"The title is {len(title)} characters long; keep it to {TITLE_MAX}."
        fields["title"] = title
    if "description" in fields:
        fields["description"] = (fields["description"] or "").strip()
        if len(fields["description"]) > TEXT_MAX:
            errors["description"] = f"At most {TEXT_MAX:,} characters."


def _clean_url(errors: dict, url) -> str:
    url = (url or "").strip()
    parts = urlsplit(url) if url else None
    if not url:
        errors["url"] = "A link needs its address (https://…)."
    elif len(url) > 1000:
        errors["url"] = "The address is longer than 1,000 characters."
    elif parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        errors["url"] = f"{url[:100]!r} is not a web address: write it as https://… (or http://…)."
    return url


def _clean_review_on(errors: dict, review_on) -> None:
    if not isinstance(review_on, date):
        errors["review_on"] = "Give the date by which the evidence is to be reviewed (or expires)."
    elif not date(1900, 1, 1) <= review_on <= date(2199, 12, 31):
        errors["review_on"] = f"{review_on:%Y-%m-%d} is not a date we can keep (1900 to 2199)."


def _clean_owner(errors: dict, owner, scope) -> None:
    """The owner is told when the evidence expires and must be able to open it: an active person
    who holds compliance.view over its unit (or organisation)."""
    if not isinstance(owner, User):
        errors["owner"] = "Choose the person who keeps this evidence up to date."
    elif not owner.is_active:
        errors["owner"] = "The owner must be an active user."
    elif scope is not None and not permissions.people_who("compliance.view", scope).filter(pk=owner.pk).exists():
        errors["owner"] = (f"{owner.get_full_name() or owner.username} cannot see compliance records of {scope}: "
                           "choose someone who holds a compliance role there.")


def _clean_policy(errors: dict, policy, organisation) -> None:
    if not isinstance(policy, Policy):
        errors["policy"] = "Choose the policy this evidence is."
    elif organisation is not None and policy.organisation_id != organisation.pk:
        errors["policy"] = "The policy belongs to another organisation."


def _clean_measure(errors: dict, measure_key) -> str:
    from andon.measures import services as measures

    key = (measure_key or "").strip()
    if not key:
        errors["measure_key"] = "Choose the measure of the measures library."
    elif measures.latest_verdict(key) is None if len(key) <= 100 else True:
        errors["measure_key"] = f"{key[:100]!r} is not a measure of the library."
    return key


def _scope(unit, organisation):
    return unit if unit is not None else organisation


# --- changing -----------------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def add_evidence(user, *, kind: str, title: str, description: str = "", owner, organisation, unit=None,
                 review_on, url=None, upload=None, policy=None, measure_key=None, note: str = "") -> Evidence:
    """A new piece of evidence (compliance.manage_evidence over its unit or organisation); a
    document's upload is its revision 1."""
    if unit is not None and not isinstance(unit, Unit):
        raise ValidationError({"unit": "Choose the unit whose evidence it is, or none for the organisation."})
    if unit is not None:
        organisation = unit.facility.organisation
    if not isinstance(organisation, Organisation):
        raise ValidationError({"organisation": "Choose the organisation the evidence belongs to."})
    permissions.check(user, "compliance.manage_evidence", _scope(unit, organisation))
    errors: dict = {}
    fields = {"title": title, "description": description}
    _clean_text(errors, fields)
    if kind == EvidenceKind.AUDIT:
        errors["kind"] = ("Audit results will come from the clinical audit module, which is not here yet: "
                          "add the audit's report as a document for now.")
    elif kind not in EvidenceKind.values:
        errors["kind"] = f"{str(kind)[:40]!r} is not a kind of evidence; choose document, link, policy or measure."
    if kind == EvidenceKind.POLICY and review_on is None and isinstance(policy, Policy):
        review_on = policy.next_review_on  # a policy is reviewed when its document control says
    _clean_review_on(errors, review_on)
    _clean_owner(errors, owner, _scope(unit, organisation))
    if unit is not None and not unit.active:
        errors["unit"] = "The unit is no longer active."
    row = Evidence(kind=kind, owner=owner if isinstance(owner, User) else None, organisation=organisation, unit=unit,
                   review_on=review_on, created_by=user, **fields)
    checked = None
    if kind == EvidenceKind.DOCUMENT:
        checked = _checked_upload(errors, upload)
    elif kind == EvidenceKind.LINK:
        row.url = _clean_url(errors, url)
    elif kind == EvidenceKind.POLICY:
        _clean_policy(errors, policy, organisation)
        row.policy = policy if isinstance(policy, Policy) else None
    elif kind == EvidenceKind.MEASURE:
        row.measure_key = _clean_measure(errors, measure_key)
    if errors:
        raise ValidationError(errors)
    row.save()
    if checked is not None:
        _store_revision(user, row, checked, note, 1)
    return row


def _checked_upload(errors: dict, upload):
    if upload is None:
        errors["upload"] = "A document needs its file (PDF, Word, Excel, PNG, JPEG or plain text)."
        return None
    try:
        return uploads.check_upload(upload, uploads.DOCUMENTS, field="upload")
    except ValidationError as refusal:
        errors.update(refusal.message_dict)
        return None


def _store_revision(user, evidence: Evidence, checked, note: str, number: int) -> EvidenceRevision:
    return EvidenceRevision.objects.create(
        evidence=evidence, number=number, file=checked.as_file(), name=checked.name, content_type=checked.content_type,
        size=checked.size, sha256=checked.sha256, note=(note or "").strip()[:TEXT_MAX], uploaded_by=user)


@audit.changes_by_user
@transaction.atomic
def add_revision(user, evidence: Evidence, upload, note: str = "", version: int | None = None, *,
                 review_on: date | None = None) -> EvidenceRevision:
    """The document's next revision (numbered on from the last); with `review_on`, the review date
    moves on too (a renewed document is reviewed again from now)."""
    permissions.check(user, "compliance.edit_evidence", evidence)
    concurrency.lock(evidence, version)
    errors: dict = {}
    if evidence.kind != EvidenceKind.DOCUMENT:
        errors["upload"] = "Only a document has revisions: change a link, policy or measure on its edit page."
    elif evidence.retired_at is not None:
        errors["upload"] = "The evidence is retired: add a new piece of evidence instead."
    if review_on is not None:
        _clean_review_on(errors, review_on)
    checked = None if errors else _checked_upload(errors, upload)
    if errors:
        raise ValidationError(errors)
    number = (evidence.revisions.aggregate(last=Max("number"))["last"] or 0) + 1
    revision = _store_revision(user, evidence, checked, note, number)
    if review_on is not None and review_on != evidence.review_on:
        _renew(evidence, review_on)
        evidence.save()
    return revision


def _renew(evidence: Evidence, review_on: date) -> None:
    # A later review date renews the evidence: its owner is told again when that date passes.
    if evidence.review_on is None or review_on > evidence.review_on:
        evidence.expiry_notified_on = None
    evidence.review_on = review_on


@audit.changes_by_user
@transaction.atomic
def update_evidence(user, evidence: Evidence, version: int | None = None, **fields) -> Evidence:
    """Change what the evidence says, who keeps it, where it belongs, its review date, and its
    link, policy or measure (as its kind has); the kind itself stays."""
    permissions.check(user, "compliance.edit_evidence", evidence)
    concurrency.lock(evidence, version)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    if evidence.retired_at is not None:
        raise ValidationError({"title": "The evidence is retired and can no longer be changed."})
    errors: dict = {}
    _clean_text(errors, fields)
    unit = fields.get("unit", evidence.unit)
    if "unit" in fields and unit != evidence.unit:
        if unit is not None and (not isinstance(unit, Unit) or unit.facility.organisation_id != evidence.organisation_id):
            errors["unit"] = "Choose a unit of the evidence's organisation, or none for the whole organisation."
        elif unit is not None and not unit.active:
            errors["unit"] = "The unit is no longer active."
        elif not permissions.can(user, "compliance.manage_evidence", _scope(unit, evidence.organisation)):
            errors["unit"] = "You cannot move evidence there."
    if "review_on" in fields:
        _clean_review_on(errors, fields["review_on"])
    if ("owner" in fields or "unit" in fields) and "unit" not in errors:
        _clean_owner(errors, fields.get("owner", evidence.owner), _scope(unit, evidence.organisation))
    _clean_kind_fields(errors, evidence, fields)
    if errors:
        raise ValidationError(errors)
    review_on = fields.pop("review_on", evidence.review_on)
    for name, value in fields.items():
        setattr(evidence, name, value)
    if review_on != evidence.review_on:
        _renew(evidence, review_on)
    evidence.save()
    return evidence


def _clean_kind_fields(errors: dict, evidence: Evidence, fields: dict) -> None:
    own = {EvidenceKind.LINK: "url", EvidenceKind.POLICY: "policy", EvidenceKind.MEASURE: "measure_key"}.get(
        evidence.kind)
    for name in ("url", "policy", "measure_key"):
        if name in fields and name != own:
            if fields[name] in (None, "") or fields[name] == getattr(evidence, name):
                fields.pop(name)
            else:
                errors[name] = f"A {evidence.get_kind_display().lower()} has no {name.replace('_', ' ')}."
    if "url" in fields:
        fields["url"] = _clean_url(errors, fields["url"])
    if "policy" in fields:
        _clean_policy(errors, fields["policy"], evidence.organisation)
    if "measure_key" in fields:
        fields["measure_key"] = _clean_measure(errors, fields["measure_key"])


@audit.changes_by_user
@transaction.atomic
def retire_evidence(user, evidence: Evidence, version: int | None = None) -> Evidence:
    """Retired evidence serves no requirement any more; it and its revisions are kept."""
    permissions.check(user, "compliance.edit_evidence", evidence)
    concurrency.lock(evidence, version)
    if evidence.retired_at is not None:
        raise ValidationError({"retired_at": "The evidence is already retired."})
    evidence.retired_at = timezone.now()
    evidence.save()
    return evidence


def _clean_urns(requirement_urns) -> list[str]:
    if isinstance(requirement_urns, str):
        requirement_urns = [requirement_urns]
    urns = list(dict.fromkeys((u or "").strip() for u in requirement_urns if (u or "").strip()))
    if not urns:
        raise ValidationError({"requirement_urns": "Name at least one requirement (its URN)."})
    if len(urns) > LINKS_AT_ONCE:
        raise ValidationError({"requirement_urns": f"At most {LINKS_AT_ONCE} requirements at once."})
    too_long = [u for u in urns if len(u) > URN_MAX]
    if too_long:
        raise ValidationError({"requirement_urns": f"{too_long[0][:60]!r}… is longer than {URN_MAX} characters."})
    return urns


@audit.changes_by_user
@transaction.atomic
def link(user, evidence: Evidence, requirement_urns, note: str = "") -> list[EvidenceLink]:
    """Let the evidence serve these requirements (each URN must be a requirement of some loaded
    framework version); those it already serves are left as they are. Returns the new links."""
    permissions.check(user, "compliance.edit_evidence", evidence)
    urns = _clean_urns(requirement_urns)
    if evidence.retired_at is not None:
        raise ValidationError({"requirement_urns": "The evidence is retired: it serves no requirement any more."})
    known = set(Requirement.objects.filter(urn__in=urns).values_list("urn", flat=True))
    unknown = [u for u in urns if u not in known]
    if unknown:
        raise ValidationError({"requirement_urns": "No loaded framework has the requirement "
                               + ", ".join(repr(u[:URN_MAX]) for u in unknown[:5])
                               + (f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else "") + "."})
    linked = set(evidence.links.filter(requirement_urn__in=urns).values_list("requirement_urn", flat=True))
    return [EvidenceLink.objects.create(evidence=evidence, requirement_urn=urn, linked_by=user,
                                        note=(note or "").strip()[:TEXT_MAX])
            for urn in urns if urn not in linked]


@audit.changes_by_user
@transaction.atomic
def unlink(user, evidence: Evidence, requirement_urns) -> int:
    """The evidence no longer serves these requirements; returns how many links went."""
    permissions.check(user, "compliance.edit_evidence", evidence)
    urns = _clean_urns(requirement_urns)
    gone = 0
    for row in evidence.links.filter(requirement_urn__in=urns):
        row.delete()  # one by one, so each removal is in the audit trail
        gone += 1
    if not gone:
        raise ValidationError({"requirement_urns": "The evidence serves none of these requirements."})
    return gone


# --- for a requirement --------------------------------------------------------------------------

@dataclass
class EvidenceEntry:
    """One piece of evidence as it shows against a requirement."""

    evidence: Evidence
    state: str
    through_urn: str = ""  # the mapped requirement it is linked to; "" when linked directly
    through_relation: str = ""
    verdict: dict | None = None  # a measure's latest SPC verdict (measures.services.latest_verdict)
    published_version: object = None  # a policy's published version
    policy_review_on: date | None = None
    revision: EvidenceRevision | None = None  # a document's latest revision

    @property
    def state_words(self) -> str:
        return STATE_WORDS[self.state]

    @property
    def state_colour(self) -> str:
        return STATE_COLOURS[self.state]

    @property
    def direct(self) -> bool:
        return not self.through_urn


def _mappings_onto(urn: str, others: set[str]) -> dict[str, str]:
    """other URN -> the words of the mapping through which its evidence shows against `urn`."""
    rows = RequirementMapping.objects.filter(
        Q(source_urn__in=others, target_urn=urn) | Q(source_urn=urn, target_urn__in=others,
                                                     relation=MappingRelation.EQUAL))
    return {(row.source_urn if row.target_urn == urn else row.target_urn): row.get_relation_display() for row in rows}


def evidence_for(urn: str, user=None, today: date | None = None) -> list[EvidenceEntry]:
    """The live evidence for a requirement: linked to it directly, and through mappings (saying
    which); only what `user` may see when given. Measures carry their latest verdict, policies
    their published version and its review date, documents their latest revision."""
    today = today or timezone.localdate()
    others = mapped_urns(urn)
    relations = _mappings_onto(urn, others) if others else {}
    pieces = visible_evidence(user) if user is not None else Evidence.objects.select_related(
        "owner", "unit__facility", "policy")
    rows = EvidenceLink.objects.filter(requirement_urn__in={urn, *others}, evidence__in=pieces.filter(
        retired_at__isnull=True)).select_related("evidence__owner", "evidence__unit__facility", "evidence__policy")
    entries: dict[int, EvidenceEntry] = {}
    for row in sorted(rows, key=lambda r: (r.requirement_urn != urn, r.evidence.title.lower(), r.pk)):
        if row.evidence_id in entries:
            continue  # linked directly and through a mapping: shown once, as direct
        through = "" if row.requirement_urn == urn else row.requirement_urn
        entries[row.evidence_id] = _entry(row.evidence, today, through, relations.get(through, ""))
    return list(entries.values())


def _entry(evidence: Evidence, today: date, through: str, relation: str) -> EvidenceEntry:
    from andon.measures import services as measures

    entry = EvidenceEntry(evidence, evidence_state(evidence, today), through, relation)
    if evidence.kind == EvidenceKind.MEASURE and evidence.measure_key:
        entry.verdict = measures.latest_verdict(evidence.measure_key)
    elif evidence.kind == EvidenceKind.POLICY and evidence.policy_id:
        entry.published_version = evidence.policy.versions.filter(status=PolicyStatus.PUBLISHED).first()
        entry.policy_review_on = evidence.policy.next_review_on
    elif evidence.kind == EvidenceKind.DOCUMENT:
        entry.revision = evidence.revisions.order_by("-number").first()
    return entry


def requirement_status(urns, today: date | None = None) -> dict[str, str]:
    """{urn: "green" | "amber" | "none"} for many requirements in one query: amber when any live
    evidence for it (direct or through a mapping) has expired, or none is current; green when at
    least one is current and none expired; none without evidence."""
    urns = list(dict.fromkeys(urns))
    if not urns:
        return {}
    today = today or timezone.localdate()
    found: dict[str, list] = {urn: [] for urn in urns}
    for served, review_on in _served_review_dates(urns):
        found[served].append(review_on)
    status = {}
    for urn, dates in found.items():
        dates = [d if isinstance(d, date) or d is None else date.fromisoformat(str(d)) for d in dates]
        expired = any(d is None or d < today for d in dates)
        status[urn] = "none" if not dates else "amber" if expired else "green"
    return status


def _served_review_dates(urns: list[str]) -> list[tuple[str, object]]:
    """(requirement served, review date) of each live link to one of `urns`, directly or through
    a mapping onto it (an `equal` one either way): one statement, parameterised."""
    link, evidence, mapping = (EvidenceLink._meta.db_table, Evidence._meta.db_table,
                               RequirementMapping._meta.db_table)
    marks = ", ".join(["%s"] * len(urns))
    sql = (
        f"SELECT l.requirement_urn, e.review_on FROM {link} l JOIN {evidence} e ON e.id = l.evidence_id "
        f"WHERE e.retired_at IS NULL AND l.requirement_urn IN ({marks}) "
        f"UNION ALL SELECT m.target_urn, e.review_on FROM {mapping} m "
        f"JOIN {link} l ON l.requirement_urn = m.source_urn JOIN {evidence} e ON e.id = l.evidence_id "
        f"WHERE e.retired_at IS NULL AND m.target_urn IN ({marks}) AND m.source_urn <> m.target_urn "
        f"UNION ALL SELECT m.source_urn, e.review_on FROM {mapping} m "
        f"JOIN {link} l ON l.requirement_urn = m.target_urn JOIN {evidence} e ON e.id = l.evidence_id "
        f"WHERE e.retired_at IS NULL AND m.relation = %s AND m.source_urn IN ({marks}) AND m.source_urn <> m.target_urn"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*urns, *urns, MappingRelation.EQUAL, *urns])
        rows = cursor.fetchall()
    # A piece linked directly and through a mapping counts once per requirement it serves is not
    # needed for the colour: the colour depends only on which dates are there.
    return rows


# --- expiry -------------------------------------------------------------------------------------

def notify_expired(today: date) -> int:
    """The daily sweep's part: tell the owner of each piece that expired (once; again only after
    it was renewed and expired again). Returns how many owners were told."""
    told = 0
    due = Evidence.objects.filter(retired_at__isnull=True, review_on__lt=today, expiry_notified_on__isnull=True)
    for evidence in due.select_related("owner"):
        with transaction.atomic():
            # The bookkeeping date is set without a save: that would move the version and refuse
            # the owner's open edit form for a change they did not make.
            if not Evidence.objects.filter(pk=evidence.pk, expiry_notified_on__isnull=True).update(
                    expiry_notified_on=today):
                continue
            # E-mail only: the owner's home page lists "Evidence expired: …" until it is renewed (_work).
            email([evidence.owner], f"Evidence expired: {evidence.title}",
                  body=f"Its review date was {evidence.review_on:%Y-%m-%d}. The requirements it serves show amber "
                       "until it is renewed (a new revision or a later review date) or replaced.",
                  url=reverse("compliance:evidence_detail", args=[evidence.pk]))
            told += 1
    return told


def _work(user) -> list:
    from andon.platform.services import WorkItem

    if not permissions.can(user, "compliance.view"):
        return []  # an owner of evidence holds compliance.view over it (add_evidence): no query for others
    today = timezone.localdate()
    items = []
    for evidence in evidence_of_owner_needing_care(user, today)[:20]:
        url = reverse("compliance:evidence_detail", args=[evidence.pk])
        if evidence_state(evidence, today) == EXPIRED:
            when = f"{evidence.review_on:%Y-%m-%d}" if evidence.review_on else "no date"
            items.append(WorkItem(f"Evidence expired: {evidence.title}", url, "alert",
                                  f"Review date {when}: renew or replace it"))
        else:
            items.append(WorkItem(f"Evidence due for review {evidence.review_on:%Y-%m-%d}: {evidence.title}", url,
                                  "review", evidence.get_kind_display()))
    return items


def connect() -> None:
    """Registries of this subject (audit, history, navigation, work, content, demo), from ready()."""
    from andon.platform import demo
    from andon.platform import services as platform_services

    from . import demo_evidence

    audit.register(Evidence, exclude_fields=["version"])
    audit.register(EvidenceRevision, exclude_fields=["file"])
    audit.register(EvidenceLink)
    history.register(Evidence, labels={"review_on": "Review date", "measure_key": "Measure", "url": "Address",
                                       "retired_at": "Retired at"},
                     hidden={"expiry_notified_on", "created_by", "created_at", "kind"})
    navigation.add(navigation.NavEntry("Evidence", "compliance:evidence_list", "compliance.view", "file-earmark-check"))
    platform_services.register_work_provider(_work)
    register_sweep("expired evidence", notify_expired)
    demo.register_demo_loader(demo_evidence.load_demo_evidence)
