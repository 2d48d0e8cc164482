"""ELM date, time and interval operators against the CQL 1.5 specification (§18, §19, §22)."""

from __future__ import annotations

import pytest

from andon.analytics.cql.evaluator import EvaluationError

from .elm_builders import *  # the ELM builders are the vocabulary of these tests

# -- date and time (§18, §22) --------------------------------------------------------------------


def test_timezone_normalisation():
    """§22.11: DateTimes with different offsets compare as instants."""
    minus5 = dt(2024, 1, 1, 0, 0, 0, 0, tz="-5.0")
    utc = dt(2024, 1, 1, 5, 0, 0, 0, tz="0.0")
    assert evaluate(op("Equal", minus5, utc)) is True
    assert evaluate(op("Less", minus5, dt(2024, 1, 1, 4, 59, 0, 0, tz="0.0"))) is False


def test_same_as_day_across_offsets():
    """§22.24 SameAs with precision Day, after offset normalisation (23:00-05:00 is 04:00Z next day)."""
    late = dt(2024, 1, 1, 23, 0, 0, 0, tz="-5.0")
    assert evaluate(op("SameAs", late, dt(2024, 1, 2, 10, 0, 0, 0, tz="0.0"), precision="Day")) is True
    assert evaluate(op("SameAs", dt(2024, 1, 1, 1, tz="0.0"), dt(2024, 1, 1, 23, tz="0.0"), precision="Day")) is True
    assert evaluate(op("SameAs", dt(2024, 1, 1), dt(2024, 1, 2), precision="Day")) is False


def test_same_or_before_day():
    assert evaluate(op("SameOrBefore", dt(2024, 1, 2, 22), dt(2024, 1, 2, 1), precision="Day")) is True
    assert evaluate(op("SameOrBefore", dt(2024, 1, 3, 0), dt(2024, 1, 2, 23), precision="Day")) is False
    assert evaluate(op("SameOrBefore", dt(2024, 1), dt(2024, 1, 5), precision="Day")) is None


def test_duration_between_years_months_days():
    """§22.7 DurationBetween: whole calendar periods."""
    assert evaluate(op("DurationBetween", dt(2000, 3, 15), dt(2024, 3, 14), precision="Year")) == 23
    assert evaluate(op("DurationBetween", dt(2000, 3, 15), dt(2024, 3, 15), precision="Year")) == 24
    assert evaluate(op("DurationBetween", dt(2024, 1, 15), dt(2024, 3, 14), precision="Month")) == 1
    assert evaluate(op("DurationBetween", dt(2024, 1, 1), dt(2024, 3, 1), precision="Day")) == 60
    assert evaluate(op("DurationBetween", dt(2024, 3, 1), dt(2024, 1, 1), precision="Day")) == -60


def test_difference_between_counts_boundaries():
    """§22.6 DifferenceBetween: boundaries crossed, not whole periods."""
    assert evaluate(op("DifferenceBetween", dt(2023, 12, 31), dt(2024, 1, 1), precision="Year")) == 1
    assert evaluate(op("DurationBetween", dt(2023, 12, 31), dt(2024, 1, 1), precision="Year")) == 0
    assert evaluate(op("DifferenceBetween", dt(2024, 1, 31), dt(2024, 2, 1), precision="Month")) == 1
    assert evaluate(op("DifferenceBetween", dt(2024, 1, 1, 23), dt(2024, 1, 2, 1), precision="Day")) == 1
    assert evaluate(op("DurationBetween", dt(2024, 1, 1, 23), dt(2024, 1, 2, 1), precision="Day")) == 0


def test_calculate_age_at_from_birth_date():
    """§22.3 CalculateAgeAt: whole years from the birth date to the as-of date."""
    as_of = dt(2024, 6, 1, 12, 0, 0, 0, tz="0.0")
    assert evaluate(op("CalculateAgeAt", date(2000, 6, 2), as_of, precision="Year")) == 23
    assert evaluate(op("CalculateAgeAt", date(2000, 6, 1), as_of, precision="Year")) == 24
    assert evaluate(op("CalculateAgeAt", date(2024, 5, 1), as_of, precision="Month")) == 1
    assert evaluate(op("CalculateAgeAt", null_as("Date"), as_of, precision="Year")) is None


def test_uncertain_duration_compared_with_an_integer():
    """§22.7: years between a year-precision DateTime and 2024-06-01 is uncertain (23..24);
    comparing it decides only when the range does not straddle the number."""
    years = op("DurationBetween", dt(2000), dt(2024, 6, 1), precision="Year")
    assert evaluate(op("GreaterOrEqual", years, i(18))) is True
    assert evaluate(op("GreaterOrEqual", years, i(24))) is None
    assert evaluate(op("GreaterOrEqual", years, i(25))) is False
    assert evaluate(op("Less", years, i(18))) is False
    assert evaluate(op("Equal", years, i(30))) is False


