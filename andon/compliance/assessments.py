"""Compliance: assessments, readiness and their comparison. The domain logic of this subject;
other modules reach it through andon.compliance.services (which re-exports the names in __all__).

An assessment judges a scope (the organisation, a facility or a unit) against a framework
version, or a chosen part of it: one item per assessable requirement (per unit when the scope is
assessed unit by unit). An item's working status (not started … done) is kept apart from its
result (met, partly met, not met, not applicable with a reason); a result needs a rationale and a
reviewer other than the owner signs it off. Readiness is the weighted share met (docs/compliance.md
"Assessments and readiness"), snapshotted daily for its trend.
"""

import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, history, inputs, navigation, notifications, permissions
from andon.platform.concurrency import lock
from andon.platform.exports import spreadsheet_safe
from andon.platform.models import Facility, Organisation, Unit, User
from andon.platform.roles import roles_with

from . import uploads
from .models import (
    Assessment, AssessmentItem, AssessmentStatus, Finding, FindingRisk, FindingStatus, FrameworkVersion,
    ReadinessSnapshot, Requirement, Result, WorkingStatus,
)
from .sweep import register_sweep

__all__ = [
    "BLOCKING_RISKS", "EXPORT_HEADER", "ImportProblem", "Readiness", "ScoreLine", "access_assessment", "access_item",
    "assessment_export_rows", "assessments_work", "assign_items", "close_assessment", "compare_assessments",
    "create_assessment",
    "export_xlsx", "import_items", "items_of", "my_items", "readiness", "readiness_rows", "result_credits",
    "score_readiness", "sign_off", "take_snapshot", "trend", "unit_code", "update_item", "visible_assessments",
]

TEXT_LIMITS = {"rationale": 4000, "not_applicable_reason": 2000, "title": 200}
# An open finding of these risks keeps its item from counting as met (readiness counts open findings).
BLOCKING_RISKS = (FindingRisk.HIGH, FindingRisk.EXTREME)
MAX_WEIGHT = Decimal("1000")


# --- opening and listing ------------------------------------------------------------------------

def access_assessment(user, assessment_id, capability: str = "compliance.view") -> Assessment:
    return permissions.fetch_checked(user, capability, Assessment.objects.select_related(
        "version_assessed__framework", "organisation", "facility", "unit__facility", "lead"), pk=assessment_id)


def access_item(user, item_id, capability: str = "compliance.view_item") -> AssessmentItem:
    """An item: its owner and those who see compliance over its scope open it."""
    return permissions.fetch_checked(user, capability, AssessmentItem.objects.select_related(
        "assessment__version_assessed__framework", "assessment__unit", "assessment__facility",
        "assessment__organisation", "requirement__chapter", "for_unit__facility", "owner", "reviewed_by"), pk=item_id)


def _covering(user, capability: str) -> Q:
    """Assessments whose scope one of the user's grants for `capability` covers (as grant_covers)."""
    roles = roles_with(capability)
    condition = Q(pk__in=[])
    for grant in permissions.active_grants(user):
        if grant.role not in roles:
            continue
        if grant.unit_id:
            condition |= Q(unit__path__startswith=grant.unit.path)
        elif grant.facility_id:
            condition |= Q(facility_id=grant.facility_id)
        else:
            condition |= Q(organisation_id=grant.organisation_id)
    return condition


def visible_assessments(user):
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Assessment.objects.none()
    return Assessment.objects.filter(_covering(user, "compliance.view")).select_related(
        "version_assessed__framework", "facility", "unit", "lead")


def items_of(assessment: Assessment):
    return assessment.items.select_related("requirement__chapter", "for_unit__facility", "owner", "reviewed_by")


def my_items(user):
    """Items the person owns in open assessments, those not done first."""
    return AssessmentItem.objects.filter(owner=user, assessment__status=AssessmentStatus.OPEN).select_related(
        "assessment", "requirement__chapter", "for_unit").order_by("assessment", "requirement__position")


def unit_code(unit) -> str:
    """How exports and imports name a unit: its facility's code and its own ("rgh/4w")."""
    return f"{unit.facility.code}/{unit.code}" if unit is not None else ""


# --- creating -----------------------------------------------------------------------------------

