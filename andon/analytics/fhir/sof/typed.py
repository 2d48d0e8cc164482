"""A view over the columnar store (`fhir.columnar`): member paths as struct and list access.

A view takes this form (`compile.typed_plan`) when it has no `where`, no `repeat` or
`unionAll`, and at most one `forEach` / `forEachOrNull` among its top selects, with columns
only; and when every column is, by the type's structure, a member path from the resource (or
from the item of the forEach), optionally with `extension('url')` and `where(member = 'text')`
filters on the way and ending in `first()`, `getResourceKey()` (of the resource) or
`getReferenceKey([T])`, whose leaf is a primitive of the column's type, or `%rowIndex`. Any other view reads the JSON text as before (`compile.py`): the same rows, more
slowly. The structure fits every stored resource (it was made from all of them), so what it
says of arrays and objects holds for every row:

- a path through no array reads one value: `"period"."start"`;
- `first()` reads the first item of each array on the way (`"type"[1]."coding"[1]."code"`);
  everything under `type[1]` comes before `type[2]`, so a value found there is the first.
  Where none is found and an array on the way has a second item, the whole collection is
  built from the lists (`flatten(list_transform(…))`, null members dropped and arrays' null
  elements kept, as the JSON engine does) and its first item taken: only those rows pay;
- a path through an array without `first()` is a collection: the view reads JSON;
- a filter keeps the items whose text member equals the text (`url` for an extension): the
  collection is built and, with `first()`, its first item taken;
- a forEach's items are the collection of its path, built the same way, unnested beside their position (`%rowIndex`, from 0); forEachOrNull unnests one NULL item
  where there is none, whose columns are then all NULL and whose `%rowIndex` is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..columnar import TypedTable, quote
from .compile import TypedPlan
from .expressions import Names, Scope, _chain, _fast_form, _reference_key, sql_string
from .fhirpath import Binary, Call, Literal, Member, This


@dataclass(frozen=True)
class Filter:
    """A step keeping the items whose text member `member` equals `value`: `extension(url)`
    (after the step to `extension`) and `where(member = 'text')`."""

    member: str
    value: str


def _steps(node, scope: Scope):
    """The steps of a path of members and filters from the focus, or None for another form:
    `_chain`'s member paths, and `extension('url')` and `where(m = 'text')` along them."""
    if isinstance(node, Call) and node.name == "extension" and len(node.args) == 1:
        url = node.args[0]
        base = _steps(node.base, scope)
        if base is None or not (isinstance(url, Literal) and url.kind == "string"):
            return None
        return base + ["extension", Filter("url", url.value)]
    if isinstance(node, Call) and node.name == "where" and len(node.args) == 1:
        test, base = node.args[0], _steps(node.base, scope)
        if base is None or not (isinstance(test, Binary) and test.op == "="):
            return None
        member, value = test.left, test.right
        if isinstance(member, Member) and isinstance(member.base, This) and isinstance(value, Literal) and value.kind == "string":
            return base + [Filter(member.name, value.value)]
        return None
    if isinstance(node, Member) and not (isinstance(node.base, This) and node.name == scope.resource_type):
        base = _steps(node.base, scope)
        return None if base is None else base + [node.name]
    if isinstance(node, Call) and node.name in ("ofType", "as") and len(node.args) == 1 and isinstance(node.base, Member):
        names = _chain(Call(Member(This(), node.base.name), node.name, node.args), scope)
        base = _steps(node.base.base, scope)
        return None if base is None or names is None else base + names
    return _chain(node, scope)

# the primitives a leaf holds, by the SQL type of the column reading it
_LEAVES = {
    "VARCHAR": ("VARCHAR", "BOOLEAN"),  # a boolean reads 'true' / 'false', as from JSON
    "BOOLEAN": ("BOOLEAN",),
    "BIGINT": ("BIGINT", "UBIGINT", "HUGEINT"),
    "DOUBLE": ("BIGINT", "UBIGINT", "HUGEINT", "DOUBLE"),
}
ITEM, INDEX = "andon_item", "andon_index"  # no FHIR member has an underscore inside


