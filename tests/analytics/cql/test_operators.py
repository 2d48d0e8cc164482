"""ELM operators against the CQL 1.5 specification's semantics.

Each test builds a one-definition ELM library in the shapes the CQL-to-ELM translator writes,
evaluates it for a patient, and asserts the value the specification gives.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from andon.analytics.cql import temporal
from andon.analytics.cql.evaluator import (
    EvaluationError,
)
from andon.analytics.cql.fhir_model import Node

from .elm_builders import *  # the ELM builders are the vocabulary of these tests

# -- three-valued logic (§13) -----------------------------------------------------------------

T, F, N = True, False, None


@pytest.mark.parametrize(("a", "b_", "expected"), [
    (T, T, T), (T, F, F), (T, N, N), (F, N, F), (N, F, F), (N, N, N), (F, F, F),
])
def test_and_truth_table(a, b_, expected):
    """§13.1 And: false wins over null."""
    assert evaluate(op("And", value_of(a), value_of(b_))) is expected


@pytest.mark.parametrize(("a", "b_", "expected"), [
    (T, N, T), (N, T, T), (F, N, N), (N, N, N), (F, F, F), (T, F, T),
])
def test_or_truth_table(a, b_, expected):
    """§13.4 Or: true wins over null."""
    assert evaluate(op("Or", value_of(a), value_of(b_))) is expected


@pytest.mark.parametrize(("a", "b_", "expected"), [
    (T, T, T), (T, F, F), (T, N, N), (F, T, T), (F, F, T), (F, N, T), (N, T, T), (N, F, N), (N, N, N),
])
def test_implies_truth_table(a, b_, expected):
    """§13.2 Implies: false implies anything; anything implies true."""
    assert evaluate(op("Implies", value_of(a), value_of(b_))) is expected


@pytest.mark.parametrize(("a", "b_", "expected"), [(T, T, F), (T, F, T), (F, F, F), (T, N, N), (N, F, N)])
def test_xor_truth_table(a, b_, expected):
    """§13.5 Xor: null with anything is null."""
    assert evaluate(op("Xor", value_of(a), value_of(b_))) is expected


def test_not_of_null_is_null():
    assert evaluate(op("Not", NULL)) is None
    assert evaluate(op("Not", b(True))) is False


def test_is_null_is_true_is_false():
    """§14.3–14.5: the nullological tests never return null."""
    assert evaluate(op("IsNull", NULL)) is True
    assert evaluate(op("IsNull", i(0))) is False
    assert evaluate(op("IsTrue", NULL)) is False
    assert evaluate(op("IsTrue", b(True))) is True
    assert evaluate(op("IsFalse", NULL)) is False
    assert evaluate(op("IsFalse", b(False))) is True


def test_coalesce_first_non_null():
    """§14.1 Coalesce: the first non-null argument, null if all are null."""
    assert evaluate(op("Coalesce", NULL, NULL, i(3), i(4))) == 3
    assert evaluate(op("Coalesce", NULL, NULL)) is None


def test_coalesce_of_a_list():
    assert evaluate(op("Coalesce", lst(NULL, i(2), i(5)))) == 2


def test_if_with_null_condition_takes_else():
    """§15.2 If: a null condition is not true, so the else branch."""
    assert evaluate({"type": "If", "condition": NULL, "then": s("yes"), "else": s("no")}) == "no"
    assert evaluate({"type": "If", "condition": b(True), "then": s("yes"), "else": s("no")}) == "yes"


def test_case_with_comparand():
    """§15.1 Case (selected): the first item whose when equals the comparand."""
    node = {"type": "Case", "comparand": i(2),
            "caseItem": [{"when": i(1), "then": s("one")}, {"when": i(2), "then": s("two")}], "else": s("other")}
    assert evaluate(node) == "two"
    node["comparand"] = i(9)
    assert evaluate(node) == "other"
    node["comparand"] = null_as("Integer")
    assert evaluate(node) == "other"


def test_case_without_comparand():
    """§15.1 Case (standard): the first item whose condition is true; null is not true."""
    node = {"type": "Case", "caseItem": [{"when": NULL, "then": s("a")}, {"when": b(False), "then": s("b")},
                                         {"when": b(True), "then": s("c")}], "else": s("d")}
    assert evaluate(node) == "c"
    node["caseItem"] = node["caseItem"][:2]
    assert evaluate(node) == "d"


# -- comparison (§12) ---------------------------------------------------------------------------


def test_equal_integers_and_decimals():
    """§12.1 Equal: Integer promoted to Decimal; 1.0 = 1."""
    assert evaluate(op("Equal", i(5), i(5))) is True
    assert evaluate(op("Equal", i(5), i(6))) is False
    assert evaluate(op("Equal", op("ToDecimal", i(1)), d("1.0"))) is True
    assert evaluate(op("Equal", d("1.0"), d("1.00"))) is True
    assert evaluate(op("NotEqual", i(5), i(6))) is True


def test_equal_with_null_is_null():
    assert evaluate(op("Equal", null_as("Integer"), i(1))) is None
    assert evaluate(op("NotEqual", null_as("Integer"), i(1))) is None
    assert evaluate(op("Equal", null_as("Integer"), null_as("Integer"))) is None


def test_equivalent_with_null():
    """§12.2 Equivalent: null ~ null is true, null ~ 1 is false; never null."""
    assert evaluate(op("Equivalent", null_as("Integer"), null_as("Integer"))) is True
    assert evaluate(op("Equivalent", null_as("Integer"), i(1))) is False


def test_strings_equal_is_exact_equivalent_ignores_case_and_whitespace_kind():
    """§12.2: string equivalence ignores case and treats all whitespace characters alike."""
    assert evaluate(op("Equal", s("Hello World"), s("hello world"))) is False
    assert evaluate(op("Equivalent", s("Hello World"), s("hello world"))) is True
    assert evaluate(op("Equivalent", s("Hello World"), s("hello\tworld"))) is True
    assert evaluate(op("Equivalent", s("Hello"), s("Help"))) is False


def test_list_equality():
    """§12.1: lists are equal when element-wise equal in order; a null element makes it null."""
    assert evaluate(op("Equal", lst(i(1), i(2), i(3)), lst(i(1), i(2), i(3)))) is True
    assert evaluate(op("Equal", lst(i(1), i(2)), lst(i(1), i(2), i(3)))) is False
    assert evaluate(op("Equal", lst(i(1), i(2)), lst(i(2), i(1)))) is False
    assert evaluate(op("Equal", lst(i(1), NULL), lst(i(1), NULL))) is None
    assert evaluate(op("Equivalent", lst(i(1), NULL), lst(i(1), NULL))) is True


def test_tuple_equality_and_equivalence():
    assert evaluate(op("Equal", tup(a=i(1), b=s("x")), tup(a=i(1), b=s("x")))) is True
    assert evaluate(op("Equal", tup(a=i(1), b=s("x")), tup(a=i(1), b=s("y")))) is False
    assert evaluate(op("Equal", tup(a=i(1), b=s("x")), tup(a=i(1), b=s("X")))) is False
    assert evaluate(op("Equivalent", tup(a=i(1), b=s("x")), tup(a=i(1), b=s("X")))) is True


def test_less_greater_on_datetimes_of_different_precision():
    """§12 / §22: comparing a month-precision with a day-precision DateTime is uncertain
    when the month is the same, decided when it is not."""
    assert evaluate(op("Less", dt(2024, 1), dt(2024, 1, 15))) is None
    assert evaluate(op("Less", dt(2024, 1), dt(2024, 2, 15))) is True
    assert evaluate(op("Greater", dt(2024, 3), dt(2024, 2, 15))) is True
    assert evaluate(op("Greater", dt(2024, 2), dt(2024, 2, 15))) is None
    assert evaluate(op("Less", dt(2024, 1, 15), dt(2024, 1, 16))) is True


def test_before_after_with_precision():
    """§19.2/§19.3 Before/After with a precision compare only up to that precision."""
    assert evaluate(op("Before", dt(2024, 1, 1, 23), dt(2024, 1, 2, 1), precision="Day")) is True
    assert evaluate(op("Before", dt(2024, 1, 2, 1), dt(2024, 1, 2, 23), precision="Day")) is False
    assert evaluate(op("After", dt(2024, 3, 5), dt(2024, 2, 28), precision="Month")) is True
    assert evaluate(op("After", dt(2024, 2), dt(2024, 2, 28), precision="Day")) is None


# -- lists, aggregates, queries (§20, §21, §5) --------------------------------------------------


def test_exists():
    """§20.9 Exists: false for an empty list or a list of nulls."""
    assert evaluate(op("Exists", lst(NULL))) is False
    assert evaluate(op("Exists", lst())) is False
    assert evaluate(op("Exists", lst(i(1)))) is True


def test_first_last():
    assert evaluate(agg("First", lst(i(1), i(2), i(3)))) == 1
    assert evaluate(agg("Last", lst(i(1), i(2), i(3)))) == 3
    assert evaluate(agg("First", lst())) is None


def test_aggregates_ignore_nulls():
    """§21: Count, Sum, Min, Max and Avg ignore nulls."""
    values = lst(i(3), NULL, i(1), i(4))
    assert evaluate(agg("Count", values)) == 3
    assert evaluate(agg("Sum", values)) == 8
    assert evaluate(agg("Min", values)) == 1
    assert evaluate(agg("Max", values)) == 4
    assert evaluate(agg("Avg", lst(i(1), i(2), i(3), i(4)))) == Decimal("2.5")
    assert evaluate(agg("Sum", lst())) is None
    assert evaluate(agg("Count", lst())) == 0


def test_singleton_from():
    """§20.27 SingletonFrom: more than one item is a run-time error."""
    assert evaluate(op("SingletonFrom", lst(i(5)))) == 5
    assert evaluate(op("SingletonFrom", lst())) is None
    with pytest.raises(EvaluationError):
        evaluate(op("SingletonFrom", lst(i(1), i(2))))


def test_query_where():
    numbers = lst(i(1), i(2), i(3), i(4))
    assert evaluate(query({"X": numbers}, where=op("Greater", alias("X"), i(2)))) == [3, 4]
    assert evaluate(query({"X": numbers}, where=op("Greater", alias("X"), NULL))) == []


def test_query_multi_source_is_a_cartesian_product():
    q = query({"A": lst(i(1), i(2)), "B": lst(i(10), i(20))}, ret=op("Add", alias("A"), alias("B")))
    assert evaluate(q) == [11, 21, 12, 22]
    rows = evaluate(query({"A": lst(i(1), i(2)), "B": lst(i(10))}))
    assert rows == [{"A": 1, "B": 10}, {"A": 2, "B": 10}]


def test_query_let():
    q = query({"X": lst(i(1), i(2), i(3))}, let={"Y": op("Multiply", alias("X"), i(2))},
              where=op("Greater", {"type": "QueryLetRef", "name": "Y"}, i(2)), ret={"type": "QueryLetRef", "name": "Y"})
    assert evaluate(q) == [4, 6]


def test_query_with_and_without():
    """§5.3 With / Without: keep items that have (or have no) related item such that…"""
    such_that = op("Equal", alias("X"), alias("Y"))
    related = lst(i(2), i(3), i(7))
    with_ = [{"type": "With", "alias": "Y", "expression": related, "suchThat": such_that}]
    without = [{"type": "Without", "alias": "Y", "expression": related, "suchThat": such_that}]
    assert evaluate(query({"X": lst(i(1), i(2), i(3))}, relationship=with_)) == [2, 3]
    assert evaluate(query({"X": lst(i(1), i(2), i(3))}, relationship=without)) == [1]


def test_query_return_is_distinct_by_default():
    """§5.4 return: distinct unless `return all`."""
    numbers = lst(i(1), i(2), i(3), i(4))
    assert evaluate(query({"X": numbers}, ret=op("Modulo", alias("X"), i(2)))) == [1, 0]
    assert evaluate(query({"X": numbers}, ret=op("Modulo", alias("X"), i(2)), distinct=False)) == [1, 0, 1, 0]


def test_query_sort_by_direction():
    numbers = lst(i(3), i(1), i(2))
    assert evaluate(query({"X": numbers}, sort=[{"type": "ByDirection", "direction": "asc"}])) == [1, 2, 3]
    assert evaluate(query({"X": numbers}, sort=[{"type": "ByDirection", "direction": "desc"}])) == [3, 2, 1]


def test_query_sort_by_column_nulls_first_ascending():
    """§5.5 sort: null sorts below every value (first ascending, last descending)."""
    rows = lst(tup(v=i(2)), tup(v=null_as("Integer")), tup(v=i(1)))
    ascending = evaluate(query({"R": rows}, sort=[{"type": "ByColumn", "path": "v", "direction": "asc"}]))
    assert [r["v"] for r in ascending] == [None, 1, 2]
    descending = evaluate(query({"R": rows}, sort=[{"type": "ByColumn", "path": "v", "direction": "desc"}]))
    assert [r["v"] for r in descending] == [2, 1, None]


def test_query_aggregate_clause():
    """§5.6 aggregate: `aggregate T starting 0: T + X` sums."""
    clause = {"identifier": "T", "distinct": False, "starting": i(0),
              "expression": op("Add", {"type": "QueryLetRef", "name": "T"}, alias("X"))}
    assert evaluate(query({"X": lst(i(1), i(2), i(3))}, aggregate=clause)) == 6
    clause["distinct"] = True
    assert evaluate(query({"X": lst(i(1), i(2), i(2), i(3))}, aggregate=clause)) == 6


# -- arithmetic (§16) ---------------------------------------------------------------------------


def test_divide_gives_decimal_and_null_on_zero():
    """§16.5 Divide: always Decimal; division by zero is null."""
    result = evaluate(op("Divide", op("ToDecimal", i(7)), op("ToDecimal", i(2))))
    assert result == Decimal("3.5") and isinstance(result, Decimal)
    assert evaluate(op("Divide", op("ToDecimal", i(1)), op("ToDecimal", i(0)))) is None
    assert evaluate(op("Divide", d("1.0"), d("0.0"))) is None


def test_truncated_divide_and_modulo_with_negatives():
    """§16.18 TruncatedDivide truncates toward zero; §16.10 Modulo keeps the dividend's sign."""
    assert evaluate(op("TruncatedDivide", i(7), i(2))) == 3
    assert evaluate(op("TruncatedDivide", i(-7), i(2))) == -3
    assert evaluate(op("TruncatedDivide", i(7), i(-2))) == -3
    assert evaluate(op("TruncatedDivide", i(7), i(0))) is None
    assert evaluate(op("Modulo", i(-7), i(2))) == -1
    assert evaluate(op("Modulo", i(7), i(-2))) == 1
    assert evaluate(op("Modulo", i(7), i(0))) is None
    assert evaluate(op("Modulo", d("3.5"), d("2.0"))) == Decimal("1.5")


