"""What the measures tell a committee (issue 21): each active listed measure read as the
dashboard reads it for the whole organisation (results.dashboard, its SPC verdicts), up to the
period's last day.

- "measures.special_cause": a measure whose latest point in the period is a special cause of
  concern (Making Data Count's variation icon in the wrong direction). One item per measure,
  count 1: the committee discusses the measure, and the detail says how many of the period's
  months were flagged.
- "measures.failing_assurance": a measure whose process, as its limits stand, will consistently
  miss its target (the assurance icon "fail"). One item per measure, count 1.
"""

from __future__ import annotations

from django.urls import reverse

from andon.platform.reporting import AttentionItem, ReportingContext, period_words, register_attention_source

from . import charts, results

CONCERN = "special_cause_concern"
FAILING = "fail_consistently"


def _views(context: ReportingContext):
    """(measure, ChartView) of every active listed measure with results up to the period's end."""
    place = results.Place("Whole organisation", None, None, None, context.last)
    return [(tile.measure, tile.view) for _code, _label, tiles in results.dashboard(place)
            for tile in tiles if tile.view is not None]


def _in_period(context: ReportingContext, point) -> bool:
    return point is not None and context.first <= point.period_start <= context.last


def special_causes(context: ReportingContext) -> list[AttentionItem]:
    items = []
    for measure, view in _views(context):
        latest = view.last
        if not _in_period(context, latest) or latest.special_cause != CONCERN:
            continue
        flagged = sum(1 for p in view.points if _in_period(context, p) and p.special_cause == CONCERN)
        rule = charts.RULE_NAMES.get(latest.rule or "", "a special cause")
        items.append(AttentionItem(
            "measures.special_cause", f"{measure.title}: special cause of concern in {latest.period_start:%B %Y}", 1,
            f"{rule.capitalize()}; {flagged} of the months of {period_words(context)} flagged.",
            reverse("measures:measure", args=[measure.key]), "concern"))
    return items


def failing_assurance(context: ReportingContext) -> list[AttentionItem]:
    items = []
    for measure, view in _views(context):
        if view.assurance != FAILING or not _in_period(context, view.last):
            continue
        items.append(AttentionItem(
            "measures.failing_assurance", f"{measure.title}: will consistently miss its target "
            f"({charts.format_value(view.target)} {measure.unit_label})", 1,
            f"As its process limits stood in {view.last.period_start:%B %Y}.",
            reverse("measures:measure", args=[measure.key]), "concern"))
    return items


def register() -> None:
    register_attention_source("measures.special_cause", "Measures with a special cause of concern", special_causes)
    register_attention_source("measures.failing_assurance", "Measures failing their target", failing_assurance)