def typed_select(plan: TypedPlan, typed: TypedTable, resource_type: str, one_generator: bool = False) -> str | None:
    """The SELECT of a view's plan over the type's typed table, or None when a column or the
    forEach path has another form (the view then reads JSON). `one_generator`: a forEach's
    items and their positions come from one `unnest` of (item, position) pairs, for Spark,
    which allows one generator a SELECT (DuckDB's two unnests in step are faster there)."""
    names = Names()
    source = f"{quote(typed.table)} AS t"
    item_structure = None
    item, index = f"t.{ITEM}", f"t.{INDEX}"
    if plan.each is not None:
        if ITEM in typed.structure or INDEX in typed.structure:
            return None
        found = _items(plan.each, typed.structure, resource_type, names, plan.or_null)
        if found is None:
            return None
        items, item_structure = found
        if one_generator:
            x, i = names("x"), names("i")
            pairs = f"list_transform({items}, lambda {x}, {i}: {{'{ITEM}': {x}, '{INDEX}': {i} - 1}})"
            source = f"(SELECT *, unnest({pairs}) AS {ITEM} FROM {source}) AS t"
            item, index = f"t.{ITEM}.{ITEM}", f"t.{ITEM}.{INDEX}"
        else:
            source = f"(SELECT *, unnest({items}) AS {ITEM}, generate_subscripts({items}, 1) - 1 AS {INDEX} FROM {source}) AS t"
    values = []
    for name, path, sql_type, scope in plan.columns:
        if scope == "item":
            value = typed_value(path, item_structure, sql_type, resource_type, names, base=item, index=index)
        else:
            value = typed_value(path, typed.structure, sql_type, resource_type, names)
        if value is None:
            return None
        values.append(f'{value} AS "{name}"')
    return f"SELECT {', '.join(values)}\nFROM {source}"


def _items(text, structure: dict, resource_type: str, names: Names, or_null: bool):
    """(the SQL list of a forEach's items, the structure of an item), or None when the path is
    not a member path to objects."""
    parsed = _fast_form(text, Scope("t", "0", {}, names, resource_type, root=True, members={}), _steps) if isinstance(text, str) else None
    if parsed is None or parsed[1] or parsed[2] is not None or not parsed[0]:
        return None
    steps = parsed[0]
    node = _node_at(steps, structure)
    if node in ("absent", "NULL"):
        items, node = "[]", {}  # no resource has an item: every column of one is empty
    elif isinstance(node, dict):
        items = _collection(steps, structure, names, "t")
    else:
        return None
    if or_null:
        items = f"(CASE WHEN array_length({items}) = 0 THEN [NULL] ELSE {items} END)"
    return items, node


def typed_value(text, structure: dict, sql_type: str, resource_type: str, names: Names,
                base: str = "t", index: str = "0") -> str | None:
    """The SQL of one column's value over the typed table (from `base`: the resource's row, or
    a forEach's item), or None when it has another form."""
    if not isinstance(text, str):
        return None
    if text.strip() == "%rowIndex":
        return index if sql_type == "BIGINT" else None
    parsed = _fast_form(text, Scope(base, "0", {}, names, resource_type, root=True, members={}), _steps)
    if parsed is None:
        return None
    steps, first, terminal = parsed
    if terminal is not None and sql_type != "VARCHAR":
        return None
    if terminal == "resource":
        if base != "t" or structure.get("resourceType") != "VARCHAR" or structure.get("id") != "VARCHAR":
            return None
        return "(t.\"resourceType\" || '/' || t.\"id\")"
    reference = terminal is not None
    path = steps + (["reference"] if reference else [])
    leaf = _node_at(path, structure)
    if leaf in ("absent", "NULL"):
        return f"CAST(NULL AS {sql_type})"  # no resource has a value there
    if leaf not in (("VARCHAR",) if reference else _LEAVES.get(sql_type, ())):
        return None  # an object, mixed kinds, or a primitive of another type
    x, k = names("x"), names("k")
    if any(isinstance(step, Filter) for step in steps):
        if not first:
            return None  # a collection: the view reads JSON
        whole = _collection(path, structure, names, base)
        if not reference:
            return _cast(f"{whole}[1]", leaf, sql_type)
        keys = f"list_transform({whole}, lambda {x}: {_reference_key(x, terminal[1])})"
        return f"list_filter({keys}, lambda {k}: {k} IS NOT NULL)[1]"
    fast, lists = _walk(path, structure, base)
    if lists and not first:
        return None  # a collection by the structure: the view reads JSON
    if not reference:
        value = _cast(fast, leaf, sql_type)
        if not lists:
            return value
        whole = f"{_collection(steps, structure, names, base)}[1]"
        return f"coalesce({value}, CASE WHEN {_any_second(lists)} THEN {_cast(whole, leaf, sql_type)} END)"
    key = _reference_key(fast, terminal[1])
    if not lists:
        return key
    keys = f"list_transform({_collection(path, structure, names, base)}, lambda {x}: {_reference_key(x, terminal[1])})"
    whole = f"list_filter({keys}, lambda {k}: {k} IS NOT NULL)[1]"
    return f"coalesce({key}, CASE WHEN {_any_second(lists)} THEN {whole} END)"


