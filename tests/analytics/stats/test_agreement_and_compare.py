"""Cohen's kappa, Newcombe's interval for a difference of proportions and Fisher's exact test
(shared/docs/DOMAIN.md §10), against values worked by hand (the working is in the comments),
published examples (Newcombe 1998, Table II) and independent exact arithmetic."""

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.analytics import stats
from tests.fuzz import examples

Z = 1.959963984540054  # the 97.5th centile of the standard normal


def ratings(*cells):
    """Pairs from (rating_a, rating_b, how many cases) rows."""
    return [(a, b) for a, b, count in cells for _ in range(count)]


# --- Cohen's kappa -------------------------------------------------------------------------


def test_kappa_of_the_domain_example():
    # 20 cases. Both met 12, both not met 5, A met/B not 2, A not/B met 1.
    # pₒ = (12 + 5)/20 = 0.85. A met 14/20 = 0.7, B met 13/20 = 0.65,
    # pₑ = 0.7·0.65 + 0.3·0.35 = 0.455 + 0.105 = 0.56; κ = (0.85 − 0.56)/(1 − 0.56) = 0.29/0.44 = 0.659091.
    # Fleiss–Cohen–Everitt variance, 1 − pₑ = 0.44, 1 − pₒ = 0.15:
    #   agreeing cells:  met 0.60·(0.44 − (0.7 + 0.65)·0.15)² = 0.6·0.2375² = 0.03384375
    #                    not 0.25·(0.44 − (0.3 + 0.35)·0.15)² = 0.25·0.3425² = 0.0293265625
    #   disagreeing:     0.15²·[0.10·(B met 0.65 + A not 0.3)² + 0.05·(B not 0.35 + A met 0.7)²]
    #                    = 0.0225·(0.09025 + 0.055125) = 0.0032709375
    #   chance term:     (0.85·0.56 − 2·0.56 + 0.85)² = 0.206² = 0.042436
    #   var = (0.03384375 + 0.0293265625 + 0.0032709375 − 0.042436)/(20·0.44⁴) = 0.02400525/0.7496192
    #       = 0.0320233; SE = 0.178950. Interval 0.659091 ± 1.959964·0.178950 = 0.308354 to 1.009827, cut at 1.
    found = stats.cohen_kappa(ratings(("met", "met", 12), ("not_met", "not_met", 5), ("met", "not_met", 2),
                                      ("not_met", "met", 1)))
    assert (found.n, found.observed, found.expected) == (20, pytest.approx(0.85), pytest.approx(0.56))
    assert found.kappa == pytest.approx(0.29 / 0.44)
    assert found.standard_error == pytest.approx(0.178950, abs=1e-6)
    assert found.interval == (pytest.approx(0.308354, abs=1e-5), 1.0)
    assert found.reading == "substantial"


def test_kappa_with_three_categories():
    # A in rows, B in columns:   met  not_met  na  | A
    #                     met     9      2      1  | 12
    #                 not_met     0      4      0  |  4
    #                      na     1      0      3  |  4
    #                       B    10      6      4  | 20
    # pₒ = (9 + 4 + 3)/20 = 0.8; pₑ = 0.6·0.5 + 0.2·0.3 + 0.2·0.2 = 0.30 + 0.06 + 0.04 = 0.40;
    # κ = 0.4/0.6 = 0.666667. Variance, 1 − pₑ = 0.6, 1 − pₒ = 0.2:
    #   agreeing:    met 0.45·(0.6 − 1.1·0.2)² = 0.45·0.1444 = 0.06498; not_met 0.20·(0.6 − 0.5·0.2)² = 0.05;
    #                na 0.15·(0.6 − 0.4·0.2)² = 0.15·0.2704 = 0.04056; sum 0.15554
    #   disagreeing: 0.2²·[(met, not_met) 0.10·(0.5 + 0.2)² + (met, na) 0.05·(0.5 + 0.2)² + (na, met) 0.05·(0.2 + 0.6)²]
    #                = 0.04·(0.049 + 0.0245 + 0.032) = 0.00422
    #   chance:      (0.8·0.4 − 0.8 + 0.8)² = 0.1024
    #   var = (0.15554 + 0.00422 − 0.1024)/(20·0.6⁴) = 0.05736/2.592 = 0.0221296; SE = 0.148760
    #   interval 0.666667 ± 1.959964·0.148760 = 0.375102 to 0.958232
    found = stats.cohen_kappa(ratings(("met", "met", 9), ("met", "not_met", 2), ("met", "na", 1),
                                      ("not_met", "not_met", 4), ("na", "met", 1), ("na", "na", 3)))
    assert (found.observed, found.expected, found.kappa) == (pytest.approx(0.8), pytest.approx(0.4),
                                                             pytest.approx(2 / 3))
    assert found.standard_error == pytest.approx(0.148760, abs=1e-6)
    assert found.interval == (pytest.approx(0.375102, abs=1e-5), pytest.approx(0.958232, abs=1e-5))


