"""DuckDB SQL of the view compiler turned into Spark SQL.

sqlglot translates the syntax: list functions and lambdas (`list_transform` -> `transform`),
struct literals, `unnest` -> `explode`, 1-based literal list indices. What it cannot know is
meaning, and the compiler's SQL leans on DuckDB's JSON type, so these are done here, on
sqlglot's expression tree, before Spark SQL is written:

- JSON is Spark's VARIANT. `json_extract(v, path)` -> `variant_get(v, path)`,
  `json_extract_string(v, path)` -> `variant_get(v, path, 'string')`, `json_type(v)` -> DuckDB's
  name for the kind `schema_of_variant(v)` gives, `CAST(v AS JSON[])` -> `ARRAY<VARIANT>`, a
  JSON literal and `json(text)` -> `parse_json`, `to_json(x)` -> `CAST(x AS VARIANT)`, and a
  JSON value's text (`CAST(CAST(v AS JSON) AS VARCHAR)`, `sof.boundary.json_text`) -> `to_json(v)`.
- Lists: `x[i]` -> `try_element_at(x, i)` (NULL past the end, as in DuckDB; Spark's `x[i]` fails
  there in ANSI mode); a lambda's position (`lambda e, i:`) counted from 1; `x[a:b]`, `x[-n:]`
  and `list_slice` -> `filter` on the position; `list_sort` (only of `repeat`'s {k, v}) ->
  `array_sort` comparing k; `array_length` -> `size`.
- `error` -> `raise_error`; `GLOB` -> `RLIKE` with the pattern as a regular expression;
  `regexp_extract` with a list of group names -> a struct of the groups; `round(x, n)` with n
  computed -> `round(x * 10^n) / 10^n` (Spark's round takes a constant).

The KPI layer's SQL (andon/analytics/kpi: a measure's SQL and the aggregation around it) is
turned the same way, with these too, so that its meaning is DuckDB's:
- `TRY_CAST(x AS DATE | TIMESTAMP | TIMESTAMPTZ)` only of a value that starts as a date
  (year-month-day): Spark would read '2019' and '2019-03' as their first day, where DuckDB
  gives NULL (a FHIR partial date is no date to count a case on).
- `date_diff(part, a, b)` counts the boundaries of `part` crossed, as DuckDB does, where
  Spark's `timestampdiff` counts whole parts elapsed (10:00:59 to 10:01:00: one minute).
- `date_sub('year' | 'month', a, b)`: DuckDB's whole years (months) from a to b, a month
  being whole when b's day of the month is not before a's or b is its month's last day.
- `regexp_full_match(s, p)` -> `s RLIKE '^(?:p)$'`.
- `a / b` is a DOUBLE (`double_division`).

Anything the compiler writes that is not handled here is either the same in both dialects or
fails in Spark with its own message; the conformance suite on Spark is the check.
"""

from __future__ import annotations

import re
import sys

import sqlglot
from sqlglot import exp, jsonpath

_JSON = exp.DataType.Type.JSON


class DialectError(ValueError):
    """DuckDB SQL this module cannot turn into Spark SQL."""


def spark_sql(duckdb_sql: str, *, double_division: bool = False) -> str:
    """The same query in Spark SQL. `double_division` (the KPI layer's SQL): `a / b` is a
    DOUBLE, as DuckDB's always is, where Spark keeps a DECIMAL's scale (125 / 60.0: 2.083333
    on Spark, 2.0833333333333335 on DuckDB)."""
    # sqlglot's transform does not descend into a node it replaced, so the JSON-text marker
    # (whose inner cast the rewrite below would take for a cast of its own) is read first,
    # top-down, and the rest rewritten bottom-up, every node once.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))  # views nest deeply (repeat: one level per depth)
    try:
        try:
            tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
        except sqlglot.errors.ParseError as error:
            raise DialectError(f"the compiled view is not SQL sqlglot reads: {error}") from None
        tree = tree.transform(_mark_json_text)
        if double_division:
            tree = _bottom_up(tree, _double_division)
        return _bottom_up(tree, _rewrite).sql(dialect="spark")
    finally:
        sys.setrecursionlimit(limit)


