"""The workspace a KPI's SQL runs in: an in-memory DuckDB database holding the rows of the
core SQL-on-FHIR views (content/views/) it reads, the map from EHR locations and
organisations to the hospital's units, and the units' tree (each unit's cases count in the
units above it too).

The views are run over the FHIR store once per workspace and kept as tables, so a library of
measures reads the store once. After loading, the connection loses access to files and the
network (`enable_external_access = false`): a measure's SQL sees the views and nothing else,
and may only be one SELECT.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa

from andon.analytics import strict_json
from andon.analytics.fhir import sof

from . import attribution as attribution_rules


class KpiError(ValueError):
    """A measure's SQL or data that cannot be used: the message says what and where."""


# The views every computation needs besides the measure's own: demographics for the strata.
STRATA_VIEWS = ("patient", "coverage")
UNIT_MAP_COLUMNS = ("kind", "external_id", "unit_key")
UNIT_KINDS = ("location", "organization")  # FHIR Location, Organization (the service provider)
# DuckDB's memory for a workspace: past the cap its tables and a query's work spill to a
# temporary directory of the workspace's own, and what a query frees goes back to the system
# instead of staying with DuckDB's allocator. Without them a measure with many cases
# (inpatient-days: a row per day of each stay) grew the process by 480 MB at 100,000 patients,
# and kept most of it.
MEMORY_LIMIT = "256MB"
ALLOCATOR_FLUSH_THRESHOLD = "8MB"


def load_view_definitions(folder: str | Path) -> dict[str, dict]:
    """The ViewDefinitions of a folder (content/views), by their `name`."""
    views = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            view = strict_json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # JSONError: NaN, duplicate keys, too deep
            raise KpiError(f"{path}: cannot read the ViewDefinition: {error}") from None
        name = view.get("name") if isinstance(view, dict) else None
        if not isinstance(name, str) or not name:
            raise KpiError(f"{path}: the ViewDefinition has no name")
        views[name] = view
    return views


def referenced_views(sql: str, known: Iterable[str]) -> set[str]:
    """The views a KPI's SQL reads; KpiError unless it is one SELECT over known views only."""
    tables = set(_tables_read(sql))
    unknown = sorted(tables - set(known))
    if unknown:
        raise KpiError(f"the SQL reads {', '.join(unknown)}, which are not views (known: {', '.join(sorted(known))})")
    return tables


