"""CQL 1.5 temporal types: expected values from the specification's semantics (section 22.22,
Appendix H), not from this implementation."""

import datetime as py
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from andon.analytics.cql.temporal import (
    Date,
    DateTime,
    Time,
    Uncertainty,
    add,
    after,
    before,
    compare,
    component,
    date_from,
    difference_between,
    duration_between,
    equal,
    equivalent,
    greater,
    less,
    less_or_equal,
    same_as,
    same_or_after,
    same_or_before,
    subtract,
    time_from,
    to_date,
    to_datetime,
)

dt = DateTime.parse
d = Date.parse


# --- parsing and printing

def test_parse_full_datetime_with_negative_offset():
    value = dt("2024-01-15T10:30:00-04:00")
    assert value == DateTime(2024, 1, 15, 10, 30, 0, None, Decimal(-4))
    assert value.precision == "second"


@pytest.mark.parametrize("text, precision", [
    ("2024", "year"), ("2024-03", "month"), ("2024-03-05", "day"), ("2024-03-05T10", "hour"),
    ("2024-03-05T10:30", "minute"), ("2024-03-05T10:30:15", "second"),
    ("2024-03-05T10:30:15.250Z", "millisecond"), ("@2024-03-05T", "day"),
])
def test_partial_datetimes_have_their_precision(text, precision):
    assert dt(text).precision == precision


def test_offsets_z_half_hours_and_positive():
    assert dt("2024-01-01T00:00Z").offset == 0
    assert dt("2024-01-01T00:00+05:30").offset == Decimal("5.5")
    assert dt("2024-01-01T00:00+10:00").offset == 10
    assert dt("2024-01-01T00:00").offset is None


def test_fraction_digits_beyond_milliseconds_are_truncated():
    assert dt("2024-01-01T00:00:00.5").millisecond == 500
    assert dt("2024-01-01T00:00:00.1239").millisecond == 123


def test_date_and_time_parse_including_elm_literal_forms():
    assert d("2024-03") == Date(2024, 3)
    assert Time.parse("T10:30") == Time(10, 30)
    assert Time.parse("@T10:30:00.000") == Time(10, 30, 0, 0)
    assert Time.parse("14").precision == "hour"


@pytest.mark.parametrize("parse, text", [
    (dt, "2024-13-01"), (dt, "2024-02-30"), (dt, "24-01-01"), (dt, "2024-01-01 10:00"),
    (dt, "2024-03T10"), (dt, "2024-01-01T25:00"), (dt, "2024-01-01T10:00+15:00"),
    (d, "2024-01-01T10"), (d, ""), (Time.parse, "10:61"), (Time.parse, "noon"),
])
def test_malformed_text_raises_value_error_naming_the_text(parse, text):
    with pytest.raises(ValueError) as error:
        parse(text)
    assert repr(text) in str(error.value)


def test_gaps_in_components_are_refused():
    with pytest.raises(ValueError):
        DateTime(2024, None, 5)


@pytest.mark.parametrize("text", [
    "2024", "2024-03", "2024-03-05", "2024-03-05T10", "2024-03-05T10:30-04:00",
    "2024-03-05T10:30:15.007+05:30", "2024-03-05T10:30:15Z",
])
def test_str_is_the_iso_form_at_the_values_precision(text):
    assert str(dt(text)) == text


def test_str_of_date_and_time():
    assert str(Date(2024, 3)) == "2024-03"
    assert str(Time(9, 5, 0, 10)) == "09:05:00.010"


def test_values_are_immutable():
    with pytest.raises(AttributeError):
        Date(2024).year = 2025


def test_from_python_keeps_the_offset():
    now = py.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=py.timezone(py.timedelta(hours=-4)))
    assert DateTime.from_python(now) == DateTime(2024, 5, 1, 12, 0, 0, 123, Decimal(-4))


# --- comparison

def test_month_against_day_precision_is_uncertain_for_equal():
    assert compare(d("2012-01"), d("2012-01-15")) is None
    assert equal(d("2012-01"), d("2012-01-15")) is None
    assert less(d("2012-01"), d("2012-01-15")) is None


def test_ranges_that_do_not_overlap_decide_before_and_after():
    assert before(d("2012-01"), d("2012-02-15")) is True
    assert after(d("2012-01"), d("2012-02-15")) is False
    assert less(d("2012-01"), d("2012-02-15")) is True
    assert greater(d("2012-03"), d("2012-02-15")) is True


