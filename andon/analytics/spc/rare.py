"""Charts for rare events, where counts per month are mostly zero (shared/docs/DOMAIN.md §7).

- **g chart** (Benneyan): the number of opportunities (admissions, patient days) between
  successive events, geometric. Centre ḡ, the mean; limits ḡ ± 3√(ḡ(ḡ + 1)), the lower one at
  least 0 (it almost always is 0: a g chart signals improvement by long gaps).
- **t chart**: the time between successive events, continuous. The times are made symmetric
  with x^(1/3.6) (Nelson's transformation of a Weibull), charted as an XmR chart, and the
  centre and limits turned back with ^3.6, so points keep their own units.

Longer gaps are better for harm events: pass improvement="increase".
"""

from __future__ import annotations

import math

from . import chart
from .xmr import xmr

WEIBULL_POWER = 3.6


def g_chart(gaps, *, improvement: str = "neutral", rebase=(), fix_after_n_points: int | None = None,
            shift_length: int = 7, trend_length: int = 7, target: float | None = None) -> chart.ChartResult:
    chart.check_direction(improvement)
    values = [None if g is None else float(g) for g in gaps]
    if any(v is not None and v < 0 for v in values):
        raise ValueError("g chart: a gap between events cannot be negative")
    points = []
    for segment in chart.segments(len(values), rebase):
        present = [values[i] for i in segment if values[i] is not None]
        baseline = present[:fix_after_n_points] if fix_after_n_points else present
        centre = sum(baseline) / len(baseline) if baseline else None
        made = [_g_point(i, values[i], centre) for i in segment]
        chart.flag([p for p in made if p.value is not None and p.upl is not None], improvement, shift_length, trend_length)
        points.extend(made)
    result = chart.ChartResult("g", points, improvement, target)
    if points:
        result.assurance = chart.assurance(points[-1], improvement, target)
    return result


def _g_point(index: int, value, centre) -> chart.Point:
    if centre is None:
        return chart.Point(index, value, None, None, None, None, None)
    sigma = math.sqrt(centre * (centre + 1))
    return chart.Point(index, value, centre, max(0.0, centre - 3 * sigma), centre + 3 * sigma,
                       max(0.0, centre - 2 * sigma), centre + 2 * sigma)


def t_chart(times, *, improvement: str = "neutral", rebase=(), fix_after_n_points: int | None = None,
            shift_length: int = 7, trend_length: int = 7, target: float | None = None) -> chart.ChartResult:
    if any(t is not None and t < 0 for t in times):
        raise ValueError("t chart: a time between events cannot be negative")
    transformed = [None if t is None else float(t) ** (1 / WEIBULL_POWER) for t in times]
    result = xmr(transformed, improvement=improvement, rebase=rebase, fix_after_n_points=fix_after_n_points,
                 shift_length=shift_length, trend_length=trend_length, screen_outliers=False)
    for point, original in zip(result.points, times, strict=True):
        point.value = None if original is None else float(original)
        for name in ("mean", "lpl", "upl", "near_lpl", "near_upl"):
            limit = getattr(point, name)
            setattr(point, name, None if limit is None else max(limit, 0.0) ** WEIBULL_POWER)
    result.kind, result.target = "t", target
    result.assurance = chart.assurance(result.points[-1], improvement, target) if result.points else None
    return result
