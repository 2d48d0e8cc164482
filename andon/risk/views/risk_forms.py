"""Forms of one risk's pages: raising it, re-scoring, escalation, closing, controls, actions and
links. They parse input; the rules (and the messages that name a field) live in the services."""

from django import forms
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from andon.actions import services as actions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, PersonField
from andon.platform.models import Unit, User

from .. import services as service
from ..links import KIND_WORDS
from ..models import Assurance, Category, ControlEffect, Level
from ..scoring import Matrix

SCORES = (("inherent", "Inherent (before controls)"), ("current", "Current (with the controls in place)"),
          ("target", "Target (after the actions)"))


def _date_widget():
    return forms.DateInput(attrs={"type": "date"})


def _text(rows: int = 2, **attrs):
    return forms.Textarea(attrs={"rows": rows, **attrs})


class ScoresForm(forms.Form):
    """The three scores, each a consequence and a likelihood chosen by the matrix's words."""

    def __init__(self, *args, matrix: Matrix, **kwargs):
        super().__init__(*args, **kwargs)
        consequences = [(level["value"], f"{level['value']} {level['label']}") for level in matrix.consequences]
        likelihoods = [(level["value"], f"{level['value']} {level['label']}") for level in matrix.likelihoods]
        for name, _label in SCORES:
            self.fields[f"{name}_consequence"] = forms.TypedChoiceField(choices=consequences, coerce=int,
                                                                        label="Consequence")
            self.fields[f"{name}_likelihood"] = forms.TypedChoiceField(choices=likelihoods, coerce=int,
                                                                       label="Likelihood")

    def score_groups(self):
        """[(label, consequence field, likelihood field)] for the template's fieldsets."""
        return [(label, self[f"{name}_consequence"], self[f"{name}_likelihood"]) for name, label in SCORES]

    def scores(self) -> dict:
        return {name: (self.cleaned_data[f"{name}_consequence"], self.cleaned_data[f"{name}_likelihood"])
                for name, _label in SCORES}


def scores_of(risk) -> dict:
    """A risk's scores as the forms' initial values."""
    return {f"{name}_{part}": getattr(risk, f"{name}_{part}") for name, _label in SCORES
            for part in ("consequence", "likelihood")}


class RaiseForm(ScoresForm):
    # The texts are checked by raise_risk (not required here), so that a missing one is said
    # together with every other problem of the form, in the service's words.
    title = forms.CharField(max_length=200, required=False, widget=forms.TextInput(attrs={"required": True}))
    cause = forms.CharField(max_length=2000, required=False, widget=_text(required=True),
                            label="Because of (the cause)")
    event = forms.CharField(max_length=2000, required=False, widget=_text(required=True),
                            label="There is a risk that (the event)")
    effect = forms.CharField(max_length=2000, required=False, widget=_text(required=True),
                             label="Which would lead to (the effect)")
    category = forms.ChoiceField(choices=Category.choices)
    place = forms.ChoiceField(label="Where the risk sits",
                              help_text="A unit's register, a facility's, or the whole organisation's.")
    owner = PersonField(queryset=User.objects.none(), label="Owner",
                        help_text="Someone who may read risks where the risk sits: choose the place first.")
    review_on = BoundedDateField(widget=_date_widget(), label="Next review")
    root_cause = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)

    def __init__(self, *args, places, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].choices = [("", "Choose…"), *places]
        self.fields["review_on"].widget.attrs["min"] = timezone.localdate().isoformat()
        # The organisation's staff parse; raise_risk then refuses, in words beside the field, one
        # who may not read risks at the place. The search offers only those who may (search_with).
        owner = self.fields["owner"]
        owner.queryset = service.staff_of([organisation.pk])
        owner.widget.search_url = reverse("risk:raise_owners")
        owner.widget.search_with = (self.add_prefix("place"),)


def raise_owner_search(people) -> forms.BoundField:
    """The raise form's owner field offering `people` alone (those who may read risks at the place
    the form names): what the owner picker's search answers from."""
    form = forms.Form()
    form.fields["owner"] = PersonField(queryset=people)
    return form["owner"]


def _owners(risk, keep=None):
    """Whom a control or an action of `risk` may have as owner: the staff of its organisation
    (whom the action tracker takes), and `keep`, the control's owner now, so that an edit that does
    not change the owner keeps them."""
    staff = service.staff_of([risk.organisation_id])
    return User.objects.filter(Q(pk__in=staff.values("pk")) | Q(pk=keep)) if keep else staff


