"""Bulk FHIR ingest: NDJSON (`$export`), Bundles and folders of JSON resources into the FHIR store.

    summary = load_paths(store.connect(path), [Path("export/")])

How a file is loaded (see docs/fhir.md, "Ingest"):

1. Python reads the file in binary, line by line, never more than `max_line` bytes of one line
   at a time (a longer line is read on in chunks, skipped, and quarantined). It checks only what
   DuckDB cannot: that the line is UTF-8, and strict JSON (`strict_json`: DuckDB's reader
   takes NaN, Infinity, numbers that overflow, duplicate keys, trailing commas and any depth,
   which then break every later step), nested at most `max_depth` levels. Good lines go in
   batches (at most `batch_rows` lines or `batch_bytes` bytes) to DuckDB as Arrow tables.
2. DuckDB checks each line (valid JSON, an object, `resourceType` and `id` strings, a FHIR id,
   the type the file name declares): a reason for a bad line, the type, id, meta.versionId,
   meta.lastUpdated and a content hash for a good one.
3. Each batch at once: its quarantined lines are written, its duplicates reduced to the newest,
   each resource compared with the store as committed before the file (a second cursor's
   snapshot: added, updated, unchanged) and the changes upserted. Nothing per line of the file
   is kept, so memory does not grow with the file. At the end a `loads` row is written.

All of 2 and 3 happen in one transaction per file: a crash or a kill part-way leaves the store as
it was before that file. Files already committed stay. Store and counts are those of one pass
over the whole file whatever the batch size (see _merge_batch).

Newest wins: meta.versionId (as numbers when both are integers, else as text), then
meta.lastUpdated; a missing value is older than any present one; when both are equal (or
absent) the incoming resource replaces the stored one unless its content is identical. An older
incoming version never replaces a newer stored one ("unchanged").

Counts are per line: every non-blank line is counted once, as added, updated, unchanged (also an
older duplicate of an id later in the same file) or quarantined.

A `.json` file is read whole (up to `max_line` bytes) and parsed as strict JSON: a Bundle of
type collection, transaction, batch, searchset or history is loaded entry by entry (the
quarantine's `line` is then the entry's number, 1-based); any other resource is loaded as one
resource with `line` NULL. Entries of a Bundle pass through Python's JSON, so a decimal such as
1.50 is stored as 1.5; NDJSON lines and single-resource files are stored as received.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from .. import strict_json
from . import columnar, store

DEFAULT_MAX_LINE = 64 * 1024 * 1024
DEFAULT_MAX_DEPTH = strict_json.DEFAULT_MAX_DEPTH  # FHIR resources nest about 10 levels
BUNDLE_LEVELS = 3  # a Bundle's entry resource is 3 levels down: Bundle, entry list, entry
DEFAULT_BATCH_ROWS = 10_000
DEFAULT_BATCH_BYTES = 32 * 1024 * 1024
RAW_LIMIT = 4096  # characters of a bad line kept in the quarantine
TRUNCATED = "invalid JSON (truncated last line: no newline at the end of the file)"
DEFAULT_MEMORY_LIMIT = "1GB"

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
JSON_SUFFIXES = (".json",)
EXPANDED_BUNDLES = {"collection", "transaction", "batch", "searchset", "history", "transaction-response", "batch-response"}
_DECLARED = re.compile(r"([A-Z][A-Za-z]{0,63})(?:\.[^.]+)*?\.(?:ndjson|jsonl)(?:\.gz)?")
_BOM = b"\xef\xbb\xbf"

_BATCH_SCHEMA = pa.schema([
    ("line", pa.int64()),
    ("raw", pa.string()),
    ("pre", pa.string()),  # a reason found in Python (encoding, length), else NULL
    ("unterminated", pa.bool_()),  # the file's last line, with no newline after it
])

# One pass over a batch: each check runs only on the lines that passed the ones before it. The
# result (an Arrow table held by Python, one batch at a time) has a reason for a bad line and the
# type, id, meta.versionId, meta.lastUpdated and content hash of a good one.
_CHECK = r"""
SELECT * EXCLUDE (h), (h >> 64)::UBIGINT AS h1, (h & 18446744073709551615::UHUGEINT)::UBIGINT AS h2  -- Arrow has no UHUGEINT
FROM (
WITH a AS (
    SELECT line, raw, pre, unterminated, CASE WHEN pre IS NULL THEN json_valid(raw) END AS valid
    FROM _ingest_batch
), b AS (
    SELECT *, CASE WHEN valid THEN json_type(raw) END AS jt FROM a
), c AS (
    SELECT *,
        CASE WHEN jt = 'OBJECT' THEN json_extract_string(raw, ['$.resourceType', '$.id', '$.meta.versionId', '$.meta.lastUpdated']) END AS f,
        CASE WHEN jt = 'OBJECT' THEN json_type(raw, ['$.resourceType', '$.id']) END AS ft
    FROM b
), d AS (
    SELECT *, CASE
        WHEN pre IS NOT NULL THEN pre
        WHEN NOT valid AND unterminated THEN '""" + TRUNCATED + r"""'
        WHEN NOT valid THEN 'invalid JSON'
        WHEN jt <> 'OBJECT' THEN 'not a JSON object (' || lower(jt) || ')'
        WHEN ft[1] IS NULL OR ft[1] = 'NULL' THEN 'missing resourceType'
        WHEN ft[1] <> 'VARCHAR' THEN 'resourceType is not a string'
        WHEN trim(f[1]) = '' THEN 'blank resourceType'
        WHEN NOT regexp_full_match(f[1], '[A-Z][A-Za-z]{0,63}') THEN 'resourceType "' || left(f[1], 80) || '" is not a FHIR resource type'
        WHEN $declared IS NOT NULL AND f[1] <> $declared THEN 'resourceType ' || f[1] || ' in a file of ' || $declared
        WHEN ft[2] IS NULL OR ft[2] = 'NULL' THEN 'missing id'
        WHEN ft[2] <> 'VARCHAR' THEN 'id is not a string'
        WHEN trim(f[2]) = '' THEN 'blank id'
        WHEN NOT regexp_full_match(f[2], '[A-Za-z0-9\-.]{1,64}') THEN 'invalid id "' || left(f[2], 80) || '" (FHIR ids are 1-64 of A-Z a-z 0-9 - .)'
    END AS reason
    FROM c
)
SELECT
    line,
    reason,
    CASE WHEN reason IS NOT NULL THEN coalesce($declared, CASE WHEN ft[1] = 'VARCHAR' AND regexp_full_match(f[1], '[A-Z][A-Za-z]{0,63}') THEN f[1] END, '(unknown)') END AS qtype,
    CASE WHEN reason IS NULL THEN raw ELSE left(raw, """ + str(RAW_LIMIT) + r""") END AS raw,
    CASE WHEN reason IS NULL THEN f[1] END AS type,
    CASE WHEN reason IS NULL THEN f[2] END AS id,
    CASE WHEN reason IS NULL THEN f[3] END AS version_id,
    CASE WHEN reason IS NULL THEN TRY_CAST(f[4] AS TIMESTAMPTZ) END AS last_updated,
    CASE WHEN reason IS NULL THEN md5_number(json(raw)) END AS h  -- store.CONTENT_HASH
FROM d
)
"""

# "incoming (s) is not older than stored (r)": versionId, then lastUpdated; NULL is older than a value.
_NOT_OLDER = """
CASE
    WHEN s.version_id IS NOT NULL AND r.version_id IS NULL THEN true
    WHEN s.version_id IS NULL AND r.version_id IS NOT NULL THEN false
    WHEN s.version_id IS NOT NULL AND TRY_CAST(s.version_id AS HUGEINT) IS NOT NULL AND TRY_CAST(r.version_id AS HUGEINT) IS NOT NULL
         AND TRY_CAST(s.version_id AS HUGEINT) <> TRY_CAST(r.version_id AS HUGEINT)
        THEN TRY_CAST(s.version_id AS HUGEINT) > TRY_CAST(r.version_id AS HUGEINT)
    WHEN s.version_id IS NOT NULL AND (TRY_CAST(s.version_id AS HUGEINT) IS NULL OR TRY_CAST(r.version_id AS HUGEINT) IS NULL)
         AND s.version_id <> r.version_id
        THEN s.version_id > r.version_id
    WHEN s.last_updated IS NOT NULL AND r.last_updated IS NULL THEN true
    WHEN s.last_updated IS NULL AND r.last_updated IS NOT NULL THEN false
    WHEN s.last_updated IS NOT NULL AND s.last_updated <> r.last_updated THEN s.last_updated > r.last_updated
    ELSE true
