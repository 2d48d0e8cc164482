"""The checks every input boundary shares (forms, API types, file importers), so that each module
refuses bad input the same way: with a message that says what is wrong, before anything uses it.

- Numbers are finite and within `NUMBER_LIMIT`: `NaN`, `Infinity` and `1e308` are refused, not
  stored (a non-finite count breaks every page that adds it up, and SQLite stores NaN as NULL).
  Numbers written as text must look like a plain decimal number (`float()` also takes `nan`,
  `1_000` and Arabic-Indic digits).
- JSON is bounded in size and depth, its numbers are finite, its keys unique and its texts free
  of NUL (which PostgreSQL cannot store). Python's parser takes `NaN`, `Infinity`, `1e999`
  (infinite) and duplicate keys, and fails with a RecursionError or a ValueError (not a
  JSONDecodeError) on deep nesting or long integers.
- Dates are between `EARLIEST` and `LATEST`; moments (dates with a time) are moved to UTC
  here, where a year-1 or year-9999 moment with an offset fails with an OverflowError.

Every failure is an `InputError` (a ValueError) whose message names the value, never a server
error further down.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from datetime import UTC, date, datetime

from django.utils import timezone

NUMBER_LIMIT = 1e15  # a count or score beyond this is a typo or an attack, and 2⁵³ ≈ 9·10¹⁵ is exact
INTEGER_DIGITS = 100  # longer integers are refused before Python converts them (its own limit is 4,300 digits)
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
ID_LIMIT = 2**63 - 1  # the database's 64-bit keys
# A ZIP file (XLSX, DOCX) holds a few dozen parts; Apache POI refuses a part that unpacks to more
# than 100 times its packed size once it is past 100 KB (ZipSecureFile), and so does Andon.
ZIP_MEMBERS = 1000
ZIP_RATIO = 100
ZIP_RATIO_GRACE = 100 * 1024
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,4})?", re.ASCII)
_DIGITS = re.compile(r"\d{1,19}", re.ASCII)


class InputError(ValueError):
    """Input that cannot be used; the message says why, in words for the person who sent it."""


# --- numbers ------------------------------------------------------------------------------------

def finite(value, *, low: float = -NUMBER_LIMIT, high: float = NUMBER_LIMIT) -> float:
    """`value` (an int or float, not a bool) as a float from `low` to `high`, else InputError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{shown(value)} is not a number")
    if isinstance(value, int) and abs(value) > NUMBER_LIMIT:
        raise InputError(f"{shown(value)} is larger than {NUMBER_LIMIT:g}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{shown(value)} is not a finite number")
    if not low <= number <= high:
        raise InputError(f"{shown(value)} is not between {low:g} and {high:g}")
    return number


def number(text: str, *, low: float = -NUMBER_LIMIT, high: float = NUMBER_LIMIT) -> float:
    """A number written as text (a cell of a file, a form field): plain decimal notation only."""
    text = (text or "").strip()
    if not _DECIMAL.fullmatch(text):
        raise InputError(f"{shown(text)} is not a number (write it like 12 or 12.5)")
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"{shown(text)} is too large a number")
    return finite(value, low=low, high=high)


def record_id(text) -> int | None:
    """A record's id from a query string or form (ASCII digits, 1 to 2⁶³−1); None otherwise, so
    that the caller answers "no such record" rather than sending the database a number it
    cannot bind (or `int()` a character such as '²' that `str.isdigit` lets through)."""
    text = str(text or "").strip()
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= ID_LIMIT else None


def shown(value) -> str:
    """A value for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def table_rows(header: list[str], records, first: int = 2) -> list[dict]:
    """The records under a table's header as dicts, each with its row number under "_row"
    (counted from `first`), blank rows left out. A row with more filled cells than the header has
    columns is an InputError naming its row: a comma inside a value shifts the cells after it, and
    the row read as it stands would put values under the wrong columns."""
    rows, shifted = [], []
    for number, cells in enumerate(records, start=first):
        if not any(cell not in (None, "") for cell in cells):
            continue
        if any(cell not in (None, "") for cell in cells[len(header):]):
            shifted.append(number)
        rows.append(dict(zip(header, cells, strict=False)) | {"_row": number})
    if shifted:
        named = ", ".join(str(number) for number in shifted[:10]) + (" …" if len(shifted) > 10 else "")
        raise InputError(f"row{'s' if len(shifted) > 1 else ''} {named} {'have' if len(shifted) > 1 else 'has'} "
                         f"more cells than the header's {len(header)} columns (a comma or tab inside a value?)")
    return rows


# --- dates and moments --------------------------------------------------------------------------

def day(value: date) -> date:
    """A date from EARLIEST to LATEST (so a day after it, or a moment on it, is still a date)."""
    if not EARLIEST <= value <= LATEST:
        raise InputError(f"{value.isoformat()} is not a date from {EARLIEST.isoformat()} to {LATEST.isoformat()}")
    return value


def moment(value: datetime) -> datetime:
    """A date and time in UTC, from EARLIEST to LATEST; without an offset it is read in the
    server's time zone (settings.TIME_ZONE)."""
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        in_utc = value.astimezone(UTC)
        day(in_utc.date())
    except (OverflowError, ValueError):  # InputError is a ValueError
        raise InputError(f"{value.isoformat()} is not a time from {EARLIEST.isoformat()} to "
                         f"{LATEST.isoformat()}") from None
    return in_utc


