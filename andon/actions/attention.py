"""What the actions tell a committee (issue 21): counts over the organisation's actions.

- "actions.overdue": open actions (planned or in progress) past their due date as of today
  (services.overdue, the list's "Overdue only").
- "actions.high_strength": stronger actions (the top of the RCA² hierarchy: system changes that do
  not rely on memory or vigilance) open and due by the period's last day: these carry the weight
  of the action plans, and a committee wants to know they are landing. Counted once; the detail
  says how many of them are overdue and how many stronger actions were completed in the period.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse

from andon.platform.reporting import AttentionItem, ReportingContext, period_words, register_attention_source

from . import services
from .models import OPEN_STATUSES, Action, Status, Strength


def _actions(context: ReportingContext):
    return Action.objects.filter(unit__facility__organisation_id=context.organisation_id)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def overdue(context: ReportingContext) -> list[AttentionItem]:
    count = services.overdue(_actions(context), context.today).count()
    if not count:
        return []
    return [AttentionItem("actions.overdue", f"{_plural(count, 'action')} overdue", count,
                          f"Open past their due date, as of {context.today:%d %b %Y}.",
                          reverse("actions:list") + "?overdue=on", "attention")]


def high_strength(context: ReportingContext) -> list[AttentionItem]:
    stronger = _actions(context).filter(strength=Strength.STRONGER)
    counts = stronger.aggregate(
        due=Count("pk", filter=Q(status__in=OPEN_STATUSES, due_date__lte=context.last)),
        late=Count("pk", filter=Q(status__in=OPEN_STATUSES, due_date__lt=context.today)),
        done=Count("pk", filter=Q(status=Status.DONE, completed_at__date__gte=context.first,
                                  completed_at__date__lte=context.last)))
    if not counts["due"]:
        return []
    return [AttentionItem(
        "actions.high_strength", f"{_plural(counts['due'], 'stronger action')} due by {context.last:%d %b %Y} "
        "not yet done", counts["due"],
        f"{counts['late']} of them overdue; {_plural(counts['done'], 'stronger action')} completed in "
        f"{period_words(context)}.",
        reverse("actions:list") + "?status=open&strength=stronger", "concern" if counts["late"] else "attention")]


def register() -> None:
    register_attention_source("actions.overdue", "Overdue actions", overdue)
    register_attention_source("actions.high_strength", "Stronger actions due", high_strength)