END
"""

def _hash(alias: str) -> str:
    """The content hash (UHUGEINT) from its two halves h1, h2: Arrow, which carries the batches
    between statements, has no 128-bit unsigned integer (and casting it to text is slow)."""
    return f"(({alias}.h1::UHUGEINT << 64) | {alias}.h2::UHUGEINT)"


_NEWEST_FIRST = "TRY_CAST(version_id AS HUGEINT) DESC NULLS LAST, version_id DESC NULLS LAST, last_updated DESC NULLS LAST, line DESC NULLS LAST"

# "the row e comes before the incoming row s in _NEWEST_FIRST", for e written by an earlier batch
# of the same file (so its line is always before s's: a tie goes to s, the later line).
_EARLIER_IS_NEWER = """
CASE
    WHEN TRY_CAST(e.version_id AS HUGEINT) IS DISTINCT FROM TRY_CAST(s.version_id AS HUGEINT)
        THEN TRY_CAST(e.version_id AS HUGEINT) IS NOT NULL
             AND (TRY_CAST(s.version_id AS HUGEINT) IS NULL OR TRY_CAST(e.version_id AS HUGEINT) > TRY_CAST(s.version_id AS HUGEINT))
    WHEN e.version_id IS DISTINCT FROM s.version_id
        THEN e.version_id IS NOT NULL AND (s.version_id IS NULL OR e.version_id > s.version_id)
    WHEN e.last_updated IS DISTINCT FROM s.last_updated
        THEN e.last_updated IS NOT NULL AND (s.last_updated IS NULL OR e.last_updated > s.last_updated)
    ELSE false