def test_comparison_at_a_precision_ignores_finer_components():
    assert same_as(d("2012-01"), d("2012-01-15"), "month") is True
    assert same_as(dt("2012-01-15T10:00"), dt("2012-01-15T23:59"), "day") is True
    assert same_or_before(d("2012-01"), d("2012-01-15"), "day") is None
    assert same_or_after(d("2012-02"), d("2012-01-15"), "day") is True


def test_null_propagates():
    assert equal(None, d("2012-01")) is None
    assert same_as(d("2012"), None, "year") is None
    assert less_or_equal(None, None) is None


def test_timezone_normalisation():
    assert equal(dt("2024-01-01T00:00-05:00"), dt("2024-01-01T05:00Z")) is True
    assert less(dt("2024-01-01T00:00+10:00"), dt("2023-12-31T15:00Z")) is True
    assert equal(dt("2024-01-01T05:30+05:30"), dt("2024-01-01T00:00Z")) is True


def test_missing_offset_takes_the_default_offset():
    local = dt("2024-01-01T00:00")
    assert equal(local, dt("2024-01-01T00:00Z")) is True
    assert equal(local, dt("2024-01-01T05:00Z"), default_offset=-5) is True


def test_seconds_and_milliseconds_compare_as_one_decimal():
    assert equal(dt("2024-01-01T10:00:00"), dt("2024-01-01T10:00:00.000")) is True
    assert less(dt("2024-01-01T10:00:00"), dt("2024-01-01T10:00:00.001")) is True
    # the rule holds for the "same" operators too (cql-execution 3.3.2 gives null here)
    assert same_or_after(dt("2025-02-27T14:40:00Z"), dt("2025-02-27T14:40:00.000Z")) is True
    assert same_or_before(dt("2025-02-27T14:40:00Z"), dt("2025-02-27T14:40:00.000Z")) is True


def test_equivalence_is_false_on_differing_precision():
    assert equivalent(d("2012-01"), d("2012-01-15")) is False
    assert equivalent(d("2012-01"), d("2012-01")) is True
    assert equivalent(dt("2024-01-01T00:00-05:00"), dt("2024-01-01T05:00Z")) is True
    assert equivalent(None, None) is True
    assert equivalent(None, d("2012")) is False


def test_time_comparison():
    assert less(Time(10, 30), Time(11)) is True
    assert equal(Time(10), Time(10, 30)) is None


# --- arithmetic

def test_adding_months_clamps_to_the_months_end():
    assert add(d("2024-01-31"), 1, "month") == d("2024-02-29")
    assert add(d("2023-01-31"), 1, "month") == d("2023-02-28")
    assert add(d("2024-02-29"), 1, "year") == d("2025-02-28")
    assert subtract(d("2024-03-31"), 1, "month") == d("2024-02-29")


def test_finer_quantity_is_converted_to_the_values_precision_by_truncation():
    assert add(dt("2014"), 24, "months") == dt("2016")
    assert add(dt("2014"), 25, "months") == dt("2016")
    assert add(d("2014-01"), 6, "weeks") == d("2014-02")  # 42 days: one 30-day month
    assert add(dt("2014-01-01T10"), 90, "minutes") == dt("2014-01-01T11")


def test_fractions_ignored_above_seconds():
    assert add(dt("2014"), Decimal("1.5"), "years") == dt("2015")
    assert add(dt("2014-01-01T00:00:00.000"), Decimal("1.5"), "seconds") == \
        dt("2014-01-01T00:00:01.500")


def test_weeks_are_seven_days_and_days_cross_months():
    assert add(d("2024-02-26"), 1, "week") == d("2024-03-04")
    assert subtract(d("2024-03-01"), 1, "day") == d("2024-02-29")


def test_datetime_arithmetic_keeps_the_offset_and_precision():
    assert add(dt("2024-12-31T23:30-04:00"), 1, "hour") == dt("2025-01-01T00:30-04:00")


def test_time_wraps_around_midnight():
    assert add(Time(23, 30), 1, "hour") == Time(0, 30)
    assert subtract(Time(0, 15), 30, "minutes") == Time(23, 45)


