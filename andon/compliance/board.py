"""Compliance's section of the board quality pack (governance, issue 21): readiness of each open
assessment by framework, by the readiness page's own scoring (`assessments.readiness`), with its
gaps, and the organisation's evidence that has expired or is due for review (the library's own
states). No user: the pack is read by the board under governance's rights.

Words and numbers only: no finding's text, no evidence file."""

from dataclasses import dataclass

from django.db.models import Count, Q
from django.template.loader import render_to_string

from andon.platform import reporting

from . import assessments, evidence
from .models import Assessment, AssessmentStatus, Evidence

KEY, TITLE, ORDER = "compliance", "Compliance readiness", 60


@dataclass(frozen=True)
class FrameworkReadiness:
    assessment: str  # the assessment's title
    framework: str  # "CMS CoP 482 (2024-10-01)"
    percent: float | None  # readiness 0..100, None when nothing is assessable
    met: int
    partly_met: int
    not_met: int
    not_assessed: int
    open_high_findings: int  # high and extreme
    held_back: int
    expired_evidence: int  # requirements whose evidence has expired (or none is current): the library's amber

    @property
    def gaps(self) -> int:
        """Items not met or only partly met."""
        return self.partly_met + self.not_met


def open_assessments(organisation_id: int):
    return (Assessment.objects.filter(organisation_id=organisation_id, status=AssessmentStatus.OPEN)
            .select_related("version_assessed__framework").order_by("version_assessed__framework__name", "title"))


def framework_readiness(assessment: Assessment, today) -> FrameworkReadiness:
    """One assessment's overall line, as its readiness page scores it, and how many of its
    requirements the evidence library shows amber on `today` (three queries)."""
    rows = assessments.readiness_rows(assessment)
    overall = assessments.score_readiness(rows).overall
    amber = sum(state == "amber" for state in evidence.requirement_status([row["urn"] for row in rows], today).values())
    version = assessment.version_assessed
    counts = overall.counts
    return FrameworkReadiness(
        assessment.title, f"{version.framework.name} ({version.version})",
        None if overall.percent is None else round(overall.percent, 1), counts["met"], counts["partly_met"],
        counts["not_met"], counts["not_assessed"],
        sum(overall.open_findings.get(risk, 0) for risk in assessments.BLOCKING_RISKS), overall.held_back, amber)


def evidence_states(organisation_id: int, today) -> dict[str, int]:
    """Live evidence of the organisation expired and due for review soon, in one query."""
    return Evidence.objects.filter(organisation_id=organisation_id).aggregate(
        expired=Count("pk", filter=evidence.state_filter(evidence.EXPIRED, today)),
        due_soon=Count("pk", filter=evidence.state_filter(evidence.DUE_SOON, today)),
        live=Count("pk", filter=Q(retired_at__isnull=True)))


def section(context: reporting.ReportingContext) -> reporting.PackSection | None:
    """Readiness as it stands on `today` (readiness is a state, not a count of the month); None
    when the organisation has no open assessment and no evidence."""
    lines = [framework_readiness(assessment, context.today)
             for assessment in open_assessments(context.organisation_id)]
    states = evidence_states(context.organisation_id, context.today)
    if not lines and not states["live"]:
        return None
    figures = {"Evidence expired": states["expired"], "Evidence due for review soon": states["due_soon"]}
    for line in lines:
        figures |= {f"{line.assessment}: readiness %": line.percent, f"{line.assessment}: met": line.met,
                    f"{line.assessment}: gaps": line.gaps,
                    f"{line.assessment}: open high or extreme findings": line.open_high_findings,
                    f"{line.assessment}: requirements with expired evidence": line.expired_evidence}
    html = render_to_string("compliance/board_section.html", {
        "lines": lines, "states": states, "today": context.today, "due_soon_days": evidence.due_soon_days()})
    return reporting.PackSection(KEY, TITLE, html, figures, ORDER)


def connect() -> None:
    reporting.register_pack_section(KEY, TITLE, ORDER, section)
