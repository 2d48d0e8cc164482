"""The store on Spark: a folder (a local path or an object-store URL) of versions.

    <store>/resources/<version>/type=<Type>/*.parquet   type (the folder), id, patient, version_id,
                                                         last_updated, content_hash, resource (JSON text)
    <store>/resources/<version>/_SUCCESS                 written last: the version is complete
    <store>/quarantine/<version>/*.parquet               the lines a load could not take, and why
    <store>/typed/<version>/...                          the version's resources as typed columns (typed.py)

A version is written whole beside the others and counts once its `_SUCCESS` marker is there
(Spark writes it when the job commits; `andon fhir parquet` writes it after its files): readers
take the newest complete version, so a load killed half-way leaves the previous one readable.
Versions are named by the UTC time they were begun (sortable text); a load keeps the version it
read from beside its own, for readers still on it, and removes the older ones. A load that
changes nothing writes no version. One load at a time.

File operations go through Hadoop's FileSystem (Spark's own), so that the same code serves a
local folder and an object store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

RESOURCES = "resources"
TYPED = "typed"  # a version's resources as typed columns (typed.py), under the version's name
STRUCTURES = "_structures.json"  # a typed version's structures by type, written last: its columns are complete
QUARANTINE = "quarantine"
DONE = "_SUCCESS"
# A version's row groups are small: a reader of one patient (the web server's pages,
# duckdb_read) decompresses, whole, the row group of each type that holds the patient. At a
# million resources, DuckDB's default (122,880 rows, some 50 MB of JSON text) made that 170 MB
# for one patient (300 ms, past the readers' memory limit); rows of 4,096 took it to 32 ms, and
# Spark's writer at 8 MB (not its 128 MB, which a cluster's large files would fill) to 30 ms,
# without slowing Spark's scans. Smaller still adds footers for a page to read.
ROW_GROUP_BYTES = 8 * 1024 * 1024  # Spark's writer (parquet.block.size: bytes buffered)
ROW_GROUP_ROWS = 4096  # DuckDB's (`andon fhir parquet`): rows


class StoreError(RuntimeError):
    """No store where one was expected."""


def new_version() -> str:
    return "v" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")


def _path(spark, text: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(text)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def complete_versions(spark, store: str) -> list[str]:
    """The store's complete versions, oldest first."""
    folder, fs = _path(spark, f"{store.rstrip('/')}/{RESOURCES}")
    if not fs.exists(folder):
        return []
    found = []
    for status in fs.listStatus(folder):
        name = status.getPath().getName()
        if status.isDirectory() and name.startswith("v") and fs.exists(status.getPath().suffix(f"/{DONE}")):
            found.append(name)
    return sorted(found)


def current(spark, store: str) -> str | None:
    """The path of the newest complete version, or None for an empty (or no) store."""
    versions = complete_versions(spark, store)
    return f"{store.rstrip('/')}/{RESOURCES}/{versions[-1]}" if versions else None


def prune(spark, store: str, keep: set[str]) -> None:
    """Remove every version of the resources (and of their typed columns) but `keep`, complete
    or not (a killed load's leftovers too; one load at a time). Quarantined lines are kept,
    every load's."""
    for kind in (RESOURCES, TYPED):
        folder, fs = _path(spark, f"{store.rstrip('/')}/{kind}")
        for status in fs.listStatus(folder) if fs.exists(folder) else []:
            if status.getPath().getName() not in keep:
                fs.delete(status.getPath(), True)


def put_in_place(spark, staged: str, target: str) -> None:
    """Move the complete folder `staged` to `target`, replacing what is there: the older one
    is moved aside first and removed only once the new one is in its place."""
    source, fs = _path(spark, staged)
    place, _ = _path(spark, target)
    aside = place.suffix(f".replaced-{new_version()}")
    had_one = fs.exists(place)
    if had_one and not fs.rename(place, aside):
        raise OSError(f"cannot move {target} aside to replace it")
    if not fs.rename(source, place):
        if had_one:
            fs.rename(aside, place)
        raise OSError(f"cannot move {staged} to {target}")
    if had_one:
        fs.delete(aside, True)


def remove(spark, path: str) -> None:
    """Remove a file or folder (and all under it), if there is one."""
    target, fs = _path(spark, path)
    if fs.exists(target):
        fs.delete(target, True)


def write_text(spark, path: str, text: str) -> None:
    """A small UTF-8 file at `path` (replacing one there), through Hadoop's FileSystem."""
    target, fs = _path(spark, path)
    stream = fs.create(target, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark, path: str) -> str | None:
    """A small UTF-8 file's text, or None where there is none."""
    target, fs = _path(spark, path)
    if not fs.exists(target):
        return None
    stream = fs.open(target)
    try:
        data = spark.sparkContext._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
    finally:
        stream.close()
    return bytes(data).decode("utf-8")


@dataclass(frozen=True)
class Opened:
    """One version of a store, read by a computation from its start to its end: a load that
    completes meanwhile is the next computation's, so that every measure of one computation
    counts the same data (as on DuckDB, where the computation holds one connection)."""

    spark: object
    folder: str
    version: str  # the version's path
    held: list = field(default_factory=list, compare=False)  # frames computed from it, freed on close

    def label(self) -> str:
        """Which data results came from, as the results keep it (`data_load`)."""
        return f"Spark store {self.folder}, version {self.version.rstrip('/').rsplit('/', 1)[-1]}"

    def hold(self, frame) -> None:
        """Keep a checkpointed frame computed from this version (every eCQM's cases) until close."""
        self.held.append(frame)

    def close(self) -> None:
        """Free the frames held; the session stays for the next computation."""
        from .session import release

        while self.held:
            release(self.held.pop())


def open_current(spark, folder: str) -> Opened | None:
    """The store's newest complete version, or None when it has none."""
    path = current(spark, folder)
    return Opened(spark, folder, path) if path else None


def completed_at(spark, folder: str) -> datetime | None:
    """When the store's newest complete version was begun (its name), or None for no version:
    what the scheduled tasks that run after each load compare with their last run."""
    versions = complete_versions(spark, folder)
    if not versions:
        return None
    try:
        return datetime.strptime(versions[-1], "v%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
    except ValueError:  # a folder named otherwise: not a version this module wrote
        return None
