"""Equality, equivalence and order of CQL values of any type (CQL §12.1, §9.4).

`equal` is three-valued (None when either side is null or the answer is uncertain);
`equivalent` is always True or False (null ~ null is true). Ordering (`compare`) returns
-1, 0, 1, or None when the values cannot be ordered (null, different precisions that do
not decide, incommensurable units). Temporal values, quantities and intervals bring their
own rules through the `compare` / `equal` / `equivalent` functions of their modules.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from . import interval, quantity, temporal
from .fhir_model import Node
from .temporal import Uncertainty
from .values import Code, Concept, ValueSet


# A value's type -> the module that owns its comparisons. Looked up by exact type (these
# classes have no subclasses): the engine's hottest comparisons (codes, statuses) pass here.
_OWNERS = {temporal.Date: temporal, temporal.DateTime: temporal, temporal.Time: temporal,
           quantity.Quantity: quantity, interval.Interval: interval}


def _kind_module(value):
    """The module that owns comparisons of `value`'s type, or None for plain values."""
    return _OWNERS.get(type(value))


def equal(a, b):
    if a is None or b is None:
        return None
    if type(a) is str and type(b) is str:  # the common case (codes, statuses): what the end says
        return a == b
    if type(a) is Uncertainty or type(b) is Uncertainty:
        order = _compare_ranges(_range(a), _range(b))
        return None if order is None else order == 0
    module = _kind_module(a) or _kind_module(b)
    if module is not None:
        return module.equal(a, b)
    if isinstance(a, list) and isinstance(b, list):
        return _all_of(equal, a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return False
        return _all_of(equal, [a[k] for k in sorted(a)], [b[k] for k in sorted(b)], nulls_equal=True)
    if isinstance(a, Concept) and isinstance(b, Concept):
        return _all_of(equal, list(a.codes), list(b.codes)) if a.display == b.display else False
    if isinstance(a, Node) and isinstance(b, Node):
        return a.fhir_type == b.fhir_type and a.value == b.value
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if _number(a) and _number(b):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def equivalent(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    module = _kind_module(a) or _kind_module(b)
    if module is not None:
        return bool(module.equivalent(a, b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equivalent(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(equivalent(a[k], b[k]) for k in a)
    if isinstance(a, Code) and isinstance(b, Code):
        return a.code == b.code and a.system == b.system
    if isinstance(a, Concept) or isinstance(b, Concept):
        left, right = _codes(a), _codes(b)
        return any(equivalent(x, y) for x in left for y in right)
    if isinstance(a, str) and isinstance(b, str):
        return _normal(a) == _normal(b)
    if _number(a) and _number(b):
        return _decimal_equivalent(Decimal(str(a)), Decimal(str(b)))
    result = equal(a, b)
    return bool(result)


def compare(a, b, precision: str | None = None):
    if a is None or b is None:
        return None
    if type(a) is Uncertainty or type(b) is Uncertainty:
        return _compare_ranges(_range(a), _range(b))
    module = _kind_module(a) or _kind_module(b)
    if module is not None:
        return module.compare(a, b, precision) if precision else module.compare(a, b)
    if _number(a) and _number(b):
        x, y = Decimal(str(a)), Decimal(str(b))
        return (x > y) - (x < y)
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    raise TypeError(f"cannot order {type(a).__name__} and {type(b).__name__}")


def _range(value) -> tuple:
    return (value.low, value.high) if isinstance(value, Uncertainty) else (value, value)


def _compare_ranges(a: tuple, b: tuple):
    """An uncertain integer (a range) against another: decided only when the ranges do not
    overlap, or are the same single value (CQL §22 DurationBetween, uncertainty)."""
    if a[1] < b[0]:
        return -1
    if a[0] > b[1]:
        return 1
    if a[0] == a[1] == b[0] == b[1]:
        return 0
    return None


def in_list(item, items) -> bool | None:
    """CQL `in` for lists (§20.13): equality, so a null item is null."""
    if items is None:
        return False
    if item is None:
        return None
    uncertain = False
    for other in items:
        found = equal(item, other)
        if found:
            return True
        uncertain = uncertain or found is None
    return None if uncertain else False


def _all_of(test, left: list, right: list, nulls_equal: bool = False):
    if len(left) != len(right):
        return False
    uncertain = False
    for x, y in zip(left, right):
        if nulls_equal and x is None and y is None:
            continue
        found = test(x, y)
        if found is False:
            return False
        uncertain = uncertain or found is None
    return None if uncertain else True


def _codes(value) -> list:
    if isinstance(value, Concept):
        return list(value.codes)
    if isinstance(value, Code):
        return [value]
    return []


def _number(value) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _normal(text: str) -> str:
    """String equivalence (§9.4): case, accents and runs of whitespace do not count."""
    folded = unicodedata.normalize("NFKD", text).casefold()
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def _decimal_equivalent(x: Decimal, y: Decimal) -> bool:
    """Decimals are equivalent when equal at the precision of the less precise one (§9.4)."""
    places = min(-x.as_tuple().exponent, -y.as_tuple().exponent, 8)
    quantum = Decimal(1).scaleb(-max(places, 0))
    return x.quantize(quantum) == y.quantize(quantum)


__all__ = ["ValueSet", "compare", "equal", "equivalent", "in_list"]