def _chosen_requirements(version: FrameworkVersion, urns) -> list[Requirement]:
    """The assessable requirements of `version` under the chosen URNs (chapters, standards or
    single requirements, with everything below them); all of them when none is chosen."""
    every = list(Requirement.objects.filter(version=version).order_by("position"))
    if not urns:
        return [r for r in every if r.assessable]
    by_urn = {r.urn: r for r in every}
    unknown = [urn for urn in urns if urn not in by_urn]
    if unknown:
        raise ValidationError({"requirements": f"Not in {version}: {', '.join(unknown[:5])}."})
    children = defaultdict(list)
    for requirement in every:
        children[requirement.parent_id].append(requirement)
    chosen, stack = set(), [by_urn[urn] for urn in urns]
    while stack:
        node = stack.pop()
        if node.pk not in chosen:
            chosen.add(node.pk)
            stack.extend(children[node.pk])
    return [r for r in every if r.pk in chosen and r.assessable]


def _scope_fields(scope) -> dict:
    if isinstance(scope, Unit):
        return {"organisation": scope.facility.organisation, "facility": scope.facility, "unit": scope}
    if isinstance(scope, Facility):
        return {"organisation": scope.organisation, "facility": scope, "unit": None}
    if isinstance(scope, Organisation):
        return {"organisation": scope, "facility": None, "unit": None}
    raise ValidationError({"scope": "Choose the organisation, a facility or a unit to assess."})


def _in_scope(unit: Unit, fields: dict) -> bool:
    if fields["unit"] is not None:
        return unit.path.startswith(fields["unit"].path)
    if fields["facility"] is not None:
        return unit.facility_id == fields["facility"].pk
    return unit.facility.organisation_id == fields["organisation"].pk


def _check_creation(title, version, lead, due_on, units, fields) -> str:
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = "Give the assessment a title."
    elif len(title) > TEXT_LIMITS["title"]:
        errors["title"] = f"At most {TEXT_LIMITS['title']} characters."
    if not isinstance(version, FrameworkVersion):
        errors["version"] = "Choose the framework version to assess against."
    if not isinstance(lead, User) or not lead.is_active:
        errors["lead"] = "Choose an active person to lead the assessment."
    if due_on is not None:
        try:
            inputs.day(due_on)
        except inputs.InputError as error:
            errors["due_on"] = str(error)
    outside = [str(u) for u in units if not _in_scope(u, fields)]
    if outside:
        errors["per_unit_units"] = f"Not in the scope assessed: {', '.join(outside)}."
    if errors:
        raise ValidationError(errors)
    return title


@audit.changes_by_user
@transaction.atomic
def create_assessment(user, *, title: str, version, scope, requirements=None, per_unit_units=None, lead,
                      due_on: date | None = None) -> Assessment:
    """An assessment of `scope` with one item per assessable requirement chosen (per unit of
    `per_unit_units` when given, else for the whole scope), and its first readiness snapshot."""
    fields = _scope_fields(scope)
    permissions.check(user, "compliance.assess", scope)
    units = list(per_unit_units or [])
    title = _check_creation(title, version, lead, due_on, units, fields)
    chosen = _chosen_requirements(version, list(requirements or []))
    if not chosen:
        raise ValidationError({"requirements": "The part chosen holds no assessable requirement."})
    assessment = Assessment.objects.create(title=title, version_assessed=version, lead=lead, due_on=due_on,
                                           created_by=user, **fields)
    for requirement in chosen:
        for unit in units or [None]:
            AssessmentItem.objects.create(assessment=assessment, requirement=requirement, for_unit=unit)
    take_snapshot(assessment, timezone.localdate())
    return assessment


@audit.changes_by_user
@transaction.atomic
def close_assessment(user, assessment: Assessment, version: int | None = None) -> Assessment:
    permissions.check(user, "compliance.assess", assessment)
    assessment = lock(assessment, version)
    if assessment.status == AssessmentStatus.CLOSED:
        raise ValidationError({"status": "The assessment is already closed."})
    take_snapshot(assessment, timezone.localdate())
    assessment.status = AssessmentStatus.CLOSED
    assessment.closed_at = timezone.now()
    assessment.save()
    return assessment


