"""Run charts: values around their median, read with the Anhøj rules and the IHI rules
(shared/docs/DOMAIN.md §7).

Anhøj: with n the useful observations (those not on the median), a signal when the longest
run on one side is longer than round(log₂ n) + 3, or when the line crosses the median fewer
times than the 5th percentile of Binomial(n − 1, ½).

IHI: a shift of `shift_length` (6) or more points on one side (points on the median neither
count nor break it), a trend of `trend_length` (5) or more points each rising or each falling
(equal neighbours are skipped), and an astronomical point (judged by eye: not computed).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class RunChartResult:
    median: float | None
    useful: int  # observations not on the median
    longest_run: int
    longest_run_limit: int | None  # a signal if longest_run is greater
    crossings: int
    crossings_limit: int | None  # a signal if crossings is fewer
    anhoej_signal: bool
    ihi_shift: list[int] = field(default_factory=list)  # indexes of points in a shift
    ihi_trend: list[int] = field(default_factory=list)  # indexes of points in a trend

    @property
    def signal(self) -> bool:
        return self.anhoej_signal or bool(self.ihi_shift) or bool(self.ihi_trend)


def run_chart(values, *, shift_length: int = 6, trend_length: int = 5) -> RunChartResult:
    present = [(i, float(v)) for i, v in enumerate(values) if v is not None]
    if not present:
        return RunChartResult(None, 0, 0, None, 0, None, False)
    median = statistics.median(v for _, v in present)
    sides = [(i, (v > median) - (v < median)) for i, v in present]
    useful = [(i, s) for i, s in sides if s != 0]
    longest, crossings = _longest_run(useful), sum(1 for (_, a), (_, b) in zip(useful, useful[1:], strict=False) if a != b)
    run_limit, cross_limit = anhoej_limits(len(useful))
    signal = run_limit is not None and (longest > run_limit or crossings < cross_limit)
    return RunChartResult(median, len(useful), longest, run_limit, crossings, cross_limit, signal,
                          _ihi_shift(useful, shift_length), _ihi_trend(present, trend_length))


def anhoej_limits(useful: int) -> tuple[int | None, int | None]:
    """(longest run limit, fewest crossings limit) for n useful observations; None below 2."""
    if useful < 2:
        return None, None
    return round(math.log2(useful)) + 3, binomial_quantile(0.05, useful - 1, 0.5)


def binomial_quantile(probability: float, trials: int, p: float) -> int:
    """The smallest k with P(X ≤ k) ≥ probability for X ~ Binomial(trials, p) (R's qbinom)."""
    cumulative = 0.0
    for k in range(trials + 1):
        cumulative += math.comb(trials, k) * p ** k * (1 - p) ** (trials - k)
        if cumulative >= probability * (1 - 64 * 2.220446e-16):  # R's fuzz against rounding
            return k
    return trials


def _longest_run(useful: list[tuple[int, int]]) -> int:
    longest = current = 0
    previous = None
    for _, side in useful:
        current = current + 1 if side == previous else 1
        previous = side
        longest = max(longest, current)
    return longest


def _ihi_shift(useful: list[tuple[int, int]], length: int) -> list[int]:
    flagged, run = [], []
    for index, side in useful + [(None, 0)]:
        if run and side == run[0][1]:
            run.append((index, side))
            continue
        if len(run) >= length:
            flagged.extend(i for i, _ in run)
        run = [(index, side)] if side else []
    return flagged


def _ihi_trend(present: list[tuple[int, float]], length: int) -> list[int]:
    # equal neighbours are skipped, so compare each point with the last different one
    distinct = [present[0]] if present else []
    for point in present[1:]:
        if point[1] != distinct[-1][1]:
            distinct.append(point)
    flagged, run, direction = set(), distinct[:1], 0
    for point in distinct[1:]:
        step = 1 if point[1] > run[-1][1] else -1
        if step == direction:
            run.append(point)
        else:
            run, direction = [run[-1], point], step
        if len(run) >= length:
            flagged.update(i for i, _ in run)
    return sorted(flagged)
