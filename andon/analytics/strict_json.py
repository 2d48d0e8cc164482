"""Strict JSON: what RFC 8259 allows and nothing more, nested to a bounded depth.

    data = strict_json.loads(text, max_depth=100)   # JSONError (a ValueError) says what is wrong

Python's `json` and DuckDB's reader both accept more than JSON, and what they let through
breaks a later step: `NaN`, `Infinity` and `-Infinity` (both; DuckDB also `nan`, `inf` and
trailing commas), numbers that overflow to infinity (`1e999999`), integers Python cannot turn
into text (over 4,300 digits), duplicate keys (one value silently wins: which one differs by
reader), escapes of half a UTF-16 surrogate pair (Python makes a string that cannot be
written as UTF-8; DuckDB refuses it) and nesting as deep as memory allows (Python then raises RecursionError wherever the
value is read, walked or compared). `loads` refuses each of these.

The depth is measured on the text before parsing, without recursion (strings removed, then the
innermost bracket pairs peeled a level at a time), so a 100,000-deep array costs a few passes
over its brackets and never reaches the recursive parser.
"""

from __future__ import annotations

import json
import re

DEFAULT_MAX_DEPTH = 100  # FHIR resources nest about 10 deep; ELM expression trees about 130
MAX_NUMBER_CHARS = 400  # longer than any double's digits (a longer number overflows or is noise)

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]]+")
_PAIR = re.compile(r"\[\]")
_BRACKETS = str.maketrans("{}", "[]")  # only the shape counts for depth
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONError(ValueError):
    """Text that is not strict JSON, or nests too deep: the message says which and where.
    `syntax` is true when the text is not JSON at all (what any JSON reader refuses)."""

    def __init__(self, message: str, syntax: bool = False):
        super().__init__(message)
        self.syntax = syntax


class TooDeep(JSONError):
    """Nested deeper than the limit (JSON, but more than a reader here will take)."""


def check_depth(text: str, max_depth: int) -> None:
    """JSONError unless `text` nests at most `max_depth` levels of arrays and objects (or its
    brackets do not balance, a syntax error), without parsing it."""
    if text.count("[") + text.count("{") <= max_depth:
        return  # not even that many brackets (strings included): cannot be deeper
    shape = _NOT_BRACKET.sub("", _STRING.sub("", text).translate(_BRACKETS))
    for _ in range(max_depth):
        peeled = _PAIR.sub("", shape)  # one level: every innermost pair at once
        if not peeled:
            return
        if peeled == shape:  # only unmatched brackets left
            raise JSONError("brackets that do not balance", syntax=True)
        shape = peeled
    raise TooDeep(f"nested deeper than {max_depth} levels")


def _constant(name: str):
    raise JSONError(f"{name} is not a JSON number")


def _out_of_range(text: str) -> JSONError:
    shown = text if len(text) <= 40 else text[:40] + "…"
    return JSONError(f"the number {shown} is out of range (it overflows to infinity)")


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JSONError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _out_of_range(text)
    return value


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:  # before int(): Python refuses over 4,300 digits, slowly
        raise JSONError(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise _out_of_range(text) from None
    return value


def _object(pairs: list) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise JSONError(f"duplicate key {json.dumps(key)[:80]}")
            seen.add(key)
    return obj


def _decoder(object_pairs_hook) -> json.JSONDecoder:
    return json.JSONDecoder(parse_constant=_constant, parse_float=_float, parse_int=_int, object_pairs_hook=object_pairs_hook)


_DECODER = _decoder(_object)  # made once: json.loads with options makes a decoder per call


def loads(text: str, max_depth: int = DEFAULT_MAX_DEPTH, object_pairs_hook=None):
    """The value of JSON `text`; `JSONError` when it is not strict JSON or nests deeper than
    `max_depth`. `object_pairs_hook` replaces the duplicate-key check (for a reader that
    resolves duplicates itself)."""
    check_depth(text, max_depth)
    decoder = _DECODER if object_pairs_hook is None else _decoder(object_pairs_hook)
    try:
        value = decoder.decode(text)
        if _SURROGATE_ESCAPE.search(text):  # rare: only then is the value written out to check
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except JSONError:
        raise
    except UnicodeEncodeError:
        raise JSONError("a \\u escape of half a surrogate pair (not a character)") from None
    except json.JSONDecodeError as error:
        raise JSONError(f"{error.msg} at character {error.pos}", syntax=True) from None
    except (ValueError, RecursionError) as error:  # the depth check makes RecursionError unreachable
        raise JSONError(str(error)) from None


def problem(text: str, max_depth: int = DEFAULT_MAX_DEPTH) -> str | None:
    """Why `text` is not strict JSON within `max_depth` levels, or None when it is."""
    try:
        loads(text, max_depth)
    except JSONError as error:
        return str(error)
    return None
