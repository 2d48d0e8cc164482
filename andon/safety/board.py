"""Safety's section of the board quality pack (governance, issue 21): the month's events by
category as a Pareto chart, the incidents by harm, and the sentinel events de-identified.

Organisation-wide and aggregate: the same counting as the analysis page (`analysis.summarise`
over the events the page's date filters keep), so each number equals the page's for a viewer who
holds `safety.view_aggregates` over the whole organisation. No user: the pack is read by the board
under governance's rights. A sentinel event is shown by category, place, month and the state of
its root cause analysis: never its reference, narrative, patient or staff (DOMAIN.md §9).
"""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import timezone

from andon.platform import reporting
from andon.platform.models import Unit

from . import analysis
from . import taxonomy as taxonomies
from .models import SafetyEvent

KEY, TITLE, ORDER = "safety", "Patient safety", 40


@dataclass(frozen=True)
class Sentinel:
    category: str
    place: str  # facility and unit names: where, never who
    month: str  # "March 2026"
    rca: str  # the root cause analysis's state in words


def organisation_events(organisation_id: int, first, last):
    """Every event of the organisation's units that occurred from `first` to `last` (local days), by
    the analysis page's own filter."""
    units = sorted(Unit.objects.filter(facility__organisation_id=organisation_id).values_list("pk", flat=True))
    return analysis.apply_filters(SafetyEvent.objects.filter(unit__in=units),
                                  analysis.Filters(since=first, until=last))


def rca_words(started_at, completed_at, approved_at) -> str:
    if approved_at:
        return "RCA approved"
    if completed_at:
        return "RCA completed, awaiting approval"
    if started_at:
        return "RCA in progress"
    return "RCA not started"


def sentinels(events, taxonomy) -> list[Sentinel]:
    """The sentinel events among `events`, one query, read as plain values (no narrative is read)."""
    rows = (events.filter(is_sentinel=True).order_by("occurred_at", "pk")
            .values_list("category", "unit__facility__name", "unit__name", "occurred_at", "investigation__started_at",
                         "investigation__completed_at", "investigation__approved_at"))
    return [Sentinel(taxonomy.category_label(category), f"{facility} · {unit}",
                     timezone.localtime(occurred).strftime("%B %Y"), rca_words(started, completed, approved))
            for category, facility, unit, occurred, started, completed, approved in rows]


def period_words(context: reporting.ReportingContext) -> str:
    """"March 2026", or "January 2026 to March 2026" for a longer period."""
    first, last = f"{context.first:%B %Y}", f"{context.last:%B %Y}"
    return first if first == last else f"{first} to {last}"


def section(context: reporting.ReportingContext) -> reporting.PackSection | None:
    """Shown with its zeros when nothing was reported: a month without reports is news too. None
    before a taxonomy is loaded (no event can have been reported)."""
    try:
        tax = taxonomies.current()
    except taxonomies.TaxonomyMissing:
        return None
    events = organisation_events(context.organisation_id, context.first, context.last)
    summary = analysis.summarise(events, tax)
    found = sentinels(events, tax)
    chart = analysis.pareto_chart(summary.categories, f"Safety events by category, {period_words(context)}")
    figures = {"Safety events": summary.safety_events, "Reports of every kind": summary.total_reports,
               "Sentinel events": len(found)}
    figures |= {f"Category: {row.label}": row.count for row in summary.categories}
    figures |= {f"Harm: {label}": count for label, count in summary.harm}
    html = render_to_string("safety/board_section.html", {
        "summary": summary, "chart": chart, "sentinels": found, "period": period_words(context)})
    return reporting.PackSection(KEY, TITLE, html, figures, ORDER)


def connect() -> None:
    reporting.register_pack_section(KEY, TITLE, ORDER, section)
