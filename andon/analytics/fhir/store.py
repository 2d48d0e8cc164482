"""The FHIR store: one DuckDB database file (by default `$ANDON_DATA_DIR/fhir.duckdb`).

Tables:

- `resources`: the newest version of every resource, one row per (resource type, id), with
  `version_id` and `last_updated` from `meta` (NULL when absent) and the resource itself as
  JSON. The view engine reads `resource` filtered by `type`.
- `quarantine`: every line or file that could not be loaded: the file, the line number
  (1-based; NULL for a whole file), the reason and the raw text (cut to a bounded size).
- `loads`: one row per file loaded, with its counts, so a summary can be shown later.

`resources.content_hash` (added by the ingest) is the MD5 of the resource's minified JSON, so
a reload can tell "unchanged" without comparing whole documents.

`resources.patient` (written by the ingest, `patient_key`) is the patient whose compartment the
resource is in ('' for none), indexed (`resources_patient`, an ART index) so that reading one
patient's resources is a seek, not a scan of the store. NULL means "not keyed": a row written
by anything but the ingest (a test's INSERT, an older Andon, an upgrade cut short); readers
compute those rows' patient, and every connection for writing fills them in. A store made before
the column existed gets it, filled in, the first time it is opened for writing; a read-only
connection cannot add it, so readers ask `has_patient_key` and fall back to a scan.

Every connection runs with the time zone UTC, so timestamps never depend on the machine.
"""

import re
from contextlib import contextmanager
from pathlib import Path

