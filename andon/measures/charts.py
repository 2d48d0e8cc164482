"""A measure's results as an SPC chart (andon/analytics/spc) and a funnel plot
(andon/analytics/stats), and both drawn as SVG.

The chart type follows the scoring: a proportion is a p-chart (Laney's p′ when the average
denominator is large enough for ordinary limits to flag every point ⚠︎, configurable), a rate
or a ratio a u-chart per the multiplier, a count a c-chart, a continuous measure an XmR chart;
a definition may choose (chart: xmr, p, u, c, run). Annotations marked "rebase" start new
limits at their date.

The charts are drawn by the platform's chart kit (andon/platform/charts): server-side SVG that the
pages' content security policy accepts and WeasyPrint prints. Each point carries a <title>
(numerator, denominator, the rule that fired) that browsers show on hover, and the chart a
<desc> and a table for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist

from django.conf import settings

from andon.analytics import spc
from andon.analytics.kpi import periods as period_math
from andon.analytics.stats import funnel
from andon.platform import charts as kit
from andon.platform.charts import theme
from andon.platform.charts.scales import format_number as format_value

from .models import Measure, Scoring

RULE_NAMES = {
    "outside_limits": "a point outside the process limits",
    "two_in_three": "two of three points near a limit",
    "shift": "a shift (run on one side of the mean)",
    "trend": "a trend (run up or down)",
}
VARIATION = {
    "special_cause_improvement": "Special cause: improvement",
    "special_cause_concern": "Special cause: concern",
    "special_cause_neutral_high": "Special cause: high",
    "special_cause_neutral_low": "Special cause: low",
    "common_cause": "Common cause variation",
}
ASSURANCE = {
    "pass_consistently": "Will consistently meet the target",
    "fail_consistently": "Will consistently miss the target",
    "hit_and_miss": "Will hit and miss the target",
    None: "No target",
}


@dataclass
class ChartPoint:
    period_start: date
    value: float | None
    mean: float | None
    lpl: float | None
    upl: float | None
    special_cause: str
    rule: str | None
    numerator: float | None
    denominator: float | None


@dataclass
class ChartView:
    kind: str
    points: list[ChartPoint]
    target: float | None
    assurance: str | None
    notes: list[str] = field(default_factory=list)
    rebased_at: list[date] = field(default_factory=list)
    period_kind: str = "month"

    @property
    def last(self) -> ChartPoint | None:
        return next((p for p in reversed(self.points) if p.value is not None), None)

    @property
    def variation(self) -> str | None:
        """The Making Data Count variation icon: the verdict of the latest point."""
        return self.last.special_cause if self.last else None


def chart_kind(measure: Measure, denominators) -> str:
    chosen = measure.definition.get("chart", "auto")
    if chosen != "auto":
        return chosen
    if measure.scoring == Scoring.PROPORTION:
        sizes = [d for d in denominators if d]
        large = sizes and sum(sizes) / len(sizes) >= settings.ANDON_LANEY_DENOMINATOR
        return "p′" if large else "p"
    return {Scoring.RATE: "u", Scoring.RATIO: "u", Scoring.COUNT: "c"}.get(measure.scoring, "xmr")


def spc_view(measure: Measure, series, rebase_dates=(), period_kind: str = "month") -> ChartView:
    """`series`: (period start, numerator, denominator, value) in periods of `period_kind`, in order,
    None for a period without data."""
    starts = [s[0] for s in series]
    numerators = [s[1] for s in series]
    denominators = [s[2] for s in series]
    values = [s[3] for s in series]
    rebase = sorted({next((i for i, start in enumerate(starts) if start >= when), len(starts)) for when in rebase_dates})
    kind = chart_kind(measure, denominators)
    factor = measure.multiplier if kind in ("p", "p′") else 1
    target = measure.target / factor if measure.target is not None else None
    options = {"improvement": measure.improvement, "rebase": rebase, "target": target}
    if kind in ("p", "p′"):
        result = spc.p_chart(numerators, denominators, laney=kind == "p′", **options)
    elif kind == "u":
        result = spc.u_chart(numerators, denominators, per=measure.multiplier, **options)
    elif kind == "c":
        result = spc.c_chart([v if v is not None else None for v in values], **options)
    elif kind == "run":
        return _run_view(measure, starts, numerators, denominators, values, period_kind)
    else:
        result = spc.xmr(values, **options)
    points = [ChartPoint(start, _times(p.value, factor), _times(p.mean, factor), _times(p.lpl, factor),
                         _times(p.upl, factor), p.special_cause, p.rule, numerator, denominator)
              for start, p, numerator, denominator in zip(starts, result.points, numerators, denominators, strict=True)]
    return ChartView(result.kind, points, measure.target, result.assurance, list(result.notes),
                     [starts[i] for i in rebase if i < len(starts)], period_kind)


def _run_view(measure, starts, numerators, denominators, values, period_kind) -> ChartView:
    result = spc.run_chart(values)
    points = [ChartPoint(start, value, result.median, None, None,
                         "special_cause_neutral_high" if result.signal else "common_cause", None, n, d)
              for start, value, n, d in zip(starts, values, numerators, denominators, strict=True)]
    return ChartView("run", points, measure.target, None, period_kind=period_kind)


def _times(value, factor):
    return None if value is None else value * factor


# --- drawing (by the platform's chart kit) ---------------------------------------------------------

# The kit's status names per verdict: one colour for a verdict wherever it is drawn.
STATUS_COLOUR = {"special_cause_improvement": "improvement", "special_cause_concern": "concern",
                 "special_cause_neutral_high": "neutral", "special_cause_neutral_low": "neutral",
                 "common_cause": "common"}
LIMIT_LINES = (("upl", "Upper process limit", theme.LIMIT, theme.DASHED),
               ("lpl", "Lower process limit", theme.LIMIT, theme.DASHED),
               ("mean", "Mean", theme.CENTRE, None))


def point_title(measure: Measure, point: ChartPoint) -> str:
    text = [f"{point.period_start:%b %Y}: {format_value(point.value)} {measure.unit_label}"]
    if point.denominator is not None and measure.scoring != Scoring.CONTINUOUS:
        text.append(f"numerator {format_value(point.numerator or 0)}, denominator {format_value(point.denominator)}")
    elif point.denominator is not None:
        text.append(f"{format_value(point.denominator)} cases")
    text.append(_verdict(point))
    return "; ".join(text)


def _verdict(point: ChartPoint) -> str:
    """The point's variation in words, with the rule that fired."""
    return VARIATION[point.special_cause] + (f": {RULE_NAMES[point.rule]}" if point.rule else "")


