"""Counting safety events for the analysis pages: counts by category, harm, unit, month and
kind, Pareto ordering, and the Pareto chart as SVG.

Aggregates only: nothing here returns a narrative, a reference or anything else that names an
event, so the results may be shown to everyone with `safety.view_aggregates` (board members
included). Months and date filters are calendar days and months in the organisation's time zone
(`ANDON_TIME_ZONE`), as the measures count events and as every page shows times.

The de-identified export (`record_export`, `export_row`) lives here too: it checks the
capability, fixes the set of events and writes the audit entries before the view streams it.

`pareto(rows)` is generic over (label, count) rows: the categories of events and the
contributing factors named in root cause analyses share it and the chart.
"""

import hashlib
import json
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from andon.platform import audit, charts, permissions
from andon.platform.models import Facility, Organisation, Unit

from . import taxonomy as taxonomies
from .models import KINDS_WITH_HARM, SAFETY_KINDS, ContributingFactor, Investigation, Kind, SafetyEvent

AGGREGATES = "safety.view_aggregates"


@dataclass(frozen=True)
class Filters:
    """What the viewer narrowed the events to. Dates are inclusive local days; a unit includes
    the units below it."""

    since: date | None = None
    until: date | None = None
    facility: Facility | None = None
    unit: Unit | None = None

    def as_query(self) -> dict:
        """The filters as query-string parameters (for the chart and the CSV links)."""
        query = {}
        if self.since:
            query["from"] = self.since.isoformat()
        if self.until:
            query["to"] = self.until.isoformat()
        if self.facility:
            query["facility"] = str(self.facility.pk)
        if self.unit:
            query["unit"] = str(self.unit.pk)
        return query


@dataclass(frozen=True)
class ParetoRow:
    label: str
    count: int
    cumulative: int
    cumulative_percent: float  # 0..100


