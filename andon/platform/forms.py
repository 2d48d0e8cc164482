from datetime import timedelta

from auditlog.models import LogEntry
from django import forms
from django.utils import timezone

from . import audit


class AuditFilterForm(forms.Form):
    action = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None,
        choices=[("", "Any action")] + [(value, str(label).capitalize()) for value, label in LogEntry.Action.choices],
    )
    model = forms.ChoiceField(required=False, label="Record type")
    actor = forms.CharField(required=False, max_length=150, label="By (username)")
    object_pk = forms.CharField(required=False, max_length=64, label="Record id")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

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
