"""Funnel-plot limits for comparing units against a target (Spiegelhalter 2005).

- Proportions: the normal approximation p₀ ± z√(p₀(1−p₀)/n), and exact binomial limits,
  interpolated between the integer counts (Spiegelhalter's appendix: for the quantile q, r the
  smallest count with F(r) ≥ q, α = (F(r) − q)/(F(r) − F(r − 1)), limit (r − α)/n).
- Indirectly standardised ratios (observed ÷ expected): exact Poisson limits the same way,
  over E expected.
- Over-dispersion: φ, the mean of the units' squared z-scores after winsorising 10 % at each
  end; when φ > 1, limits widen by √φ (a multiplicative adjustment).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from statistics import NormalDist

from .intervals import _poisson_cdf

ALERT, ALARM = 0.95, 0.998  # the usual funnel contours, z = 1.96 and 3.09


@dataclass
class FunnelLimits:
    low: float
    high: float


def proportion_limits(target: float, n: float, coverage: float = ALERT, phi: float = 1.0) -> FunnelLimits:
    z = NormalDist().inv_cdf(1 - (1 - coverage) / 2)
    spread = z * math.sqrt(phi * target * (1 - target) / n)
    return FunnelLimits(max(0.0, target - spread), min(1.0, target + spread))


@functools.lru_cache(maxsize=4096)
def proportion_limits_exact(target: float, n: int, coverage: float = ALERT) -> FunnelLimits:
    """Kept for the process: a funnel plot asks for the same (target, n) at every volume it
    draws, page after page, and the limits of one n take a pass over 0..n."""
    cdf = _binomial_cdf_table(n, target).__getitem__

    low, high = ((1 - coverage) / 2, 1 - (1 - coverage) / 2)
    return FunnelLimits(_interpolated(cdf, low, n) / n, _interpolated(cdf, high, n) / n)


def ratio_limits_exact(expected: float, coverage: float = ALERT) -> FunnelLimits:
    """Limits of observed ÷ expected for a unit expecting `expected` events."""
    def cdf(r: int) -> float:
        return _poisson_cdf(r, expected)

    low, high = ((1 - coverage) / 2, 1 - (1 - coverage) / 2)
    most = int(expected + 20 * math.sqrt(expected) + 20)
    return FunnelLimits(_interpolated(cdf, low, most) / expected, _interpolated(cdf, high, most) / expected)


def overdispersion(numerators, denominators, target: float, winsor: float = 0.10) -> float:
    """φ from the units' z-scores (1 means none beyond chance)."""
    scores = sorted((x / n - target) / math.sqrt(target * (1 - target) / n)
                    for x, n in zip(numerators, denominators, strict=True) if n)
    if not scores:
        raise ValueError("no unit with a denominator")
    cut = int(len(scores) * winsor)
    if cut:
        low, high = scores[cut], scores[-cut - 1]
        scores = [min(max(z, low), high) for z in scores]
    return sum(z * z for z in scores) / len(scores)


def _interpolated(cdf, quantile: float, most: int) -> float:
    previous = 0.0
    for r in range(most + 1):
        current = cdf(r)
        if current >= quantile:
            alpha = (current - quantile) / (current - previous) if current > previous else 0.0
            return max(0.0, r - alpha)
        previous = current
    return float(most)


def _binomial_cdf_table(n: int, p: float) -> list[float]:
    """F(0), …, F(n) of Binomial(n, p) in one pass (each term as `_binomial_cdf` writes it, summed
    as they come), where asking `_binomial_cdf` for each r in turn would sum 0..r again each time."""
    if p <= 0:
        return [1.0] * (n + 1)
    if p >= 1:
        return [0.0] * n + [1.0]
    table, total = [], 0.0
    for k in range(n + 1):
        total += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                          + k * math.log(p) + (n - k) * math.log1p(-p))
        table.append(min(1.0, total))
    return table


def _binomial_cdf(r: int, n: int, p: float) -> float:
    if p <= 0:
        return 1.0
    if p >= 1:
        return 1.0 if r >= n else 0.0
    return min(1.0, sum(math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                                 + k * math.log(p) + (n - k) * math.log1p(-p)) for k in range(r + 1)))

