"""Logic (three-valued, CQL §13), nullological (§14), conditionals and comparison (§12)."""

from __future__ import annotations

from . import compare
from .evaluator import handles
from .temporal import Uncertainty


def _and(values):
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values):
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


@handles("And")
def and_(ev, node, scope):
    # evaluated left to right, stopping at the first false: a later operand may be costly
    results = []
    for operand in node["operand"]:
        value = ev.eval(operand, scope)
        if value is False:
            return False
        results.append(value)
    return _and(results)


@handles("Or")
def or_(ev, node, scope):
    results = []
    for operand in node["operand"]:
        value = ev.eval(operand, scope)
        if value is True:
            return True
        results.append(value)
    return _or(results)


@handles("Not")
def not_(ev, node, scope):
    value = ev.operand(node, scope)
    return None if value is None else not value


@handles("Xor")
def xor(ev, node, scope):
    a, b = ev.operands(node, scope)
    return None if a is None or b is None else a != b


@handles("Implies")
def implies(ev, node, scope):
    a, b = ev.operands(node, scope)
    return _or([None if a is None else not a, b])


@handles("IsNull")
def is_null(ev, node, scope):
    return ev.operand(node, scope) is None


@handles("IsTrue")
def is_true(ev, node, scope):
    return ev.operand(node, scope) is True


@handles("IsFalse")
def is_false(ev, node, scope):
    return ev.operand(node, scope) is False


@handles("Coalesce")
def coalesce(ev, node, scope):
    operands = node["operand"]
    if len(operands) == 1:  # Coalesce(list): the first non-null item of the list
        items = ev.eval(operands[0], scope)
        return next((v for v in items or [] if v is not None), None)
    for operand in operands:
        value = ev.eval(operand, scope)
        if value is not None:
            return value
    return None


@handles("If")
def if_(ev, node, scope):
    branch = "then" if ev.eval(node["condition"], scope) is True else "else"
    return ev.eval(node.get(branch), scope)


@handles("Case")
def case(ev, node, scope):
    if node.get("comparand") is not None:
        comparand = ev.eval(node["comparand"], scope)
        for item in node.get("caseItem", []):
            if compare.equal(comparand, ev.eval(item["when"], scope)) is True:
                return ev.eval(item["then"], scope)
    else:
        for item in node.get("caseItem", []):
            if ev.eval(item["when"], scope) is True:
                return ev.eval(item["then"], scope)
    return ev.eval(node.get("else"), scope)


@handles("Equal")
def equal(ev, node, scope):
    a, b = ev.operands(node, scope)
    return compare.equal(a, b)


@handles("NotEqual")
def not_equal(ev, node, scope):
    result = compare.equal(*ev.operands(node, scope))
    return None if result is None else not result


@handles("Equivalent")
def equivalent(ev, node, scope):
    return compare.equivalent(*ev.operands(node, scope))


def _ordered(test):
    def handler(ev, node, scope):
        a, b = ev.operands(node, scope)
        if isinstance(a, Uncertainty) or isinstance(b, Uncertainty):
            return _over_ranges(test, a, b)
        order = compare.compare(a, b, node.get("precision"))
        return None if order is None else test(order)

    return handler


def _over_ranges(test, a, b):
    """An ordering with an uncertain integer (a range, §22 uncertainty): decided when it holds,
    or fails, for every value in the range; the comparisons are monotone, so the ends tell."""
    if a is None or b is None:
        return None
    ends = lambda v: (v.low, v.high) if isinstance(v, Uncertainty) else (v, v)
    results = {test((x > y) - (x < y)) for x in ends(a) for y in ends(b)}
    return results.pop() if len(results) == 1 else None


handles("Less")(_ordered(lambda order: order < 0))
handles("Greater")(_ordered(lambda order: order > 0))
handles("LessOrEqual")(_ordered(lambda order: order <= 0))
handles("GreaterOrEqual")(_ordered(lambda order: order >= 0))
