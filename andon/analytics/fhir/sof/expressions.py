"""FHIRPath expression tree → DuckDB SQL.

Every FHIRPath expression compiles to one SQL expression of type `JSON[]`: the FHIRPath
collection as a DuckDB list of JSON values (the empty collection is `[]`). Navigation
`a.b` maps each item to its `b` (an array member is spread: `json_extract(x, '$."b"[*]')`)
and flattens; `where` is `list_filter`; `first()` is a slice; comparisons, `and`/`or` and
arithmetic take singletons and give a singleton (or `[]` for FHIRPath's empty). Lambda
variables are fresh per compilation (`_v1`, `_v2`, …) so nested expressions never collide.

An operand used more than once (equality looks at both sides' lengths and items, arithmetic at
their JSON types and values) is compiled once and bound to a lambda variable (`bind`): pasted
at each use, a chain of k operators would compile to SQL exponential in k.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .boundary import boundary_sql, json_text
from .fhirpath import (
    DEFAULT_MAX_DEPTH,
    Call,
    Constant,
    FHIRPathError,
    Literal,
    Member,
    This,
    parse,
)

EMPTY = "[]::JSON[]"

SHORT = 48  # SQL this short (a literal, a lambda variable, `_m[3]`) is pasted rather than bound
REFERENCE_KEY = "([A-Za-z]+/[A-Za-z0-9.\\-]+)(/_history/[^/]*)?$"  # Type/id at the end of a reference
PLAIN_REFERENCE = r"[A-Za-z]+/[A-Za-z0-9.\-]+"  # Type/id and nothing more
_NUMERIC = "('BIGINT', 'UBIGINT', 'DOUBLE')"

# FHIR primitive type → the JSON types its values take (for ofType() on a non-choice element)
_JSON_TYPES = {
    "boolean": ("BOOLEAN",),
    "integer": ("BIGINT", "UBIGINT"),
    "positiveInt": ("BIGINT", "UBIGINT"),
    "unsignedInt": ("BIGINT", "UBIGINT"),
    "integer64": ("BIGINT", "UBIGINT", "VARCHAR"),
    "decimal": ("BIGINT", "UBIGINT", "DOUBLE"),
}


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def json_literal(value) -> str:
    return f"CAST({sql_string(json.dumps(value, ensure_ascii=False))} AS JSON)"


def json_path(name, suffix: str = "") -> str:
    """The JSON path of a member name (or of a tuple of names, one after another)."""
    names = (name,) if isinstance(name, str) else name  # an int in the tuple is an array index
    return sql_string("$" + "".join(f"[{n}]" if isinstance(n, int) else "." + json.dumps(n) for n in names) + suffix)


def bind(value: str, body, names: Names) -> str:
    """`body(x)`, `x` standing for the SQL `value` evaluated once: a lambda over a one-item
    list. A SHORT value is pasted instead (cheaper than the lambda; its copies are bounded)."""
    if len(value) <= SHORT:
        return body(value)
    x = names("b")
    return f"list_transform([{value}], lambda {x}: {body(x)})[1]"


class Names:
    """Fresh lambda variable names, shared by everything compiled for one view."""

    def __init__(self):
        self.n = 0

    def __call__(self, stem: str = "v") -> str:
        self.n += 1
        return f"_{stem}{self.n}"


@dataclass
class Scope:
    """Where an expression is evaluated: the focus item (a JSON SQL expression), the
    current %rowIndex (an integer SQL expression), the view's constants, and the root."""

    focus: str
    row_index: str
    constants: dict
    names: Names
    resource_type: str
    root: bool = True
    # members of the resource read by the view, name -> position: the query extracts them all
    # with one json_extract(resource, [paths]) (one parse of the resource) as the list `_m`
    members: dict | None = None
    # the focus may be SQL NULL, standing for no item (forEachOrNull over an empty collection)
    nullable: bool = False

    def at(self, focus: str, row_index: str | None = None, root: bool = False, nullable: bool = False) -> Scope:
        index = self.row_index if row_index is None else row_index
        return Scope(focus, index, self.constants, self.names, self.resource_type, root, self.members, nullable)

    def member(self, item: str, name: str) -> str:
        """The JSON of `item.name` (NULL when absent)."""
        if item == "resource" and self.members is not None:
            return self.root_member((name,))
        return f"json_extract({item}, {json_path(name)})"

    def root_member(self, names: tuple) -> str:
        """The JSON at `resource.n1.n2…` read by plain path (NULL when absent or when an
        array is met on the way), extracted once per resource with the other members."""
        k = self.members.setdefault(tuple(names), len(self.members) + 1)
        return f"_m[{k}]"


