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

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa

from andon.analytics import strict_json
from andon.analytics.fhir import sof
from andon.analytics.fhir import store as fhir_store

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
# DuckDB spills one large join of a statement, not two at once: the framing makes a statement
# of each (aggregate._framing_steps), and a measure's SQL that joins two large views at once may
# need more (at 5.4 million patients readmission-30-day did until 2026.3, docs/benchmarks.md,
# "Measures library"): MEMORY_LIMIT_VARIABLE sets it.
MEMORY_LIMIT = "256MB"
MEMORY_LIMIT_VARIABLE = "ANDON_KPI_MEMORY_LIMIT"
ALLOCATOR_FLUSH_THRESHOLD = "8MB"


def memory_limit() -> str:
    """A workspace's memory cap: MEMORY_LIMIT_VARIABLE when set (a size such as 2GB), else
    MEMORY_LIMIT; a KpiError naming the variable for anything else."""
    chosen = os.environ.get(MEMORY_LIMIT_VARIABLE, "").strip() or MEMORY_LIMIT
    try:
        fhir_store.size_bytes(chosen)  # the store's own check of a size DuckDB's SET takes
    except ValueError:
        raise KpiError(f"{MEMORY_LIMIT_VARIABLE}={chosen!r}: expected a size such as 2GB") from None
    return chosen


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


def _first_clash(rows) -> tuple[str, str] | None:
    """The first (kind, key) of the unit map's rows (kind, key, unit) given two units, if any."""
    units: dict[tuple[str, str], str] = {}
    for kind, key, unit in rows:
        if units.setdefault((kind, key), unit) != unit:
            return kind, key
    return None


