"""The Wilson score interval of a proportion, and how many cases an audit needs."""

from __future__ import annotations

import math
from statistics import NormalDist


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval; it stays within [0, 1] and holds for small n
    (18 of 20 at 95 %: 0.699 to 0.972)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"{successes} of {n} is not a proportion")
    z = _z(confidence)
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    low = 0.0 if successes == 0 else max(0.0, (centre - spread) / scale)  # exact ends, not rounding dust
    high = 1.0 if successes == n else min(1.0, (centre + spread) / scale)
    return low, high


def sample_size(expected: float, margin: float, confidence: float = 0.95, population: int | None = None) -> int:
    """Cases to audit so that a proportion near `expected` is known within ±`margin`:
    n₀ = z²p(1−p)/margin², with the finite population correction n₀/(1 + (n₀ − 1)/N) when
    the population is known; rounded up."""
    if not 0 <= expected <= 1 or not 0 < margin < 1:
        raise ValueError("expected must be a proportion and margin between 0 and 1")
    z = _z(confidence)
    n0 = z * z * expected * (1 - expected) / (margin * margin)
    if population is not None:
        if population < 1:
            raise ValueError(f"population must be at least 1, not {population}")
        n0 = n0 / (1 + (n0 - 1) / population)
    return max(1, math.ceil(n0 - 1e-9))


def poisson_interval(count: int, confidence: float = 0.95) -> tuple[float, float]:
    """(low, high) exact (Garwood) limits for the mean of a Poisson count: the means under which
    a count this high, or this low, has probability (1 − confidence)/2. Divide by the exposure
    for a rate's interval. 10 events at 95 %: 4.795 to 18.39; 0 events: 0 to 3.689."""
    if count < 0 or int(count) != count:
        raise ValueError(f"{count} is not a count")
    tail = (1 - confidence) / 2
    low = 0.0 if count == 0 else _solve(lambda mean: 1 - _poisson_cdf(count - 1, mean) - tail, count)
    high = _solve(lambda mean: tail - _poisson_cdf(count, mean), count)
    return low, high


def _poisson_cdf(r: int, mean: float) -> float:
    if mean <= 0:
        return 1.0
    return min(1.0, sum(math.exp(k * math.log(mean) - mean - math.lgamma(k + 1)) for k in range(int(r) + 1)))


def _solve(rising, count: int) -> float:
    """The mean where `rising` (increasing in the mean) crosses 0, by bisection."""
    low, high = 0.0, count + 10 * math.sqrt(count + 1) + 10
    for _ in range(80):
        middle = (low + high) / 2
        if rising(middle) < 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2
