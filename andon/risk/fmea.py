"""Risk: proactive assessments of a process, FMEA and the VA's HFMEA (DOMAIN.md §4, §10).

The team draws the process as numbered steps and sub-steps, lists failure modes per step and
causes per failure mode, and scores each cause: an FMEA by severity, occurrence and detection
(the RPN against the organisation's thresholds, or the Action Priority from its table); an HFMEA
by the hazard score and the decision tree. A row acted on gets actions in the shared tracker;
scoring it again after the actions shows the RPN (or hazard score) before and after. Each
scoring is kept (CauseScoring)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from andon.actions import services as actions
from andon.platform import audit, history, navigation, permissions
from andon.platform.concurrency import lock
from andon.platform.roles import roles_with
from andon.platform.services import staff_of

from .matrix import scoring_error
from .models import (
    Assessment, AssessmentStatus, CauseScoring, FailureCause, FailureMode, FmeaSettings, Method, PriorityMethod,
    ProcessStep, ScoringStage,
)
from .scoring import (
    PRIORITY_LABELS, ScoringError, Thresholds, action_priority, action_priority_table, decision_tree, hazard_score,
    rpn,
)

__all__ = [
    "access_assessment", "add_cause", "add_failure_mode", "add_step", "assessments_by_year", "cause_action",
    "change_fmea_settings", "fmea_settings", "score_cause", "score_hazard", "scores_before_after", "start_assessment",
    "step_label", "visible_assessments",
    # The pages' and API's further needs (below connect's neighbours, at the end of this file)
    "access_cause", "access_failure_mode", "access_step", "add_team_member", "cause_actions", "complete_assessment",
    "completion_problems", "edit_cause", "edit_failure_mode", "edit_step", "may_lead",
    "remove_cause", "remove_failure_mode", "remove_step", "remove_team_member", "reopen_assessment", "worksheet",
    "staff_of", "organisations_leading", "organisation_for_settings",
]

SCALE_NAMES = ("severity", "occurrence", "detection")


def fmea_settings(organisation) -> FmeaSettings:
    return FmeaSettings.objects.get_or_create(organisation=organisation)[0]


def _check_scales(scales) -> dict:
    if not isinstance(scales, dict) or set(scales) - set(SCALE_NAMES):
        raise ValidationError({"scales": "Scales describe severity, occurrence and detection."})
    for name, words in scales.items():
        if not isinstance(words, list) or len(words) != 10 or not all(isinstance(w, str) and len(w) <= 300
                                                                         for w in words):
            raise ValidationError({"scales": f"The {name} scale needs ten descriptions (1 first), each of at most "
                                             "300 characters."})
    return scales


@audit.changes_by_user
@transaction.atomic
def change_fmea_settings(user, organisation, *, rpn_threshold: int | None, severity_threshold: int | None,
                         scales: dict | None = None, action_priority_rows: list | None = None,
                         ver: int | None = None) -> FmeaSettings:
    """The organisation's thresholds, scale words and Action Priority table (risk.configure).
    Assessments already started keep the thresholds they started with."""
    permissions.check(user, "risk.configure", organisation)
    found = lock(fmea_settings(organisation), ver)
    try:
        Thresholds(rpn_threshold, severity_threshold)
        if action_priority_rows:
            action_priority_table(action_priority_rows)
    except ScoringError as error:
        raise scoring_error(error) from None
    found.rpn_threshold, found.severity_threshold = rpn_threshold, severity_threshold
    if scales is not None:
        found.scales = _check_scales(scales)
    if action_priority_rows is not None:
        found.action_priority = list(action_priority_rows)
    found.updated_by, found.updated_at = user, timezone.now()
    found.save()
    return found


# --- assessments ---------------------------------------------------------------------------------

def visible_assessments(user):
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Assessment.objects.none()
    return Assessment.objects.filter(permissions.placed_where(user, "risk.view_fmea") | Q(leader=user)
                                     | Q(team=user)).distinct()


def access_assessment(user, assessment_id, capability: str = "risk.view_assessment") -> Assessment:
    found = permissions.fetch_checked(user, "risk.view_assessment", Assessment.objects.select_related(
        "leader", "unit__facility", "facility", "organisation"), pk=assessment_id)
    if capability != "risk.view_assessment":
        permissions.check(user, capability, found)
    return found


def _next_reference(method: str, year: int) -> str:
    from andon.platform.models import Sequence

    prefix = "HFMEA" if method == Method.HFMEA else "FMEA"
    return f"{prefix}-{year}-{Sequence.next(f'{prefix}-{year}'):03d}"


@audit.changes_by_user
@transaction.atomic
def start_assessment(user, *, title: str, method: str, leader, unit=None, facility=None, organisation=None,
                     scope: str = "", priority_method: str = PriorityMethod.RPN, team=(),
                     started_on: date | None = None) -> Assessment:
    """A proactive assessment of a process (risk.lead_fmea where it is placed), with the
    organisation's thresholds in force today."""
    if unit is not None:
        facility = unit.facility
    if facility is not None:
        organisation = facility.organisation
    if organisation is None:
        raise ValidationError({"unit": "Choose where the process runs: a unit, a facility or the organisation."})
    place = unit or facility or organisation
    permissions.check(user, "risk.lead_fmea", place)
    started_on = started_on or timezone.localdate()
    errors = {}
    title = (title or "").strip()
    if not title or len(title) > 200:
        errors["title"] = "Name the process studied in 1 to 200 characters."
    if method not in Method.values:
        errors["method"] = f"{method!r} is not a method; choose FMEA or HFMEA."
    if priority_method not in PriorityMethod.values:
        errors["priority_method"] = f"{priority_method!r} is not a way of prioritising."
    settings_now = fmea_settings(organisation)
    if method == Method.FMEA and priority_method == PriorityMethod.ACTION_PRIORITY and not settings_now.action_priority:
        errors["priority_method"] = ("The organisation's Action Priority table is empty: fill it from your licensed "
                                     "AIAG-VDA handbook in the FMEA settings, or use the RPN.")
    staff = staff_of([organisation.pk])
    if leader is None or not staff.filter(pk=leader.pk).exists():
        errors["leader"] = "Choose an active member of staff of the organisation to lead the team."
    # Joining a team opens the assessment to its member: only the organisation's own staff.
    members = {person.pk for person in team if person.is_active}
    if len(members) != staff.filter(pk__in=members).count():
        errors["team"] = "Every member of the team must be a member of staff of the organisation."
    if started_on > timezone.localdate():
        errors["started_on"] = f"{started_on:%Y-%m-%d} is in the future."
    if errors:
        raise ValidationError(errors)
    found = Assessment.objects.create(
        reference=_next_reference(method, started_on.year), title=title, scope=(scope or "").strip()[:4000],
        method=method, priority_method=priority_method if method == Method.FMEA else PriorityMethod.RPN,
        rpn_threshold=settings_now.rpn_threshold, severity_threshold=settings_now.severity_threshold,
        organisation=organisation, facility=facility, unit=unit, leader=leader, year=started_on.year,
        started_on=started_on, created_by=user)
    found.team.set(members)
    return found


