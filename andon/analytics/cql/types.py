"""Types at run time: FHIR primitives as CQL values, type tests and casts (`Is`, `As`, `ToX`),
structured values built by `Instance`, and the choice among a function's overloads.

The published ELM names types as `{urn:hl7-org:elm-types:r1}DateTime` (CQL system types) and
`{http://hl7.org/fhir}Period` (FHIR model types). FHIR's code elements with a required binding
have their own model types (`EncounterStatus`); in JSON they are plain `code`s, so a FHIR type
the R4 tables do not know matches a `code` (and only a code).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import cache

from . import fhir_model, temporal
from .evaluator import EvaluationError, Unsupported, handles
from .fhir_model import Node
from .interval import Interval
from .quantity import Quantity
from .values import Code, Concept, Ratio, ValueSet, as_decimal, fhir_type, system_type

_NUMBERS = {"integer", "unsignedInt", "positiveInt", "integer64"}
_TEXT = {"string", "code", "uri", "url", "canonical", "id", "oid", "uuid", "markdown", "base64Binary", "xhtml"}


def primitive_value(node: Node):
    """The CQL system value of a FHIR primitive (`FHIR.dateTime.value` is a DateTime)."""
    value, kind = node.value, node.fhir_type
    if value is None:
        return None
    if kind in ("dateTime", "instant"):
        return temporal.DateTime.parse(value)
    if kind == "date":
        return temporal.Date.parse(value)
    if kind == "time":
        return temporal.Time.parse(value)
    if kind == "decimal":
        return as_decimal(value)
    if kind in _NUMBERS:
        return int(value)
    if kind == "boolean":
        return bool(value)
    return value


def literal(kind: str | None, text: str):
    raise Unsupported(f"literal of type {kind}")


def instance(class_type: str, fields: dict):
    kind = system_type(class_type)
    if kind == "Code":
        return Code(fields.get("code"), fields.get("system"), fields.get("version"), fields.get("display"))
    if kind == "Concept":
        return Concept(tuple(c for c in fields.get("codes") or [] if c is not None), fields.get("display"))
    if kind == "Quantity":
        value = fields.get("value")
        return None if value is None else Quantity(value, fields.get("unit") or "1")
    if kind == "Ratio":
        return Ratio(fields.get("numerator"), fields.get("denominator"))
    raise Unsupported(f"Instance of {class_type}")


def attribute(value, name: str):
    """A member of a system structured value (Code.code, Interval.low, Quantity.unit, …)."""
    if isinstance(value, Interval):
        return {"low": value.low, "high": value.high, "lowClosed": value.low_closed, "highClosed": value.high_closed}.get(name)
    if isinstance(value, (Code, Concept, Quantity, Ratio)):
        return getattr(value, name, None)
    if isinstance(value, ValueSet) and name in ("id", "version"):
        return getattr(value, name)
    # A member a value does not have: null, as the reference engines give. It happens when
    # a choice element holds another type than the function called on it was written for
    # (FHIRHelpers.ToQuantity on an Observation whose value is an integer).
    return None


def codes_of(element) -> list[Code]:
    """The codes of a FHIR CodeableConcept, Coding or code, or of a CQL Concept or Code."""
    if isinstance(element, Code):
        return [element]
    if isinstance(element, Concept):
        return list(element.codes)
    if not isinstance(element, Node):
        return []
    if element.fhir_type == "CodeableConcept":
        return [_coding(c) for c in (element.value.get("coding") or []) if isinstance(c, dict)]
    if element.fhir_type == "Coding":
        return [_coding(element.value)]
    if element.is_primitive and isinstance(element.value, str):
        return [Code(element.value)]
    return []


def _coding(coding: dict) -> Code:
    return Code(coding.get("code"), coding.get("system"), coding.get("version"), coding.get("display"))


def describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, Node):
        return f"FHIR.{value.fhir_type}"
    if isinstance(value, list):
        return "List"
    return type(value).__name__


# -- type tests -------------------------------------------------------------------------------

_SYSTEM_CLASSES = {
    "Boolean": (bool,), "String": (str,), "Date": (temporal.Date,), "DateTime": (temporal.DateTime,),
    "Time": (temporal.Time,), "Quantity": (Quantity,), "Code": (Code,), "Concept": (Concept,),
    "ValueSet": (ValueSet,), "Ratio": (Ratio,), "Interval": (Interval,),
}


@cache
def _fhir_types() -> frozenset:
    path2type = fhir_model._tables()[0]
    names = {t for t in path2type.values()} | {p.split(".", 1)[0] for p in path2type}
    return frozenset(names)


def matches(spec: dict, value) -> int:
    """How well `value` fits type `spec`: 2 exactly, 1 loosely (null fits anything; a plain
    code fits a bound-code type), 0 not at all."""
    if value is None:
        return 1
    kind = spec.get("type")
    if kind == "NamedTypeSpecifier":
        return _matches_named(spec["name"], value)
    if kind == "ListTypeSpecifier":
        if not isinstance(value, list):
            return 0
        scores = [matches(spec["elementType"], v) for v in value]
        return min(scores, default=2)
    if kind == "IntervalTypeSpecifier":
        if not isinstance(value, Interval):
            return 0
        points = [p for p in (value.low, value.high) if p is not None]
        return min((matches(spec["pointType"], p) for p in points), default=2)
    if kind == "ChoiceTypeSpecifier":
        return max((matches(c, value) for c in spec.get("choice", [])), default=0)
    if kind == "TupleTypeSpecifier":
        return 2 if isinstance(value, dict) else 0
    raise Unsupported(f"type specifier {kind}")


def _matches_named(name: str, value) -> int:
    system = system_type(name)
    if system is not None:
        if system == "Any":
            return 2
        if system == "Integer":
            return 2 if isinstance(value, int) and not isinstance(value, bool) else 0
        if system == "Decimal":
            return 2 if isinstance(value, (Decimal, float)) else 0
        classes = _SYSTEM_CLASSES.get(system)
        if classes is None:
            raise Unsupported(f"system type {name}")
        return 2 if isinstance(value, classes) else 0
    model = fhir_type(name)
    if model is None:
        return 0
    if model not in _fhir_types() and not (isinstance(value, Node) and not value.is_primitive):
        # A model type the R4 tables do not have: a bound code type (EncounterStatus), or a
        # type the translator named for a union of tuples (NotDoneRecorded). It cannot be
        # checked, so it does not discard the value.
        return 1
    if not isinstance(value, Node):
        return 0
    if value.fhir_type == model:
        return 2
    if model in ("Resource", "DomainResource") and isinstance(value.value, dict) and "resourceType" in value.value:
        return 1
    if model in ("Element", "BackboneElement"):
        return 1
    if model == "string" and value.fhir_type in _TEXT:
        return 1
    return 0


def choose_overload(overloads: list[dict], arguments: list, signature) -> dict | None:
    """The overload whose operand types fit the arguments best (the published ELM rarely
    carries a signature); with a signature, the overload declared with those types."""
    if signature:
        chosen = _plain_once(signature, lambda: _declared_with(overloads, signature))
        if chosen is not None:
            return chosen
    fitting = [o for o in overloads if len(o.get("operand", [])) == len(arguments)]
    if len(fitting) == 1:
        return fitting[0]
    best, best_score = None, 0
    for overload in fitting:
        scores = [matches(o["operandTypeSpecifier"], a) for o, a in zip(overload["operand"], arguments)]
        score = 0 if 0 in scores else sum(scores)
        if score > best_score:
            best, best_score = overload, score
    return best


def _declared_with(overloads: list[dict], signature: list) -> dict | None:
    """The overload declared with exactly the signature's operand types (whatever the values)."""
    wanted = [_plain(s) for s in signature]
    for overload in overloads:
        if [_plain(o.get("operandTypeSpecifier")) for o in overload.get("operand", [])] == wanted:
            return overload
    return None


