"""Risk: the register. Raising a risk, re-scoring it (every score kept: its trend), its controls
and their assurance, escalation between levels (unit → department → facility → board assurance
framework) with who and why, closing, and the register's views (the list, the heat map, the
board assurance framework). DOMAIN.md §5; docs/risk.md."""

from collections import Counter
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from andon.platform import audit, permissions
from andon.platform.concurrency import lock
from andon.platform.models import Unit

from .matrix import matrix_of, matrix_row, record_scores, scored  # noqa: F401 (matrix_of: for the pages)
from .models import (
    Assurance, Category, Control, ControlEffect, Escalation, Level, Risk, RiskStatus, ScoreReason,
)
from .scoring import LEVELS

__all__ = [
    "access_risk", "add_control", "asks_escalation", "board_framework", "close_risk", "escalate", "heat_map_counts",
    "heat_maps_counts", "level_for_place", "raise_risk", "register_filter", "rescore", "retire_control",
    "update_control", "visible_risks",
]

TEXT_LIMITS = {"title": 200, "cause": 2000, "event": 2000, "effect": 2000}
REVIEW_DAYS_MAX = 366 * 2


def visible_risks(user, organisation=None):
    """Risks the user may open: risk.view over their place, their own, and (risk.view_board) the
    board assurance framework's; with `organisation`, of that organisation only. Someone who
    reads the whole organisation's register may open every risk of it: a plain filter then, which
    the register's indexes serve (the union below is the same risks, but the database tests it
    on every row)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Risk.objects.none()
    if organisation is not None:
        if permissions.can(user, "risk.view", organisation):
            return Risk.objects.filter(organisation=organisation)
        return visible_risks(user).filter(organisation=organisation)
    board = permissions.placed_where(user, "risk.view_board") & Q(level=Level.BOARD)
    return Risk.objects.filter(permissions.placed_where(user, "risk.view") | Q(owner=user) | board)


def access_risk(user, risk_id, capability: str = "risk.view_risk") -> Risk:
    """The risk, if the user may see it and `capability` it: Http404 when there is none,
    PermissionDenied when they may not."""
    risk = permissions.fetch_checked(user, "risk.view_risk", Risk.objects.select_related(
        "owner", "unit__facility", "facility", "organisation"), pk=risk_id)
    if capability != "risk.view_risk":
        permissions.check(user, capability, risk)
    return risk


def _place(unit: Unit | None, facility, organisation):
    """(organisation, facility, unit) of a risk placed in a unit, a facility or the organisation."""
    if unit is not None:
        return unit.facility.organisation, unit.facility, unit
    if facility is not None:
        return facility.organisation, facility, None
    if organisation is None:
        raise ValidationError({"unit": "Choose where the risk sits: a unit, a facility or the organisation."})
    return organisation, None, None


def level_for_place(unit: Unit | None, facility) -> str:
    """The level a risk starts at: a ward's (or other unit's) register, a department's or service
    line's, a facility's, or, placed in the organisation alone, the facility level of the whole
    system (the board assurance framework is reached by escalation only)."""
    if unit is not None:
        return Level.DEPARTMENT if unit.kind in (Unit.Kind.DEPARTMENT, Unit.Kind.SERVICE_LINE) else Level.UNIT
    return Level.FACILITY


def _clean_texts(errors: dict, values: dict) -> dict:
    cleaned = {}
    for name, limit in TEXT_LIMITS.items():
        text = (values.get(name) or "").strip()
        if not text:
            errors[name] = f"The {name} is needed: a risk reads “because of (cause) there is a risk that " \
                           f"(event), which would lead to (effect)”."
        elif len(text) > limit:
            errors[name] = f"The {name} is {len(text)} characters long; keep it to {limit}."
        cleaned[name] = text
    return cleaned


def _clean_review_on(errors: dict, review_on, today: date) -> None:
    if not isinstance(review_on, date):
        errors["review_on"] = "Give the date of the next review."
    elif review_on < today:
        errors["review_on"] = f"The review date {review_on:%Y-%m-%d} is in the past."
    elif review_on > today + timedelta(days=REVIEW_DAYS_MAX):
        errors["review_on"] = f"Review a risk at least every two years (by {today + timedelta(days=REVIEW_DAYS_MAX):%Y-%m-%d})."


def _clean_owner(errors: dict, owner, unit, facility, organisation) -> None:
    if owner is None or not owner.is_active:
        errors["owner"] = "Choose an active member of staff as the risk's owner."
    elif not permissions.can(owner, "risk.view", unit or facility or organisation):
        errors["owner"] = (f"{owner.get_full_name() or owner.username} holds no role that reads risks of "
                           f"{unit or facility or organisation}; choose someone who works there.")


def _next_reference() -> str:
    from andon.platform.models import Sequence

    return f"R-{Sequence.next('risk'):05d}"


@audit.changes_by_user
@transaction.atomic
def raise_risk(user, *, title: str, cause: str, event: str, effect: str, category: str, owner, scores: dict,
               review_on: date, unit: Unit | None = None, facility=None, organisation=None) -> Risk:
    """A new risk in a unit's, a facility's or the organisation's register (risk.raise there),
    with its three scores, kept as its first ScoreRecord."""
    organisation, facility, unit = _place(unit, facility, organisation)
    permissions.check(user, "risk.raise", unit or facility or organisation)
    errors: dict = {}
    texts = _clean_texts(errors, {"title": title, "cause": cause, "event": event, "effect": effect})
    if category not in Category.values:
        errors["category"] = f"{category!r} is not a category; choose one of {', '.join(Category.labels)}."
    _clean_owner(errors, owner, unit, facility, organisation)
    _clean_review_on(errors, review_on, timezone.localdate())
    matrix = matrix_of(organisation)
    try:
        fields = scored(matrix, scores)
    except ValidationError as error:
        errors.update(error.message_dict)
        fields = {}
    if errors:
        raise ValidationError(errors)
    risk = Risk.objects.create(reference=_next_reference(), category=category, owner=owner, organisation=organisation,
                               facility=facility, unit=unit, level=level_for_place(unit, facility), review_on=review_on,
                               created_by=user, **texts, **fields)
    record_scores(risk, ScoreReason.RAISED, matrix_row(organisation).revision, user).save()
    return risk


@audit.changes_by_user
@transaction.atomic
def rescore(user, risk: Risk, scores: dict, *, review_on: date, note: str = "", ver: int | None = None) -> Risk:
    """A review of the risk: its three scores (unchanged is a review), the next review date and
    a note. Clears a flag raised by a key risk indicator: the review has looked at it."""
    risk = lock(risk, ver)
    permissions.check(user, "risk.edit_risk", risk)
    _check_open(risk)
    errors: dict = {}
    _clean_review_on(errors, review_on, timezone.localdate())
    matrix = matrix_of(risk.organisation)
    try:
        fields = scored(matrix, scores)
    except ValidationError as error:
        errors.update(error.message_dict)
        fields = {}
    if len(note or "") > 2000:
        errors["note"] = "Keep the note to 2,000 characters."
    if errors:
        raise ValidationError(errors)
    changed = any(getattr(risk, name) != value for name, value in fields.items())
    for name, value in fields.items():
        setattr(risk, name, value)
    risk.review_on, risk.review_reminded_on = review_on, None
    risk.flagged_reason, risk.flagged_at = "", None
    risk.save()
    reason = ScoreReason.RESCORED if changed else ScoreReason.REVIEWED
    record_scores(risk, reason, matrix_row(risk.organisation).revision, user, note=(note or "").strip()).save()
    return risk


def _check_open(risk: Risk) -> None:
    if risk.status != RiskStatus.OPEN:
        raise ValidationError({"status": f"{risk.reference} is closed: reopen it to change it."})


def asks_escalation(risk: Risk, matrix=None) -> bool:
    """Whether the risk's current score is above its level's tolerance."""
    matrix = matrix or matrix_of(risk.organisation)
    return risk.status == RiskStatus.OPEN and matrix.asks_escalation(risk.level, risk.current_score)


@audit.changes_by_user
@transaction.atomic
def escalate(user, risk: Risk, to_level: str, reason: str, ver: int | None = None) -> Escalation:
    """Move the risk up (escalation) or down (de-escalation) to `to_level`, with a reason, kept.
    Moving to or from the board assurance framework is leadership's (risk.escalate over the
    organisation); other moves need risk.escalate or risk.manage over the risk's place."""
    risk = lock(risk, ver)
    _check_open(risk)
    errors = {}
    if to_level not in LEVELS:
        errors["to_level"] = f"{to_level!r} is not a level; choose one of {', '.join(Level.labels)}."
    elif to_level == risk.level:
        errors["to_level"] = f"{risk.reference} is already managed at the {risk.get_level_display().lower()} level."
    elif to_level == Level.DEPARTMENT and risk.unit is None:
        errors["to_level"] = "A risk placed in no unit has no department to be managed by."
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "Say why the risk moves: the record keeps it."
    elif len(reason) > 2000:
        errors["reason"] = "Keep the reason to 2,000 characters."
    if errors:
        raise ValidationError(errors)
    if Level.BOARD in (to_level, risk.level):
        permissions.check(user, "risk.escalate", risk.organisation)
    elif not (permissions.can(user, "risk.escalate", risk) or permissions.can(user, "risk.manage", risk)):
        permissions.check(user, "risk.escalate", risk)
    moved = Escalation.objects.create(risk=risk, from_level=risk.level, to_level=to_level, by=user, reason=reason,
                                      score_then=risk.current_score)
    risk.level = to_level
    risk.save()
    return moved