def children(collection: str, name: str, names: Names) -> str:
    """`collection.name`: each item's member `name`, arrays spread, absent and null dropped.

    Each item is parsed once (`json_extract`); the member found is then spread when it is an
    array (`CAST(… AS JSON[])`)."""
    v, x = names(), names()
    return (
        f"flatten(list_transform({collection}, lambda {v}: list_transform([json_extract({v}, {json_path(name)})], "
        f"lambda {x}: CASE WHEN {x} IS NULL OR json_type({x}) = 'NULL' THEN {EMPTY} "
        f"WHEN json_type({x}) = 'ARRAY' THEN CAST({x} AS JSON[]) ELSE [{x}] END)[1]))"
    )


def member_of(item: str, name: str, scope: Scope) -> str:
    """`item.name` for one focus item (no list to map over)."""
    x = scope.names()
    return (
        f"list_transform([{scope.member(item, name)}], "
        f"lambda {x}: CASE WHEN {x} IS NULL OR json_type({x}) = 'NULL' THEN {EMPTY} "
        f"WHEN json_type({x}) = 'ARRAY' THEN CAST({x} AS JSON[]) ELSE [{x}] END)[1]"
    )


def singleton(collection: str) -> str:
    """The one item of a collection as JSON (NULL when empty)."""
    return f"({collection})[1]"


def boolean_of(collection: str) -> str:
    """A collection as a SQL boolean: NULL when empty, the item's truth otherwise."""
    return f"TRY_CAST(({collection})[1] AS BOOLEAN)"


def from_boolean(sql: str, names: Names) -> str:
    v = names()
    return f"list_filter([to_json({sql})], lambda {v}: {v} IS NOT NULL)"


def from_value(sql: str, names: Names) -> str:
    """A SQL value (NULL for empty) as a collection."""
    v = names()
    return f"list_filter([to_json({sql})], lambda {v}: {v} IS NOT NULL)"


def compare(left: str, right: str, op: str) -> str:
    """Two JSON scalars compared: as numbers when both are numbers, else as text."""
    return (
        f"CASE WHEN json_type({left}) IN {_NUMERIC} AND json_type({right}) IN {_NUMERIC} "
        f"THEN CAST({left} AS DOUBLE) {op} CAST({right} AS DOUBLE) "
        f"ELSE json_extract_string({left}, '$') {op} json_extract_string({right}, '$') END"
    )


_COMPARISONS = ("=", "!=", "~", "!~", "<", ">", "<=", ">=")
_ARITHMETIC = ("+", "-", "*", "/", "div", "mod")


def type_suffix(type_name: str) -> str:
    name = type_name.split(".")[-1]
    return name[:1].upper() + name[1:]