def spc_chart(measure: Measure, view: ChartView, annotations=(), title: str | None = None,
              references=()) -> kit.Chart:
    """The control chart: values joined by a line, points coloured by their verdict, the mean,
    the process limits (stepping where they are rebased or vary with the denominator), the
    target, and the annotations as labelled vertical lines. `references`: further kit
    References drawn beside the target (a QI project's aim)."""
    points = view.points
    drawn = [p for p in points if p.value is not None]
    signals = sum(p.special_cause != "common_cause" for p in drawn)
    desc = (f"{len(drawn)} periods; {signals} with a special cause. "
            f"{VARIATION.get(view.variation, 'No data')}. {ASSURANCE[view.assurance]}.")
    period_points = [
        kit.PeriodPoint(f"{p.period_start:%b %y}", p.value, status=p.special_cause,
                        tip=point_title(measure, p) if p.value is not None else "", note=_verdict(p),
                        colour=theme.STATUS[STATUS_COLOUR[p.special_cause]],
                        data={"period": p.period_start.isoformat(), "rule": p.rule or ""})
        for p in points]
    lines = [kit.StepLine(name, tuple(getattr(p, name) for p in points), label=label, colour=colour, dash=dash)
             for name, label, colour, dash in LIMIT_LINES]
    targets = [kit.Reference("target", view.target, f"target {format_value(view.target)}")] \
        if view.target is not None else []
    targets += list(references)
    return kit.control_chart(period_points, title=title or f"{measure.title}: {view.kind} chart", desc=desc,
                             y_label=measure.unit_label, lines=lines, references=targets,
                             markers=_markers(view, annotations),
                             integer=measure.scoring == Scoring.COUNT and measure.multiplier == 1)


def spc_svg(measure: Measure, view: ChartView, annotations=(), title: str | None = None) -> str:
    return spc_chart(measure, view, annotations, title).svg


def marker_index(view: ChartView, day: date) -> int | None:
    """Where an annotation's line goes: at the start of the first period on or after its date,
    as its rebase does (`len(points)`, the right edge, for a date in the last period); None for
    a date outside the periods charted."""
    points = view.points
    if not points or day < points[0].period_start or day > period_math.next_start(points[-1].period_start,
                                                                                   view.period_kind):
        return None
    return next((i for i, p in enumerate(points) if p.period_start >= day), len(points))


def _markers(view: ChartView, annotations) -> list[kit.Marker]:
    """Annotations as markers labelled with their whole text (the kit wraps it), the date and
    the text in the tip and the table."""
    markers = []
    for annotation in annotations:
        index = marker_index(view, annotation.date)
        if index is not None:
            markers.append(kit.Marker(index, annotation.text, f"{annotation.date}: {annotation.text}"))
    return markers


def off_chart(view: ChartView, annotations) -> set[int]:
    """The annotations (by id) dated outside the periods charted, which the page says are not drawn."""
    return {a.pk for a in annotations if marker_index(view, a.date) is None}


# --- funnel plots ---------------------------------------------------------------------------------

EXACT_UP_TO = 1000

@dataclass
class FunnelPoint:
    label: str
    numerator: float
    denominator: float
    value: float | None  # in the measure's unit
    outside: str  # "", "alert" (outside 95 %), "alarm" (outside 99.8 %)


