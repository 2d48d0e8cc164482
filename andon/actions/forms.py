"""Forms for the action pages. They parse input; the rules live in services."""

from django import forms

from andon.platform import permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, add_errors
from andon.platform.models import User

from .models import STRENGTH_HELP, Approval, Effectiveness, Status, Strength
from .services import TRANSITIONS, earliest_due_date


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, person):
        name = person.get_full_name() or person.username
        return f"{name} ({person.job_title})" if person.job_title else name


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, unit):
        return f"{unit.facility.name} · {unit.name}"


class ActionForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    unit = UnitChoiceField(queryset=None, help_text="Where the action applies; it decides who sees and manages it.")
    owner = PersonChoiceField(queryset=None, help_text="One person responsible, not a committee.")
    due_date = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="When the action is to be completed.")
    strength = forms.ChoiceField(choices=Strength.choices, widget=forms.RadioSelect,
                                 help_text="The RCA² action hierarchy: prefer stronger actions, which do not rely on memory or vigilance.")
    measure = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="The measure that will show whether it worked: what is measured, how, the expected "
                                        "result and when.")
    version = VersionField()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        units = permissions.units_where(user, "actions.manage").filter(active=True).select_related("facility")
        self.fields["unit"].queryset = units.order_by("facility__name", "path")
        organisations = units.values("facility__organisation_id")
        self.fields["owner"].queryset = User.objects.filter(
            is_active=True, role_grants__organisation_id__in=organisations,
        ).distinct().order_by("last_name", "first_name", "username")
        # The date picker starts today (an overdue action's own date stays choosable, unchanged).
        self.fields["due_date"].widget.attrs["min"] = earliest_due_date(self.initial.get("due_date")).isoformat()

    def strength_options(self):
        """(radio, label, examples) for each strength, so the page shows the hierarchy's examples."""
        return [(radio, Strength(radio.data["value"]).label, STRENGTH_HELP[Strength(radio.data["value"])])
                for radio in self["strength"]]

    def service_fields(self) -> dict:
        """The action's fields as the services take them (the version is passed on its own)."""
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}


class StatusForm(forms.Form):
    status = forms.ChoiceField(label="New status")
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="Required when cancelling or reinstating.")
    version = VersionField()

    def __init__(self, *args, action, may_govern: bool, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS[Status(action.status)]
        if not may_govern:
            allowed = {s for s in allowed if s != Status.CANCELLED} if action.status != Status.CANCELLED else set()
        self.fields["status"].choices = [(s.value, s.label) for s in Status if s in allowed]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[(Approval.APPROVED.value, "Approve"), (Approval.REJECTED.value, "Reject")],
                                 widget=forms.RadioSelect)
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Required when rejecting.")
    version = VersionField()


class EffectivenessForm(forms.Form):
    result = forms.ChoiceField(choices=[(e.value, e.label) for e in Effectiveness if e != Effectiveness.NOT_CHECKED])
    checked_on = BoundedDateField(label="Checked on", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="What the measure showed; required unless effective.")
    version = VersionField()

    def __init__(self, *args, **kwargs):
        # Its own ids: the status form on the same page has a "note" too, and a label names
        # only the first element of an id (the effectiveness note was left without one).
        kwargs.setdefault("auto_id", "id_effectiveness_%s")
        super().__init__(*args, **kwargs)


class FilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), ("open", "Open (planned or in progress)"),
                                                        *Status.choices])
    strength = forms.ChoiceField(required=False, choices=[("", "Any strength"), *Strength.choices])
    overdue = forms.BooleanField(required=False, label="Overdue only")
    mine = forms.BooleanField(required=False, label="Only actions I own")
