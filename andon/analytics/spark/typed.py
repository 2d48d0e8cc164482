"""Typed columns on Spark: a store version's resources shredded into columns by type, as the
DuckDB store's typed tables (`fhir.columnar`), so that a view reads columns, not JSON text.

    <store>/typed/<version>/<Type>/*.parquet   andon_patient, then one column per top-level member
    <store>/typed/<version>/_structures.json   {type: structure}, written last: the columns are complete

**The structure is DuckDB's.** Each Spark task computes `json_structure` of its resources with
DuckDB (as the DuckDB store does), and the driver merges the distinct ones by type with
`columnar.merge_structures`; so a view is compiled over the same structure by the same
`sof.typed` on either engine, and a member whose resources differ in kind is "JSON" there too
(a view that reads it reads the JSON text). Spark then shreds each resource with `from_json`
into the Spark type of that structure, failing (never nulling) a value that does not fit.

**The JSON text stays the record.** A version without `_structures.json` (written before this
layout, or by a load killed between the version's commit and its columns) is read from its JSON
text: slower, never stale. A type whose structure cannot be columns (too many distinct shapes,
members that differ only by case) stays JSON, as on DuckDB. `andon fhir parquet` writes the
same layout from the DuckDB store's typed tables (`columnar.export_parquet`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from ..fhir import columnar
from . import store

EMPTY = "andon_none"  # the one member of an object no resource gives a value: Parquet has no empty struct

# DuckDB's json_structure leaves (and merge_structures' HUGEINT) as Spark types; "JSON" (kinds
# that differ) is kept as text, which no typed view reads
_SPARK_TYPES = {"VARCHAR": "STRING", "BOOLEAN": "BOOLEAN", "BIGINT": "BIGINT", "UBIGINT": "DECIMAL(20,0)",
                "HUGEINT": "DECIMAL(38,0)", "DOUBLE": "DOUBLE", "JSON": "STRING"}


@dataclass(frozen=True)
class Typed:
    """One type's typed columns in a store version: the Spark frame and its structure."""

    frame: object
    structure: dict


def folder(root: str, version: str) -> str:
    """Where a version's typed columns go (`version`: its name, or its path)."""
    return f"{root.rstrip('/')}/{store.TYPED}/{version.rstrip('/').rsplit('/', 1)[-1]}"


def spark_type(node) -> str:
    """The Spark type of a structure (`json_structure` spelling); members only ever null
    (structure "NULL") are no column: a view reads them as NULL without looking."""
    if isinstance(node, dict):
        members = [f"{_name(name)}: {spark_type(value)}" for name, value in node.items() if value != "NULL"]
        return f"STRUCT<{', '.join(members) or f'{EMPTY}: STRING'}>"
    if isinstance(node, list):
        item = node[0] if node else "NULL"
        return f"ARRAY<{'STRING' if item == 'NULL' else spark_type(item)}>"
    if node not in _SPARK_TYPES:
        raise ValueError(f"no Spark type for {node!r}")
    return _SPARK_TYPES[node]


def _name(member: str) -> str:
    return "`" + member.replace("`", "``") + "`"


def _partition_structures(rows, batch_rows: int = 50_000):
    """A Spark task: the distinct (type, json_structure) of its rows (type, JSON text), by DuckDB,
    a batch of rows at a time."""
    from itertools import islice

    import duckdb
    import pyarrow as pa

    connection = duckdb.connect(":memory:")
    rows = iter(rows)
    while batch := list(islice(rows, batch_rows)):
        types, texts = zip(*batch, strict=True)
        connection.register("batch", pa.table({"type": list(types), "resource": list(texts)}))
        yield from connection.execute("SELECT DISTINCT type, json_structure(resource)::VARCHAR FROM batch").fetchall()
        connection.unregister("batch")
    connection.close()


def _kept(found: set, structure: str) -> set:
    """A type's distinct structures, kept up to one past the most a type may have."""
    if len(found) <= columnar.MAX_STRUCTURES:
        found.add(structure)
    return found


