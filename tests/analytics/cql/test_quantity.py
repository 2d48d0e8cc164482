"""CQL Quantity (App. B §1.8) and its UCUM conversion table."""

from decimal import Decimal

import pytest

from andon.analytics.cql.quantity import Quantity, compare, equal, equivalent


def q(value, unit="1"):
    return Quantity(Decimal(str(value)), unit)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (q(1, "kg"), q(1000, "g")),
        (q(5, "mg/dL"), q("0.05", "g/L")),
        (q("98.6", "[degF]"), q(37, "Cel")),
        (q(60, "{beats}/min"), q(60, "/min")),
        (q(1, "kg/m2"), q("0.1", "g/cm2")),
        (q(1, "[lb_av]"), q("453.59237", "g")),
        (q(12, "[in_i]"), q(1, "[ft_i]")),
        (q(1, "L"), q(10, "dL")),
        (q(1, "mm[Hg]"), q("133.322", "Pa")),
        (q(50, "%"), q("0.5", "1")),
        (q(7, "{score}"), q(7, "1")),
        (q(1, "mL/min/{1.73_m2}"), q("0.06", "L/h")),
    ],
)
def test_commensurable_units_compare_equal(left, right):
    assert equal(left, right) is True
    assert equal(right, left) is True
    assert equivalent(left, right) is True


def test_ordering_after_conversion():
    assert compare(q(999, "g"), q(1, "kg")) == -1
    assert compare(q(2, "kg"), q(1999, "g")) == 1
    assert compare(q(1, "h"), q(59, "min")) == 1


def test_incommensurable_units_are_null_for_equal_and_compare_but_false_for_equivalent():
    assert compare(q(1, "kg"), q(1, "m")) is None
    assert equal(q(1, "kg"), q(1, "m")) is None
    assert equivalent(q(1, "kg"), q(1, "m")) is False


def test_null_operands():
    assert equal(q(1, "kg"), None) is None
    assert equivalent(None, None) is True
    assert equivalent(q(1, "kg"), None) is False


def test_calendar_units_follow_cql_rules():
    # week..millisecond are the UCUM definite durations (CQL §2.7.1) ...
    assert equal(q(1, "week"), q(7, "d")) is True
    assert equal(q(2, "days"), q(48, "h")) is True
    assert equal(q(1, "minute"), q(60, "s")) is True
    assert equal(q(1, "millisecond"), q(1, "ms")) is True
    # ... but calendar year/month are not comparable with 'a'/'mo' or days.
    assert equal(q(1, "year"), q(1, "a")) is None
    assert equal(q(1, "month"), q(1, "mo")) is None
    assert equal(q(1, "year"), q(365, "days")) is None
    assert equal(q(1, "year"), q(12, "months")) is True
    assert equal(q(3, "days"), q(3, "day")) is True


def test_identical_unknown_units_compare_without_the_table():
    assert equal(q(3, "{drinks}/wk"), q(3, "{drinks}/wk")) is True
    assert equal(q(3, "[foo]"), q(4, "[foo]")) is False


def test_unknown_unit_raises_naming_the_unit_when_converting():
    with pytest.raises(ValueError, match=r"\[foo\]"):
        equal(q(1, "[foo]"), q(1, "g"))
    with pytest.raises(ValueError, match="furlong"):
        q(1, "g").convert("furlong")


def test_convert():
    assert q(1, "kg").convert("g") == q(1000, "g")
    assert q(1, "mo").convert("d") == q("30.4375", "d")
    assert q(37, "Cel").convert("[degF]") == q("98.6", "[degF]")
    assert q(1, "kg").convert("m") is None


def test_equivalence_rounds_to_the_less_precise_value():
    assert equivalent(q(1, "kg"), q(1001, "g")) is True  # 1.001 kg rounded to 0 places
    # 1.0: the trailing zero does not count as precision
    assert equivalent(q("1.0", "kg"), q(1400, "g")) is True
    assert equivalent(q("1.00", "kg"), q(1400, "g")) is True
    assert equivalent(q("1.5", "kg"), q(1400, "g")) is False
    assert equal(q(1, "kg"), q(1001, "g")) is False


def test_addition_and_subtraction_convert_to_the_left_unit():
    assert q(1, "kg") + q(500, "g") == q("1.5", "kg")
    assert q(1, "h") - q(30, "min") == q("0.5", "h")
    assert q(1, "kg") + q(1, "m") is None


def test_multiplication_and_division_combine_units():
    area = q(2, "m") * q(3, "m")
    assert area.value == 6 and equal(area, q(6, "m2"))
    assert q(6, "mg") / q(2, "dL") == q(3, "mg/dL")
    assert q(6, "kg") / q(3, "kg") == q(2, "1")
    assert q(6, "kg") / q(0, "kg") is None
    assert q(6, "kg") * 2 == q(12, "kg")
    ratio = q(10, "mg") / q(2, "mg/dL")
    assert ratio.unit == "mg/(mg/dL)" and equal(ratio, q(5, "dL"))
    bmi = q(80, "kg") / (q(2, "m") * q(2, "m"))
    assert equal(bmi, q(20, "kg/m2"))


def test_calendar_units_in_unit_algebra_use_ucum_symbols():
    assert (q(10, "mg") / q(1, "day")).unit == "mg/d"


@pytest.mark.parametrize(("unit", "message"), [
    ("10*999999999", "exponent 999999999 is out of range"),  # 10 to the billionth: a billion digits
    ("m999999999", "exponent 999999999 is out of range"),
    ("m-999999", "exponent -999999 is out of range"),
    ("(" * 3000 + "m" + ")" * 3000, "6001 characters"),  # recursive descent, a frame per parenthesis
    ("10*30." * 200 + "m", "1201 characters"),
])
def test_units_from_the_data_are_bounded(unit, message):
    """A unit comes from the patient's data (Quantity.code): its size and exponents are bounded
    before any arithmetic."""
    with pytest.raises(ValueError, match=message):
        equal(q(1, unit), q(1, "m"))
