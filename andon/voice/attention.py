"""What the patient's voice tells a committee (issue 21): counts only, never a complainant, a
patient or what they said.

- "voice.grievances_overdue": grievances (not complaints resolved at the time: those have no time
  frame) still received or open past their due date as of today, the grievance list's "Overdue
  only" rule (grievances.find_grievances). The detail says how many of them were received in the
  period.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse

from andon.platform.reporting import AttentionItem, ReportingContext, period_words, register_attention_source

from .models import Grievance, GrievanceStatus


def overdue_grievances(context: ReportingContext):
    """The organisation's grievances past their time frame on `context.today`."""
    return Grievance.objects.filter(organisation_id=context.organisation_id, due_on__lt=context.today,
                                    resolved_on__isnull=True,
                                    status__in=[GrievanceStatus.RECEIVED, GrievanceStatus.OPEN])


def grievances_overdue(context: ReportingContext) -> list[AttentionItem]:
    counts = overdue_grievances(context).aggregate(
        all=Count("pk"), recent=Count("pk", filter=Q(received_on__gte=context.first, received_on__lte=context.last)))
    count = counts["all"]
    if not count:
        return []
    return [AttentionItem("voice.grievances_overdue",
                          f"{count} grievance{'s' if count != 1 else ''} past the time frame", count,
                          f"Not resolved by their due date, as of {context.today:%d %b %Y}; {counts['recent']} of "
                          f"them received in {period_words(context)}.",
                          reverse("voice:grievances") + "?overdue=on", "concern")]


def register() -> None:
    register_attention_source("voice.grievances_overdue", "Grievances past their time frame", grievances_overdue)