class ExpressionCompiler:
    def __init__(self, scope: Scope):
        self.scope = scope

    @property
    def names(self) -> Names:
        return self.scope.names

    def compile(self, node) -> str:
        method = getattr(self, "_" + type(node).__name__)
        return method(node)

    def sub(self, node, focus: str, row_index: str | None = None) -> str:
        """`node` evaluated with another focus item (inside where(), exists(), …)."""
        return ExpressionCompiler(self.scope.at(focus, row_index)).compile(node)

    # -- leaves
    def _This(self, node) -> str:
        focus = self.scope.focus
        if self.scope.nullable:
            return f"CASE WHEN {focus} IS NULL THEN {EMPTY} ELSE [{focus}] END"
        return f"[{focus}]"

    def _Literal(self, node) -> str:
        if node.kind == "decimal":
            return f"[CAST({sql_string(node.value)} AS JSON)]"
        return f"[{json_literal(node.value)}]"

    def _Constant(self, node) -> str:
        if node.name == "rowIndex":
            return f"[to_json(CAST({self.scope.row_index} AS BIGINT))]"
        if node.name in ("resource", "rootResource", "context"):
            return "[resource]"
        if node.name not in self.scope.constants:
            known = ", ".join(sorted(self.scope.constants)) or "none"
            raise FHIRPathError(f"%{node.name} is not a constant of this view (constants: {known})")
        return f"[{json_literal(self.scope.constants[node.name])}]"

    # -- navigation
    def _Member(self, node) -> str:
        if isinstance(node.base, This) and self.scope.root and node.name == self.scope.resource_type:
            return self.compile(node.base)
        if isinstance(node.base, This):
            return member_of(self.scope.focus, node.name, self.scope)  # NULL focus: no member
        return children(self.compile(node.base), node.name, self.names)

    def _Index(self, node) -> str:
        base = self.compile(node.base)
        if isinstance(node.index, Literal) and node.index.kind == "integer":
            k = node.index.value + 1
            return f"({base})[{k}:{k}]"
        index = f"(CAST({singleton(self.compile(node.index))} AS BIGINT) + 1)"
        return bind(index, lambda k: f"list_slice({base}, {k}, {k})", self.names)

    # -- operators
    def _Unary(self, node) -> str:
        operand = self.compile(node.operand)
        if node.op == "+":
            return operand
        v = self.names()
        return f"list_transform({operand}, lambda {v}: to_json(-CAST({v} AS DOUBLE)))"

    def _Binary(self, node) -> str:
        op = node.op
        if op in ("and", "or", "xor", "implies"):
            a, b = boolean_of(self.compile(node.left)), boolean_of(self.compile(node.right))
            sql = {
                "and": f"({a} AND {b})",
                "or": f"({a} OR {b})",
                "xor": f"({a} <> {b})",
                "implies": f"((NOT {a}) OR {b})",
            }[op]
            return from_boolean(sql, self.names)
        left, right = self.compile(node.left), self.compile(node.right)
        if op == "|":
            return f"list_distinct(list_concat({left}, {right}))"
        if op == "&":
            text = f"coalesce(json_extract_string({singleton(left)}, '$'), '') || coalesce(json_extract_string({singleton(right)}, '$'), '')"
            return f"[to_json({text})]"
        if op not in _COMPARISONS and op not in _ARITHMETIC:
            raise FHIRPathError(f"operator {op!r} is not supported")
        # each side is used several times: bound once (see `bind`)
        return bind(left, lambda x: bind(right, lambda y: self._operator(op, x, y), self.names), self.names)

    def _operator(self, op: str, left: str, right: str) -> str:
        """`left op right` for a comparison or arithmetic, the operands being bound (short) SQL."""
        a, b = singleton(left), singleton(right)
        if op in ("=", "!=", "~", "!~"):
            equal = (
                f"CASE WHEN array_length({left}) = 0 OR array_length({right}) = 0 THEN NULL "
                f"WHEN array_length({left}) = 1 AND array_length({right}) = 1 THEN {compare(a, b, '=')} "
                f"ELSE CAST({left} AS VARCHAR[]) = CAST({right} AS VARCHAR[]) END"
            )
            sql = equal if op in ("=", "~") else f"(NOT ({equal}))"
            return from_boolean(sql, self.names)
        if op in ("<", ">", "<=", ">="):
            return from_boolean(compare(a, b, op), self.names)
        numbers = f"json_type({a}) IN {_NUMERIC} AND json_type({b}) IN {_NUMERIC}"
        x, y = f"CAST({a} AS DOUBLE)", f"CAST({b} AS DOUBLE)"
        arithmetic = {
            "+": f"{x} + {y}",
            "-": f"{x} - {y}",
            "*": f"{x} * {y}",
            "/": f"CASE WHEN {y} = 0 THEN NULL ELSE {x} / {y} END",
            "div": f"CASE WHEN {y} = 0 THEN NULL ELSE trunc({x} / {y}) END",
            "mod": f"CASE WHEN {y} = 0 THEN NULL ELSE fmod({x}, {y}) END",
        }[op]
        if op == "+":
            text = f"json_extract_string({a}, '$') || json_extract_string({b}, '$')"
            return from_value(f"CASE WHEN {numbers} THEN to_json({arithmetic}) ELSE to_json({text}) END", self.names)
        return from_value(f"CASE WHEN {numbers} THEN {arithmetic} END", self.names)

    # -- functions
    def _Call(self, node) -> str:
        name, args = node.name, node.args
        handler = getattr(self, "fn_" + name, None)
        if handler is None:
            raise FHIRPathError(f"function {name}() is not in the supported FHIRPath subset")
        return handler(node.base, args)

    def _arity(self, name, args, low, high):
        if not low <= len(args) <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise FHIRPathError(f"{name}() takes {expected} argument(s), not {len(args)}")

    def _string_arg(self, name, arg) -> str:
        if isinstance(arg, Literal) and arg.kind == "string":
            return arg.value
        if isinstance(arg, Constant) and isinstance(self.scope.constants.get(arg.name), str):
            return self.scope.constants[arg.name]
        raise FHIRPathError(f"{name}() takes a string literal")

    def _type_arg(self, name, arg) -> str:
        if isinstance(arg, Member) and isinstance(arg.base, This):
            return arg.name
        if isinstance(arg, Literal) and arg.kind == "string":
            return arg.value
        raise FHIRPathError(f"{name}() takes a type name, such as Quantity or string")

    def fn_where(self, base, args):
        self._arity("where", args, 1, 1)
        v = self.names()
        return f"list_filter({self.compile(base)}, lambda {v}: coalesce({boolean_of(self.sub(args[0], v))}, false))"

    def fn_exists(self, base, args):
        self._arity("exists", args, 0, 1)
        collection = self.fn_where(base, args) if args else self.compile(base)
        return f"[to_json(array_length({collection}) > 0)]"

    def fn_empty(self, base, args):
        self._arity("empty", args, 0, 0)
        return f"[to_json(array_length({self.compile(base)}) = 0)]"

    def fn_count(self, base, args):
        self._arity("count", args, 0, 0)
        return f"[to_json(array_length({self.compile(base)}))]"

    def fn_not(self, base, args):
        self._arity("not", args, 0, 0)
        return from_boolean(f"NOT {boolean_of(self.compile(base))}", self.names)

    def fn_first(self, base, args):
        self._arity("first", args, 0, 0)
        return f"({self.compile(base)})[1:1]"

    def fn_last(self, base, args):
        self._arity("last", args, 0, 0)
        return f"({self.compile(base)})[-1:]"

    def fn_join(self, base, args):
        self._arity("join", args, 0, 1)
        separator = self._string_arg("join", args[0]) if args else ""
        v = self.names()
        texts = f"list_transform({self.compile(base)}, lambda {v}: json_extract_string({v}, '$'))"
        return f"[to_json(array_to_string({texts}, {sql_string(separator)}))]"

    def fn_ofType(self, base, args):
        self._arity("ofType", args, 1, 1)
        type_name = self._type_arg("ofType", args[0])
        if isinstance(base, Member):
            # a FHIR choice element: value.ofType(Quantity) is valueQuantity
            if isinstance(base.base, This):
                return member_of(self.scope.focus, base.name + type_suffix(type_name), self.scope)
            return children(self.compile(base.base), base.name + type_suffix(type_name), self.names)
        collection = self.compile(base)
        v = self.names()
        json_types = _JSON_TYPES.get(type_name, ("VARCHAR",) if type_name[:1].islower() else ("OBJECT",))
        allowed = "(" + ", ".join(sql_string(t) for t in json_types) + ")"
        return f"list_filter({collection}, lambda {v}: json_type({v}) IN {allowed})"

    fn_as = fn_ofType

    def fn_extension(self, base, args):
        self._arity("extension", args, 1, 1)
        url = self._string_arg("extension", args[0])
        v = self.names()
        extensions = children(self.compile(base), "extension", self.names)
        return f"list_filter({extensions}, lambda {v}: json_extract_string({v}, '$.url') = {sql_string(url)})"

    def fn_getResourceKey(self, base, args):
        self._arity("getResourceKey", args, 0, 0)
        v = self.names()
        key = f"json_extract_string({v}, '$.resourceType') || '/' || json_extract_string({v}, '$.id')"
        return f"list_filter(list_transform({self.compile(base)}, lambda {v}: to_json({key})), lambda {v}: {v} IS NOT NULL)"

    def fn_getReferenceKey(self, base, args):
        self._arity("getReferenceKey", args, 0, 1)
        v = self.names()
        reference = f"json_extract_string({v}, '$.reference')"
        key = f"regexp_extract({reference}, {sql_string(REFERENCE_KEY)}, 1)"
        keys = f"list_transform({self.compile(base)}, lambda {v}: to_json(nullif({key}, '')))"
        w = self.names()
        if args:
            prefix = self._type_arg("getReferenceKey", args[0]) + "/"
            return f"list_filter({keys}, lambda {w}: starts_with(json_extract_string({w}, '$'), {sql_string(prefix)}))"
        return f"list_filter({keys}, lambda {w}: {w} IS NOT NULL)"

    def fn_lowBoundary(self, base, args):
        return self._boundary(base, args, "low")

    def fn_highBoundary(self, base, args):
        return self._boundary(base, args, "high")

    def _boundary(self, base, args, which):
        self._arity(which + "Boundary", args, 0, 1)
        kind = None
        if isinstance(base, Call) and base.name in ("ofType", "as") and len(base.args) == 1:
            kind = self._type_arg(base.name, base.args[0])
        v, g = self.names(), self.names("g")
        values = f"list_transform({self.compile(base)}, lambda {v}: {boundary_sql(v, which, kind, g)})"
        return f"list_filter({values}, lambda {v}: {v} IS NOT NULL)"