def _bottom_up(tree: exp.Expression, rewrite) -> exp.Expression:
    """`rewrite` applied to every node, each after its descendants (reversed pre-order)."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = rewrite(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


_JSON_TEXT = "andon_json_text"


def _mark_json_text(node: exp.Expression) -> exp.Expression:
    """`CAST(CAST(v AS JSON) AS VARCHAR)` (`sof.boundary.json_text`): the JSON text of v."""
    if (isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT)
            and isinstance(node.this, exp.Cast) and _is_json_type(node.this.to)):
        return _fn(_JSON_TEXT, node.this.this)
    return node


def _fn(name: str, *args) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _is_json_type(data_type) -> bool:
    return isinstance(data_type, exp.DataType) and data_type.this == _JSON


def _is_json_array_type(data_type) -> bool:
    return (isinstance(data_type, exp.DataType) and data_type.this == exp.DataType.Type.ARRAY
            and data_type.expressions and _is_json_type(data_type.expressions[0]))


def _variant() -> exp.DataType:
    return exp.DataType.build("VARIANT", dialect="spark")


def _path(node: exp.Expression) -> exp.Expression:
    """A JSON path as Spark's variant functions read it: `$.name` or `$['odd name']`, `[0]`."""
    if isinstance(node, exp.Literal) and node.is_string:
        node = jsonpath.parse(node.this)  # a path in a list of paths, left as text by sqlglot
    if not isinstance(node, exp.JSONPath):
        raise DialectError(f"a JSON path that is not a literal: {node.sql(dialect='duckdb')}")
    text = "$"
    for part in node.expressions:
        if isinstance(part, exp.JSONPathRoot):
            continue
        if isinstance(part, exp.JSONPathKey):
            name = str(part.this)
            text += f".{name}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else "['" + name.replace("'", "\\'") + "']"
        elif isinstance(part, exp.JSONPathSubscript):
            text += f"[{part.this}]"
        else:
            raise DialectError(f"a JSON path step Spark cannot read: {part.sql()}")
    return exp.Literal.string(text)


# schema_of_variant's kind -> DuckDB's json_type name. The compiler tests membership in such
# names (integers BIGINT or UBIGINT, decimals DOUBLE); parse_json makes no other kinds.
_KINDS = {"VOID": "NULL", "BOOLEAN": "BOOLEAN", "TINYINT": "BIGINT", "SMALLINT": "BIGINT", "INT": "BIGINT",
          "BIGINT": "BIGINT", "DECIMAL": "DOUBLE", "FLOAT": "DOUBLE", "DOUBLE": "DOUBLE", "STRING": "VARCHAR",
          "ARRAY": "ARRAY", "OBJECT": "OBJECT"}


def _json_type(value: exp.Expression) -> exp.Expression:
    """DuckDB's json_type(v) from Spark's schema_of_variant(v), naming v once (views nest these
    deeply: a CASE naming v at each branch made the SQL of `repeat` several times longer)."""
    names = _fn("map", *(exp.Literal.string(x) for pair in _KINDS.items() for x in pair))
    kind = _fn("regexp_extract", _fn("schema_of_variant", value), exp.Literal.string("^[A-Z]+"), exp.Literal.number(0))
    return _fn("try_element_at", names, kind)


def _glob_regex(pattern: str) -> str:
    """A GLOB pattern (whole string; `*`, `?`, `[...]`, `[!...]`) as a Java regular expression."""
    out, i = ["^"], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 2 if pattern[i + 1:i + 2] in ("!", "]") else i + 1)
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + "$"


def _index_from_one(node: exp.Expression) -> exp.Expression:
    """DuckDB's `list_transform(x, lambda e, i: …)` counts i from 1, Spark's `transform` from 0."""
    function = node.args.get("expression")
    if isinstance(function, exp.Lambda) and len(function.expressions) == 2:
        index = function.expressions[1].name  # the compiler's names (_i4) are unique in a view
        for found in list(function.this.find_all(exp.Identifier)):
            used = found.parent if isinstance(found.parent, exp.Column) else found
            if found.name == index and not (isinstance(used.parent, exp.Lambda) and used.arg_key == "expressions"):
                used.replace(exp.Paren(this=exp.Add(this=used.copy(), expression=exp.Literal.number(1))))
    return node


def _sort_by_key(node: exp.ArraySort) -> exp.Expression:
    """The compiler sorts one kind of list: `repeat`'s {k: position, v: item}, by k (Spark cannot
    order a VARIANT, so it is told to compare k alone)."""
    a, b = exp.column("k", table="_a"), exp.column("k", table="_b")
    order = exp.Case(ifs=[exp.If(this=exp.LT(this=a, expression=b), true=exp.Literal.number(-1)),
                          exp.If(this=exp.GT(this=a.copy(), expression=b.copy()), true=exp.Literal.number(1))],
                     default=exp.Literal.number(0))
    return _fn("array_sort", node.this, exp.Lambda(this=order, expressions=[exp.to_identifier("_a"), exp.to_identifier("_b")]))


