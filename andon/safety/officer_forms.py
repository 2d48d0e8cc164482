"""Forms of the officers' pages: triage, moves along the workflow, and the event list's filters.

The forms parse and present; the rules (what a SAC 3 requires, what a close needs) live in
`services`, whose ValidationError keys are put back next to the fields with `add_service_errors`.
"""

import re
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

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
    open_actions_reason = forms.CharField(
        required=False, max_length=2000, label="Why close with actions still open",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when an action is still planned or in progress: for example, who follows them up and "
                  "where. Kept with the event.")
    version = VersionField()

    def __init__(self, *args, **kwargs):
        # Its own ids: the triage form on the same page has a "reason" too, and a label names
        # only the first element of an id.
        kwargs.setdefault("auto_id", "id_move_%s")
        super().__init__(*args, **kwargs)
        self.extra_errors = {}
        self.moves = []
        self.open_actions = []

    def offer(self, moves) -> None:
        """The steps shown as buttons: those valid from the event's current status."""
        self.moves = [(name, MOVE_LABELS[name]) for name in moves]

    @property
    def offers_close(self) -> bool:
        return any(name == "close" for name, _ in self.moves)

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error)


class ReviewFindingsForm(forms.Form):
    """What a local or aggregated review found (services.record_review_findings)."""

    prefix = "findings"
    findings = forms.CharField(
        required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 4}), label="What the review found",
        help_text="What was looked at, what contributed and what should change. Needed before the event moves to "
                  "action planning or is closed.")
    version = VersionField()

    def add_service_errors(self, error: ValidationError) -> None:
        add_service_errors(self, error)


class ReviewWaiverForm(forms.Form):
    """Leadership waives the review the triage required (services.waive_review)."""

    prefix = "waiver"
    reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label="Why the review is waived",
        help_text="Kept with the event, shown on this page and in the audit trail; the safety officers are told.")
    version = VersionField()

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


class AskReporterForm(forms.Form):
    """A question to the anonymous reporter, who reads it with the receipt code."""

    prefix = "ask"
    text = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label="Question to the reporter",
        help_text="The reporter reads it when they enter their receipt code, and can answer there. Ask for facts; "
                  "do not ask who they are.")

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


# A whole reference, named (EV-2026-000123) or anonymous (EV-2026-A-7KQ3MX), in any case.
REFERENCE = re.compile(r"EV-\d{4}-(\d{6}|A-[0-9A-Z]{6})", re.IGNORECASE)
# Harm, most severe first (AHRQ harm scale codes; none given sorts last).
HARM_RANK = {"death": 0, "severe": 1, "moderate": 2, "mild": 3, "none": 4, "unknown": 5}


def harm_rank():
    """The harm's rank as a query expression, for sorting by severity."""
    return Case(*(When(harm=code, then=Value(rank)) for code, rank in HARM_RANK.items()),
                default=Value(len(HARM_RANK)), output_field=IntegerField())


class _ListFilters(forms.Form):
    """Filters shared by the triage queue and the event list: in the address (GET), so a
    filtered list can be bookmarked and sent; each field has its label on the page."""

    category = forms.ChoiceField(required=False)
    harm = forms.ChoiceField(required=False)
    unit = forms.ModelChoiceField(required=False, queryset=None, empty_label="Any unit")
    sort = forms.ChoiceField(required=False)
    SORTS: dict = {}

    def __init__(self, *args, taxonomy, units, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "Any category")] + [(c["code"], c["label"]) for c in taxonomy.categories]
        self.fields["harm"].choices = [("", "Any harm")] + [(h["code"], h["label"]) for h in taxonomy.harm_scale]
        self.fields["unit"].queryset = units
        self.fields["unit"].label_from_instance = lambda unit: f"{unit.facility.code.upper()} · {unit.name}"
        self.fields["sort"].choices = [(key, label) for key, (label, _) in self.SORTS.items()]
        self.fields["sort"].label = "Sort by"

    def apply(self, events):
        """The events filtered and sorted as asked; an invalid form (its errors shown) filters
        nothing and sorts as by default."""
        data = self.cleaned_data if self.is_valid() else {}
        events = self.narrow(events, data)
        _, order = self.SORTS.get(data.get("sort") or "", next(iter(self.SORTS.values())))
        if "harm_rank" in order:
            events = events.annotate(harm_rank=harm_rank())
        return events.order_by(*order)

    def narrow(self, events, data):
        for name in ("category", "harm"):
            if data.get(name):
                events = events.filter(**{name: data[name]})
        if data.get("unit") is not None:
            events = events.filter(unit__path__startswith=data["unit"].path)
        return self.filter_more(events, data)

    def filter_more(self, events, data):
        return events