def _joined(found: set, more: set) -> set:
    for structure in more:
        _kept(found, structure)
    return found


def structures(frame) -> dict[str, dict]:
    """type -> a structure every resource of the type in `frame` (type, resource as JSON text)
    fits, for each type whose structure can be columns. One Spark job: each task's distinct
    structures, gathered by type (at most one past the limit each: hostile data stays bounded)."""
    found_by_task = frame.select("type", "resource").rdd.mapPartitions(_partition_structures)
    return _merged(found_by_task.aggregateByKey(set(), _kept, _joined).collect())


def structures_of(resources) -> dict[str, dict]:
    """`structures` of a few (type, JSON text) pairs at hand, computed here rather than by a Spark job."""
    found: dict[str, set] = {}
    for resource_type, structure in _partition_structures(resources):
        _kept(found.setdefault(resource_type, set()), structure)
    return _merged(found.items())


def _merged(found) -> dict[str, dict]:
    """type -> the merge of its distinct structures (JSON texts), for each type whose structure can be columns."""
    merged = {}
    for resource_type, shapes in found:
        if len(shapes) > columnar.MAX_STRUCTURES or not columnar.TYPE_NAME.fullmatch(resource_type):
            continue  # hostile data, or a type name that makes no folder: JSON only
        structure = "NULL"
        for shape in sorted(shapes):
            structure = columnar.merge_structures(structure, json.loads(shape))
        if columnar.structure_text(structure) is not None and _has_spark_type(structure):
            merged[resource_type] = structure
    return merged


def _has_spark_type(structure) -> bool:
    try:
        spark_type(structure)
    except ValueError:
        return False
    return True


def shred(frame, found: dict[str, dict] | None = None) -> dict[str, Typed]:
    """type -> its resources in `frame` (type, patient, resource as JSON text) as typed columns
    (a frame, not yet computed), for each type whose structure can be columns (`found`: the
    structures, when known already)."""
    from pyspark.sql import functions as F

    def columns(resource_type: str, structure: dict):
        # the schema as a value, never inside SQL text: member names may hold any character
        shredded = F.from_json(F.col("resource"), spark_type(structure), {"mode": "FAILFAST"})
        return frame.where(F.col("type") == resource_type).select(
            F.col("patient").alias(columnar.PATIENT_COLUMN), shredded.alias("r")).select(columnar.PATIENT_COLUMN, "r.*")

    return {resource_type: Typed(columns(resource_type, structure), structure)
            for resource_type, structure in (structures(frame) if found is None else found).items()}


def write(spark, root: str, version_path: str) -> dict[str, dict]:
    """Shred the version at `version_path` into typed columns by type, each type's rows by
    patient; the structures file last. Returns type -> structure of the types written."""
    target = folder(root, version_path)
    found = shred(spark.read.parquet(version_path))
    for resource_type, columns in found.items():
        # a patient's resources of a type are in one file of the version (written in ranges of
        # patient), and a task reads a file (or a large file's part) in order: each typed file
        # keeps them together, sorted by patient, with no shuffle (nor a range partitioning's sampling job)
        (columns.frame.sortWithinPartitions(columnar.PATIENT_COLUMN)
         .write.mode("overwrite").parquet(f"{target}/{resource_type}"))
    structures_found = {resource_type: columns.structure for resource_type, columns in found.items()}
    store.write_text(spark, f"{target}/{store.STRUCTURES}", json.dumps(structures_found, separators=(",", ":")))
    return structures_found


def read(spark, root: str, version_path: str, types: Iterable[str] | None = None) -> dict[str, Typed]:
    """type -> its typed columns in the version (of `types` only, when given: each type read costs
    Spark a listing and a schema), or {} for a version without them."""
    text = store.read_text(spark, f"{folder(root, version_path)}/{store.STRUCTURES}")
    if text is None:
        return {}
    target = folder(root, version_path)
    wanted = None if types is None else set(types)
    return {resource_type: Typed(spark.read.parquet(f"{target}/{resource_type}"), structure)
            for resource_type, structure in json.loads(text).items() if wanted is None or resource_type in wanted}
