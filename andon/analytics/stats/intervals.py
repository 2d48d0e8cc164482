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
