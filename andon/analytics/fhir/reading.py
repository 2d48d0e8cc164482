"""Reading files for the ingest: NDJSON and JSON files into checked rows, in Arrow batches.

Python reads each file in binary, in blocks, never holding more than `max_line` bytes of one
line (a longer line is read on, skipped, and quarantined), and checks each line itself, once:

- UTF-8, and strict JSON within `max_depth` levels (`strict_json`: DuckDB's reader takes NaN,
  Infinity, numbers that overflow, duplicate keys, trailing commas and any depth, which then
  break every later step);
- a JSON object with `resourceType` and `id` strings, a FHIR type name and a FHIR id, and the
  type the file name declares.

A good line gives its type, id, meta.versionId, meta.lastUpdated and the reference that names
its patient (`store.PATIENT_REFERENCE_MEMBERS`); a bad one its reason, exactly as the ingest
has always worded it. The content hash and the patient key are left to DuckDB (the ingest's
staging query).

**Fast path.** Most lines are parsed once by orjson (strict about NaN, Infinity, overflow,
trailing commas, control characters and UTF-8). What orjson lets through and `strict_json`
refuses is caught around it: a duplicate key makes orjson drop a member, so the value written
back has fewer `:` than the line (which is why a line with a `\\u` escape, which could spell a
`:`, takes the slow path); a line with more brackets than `max_depth`, or a run of 401 number
characters, takes the slow path too. The slow path is `strict_json` itself, which words every
error; orjson's verdict on a bad line is never shown.
"""

from __future__ import annotations

import gzip
import json
import re
import queue
import sys
import threading
import unicodedata
import zlib
from pathlib import Path
from typing import Iterator

import orjson
import pyarrow as pa

from .. import strict_json

RAW_LIMIT = 4096  # characters of a bad line kept in the quarantine
TRUNCATED = "invalid JSON (truncated last line: no newline at the end of the file)"
BUNDLE_LEVELS = 3  # a Bundle's entry resource is 3 levels down: Bundle, entry list, entry
EXPANDED_BUNDLES = {"collection", "transaction", "batch", "searchset", "history", "transaction-response", "batch-response"}
BLOCK = 8 * 1024 * 1024  # bytes read at a time

BATCH_SCHEMA = pa.schema([
    ("line", pa.int64()),
    ("reason", pa.string()),  # why the line is quarantined, NULL for a good one
    ("qtype", pa.string()),  # the type a quarantined line counts under
    ("raw", pa.string()),  # the line (an excerpt of a bad one)
    ("type", pa.string()),
    ("id", pa.string()),
    ("version_id", pa.string()),
    ("last_updated", pa.string()),  # text: DuckDB reads it as TIMESTAMPTZ (TRY_CAST)
    ("patient_ref", pa.string()),  # the reference that names the patient, if a string
    ("odd", pa.bool_()),  # a member above is not a string: DuckDB reads them from `raw`
])

TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{0,63}")
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# DuckDB's trim() removes the Unicode space separators, not tabs or newlines
_SPACES = "".join(c for c in map(chr, range(0x3001)) if unicodedata.category(c) == "Zs")
_BOM = b"\xef\xbb\xbf"
_PATIENT_MEMBERS = ("subject", "patient", "beneficiary")  # store.patient_of's order

# One translation of a line gives what the fast path counts: ":" stays, "[" and "{" become "[",
# a backslash "x" (so that "xu" marks a \u escape), number characters "0", all else a space.
_SHAPE = bytes(
    ord(":") if b == ord(":") else ord("[") if b in b"[{" else ord("x") if b == ord("\\")
    else ord("u") if b == ord("u") else ord("0") if b in b"0123456789.eE+-" else ord(" ")
    for b in range(256)
)
_LONG_NUMBER = b"0" * (strict_json.MAX_NUMBER_CHARS + 1)


class Progress:
    """A progress bar on stderr over the files' bytes (tqdm), or nothing."""

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


# -- the lines of a file ------------------------------------------------------------------
# A line: (number, bytes, None, unterminated, None) for one to check, or (number, None, reason,
# False, excerpt) for one already refused while reading.


def _excerpt(data: bytes) -> str:
    return data[:RAW_LIMIT].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _too_long(number: int, max_line: int, size: int, start: bytes) -> tuple:
    return (number, None, f"line longer than {max_line} bytes ({size} bytes)", False, _excerpt(start))


def _line(number: int, data: bytes, max_line: int, unterminated: bool) -> tuple | None:
    """The line (its newline removed), or None for a blank one."""
    if len(data) > max_line:
        return _too_long(number, max_line, len(data) + (0 if unterminated else 1), data)
    if number == 1 and data.startswith(_BOM):
        data = data[len(_BOM):]
    if not data.strip():
        return None
    return (number, data.rstrip(b"\r"), None, unterminated, None)