def _check_working(user, assessment: Assessment) -> None:
    permissions.check(user, "risk.work_on_assessment", assessment)
    if assessment.status == AssessmentStatus.COMPLETED:
        raise ValidationError({"status": f"{assessment.reference} is completed: reopen it to change it."})


def step_label(step: ProcessStep, parent_position: int | None = None) -> str:
    """"3" for a step; "3.2" for an FMEA's sub-step and "3b" for an HFMEA's (numbered steps,
    lettered sub-steps)."""
    if step.parent_id is None:
        return str(step.position)
    parent = parent_position if parent_position is not None else step.parent.position
    if step.assessment.method == Method.HFMEA:
        return f"{parent}{_letters(step.position)}"
    return f"{parent}.{step.position}"


def _letters(position: int) -> str:
    text = ""
    while position:
        position, rest = divmod(position - 1, 26)
        text = chr(ord("a") + rest) + text
    return text


STEP_WORDS = (300, "Describe the step in 1 to 300 characters.")
MODE_WORDS = (500, "Describe how the step could fail in 1 to 500 characters.")
CAUSE_WORDS = (500, "Describe the cause in 1 to 500 characters.")


def _described(text, field_name: str, rule: tuple[int, str]) -> str:
    """The words of a step, failure mode or cause, stripped; none, or too many, refused."""
    most, message = rule
    text = (text or "").strip()
    if not text or len(text) > most:
        raise ValidationError({field_name: message})
    return text