def funnel_points(measure: Measure, rows, others=()) -> tuple[list[FunnelPoint], float | None, list[tuple]]:
    """Units (or strata) against the pooled rate: each point's position against the exact
    95 % and 99.8 % limits at its volume; and the limit curves (volume, alert low/high, alarm
    low/high) for drawing. `rows`: (label, numerator, denominator); `others` (peer hospitals)
    are placed against the same limits but not pooled."""
    rows = [(label, n, d) for label, n, d in rows if d]
    others = [(label, n, d) for label, n, d in others if d]
    if not rows or measure.scoring not in (Scoring.PROPORTION, Scoring.RATE, Scoring.RATIO):
        return [], None, []
    pooled = sum(n for _, n, _ in rows) / sum(d for _, _, d in rows)
    factor = measure.multiplier

    def limits(volume: float, coverage: float) -> tuple[float, float]:
        # exact limits where counts are small; beyond EXACT_UP_TO the normal approximation is
        # as good and the exact tails (a sum per count) would cost seconds per page
        if measure.scoring == Scoring.PROPORTION:
            if volume > EXACT_UP_TO:
                found = funnel.proportion_limits(pooled, volume, coverage)
            else:
                found = funnel.proportion_limits_exact(pooled, max(1, round(volume)), coverage)
            return found.low * factor, found.high * factor
        expected = pooled * volume
        if expected <= 0:
            return 0.0, 0.0
        if expected > EXACT_UP_TO:
            z = NormalDist().inv_cdf(1 - (1 - coverage) / 2)
            found = funnel.FunnelLimits(max(0.0, 1 - z / math.sqrt(expected)), 1 + z / math.sqrt(expected))
        else:
            found = funnel.ratio_limits_exact(expected, coverage)
        return found.low * pooled * factor, found.high * pooled * factor

    points = []
    for label, numerator, denominator in [*rows, *others]:
        value = numerator / denominator * factor
        alert, alarm = limits(denominator, funnel.ALERT), limits(denominator, funnel.ALARM)
        outside = "alarm" if not alarm[0] <= value <= alarm[1] else "alert" if not alert[0] <= value <= alert[1] else ""
        points.append(FunnelPoint(label, numerator, denominator, value, outside))
    largest = max(d for _, _, d in [*rows, *others])
    volumes = sorted({max(1.0, largest * k / 40) for k in range(1, 41)})
    curves = [(v, *limits(v, funnel.ALERT), *limits(v, funnel.ALARM)) for v in volumes]
    return points, pooled * factor, curves


FUNNEL_STATUS = {"alarm": ("alarm", "outside 99.8% limits"), "alert": ("alert", "outside 95% limits"),
                 "": ("within", "within limits")}


def funnel_chart(measure: Measure, points: list[FunnelPoint], centre: float | None, curves, title: str,
                 volume_label: str) -> kit.Chart:
    outside = [p.label for p in points if p.outside]
    desc = (f"{len(points)} points around the pooled value {format_value(centre or 0)} {measure.unit_label}; "
            + (f"outside the 95% limits: {', '.join(outside)}." if outside else "all within the 95% limits."))
    scattered = []
    for number, p in enumerate(points, start=1):
        status, note = FUNNEL_STATUS[p.outside]
        counts = f"{format_value(p.numerator)}/{format_value(p.denominator)}"
        tip = f"{number}. {p.label}: {format_value(p.value)} {measure.unit_label} ({counts}), {note}"
        scattered.append(kit.ScatterPoint(p.label, p.denominator, p.value, status=status, tip=tip, note=note,
                                          mark=str(number)))
    limits = [kit.Curve("limit", tuple((c[0], c[position]) for c in curves), dash)
              for position, dash in ((1, theme.DASHED), (2, theme.DASHED), (3, theme.DOTTED), (4, theme.DOTTED))]
    return kit.scatter_chart(scattered, title=title, desc=desc, x_label=volume_label, y_label=measure.unit_label,
                             curves=limits, centre=centre, point_class="unit")


def funnel_svg(measure: Measure, points: list[FunnelPoint], centre: float | None, curves, title: str,
               volume_label: str) -> str:
    return funnel_chart(measure, points, centre, curves, title, volume_label).svg


SPARK_STATUS = {"special_cause_improvement": "improvement", "special_cause_concern": "concern",
                "special_cause_neutral_high": "neutral", "special_cause_neutral_low": "neutral"}


def sparkline(measure: Measure, view: ChartView, place: str) -> kit.Chart:
    """A dashboard tile's line: the values of its months, the latest coloured by its verdict,
    and the trend in words (first, lowest, highest and latest values) for screen readers."""
    points = [kit.SparkPoint(f"{p.period_start:%b %Y}", p.value) for p in view.points]
    shown = [p for p in view.points if p.value is not None]
    title = f"{measure.title}, {place}: monthly values"
    if not shown:
        return kit.sparkline(points, title=title, desc="No values in these months.")
    low, high = min(shown, key=lambda p: p.value), max(shown, key=lambda p: p.value)

    def said(point: ChartPoint) -> str:
        return f"{format_value(point.value)} {measure.unit_label} in {point.period_start:%b %Y}"

    desc = (f"{len(shown)} months: from {said(shown[0])} to {said(shown[-1])}; lowest {said(low)}, highest {said(high)}. "
            f"Latest: {VARIATION.get(view.variation, 'no verdict')}.")
    return kit.sparkline(points, title=title, desc=desc, status=SPARK_STATUS.get(view.variation, "common"))
