"""Run charts: the Anhøj limits against the table in shared/docs/DOMAIN.md §7 (qicharts2), and
each rule on hand-made series."""

import pytest

from andon.analytics import spc
from andon.analytics.spc.runs import anhoej_limits

TABLE = {10: (6, 2), 12: (7, 3), 14: (7, 4), 16: (7, 4), 18: (7, 5), 20: (7, 6), 22: (7, 7), 24: (8, 8), 26: (8, 8),
         28: (8, 9), 30: (8, 10), 40: (8, 14), 50: (9, 19), 60: (9, 23), 80: (9, 32), 100: (10, 41)}


@pytest.mark.parametrize("useful", sorted(TABLE))
def test_anhoej_limits_match_the_table(useful):
    assert anhoej_limits(useful) == TABLE[useful]


def test_random_looking_series_gives_no_signal():
    values = [5, 7, 4, 8, 6, 3, 7, 5, 8, 4, 6, 7, 3, 8, 5, 6, 4, 7, 5, 8]
    result = spc.run_chart(values)
    assert result.median == 6 and result.useful == 17  # three points on the median
    assert not result.anhoej_signal and not result.signal


def test_a_long_run_is_an_anhoej_signal():
    values = [1, 2, 1, 2, 1, 2] + [9] * 8 + [1, 2, 1, 2, 1, 2]
    result = spc.run_chart(values)
    assert (result.longest_run, result.longest_run_limit) == (8, 7)
    assert result.anhoej_signal


def test_too_few_crossings_is_an_anhoej_signal():
    values = [1] * 5 + [9] * 5 + [1] * 5 + [9] * 5  # 3 crossings in 20 points; fewer than 6
    result = spc.run_chart(values)
    assert (result.crossings, result.crossings_limit) == (3, 6)
    assert result.longest_run == 5 and result.anhoej_signal


def test_ihi_shift_ignores_points_on_the_median():
    values = [1, 9, 1, 9, 5, 9, 9, 9, 5, 9, 9, 9] + [1] * 7
    result = spc.run_chart(values)
    assert result.median == 5
    # seven above (the 5s on the median neither count nor break the run), then seven below
    assert result.ihi_shift == [3, 5, 6, 7, 9, 10, 11, *range(12, 19)]


def test_ihi_trend_skips_equal_neighbours():
    values = [3, 1, 2, 3, 3, 4, 5, 2, 9, 1]
    assert spc.run_chart(values).ihi_trend == [1, 2, 3, 5, 6]  # 1 2 3 (3) 4 5: five rising points
    assert spc.run_chart([1, 2, 3, 4, 1, 5]).ihi_trend == []


def test_empty_and_missing_values():
    assert spc.run_chart([]).median is None
    assert spc.run_chart([None, 2, None, 4]).median == 3
