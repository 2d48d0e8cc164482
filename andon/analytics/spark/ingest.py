"""`andon fhir load` on Spark: NDJSON and JSON files into a new version of the Spark store.

Each file is read and checked by one Spark task with the DuckDB ingest's own reader and checks
(`fhir.reading`: UTF-8, strict JSON, depth, resourceType and id, the type the file name
declares), so a line is quarantined for the same reason, worded the same, on either engine.
Then, in Spark SQL:

- the patient key by the store's one rule (`fhir.store.patient_key_of_reference`, and
  `patient_key` where meta or the reference is not a string), turned into Spark SQL by
  `dialect`; the content hash is the MD5 of the stored text;
- the newest line of each resource wins within the load (meta.versionId, as numbers when both
  are, then meta.lastUpdated; a tie goes to the later file and line), and against the current
  version: added, updated, or unchanged (the same text, or older than what is stored);
- the new version (the current one's rows not replaced, and the changes) is written whole
  beside the current one, partitioned by type and ordered by patient within it; it counts once
  Spark has committed it (`store`). A load killed before that leaves the current one as it was.
- then its resources as typed columns by type (`typed`), which views read once complete.

The files must be readable at the same path by every executor (in local mode they are).
"""

from __future__ import annotations

from pathlib import Path

from ..fhir import ingest as duckdb_ingest
from ..fhir import reading, store as fhir_store
from . import dialect, store, typed

CHECKED = ("file_index INT, file STRING, line BIGINT, reason STRING, qtype STRING, raw STRING, type STRING, "
           "id STRING, version_id STRING, last_updated STRING, patient_ref STRING, odd BOOLEAN")
COLUMNS = ["type", "id", "patient", "version_id", "last_updated", "content_hash", "resource"]

# incoming a before b: the newer first (versionId as numbers when both are, else as text; then
# lastUpdated; a missing value older than any), a tie to the later file and line
_NEWEST_FIRST = ("TRY_CAST(version_id AS DECIMAL(38,0)) DESC NULLS LAST, version_id DESC NULLS LAST, "
                 "TRY_CAST(last_updated AS TIMESTAMP) DESC NULLS LAST, file_index DESC, line DESC")

# incoming s not older than stored r (as the DuckDB ingest's _NOT_OLDER)
_NOT_OLDER = """CASE
    WHEN s.version_id IS NOT NULL AND r.version_id IS NULL THEN true
    WHEN s.version_id IS NULL AND r.version_id IS NOT NULL THEN false
    WHEN s.version_id IS NOT NULL AND TRY_CAST(s.version_id AS DECIMAL(38,0)) IS NOT NULL
         AND TRY_CAST(r.version_id AS DECIMAL(38,0)) IS NOT NULL
         AND TRY_CAST(s.version_id AS DECIMAL(38,0)) <> TRY_CAST(r.version_id AS DECIMAL(38,0))
        THEN TRY_CAST(s.version_id AS DECIMAL(38,0)) > TRY_CAST(r.version_id AS DECIMAL(38,0))
    WHEN s.version_id IS NOT NULL AND (TRY_CAST(s.version_id AS DECIMAL(38,0)) IS NULL
         OR TRY_CAST(r.version_id AS DECIMAL(38,0)) IS NULL) AND s.version_id <> r.version_id
        THEN s.version_id > r.version_id
    WHEN s.last_updated IS NOT NULL AND r.last_updated IS NULL THEN true
    WHEN s.last_updated IS NULL AND r.last_updated IS NOT NULL THEN false
    WHEN s.last_updated IS NOT NULL AND TRY_CAST(s.last_updated AS TIMESTAMP) <> TRY_CAST(r.last_updated AS TIMESTAMP)
        THEN TRY_CAST(s.last_updated AS TIMESTAMP) > TRY_CAST(r.last_updated AS TIMESTAMP)
    ELSE true
END"""


def _checked_lines(indexed_files, max_line: int, max_depth: int):
    """A Spark task: every line of its files, checked (reading.check) and numbered."""
    for index, name in indexed_files:
        path = Path(name)
        if name.endswith(duckdb_ingest.JSON_SUFFIXES):
            lines, declared = reading.json_file_lines(path, max_line, reading.Progress(0, False), max_depth), None
        else:
            lines, declared = reading.ndjson_lines(path, max_line, reading.Progress(0, False)), duckdb_ingest.declared_type(path)
        for line in lines:
            yield (index, name, *reading.check(line, declared, max_depth))


def _stage_sql() -> str:
    """Spark SQL completing the checked rows: the store's patient key rule and meta read from
    the JSON text where the reader found them not to be strings (as the DuckDB ingest's _STAGE)."""
    keyed = (f"CASE WHEN odd THEN {fhir_store.patient_key('type', 'id', 'json(raw)')} "
             f"ELSE {fhir_store.patient_key_of_reference('type', 'id', 'patient_ref')} END")
    meta = "CASE WHEN odd THEN json_extract_string(json(raw), '$.meta.{0}') ELSE {1} END"
    return dialect.spark_sql(
        f"SELECT file_index, line, type, id, {meta.format('versionId', 'version_id')} AS version_id, "
        f"{meta.format('lastUpdated', 'last_updated')} AS last_updated, {keyed} AS patient, "
        "md5(raw) AS content_hash, raw AS resource FROM checked WHERE reason IS NULL")


