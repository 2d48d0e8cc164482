"""What compliance tells a committee (issue 21): the gaps in readiness as the readiness page
scores them (assessments.readiness), as of today.

- "compliance.readiness_gaps": one item per open assessment of the organisation with requirements
  not met or partly met; the count is those requirements, the detail the readiness score and what
  else holds it back (items not yet assessed, met items held back by an open high or extreme
  finding). Each assessment is scored from its own rows (two queries each; an organisation keeps
  a handful open at a time).
- "compliance.expired_evidence": evidence past its review (or expiry) date or never dated, not
  retired (evidence.state_filter, the library's "Expired").
"""

from __future__ import annotations

from django.urls import reverse

from andon.platform.reporting import AttentionItem, ReportingContext, register_attention_source

from .assessments import readiness
from .evidence import EXPIRED, state_filter
from .models import Assessment, AssessmentStatus, Evidence


def readiness_gaps(context: ReportingContext) -> list[AttentionItem]:
    items = []
    open_ones = Assessment.objects.filter(organisation_id=context.organisation_id, status=AssessmentStatus.OPEN)
    for assessment in open_ones.order_by("title", "pk"):
        overall = readiness(assessment).overall
        gaps = overall.counts["not_met"] + overall.counts["partly_met"]
        if not gaps:
            continue
        score = "not scored" if overall.percent is None else f"{overall.percent:.0f}%"
        items.append(AttentionItem(
            "compliance.readiness_gaps",
            f"{assessment.title}: {gaps} requirement{'s' if gaps != 1 else ''} not met or partly met", gaps,
            f"Readiness {score}; {overall.counts['not_met']} not met, {overall.counts['partly_met']} partly met, "
            f"{overall.counts['not_assessed']} not yet assessed, {overall.held_back} held back by an open high or "
            "extreme finding.",
            reverse("compliance:assessment", args=[assessment.pk]), "attention"))
    return items


def expired_evidence(context: ReportingContext) -> list[AttentionItem]:
    count = Evidence.objects.filter(state_filter(EXPIRED, context.today),
                                    organisation_id=context.organisation_id).count()
    if not count:
        return []
    return [AttentionItem("compliance.expired_evidence", f"{count} piece{'s' if count != 1 else ''} of evidence "
                          "expired", count, f"Past the review or expiry date (or never dated), as of "
                          f"{context.today:%d %b %Y}.", reverse("compliance:evidence_list") + "?state=expired",
                          "attention")]


def register() -> None:
    register_attention_source("compliance.readiness_gaps", "Readiness gaps", readiness_gaps)
    register_attention_source("compliance.expired_evidence", "Expired evidence", expired_evidence)