def test_round_half_up():
    """§16.16 Round: a .5 rounds up."""
    assert evaluate({"type": "Round", "operand": d("3.5")}) == Decimal(4)
    assert evaluate({"type": "Round", "operand": d("3.14159"), "precision": i(2)}) == Decimal("3.14")
    assert evaluate({"type": "Round", "operand": d("2.45"), "precision": i(1)}) == Decimal("2.5")


def test_round_negative_half_rounds_up():
    """§16.16 Round: "up" is toward positive infinity for negative halves too."""
    assert evaluate({"type": "Round", "operand": d("-1.5")}) == Decimal(-1)
    assert evaluate({"type": "Round", "operand": d("-0.5")}) == Decimal(0)


def test_power():
    assert evaluate(op("Power", i(2), i(10))) == 1024
    assert evaluate(op("Power", d("2.0"), d("2.0"))) == Decimal(4)
    assert evaluate(op("Power", i(2), NULL)) is None


def test_datetime_plus_one_month_clamps_to_month_end():
    """§22.1 Add: 2024-01-31 + 1 month is 2024-02-29 (the day is clamped)."""
    result = evaluate(op("Add", dt(2024, 1, 31), qty(1, "month")))
    assert (result.year, result.month, result.day) == (2024, 2, 29)
    assert evaluate(op("Equal", op("Add", dt(2024, 1, 31), qty(1, "month")), dt(2024, 2, 29))) is True
    assert evaluate(op("Equal", op("Subtract", dt(2024, 3, 31), qty(1, "month")), dt(2024, 2, 29))) is True


