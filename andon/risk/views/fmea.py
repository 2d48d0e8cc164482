"""Risk pages: FMEA and HFMEA: the register of proactive assessments by year, starting one, an
assessment's page (the process drawn as a numbered flow, the worksheet of failure modes, causes,
scores and actions, changed in place with htmx; the team; completing and reopening), and the
organisation's FMEA settings. Thin: parse, call one service, render."""

import re
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.actions import services as actions
from andon.platform import concurrency, history, inputs, permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField
from andon.platform.models import Facility, Organisation, Unit, User
from andon.platform.permissions import requires

from .. import fmea as service
from ..models import AssessmentStatus, FailureCause, FailureMode, Method, PriorityMethod, ProcessStep, ScoringStage
from ..scoring import FMEA_SCALE, HFMEA_PROBABILITIES, HFMEA_SEVERITIES, PRIORITIES, PRIORITY_LABELS, Q1A, Q2, Q3

ACCREDITORS_EXPECT = "Accreditors expect at least one proactive risk assessment of a high-risk process a year."
SCALE_LABELS = {"severity": "Severity", "occurrence": "Occurrence", "detection": "Detection"}
SCALE_HELP = {
    "severity": "How bad the effect would be: 10 is the worst.",
    "occurrence": "How often the cause would happen: 10 is the most often.",
    "detection": "Scored inversely: 10 means the failure is unlikely to be caught before it does harm.",
}


# --- a people picker: a search, never a list of every member of staff ---------------------------

class PersonSearch(forms.Widget):
    """A search box that asks `search_url` for matches as one types (htmx), above the people
    chosen so far, checked (radio buttons for one person, checkboxes for several): the form posts
    user ids as a <select> would, also without JavaScript. The field's queryset decides who is
    accepted; the search offers the same people."""

    template_name = "risk/_fmea_person_search.html"

    def __init__(self, multiple: bool = False):
        super().__init__()
        self.multiple, self.search_url = multiple, ""

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if self.multiple and hasattr(data, "getlist") else data.get(name)

    def use_required_attribute(self, initial):
        return False  # the search box stays empty once someone is chosen: the server says what is missing

    def id_for_label(self, id_):
        return f"{id_}-q" if id_ else id_  # the field's label names the search box

    def format_value(self, value):
        values = value if isinstance(value, (list, tuple)) else [value]
        return [pk for pk in (inputs.record_id(v) for v in values if v not in (None, "")) if pk]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        ids = context["widget"]["value"]
        people = self.choices.queryset.filter(pk__in=ids) if ids else []
        context["widget"].update(search_url=self.search_url, multiple=self.multiple,
                                 chosen=[{"person": person, "name": history.person_name(person)} for person in people])
        return context


class PersonField(forms.ModelChoiceField):
    def __init__(self, queryset=User.objects.none(), **kwargs):
        super().__init__(queryset, widget=PersonSearch(), **kwargs)


class PeopleField(forms.ModelMultipleChoiceField):
    def __init__(self, queryset=User.objects.none(), **kwargs):
        super().__init__(queryset, widget=PersonSearch(multiple=True), **kwargs)


def _searching(field, queryset, url: str) -> None:
    field.queryset, field.widget.search_url = queryset, url


# --- forms --------------------------------------------------------------------------------------

RADIOS = forms.RadioSelect(attrs={"class": "form-check-input"})