def test_uncertain_duration_compared_with_its_range_bounds():
    """§22.7: a comparison true (or false) for every possible value is decided, even at the range's edge."""
    years = op("DurationBetween", dt(2000), dt(2024, 6, 1), precision="Year")
    assert evaluate(op("GreaterOrEqual", years, i(23))) is True
    assert evaluate(op("Less", years, i(23))) is False
    assert evaluate(op("LessOrEqual", years, i(24))) is True
    assert evaluate(op("Greater", years, i(24))) is False


# -- intervals (§19) ----------------------------------------------------------------------------


def test_in_with_closed_and_open_boundaries():
    """§19.14 In."""
    assert evaluate(op("In", i(3), ivl(i(1), i(3)))) is True
    assert evaluate(op("In", i(3), ivl(i(1), i(3), high_closed=False))) is False
    assert evaluate(op("In", i(1), ivl(i(1), i(5), low_closed=False))) is False
    assert evaluate(op("In", i(2), ivl(i(1), i(5), low_closed=False))) is True
    assert evaluate(op("In", null_as("Integer"), ivl(i(1), i(5)))) is None


def test_in_with_precision_day():
    """§19.14 In with precision: only the components up to Day are compared."""
    period = ivl(dt(2024, 1, 1, 0, 0, 0, 0), dt(2024, 1, 31, 0, 0, 0, 0))
    point = dt(2024, 1, 31, 10, 0, 0, 0)
    assert evaluate(op("In", point, period, precision="Day")) is True
    assert evaluate(op("In", point, period)) is False
    assert evaluate(op("In", dt(2024, 2, 1, 0, 0, 0, 0), period, precision="Day")) is False


def test_open_null_high_boundary_is_unknown():
    """§19.1: an open null boundary is unknown, so a point after the low is null;
    a closed null boundary is unbounded, so it is true."""
    assert evaluate(op("In", i(10), ivl(i(5), null_as("Integer"), high_closed=False))) is None
    assert evaluate(op("In", i(10), ivl(i(5), null_as("Integer"), high_closed=True))) is True
    assert evaluate(op("In", i(3), ivl(i(5), null_as("Integer"), high_closed=False))) is False


def test_included_in():
    """§19.13 IncludedIn."""
    assert evaluate(op("IncludedIn", ivl(i(2), i(3)), ivl(i(1), i(5)))) is True
    assert evaluate(op("IncludedIn", ivl(i(2), i(6)), ivl(i(1), i(5)))) is False
    assert evaluate(op("IncludedIn", ivl(i(1), i(5)), ivl(i(1), i(5)))) is True


def test_overlaps_and_overlaps_after():
    """§19.20–19.22: overlaps after means overlapping and ending after the other."""
    assert evaluate(op("Overlaps", ivl(i(1), i(5)), ivl(i(5), i(10)))) is True
    assert evaluate(op("Overlaps", ivl(i(1), i(5), high_closed=False), ivl(i(5), i(10)))) is False
    assert evaluate(op("Overlaps", ivl(i(1), i(4)), ivl(i(5), i(10)))) is False
    assert evaluate(op("OverlapsAfter", ivl(i(3), i(10)), ivl(i(1), i(5)))) is True
    assert evaluate(op("OverlapsAfter", ivl(i(1), i(4)), ivl(i(3), i(5)))) is False


def test_start_and_end_of_open_integer_intervals():
    """§19.29 Start / §19.9 End: an open boundary's successor/predecessor."""
    assert evaluate(op("Start", ivl(i(1), i(5), low_closed=False))) == 2
    assert evaluate(op("End", ivl(i(1), i(5), high_closed=False))) == 4
    assert evaluate(op("Start", ivl(null_as("Integer"), i(5)))) == -(2**31)
    assert evaluate(op("End", ivl(i(1), null_as("Integer")))) == 2**31 - 1
    assert evaluate(op("Start", ivl(null_as("Integer"), i(5), low_closed=False))) is None


def test_list_union_intersect_except_have_no_duplicates():
    """§20.29 Union, §20.14 Intersect, §20.8 Except on lists."""
    assert evaluate(op("Union", lst(i(1), i(2), i(2), i(3)), lst(i(3), i(4)))) == [1, 2, 3, 4]
    assert evaluate(op("Intersect", lst(i(1), i(2), i(2), i(3)), lst(i(2), i(3), i(4)))) == [2, 3]
    assert evaluate(op("Except", lst(i(1), i(2), i(2), i(3)), lst(i(2)))) == [1, 3]


def test_interval_union_intersect_except():
    """§19.31 Union, §19.15 Intersect, §19.10 Except on intervals."""
    assert evaluate(op("Equal", op("Union", ivl(i(1), i(5)), ivl(i(4), i(8))), ivl(i(1), i(8)))) is True
    assert evaluate(op("Union", ivl(i(1), i(3)), ivl(i(5), i(8)))) is None
    assert evaluate(op("Equal", op("Intersect", ivl(i(1), i(5)), ivl(i(3), i(8))), ivl(i(3), i(5)))) is True
    assert evaluate(op("Equal", op("Except", ivl(i(1), i(10)), ivl(i(5), i(10))), ivl(i(1), i(4)))) is True
    assert evaluate(op("Except", ivl(i(1), i(10)), ivl(i(3), i(5)))) is None


