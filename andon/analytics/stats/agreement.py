"""Agreement between two auditors who rated the same cases: Cohen's kappa (shared/docs/DOMAIN.md §10).

κ = (pₒ − pₑ) / (1 − pₑ), where pₒ is the share of cases both raters put in the same category and
pₑ = Σ over categories of (share rater A gave it × share rater B gave it), the agreement expected
by chance. Shares are kept as exact fractions until the end, so pₑ = 1 is recognised exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .intervals import _z

# Landis & Koch (1977), as printed: < 0.00 poor, 0.00–0.20 slight, 0.21–0.40 fair, 0.41–0.60
# moderate, 0.61–0.80 substantial, 0.81–1.00 almost perfect. Each band is (lowest κ, word); a κ
# takes the word of the last band whose edge it reaches, so one between two printed ranges (0.205)
# stays in the lower band. The bands are a convention (DOMAIN ⚠︎): pass other ones to `cohen_kappa`.
LANDIS_KOCH = ((-1.0, "poor"), (0.0, "slight"), (0.21, "fair"), (0.41, "moderate"), (0.61, "substantial"),
               (0.81, "almost perfect"))
UNDEFINED = "undefined (every case rated the same by both)"


@dataclass(frozen=True)
class Agreement:
    """n cases; observed (pₒ) and expected (pₑ) agreement; kappa with its standard error and
    confidence interval, all None when κ is undefined (pₑ = 1); reading, the band's word."""

    n: int
    observed: float
    expected: float
    kappa: float | None
    standard_error: float | None
    interval: tuple[float, float] | None
    reading: str


def cohen_kappa(pairs, confidence: float = 0.95, bands=LANDIS_KOCH) -> Agreement:
    """Cohen's kappa for two raters over the same cases, from (rating_a, rating_b) pairs; the
    categories are any hashable values ("met", "not_met", "na") and as many as the raters used.

    The standard error is the large-sample one of Fleiss, Cohen & Everitt (1969), not Cohen's
    (1960) simpler √(pₒ(1 − pₒ)/n)/(1 − pₑ): with pᵢⱼ the share of cases A put in i and B in j,
    pᵢ. and p.ᵢ the shares A and B gave category i,

        var(κ) = [Σᵢ pᵢᵢ((1 − pₑ) − (pᵢ. + p.ᵢ)(1 − pₒ))²
                  + (1 − pₒ)² Σᵢ≠ⱼ pᵢⱼ(p.ᵢ + pⱼ.)² − (pₒpₑ − 2pₑ + pₒ)²] / (n(1 − pₑ)⁴).

    The interval is κ ± z·SE, cut to [−1, 1] (the range of κ). When both raters put every case
    in one same category, pₑ = 1 and κ is 0/0: kappa, its error and interval are None and the
    reading says so."""
    z = _z(confidence)
    bands = _checked(bands)
    table = _table(pairs)
    n = sum(table.values())
    rater_a, rater_b = Counter(), Counter()
    for (a, b), count in table.items():
        rater_a[a] += count
        rater_b[b] += count
    observed = Fraction(sum(count for (a, b), count in table.items() if a == b), n)
    expected = Fraction(sum(rater_a[c] * rater_b[c] for c in rater_a), n * n)
    if expected == 1:
        return Agreement(n, float(observed), 1.0, None, None, None, UNDEFINED)
    kappa = float((observed - expected) / (1 - expected))
    se = math.sqrt(_variance(table, rater_a, rater_b, n, observed, expected))
    interval = (max(-1.0, kappa - z * se), min(1.0, kappa + z * se))
    return Agreement(n, float(observed), float(expected), kappa, se, interval, _word(kappa, bands))


def kappa_reading(kappa: float, bands=LANDIS_KOCH) -> str:
    """The word for a kappa: that of the last band whose lowest κ it reaches."""
    return _word(kappa, _checked(bands))


def _word(kappa: float, bands) -> str:
    word = bands[0][1]  # below the first edge: the first band's word
    for edge, name in bands:
        if kappa >= edge:
            word = name
    return word


def _checked(bands):
    bands = tuple(bands)
    if not bands or any(not isinstance(band, tuple) or len(band) != 2 for band in bands):
        raise ValueError("bands must be (lowest kappa, word) pairs, at least one")
    edges = [edge for edge, _ in bands]
    if edges != sorted(edges) or len(set(edges)) != len(edges):
        raise ValueError(f"band edges must rise, one band each: {edges}")
    return bands


def _table(pairs) -> Counter:
    """How many cases fall in each (rating_a, rating_b) cell."""
    table = Counter()
    try:
        cases = iter(pairs)
    except TypeError:
        raise ValueError(f"pairs must be a list of (rating_a, rating_b), not {type(pairs).__name__}") from None
    for position, pair in enumerate(cases, start=1):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"case {position} is not a (rating_a, rating_b) pair: {pair!r}")
        try:
            table[tuple(pair)] += 1
        except TypeError:
            raise ValueError(f"case {position} has a rating that cannot be a category: {pair!r}") from None
    if not table:
        raise ValueError("no pairs of ratings: kappa needs at least one case rated by both raters")
    return table


def _variance(table, rater_a, rater_b, n, observed, expected) -> float:
    """var(κ) of Fleiss, Cohen & Everitt (1969), in exact fractions (no negative rounding dust)."""
    a = {category: Fraction(count, n) for category, count in rater_a.items()}
    b = {category: Fraction(count, n) for category, count in rater_b.items()}
    agree, disagree = Fraction(0), Fraction(0)
    for (i, j), count in table.items():
        share = Fraction(count, n)
        if i == j:
            agree += share * ((1 - expected) - (a.get(i, 0) + b.get(i, 0)) * (1 - observed)) ** 2
        else:
            disagree += share * (b.get(i, 0) + a.get(j, 0)) ** 2
    chance = (observed * expected - 2 * expected + observed) ** 2
    return float((agree + (1 - observed) ** 2 * disagree - chance) / (n * (1 - expected) ** 4))
