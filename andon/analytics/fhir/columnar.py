"""The columnar store: each resource type's resources shredded into typed columns.

Beside the JSON text of `resources` (which stays the record: the ingest validates,
quarantines, keys and hashes it), each resource type has a table holding the same resources
as typed columns, one per top-level member: a FHIR object is a `STRUCT`, an array a `LIST`,
a primitive a `VARCHAR`, `BOOLEAN`, `BIGINT` or `DOUBLE`. A view whose paths are member paths
reads those columns and never parses JSON (`sof.typed`).

**The schema comes from the data.** DuckDB's `json_group_structure` over every stored
resource of the type gives a structure that every one of them fits: a member seen as an
object in one resource and an array (or a string and a number) in another is typed `JSON`,
and a path through it is read from the JSON text instead. Members no resource has are not
columns (the path is empty for every resource, which is what FHIRPath says of it); extensions
are members like any other, so they are kept. `json_transform` then shreds each resource
into that structure, losing nothing a view can read: the structure fits every row by
construction. (The FHIR R4 definitions would give the same arrays and objects for valid data;
the data's own structure also holds invalid data exactly, and needs no table of the model.)

**Kept in step with `resources`.** `typed_tables` records, per type, the table, the
structure and a fingerprint of the rows it was built from: their count, how many carry the
ingest's `content_hash`, and the XOR of those hashes. A reader uses a typed table only when
the fingerprint of the type's rows in `resources` still matches (a few milliseconds: two
narrow columns), so rows written by anything but the ingest, or a load whose rebuild did not
run (killed between the file's commit and the rebuild), send views back to the JSON text:
slower, never stale. The ingest keeps the tables in step batch by batch (`Maintainer`), and
rebuilds after the load, each in one transaction (`refresh`), the types it could not.

Tables are named `typed_<n>` (DuckDB names are case-insensitive; resource types need not be).
`export_parquet` writes them as one Parquet file per type for other engines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

SCHEMA = """
CREATE TABLE IF NOT EXISTS typed_tables (
    type VARCHAR PRIMARY KEY,
    table_name VARCHAR NOT NULL,
    structure VARCHAR NOT NULL,
    row_count BIGINT NOT NULL,
    hashed BIGINT NOT NULL,
    hash_xor UHUGEINT,
    built_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE SEQUENCE IF NOT EXISTS typed_table_numbers;
"""

PATIENT_COLUMN = "andon_patient"  # the ingest's patient key; no FHIR member has an underscore inside
TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{0,63}")  # as the ingest checks resourceType
MAX_STRUCTURE_CHARS = 1_000_000  # a type whose members run past this stays JSON only (hostile data)
MAX_STRUCTURES = 20_000  # distinct shapes of a type's resources beyond which it stays JSON only
# DuckDB's memory while exporting (it spills to disk beyond it): uncapped, the export's sorts took
# what they wanted of DuckDB's default, 80 % of the machine (8.4 GB for 5 million resources)
EXPORT_MEMORY_LIMIT = "1GB"


@dataclass(frozen=True)
class TypedTable:
    """A type's typed table: its name and the JSON structure of its resources (member ->
    "VARCHAR" | "BOOLEAN" | "BIGINT" | "UBIGINT" | "DOUBLE" | "NULL" | "JSON", a dict for an
    object, a one-item list for an array). During a load, a type with no rows yet has no table
    (`table` None) and the structure "NULL"."""

    table: str | None
    structure: dict | str

    @property
    def text(self) -> str:
        """The structure as `json_transform` takes it (the order of its members kept)."""
        return json.dumps(self.structure, separators=(",", ":"))


def quote(name: str) -> str:
    """A DuckDB identifier for a member name, whatever it holds."""
    return '"' + name.replace('"', '""') + '"'


def _fingerprint(connection, resource_type: str) -> tuple:
    return connection.execute(
        "SELECT count(*), count(content_hash), bit_xor(content_hash) FROM resources WHERE type = ?",
        [resource_type],
    ).fetchall()[0]


def has_catalogue(connection) -> bool:
    return bool(connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = 'typed_tables'").fetchall()[0][0])


def typed_table(connection: duckdb.DuckDBPyConnection, resource_type: str) -> TypedTable | None:
    """The type's typed table when it holds exactly the stored resources of the type, else None
    (none built, or `resources` changed since it was)."""
    if not isinstance(resource_type, str) or not has_catalogue(connection):
        return None
    found = connection.execute(
        "SELECT table_name, structure, row_count, hashed, hash_xor FROM typed_tables WHERE type = ?",
        [resource_type],
    ).fetchall()
    if not found:
        return None
    table, structure, *recorded = found[0]
    if recorded[0] is None:
        # no fingerprint: the columns of a version that never changes, written from it
        # (a Spark store's, read by spark.duckdb_read)
        return TypedTable(table, json.loads(structure))
    count, hashed, xor = _fingerprint(connection, resource_type)
    if (count, hashed, xor) != tuple(recorded) or hashed != count:
        return None
    return TypedTable(table, json.loads(structure))


def stale_types(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """The stored resource types whose typed table is missing or out of step."""
    types = [t for (t,) in connection.execute("SELECT DISTINCT type FROM resources ORDER BY type").fetchall()]
    return [t for t in types if typed_table(connection, t) is None]


def refresh(connection: duckdb.DuckDBPyConnection, types=None, structures: dict | None = None) -> dict[str, str]:
    """Rebuild the typed tables of `types` (default: every stale one), each in its own
    transaction. Returns type -> "built" or why it was not (it then has no typed table and
    views read its JSON): no resources left, rows written without the ingest's hash, or a
    structure DuckDB cannot make into columns. `structures` (type -> structure) may give a
    structure known to fit every stored resource of a type (the ingest's), saving a pass."""
    connection.execute(SCHEMA)
    outcome = {}
    for resource_type in (stale_types(connection) if types is None else types):
        connection.execute("BEGIN TRANSACTION")
        try:
            outcome[resource_type] = _rebuild(connection, resource_type, (structures or {}).get(resource_type))
            connection.execute("COMMIT")
        except duckdb.Error as error:
            connection.execute("ROLLBACK")
            _forget(connection, resource_type)
            outcome[resource_type] = f"left as JSON: {str(error).splitlines()[0][:200]}"
    return outcome


def _forget(connection, resource_type: str) -> None:
    found = connection.execute("SELECT table_name FROM typed_tables WHERE type = ?", [resource_type]).fetchall()
    if found:
        connection.execute(f"DROP TABLE IF EXISTS {quote(found[0][0])}")
        connection.execute("DELETE FROM typed_tables WHERE type = ?", [resource_type])


def _rebuild(connection, resource_type: str, structure: dict | None = None) -> str:
    _forget(connection, resource_type)
    count, hashed, _ = _fingerprint(connection, resource_type)
    if count == 0:
        return "no resources"
    if hashed != count:
        return "left as JSON: rows written without the ingest's content hash"
    text = structure_text(structure) if structure is not None else _structure_of(connection, resource_type)
    if text is None:
        return "left as JSON: the resources' structure cannot be made into columns (too large, or members that differ only by case)"
    number = connection.execute("SELECT nextval('typed_table_numbers')").fetchall()[0][0]
    table = f"typed_{number}"
    # unnest() of the transformed struct: one column per top-level member (projection reads
    # only the members a view names)
    connection.execute(
        f"CREATE TABLE {quote(table)} AS SELECT patient AS {PATIENT_COLUMN}, "
        "unnest(json_transform(resource, $structure)) FROM resources WHERE type = $type",
        {"structure": text, "type": resource_type},
    )
    _record(connection, resource_type, table, text)
    return "built"


def _record(connection, resource_type: str, table: str, text: str) -> None:
    """The catalogue row of a typed table that holds the type's stored resources as they are."""
    count, hashed, xor = _fingerprint(connection, resource_type)
    connection.execute("DELETE FROM typed_tables WHERE type = ?", [resource_type])
    connection.execute(
        "INSERT INTO typed_tables (type, table_name, structure, row_count, hashed, hash_xor) VALUES (?, ?, ?, ?, ?, ?)",
        [resource_type, table, text, count, hashed, xor],
    )


def structure_text(structure) -> str | None:
    """The structure as `json_transform` takes it, or None when no table can have it: too
    large, or members DuckDB cannot make into columns (names that differ only by case, a
    member named like the patient column). Tried on a scratch database, so that a refused
    structure never fails a statement inside the ingest's transaction."""
    text = json.dumps(structure, separators=(",", ":"))
    if not isinstance(structure, dict) or len(text) > MAX_STRUCTURE_CHARS:
        return None
    try:
        _scratch().execute(
            f"CREATE OR REPLACE TEMP TABLE shape AS SELECT NULL::VARCHAR AS {PATIENT_COLUMN}, "
            "unnest(json_transform('{}', $structure)) LIMIT 0", {"structure": text})
    except duckdb.Error:
        return None
    return text


_SCRATCH = []


def _scratch() -> duckdb.DuckDBPyConnection:
    if not _SCRATCH:
        _SCRATCH.append(duckdb.connect(":memory:"))
    return _SCRATCH[0]


class Maintainer:
    """Keeps the typed tables in step with `resources` during a load, batch by batch, inside
    the file's transaction (so a file's typed rows commit with it, or not at all).

    A type is kept when its table was in step before its first rows of the load, or it had no
    rows (its table is made from the first batch). Each batch's resources are checked against
    the table's structure (`json_structure`, merged): when they fit, the rows they replace are
    deleted and they are shredded in; when they need a wider structure, the table is rebuilt
    at once while the type is small, else the type is left stale and `refresh` rebuilds it once
    after the load, with the structure merged here (no second pass over the resources)."""

    REBUILD_NOW_ROWS = 100_000

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        connection.execute(SCHEMA)
        self.connection = connection
        self.kept: dict[str, TypedTable] = {}  # the types kept in step batch by batch
        self.stale: dict[str, object] = {}  # type -> structure covering its rows, or None
        self.seen: dict[str, set] = {}  # type -> structure texts already merged
        self.touched: set[str] = set()

    def before_write(self, types) -> None:
        """Note the state of types about to be written for the first time in this load."""
        for resource_type in types:
            if resource_type in self.kept or resource_type in self.stale:
                continue
            found = typed_table(self.connection, resource_type)
            if found is not None:
                self.kept[resource_type] = found
            elif _fingerprint(self.connection, resource_type)[0] == 0:
                _forget(self.connection, resource_type)  # a table of a type since emptied
                self.kept[resource_type] = TypedTable(None, "NULL")
            else:
                self.stale[resource_type] = None  # stored before typed tables, or out of step
            self.seen[resource_type] = set()

    def written(self, rows) -> None:
        """Shred the rows just written (Arrow: type, id, raw, patient, present: whether a row
        of that id was there before) into their types' tables."""
        _typed_rows = rows  # noqa: F841  (read by DuckDB's replacement scan)
        run = self.connection.execute
        found = run("SELECT type, list(DISTINCT json_structure(raw)) FROM _typed_rows GROUP BY type").fetchall()
        for resource_type, texts in found:
            self.touched.add(resource_type)
            state = self.kept.get(resource_type)
            if state is None and self.stale[resource_type] is None:
                continue  # rebuilt after the load from all its rows
            merged = state.structure if state else self.stale[resource_type]
            for text in texts:
                if text not in self.seen[resource_type]:
                    self.seen[resource_type].add(text)
                    merged = merge_structures(merged, json.loads(text))
            if state is None:
                self.stale[resource_type] = merged  # still a structure every row fits
                continue
            if merged != state.structure:
                self._widen(resource_type, merged)
                continue
            table = quote(state.table)
            if run("SELECT bool_or(present) FROM _typed_rows WHERE type = ?", [resource_type]).fetchall()[0][0]:
                run(f"DELETE FROM {table} WHERE id IN (SELECT id FROM _typed_rows WHERE type = ? AND present)", [resource_type])
            run(f"INSERT INTO {table} BY NAME SELECT patient AS {PATIENT_COLUMN}, unnest(json_transform(raw, ?)) "
                "FROM _typed_rows WHERE type = ?", [state.text, resource_type])

    def _widen(self, resource_type: str, merged) -> None:
        count = _fingerprint(self.connection, resource_type)[0]
        text = structure_text(merged)
        del self.kept[resource_type]
        if text is None or count > self.REBUILD_NOW_ROWS:
            self.stale[resource_type] = merged if text is not None else None
            _forget(self.connection, resource_type)
            return
        if _rebuild(self.connection, resource_type, merged) == "built":
            self.kept[resource_type] = typed_table(self.connection, resource_type)
        else:
            self.stale[resource_type] = None

    def end_file(self) -> None:
        """Record the fingerprints of the tables kept through the file (before its commit)."""
        for resource_type in self.touched:
            state = self.kept.get(resource_type)
            if state is not None and state.table is not None:
                _record(self.connection, resource_type, state.table, state.text)
        self.touched = set()

    def finish(self) -> dict[str, str]:
        """After the load's last commit: rebuild the stale types (and any other out of step)."""
        outcome = {t: "built" for t, state in self.kept.items() if state.table is not None}
        structures = {t: s for t, s in self.stale.items() if s is not None}
        outcome.update(refresh(self.connection, structures=structures))
        return outcome


def _structure_of(connection, resource_type: str) -> str | None:
    """The structure every stored resource of the type fits, as JSON text; None when the
    resources differ in too many ways (hostile data). Each resource's own structure, the
    distinct ones merged here: DuckDB's `json_group_structure` over a whole type needs more
    than the load's memory (170,000 Encounters: over 1 GB), the distinct structures are few
    (3 for Synthea's Encounters)."""
    found = connection.execute(
        "SELECT DISTINCT json_structure(resource) FROM resources WHERE type = ? LIMIT ?",
        [resource_type, MAX_STRUCTURES + 1]).fetchall()
    if len(found) > MAX_STRUCTURES:
        return None
    merged = "NULL"
    for (one,) in found:
        merged = merge_structures(merged, json.loads(one))
    return structure_text(merged)


_INTEGERS = {"BIGINT", "UBIGINT", "HUGEINT"}


def merge_structures(a, b):
    """A structure both `a` and `b` fit (`json_structure` spelling): objects merge member by
    member, arrays item by item; "NULL" (only nulls seen) gives way to the other; integers of
    both signs are HUGEINT, integers and decimals DOUBLE; anything else that differs is
    "JSON" (read from the JSON text), so that `json_transform` loses nothing a view reads."""
    if a == b:
        return a
    if a == "NULL":
        return b
    if b == "NULL":
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: merge_structures(a.get(k, "NULL"), b.get(k, "NULL")) for k in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return [merge_structures(a[0] if a else "NULL", b[0] if b else "NULL")]
    if not (isinstance(a, str) and isinstance(b, str)):
        return "JSON"  # an object, an array and a primitive: differing kinds
    if a in _INTEGERS and b in _INTEGERS:
        return "HUGEINT"
    return "DOUBLE" if {a, b} <= _INTEGERS | {"DOUBLE"} else "JSON"


def export_parquet(connection: duckdb.DuckDBPyConnection, folder: str | Path) -> dict[str, Path]:
    """Write each type's typed table as `<folder>/<Type>.parquet` (the type's stale tables
    rebuilt first), rows ordered by patient so that one patient's resources sit together.
    Returns type -> file. A type left as JSON is written as its JSON text (`resource`). The
    JSON text of every resource also goes to `<folder>/resources/<version>/type=<Type>/`, the
    store Spark reads (`andon.analytics.spark.store`)."""
    from . import store

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with store.memory_capped(connection, EXPORT_MEMORY_LIMIT):
        refresh(connection)
        # only the ingest's checked type names ([A-Z][A-Za-z]*) make file names and SQL literals
        types = [t for (t,) in connection.execute("SELECT DISTINCT type FROM resources ORDER BY type").fetchall()
                 if TYPE_NAME.fullmatch(t)]
        written = _export_types(connection, folder, types)
        _export_json_text(connection, folder / "resources", types)  # spark.store.RESOURCES
    return written


def _export_types(connection, folder: Path, types: list[str]) -> dict[str, Path]:
    """Each type's typed table (else its JSON text) as `<folder>/<Type>.parquet`, by patient."""
    written = {}
    for resource_type in types:
        path = folder / f"{resource_type}.parquet"
        typed = typed_table(connection, resource_type)
        query = (f"SELECT * FROM {quote(typed.table)} ORDER BY {PATIENT_COLUMN}" if typed else
                 f"SELECT patient AS {PATIENT_COLUMN}, id, resource FROM resources WHERE type = "
                 f"'{resource_type}' ORDER BY patient")  # a FHIR type name: [A-Z][A-Za-z]*
        connection.execute(f"COPY ({query}) TO '{_sql_path(path)}' (FORMAT parquet)")
        written[resource_type] = path
    return written


def _export_json_text(connection, folder: Path, types: list[str]) -> None:
    """Every resource's JSON text as a new version of the store Spark reads
    (`andon.analytics.spark.store`): `folder/<version>/type=<Type>/*.parquet`, ordered by
    patient, with `_SUCCESS` written last; then the older versions are removed."""
    import shutil

    from ..spark import store as spark_store  # its layout only: no Spark is needed here

    name = spark_store.new_version()
    version = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    for resource_type in types:  # a type at a time (the folders of PARTITION_BY): one sort of all overran the cap
        part = version / f"type={resource_type}"
        part.mkdir(parents=True)
        connection.execute(  # meta's own texts, as the ingest on Spark keeps them
            "COPY (SELECT id, patient, version_id, json_extract_string(resource, '$.meta.lastUpdated') AS last_updated, "
            "md5(resource::VARCHAR) AS content_hash, resource::VARCHAR AS resource FROM resources "
            f"WHERE type = '{resource_type}' ORDER BY patient, id) TO '{_sql_path(part / 'data_0.parquet')}' "
            f"(FORMAT parquet, ROW_GROUP_SIZE {spark_store.ROW_GROUP_ROWS})")
    (version / spark_store.DONE).write_bytes(b"")
    _export_typed(connection, folder.parent / spark_store.TYPED / name)
    for kind in (spark_store.RESOURCES, spark_store.TYPED):
        for old in (folder.parent / kind).iterdir():
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def _export_typed(connection, folder: Path) -> None:
    """The typed tables as the version's typed columns on Spark (`spark.typed`'s layout):
    `folder/<Type>/data.parquet` by patient, then the structures (written last: complete)."""
    from ..spark import store as spark_store  # its layout only: no Spark is needed here

    folder.mkdir(parents=True)
    written = {}
    for resource_type, table, text in connection.execute(
            "SELECT type, table_name, structure FROM typed_tables ORDER BY type").fetchall():
        if typed_table(connection, resource_type) is None or not TYPE_NAME.fullmatch(resource_type):
            continue
        (folder / resource_type).mkdir()
        connection.execute(f"COPY (SELECT * FROM {quote(table)} ORDER BY {PATIENT_COLUMN}) "
                           f"TO '{_sql_path(folder / resource_type / 'data.parquet')}' (FORMAT parquet)")
        written[resource_type] = json.loads(text)
    (folder / spark_store.STRUCTURES).write_text(json.dumps(written, separators=(",", ":")))


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def cli_parquet(args) -> int:
    """`andon fhir parquet FOLDER`: every type's typed table as FOLDER/<Type>.parquet."""
    import sys

    from . import store

    if not Path(args.store).exists():
        print(f"error: no FHIR store at {args.store} (load data with `andon fhir load`)", file=sys.stderr)
        return 2
    if Path(args.folder).exists() and not Path(args.folder).is_dir():
        print(f"error: {args.folder} is a file, not a folder", file=sys.stderr)
        return 2
    connection = store.connect(args.store)  # for writing: stale typed tables are rebuilt first
    try:
        written = export_parquet(connection, args.folder)
    finally:
        connection.close()
    for resource_type, path in written.items():
        print(f"{resource_type}: {path}")
    print(f"{len(written)} file(s) written to {args.folder}", file=sys.stderr)
    return 0