def load_paths(spark, store_root: str, paths, max_line: int = duckdb_ingest.DEFAULT_MAX_LINE,
               max_depth: int = duckdb_ingest.DEFAULT_MAX_DEPTH) -> duckdb_ingest.Summary:
    """Load every file under `paths` into a new version of the store at `store_root`; the
    counts by type, as the DuckDB ingest gives them (`ingest.Summary`)."""
    files = [str(p) for p in duckdb_ingest.find_files(paths)]
    summary = duckdb_ingest.Summary(files=len(files))
    if not files:
        return summary
    previous = store.current(spark, store_root)
    version = store.new_version()
    root = store_root.rstrip("/")
    indexed = list(enumerate(files))
    checked = spark.sparkContext.parallelize(indexed, len(indexed)).mapPartitions(
        lambda part: _checked_lines(part, max_line, max_depth))
    lines = spark.createDataFrame(checked, CHECKED).cache()  # read once, whatever asks below
    try:
        lines.createOrReplaceTempView("checked")
        _classify(spark, previous)
        _count(summary, spark.sql("""
            SELECT type, outcome, count(*) FROM outcomes GROUP BY ALL
            UNION ALL SELECT type, 'unchanged', count(*) FROM ranked WHERE rank > 1 GROUP BY ALL
            UNION ALL SELECT qtype, 'quarantined', count(*) FROM checked WHERE reason IS NOT NULL GROUP BY ALL""").collect())
        if summary.total.quarantined:  # each load's quarantine is kept, under its version's name
            spark.sql("SELECT file, line, reason, raw FROM checked WHERE reason IS NOT NULL ORDER BY file, line") \
                .coalesce(1).write.parquet(f"{root}/{store.QUARANTINE}/{version}")
        if any(c.added + c.updated for c in summary.by_type.values()):
            _write_version(spark, root, version, previous)
    finally:
        lines.unpersist()
    return summary


def _classify(spark, previous: str | None) -> None:
    """`incoming` (the good lines, keyed), `ranked` (newest first per resource), `stored` (the
    current version) and `outcomes` (each resource's newest line: added, updated, unchanged)."""
    spark.sql(_stage_sql()).createOrReplaceTempView("incoming")
    spark.sql(f"""SELECT *, row_number() OVER (PARTITION BY type, id ORDER BY {_NEWEST_FIRST}) AS rank
                  FROM incoming""").createOrReplaceTempView("ranked")
    if previous:
        spark.read.parquet(previous).select(*COLUMNS).createOrReplaceTempView("stored")
    else:
        spark.createDataFrame([], ", ".join(f"{c} STRING" for c in COLUMNS)).createOrReplaceTempView("stored")
    spark.sql(f"""SELECT s.*, CASE WHEN r.id IS NULL THEN 'added'
                                   WHEN r.content_hash = s.content_hash THEN 'unchanged'
                                   WHEN {_NOT_OLDER} THEN 'updated' ELSE 'unchanged' END AS outcome
                  FROM ranked s LEFT JOIN stored r ON r.type = s.type AND r.id = s.id
                  WHERE s.rank = 1""").createOrReplaceTempView("outcomes")


def _write_version(spark, root: str, version: str, previous: str | None) -> None:
    """The new version: the stored rows not replaced and the changes, in ranges of (type,
    patient) (a patient's resources of a type in one file, the files in order); then the
    versions before `previous` go."""
    written = spark.sql(f"""
        SELECT {', '.join(COLUMNS)} FROM outcomes WHERE outcome <> 'unchanged'
        UNION ALL
        SELECT {', '.join(f'r.{c}' for c in COLUMNS)} FROM stored r
        LEFT ANTI JOIN outcomes o ON o.type = r.type AND o.id = r.id AND o.outcome <> 'unchanged'""")
    (written.repartitionByRange("type", "patient").sortWithinPartitions("type", "patient", "id")
     .write.option("parquet.block.size", store.ROW_GROUP_BYTES)
     .partitionBy("type").parquet(f"{root}/{store.RESOURCES}/{version}"))
    typed.write(spark, root, f"{root}/{store.RESOURCES}/{version}")
    store.prune(spark, root, {version} | ({previous.rsplit("/", 1)[-1]} if previous else set()))


def _count(summary: duckdb_ingest.Summary, rows) -> None:
    for resource_type, outcome, n in rows:
        one = summary.count(resource_type)
        setattr(one, outcome, getattr(one, outcome) + n)


def cli_load(files) -> int:
    """`andon fhir load` on Spark (ANDON_ANALYTICS_ENGINE=spark): into ANDON_SPARK_STORE."""
    import sys

    from . import session

    root = session.store_for_command()
    if root is None:
        return 2
    try:
        summary = load_paths(session.spark(), root, files)
    except session.EngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(duckdb_ingest.format_summary(summary))
    if summary.total.quarantined:
        print(f"{summary.total.quarantined} line(s) quarantined: in {root}/{store.QUARANTINE}/")
    return 0