_PLAIN: dict[int, tuple] = {}  # id of an ELM node -> (the node, its plain form)


def _plain_once(node, compute):
    """`compute()` for an ELM node, once: the ELM never changes while loaded, and keeping the
    node in the entry keeps its id from being reused by another object."""
    entry = _PLAIN.get(id(node))
    if entry is None or entry[0] is not node:
        entry = _PLAIN[id(node)] = (node, compute())
    return entry[1]


def _plain(spec):
    """A type specifier without its source positions, for comparing two of them."""
    if isinstance(spec, dict):
        return {k: _plain(v) for k, v in spec.items() if k not in ("localId", "locator")}
    if isinstance(spec, list):
        return [_plain(v) for v in spec]
    return spec


def external(library: str, name: str, arguments: list):
    """FHIRHelpers functions the ELM declares `external` (implemented by the engine)."""
    raise Unsupported(f"{library}.{name} (external) is not implemented")


# -- handlers ---------------------------------------------------------------------------------


def _target(node) -> dict:
    if node.get("asTypeSpecifier") is not None:
        return node["asTypeSpecifier"]
    if node.get("isTypeSpecifier") is not None:
        return node["isTypeSpecifier"]
    name = node.get("asType") or node.get("isType")
    return {"type": "NamedTypeSpecifier", "name": name}