# --- working on items ---------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def assign_items(user, items, owner) -> int:
    """Give the items to `owner` (None: nobody); the owner is e-mailed once. Returns how many moved."""
    if owner is not None and (not isinstance(owner, User) or not owner.is_active):
        raise ValidationError({"owner": "Choose an active person to own the items."})
    moved = []
    for item in items:
        permissions.check(user, "compliance.assess", item)
        lock(item)
        if item.assessment.status != AssessmentStatus.OPEN:
            raise ValidationError({"items": f"{item.assessment} is closed."})
        if item.owner_id != (owner.pk if owner else None):
            item.owner = owner
            item.updated_at = timezone.now()
            item.save()
            moved.append(item)
    if owner is not None and moved and owner != user:
        count = len(moved)
        # E-mail only: the owner's home page lists each item not done as "Assessment item: …".
        notifications.email([owner], f"{count} assessment item{'s' if count != 1 else ''} assigned to you",
                            body=f"In {moved[0].assessment}.", url=reverse("compliance:my_items"))
    return len(moved)


def _clean_text(errors: dict, name: str, value) -> str:
    value = (value or "").strip()
    if len(value) > TEXT_LIMITS[name]:
        errors[name] = f"At most {TEXT_LIMITS[name]:,} characters (this is {len(value):,})."
    return value


def _clean_weight(errors: dict, weight):
    if weight is None:
        return None
    try:
        weight = Decimal(str(weight)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        errors["weight"] = f"{weight!r} is not a number."
        return None
    if not weight.is_finite() or weight < 0 or weight > MAX_WEIGHT:
        errors["weight"] = f"A weight is from 0 to {MAX_WEIGHT}."
    return weight


def item_problems(working_status, result, reason: str, rationale: str) -> dict:
    """The rules of an item, field -> reason (empty when it may be saved): the import checks
    every row with them before it changes anything."""
    errors = {}
    if working_status not in WorkingStatus.values:
        errors["working_status"] = f"{working_status!r} is not a working status; choose one of " \
                                   f"{', '.join(WorkingStatus.labels)}."
    if result not in Result.values:
        errors["result"] = f"{result!r} is not a result; choose one of {', '.join(Result.labels)}."
        return errors
    if result == Result.NOT_APPLICABLE and not reason:
        errors["not_applicable_reason"] = "Say why the requirement does not apply here."
    if result != Result.NOT_APPLICABLE and reason:
        errors["not_applicable_reason"] = "Only a requirement judged not applicable takes a reason for it."
    if result and not rationale:
        errors["rationale"] = "Give the rationale for the result: what was looked at and what it showed."
    if working_status == WorkingStatus.DONE and not result:
        errors["working_status"] = "An item is done only with a result: judge it first."
    return errors


@audit.changes_by_user
@transaction.atomic
def update_item(user, item: AssessmentItem, version: int | None, *, working_status: str, result: str,
                not_applicable_reason: str = "", rationale: str = "", weight=None) -> AssessmentItem:
    """The owner (or one who assesses the scope) records where the work is and what it found. A
    result that changes clears the reviewer's sign-off; the weight is the assessors' to set."""
    permissions.check(user, "compliance.work_on_item", item)
    item = lock(item, version)
    if item.assessment.status != AssessmentStatus.OPEN:
        raise ValidationError({"assessment": "The assessment is closed: its items no longer change."})
    errors = {}
    reason = _clean_text(errors, "not_applicable_reason", not_applicable_reason)
    rationale = _clean_text(errors, "rationale", rationale)
    weight = _clean_weight(errors, weight)
    if weight is not None and weight != item.weight and not permissions.can(user, "compliance.assess", item):
        errors["weight"] = "Only those who run the assessment set an item's weight."
    errors = {**item_problems(working_status, result or "", reason, rationale), **errors}
    if errors:
        raise ValidationError(errors)
    if (result or "") != item.result:
        item.reviewed_by, item.reviewed_at = None, None
    item.working_status, item.result = working_status, result or ""
    item.not_applicable_reason, item.rationale = reason, rationale
    if weight is not None:
        item.weight = weight
    item.updated_at = timezone.now()
    item.save()
    return item


@audit.changes_by_user
@transaction.atomic
def sign_off(user, item: AssessmentItem, version: int | None = None) -> AssessmentItem:
    """A reviewer other than the owner signs the result off; an item in review is then done."""
    permissions.check(user, "compliance.review_items", item)
    item = lock(item, version)
    if item.assessment.status != AssessmentStatus.OPEN:
        raise ValidationError({"assessment": "The assessment is closed."})
    if item.owner_id == user.pk:
        raise ValidationError({"reviewed_by": "The item's owner cannot sign off their own work: ask another reviewer."})
    if item.working_status not in (WorkingStatus.IN_REVIEW, WorkingStatus.DONE) or not item.result:
        raise ValidationError({"working_status": "Only an item in review or done, with a result, is signed off."})
    if item.reviewed_by_id:
        raise ValidationError({"reviewed_by": f"Already signed off by {item.reviewed_by}."})
    item.reviewed_by, item.reviewed_at = user, timezone.now()
    item.working_status = WorkingStatus.DONE
    item.save()
    return item


# --- readiness ----------------------------------------------------------------------------------

def result_credits() -> dict[str, Decimal]:
    """The share of an item's weight each result earns (settings: ANDON_COMPLIANCE_PARTLY_MET_CREDIT)."""
    partly = Decimal(str(settings.ANDON_COMPLIANCE_PARTLY_MET_CREDIT))
    return {Result.MET: Decimal(1), Result.PARTLY_MET: partly, Result.NOT_MET: Decimal(0),
            Result.NOT_ASSESSED: Decimal(0)}


RESULT_KEYS = {Result.MET: "met", Result.PARTLY_MET: "partly_met", Result.NOT_MET: "not_met",
               Result.NOT_APPLICABLE: "not_applicable", Result.NOT_ASSESSED: "not_assessed"}


@dataclass
class ScoreLine:
    """Readiness of one group of items: earned / possible, and the counts behind it."""

    key: str
    label: str
    earned: Decimal = Decimal(0)
    possible: Decimal = Decimal(0)
    counts: dict = field(default_factory=lambda: dict.fromkeys(RESULT_KEYS.values(), 0))
    open_findings: dict = field(default_factory=lambda: dict.fromkeys(FindingRisk.values, 0))
    held_back: int = 0  # items met or partly met kept from counting by an open high or extreme finding

    @property
    def score(self) -> Decimal | None:
        return (self.earned / self.possible).quantize(Decimal("0.0001")) if self.possible else None

    @property
    def percent(self) -> float | None:
        return None if self.score is None else float(self.score * 100)

    @property
    def items(self) -> int:
        return sum(self.counts.values())

    def add(self, row: dict, credits: dict) -> None:
        result = row["result"] or ""
        self.counts[RESULT_KEYS[Result(result)]] += 1
        for risk in row.get("open_findings", ()):
            self.open_findings[risk] += 1
        if result == Result.NOT_APPLICABLE:
            return  # left out of numerator and denominator
        weight = Decimal(row["weight"])
        credit = credits[result]
        if credit and any(risk in BLOCKING_RISKS for risk in row.get("open_findings", ())):
            credit = Decimal(0)
            self.held_back += 1
        self.possible += weight
        self.earned += weight * credit

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "score": None if self.score is None else float(self.score),
                "earned": float(self.earned), "possible": float(self.possible), "counts": dict(self.counts),
                "open_findings": dict(self.open_findings), "held_back": self.held_back}


