"""ViewDefinition → one DuckDB SQL query over the FHIR store's `resources` table.

The view is validated first (`ViewError` names the problem and where it is). Then each
select node compiles to a SQL expression that, for one focus item, gives the node's rows as a
DuckDB `LIST` of `STRUCT`s, one field per column in the view's column order:

- `column`: one row, `[{'a': …, 'b': …}]`, each value a FHIRPath collection (`JSON[]`, see
  `expressions.py`) cast to the column's type (a singleton; more than one value is an error
  unless `collection: true`, which gives a typed list);
- `select` and the node's own columns: the cross product of their row lists;
- `forEach` / `forEachOrNull`: the body's rows for each item (`list_transform` with the
  item's position as `%rowIndex`), flattened; OrNull gives one row of NULLs when empty;
- `repeat`: the same over every item reached by following the paths again and again
  (depth first, unrolled to `REPEAT_DEPTH` levels; deeper data is an error, never cut);
- `unionAll`: the branches' row lists concatenated (their columns must match).

Views are bounded (`Limits`): the nesting of selects and of each expression, the length of an
expression, and the SQL the view compiles to. The SQL grows linearly with the view (each
operand and each repeat level is compiled once and bound, see `expressions.bind`); the limits
keep a hostile view from making the compiler, or DuckDB, hold gigabytes.

The query unnests the root list per resource (`WHERE type = <resource>` and the view's
`where` paths), so everything runs inside DuckDB. A view with no forEach, forEachOrNull, repeat
or unionAll gives one row per resource: it compiles to a plain SELECT of each column's value.
A column whose path is a plain member path from the resource takes a scalar fast form (see
`expressions.fast_column`) on rows where the JSON is of the plain shape, and the general
expression on the others.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .expressions import (
    Names,
    Scope,
    Shape,
    compile_expression,
    fast_column,
    json_path,
    sql_string,
)
from .fhirpath import DEFAULT_MAX_DEPTH, FHIRPathError, parse

REPEAT_DEPTH = 12


@dataclass(frozen=True)
class Limits:
    """How large a view may be. Real views are far inside these (the core views: a few
    levels, paths under 200 characters, SQL under 100,000 characters); a view beyond one gets a
    `ViewError` naming the element and the limit."""

    expression_depth: int = DEFAULT_MAX_DEPTH  # nesting of one FHIRPath expression
    expression_chars: int = 10_000  # length of one FHIRPath expression
    select_depth: int = 32  # select / forEach / unionAll nodes one inside another
    sql_chars: int = 4_000_000  # the SQL of the whole view


class ViewError(ValueError):
    """A ViewDefinition that cannot be run: the message says what and where."""


VIEW_KEYS = {
    "resourceType", "id", "meta", "implicitRules", "language", "text", "contained", "extension",
    "modifierExtension", "url", "identifier", "version", "name", "title", "status", "experimental",
    "date", "publisher", "contact", "description", "useContext", "copyright", "resource",
    "resourceVersion", "fhirVersion", "profile", "constant", "select", "where",
}
SELECT_KEYS = {"id", "extension", "modifierExtension", "column", "select", "forEach", "forEachOrNull", "repeat", "unionAll"}
COLUMN_KEYS = {"id", "extension", "modifierExtension", "name", "path", "description", "collection", "type", "tag"}
WHERE_KEYS = {"id", "extension", "modifierExtension", "path", "description"}
# \Z, not $: `$` also matches before a final newline, and "id\n" is no column name
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\Z")
RESOURCE = re.compile(r"^[A-Z][A-Za-z]+\Z")

SQL_TYPES = {
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
    "positiveInt": "BIGINT",
    "unsignedInt": "BIGINT",
    "integer64": "BIGINT",
    "decimal": "DOUBLE",
}


class Column:
    def __init__(self, name: str, fhir_type: str | None, collection: bool):
        self.name, self.fhir_type, self.collection = name, fhir_type, collection
        base = SQL_TYPES.get(fhir_type or "", "VARCHAR")
        self.sql_type = base + "[]" if collection else base

    def __repr__(self):
        return f"Column({self.name!r}, {self.sql_type})"


def _convert(v: str, column: Column) -> str:
    """One JSON item as the column's SQL type."""
    base = SQL_TYPES.get(column.fhir_type or "", "VARCHAR")
    if base == "VARCHAR":
        return f"json_extract_string({v}, '$')"
    return f"CAST({v} AS {base})"


