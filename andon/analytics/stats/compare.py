"""Comparing two proportions, e.g. a re-audit against the audit (shared/docs/DOMAIN.md §10): the
difference with Newcombe's hybrid score interval, and Fisher's exact test on the 2×2 table."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .intervals import _z, wilson

TIES = 1 + 1e-7  # a table this close to the observed one's probability counts as no more likely (as R, SciPy)
CELLS = ("a (row 1, column 1)", "b (row 1, column 2)", "c (row 2, column 1)", "d (row 2, column 2)")


@dataclass(frozen=True)
class ProportionDifference:
    p1: float
    p2: float
    difference: float  # p2 − p1
    low: float
    high: float


@dataclass(frozen=True)
class FisherExact:
    """Fisher's exact test of the 2×2 table [[a, b], [c, d]]. p_value is two-sided; p_less and
    p_greater are one-sided, against an odds ratio below 1 (P(X ≤ a)) and above 1 (P(X ≥ a)),
    X the first cell among the tables with the same margins. odds_ratio is the sample ad/bc:
    inf when only bc is 0, 0.0 when only ad is, None when both are (nothing to estimate)."""

    odds_ratio: float | None
    p_value: float
    p_less: float
    p_greater: float


def proportion_difference(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> ProportionDifference:
    """p2 − p1 (x2 of n2 against x1 of n1) with Newcombe's hybrid score interval (method 10 of
    Newcombe 1998), from the Wilson intervals (l₁, u₁) and (l₂, u₂) of the two proportions:

        low  = (p₂ − p₁) − √((p₂ − l₂)² + (u₁ − p₁)²)
        high = (p₂ − p₁) + √((u₂ − p₂)² + (p₁ − l₁)²)

    It stays within [−1, 1] and behaves well for small n and for 0 or n successes."""
    _z(confidence)  # a bad confidence is refused as such, before the counts
    p1, (l1, u1) = _proportion(x1, n1, "x1", "n1", confidence)
    p2, (l2, u2) = _proportion(x2, n2, "x2", "n2", confidence)
    difference = p2 - p1
    low = difference - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = difference + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return ProportionDifference(p1, p2, difference, max(-1.0, low), min(1.0, high))


def fisher_exact(a: int, b: int, c: int, d: int) -> FisherExact:
    """Fisher's exact test of [[a, b], [c, d]]. Given the margins, the first cell X is
    hypergeometric: P(X = k) ∝ C(a + b, k)·C(c + d, a + c − k). The two-sided p sums the
    probabilities of every table no more likely than the observed one (within a relative 1e-7,
    so that ties rounded apart still count). Probabilities are taken in log space (math.lgamma)
    relative to the most likely table, so large counts neither overflow nor lose the tails."""
    a, b, c, d = (_count(value, f"cell {name}") for value, name in zip((a, b, c, d), CELLS, strict=True))
    row1, row2, col1 = a + b, c + d, a + c
    first = max(0, col1 - row2)
    logs = [_log_choose(row1, k) + _log_choose(row2, col1 - k) for k in range(first, min(row1, col1) + 1)]
    top = max(logs)
    weights = [math.exp(value - top) for value in logs]
    total = sum(weights)
    at = a - first
    two_sided = sum(w for w in weights if w <= weights[at] * TIES) / total
    less, greater = sum(weights[: at + 1]) / total, sum(weights[at:]) / total
    return FisherExact(_odds_ratio(a, b, c, d), min(1.0, two_sided), min(1.0, less), min(1.0, greater))


def _odds_ratio(a: int, b: int, c: int, d: int) -> float | None:
    if b * c == 0:
        return None if a * d == 0 else math.inf
    return a * d / (b * c)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _proportion(x, n, x_name: str, n_name: str, confidence: float):
    x, n = _count(x, x_name), _count(n, n_name)
    if n == 0:
        raise ValueError(f"{n_name} must be at least 1: a proportion of no cases has no value")
    if x > n:
        raise ValueError(f"{x_name} = {x} is more than {n_name} = {n}: {x} of {n} is not a proportion")
    return x / n, wilson(x, n, confidence)


def _count(value, name: str) -> int:
    """A count of cases: a whole number (3 or 3.0; not True, 2.5 or "3") and not negative."""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise ValueError(f"{name} must be a whole number of cases, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, not {value!r}")
    return int(value)
