"""Forms of the officers' pages: triage, moves along the workflow, and the event list's filters.

The forms parse and present; the rules (what a SAC 3 requires, what a close needs) live in
`services`, whose ValidationError keys are put back next to the fields with `add_service_errors`.
"""

from django import forms
from django.core.exceptions import ValidationError

from andon.platform.concurrency import VersionField

from . import sac
from .models import KINDS_WITH_HARM, Kind, Review, Status

SENTINEL_HELP = (
    "Joint Commission sentinel event: a patient safety event, not primarily related to the natural course of the "
    "patient's illness, that reaches the patient and results in death, permanent harm, or severe temporary harm. "
    "Some events are sentinel whatever the harm: suicide in round-the-clock care or within 72 hours of discharge; "
    "wrong patient, site or procedure surgery; an unintended retained foreign object; infant abduction or discharge "
    "to the wrong family; rape, assault or homicide; a haemolytic transfusion reaction; elopement leading to harm; "
    "severe neonatal hyperbilirubinaemia; prolonged fluoroscopy; wrong-region radiotherapy; fire or flash during "
    "care; severe maternal morbidity; a fall causing fracture, surgery or death. A sentinel event requires an RCA."
)
CLOSING_SUMMARY_HELP = (
    "Written for the reporter, who reads it as it is: say in plain words what was looked at and what is changing. "
    "Leave out the analysis, the SAC, names and anything that could identify a patient or colleague."
)
MOVE_LABELS = {
    "plan_actions": "Plan actions",
    "close": "Close",
    "reopen": "Reopen",
}
OFFICER_MOVES = tuple(MOVE_LABELS)

_RADIO = {"class": "form-check-input"}


def add_service_errors(form, error: ValidationError, aliases: dict | None = None) -> None:
    """Put a service's {key: messages} next to the matching field, the rest above the form."""
    aliases = aliases or {}
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for key, messages in error.message_dict.items():
        key = aliases.get(key, key)
        if key in form.fields:
            form.add_error(key, messages)
        elif key in getattr(form, "extra_errors", {}):
            form.extra_errors[key].extend(messages)
        else:
            form.add_error(None, messages)


class TriageForm(forms.Form):
    """Confirm the category (and harm, for an incident), score the SAC, flag a sentinel event,
    choose the review. Required answers are checked by `services.triage`, so its messages are
    the ones the officer reads."""

    category = forms.ChoiceField(required=False)
    harm = forms.ChoiceField(required=False, widget=forms.RadioSelect(attrs=_RADIO),
                             help_text="Residual harm after any intervention (AHRQ harm scale). If two levels "
                                       "seem to apply, choose the higher.")
    sac_severity = forms.ChoiceField(
        required=False, label="Severity", widget=forms.RadioSelect(attrs=_RADIO),
        choices=list(sac.SEVERITIES.items()),
        help_text="For a near miss or an unsafe condition: the most likely worst-case outcome.")
    sac_probability = forms.ChoiceField(
        required=False, label="Probability", widget=forms.RadioSelect(attrs=_RADIO),
        choices=list(sac.PROBABILITIES.items()))
    sentinel = forms.BooleanField(required=False, label="Sentinel event", help_text=SENTINEL_HELP)
    review = forms.ChoiceField(required=False, label="Review", widget=forms.RadioSelect(attrs=_RADIO),
                               choices=Review.choices,
                               help_text="A SAC 3 or a sentinel event requires a root cause analysis.")
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Kept in the event's history.")
    version = VersionField()

    def __init__(self, *args, taxonomy, kind, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_errors = {"sac": []}
        self.fields["category"].choices = [("", "Choose a category")] + [
            (c["code"], c["label"]) for c in taxonomy.categories]
        if kind in KINDS_WITH_HARM:
            self.fields["harm"].choices = [
                (h["code"], f"{h['label']}: {h['definition']}" if h.get("definition") else h["label"])
                for h in taxonomy.harm_scale]
        else:
            del self.fields["harm"]

    @classmethod
    def initial_for(cls, event) -> dict:
        return {"category": event.category, "harm": event.harm, "sac_severity": event.sac_severity,
                "sac_probability": event.sac_probability, "sentinel": event.is_sentinel, "review": event.review,
                "version": event.version}

    @staticmethod
    def decision_of(data):
        """The officer's decision from the form's cleaned data."""
        from .services import Triage

        return Triage(category=data["category"], harm=data.get("harm") or "", sac_severity=data["sac_severity"],
                      sac_probability=data["sac_probability"], sentinel=bool(data["sentinel"]),
                      review=data["review"], reason=data["reason"] or "")

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error)