class RescoreForm(ScoresForm):
    review_on = BoundedDateField(widget=_date_widget(), label="Next review")
    note = forms.CharField(required=False, max_length=2000, widget=_text(),
                           help_text="What the review looked at; the trend keeps it with the scores.")
    version = VersionField()


class EscalateForm(forms.Form):
    to_level = forms.ChoiceField(label="Move to")
    reason = forms.CharField(max_length=2000, widget=_text(), help_text="Why the risk moves: the record keeps it.")
    version = VersionField()

    def __init__(self, *args, risk, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_level"].choices = [(value, label) for value, label in Level.choices if value != risk.level]


class CloseForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=_text(),
                             help_text="Why the risk is closed: it no longer applies, it was merged into another…")
    version = VersionField()


class ControlForm(forms.Form):
    description = forms.CharField(max_length=2000, widget=_text(), label="The control")
    owner = PersonField(queryset=User.objects.none(), required=False, label="Owner")
    effect = forms.ChoiceField(choices=ControlEffect.choices)
    assurance_level = forms.ChoiceField(choices=Assurance.choices, label="Assurance")
    assurance_source = forms.CharField(required=False, max_length=300, label="Source of assurance",
                                       help_text="An audit, a report, a committee…")
    last_tested_on = BoundedDateField(required=False, widget=_date_widget(), label="Last tested")
    control_gap = forms.CharField(required=False, max_length=2000, widget=_text(), label="Control gap",
                                  help_text="Where the control is missing or does not work.")
    assurance_gap = forms.CharField(required=False, max_length=2000, widget=_text(), label="Assurance gap",
                                    help_text="Where evidence that it works is missing.")
    version = VersionField()

    def __init__(self, *args, risk, control=None, **kwargs):
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        owner.queryset = _owners(risk, control.owner_id if control else None)
        owner.widget.search_url = (reverse("risk:control_owners", args=[control.pk]) if control
                                   else reverse("risk:new_control_owners", args=[risk.pk]))

    def values(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}


def control_form(control, data=None) -> ControlForm:
    """The form that edits `control` (its fields' names start with control-<id>)."""
    initial = {name: getattr(control, name) for name in ControlForm.base_fields}
    return ControlForm(data, risk=control.risk, control=control, prefix=f"control-{control.pk}", initial=initial)


class RetireForm(forms.Form):
    version = VersionField()


class ActionForm(forms.Form):
    title = forms.CharField(max_length=200)
    owner = PersonField(queryset=User.objects.none(), label="Owner", help_text="One person responsible.")
    due_date = BoundedDateField(widget=_date_widget(), label="Due date")
    strength = forms.ChoiceField(choices=actions.Strength.choices)
    measure = forms.CharField(max_length=2000, widget=_text(), help_text="How you will know the action worked.")
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), label="Unit that acts",
                                  help_text="The risk sits in no unit: the action belongs to one.")

    def __init__(self, *args, risk, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["due_date"].widget.attrs["min"] = timezone.localdate().isoformat()
        self.fields["owner"].queryset = _owners(risk)
        self.fields["owner"].widget.search_url = reverse("risk:action_owners", args=[risk.pk])
        if risk.unit_id:
            del self.fields["unit"]
            return
        units = Unit.objects.filter(active=True, facility__organisation_id=risk.organisation_id)
        if risk.facility_id:
            units = units.filter(facility_id=risk.facility_id)
        self.fields["unit"].queryset = units.select_related("facility").order_by("facility__name", "path")
        self.fields["unit"].label_from_instance = lambda unit: f"{unit.facility.name} · {unit.name}"

    def values(self) -> dict:
        return dict(self.cleaned_data)


class LinkForm(forms.Form):
    kind = forms.ChoiceField(choices=list(KIND_WORDS.items()), label="Link to")
    key = forms.CharField(max_length=100, required=False, label="Record",
                          help_text="An event's reference (S-2026-00012) or id; an analysis, root cause, assessment "
                                    "or finding by its id.")
    # A measure is chosen by its title: its key (readmission-30-day) is in no page of the library.
    measure = forms.ChoiceField(required=False, label="Measure", help_text="For a measure: one of the library's.")
    indicator = forms.BooleanField(required=False, label="A key risk indicator (measures only)",
                                   help_text="Its special cause in the wrong direction flags the risk for review.")

    def __init__(self, *args, measures, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["measure"].choices = [("", "Choose…"), *measures]

    def clean(self):
        data = super().clean()
        if data.get("kind") == "measure":
            data["key"] = data.get("measure") or data.get("key", "")  # a key typed still links
            if not data["key"]:
                self.add_error("measure", "Choose the measure.")
        elif not data.get("key"):
            self.add_error("key", "Give the record's reference or id.")
        return data