class StartForm(forms.Form):
    title = forms.CharField(max_length=200, label="Process studied", help_text="A high-risk process, e.g. "
                            "“Dispensing high-alert medicines”.")
    scope = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text="Where the process starts and ends, and why it was chosen.")
    method = forms.ChoiceField(choices=Method.choices, initial=Method.FMEA, widget=RADIOS,
                               help_text="HFMEA: the VA's hazard score and decision tree.")
    priority_method = forms.ChoiceField(choices=PriorityMethod.choices, initial=PriorityMethod.RPN,
                                        widget=RADIOS, label="Prioritisation (FMEA)",
                                        help_text="Action Priority needs the organisation's table in the FMEA "
                                                  "settings.")
    place = forms.ChoiceField(label="Where the process runs")
    leader = PersonField(label="Leader")
    team = PeopleField(required=False, label="Team", help_text="Anyone of the organisation's staff; they may "
                                                               "then work on the analysis.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].choices = _places(user)
        staff = service.staff_of(service.organisations_leading(user))
        for name in ("leader", "team"):
            _searching(self.fields[name], staff, reverse("risk:fmea_people"))

    def chosen_place(self) -> dict:
        kind, key = self.cleaned_data["place"][0], int(self.cleaned_data["place"][1:])
        return {{"o": "organisation", "f": "facility", "u": "unit"}[kind]:
                {"o": Organisation, "f": Facility, "u": Unit}[kind].objects.get(pk=key)}


def _places(user) -> list[tuple[str, str]]:
    """Where the user may lead an assessment: the organisation (a grant over its whole), a
    facility, or a unit."""
    units = permissions.units_where(user, "risk.lead_fmea").filter(active=True).select_related("facility")
    facilities = Facility.objects.filter(pk__in=units.values("facility_id")).select_related("organisation")
    choices = [(f"o{o.pk}", f"{o.name} (whole organisation)") for o in {f.organisation for f in facilities}
               if permissions.can(user, "risk.lead_fmea", o)]
    choices += [(f"f{f.pk}", f"{f.name} (facility)") for f in facilities if permissions.can(user, "risk.lead_fmea", f)]
    return choices + [(f"u{u.pk}", f"{u.facility.name} · {u.name}") for u in units.order_by("facility__name", "path")]


class StepForm(forms.Form):
    text = forms.CharField(max_length=300, label="Step")
    parent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Where")

    def __init__(self, *args, sheet=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", "A new step at the end")] + [
            (node["step"].pk, f"A sub-step of {node['label']} {node['step'].text}") for node in sheet]


class StepEditForm(forms.Form):
    text = forms.CharField(max_length=300, label="Step")


class ModeForm(forms.Form):
    description = forms.CharField(max_length=500, label="Failure mode", help_text="How the step could fail.")
    effect = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="What the failure would lead to.")


class CauseForm(forms.Form):
    description = forms.CharField(max_length=500, label="Cause")
    current_controls = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                                       label="Controls in place now")


class CauseEditForm(CauseForm):
    version = VersionField()


def _scale_choices(words, top: int) -> list[tuple[str, str]]:
    return [("", "—")] + [(str(n), f"{n} · {words[n - 1]}" if len(words) >= n and words[n - 1] else str(n))
                          for n in range(1, top + 1)]


class ScoreForm(forms.Form):
    """An FMEA row's scores (1–10): the organisation's words for each value are its options."""

    severity = forms.TypedChoiceField(coerce=int)
    occurrence = forms.TypedChoiceField(coerce=int)
    detection = forms.TypedChoiceField(coerce=int)
    stage = forms.ChoiceField(choices=ScoringStage.choices, initial=ScoringStage.INITIAL)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    version = VersionField()

    def __init__(self, *args, scales=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in SCALE_LABELS.items():
            field = self.fields[name]
            field.label, field.help_text = f"{label} (1–{FMEA_SCALE})", SCALE_HELP[name]
            field.choices = _scale_choices((scales or {}).get(name, []), FMEA_SCALE)


YES_NO = [("", "Not reached"), ("yes", "Yes"), ("no", "No")]


def _yes_no(value):
    return {"yes": True, "no": False}.get(value)


class HazardForm(forms.Form):
    """An HFMEA row: the hazard score and the decision tree (questions the path does not reach
    are left unanswered)."""

    severity = forms.TypedChoiceField(coerce=int, choices=[("", "—")] + [
        (str(n), f"{n} · {HFMEA_SEVERITIES[n]}") for n in range(4, 0, -1)], label="Severity (1–4)")
    probability = forms.TypedChoiceField(coerce=int, choices=[("", "—")] + [
        (str(n), f"{n} · {HFMEA_PROBABILITIES[n]}") for n in range(4, 0, -1)], label="Probability (1–4)")
    single_point_weakness = forms.ChoiceField(required=False, choices=YES_NO, label=Q1A)
    effective_control = forms.ChoiceField(required=False, choices=YES_NO, label=Q2)
    obvious = forms.ChoiceField(required=False, choices=YES_NO, label=Q3)
    stage = forms.ChoiceField(choices=ScoringStage.choices, initial=ScoringStage.INITIAL)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    version = VersionField()


class ActionForm(forms.Form):
    title = forms.CharField(max_length=200, label="Action")
    owner = PersonField(label="Owner")
    due_date = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), label="Due date")
    strength = forms.ChoiceField(choices=actions.Strength.choices)
    measure = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Measure",
                              help_text="How you will know the action worked.")
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), help_text="The unit the action is taken in.")

    def __init__(self, *args, assessment, user, **kwargs):
        super().__init__(*args, **kwargs)
        _searching(self.fields["owner"], service.staff_of([assessment.organisation_id]),
                   reverse("risk:fmea_assessment_people", args=[assessment.pk]))
        if assessment.method == Method.HFMEA:
            self.fields["measure"].label = "Outcome measure"
            self.fields["measure"].help_text = "How the action's effect will be measured (HFMEA step 5)."
        if assessment.unit_id:
            del self.fields["unit"]
        else:
            units = permissions.units_where(user, "actions.manage").filter(active=True).select_related("facility")
            place = {"facility": assessment.facility} if assessment.facility_id else {
                "facility__organisation": assessment.organisation}
            self.fields["unit"].queryset = units.filter(**place).order_by("facility__name", "path")