END
"""


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def add(self, other: "Counts") -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined


@dataclass
class Summary:
    """What a load did, per resource type (quarantined lines count under the file's declared
    type, else the line's own type when readable, else "(unknown)")."""

    by_type: dict[str, Counts] = field(default_factory=dict)
    files: int = 0
    bytes: int = 0
    # type -> "built" or why not, for the typed tables rebuilt after the load (fhir.columnar)
    typed: dict[str, str] = field(default_factory=dict)

    def count(self, resource_type: str) -> Counts:
        return self.by_type.setdefault(resource_type, Counts())

    @property
    def total(self) -> Counts:
        total = Counts()
        for counts in self.by_type.values():
            total.add(counts)
        return total


class _Progress:
    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="loading", file=sys.stderr)

    def update(self, n: int) -> None:
        if self.bar is not None and n:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def find_files(paths: Iterable[Path]) -> list[Path]:
    """The loadable files under `paths` (folders walked recursively, in name order; hidden files
    and other suffixes skipped). A named file is taken whatever its suffix."""
    found = []
    for path in map(Path, paths):
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                name = child.name
                if child.is_file() and not name.startswith(".") and name.endswith(NDJSON_SUFFIXES + JSON_SUFFIXES):
                    found.append(child)
        elif path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def declared_type(path: Path) -> str | None:
    """The resource type an NDJSON file name declares (`Patient.ndjson`, `Patient.000.ndjson.gz`)."""
    match = _DECLARED.fullmatch(path.name)
    return match.group(1) if match else None