def _node_at(steps: list, structure: dict):
    """What the structure says is at `steps` (a type name, or a dict for an object): "absent"
    when no resource has the path, None when a member on the way (or a filter's member, which
    must be text) is of differing kinds."""
    node = structure
    for step in steps:
        if node == "JSON":
            return None
        if isinstance(step, Filter):
            if not isinstance(node, dict) or step.member not in node:
                return "absent"  # nothing to compare: no item passes
            if node[step.member] != "VARCHAR":
                return None
            continue
        if not isinstance(node, dict) or step not in node:
            return "absent"  # a member of a primitive, or one nobody has: empty
        node = node[step]
        if isinstance(node, list):
            node = node[0] if node else "NULL"
    return node


def _walk(steps: list[str], structure: dict, base: str):
    """(the SQL reading the first item of every array on the way, the arrays on the way as SQL)
    for member `steps` from `base`, whose leaf `_node_at` has found."""
    node, sql, lists = structure, base, []
    for step in steps:
        node = node[step]
        sql = f"{sql}.{quote(step)}"
        if isinstance(node, list):
            lists.append(sql)
            sql = f"{sql}[1]"
            node = node[0] if node else "NULL"
    return sql, lists


def _collection(steps: list[str], structure: dict, names: Names, base: str) -> str:
    """The list of every item at member `steps` from `base`, as the JSON engine makes it
    (`expressions.children`): a member absent or null is no item; an array is spread, its
    own null elements kept (FHIR writes them beside `_element` extensions), in order."""
    node, sql, listed = structure, base, False
    for step in steps:
        if isinstance(step, Filter):
            x = names("x")
            sql = f"list_filter({sql if listed else f'[{sql}]'}, lambda {x}: {x}.{quote(step.member)} = {sql_string(step.value)})"
            listed = True
            continue
        node = node[step]
        spread = isinstance(node, list)
        if not listed:
            sql = f"{sql}.{quote(step)}"
            if spread:
                sql, listed = f"coalesce({sql}, [])", True
        else:
            x, m = names("x"), names("m")
            sql = f"list_filter(list_transform({sql}, lambda {x}: {x}.{quote(step)}), lambda {m}: {m} IS NOT NULL)"
            if spread:
                sql = f"flatten({sql})"
        if spread:
            node = node[0] if node else "NULL"
    if not listed:
        x = names("x")
        sql = f"list_filter([{sql}], lambda {x}: {x} IS NOT NULL)"
    return sql


def _any_second(lists: list[str]) -> str:
    """Whether any array on the way (read at its first items) has a second item: for a CASE's
    WHEN, where NULL (no array) is not true, so it needs no coalesce."""
    return " OR ".join(f"array_length({sql}) > 1" for sql in lists)


def _cast(sql: str, leaf: str, sql_type: str) -> str:
    return sql if leaf == sql_type else f"CAST({sql} AS {sql_type})"