class TeamForm(forms.Form):
    person = PersonField(label="Add to the team")

    def __init__(self, *args, assessment, **kwargs):
        super().__init__(*args, **kwargs)
        _searching(self.fields["person"], service.staff_of([assessment.organisation_id]),
                   reverse("risk:fmea_assessment_people", args=[assessment.pk]))


def add_errors(form, error: ValidationError) -> None:
    for name, found in (error.message_dict if hasattr(error, "error_dict") else {None: error.messages}).items():
        form.add_error(name if name in form.fields else None, found)


# --- the register and starting an assessment --------------------------------------------------

@requires("risk.use_assessments")
def fmea_register(request):
    """The register of proactive assessments, by year: what was started and completed."""
    years = service.assessments_by_year(request.user)
    this_year = timezone.localdate().year
    completed = sum(row["completed"] for row in years if row["year"] == this_year)
    return render(request, "risk/fmea_register.html", {
        "years": years, "this_year": this_year, "none_completed": not completed,
        "accreditors_expect": ACCREDITORS_EXPECT, "may_start": permissions.can(request.user, "risk.lead_fmea"),
        "may_configure": permissions.can(request.user, "risk.configure")})


@requires("risk.lead_fmea")
def fmea_start(request):
    form = StartForm(request.POST or None, user=request.user, initial={"leader": request.user})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assessment = service.start_assessment(
                request.user, title=data["title"], method=data["method"], leader=data["leader"],
                scope=data["scope"], priority_method=data["priority_method"], team=list(data["team"]),
                **form.chosen_place())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{assessment.reference} is started: draw the process step by step.")
            return redirect("risk:fmea_assessment", pk=assessment.pk)
    return render(request, "risk/fmea_start.html", {"form": form}, status=400 if form.errors else 200)


def _people(request, organisation_ids):
    """A people picker's matches (htmx): the people chosen so far, checked, then up to 20 others
    matching the words typed."""
    name = re.sub(r"[^\w-]", "", request.GET.get("name", ""))[:80]
    picker = re.sub(r"[^\w-]", "", request.GET.get("picker", ""))[:80] or name
    query = " ".join(request.GET.get("q", "").split())[:100]
    chosen = [pk for pk in map(inputs.record_id, request.GET.getlist(name)) if pk] if name else []
    return render(request, "risk/_fmea_people.html", {
        "name": name, "picker": picker, "query": query, "multiple": request.GET.get("multiple") == "1",
        "chosen": service.people_to_pick(organisation_ids, ids=chosen) if chosen else [],
        "matches": service.people_to_pick(organisation_ids, query, leave_out=chosen) if query else []})


@requires("risk.lead_fmea")
def fmea_people(request):
    """Whom an assessment being started may have as leader or team: staff of the organisations
    where the user leads assessments."""
    return _people(request, service.organisations_leading(request.user))


@requires("risk.use_assessments")
def fmea_assessment_people(request, pk):
    """Whom an assessment may add to its team or give an action to: its organisation's staff, for
    those who pick them (its leaders, and who may open actions where it is placed)."""
    user = request.user
    assessment = service.access_assessment(user, pk, "risk.work_on_assessment")
    if not service.may_lead(user, assessment):
        permissions.check(user, "actions.manage", assessment.unit or permissions.ANYWHERE)
    return _people(request, [assessment.organisation_id])


# --- one assessment: the flow and the worksheet ----------------------------------------------------

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


def _context(request, assessment, bound=None, asked: str = "") -> dict:
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
    return render(request, "risk/fmea_assessment.html", _context(request, assessment, asked=asked))


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
        return render(request, "risk/_fmea_worksheet.html", {**_context(request, assessment, bound), "inline": True})
    if bound is None:
        return redirect(reverse("risk:fmea_assessment", args=[assessment.pk]) + "#fmea-worksheet")
    return render(request, "risk/fmea_assessment.html", _context(request, assessment, bound), status=status)


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
            single_point_weakness=_yes_no(data["single_point_weakness"]),
            effective_control=_yes_no(data["effective_control"]), obvious=_yes_no(data["obvious"]),
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