@audit.changes_by_user
@transaction.atomic
def add_step(user, assessment: Assessment, text: str, parent: ProcessStep | None = None) -> ProcessStep:
    _check_working(user, assessment)
    text = _described(text, "text", STEP_WORDS)
    if parent is not None and (parent.assessment_id != assessment.pk or parent.parent_id is not None):
        raise ValidationError({"parent": "A sub-step belongs under a step of the same process (one level down)."})
    siblings = assessment.steps.filter(parent=parent)
    position = (siblings.aggregate(top=Max("position"))["top"] or 0) + 1
    return ProcessStep.objects.create(assessment=assessment, parent=parent, position=position, text=text)


@audit.changes_by_user
@transaction.atomic
def add_failure_mode(user, step: ProcessStep, description: str, effect: str = "") -> FailureMode:
    _check_working(user, step.assessment)
    description = _described(description, "description", MODE_WORDS)
    position = (step.failure_modes.aggregate(top=Max("position"))["top"] or 0) + 1
    if step.assessment.status == AssessmentStatus.PLANNING:  # the process is drawn: the hazard analysis begins
        step.assessment.status = AssessmentStatus.ANALYSING
        step.assessment.save()
    return FailureMode.objects.create(step=step, position=position, description=description,
                                      effect=(effect or "").strip()[:2000])


@audit.changes_by_user
@transaction.atomic
def add_cause(user, mode: FailureMode, description: str, current_controls: str = "") -> FailureCause:
    _check_working(user, mode.step.assessment)
    description = _described(description, "description", CAUSE_WORDS)
    position = (mode.causes.aggregate(top=Max("position"))["top"] or 0) + 1
    return FailureCause.objects.create(mode=mode, position=position, description=description,
                                       current_controls=(current_controls or "").strip()[:2000])


def _stage(stage: str) -> str:
    if stage not in ScoringStage.values:
        raise ValidationError({"stage": f"{stage!r} is not a stage; choose before actions, after actions or revised."})
    return stage


@audit.changes_by_user
@transaction.atomic
def score_cause(user, cause: FailureCause, *, severity, occurrence, detection, stage: str = ScoringStage.INITIAL,
                note: str = "", ver: int | None = None) -> FailureCause:
    """An FMEA row's severity, occurrence and detection (1–10): its RPN, its Action Priority when
    the assessment uses it, and whether it is acted on and why."""
    cause = lock(cause, ver)
    assessment = cause.mode.step.assessment
    _check_working(user, assessment)
    if assessment.method != Method.FMEA:
        raise ValidationError({"severity": "An HFMEA scores a hazard (severity × probability), not an RPN."})
    _stage(stage)
    try:
        value = rpn(severity, occurrence, detection)
        s, o, d = int(severity), int(occurrence), int(detection)
        act, reasons, priority = _fmea_decision(assessment, s, o, d)
    except ScoringError as error:
        raise scoring_error(error) from None
    cause.severity, cause.occurrence, cause.detection, cause.rpn, cause.priority = s, o, d, value, priority
    cause.act, cause.act_reason = act, "; ".join(reasons)
    cause.save()
    CauseScoring.objects.create(cause=cause, stage=stage, severity=s, occurrence=o, detection=d, rpn=value,
                                priority=priority, act=act, act_reason=cause.act_reason, by=user,
                                note=(note or "").strip()[:2000])
    return cause


