"""A Spark store's newest complete version read by DuckDB, for the web server: the pages that
read the clinical record itself (a patient's identity, the places to map to units, the
drill-down's facts, why an eCQM case is in or out, the record's practitioners, an audit's
cohort) read the same data the computations did, with neither Spark nor Java on the server.

The version's Parquet files are read where they lie, through a view named and shaped as the
DuckDB store's `resources` table (`fhir.store`), and its typed columns as that store's typed
tables (`fhir.columnar`), so that every reader of that store reads them unchanged: a view of
member paths reads columns, not JSON text. A version's files are ordered by patient within each
type, in small row groups (`spark.store.ROW_GROUP_BYTES`), so the row groups' statistics let
DuckDB read one patient's records without scanning the type; the type is a folder, so a query
of one type opens that type's files only.

Only a store on a path this server can read: a local folder, or one mounted (a shared volume, an
object store mounted with its vendor's file system driver). For a store at an object-store URL,
ANDON_SPARK_STORE_MOUNT says where this server sees it.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import duckdb

from ..fhir import columnar, store as fhir_store
from . import store


def local_folder(location: str) -> Path | None:
    """The folder `location` names on this server (a path or a file: URL), or None for a URL
    of another scheme (s3a:, abfss:, gs:, hdfs:), which DuckDB cannot read without extensions
    downloaded at run time."""
    text = (location or "").strip()
    if not text:
        return None
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive, a path
        return None
    return Path(text)


def newest_version(folder: Path) -> Path | None:
    """The newest complete version's folder (its `_SUCCESS` written), as `store.current` finds it
    through Spark; None for an empty store or no folder."""
    versions = folder / store.RESOURCES
    if not versions.is_dir():
        return None
    complete = sorted(path for path in versions.iterdir()
                      if path.is_dir() and path.name.startswith("v") and (path / store.DONE).exists())
    return complete[-1] if complete else None


def connect(folder: Path) -> duckdb.DuckDBPyConnection | None:
    """An in-memory DuckDB connection whose `resources` view reads the newest complete version
    of the Spark store at `folder`, read-only as the DuckDB store's readers are (time zone UTC,
    memory capped); None when the store has no complete version."""
    version = newest_version(folder)
    if version is None:
        return None
    connection = fhir_store.configured(duckdb.connect(), fhir_store.READ_MEMORY_LIMIT)
    files = str(version / "type=*" / "*.parquet").replace("'", "''")
    # The columns of fhir.store's `resources`. Spark keeps meta's own texts: last_updated read as
    # the timestamp it is (NULL when it is none); its content hash is another digest than the
    # DuckDB store's, so none is given (readers of one store never compare them).
    connection.execute(f"""
        CREATE VIEW resources AS
        SELECT type, id, version_id, TRY_CAST(last_updated AS TIMESTAMPTZ) AS last_updated,
               resource, NULL::UHUGEINT AS content_hash, patient
        FROM read_parquet('{files}', hive_partitioning = true, hive_types = {{'type': VARCHAR}})""")
    # The ingest on Spark keys every resource by the store's one rule, versioned references
    # included (fhir.store.patient_key_of_reference): the keys are current
    connection.execute("CREATE TABLE upgrades (name VARCHAR PRIMARY KEY)")
    connection.execute("INSERT INTO upgrades VALUES (?)", [fhir_store.HISTORY_KEYS])
    _typed_columns(connection, folder / store.TYPED / version.name)
    return connection


def _typed_columns(connection, folder: Path) -> None:
    """The version's typed columns (`spark.typed`'s layout), when complete, as the DuckDB store's
    typed tables (`fhir.columnar`): a view over each type's files, and the catalogue that sends
    views of member paths to them. A version and its columns never change, so the catalogue
    holds no fingerprint to check them by."""
    structures = folder / store.STRUCTURES
    if not structures.is_file():
        return  # written before this layout, or by a load killed before its columns were complete
    connection.execute("CREATE TABLE typed_tables (type VARCHAR PRIMARY KEY, table_name VARCHAR NOT NULL, "
                       "structure VARCHAR NOT NULL, row_count BIGINT, hashed BIGINT, hash_xor UHUGEINT)")
    for number, (kind, structure) in enumerate(sorted(json.loads(structures.read_text()).items())):
        if not columnar.TYPE_NAME.fullmatch(kind):
            continue  # only the ingest's checked type names are folders
        table = f"typed_{number}"
        files = str(folder / kind / "*.parquet").replace("'", "''")
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{files}')")
        connection.execute("INSERT INTO typed_tables (type, table_name, structure) VALUES (?, ?, ?)",
                           [kind, table, json.dumps(structure, separators=(",", ":"))])
