from datetime import timedelta

from auditlog.models import LogEntry
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render
from django.utils import timezone

from . import audit, inputs, services


# --- fields every module's forms use at their boundary (see inputs.py) ---------------------------

def _refused(problem: inputs.InputError) -> forms.ValidationError:
    message = str(problem)
    return forms.ValidationError(message[:1].upper() + message[1:] + ".", code="invalid")


class FiniteNumberField(forms.FloatField):
    """A number written plainly (12, 12.5, 1e3), finite and within ±inputs.NUMBER_LIMIT:
    Django's FloatField takes `1e308`, `1_000` and other scripts' digits."""

    def __init__(self, *, min_value=-inputs.NUMBER_LIMIT, max_value=inputs.NUMBER_LIMIT, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_python(self, value):
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return inputs.number(str(value))
        except inputs.InputError as problem:
            raise _refused(problem) from None


class _Checked:
    """A field whose parsed value then passes `check` (one of inputs' functions)."""

    check = None

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return None if value is None else type(self).check(value)
        except inputs.InputError as problem:
            raise _refused(problem) from None


class BoundedDateField(_Checked, forms.DateField):
    """A date from inputs.EARLIEST to inputs.LATEST, so that the day after it, or a moment on it
    in any time zone, is still a date (9999-12-31 plus a day is an OverflowError)."""

    check = staticmethod(inputs.day)


class BoundedDateTimeField(_Checked, forms.DateTimeField):
    """A date and time, in UTC, from inputs.EARLIEST to inputs.LATEST: Django's DateTimeField also
    takes ISO 8601 with an offset, and 0001-01-01T00:00+14:00 cannot be moved to UTC."""

    check = staticmethod(inputs.moment)


# --- people pickers: a search, never a list of every member of staff ------------------------------

class PeoplePicker(forms.Widget):
    """A search box that asks `search_url` for matches as one types (htmx), above the people chosen
    so far as checked radio buttons (one person) or checkboxes (several). The form posts the
    field's name with user ids as a <select> would, also without JavaScript, and the page holds the
    chosen alone: a hospital's thousands of staff are never its options. The field's queryset
    still decides who is accepted; `search_url` is a view that answers with `people_search` for the
    same field, so the search offers exactly those people. `search_with` names fields of the same
    form whose values the search sends too, when whom it offers depends on them (the place a risk
    sits in decides who may own it)."""

    template_name = "platform/people_picker.html"

    def __init__(self, attrs=None, *, multiple=False):
        super().__init__(attrs)
        self.multiple = multiple
        self.search_url = ""  # set by the form, whose search view often needs a record's id
        self.search_with: tuple[str, ...] = ()  # names (with the form's prefix) of fields sent along

    def format_value(self, value):
        values = value if isinstance(value, (list, tuple)) else [value]
        return [str(v) for v in values if v is not None and str(v) != ""]

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if self.multiple and hasattr(data, "getlist") else data.get(name)

    def use_required_attribute(self, initial):
        return False  # the box stays empty once someone is chosen: the server says what is missing

    def get_context(self, name, value, attrs):
        if not self.search_url:
            raise ImproperlyConfigured(f"The people picker of {name!r} has no search_url.")
        context = super().get_context(name, value, attrs)
        values = context["widget"]["value"]
        field = self.choices.field  # ModelChoiceField gives its widget this iterator, which knows it
        ids = [pk for pk in map(inputs.record_id, values) if pk is not None]
        context["widget"].update({
            "search_url": self.search_url, "multiple": self.multiple, "search_with": self.search_with,
            "others": [(other, label, other in values if other else not values)
                       for other, label in field.others_offered()],
            # Only people the field accepts: a forged id shows no one (and the field refuses it).
            "chosen": [{"person": person, "name": person.get_full_name() or person.username}
                       for person in field.queryset.filter(pk__in=ids)] if ids else [],
        })
        return context


class PersonField(forms.ModelChoiceField):
    """One person, picked by searching (PeoplePicker). Not required, it offers its `empty_label`
    ("Anyone", "Nobody") beside the search; `others` are further choices that are not a person
    (("none", "Nobody") in a filter), cleaned to their value."""

    widget = PeoplePicker

    def __init__(self, queryset=None, *, others=(), empty_label="Nobody", **kwargs):
        super().__init__(queryset, empty_label=empty_label, **kwargs)
        self.others = dict(others)

    def others_offered(self) -> list[tuple[str, str]]:
        blank = [] if self.required or self.empty_label is None else [("", self.empty_label)]
        return blank + list(self.others.items())

    def to_python(self, value):
        return value if isinstance(value, str) and value in self.others else super().to_python(value)


class PeopleField(forms.ModelMultipleChoiceField):
    """Several people, picked by searching (PeoplePicker with checkboxes)."""

    widget = PeoplePicker(multiple=True)

    def others_offered(self) -> list[tuple[str, str]]:
        return []


def people_search(request, field: forms.BoundField):
    """A people picker's matches for the words in ?q= (the fragment htmx puts under its search
    box), from the field's own queryset: whom the form would accept, and no one else."""
    query = " ".join(request.GET.get("q", "").split())[:100]
    return render(request, "platform/people_matches.html", {
        "query": query, "name": field.html_name, "id": field.auto_id, "multiple": field.field.widget.multiple,
        "matches": services.people_matching(field.field.queryset, query) if query else []})


class AuditFilterForm(forms.Form):
    action = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None,
        choices=[("", "Any action")] + [(value, str(label).capitalize()) for value, label in LogEntry.Action.choices],
    )
    model = forms.ChoiceField(required=False, label="Record type")
    actor = forms.CharField(required=False, max_length=150, label="By (username)")
    object_pk = forms.CharField(required=False, max_length=64, label="Record id")
    since = BoundedDateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = BoundedDateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "Any record type")] + audit.audited_models()

    def filters(self) -> dict:
        """The cleaned filters as JSON-ready values (they travel to a background job)."""
        data = self.cleaned_data
        return {
            key: (value.isoformat() if hasattr(value, "isoformat") else value)
            for key, value in data.items()
            if value not in (None, "")
        }


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “nightly EHR export”.")
    expires_in_days = forms.TypedChoiceField(
        coerce=int, initial=90, label="Expires after",
        choices=[(30, "30 days"), (90, "90 days"), (365, "1 year"), (0, "Never")],
    )

    def expires_at(self):
        days = self.cleaned_data["expires_in_days"]
        return timezone.now() + timedelta(days=days) if days else None


def add_errors(form: forms.Form, error, renamed: dict | None = None) -> None:
    """A service's ValidationError on the form: beside the field it names (through `renamed` where
    the service calls it otherwise), else above the form."""
    found = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for name, texts in found.items():
        name = (renamed or {}).get(name, name)
        form.add_error(name if name in form.fields else None, texts)