import duckdb

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    type VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    version_id VARCHAR,
    last_updated TIMESTAMPTZ,
    resource JSON NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS quarantine (
    file VARCHAR NOT NULL,
    line BIGINT,
    reason VARCHAR NOT NULL,
    raw VARCHAR,
    quarantined_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS loads (
    file VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    added BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    quarantined BIGINT NOT NULL
);
ALTER TABLE resources ADD COLUMN IF NOT EXISTS content_hash UHUGEINT;
CREATE TABLE IF NOT EXISTS upgrades (
    name VARCHAR PRIMARY KEY,
    done_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""
# The upgrade that keys again the resources whose patient reference has a version
# (`Patient/p1/_history/2`): stores keyed before it gave them no patient.
HISTORY_KEYS = "patient key of versioned references"

PATIENT_INDEX = "resources_patient"
# DuckDB scans the index instead of the table only when fewer than max(this, 0.1 % of the rows)
# rows match; its default (2048) is less than the records of a long-stay patient.
INDEX_SCAN_MAX_COUNT = 1_000_000
UPGRADE_MEMORY_LIMIT = "1GB"
KEY_BATCH_ROWS = 100_000  # rows a statement of the backfill keys (about 150 MB of Synthea's JSON)

DEFAULT_NAME = "fhir.duckdb"
# `resources.content_hash` of a resource's JSON text, as the ingest computes it (written out in
# its query, which is not a format string)
CONTENT_HASH = "md5_number(json({}))"


def default_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DEFAULT_NAME


# DuckDB's memory for those who read the whole store (`andon fhir view`, the measures): without
# a limit its buffer pool keeps what it has read, up to 80 % of the machine, so a reader's memory
# grows with the store (a view over the JSON text of 3.3 million Encounters: 2.7 GB)
READ_MEMORY_LIMIT = "512MB"


def connect(path: str | Path = ":memory:", *, read_only: bool = False,
            memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to the store at `path` (created with its tables when new), time zone UTC;
    DuckDB's memory capped at `memory_limit` when given (it spills to disk beyond it)."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = configured(duckdb.connect(str(path), read_only=read_only), memory_limit)
    if not read_only:
        connection.execute(SCHEMA)
        _add_patient_key(connection)
        _key_versioned_references(connection)
    return connection


@contextmanager
def memory_capped(connection: duckdb.DuckDBPyConnection, limit: str | None):
    """DuckDB's memory capped at `limit` (a size such as 1GB) for what the block does, beyond
    which it spills to its temp directory; the connection's own limit afterwards. None: unchanged.

    DuckDB shows a limit rounded down ("2.7 GiB" for 3GB), and setting what it shows gives less
    again: the limit is given back by RESET when it was DuckDB's default (exactly), else as shown."""
    if not limit:
        yield
        return
    _check_size(limit)
    shown = "SELECT current_setting('memory_limit')"
    previous = connection.execute(shown).fetchone()[0]
    connection.execute(f"SET memory_limit = '{limit}'")
    try:
        yield
    finally:
        connection.execute("RESET memory_limit")
        if connection.execute(shown).fetchone()[0] != previous:
            connection.execute(f"SET memory_limit = '{previous}'")


def configured(connection: duckdb.DuckDBPyConnection, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """The settings of every connection reading the store: time zone UTC, DuckDB's memory capped
    at `memory_limit` when given, and the patient index used for a long-stay patient too."""
    if memory_limit:
        _check_size(memory_limit)
    connection.execute("SET TimeZone = 'UTC'")
    if memory_limit:
        connection.execute(f"SET memory_limit = '{memory_limit}'")
    connection.execute(f"SET index_scan_max_count = {INDEX_SCAN_MAX_COUNT}")
    return connection


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT])(i?)B")


def _check_size(memory_limit: str) -> None:
    if not _SIZE.fullmatch(memory_limit):  # SET takes no parameter
        raise ValueError(f"memory limit {memory_limit!r}: expected a size such as 512MB")


def size_bytes(memory_limit: str) -> int:
    """The bytes of a size as DuckDB reads it (`1GB` is 10⁹, `1GiB` 2³⁰); ValueError otherwise."""
    _check_size(memory_limit)
    number, unit, binary = _SIZE.fullmatch(memory_limit).groups()
    return int(float(number) * (1024 if binary else 1000) ** " KMGT".index(unit))


# `Patient/<id>` at the end of a reference, relative or absolute, with or without a version
_PATIENT_IN_REFERENCE = "regexp_extract({}, '(^|/)Patient/([^/]+)(/_history/[^/]+)?$', 2)"


def patient_of(type_sql: str = "type", id_sql: str = "id", resource_sql: str = "resource") -> str:
    """The SQL of the patient whose compartment a resource is in: the Patient's own id, else the
    id its `subject`, `patient` or `beneficiary` reference names (`Patient/<id>`, relative or
    absolute, with or without `/_history/<version>`; the first of them present); '' or NULL when none does. The one rule: the ingest
    stores it (reading its reference in Python, `reading._patient_reference`, tested equal),
    and the measure engine groups by it (cql.population)."""
    reference = f"""coalesce(
    json_extract_string({resource_sql}, '$.subject.reference'),
    json_extract_string({resource_sql}, '$.patient.reference'),
    json_extract_string({resource_sql}, '$.beneficiary.reference'))"""
    return f"CASE WHEN {type_sql} = 'Patient' THEN {id_sql} ELSE {_PATIENT_IN_REFERENCE.format(reference)} END"


def patient_key(type_sql: str = "type", id_sql: str = "id", resource_sql: str = "resource") -> str:
    """The SQL of the stored patient column: `patient_of`, '' (never NULL) when there is none."""
    return f"coalesce({patient_of(type_sql, id_sql, resource_sql)}, '')"


def patient_key_of_reference(type_sql: str, id_sql: str, reference_sql: str) -> str:
    """`patient_key` from the patient reference already read (the ingest's)."""
    return f"coalesce(CASE WHEN {type_sql} = 'Patient' THEN {id_sql} ELSE {_PATIENT_IN_REFERENCE.format(reference_sql)} END, '')"


def key_patients(connection: duckdb.DuckDBPyConnection) -> None:
    """Fill in the patient column of the rows written without it (NULL), KEY_BATCH_ROWS rows a
    statement, each committed: an upgrade cut short keeps what it did, and no statement holds the
    changes of a whole store. Row groups without a NULL key are skipped unread (0.1 s for a keyed
    store of a million resources)."""
    last = connection.execute("SELECT max(rowid) FROM resources").fetchall()[0][0]
    for start in range(0, (last if last is not None else -1) + 1, KEY_BATCH_ROWS):
        connection.execute(f"UPDATE resources SET patient = {patient_key()} "
                           "WHERE patient IS NULL AND rowid >= ? AND rowid < ?", [start, start + KEY_BATCH_ROWS])


def has_patient_key(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether `resources` has the stored patient column (a store made before it, opened
    read-only, has not)."""
    return bool(connection.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = 'resources' AND column_name = 'patient'").fetchall()[0][0])


def _add_patient_key(connection: duckdb.DuckDBPyConnection) -> None:
    """Add the patient column when missing, fill in the rows without a key (all of them in a
    store made before it; those an upgrade cut short left; a test's INSERTs), then the index."""
    if not has_patient_key(connection):
        connection.execute("ALTER TABLE resources ADD COLUMN patient VARCHAR")
    with memory_capped(connection, UPGRADE_MEMORY_LIMIT):  # as the ingest: what it reads is cached up to it
        key_patients(connection)
    # After the backfill: DuckDB cannot create an index in a transaction with updates pending,
    # and filling an indexed column row by row is slower.
    connection.execute(f"CREATE INDEX IF NOT EXISTS {PATIENT_INDEX} ON resources (patient)")


def keys_current(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether the stored patient keys read versioned references (`Patient/p1/_history/2`): not
    in a store keyed before they were, until it is opened for writing (readers then compute the
    patient of the rows keyed '', cql.population)."""
    return has_patient_key(connection) and bool(connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = current_schema() AND table_name = 'upgrades'").fetchall()[0][0]) and bool(
        connection.execute("SELECT count(*) FROM upgrades WHERE name = ?", [HISTORY_KEYS]).fetchall()[0][0])


def _key_versioned_references(connection: duckdb.DuckDBPyConnection) -> None:
    """Once per store: the resources keyed '' though their patient reference names a patient
    with a version keyed again, and the typed tables of the types that hold versioned patient
    references rebuilt (their fingerprint, of the content alone, would not notice a key change).
    The mark is written last, so an upgrade cut short is done again whole."""
    from . import columnar  # columnar reads the store's tables; the store needs it only here

    if keys_current(connection):
        return
    connection.execute(f"UPDATE resources SET patient = {patient_key()} WHERE patient = '' AND type <> 'Patient' "
                       f"AND contains(resource, '/_history/') AND {patient_key()} <> ''")
    types = [kind for (kind,) in connection.execute(
        "SELECT DISTINCT type FROM resources WHERE patient <> '' AND type <> 'Patient' "
        "AND contains(resource, '/_history/') ORDER BY type").fetchall()]
    if types and columnar.has_catalogue(connection):
        columnar.refresh(connection, [kind for kind in types if columnar.typed_table(connection, kind) is not None])
    connection.execute("INSERT INTO upgrades (name) VALUES (?) ON CONFLICT DO NOTHING", [HISTORY_KEYS])
