"""XmR charts against NHSRplotthedots' published values, and each rule on hand-made series."""

import pytest

from andon.analytics import spc
from andon.analytics.spc import rules

# R: set.seed(123); rnorm(20)
RNORM = [-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499, 0.46091621, -1.26506123,
         -0.68685285, -0.44566197, 1.22408180, 0.35981383, 0.40077145, 0.11068272, -0.55584113, 1.78691314,
         0.49785048, -1.96661716, 0.70135590, -0.47279141]


def test_xmr_matches_nhsrplotthedots():
    point = spc.xmr(RNORM).points[0]
    assert point.mean == pytest.approx(0.1416238, abs=5e-8)
    assert point.lpl == pytest.approx(-3.01138, abs=5e-6)
    assert point.upl == pytest.approx(3.294627, abs=5e-7)
    assert all(p.special_cause == "common_cause" and p.rule is None for p in spc.xmr(RNORM).points)


def test_moving_range_screening_with_an_outlier():
    values = list(RNORM)
    values[14] = 10
    screened = spc.xmr(values)
    assert screened.points[0].mean == pytest.approx(0.6694159, abs=5e-8)
    assert screened.points[0].lpl == pytest.approx(-2.383666, abs=5e-7)
    assert screened.points[0].upl == pytest.approx(3.722497, abs=5e-7)
    unscreened = spc.xmr(values, screen_outliers=False).points[0]
    assert (unscreened.lpl, unscreened.upl) == (pytest.approx(-4.596625, abs=5e-7), pytest.approx(5.935457, abs=5e-7))
    assert screened.points[14].rule == "outside_limits" and screened.points[14].special_cause == "special_cause_neutral_high"


def test_near_limits_are_two_thirds_of_the_way():
    point = spc.xmr(RNORM).points[0]
    assert point.near_upl - point.mean == pytest.approx((point.upl - point.mean) * 2 / 3)
    assert point.mean - point.near_lpl == pytest.approx((point.mean - point.lpl) * 2 / 3)


def test_improvement_direction_names_the_verdict():
    values = [10, 11, 9, 10, 12, 10, 9, 11, 10, 30]
    assert spc.xmr(values, improvement="increase").points[-1].special_cause == "special_cause_improvement"
    assert spc.xmr(values, improvement="decrease").points[-1].special_cause == "special_cause_concern"
    with pytest.raises(ValueError, match="improvement must be one of"):
        spc.xmr(values, improvement="up")


def test_shift_of_seven_on_one_side():
    values = [5, 6, 4, 5, 6, 4, 5, 7, 7, 7, 7, 7, 7, 7, 5, 4]
    flags = rules.shift(values, [5.5] * len(values), 7)
    assert flags == [0] * 7 + [1] * 7 + [0, 0]
    assert rules.shift(values, [5.5] * len(values), 8) == [0] * len(values)  # a run of 7 is not 8
    on_the_mean = [6, 6, 6, 5.5, 6, 6, 6, 6]
    assert rules.shift(on_the_mean, [5.5] * 8, 7) == [0] * 8  # a point on the mean breaks the run


def test_trend_of_seven_points_is_six_changes():
    rising = [1, 2, 3, 4, 5, 6, 7, 3]
    assert rules.trend(rising, 7) == [1, 1, 1, 1, 1, 1, 1, 0]
    assert rules.trend(rising[:6] + [0, 0], 7) == [0] * 8  # six points are not a trend of seven
    assert rules.trend([9, 8, 7, 7, 6, 5, 4, 3], 7) == [0] * 8  # equal neighbours break it
    assert rules.trend([9, 8, 7, 6, 5, 4, 3, 2], 6) == [-1] * 8


def test_two_of_three_beyond_the_near_limit():
    values = [0, 2.5, 0, 2.6, 0, 0, -2.5, 0, 0, -2.5]
    flags = rules.two_in_three(values, [-2] * 10, [2] * 10)
    assert flags == [0, 1, 0, 1, 0, 0, 0, 0, 0, 0]  # two highs within three points; the lows are three apart


def test_outside_limits():
    assert rules.outside_limits([0, 4, -4, 3], [-3] * 4, [3] * 4) == [0, 1, -1, 0]


def test_rule_order_when_several_fire():
    values = [0.1, -0.1] * 6 + [1, 1, 1, 1, 1, 1, 9]
    result = spc.xmr(values, improvement="increase")
    last = result.points[-1]
    assert last.rule == "outside_limits" and last.special_cause == "special_cause_improvement"
    assert {p.rule for p in result.points[12:18]} == {"shift"}


def test_rebase_starts_new_limits_and_runs():
    before, after = [10, 11, 9, 10, 11, 9, 10, 11], [20, 21, 19, 20, 21, 19, 20, 21]
    result = spc.xmr(before + after, rebase=[8])
    assert result.points[0].mean == pytest.approx(10.125) and result.points[8].mean == pytest.approx(20.125)
    assert all(p.special_cause == "common_cause" for p in result.points)
    unrebased = spc.xmr(before + after)  # one mean between the two levels: every point a signal
    assert {p.rule for p in unrebased.points} == {"outside_limits"}


def test_fixed_baseline_carries_its_limits_forward():
    result = spc.xmr([10, 11, 9, 10, 11, 9, 20, 20], fix_after_n_points=6)
    # moving ranges of the first six: 1, 2, 1, 1, 2 (mean 1.4)
    assert result.points[-1].mean == pytest.approx(10) and result.points[-1].upl == pytest.approx(10 + 2.66 * 1.4)
    assert result.points[-1].rule == "outside_limits"


def test_assurance_against_a_target():
    steady = [50, 52, 48, 51, 49, 50, 52, 48, 51, 49, 50, 50]
    assert spc.xmr(steady, improvement="increase", target=40).assurance == "pass_consistently"
    assert spc.xmr(steady, improvement="increase", target=60).assurance == "fail_consistently"
    assert spc.xmr(steady, improvement="decrease", target=60).assurance == "pass_consistently"
    assert spc.xmr(steady, improvement="increase", target=50).assurance == "hit_and_miss"
    assert spc.xmr(steady, improvement="neutral", target=50).assurance is None
    assert spc.xmr(steady).assurance is None


def test_missing_values_and_short_series():
    result = spc.xmr([1, None, 2, 3])
    assert result.points[1].value is None and result.points[1].special_cause == "common_cause"
    assert result.points[0].mean == pytest.approx(2)
    assert result.notes and "fewer than 12" in result.notes[0]
