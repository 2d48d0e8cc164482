"""Attribute charts: p (proportions), u (rates per exposure), c (counts), and Laney's p′ and u′
for large denominators (shared/docs/DOMAIN.md §7).

Per segment (between rebases) the centre is pooled over the baseline: p̄ = Σx/Σn, ū = Σc/Σn,
c̄ = mean count. Each point's sigma follows its own denominator: √(p̄(1−p̄)/nᵢ), √(ū/nᵢ), √c̄.
Laney's adjustment multiplies it by σ_z, the spread of the points' z-scores
(zᵢ = (yᵢ − centre)/sigmaᵢ) estimated as their mean moving range ÷ 1.128: σ_z ≈ 1 gives the
ordinary chart back, σ_z > 1 widens limits that over-dispersion made too tight. Limits are
centre ± 3 sigma, near limits ± 2 sigma, clamped to [0, 1] for proportions and at 0 below.
A point with no denominator (None or 0) is shown without a value or verdict.
"""

from __future__ import annotations

import math

from . import chart

D2 = 1.128  # the expected moving range of two standard normal values


def p_chart(numerators, denominators, *, laney: bool = False, improvement: str = "neutral", rebase=(),
            fix_after_n_points: int | None = None, shift_length: int = 7, trend_length: int = 7,
            target: float | None = None) -> chart.ChartResult:
    def sigma(centre, n):
        return math.sqrt(centre * (1 - centre) / n)

    return _chart("p′" if laney else "p", numerators, denominators, sigma, 1.0, laney, improvement, rebase,
                  fix_after_n_points, shift_length, trend_length, target, upper_bound=1.0)


def u_chart(counts, exposures, *, per: float = 1, laney: bool = False, improvement: str = "neutral", rebase=(),
            fix_after_n_points: int | None = None, shift_length: int = 7, trend_length: int = 7,
            target: float | None = None) -> chart.ChartResult:
    """Rates per `per` units of exposure (per=1000: per 1,000 patient days); the target in the
    same units."""
    def sigma(centre, n):
        return math.sqrt(centre / n)

    return _chart("u′" if laney else "u", counts, exposures, sigma, per, laney, improvement, rebase,
                  fix_after_n_points, shift_length, trend_length, target)


def c_chart(counts, *, improvement: str = "neutral", rebase=(), fix_after_n_points: int | None = None,
            shift_length: int = 7, trend_length: int = 7, target: float | None = None) -> chart.ChartResult:
    """Counts in equal areas of opportunity (a u-chart of exposure 1 each)."""
    def sigma(centre, n):
        return math.sqrt(centre)

    return _chart("c", counts, [1] * len(counts), sigma, 1, False, improvement, rebase, fix_after_n_points,
                  shift_length, trend_length, target)


def _chart(kind, numerators, denominators, sigma, per, laney, improvement, rebase, fix_after_n_points,
           shift_length, trend_length, target, upper_bound=None) -> chart.ChartResult:
    chart.check_direction(improvement)
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} numerators but {len(denominators)} denominators")
    for index, (x, n) in enumerate(zip(numerators, denominators, strict=True)):
        if x is not None and n is not None and (x < 0 or n < 0 or (upper_bound is not None and x > n)):
            raise ValueError(f"point {index}: numerator {x} and denominator {n} do not make a "
                             f"{'proportion' if upper_bound else 'rate'}")
    points = []
    for segment in chart.segments(len(numerators), rebase):
        made = _segment(kind, segment, numerators, denominators, sigma, per, laney, upper_bound, fix_after_n_points)
        chart.flag([p for p in made if p.value is not None and p.upl is not None], improvement, shift_length, trend_length)
        points.extend(made)
    result = chart.ChartResult(kind, points, improvement, target)
    if points:
        result.assurance = chart.assurance(points[-1], improvement, target)
    return result


def _segment(kind, segment, numerators, denominators, sigma, per, laney, upper_bound, fix_after_n_points):
    usable = [i for i in segment if numerators[i] is not None and denominators[i]]
    baseline = usable[:fix_after_n_points] if fix_after_n_points else usable
    total = sum(denominators[i] for i in baseline)
    centre = sum(numerators[i] for i in baseline) / total if total else None
    sigmas = {i: sigma(centre, denominators[i]) for i in usable} if centre is not None else {}
    factor = _laney_factor(baseline, numerators, denominators, centre, sigmas) if laney else 1.0
    made = []
    for i in segment:
        value = numerators[i] / denominators[i] * per if i in usable else None
        made.append(_point(i, value, centre, sigmas.get(i), factor, per, upper_bound, numerators[i], denominators[i]))
    return made


def _laney_factor(baseline, numerators, denominators, centre, sigmas) -> float:
    """σ_z: the mean moving range of the baseline's z-scores ÷ 1.128 (1 when it cannot be had)."""
    scores = [(numerators[i] / denominators[i] - centre) / sigmas[i] for i in baseline if sigmas.get(i)]
    if len(scores) < 2:
        return 1.0
    ranges = [abs(b - a) for a, b in zip(scores, scores[1:], strict=False)]
    return (sum(ranges) / len(ranges)) / D2


def _point(index, value, centre, sigma, factor, per, upper_bound, numerator, denominator) -> chart.Point:
    if centre is None or sigma is None:
        return chart.Point(index, value, None if centre is None else centre * per, None, None, None, None,
                           numerator=numerator, denominator=denominator)
    spread = sigma * factor

    def bounded(limit):
        limit = max(limit, 0.0)
        return (min(limit, upper_bound) if upper_bound is not None else limit) * per

    return chart.Point(index, value, centre * per, bounded(centre - 3 * spread), bounded(centre + 3 * spread),
                       bounded(centre - 2 * spread), bounded(centre + 2 * spread),
                       numerator=numerator, denominator=denominator)