@audit.changes_by_user
@transaction.atomic
def close_risk(user, risk: Risk, reason: str, ver: int | None = None) -> Risk:
    risk = lock(risk, ver)
    permissions.check(user, "risk.manage", risk)
    _check_open(risk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the risk is closed (it no longer applies, it was merged…)."})
    risk.status, risk.closed_at, risk.closed_reason = RiskStatus.CLOSED, timezone.now(), reason[:2000]
    risk.save()
    return risk


# --- controls and assurance --------------------------------------------------------------------

CONTROL_FIELDS = ("description", "owner", "effect", "assurance_source", "assurance_level", "last_tested_on",
                  "control_gap", "assurance_gap")


def _clean_control(values: dict) -> dict:
    errors, cleaned = {}, {}
    description = (values.get("description") or "").strip()
    if not description:
        errors["description"] = "Say what the control is."
    cleaned["description"] = description[:2000]
    for name, choices in (("effect", ControlEffect), ("assurance_level", Assurance)):
        value = values.get(name) or choices.values[-1]  # not yet tested; no assurance yet
        if value not in choices.values:
            errors[name] = f"{value!r} is not one of {', '.join(choices.labels)}."
        cleaned[name] = value
    tested = values.get("last_tested_on")
    if tested is not None and (not isinstance(tested, date) or tested > timezone.localdate()):
        errors["last_tested_on"] = "The date the control was last tested cannot be in the future."
    cleaned["last_tested_on"] = tested
    for name in ("assurance_source", "control_gap", "assurance_gap"):
        cleaned[name] = (values.get(name) or "").strip()[:2000 if name != "assurance_source" else 300]
    cleaned["owner"] = values.get("owner")
    if errors:
        raise ValidationError(errors)
    return cleaned


@audit.changes_by_user
@transaction.atomic
def add_control(user, risk: Risk, **values) -> Control:
    permissions.check(user, "risk.edit_risk", risk)
    _check_open(risk)
    unknown = set(values) - set(CONTROL_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Not a field of a control."})
    return Control.objects.create(risk=risk, **_clean_control(values))


@audit.changes_by_user
@transaction.atomic
def update_control(user, control: Control, ver: int | None = None, **values) -> Control:
    control = lock(control, ver)
    permissions.check(user, "risk.edit_risk", control.risk)
    _check_open(control.risk)
    for name, value in _clean_control({**{n: getattr(control, n) for n in CONTROL_FIELDS}, **values}).items():
        setattr(control, name, value)
    control.save()
    return control


@audit.changes_by_user
@transaction.atomic
def retire_control(user, control: Control, ver: int | None = None) -> Control:
    control = lock(control, ver)
    permissions.check(user, "risk.edit_risk", control.risk)
    control.retired_at = timezone.now()
    control.save()
    return control


# --- the register's views ------------------------------------------------------------------------

def register_filter(risks, *, unit: Unit | None = None, category: str = "", level: str = "", band: str = "",
                    status: str = RiskStatus.OPEN, which: str = "current"):
    """The register narrowed by place (the unit and those below it), category, level, band
    (of the current or target score) and status; an unknown value is a ValidationError."""
    errors = {}
    if category and category not in Category.values:
        errors["category"] = f"{category!r} is not a category."
    if level and level not in Level.values:
        errors["level"] = f"{level!r} is not a level."
    if status and status not in RiskStatus.values:
        errors["status"] = f"{status!r} is not a status."
    if which not in ("current", "target", "inherent"):
        errors["which"] = "Show the current, target or inherent score."
    if errors:
        raise ValidationError(errors)
    if unit is not None:
        # By the units' ids, not a join on their paths: the database then knows how many risks
        # each unit holds, and reads a small unit's through its index rather than the register.
        risks = risks.filter(unit__in=list(unit.subtree().order_by().values_list("pk", flat=True)))
    if category:
        risks = risks.filter(category=category)
    if level:
        risks = risks.filter(level=level)
    if band:
        risks = risks.filter(**{f"{which}_band__iexact": band.strip()})
    if status:
        risks = risks.filter(status=status)
    return risks


def heat_map_counts(risks, which: str = "current") -> Counter:
    """{(consequence, likelihood): number of risks} of the `which` score."""
    return heat_maps_counts(risks, (which,))[which]


def heat_maps_counts(risks, scores=("current", "target")) -> dict[str, Counter]:
    """{which: {(consequence, likelihood): number of risks}} of each of `scores`, read in one
    query (one pass over the register, from the index alone where it can)."""
    if any(which not in ("current", "target", "inherent") for which in scores):
        raise ValidationError({"which": "Show the current, target or inherent score."})
    fields = [f"{which}_{part}" for which in scores for part in ("consequence", "likelihood")]
    counts = {which: Counter() for which in scores}
    for row in risks.order_by().values(*fields).annotate(n=Count("*")):
        for which in scores:
            counts[which][(row[f"{which}_consequence"], row[f"{which}_likelihood"])] += row["n"]
    return counts


def board_framework(user):
    """The board assurance framework: open risks at board level the user may see, with their
    controls (assurance and gaps) in one more query."""
    return (visible_risks(user).filter(level=Level.BOARD, status=RiskStatus.OPEN)
            .select_related("owner", "organisation")
            .prefetch_related("controls").order_by("-current_score", "reference"))


def connect() -> None:
    """Registries of the register (audit, history, navigation), from ready()."""
    from andon.platform import history, navigation

    from . import models

    for model in (models.Risk, models.Control, models.RiskMatrix, models.FmeaSettings):
        audit.register(model, exclude_fields=["version"])
    for model in (models.Escalation, models.RiskLink, models.MatrixRevision):
        audit.register(model)
    history.register(models.Risk, labels={"review_on": "Next review", "review_reminded_on": "Review reminder sent"})
    navigation.add(navigation.NavEntry("Risks", "risk:register", "risk.read_register", "shield-exclamation"))
