"""Clinical audits: tools and their criteria, and planning an audit of a tool (its place, period,
lead, auditors and the sample size worked from the expected compliance, margin and confidence).
The sample and its draw are in sampling.py, data entry and agreement in entry.py; results and
the later stages of the cycle in results.py and cycle.py. (Pages in views/audit_tools.py.)

Who may: improvement.view reads tools and audits over their place; improvement.manage_audits
designs tools and plans audits there; an audit's lead runs it (improvement.run_audit) and its
named auditors answer its cases (improvement.answer_audit)."""

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from statistics import NormalDist

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from andon.analytics import stats
from andon.measures import services as measures
from andon.platform import audit, concurrency, inputs, permissions
from andon.platform.models import Facility, Organisation, Sequence, Unit, User
from andon.platform.services import staff_of

from .models import Audit, AuditStage, AuditTool, CaseAnswer, Criterion

__all__ = [
    "SampleWorking", "access_audit", "audit_reference", "access_criterion", "access_tool", "add_criterion", "create_tool",
    "edit_criterion", "edit_tool", "feedable_measures", "place_choices", "place_from_code", "plan_audit",
    "possible_auditors", "retire_criterion", "sample_working", "visible_audits", "visible_tools",
]

TITLE_MAX = 200
TEXT_MAX = 2000
CRITERION_MAX = 500
GUIDANCE_MAX = 4000
SOURCE_MAX = 300
PERIOD_DAYS_MAX = 366 * 3


# --- reading ------------------------------------------------------------------------------------

def visible_tools(user):
    """Audit tools placed where the user reads improvement work."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return AuditTool.objects.none()
    return (AuditTool.objects.filter(permissions.placed_where(user, "improvement.view"))
            .select_related("measure", "unit", "facility").annotate(
                criteria_count=Count("criteria", filter=Q(criteria__active=True), distinct=True)))


def visible_audits(user):
    """Audits the user leads or audits, and those placed where they read improvement work."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Audit.objects.none()
    named = Audit.objects.filter(Q(lead=user) | Q(auditors=user)).values("pk")
    return (Audit.objects.filter(permissions.placed_where(user, "improvement.view") | Q(pk__in=named))
            .select_related("tool", "lead", "unit", "facility"))


def access_tool(user, tool_id, capability: str = "improvement.view") -> AuditTool:
    """The tool, if the user may `capability` it (Http404 / PermissionDenied)."""
    return permissions.fetch_checked(user, capability, AuditTool.objects.select_related(
        "measure", "organisation", "facility", "unit__facility"), pk=tool_id)


def access_criterion(user, tool_id, criterion_id, capability: str = "improvement.manage_audits") -> Criterion:
    tool = access_tool(user, tool_id, capability)
    criterion = get_object_or_404(Criterion, pk=criterion_id, tool=tool)
    criterion.tool = tool
    return criterion


def access_audit(user, audit_id, capability: str = "improvement.view_audit") -> Audit:
    """The audit, if the user may see it and `capability` it (Http404 / PermissionDenied)."""
    found = permissions.fetch_checked(user, "improvement.view_audit", Audit.objects.select_related(
        "tool__measure", "lead", "organisation", "facility", "unit__facility", "drawn_by", "previous"), pk=audit_id)
    if capability != "improvement.view_audit":
        permissions.check(user, capability, found)
    return found


def audit_reference(today: date) -> str:
    """The next AUD-<year>-NNN, for an audit planned or a re-audit."""
    return f"AUD-{today.year}-{Sequence.next(f'AUD-{today.year}'):03d}"


def feedable_measures():
    """The library's measures an audit's results may feed: those entered by hand or CSV (a
    measure computed from the FHIR store or safety events has its own numerator)."""
    return measures.listed_measures().filter(source_kind=measures.SourceKind.MANUAL)


def possible_auditors(user):
    """Active staff of the organisations where `user` plans audits: a ward nurse may audit too."""
    organisations = permissions.units_where(user, "improvement.manage_audits").values("facility__organisation_id")
    return staff_of(organisations)


