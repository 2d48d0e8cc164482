"""A measure's results as an SPC chart (andon/analytics/spc) and a funnel plot
(andon/analytics/stats), and both drawn as SVG.

The chart type follows the scoring: a proportion is a p-chart (Laney's p′ when the average
denominator is large enough for ordinary limits to flag every point ⚠︎, configurable), a rate
or a ratio a u-chart per the multiplier, a count a c-chart, a continuous measure an XmR chart;
a definition may choose (chart: xmr, p, u, c, run). Annotations marked "rebase" start new
limits at their date.

The SVG is drawn here, not by a JavaScript charting library: the pages' content security policy
allows no inline styles or evaluated code, and the same SVG goes into PDFs. Each point carries a
<title> (numerator, denominator, the rule that fired) that browsers show on hover, and the
chart a <desc> for screen readers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from statistics import NormalDist
from xml.sax.saxutils import escape

from django.conf import settings

from andon.analytics import spc
from andon.analytics.stats import funnel

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
COLOURS = {"special_cause_improvement": "#2b6cb0", "special_cause_concern": "#dd6b20",
           "special_cause_neutral_high": "#6b46c1", "special_cause_neutral_low": "#6b46c1", "common_cause": "#718096"}


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


def spc_view(measure: Measure, series, rebase_dates=()) -> ChartView:
    """`series`: (period start, numerator, denominator, value) in period order, None for a period
    without data."""
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
        return _run_view(measure, starts, numerators, denominators, values)
    else:
        result = spc.xmr(values, **options)
    points = [ChartPoint(start, _times(p.value, factor), _times(p.mean, factor), _times(p.lpl, factor),
                         _times(p.upl, factor), p.special_cause, p.rule, numerator, denominator)
              for start, p, numerator, denominator in zip(starts, result.points, numerators, denominators, strict=True)]
    return ChartView(result.kind, points, measure.target, result.assurance, list(result.notes),
                     [starts[i] for i in rebase if i < len(starts)])


def _run_view(measure, starts, numerators, denominators, values) -> ChartView:
    result = spc.run_chart(values)
    points = [ChartPoint(start, value, result.median, None, None,
                         "special_cause_neutral_high" if result.signal else "common_cause", None, n, d)
              for start, value, n, d in zip(starts, values, numerators, denominators, strict=True)]
    return ChartView("run", points, measure.target, None)


def _times(value, factor):
    return None if value is None else value * factor


# --- drawing --------------------------------------------------------------------------------------

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 860, 340, 64, 24, 36, 56
AXIS = "#343a40"
GRID = "#dee2e6"


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 5 × 10ⁿ steps)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    tick = math.floor(low / step) * step
    ticks = [round(tick, 10)]
    while ticks[-1] < high:
        tick += step
        ticks.append(round(tick, 10))
    return ticks


def format_value(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".") if value else "0"


def _frame(title: str, desc: str, ticks, y_of, label: str) -> list[str]:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-labelledby="chart-title chart-desc" font-family="system-ui, sans-serif" font-size="12" class="andon-chart">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for tick in ticks:
        y = y_of(tick)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">{format_value(tick)}</text>')
    middle = TOP + (HEIGHT - TOP - BOTTOM) / 2
    out.append(f'<text x="14" y="{middle:.1f}" text-anchor="middle" fill="{AXIS}" '
               f'transform="rotate(-90 14 {middle:.1f})">{escape(label)}</text>')
    return out


def _scale(values) -> tuple[list[float], callable]:
    present = [v for v in values if v is not None]
    low, high = (min(present), max(present)) if present else (0.0, 1.0)
    low = min(low, 0.0) if low >= 0 and low < (high - low) * 0.6 else low
    ticks = _ticks(low, high)
    bottom, top = ticks[0], ticks[-1]
    plot = HEIGHT - TOP - BOTTOM

    def y_of(value: float) -> float:
        return TOP + plot - plot * (value - bottom) / ((top - bottom) or 1)

    return ticks, y_of


def point_title(measure: Measure, point: ChartPoint) -> str:
    text = [f"{point.period_start:%b %Y}: {format_value(point.value)} {measure.unit_label}"]
    if point.denominator is not None and measure.scoring != Scoring.CONTINUOUS:
        text.append(f"numerator {format_value(point.numerator or 0)}, denominator {format_value(point.denominator)}")
    elif point.denominator is not None:
        text.append(f"{format_value(point.denominator)} cases")
    text.append(f"{VARIATION[point.special_cause]}" + (f": {RULE_NAMES[point.rule]}" if point.rule else ""))
    return "; ".join(text)


def spc_svg(measure: Measure, view: ChartView, annotations=(), title: str | None = None) -> str:
    """The control chart: values joined by a line, points coloured by their verdict, the mean,
    the process limits (stepping where they are rebased or vary with the denominator), the
    target, and the annotations as labelled vertical lines."""
    points = view.points
    title = title or f"{measure.title}: {view.kind} chart"
    everything = [v for p in points for v in (p.value, p.lpl, p.upl, p.mean)] + [view.target]
    ticks, y_of = _scale(everything)
    slots = max(len(points), 1)
    step = (WIDTH - LEFT - RIGHT) / slots

    def x_of(index: float) -> float:
        return LEFT + step * (index + 0.5)

    signals = sum(p.special_cause != "common_cause" for p in points if p.value is not None)
    desc = (f"{len([p for p in points if p.value is not None])} periods; {signals} with a special cause. "
            f"{VARIATION.get(view.variation, 'No data')}. {ASSURANCE[view.assurance]}.")
    out = _frame(title, desc, ticks, y_of, measure.unit_label)
    for name, attribute, dash in (("upl", "upl", "6 4"), ("lpl", "lpl", "6 4"), ("mean", "mean", "")):
        out.extend(_step_line(points, attribute, x_of, y_of, step, name, dash))
    if view.target is not None:
        y = y_of(view.target)
        out.append(f'<line class="target" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#2f855a" '
                   f'stroke-width="1.5" stroke-dasharray="2 3"/>')
        out.append(f'<text x="{WIDTH - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end" fill="#2f855a">target '
                   f'{format_value(view.target)}</text>')
    line = [(x_of(i), y_of(p.value)) for i, p in enumerate(points) if p.value is not None]
    if line:
        out.append(f'<polyline class="values" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in line)}" fill="none" '
                   f'stroke="#4a5568" stroke-width="1.5"/>')
    for i, point in enumerate(points):
        if point.value is None:
            continue
        out.append(f'<circle class="point {point.special_cause}" cx="{x_of(i):.1f}" cy="{y_of(point.value):.1f}" r="4.5" '
                   f'fill="{COLOURS[point.special_cause]}" data-period="{point.period_start.isoformat()}" '
                   f'data-rule="{point.rule or ""}"><title>{escape(point_title(measure, point))}</title></circle>')
    out.extend(_x_labels(points, x_of))
    out.extend(_annotation_marks(points, annotations, x_of, step))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _step_line(points, attribute, x_of, y_of, step, name, dash) -> list[str]:
    path, drawing = [], False
    for i, point in enumerate(points):
        value = getattr(point, attribute)
        if value is None:
            drawing = False
            continue
        left, right, y = x_of(i) - step / 2, x_of(i) + step / 2, y_of(value)
        path.append(f"{'L' if drawing else 'M'}{left:.1f},{y:.1f} L{right:.1f},{y:.1f}")
        drawing = True
    if not path:
        return []
    colour = "#a0aec0" if name != "mean" else "#2d3748"
    dashes = f' stroke-dasharray="{dash}"' if dash else ""
    return [f'<path class="{name}" d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="1.2"{dashes}/>']


def _x_labels(points, x_of) -> list[str]:
    every = max(1, len(points) // 12)
    base = HEIGHT - BOTTOM + 16
    return [f'<text x="{x_of(i):.1f}" y="{base}" text-anchor="middle" fill="{AXIS}">{p.period_start:%b %y}</text>'
            for i, p in enumerate(points) if i % every == 0]


def _annotation_marks(points, annotations, x_of, step) -> list[str]:
    out = []
    for annotation in annotations:
        index = next((i for i, p in enumerate(points) if p.period_start >= annotation.date), None)
        if index is None:
            continue
        x = x_of(index) - step / 2
        out.append(f'<line class="annotation" x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM}" '
                   f'stroke="#805ad5" stroke-width="1.5"><title>{escape(f"{annotation.date}: {annotation.text}")}</title></line>')
        out.append(f'<text x="{x + 3:.1f}" y="{TOP - 10}" fill="#805ad5">{escape(annotation.text[:40])}</text>')
    return out


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


def funnel_svg(measure: Measure, points: list[FunnelPoint], centre: float | None, curves, title: str, volume_label: str) -> str:
    values = [p.value for p in points] + [c[i] for c in curves for i in (1, 2, 3, 4)] + [centre]
    ticks, y_of = _scale(values)
    largest = max((p.denominator for p in points), default=1.0)
    plot_w = WIDTH - LEFT - RIGHT

    def x_of(volume: float) -> float:
        return LEFT + plot_w * volume / (largest * 1.05)

    outside = [p.label for p in points if p.outside]
    desc = (f"{len(points)} points around the pooled value {format_value(centre or 0)} {measure.unit_label}; "
            + (f"outside the 95% limits: {', '.join(outside)}." if outside else "all within the 95% limits."))
    out = _frame(title, desc, ticks, y_of, measure.unit_label)
    if centre is not None:
        out.append(f'<line class="centre" x1="{LEFT}" y1="{y_of(centre):.1f}" x2="{WIDTH - RIGHT}" y2="{y_of(centre):.1f}" '
                   f'stroke="#2d3748"/>')
    for position, dash in ((1, "6 4"), (2, "6 4"), (3, "2 3"), (4, "2 3")):
        line = " ".join(f"{x_of(c[0]):.1f},{y_of(c[position]):.1f}" for c in curves)
        if line:
            out.append(f'<polyline class="limit" points="{line}" fill="none" stroke="#a0aec0" stroke-dasharray="{dash}"/>')
    for p in points:
        colour = {"alarm": "#c53030", "alert": "#dd6b20"}.get(p.outside, "#2b6cb0")
        note = {"alarm": "outside 99.8% limits", "alert": "outside 95% limits"}.get(p.outside, "within limits")
        counts = f"{format_value(p.numerator)}/{format_value(p.denominator)}"
        label = f"{p.label}: {format_value(p.value)} {measure.unit_label} ({counts}), {note}"
        out.append(f'<circle class="unit {p.outside}" cx="{x_of(p.denominator):.1f}" cy="{y_of(p.value):.1f}" r="5" '
                   f'fill="{colour}"><title>{escape(label)}</title></circle>')
    for tick in _ticks(0, largest * 1.05):
        if tick <= largest * 1.05:
            out.append(f'<text x="{x_of(tick):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="{AXIS}">'
                       f'{format_value(tick)}</text>')
    base = HEIGHT - BOTTOM + 36
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{base}" text-anchor="middle" fill="{AXIS}">{escape(volume_label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