class Workspace:
    """Views loaded from a store, the unit map, and a connection to run measure SQL in.

    The aggregation (aggregate.py) and the attribution rules reach the engine only through the
    methods under "The engine" (rows, columns, arrow, create_table, drop_table, add_table,
    errors), written in DuckDB's SQL: the same code runs on Spark (spark/workspace.py), whose
    workspace turns that SQL into Spark's."""

    def __init__(self, store, definitions: Mapping[str, dict], views: Iterable[str],
                 unit_map: Iterable[tuple[str, str, str]] = (), unit_tree: Iterable[tuple[str, str]] = (),
                 attribution: bool = False):
        self.definitions = dict(definitions)
        # With attribution, the cases are also given their responsible practitioner (attribution.py).
        self.attribution = attribution
        if attribution:
            views = set(views) | set(attribution_rules.VIEWS)
        self.loaded: set[str] = set()  # the views' tables (an added table may not take their names)
        self._open()
        names = sorted(set(views) | set(STRATA_VIEWS))
        unknown = [name for name in names if name not in self.definitions]
        if unknown:
            raise KpiError(f"no ViewDefinition named {unknown[0]!r}")
        self._load_views(store, names)
        self._load_unit_map(unit_map)
        self._load_unit_tree(unit_tree)
        if attribution:
            attribution_rules.prepare(self)
        self._seal()

    @classmethod
    def for_sql(cls, store, definitions: Mapping[str, dict], sqls: Iterable[str], unit_map=(), unit_tree=(),
                attribution: bool = False) -> Workspace:
        """A workspace holding every view the given SQL texts read (and those attribution reads)."""
        views: set[str] = set()
        for sql in sqls:
            views |= referenced_views(sql, definitions)
        return cls(store, definitions, views, unit_map, unit_tree, attribution)

    def _load_unit_map(self, unit_map) -> None:
        rows = []
        for kind, external_id, unit in unit_map:
            if kind not in UNIT_KINDS:
                raise KpiError(f"unit map: {kind!r} for {external_id!r} is not one of {', '.join(UNIT_KINDS)}")
            rows.append((kind, reference_key(kind, str(external_id)), str(unit)))
        self.unit_map_clash = _first_clash(rows)
        table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(UNIT_MAP_COLUMNS)},
                         schema=pa.schema([(name, pa.string()) for name in UNIT_MAP_COLUMNS]))
        self.add_table("_unit_map_rows", table)
        self.create_table("unit_map", "SELECT DISTINCT * FROM _unit_map_rows")
        self.drop_table("_unit_map_rows")

    def check_unit_map(self) -> None:
        """A place or organisation mapped to two units would count its cases twice: refused."""
        if self.unit_map_clash:
            kind, key = self.unit_map_clash
            raise KpiError(f"unit map: {kind} {key!r} is mapped to more than one unit")

    def _load_unit_tree(self, unit_tree) -> None:
        """`unit_rollup(unit_key, cell_unit)`: the cells a case of a unit counts in, the unit's own
        and each unit above it (`unit_tree` gives (unit, ancestor) pairs)."""
        pairs = [(str(unit), str(ancestor)) for unit, ancestor in unit_tree]
        table = pa.table({"unit_key": [p[0] for p in pairs], "cell_unit": [p[1] for p in pairs]},
                         schema=pa.schema([("unit_key", pa.string()), ("cell_unit", pa.string())]))
        self.add_table("_unit_tree_rows", table)
        self.create_table("unit_rollup", """
            SELECT DISTINCT unit_key, unit_key AS cell_unit FROM unit_map
            UNION SELECT unit_key, cell_unit FROM _unit_tree_rows""")
        self.drop_table("_unit_tree_rows")

    # --- The engine: DuckDB, in memory --------------------------------------------------------

    def _open(self) -> None:
        self.memory_limit = memory_limit()
        self._spill = tempfile.TemporaryDirectory(prefix="andon-kpi-", ignore_cleanup_errors=True)
        self.connection = duckdb.connect(config={"memory_limit": self.memory_limit, "temp_directory": self._spill.name,
                                                 "allocator_flush_threshold": ALLOCATOR_FLUSH_THRESHOLD})
        self.connection.execute("SET TimeZone = 'UTC'")

    def _load_views(self, store, names: list[str]) -> None:
        for name in names:
            view = self.definitions[name]
            table = sof.run(store, view) if store is not None else _empty(view)
            self.add_table(name, table)
            self.loaded.add(name)

    def _seal(self) -> None:
        """No files or network from here on: a measure's SQL sees the workspace's tables only."""
        self.connection.execute("SET enable_external_access = false")
        self.connection.execute("SET lock_configuration = true")

    def rows(self, query: str, parameters: dict | None = None) -> list[tuple]:
        """The rows of a query (DuckDB's SQL; named parameters as $name)."""
        with self.errors():
            return self.connection.execute(query, parameters or {}).fetchall()

    def columns(self, query: str) -> list[str]:
        """The names of a query's columns, without running it."""
        with self.errors(cannot="the SQL cannot run"):
            return self.connection.sql(query).columns

    def arrow(self, query: str) -> pa.Table:
        with self.errors():
            return self.connection.sql(query).to_arrow_table()

    def create_table(self, name: str, query: str, parameters: dict | None = None) -> None:
        """Keep a query's rows as table `name` (replacing one of that name)."""
        with self.errors():
            self.connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS {query}', parameters or {})

    def create_table_in_steps(self, steps: list[tuple[str, str, dict | None]]) -> None:
        """Keep the last of `steps` (name, query, its parameters), each query reading the steps
        before it by name: here each step is a table of its own, dropped once the next is made,
        so that one statement never holds more than its own step's joins (aggregate._framing_steps)."""
        previous = None
        try:
            for name, query, parameters in steps:
                self.create_table(name, query, parameters)
                if previous is not None:
                    self.drop_table(previous)
                previous = name
        except BaseException:
            if previous is not None:  # a step before the one that failed
                self.drop_table(previous)
            raise

    def drop_table(self, name: str) -> None:
        self.connection.execute(f'DROP TABLE IF EXISTS "{name}"')

    def add_table(self, name: str, table: pa.Table) -> None:
        """Keep rows made elsewhere (an eCQM's cases) as a table the SQL can read."""
        self._check_added_name(name)
        self.connection.register(f"_arrow_{name}", table)
        self.connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM "_arrow_{name}"')
        self.connection.unregister(f"_arrow_{name}")

    def _check_added_name(self, name: str) -> None:
        """An added table is named as SQL can name it, and never hides one of the views loaded."""
        if not name.isidentifier() or name in self.loaded:
            raise KpiError(f"cannot add a table named {name!r}")

    @contextmanager
    def errors(self, cannot: str = "the SQL failed on the data") -> Iterator[None]:
        """A failure of the engine on a measure's SQL is the measure's error (KpiError), worded
        for who runs it: `cannot` and the engine's first line."""
        try:
            yield
        except duckdb.OutOfMemoryException as error:
            raise KpiError(f"the measure's cases need more memory than a workspace may take ({self.memory_limit}, "
                           f"and disk space past it; {MEMORY_LIMIT_VARIABLE} sets it): {_first_line(error)}") from None
        except duckdb.Error as error:
            raise KpiError(f"{cannot}: {_first_line(error)}") from None

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
