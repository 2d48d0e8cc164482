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

Every connection runs with the time zone UTC, so timestamps never depend on the machine.
"""

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
"""

DEFAULT_NAME = "fhir.duckdb"


def default_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / DEFAULT_NAME


def connect(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the store at `path` (created with its tables when new), time zone UTC."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path), read_only=read_only)
    connection.execute("SET TimeZone = 'UTC'")
    if not read_only:
        connection.execute(SCHEMA)
    return connection