def day_start(day: date) -> datetime:
    """Midnight starting `day` in the organisation's time zone."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())


def _units_in_scope(user, capability: str) -> list[int]:
    return sorted(permissions.units_where(user, capability).order_by().values_list("pk", flat=True))


def events_in_scope(user, capability: str = AGGREGATES):
    """Events in the units where the user holds `capability` (by unit, never by reporter).

    The units are read first and passed as a list of ids: with a subquery PostgreSQL cannot
    estimate how many units match (the unit tables are too small for autovacuum to analyse)
    and scans the events unit by unit through the index, several times slower than one scan.
    """
    return SafetyEvent.objects.filter(unit__in=_units_in_scope(user, capability))


def apply_filters(events, filters: Filters):
    if filters.since:
        events = events.filter(occurred_at__gte=day_start(filters.since))
    if filters.until:
        events = events.filter(occurred_at__lt=day_start(filters.until + timedelta(days=1)))
    if filters.facility:
        events = events.filter(unit__facility=filters.facility)
    if filters.unit:
        events = events.filter(unit__path__startswith=filters.unit.path)
    return events


def safety_events_only(events):
    """Excellent-care reports are recognition, not safety events: they are counted by kind only."""
    return events.filter(kind__in=[str(kind) for kind in SAFETY_KINDS])


def pareto(rows) -> list[ParetoRow]:
    """Rows of (label, count) in Pareto order: descending count, ties by label; with the
    cumulative count and cumulative percent of the total."""
    ordered = sorted(((str(label), int(count)) for label, count in rows), key=lambda row: (-row[1], row[0]))
    total = sum(count for _, count in ordered)
    result, running = [], 0
    for label, count in ordered:
        running += count
        result.append(ParetoRow(label, count, running, (100.0 * running / total) if total else 0.0))
    return result


def _counts(events, field: str) -> dict:
    return {row[field]: row["n"] for row in events.order_by().values(field).annotate(n=Count("pk"))}


def by_category(events, taxonomy) -> list[ParetoRow]:
    """Categories with at least one event, labelled from the taxonomy, in Pareto order."""
    return _category_rows(_counts(events, "category"), taxonomy)


def _category_rows(counts: dict, taxonomy) -> list[ParetoRow]:
    return pareto((taxonomy.category_label(code), n) for code, n in counts.items())


def by_harm(events, taxonomy) -> list[tuple[str, int]]:
    """Incidents by harm, in the order of the harm scale (every level, zero included); codes
    no longer on the scale follow."""
    incidents = events.filter(kind__in=[str(kind) for kind in KINDS_WITH_HARM])
    return _harm_rows(_counts(incidents, "harm"), taxonomy)


def _harm_rows(counts: dict, taxonomy) -> list[tuple[str, int]]:
    counts = dict(counts)
    rows = [(level["label"], counts.pop(level["code"], 0)) for level in taxonomy.harm_scale]
    rows += [(taxonomy.harm_label(code) or "Not recorded", n) for code, n in sorted(counts.items())]
    return rows


def by_unit(events) -> list[tuple[str, int]]:
    """Units with at least one event: descending count, ties by label."""
    return _unit_rows(_counts(events, "unit"))


def _unit_rows(counts: dict) -> list[tuple[str, int]]:
    if not counts:
        return []
    units = Unit.objects.select_related("facility").in_bulk(list(counts))
    rows = [(f"{units[pk].facility.code}/{units[pk].code} · {units[pk].name}", n) for pk, n in counts.items()]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def by_month(events) -> list[tuple[date, int]]:
    """Events by calendar month of occurrence in the organisation's time zone (a fall at 23:30 on
    31 January counts in January there, whatever the hour in UTC), from the first month to the last with
    events, months without events included (count 0)."""
    counts = {}
    for row in (events.order_by().annotate(month=TruncMonth("occurred_at", tzinfo=timezone.get_default_timezone()))
                .values("month").annotate(n=Count("pk"))):
        month = row["month"]
        key = date(month.year, month.month, 1)
        counts[key] = counts.get(key, 0) + row["n"]
    if not counts:
        return []
    first, last = min(counts), max(counts)
    rows, month = [], first
    while month <= last:
        rows.append((month, counts.get(month, 0)))
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return rows


def by_kind(events) -> list[tuple[str, int]]:
    """Every kind of report, in the order of the form, zero included."""
    return _kind_rows(_counts(events, "kind"))


def _kind_rows(counts: dict) -> list[tuple[str, int]]:
    return [(label, counts.get(code, 0)) for code, label in Kind.choices]


@dataclass(frozen=True)
class Summary:
    total_reports: int  # every kind, excellent care included
    safety_events: int  # the events counted by category, harm, unit and month
    categories: list
    harm: list
    units: list
    months: list
    kinds: list


def _add(counts: dict, key, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def summarise(events, taxonomy) -> Summary:
    """Every table of the analysis page for an already scoped and filtered queryset.

    The same tables as by_category, by_harm, by_unit, by_kind and by_month, from two scans of
    the events instead of seven: one count by (kind, category, harm, unit), added up here (a
    few thousand rows at most), and the months.
    """
    safe_kinds = {str(kind) for kind in SAFETY_KINDS}
    harm_kinds = {str(kind) for kind in KINDS_WITH_HARM}
    kinds, categories, harms, units = {}, {}, {}, {}
    total = safety_total = 0
    for row in events.order_by().values("kind", "category", "harm", "unit").annotate(n=Count("pk")):
        n = row["n"]
        total += n
        _add(kinds, row["kind"], n)
        if row["kind"] not in safe_kinds:
            continue
        safety_total += n
        _add(categories, row["category"], n)
        _add(units, row["unit"], n)
        if row["kind"] in harm_kinds:
            _add(harms, row["harm"], n)
    return Summary(
        total_reports=total, safety_events=safety_total,
        categories=_category_rows(categories, taxonomy), harm=_harm_rows(harms, taxonomy), units=_unit_rows(units),
        months=by_month(safety_events_only(events)), kinds=_kind_rows(kinds),
    )


@dataclass(frozen=True)
class FactorRow:
    """One fishbone category in the Pareto of contributing factors."""

    label: str
    count: int  # factors named in this category
    cumulative: int
    cumulative_percent: float
    investigations: int  # root cause analyses that named at least one factor here


@dataclass(frozen=True)
class FactorSummary:
    investigations: int  # root cause analyses of the counted events
    completed: int
    factors: int
    rows: list[FactorRow]


def factor_summary(events, taxonomy) -> FactorSummary:
    """Contributing factors named in the root cause analyses of `events` (already scoped and
    filtered), counted by fishbone category in Pareto order. Codes of bones that a later
    taxonomy dropped keep their code as label rather than disappear."""
    in_events = events.order_by().values("pk")
    investigations = Investigation.objects.filter(event__in=in_events)
    counts = (ContributingFactor.objects.filter(investigation__event__in=in_events).order_by().values("category")
              .annotate(n=Count("pk"), rcas=Count("investigation", distinct=True)))
    labelled = {taxonomy.factor_label(row["category"]): row for row in counts}
    rows = [FactorRow(row.label, row.count, row.cumulative, row.cumulative_percent, labelled[row.label]["rcas"])
            for row in pareto((label, row["n"]) for label, row in labelled.items())]
    return FactorSummary(investigations=investigations.count(),
                         completed=investigations.exclude(completed_at=None).count(),
                         factors=sum(row.count for row in rows), rows=rows)


@dataclass(frozen=True)
class Analysis:
    """Everything the analysis page, its charts and the API show for one scope and set of filters."""

    filters: Filters
    summary: Summary
    factors: FactorSummary

    def pareto(self, dimension: str) -> list[ParetoRow]:
        """The rows of one Pareto chart: "category" (events) or "factors" (contributing factors)."""
        if dimension == "category":
            return self.summary.categories
        if dimension == "factors":
            return [ParetoRow(r.label, r.count, r.cumulative, r.cumulative_percent) for r in self.factors.rows]
        raise KeyError(dimension)


# Aggregating every event in scope costs a full scan (~0.3 s of database time at 200,000
# events), and the page, its two charts and the API ask for the same numbers. The results are
# kept in the shared cache, keyed by the units in scope, the filters, the taxonomy version and a
# generation that every change to what is counted replaces (signals below). They are aggregates
# only, the same for everyone with the same scope, so people with the same scope share them.
# CACHE_URL must name a cache that every server process shares (the file cache by default,
# Redis in larger installations), as sign-in throttling already requires.
CACHE_SECONDS = 600
_GENERATION = "andon:safety:aggregates:generation"


def _generation() -> str:
    value = cache.get(_GENERATION)
    if value is None:
        cache.add(_GENERATION, secrets.token_hex(8), None)
        value = cache.get(_GENERATION, "")
    return value


_batch = threading.local()


def forget_aggregates(instance=None, created=False, **_ignored) -> None:
    """What is counted changed: every kept analysis is out of date.

    Replaced at once (later reads in this transaction see the change) and again when the
    transaction commits: a page computed by another process between the two read the old rows
    and stored them under the first replacement.

    Not for a new anonymous report: the cache (a file by default) would keep the time of the
    change, which is the time it was sent. It is counted when the kept analyses expire
    (CACHE_SECONDS) or at the next change, whichever comes first.
    """
    if getattr(_batch, "open", False):
        return  # one_change forgets once, at its end
    if created and getattr(instance, "is_anonymous", False):
        return
    cache.set(_GENERATION, secrets.token_hex(8), None)
    transaction.on_commit(lambda: cache.set(_GENERATION, secrets.token_hex(8), None))


@contextmanager
def one_change():
    """Many changes to what is counted (an import of thousands of events) make one: the kept
    analyses are forgotten once, when they are done, not twice a row (each a cache write)."""
    if getattr(_batch, "open", False):
        yield
        return
    _batch.open = True
    try:
        yield
    finally:
        _batch.open = False
    forget_aggregates()


def analyse(user, filters: Filters) -> Analysis:
    """The aggregates of the events in the user's scope (`safety.view_aggregates`), filtered."""
    permissions.check(user, AGGREGATES)
    units = _units_in_scope(user, AGGREGATES)
    tax = taxonomies.current()
    generation = _generation()  # read before counting: a change while counting makes the result stale at once
    key = "andon:safety:analysis:" + hashlib.sha256(
        json.dumps([generation, tax.version, units, filters.as_query(), str(timezone.get_default_timezone())]).encode()
    ).hexdigest()
    found = cache.get(key)
    if found is None:
        events = apply_filters(SafetyEvent.objects.filter(unit__in=units), filters)
        found = (summarise(events, tax), factor_summary(safety_events_only(events), tax))
        cache.set(key, found, CACHE_SECONDS)
    return Analysis(filters, *found)


