"""Bulk FHIR ingest: NDJSON (`$export`), Bundles and folders of JSON resources into the FHIR store.

    summary = load_paths(store.connect(path), [Path("export/")])

How a file is loaded (see docs/fhir.md, "Ingest"):

1. Python reads the file in binary, a block at a time, never holding more than `max_line` bytes
   of one line (a longer line is read on, skipped, and quarantined), and checks each line once
   (`reading`): UTF-8, strict JSON (`strict_json`: DuckDB's reader takes NaN, Infinity,
   numbers that overflow, duplicate keys, trailing commas and any depth, which then break every
   later step) nested at most `max_depth` levels, an object with `resourceType` and `id`
   strings, a FHIR type name and id, the type the file name declares. A bad line gets its
   reason; a good one its type, id, meta.versionId, meta.lastUpdated and patient reference.
   The rows go in batches (at most `batch_rows` lines or `batch_bytes` bytes) to DuckDB as
   Arrow tables.
2. DuckDB completes each batch (`_STAGE`): the content hash and the patient key.
3. Each batch at once: its quarantined lines are written, its duplicates reduced to the newest,
   each resource compared with the store as committed before the file (a second cursor's
   snapshot: added, updated, unchanged), the changes upserted and the type's typed table kept
   in step (`columnar.Maintainer`). Nothing per line of the file is kept, so memory does not
   grow with the file. At the end a `loads` row is written.

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

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from .. import strict_json
from . import columnar, reading, store
from .reading import RAW_LIMIT, TRUNCATED  # noqa: F401  (the quarantine's limits, read by tests)

DEFAULT_MAX_LINE = 64 * 1024 * 1024
DEFAULT_MAX_DEPTH = strict_json.DEFAULT_MAX_DEPTH  # FHIR resources nest about 10 levels
DEFAULT_BATCH_ROWS = 40_000
# With 64 MiB a 5.3 GB file of Encounters peaked 230 MB higher, 75 MB
# under the 2 GB its load must stay within (docs/benchmarks.md)
DEFAULT_BATCH_BYTES = 32 * 1024 * 1024
# DuckDB scans an Arrow table one record batch per thread: a batch handed over in one piece is
# read by one core. A batch goes to DuckDB in pieces of this many rows (sliced, not copied), and
# so do the rows to write, so that the statements that parse them (the content hash, the typed
# columns) and the inserts run on every core. DuckDB's own results are not asked for in pieces:
# making them so cost more than it gained (docs/benchmarks.md, "FHIR ingest and views").
SCAN_ROWS = 5_000
DEFAULT_MEMORY_LIMIT = "1GB"
# DuckDB holds the store's indexes (the key and the patient index, ART) in memory and cannot
# spill them to disk, so the cap of a load grows by this much for every resource they index
# (the store's and the file's so far). A fixed 1 GB failed at 9.3 million resources, committing
# a file of 4.9 million more ("failed to allocate", docs/benchmarks.md, "Measures library"); the
# two indexes of 9.3 million resources read back took 274 MB (29.5 bytes each), and nodes
# being inserted take about twice that.
INDEX_BYTES_PER_RESOURCE = 64

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
JSON_SUFFIXES = (".json",)
_DECLARED = re.compile(r"([A-Z][A-Za-z]{0,63})(?:\.[^.]+)*?\.(?:ndjson|jsonl)(?:\.gz)?")

# The batch as Python checked it (reading.BATCH_SCHEMA), completed by DuckDB: meta.versionId
# and lastUpdated read from the JSON text when they are not strings, lastUpdated as a
# timestamp, the content hash (store.CONTENT_HASH, in two halves: Arrow, which carries the
# batches between statements, has no 128-bit unsigned integer) and the patient key.
_STAGE = f"""
SELECT * EXCLUDE (h), (h >> 64)::UBIGINT AS h1, (h & 18446744073709551615::UHUGEINT)::UBIGINT AS h2
FROM (
    SELECT line, reason, qtype, raw, type, id,
        CASE WHEN odd THEN json_extract_string(raw, '$.meta.versionId') ELSE version_id END AS version_id,
        TRY_CAST(CASE WHEN odd THEN json_extract_string(raw, '$.meta.lastUpdated') ELSE last_updated END AS TIMESTAMPTZ) AS last_updated,
        CASE WHEN reason IS NULL THEN md5_number(json(raw)) END AS h,
        CASE WHEN reason IS NULL THEN CASE WHEN odd THEN {store.patient_key('type', 'id', 'raw')}
                                           ELSE {store.patient_key_of_reference('type', 'id', 'patient_ref')} END END AS patient
    FROM _ingest_batch
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
    bar = reading.Progress(sum(f.stat().st_size for f in files), progress)
    try:
        with store.memory_capped(connection, memory_limit):
            typed = columnar.Maintainer(connection)
            cap = _GrowingCap(connection, memory_limit)
            for path in files:
                _load_file(connection, path, summary, bar, max_line, batch_rows, batch_bytes, hook, max_depth, typed, cap)
                summary.files += 1
            if files:
                # after the files' commits: the types whose tables could not be kept in step batch
                # by batch are rebuilt; a load killed before this leaves them out of step, and views
                # read their JSON until the next load
                summary.typed = typed.finish()
    finally:
        bar.close()
    return summary


# -- one file -------------------------------------------------------------------------------


class _GrowingCap:
    """The load's memory cap, raised with the resources the store's indexes hold
    (INDEX_BYTES_PER_RESOURCE each, on top of the cap asked for): checked before each batch."""

    def __init__(self, connection, limit: str | None):
        self.connection, self.base = connection, store.size_bytes(limit) if limit else None
        self.indexed = connection.execute("SELECT count(*) FROM resources").fetchone()[0] if limit else 0
        self.set_to = self.base

    def add(self, resources: int) -> None:
        """`resources` more are indexed (or will be at the commit): raise the cap to fit."""
        if self.base is None:
            return
        self.indexed += resources
        wanted = self.base + self.indexed * INDEX_BYTES_PER_RESOURCE
        if wanted > self.set_to:
            self.connection.execute(f"SET memory_limit = '{wanted // 1_000_000 + 1}MB'")
            self.set_to = wanted


def _load_file(connection, path, summary, bar, max_line, batch_rows, batch_bytes, hook, max_depth, typed, cap) -> None:
    name = str(path)
    if name.endswith(JSON_SUFFIXES):
        lines = reading.json_file_lines(path, max_line, bar, max_depth)
        declared = None
    else:
        lines = reading.ndjson_lines(path, max_line, bar)
        declared = declared_type(path)
    rows = (reading.check(line, declared, max_depth) for line in lines)
    # `before` sees the store as committed before this file (its own snapshot, never written):
    # each incoming resource is classified against that, while `connection` writes each batch.
    before = connection.cursor()
    counts: dict[str, Counts] = {}
    before.execute("BEGIN TRANSACTION")
    connection.execute("BEGIN TRANSACTION")
    try:
        before.execute("SELECT count(*) FROM resources").fetchall()  # pins the snapshot now
        cap.add(0)  # the store's own resources
        for batch in reading.prefetched(reading.batches(rows, batch_rows, batch_bytes)):
            cap.add(batch.num_rows)
            _merge_batch(connection, before, batch, name, counts, typed)
            if hook:
                hook("batch", path)
        total = Counts()
        for one in counts.values():
            total.add(one)
        connection.execute(
            "INSERT INTO loads (file, added, updated, unchanged, quarantined) VALUES (?, ?, ?, ?, ?)",
            [name, total.added, total.updated, total.unchanged, total.quarantined],
        )
        typed.end_file()
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


def _in_pieces(table: pa.Table) -> pa.Table:
    """The same rows as record batches of SCAN_ROWS (slices: nothing copied)."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_ROWS), table.schema)


def _merge_batch(connection, before, batch: pa.Table, name: str, counts: dict[str, Counts], typed: columnar.Maintainer) -> None:
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
    _ingest_batch = _in_pieces(batch)
    del batch
    _ingest_stage = connection.sql(_STAGE).to_arrow_table()
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
            e.id IS NOT NULL AS present,
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
    _ingest_written = connection.sql("""
        SELECT s.type, s.id, s.version_id, s.last_updated, s.raw, s.h1, s.h2, s.patient, o.present
        FROM _ingest_win s JOIN _ingest_outcome o ON o.type = s.type AND o.id = s.id
        WHERE o.outcome <> 'unchanged' AND NOT (o.earlier AND o.loses)
    """).to_arrow_table()
    _ingest_written = _in_pieces(_ingest_written)  # read by the inserts and the typed tables' shredding
    typed.before_write(pc.unique(_ingest_written["type"]).to_pylist())
    # a plain INSERT where no row of the id is there: the primary key's conflict check of
    # INSERT OR REPLACE costs about a third more
    for present, verb in ((False, "INSERT"), (True, "INSERT OR REPLACE")):
        run(f"""
            {verb} INTO resources (type, id, version_id, last_updated, resource, content_hash, patient)
            SELECT type, id, version_id, last_updated, raw, {_hash('_ingest_written')}, patient
            FROM _ingest_written WHERE present = $present
        """, {"present": present}).complete()
    typed.written(_ingest_written.select(["type", "id", "raw", "patient", "present"]))
    del _ingest_written
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
        typed.written(connection.sql("SELECT type, id, resource::VARCHAR AS raw, patient, true AS present FROM _ingest_restore").to_arrow_table())


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
        lines.append(f"typed columns up to date for {len(summary.typed) - len(left)} type(s)"
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
    from ..spark import session

    chosen = session.engine_for_command()
    if chosen is None:
        return 2
    if chosen == "spark":
        from ..spark import ingest as spark_ingest

        return spark_ingest.cli_load(files)
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
