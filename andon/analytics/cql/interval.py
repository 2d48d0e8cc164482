"""CQL Interval runtime type and its operators (CQL 1.5, Appendix B §1.9 and §5 Interval
Operators; Author's Guide §2.8; Logical Specification "Interval" for null boundaries).

Point values are compared through a small protocol so that any ordered type works:
``compare_points(a, b, precision) -> -1 | 0 | 1 | None`` (None = uncertain, e.g. two
DateTimes of different precision). Built in: int, Decimal/float, str and Quantity; other
types either register a `PointType` or duck-type ``compare(other, precision)`` and,
for successor/predecessor, ``successor()``/``predecessor()`` methods (temporal types).

Null boundaries (Logical Specification, Interval): a closed null boundary is the minimum
(low) or maximum (high) of the point type; an open null boundary is unknown, an
uncertainty between the other boundary (inclusive) and the minimum/maximum. Operators
return three-valued results: True, False or None (CQL null).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cmp_to_key
from typing import Any

from andon.analytics.cql.quantity import DECIMAL_STEP, Quantity

Precision = Any  # passed through untouched to the point comparison (temporal precision)


# --- point types ------------------------------------------------------------------


@dataclass(frozen=True)
class PointType:
    """How to order (and, when discrete, step) the points of an interval."""

    compare: Callable[[Any, Any, Precision], int | None]
    successor: Callable[[Any], Any] | None = None
    predecessor: Callable[[Any], Any] | None = None
    minimum: Any = None
    maximum: Any = None


def _sign(number) -> int:
    return (number > 0) - (number < 0)


def _compare_ordered(a, b, precision=None) -> int | None:
    return _sign((a > b) - (a < b))


def _compare_quantities(a: Quantity, b: Quantity, precision=None) -> int | None:
    return a.compare(b)


INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1  # CQL Integer is 32-bit (App. B §1.4)
DECIMAL_MAX = Decimal(
    "99999999999999999999.99999999"
)  # App. B §1.5: 28 digits, 8 after the point
DECIMAL_MIN = -DECIMAL_MAX

_INTEGER = PointType(
    _compare_ordered, lambda v: v + 1, lambda v: v - 1, INTEGER_MIN, INTEGER_MAX
)
_DECIMAL = PointType(
    _compare_ordered,
    lambda v: v + DECIMAL_STEP,
    lambda v: v - DECIMAL_STEP,
    DECIMAL_MIN,
    DECIMAL_MAX,
)
_REGISTRY: dict[type, PointType] = {
    int: _INTEGER,
    Decimal: _DECIMAL,
    float: PointType(
        _compare_ordered,
        lambda v: v + 1e-8,
        lambda v: v - 1e-8,
        float(DECIMAL_MIN),
        float(DECIMAL_MAX),
    ),
    str: PointType(_compare_ordered),  # strings are ordered but have no successor
    Quantity: PointType(_compare_quantities, Quantity.successor, Quantity.predecessor),
}


def register_point_type(cls: type, point_type: PointType) -> None:
    """The hook for point types defined elsewhere (e.g. the temporal module)."""
    _REGISTRY[cls] = point_type


def point_type_of(value: Any) -> PointType:
    if isinstance(value, bool):
        raise TypeError("Boolean is not an ordered CQL point type")
    for cls in type(value).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls]
    if hasattr(value, "compare"):  # duck-typed: compare(other, precision)
        return PointType(
            lambda a, b, precision=None: a.compare(b, precision),
            getattr(type(value), "successor", None),
            getattr(type(value), "predecessor", None),
        )
    raise TypeError(
        f"no comparison known for interval points of type {type(value).__name__}"
    )


def compare_points(a: Any, b: Any, precision: Precision = None) -> int | None:
    """-1/0/1, or None when either is null or the order is uncertain."""
    if a is None or b is None:
        return None
    return point_type_of(a).compare(a, b, precision)


def successor(value: Any) -> Any:
    """CQL Successor (App. B §4.21): +1 for Integer, +1e-8 for Decimal, hook otherwise."""
    step = point_type_of(value).successor
    if step is None:
        raise TypeError(f"{type(value).__name__} has no successor")
    return step(value)


def predecessor(value: Any) -> Any:
    """CQL Predecessor (App. B §4.17)."""
    step = point_type_of(value).predecessor
    if step is None:
        raise TypeError(f"{type(value).__name__} has no predecessor")
    return step(value)


# --- the interval -----------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """CQL Interval<T> (App. B §1.9). low/high None: see the module docstring."""

    low: Any
    high: Any
    low_closed: bool = True
    high_closed: bool = True

    def __str__(self) -> str:
        opening = "[" if self.low_closed else "("
        closing = "]" if self.high_closed else ")"
        return f"Interval{opening}{self.low}, {self.high}{closing}"

    def point_type(self) -> PointType | None:
        sample = self.low if self.low is not None else self.high
        return None if sample is None else point_type_of(sample)


# Boundaries are compared as positions: a value plus an infinitesimal offset, so that an
# open bound of a type without successor (String) sits just inside its value. Discrete
# types (those with a successor) are first closed with successor/predecessor instead,
# which is how CQL makes [1, 5) equal [1, 4].
_VALUE, _MIN, _MAX, _UNKNOWN = "value", "min", "max", "unknown"
_ALL_SIGNS = frozenset((-1, 0, 1))
_LT, _LE, _EQ = frozenset((-1,)), frozenset((-1, 0)), frozenset((0,))
_GE, _GT = frozenset((0, 1)), frozenset((1,))


@dataclass(frozen=True)
class _Bound:
    kind: str
    value: Any = None
    offset: int = 0  # +1 just above value (open low), -1 just below (open high)
    side: str = "low"
    limit: _Bound | None = None  # unknown bounds: the interval's other boundary

    @property
    def closed(self) -> bool:
        return self.offset == 0


def _point(value: Any) -> _Bound:
    return _Bound(_VALUE, value)


def _make_bound(value: Any, closed: bool, side: str) -> _Bound:
    if value is None:
        if not closed:
            return _Bound(_UNKNOWN, side=side)
        return _Bound(_MIN if side == "low" else _MAX, side=side)
    if closed:
        return _Bound(_VALUE, value, 0, side)
    point_type = point_type_of(value)
    step = point_type.successor if side == "low" else point_type.predecessor
    if step is not None:
        return _Bound(_VALUE, step(value), 0, side)
    return _Bound(_VALUE, value, 1 if side == "low" else -1, side)


def _bounds(interval: Interval) -> tuple[_Bound, _Bound]:
    low = _make_bound(interval.low, interval.low_closed, "low")
    high = _make_bound(interval.high, interval.high_closed, "high")
    # An unknown boundary still lies on its own side of the other boundary.
    if low.kind == _UNKNOWN and high.kind != _UNKNOWN:
        low = _Bound(_UNKNOWN, side="low", limit=high)
    if high.kind == _UNKNOWN and low.kind != _UNKNOWN:
        high = _Bound(_UNKNOWN, side="high", limit=low)
    return low, high


def _order(a: _Bound, b: _Bound, precision: Precision) -> frozenset:
    """The possible signs of (a - b): one sign when known, several when uncertain."""
    if a.kind == _UNKNOWN:
        return _order_unknown(a, b, precision)
    if b.kind == _UNKNOWN:
        return frozenset(-sign for sign in _order_unknown(b, a, precision))
    if a.kind in (_MIN, _MAX) or b.kind in (_MIN, _MAX):
        return frozenset((_sign(_rank(a) - _rank(b)),))
    compared = compare_points(a.value, b.value, precision)
    signs = _ALL_SIGNS if compared is None else frozenset((compared,))
    return frozenset(sign if sign else _sign(a.offset - b.offset) for sign in signs)


def _rank(bound: _Bound) -> int:
    return {_MIN: -1, _MAX: 1}.get(bound.kind, 0)


def _order_unknown(unknown: _Bound, other: _Bound, precision: Precision) -> frozenset:
    if unknown.limit is None or other.kind == _UNKNOWN:
        return _ALL_SIGNS
    limit_signs = _order(unknown.limit, other, precision)
    if unknown.side == "high":  # unknown >= limit
        return frozenset(s for s in _ALL_SIGNS if s >= min(limit_signs))
    return frozenset(s for s in _ALL_SIGNS if s <= max(limit_signs))


def _holds(signs: frozenset, wanted: frozenset) -> bool | None:
    if signs <= wanted:
        return True
    if not signs & wanted:
        return False
    return None


def _and(*values: bool | None) -> bool | None:
    if any(value is False for value in values):
        return False
    return None if any(value is None for value in values) else True


def _or(*values: bool | None) -> bool | None:
    if any(value is True for value in values):
        return True
    return None if any(value is None for value in values) else False


def _not(value: bool | None) -> bool | None:
    return None if value is None else not value


# --- membership (App. B §5.3 Contains, §5.12 In, §5.20-5.23 Proper*) --------------


def contains(
    interval: Interval | None, point: Any, precision: Precision = None
) -> bool | None:
    """Contains: start <= point <= end. Null interval is false, null point is null."""
    return _between(interval, point, precision, _LE)


def in_(
    point: Any, interval: Interval | None, precision: Precision = None
) -> bool | None:
    """In: null point is null, null interval is false."""
    if point is None:
        return None
    return contains(interval, point, precision)


def proper_contains(
    interval: Interval | None, point: Any, precision: Precision = None
) -> bool | None:
    """ProperContains: start < point < end."""
    return _between(interval, point, precision, _LT)


def _between(interval: Interval | None, point: Any, precision: Precision, test) -> bool | None:
    """The point after the start and before the end by `test` (_LE or _LT)."""
    if interval is None:
        return False
    if point is None:
        return None
    low, high = _bounds(interval)
    at = _point(point)
    return _and(_holds(_order(low, at, precision), test), _holds(_order(at, high, precision), test))


def proper_in(
    point: Any, interval: Interval | None, precision: Precision = None
) -> bool | None:
    if point is None:
        return None
    return proper_contains(interval, point, precision)


def includes(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """Includes (§5.11): start(left) <= start(right) and end(left) >= end(right)."""
    if left is None or right is None:
        return None
    left_low, left_high = _bounds(left)
    right_low, right_high = _bounds(right)
    return _and(
        _holds(_order(left_low, right_low, precision), _LE),
        _holds(_order(left_high, right_high, precision), _GE),
    )


def included_in(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    return includes(right, left, precision)


def proper_includes(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """ProperIncludes (§5.22): includes and the intervals are not equal."""
    return _and(includes(left, right, precision), _not(equal(left, right, precision)))


def proper_included_in(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    return proper_includes(right, left, precision)


# --- relative position (§5.1 After, §5.2 Before, §5.16 Meets, §5.18 Overlaps, ...) ---


def _as_bounds(value: Any) -> tuple[_Bound, _Bound]:
    """An interval's boundaries, or a point as a unit interval (Before/After accept both)."""
    if isinstance(value, Interval):
        return _bounds(value)
    return _point(value), _point(value)