def _fmea_decision(assessment: Assessment, s: int, o: int, d: int) -> tuple[bool, list[str], str]:
    if assessment.priority_method == PriorityMethod.ACTION_PRIORITY:
        table = action_priority_table(fmea_settings(assessment.organisation).action_priority)
        priority = action_priority(table, s, o, d)
        reason = f"Action Priority {PRIORITY_LABELS[priority]}"
        return priority in ("H", "M"), [reason], priority
    reasons = Thresholds(assessment.rpn_threshold, assessment.severity_threshold).reasons(s, o, d)
    return bool(reasons), reasons or [f"RPN {s * o * d} below the thresholds"], ""


@audit.changes_by_user
@transaction.atomic
def score_hazard(user, cause: FailureCause, *, severity, probability, single_point_weakness: bool | None,
                 effective_control: bool | None, obvious: bool | None, stage: str = ScoringStage.INITIAL,
                 note: str = "", ver: int | None = None) -> FailureCause:
    """An HFMEA row: the hazard score (severity 1–4 × probability 1–4) and the decision tree,
    each question reached answered; Proceed means actions with an owner and an outcome measure."""
    cause = lock(cause, ver)
    assessment = cause.mode.step.assessment
    _check_working(user, assessment)
    if assessment.method != Method.HFMEA:
        raise ValidationError({"severity": "An FMEA scores severity, occurrence and detection, not a hazard."})
    _stage(stage)
    try:
        score = hazard_score(severity, probability)
        tree = decision_tree(score, single_point_weakness, effective_control, obvious)
    except ScoringError as error:
        raise scoring_error(error) from None
    answers = dict(zip(("score", "single_point_weakness", "effective_control", "obvious"),
                       (answer for _question, answer in tree.questions)))
    cause.hazard_severity, cause.hazard_probability, cause.hazard_score = int(severity), int(probability), score
    cause.single_point_weakness = answers.get("single_point_weakness")
    cause.effective_control, cause.obvious = answers.get("effective_control"), answers.get("obvious")
    cause.act, cause.act_reason = tree.proceed, f"{tree.outcome}: {_tree_words(tree)}"
    cause.save()
    CauseScoring.objects.create(cause=cause, stage=stage, hazard_severity=cause.hazard_severity,
                                hazard_probability=cause.hazard_probability, hazard_score=score,
                                decision=[[q, a] for q, a in tree.questions], act=tree.proceed,
                                act_reason=cause.act_reason, by=user, note=(note or "").strip()[:2000])
    return cause


def _tree_words(tree) -> str:
    return "; ".join(f"{question.rstrip('?')}: {'yes' if answer else 'no'}" for question, answer in tree.questions)


def scores_before_after(cause: FailureCause) -> tuple[CauseScoring | None, CauseScoring | None]:
    """The first scoring before actions and the latest after them (None where there is none)."""
    scorings = list(cause.scorings.all())
    before = next((s for s in scorings if s.stage == ScoringStage.INITIAL), None)
    after = next((s for s in reversed(scorings) if s.stage == ScoringStage.AFTER_ACTIONS), None)
    return before, after


@audit.changes_by_user
@transaction.atomic
def cause_action(user, cause: FailureCause, *, title: str, owner, due_date: date, strength: str,
                 measure: str, description: str = "", unit=None):
    """An action for a row acted on, in the shared tracker. An HFMEA action names its outcome
    measure (kept on the row too)."""
    assessment = cause.mode.step.assessment
    _check_working(user, assessment)
    if not cause.act:
        raise ValidationError({"cause": "This row is not acted on: score it first (or re-score it above the "
                                        "thresholds) before adding actions."})
    if assessment.method == Method.HFMEA:
        if not (measure or "").strip():
            raise ValidationError({"measure": "An HFMEA action needs its outcome measure."})
        cause.outcome_measure = measure.strip()
        cause.save()
    if assessment.status == AssessmentStatus.PLANNING or assessment.status == AssessmentStatus.ANALYSING:
        assessment.status = AssessmentStatus.ACTING
        assessment.save()
    return actions.create_action(user, source=cause, source_label=f"{assessment.reference}: {cause.description}"[:200],
                                 unit=unit or assessment.unit, owner=owner, title=title, description=description,
                                 due_date=due_date, strength=strength, measure=measure)


