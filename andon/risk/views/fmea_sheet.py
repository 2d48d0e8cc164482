"""Risk pages: one FMEA or HFMEA, its page (the process drawn as a numbered flow, the worksheet of
failure modes, causes, scores and actions) and the worksheet's changes in place with htmx. The
register, starting one, its team and the settings are in views/fmea.py; the forms in
views/fmea_forms.py. Thin: parse, call one service, render."""

import re
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, inputs, permissions
from andon.platform.permissions import requires

from .. import fmea as service
from ..models import AssessmentStatus, FailureCause, FailureMode, Method, PriorityMethod, ProcessStep, ScoringStage
from ..scoring import HFMEA_PROBABILITIES, HFMEA_SEVERITIES, PRIORITY_LABELS
from .fmea_forms import (
    ActionForm, CauseEditForm, CauseForm, HazardForm, ModeForm, ScoreForm, StepEditForm, StepForm, TeamForm,
    add_errors, tree_answer,
)


def _htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _form(form_class, prefix: str, bound, **kwargs):
    """The form a page shows: the one just sent with its errors, or a fresh one."""
    if bound is not None and bound.prefix == prefix:
        return bound
    return form_class(prefix=prefix, **kwargs)


@dataclass
class Slot:
    """One of the worksheet's small forms. It is open when it was just sent with errors, or asked
    for (`?form=<prefix>`); otherwise a link fetches it in place (htmx), or opens the page with it
    (without JavaScript). A worksheet of a hundred rows so carries no hundred forms."""

    prefix: str
    opener: str  # the link's words ("Score"), and what they are about for a screen reader
    about: str
    action: str  # where the form posts
    button: str
    url: str  # the page with the form open
    form: forms.Form | None = None
    style: str = "primary"


def _score_form(sheet, cause, prefix):
    initial = {"stage": ScoringStage.AFTER_ACTIONS if cause.tracked_actions else ScoringStage.INITIAL,
               "version": cause.version}
    if sheet.hfmea:
        return HazardForm(prefix=prefix, initial=initial)
    return ScoreForm(prefix=prefix, initial=initial, scales=sheet.scales)


def _edit_url(part):
    return lambda assessment, row: reverse("risk:fmea_edit", args=[assessment.pk, part, row.pk])


def _add_url(part):
    return lambda assessment, row: f"{reverse('risk:fmea_add', args=[assessment.pk, part])}?under={row.pk}"


# kind -> (opener, style, button, where it posts, the form: make(sheet, row, prefix))
SLOTS = {
    "s-edit": ("Edit", "secondary", "Save", _edit_url("step"),
               lambda sheet, step, prefix: StepEditForm(prefix=prefix, initial={"text": step.text})),
    "s-mode": ("Add a failure mode", "primary", "Add the failure mode", _add_url("mode"),
               lambda sheet, step, prefix: ModeForm(prefix=prefix)),
    "m-edit": ("Edit", "secondary", "Save", _edit_url("mode"), lambda sheet, mode, prefix: ModeForm(
        prefix=prefix, initial={"description": mode.description, "effect": mode.effect})),
    "m-cause": ("Add a cause", "primary", "Add the cause", _add_url("cause"),
                lambda sheet, mode, prefix: CauseForm(prefix=prefix)),
    "c-score": ("Score", "primary", "Save the scores",
                lambda assessment, cause: reverse("risk:fmea_score", args=[assessment.pk, cause.pk]), _score_form),
    "c-action": ("Add an action", "primary", "Add the action",
                 lambda assessment, cause: reverse("risk:fmea_action", args=[assessment.pk, cause.pk]),
                 lambda sheet, cause, prefix: ActionForm(prefix=prefix, assessment=sheet.assessment, user=sheet.user,
                                                         initial={"measure": cause.outcome_measure})),
    "c-edit": ("Edit", "secondary", "Save", _edit_url("cause"), lambda sheet, cause, prefix: CauseEditForm(
        prefix=prefix, initial={"description": cause.description, "current_controls": cause.current_controls,
                                "version": cause.version})),
}
ASKED = re.compile(r"([smc])(\d{1,18})-(edit|mode|cause|score|action)")