# --- places -------------------------------------------------------------------------------------

_PLACES = {"o": Organisation, "f": Facility, "u": Unit}


def place_choices(user, capability: str = "improvement.manage_audits") -> list[tuple[str, str]]:
    """[(code, label)] of the places where `user` may `capability`: whole organisations (o<id>),
    facilities (f<id>), then units (u<id>)."""
    units = permissions.units_where(user, capability).filter(active=True).select_related("facility__organisation")
    facilities = Facility.objects.filter(pk__in=units.values("facility_id")).select_related("organisation")
    organisations = {facility.organisation for facility in facilities}
    return ([(f"o{o.pk}", f"{o.name} (whole organisation)") for o in organisations if permissions.can(user, capability, o)]
            + [(f"f{f.pk}", f"{f.name} (facility)") for f in facilities if permissions.can(user, capability, f)]
            + [(f"u{u.pk}", f"{u.facility.name} · {u.name}") for u in units.order_by("facility__name", "path")])


def place_from_code(code, field: str = "place") -> dict:
    """{"organisation", "facility", "unit"} of a place code; a code naming no place is a
    ValidationError on `field`."""
    text = str(code or "").strip()
    pk = inputs.record_id(text[1:]) if text[:1] in _PLACES and text[1:].isdigit() else None
    found = _PLACES[text[0]].objects.filter(pk=pk).first() if pk else None
    if found is None:
        raise ValidationError({field: "Choose where it applies: a unit, a facility or the whole organisation."})
    if isinstance(found, Unit):
        return {"unit": found, "facility": found.facility, "organisation": found.facility.organisation}
    if isinstance(found, Facility):
        return {"unit": None, "facility": found, "organisation": found.organisation}
    return {"unit": None, "facility": None, "organisation": found}


# --- checks shared by tools, criteria and audits ----------------------------------------------

def _text(errors: dict, name: str, value, limit: int, *, required: str = "") -> str:
    if value is not None and not isinstance(value, str):
        errors[name] = "Write it as text."
        return ""
    text = (value or "").strip()
    if required and not text:
        errors[name] = required
    elif len(text) > limit:
        errors[name] = f"It is {len(text):,} characters long; keep it to {limit:,}."
    return text


def _percent(errors: dict, name: str, value, *, low=0, high=100, low_open=False, high_open=False, label="") -> Decimal:
    """A percentage as a Decimal of two places, within [low, high] (open ends when asked)."""
    label = label or name.replace("_", " ").capitalize()
    try:
        number = Decimal(str(inputs.finite(float(value)) if not isinstance(value, str) else inputs.number(value)))
    except (TypeError, ValueError, InvalidOperation, inputs.InputError):
        errors[name] = f"{label}: {value!r} is not a number; write a percentage like 90 or 87.5."
        return Decimal(0)
    if number < low or number > high or (low_open and number == low) or (high_open and number == high):
        errors[name] = (f"{label} is {number.normalize():f} %; it must be "
                        f"{'over' if low_open else 'at least'} {low} and {'under' if high_open else 'at most'} {high} %.")
    return number.quantize(Decimal("0.01"))


# --- tools --------------------------------------------------------------------------------------

def _checked_measure(errors: dict, measure):
    if measure in (None, ""):
        return None
    if isinstance(measure, str):
        measure = feedable_measures().filter(key=measure).first() or measure
    if not feedable_measures().filter(pk=getattr(measure, "pk", None)).exists():
        errors["measure"] = (f"{getattr(measure, 'title', measure)} is not a measure entered by hand or CSV in the "
                             "library: an audit's results can only feed such a measure.")
        return None
    return measure


def _tool_fields(errors: dict, title, topic, standard_source, measure) -> dict:
    return {"title": _text(errors, "title", title, TITLE_MAX, required="Give the tool a title."),
            "topic": _text(errors, "topic", topic, TEXT_MAX),
            "standard_source": _text(errors, "standard_source", standard_source, SOURCE_MAX),
            "measure": _checked_measure(errors, measure)}


