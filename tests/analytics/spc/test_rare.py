"""g and t charts for rare events, against their formulas worked here."""

import math

import pytest

from andon.analytics import spc


def test_g_chart_limits_from_the_mean_gap():
    result = spc.g_chart([30, 45, 20, 60, 35, 50], improvement="increase")
    sigma = math.sqrt(40 * 41)
    assert result.points[0].mean == pytest.approx(40)
    assert result.points[0].upl == pytest.approx(40 + 3 * sigma)
    assert result.points[0].lpl == 0.0
    long_gap = spc.g_chart([30, 45, 20, 60, 35, 50, 400], improvement="increase").points[-1]
    assert long_gap.rule == "outside_limits" and long_gap.special_cause == "special_cause_improvement"
    with pytest.raises(ValueError, match="cannot be negative"):
        spc.g_chart([3, -1])


def test_t_chart_transforms_and_turns_back():
    times = [10, 20, 15, 30, 25, 12, 18, 22]
    result = spc.t_chart(times)
    transformed = [t ** (1 / 3.6) for t in times]
    centre = sum(transformed) / len(transformed)
    mean_range = sum(abs(b - a) for a, b in zip(transformed, transformed[1:], strict=False)) / (len(times) - 1)
    assert result.kind == "t"
    assert [p.value for p in result.points] == times
    assert result.points[0].mean == pytest.approx(centre ** 3.6)
    assert result.points[0].upl == pytest.approx((centre + 2.66 * mean_range) ** 3.6)
    assert result.points[0].lpl == pytest.approx(max(0.0, centre - 2.66 * mean_range) ** 3.6)