class Sheet:
    """The worksheet as one person sees it: what they may do, and its slots (the form just sent,
    `bound`, and the one asked for, `asked`, open)."""

    def __init__(self, request, assessment, bound=None, asked: str = ""):
        self.user, self.assessment, self.bound, self.asked = request.user, assessment, bound, asked
        self.hfmea = assessment.method == Method.HFMEA
        self.page = reverse("risk:fmea_assessment", args=[assessment.pk])
        working = assessment.status != AssessmentStatus.COMPLETED
        self.may_work = working and permissions.can(self.user, "risk.work_on_assessment", assessment)
        self.may_act = self.may_work and permissions.can(self.user, "actions.manage",
                                                         assessment.unit or permissions.ANYWHERE)
        self.slots = {}  # prefix -> Slot, for the one a fetch asks for
        self._scales = None

    @property
    def scales(self) -> dict:
        if self._scales is None:
            self._scales = service.fmea_settings(self.assessment.organisation).scales
        return self._scales

    def slot(self, kind: str, row, label: str = "") -> Slot | None:
        """The slot of `kind` for a step (its `label`), failure mode or cause; None when it is not
        the person's to fill."""
        if not self.may_work or (kind == "c-action" and not (self.may_act and row.act)):
            return None
        opener, style, button, action, make = SLOTS[kind]
        prefix = f"{kind[0]}{row.pk}-{kind[2:]}"
        if self.bound is not None and self.bound.prefix == prefix:
            form = self.bound
        else:
            form = make(self, row, prefix) if prefix == self.asked else None
        self.slots[prefix] = Slot(prefix, opener, _about(kind, row, label), action(self.assessment, row), button,
                                  f"{self.page}?form={prefix}", form, style)
        return self.slots[prefix]


def _about(kind: str, row, label: str) -> str:
    """What a slot's link is about, for a screen reader ("Score the cause “…”")."""
    if kind.startswith("s"):
        return f"{'to ' if kind == 's-mode' else ''}step {label}"
    what = f"“{row.description}”"
    return {"m-edit": f"the failure mode {what}", "m-cause": f"of {what}", "c-action": f"for the cause {what}"}.get(
        kind, f"the cause {what}")


def assessment_context(request, assessment, bound=None, asked: str = "") -> dict:
    user = request.user
    sheet = Sheet(request, assessment, bound, asked)
    nodes = service.worksheet(assessment)
    for node in nodes:
        for part in (node, *node["substeps"]):
            _dress_step(part, sheet)
    working = assessment.status != AssessmentStatus.COMPLETED
    may_lead = service.may_lead(user, assessment)
    return {
        "assessment": assessment, "sheet": nodes, "slots": sheet.slots, "hfmea": sheet.hfmea,
        "may_work": sheet.may_work, "may_lead": may_lead, "team": assessment.team.order_by("last_name", "username"),
        "step_form": _form(StepForm, "step", bound, sheet=nodes) if sheet.may_work else None,
        "team_form": _form(TeamForm, "team", bound, assessment=assessment) if may_lead and working else None,
        "problems": service.completion_problems(assessment, nodes) if may_lead and working else [],
        "thresholds": _thresholds(assessment),
        "history": history.history_of(assessment, leave_out={"team"}),  # the team is listed above
    }


def _thresholds(assessment) -> str:
    if assessment.method == Method.HFMEA:
        return "Hazard score 8 or more, or a single-point weakness, then the decision tree."
    if assessment.priority_method == PriorityMethod.ACTION_PRIORITY:
        return "Action Priority High or Medium, from the organisation's table."
    parts = [f"RPN ≥ {assessment.rpn_threshold}" if assessment.rpn_threshold else "",
             f"severity ≥ {assessment.severity_threshold}, whatever the RPN" if assessment.severity_threshold else ""]
    return " or ".join(part for part in parts if part) + "."


def _dress_step(node, sheet: Sheet) -> None:
    """A step's slots, and each of its causes as a row: scores before and after, the latest
    scoring (its decision tree), actions and the row's slots."""
    step = node["step"]
    node["edit"], node["add_mode"] = (sheet.slot(kind, step, node["label"]) for kind in ("s-edit", "s-mode"))
    for entry in node["modes"]:
        entry["edit"], entry["add_cause"] = (sheet.slot(kind, entry["mode"]) for kind in ("m-edit", "m-cause"))
        entry["rows"] = [_cause_row(cause, sheet) for cause in entry["causes"]]


