"""Forms of the reporting pages: the safety report, its category's own fields (from the
taxonomy), the receipt code and the conduct concern.

The forms parse and present. What makes a report acceptable (harm only for incidents, the
category's answers, attachment limits) is decided by `services.check_report`, whose
ValidationError keys are put back next to the fields with `add_service_errors`.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from andon.platform import permissions
from andon.platform.forms import BoundedDateTimeField
from andon.platform.models import Unit

from .models import NARRATIVE_MAX, Kind, PersonAffected

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
MAX_ATTACHMENTS = 5
DRAFT_FIELDS = ("kind", "category", "unit", "occurred_at", "narrative", "harm", "immediate_action",
                "person_affected", "patient_identifier", "witnesses", "location_detail")
# Service error keys that are not form fields, shown next to their own part of the page.
EXTRA_ERROR_KEYS = ("attachments",)

_RADIO = {"class": "form-check-input"}


def organisation_units(user):
    """Active units of the user's organisation(s), as select choices grouped by facility; every
    active unit for the report sent without signing in (`user` None)."""
    units = Unit.objects.filter(active=True)
    if user is not None:
        organisations = {grant.organisation_id for grant in permissions.active_grants(user)}
        units = units.filter(facility__organisation_id__in=organisations)
    units = units.select_related("facility").order_by("facility__name", "facility_id", "path")
    groups: dict[str, list] = {}
    for unit in units:
        indent = "\u00a0\u00a0" * max(unit.depth, 0)
        groups.setdefault(unit.facility.name, []).append((str(unit.pk), f"{indent}{unit.name}"))
    return [("", "Choose the unit"), *groups.items()]


def default_unit(user) -> str:
    """The unit of the user's first grant that names a unit (most staff report on their ward)."""
    return next((str(grant.unit_id) for grant in permissions.active_grants(user) if grant.unit_id), "")


def local_now() -> str:
    return timezone.localtime().strftime(DATETIME_LOCAL)


class ReportForm(forms.Form):
    """The report's common part. Every field is optional here: the service says what is
    missing, so the reporter reads one set of messages, whatever the way in (page or API)."""

    kind = forms.ChoiceField(required=False, choices=Kind.choices, widget=forms.RadioSelect(attrs=_RADIO),
                             label="What kind of report is this?")
    unit = forms.ChoiceField(required=False, label="Unit where it happened")
    occurred_at = BoundedDateTimeField(
        required=False, label="When did it happen?", input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S",
                                                                    "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        error_messages={"invalid": "Enter the date and time (for example 2026-03-01 14:30)."})
    narrative = forms.CharField(
        required=False, strip=False, label="What happened?",
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": NARRATIVE_MAX}),
        help_text="Facts only: what happened, where, what was expected. Leave out names of patients and colleagues.")
    category = forms.ChoiceField(required=False, label="Category")
    harm = forms.ChoiceField(required=False, widget=forms.RadioSelect(attrs=_RADIO),
                             label="Harm to the patient")
    immediate_action = forms.CharField(
        required=False, label="Immediate action taken (optional)",
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}))
    person_affected = forms.ChoiceField(
        required=False, choices=[("", "Not said"), *PersonAffected.choices], label="Who was affected? (optional)",
        help_text="An incident (it reached the patient) is about a patient unless you say otherwise.")
    patient_identifier = forms.CharField(
        required=False, max_length=64, label="The patient's MRN or encounter number (optional)",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "maxlength": 64}),
        help_text="Looked up in the clinical record, so the patient safety team can find the patient's chart. "
                  "Never shown to the reporter of an anonymous report nor in the analysis.")
    location_detail = forms.CharField(
        required=False, max_length=200, label="Where exactly? (optional)",
        widget=forms.TextInput(attrs={"maxlength": 200}), help_text="Within the unit: for example bed 12, the bathroom of room 4, the corridor by the lift.")
    witnesses = forms.CharField(
        required=False, max_length=1000, label="Witnesses (optional)",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 1000}),
        help_text="Who saw it happen (names or roles), so the team can ask them.")
    anonymous = forms.BooleanField(required=False, label="Submit anonymously")
    share_identity = forms.BooleanField(required=False, label="The unit manager may see that I reported this")

    def __init__(self, *args, user, taxonomy, **kwargs):
        super().__init__(*args, **kwargs)
        self.taxonomy = taxonomy
        self.fields["unit"].choices = organisation_units(user)
        self.fields["category"].choices = [("", "Choose a category"),
                                           *[(c["code"], c["label"]) for c in taxonomy.categories]]
        self.fields["harm"].choices = [(h["code"], h["label"]) for h in taxonomy.harm_scale]
        self.extra_errors = {key: [] for key in EXTRA_ERROR_KEYS}
        self.detail_errors: dict[str, list] = {}

    # The harm radios are drawn by hand, each with its definition from the taxonomy.
    def harm_options(self):
        chosen = self._value("harm")
        return [{**level, "checked": level["code"] == chosen} for level in self.taxonomy.harm_scale]

    def _value(self, name):
        return self[name].value() or ""

    def category_code(self) -> str:
        return self._value("category")

    def all_errors(self) -> list[str]:
        """Every message, for the summary at the top (field label: message)."""
        summary = []
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else ""
            summary += [f"{label}: {e}" if label else e for e in errors]
        summary += [f"Attachments: {e}" for e in self.extra_errors["attachments"]]
        category = self.taxonomy.category(self.category_code()) or {}
        labels = {field["code"]: field["label"] for field in category.get("fields", [])}
        summary += [f"{labels.get(code, code)}: {e}" for code, errors in self.detail_errors.items() for e in errors]
        return summary

    def has_any_error(self) -> bool:
        return bool(self.errors or any(self.extra_errors.values()) or self.detail_errors)