def compile_expression(text: str, scope: Scope, max_depth: int = DEFAULT_MAX_DEPTH) -> str:
    """The SQL (a JSON[] list) of FHIRPath `text` evaluated in `scope` (`FHIRPathError` when it
    is not valid or nests deeper than `max_depth`)."""
    return ExpressionCompiler(scope).compile(parse(text, max_depth))


def _chain(node, scope: Scope):
    """The member names of a path that only steps through members from the root resource
    (`a.b.c`, `Patient.a`, `value.ofType(Quantity)`), or None for anything else."""
    if isinstance(node, This):
        return []
    if isinstance(node, Member):
        if isinstance(node.base, This) and node.name == scope.resource_type:
            return []
        base = _chain(node.base, scope)
        return None if base is None else base + [node.name]
    if isinstance(node, Call) and node.name in ("ofType", "as") and len(node.args) == 1 and isinstance(node.base, Member):
        arg = node.args[0]
        if isinstance(arg, Member) and isinstance(arg.base, This):
            type_name = arg.name
        elif isinstance(arg, Literal) and arg.kind == "string":
            type_name = arg.value
        else:
            return None
        base = _chain(node.base.base, scope)
        return None if base is None else base + [node.base.name + type_suffix(type_name)]
    return None



@dataclass
class Shape:
    """What a sample of the stored resources of a type looks like: their JSON structure
    (`json_group_structure`: arrays as `[…]`, a member of differing kinds as "JSON") and the
    share of them that have each top-level member. It guides the fast path; it never
    decides a value."""

    structure: dict
    present: dict


