"""CQL Interval operators (App. B §5), three-valued, with null boundaries."""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from andon.analytics.cql import interval as iv
from andon.analytics.cql.interval import Interval as I
from andon.analytics.cql.quantity import Quantity


def open_high(low, high):
    return I(low, high, True, False)


def open_low(low, high):
    return I(low, high, False, True)


# --- null boundaries --------------------------------------------------------------


def test_open_null_high_is_unknown():
    assert iv.contains(open_high(1, None), 5) is None
    # the unknown end is at least the start
    assert iv.contains(open_high(1, None), 1) is True
    assert iv.contains(open_high(1, None), 0) is False


def test_closed_null_high_is_the_maximum():
    assert iv.contains(I(1, None), 5) is True
    assert iv.contains(I(None, 5), -1000) is True
    assert iv.end(I(1, None)) == 2**31 - 1
    assert iv.start(I(None, 5)) == -(2**31)


def test_open_null_low_is_unknown_but_bounded_by_the_high():
    assert iv.contains(open_low(None, 5), 10) is False
    assert iv.contains(open_low(None, 5), 3) is None
    assert iv.start(open_low(None, 5)) is None


def test_null_arguments():
    assert iv.contains(None, 5) is False
    assert iv.contains(I(1, 5), None) is None
    assert iv.in_(None, I(1, 5)) is None
    assert iv.in_(5, None) is False
    assert iv.overlaps(None, I(1, 5)) is None
    assert iv.equal(I(1, 5), None) is None
    assert iv.equivalent(None, None) is True
    assert iv.equivalent(I(1, 5), None) is False


# --- membership -------------------------------------------------------------------


def test_contains_respects_open_and_closed_boundaries():
    assert iv.contains(open_high(1, 5), 5) is False
    assert iv.contains(open_high(1, 5), 4) is True
    assert iv.contains(open_low(1, 5), 1) is False
    assert (
        iv.contains(I(Decimal("1.0"), Decimal("2.0"), False, False), Decimal("1.5"))
        is True
    )
    assert iv.contains(I("a", "c", False, False), "a") is False
    assert iv.contains(I("a", "c"), "b") is True


def test_proper_contains_excludes_the_boundaries():
    assert iv.proper_contains(I(1, 5), 1) is False
    assert iv.proper_contains(I(1, 5), 3) is True
    assert iv.proper_in(5, I(1, 5)) is False


def test_includes_and_proper_includes():
    assert iv.includes(I(1, 10), I(1, 10)) is True
    assert iv.proper_includes(I(1, 10), I(1, 10)) is False
    assert iv.proper_includes(I(1, 10), I(2, 10)) is True
    assert iv.includes(I(1, 10), I(5, 11)) is False
    assert iv.included_in(I(3, 4), I(1, 10)) is True
    assert iv.proper_included_in(I(1, 10), I(1, 10)) is False
    # [1, 10) is [1, 9] for integers
    assert iv.includes(open_high(1, 10), I(1, 9)) is True
    assert iv.includes(I(1, 10), open_high(5, None)) is None


# --- relative position ------------------------------------------------------------


def test_overlaps_at_a_shared_closed_point():
    assert iv.overlaps(I(1, 5), I(5, 10)) is True
    assert iv.overlaps(open_high(1, 5), I(5, 10)) is False
    assert iv.overlaps(I("a", "m", True, False), I("m", "z")) is False
    assert iv.overlaps(I("a", "m"), I("m", "z")) is True


def test_overlaps_before_and_after():
    assert iv.overlaps_before(I(1, 5), I(3, 10)) is True
    assert iv.overlaps_before(I(3, 10), I(1, 5)) is False
    assert iv.overlaps_after(I(3, 10), I(1, 5)) is True
    assert iv.overlaps_after(I(1, 5), I(3, 10)) is False


