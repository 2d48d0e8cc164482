"""What the risk register tells a committee (issue 21).

- "risk.above_tolerance": the organisation's open risks whose current score is above what their
  escalation level tolerates on its matrix (reviews.asking_escalation: the register's "Asks
  escalation only"), as of today. A count, with how many at each level.
"""

from __future__ import annotations

from django.db.models import Count
from django.urls import reverse

from andon.platform.reporting import AttentionItem, ReportingContext, register_attention_source

from .models import Risk
from .reviews import asking_escalation
from .scoring import LEVEL_LABELS, LEVELS


def above_tolerance(context: ReportingContext) -> list[AttentionItem]:
    found = asking_escalation(Risk.objects.filter(organisation_id=context.organisation_id))
    by_level = dict(found.order_by().values_list("level").annotate(n=Count("pk")))
    count = sum(by_level.values())
    if not count:
        return []
    detail = "; ".join(f"{LEVEL_LABELS[level]}: {by_level[level]}" for level in LEVELS if by_level.get(level))
    return [AttentionItem("risk.above_tolerance", f"{count} risk{'s' if count != 1 else ''} above tolerance", count,
                          f"Open risks scored above what their level tolerates ({detail}).",
                          reverse("risk:register") + "?asking=on", "concern")]


def register() -> None:
    register_attention_source("risk.above_tolerance", "Risks above tolerance", above_tolerance)
