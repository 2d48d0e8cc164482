from datetime import timedelta

from auditlog.models import LogEntry
from django import forms
from django.utils import timezone

from . import audit, inputs


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
