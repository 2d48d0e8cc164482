"""Forms of the practitioner and credential pages. They parse input; the rules (and the messages
naming a field) live in the services."""

from functools import partial

from django import forms

from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField
from andon.platform.forms import add_errors as add_form_errors
from andon.platform.models import Unit

from ..models import CredentialKind, PractitionerStatus

add_errors = partial(add_form_errors, renamed={"fhir_ids": "chosen", "credential": None, "user": None})


def _date(**kwargs):
    return BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), **kwargs)


def _department_label(unit: Unit) -> str:
    return f"{unit.facility.name} · {unit.name}"


class PractitionerForm(forms.Form):
    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    degree = forms.CharField(max_length=20, required=False, help_text="MD, DO, DDS, NP…")
    npi = forms.CharField(max_length=10, required=False, label="NPI",
                          help_text="The ten-digit National Provider Identifier: its last digit is checked.")
    fhir_id = forms.CharField(max_length=64, required=False, label="FHIR Practitioner id",
                              help_text="The practitioner in the clinical data: find them below by name or NPI.")
    department = forms.ModelChoiceField(queryset=Unit.objects.none(), empty_label="Choose…")
    specialty = forms.CharField(max_length=100, required=False)
    group = forms.CharField(max_length=100, required=False, label="Practice group",
                            help_text="A reviewer of the same group has a conflict of interest.")
    status = forms.ChoiceField(choices=PractitionerStatus.choices, initial=PractitionerStatus.ACTIVE)
    appointed_on = _date(label="Appointed (or last reappointed) on")
    reappointment_due = _date(label="Reappointment due", help_text="Empty: two years after the appointment.")
    version = VersionField()

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        self.fields["department"].label_from_instance = _department_label

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        return data


def practitioner_initial(practitioner) -> dict:
    names = [name for name in PractitionerForm.base_fields if name not in ("department", "version")]
    return {**{name: getattr(practitioner, name) for name in names}, "department": practitioner.department_id,
            "version": practitioner.version}


class PractitionerFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Name or NPI")
    department = forms.ModelChoiceField(required=False, queryset=Unit.objects.none(), empty_label="Any department")
    specialty = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *PractitionerStatus.choices])

    def __init__(self, *args, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        self.fields["department"].label_from_instance = _department_label

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}


class ImportForm(forms.Form):
    chosen = forms.MultipleChoiceField(choices=[], widget=forms.CheckboxSelectMultiple,
                                       label="Practitioners of the clinical data")
    department = forms.ModelChoiceField(queryset=Unit.objects.none(), empty_label="Choose…",
                                        label="Into the department")

    def __init__(self, *args, offered, departments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["chosen"].choices = [(found.id, found.name) for found in offered]
        self.fields["department"].queryset = departments
        self.fields["department"].label_from_instance = _department_label


class CredentialForm(forms.Form):
    kind = forms.ChoiceField(choices=CredentialKind.choices)
    title = forms.CharField(max_length=200, help_text="Medical licence, DEA registration, Board certification in "
                                                      "internal medicine…")
    number = forms.CharField(max_length=60)
    issuer = forms.CharField(max_length=200, help_text="The board, agency or body that issued it.")
    state = forms.CharField(max_length=2, required=False, help_text="Two letters, for a state's licence or "
                                                                     "registration.")
    issued_on = _date(label="Issued on")
    expires_on = _date(label="Expires on", help_text="Empty: it does not expire.")
    verified_on = _date(label="Verified at the primary source on")
    verification_source = forms.CharField(max_length=200, required=False, label="Verified at",
                                          help_text="The board's look-up, the NPDB…")
    version = VersionField()

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        return data


def credential_initial(credential) -> dict:
    return {**{name: getattr(credential, name) for name in CredentialForm.base_fields if name != "version"},
            "version": credential.version}


class RenewalForm(forms.Form):
    number = forms.CharField(max_length=60, required=False, help_text="Empty: the same number.")
    issued_on = _date(label="Issued on")
    expires_on = _date(label="Expires on")
    verified_on = _date(label="Verified at the primary source on")
    verification_source = forms.CharField(max_length=200, required=False, label="Verified at")
    version = VersionField()

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        return data