def load_paths(
    connection,
    paths: Iterable[Path],
    *,
    progress: bool = False,
    max_line: int = DEFAULT_MAX_LINE,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    hook: Callable[[str, Path], None] | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Summary:
    """Load every file under `paths` into the store behind `connection`, one transaction per file.

    A line (or a Bundle entry's resource) nested deeper than `max_depth` levels of objects and
    arrays is quarantined, as is any line that is not strict JSON.

    `memory_limit` caps DuckDB's memory during the load (it spills to its temp directory beyond
    it; restored afterwards; None leaves the connection's setting). `hook(event, file)` is called
    after each staged batch ("batch") and after the upsert, before the commit ("merged"): tests
    use it to kill a load part-way.
    """
    files = find_files(paths)
    summary = Summary()
    previous_limit = None
    if memory_limit:
        previous_limit = connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        connection.execute(f"SET memory_limit = '{memory_limit}'")
    bar = _Progress(sum(f.stat().st_size for f in files), progress)
    try:
        for path in files:
            _load_file(connection, path, summary, bar, max_line, batch_rows, batch_bytes, hook, max_depth)
            summary.files += 1
        if files:
            # after the files' commits: a load killed before this leaves the changed types'
            # typed tables out of step, and views read their JSON until the next load
            summary.typed = columnar.refresh(connection)
    finally:
        bar.close()
        if previous_limit:
            connection.execute(f"SET memory_limit = '{previous_limit}'")
    return summary


# -- one file -------------------------------------------------------------------------------


def _load_file(connection, path, summary, bar, max_line, batch_rows, batch_bytes, hook, max_depth) -> None:
    name = str(path)
    if name.endswith(JSON_SUFFIXES):
        rows = _json_file_rows(path, max_line, bar, max_depth)
        declared = None
    else:
        rows = _ndjson_rows(path, max_line, bar)
        declared = declared_type(path)
    rows = _strict(rows, max_depth)
    # `before` sees the store as committed before this file (its own snapshot, never written):
    # each incoming resource is classified against that, while `connection` writes each batch.
    before = connection.cursor()
    counts: dict[str, Counts] = {}
    before.execute("BEGIN TRANSACTION")
    connection.execute("BEGIN TRANSACTION")
    try:
        before.execute("SELECT count(*) FROM resources").fetchall()  # pins the snapshot now
        for batch in _batches(rows, batch_rows, batch_bytes):
            _merge_batch(connection, before, batch, declared, name, counts)
            if hook:
                hook("batch", path)
        total = Counts()
        for one in counts.values():
            total.add(one)
        connection.execute(
            "INSERT INTO loads (file, added, updated, unchanged, quarantined) VALUES (?, ?, ?, ?, ?)",
            [name, total.added, total.updated, total.unchanged, total.quarantined],
        )
        if hook:
            hook("merged", path)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        before.execute("ROLLBACK")
        before.close()
    for resource_type, one in counts.items():
        summary.count(resource_type).add(one)


def _merge_batch(connection, before, batch: pa.Table, declared, name: str, counts: dict[str, Counts]) -> None:
    """Check one batch, write its quarantined lines, reduce its duplicates, classify each
    resource against the store as it was before the file (`before`'s snapshot) and write the
    changes; add to `counts`.

    A resource already written by an earlier batch of the same file shows as a row in
    `resources` that differs from the one `before` sees. The file's newest line wins
    (_NEWEST_FIRST; on a tie the later line, which is always this batch's) and is classified
    against the store before the file, so outcome and counts are those of one pass over the
    whole file: the line it supersedes moves from added/updated to unchanged."""
    run = connection.execute

    def count(rows):
        for resource_type, outcome, n in rows:
            one = counts.setdefault(resource_type, Counts())
            setattr(one, outcome, getattr(one, outcome) + n)

    # The Arrow tables are named in SQL by their Python variables (DuckDB's replacement scan):
    # a `register`ed one would stay referenced, and in memory, until the transaction ends.
    _ingest_batch = batch
    del batch
    _ingest_stage = connection.sql(_CHECK, params={"declared": declared}).to_arrow_table()
    del _ingest_batch
    if pc.any(pc.is_valid(_ingest_stage["reason"])).as_py():
        run("INSERT INTO quarantine (file, line, reason, raw) SELECT $file, line, reason, raw FROM _ingest_stage WHERE reason IS NOT NULL ORDER BY line", {"file": name}).complete()
        count(run("SELECT qtype, 'quarantined', count(*) FROM _ingest_stage WHERE reason IS NOT NULL GROUP BY ALL").fetchall())
    if run("SELECT count(*) - count(DISTINCT (type, id)) FROM _ingest_stage WHERE reason IS NULL").fetchall()[0][0]:
        _ingest_ranked = connection.sql(f"""
            SELECT *, row_number() OVER (PARTITION BY type, id ORDER BY {_NEWEST_FIRST}) AS rank
            FROM _ingest_stage WHERE reason IS NULL
        """).to_arrow_table()
        count(run("SELECT type, 'unchanged', count(*) FROM _ingest_ranked WHERE rank > 1 GROUP BY ALL").fetchall())
        _ingest_win = connection.sql("SELECT * EXCLUDE (rank) FROM _ingest_ranked WHERE rank = 1 ORDER BY line").to_arrow_table()
        del _ingest_ranked
    else:
        _ingest_win = _ingest_stage.filter(pc.is_null(_ingest_stage["reason"]))
    del _ingest_stage
    if not _ingest_win.num_rows:
        return

    _ingest_keys = _ingest_win.select(["type", "id"])
    _ingest_prior = before.sql("""
        SELECT r.type, r.id, r.version_id, r.last_updated, (r.content_hash >> 64)::UBIGINT AS h1, (r.content_hash & 18446744073709551615::UHUGEINT)::UBIGINT AS h2
        FROM resources r SEMI JOIN _ingest_keys k ON r.type = k.type AND r.id = k.id
    """).to_arrow_table()
    del _ingest_keys
    _ingest_outcome = connection.sql(f"""
        SELECT s.type, s.id,
            r.id IS NOT NULL AS existed,
            e.id IS NOT NULL AND (r.id IS NULL OR e.content_hash IS DISTINCT FROM {_hash('r')}) AS earlier,
            coalesce({_EARLIER_IS_NEWER}, false) AS loses,
            CASE WHEN r.id IS NULL THEN 'added'
                 WHEN {_hash('r')} = {_hash('s')} THEN 'unchanged'
                 WHEN {_NOT_OLDER} THEN 'updated'
                 ELSE 'unchanged' END AS outcome
        FROM _ingest_win s
        LEFT JOIN _ingest_prior r ON r.type = s.type AND r.id = s.id
        LEFT JOIN resources e ON e.type = s.type AND e.id = s.id
    """).to_arrow_table()
    del _ingest_prior
    count(run("""
        SELECT type, CASE WHEN earlier AND loses THEN 'unchanged' ELSE outcome END, count(*)
        FROM _ingest_outcome GROUP BY ALL
        UNION ALL
        SELECT type, CASE WHEN existed THEN 'updated' ELSE 'added' END, -count(*)
        FROM _ingest_outcome WHERE earlier AND NOT loses GROUP BY ALL
        UNION ALL
        SELECT type, 'unchanged', count(*) FROM _ingest_outcome WHERE earlier AND NOT loses GROUP BY ALL
    """).fetchall())
    run(f"""
        INSERT OR REPLACE INTO resources (type, id, version_id, last_updated, resource, content_hash, patient)
        SELECT s.type, s.id, s.version_id, s.last_updated, s.raw, {_hash('s')}, {store.patient_key('s.type', 's.id', 's.raw')}
        FROM _ingest_win s JOIN _ingest_outcome o ON o.type = s.type AND o.id = s.id
        WHERE o.outcome <> 'unchanged' AND NOT (o.earlier AND o.loses)
    """).complete()
    _ingest_keys = connection.sql("""
        SELECT type, id FROM _ingest_outcome WHERE earlier AND NOT loses AND outcome = 'unchanged'
    """).to_arrow_table()
    del _ingest_win, _ingest_outcome
    if _ingest_keys.num_rows:
        # A line of this file replaced a stored resource, and a later line equal to (or older
        # than) the stored one wins: the stored row goes back exactly as it was.
        _ingest_restore = before.sql("""
            SELECT r.type, r.id, r.version_id, r.last_updated, r.resource, (r.content_hash >> 64)::UBIGINT AS h1, (r.content_hash & 18446744073709551615::UHUGEINT)::UBIGINT AS h2, r.patient
            FROM resources r SEMI JOIN _ingest_keys k ON r.type = k.type AND r.id = k.id
        """).to_arrow_table()
        run(f"""
            INSERT OR REPLACE INTO resources (type, id, version_id, last_updated, resource, content_hash, patient)
            SELECT type, id, version_id, last_updated, resource, {_hash('_ingest_restore')}, patient FROM _ingest_restore
        """).complete()


# -- reading --------------------------------------------------------------------------------

# A row for the batch: (line number, text, reason found in Python or None, unterminated)
Row = tuple


def _batches(rows: Iterator[Row], batch_rows: int, batch_bytes: int) -> Iterator[pa.Table]:
    lines, texts, reasons, ends = [], [], [], []
    size = 0
    for line, text, reason, unterminated in rows:
        lines.append(line)
        texts.append(text)
        reasons.append(reason)
        ends.append(unterminated)
        size += len(text)
        if len(lines) >= batch_rows or size >= batch_bytes:
            yield pa.Table.from_arrays([pa.array(lines, pa.int64()), pa.array(texts, pa.string()), pa.array(reasons, pa.string()), pa.array(ends, pa.bool_())], schema=_BATCH_SCHEMA)
            lines, texts, reasons, ends = [], [], [], []
            size = 0
    if lines:
        yield pa.Table.from_arrays([pa.array(lines, pa.int64()), pa.array(texts, pa.string()), pa.array(reasons, pa.string()), pa.array(ends, pa.bool_())], schema=_BATCH_SCHEMA)


def _strict(rows: Iterator[Row], max_depth: int) -> Iterator[Row]:
    """The rows, each line that is not strict JSON within `max_depth` levels given its reason
    (DuckDB, which checks the rest, would take it as valid)."""
    for row in rows:
        number, text, reason, unterminated = row
        if reason is None:
            try:
                strict_json.loads(text, max_depth)
            except strict_json.JSONError as error:
                if not error.syntax:
                    reason = f"invalid JSON: {error}"
                elif unterminated:
                    reason = TRUNCATED
                else:
                    reason = "invalid JSON"  # as DuckDB says it: position and kind vary by reader
                row = (number, text[:RAW_LIMIT], reason, unterminated)
        yield row


def _excerpt(data: bytes) -> str:
    return data[:RAW_LIMIT].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _decode(data: bytes, number: int, unterminated: bool) -> Row | None:
    """A row for one line (without its newline), or None for a blank line."""
    if number == 1 and data.startswith(_BOM):
        data = data[len(_BOM):]
    if not data.strip():
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return (number, _excerpt(data), f"not UTF-8: byte 0x{data[error.start]:02x} at byte offset {error.start} of the line", unterminated)
    return (number, text, None, unterminated)


class _Counted:
    """A binary file that counts the bytes read from it (for the progress bar)."""

    def __init__(self, raw, bar: _Progress):
        self.raw, self.bar = raw, bar

    def read(self, n=-1):
        data = self.raw.read(n)
        self.bar.update(len(data))
        return data

    def readinto(self, buffer):
        n = self.raw.readinto(buffer)
        self.bar.update(n or 0)
        return n

    def readline(self, n=-1):
        data = self.raw.readline(n)
        self.bar.update(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self.raw, name)


def _ndjson_rows(path: Path, max_line: int, bar: _Progress) -> Iterator[Row]:
    """The rows of an NDJSON file (plain or gzip), streaming; never fails on the file's content:
    a read error (a truncated or corrupt gzip stream) becomes a quarantined row and ends the file."""
    number = 0
    try:
        with open(path, "rb") as raw:
            counted = _Counted(raw, bar)
            stream = gzip.GzipFile(fileobj=counted, mode="rb") if path.name.endswith(".gz") else counted
            while True:
                chunk = stream.readline(max_line + 1)
                if not chunk:
                    return
                number += 1
                if chunk.endswith(b"\n"):
                    row = _decode(chunk.rstrip(b"\r\n"), number, False)
                elif len(chunk) > max_line:
                    excerpt, size = chunk[:RAW_LIMIT], len(chunk)
                    while True:  # read on to the end of the line, keeping nothing
                        more = stream.readline(1024 * 1024)
                        size += len(more)
                        if not more or more.endswith(b"\n"):
                            break
                    row = (number, _excerpt(excerpt), f"line longer than {max_line} bytes ({size} bytes)", False)
                else:
                    row = _decode(chunk.rstrip(b"\r"), number, True)
                if row is not None:
                    yield row
    except (OSError, EOFError, zlib.error) as error:
        yield (number + 1, "", f"file unreadable from here on: {type(error).__name__}: {error}", False)


def _json_file_rows(path: Path, max_line: int, bar: _Progress, max_depth: int) -> Iterator[Row]:
    """The rows of one JSON file: a single resource (line NULL) or a Bundle's entries (line =
    entry number). The file is read and parsed whole (at most `max_line` bytes), as strict
    JSON nested at most `max_depth` levels below a Bundle's entries."""
    try:
        with open(path, "rb") as raw:
            data = raw.read(max_line + 1)
    except OSError as error:
        yield (None, "", f"file unreadable: {type(error).__name__}: {error}", False)
        return
    bar.update(len(data))
    if len(data) > max_line:
        yield (None, _excerpt(data), f"file longer than {max_line} bytes", False)
        return
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        yield (None, _excerpt(data), f"not UTF-8: byte 0x{data[error.start]:02x} at byte offset {error.start}", False)
        return
    try:
        document = strict_json.loads(text, max_depth + BUNDLE_LEVELS)  # each entry is held to max_depth after
    except strict_json.TooDeep:
        yield (None, _excerpt(data), f"invalid JSON: nested deeper than {max_depth} levels", False)
        return
    except strict_json.JSONError as error:
        yield (None, _excerpt(data), f"invalid JSON: {error}", False)
        return
    if not (isinstance(document, dict) and document.get("resourceType") == "Bundle" and document.get("type") in EXPANDED_BUNDLES):
        yield (None, text, None, False)  # checked by DuckDB like any line
        return
    for number, entry in enumerate(document.get("entry") or [], start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if resource is None:
            yield (number, _excerpt(json.dumps(entry).encode()), "Bundle entry without a resource", False)
        else:
            yield (number, json.dumps(resource, ensure_ascii=False, separators=(",", ":")), None, False)


# -- command line ---------------------------------------------------------------------------


def format_summary(summary: Summary) -> str:
    header = f"{'type':<28}{'added':>10}{'updated':>10}{'unchanged':>11}{'quarantined':>13}"
    lines = [header]
    for resource_type in sorted(summary.by_type):
        c = summary.by_type[resource_type]
        lines.append(f"{resource_type:<28}{c.added:>10}{c.updated:>10}{c.unchanged:>11}{c.quarantined:>13}")
    t = summary.total
    lines.append(f"{'total':<28}{t.added:>10}{t.updated:>10}{t.unchanged:>11}{t.quarantined:>13}")
    lines.append(f"{summary.files} file(s)")
    left = {kind: why for kind, why in summary.typed.items() if why != "built"}
    if summary.typed:
        lines.append(f"typed columns rebuilt for {len(summary.typed) - len(left)} type(s)"
                     + "".join(f"\n  {kind}: {why}" for kind, why in sorted(left.items())))
    return "\n".join(lines)


def loaded_marker(store_path) -> Path:
    """The file beside the store that says when `andon fhir load` last finished: the worker's
    scheduler (platform.schedules) starts the tasks that follow a load when it changes, without
    opening the store (DuckDB lets one process write it)."""
    return Path(f"{store_path}.loaded")


def mark_loaded(store_path) -> None:
    from datetime import datetime, timezone

    marker = loaded_marker(store_path)
    partial = marker.with_name(marker.name + ".part")
    partial.write_text(datetime.now(timezone.utc).isoformat(timespec="seconds") + "\n")
    partial.replace(marker)


def cli_load(args) -> int:
    try:
        files = find_files(args.paths)
    except FileNotFoundError as error:
        print(f"andon fhir load: {error}", file=sys.stderr)
        return 2
    connection = store.connect(args.store)
    try:
        progress = not getattr(args, "no_progress", False) and sys.stderr.isatty()
        summary = load_paths(connection, files, progress=progress)
    finally:
        connection.close()
    if summary.files:
        mark_loaded(args.store)
    print(format_summary(summary))
    if summary.total.quarantined:
        print(f"{summary.total.quarantined} line(s) quarantined: see `andon fhir quarantine`")
    return 0


def cli_quarantine(args) -> int:
    if not Path(args.store).exists():
        print(f"andon fhir quarantine: no store at {args.store}", file=sys.stderr)
        return 2
    connection = store.connect(args.store, read_only=True)
    try:
        limit = f"LIMIT {int(args.limit)}" if args.limit else ""
        total = connection.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        rows = connection.execute(
            f"SELECT file, line, reason, raw FROM quarantine ORDER BY quarantined_at, file, line {limit}"
        ).fetchall()
    finally:
        connection.close()
    for file, line, reason, raw in rows:
        excerpt = (raw or "")[:60]
        print(f"{file}:{'' if line is None else line}: {reason}: {excerpt!r}")
    print(f"{total} quarantined line(s){f', {len(rows)} shown' if len(rows) < total else ''}")
    return 0