def test_collapse_merges_overlapping_and_meeting():
    """§19.5 Collapse: overlapping or meeting intervals become one."""
    found = evaluate(op("Collapse", lst(ivl(i(1), i(5)), ivl(i(3), i(8)), ivl(i(10), i(12))), NULL))
    assert [(x.low, x.high) for x in found] == [(1, 8), (10, 12)]
    found = evaluate(op("Collapse", lst(ivl(i(6), i(8)), ivl(i(1), i(5))), NULL))
    assert [(x.low, x.high) for x in found] == [(1, 8)]


# --- Expand of date and time intervals (§19.10) ------------------------------------------------

def _expanded(intervals, per):
    result = evaluate(op("Expand", lst(*intervals), per))
    return None if result is None else [(str(x.low), str(x.high)) for x in result]


def test_expand_dates_per_day_week_and_month():
    assert _expanded([ivl(date(2018, 1, 1), date(2018, 1, 3))], qty(1, "day")) == [
        ("2018-01-01", "2018-01-01"), ("2018-01-02", "2018-01-02"), ("2018-01-03", "2018-01-03")]
    assert _expanded([ivl(date(2018, 1, 1), date(2018, 1, 21))], qty(1, "week")) == [
        ("2018-01-01", "2018-01-07"), ("2018-01-08", "2018-01-14"), ("2018-01-15", "2018-01-21")]
    # boundaries more precise than the per are truncated to it
    assert _expanded([ivl(date(2018, 1, 1), date(2018, 4, 29))], qty(1, "month")) == [
        ("2018-01", "2018-01"), ("2018-02", "2018-02"), ("2018-03", "2018-03"), ("2018-04", "2018-04")]


def test_expand_datetimes_per_hour_merges_overlaps_and_drops_a_partial_step():
    got = _expanded([ivl(dt(2018, 1, 1, 10, 0), dt(2018, 1, 1, 12, 30)), ivl(dt(2018, 1, 1, 11, 0), dt(2018, 1, 1, 13, 0))],
                    qty(1, "hour"))
    assert [low for low, high in got] == ["2018-01-01T10Z", "2018-01-01T11Z", "2018-01-01T12Z", "2018-01-01T13Z"]
    assert all(low == high for low, high in got)
    assert _expanded([ivl(date(2018, 1, 1), date(2018, 1, 5))], qty(2, "days")) == [
        ("2018-01-01", "2018-01-02"), ("2018-01-03", "2018-01-04")]


def test_expand_open_high_and_unknowable_cases():
    assert _expanded([ivl(date(2018, 1, 1), date(2018, 1, 4), high_closed=False)], qty(1, "day")) == [
        ("2018-01-01", "2018-01-01"), ("2018-01-02", "2018-01-02"), ("2018-01-03", "2018-01-03")]
    assert _expanded([ivl(date(2018, 1), date(2018, 3))], qty(1, "day")) is None  # months cannot be split into days
    assert _expanded([ivl(date(2018, 1, 1), null_as("Date"))], qty(1, "day")) is None
    assert _expanded([], qty(1, "day")) == []


def test_expand_times_per_hour_as_the_specification_shows():
    # expand { Interval[@T10:00, @T12:30] } per hour = { [@T10, @T10], [@T11, @T11], [@T12, @T12] }
    ten, half_past_twelve = ({"type": "Time", "hour": i(h), "minute": i(m)} for h, m in ((10, 0), (12, 30)))
    got = _expanded([ivl(ten, half_past_twelve)], qty(1, "hour"))
    assert got == [("10", "10"), ("11", "11"), ("12", "12")]


def test_expand_is_bounded_whatever_the_data():
    """An encounter from year 1 to 9999 expanded per day (as QICoreCommon's "Interval To Day
    Numbers" does with real periods) would build millions of intervals for one patient."""
    with pytest.raises(EvaluationError, match="Expand would give more than 100000 intervals"):
        _expanded([ivl(date(1, 1, 1), date(9999, 12, 31))], qty(1, "day"))
    with pytest.raises(EvaluationError, match="Expand would give more than 100000 intervals"):
        _expanded([ivl(dt(2020, 1, 1, 0, 0), dt(2020, 12, 31, 0, 0))], qty(1, "minute"))
    with pytest.raises(EvaluationError, match="Expand would give more than 100000 intervals"):
        evaluate(op("Expand", lst(ivl(i(1), i(2_000_000_000))), NULL))
    assert len(_expanded([ivl(date(2000, 1, 1), date(2009, 12, 31))], qty(1, "day"))) == 3653
