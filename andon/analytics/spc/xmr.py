"""The XmR (individuals) chart as NHSRplotthedots computes it (shared/docs/DOMAIN.md §7).

Per segment (the points between rebases): the mean of the baseline (all the segment's points,
or its first `fix_after_n_points`); the moving ranges |xᵢ − xᵢ₋₁| of the baseline and their
mean; with `screen_outliers`, moving ranges at or above 3.267 × that mean are left out and the
mean taken again; process limits mean ± 2.66 × mean moving range, near limits at two thirds of
that distance. The limits of a fixed baseline carry on over the rest of the segment. Missing
values (None) are skipped for the limits and carry no verdict.
"""

from __future__ import annotations

from . import chart

MR_SCREEN = 3.267  # D4 for subgroups of 2: the moving-range chart's upper limit
LIMIT_FACTOR = 2.66  # 3 / d2, d2 = 1.128


def xmr(values, *, improvement: str = "neutral", screen_outliers: bool = True, fix_after_n_points: int | None = None,
        rebase=(), shift_length: int = 7, trend_length: int = 7, target: float | None = None) -> chart.ChartResult:
    chart.check_direction(improvement)
    values = [None if v is None else float(v) for v in values]
    points: list[chart.Point] = []
    for segment in chart.segments(len(values), rebase):
        part = [values[i] for i in segment]
        centre, spread = _limits(part, screen_outliers, fix_after_n_points)
        made = [_point(i, values[i], centre, spread) for i in segment]
        chart.flag([p for p in made if p.value is not None and centre is not None], improvement, shift_length, trend_length)
        points.extend(made)
    result = chart.ChartResult("xmr", points, improvement, target)
    if points:
        result.assurance = chart.assurance(points[-1], improvement, target)
    if sum(v is not None for v in values) < 12:
        result.notes.append("fewer than 12 points: limits are unreliable (NHS guidance: at least 12, ideally 20)")
    return result


def _limits(part: list, screen_outliers: bool, fix_after_n_points: int | None) -> tuple[float | None, float | None]:
    baseline = [v for v in (part[:fix_after_n_points] if fix_after_n_points else part) if v is not None]
    if len(baseline) < 2:
        return (baseline[0] if baseline else None), None
    mean = sum(baseline) / len(baseline)
    ranges = [abs(b - a) for a, b in zip(baseline, baseline[1:], strict=False)]
    mean_range = sum(ranges) / len(ranges)
    if screen_outliers:
        kept = [r for r in ranges if r < MR_SCREEN * mean_range]
        mean_range = sum(kept) / len(kept) if kept else mean_range
    return mean, mean_range


def _point(index: int, value, centre, spread) -> chart.Point:
    if centre is None or spread is None:
        return chart.Point(index, value, centre, None, None, None, None)
    reach = LIMIT_FACTOR * spread
    return chart.Point(index, value, centre, centre - reach, centre + reach, centre - reach * 2 / 3, centre + reach * 2 / 3)
