"""What patient safety tells a committee (issue 21): counts only, never a narrative, a patient
or a reference (the events' pages, gated by the reader's own rights, hold those).

- "safety.sentinel_events": events marked sentinel whose report falls in the period (imported
  historical events and reports taken out of the PSES included: they happened).
- "safety.overdue_rcas": events whose RCA has not started, or not finished, by its deadline as of
  today (services.overdue_rcas, the event list's "RCA overdue only").
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.urls import reverse
from django.utils import timezone

from andon.platform.reporting import AttentionItem, ReportingContext, period_words, register_attention_source

from . import services
from .models import SafetyEvent


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _events(context: ReportingContext):
    return SafetyEvent.objects.filter(unit__facility__organisation_id=context.organisation_id)


def sentinel_events(context: ReportingContext) -> list[AttentionItem]:
    count = _events(context).filter(
        is_sentinel=True, reported_at__gte=_start_of(context.first),
        reported_at__lt=_start_of(context.last + timedelta(days=1))).count()
    if not count:
        return []
    return [AttentionItem("safety.sentinel_events", f"{_events_word(count)} reported in {period_words(context)}",
                          count, "Each needs a comprehensive systematic analysis and an action plan.",
                          reverse("safety:event_list"), "concern")]


def _events_word(count: int) -> str:
    return f"{count} sentinel event{'s' if count != 1 else ''}"


def _now(context: ReportingContext) -> datetime:
    """The moment "overdue" is judged at: now when the context's today is today, else the end of that day."""
    if context.today == timezone.localdate():
        return timezone.now()
    return _start_of(context.today + timedelta(days=1))


def overdue_rcas(context: ReportingContext) -> list[AttentionItem]:
    count = services.overdue_rcas(_events(context), _now(context)).count()
    if not count:
        return []
    return [AttentionItem("safety.overdue_rcas", f"{count} root cause analys{'es' if count != 1 else 'is'} overdue",
                          count, f"Not started or not finished by the deadline, as of {context.today:%d %b %Y}.",
                          reverse("safety:event_list") + "?overdue=on", "concern")]


def register() -> None:
    register_attention_source("safety.sentinel_events", "Sentinel events", sentinel_events)
    register_attention_source("safety.overdue_rcas", "Overdue root cause analyses", overdue_rcas)