def _keys(obj, allowed: set, where: str):
    if not isinstance(obj, dict):
        raise ViewError(f"{where}: expected an object, found {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ViewError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _list(obj, key: str, where: str) -> list:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise ViewError(f"{where}.{key}: expected a list, found {type(value).__name__}")
    return value


def constants_of(view: dict) -> dict:
    constants = {}
    for i, constant in enumerate(_list(view, "constant", "view")):
        where = f"constant[{i}]"
        if not isinstance(constant, dict):
            raise ViewError(f"{where}: expected an object")
        name = constant.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise ViewError(f"{where}: a constant needs a name (letters, digits and _), found {name!r}")
        values = [k for k in constant if k.startswith("value")]
        extra = sorted(set(constant) - {"name", "id", "extension"} - set(values))
        if extra:
            raise ViewError(f"{where} ({name}): unknown key(s) {', '.join(extra)}")
        if len(values) != 1:
            raise ViewError(f"{where} ({name}): a constant needs exactly one value[x] (such as valueString), found {len(values)}")
        constants[name] = _constant_value(constant[values[0]], f"{where} ({name}): {values[0]}")
    return constants


def _constant_value(value, where: str):
    """A constant's value as given, when it is a JSON primitive the SQL can hold."""
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        if abs(value) >= 2**63:
            raise ViewError(f"{where} is out of range (at most 64 bits)")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ViewError(f"{where} is not a finite number")
        return value
    raise ViewError(f"{where} must be a string, number or boolean, not {type(value).__name__}")


class ViewCompiler:
    def __init__(self, view, shape: Shape | None = None, limits: Limits | None = None, bound_levels: bool = False):
        if not isinstance(view, dict):
            raise ViewError(f"a ViewDefinition is a JSON object, not {type(view).__name__}")
        _keys(view, VIEW_KEYS, "view")
        resource = view.get("resource")
        if not resource:
            raise ViewError("view: 'resource' is missing (the FHIR resource type the view reads, such as Patient)")
        if not isinstance(resource, str) or not RESOURCE.match(resource):
            raise ViewError(f"view.resource: {resource!r} is not a FHIR resource type")
        if not _list(view, "select", "view"):
            raise ViewError("view: 'select' is missing or empty (a view needs at least one column)")
        self.view = view
        self.resource = resource
        self.names = Names()
        self.constants = constants_of(view)
        self.members: dict[tuple, int] = {}
        self.scalars: dict[str, str] = {}  # column name -> its value for one focus item
        self.shape = shape  # how a sample of the stored resources looks (fast_column)
        self.limits = limits or Limits()
        self.spent = 0  # characters of SQL compiled from expressions so far
        self.bound_levels = bound_levels  # a repeat's levels bound to lambda variables (descendants)

    def scope(self) -> Scope:
        return Scope("resource", "0", self.constants, self.names, self.resource, root=True, members=self.members)

    def expression(self, path, scope: Scope, where: str) -> str:
        if not isinstance(path, str) or not path.strip():
            raise ViewError(f"{where}: expected a FHIRPath expression (a string), found {path!r}")
        if len(path) > self.limits.expression_chars:
            raise ViewError(f"{where}: the expression has {len(path)} characters, more than the limit of {self.limits.expression_chars}")
        try:
            sql = compile_expression(path, scope, self.limits.expression_depth)
        except FHIRPathError as error:
            raise ViewError(f"{where}: {error}") from None
        self.spent += len(sql)  # checked as it grows: the whole query is never built past the limit
        if self.spent > self.limits.sql_chars:
            raise ViewError(f"{where}: the SQL would exceed the limit of {self.limits.sql_chars} characters")
        return sql

    # -- rows
    def node(self, node, scope: Scope, where: str, depth: int = 1):
        if depth > self.limits.select_depth:
            raise ViewError(f"{where}: selects nested deeper than {self.limits.select_depth} levels")
        _keys(node, SELECT_KEYS, where)
        iterators = [k for k in ("forEach", "forEachOrNull", "repeat") if k in node]
        if len(iterators) > 1:
            raise ViewError(f"{where}: use only one of forEach, forEachOrNull and repeat, found {', '.join(iterators)}")
        if not iterators:
            return self.body(node, scope, where, depth)
        kind = iterators[0]
        e, i = self.names("e"), self.names("i")
        if kind == "repeat":
            paths = node["repeat"]
            if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
                raise ViewError(f"{where}.repeat: expected a list of FHIRPath expressions")
            elements = self.descendants(paths, scope, f"{where}.repeat")
        else:
            elements = self.expression(node[kind], scope, f"{where}.{kind}")
        if kind != "forEachOrNull":
            rows, columns = self.body(node, scope.at(e, f"({i} - 1)"), where, depth)
            return f"flatten(list_transform({elements}, lambda {e}, {i}: {rows}))", columns
        # No item: the body once over no focus (a NULL item, %rowIndex 0), or else one row of
        # NULLs. The body is compiled once for both cases: twice, nested forEachOrNull would
        # double the SQL at each level.
        rows, columns = self.body(node, scope.at(e, f"({i} - 1)", nullable=True), where, depth)
        nulls = "[{" + ", ".join(f"{sql_string(c.name)}: CAST(NULL AS {c.sql_type})" for c in columns) + "}]"
        items, found = self.names("l"), self.names("r")
        each = (
            f"list_transform([{rows}], lambda {found}: CASE WHEN array_length({items}) = 0 AND array_length({found}) = 0 "
            f"THEN {nulls} ELSE {found} END)[1]"
        )
        return (
            f"list_transform([{elements}], lambda {items}: flatten(list_transform("
            f"CASE WHEN array_length({items}) > 0 THEN {items} ELSE [CAST(NULL AS JSON)] END, lambda {e}, {i}: {each})))[1]"
        ), columns

    def descendants(self, paths, scope: Scope, where: str) -> str:
        """Every item reached from the focus by the repeat paths, in depth-first order.

        Level by level (each level: the paths applied to every item of the level before,
        each item keeping its position path as a sort key), to REPEAT_DEPTH levels; the
        levels are concatenated and sorted by position path, which is depth-first order."""
        def step(at: Scope) -> str:
            found = [self.expression(p, at, where) for p in paths]
            return found[0] if len(found) == 1 else f"list_concat({', '.join(found)})"

        def below(level: str) -> str:  # the items the paths reach from a level's, keyed by position
            p, x, i = self.names("p"), self.names("x"), self.names("i")
            return (f"flatten(list_transform({level}, lambda {p}: list_transform({step(scope.at(f'{p}.v'))}, "
                    f"lambda {x}, {i}: {{'k': list_append({p}.k, {i}), 'v': {x}}})))")

        x, i = self.names("x"), self.names("i")
        level = f"list_transform({step(scope.at(scope.focus, nullable=scope.nullable))}, lambda {x}, {i}: {{'k': [{i}], 'v': {x}}})"
        message = sql_string(f"{where}: the data nests deeper than {REPEAT_DEPTH} levels")
        if self.bound_levels:
            return self._bound_levels(level, below, message)
        # Each level holds the one before it, and all are concatenated at the end: SQL of about
        # REPEAT_DEPTH²/2 copies of the paths, a constant factor. (Binding each level to a
        # lambda variable instead keeps it to REPEAT_DEPTH copies, but DuckDB then takes
        # seconds to plan the thirteen nested lambdas: `bound_levels`, for Spark.)
        levels = [level]
        for _ in range(REPEAT_DEPTH):
            levels.append(below(levels[-1]))
        return self._depth_first(levels[:-1], levels[-1], message)

    def _bound_levels(self, level: str, below, message: str) -> str:
        """`descendants` with each level bound to a lambda variable, which reads the one before:
        the paths REPEAT_DEPTH times in the SQL, not REPEAT_DEPTH²/2. Spark analyses the repeat
        views of the conformance suite 3-6 times faster so, in SQL a fifth as long (docs/benchmarks.md)."""
        names = [self.names("a") for _ in range(REPEAT_DEPTH + 1)]
        inner = self._depth_first(names[:-1], names[-1], message)
        for depth in range(REPEAT_DEPTH, 0, -1):
            inner = f"list_transform([{below(names[depth - 1])}], lambda {names[depth]}: {inner})[1]"
        return f"list_transform([{level}], lambda {names[0]}: {inner})[1]"

    def _depth_first(self, levels: list[str], deepest: str, message: str) -> str:
        """The levels' items in depth-first order (sorted by position path), or the error when
        the data reaches `deepest`, the level past REPEAT_DEPTH."""
        s = self.names("s")
        return (
            f"CASE WHEN array_length({deepest}) > 0 THEN CAST(error({message}) AS JSON[]) "
            f"ELSE list_transform(list_sort(list_concat({', '.join(levels)})), lambda {s}: {s}.v) END"
        )

    def body(self, node, scope: Scope, where: str, depth: int = 0):
        parts = []
        columns = _list(node, "column", where)
        if columns:
            parts.append(self.columns(columns, scope, where))
        for k, child in enumerate(_list(node, "select", where)):
            parts.append(self.node(child, scope, f"{where}.select[{k}]", depth + 1))
        branches = _list(node, "unionAll", where)
        if branches:
            parts.append(self.union(branches, scope, f"{where}.unionAll", depth + 1))
        if not parts:
            raise ViewError(f"{where}: needs a column, select or unionAll")
        rows, cols = parts[0]
        for more_rows, more_cols in parts[1:]:
            seen = {c.name for c in cols}
            twice = [c.name for c in more_cols if c.name in seen]
            if twice:
                raise ViewError(f"{where}: column name(s) {', '.join(twice)} used more than once")
            a, b = self.names("a"), self.names("b")
            fields = [f"{sql_string(c.name)}: {a}.\"{c.name}\"" for c in cols] + [f"{sql_string(c.name)}: {b}.\"{c.name}\"" for c in more_cols]
            rows = f"flatten(list_transform({rows}, lambda {a}: list_transform({more_rows}, lambda {b}: {{{', '.join(fields)}}})))"
            cols = cols + more_cols
        return rows, cols

    def union(self, branches, scope: Scope, where: str, depth: int):
        compiled = [self.node(b, scope, f"{where}[{k}]", depth) for k, b in enumerate(branches)]
        first = [c.name for c in compiled[0][1]]
        for k, (_, cols) in enumerate(compiled[1:], start=1):
            names = [c.name for c in cols]
            if names != first:
                raise ViewError(f"{where}[{k}]: the branches of a unionAll must have the same columns in the same order: {first} vs {names}")
        columns = compiled[0][1]
        rows = [compiled[0][0]]
        for other, cols in compiled[1:]:
            if [c.sql_type for c in cols] != [c.sql_type for c in columns]:
                x = self.names("u")
                fields = ", ".join(f"{sql_string(c.name)}: CAST({x}.\"{c.name}\" AS {c.sql_type})" for c in columns)
                other = f"list_transform({other}, lambda {x}: {{{fields}}})"
            rows.append(other)
        return (rows[0] if len(rows) == 1 else f"list_concat({', '.join(rows)})"), columns

    def columns(self, columns, scope: Scope, where: str):
        fields, out = [], []
        for k, column in enumerate(columns):
            at = f"{where}.column[{k}]"
            _keys(column, COLUMN_KEYS, at)
            name = column.get("name")
            if not isinstance(name, str) or not NAME.match(name):
                raise ViewError(f"{at}: column name {name!r} is not valid (a letter, then letters, digits or _)")
            collection = column.get("collection", False)
            if not isinstance(collection, bool):
                raise ViewError(f"{at} ({name}): collection must be true or false")
            fhir_type = column.get("type")
            if fhir_type is not None and not isinstance(fhir_type, str):
                raise ViewError(f"{at} ({name}): type must be a FHIR type name")
            info = Column(name, fhir_type, collection)
            if name in (c.name for c in out):
                raise ViewError(f"{at}: column name {name} used more than once")
            fast = None if collection else fast_column(column.get("path"), scope, info.sql_type, self.shape)
            if fast is not None:
                sql = self.fast_or_general(fast, column.get("path"), at, info)
            else:
                values = self.expression(column.get("path"), scope, f"{at} ({name}).path")
                sql = self.value_of(values, at, info)
            self.scalars[name] = sql
            fields.append(f"{sql_string(name)}: {sql}")
            out.append(info)
        return "[{" + ", ".join(fields) + "}]", out

    def value_of(self, values: str, at: str, column: Column) -> str:
        """A column's value from its path's collection: a typed list for `collection: true`,
        else the one item (an error naming the column when there are more)."""
        v = self.names()
        if column.collection:
            return f"list_transform({values}, lambda {v}: {_convert(v, column)})"
        message = sql_string(f"{at} ({column.name}): the path gives more than one value; set collection: true")
        return (
            f"list_transform([{values}], lambda {v}: CASE WHEN array_length({v}) > 1 THEN CAST(error({message}) AS {column.sql_type}) "
            f"ELSE {_convert(f'{v}[1]', column)} END)[1]"
        )

    def fast_or_general(self, fast, path, at: str, column: Column) -> str:
        """The fast form of a root column, with the general expression for the rows it cannot
        settle. That one parses the resource itself rather than adding its members to the
        shared extraction: it runs only on those rows."""
        found, value, empty = fast
        if found == "true":
            return value
        lazy = Scope("resource", "0", self.constants, self.names, self.resource, root=True)
        general = self.value_of(self.expression(path, lazy, f"{at} ({column.name}).path"), at, column)
        return f"CASE WHEN {found} THEN {value} WHEN {empty} THEN NULL ELSE {general} END"

    def where(self) -> list[str]:
        filters = []
        for k, item in enumerate(_list(self.view, "where", "view")):
            at = f"where[{k}]"
            _keys(item, WHERE_KEYS, at)
            values = self.expression(item.get("path"), self.scope(), f"{at}.path")
            v = self.names()
            message = sql_string(f"{at}.path {item.get('path')!r} does not give a boolean")
            filters.append(
                f"list_transform([{values}], lambda {v}: CASE WHEN array_length({v}) = 0 THEN false "
                f"WHEN array_length({v}) = 1 AND json_type({v}[1]) = 'BOOLEAN' THEN CAST({v}[1] AS BOOLEAN) "
                f"ELSE CAST(error({message}) AS BOOLEAN) END)[1]"
            )
        return filters

    def sql(self, table: str = "resources") -> tuple[str, list[Column]]:
        rows, columns = self.body({"select": self.view["select"]}, self.scope(), "view")
        conditions = self.where()
        outputs = ", ".join(f'r."{c.name}" AS "{c.name}"' for c in columns)
        paths = ", ".join(json_path(name) for name in sorted(self.members, key=self.members.get))
        members = f"json_extract(resource, [{paths}])" if self.members else "CAST([] AS JSON[])"
        source = f"SELECT resource, {members} AS _m FROM {table} WHERE type = {sql_string(self.resource)}"
        if not _iterates(self.view["select"]):
            # one row per resource: each column's value directly, no row lists to unnest
            outputs = ", ".join(f'{self.scalars[c.name]} AS "{c.name}"' for c in columns)
            sql = f"SELECT {outputs}\nFROM ({source}) AS source" + (f"\nWHERE {' AND '.join(conditions)}" if conditions else "")
            return self.bounded(sql), columns
        sql = (
            f"SELECT {outputs}\nFROM (\n  SELECT unnest({rows}) AS r\n"
            f"  FROM (SELECT resource, {members} AS _m FROM {table} WHERE type = {sql_string(self.resource)}) AS source\n"
            + (f"  WHERE {' AND '.join(conditions)}\n" if conditions else "")
            + ") AS rows"
        )
        return self.bounded(sql), columns

    def bounded(self, sql: str) -> str:
        if len(sql) > self.limits.sql_chars:
            raise ViewError(f"view: the SQL has {len(sql)} characters, more than the limit of {self.limits.sql_chars}")
        return sql


def _iterates(nodes) -> bool:
    """Whether any select node (or one nested in it) can give other than one row."""
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict):
            continue
        if any(k in node for k in ("forEach", "forEachOrNull", "repeat", "unionAll")):
            return True
        if _iterates(node.get("select", [])):
            return True
    return False