def fast_column(text: str, scope: Scope, sql_type: str, shape: Shape | None = None):
    """A column whose path steps only through members from the root resource, optionally
    ending in first(), getResourceKey() or getReferenceKey([T]), as `(found, value, empty)`:
    rows where `found` holds take `value`, rows where `empty` holds are NULL, and the caller
    keeps the general expression for the rest. None when the path is not of that form.

    The value is read at one JSON path (`_m`, extracted with the view's other members in one
    parse). For `first()` the path puts `[0]` after each member the shape shows as an array:
    a JSON path only matches an index on an array and a member on an object, and everything
    under `a[0]` comes before `a[1]`, so a value found there is the first item. Nothing found
    means no item when the first member is absent, or when no member on the plain path is an
    array and the leaf is absent or null (`json_type`, a second parse, evaluated only for the
    rows that need it). A wrong shape costs speed, never correctness."""
    if scope.focus != "resource" or not scope.root or scope.members is None:
        return None
    parsed = _fast_form(text, scope)
    if parsed is None:
        return None
    names, first, terminal = parsed
    if terminal is not None and sql_type != "VARCHAR":
        return None
    if terminal == "resource":
        kind, key = scope.root_member(("resourceType",)), scope.root_member(("id",))
        return "true", f"(json_extract_string({kind}, '$') || '/' || json_extract_string({key}, '$'))", None
    reference = terminal is not None
    path, arrays = _shaped(names, shape.structure if shape else None, spread_leaf=not reference)
    if not first and arrays:
        return None  # a collection by the data's shape: the general expression
    leaf = names + ["reference"] if reference else names
    found = scope.root_member(tuple(path) + (("reference",) if reference else ()))
    empty = _nothing_found(found, leaf, path, scope, shape)
    text_of = json_text(found)
    scalar = f"({found} IS NOT NULL AND NOT (starts_with({text_of}, '[') OR starts_with({text_of}, '{{') OR {text_of} = 'null'))"
    if not reference:
        value = f"json_extract_string({found}, '$')" if sql_type == "VARCHAR" else f"CAST({found} AS {sql_type})"
        return scalar, value, empty
    value = _reference_key(f"json_extract_string({found}, '$')", terminal[1])
    if not first:
        return scalar, value, empty
    # the first reference may not give the first key of that type, unless it is the only one:
    # every array on the way has no second item (`a[1]` extracted: nothing where there is none)
    seconds = [tuple(path[:k]) + (1,) for k, step in enumerate(path) if step == 0]
    only = " AND ".join(f"{scope.root_member(p)} IS NULL" for p in seconds) or "true"
    return f"({scalar} AND ({value} IS NOT NULL OR {only}))", value, empty