class MoveForm(forms.Form):
    """One step along the workflow; `action` comes from the button pressed."""

    action = forms.ChoiceField(choices=list(MOVE_LABELS.items()))
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Kept in the event's history.")
    closing_summary = forms.CharField(required=False, max_length=4000, label="Closing summary for the reporter",
                                      widget=forms.Textarea(attrs={"rows": 4}), help_text=CLOSING_SUMMARY_HELP)
    version = VersionField()

    def __init__(self, *args, **kwargs):
        # Its own ids: the triage form on the same page has a "reason" too, and a label names
        # only the first element of an id.
        kwargs.setdefault("auto_id", "id_move_%s")
        super().__init__(*args, **kwargs)
        self.extra_errors = {}
        self.moves = []

    def offer(self, moves) -> None:
        """The steps shown as buttons: those valid from the event's current status."""
        self.moves = [(name, MOVE_LABELS[name]) for name in moves]

    @property
    def offers_close(self) -> bool:
        return any(name == "close" for name, _ in self.moves)

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error)


class PsesRemovalForm(forms.Form):
    """Take a report out of the patient safety evaluation system (drop-out), with the reason."""

    prefix = "pses"  # the event page has other forms with a reason
    reason = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label="Why it leaves the PSES",
        help_text="For example: it must be sent to the state as a mandated report. The reason is kept, and the "
                  "removal cannot be undone: the report is no longer patient safety work product.")
    version = VersionField()

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error)


class DeescalationForm(forms.Form):
    """Lower a SAC 3 or clear the sentinel flag once the RCA is under way (services.deescalate)."""

    prefix = "lower"  # the event page's triage form has fields of the same names
    sac_severity = forms.ChoiceField(label="Severity", widget=forms.RadioSelect(attrs=_RADIO),
                                     choices=list(sac.SEVERITIES.items()))
    sac_probability = forms.ChoiceField(label="Probability", widget=forms.RadioSelect(attrs=_RADIO),
                                        choices=list(sac.PROBABILITIES.items()))
    sentinel = forms.BooleanField(required=False, label="Still a sentinel event")
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label="Why",
        help_text="What the analysis found that changes the assessment. Kept with the event and in the audit trail; "
                  "the safety officers are told.")
    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra_errors = {"sac": []}

    @classmethod
    def initial_for(cls, event) -> dict:
        return {"sac_severity": event.sac_severity, "sac_probability": event.sac_probability,
                "sentinel": event.is_sentinel, "version": event.version}


class EventFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status")] + Status.choices)
    category = forms.ChoiceField(required=False)
    unit = forms.ModelChoiceField(required=False, queryset=None, empty_label="Any unit")
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind")] + Kind.choices)
    overdue = forms.BooleanField(required=False, label="RCA overdue only")

    def __init__(self, *args, taxonomy, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "Any category")] + [(c["code"], c["label"]) for c in taxonomy.categories]
        self.fields["unit"].queryset = units
        self.fields["unit"].label_from_instance = lambda unit: f"{unit.facility.code.upper()} · {unit.name}"

    def apply(self, events):
        if not self.is_valid():
            return events
        data = self.cleaned_data
        for name in ("status", "category", "kind"):
            if data[name]:
                events = events.filter(**{name: data[name]})
        if data["unit"] is not None:
            events = events.filter(unit__path__startswith=data["unit"].path)
        return events
