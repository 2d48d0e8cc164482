"""Literals, references, properties, retrieves, queries and function calls (CQL §2–§10)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from . import compare, fhir_model, profiles, types
from .evaluator import EvaluationError, Scope, Unsupported, handles
from .fhir_model import Node
from .values import Code, Concept, ValueSet, system_type

# -- literals and selectors -------------------------------------------------------------------


@handles("Null")
def null(ev, node, scope):
    return None


@handles("Literal")
def literal(ev, node, scope):
    kind, text = system_type(node.get("valueType", "")), node.get("value")
    if text is None:
        return None
    if kind == "Boolean":
        return text == "true"
    if kind in ("Integer", "Long"):
        return int(text)
    if kind == "Decimal":
        return Decimal(text)
    if kind == "String":
        return text
    return types.literal(kind, text)


@handles("List")
def list_(ev, node, scope):
    return [ev.eval(e, scope) for e in node.get("element", [])]


@handles("Tuple")
def tuple_(ev, node, scope):
    return {e["name"]: ev.eval(e["value"], scope) for e in node.get("element", [])}


@handles("Instance")
def instance(ev, node, scope):
    fields = {e["name"]: ev.eval(e["value"], scope) for e in node.get("element", [])}
    return types.instance(node.get("classType", ""), fields)


# -- references -------------------------------------------------------------------------------


@handles("ExpressionRef")
def expression_ref(ev, node, scope):
    return ev.expression(ev.library_for(scope, node.get("libraryName")), node["name"])


@handles("ParameterRef")
def parameter_ref(ev, node, scope):
    return ev.parameter(ev.library_for(scope, node.get("libraryName")), node["name"])


@handles("OperandRef", "AliasRef", "QueryLetRef")
def name_ref(ev, node, scope):
    return scope.lookup(node["name"])


@handles("IdentifierRef")
def identifier_ref(ev, node, scope):
    # a name in a sort clause or tuple: an element of the item being sorted, else a name in scope
    name = node["name"]
    if name in scope.names:  # `$this` itself, an alias
        return scope.names[name]
    if "$this" in scope.names:
        return member_of(scope.names["$this"], name)
    return scope.lookup(name)


@handles("ValueSetRef")
def valueset_ref(ev, node, scope):
    library = ev.library_for(scope, node.get("libraryName"))
    definition = library.valuesets.get(node["name"])
    if definition is None:
        raise EvaluationError(f"{library.name}: no value set named {node['name']!r}")
    found = ev.valuesets.get(definition["id"])
    if found is None:
        # not in the content given: nothing is a member, and the evaluation says so
        ev.missing_valuesets.add(definition["id"])
        return ValueSet(definition["id"], definition.get("version"), frozenset())
    return found


@handles("CodeRef")
def code_ref(ev, node, scope):
    library = ev.library_for(scope, node.get("libraryName"))
    definition = library.codes.get(node["name"])
    if definition is None:
        raise EvaluationError(f"{library.name}: no code named {node['name']!r}")
    system = library.codesystems.get(definition["codeSystem"]["name"], {})
    if definition["codeSystem"].get("libraryName"):
        other = ev.library_for(Scope(library), definition["codeSystem"]["libraryName"])
        system = other.codesystems.get(definition["codeSystem"]["name"], {})
    return Code(definition["id"], system.get("id"), system.get("version"), definition.get("display"))


@handles("ConceptRef")
def concept_ref(ev, node, scope):
    library = ev.library_for(scope, node.get("libraryName"))
    definition = library.concepts[node["name"]]
    codes = tuple(code_ref(ev, {"name": c["name"], "libraryName": c.get("libraryName")}, Scope(library)) for c in definition["code"])
    return Concept(codes, definition.get("display"))


@handles("Code")
def code_selector(ev, node, scope):
    system = code_ref_system(ev, node["system"], scope)
    return Code(node["code"], system.get("id"), system.get("version"), node.get("display"))


def code_ref_system(ev, ref, scope) -> dict:
    library = ev.library_for(scope, ref.get("libraryName"))
    return library.codesystems.get(ref["name"], {})


# -- properties -------------------------------------------------------------------------------


@handles("Property")
def property_(ev, node, scope):
    if "source" in node:
        value = ev.eval(node["source"], scope)
    elif "scope" in node:
        value = scope.lookup(node["scope"])
    else:  # unscoped: the translator's implicit `With [Medication] M` clause names M's members
        value = scope.names.get("$this")
    for name in node["path"].split("."):
        value = member_of(value, name)
    return value


def member_of(value, name: str):
    """`value.name` for any CQL value: FHIR elements by the model, tuples by key, system
    structured values by their attributes; over a list, each item's (flattened)."""
    if value is None:
        return None
    if isinstance(value, Node):
        if value.is_primitive and name == "value":
            return types.primitive_value(value)
        return fhir_model.member(value, name)
    if isinstance(value, list):
        found = []
        for item in value:
            result = member_of(item, name)
            if isinstance(result, list):
                found.extend(r for r in result if r is not None)
            elif result is not None:
                found.append(result)
        return found
    if isinstance(value, dict):
        return value.get(name)
    return types.attribute(value, name)