def _cause_row(cause, sheet: Sheet) -> dict:
    before, after = service.scores_before_after(cause)
    scorings = list(cause.scorings.all())
    score = "hazard_score" if sheet.hfmea else "rpn"
    return {"cause": cause, "latest": scorings[-1] if scorings else None, "actions": cause.tracked_actions,
            "moved": (getattr(before, score), getattr(after, score)) if before and after else None,
            "priority": PRIORITY_LABELS.get(cause.priority, ""),
            "severity_words": HFMEA_SEVERITIES.get(cause.hazard_severity, ""),
            "probability_words": HFMEA_PROBABILITIES.get(cause.hazard_probability, ""),
            **{name: sheet.slot(f"c-{name}", cause) for name in ("score", "action", "edit")}}


@requires("risk.use_assessments")
def fmea_assessment(request, pk):
    """The assessment; with `?form=` one of the worksheet's forms open (htmx: that form alone)."""
    assessment = service.access_assessment(request.user, pk)
    asked = request.GET.get("form", "")
    if asked and not ASKED.fullmatch(asked):
        raise Http404("No such form.")
    if asked and _htmx(request):
        return render(request, "risk/_fmea_slot.html", {"slot": _asked_slot(request, assessment, asked)})
    return render(request, "risk/fmea_assessment.html", assessment_context(request, assessment, asked=asked))


def _asked_slot(request, assessment, asked: str) -> Slot:
    """The one form a link fetches, read alone: its row, not the whole worksheet."""
    letter, key, what = ASKED.fullmatch(asked).groups()
    kind = f"{letter}-{what}"
    if kind not in SLOTS:
        raise Http404("No such form.")
    row = _part(assessment, {"s": "step", "m": "mode", "c": "cause"}[letter], int(key))
    if letter == "c":
        row.tracked_actions = list(service.cause_actions(row))
    slot = Sheet(request, assessment, asked=asked).slot(kind, row, service.step_label(row) if letter == "s" else "")
    if slot is None:
        raise Http404("No such form here, or not yours to fill.")
    return slot


def _answer(request, assessment, bound=None, status: int = 200):
    """After a change of the worksheet: htmx gets the worksheet again (200 even with errors, since
    htmx swaps only what succeeds); a plain form post goes back to the page, or gets the page with
    the errors (400, 409 for a stale version)."""
    if _htmx(request):
        context = assessment_context(request, assessment, bound)
        return render(request, "risk/_fmea_worksheet.html", {**context, "inline": True})
    if bound is None:
        return redirect(reverse("risk:fmea_assessment", args=[assessment.pk]) + "#fmea-worksheet")
    return render(request, "risk/fmea_assessment.html", assessment_context(request, assessment, bound),
                  status=status)


def _apply(request, assessment, form, change, record=None):
    """Run one service call with the form's data; the worksheet answers either way."""
    if not form.is_valid():
        return _answer(request, assessment, form, 400)
    try:
        change(form.cleaned_data)
    except ValidationError as error:
        if record is not None:
            record.refresh_from_db()
        if isinstance(error, concurrency.Stale) and _htmx(request):
            # htmx swaps the worksheet alone: said on the form, which carries the current version.
            form.data = form.data.copy()
            form.data[form.add_prefix("version")] = str(record.version)
            add_errors(form, error)
            return _answer(request, assessment, form, 409)
        return _answer(request, assessment, form,
                       concurrency.refused_on_page(request, form, error, record, add_errors))
    return _answer(request, assessment)


PARTS = {"step": (ProcessStep, "assessment"), "mode": (FailureMode, "step__assessment"),
         "cause": (FailureCause, "mode__step__assessment")}


def _part(assessment, part: str, item):
    """A step, failure mode or cause of this assessment (404 for any other)."""
    if part not in PARTS or item is None:
        raise Http404("No such part of the assessment.")
    model, to_assessment = PARTS[part]
    return get_object_or_404(model, **{to_assessment: assessment}, pk=item)


def _working_on(request, pk, part: str | None = None, item=None):
    """The assessment, which the user works on, and (`part`) one of its steps, modes or causes."""
    assessment = service.access_assessment(request.user, pk, "risk.work_on_assessment")
    return assessment, _part(assessment, part, item) if part else None