# --- the team, completing and reopening ---------------------------------------------------------

def _led(request, pk):
    assessment = service.access_assessment(request.user, pk)
    if not service.may_lead(request.user, assessment):
        permissions.check(request.user, "risk.lead_fmea", assessment)
    return assessment


def _leading(request, pk, change, done) -> object:
    """A change its leader (or one who leads assessments there) makes from a button: back to the
    page, saying what happened or why not."""
    assessment = _led(request, pk)
    try:
        said = done(change(assessment))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, said)
    return redirect("risk:fmea_assessment", pk=assessment.pk)


def _version(request):
    return inputs.record_id(request.POST.get("version", ""))


@require_POST
@requires("risk.use_assessments")
def fmea_team(request, pk):
    assessment = _led(request, pk)
    form = TeamForm(request.POST, prefix="team", assessment=assessment)
    if form.is_valid():
        try:
            service.add_team_member(request.user, assessment, form.cleaned_data["person"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{history.person_name(form.cleaned_data['person'])} joined the team.")
            return redirect("risk:fmea_assessment", pk=assessment.pk)
    return render(request, "risk/fmea_assessment.html", _context(request, assessment, form), status=400)


@require_POST
@requires("risk.use_assessments")
def fmea_team_remove(request, pk, person):
    return _leading(request, pk, lambda assessment: service.remove_team_member(
        request.user, assessment, get_object_or_404(assessment.team, pk=person)),
        lambda assessment: "The team is changed.")


@require_POST
@requires("risk.use_assessments")
def fmea_complete(request, pk):
    return _leading(request, pk, lambda assessment: service.complete_assessment(
        request.user, assessment, _version(request)),
        lambda assessment: f"{assessment.reference} is completed: it counts for {assessment.year}.")


@require_POST
@requires("risk.use_assessments")
def fmea_reopen(request, pk):
    return _leading(request, pk, lambda assessment: service.reopen_assessment(
        request.user, assessment, _version(request)), lambda assessment: f"{assessment.reference} is reopened.")


# --- the organisation's FMEA settings ------------------------------------------------------------

class SettingsForm(forms.Form):
    rpn_threshold = forms.IntegerField(required=False, min_value=1, max_value=FMEA_SCALE ** 3, label="RPN threshold",
                                       help_text="A row is acted on when its RPN is at least this; empty: no RPN "
                                                 "threshold.")
    severity_threshold = forms.IntegerField(required=False, min_value=1, max_value=FMEA_SCALE,
                                            label="Severity override",
                                            help_text="A row is acted on when its severity is at least this, "
                                                      "whatever the RPN; empty: no override.")
    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for scale, label in SCALE_LABELS.items():
            for value in range(1, FMEA_SCALE + 1):
                self.fields[f"{scale}_{value}"] = forms.CharField(required=False, max_length=300,
                                                                  label=f"{label} {value}")

    def scale_rows(self) -> list[tuple[int, list]]:
        return [(value, [self[f"{scale}_{value}"] for scale in SCALE_LABELS]) for value in range(1, FMEA_SCALE + 1)]

    def scales(self) -> dict:
        return {scale: [self.cleaned_data[f"{scale}_{value}"].strip() for value in range(1, FMEA_SCALE + 1)]
                for scale in SCALE_LABELS}


class PriorityRowForm(forms.Form):
    """One row of the Action Priority table: severity, occurrence and detection ranges."""

    priority = forms.ChoiceField(choices=[("", "—")] + [(p, PRIORITY_LABELS[p]) for p in PRIORITIES])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for scale, label in SCALE_LABELS.items():
            for end in ("low", "high"):
                self.fields[f"{scale}_{end}"] = forms.IntegerField(min_value=1, max_value=FMEA_SCALE,
                                                                   label=f"{label} {'from' if end == 'low' else 'to'}")
        self.order_fields([f"{scale}_{end}" for scale in SCALE_LABELS for end in ("low", "high")] + ["priority"])
        self.fields["priority"].required = True

    def row(self) -> dict:
        data = self.cleaned_data
        return {**{scale: [data[f"{scale}_low"], data[f"{scale}_high"]] for scale in SCALE_LABELS},
                "priority": data["priority"]}


PriorityRows = formset_factory(PriorityRowForm, extra=3, can_delete=True, max_num=1000, validate_max=True)


def _rows_initial(table) -> list[dict]:
    return [{**{f"{scale}_{end}": row[scale][i] for scale in SCALE_LABELS for i, end in enumerate(("low", "high"))},
             "priority": row["priority"]} for row in table]


@requires("risk.configure")
def fmea_settings_page(request):
    """The organisation's FMEA settings: thresholds, the words of each scale, and its Action
    Priority table (filled from its licensed AIAG-VDA handbook), checked for gaps and overlaps."""
    organisation = service.organisation_for_settings(request.user, "risk.configure")
    found = service.fmea_settings(organisation)
    scales = {scale: found.scales.get(scale) or [""] * FMEA_SCALE for scale in SCALE_LABELS}
    form = SettingsForm(request.POST or None, initial={
        "rpn_threshold": found.rpn_threshold, "severity_threshold": found.severity_threshold, "version": found.version,
        **{f"{scale}_{n}": words[n - 1] for scale, words in scales.items() for n in range(1, FMEA_SCALE + 1)}})
    rows = PriorityRows(request.POST or None, prefix="ap", initial=_rows_initial(found.action_priority))
    table_errors, status = [], 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and rows.is_valid():
            try:
                service.change_fmea_settings(
                    request.user, organisation, rpn_threshold=form.cleaned_data["rpn_threshold"],
                    severity_threshold=form.cleaned_data["severity_threshold"], scales=form.scales(),
                    action_priority_rows=[row.row() for row in rows.forms
                                          if row.cleaned_data and not row.cleaned_data.get("DELETE")],
                    ver=form.cleaned_data["version"])
            except ValidationError as error:
                found.refresh_from_db()
                table_errors, rest = _table_errors(error), _without_table(error)
                status = concurrency.refused_on_page(request, form, rest, found, add_errors) if rest else 400
            else:
                messages.success(request, "The FMEA settings are saved; assessments started from now on use them.")
                return redirect("risk:fmea_settings")
    return render(request, "risk/fmea_settings.html", {
        "form": form, "rows": rows, "table_errors": table_errors, "settings": found,
        "empty_table": not found.action_priority}, status=status)


def _table_errors(error: ValidationError) -> list[str]:
    """The Action Priority table's check (`action_priority` or a row of it), shown beside it."""
    if not hasattr(error, "error_dict"):
        return []
    return [message for name, found in error.message_dict.items() if name.startswith("action_priority")
            for message in found]


def _without_table(error: ValidationError) -> ValidationError | None:
    """The rest of a refusal, for the form's fields (None when the table was all that was wrong)."""
    if isinstance(error, concurrency.Stale) or not hasattr(error, "error_dict"):
        return error
    rest = {name: found for name, found in error.message_dict.items() if not name.startswith("action_priority")}
    return ValidationError(rest) if rest else None


urlpatterns = [
    path("risk/fmea/", fmea_register, name="fmea_register"),
    path("risk/fmea/new/", fmea_start, name="fmea_start"),
    path("risk/fmea/people/", fmea_people, name="fmea_people"),
    path("risk/fmea/settings/", fmea_settings_page, name="fmea_settings"),
    path("risk/fmea/<int:pk>/", fmea_assessment, name="fmea_assessment"),
    path("risk/fmea/<int:pk>/people/", fmea_assessment_people, name="fmea_assessment_people"),
    path("risk/fmea/<int:pk>/team/", fmea_team, name="fmea_team"),
    path("risk/fmea/<int:pk>/team/<int:person>/remove/", fmea_team_remove, name="fmea_team_remove"),
    path("risk/fmea/<int:pk>/add/<slug:part>/", fmea_add, name="fmea_add"),
    path("risk/fmea/<int:pk>/<slug:part>/<int:item>/edit/", fmea_edit, name="fmea_edit"),
    path("risk/fmea/<int:pk>/<slug:part>/<int:item>/remove/", fmea_remove, name="fmea_remove"),
    path("risk/fmea/<int:pk>/causes/<int:item>/score/", fmea_score, name="fmea_score"),
    path("risk/fmea/<int:pk>/causes/<int:item>/actions/", fmea_action, name="fmea_action"),
    path("risk/fmea/<int:pk>/complete/", fmea_complete, name="fmea_complete"),
    path("risk/fmea/<int:pk>/reopen/", fmea_reopen, name="fmea_reopen"),
]