@audit.changes_by_user
@transaction.atomic
def create_tool(user, *, title: str, place: dict, topic: str = "", standard_source: str = "", measure=None) -> AuditTool:
    """A new audit tool (AT-NNN) at `place` ({"organisation", "facility", "unit"}), without
    criteria yet."""
    permissions.check(user, "improvement.manage_audits", place.get("unit") or place.get("facility")
                      or place.get("organisation"))
    errors: dict = {}
    values = _tool_fields(errors, title, topic, standard_source, measure)
    if errors:
        raise ValidationError(errors)
    reference = f"AT-{Sequence.next('AT'):03d}"
    return AuditTool.objects.create(reference=reference, created_by=user, **values, **place)


@audit.changes_by_user
@transaction.atomic
def edit_tool(user, tool: AuditTool, version: int | None, *, title: str, topic: str = "", standard_source: str = "",
              measure=None, place: dict | None = None) -> AuditTool:
    permissions.check(user, "improvement.manage_audits", tool)
    concurrency.lock(tool, version)
    errors: dict = {}
    values = _tool_fields(errors, title, topic, standard_source, measure)
    if place is not None and not permissions.can(user, "improvement.manage_audits",
                                                 place["unit"] or place["facility"] or place["organisation"]):
        errors["place"] = "You do not design audit tools there."
    if errors:
        raise ValidationError(errors)
    for name, value in {**values, **(place or {})}.items():
        setattr(tool, name, value)
    tool.save()
    return tool


# --- criteria -----------------------------------------------------------------------------------

def _criterion_fields(errors: dict, tool: AuditTool, text, target, exceptions, guidance, number, *, current=None) -> dict:
    values = {"text": _text(errors, "text", text, CRITERION_MAX, required="Write the standard: what every case is expected to show."),
              "target": _percent(errors, "target", target, label="Target"),
              "exceptions": _text(errors, "exceptions", exceptions, TEXT_MAX),
              "guidance": _text(errors, "guidance", guidance, GUIDANCE_MAX)}
    if number not in (None, ""):
        if isinstance(number, bool) or not str(number).isdigit() or not 1 <= int(number) <= 999:
            errors["number"] = f"{number!r} is not a criterion number; use a whole number from 1 to 999."
        else:
            number = int(number)
            taken = tool.criteria.filter(number=number).exclude(pk=getattr(current, "pk", None)).first()
            if taken is not None:
                errors["number"] = f"Criterion {number} of {tool.reference} is already “{taken.text}”."
            values["number"] = number
    return values


@audit.changes_by_user
@transaction.atomic
def add_criterion(user, tool: AuditTool, *, text: str, target, exceptions: str = "", guidance: str = "",
                  number=None) -> Criterion:
    """A criterion at the end of the tool (or at `number`): the standard, its target 0–100 %, the
    exceptions that make a case not applicable to it, and guidance for the auditor."""
    permissions.check(user, "improvement.manage_audits", tool)
    concurrency.lock(tool)  # numbers are given one at a time
    errors: dict = {}
    values = _criterion_fields(errors, tool, text, target, exceptions, guidance, number)
    if errors:
        raise ValidationError(errors)
    values.setdefault("number", (tool.criteria.order_by("-number").values_list("number", flat=True).first() or 0) + 1)
    return Criterion.objects.create(tool=tool, **values)


def _answered(criterion: Criterion) -> bool:
    return CaseAnswer.objects.filter(criterion=criterion).exists()


@audit.changes_by_user
@transaction.atomic
def edit_criterion(user, criterion: Criterion, *, text: str, target, exceptions: str = "", guidance: str = "",
                   number=None) -> Criterion:
    """Reword a criterion. One already answered keeps its standard and number (the answers were
    given against them): to change them, retire it and add another; its target, exceptions and
    guidance may still be made clearer."""
    tool = criterion.tool
    permissions.check(user, "improvement.manage_audits", tool)
    concurrency.lock(tool)
    criterion.refresh_from_db()
    errors: dict = {}
    values = _criterion_fields(errors, tool, text, target, exceptions, guidance, number, current=criterion)
    if _answered(criterion):
        if values["text"] != criterion.text and "text" not in errors:
            errors["text"] = ("This criterion is already answered: its standard stays as the auditors read it. "
                              "Retire it and add a new criterion instead.")
        if values.get("number", criterion.number) != criterion.number and "number" not in errors:
            errors["number"] = "This criterion is already answered: its number stays."
    if errors:
        raise ValidationError(errors)
    for name, value in values.items():
        setattr(criterion, name, value)
    criterion.save()
    return criterion