@require_POST
@requires("risk.use_assessments")
def fmea_add(request, pk, part):
    """Add a step or sub-step, a failure mode to a step, or a cause to a failure mode (`?under=`)."""
    user = request.user
    assessment, _ = _working_on(request, pk)
    under = inputs.record_id(request.GET.get("under", ""))
    if part == "step":
        form = StepForm(request.POST, prefix="step", sheet=service.worksheet(assessment))
        return _apply(request, assessment, form, lambda data: service.add_step(
            user, assessment, data["text"],
            parent=_part(assessment, "step", data["parent"]) if data["parent"] else None))
    if part == "mode":
        step = _part(assessment, "step", under)
        return _apply(request, assessment, ModeForm(request.POST, prefix=f"s{step.pk}-mode"),
                      lambda data: service.add_failure_mode(user, step, data["description"], data["effect"]))
    if part == "cause":
        mode = _part(assessment, "mode", under)
        return _apply(request, assessment, CauseForm(request.POST, prefix=f"m{mode.pk}-cause"),
                      lambda data: service.add_cause(user, mode, data["description"], data["current_controls"]))
    raise Http404("Nothing of that kind is added to an assessment.")


@require_POST
@requires("risk.use_assessments")
def fmea_edit(request, pk, part, item):
    user = request.user
    assessment, found = _working_on(request, pk, part, item)
    if part == "step":
        return _apply(request, assessment, StepEditForm(request.POST, prefix=f"s{found.pk}-edit"),
                      lambda data: service.edit_step(user, found, data["text"]))
    if part == "mode":
        return _apply(request, assessment, ModeForm(request.POST, prefix=f"m{found.pk}-edit"),
                      lambda data: service.edit_failure_mode(user, found, data["description"], data["effect"]))
    return _apply(request, assessment, CauseEditForm(request.POST, prefix=f"c{found.pk}-edit"),
                  lambda data: service.edit_cause(user, found, data["description"], data["current_controls"],
                                                  data["version"]), record=found)


@require_POST
@requires("risk.use_assessments")
def fmea_remove(request, pk, part, item):
    """Remove a step, failure mode or cause (the service refuses one with work under it)."""
    user = request.user
    assessment, found = _working_on(request, pk, part, item)
    remove = {"step": service.remove_step, "mode": service.remove_failure_mode, "cause": service.remove_cause}[part]
    try:
        remove(user, found)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _answer(request, assessment)


@require_POST
@requires("risk.use_assessments")
def fmea_score(request, pk, item):
    """Score a cause: severity, occurrence and detection (FMEA), or the hazard score and the
    decision tree (HFMEA), at a stage (before actions, after them, revised)."""
    user = request.user
    assessment, cause = _working_on(request, pk, "cause", item)
    prefix = f"c{cause.pk}-score"
    if assessment.method == Method.HFMEA:
        return _apply(request, assessment, HazardForm(request.POST, prefix=prefix), lambda data: service.score_hazard(
            user, cause, severity=data["severity"], probability=data["probability"],
            single_point_weakness=tree_answer(data["single_point_weakness"]),
            effective_control=tree_answer(data["effective_control"]), obvious=tree_answer(data["obvious"]),
            stage=data["stage"], note=data["note"], ver=data["version"]), record=cause)
    form = ScoreForm(request.POST, prefix=prefix, scales=service.fmea_settings(assessment.organisation).scales)
    return _apply(request, assessment, form, lambda data: service.score_cause(
        user, cause, severity=data["severity"], occurrence=data["occurrence"], detection=data["detection"],
        stage=data["stage"], note=data["note"], ver=data["version"]), record=cause)


@require_POST
@requires("risk.use_assessments")
def fmea_action(request, pk, item):
    """An action for a row acted on, in the shared tracker."""
    user = request.user
    assessment, cause = _working_on(request, pk, "cause", item)
    form = ActionForm(request.POST, prefix=f"c{cause.pk}-action", assessment=assessment, user=user)
    return _apply(request, assessment, form, lambda data: service.cause_action(
        user, cause, title=data["title"], owner=data["owner"], due_date=data["due_date"], strength=data["strength"],
        measure=data["measure"], unit=data.get("unit")))

