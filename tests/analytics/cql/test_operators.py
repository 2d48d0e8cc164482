"""ELM operators against the CQL 1.5 specification's semantics.

Each test builds a one-definition ELM library in the shapes the CQL-to-ELM translator writes,
evaluates it for a patient, and asserts the value the specification gives.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from andon.analytics.cql import elm, temporal
from andon.analytics.cql.evaluator import (
    Evaluation,
    EvaluationError,
    PatientData,
    load_handlers,
)
from andon.analytics.cql.fhir_model import Node
from andon.analytics.cql.values import ValueSet

SYS = "{urn:hl7-org:elm-types:r1}"
FHIR = "{http://hl7.org/fhir}"
NOW = "2024-06-01T12:00:00.000Z"
NOT_DONE = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-notDoneValueSet"
VS_URL = "http://example.org/fhir/ValueSet/office-visit"
SNOMED = "http://snomed.info/sct"


# -- ELM builders -------------------------------------------------------------------------------

NULL = {"type": "Null"}


def i(value: int) -> dict:
    return {"type": "Literal", "valueType": SYS + "Integer", "value": str(value)}


def d(value: str) -> dict:
    return {"type": "Literal", "valueType": SYS + "Decimal", "value": value}


def s(value: str) -> dict:
    return {"type": "Literal", "valueType": SYS + "String", "value": value}


def b(value: bool) -> dict:
    return {"type": "Literal", "valueType": SYS + "Boolean", "value": "true" if value else "false"}


def null_as(kind: str) -> dict:
    return {"type": "As", "asType": SYS + kind, "operand": NULL}


def op(kind: str, *operands, **extra) -> dict:
    node = {"type": kind, **extra}
    if len(operands) == 1 and kind in _UNARY:
        node["operand"] = operands[0]
    elif operands:
        node["operand"] = list(operands)
    return node


_UNARY = {"Not", "IsNull", "IsTrue", "IsFalse", "Exists", "SingletonFrom", "Start", "End", "Distinct",
          "Negate", "Abs", "Truncate", "Floor", "Ceiling", "ToDecimal", "DateFrom", "Collapse"}


def agg(kind: str, source: dict) -> dict:
    return {"type": kind, "source": source}


def lst(*elements) -> dict:
    return {"type": "List", "element": list(elements)}


def tup(**elements) -> dict:
    return {"type": "Tuple", "element": [{"name": k, "value": v} for k, v in elements.items()]}


def ivl(low, high, low_closed=True, high_closed=True) -> dict:
    return {"type": "Interval", "lowClosed": low_closed, "highClosed": high_closed, "low": low, "high": high}


def dt(*parts, tz: str | None = None) -> dict:
    names = ("year", "month", "day", "hour", "minute", "second", "millisecond")
    node = {"type": "DateTime", **{n: i(p) for n, p in zip(names, parts)}}
    if tz is not None:
        node["timezoneOffset"] = d(tz)
    return node


def date(*parts) -> dict:
    return {"type": "Date", **{n: i(p) for n, p in zip(("year", "month", "day"), parts)}}


def qty(value, unit: str) -> dict:
    return {"type": "Quantity", "value": value, "unit": unit}


def alias(name: str) -> dict:
    return {"type": "AliasRef", "name": name}


def prop(path: str, source: dict | None = None, scope: str | None = None) -> dict:
    node = {"type": "Property", "path": path}
    if source is not None:
        node["source"] = source
    if scope is not None:
        node["scope"] = scope
    return node


def query(sources: dict, where=None, ret=None, distinct=None, let=None, relationship=None, sort=None, aggregate=None) -> dict:
    node = {"type": "Query", "source": [{"alias": a, "expression": e} for a, e in sources.items()]}
    if let:
        node["let"] = [{"identifier": k, "expression": v} for k, v in let.items()]
    if relationship:
        node["relationship"] = relationship
    if where is not None:
        node["where"] = where
    if ret is not None:
        node["return"] = {"expression": ret} if distinct is None else {"distinct": distinct, "expression": ret}
    if sort is not None:
        node["sort"] = {"by": sort}
    if aggregate is not None:
        node["aggregate"] = aggregate
    return node


def code(code_: str, system: str = SNOMED) -> dict:
    return {"type": "Instance", "classType": SYS + "Code",
            "element": [{"name": "code", "value": s(code_)}, {"name": "system", "value": s(system)}]}


def vs_ref(name: str = "Office Visit") -> dict:
    return {"type": "ValueSetRef", "name": name, "preserve": True}


def retrieve(resource: str, codes=None, comparator: str = "in", code_property: str = "code", profile=None) -> dict:
    node = {"type": "Retrieve", "dataType": FHIR + resource,
            "templateId": f"http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-{profile or resource.lower()}"}
    if codes is not None:
        node.update(codes=codes, codeProperty=code_property, codeComparator=comparator)
    return node


OFFICE_VISIT = ValueSet(VS_URL, None, frozenset({(SNOMED, "185349003")}))
VALUESET_DEFS = [{"name": "Office Visit", "id": VS_URL, "accessLevel": "Public"}]


def evaluate(expression, parameters=None, resources=None, valuesets=None, functions=(), sections=None):
    """The value of `define X: <expression>` in a one-statement library."""
    load_handlers()
    statements = [{"name": "X", "context": "Patient", "accessLevel": "Public", "expression": expression}]
    statements += list(functions)
    body = {"identifier": {"id": "T", "version": "1"}, "statements": {"def": statements}}
    for section, defs in (sections or {}).items():
        body[section] = {"def": defs}
    lib = elm.parse_library({"library": body})
    libraries = elm.LibrarySet([lib])
    ev = Evaluation(libraries, PatientData.from_resources(resources or []), valuesets or {}, parameters,
                    now=temporal.DateTime.parse(NOW))
    return ev.expression(lib, "X")


def truth(expression) -> bool | None:
    return evaluate(expression)


def value_of(b_: bool | None) -> dict:
    return NULL if b_ is None else b(b_)


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