def month(text: str) -> date:
    """YYYY-MM as the month's first day, within EARLIEST to LATEST."""
    text = (text or "").strip()
    found = re.fullmatch(r"(\d{4})-(\d{2})", text, re.ASCII)
    if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
        raise InputError(f"{shown(text)} is not a month as YYYY-MM")
    return day(date(int(found[1]), int(found[2]), 1))


# --- files -------------------------------------------------------------------------------------

def utf8_text(data: bytes) -> str:
    """An uploaded file's bytes as text: UTF-8 (a byte-order mark is dropped) without NUL."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as problem:
        line = data[: problem.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text: byte 0x{data[problem.start]:02x} on line {line} (position {problem.start}) "
                         "cannot be read") from None
    if "\x00" in text:
        position = text.index("\x00")
        raise InputError(f"not text: a NUL character on line {text.count(chr(10), 0, position) + 1} "
                         f"(position {position})")
    return text


def check_zip(data: bytes, *, max_unpacked: int, max_members: int = ZIP_MEMBERS, max_ratio: float = ZIP_RATIO) -> None:
    """A ZIP file checked before anything unpacks it, from its directory alone: a valid archive
    of at most `max_members` parts that unpack to at most `max_unpacked` bytes together, none of
    them packed more than `max_ratio` to 1 (a zip bomb: a few KB that unpack to gigabytes).
    The sizes are those the directory declares; Python's zipfile never unpacks a part past its
    declared size (a part that tries fails its CRC check), so they bound what a reader gets."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as error:
        raise InputError(f"not a valid ZIP archive, as an XLSX or DOCX file is ({error})") from None
    if len(parts) > max_members:
        raise InputError(f"the archive holds {len(parts):,} parts; at most {max_members:,}")
    unpacked = sum(part.file_size for part in parts)
    if unpacked > max_unpacked:
        raise InputError(f"the archive unpacks to {unpacked:,} bytes; at most {max_unpacked:,}")
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > ZIP_RATIO_GRACE and ratio > max_ratio:
            raise InputError(f"the part {shown(part.filename)} unpacks to {ratio:,.0f} times its packed size "
                             f"(at most {max_ratio:,.0f}): it looks like a zip bomb")


# --- JSON ---------------------------------------------------------------------------------------

def load_json(text: str | bytes, *, max_bytes: int, max_depth: int):
    """Parse JSON with limits: at most `max_bytes` long and `max_depth` arrays or objects deep,
    finite numbers, integers of at most INTEGER_DIGITS digits, unique keys, no NUL in texts."""
    if len(text) > max_bytes:
        raise InputError(f"longer than {max_bytes:,} characters")
    try:
        data = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=_float,
                          object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise InputError(f"nested more than {max_depth} levels deep") from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text") from None
    check_tree(data, max_depth)
    return data


def _constant(name: str):
    raise InputError(f"{name} is not a number JSON allows")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > INTEGER_DIGITS:
        raise InputError(f"a whole number of {len(text.lstrip('-')):,} digits (at most {INTEGER_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InputError(f"{shown(text)} is too large a number")
    return value


def _object(pairs: list) -> dict:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise InputError(f"the key {shown(twice)} appears more than once in an object")
    return found


def check_tree(data, max_depth: int) -> None:
    """A parsed document's depth, texts and numbers, without recursion (a tree just under the
    parser's own limit would still exhaust the stack of whatever walks it next: an audit diff,
    a template, a FHIRPath). JSON is checked as it is read; YAML (`.nan`, `.inf`) here."""
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise InputError("a text contains a NUL character")
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise InputError(f"{item} is not a finite number")
        if not isinstance(item, dict | list):
            continue
        if depth + 1 > max_depth:
            raise InputError(f"nested more than {max_depth} levels deep")
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