def test_arithmetic_errors_and_nulls():
    assert add(None, 1, "day") is None
    assert add(d("2024"), None, "day") is None
    with pytest.raises(ValueError):
        add(d("9999-12-31"), 1, "day")
    with pytest.raises(ValueError):
        add(Time(10), 1, "day")
    with pytest.raises(ValueError):
        add(d("2024"), 1, "fortnight")


@given(st.dates(min_value=py.date(1, 1, 1), max_value=py.date(9999, 12, 31)),
       st.integers(min_value=-20_000, max_value=20_000))
def test_adding_then_subtracting_days_returns_the_original(date, days):
    value = Date(date.year, date.month, date.day)
    try:
        shifted = add(value, days, "days")
    except ValueError:  # out of years 1..9999
        return
    assert subtract(shifted, days, "days") == value


# --- duration and difference

def test_duration_in_years_with_uncertainty():
    assert duration_between(d("2000"), d("2010-06-15"), "years") == Uncertainty(9, 10)
    assert duration_between(dt("2005-05"), dt("2010-04"), "years") == 4


def test_duration_counts_whole_periods_including_time():
    assert duration_between(d("2012-03-10"), d("2013-03-10"), "years") == 1
    assert duration_between(dt("2012-03-10T10:20:00"), dt("2013-03-10T09:20:00"), "years") == 0
    assert duration_between(d("2024-01-31"), d("2024-02-29"), "months") == 0
    assert duration_between(dt("2012-01-01T23:00"), dt("2012-01-02T01:00"), "days") == 0
    assert duration_between(d("2013-03-10"), d("2012-03-10"), "years") == -1


def test_difference_counts_boundaries_crossed():
    assert difference_between(d("2023-12-31"), d("2024-01-01"), "years") == 1
    assert duration_between(d("2023-12-31"), d("2024-01-01"), "years") == 0
    assert difference_between(dt("2012-01-01T23:00"), dt("2012-01-02T01:00"), "days") == 1
    assert difference_between(d("2024-01-31"), d("2024-02-01"), "months") == 1


def test_difference_in_weeks_uses_sunday_boundaries():
    # 2024-02-29 is a Thursday; 2024-03-03 is the next Sunday.
    assert difference_between(d("2024-02-29"), d("2024-03-04"), "weeks") == 1
    assert duration_between(d("2024-02-29"), d("2024-03-04"), "weeks") == 0


def test_difference_uncertain_when_precision_is_missing():
    assert difference_between(d("2012"), d("2012-06-15"), "months") == Uncertainty(-6, 5)
    assert difference_between(d("2012"), d("2014-06-15"), "years") == 2


def test_duration_and_difference_normalise_offsets():
    assert duration_between(dt("2024-01-01T00:00-05:00"), dt("2024-01-01T06:00Z"), "hours") == 1
    assert difference_between(dt("2023-12-31T22:00-05:00"), dt("2024-01-01T03:00Z"),
                              "days") == 0


def test_duration_nulls_and_time_values():
    assert duration_between(None, d("2024"), "years") is None
    assert duration_between(Time(10), Time(12, 30), "minutes") == Uncertainty(91, 150)
    assert duration_between(Time(10, 0), Time(12, 30), "minutes") == 150
    with pytest.raises(ValueError):
        duration_between(d("2024-01-01"), d("2024-01-02"), "hours")


# --- conversions and components

def test_conversions():
    assert to_datetime(d("2024-03-05")) == DateTime(2024, 3, 5)
    assert to_datetime(None) is None
    value = dt("2024-03-05T10:30:15.250-04:00")
    assert date_from(value) == d("2024-03-05")
    assert to_date(value) == d("2024-03-05")
    assert time_from(value) == Time(10, 30, 15, 250)
    assert time_from(dt("2024-03-05")) is None


def test_components():
    value = dt("2024-03-05T10:30-04:00")
    assert component(value, "year") == 2024
    assert component(value, "minute") == 30
    assert component(value, "second") is None
    assert component(value, "timezoneoffset") == Decimal(-4)
    assert component(Time(9), "hour") == 9
    with pytest.raises(ValueError):
        component(d("2024"), "hour")


def test_float_offsets_are_kept_exactly_as_decimals():
    assert DateTime(2024, 1, 1, 0, offset=5.5).offset == Decimal("5.5")
    assert str(DateTime(2024, 1, 1, 0, offset=-3.75)) == "2024-01-01T00-03:45"


def test_non_text_is_a_type_error():
    with pytest.raises(TypeError):
        DateTime.parse(20240101)
