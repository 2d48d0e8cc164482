"""p, u and c charts, and Laney's p′ and u′, against the formulas worked by hand here."""

import math

import pytest

from andon.analytics import spc


def test_p_chart_limits_follow_each_denominator():
    x, n = [5, 10, 8, 12], [100, 200, 100, 150]
    result = spc.p_chart(x, n)
    centre = 35 / 550
    for point, size in zip(result.points, n, strict=True):
        sigma = math.sqrt(centre * (1 - centre) / size)
        assert point.mean == pytest.approx(centre)
        assert point.upl == pytest.approx(centre + 3 * sigma)
        assert point.lpl == pytest.approx(max(0.0, centre - 3 * sigma))
        assert point.near_upl == pytest.approx(centre + 2 * sigma)
    assert [p.value for p in result.points] == pytest.approx([0.05, 0.05, 0.08, 0.08])
    assert (result.points[0].numerator, result.points[0].denominator) == (5, 100)


def test_p_chart_limits_stay_within_zero_and_one():
    result = spc.p_chart([9, 10, 10], [10, 10, 10])
    assert all(0.0 <= p.lpl <= p.upl <= 1.0 for p in result.points)


def test_laney_p_prime_widens_over_dispersed_limits():
    x, n = [500, 600, 450, 550, 520, 480], [10_000] * 6
    centre = sum(x) / sum(n)
    sigma = math.sqrt(centre * (1 - centre) / 10_000)
    z = [(xi / 10_000 - centre) / sigma for xi in x]
    sigma_z = sum(abs(b - a) for a, b in zip(z, z[1:], strict=False)) / 5 / 1.128
    plain, laney = spc.p_chart(x, n), spc.p_chart(x, n, laney=True)
    assert sigma_z > 1
    assert laney.points[0].upl == pytest.approx(centre + 3 * sigma * sigma_z)
    assert laney.kind == "p′" and plain.kind == "p"
    assert plain.points[1].rule == "outside_limits" and laney.points[1].special_cause == "common_cause"


def test_u_chart_per_thousand_days():
    counts, days = [2, 3, 1, 4], [1000, 1500, 800, 1200]
    result = spc.u_chart(counts, days, per=1000, improvement="decrease")
    centre = 10 / 4500
    assert [p.value for p in result.points] == pytest.approx([2.0, 2.0, 1.25, 4 / 1.2])
    assert result.points[2].upl == pytest.approx((centre + 3 * math.sqrt(centre / 800)) * 1000)
    assert result.points[2].lpl == 0.0  # clamped at zero
    assert result.points[0].mean == pytest.approx(centre * 1000)


def test_laney_u_prime():
    counts, exposure = [120, 180, 90, 160, 140, 100], [50_000] * 6
    centre = sum(counts) / sum(exposure)
    sigma = math.sqrt(centre / 50_000)
    z = [(c / 50_000 - centre) / sigma for c in counts]
    sigma_z = sum(abs(b - a) for a, b in zip(z, z[1:], strict=False)) / 5 / 1.128
    result = spc.u_chart(counts, exposure, laney=True, per=1000)
    assert result.points[0].upl == pytest.approx((centre + 3 * sigma * sigma_z) * 1000)


def test_c_chart():
    result = spc.c_chart([3, 5, 4, 2, 6, 4])
    assert result.points[0].mean == pytest.approx(4)
    assert result.points[0].upl == pytest.approx(4 + 3 * 2)
    assert result.points[0].lpl == 0.0


def test_bad_counts_are_refused_with_where():
    with pytest.raises(ValueError, match="point 1: numerator 12 and denominator 10"):
        spc.p_chart([1, 12], [10, 10])
    with pytest.raises(ValueError, match="2 numerators but 1 denominators"):
        spc.p_chart([1, 2], [10])


def test_a_month_without_denominator_has_no_value():
    result = spc.p_chart([1, None, 2], [10, 0, 10])
    assert result.points[1].value is None and result.points[1].special_cause == "common_cause"
    assert result.points[0].mean == pytest.approx(3 / 20)