def test_perfect_agreement_is_one_with_no_spread():
    # pₒ = 1, pₑ = 0.5·0.5 + 0.5·0.5 = 0.5, κ = 0.5/0.5 = 1. Variance: agreeing cells give
    # 0.5·0.5² + 0.5·0.5² = 0.25, no disagreement, chance (0.5 − 1 + 1)² = 0.25: 0.25 − 0.25 = 0.
    found = stats.cohen_kappa(ratings(("met", "met", 10), ("not_met", "not_met", 10)))
    assert (found.kappa, found.standard_error, found.interval) == (1.0, 0.0, (1.0, 1.0))
    assert found.reading == "almost perfect"


def test_agreement_at_chance_is_zero():
    # Every cell 5 of 20: pₒ = 0.5, pₑ = 0.5·0.5 + 0.5·0.5 = 0.5, κ = 0. Variance: agreeing cells
    # 0.25·(0.5 − 1·0.5)² = 0 each; disagreeing 0.5²·(0.25·1² + 0.25·1²) = 0.125; chance
    # (0.25 − 1 + 0.5)² = 0.0625; var = 0.0625/(20·0.5⁴) = 1/20, SE = √0.05 = 0.223607.
    found = stats.cohen_kappa(ratings(("met", "met", 5), ("met", "not_met", 5), ("not_met", "met", 5),
                                      ("not_met", "not_met", 5)))
    assert found.kappa == 0.0
    assert found.standard_error == pytest.approx(math.sqrt(0.05))
    assert found.interval == (pytest.approx(-Z * math.sqrt(0.05)), pytest.approx(Z * math.sqrt(0.05)))
    assert found.reading == "slight"


def test_kappa_is_undefined_when_both_raters_use_one_same_category():
    # pₑ = 1·1 = 1 and pₒ = 1: κ = 0/0.
    found = stats.cohen_kappa([("met", "met")] * 7)
    assert found == stats.Agreement(7, 1.0, 1.0, None, None, None, "undefined (every case rated the same by both)")


def test_one_category_each_but_not_the_same_one_is_defined():
    # A always met, B always not_met: pₒ = 0, pₑ = 1·0 + 0·1 = 0, κ = 0.
    assert stats.cohen_kappa([("met", "not_met")] * 4).kappa == 0.0


@pytest.mark.parametrize(("kappa", "word"), [
    (-0.01, "poor"), (0.0, "slight"), (0.2, "slight"), (0.205, "slight"), (0.21, "fair"), (0.4, "fair"),
    (0.41, "moderate"), (0.6, "moderate"), (0.61, "substantial"), (0.8, "substantial"), (0.81, "almost perfect"),
    (1.0, "almost perfect")])
def test_landis_koch_reading_at_the_printed_edges(kappa, word):
    assert stats.kappa_reading(kappa) == word