def test_meets_uses_successor_for_integers():
    assert iv.meets(I(1, 4), I(5, 10)) is True
    assert iv.meets_before(I(1, 4), I(5, 10)) is True
    assert iv.meets_after(I(5, 10), I(1, 4)) is True
    assert iv.meets(open_high(1, 5), I(5, 10)) is True  # [1, 5) is [1, 4]
    assert iv.meets(I(1, 5), I(5, 10)) is False  # they overlap at 5
    assert iv.meets(I(1, 3), I(5, 10)) is False  # gap at 4
    assert (
        iv.meets(I(Decimal(1), Decimal("1.99999999")), I(Decimal(2), Decimal(3)))
        is True
    )


def test_meets_for_strings_uses_open_boundaries():
    assert iv.meets(I("a", "m", True, False), I("m", "z")) is True
    assert iv.meets(I("a", "m", True, False), I("m", "z", False, True)) is False


def test_starts_and_ends():
    assert iv.starts(I(1, 5), I(1, 10)) is True
    assert iv.starts(I(1, 11), I(1, 10)) is False
    assert iv.ends(I(5, 10), I(1, 10)) is True
    assert iv.ends(I(0, 10), I(1, 10)) is False


def test_before_and_after_intervals_and_points():
    assert iv.before(I(1, 4), I(5, 10)) is True
    assert iv.before(I(1, 5), I(5, 10)) is False
    assert iv.before(open_high(1, 5), I(5, 10)) is True
    assert iv.after(I(5, 10), I(1, 4)) is True
    assert iv.before(I(1, 4), 5) is True
    assert iv.before(3, I(4, 10)) is True
    assert iv.after(I(4, 10), 4) is False
    assert iv.after(I(1, 10), open_high(None, None)) is None  # unknown boundaries


# --- equality ----------------------------------------------------------------------


def test_equal_normalises_integer_boundaries():
    assert iv.equal(open_high(1, 5), I(1, 4)) is True
    assert iv.equal(open_low(0, 4), I(1, 4)) is True
    assert iv.equal(I(1, 5), I(1, 6)) is False
    assert iv.equal(open_high(1, None), open_high(1, None)) is None
    assert iv.equivalent(open_high(1, None), open_high(1, None)) is True


def test_quantity_intervals_convert_units():
    kilograms = I(Quantity(1, "kg"), Quantity(2, "kg"))
    assert iv.contains(kilograms, Quantity(1500, "g")) is True
    assert iv.contains(kilograms, Quantity(1, "m")) is None
    assert iv.equivalent(kilograms, I(Quantity(1000, "g"), Quantity(2000, "g"))) is True


# --- start, end, width, size -------------------------------------------------------


def test_start_end_apply_closedness():
    assert iv.start(open_low(1, 5)) == 2
    assert iv.end(open_high(1, 5)) == 4
    assert iv.start(I(Decimal(1), Decimal(2), False, False)) == Decimal("1.00000001")
    assert iv.end(I(Decimal(1), Decimal(2), False, False)) == Decimal("1.99999999")
    assert iv.start(I("a", "b", False, True)) is None  # strings have no successor
    assert iv.start(None) is None


def test_width_and_size():
    assert iv.width(I(1, 5)) == 4
    assert iv.size(I(1, 5)) == 5
    assert iv.width(open_high(1, 5)) == 3
    assert iv.width(I(Decimal("1.5"), Decimal(3))) == Decimal("1.5")
    assert iv.size(I(Decimal("1.5"), Decimal(3))) == Decimal("1.50000001")
    assert iv.width(open_high(1, None)) is None


# --- union, intersect, except, collapse, expand ------------------------------------


def test_union():
    assert iv.union(I(1, 5), I(3, 10)) == I(1, 10)
    assert iv.union(I(1, 4), I(5, 10)) == I(1, 10)  # meeting intervals
    assert iv.union(I(1, 3), I(5, 10)) is None  # a gap: not one interval
    assert iv.union(I(1, 5), None) is None