@dataclass
class Readiness:
    overall: ScoreLine
    by_chapter: list[ScoreLine]
    by_unit: list[ScoreLine]

    def as_dict(self) -> dict:
        return {"overall": self.overall.as_dict(), "by_chapter": [line.as_dict() for line in self.by_chapter],
                "by_unit": [line.as_dict() for line in self.by_unit]}


WHOLE_SCOPE = ("", "Whole scope")


def score_readiness(rows, credits: dict | None = None) -> Readiness:
    """Readiness of plain rows: dicts with result, weight, chapter (key, label), unit (key, label:
    ("", "Whole scope") for items of the whole scope) and open_findings (the risks of the item's
    open findings). Each item earns weight × its result's credit; not applicable items are left
    out; not assessed items count in the denominator with nothing earned; an item with an open
    high or extreme finding earns nothing until the finding is closed."""
    credits = credits or result_credits()
    overall = ScoreLine("overall", "Overall")
    chapters: dict[str, ScoreLine] = {}
    units: dict[str, ScoreLine] = {}
    for row in rows:
        overall.add(row, credits)
        for groups, (key, label) in ((chapters, row["chapter"]), (units, row.get("unit") or WHOLE_SCOPE)):
            # Not setdefault: its ScoreLine would be built (and thrown away) for every row.
            line = groups.get(key) or groups.setdefault(key, ScoreLine(key, label))
            line.add(row, credits)
    return Readiness(overall, list(chapters.values()), sorted(units.values(), key=lambda line: (line.key != "",
                                                                                                  line.label)))


