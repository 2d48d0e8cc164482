"""Lists (CQL §20), aggregates (§21), strings (§17) and arithmetic (§16).

List operators on intervals (`Union` of two intervals, `In` an interval) belong to
`ops_temporal`; here a `Union` or `In` with a list argument.
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal

from . import compare
from .evaluator import EvaluationError, handles
from .quantity import Quantity


def _items(value) -> list:
    return [] if value is None else value


@handles("Exists")
def exists(ev, node, scope):
    return any(v is not None for v in _items(ev.operand(node, scope)))


@handles("First")
def first(ev, node, scope):
    items = _items(ev.eval(node["source"], scope))
    return items[0] if items else None


@handles("Last")
def last(ev, node, scope):
    items = _items(ev.eval(node["source"], scope))
    return items[-1] if items else None


@handles("SingletonFrom")
def singleton_from(ev, node, scope):
    items = _items(ev.operand(node, scope))
    if len(items) > 1:
        raise EvaluationError(f"{scope.library.name}: SingletonFrom of a list of {len(items)} items")
    return items[0] if items else None


@handles("Count")
def count(ev, node, scope):
    return sum(1 for v in _items(ev.eval(node["source"], scope)) if v is not None)


@handles("Sum")
def sum_(ev, node, scope):
    values = [v for v in _items(ev.eval(node["source"], scope)) if v is not None]
    if not values:
        return None
    total = values[0]
    for value in values[1:]:
        total = add(total, value)
    return total


def _extreme(pick):
    def handler(ev, node, scope):
        values = [v for v in _items(ev.eval(node["source"], scope)) if v is not None]
        best = None
        for value in values:
            if best is None:
                best = value
                continue
            order = compare.compare(value, best)
            if order is not None and pick(order):
                best = value
        return best

    return handler


handles("Min")(_extreme(lambda order: order < 0))
handles("Max")(_extreme(lambda order: order > 0))


@handles("Avg")
def avg(ev, node, scope):
    values = [v for v in _items(ev.eval(node["source"], scope)) if v is not None]
    if not values:
        return None
    total = values[0]
    for value in values[1:]:
        total = add(total, value)
    return divide(total, Decimal(len(values)))


@handles("AllTrue")
def all_true(ev, node, scope):
    return all(v is not False for v in _items(ev.eval(node["source"], scope)) if v is not None)


@handles("AnyTrue")
def any_true(ev, node, scope):
    return any(v is True for v in _items(ev.eval(node["source"], scope)))


@handles("Distinct")
def distinct(ev, node, scope):
    unique = []
    for value in _items(ev.operand(node, scope)):
        if not any(compare.equivalent(value, u) for u in unique):
            unique.append(value)
    return unique


@handles("Flatten")
def flatten(ev, node, scope):
    found = []
    for value in _items(ev.operand(node, scope)):
        found.extend(value if isinstance(value, list) else [value])
    return found


def list_union(a, b):
    """Union of lists (§20.29): both, without duplicates (by equivalence)."""
    unique = []
    for value in _items(a) + _items(b):
        if not any(compare.equivalent(value, u) for u in unique):
            unique.append(value)
    return unique


def list_intersect(a, b):
    return [v for v in list_union(a, []) if any(compare.equivalent(v, w) for w in _items(b))]


def list_except(a, b):
    return [v for v in list_union(a, []) if not any(compare.equivalent(v, w) for w in _items(b))]


@handles("Indexer")
def indexer(ev, node, scope):
    """`list[i]` and `string[i]` (§20.14, §17.5): zero-based; out of range or null is null."""
    items, index = ev.operands(node, scope)
    if items is None or index is None or index < 0 or index >= len(items):
        return None
    return items[index]


@handles("IndexOf")
def index_of(ev, node, scope):
    items, wanted = ev.eval(node["source"], scope), ev.eval(node["element"], scope)
    if items is None or wanted is None:
        return None
    return next((i for i, v in enumerate(items) if compare.equal(v, wanted)), -1)


# -- strings ----------------------------------------------------------------------------------


@handles("Concatenate")
def concatenate(ev, node, scope):
    parts = ev.operands(node, scope)
    return None if any(p is None for p in parts) else "".join(parts)


@handles("Split")
def split(ev, node, scope):
    text, separator = ev.eval(node["stringToSplit"], scope), ev.eval(node.get("separator"), scope)
    if text is None:
        return None
    return [text] if not separator else text.split(separator)


@handles("Combine")
def combine(ev, node, scope):
    items, separator = ev.eval(node["source"], scope), ev.eval(node.get("separator"), scope)
    if items is None:
        return None
    return (separator or "").join(v for v in items if v is not None)


@handles("Length")
def length(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else len(value)


@handles("Upper", "Lower")
def upper_lower(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None:
        return None
    return value.upper() if node["type"] == "Upper" else value.lower()


@handles("StartsWith", "EndsWith")
def starts_ends(ev, node, scope):
    text, part = ev.operands(node, scope)
    if text is None or part is None:
        return None
    return text.startswith(part) if node["type"] == "StartsWith" else text.endswith(part)


# -- arithmetic -------------------------------------------------------------------------------


def _number(value) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def add(a, b):
    if a is None or b is None:
        return None
    if _number(a) and _number(b):
        return a + b
    from . import temporal

    if isinstance(b, Quantity) and isinstance(a, (temporal.Date, temporal.DateTime, temporal.Time)):
        return temporal.add(a, b.value, b.unit)
    return a + b


def subtract(a, b):
    if a is None or b is None:
        return None
    if _number(a) and _number(b):
        return a - b
    from . import temporal

    if isinstance(b, Quantity) and isinstance(a, (temporal.Date, temporal.DateTime, temporal.Time)):
        return temporal.subtract(a, b.value, b.unit)
    return a - b


def divide(a, b):
    if a is None or b is None:
        return None
    if _number(a) and _number(b):
        return None if b == 0 else Decimal(a) / Decimal(b)
    return a / b


@handles("Add")
def add_(ev, node, scope):
    return add(*ev.operands(node, scope))


@handles("Subtract")
def subtract_(ev, node, scope):
    return subtract(*ev.operands(node, scope))


@handles("Multiply")
def multiply(ev, node, scope):
    a, b = ev.operands(node, scope)
    return None if a is None or b is None else a * b


@handles("Divide")
def divide_(ev, node, scope):
    return divide(*ev.operands(node, scope))


@handles("TruncatedDivide")
def truncated_divide(ev, node, scope):
    a, b = ev.operands(node, scope)
    if a is None or b is None or b == 0:
        return None
    quotient = Decimal(a) / Decimal(b)
    whole = int(quotient)  # toward zero
    return whole if isinstance(a, int) and isinstance(b, int) else Decimal(whole)


@handles("Modulo")
def modulo(ev, node, scope):
    a, b = ev.operands(node, scope)
    if a is None or b is None or b == 0:
        return None
    remainder = Decimal(a) % Decimal(b)  # Decimal's % keeps the dividend's sign, as CQL does
    return int(remainder) if isinstance(a, int) and isinstance(b, int) else remainder


@handles("Negate")
def negate(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else -value


@handles("Abs")
def abs_(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else abs(value)


@handles("Power")
def power(ev, node, scope):
    a, b = ev.operands(node, scope)
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int) and b >= 0:
        return a**b
    return Decimal(a) ** Decimal(b)


@handles("Round")
def round_(ev, node, scope):
    value = ev.operand(node, scope)
    places = ev.eval(node.get("precision"), scope) or 0
    if value is None:
        return None
    # a half rounds toward positive infinity (§16.16): Round(-1.5) is -1, Round(1.5) is 2
    rounding = ROUND_HALF_UP if value >= 0 else ROUND_HALF_DOWN
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=rounding)


@handles("Truncate")
def truncate(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else int(value)


@handles("Floor")
def floor(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else int(Decimal(value).to_integral_value(rounding=ROUND_FLOOR))


@handles("Ceiling")
def ceiling(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else math.ceil(Decimal(value))