def assessments_by_year(user) -> list[dict]:
    """The register of proactive assessments: per year, how many were started and completed."""
    rows = {}
    for found in visible_assessments(user).select_related(*_ASSESSMENT_PLACE).order_by("-year", "reference"):
        year = rows.setdefault(found.year, {"year": found.year, "started": 0, "completed": 0, "assessments": []})
        year["started"] += 1
        year["completed"] += found.status == AssessmentStatus.COMPLETED
        year["assessments"].append(found)
    return list(rows.values())


# --- the worksheet as the pages and API read it ------------------------------------------------

_ASSESSMENT_PLACE = ("leader", "unit__facility", "facility", "organisation")


def _checked(user, assessment: Assessment, capability: str) -> Assessment:
    permissions.check(user, "risk.view_assessment", assessment)
    if capability != "risk.view_assessment":
        permissions.check(user, capability, assessment)
    return assessment


def access_step(user, step_id, capability: str = "risk.view_assessment") -> ProcessStep:
    """A step of an assessment the user may see (and `capability`): Http404, PermissionDenied."""
    step = get_object_or_404(ProcessStep.objects.select_related(
        *(f"assessment__{part}" for part in _ASSESSMENT_PLACE)), pk=step_id)
    _checked(user, step.assessment, capability)
    return step


def access_failure_mode(user, mode_id, capability: str = "risk.view_assessment") -> FailureMode:
    mode = get_object_or_404(FailureMode.objects.select_related(
        "step", *(f"step__assessment__{part}" for part in _ASSESSMENT_PLACE)), pk=mode_id)
    _checked(user, mode.step.assessment, capability)
    return mode


def access_cause(user, cause_id, capability: str = "risk.view_assessment") -> FailureCause:
    cause = get_object_or_404(FailureCause.objects.select_related(
        "mode__step", *(f"mode__step__assessment__{part}" for part in _ASSESSMENT_PLACE)), pk=cause_id)
    _checked(user, cause.mode.step.assessment, capability)
    return cause


def worksheet(assessment: Assessment) -> list[dict]:
    """The process in order: each step with its label, failure modes (each with its causes, their
    scorings read with them, and `tracked_actions`: their actions in the tracker) and sub-steps
    (the same, one level down). Four queries, and one per cause ever acted on (only those can
    have actions)."""
    steps = list(assessment.steps.all())
    modes = _grouped(FailureMode.objects.filter(step__assessment=assessment), "step_id")
    causes = _grouped(FailureCause.objects.filter(mode__step__assessment=assessment).prefetch_related("scorings"),
                      "mode_id")
    substeps = _grouped(steps, "parent_id")

    def node(step, parent=None) -> dict:
        step.assessment = assessment  # step_label reads the method; labels read no more rows
        for mode in modes.get(step.pk, []):
            mode.step = step
            for cause in causes.get(mode.pk, []):
                cause.mode = mode
                ever_acted_on = any(scoring.act for scoring in cause.scorings.all())
                cause.tracked_actions = list(cause_actions(cause)) if ever_acted_on else []
        return {"step": step, "label": step_label(step, parent.position if parent else None),
                "modes": [{"mode": mode, "causes": causes.get(mode.pk, [])} for mode in modes.get(step.pk, [])],
                "substeps": [node(sub, step) for sub in sorted(substeps.get(step.pk, []), key=_position)]}

    return [node(step) for step in sorted(substeps.get(None, []), key=_position)]


def _grouped(rows, key: str) -> dict:
    found = {}
    for row in sorted(rows, key=_position):
        found.setdefault(getattr(row, key), []).append(row)
    return found


def _position(row) -> int:
    return row.position


def cause_actions(cause: FailureCause):
    """The actions in the shared tracker that came from a cause (the caller checked the
    assessment may be seen)."""
    return actions.actions_for_source(cause).order_by("due_date", "pk")


