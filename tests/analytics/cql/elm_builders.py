"""ELM builders for the operator tests: tiny libraries in the shapes the CQL-to-ELM
translator writes, evaluated for one patient."""

from __future__ import annotations

from andon.analytics.cql import elm, temporal
from andon.analytics.cql.evaluator import (
    Evaluation,
    PatientData,
    load_handlers,
)
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