# -- value sets and retrieves (§23, §11) --------------------------------------------------------

VALUESETS = {VS_URL: OFFICE_VISIT}


def _vs_eval(expression, resources=None):
    return evaluate(expression, resources=resources, valuesets=VALUESETS, sections={"valueSets": VALUESET_DEFS})


def test_in_valueset():
    """§23.10 InValueSet: membership by system and code; a null code is false."""
    node = {"type": "InValueSet", "code": code("185349003"), "valueset": {"name": "Office Visit", "preserve": True}}
    assert _vs_eval(node) is True
    node["code"] = code("999")
    assert _vs_eval(node) is False
    node["code"] = code("185349003", "http://loinc.org")
    assert _vs_eval(node) is False
    node["code"] = null_as("Code")
    assert _vs_eval(node) is False


def test_any_in_valueset():
    node = {"type": "AnyInValueSet", "codes": lst(code("1"), code("185349003")),
            "valueset": {"name": "Office Visit", "preserve": True}}
    assert _vs_eval(node) is True
    node["codes"] = lst(code("1"), code("2"))
    assert _vs_eval(node) is False


ENCOUNTERS = [
    {"resourceType": "Encounter", "id": "e1", "status": "finished",
     "type": [{"coding": [{"system": SNOMED, "code": "185349003"}]}],
     "period": {"start": "2024-03-01T09:00:00Z", "end": "2024-03-01T10:00:00Z"}},
    {"resourceType": "Encounter", "id": "e2", "status": "finished",
     "type": [{"coding": [{"system": SNOMED, "code": "000000"}]}],
     "period": {"start": "2024-04-01T09:00:00Z", "end": "2024-04-01T10:00:00Z"}},
]