@handles("As")
def as_(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None or matches(_target(node), value):
        return value
    if node.get("strict"):
        raise EvaluationError(f"{scope.library.name}: cannot cast {describe(value)} as {_target(node)}")
    return None


@handles("Is")
def is_(ev, node, scope):
    value = ev.operand(node, scope)
    return value is not None and matches(_target(node), value) > 0


@handles("ToList")
def to_list(ev, node, scope):
    value = ev.operand(node, scope)
    return [] if value is None else [value]


@handles("ToDateTime")
def to_datetime(ev, node, scope):
    value = ev.operand(node, scope)
    if isinstance(value, temporal.Date):
        return temporal.to_datetime(value)
    if isinstance(value, str):
        return _or_null(temporal.DateTime.parse, value)
    return value


@handles("ToDate")
def to_date(ev, node, scope):
    value = ev.operand(node, scope)
    if isinstance(value, temporal.DateTime):
        return temporal.to_date(value)
    if isinstance(value, str):
        return _or_null(temporal.Date.parse, value)
    return value


@handles("ToDecimal")
def to_decimal(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None or isinstance(value, bool):
        return None if value is None else Decimal(int(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


@handles("ToInteger")
def to_integer(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        return None


@handles("ToString")
def to_string(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@handles("ToBoolean")
def to_boolean(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "t": True, "yes": True, "y": True, "1": True,
            "false": False, "f": False, "no": False, "n": False, "0": False}.get(text)


@handles("ToConcept")
def to_concept(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None or isinstance(value, Concept):
        return value
    if isinstance(value, Code):
        return Concept((value,))
    if isinstance(value, list):
        return Concept(tuple(v for v in value if isinstance(v, Code)))
    raise EvaluationError(f"cannot convert {describe(value)} to a Concept")


@handles("ToQuantity")
def to_quantity(ev, node, scope):
    value = ev.operand(node, scope)
    if value is None or isinstance(value, Quantity):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return Quantity(value, "1")
    raise Unsupported(f"ToQuantity of {describe(value)}")


@handles("ConvertQuantity")
def convert_quantity(ev, node, scope):
    value, unit = ev.operands(node, scope)
    return None if value is None or unit is None else value.convert(unit)


def _or_null(parse, text):
    try:
        return parse(text)
    except ValueError:
        return None


@handles("Message")
def message(ev, node, scope):
    # Message(source, condition, code, severity, message): an 'Error' severity stops evaluation
    source = ev.eval(node.get("source"), scope)
    if ev.eval(node.get("condition"), scope) is True and ev.eval(node.get("severity"), scope) == "Error":
        raise EvaluationError(f"{scope.library.name}: {ev.eval(node.get('message'), scope)}")
    return source


@handles("InValueSet")
def in_valueset(ev, node, scope):
    """`code in "Value Set"` (§23.10) for a Code, Concept or FHIR coded element."""
    return _in_valueset(ev.eval(node["code"], scope), _valueset(ev, node, scope))


@handles("AnyInValueSet")
def any_in_valueset(ev, node, scope):
    values, valueset = ev.eval(node["codes"], scope), _valueset(ev, node, scope)
    if values is None:
        return False
    return any(_in_valueset(v, valueset) for v in values)


def _valueset(ev, node, scope):
    """The value set of an InValueSet node: `valueset` is a ValueSetRef written without its
    `type` in the published ELM; `valuesetExpression` any expression."""
    from .ops_core import valueset_ref

    if node.get("valueset") is not None:
        return valueset_ref(ev, node["valueset"], scope)
    return ev.eval(node.get("valuesetExpression"), scope)


def _in_valueset(value, valueset) -> bool:
    if value is None or valueset is None:
        return False
    if isinstance(value, str):
        value = Code(value)
    return any(valueset.contains(code) for code in codes_of(value))


@handles("Quantity")
def quantity_literal(ev, node, scope):
    value = node.get("value")
    return None if value is None else Quantity(as_decimal(value), node.get("unit") or "1")


@handles("Ratio")
def ratio_literal(ev, node, scope):
    return Ratio(ev.eval(node["numerator"], scope), ev.eval(node["denominator"], scope))


_LIMITS = {
    "Integer": (-(2**31), 2**31 - 1),
    "Decimal": (Decimal("-99999999999999999999.99999999"), Decimal("99999999999999999999.99999999")),
    "Date": (temporal.Date(1, 1, 1), temporal.Date(9999, 12, 31)),
    "DateTime": (temporal.DateTime(1, 1, 1, 0, 0, 0, 0), temporal.DateTime(9999, 12, 31, 23, 59, 59, 999)),
    "Time": (temporal.Time(0, 0, 0, 0), temporal.Time(23, 59, 59, 999)),
}


@handles("MinValue", "MaxValue")
def limit_value(ev, node, scope):
    kind = system_type(node.get("valueType", ""))
    if kind not in _LIMITS:
        raise Unsupported(f"{node['type']} of {node.get('valueType')}")
    low, high = _LIMITS[kind]
    if kind == "DateTime":  # the extreme DateTimes are in the evaluation's offset
        low, high = (temporal.DateTime(*(getattr(v, f) for f in ("year", "month", "day", "hour", "minute", "second", "millisecond")),
                                       offset=ev.default_offset) for v in (low, high))
    return low if node["type"] == "MinValue" else high