def test_the_caller_can_pass_other_bands():
    bands = ((-1.0, "not enough"), (0.7, "enough"))
    pairs = ratings(("met", "met", 12), ("not_met", "not_met", 5), ("met", "not_met", 2), ("not_met", "met", 1))
    assert stats.cohen_kappa(pairs, bands=bands).reading == "not enough"  # κ = 0.659
    assert stats.kappa_reading(0.7, bands) == "enough"
    assert stats.LANDIS_KOCH[0] == (-1.0, "poor")


@pytest.mark.parametrize(("pairs", "kwargs", "message"), [
    ([], {}, "no pairs of ratings: kappa needs at least one case rated by both raters"),
    (None, {}, r"pairs must be a list of \(rating_a, rating_b\), not NoneType"),
    ([("met", "met"), ("met",)], {}, r"case 2 is not a \(rating_a, rating_b\) pair: \('met',\)"),
    ([("met", "met"), "ab"], {}, r"case 2 is not a \(rating_a, rating_b\) pair: 'ab'"),
    ([(["met"], "met")], {}, r"case 1 has a rating that cannot be a category: \(\['met'\], 'met'\)"),
    ([("met", "met")], {"bands": ((0.5, "high"), (0.2, "low"))}, r"band edges must rise, one band each: \[0.5, 0.2\]"),
    ([("met", "met")], {"bands": ()}, "bands must be"),
    ([("met", "met")], {"confidence": 1.5}, "confidence must be between 0 and 1, not 1.5"),
])
def test_kappa_refuses_bad_input_by_name(pairs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        stats.cohen_kappa(pairs, **kwargs)


@given(st.lists(st.tuples(st.sampled_from(["met", "not_met", "na"]), st.sampled_from(["met", "not_met", "na"])),
                min_size=1, max_size=40))
@settings(max_examples=examples(100), deadline=None)
def test_kappa_is_symmetric_in_the_raters(pairs):
    forward, backward = stats.cohen_kappa(pairs), stats.cohen_kappa([(b, a) for a, b in pairs])
    assert (forward.n, forward.observed, forward.expected, forward.reading) == (
        backward.n, backward.observed, backward.expected, backward.reading)
    if forward.kappa is None:
        assert backward.kappa is None and backward.interval is None
    else:
        assert backward.kappa == pytest.approx(forward.kappa)
        assert backward.standard_error == pytest.approx(forward.standard_error, abs=1e-12)
        assert -1 <= forward.interval[0] <= forward.kappa <= forward.interval[1] <= 1


# --- the difference of two proportions (Newcombe) --------------------------------------------
# Wilson ends at 95 % (z = 1.959964, z² = 3.841459), e.g. 56/70: centre 0.8 + z²/140 = 0.827439,
# spread z·√(0.16/70 + z²/19600) = 0.097639, scale 1 + z²/70 = 1.054878 → 0.691834 to 0.876953.
# Newcombe's table gives p₁ − p₂ with the larger first; ours is p₂ − p₁, so the audits are swapped.


def test_newcombe_published_example_a():
    # p₁ = 48/80 = 0.6 (Wilson 0.490455 to 0.700382), p₂ = 56/70 = 0.8 (0.691834 to 0.876953); d = 0.2.
    # low  = 0.2 − √((0.8 − 0.691834)² + (0.700382 − 0.6)²) = 0.2 − √(0.011700 + 0.010077) = 0.2 − 0.147568 = 0.0524
    # high = 0.2 + √((0.876953 − 0.8)² + (0.6 − 0.490455)²) = 0.2 + √(0.005922 + 0.012000) = 0.2 + 0.133873 = 0.3339
    found = stats.proportion_difference(48, 80, 56, 70)
    assert (found.p1, found.p2, found.difference) == (0.6, 0.8, pytest.approx(0.2))
    assert (found.low, found.high) == (pytest.approx(0.0524, abs=5e-5), pytest.approx(0.3339, abs=5e-5))


def test_newcombe_published_example_b():
    # p₁ = 3/10 (Wilson 0.107791 to 0.603222), p₂ = 9/10 (0.595850 to 0.982124); d = 0.6.
    # low  = 0.6 − √((0.9 − 0.595850)² + (0.603222 − 0.3)²) = 0.6 − √(0.092507 + 0.091944) = 0.6 − 0.429477 = 0.1705
    # high = 0.6 + √((0.982124 − 0.9)² + (0.3 − 0.107791)²) = 0.6 + √(0.006744 + 0.036944) = 0.6 + 0.209018 = 0.8090
    found = stats.proportion_difference(3, 10, 9, 10)
    assert found.difference == pytest.approx(0.6)
    assert (found.low, found.high) == (pytest.approx(0.1705, abs=5e-5), pytest.approx(0.8090, abs=5e-5))


def test_newcombe_with_no_successes():
    # 0/20 (Wilson 0 to z²/(20 + z²) = 3.841459/23.841459 = 0.161125) and 0/10 (0 to 3.841459/13.841459
    # = 0.277533): d = 0, low = −√(0² + 0.161125²), high = √(0.277533² + 0²). Newcombe's example (e).
    found = stats.proportion_difference(0, 20, 0, 10)
    assert (found.difference, found.low, found.high) == (
        0.0, pytest.approx(-0.161125, abs=1e-6), pytest.approx(0.277533, abs=1e-6))


def test_newcombe_with_every_case_a_success():
    # 0/20 against 10/10 (Wilson 1 − 0.277533 = 0.722467 to 1): d = 1,
    # low = 1 − √((1 − 0.722467)² + 0.161125²) = 1 − √(0.077025 + 0.025961) = 1 − 0.320914 = 0.6791, high = 1.
    found = stats.proportion_difference(0, 20, 10, 10)
    assert (found.difference, found.low, found.high) == (1.0, pytest.approx(0.679086, abs=1e-6), 1.0)


@pytest.mark.parametrize(("args", "message"), [
    ((21, 20, 3, 10), "x1 = 21 is more than n1 = 20: 21 of 20 is not a proportion"),
    ((1, 0, 3, 10), "n1 must be at least 1: a proportion of no cases has no value"),
    ((1, 10, -1, 10), "x2 must not be negative, not -1"),
    ((1, 10, 2.5, 10), "x2 must be a whole number of cases, not 2.5"),
    ((1, 10, 2, "10"), "n2 must be a whole number of cases, not '10'"),
])
def test_proportion_difference_refuses_bad_counts_by_name(args, message):
    with pytest.raises(ValueError, match=message):
        stats.proportion_difference(*args)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1, not 0"):
        stats.proportion_difference(1, 10, 2, 10, confidence=0)


# --- Fisher's exact test ------------------------------------------------------------------------


def test_fisher_tea_tasting():
    # Margins 4, 4 / 4, 4 of 8: P(a = k) = C(4, k)·C(4, 4 − k)/C(8, 4) = 1, 16, 36, 16, 1 (/70) for k = 0..4.
    # Observed a = 3 (16/70). Two-sided: k = 0, 1, 3, 4 → 34/70; greater: k ≥ 3 → 17/70; less: k ≤ 3 → 69/70.
    found = stats.fisher_exact(3, 1, 1, 3)
    assert found.p_value == pytest.approx(34 / 70)
    assert (found.p_greater, found.p_less) == (pytest.approx(17 / 70), pytest.approx(69 / 70))
    assert found.odds_ratio == 9.0  # 3·3/(1·1)


def test_fisher_with_a_zero_cell():
    # [[0, 6], [4, 2]]: rows 6, 6, first column 4, N 12. C(6, k)·C(6, 4 − k) for k = 0..4:
    # 15, 120, 225, 120, 15 (sum 495 = C(12, 4)). Observed k = 0 (15/495). Two-sided: k = 0, 4 → 30/495 = 2/33;
    # less: 15/495 = 1/33; greater: 1. Odds ratio 0·2/(6·4) = 0.
    found = stats.fisher_exact(0, 6, 4, 2)
    assert (found.p_value, found.p_less, found.p_greater) == (pytest.approx(2 / 33), pytest.approx(1 / 33), 1.0)
    assert found.odds_ratio == 0.0
    # [[4, 0], [2, 6]]: rows 4, 8, first column 6, N 12. C(4, k)·C(8, 6 − k): 28, 224, 420, 224, 28 (924 = C(12, 6)).
    # Observed k = 4: two-sided 56/924 = 2/33, greater 28/924 = 1/33. Odds ratio 4·6/0: infinite.
    found = stats.fisher_exact(4, 0, 2, 6)
    assert (found.p_value, found.p_greater, found.p_less) == (pytest.approx(2 / 33), pytest.approx(1 / 33), 1.0)
    assert found.odds_ratio == math.inf
    # an empty row: one table only, nothing to estimate
    assert stats.fisher_exact(3, 5, 0, 0) == stats.FisherExact(None, 1.0, 1.0, 1.0)


def exact_fisher(a, b, c, d):
    """Independent: every table with the same margins, counted exactly with math.comb (whole
    numbers over the one denominator C(N, a + c), so one exact fraction a sum)."""
    row1, row2, col1 = a + b, c + d, a + c
    ways = {k: math.comb(row1, k) * math.comb(row2, col1 - k) for k in range(max(0, col1 - row2), min(row1, col1) + 1)}
    every = math.comb(row1 + row2, col1)
    two_sided = sum(w for w in ways.values() if w <= ways[a])
    return tuple(Fraction(part, every) for part in (
        two_sided, sum(w for k, w in ways.items() if k <= a), sum(w for k, w in ways.items() if k >= a)))


@pytest.mark.parametrize("table", [(27, 13, 9, 31), (2, 17, 11, 6), (600, 400, 480, 520)])
def test_fisher_matches_exact_fractions(table):
    # The last table has factorials far past a float's range (2000!, where 171! already overflows)
    # and a two-sided p near 1e-7, with tables far less likely than the smallest float: log space keeps both.
    two_sided, less, greater = exact_fisher(*table)
    found = stats.fisher_exact(*table)
    assert found.p_value == pytest.approx(float(two_sided), rel=1e-9)
    assert found.p_less == pytest.approx(float(less), rel=1e-9)
    assert found.p_greater == pytest.approx(float(greater), rel=1e-9)
    assert found.odds_ratio == pytest.approx(table[0] * table[3] / (table[1] * table[2]))


def test_fisher_takes_whole_floats():
    assert stats.fisher_exact(3.0, 1, 1, 3) == stats.fisher_exact(3, 1, 1, 3)


@pytest.mark.parametrize(("cells", "message"), [
    ((-1, 1, 1, 3), r"cell a \(row 1, column 1\) must not be negative, not -1"),
    ((3, 2.5, 1, 3), r"cell b \(row 1, column 2\) must be a whole number of cases, not 2.5"),
    ((3, 1, "1", 3), r"cell c \(row 2, column 1\) must be a whole number of cases, not '1'"),
    ((3, 1, 1, True), r"cell d \(row 2, column 2\) must be a whole number of cases, not True"),
    ((3, 1, 1, math.nan), r"cell d \(row 2, column 2\) must be a whole number of cases, not nan"),
])
def test_fisher_refuses_bad_cells_by_name(cells, message):
    with pytest.raises(ValueError, match=message):
        stats.fisher_exact(*cells)


@given(st.tuples(*[st.integers(0, 40)] * 4))
@settings(max_examples=examples(100), deadline=None)
def test_fisher_p_is_a_probability_and_the_same_for_the_transposed_table(table):
    a, b, c, d = table
    found, transposed = stats.fisher_exact(a, b, c, d), stats.fisher_exact(a, c, b, d)
    assert 0 < found.p_value <= 1
    assert transposed.p_value == pytest.approx(found.p_value, rel=1e-9)
    # the observed table's own tail is in the two-sided sum: tables beyond it are less likely
    assert found.p_value >= min(found.p_less, found.p_greater) * (1 - 1e-12)