def readiness_rows(assessment: Assessment) -> list[dict]:
    """The plain rows `score_readiness` takes, read from the assessment's items and open findings."""
    findings = defaultdict(list)
    for item_id, risk in Finding.objects.filter(item__assessment=assessment, status=FindingStatus.OPEN).values_list(
            "item_id", "risk"):
        findings[item_id].append(risk)
    # Plain values, not model instances: the readiness page reads every item of the assessment.
    items = assessment.items.order_by("requirement__position").values_list(
        "pk", "requirement__urn", "result", "weight", "requirement__chapter__urn", "requirement__chapter__citation",
        "requirement__chapter__title", "requirement__citation", "requirement__title", "for_unit_id", "for_unit__name")
    rows = []
    for (pk, urn, result, weight, chapter_urn, chapter_citation, chapter_title, citation, title, unit_id,
         unit_name) in items:
        chapter = (chapter_urn, f"{chapter_citation} {chapter_title}".strip()) if chapter_urn else \
            (urn, f"{citation} {title}".strip())
        rows.append({"item": pk, "urn": urn, "result": result, "weight": weight, "chapter": chapter,
                     "unit": (str(unit_id), unit_name) if unit_id else WHOLE_SCOPE, "open_findings": findings[pk]})
    return rows


def readiness(assessment: Assessment) -> Readiness:
    return score_readiness(readiness_rows(assessment))


def take_snapshot(assessment: Assessment, today: date) -> ReadinessSnapshot | None:
    """Readiness as it stands, kept for `today` (a second snapshot the same day replaces the first)."""
    scored = readiness(assessment)
    if scored.overall.score is None:
        return None  # nothing assessable (every item not applicable): no point on the trend
    snapshot, _ = ReadinessSnapshot.objects.update_or_create(
        assessment=assessment, taken_on=today, defaults={"score": scored.overall.score, "detail": scored.as_dict()})
    return snapshot


def _snapshot_open_assessments(today: date) -> int:
    return sum(take_snapshot(a, today) is not None for a in Assessment.objects.filter(status=AssessmentStatus.OPEN))


def trend(assessment: Assessment) -> list[tuple[date, float]]:
    return [(s.taken_on, float(s.score)) for s in assessment.snapshots.order_by("taken_on")]


# --- comparison ---------------------------------------------------------------------------------

def _rank(result: str) -> Decimal | None:
    return None if result == Result.NOT_APPLICABLE else result_credits()[result]


def compare_assessments(before: Assessment, after: Assessment) -> dict:
    """What moved from `before` to `after` (the same framework, any versions): items matched by
    requirement URN and unit; results better, worse or changed; requirements added and removed;
    readiness by chapter before and after."""
    if before.version_assessed.framework_id != after.version_assessed.framework_id:
        raise ValidationError({"after": "Compare two assessments of the same framework."})
    old = {(i.requirement.urn, i.for_unit_id): i for i in items_of(before)}
    new = {(i.requirement.urn, i.for_unit_id): i for i in items_of(after)}
    moved = []
    for key in [k for k in new if k in old]:
        was, now = old[key], new[key]
        if was.result == now.result:
            continue
        low, high = _rank(was.result), _rank(now.result)
        direction = "changed" if low is None or high is None or low == high else (
            "better" if high > low else "worse")
        moved.append({"urn": key[0], "requirement": now.requirement, "unit": now.for_unit, "before": was,
                      "after": now, "direction": direction})
    chapters_before = {line.key: line for line in readiness(before).by_chapter}
    chapters_after = {line.key: line for line in readiness(after).by_chapter}
    chapters = [{"key": key, "label": (chapters_after.get(key) or chapters_before[key]).label,
                 "before": chapters_before.get(key), "after": chapters_after.get(key)}
                for key in list(chapters_before) + [k for k in chapters_after if k not in chapters_before]]
    return {"before": before, "after": after, "moved": moved,
            "better": sum(m["direction"] == "better" for m in moved),
            "worse": sum(m["direction"] == "worse" for m in moved),
            "added": [new[k] for k in new if k not in old], "removed": [old[k] for k in old if k not in new],
            "overall": (readiness(before).overall, readiness(after).overall), "chapters": chapters}


# --- export and import --------------------------------------------------------------------------