# -- retrieve ---------------------------------------------------------------------------------


@handles("Retrieve")
def retrieve(ev, node, scope):
    """The patient's resources of a type, profile and codes. Kept for the patient (PatientData.shared)
    under everything the result depends on: another definition, measure or period asking the
    same retrieve (the measures of a library share most of theirs) gets the same list again."""
    filtered = node.get("codes") is not None
    codes = ev.eval(node["codes"], scope) if filtered else None
    if filtered and codes is None:
        return []
    how = (_model_type(node["dataType"]), node.get("templateId"), node.get("codeProperty") or "code",
           node.get("codeComparator", "in"))
    # a value set, code or concept is hashable and equal only to one with the same codes
    key = (*how, filtered, tuple(codes) if isinstance(codes, list) else codes)
    try:
        cache = ev.data.shared.setdefault("retrieve", {})
        found = cache.get(key)
    except TypeError:  # codes of an unhashable kind (never in the published ELM): not kept
        return _retrieved(ev, *how, filtered, codes)
    if found is None:
        found = cache[key] = _retrieved(ev, *how, filtered, codes)
    return list(found)  # a list of its own: the kept one stays as found


def _retrieved(ev, resource_type: str, template, path: str, comparator: str, filtered: bool, codes) -> list:
    found = [r for r in ev.data.of_type(resource_type) if profiles.selects(template, r)]
    if not filtered:
        return found
    return [r for r in found if _code_matches(member_of(r, path), codes, comparator)]


@cache
def _model_type(name: str) -> str:
    return name.split("}", 1)[-1] if name.startswith("{") else name.split(".", 1)[-1]


def _code_matches(element, codes, comparator: str) -> bool:
    """Whether a resource's code element (CodeableConcept, Coding, code, or a list of them)
    matches the retrieve's codes (a value set, or a list of codes)."""
    elements = element if isinstance(element, list) else [element]
    candidates = [c for e in elements if e is not None for c in types.codes_of(e)]
    if isinstance(codes, ValueSet):
        if comparator == "~" or comparator == "in":
            return any(codes.contains(c) for c in candidates) or (comparator == "~" and _not_done_value_set(elements, codes))
        raise Unsupported(f"retrieve code comparator {comparator!r} with a value set")
    wanted = codes if isinstance(codes, list) else [codes]
    wanted = [w for c in wanted for w in (c.codes if isinstance(c, Concept) else [c]) if w is not None]
    test = compare.equivalent if comparator in ("~", "in") else (lambda a, b: compare.equal(a, b) is True)
    return any(test(c, w) for c in candidates for w in wanted)


NOT_DONE_VALUE_SET = "http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-notDoneValueSet"


def _not_done_value_set(elements, valueset: ValueSet) -> bool:
    """QI-Core negation: a code element that names the value set of what was not done (the
    `qicore-notDoneValueSet` extension) matches that value set."""
    for element in elements:
        if not isinstance(element, Node) or not isinstance(element.value, dict):
            continue
        for extension in element.value.get("extension", []) or []:
            if extension.get("url") == NOT_DONE_VALUE_SET and _same_canonical(extension.get("valueCanonical"), valueset.id):
                return True
    return False


def _same_canonical(a, b) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.split("|")[0] == b.split("|")[0]


# -- queries ----------------------------------------------------------------------------------


@handles("Query")
def query(ev, node, scope):
    sources = node["source"]
    values = [ev.eval(s["expression"], scope) for s in sources]
    # a query over singletons only (one value per alias, not lists) gives a singleton, and
    # null when any source is null
    singular = not any(isinstance(v, list) for v in values)
    if singular and any(v is None for v in values):
        return None
    lists = [v if isinstance(v, list) else ([] if v is None else [v]) for v in values]
    rows = [{}]
    for source, items in zip(sources, lists):
        rows = [{**row, source["alias"]: item} for row in rows for item in items]
    results = []
    for row in rows:
        inner = scope.with_names(**row)
        for let in node.get("let") or []:
            inner = inner.with_names(**{let["identifier"]: ev.eval(let["expression"], inner)})
        if not all(_related(ev, r, inner) for r in node.get("relationship") or []):
            continue
        if node.get("where") is not None and ev.eval(node["where"], inner) is not True:
            continue
        results.append((row, inner))
    if node.get("aggregate") is not None:
        return _aggregate(ev, node["aggregate"], results, scope)
    returned = node.get("return")
    if returned is not None:
        values = [ev.eval(returned["expression"], inner) for _, inner in results]
        if returned.get("distinct", True) and not singular:
            values = _distinct(values)
    elif len(sources) == 1:
        values = [row[sources[0]["alias"]] for row, _ in results]
    else:
        values = [dict(row) for row, _ in results]
    if node.get("sort") is not None:
        values = _sort(ev, node["sort"], values, scope)
    if singular:
        return values[0] if values else None
    return values


