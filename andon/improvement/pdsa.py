"""QI projects: PDSA cycles on a change idea. Plan (with a prediction), Do (its start is a mark on
the project measure's chart), Study (what happened against the prediction), Act (adopt, adapt or
abandon; its decision is a mark too, and an adopted change may start new limits: a rebase). Every
change of a cycle brings its marks up to date, so the chart never shows a date the cycle no longer
has. docs/improvement.md, "QI projects"."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.shortcuts import get_object_or_404
from django.utils import timezone

from andon.measures import services as measures
from andon.platform import audit, inputs, permissions
from andon.platform.concurrency import lock

from .models import Driver, DriverKind, PdsaCycle, PdsaDecision, PdsaStage

__all__ = ["access_cycle", "act_on_cycle", "edit_cycle", "plan_cycle", "remove_cycle", "start_cycle", "study_cycle"]

TEXTS = {"title": 200, "plan": 4000, "prediction": 2000, "do_notes": 4000, "study": 4000, "act_notes": 2000}
DECISION_WORDS = {PdsaDecision.ADOPT: "adopted", PdsaDecision.ADAPT: "adapted", PdsaDecision.ABANDON: "abandoned"}
# The fields each stage fills: what edit_cycle may change, and what undoing a stage clears.
STAGE_FIELDS = {
    PdsaStage.PLAN: ("title", "plan", "prediction", "planned_start", "planned_end"),
    PdsaStage.DO: ("started_on", "do_notes"),
    PdsaStage.STUDY: ("ended_on", "study"),
    PdsaStage.ACT: ("decision", "decided_on", "act_notes", "rebase"),
}
ORDER = list(PdsaStage.values)


def access_cycle(user, cycle_id, capability: str = "improvement.view_project") -> PdsaCycle:
    """A PDSA cycle, seen through its project: Http404 when there is none, PermissionDenied
    unless the user may see the project and `capability` it."""
    cycle = get_object_or_404(PdsaCycle.objects.select_related("change__project__measure", "change__project__unit"),
                              pk=cycle_id)
    permissions.check(user, "improvement.view_project", cycle.change.project)
    permissions.check(user, capability, cycle.change.project)
    return cycle


# --- checking a cycle as a whole -------------------------------------------------------------------

def _day(errors: dict, name: str, value) -> date | None:
    if value is None:
        return None
    if not isinstance(value, date):
        errors[name] = "Give a date."
        return None
    try:
        return inputs.day(value)
    except inputs.InputError as problem:
        errors[name] = str(problem)
        return None


def _check(cycle: PdsaCycle) -> None:
    """Every rule of a cycle, on its fields as they would be stored: the stages in order, each
    stage's dates after the one before, nothing in the future that has happened, a rebase only
    for an adopted change. Each problem is named by its field."""
    errors: dict = {}
    for name, limit in TEXTS.items():
        value = (getattr(cycle, name) or "").strip()
        setattr(cycle, name, value)
        if len(value) > limit:
            errors[name] = f"{len(value)} characters: keep it to {limit}."
    for name in ("title", "plan", "prediction"):
        if not getattr(cycle, name):
            errors[name] = {"title": "Name the test.", "plan": "Say what will be tried, by whom, where and when.",
                            "prediction": "Say what you expect to happen: the study compares with it."}[name]
    for name in ("planned_start", "planned_end", "started_on", "ended_on", "decided_on"):
        setattr(cycle, name, _day(errors, name, getattr(cycle, name)))
    if cycle.planned_start is None:
        errors.setdefault("planned_start", "Give the day the test is to start.")
    if cycle.planned_end is None:
        errors.setdefault("planned_end", "Give the day the test is to end.")
    elif cycle.planned_start and cycle.planned_end < cycle.planned_start:
        errors["planned_end"] = f"The planned end comes before the planned start ({cycle.planned_start:%Y-%m-%d})."
    _check_stages(cycle, errors)
    if errors:
        raise ValidationError(errors)


def _check_stages(cycle: PdsaCycle, errors: dict) -> None:
    today = timezone.localdate()
    for name in ("started_on", "ended_on", "decided_on"):
        value = getattr(cycle, name)
        if value and value > today:
            errors.setdefault(name, f"{value:%Y-%m-%d} is in the future: record what has happened.")
    if cycle.ended_on and not cycle.started_on:
        errors.setdefault("ended_on", "The test has not started: record the Do first.")
    if cycle.started_on and cycle.ended_on and cycle.ended_on < cycle.started_on:
        errors.setdefault("ended_on", f"The test ends before it started ({cycle.started_on:%Y-%m-%d}).")
    if cycle.decision and not (cycle.study and cycle.ended_on):
        errors.setdefault("decision", "Study the test (what happened against the prediction) before deciding.")
    if cycle.decision and cycle.decision not in PdsaDecision.values:
        errors["decision"] = f"Choose one of: {', '.join(PdsaDecision.labels)}."
    if cycle.decision and not cycle.decided_on:
        errors.setdefault("decided_on", "Give the day of the decision.")
    if cycle.decided_on and cycle.ended_on and cycle.decided_on < cycle.ended_on:
        errors.setdefault("decided_on", f"The decision comes before the test ended ({cycle.ended_on:%Y-%m-%d}).")
    if cycle.rebase and cycle.decision != PdsaDecision.ADOPT:
        errors.setdefault("rebase", "Only an adopted change starts new limits on the chart.")
    if cycle.study and not cycle.ended_on:
        errors.setdefault("ended_on", "Give the day the test ended.")
    if cycle.started_on is None and cycle.stage != PdsaStage.PLAN:
        errors.setdefault("started_on", "Give the day the test started.")


def _stage_of(cycle: PdsaCycle) -> str:
    if cycle.decision:
        return PdsaStage.ACT
    if cycle.study:
        return PdsaStage.STUDY
    return PdsaStage.DO if cycle.started_on else PdsaStage.PLAN


# --- the marks on the chart ---------------------------------------------------------------------

def _mark(user, measure, current_id, *, source: str, on, text: str, rebase: bool):
    """Create, move or remove one of the cycle's annotations, as the cycle now is."""
    if on is None:
        if current_id:
            measures.remove_annotation_for(user, current_id)
        return None
    if current_id:
        return measures.change_annotation_for(user, current_id, source=source, on=on, text=text, rebase=rebase)
    return measures.annotate_for(user, measure, source=source, on=on, text=text, kind="qi_change", rebase=rebase)


