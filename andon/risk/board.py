"""Risk's section of the board quality pack (governance, issue 21): the organisation's top open
risks (those above their level's tolerance first) and the heat map of the register's current
scores, drawn by the heat map page's own functions so the counts equal the page's for a viewer
of the whole register with no filter. No user: the pack is read under governance's rights.

A risk is shown by its title, score, band, level and its owner's job title (the role that owns
it, not the person): the pack goes to the board and may be printed."""

from dataclasses import dataclass
from datetime import datetime, time

from django.db.models import Case, IntegerField, Value, When
from django.template.loader import render_to_string
from django.utils import timezone

from andon.platform import reporting
from andon.platform.models import Organisation

from . import overview
from .matrix import matrix_of
from .models import Risk, ScoreRecord
from .register import register_filter

KEY, TITLE, ORDER = "risk", "Top risks", 50
TOP = 5


@dataclass(frozen=True)
class TopRisk:
    reference: str
    title: str
    score: int
    band: str
    level: str
    owner_role: str
    above_tolerance: bool
    trend: str  # since the period began: "Up from 12", "Down from 16", "Steady", "New"


def open_risks(organisation_id: int):
    """The register's open risks of the organisation: what the heat map page counts with no filter."""
    return register_filter(Risk.objects.filter(organisation_id=organisation_id))


def top_risks(risks, matrix, since) -> list[TopRisk]:
    """The TOP highest current scores, those above tolerance first; each with its trend since
    `since` (a date), read from the score records in one more query."""
    ranked = (risks.annotate(above=Case(When(overview.above_tolerance(matrix), then=Value(1)), default=Value(0),
                                        output_field=IntegerField()))
              .select_related("owner").order_by("-above", "-current_score", "reference")[:TOP])
    ranked = list(ranked)
    before = _scores_before(ranked, datetime.combine(since, time.min, tzinfo=timezone.get_default_timezone()))
    return [TopRisk(risk.reference, risk.title, risk.current_score, risk.current_band, risk.get_level_display(),
                    risk.owner.job_title or "Not recorded", bool(risk.above), _trend(risk.current_score,
                                                                                      before.get(risk.pk)))
            for risk in ranked]


def _scores_before(risks, moment) -> dict[int, int]:
    """{risk pk: its current score as it stood just before `moment`} (the last record before it)."""
    found = {}
    for risk_id, score in (ScoreRecord.objects.filter(risk__in=[risk.pk for risk in risks], at__lt=moment)
                           .order_by("risk", "at", "pk").values_list("risk_id", "current_score")):
        found[risk_id] = score  # in time order: the last one stays
    return found


def _trend(now: int, before: int | None) -> str:
    if before is None:
        return "New"
    if now > before:
        return f"Up from {before}"
    if now < before:
        return f"Down from {before}"
    return "Steady"


def section(context: reporting.ReportingContext) -> reporting.PackSection | None:
    """None for an organisation that has never raised a risk (nor is its default matrix made then)."""
    if not Risk.objects.filter(organisation_id=context.organisation_id).exists():
        return None
    organisation = Organisation.objects.get(pk=context.organisation_id)
    matrix = matrix_of(organisation)
    risks = open_risks(context.organisation_id)
    cells = overview.heat_maps(risks, matrix)["current"]
    chart = overview.heat_map_chart(matrix, cells, "current")
    bands = overview.band_totals(matrix, cells)
    top = top_risks(risks, matrix, context.first)
    above = overview.asking_escalation(risks, matrix).count()
    figures = {"Open risks": sum(cell.count for cell in cells), "Above tolerance": above}
    figures |= {f"Band: {band.name}": count for band, count in bands}
    figures |= {f"Top risk {risk.reference}": risk.score for risk in top}
    html = render_to_string("risk/board_section.html", {
        "top": top, "chart": chart, "bands": bands, "figures": figures, "open": figures["Open risks"],
        "above": above, "today": context.today, "since": context.first})
    return reporting.PackSection(KEY, TITLE, html, figures, ORDER)


def connect() -> None:
    reporting.register_pack_section(KEY, TITLE, ORDER, section)