def _named_groups(node: exp.RegexpExtract) -> exp.Expression:
    """DuckDB's regexp_extract(s, pattern, ['a', 'b']): a struct of the named groups."""
    names = node.args["group"].expressions
    pairs = []
    for number, name in enumerate(names, start=1):
        pairs += [name.copy(), exp.RegexpExtract(this=node.this.copy(), expression=node.expression.copy(), group=exp.Literal.number(number))]
    return _fn("named_struct", *pairs)


def _round(node: exp.Round) -> exp.Expression:
    """round(x, n) with n computed: Spark's round takes a constant only. DuckDB rounds a double
    as round(x * 10^n) / 10^n, which this writes out."""
    scale = _fn("power", exp.Literal.number(10), node.args["decimals"])
    return exp.Div(this=exp.Round(this=exp.Mul(this=exp.Paren(this=node.this), expression=scale)), expression=scale.copy())


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, (exp.Transform, exp.ArrayFilter)):
        return _index_from_one(node)
    if isinstance(node, exp.ArraySort):
        return _sort_by_key(node)
    if isinstance(node, exp.RegexpExtract) and isinstance(node.args.get("group"), exp.Array):
        return _named_groups(node)
    if isinstance(node, exp.Round) and node.args.get("decimals") is not None and not isinstance(node.args["decimals"], exp.Literal):
        return _round(node)
    if isinstance(node, exp.JSONExtract):
        path = node.expression
        if isinstance(path, exp.Array):
            return exp.Array(expressions=[_fn("variant_get", node.this.copy(), _path(p)) for p in path.expressions])
        return _fn("variant_get", node.this, _path(path))
    if isinstance(node, exp.JSONExtractScalar):
        return _fn("variant_get", node.this, _path(node.expression), exp.Literal.string("string"))
    if isinstance(node, exp.ParseJSON):
        return _fn("parse_json", node.this)  # json(text): parsed (sqlglot would drop it for Spark)
    if isinstance(node, exp.JSONType):
        paths = node.expression
        if paths is None:
            return _json_type(node.this)
        if isinstance(paths, exp.Array):
            return exp.Array(expressions=[_json_type(_fn("variant_get", node.this.copy(), _path(p))) for p in paths.expressions])
        return _json_type(_fn("variant_get", node.this, _path(paths)))
    if isinstance(node, exp.TryCast) and node.to.this in _DATE_TYPES:
        return _dated_only(node)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return _cast(node)
    if isinstance(node, exp.DateDiff) and node.args.get("date_part_boundary"):
        return _boundaries_crossed(node)
    if isinstance(node, exp.RegexpFullMatch):
        return _full_match(node)
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name == "to_json":
            return exp.Cast(this=node.expressions[0], to=_variant())
        if name == _JSON_TEXT:
            return _fn("to_json", *node.expressions)
        if name == "error":
            return _fn("raise_error", *node.expressions)
        if name == "list_slice":
            return _slice(*node.expressions)
        if name == "date_sub":
            return _whole_parts(*node.expressions)
    if isinstance(node, exp.ArraySize):
        return _fn("size", node.this)
    if isinstance(node, exp.Glob):
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise DialectError(f"GLOB with a pattern that is not a literal: {node.sql()}")
        return exp.RegexpLike(this=node.this, expression=exp.Literal.string(_glob_regex(pattern.this)))
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        return _element(node)
    return node


def _element(node: exp.Bracket) -> exp.Expression:
    index = node.expressions[0]
    if isinstance(index, exp.Slice):
        return _slice(node.this, index.this, index.expression)
    if isinstance(index, exp.Literal) and index.is_string:
        return node  # a struct's member by name
    if isinstance(index, exp.Literal):
        position = exp.Literal.number(int(index.this) + 1)  # sqlglot made DuckDB's literal 0-based
    elif isinstance(index, exp.Neg) and isinstance(index.this, exp.Literal):
        position = exp.Literal.number(1 - int(index.this.this))  # x[-1] (read as -2): from the end
    else:
        position = index  # an expression sqlglot left as DuckDB wrote it (1-based)
    return _fn("try_element_at", node.this, position)