def _sync_marks(user, cycle: PdsaCycle) -> None:
    """The start and the decision on the project measure's chart (the project's team has checked
    its own rule: measures.annotate_for)."""
    project = cycle.change.project
    source = f"{project.reference} PDSA {cycle.number}"
    cycle.start_annotation = _mark(user, project.measure, cycle.start_annotation_id, source=source,
                                   on=cycle.started_on, text=f"start of “{cycle.title}”", rebase=False)
    words = DECISION_WORDS.get(cycle.decision, "")
    text = f"{words} “{cycle.title}”" + (" (new limits)" if cycle.rebase else "")
    cycle.decision_annotation = _mark(user, project.measure, cycle.decision_annotation_id, source=source,
                                      on=cycle.decided_on if cycle.decision else None, text=text, rebase=cycle.rebase)


def _save(user, cycle: PdsaCycle) -> PdsaCycle:
    _check(cycle)
    cycle.stage = _stage_of(cycle)
    _sync_marks(user, cycle)
    cycle.save()
    return cycle


# --- the stages ---------------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def plan_cycle(user, change: Driver, *, title: str, plan: str, prediction: str, planned_start: date,
               planned_end: date, number: int | None = None) -> PdsaCycle:
    """A new test of a change idea (its lead or team, or an improvement lead over its place),
    numbered after the change idea's last cycle unless `number` is given (once per change idea)."""
    permissions.check(user, "improvement.work_on_project", change.project)
    if change.kind != DriverKind.CHANGE:
        raise ValidationError({"change": "PDSA cycles test a change idea: add one under the driver first."})
    taken = set(PdsaCycle.objects.filter(change=change).values_list("number", flat=True))
    if number is None:
        number = max(taken, default=0) + 1
    elif not isinstance(number, int) or not 1 <= number <= 999:
        raise ValidationError({"number": "Number the cycle from 1 to 999."})
    elif number in taken:
        raise ValidationError({"number": f"This change idea has a PDSA {number} already."})
    cycle = PdsaCycle(change=change, number=number, title=title, plan=plan, prediction=prediction,
                      planned_start=planned_start, planned_end=planned_end, created_by=user)
    return _save(user, cycle)