@dataclass(frozen=True)
class TypedPlan:
    """A view in the form the typed tables serve (`sof.typed`): its columns in the view's
    order, each `(name, path, SQL type, scope)`, the scope "root" (the resource) or "item" (an
    item of the one `forEach` / `forEachOrNull` at the top, whose path is `each`)."""

    columns: list
    each: str | None = None
    or_null: bool = False


def typed_plan(view: dict) -> TypedPlan | None:
    """The plan of a valid view with no `where`, no `repeat` or `unionAll`, no `collection:
    true` column, and at most one `forEach` / `forEachOrNull`, among the top selects, with
    columns only; None for any other view (it reads the JSON text)."""
    if view.get("where"):
        return None
    columns, each = [], []

    def plain(node, scope: str) -> bool:
        for column in node.get("column", []):
            info = Column(column["name"], column.get("type"), column.get("collection", False))
            if info.collection:
                return False
            columns.append((info.name, column.get("path"), info.sql_type, scope))
        return "unionAll" not in node and all(not _iterates([child]) and plain(child, scope) for child in node.get("select", []))

    for node in view["select"]:
        kind = next((k for k in ("forEach", "forEachOrNull") if k in node), None)
        if kind is None:
            if _iterates([node]) or not plain(node, "root"):
                return None
        elif each or node.get("select") or node.get("unionAll") or not plain(node, "item"):
            return None
        else:
            each.append((node[kind], kind == "forEachOrNull"))
    return TypedPlan(columns, *each[0]) if each else TypedPlan(columns)


def compile_view(view, shape: Shape | None = None, limits: Limits | None = None,
                 table: str = "resources", bound_levels: bool = False) -> tuple[str, list[Column]]:
    """The DuckDB SQL of a ViewDefinition and its output columns; `ViewError` if invalid or
    beyond `limits` (default `Limits()`).

    `shape` (optional, `engine.sample_shape`) is how a sample of the view's resources looks:
    with it, paths ending in first() read the usual array positions directly. It changes
    speed only, never the rows. `table` is what the resources are read from: the store's
    `resources`, or a subquery over it choosing some (the patients of one page). `bound_levels`:
    a repeat's SQL in the form Spark analyses fastest (`ViewCompiler._bound_levels`), the same rows."""
    return ViewCompiler(view, shape, limits, bound_levels).sql(table)


def check_expression(text: str) -> None:
    """Parse only (for tools): raises FHIRPathError."""
    parse(text)