def describe(filters: Filters) -> str:
    """The filters in words, for the audit trail and the chart's title."""
    parts = []
    if filters.since:
        parts.append(f"from {filters.since.isoformat()}")
    if filters.until:
        parts.append(f"to {filters.until.isoformat()}")
    if filters.facility:
        parts.append(f"facility {filters.facility.code}")
    if filters.unit:
        parts.append(f"unit {filters.unit.facility.code}/{filters.unit.code} and below")
    return ", ".join(parts) or "no filters"


def filter_choices(user, capability: str = AGGREGATES):
    """(facilities, units) the viewer may narrow to: those of their scope."""
    units = permissions.units_where(user, capability).select_related("facility").order_by("facility__code", "path")
    facilities = Facility.objects.filter(Q(units__in=units)).distinct().order_by("code")
    return facilities, units


# --- export (de-identified: no reporter) ---------------------------------------------------------

EXPORT = "safety.export_events"
EXPORT_COLUMNS = [
    "reference", "kind", "category", "category_label", "unit", "facility", "occurred_at", "reported_at", "harm",
    "status", "sac_scheme", "sac_score", "is_sentinel", "review", "narrative", "details",
    # Who was affected and where exactly; never the patient's identifier or the witnesses (de-identified).
    "person_affected", "location_detail",
    # The PSES boundary (DOMAIN.md §9): whether the row is patient safety work product.
    "work_product", "pses_entered_at", "pses_removed_at",
]
# Below this many events every exported event gets its own read entry in the audit trail (so
# "who has read event X" includes exports); above it only the summary entry is written.
PER_EVENT_AUDIT_LIMIT = 10_000