EXPORT_HEADER = ["requirement_urn", "citation", "title", "unit", "owner", "working_status", "result",
                 "not_applicable_reason", "rationale", "reviewer", "reviewed_at", "weight", "item_version"]


def assessment_export_rows(assessment: Assessment):
    for item in items_of(assessment).order_by("requirement__position", "for_unit__name"):
        yield {"requirement_urn": item.requirement.urn, "citation": item.requirement.citation,
               "title": item.requirement.title, "unit": unit_code(item.for_unit),
               "owner": item.owner.username if item.owner else "",
               "working_status": item.working_status, "result": item.result,
               "not_applicable_reason": item.not_applicable_reason, "rationale": item.rationale,
               "reviewer": item.reviewed_by.username if item.reviewed_by else "",
               "reviewed_at": item.reviewed_at.isoformat() if item.reviewed_at else "",
               "weight": str(item.weight), "item_version": item.version}


def export_xlsx(assessment: Assessment) -> bytes:
    """The same rows as the CSV, as a workbook; every cell spreadsheet-safe (no formulas run)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Items"
    sheet.append(EXPORT_HEADER)
    for row in assessment_export_rows(assessment):
        sheet.append([spreadsheet_safe(row[column]) for column in EXPORT_HEADER])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class ImportProblem:
    row: int  # the header is row 1
    field: str
    reason: str


def _unquoted(value) -> str:
    """A cell as text, without the quote an export puts before a formula-like value."""
    text = "" if value is None else str(value).strip()
    return text[1:] if text.startswith("'") and text[1:2] in ("=", "+", "-", "@") else text


def _read_table(checked) -> list[dict]:
    try:
        if checked.kind == "xlsx":
            rows = next(iter(uploads.read_workbook(checked.content).values()), [])
        else:
            rows = uploads.read_csv(inputs.utf8_text(checked.content))
    except inputs.InputError as error:  # a SheetError too
        raise ValidationError({"file": f"{checked.name}: {error}"}) from None
    if not rows:
        raise ValidationError({"file": f"{checked.name} is empty."})
    header = [_unquoted(h) for h in rows[0]]
    missing = [c for c in ("requirement_urn", "unit", "owner", "working_status", "result", "not_applicable_reason",
                           "rationale", "weight", "item_version") if c not in header]
    if missing:
        raise ValidationError({"file": f"{checked.name}: row 1 lacks the column(s) {', '.join(missing)}."})
    try:
        return inputs.table_rows(header, [[_unquoted(v) for v in row] for row in rows[1:]])
    except inputs.InputError as error:
        raise ValidationError({"file": f"{checked.name}: {error}."}) from None


def _choice(value: str, choices) -> str | None:
    """A status or result written as its code or its label, any case; None when it is neither."""
    wanted = value.strip().lower()
    for code, label in choices.choices:
        if wanted in (code.lower(), label.lower()):
            return code
    return None


def _check_row(row: dict, items: dict, owners: dict, seen: set) -> tuple[list[ImportProblem], tuple | None]:
    n, problems = row["_row"], []
    item = items.get((row.get("requirement_urn", ""), row.get("unit", "")))
    if item is None:
        unit = row.get("unit") or "(whole scope)"
        return [ImportProblem(n, "requirement_urn", f"{row.get('requirement_urn')!r} for unit {unit!r} "
                                                    "is not an item of this assessment.")], None
    if item.pk in seen:
        problems.append(ImportProblem(n, "requirement_urn", "The item appears on an earlier row too."))
    seen.add(item.pk)
    owner_name = row.get("owner", "")
    if owner_name and owner_name not in owners:
        problems.append(ImportProblem(n, "owner", f"{owner_name!r} is not an active user."))
    status = _choice(row.get("working_status", ""), WorkingStatus)
    result = _choice(row.get("result", ""), Result) if row.get("result", "") else ""
    if status is None:
        problems.append(ImportProblem(n, "working_status", f"{row.get('working_status')!r} is not a working status."))
    if result is None:
        problems.append(ImportProblem(n, "result", f"{row.get('result')!r} is not a result."))
    version = row.get("item_version", "")
    if not version.isdigit():
        problems.append(ImportProblem(n, "item_version", f"{version!r} is not an item version."))
    elif int(version) != item.version:
        problems.append(ImportProblem(n, "item_version", f"The item changed since the file was exported "
                                                         f"(version {version}, now {item.version}): export it again."))
    errors: dict = {}
    weight = _clean_weight(errors, row.get("weight") or None)
    fields = {"working_status": status, "result": result,
              "not_applicable_reason": _clean_text(errors, "not_applicable_reason", row.get("not_applicable_reason")),
              "rationale": _clean_text(errors, "rationale", row.get("rationale")), "weight": weight}
    if status is not None and result is not None:
        errors.update(item_problems(status, result, fields["not_applicable_reason"], fields["rationale"]))
    problems += [ImportProblem(n, name, reason) for name, reason in errors.items()]
    return problems, (item, owners.get(owner_name), fields)


def _changed(item: AssessmentItem, owner, fields: dict) -> tuple[bool, bool]:
    content = any(getattr(item, name) != value for name, value in fields.items() if value is not None)
    return content, item.owner_id != (owner.pk if owner else None)


@audit.changes_by_user
@transaction.atomic
def import_items(user, assessment: Assessment, checked) -> tuple[int, list[ImportProblem]]:
    """Load an exported (and edited) CSV or XLSX back: every row checked first (unknown item or
    owner, bad status or result, the item rules, a stale version); any problem and nothing is
    changed. Otherwise each changed item goes through update_item and assign_items. Returns
    (items changed, problems)."""
    permissions.check(user, "compliance.assess", assessment)
    if assessment.status != AssessmentStatus.OPEN:
        raise ValidationError({"file": "The assessment is closed."})
    rows = _read_table(checked)
    items = {(i.requirement.urn, unit_code(i.for_unit)): i
             for i in items_of(assessment).select_for_update(of=("self",))}
    names = {row.get("owner", "") for row in rows} - {""}
    owners = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    problems, planned, seen = [], [], set()
    for row in rows:
        found, plan = _check_row(row, items, owners, seen)
        problems += found
        if plan:
            planned.append(plan)
    if problems:
        return 0, problems
    changed = 0
    for item, owner, fields in planned:
        content, ownership = _changed(item, owner, fields)
        if content:
            update_item(user, item, item.version, **fields)
        if ownership:
            assign_items(user, [item], owner)
        changed += content or ownership
    return changed, []


# --- registries ---------------------------------------------------------------------------------

WORK_LIMIT = 20


def assessments_work(user) -> list:
    """Home-page lines: the person's items not done, and items in review awaiting their sign-off."""
    from andon.platform.services import WorkItem

    lines = []
    for item in my_items(user).exclude(working_status=WorkingStatus.DONE)[:WORK_LIMIT]:
        due = f", due {item.assessment.due_on:%Y-%m-%d}" if item.assessment.due_on else ""
        lines.append(WorkItem(f"Assessment item: {item.requirement}"[:200], reverse("compliance:item", args=[item.pk]),
                              "due", f"{item.get_working_status_display()} · {item.assessment}{due}"))
    if permissions.can(user, "compliance.review_items"):
        waiting = AssessmentItem.objects.filter(
            Q(assessment__in=Assessment.objects.filter(_covering(user, "compliance.review_items"))),
            assessment__status=AssessmentStatus.OPEN, working_status=WorkingStatus.IN_REVIEW,
            reviewed_by=None).exclude(owner=user).select_related("assessment", "requirement")
        for item in waiting[:WORK_LIMIT]:
            lines.append(WorkItem(f"Awaiting your sign-off: {item.requirement}"[:200],
                                  reverse("compliance:item", args=[item.pk]), "review", str(item.assessment)))
    return lines


def connect() -> None:
    """Registries of this subject (audit, history, navigation, work, content, demo), from ready()."""
    from andon.platform import demo
    from andon.platform.services import register_work_provider

    from . import demo_assessments

    audit.register(Assessment, exclude_fields=["version"])
    audit.register(AssessmentItem, exclude_fields=["version", "updated_at"])
    audit.register(Finding, exclude_fields=["version"])
    history.register(AssessmentItem, labels={"for_unit": "Unit", "not_applicable_reason": "Reason not applicable",
                                             "reviewed_by": "Signed off by", "reviewed_at": "Signed off at"})
    history.register(Finding, labels={"closing_note": "Closing note"})
    navigation.add(navigation.NavEntry("Assessments", "compliance:assessments", "compliance.view", "clipboard-check"))
    register_work_provider(assessments_work)
    register_sweep("readiness snapshots", _snapshot_open_assessments)
    demo.register_demo_loader(demo_assessments.load)