class TriageFilterForm(_ListFilters):
    """The triage queue's filters and order (services.triage_queue annotates `urgent`)."""

    AGES = {"1": 1, "3": 3, "7": 7, "14": 14}
    SORTS = {
        "": ("Urgent first, then oldest", ("urgent", "reported_at", "pk")),
        "oldest": ("Oldest first", ("reported_at", "pk")),
        "newest": ("Newest first", ("-reported_at", "-pk")),
        "harm": ("Harm, most severe first", ("harm_rank", "reported_at", "pk")),
        "unit": ("Unit", ("unit__facility__code", "unit__path", "reported_at", "pk")),
    }
    age = forms.ChoiceField(required=False, label="Waiting",
                            choices=[("", "Any time")] + [(key, f"More than {days} day{'s' if days > 1 else ''}")
                                                         for key, days in AGES.items()])
    sac = forms.ChoiceField(required=False, label="SAC", choices=[("", "Any SAC"), ("3", "SAC 3"), ("2", "SAC 2"),
                                                               ("1", "SAC 1"), ("none", "Not scored yet")])
    field_order = ["harm", "category", "unit", "age", "sac", "sort"]

    def narrow(self, events, data):
        """The filters pick ids among the waiting reports (the queue's partial index), and the
        page reads those: asked together with the page's joins, SQLite walked every event of
        each unit instead (3 s at 200,000 events; docs/benchmarks.md)."""
        if not any(data.get(name) for name in ("category", "harm", "unit", "age", "sac")):
            return events
        return events.filter(pk__in=super().narrow(events.order_by(), data).values("pk"))

    def filter_more(self, events, data):
        if data.get("age"):
            events = events.filter(reported_at__lt=timezone.now() - timedelta(days=self.AGES[data["age"]]))
        if data.get("sac") == "none":
            events = events.filter(sac_score=None)
        elif data.get("sac"):
            events = events.filter(sac_score=int(data["sac"]))
        return events


class EventFilterForm(_ListFilters):
    """The event list's search, filters and order. Every order ends with the id, so a page
    boundary is the same on every request."""

    SORTS = {
        "": ("Newest reported first", ("-reported_at", "-pk")),
        "reported": ("Oldest reported first", ("reported_at", "pk")),
        "-occurred": ("Most recent occurrence first", ("-occurred_at", "-pk")),
        "occurred": ("Earliest occurrence first", ("occurred_at", "pk")),
        "harm": ("Harm, most severe first", ("harm_rank", "-reported_at", "-pk")),
        "sac": ("SAC, highest first", (F("sac_score").desc(nulls_last=True), "-reported_at", "-pk")),
    }
    q = forms.CharField(required=False, max_length=200, label="Search",
                        help_text="A reference (EV-2026-000123) or words of what happened")
    status = forms.ChoiceField(required=False, choices=[("", "Any status")] + Status.choices)
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind")] + Kind.choices)
    overdue = forms.BooleanField(required=False, label="RCA overdue only")
    field_order = ["q", "status", "harm", "category", "unit", "kind", "sort", "overdue"]

    def filter_more(self, events, data):
        for name in ("status", "kind"):
            if data.get(name):
                events = events.filter(**{name: data[name]})
        text = (data.get("q") or "").strip()
        if REFERENCE.fullmatch(text):  # a whole reference: one look-up in its unique index
            events = events.filter(reference=text.upper())
        elif text:
            events = events.filter(Q(reference__icontains=text) | Q(narrative__icontains=text))
        return events
