"""Intervals, funnel limits and audit sizes against the worked examples of shared/docs/DOMAIN.md §7
and independent arithmetic."""

import math

import pytest

from andon.analytics import stats


def test_wilson_examples():
    assert stats.wilson(18, 20) == (pytest.approx(0.699, abs=5e-4), pytest.approx(0.972, abs=5e-4))
    assert stats.wilson(20, 20) == (pytest.approx(0.839, abs=5e-4), 1.0)
    assert stats.wilson(0, 20)[0] == 0.0
    with pytest.raises(ValueError, match="21 of 20 is not a proportion"):
        stats.wilson(21, 20)


def test_funnel_normal_limits_example():
    alert = stats.proportion_limits(0.074, 200)
    alarm = stats.proportion_limits(0.074, 200, coverage=0.998)
    assert (round(alert.low, 3), round(alert.high, 3)) == (0.038, 0.110)
    assert (round(alarm.low, 3), round(alarm.high, 3)) == (0.017, 0.131)
    wider = stats.proportion_limits(0.074, 200, phi=2.0)
    assert wider.high - 0.074 == pytest.approx((alert.high - 0.074) * math.sqrt(2))


def test_exact_binomial_limits_interpolate_the_quantile():
    n, p0 = 200, 0.074
    cdf = [sum(math.comb(n, k) * p0 ** k * (1 - p0) ** (n - k) for k in range(r + 1)) for r in range(n + 1)]
    r = next(k for k, f in enumerate(cdf) if f >= 0.975)
    expected_high = (r - (cdf[r] - 0.975) / (cdf[r] - cdf[r - 1])) / n
    assert stats.proportion_limits_exact(p0, n).high == pytest.approx(expected_high)
    exact = stats.proportion_limits_exact(p0, n)
    assert abs(exact.low - 0.038) < 0.005 and abs(exact.high - 0.110) < 0.005  # near the normal ones at n = 200


def test_exact_poisson_limits_of_a_ratio():
    cdf = [sum(math.exp(-10) * 10 ** k / math.factorial(k) for k in range(r + 1)) for r in range(40)]
    r = next(k for k, f in enumerate(cdf) if f >= 0.025)
    expected_low = (r - (cdf[r] - 0.025) / (cdf[r] - cdf[r - 1])) / 10
    assert stats.ratio_limits_exact(10).low == pytest.approx(expected_low)
    assert stats.ratio_limits_exact(10).high == pytest.approx(1.616, abs=1e-3)


def test_overdispersion():
    assert stats.overdispersion([50, 50], [1000, 1000], 0.05) == 0.0
    numerators, denominators = [30, 70, 45, 55, 60, 40, 52, 48, 65, 35], [1000] * 10
    sd = math.sqrt(0.05 * 0.95 / 1000)
    z = sorted((x / 1000 - 0.05) / sd for x in numerators)
    z = [min(max(v, z[1]), z[-2]) for v in z]  # 10 % winsorised at each end
    assert stats.overdispersion(numerators, denominators, 0.05) == pytest.approx(sum(v * v for v in z) / 10)
    assert stats.overdispersion(numerators, denominators, 0.05) > 1


def test_audit_sample_size():
    assert stats.sample_size(0.5, 0.05) == 385
    assert stats.sample_size(0.5, 0.05, population=500) == 218
    assert stats.sample_size(0.9, 0.1) == 35
    with pytest.raises(ValueError):
        stats.sample_size(0.5, 0)


@pytest.mark.parametrize(("count", "low", "high"), [
    (0, 0.0, 3.6889), (1, 0.0253, 5.5716), (10, 4.7954, 18.3904), (25, 16.1786, 36.9049)])
def test_poisson_interval_gives_the_exact_garwood_limits(count, low, high):
    found = stats.poisson_interval(count)
    assert found == (pytest.approx(low, abs=1e-4), pytest.approx(high, abs=1e-4))


def test_poisson_interval_refuses_what_is_not_a_count():
    with pytest.raises(ValueError):
        stats.poisson_interval(-1)
    with pytest.raises(ValueError):
        stats.poisson_interval(2.5)
