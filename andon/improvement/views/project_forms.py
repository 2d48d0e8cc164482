"""Forms of the QI project pages: the charter, status, driver diagram nodes, PDSA cycle stages and
the portfolio's settings. They parse input; the rules (and the messages naming a field) live in the
services."""

from functools import partial

from django import forms
from django.urls import reverse
from django.utils import timezone

from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, FiniteNumberField, PeopleField, PersonField
from andon.platform.forms import add_errors as add_form_errors
from andon.platform.models import Unit, User

from .. import services as service
from ..models import Benefit, DriverKind, PdsaDecision, ProjectStatus
from ..models.projects import Domain

PEOPLE = ("sponsor", "lead", "team")
# The services name a measure and a place by what they take; the form by its field.
FIELD_OF = {"measure_key": "measure", "unit": "place", "facility": "place", "organisation": "place", "on": None}
add_errors = partial(add_form_errors, renamed=FIELD_OF)


def _date():
    return forms.DateInput(attrs={"type": "date"})


def _text(rows=2):
    return forms.Textarea(attrs={"rows": rows})


class CharterForm(forms.Form):
    title = forms.CharField(max_length=200)
    problem = forms.CharField(max_length=4000, widget=_text(3), help_text="What is wrong now, with its numbers.")
    high_risk = forms.BooleanField(required=False, label="High-risk")
    high_volume = forms.BooleanField(required=False, label="High-volume")
    problem_prone = forms.BooleanField(required=False, label="Problem-prone")
    rationale = forms.CharField(required=False, max_length=4000, widget=_text(), label="Why this project, in words")
    domain = forms.ChoiceField(choices=Domain.choices, label="Domain (IOM aim)")
    measure = forms.ChoiceField(label="Measure", help_text="The library's measure the aim is on.")
    aim = forms.CharField(max_length=500, widget=_text(),
                          help_text="What, how much, by when, for whom: reduce falls on 4 West from 5 to 4 per "
                                    "1,000 patient days by June.")
    baseline = FiniteNumberField(help_text="In the measure's unit.")
    target = FiniteNumberField(help_text="In the measure's unit: drawn on the chart as the aim line.")
    aim_date = BoundedDateField(widget=_date(), label="Aim to be met by")
    place = forms.ChoiceField(label="Where the project sits")
    scope_units = forms.ModelMultipleChoiceField(queryset=Unit.objects.none(), required=False, label="Units in scope",
                                                 widget=forms.SelectMultiple(attrs={"size": 4}))
    sponsor = PersonField(queryset=User.objects.none(), label="Sponsor")
    lead = PersonField(queryset=User.objects.none(), label="Lead")
    team = PeopleField(queryset=User.objects.none(), required=False, label="Team")
    status = forms.ChoiceField(choices=ProjectStatus.choices, initial=ProjectStatus.PROPOSED)
    year = forms.IntegerField(min_value=2000, max_value=2199, label="QAPI year")
    benefit = forms.ChoiceField(choices=Benefit.choices, label="Cost of poor quality counted in")
    unit_cost = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2,
                                   label="Cost of one event or day",
                                   help_text="Empty: the organisation's (portfolio settings).")
    version = VersionField()

    def __init__(self, *args, places, organisation, hint=None, page_url="", **kwargs):
        super().__init__(*args, **kwargs)
        # Choosing a measure asks the page again for its current level (htmx swaps the hint in);
        # without JavaScript the hint comes with the page once the form is sent.
        self.fields["measure"].widget.attrs.update({"hx-get": page_url, "hx-trigger": "change",
                                                    "hx-target": "#baseline-hint", "hx-select": "#baseline-hint",
                                                    "hx-swap": "outerHTML"})
        self.fields["measure"].choices = [("", "Choose…"), *service.measures_to_choose()]
        self.fields["place"].choices = [("", "Choose…"), *places]
        self.fields["year"].initial = timezone.localdate().year
        units = Unit.objects.filter(active=True, facility__organisation=organisation).select_related("facility")
        self.fields["scope_units"].queryset = units.order_by("facility__name", "path")
        self.fields["scope_units"].label_from_instance = lambda unit: f"{unit.facility.name} · {unit.name}"
        staff = service.staff_of([organisation.pk])
        for name in PEOPLE:
            self.fields[name].queryset = staff
            self.fields[name].widget.search_url = reverse("improvement:project_people", args=[name])
        if hint:
            self.fields["baseline"].help_text = hint

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["measure_key"] = data.pop("measure")
        data.pop("version", None)
        data["team"] = list(data["team"])
        data["scope_units"] = list(data["scope_units"])
        return data