def before(left: Any, right: Any, precision: Precision = None) -> bool | None:
    """Before: end(left) < start(right); either side may be a point."""
    if left is None or right is None:
        return None
    _, left_high = _as_bounds(left)
    right_low, _ = _as_bounds(right)
    return _holds(_order(left_high, right_low, precision), _LT)


def after(left: Any, right: Any, precision: Precision = None) -> bool | None:
    """After: start(left) > end(right); either side may be a point."""
    return before(right, left, precision)


def overlaps(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """Overlaps: the intervals share at least one point (shared closed endpoints count)."""
    if left is None or right is None:
        return None
    left_low, left_high = _bounds(left)
    right_low, right_high = _bounds(right)
    return _and(
        _holds(_order(left_low, right_high, precision), _LE),
        _holds(_order(right_low, left_high, precision), _LE),
    )


def overlaps_before(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """OverlapsBefore: left overlaps right and starts before right starts."""
    if left is None or right is None:
        return None
    starts_first = _holds(_order(_bounds(left)[0], _bounds(right)[0], precision), _LT)
    return _and(starts_first, overlaps(left, right, precision))


def overlaps_after(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """OverlapsAfter: left overlaps right and ends after right ends."""
    if left is None or right is None:
        return None
    ends_last = _holds(_order(_bounds(left)[1], _bounds(right)[1], precision), _GT)
    return _and(ends_last, overlaps(left, right, precision))


def _adjacent(high: _Bound, low: _Bound, precision: Precision) -> bool | None:
    """Whether `low` starts immediately after `high` ends, with no gap and no overlap."""
    if high.kind == _MAX or low.kind == _MIN:
        return False
    if high.kind == _UNKNOWN or low.kind == _UNKNOWN:
        return None if _order(high, low, precision) & _LE else False
    if high.kind == _MIN or low.kind == _MAX:
        return False
    point_type = point_type_of(high.value)
    if point_type.successor is not None:
        compared = compare_points(
            point_type.successor(high.value), low.value, precision
        )
        return None if compared is None else compared == 0
    compared = compare_points(high.value, low.value, precision)
    if compared is None:
        return None
    # [a, b) then [b, c], or [a, b] then (b, c]: exactly one side includes b
    return compared == 0 and high.closed != low.closed


def meets_before(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """MeetsBefore: end(left) is the predecessor of start(right); [1, 4] meets [5, 10]."""
    if left is None or right is None:
        return None
    return _adjacent(_bounds(left)[1], _bounds(right)[0], precision)


def meets_after(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    return meets_before(right, left, precision)


def meets(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    return _or(
        meets_before(left, right, precision), meets_after(left, right, precision)
    )


def starts(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """Starts: same start, and left ends no later than right."""
    if left is None or right is None:
        return None
    left_low, left_high = _bounds(left)
    right_low, right_high = _bounds(right)
    return _and(
        _holds(_order(left_low, right_low, precision), _EQ),
        _holds(_order(left_high, right_high, precision), _LE),
    )


def ends(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """Ends: same end, and left starts no earlier than right."""
    if left is None or right is None:
        return None
    left_low, left_high = _bounds(left)
    right_low, right_high = _bounds(right)
    return _and(
        _holds(_order(left_low, right_low, precision), _GE),
        _holds(_order(left_high, right_high, precision), _EQ),
    )


# --- equality (App. B §2.3 Equal, §2.5 Equivalent) ---------------------------------


def equal(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool | None:
    """Equal: same start and same end; [1, 5) = [1, 4] for integers."""
    if left is None or right is None:
        return None
    left_low, left_high = _bounds(left)
    right_low, right_high = _bounds(right)
    return _and(
        _holds(_order(left_low, right_low, precision), _EQ),
        _holds(_order(left_high, right_high, precision), _EQ),
    )


def _bounds_equivalent(a: _Bound, b: _Bound, precision: Precision) -> bool:
    if a.kind == _UNKNOWN or b.kind == _UNKNOWN:
        return a.kind == b.kind  # null ~ null
    if isinstance(a.value, Quantity) and isinstance(b.value, Quantity):
        from andon.analytics.cql.quantity import equivalent as quantity_equivalent

        return quantity_equivalent(a.value, b.value) and a.offset == b.offset
    return _order(a, b, precision) == _EQ


def equivalent(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> bool:
    """Equivalent (~): never null; null ~ null, and unknown boundaries match each other."""
    if left is None or right is None:
        return left is None and right is None
    left_low, left_high = _bounds(left)
    right_low, right_high = _bounds(right)
    return _bounds_equivalent(left_low, right_low, precision) and _bounds_equivalent(
        left_high, right_high, precision
    )


# --- Start, End, Width, Size (§5.24 Start, §5.8 End, §5.30 Width, §5.25 Size) -----


def start(interval: Interval | None) -> Any:
    """Start: the low boundary, its successor if open; the type's minimum if closed null;
    null if open null (unknown) or if the type has neither successor nor minimum."""
    if interval is None:
        return None
    low, _ = _bounds(interval)
    return _bound_value(low, interval)


def end(interval: Interval | None) -> Any:
    """End: the high boundary, its predecessor if open; the maximum if closed null."""
    if interval is None:
        return None
    _, high = _bounds(interval)
    return _bound_value(high, interval)


def _bound_value(bound: _Bound, interval: Interval) -> Any:
    if bound.kind == _VALUE:
        return (
            bound.value if bound.closed else None
        )  # open, and no successor to close it
    if bound.kind == _UNKNOWN:
        return None
    point_type = interval.point_type()
    if point_type is None:
        return None
    return point_type.minimum if bound.kind == _MIN else point_type.maximum


def width(interval: Interval | None) -> Any:
    """Width: end - start, for Integer, Decimal and Quantity intervals."""
    first, last = start(interval), end(interval)
    if first is None or last is None:
        return None
    return last - first


def size(interval: Interval | None) -> Any:
    """Size (new in 1.5): width plus one point (1 for Integer, 1e-8 for Decimal)."""
    first, last = start(interval), end(interval)
    if first is None or last is None:
        return None
    return successor(last) - first


# --- Union, Intersect, Except, Collapse, Expand (§5.29, §5.13, §5.9, §5.4, §5.10) --


def _interval_from(low: _Bound, high: _Bound) -> Interval:
    return Interval(
        low.value if low.kind == _VALUE else None,
        high.value if high.kind == _VALUE else None,
        low.kind == _MIN or (low.kind == _VALUE and low.closed),
        high.kind == _MAX or (high.kind == _VALUE and high.closed),
    )


def _pick(a: _Bound, b: _Bound, wanted: frozenset, precision: Precision) -> _Bound:
    """a if a is certainly on the wanted side of b, b if certainly not; else unknown."""
    holds = _holds(_order(a, b, precision), wanted)
    if holds is None:
        return _Bound(_UNKNOWN, side=a.side)
    return a if holds else b


def union(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> Interval | None:
    """Union: one interval if they overlap or meet, otherwise (or if uncertain) null."""
    if left is None or right is None:
        return None
    if _or(overlaps(left, right, precision), meets(left, right, precision)) is not True:
        return None
    (left_low, left_high), (right_low, right_high) = _bounds(left), _bounds(right)
    return _interval_from(
        _pick(left_low, right_low, _LE, precision),
        _pick(left_high, right_high, _GE, precision),
    )


def intersect(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> Interval | None:
    """Intersect: the common part; null when they do not overlap. An uncertain boundary
    gives an unknown (open null) boundary, as in Interval[1, 10] intersect
    Interval[5, null) = Interval[5, null)."""
    if left is None or right is None or overlaps(left, right, precision) is False:
        return None
    (left_low, left_high), (right_low, right_high) = _bounds(left), _bounds(right)
    return _interval_from(
        _pick(left_low, right_low, _GE, precision),
        _pick(left_high, right_high, _LE, precision),
    )


def _flip(bound: _Bound, side: str) -> _Bound:
    """The boundary just across `bound`, as a boundary of the other side."""
    if bound.kind != _VALUE:
        return _Bound(_UNKNOWN, side=side)
    return _make_bound(bound.value, not bound.closed, side)


def except_(
    left: Interval | None, right: Interval | None, precision: Precision = None
) -> Interval | None:
    """Except: left minus right; null if the result would be empty or two pieces."""
    if left is None or right is None:
        return None
    covered = overlaps(left, right, precision)
    if covered is None:
        return None
    if covered is False:
        return left
    (left_low, left_high), (right_low, right_high) = _bounds(left), _bounds(right)
    keeps_head = _holds(_order(left_low, right_low, precision), _LT)
    keeps_tail = _holds(_order(left_high, right_high, precision), _GT)
    if keeps_head is None or keeps_tail is None or keeps_head == keeps_tail:
        return None  # uncertain, empty, or split into two
    if keeps_head:
        return _interval_from(left_low, _flip(right_low, "high"))
    return _interval_from(_flip(right_high, "low"), left_high)


def _sort_key(precision: Precision):
    def by_start(a: Interval, b: Interval) -> int:
        signs = _order(_bounds(a)[0], _bounds(b)[0], precision)
        return next(iter(signs)) if len(signs) == 1 else 0

    return cmp_to_key(by_start)


def collapse(
    intervals: Iterable[Interval | None] | None, precision: Precision = None
) -> list[Interval] | None:
    """Collapse: merge overlapping and meeting intervals, ordered by start; nulls dropped.
    (The 1.5 `per` argument is not supported: merging uses the point type's successor.)"""
    if intervals is None:
        return None
    ordered = sorted((i for i in intervals if i is not None), key=_sort_key(precision))
    collapsed: list[Interval] = []
    for interval in ordered:
        merged = union(collapsed[-1], interval, precision) if collapsed else None
        if merged is None:
            collapsed.append(interval)
        else:
            collapsed[-1] = merged
    return collapsed


# Expand's intervals come from the data (an encounter's period expanded per day): bounded, so
# that one patient's absurd period cannot build millions of intervals.
MAX_EXPANDED = 100_000


def check_expanded(count: int) -> None:
    """ValueError when Expand would give more than MAX_EXPANDED intervals."""
    if count > MAX_EXPANDED:
        raise ValueError(f"Expand would give more than {MAX_EXPANDED} intervals")


def expand(
    intervals: Iterable[Interval | None] | None, per: int = 1
) -> list[Interval] | None:
    """Expand (1.5, Integer intervals): unit intervals of `per` points covering each
    interval, a trailing partial step dropped, duplicates removed, in order. Null if an
    interval has a null boundary."""
    if intervals is None:
        return None
    starts_seen: set[int] = set()
    for interval in intervals:
        if interval is None:
            continue
        first, last = start(interval), end(interval)
        if (
            not isinstance(first, int)
            or not isinstance(last, int)
            or _unbounded(interval)
        ):
            return None
        steps = range(first, last - per + 2, per)
        check_expanded(len(steps) + len(starts_seen))
        starts_seen.update(steps)
    return [Interval(point, point + per - 1) for point in sorted(starts_seen)]


def _unbounded(interval: Interval) -> bool:
    return interval.low is None or interval.high is None