@lru_cache(maxsize=512)
def _tables_read(sql: str) -> frozenset[str]:
    """The tables one SELECT reads, by DuckDB's parser. Remembered by text: loading the measure
    library checks every measure's SQL, and opening a DuckDB to parse it cost more than the rest of
    the load (an error is raised again each time, never remembered)."""
    probe = duckdb.connect()
    try:
        statements = probe.extract_statements(sql)
    except duckdb.Error as error:
        raise KpiError(f"the SQL does not parse: {_first_line(error)}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise KpiError("the SQL must be exactly one SELECT statement")
    return frozenset(probe.get_table_names(sql))


class Workspace:
    """Views loaded from a store, the unit map, and a connection to run measure SQL in."""

    def __init__(self, store: duckdb.DuckDBPyConnection | None, definitions: Mapping[str, dict],
                 views: Iterable[str], unit_map: Iterable[tuple[str, str, str]] = (),
                 unit_tree: Iterable[tuple[str, str]] = (), attribution: bool = False):
        self.definitions = dict(definitions)
        # With attribution, the cases are also given their responsible practitioner (attribution.py).
        self.attribution = attribution
        if attribution:
            views = set(views) | set(attribution_rules.VIEWS)
        self._spill = tempfile.TemporaryDirectory(prefix="andon-kpi-", ignore_cleanup_errors=True)
        self.connection = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": self._spill.name,
                                                 "allocator_flush_threshold": ALLOCATOR_FLUSH_THRESHOLD})
        self.connection.execute("SET TimeZone = 'UTC'")
        self.loaded: dict[str, int] = {}
        for name in sorted(set(views) | set(STRATA_VIEWS)):
            self._load_view(store, name)
        self._load_unit_map(unit_map)
        self._load_unit_tree(unit_tree)
        if attribution:
            attribution_rules.prepare(self.connection)
        self.connection.execute("SET enable_external_access = false")
        self.connection.execute("SET lock_configuration = true")

    @classmethod
    def for_sql(cls, store, definitions: Mapping[str, dict], sqls: Iterable[str], unit_map=(), unit_tree=(),
                attribution: bool = False) -> Workspace:
        """A workspace holding every view the given SQL texts read (and those attribution reads)."""
        views: set[str] = set()
        for sql in sqls:
            views |= referenced_views(sql, definitions)
        return cls(store, definitions, views, unit_map, unit_tree, attribution)

    def _load_view(self, store, name: str) -> None:
        if name not in self.definitions:
            raise KpiError(f"no ViewDefinition named {name!r}")
        table = sof.run(store, self.definitions[name]) if store is not None else _empty(self.definitions[name])
        self.connection.register(f"_arrow_{name}", table)
        self.connection.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "_arrow_{name}"')
        self.connection.unregister(f"_arrow_{name}")
        self.loaded[name] = table.num_rows

    def _load_unit_map(self, unit_map) -> None:
        rows = []
        for kind, external_id, unit in unit_map:
            if kind not in UNIT_KINDS:
                raise KpiError(f"unit map: {kind!r} for {external_id!r} is not one of {', '.join(UNIT_KINDS)}")
            rows.append((kind, reference_key(kind, str(external_id)), str(unit)))
        table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(UNIT_MAP_COLUMNS)},
                         schema=pa.schema([(name, pa.string()) for name in UNIT_MAP_COLUMNS]))
        self.connection.register("_arrow_unit_map", table)
        self.connection.execute("CREATE TABLE unit_map AS SELECT DISTINCT * FROM _arrow_unit_map")
        self.connection.unregister("_arrow_unit_map")

    def _load_unit_tree(self, unit_tree) -> None:
        """`unit_rollup(unit_key, cell_unit)`: the cells a case of a unit counts in, the unit's own
        and each unit above it (`unit_tree` gives (unit, ancestor) pairs)."""
        pairs = [(str(unit), str(ancestor)) for unit, ancestor in unit_tree]
        table = pa.table({"unit_key": [p[0] for p in pairs], "cell_unit": [p[1] for p in pairs]},
                         schema=pa.schema([("unit_key", pa.string()), ("cell_unit", pa.string())]))
        self.connection.register("_arrow_unit_tree", table)
        self.connection.execute("""CREATE TABLE unit_rollup AS
            SELECT DISTINCT unit_key, unit_key AS cell_unit FROM unit_map
            UNION SELECT unit_key, cell_unit FROM _arrow_unit_tree""")
        self.connection.unregister("_arrow_unit_tree")

    def add_table(self, name: str, table: pa.Table) -> None:
        """Keep rows made elsewhere (an eCQM's cases) as a table the SQL can read."""
        if not name.isidentifier() or name in self.loaded:
            raise KpiError(f"cannot add a table named {name!r}")
        self.connection.register(f"_arrow_{name}", table)
        self.connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM "_arrow_{name}"')
        self.connection.unregister(f"_arrow_{name}")

    def close(self) -> None:
        self.connection.close()
        self._spill.cleanup()


def reference_key(kind: str, external_id: str) -> str:
    """How the views give a reference (getReferenceKey: "Location/123"): a bare id gets its
    type; a full reference or a conditional one ("Location?identifier=…") is kept as it is."""
    if "/" in external_id or "?" in external_id:
        return external_id
    return f"{kind.capitalize()}/{external_id}"


def _empty(view: dict) -> pa.Table:
    """A view's columns with no rows (a workspace without a store: manual measures, tests)."""
    names = []

    def walk(selects):
        for select in selects:
            names.extend(column["name"] for column in select.get("column", []))
            walk(select.get("select", []))
            walk(select.get("unionAll", [])[:1])

    walk(view.get("select", []))
    return pa.table({name: pa.array([], pa.string()) for name in names})


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
