"""A view over the columnar store (`fhir.columnar`): member paths as struct and list access.

A view takes this form when it gives one row per resource (no forEach, forEachOrNull, repeat
or unionAll), has no `where`, and every column is, by the type's structure, a member path
from the resource (`period.start`, `value.ofType(Quantity).value`), optionally ending in
`first()`, `getResourceKey()` or `getReferenceKey([T])`, whose leaf is a primitive of the
column's type. Any other view reads the JSON text as before (`compile.py`): the same rows,
more slowly. The structure fits every stored resource (it was made from all of them), so
what it says of arrays and objects holds for every row:

- a path through no array reads one value: `"period"."start"`;
- `first()` reads the first item of each array on the way (`"type"[1]."coding"[1]."code"`);
  everything under `type[1]` comes before `type[2]`, so a value found there is the first.
  Where none is found and an array on the way has a second item, the whole collection is
  built from the lists (`flatten(list_transform(…))`, nulls dropped, as FHIRPath drops them)
  and its first item taken: only those rows pay for it;
- a path through an array without `first()` is a collection: the view reads JSON.
"""

from __future__ import annotations

from ..columnar import TypedTable, quote
from .expressions import Names, Scope, _fast_form, _reference_key

# the primitives a leaf holds, by the SQL type of the column reading it
_LEAVES = {
    "VARCHAR": ("VARCHAR", "BOOLEAN"),  # a boolean reads 'true' / 'false', as from JSON
    "BOOLEAN": ("BOOLEAN",),
    "BIGINT": ("BIGINT", "UBIGINT"),
    "DOUBLE": ("BIGINT", "UBIGINT", "DOUBLE"),
}


def typed_select(columns: list[tuple[str, str, str]], typed: TypedTable, resource_type: str) -> str | None:
    """The SELECT of a one-row-per-resource view's columns `(name, path, sql_type)` over the
    type's typed table, or None when a column has another form (the view then reads JSON)."""
    names = Names()
    values = []
    for name, path, sql_type in columns:
        value = typed_value(path, typed.structure, sql_type, resource_type, names)
        if value is None:
            return None
        values.append(f'{value} AS "{name}"')
    return f"SELECT {', '.join(values)}\nFROM {quote(typed.table)} AS t"


def typed_value(text, structure: dict, sql_type: str, resource_type: str, names: Names) -> str | None:
    """The SQL of one column's value over the typed table, or None when it has another form."""
    if not isinstance(text, str):
        return None
    parsed = _fast_form(text, Scope("t", "0", {}, names, resource_type, root=True, members={}))
    if parsed is None:
        return None
    steps, first, terminal = parsed
    if terminal is not None and sql_type != "VARCHAR":
        return None
    if terminal == "resource":
        if structure.get("resourceType") != "VARCHAR" or structure.get("id") != "VARCHAR":
            return None
        return "(t.\"resourceType\" || '/' || t.\"id\")"
    reference = terminal is not None
    walked = _walk(steps + (["reference"] if reference else []), structure)
    if walked is None:
        return None
    leaf, fast, lists = walked
    if leaf == "absent" or leaf == "NULL":
        return f"CAST(NULL AS {sql_type})"  # no resource has a value there
    if leaf not in (("VARCHAR",) if reference else _LEAVES.get(sql_type, ())):
        return None
    if lists and not first:
        return None  # a collection by the structure: the view reads JSON
    if not reference:
        value = _cast(fast, leaf, sql_type)
        if not lists:
            return value
        x = names("x")
        whole = f"list_filter({_collection(steps, structure, names)}, lambda {x}: {x} IS NOT NULL)[1]"
        return f"coalesce({value}, CASE WHEN {_any_second(lists)} THEN {_cast(whole, leaf, sql_type)} END)"
    key = _reference_key(fast, terminal[1])
    if not lists:
        return key
    x, k = names("x"), names("k")
    keys = f"list_transform({_collection(steps + ['reference'], structure, names)}, lambda {x}: {_reference_key(x, terminal[1])})"
    whole = f"list_filter({keys}, lambda {k}: {k} IS NOT NULL)[1]"
    return f"coalesce({key}, CASE WHEN {_any_second(lists)} THEN {whole} END)"


def _walk(steps: list[str], structure: dict):
    """(leaf type, the SQL reading the first item of every array on the way, the arrays on
    the way as SQL) for member `steps` from the resource; leaf "absent" when no resource has
    the path; None when a member on the way is of differing kinds (JSON)."""
    node, sql, lists = structure, "t", []
    for step in steps:
        if node == "JSON":
            return None
        if not isinstance(node, dict) or step not in node:
            return "absent", None, lists  # a member of a primitive, or one nobody has: empty
        node = node[step]
        sql = f"{sql}.{quote(step)}"
        if isinstance(node, list):
            lists.append(sql)
            sql = f"{sql}[1]"
            node = node[0] if node else "NULL"
    if isinstance(node, (dict, list)) or node == "JSON":
        return None  # an object or mixed kinds at the leaf: not a primitive column
    return node, sql, lists


def _collection(steps: list[str], structure: dict, names: Names) -> str:
    """The list of every value at member `steps` (arrays flattened in order)."""
    node, sql, listed = structure, "t", False
    for step in steps:
        node = node[step]
        if not listed:
            sql = f"{sql}.{quote(step)}"
            if isinstance(node, list):
                listed = True
        else:
            x = names("x")
            sql = f"list_transform({sql}, lambda {x}: {x}.{quote(step)})"
            if isinstance(node, list):
                sql = f"flatten({sql})"
        if isinstance(node, list):
            node = node[0] if node else "NULL"
    return sql


def _any_second(lists: list[str]) -> str:
    """Whether any array on the way (read at its first items) has a second item."""
    return " OR ".join(f"coalesce(len({sql}) > 1, false)" for sql in lists)


def _cast(sql: str, leaf: str, sql_type: str) -> str:
    return sql if leaf == sql_type else f"CAST({sql} AS {sql_type})"