def _slice(items: exp.Expression, start, end) -> exp.Expression:
    """DuckDB's `x[a:b]` (1-based, both ends kept; `x[-n:]` the last n) as a `filter` on the
    position, which keeps the list's type and, like DuckDB, gives [] where Spark's `slice`
    would fail (a start of 0)."""
    position = exp.Add(this=exp.column("_i"), expression=exp.Literal.number(1))
    if isinstance(start, exp.Neg) and end is None:
        keep = exp.GT(this=position, expression=exp.Sub(this=_fn("size", items.copy()), expression=start.this.copy()))
    elif start is not None and end is not None:
        keep = exp.Between(this=position, low=start, high=end)
    else:
        raise DialectError(f"a list slice not written here: {items.sql(dialect='duckdb')}[{start}:{end}]")
    return exp.ArrayFilter(this=items, expression=exp.Lambda(this=keep, expressions=[exp.to_identifier("_e"), exp.to_identifier("_i")]))


def _cast(node: exp.Cast) -> exp.Expression:
    to, value = node.to, node.this
    if _is_json_type(to):
        if isinstance(value, exp.Null):
            return exp.Cast(this=value, to=_variant())
        if isinstance(value, exp.Literal) and value.is_string:
            return _fn("parse_json", value)
        return exp.Cast(this=value, to=_variant())
    if _is_json_array_type(to):
        return exp.Cast(this=value, to=exp.DataType.build("ARRAY<VARIANT>", dialect="spark"))
    return node


# --- the KPI layer's SQL ---------------------------------------------------------------------

_DATE_TYPES = (exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ)
_STARTS_AS_A_DATE = r"^\s*[0-9]{4,}-[0-9]{1,2}-[0-9]{1,2}"
_TRUNCATED_PARTS = ("SECOND", "MINUTE", "HOUR", "DAY", "MONTH", "QUARTER", "YEAR")


def _dated_only(node: exp.TryCast) -> exp.Expression:
    """TRY_CAST to a date or time of a value written as a date (see the module's docstring)."""
    text = exp.Cast(this=node.this.copy(), to=exp.DataType.build("STRING"))
    starts = exp.RegexpLike(this=text, expression=exp.Literal.string(_STARTS_AS_A_DATE))
    return exp.Case(ifs=[exp.If(this=starts, true=node.copy())])


def _boundaries_crossed(node: exp.DateDiff) -> exp.Expression:
    """DuckDB's date_diff(part, a, b): Spark's timestampdiff of a and b each truncated to the part."""
    unit = node.unit.name.upper() if node.unit else "DAY"
    if unit not in _TRUNCATED_PARTS:
        raise DialectError(f"date_diff by {unit.lower()} is not written for Spark (use one of "
                           f"{', '.join(p.lower() for p in _TRUNCATED_PARTS)})")

    def truncated(value):
        return _fn("date_trunc", exp.Literal.string(unit), value)

    return _fn("timestampdiff", exp.var(unit), truncated(node.expression), truncated(node.this))


def _whole_parts(part, start, end) -> exp.Expression:
    """DuckDB's date_sub('year' | 'month', start, end), for dates (see the module's docstring);
    negative, by the same count the other way, when end is before start."""
    name = part.name.lower() if isinstance(part, exp.Literal) else ""
    if name not in ("year", "month"):
        raise DialectError(f"date_sub by {part.sql(dialect='duckdb')} is not written for Spark (year or month)")
    per = 12 if name == "year" else 1
    start_sql, end_sql = start.sql(dialect="spark"), end.sql(dialect="spark")

    def months(a: str, b: str) -> str:
        return (f"((year({b}) - year({a})) * 12 + month({b}) - month({a})"
                f" - CASE WHEN day({b}) < day({a}) AND {b} <> last_day({b}) THEN 1 ELSE 0 END)")

    sql = (f"CASE WHEN {start_sql} <= {end_sql} THEN CAST(floor({months(start_sql, end_sql)} / {per}) AS BIGINT)"
           f" ELSE -CAST(floor({months(end_sql, start_sql)} / {per}) AS BIGINT) END")
    return sqlglot.parse_one(sql, read="spark")


def _double_division(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Div):
        return exp.Div(this=exp.Cast(this=node.this.copy(), to=exp.DataType.build("DOUBLE")), expression=node.expression.copy())
    return node


def _full_match(node: exp.RegexpFullMatch) -> exp.Expression:
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise DialectError(f"regexp_full_match with a pattern that is not a literal: {node.sql()}")
    return exp.RegexpLike(this=node.this, expression=exp.Literal.string(f"^(?:{pattern.this})$"))