def charter_initial(project) -> dict:
    names = [n for n in CharterForm.base_fields if n not in ("measure", "place", "team", "scope_units", "version")]
    initial = {name: getattr(project, name) for name in names}
    initial.update(measure=project.measure.key, place=service.place_code(project), version=project.version,
                   team=list(project.team.values_list("pk", flat=True)),
                   scope_units=list(project.scope_units.values_list("pk", flat=True)),
                   sponsor=project.sponsor_id, lead=project.lead_id)
    return initial


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=ProjectStatus.choices)
    version = VersionField()


class DriverForm(forms.Form):
    kind = forms.ChoiceField(choices=DriverKind.choices)
    text = forms.CharField(max_length=300, label="Driver or change idea")
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)


class RenameForm(forms.Form):
    text = forms.CharField(max_length=300, label="Text")


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class PlanForm(forms.Form):
    title = forms.CharField(max_length=200, label="The test")
    plan = forms.CharField(max_length=4000, widget=_text(3), help_text="What will be tried, by whom, where, when.")
    prediction = forms.CharField(max_length=2000, widget=_text(),
                                 help_text="What you expect to happen, in numbers where you can.")
    planned_start = BoundedDateField(widget=_date())
    planned_end = BoundedDateField(widget=_date())
    number = forms.IntegerField(required=False, min_value=1, max_value=999, label="Cycle number",
                                help_text="Empty: the next one.")
    version = VersionField()


class DoForm(forms.Form):
    started_on = BoundedDateField(widget=_date(), label="Started on")
    do_notes = forms.CharField(required=False, max_length=4000, widget=_text(3), label="What was done and observed")
    version = VersionField()


class StudyForm(forms.Form):
    ended_on = BoundedDateField(widget=_date(), label="Ended on")
    study = forms.CharField(max_length=4000, widget=_text(3), label="What happened against the prediction")
    version = VersionField()


class ActForm(forms.Form):
    decision = forms.ChoiceField(choices=[("", "Choose…"), *PdsaDecision.choices])
    decided_on = BoundedDateField(widget=_date(), label="Decided on")
    act_notes = forms.CharField(required=False, max_length=2000, widget=_text(), label="What happens next")
    rebase = forms.BooleanField(required=False, label="Start new limits on the chart at the decision (adopted only)")
    version = VersionField()


class RemoveForm(forms.Form):
    version = VersionField()


class RequiredForm(forms.Form):
    year = forms.IntegerField(min_value=2000, max_value=2199)
    count = forms.IntegerField(min_value=0, max_value=1000, label="Projects the governing body asks for")
    decided_by = forms.CharField(max_length=200, label="Decided by", help_text="The body and meeting: Board, 12 March.")


class SettingsForm(forms.Form):
    cost_per_harm_event = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2,
                                             label="Cost of one harm event")
    cost_per_excess_day = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2,
                                             label="Cost of one excess bed day")
    currency = forms.CharField(max_length=3, min_length=3, help_text="ISO 4217: USD, EUR, GBP.")
    version = VersionField()


class FilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ProjectStatus.choices])
    reason = forms.ChoiceField(required=False, choices=[("", "Any reason"), *service.REASONS.items()])
    domain = forms.ChoiceField(required=False, choices=[("", "Any domain"), *Domain.choices])
    unit = forms.ModelChoiceField(required=False, queryset=Unit.objects.none(), empty_label="Any unit")
    year = forms.IntegerField(required=False, min_value=2000, max_value=2199)

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.filter(facility__organisation=organisation, active=True).order_by(
            "facility__name", "path")

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        if "unit" in data:
            data["unit"] = data["unit"].pk
        return data