def _iso(moment) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


def export_row(event, taxonomy) -> dict:
    return {
        "reference": event.reference, "kind": event.kind, "category": event.category,
        "category_label": taxonomy.category_label(event.category), "unit": event.unit.code,
        "facility": event.unit.facility.code, "occurred_at": _iso(event.occurred_at),
        "reported_at": _iso(event.reported_at), "harm": event.harm, "status": event.status,
        "sac_scheme": event.sac_scheme, "sac_score": event.sac_score,
        "is_sentinel": "true" if event.is_sentinel else "false", "review": event.review,
        "narrative": event.narrative, "details": event.details or {},
        "person_affected": event.person_affected, "location_detail": event.location_detail,
        "work_product": "true" if event.is_work_product else "false",
        "pses_entered_at": _iso(event.pses_entered_at), "pses_removed_at": _iso(event.pses_removed_at),
    }


def export_rows(ids, taxonomy):
    """The rows of a de-identified export of the events `record_export` fixed, in its order,
    read in chunks (for a streamed download)."""
    for chunk in _chunks(ids):
        found = SafetyEvent.objects.select_related("unit", "unit__facility").in_bulk(chunk)
        yield from (export_row(found[pk], taxonomy) for pk in chunk if pk in found)


def export_filename() -> str:
    return f"safety-events-{date.today():%Y-%m-%d}.csv"


@transaction.atomic
def record_export(user, filters: Filters):
    """Check, fix the set of events to export and record the export in the audit trail.

    Returns (count, the events' ids in the file's order) for `export_rows`. The set is fixed
    by its ids here so that events reported while the file streams are neither sent nor left
    out of the trail (ids are random, models.unordered_id: no highest id marks "so far"). One
    entry on the organisation says who exported how many events with which filters; below
    PER_EVENT_AUDIT_LIMIT each event also gets its own read entry.
    """
    permissions.check(user, EXPORT)
    events = apply_filters(events_in_scope(user, EXPORT), filters)
    ids = list(events.order_by("occurred_at", "pk").values_list("pk", flat=True))
    count = len(ids)
    reason = f"exported {count} safety events ({describe(filters)})"
    units = permissions.units_where(user, EXPORT)
    for organisation in Organisation.objects.filter(facilities__units__in=units).distinct():
        audit.record_read(organisation, actor=user, reason=reason)
    if count < PER_EVENT_AUDIT_LIMIT:
        for chunk in _chunks(ids):
            for event in SafetyEvent.objects.filter(pk__in=chunk).only("pk", "reference").order_by("pk"):
                audit.record_read(event, actor=user, reason=reason)
    return count, ids


def _chunks(ids, size=2000):
    # Bounded IN lists (SQLite binds at most 32,766 parameters in a statement).
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# --- the chart (drawn by the platform's chart kit) ---------------------------------------------


def pareto_chart(rows: list[ParetoRow], title: str, noun: str = "events") -> charts.Chart:
    """A Pareto chart: bars in descending order, the cumulative percent as a line with points,
    an 80% reference line, both axes labelled, and a <title>, <desc> and table for screen readers."""
    total = rows[-1].cumulative if rows else 0
    summary = "; ".join(f"{row.label}: {row.count} ({row.cumulative_percent:.1f}% cumulative)" for row in rows)
    desc = f"Pareto chart of {total} {noun}. " + (summary + "." if rows else f"No {noun} match the filters.")
    return charts.pareto_chart(rows, title=title, desc=desc, noun=noun)


def pareto_svg(rows: list[ParetoRow], title: str, noun: str = "events") -> str:
    return pareto_chart(rows, title, noun).svg
