"""What the modules tell the governance cycle: the items that need a committee's attention and the
sections of the board's quality pack. One registry for each, here in the platform, so that a
module adds its part from its `connect()` and the governance module reads every part without
importing any module (a module that lands later adds its part without editing governance).

Plain Python, no Django: the contributors do their own queries.

- `register_attention_source(key, label, fn)`: `fn(context)` returns `AttentionItem`s, the things a
  committee should discuss (a measure with a special cause in the wrong direction, overdue RCAs,
  risks above tolerance...). Counts and words only: confidential content stays in its module
  (an OPPE outlier is a count, never a name).
- `register_pack_section(key, title, order, fn)`: `fn(context)` returns a `PackSection`, a list of
  them (a page per key measure: each its own key, e.g. "measure:falls", so each has its own
  narrative), or None when the module has nothing for the month: its HTML (rendered by the module's own template,
  escaped there, inline SVG charts from the chart kit so the same markup prints in the PDF) and its
  figures (label -> number or words), which the pack keeps to show what changed since last month
  and which tests compare with the dashboard's cells.

A contributor that fails does not stop the others: its failure is returned as a problem naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

log = logging.getLogger(__name__)

SEVERITIES = ("information", "attention", "concern")


@dataclass(frozen=True)
class ReportingContext:
    """The period a committee reviews or a pack reports (first and last day, both included), the
    organisation (its pk) and today."""

    organisation_id: int
    first: date
    last: date
    today: date


@dataclass(frozen=True)
class AttentionItem:
    source: str  # the registered source's key, e.g. "safety.sentinel_events"
    title: str  # "2 sentinel events reported in March"
    count: int
    detail: str = ""  # words only: no patient, no person named in a confidential record
    url: str = ""  # where the module shows it (the reader's own rights apply there)
    severity: str = "attention"  # one of SEVERITIES

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")


@dataclass(frozen=True)
class PackSection:
    key: str
    title: str
    html: str  # safe markup from the module's template (escaped there)
    figures: dict[str, float | int | str | None] = field(default_factory=dict)
    order: int = 100


@dataclass(frozen=True)
class _Source:
    key: str
    label: str
    fn: Callable


_ATTENTION: dict[str, _Source] = {}
_SECTIONS: dict[str, tuple[str, int, Callable]] = {}


def register_attention_source(key: str, label: str, fn: Callable[[ReportingContext], list[AttentionItem]]) -> None:
    """A key is registered once (a second `ready()`, as in tests, adds nothing)."""
    _ATTENTION.setdefault(key, _Source(key, label, fn))


def register_pack_section(key: str, title: str, order: int,
                          fn: Callable[[ReportingContext], PackSection | list[PackSection] | None]) -> None:
    _SECTIONS.setdefault(key, (title, order, fn))


def attention_sources() -> list[tuple[str, str]]:
    """(key, label) of every source, in the order registered."""
    return [(s.key, s.label) for s in _ATTENTION.values()]


def pack_section_keys() -> list[tuple[str, str, int]]:
    """(key, title, order) of every section, in the pack's order."""
    return sorted(((k, t, o) for k, (t, o, _) in _SECTIONS.items()), key=lambda s: (s[2], s[0]))


def attention_items(context: ReportingContext) -> tuple[list[AttentionItem], list[str]]:
    """Every source's items for the period, and a problem per source that failed (named)."""
    items, problems = [], []
    for source in _ATTENTION.values():
        try:
            items.extend(source.fn(context))
        except Exception as error:  # one module's failure must not hide the others' items
            log.exception("attention source %s failed", source.key)
            problems.append(f"{source.label}: could not be read ({type(error).__name__}).")
    return items, problems


def pack_sections(context: ReportingContext) -> tuple[list[PackSection], list[str]]:
    """Every section for the period in the pack's order, and a problem per section that failed."""
    sections, problems = [], []
    for key, title, order in pack_section_keys():
        try:
            section = _SECTIONS[key][2](context)
        except Exception as error:
            log.exception("pack section %s failed", key)
            problems.append(f"{title}: could not be made ({type(error).__name__}).")
            continue
        if isinstance(section, PackSection):
            sections.append(section)
        elif section:
            sections.extend(section)
    return sections, problems


def period_words(context: ReportingContext) -> str:
    """The period as a title says it: "March 2026" for a calendar month, else "1 Jan 2026 to 31 Mar 2026"."""
    first, last = context.first, context.last
    next_day = date.fromordinal(last.toordinal() + 1)
    if first.day == 1 and next_day.day == 1 and (first.year, first.month) == (last.year, last.month):
        return f"{first:%B %Y}"
    return f"{first.day} {first:%b %Y} to {last.day} {last:%b %Y}"