def _related(ev, relationship, scope) -> bool:
    items = ev.eval(relationship["expression"], scope)
    items = items if isinstance(items, list) else ([] if items is None else [items])
    alias, kind = relationship["alias"], relationship["type"]
    found = any(ev.eval(relationship["suchThat"], scope.with_names(**{alias: item})) is True for item in items)
    if kind == "With":
        return found
    if kind == "Without":
        return not found
    raise Unsupported(f"query relationship {kind}")


def _aggregate(ev, clause, results, scope):
    total = ev.eval(clause.get("starting"), scope)
    items = [inner for _, inner in results]
    if clause.get("distinct"):
        seen, unique = [], []
        for row, inner in results:
            if not any(compare.equivalent(row, s) for s in seen):
                seen.append(row)
                unique.append(inner)
        items = unique
    for inner in items:
        total = ev.eval(clause["expression"], inner.with_names(**{clause["identifier"]: total}))
    return total


def _distinct(values: list) -> list:
    unique = []
    for value in values:
        if not any(compare.equivalent(value, u) for u in unique):
            unique.append(value)
    return unique


def _sort(ev, clause, values, scope):
    from functools import cmp_to_key

    def order(a, b):
        for item in clause.get("by", []):
            if item["type"] == "ByDirection":
                x, y = a, b
            elif item["type"] == "ByExpression":
                x = ev.eval(item["expression"], scope.with_names(**{"$this": a}))
                y = ev.eval(item["expression"], scope.with_names(**{"$this": b}))
            else:  # ByColumn
                x, y = member_of(a, item["path"]), member_of(b, item["path"])
            found = _null_first(x, y)
            if found:
                return -found if item.get("direction", "asc").startswith("desc") else found
        return 0

    return sorted(values, key=cmp_to_key(order))


def _null_first(x, y) -> int:
    if x is None or y is None:
        return (x is not None) - (y is not None)
    return compare.compare(x, y) or 0


# -- functions --------------------------------------------------------------------------------


@handles("FunctionRef")
def function_ref(ev, node, scope):
    library = ev.library_for(scope, node.get("libraryName"))
    arguments = [ev.eval(o, scope) for o in node.get("operand", [])]
    return call_function(ev, library, node["name"], arguments, node.get("signature"))


def call_function(ev, library, name: str, arguments: list, signature=None):
    """A function of `library` applied to evaluated arguments, the overload chosen by their
    runtime types (and the ELM's signature, when the call site gives one)."""
    if ev.ucum_corrector is not None:
        arguments = ev.ucum_corrector.arguments(library.name, name, arguments)
    overloads = library.functions.get(name)
    if not overloads:
        raise EvaluationError(f"{library.name}: no function named {name!r}")
    definition = types.choose_overload(overloads, arguments, signature)
    if definition is None:
        kinds = ", ".join(types.describe(a) for a in arguments)
        raise EvaluationError(f"{library.name}.{name}: no overload takes ({kinds})")
    if definition.get("external"):
        return types.external(library.name, name, arguments)
    key = _conversion_key(ev, library, definition, arguments)
    if key is not None:
        kept = ev.data.shared.setdefault("conversion", {})
    elif ev.function_results is not None:
        kept = ev.function_results
        key = (id(definition), *map(_identity, arguments))
    else:
        return _applied(ev, library, definition, arguments)
    if key not in kept:
        # the arguments are kept with the result, so that their ids name them as long as the key exists
        kept[key] = (arguments, _applied(ev, library, definition, arguments))
    return kept[key][1]


def _identity(argument) -> tuple:
    """What names an argument in a kept function result: the object itself by its id, but a FHIR
    element by the JSON it wraps, since every read of the element wraps it anew."""
    if isinstance(argument, Node):
        return id(argument.value), argument.fhir_type, argument.path, id(argument.extension)
    return (id(argument),)


def _applied(ev, library, definition: dict, arguments: list):
    names = {o["name"]: a for o, a in zip(definition.get("operand", []), arguments)}
    return ev.eval(definition["expression"], Scope(library, names))


def _conversion_key(ev, library, definition: dict, arguments: list) -> tuple | None:
    """What a FHIRHelpers conversion of one of the patient's elements (ToInterval of a Period,
    ToConcept of a CodeableConcept, …) is kept under, or None when it is not kept. Those functions
    read their argument alone, so every measure converting the same element gets the same value.
    Not when quantities may be corrected (ucum_spelling.py): the corrector counts what it accepts
    on each call."""
    if library.name != "FHIRHelpers" or ev.ucum_corrector is not None or len(arguments) != 1:
        return None
    element = arguments[0]
    if not isinstance(element, Node) or not isinstance(element.value, dict):
        return None
    return (id(definition), id(element.value), element.fhir_type, element.path, id(element.extension),
            ev.default_offset)