def test_intersect():
    assert iv.intersect(I(1, 10), I(5, 20)) == I(5, 10)
    assert iv.intersect(I(1, 4), I(5, 10)) is None
    assert iv.intersect(I(1, 10), open_high(5, None)) == open_high(5, None)


def test_except():
    assert iv.except_(I(1, 10), I(5, 20)) == I(1, 4)
    assert iv.except_(I(1, 10), I(-5, 3)) == I(4, 10)
    assert iv.except_(I(1, 10), I(20, 30)) == I(1, 10)
    assert iv.except_(I(1, 10), I(3, 5)) is None  # two pieces
    assert iv.except_(I(3, 5), I(1, 10)) is None  # nothing left
    assert iv.except_(I("a", "z"), I("m", "zz")) == I("a", "m", True, False)


def test_collapse_merges_overlapping_and_adjacent_integer_intervals():
    collapsed = iv.collapse([I(7, 9), I(1, 3), None, I(4, 6), I(2, 5), I(11, 12)])
    assert collapsed == [I(1, 9), I(11, 12)]
    assert iv.collapse([]) == []
    assert iv.collapse(None) is None
    assert iv.collapse([open_high(1, 5), I(5, 7)]) == [I(1, 7)]


def test_expand_integer_intervals():
    assert iv.expand([I(1, 3), I(2, 4)]) == [I(1, 1), I(2, 2), I(3, 3), I(4, 4)]
    assert iv.expand([I(1, 10)], per=3) == [I(1, 3), I(4, 6), I(7, 9)]
    assert iv.expand([open_high(1, 3)]) == [I(1, 1), I(2, 2)]
    assert iv.expand([I(1, None)]) is None


# --- the comparison protocol -------------------------------------------------------


@dataclass(frozen=True)
class FuzzyDay:
    """A stand-in for a temporal type: day numbers, uncertain when marked partial."""

    day: int
    partial: bool = False

    def compare(self, other: "FuzzyDay", precision=None) -> int | None:
        if (self.partial or other.partial) and precision != "coarse":
            return None
        return (self.day > other.day) - (self.day < other.day)

    def successor(self) -> "FuzzyDay":
        return FuzzyDay(self.day + 1, self.partial)

    def predecessor(self) -> "FuzzyDay":
        return FuzzyDay(self.day - 1, self.partial)


def test_duck_typed_points_and_precision_pass_through():
    period = I(FuzzyDay(1), FuzzyDay(10))
    assert iv.contains(period, FuzzyDay(5)) is True
    assert iv.contains(period, FuzzyDay(5, partial=True)) is None
    assert iv.contains(period, FuzzyDay(5, partial=True), precision="coarse") is True
    assert iv.meets(I(FuzzyDay(1), FuzzyDay(4)), I(FuzzyDay(5), FuzzyDay(9))) is True
    assert iv.end(I(FuzzyDay(1), FuzzyDay(4), True, False)) == FuzzyDay(3)


def test_unknown_point_types_are_refused():
    with pytest.raises(TypeError):
        iv.contains(I(object(), object()), object())


# --- property ----------------------------------------------------------------------

_points = st.integers(min_value=-50, max_value=50)


@st.composite
def integer_intervals(draw):
    low, high = sorted((draw(_points), draw(_points)))
    return I(
        low,
        high,
        draw(st.booleans()) or low == high,
        draw(st.booleans()) or low == high,
    )


@given(integer_intervals(), integer_intervals())
def test_intersection_is_included_in_both(left, right):
    common = iv.intersect(left, right)
    if common is None:
        assert iv.overlaps(left, right) is False
    else:
        assert iv.included_in(common, left) is True
        assert iv.included_in(common, right) is True
        points = set(range(common.low, common.high + 1))
        assert all(
            iv.contains(left, p) and iv.contains(right, p)
            for p in points
            if iv.contains(common, p)
        )