@audit.changes_by_user
@transaction.atomic
def retire_criterion(user, criterion: Criterion) -> Criterion | None:
    """Take a criterion off the tool: one already answered is retired (kept with its answers,
    asked no more); one never answered is deleted. Returns the retired criterion, or None."""
    tool = criterion.tool
    permissions.check(user, "improvement.manage_audits", tool)
    concurrency.lock(tool)
    criterion.refresh_from_db()
    if _answered(criterion):
        if not criterion.active:
            raise ValidationError({"criterion": f"Criterion {criterion.number} is already retired."})
        criterion.active = False
        criterion.save()
        return criterion
    criterion.delete()
    return None


# --- planning an audit ------------------------------------------------------------------------

@dataclass(frozen=True)
class SampleWorking:
    """How the sample size was worked: z for the confidence, n₀ = z²p(1−p)/d² (unrounded and
    rounded up), and n with the finite population correction when the cohort's size N is known."""

    expected: float  # p, a proportion
    margin: float  # d, a proportion
    confidence: float
    z: float
    n0_exact: float
    n0: int
    population: int | None
    n: int

    @property
    def complement(self) -> float:
        return 1 - self.expected


def sample_working(expected, margin, confidence, population: int | None = None) -> SampleWorking:
    """The working behind `stats.sample_size` from percentages (expected compliance, ± margin
    in percentage points, confidence), as the plan page shows it."""
    p, d, c = float(expected) / 100, float(margin) / 100, float(confidence) / 100
    z = NormalDist().inv_cdf(1 - (1 - c) / 2)
    n0_exact = z * z * p * (1 - p) / (d * d)
    n0 = stats.sample_size(p, d, c)
    n = stats.sample_size(p, d, c, population) if population else n0
    return SampleWorking(p, d, c, z, n0_exact, n0, population, n)


def _checked_period(errors: dict, start, end) -> None:
    for name, value in (("period_start", start), ("period_end", end)):
        if not isinstance(value, date):
            errors[name] = "Give the day (YYYY-MM-DD)."
            continue
        try:
            inputs.day(value)
        except inputs.InputError as problem:
            errors[name] = str(problem)
    if not errors.keys() & {"period_start", "period_end"}:
        if end < start:
            errors["period_end"] = f"The period ends ({end}) before it starts ({start})."
        elif (end - start).days > PERIOD_DAYS_MAX:
            errors["period_end"] = "An audit covers at most three years of care."


def _checked_people(errors: dict, lead, auditors, organisation) -> list:
    staff = staff_of([organisation])
    if not isinstance(lead, User):
        errors["lead"] = "Choose the audit's lead."
    elif not staff.filter(pk=lead.pk).exists():
        errors["lead"] = f"{lead.get_full_name() or lead.username} is not active staff of {organisation}."
    auditors = list(auditors or [])
    strangers = [a for a in auditors if not isinstance(a, User) or not staff.filter(pk=a.pk).exists()]
    if strangers:
        errors["auditors"] = "Choose auditors among the active staff: " + ", ".join(
            str(getattr(a, "username", a)) for a in strangers[:5]) + " cannot audit here."
    elif not auditors:
        errors["auditors"] = "Name at least one auditor (the lead may be one)."
    return auditors