class _Counted:
    """A binary file that counts the bytes read from it (for the progress bar)."""

    def __init__(self, raw, bar: Progress):
        self.raw, self.bar = raw, bar

    def read(self, n=-1):
        data = self.raw.read(n)
        self.bar.update(len(data))
        return data

    def readinto(self, buffer):
        n = self.raw.readinto(buffer)
        self.bar.update(n or 0)
        return n

    def __getattr__(self, name):
        return getattr(self.raw, name)


def ndjson_lines(path: Path, max_line: int, bar: Progress) -> Iterator[tuple]:
    """The non-blank lines of an NDJSON file (plain or gzip), streaming, a block at a time:
    never more than `max_line` bytes of one line held (a longer one is read on and refused).
    Never fails on the file's content: a read error (a truncated or corrupt gzip stream)
    becomes a refused line and ends the file."""
    number = 0
    try:
        with open(path, "rb") as raw:
            counted = _Counted(raw, bar)
            if path.name.endswith(".gz"):  # read1: what decompressed before a cut is yielded
                read = gzip.GzipFile(fileobj=counted, mode="rb").read1
            else:
                read = counted.read
            pending = b""  # the start of the line being read
            skipped = 0  # > 0: that line is too long; its bytes so far (only `start` kept)
            start = b""
            while block := read(BLOCK):
                pieces = block.split(b"\n")
                tail = pieces.pop()
                for i, piece in enumerate(pieces):
                    number += 1
                    if i == 0 and skipped:
                        row = _too_long(number, max_line, skipped + len(piece) + 1, start)
                    else:
                        row = _line(number, pending + piece if i == 0 else piece, max_line, False)
                    if row is not None:
                        yield row
                if pieces:
                    pending, skipped = tail, 0
                elif skipped:
                    skipped += len(tail)
                else:
                    pending += tail
                if not skipped and len(pending) > max_line:
                    skipped, start, pending = len(pending), pending[:RAW_LIMIT], b""
            if skipped:
                yield _too_long(number + 1, max_line, skipped, start)
            elif pending:
                row = _line(number + 1, pending, max_line, True)
                if row is not None:
                    yield row
    except (OSError, EOFError, zlib.error) as error:
        yield (number + 1, None, f"file unreadable from here on: {type(error).__name__}: {error}", False, "")