def test_retrieve_encounters_by_valueset_on_type():
    """§11 Retrieve with a code filter on `type`, comparator `in`."""
    found = _vs_eval(retrieve("Encounter", vs_ref(), "in", "type"), resources=ENCOUNTERS)
    assert [e.value["id"] for e in found] == ["e1"]
    assert len(_vs_eval(retrieve("Encounter"), resources=ENCOUNTERS)) == 2


def test_retrieve_matches_qicore_not_done_valueset_extension():
    """QI-Core negation: a code carrying notDoneValueSet = the value set matches `~ ValueSetRef`."""
    not_done = {"resourceType": "Procedure", "id": "p1", "status": "not-done",
                "code": {"extension": [{"url": NOT_DONE, "valueCanonical": VS_URL}]}}
    other = {"resourceType": "Procedure", "id": "p2", "status": "not-done",
             "code": {"extension": [{"url": NOT_DONE, "valueCanonical": "http://example.org/other"}]}}
    negation = retrieve("Procedure", vs_ref(), "~", profile="procedurenotdone")
    found = _vs_eval(negation, resources=[not_done, other])
    assert [p.value["id"] for p in found] == ["p1"]
    positive = retrieve("Procedure", vs_ref(), "in")
    assert _vs_eval(positive, resources=[not_done, other]) == []


