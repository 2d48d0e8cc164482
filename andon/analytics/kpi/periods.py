"""Reporting periods: calendar months (the default), ISO weeks (Monday to Sunday) and quarters.

A period is named by its first day; `end` is the first day of the next period (periods are
half-open, so a case on the last evening of a month belongs to that month and no other).
Dates are UTC calendar dates, as everywhere in the analytics store.
"""

from __future__ import annotations

from datetime import date, timedelta

KINDS = ("month", "week", "quarter")


class PeriodError(ValueError):
    """A period kind or range that cannot be used; the message says which."""


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise PeriodError(f"unknown period {kind!r}: use one of {', '.join(KINDS)}")
    return kind


def start_of(day: date, kind: str) -> date:
    """The first day of the period of `kind` holding `day`."""
    check_kind(kind)
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, day.month, 1)


def next_start(start: date, kind: str) -> date:
    """The first day of the period after the one starting on `start`."""
    check_kind(kind)
    if kind == "week":
        return start + timedelta(days=7)
    months = 3 if kind == "quarter" else 1
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def periods(first: date, last: date, kind: str) -> list[tuple[date, date]]:
    """Every period of `kind` from the one holding `first` to the one holding `last`, as
    (start, end) pairs with `end` exclusive."""
    if last < first:
        raise PeriodError(f"the range ends ({last}) before it starts ({first})")
    found = []
    start = start_of(first, kind)
    while start <= last:
        end = next_start(start, kind)
        found.append((start, end))
        start = end
    return found


def sql_start(column: str, kind: str) -> str:
    """A DuckDB expression giving the first day of the period of a TIMESTAMPTZ `column` (UTC)."""
    unit = {"month": "month", "week": "week", "quarter": "quarter"}[check_kind(kind)]
    # date_trunc('week') is ISO: weeks start on Monday, as start_of does.
    return f"CAST(date_trunc('{unit}', CAST({column} AS DATE)) AS DATE)"
