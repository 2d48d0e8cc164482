"""Dates and times (CQL §18, §22) and intervals (§19): constructors, components, timing
operators with precision, and the list operators that also take intervals."""

from __future__ import annotations

import functools

from . import compare, interval, temporal
from .evaluator import EvaluationError, Unsupported, handles
from .interval import Interval
from .ops_lists import list_except, list_intersect, list_union
from .quantity import Quantity


def _step(sign: int):
    def step(value):
        return temporal.add(value, sign, value.precision) if sign > 0 else temporal.subtract(value, 1, value.precision)

    return step


def _register_temporal_points() -> None:
    """Dates and times as interval points: ordered by `temporal.compare` (None when the
    precisions leave it open), stepping by one unit of the value's own precision."""
    bounds = {
        temporal.Date: (temporal.Date(1, 1, 1), temporal.Date(9999, 12, 31)),
        temporal.DateTime: (temporal.DateTime(1, 1, 1, 0, 0, 0, 0), temporal.DateTime(9999, 12, 31, 23, 59, 59, 999)),
        temporal.Time: (temporal.Time(0, 0, 0, 0), temporal.Time(23, 59, 59, 999)),
    }
    for cls, (low, high) in bounds.items():
        interval.register_point_type(cls, interval.PointType(temporal.compare, _step(1), _step(-1), low, high))


_register_temporal_points()


def _precision(node) -> str | None:
    precision = node.get("precision")
    return precision.lower() if isinstance(precision, str) else None


def _temporal(value) -> bool:
    return isinstance(value, (temporal.Date, temporal.DateTime, temporal.Time))


# -- constructors and components --------------------------------------------------------------


def _fields(ev, node, scope, names):
    return {name: ev.eval(node.get(name), scope) for name in names if node.get(name) is not None}


@handles("Date")
def date(ev, node, scope):
    fields = _fields(ev, node, scope, ("year", "month", "day"))
    return None if fields.get("year") is None else temporal.Date(**fields)


@handles("DateTime")
def datetime_(ev, node, scope):
    fields = _fields(ev, node, scope, ("year", "month", "day", "hour", "minute", "second", "millisecond"))
    if fields.get("year") is None:
        return None
    offset = ev.eval(node.get("timezoneOffset"), scope) if node.get("timezoneOffset") is not None else ev.default_offset
    return temporal.DateTime(**fields, offset=offset)


@handles("Time")
def time_(ev, node, scope):
    fields = _fields(ev, node, scope, ("hour", "minute", "second", "millisecond"))
    return None if fields.get("hour") is None else temporal.Time(**fields)


@handles("Now")
def now(ev, node, scope):
    return ev.now


@handles("Today")
def today(ev, node, scope):
    return temporal.date_from(ev.now)


@handles("DateFrom")
def date_from(ev, node, scope):
    return temporal.date_from(ev.operand(node, scope))


@handles("TimeFrom")
def time_from(ev, node, scope):
    return temporal.time_from(ev.operand(node, scope))


@handles("DateTimeComponentFrom")
def component_from(ev, node, scope):
    return temporal.component(ev.operand(node, scope), _precision(node))


@handles("CalculateAgeAt")
def age_at(ev, node, scope):
    birth, moment = ev.operands(node, scope)
    if birth is None or moment is None:
        return None
    if isinstance(birth, temporal.Date) and isinstance(moment, temporal.DateTime):
        moment = temporal.date_from(moment)  # an age from a birth date counts whole days
    return temporal.duration_between(birth, moment, _precision(node) or "year", ev.default_offset)


@handles("DurationBetween")
def duration_between(ev, node, scope):
    a, b = ev.operands(node, scope)
    return temporal.duration_between(a, b, _precision(node), ev.default_offset)


@handles("DifferenceBetween")
def difference_between(ev, node, scope):
    a, b = ev.operands(node, scope)
    return temporal.difference_between(a, b, _precision(node), ev.default_offset)


# -- intervals --------------------------------------------------------------------------------


