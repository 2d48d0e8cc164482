"""The measures' sections of the board's quality pack (registered from `apps.ready()`): the six
IOM domains at a glance with the Making Data Count icons, a page per key measure with its control
chart, and the equity gaps of the key measures. Every number comes from the same reading code as
the dashboard (`results.dashboard` for the organisation's place, `results.compare` for the equity
view), so the pack and the dashboard cannot disagree for the same month."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.template.loader import render_to_string

from andon.platform import reporting

from . import charts, results
from .models import Measure

WINDOW_MONTHS = 24  # the months a key measure's chart shows, ending with the pack's month


def register() -> None:
    reporting.register_pack_section("measures.glance", "At a glance: the six domains", 10, glance_section)
    reporting.register_pack_section("measures.key", "Key measures", 20, key_measure_sections)
    reporting.register_pack_section("measures.equity", "Equity gaps", 30, equity_section)


def _months_back(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 - (count - 1)
    return date(index // 12, index % 12 + 1, 1)


def _place(context: reporting.ReportingContext) -> results.Place:
    first = _months_back(date(context.first.year, context.first.month, 1), WINDOW_MONTHS)
    return results.organisation_place(first, context.last)


def variation_words(measure: Measure, code: str | None) -> str:
    """The Making Data Count variation icon in words (DOMAIN.md §10): improvement or concern, high or low."""
    if not code:
        return "No result"
    high = measure.improvement == "increase"
    if code == "special_cause_improvement":
        return f"Special cause improvement ({'high' if high else 'low'})"
    if code == "special_cause_concern":
        return f"Special cause concern ({'low' if high else 'high'})"
    return charts.VARIATION.get(code, code)


# Bootstrap's badge colours on the page (the PDF colours the mdc-* classes itself): blue for
# improvement or passing, orange for concern or failing, grey otherwise, as the dashboard's icons.
BADGE = {"special_cause_improvement": "text-bg-primary", "pass_consistently": "text-bg-primary",
         "special_cause_concern": "text-bg-warning", "fail_consistently": "text-bg-warning"}


def badge(code: str | None) -> str:
    return f"mdc-badge badge mdc-{code or 'none'} {BADGE.get(code or '', 'text-bg-light border')}"


ASSURANCE_WORDS = {"pass_consistently": "Assurance: passing", "fail_consistently": "Assurance: failing",
                   "hit_and_miss": "Assurance: hit and miss", None: "No target"}


def _month_point(view: charts.ChartView | None, month: date) -> charts.ChartPoint | None:
    """The point of the pack's month (none when the month has no result: an older value is not this month's)."""
    if view is None:
        return None
    return next((p for p in view.points if p.period_start == month and p.value is not None), None)


def _rows(context: reporting.ReportingContext):
    """(measure, view, the month's point) of every listed measure, by domain: the dashboard's tiles."""
    month = date(context.first.year, context.first.month, 1)
    for code, label, tiles in results.dashboard(_place(context)):
        yield code, label, [(t.measure, t.view, _month_point(t.view, month)) for t in tiles]


def _label(measure: Measure, month: date) -> str:
    """A figure's label names the measure, not the month, so next month's pack compares like with like."""
    return measure.title


def glance_section(context: reporting.ReportingContext) -> reporting.PackSection:
    month = date(context.first.year, context.first.month, 1)
    domains, figures = [], {}
    for code, label, rows in _rows(context):
        lines = []
        for measure, view, point in rows:
            lines.append({"measure": measure, "point": point,
                          "variation": variation_words(measure, point.special_cause) if point else "No result",
                          "variation_class": badge(point.special_cause if point else None),
                          "assurance": ASSURANCE_WORDS.get(view.assurance if view else None, "No target"),
                          "assurance_class": badge(view.assurance if view else None)})
            figures[_label(measure, month)] = point.value if point else None
        domains.append({"code": code, "label": label, "lines": lines})
    html = render_to_string("measures/board_glance.html", {"domains": domains, "month": month})
    return reporting.PackSection("measures.glance", "At a glance: the six domains", html, figures, 10)


def key_measures(measures) -> list[Measure]:
    """The measures with a page of their own: ANDON_BOARD_KEY_MEASURES (keys, in that order), or every one listed."""
    keys = getattr(settings, "ANDON_BOARD_KEY_MEASURES", None)
    if not keys:
        return list(measures)
    by_key = {m.key: m for m in measures}
    return [by_key[k] for k in keys if k in by_key]


def key_measure_sections(context: reporting.ReportingContext) -> list[reporting.PackSection]:
    month = date(context.first.year, context.first.month, 1)
    found = {m.key: (m, view, point) for _c, _l, rows in _rows(context) for m, view, point in rows}
    sections = []
    for measure in key_measures([m for m, _v, _p in found.values()]):
        _m, view, point = found[measure.key]
        chart = charts.spc_chart(measure, view, title=f"{measure.title}: {view.kind} chart") if view else None
        figures = {_label(measure, month): point.value if point else None}
        if point:
            figures.update({f"{measure.title} mean": point.mean, f"{measure.title} upper limit": point.upl,
                            f"{measure.title} lower limit": point.lpl})
        html = render_to_string("measures/board_measure.html", {
            "measure": measure, "view": view, "point": point, "chart": chart, "month": month,
            "variation": variation_words(measure, point.special_cause) if point else "No result",
            "variation_class": badge(point.special_cause if point else None),
            "assurance_class": badge(view.assurance if view else None),
            "assurance": ASSURANCE_WORDS.get(view.assurance if view else None, "No target")})
        sections.append(reporting.PackSection(f"measure:{measure.key}", measure.title, html, figures, 20))
    return sections


def equity_gaps(measure: Measure, month: date) -> list[dict]:
    """Per stratum with results in the month: the highest and lowest value among the stratum's
    values with at least ANDON_SMALL_CELL_THRESHOLD cases (a smaller cell is not shown to the board),
    from the equity view's own `results.compare`."""
    gaps = []
    for stratum, label in results.STRATA_LABELS.items():
        rows, _window = results.compare(measure, stratum=stratum, window=(month, month))
        shown = [r for r in rows if r.value is not None and r.denominator >= settings.ANDON_SMALL_CELL_THRESHOLD]
        if len(shown) < 2:
            continue
        low, high = min(shown, key=lambda r: r.value), max(shown, key=lambda r: r.value)
        gaps.append({"stratum": label, "high": high, "low": low, "gap": high.value - low.value})
    return sorted(gaps, key=lambda g: -g["gap"])


def equity_section(context: reporting.ReportingContext) -> reporting.PackSection | None:
    month = date(context.first.year, context.first.month, 1)
    measures = key_measures([m for m in Measure.objects.filter(active=True).order_by("title") if m.listed])
    found, figures = [], {}
    for measure in measures:
        gaps = equity_gaps(measure, month)
        if gaps:
            largest = gaps[0]
            found.append({"measure": measure, **largest})
            figures[f"{measure.title} gap by {largest['stratum'].lower()}"] = largest["gap"]
    html = render_to_string("measures/board_equity.html", {"rows": found, "month": month,
                                                           "threshold": settings.ANDON_SMALL_CELL_THRESHOLD})
    return reporting.PackSection("measures.equity", "Equity gaps", html, figures, 30)
