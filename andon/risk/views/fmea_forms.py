"""Risk pages: the forms of FMEA and HFMEA (starting an assessment, the worksheet's steps, failure
modes, causes, scores and actions, the team, and the organisation's FMEA settings). People are
picked with the platform's searched picker (PersonField, PeopleField): the field's queryset says
who is accepted, and its search view (views/fmea.py) offers the same people."""

from urllib.parse import urlencode

from django import forms
from django.forms import formset_factory
from django.urls import reverse

from andon.actions import services as actions
from andon.platform import permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, PeopleField, PersonField, add_errors
from andon.platform.models import Facility, Organisation, Unit, User

from .. import fmea as service
from ..models import Method, PriorityMethod, ScoringStage
from ..scoring import FMEA_SCALE, HFMEA_PROBABILITIES, HFMEA_SEVERITIES, PRIORITIES, PRIORITY_LABELS, Q1A, Q2, Q3

SCALE_LABELS = {"severity": "Severity", "occurrence": "Occurrence", "detection": "Detection"}
SCALE_HELP = {
    "severity": "How bad the effect would be: 10 is the worst.",
    "occurrence": "How often the cause would happen: 10 is the most often.",
    "detection": "Scored inversely: 10 means the failure is unlikely to be caught before it does harm.",
}
RADIOS = forms.RadioSelect(attrs={"class": "form-check-input"})


def _picking(form, name: str, people, search: str) -> None:
    """The people picker `name` of `form` accepts `people`; its search (`search`, told the field's
    name) offers the same."""
    field = form.fields[name]
    field.queryset = people
    field.widget.search_url = f"{search}?{urlencode({'name': form.add_prefix(name)})}"


# --- starting an assessment ---------------------------------------------------------------------

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
    leader = PersonField(queryset=User.objects.none(), label="Leader")
    team = PeopleField(queryset=User.objects.none(), required=False, label="Team",
                       help_text="Anyone of the organisation's staff; they may then work on the analysis.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].choices = _places(user)
        staff = service.staff_of(service.organisations_leading(user))
        for name in ("leader", "team"):
            _picking(self, name, staff, reverse("risk:fmea_people"))

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


# --- the worksheet ------------------------------------------------------------------------------

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


def tree_answer(value):
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
    owner = PersonField(queryset=User.objects.none(), label="Owner")
    due_date = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), label="Due date")
    strength = forms.ChoiceField(choices=actions.Strength.choices)
    measure = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), label="Measure",
                              help_text="How you will know the action worked.")
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), help_text="The unit the action is taken in.")

    def __init__(self, *args, assessment, user, **kwargs):
        super().__init__(*args, **kwargs)
        _picking(self, "owner", service.staff_of([assessment.organisation_id]),
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
    person = PersonField(queryset=User.objects.none(), label="Add to the team")

    def __init__(self, *args, assessment, **kwargs):
        super().__init__(*args, **kwargs)
        _picking(self, "person", service.staff_of([assessment.organisation_id]),
                 reverse("risk:fmea_assessment_people", args=[assessment.pk]))


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

    @staticmethod
    def initial_of(found) -> dict:
        """The form filled from the organisation's settings (`FmeaSettings`)."""
        scales = {scale: found.scales.get(scale) or [""] * FMEA_SCALE for scale in SCALE_LABELS}
        return {"rpn_threshold": found.rpn_threshold, "severity_threshold": found.severity_threshold,
                "version": found.version,
                **{f"{scale}_{n}": words[n - 1] for scale, words in scales.items() for n in range(1, FMEA_SCALE + 1)}}

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


def priority_rows_initial(table) -> list[dict]:
    return [{**{f"{scale}_{end}": row[scale][i] for scale in SCALE_LABELS for i, end in enumerate(("low", "high"))},
             "priority": row["priority"]} for row in table]