def _sample_fields(errors: dict, expected, margin, confidence, double_share) -> dict:
    values = {"expected": _percent(errors, "expected", expected, label="Expected compliance"),
              "margin": _percent(errors, "margin", margin, low=0, high=50, low_open=True, label="Margin"),
              "confidence": _percent(errors, "confidence", confidence, low=50, high=100, low_open=True, high_open=True,
                                     label="Confidence"),
              "double_share": _percent(errors, "double_share", double_share, label="Double-audit share")}
    if not errors:
        values["sample_size"] = sample_working(values["expected"], values["margin"], values["confidence"]).n
    return values


@audit.changes_by_user
@transaction.atomic
def plan_audit(user, tool: AuditTool, *, title: str, place: dict | None = None, period_start, period_end, lead,
               auditors, cohort_kind: str = "manual", cohort_source: str = "", expected=50, margin=10, confidence=95,
               double_share=10, previous: Audit | None = None) -> Audit:
    """An audit of `tool` (AUD-<year>-NNN) over a period and place, at the plan stage: its lead,
    auditors, the cohort it will draw from and the sample size for the expected compliance,
    margin and confidence (the finite population correction is applied when the cohort's size is
    known, at the draw)."""
    from .models import CohortKind

    place = place or {"unit": tool.unit, "facility": tool.facility, "organisation": tool.organisation}
    where = place["unit"] or place["facility"] or place["organisation"]
    permissions.check(user, "improvement.manage_audits", where)
    permissions.check(user, "improvement.view", tool)
    errors: dict = {}
    if not tool.active:
        errors["tool"] = f"{tool.reference} is retired."
    if not tool.criteria.filter(active=True).exists():
        errors["tool"] = f"{tool.reference} has no criteria yet: add them before planning an audit."
    title = _text(errors, "title", title, TITLE_MAX, required="Give the audit a title.")
    _checked_period(errors, period_start, period_end)
    auditors = _checked_people(errors, lead, auditors, place["organisation"])
    if cohort_kind not in CohortKind.values:
        errors["cohort_kind"] = f"{cohort_kind!r} is not a kind of cohort; choose one of {', '.join(CohortKind.values)}."
    cohort_source = _text(errors, "cohort_source", cohort_source, SOURCE_MAX)
    values = _sample_fields(errors, expected, margin, confidence, double_share)
    if previous is not None and previous.tool_id != tool.pk:
        errors["previous"] = f"{previous.reference} audits another tool."
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    reference = audit_reference(today)
    found = Audit.objects.create(
        reference=reference, tool=tool, previous=previous, title=title, period_start=period_start,
        period_end=period_end, lead=lead, planned_on=today, cohort_kind=cohort_kind, cohort_source=cohort_source,
        created_by=user, **place, **values)
    found.auditors.set(auditors)
    return found


def audit_is_planning(found: Audit, field: str = "stage") -> None:
    if found.stage != AuditStage.PLAN:
        raise ValidationError({field: f"{found.reference} is at the {found.get_stage_display().lower()} stage; "
                                      "its plan and sample no longer change."})


def ceil_share(share, count: int) -> int:
    """Cases audited twice: `share` % of `count`, rounded up, at least one when the share is over 0."""
    if count <= 0 or share <= 0:
        return 0
    return min(count, max(1, math.ceil(float(share) * count / 100 - 1e-9)))


# --- registries ---------------------------------------------------------------------------------

def connect() -> None:
    """Registries of the audits (audit trail, history, navigation, work, demo), from ready()."""
    from andon.platform import demo, history, navigation
    from andon.platform import services as platform

    from . import demo_audits, entry, models

    audit.register(models.AuditTool, exclude_fields=["version"])
    audit.register(models.Audit, exclude_fields=["version"], m2m_fields={"auditors"})
    for model in (models.Criterion, models.AuditCase, models.CaseAnswer):
        audit.register(model)
    history.register(models.Audit, labels={"double_share": "Double-audit share", "cohort_digest": "Cohort fingerprint"})
    navigation.add(navigation.NavEntry("Audits", "improvement:audits", "improvement.use_audits", "ui-checks-grid"))
    platform.register_work_provider(entry.audit_work)
    demo.register_demo_loader(demo_audits.load_demo_audits)