def completion_problems(assessment: Assessment, sheet: list[dict] | None = None) -> list[str]:
    """What keeps an assessment from being completed, in words naming each row; empty when it
    may be: a process with causes, every cause scored, every row acted on with an action.
    `sheet`: its worksheet, when the caller has read it already."""
    rows = [(part["label"], cause) for step in (sheet or worksheet(assessment)) for part in (step, *step["substeps"])
            for mode in part["modes"] for cause in mode["causes"]]
    if not rows:
        return ["No failure mode has a cause yet: analyse the process first."]
    problems = [f"Step {label}, “{cause.description}”: not scored yet." for label, cause in rows if cause.act is None]
    # An HFMEA's reason is the whole tree: "Proceed" says it here.
    why = (lambda cause: "Proceed") if assessment.method == Method.HFMEA else (lambda cause: cause.act_reason)
    problems += [f"Step {label}, “{cause.description}”: acted on ({why(cause)}) but has no action yet."
                 for label, cause in rows if cause.act and not cause.tracked_actions]
    return problems


# --- changes while analysing ---------------------------------------------------------------------

def _remove(user, assessment: Assessment, row, siblings, refusal) -> None:
    """Remove a step, failure mode or cause unless `refusal()` names what would be lost with it,
    then number the rows after it down by one, so the labels stay 1, 2, 3."""
    _check_working(user, assessment)
    problem = refusal()
    if problem:
        raise ValidationError(problem)
    position = row.position
    row.delete()
    for later in siblings.filter(position__gt=position).order_by("position"):
        later.position -= 1
        later.save(update_fields=["position"])


@audit.changes_by_user
@transaction.atomic
def edit_step(user, step: ProcessStep, text: str) -> ProcessStep:
    _check_working(user, step.assessment)
    step.text = _described(text, "text", STEP_WORDS)
    step.save()
    return step


@audit.changes_by_user
@transaction.atomic
def remove_step(user, step: ProcessStep) -> None:
    """A step with nothing under it; one with sub-steps or failure modes is refused, so a slip
    of the finger loses no analysis. The steps after it are numbered down."""
    _remove(user, step.assessment, step, step.assessment.steps.filter(parent_id=step.parent_id), lambda: (
        (step.substeps.exists() or step.failure_modes.exists())
        and {"step": f"Step {step_label(step)} has sub-steps or failure modes: remove those first."}))


@audit.changes_by_user
@transaction.atomic
def edit_failure_mode(user, mode: FailureMode, description: str, effect: str = "") -> FailureMode:
    _check_working(user, mode.step.assessment)
    mode.description = _described(description, "description", MODE_WORDS)
    mode.effect = (effect or "").strip()[:2000]
    mode.save()
    return mode


@audit.changes_by_user
@transaction.atomic
def remove_failure_mode(user, mode: FailureMode) -> None:
    _remove(user, mode.step.assessment, mode, mode.step.failure_modes.all(), lambda: (
        mode.causes.exists() and {"mode": f"“{mode.description}” has causes: remove them first."}))


@audit.changes_by_user
@transaction.atomic
def edit_cause(user, cause: FailureCause, description: str, current_controls: str = "",
               ver: int | None = None) -> FailureCause:
    """A cause's words; its scores change by scoring it again (each scoring is kept)."""
    cause = lock(cause, ver)
    _check_working(user, cause.mode.step.assessment)
    cause.description = _described(description, "description", CAUSE_WORDS)
    cause.current_controls = (current_controls or "").strip()[:2000]
    cause.save()
    return cause


@audit.changes_by_user
@transaction.atomic
def remove_cause(user, cause: FailureCause) -> None:
    """A cause without actions (one with actions in the tracker stays: they point at it); the
    audit trail keeps what it was and its last scores."""
    _remove(user, cause.mode.step.assessment, cause, cause.mode.causes.all(), lambda: (
        cause_actions(cause).exists()
        and {"cause": f"“{cause.description}” has actions in the tracker: it stays, so they keep their source."}))


# --- the team, completing and reopening ----------------------------------------------------------

def may_lead(user, assessment: Assessment) -> bool:
    """Its leader, or someone who leads assessments where it is placed: who changes the team,
    completes and reopens."""
    return assessment.leader_id == user.pk or permissions.can(user, "risk.lead_fmea", assessment)