def json_file_lines(path: Path, max_line: int, bar: Progress, max_depth: int) -> Iterator[tuple]:
    """The lines of one JSON file: a single resource (line NULL) or a Bundle's entries (line =
    entry number). The file is read and parsed whole (at most `max_line` bytes), as strict
    JSON nested at most `max_depth` levels below a Bundle's entries."""
    try:
        with open(path, "rb") as raw:
            data = raw.read(max_line + 1)
    except OSError as error:
        yield (None, None, f"file unreadable: {type(error).__name__}: {error}", False, "")
        return
    bar.update(len(data))
    if len(data) > max_line:
        yield (None, None, f"file longer than {max_line} bytes", False, _excerpt(data))
        return
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        yield (None, None, f"not UTF-8: byte 0x{data[error.start]:02x} at byte offset {error.start}", False, _excerpt(data))
        return
    try:
        document = strict_json.loads(text, max_depth + BUNDLE_LEVELS)  # each entry is held to max_depth after
    except strict_json.TooDeep:
        yield (None, None, f"invalid JSON: nested deeper than {max_depth} levels", False, _excerpt(data))
        return
    except strict_json.JSONError as error:
        yield (None, None, f"invalid JSON: {error}", False, _excerpt(data))
        return
    if not (isinstance(document, dict) and document.get("resourceType") == "Bundle" and document.get("type") in EXPANDED_BUNDLES):
        yield (None, data, None, False, None)  # checked like any line
        return
    for number, entry in enumerate(document.get("entry") or [], start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if resource is None:
            yield (number, None, "Bundle entry without a resource", False, _excerpt(json.dumps(entry).encode()))
        else:
            yield (number, json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode(), None, False, None)


# -- checking a line ------------------------------------------------------------------------


def parse(data: bytes, max_depth: int):
    """The value of a line: orjson when the fast path's checks pass, else `strict_json`, whose
    JSONError (or UnicodeDecodeError) says what is wrong."""
    shape = data.translate(_SHAPE)
    if shape.count(b"[") <= max_depth and b"xu" not in shape and _LONG_NUMBER not in shape:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # strict_json words the error
        else:
            if orjson.dumps(value).count(b":") == shape.count(b":"):
                return value
    return strict_json.loads(data.decode("utf-8"), max_depth)


def _kind(value, data: bytes) -> str:
    """The JSON kind of a value that is not an object, as DuckDB's json_type() names it (-0 is
    a signed integer there)."""
    if value == 0 and isinstance(value, int) and not isinstance(value, bool) and data.lstrip().startswith(b"-"):
        return "bigint"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "varchar"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "ubigint" if 0 <= value < 2**64 else "bigint" if -(2**63) <= value < 0 else "double"
    return "double"


def _member_problem(value: dict, name: str) -> str | None:
    member = value.get(name)
    if member is None:
        return f"missing {name}"
    if not isinstance(member, str):
        return f"{name} is not a string"
    if not member.strip(_SPACES):
        return f"blank {name}"
    return None


def _resource_problem(value, data: bytes, declared: str | None) -> str | None:
    if not isinstance(value, dict):
        return f"not a JSON object ({_kind(value, data)})"
    problem = _member_problem(value, "resourceType")
    if problem:
        return problem
    kind = value["resourceType"]
    if not TYPE_NAME.fullmatch(kind):
        return f'resourceType "{kind[:80]}" is not a FHIR resource type'
    if declared is not None and kind != declared:
        return f"resourceType {kind} in a file of {declared}"
    problem = _member_problem(value, "id")
    if problem:
        return problem
    if not FHIR_ID.fullmatch(value["id"]):
        return f'invalid id "{value["id"][:80]}" (FHIR ids are 1-64 of A-Z a-z 0-9 - .)'
    return None


def _patient_reference(value: dict) -> tuple[str | None, bool]:
    """The first of subject, patient and beneficiary's `reference` present (store.patient_of's
    rule), and whether it is not a string (DuckDB then reads it from the JSON text)."""
    for name in _PATIENT_MEMBERS:
        holder = value.get(name)
        if isinstance(holder, dict):
            reference = holder.get("reference")
            if reference is not None:
                return (reference, False) if isinstance(reference, str) else (None, True)
    return None, False


def _bad(number, reason: str, excerpt: str, declared: str | None, value=None) -> tuple:
    kind = value.get("resourceType") if isinstance(value, dict) else None
    named = kind if isinstance(kind, str) and TYPE_NAME.fullmatch(kind) else None
    return (number, reason, declared or named or "(unknown)", excerpt, None, None, None, None, None, False)


def check(line: tuple, declared: str | None, max_depth: int) -> tuple:
    """A row of the batch (BATCH_SCHEMA) for one line."""
    number, data, reason, unterminated, excerpt = line
    if data is None:
        return _bad(number, reason, excerpt, declared)
    try:
        value = parse(data, max_depth)
    except UnicodeDecodeError as error:
        return _bad(number, f"not UTF-8: byte 0x{data[error.start]:02x} at byte offset {error.start} of the line", _excerpt(data), declared)
    except strict_json.JSONError as error:
        if not error.syntax:
            reason = f"invalid JSON: {error}"
        else:  # as DuckDB has always said it: position and kind vary by reader
            reason = TRUNCATED if unterminated else "invalid JSON"
        return _bad(number, reason, data.decode("utf-8")[:RAW_LIMIT], declared)
    text = data.decode("utf-8")
    reason = _resource_problem(value, data, declared)
    if reason:
        return _bad(number, reason, text[:RAW_LIMIT], declared, value)
    meta = value.get("meta")
    version_id = meta.get("versionId") if isinstance(meta, dict) else None
    last_updated = meta.get("lastUpdated") if isinstance(meta, dict) else None
    reference, odd = (None, False) if value["resourceType"] == "Patient" else _patient_reference(value)
    if not isinstance(version_id, (str, type(None))) or not isinstance(last_updated, (str, type(None))):
        odd, version_id, last_updated = True, None, None
    return (number, None, None, text, value["resourceType"], value["id"], version_id, last_updated, reference, odd)


def batches(rows: Iterator[tuple], batch_rows: int, batch_bytes: int) -> Iterator[pa.Table]:
    """The checked rows as Arrow tables of at most `batch_rows` rows or about `batch_bytes`."""
    columns = [[] for _ in BATCH_SCHEMA]
    size = 0
    for row in rows:
        for column, value in zip(columns, row):
            column.append(value)
        size += len(row[3])
        if len(columns[0]) >= batch_rows or size >= batch_bytes:
            yield pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, BATCH_SCHEMA)], schema=BATCH_SCHEMA)
            columns = [[] for _ in BATCH_SCHEMA]
            size = 0
    if columns[0]:
        yield pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(columns, BATCH_SCHEMA)], schema=BATCH_SCHEMA)


_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """`items`, made in a thread at most `depth` ahead of the caller: the ingest reads and
    checks the next batch in Python while DuckDB (which lets go of the GIL) merges this one.
    An error in the thread is raised in the caller; the caller stopping early stops it."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # noqa: BLE001  (handed to the caller, who raises it)
            put(_Failed(error))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()  # in this thread, which ran the generator

    thread = threading.Thread(target=make, name="ingest-reader", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