# -- FHIR model (properties, choices, overloads) -----------------------------------------------


def test_property_path_to_a_datetime():
    """Encounter.period.start.value is a CQL DateTime."""
    first = agg("First", retrieve("Encounter"))
    start = evaluate(prop("value", prop("start", prop("period", first))), resources=ENCOUNTERS)
    assert isinstance(start, temporal.DateTime)
    assert (start.year, start.month, start.day, start.hour) == (2024, 3, 1, 9)


def test_property_over_a_query_alias_scope():
    q = query({"E": retrieve("Encounter")}, ret=prop("value", prop("id", scope="E")), distinct=False)
    assert evaluate(q, resources=ENCOUNTERS) == ["e1", "e2"]


OBSERVATIONS = [
    {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "weight"},
     "valueQuantity": {"value": 7.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}},
    {"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "range"},
     "valueRange": {"low": {"value": 1}, "high": {"value": 2}}},
]


def test_choice_element_as_quantity():
    """Observation.value[x]: `value as Quantity` finds valueQuantity."""
    first = agg("First", retrieve("Observation"))
    as_quantity = {"type": "As", "asType": FHIR + "Quantity", "operand": prop("value", first)}
    node = evaluate(as_quantity, resources=OBSERVATIONS)
    assert isinstance(node, Node) and node.fhir_type == "Quantity"
    assert evaluate(prop("value", prop("value", as_quantity)), resources=OBSERVATIONS) == Decimal("7.5")
    last = agg("Last", retrieve("Observation"))
    assert evaluate({"type": "As", "asType": FHIR + "Quantity", "operand": prop("value", last)}, resources=OBSERVATIONS) is None


def _kind_function(type_name: str, answer: str) -> dict:
    return {"type": "FunctionDef", "name": "Kind", "context": "Patient", "accessLevel": "Public",
            "operand": [{"name": "x", "operandTypeSpecifier": {"type": "NamedTypeSpecifier", "name": FHIR + type_name}}],
            "expression": s(answer)}


def test_function_overload_chosen_by_runtime_type():
    """FunctionRef without a signature: the Period overload for a Period, Range for a Range."""
    functions = [_kind_function("Period", "period"), _kind_function("Range", "range")]
    encounter = prop("period", agg("First", retrieve("Encounter")))
    observation = prop("value", agg("Last", retrieve("Observation")))
    resources = ENCOUNTERS + OBSERVATIONS
    assert evaluate({"type": "FunctionRef", "name": "Kind", "operand": [encounter]}, resources=resources, functions=functions) == "period"
    assert evaluate({"type": "FunctionRef", "name": "Kind", "operand": [observation]}, resources=resources, functions=functions) == "range"