def _check_leading(user, assessment: Assessment) -> None:
    if assessment.leader_id != user.pk:
        permissions.check(user, "risk.lead_fmea", assessment)


def organisations_leading(user) -> list[int]:
    """The organisations where the user leads assessments somewhere (whose staff they may pick)."""
    roles = roles_with("risk.lead_fmea")
    return sorted({grant.organisation_id for grant in permissions.active_grants(user) if grant.role in roles})


def organisation_for_settings(user, capability: str | None = None):
    """The organisation whose FMEA settings the user reads (any of their grants: everyone who
    scores needs the scales' words) or changes (`capability` over its whole: settings are the
    organisation's, a narrower grant is refused)."""
    roles = roles_with(capability) if capability else None
    for grant in permissions.active_grants(user):
        if roles is None or (grant.role in roles and not grant.facility_id and not grant.unit_id):
            return grant.organisation
    raise permissions.Refused(capability or "risk.use_assessments", "the organisation's FMEA settings")


@audit.changes_by_user
@transaction.atomic
def add_team_member(user, assessment: Assessment, person) -> Assessment:
    """A member of staff of the assessment's organisation joins the team (and may then work on
    the analysis, whatever their roles)."""
    _check_leading(user, assessment)
    _check_working(user, assessment)
    if person is None or not staff_of([assessment.organisation_id]).filter(pk=person.pk).exists():
        raise ValidationError({"person": "Choose an active member of staff of the organisation."})
    if person.pk == assessment.leader_id:
        raise ValidationError({"person": f"{history.person_name(person)} leads the team already."})
    assessment.team.add(person)
    return assessment


@audit.changes_by_user
@transaction.atomic
def remove_team_member(user, assessment: Assessment, person) -> Assessment:
    _check_leading(user, assessment)
    _check_working(user, assessment)
    assessment.team.remove(person)
    return assessment


@audit.changes_by_user
@transaction.atomic
def complete_assessment(user, assessment: Assessment, ver: int | None = None) -> Assessment:
    """Completed when every cause is scored and every row acted on has an action (its leader,
    or one who leads assessments there); it counts as completed in its year's register."""
    assessment = lock(assessment, ver)
    _check_leading(user, assessment)
    if assessment.status == AssessmentStatus.COMPLETED:
        raise ValidationError({"status": f"{assessment.reference} is completed already."})
    problems = completion_problems(assessment)
    if problems:
        raise ValidationError({"status": problems})
    assessment.status, assessment.completed_on = AssessmentStatus.COMPLETED, timezone.localdate()
    assessment.save()
    return assessment


@audit.changes_by_user
@transaction.atomic
def reopen_assessment(user, assessment: Assessment, ver: int | None = None) -> Assessment:
    """Back to work: acting when a row is acted on, analysing otherwise."""
    assessment = lock(assessment, ver)
    _check_leading(user, assessment)
    if assessment.status != AssessmentStatus.COMPLETED:
        raise ValidationError({"status": f"{assessment.reference} is not completed."})
    acting = FailureCause.objects.filter(mode__step__assessment=assessment, act=True).exists()
    assessment.status = AssessmentStatus.ACTING if acting else AssessmentStatus.ANALYSING
    assessment.completed_on = None
    assessment.save()
    return assessment


def connect() -> None:
    """Registries of the FMEA subject (audit, navigation), from ready()."""
    from . import models

    # The team is a many-to-many: who joined or left is in the trail as its own change.
    audit.register(models.Assessment, exclude_fields=["version"], m2m_fields={"team"})
    audit.register(models.FailureCause, exclude_fields=["version"])
    for model in (models.ProcessStep, models.FailureMode):
        audit.register(model)
    # auditlog also lists the reverse relation on creation ("Steps set to risk.ProcessStep.None").
    history.register(models.Assessment, labels={"rpn_threshold": "RPN threshold",
                                                "severity_threshold": "Severity override"},
                     hidden={"steps", "created_at"})
    navigation.add(navigation.NavEntry("Proactive risk", "risk:fmea_register", "risk.use_assessments",
                                       "diagram-2"))