@handles("Interval")
def interval_(ev, node, scope):
    low, high = ev.eval(node.get("low"), scope), ev.eval(node.get("high"), scope)
    low_closed = ev.eval(node["lowClosedExpression"], scope) if "lowClosedExpression" in node else node.get("lowClosed", True)
    high_closed = ev.eval(node["highClosedExpression"], scope) if "highClosedExpression" in node else node.get("highClosed", True)
    return Interval(low, high, bool(low_closed), bool(high_closed))


@handles("Start")
def start(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else interval.start(value)


@handles("End")
def end(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else interval.end(value)


@handles("PointFrom")
def point_from(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None:
        return None
    return interval.start(value)


def _pair(ev, node, scope):
    a, b = ev.operands(node, scope)
    return a, b, _precision(node)


@handles("In")
def in_(ev, node, scope):
    item, container, precision = _pair(ev, node, scope)
    if isinstance(container, Interval):
        return None if item is None else interval.contains(container, item, precision)
    if container is None and node["operand"][1].get("type") == "Interval":
        return None
    return compare.in_list(item, container)


@handles("Contains")
def contains(ev, node, scope):
    container, item, precision = _pair(ev, node, scope)
    if isinstance(container, Interval):
        return None if item is None else interval.contains(container, item, precision)
    return compare.in_list(item, container)


@handles("IncludedIn")
def included_in(ev, node, scope):
    a, b, precision = _pair(ev, node, scope)
    if a is None or b is None:
        return None
    if isinstance(b, Interval):
        if isinstance(a, Interval):
            return interval.included_in(a, b, precision)
        return interval.contains(b, a, precision)
    return all(compare.in_list(x, b) for x in a)


@handles("Includes")
def includes(ev, node, scope):
    a, b, precision = _pair(ev, node, scope)
    if a is None or b is None:
        return None
    if isinstance(a, Interval):
        if isinstance(b, Interval):
            return interval.includes(a, b, precision)
        return interval.contains(a, b, precision)
    return all(compare.in_list(x, a) for x in (b if isinstance(b, list) else [b]))


def _interval_pair(function_name):
    def handler(ev, node, scope):
        a, b, precision = _pair(ev, node, scope)
        if a is None or b is None:
            return None
        return getattr(interval, function_name)(a, b, precision)

    return handler


for _elm, _function in {
    "ProperIncludedIn": "proper_included_in", "ProperIncludes": "proper_includes", "Overlaps": "overlaps",
    "OverlapsBefore": "overlaps_before", "OverlapsAfter": "overlaps_after", "Meets": "meets",
    "MeetsBefore": "meets_before", "MeetsAfter": "meets_after", "Starts": "starts", "Ends": "ends",
}.items():
    handles(_elm)(_interval_pair(_function))


def _timing(point_test, interval_function):
    def handler(ev, node, scope):
        a, b, precision = _pair(ev, node, scope)
        if a is None or b is None:
            return None
        if isinstance(a, Interval) or isinstance(b, Interval):
            return getattr(interval, interval_function)(a, b, precision)
        if _temporal(a) or _temporal(b):
            return point_test(a, b, precision, ev.default_offset)
        order = compare.compare(a, b)
        return None if order is None else {"before": order < 0, "after": order > 0}[interval_function]

    return handler


handles("Before")(_timing(temporal.before, "before"))
handles("After")(_timing(temporal.after, "after"))


def _same(point_test, first, second):
    """SameAs / SameOrBefore / SameOrAfter: on intervals, the point of each side that the
    comparison is about (for `same or before`, the first's end and the second's start)."""

    def handler(ev, node, scope):
        a, b, precision = _pair(ev, node, scope)
        if a is None or b is None:
            return None
        if isinstance(a, Interval) and isinstance(b, Interval) and first is None:  # SameAs
            return _both(point_test(interval.start(a), interval.start(b), precision, ev.default_offset),
                         point_test(interval.end(a), interval.end(b), precision, ev.default_offset))
        a = getattr(interval, first or "start")(a) if isinstance(a, Interval) else a
        b = getattr(interval, second or "start")(b) if isinstance(b, Interval) else b
        if a is None or b is None:
            return None
        return point_test(a, b, precision, ev.default_offset)

    return handler


def _both(x, y):
    if x is False or y is False:
        return False
    return None if x is None or y is None else True


handles("SameAs")(_same(temporal.same_as, None, None))
handles("SameOrBefore")(_same(temporal.same_or_before, "end", "start"))
handles("SameOrAfter")(_same(temporal.same_or_after, "start", "end"))


@handles("Union")
def union(ev, node, scope):
    a, b = ev.operands(node, scope)
    if isinstance(a, Interval) or isinstance(b, Interval):
        return None if a is None or b is None else interval.union(a, b)
    return list_union(a, b)


@handles("Intersect")
def intersect(ev, node, scope):
    values = ev.operands(node, scope)
    if any(isinstance(v, Interval) for v in values):
        a, b = values
        return None if a is None or b is None else interval.intersect(a, b)
    result = values[0]
    for other in values[1:]:
        result = list_intersect(result, other)
    return result


@handles("Except")
def except_(ev, node, scope):
    a, b = ev.operands(node, scope)
    if isinstance(a, Interval) or isinstance(b, Interval):
        return None if a is None or b is None else interval.except_(a, b)
    return list_except(a, b)


@handles("Collapse")
def collapse(ev, node, scope):
    operands = ev.operands(node, scope)
    items = operands[0]
    if items is None:
        return None
    return interval.collapse([i for i in items if i is not None])


@handles("Expand")
def expand(ev, node, scope):
    """Expand (§19.10) of Integer intervals per a unitless whole quantity, and of Date,
    DateTime and Time intervals per a calendar duration; Decimal intervals are not expanded
    yet (an error, never a wrong list)."""
    items, per = ev.operands(node, scope)
    if items is None:
        return None
    present = [i for i in items if i is not None]
    if not present:
        return []  # nulls in the list are left out
    points = [p for i in present for p in (i.low, i.high) if p is not None]
    if not points:
        return None
    if all(isinstance(p, (temporal.Date, temporal.DateTime, temporal.Time)) for p in points):
        return expand_temporal(items, per)
    step = 1 if per is None else per.value if isinstance(per, Quantity) and per.unit == "1" else None
    if step is None or step != int(step) or not all(isinstance(p, int) and not isinstance(p, bool) for p in points):
        raise Unsupported("Expand of Decimal intervals, or per a fraction")
    return interval.expand(items, int(step))


def expand_temporal(items, per) -> list | None:
    """Unit intervals of `per` (default: one of the boundaries' coarsest precision) covering
    each interval, boundaries truncated to the per's precision (§19.10: "more precise values
    will be truncated"), a trailing partial step dropped, duplicates removed, in order; a week
    is 7 days at day precision. Null when an interval has a null boundary or one coarser than
    the per."""
    present = [i for i in items if i is not None]
    if per is None:
        unit = min((p.precision for i in present for p in (i.low, i.high) if p is not None),
                   key=temporal.PRECISIONS.index, default="day")
        count = 1
    else:
        unit, count = temporal.unit_precision(per.unit), per.value
        if count != int(count) or count < 1:
            raise EvaluationError(f"Expand per {per.value} {per.unit}: a whole number of units is needed")
        count = int(count)
    if unit == "week":
        unit, count = "day", count * 7
    found = {}
    for item in present:
        if item.low is None or item.high is None:
            return None  # as for Integer intervals: an unknown or unbounded end cannot be walked
        low, high = temporal.truncate(interval.start(item), unit), temporal.truncate(interval.end(item), unit)
        if low is None or high is None:
            return None
        span = temporal.duration_between(low, high, unit)
        if isinstance(span, int):  # a span beyond the bound fails before the walk, not after it
            interval.check_expanded((span + 1) // count)
        point = low
        while True:
            last = temporal.add(point, count - 1, unit)
            if temporal.less_or_equal(last, high) is not True:
                break
            interval.check_expanded(len(found) + 1)
            found.setdefault(str(point), Interval(point, last, True, True))
            point = temporal.add(point, count, unit)
    return sorted(found.values(), key=functools.cmp_to_key(lambda a, b: temporal.compare(a.low, b.low) or 0))


@handles("Width")
def width(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else interval.width(value)