@audit.changes_by_user
@transaction.atomic
def start_cycle(user, cycle: PdsaCycle, *, started_on: date, do_notes: str = "", ver: int | None = None) -> PdsaCycle:
    """Do: the day the test started (its mark on the chart) and what was done and seen."""
    cycle = lock(cycle, ver)
    permissions.check(user, "improvement.work_on_project", cycle.change.project)
    if started_on is None:
        raise ValidationError({"started_on": "Give the day the test started."})
    cycle.started_on, cycle.do_notes = started_on, do_notes
    return _save(user, cycle)


@audit.changes_by_user
@transaction.atomic
def study_cycle(user, cycle: PdsaCycle, *, ended_on: date, study: str, ver: int | None = None) -> PdsaCycle:
    """Study: the day the test ended and what happened against the prediction."""
    cycle = lock(cycle, ver)
    permissions.check(user, "improvement.work_on_project", cycle.change.project)
    if not (study or "").strip():
        raise ValidationError({"study": "Say what happened against the prediction."})
    if ended_on is None:
        raise ValidationError({"ended_on": "Give the day the test ended."})
    cycle.ended_on, cycle.study = ended_on, study
    return _save(user, cycle)


@audit.changes_by_user
@transaction.atomic
def act_on_cycle(user, cycle: PdsaCycle, *, decision: str, decided_on: date, act_notes: str = "",
                 rebase: bool = False, ver: int | None = None) -> PdsaCycle:
    """Act: adopt, adapt or abandon the change, on a day (its mark on the chart); an adopted change
    may start new limits there (`rebase`)."""
    cycle = lock(cycle, ver)
    permissions.check(user, "improvement.work_on_project", cycle.change.project)
    if not decision:
        raise ValidationError({"decision": f"Choose one of: {', '.join(PdsaDecision.labels)}."})
    cycle.decision, cycle.decided_on, cycle.act_notes, cycle.rebase = decision, decided_on, act_notes, bool(rebase)
    return _save(user, cycle)


@audit.changes_by_user
@transaction.atomic
def edit_cycle(user, cycle: PdsaCycle, *, ver: int | None = None, **fields) -> PdsaCycle:
    """Correct any stage's fields (STAGE_FIELDS); a field given as None or "" is cleared, which
    undoes its stage (and the stages after it must be cleared with it). The marks follow: a moved
    date moves its mark, a decision or rebase withdrawn takes it off the chart."""
    cycle = lock(cycle, ver)
    permissions.check(user, "improvement.work_on_project", cycle.change.project)
    editable = {name for names in STAGE_FIELDS.values() for name in names}
    unknown = sorted(set(fields) - editable)
    if unknown:
        raise ValidationError({unknown[0]: "A cycle has no such field."})
    for name, value in fields.items():
        if name == "rebase":
            value = bool(value)
        elif name in TEXTS or name == "decision":
            value = value or ""
        setattr(cycle, name, value)
    return _save(user, cycle)


@audit.changes_by_user
@transaction.atomic
def remove_cycle(user, cycle: PdsaCycle, ver: int | None = None) -> None:
    """Undo a cycle recorded by mistake: it and its marks leave the chart."""
    cycle = lock(cycle, ver)
    permissions.check(user, "improvement.work_on_project", cycle.change.project)
    for annotation_id in (cycle.start_annotation_id, cycle.decision_annotation_id):
        if annotation_id:
            measures.remove_annotation_for(user, annotation_id)
    cycle.delete()


def next_number(change: Driver) -> int:
    return (PdsaCycle.objects.filter(change=change).aggregate(last=Max("number"))["last"] or 0) + 1
