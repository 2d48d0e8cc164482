"""FHIRPath expression tree → DuckDB SQL.

Every FHIRPath expression compiles to one SQL expression of type `JSON[]`: the FHIRPath
collection as a DuckDB list of JSON values (the empty collection is `[]`). Navigation
`a.b` maps each item to its `b` (an array member is spread: `json_extract(x, '$."b"[*]')`)
and flattens; `where` is `list_filter`; `first()` is a slice; comparisons, `and`/`or` and
arithmetic take singletons and give a singleton (or `[]` for FHIRPath's empty). Lambda
variables are fresh per compilation (`_v1`, `_v2`, …) so nested expressions never collide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .boundary import boundary_sql
from .fhirpath import Binary, Call, Constant, FHIRPathError, Index, Literal, Member, This, Unary, parse

EMPTY = "[]::JSON[]"
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

    def at(self, focus: str, row_index: str | None = None, root: bool = False) -> "Scope":
        index = self.row_index if row_index is None else row_index
        return Scope(focus, index, self.constants, self.names, self.resource_type, root, self.members)

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
        if focus == "CAST(NULL AS JSON)":
            return EMPTY
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
        if isinstance(node.base, This) and self.scope.focus != "CAST(NULL AS JSON)":
            return member_of(self.scope.focus, node.name, self.scope)
        return children(self.compile(node.base), node.name, self.names)

    def _Index(self, node) -> str:
        base = self.compile(node.base)
        if isinstance(node.index, Literal) and node.index.kind == "integer":
            k = node.index.value + 1
            return f"({base})[{k}:{k}]"
        index = f"(CAST({singleton(self.compile(node.index))} AS BIGINT) + 1)"
        return f"list_slice({base}, {index}, {index})"

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
        a, b = singleton(left), singleton(right)
        if op in ("=", "!=", "~", "!~"):
            sql_op = "=" if op in ("=", "~") else "<>"
            equal = (
                f"CASE WHEN len({left}) = 0 OR len({right}) = 0 THEN NULL "
                f"WHEN len({left}) = 1 AND len({right}) = 1 THEN {compare(a, b, '=')} "
                f"ELSE CAST({left} AS VARCHAR[]) = CAST({right} AS VARCHAR[]) END"
            )
            sql = equal if sql_op == "=" else f"(NOT ({equal}))"
            return from_boolean(sql, self.names)
        if op in ("<", ">", "<=", ">="):
            return from_boolean(compare(a, b, op), self.names)
        if op in ("+", "-", "*", "/", "div", "mod"):
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
        raise FHIRPathError(f"operator {op!r} is not supported")

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
        return f"[to_json(len({collection}) > 0)]"

    def fn_empty(self, base, args):
        self._arity("empty", args, 0, 0)
        return f"[to_json(len({self.compile(base)}) = 0)]"

    def fn_count(self, base, args):
        self._arity("count", args, 0, 0)
        return f"[to_json(len({self.compile(base)}))]"

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
            if isinstance(base.base, This) and self.scope.focus != "CAST(NULL AS JSON)":
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
        key = f"regexp_extract({reference}, '([A-Za-z]+/[A-Za-z0-9.\\-]+)(/_history/[^/]*)?$', 1)"
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


def compile_expression(text: str, scope: Scope) -> str:
    """The SQL (a JSON[] list) of FHIRPath `text` evaluated in `scope`."""
    return ExpressionCompiler(scope).compile(parse(text))


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


def fast_column(text: str, scope: Scope, sql_type: str):
    """A column whose path steps only through members from the root resource, optionally
    ending in first(), getResourceKey() or getReferenceKey([T]), as (condition, value): when
    `condition` holds (no member on the way is an array, so the path gives at most one
    item), `value` is the column's value without building any list. None when the path is
    not of that form; the caller then keeps the general expression for rows where the
    condition fails."""
    if scope.focus != "resource" or not scope.root or scope.members is None:
        return None
    try:
        node = parse(text)
    except FHIRPathError:
        return None
    first = isinstance(node, Call) and node.name == "first" and not node.args
    if first:
        node = node.base
    terminal = None
    if isinstance(node, Call) and node.name == "getResourceKey" and not node.args:
        terminal, node = ("resource", None), node.base
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
    names = _chain(node, scope)
    if names is None or (terminal is None and not names):
        return None
    if terminal is not None and sql_type != "VARCHAR":
        return None
    if first and terminal is None and 2 <= len(names) <= 4:
        return _fast_first(names, scope, sql_type)
    steps = [scope.root_member(tuple(names[:k])) for k in range(1, len(names) + 1)]
    arrays = " OR ".join(f"starts_with(CAST({m} AS VARCHAR), '[')" for m in steps)
    condition = f"NOT coalesce({arrays}, false)" if steps else "true"
    if terminal is None:
        last = steps[-1]
        if sql_type == "VARCHAR":
            value = f"json_extract_string({last}, '$')"
        else:
            value = f"CASE WHEN json_type({last}) = 'NULL' THEN NULL ELSE CAST({last} AS {sql_type}) END"
    elif terminal[0] == "resource":
        if names:
            return None
        kind, key = scope.root_member(("resourceType",)), scope.root_member(("id",))
        value = f"(json_extract_string({kind}, '$') || '/' || json_extract_string({key}, '$'))"
    else:
        if not names:
            return None
        reference = f"json_extract_string({scope.root_member(tuple(names) + ('reference',))}, '$')"
        key = f"nullif(regexp_extract({reference}, '([A-Za-z]+/[A-Za-z0-9.\\-]+)(/_history/[^/]*)?$', 1), '')"
        prefix = terminal[1]
        value = key if prefix is None else f"CASE WHEN starts_with({key}, {sql_string(prefix)}) THEN {key} END"
    return condition, value


def _fast_first(names: list, scope: Scope, sql_type: str):
    """`a.b.c.first()`: each member before the last may be an object or an array. For every
    choice of which are arrays there is one plain path (`$.a[0].b.c`: an index only matches
    an array, a member only an object), so at most one of them finds something; when what
    it finds is a value (not null, not an array), that is the first item of the collection
    (everything under a[0] comes before a[1], and so on). An absent or null first member
    means no item. Anything else (the first array item lacking the rest of the path, say)
    is left to the general expression."""
    candidates = []
    for mask in range(2 ** (len(names) - 1)):
        path = []
        for k, name in enumerate(names):
            path.append(name)
            if k < len(names) - 1 and mask >> k & 1:
                path.append(0)
        candidates.append(scope.root_member(tuple(path)))
    found = candidates[0] if len(candidates) == 1 else f"coalesce({', '.join(candidates)})"
    head = scope.root_member((names[0],))
    text = f"CAST({found} AS VARCHAR)"
    empty = f"coalesce(CAST({head} AS VARCHAR) = 'null', true)"
    condition = f"({empty} OR NOT coalesce(starts_with({text}, '[') OR {text} = 'null', true))"
    if sql_type == "VARCHAR":
        value = f"json_extract_string({found}, '$')"
    else:
        value = f"CAST({found} AS {sql_type})"
    return condition, f"CASE WHEN {empty} THEN NULL ELSE {value} END"