def test_parameter_default_and_given_value():
    """A parameter takes the value given for the evaluation, else its default."""
    sections = {"parameters": [{"name": "P", "accessLevel": "Public", "default": i(1)}]}
    node = {"type": "ParameterRef", "name": "P"}
    assert evaluate(node, sections=sections) == 1
    assert evaluate(node, parameters={"P": 5}, sections=sections) == 5


# -- more edges ---------------------------------------------------------------------------------


def test_datetime_equal_uncertain_equivalent_false():
    """§22.11: @2024-01-01 = @2024-01-01T00:00 is null (precisions differ); ~ is false."""
    assert evaluate(op("Equal", dt(2024, 1, 1), dt(2024, 1, 1, 0, 0))) is None
    assert evaluate(op("Equivalent", dt(2024, 1, 1), dt(2024, 1, 1, 0, 0))) is False
    assert evaluate(op("Equivalent", dt(2024, 1, 1), dt(2024, 1, 1))) is True


def test_query_over_a_single_value_returns_a_single_value():
    """§5.1: a query over a non-list source returns a single value (null when filtered out)."""
    assert evaluate(query({"X": i(5)}, where=op("Greater", alias("X"), i(2)))) == 5
    assert evaluate(query({"X": i(1)}, where=op("Greater", alias("X"), i(2)))) is None
    assert evaluate(query({"X": i(5)}, ret=op("Multiply", alias("X"), i(2)))) == 10


def test_query_sort_by_expression_on_this():
    """§5.5: `sort by start of $this` — the translator writes $this as an IdentifierRef."""
    intervals = lst(ivl(i(5), i(6)), ivl(i(1), i(2)), ivl(i(3), i(4)))
    by = [{"type": "ByExpression", "direction": "asc",
           "expression": {"type": "Start", "operand": {"type": "IdentifierRef", "name": "$this"}}}]
    found = evaluate(query({"I": intervals}, sort=by))
    assert [x.low for x in found] == [1, 3, 5]


def test_max_min_of_strings_and_dates():
    assert evaluate(agg("Max", lst(s("apple"), s("pear"), s("fig")))) == "pear"
    assert evaluate(agg("Min", lst(s("apple"), s("pear"), s("fig")))) == "apple"
    assert evaluate(op("Equal", agg("Max", lst(dt(2024, 1, 1), dt(2024, 3, 1), NULL)), dt(2024, 3, 1))) is True


def test_floor_ceiling_truncate_negative():
    """§16.7 Floor, §16.3 Ceiling, §16.19 Truncate."""
    assert evaluate(op("Floor", d("-1.5"))) == -2
    assert evaluate(op("Ceiling", d("-1.5"))) == -1
    assert evaluate(op("Truncate", d("-1.5"))) == -1


def test_truncated_divide_of_decimals():
    result = evaluate(op("TruncatedDivide", d("7.5"), d("2.0")))
    assert result == Decimal(3) and isinstance(result, Decimal)


def test_string_operators_with_null():
    """§17: string operators propagate null."""
    assert evaluate(op("Concatenate", s("a"), s("b"))) == "ab"
    assert evaluate(op("Concatenate", s("a"), null_as("String"))) is None


def test_meets_and_intersect_of_disjoint_intervals():
    """§19.18 Meets on integers: [1, 5] meets [6, 10]; §19.15 Intersect of disjoint is null."""
    assert evaluate(op("Meets", ivl(i(1), i(5)), ivl(i(6), i(10)))) is True
    assert evaluate(op("Meets", ivl(i(1), i(5)), ivl(i(7), i(10)))) is False
    assert evaluate(op("Intersect", ivl(i(1), i(3)), ivl(i(5), i(8)))) is None
    assert evaluate(op("Overlaps", ivl(i(1), i(3)), null_as("Integer"))) is None


def test_date_plus_one_year_on_leap_day():
    """§22.1 Add: 2024-02-29 + 1 year is 2025-02-28."""
    assert evaluate(op("Equal", op("Add", date(2024, 2, 29), qty(1, "year")), date(2025, 2, 28))) is True
    assert evaluate(op("Equal", op("Add", dt(2024, 1, 30), qty(3, "days")), dt(2024, 2, 2))) is True