class ConductConcernForm(forms.Form):
    unit = forms.ChoiceField(required=False, label="Unit")
    about = forms.CharField(required=False, label="About whom (name and role)",
                            widget=forms.TextInput(attrs={"maxlength": 200}))
    narrative = forms.CharField(required=False, strip=False, label="What happened?",
                                widget=forms.Textarea(attrs={"rows": 6, "maxlength": NARRATIVE_MAX}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = organisation_units(user)


class ReceiptForm(forms.Form):
    code = forms.CharField(max_length=40, label="Receipt code",
                           widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                                         "spellcheck": "false", "placeholder": "ABCD-1234-EF56-7890"}))



def add_service_errors(form, error: ValidationError) -> None:
    """Put a service's {key: messages} next to the matching field; unknown keys above the form.
    A field that already has a message from parsing keeps only that one."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    extra = getattr(form, "extra_errors", {})
    for key, messages in error.message_dict.items():
        if key.startswith("details.") and hasattr(form, "detail_errors"):
            code = key.removeprefix("details.")
            form.detail_errors.setdefault(code, messages)
        elif key in extra:
            extra[key] = extra[key] or list(messages)
        elif key in form.fields:
            if key not in form.errors:
                form.add_error(key, messages)
        else:
            form.add_error(None, messages)


# --- the category's own fields ------------------------------------------------------------------

def detail_fields(category: dict | None, values: dict | None = None, errors: dict | None = None) -> list[dict]:
    """The category's fields, ready for the template: name `details.<code>`, the value typed,
    its error, and for choices which one is selected."""
    values, errors = values or {}, errors or {}
    rows = []
    for spec in (category or {}).get("fields", []):
        code = spec["code"]
        value = values.get(code, "")
        if isinstance(value, bool):
            value = "yes" if value else "no"
        value = "" if value is None else str(value)
        error = errors.get(code) or []
        row = {"code": code, "name": f"details.{code}", "id": f"id_details_{code}", "label": spec["label"],
               "type": spec["type"], "required": bool(spec.get("required")), "value": value,
               "errors": [error] if isinstance(error, str) else list(error),
               "max_length": spec.get("max_length", 500)}
        if spec["type"] == "choice":
            row["choices"] = [{**c, "code": str(c["code"]), "selected": str(c["code"]) == value}
                              for c in spec["choices"]]
            row["as_radios"] = len(spec["choices"]) <= 4
        if spec["type"] == "boolean":
            row["choices"] = [{"code": "yes", "label": "Yes", "selected": value.lower() in ("yes", "true", "1", "on")},
                              {"code": "no", "label": "No", "selected": value.lower() in ("no", "false", "0", "off")}]
        rows.append(row)
    return rows


def posted_details(data, category: dict | None) -> dict:
    """The `details.<code>` answers posted for the category (answers left over from another
    category, when the page could not swap the fields, are dropped)."""
    answers = {key.removeprefix("details."): value for key, value in data.items() if key.startswith("details.")}
    if category is None:
        return {}
    codes = {field["code"] for field in category.get("fields", [])}
    return {code: value for code, value in answers.items() if code in codes}


def attachment_accept() -> str:
    return ",".join(settings.ANDON_ATTACHMENT_TYPES)