def _fast_form(text: str, scope: Scope, chain=None):
    """(member names, first(), terminal) of a fast path, terminal being None, "resource"
    (getResourceKey()) or ("reference", "Type/" or None); None when the path is of another form.
    `chain(node, scope)` reads the steps (default `_chain`: members only)."""
    try:
        node = parse(text)
    except FHIRPathError:
        return None
    first = isinstance(node, Call) and node.name == "first" and not node.args
    if first:
        node = node.base
    terminal = None
    if isinstance(node, Call) and node.name == "getResourceKey" and not node.args:
        terminal, node = "resource", node.base
    elif isinstance(node, Call) and node.name == "getReferenceKey" and len(node.args) <= 1:
        prefix = None
        if node.args:
            arg = node.args[0]
            if isinstance(arg, Member) and isinstance(arg.base, This):
                prefix = arg.name + "/"
            elif isinstance(arg, Literal) and arg.kind == "string":
                prefix = arg.value + "/"
            else:
                return None
        terminal, node = ("reference", prefix), node.base
    names = (chain or _chain)(node, scope)
    if names is None or (terminal == "resource") != (not names):
        return None
    return names, first, terminal


def _nothing_found(found: str, leaf: list, path: list, scope: Scope, shape: Shape | None) -> str:
    """The rows where nothing found means the collection is empty."""
    if len(leaf) == 1 and list(path) == leaf:
        return f"{found} IS NULL"  # `$.a` absent: nothing else can hold an `a`
    prefixes = ", ".join(json_path(tuple(leaf[:k])) for k in range(1, len(leaf) + 1))
    types = f"json_type(resource, [{prefixes}])"
    plain = f"(NOT coalesce(list_contains({types}, 'ARRAY'), false) AND coalesce({types}[-1], 'NULL') = 'NULL')"
    if shape is not None and shape.present.get(leaf[0], 0) < 0.5:
        # a member most resources lack: extracting it (only where present) is cheaper than
        # parsing the resource again for every row that lacks it
        return f"{found} IS NULL AND ({scope.root_member((leaf[0],))} IS NULL OR {plain})"
    return f"{found} IS NULL AND {plain}"


def _reference_key(reference: str, prefix: str | None) -> str:
    """`Type/id` of a reference (also at the end of a URL, without `/_history/…`) when of
    type `prefix` ("Type/", or None for any), else NULL. Most references are plainly
    `Type/id`: one test settles them (for a known type, two GLOBs, about ten times cheaper
    than the regular expression's full match, and equal to it: `[!…]` is any other
    character); the extraction runs only for the others, and only when the reference holds
    `prefix` (or a `/`, for any type): the key is part of the reference, so one without it has
    none. (Synthea's `urn:uuid:` references: the regular expression on each cost a view over
    them half its time.)"""
    known = prefix is not None and re.fullmatch(r"[A-Za-z]+/", prefix)
    if known:
        plain = (f"({reference} GLOB {sql_string(prefix + '?*')} AND NOT "
                 f"{reference} GLOB {sql_string(prefix + '*[!A-Za-z0-9.-]*')})")
    else:
        plain = f"regexp_full_match({reference}, {sql_string(PLAIN_REFERENCE)})"
    key = f"nullif(regexp_extract({reference}, {sql_string(REFERENCE_KEY)}, 1), '')"
    wanted = f"{key} IS NOT NULL" if prefix is None else f"starts_with({key}, {sql_string(prefix)})"
    holds = f"contains({reference}, {sql_string(prefix or '/')})"
    return f"CASE WHEN {plain} THEN {reference} WHEN NOT {holds} THEN NULL WHEN {wanted} THEN {key} END"


def _shaped(names: list, structure, spread_leaf: bool) -> tuple[list, bool]:
    """The JSON path of `names` with `[0]` after each member `structure` shows as an array
    (the leaf too when `spread_leaf`), and whether there was any."""
    path, arrays, node = [], False, structure
    for k, name in enumerate(names):
        path.append(name)
        node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, list):
            arrays = True
            if k < len(names) - 1 or spread_leaf:
                path.append(0)
            node = node[0] if node else None
    return path, arrays
