"""Reading stored results for pages, the API and exports: a measure's series and chart, the
dashboard's tiles by IOM domain, the equity and unit comparisons, the drill-down to patients
(audited), and the FHIR MeasureReport and CSV forms. Only `services` calls in here.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from django.db.models import Max

from andon.analytics import kpi
from andon.analytics.kpi import periods as period_math
from andon.analytics.stats import poisson_interval, wilson
from andon.platform import audit, permissions
from andon.platform.models import Unit

from . import cases, charts, compute, definitions
from .models import Annotation, Domain, Measure, MeasureResult, PeerResult, Scoring, SourceKind

STRATA_LABELS = {"age_band": "Age band", "sex": "Sex", "race": "Race", "ethnicity": "Ethnicity", "payer": "Payer"}


def series(measure: Measure, *, kind: str = "month", unit: Unit | None = None, stratum: str = "", value: str = ""):
    """(period start, numerator, denominator, value, cases) per period from the first stored to
    the last, a period without a result given as (start, None, None, None, 0)."""
    rows = {r.period_start: r for r in MeasureResult.objects.filter(
        measure=measure, period_kind=kind, unit=unit, stratum=stratum, stratum_value=value)}
    if not rows:
        return []
    found = []
    for start, _end in period_math.periods(min(rows), max(rows), kind):
        row = rows.get(start)
        found.append((start, row.numerator, row.denominator, row.value, row.cases) if row else (start, None, None, None, 0))
    return found


def chart(measure: Measure, *, kind: str = "month", unit: Unit | None = None, stratum: str = "", value: str = ""):
    """(ChartView, annotations) of a measure's series."""
    found = series(measure, kind=kind, unit=unit, stratum=stratum, value=value)
    notes = list(Annotation.objects.filter(measure=measure).select_related("created_by"))
    view = charts.spc_view(measure, [(s, n, d, v) for s, n, d, v, _ in found], [a.date for a in notes if a.rebase], kind)
    return view, notes


@dataclass
class Tile:
    measure: Measure
    view: charts.ChartView | None
    spark: object = None  # the kit's sparkline Chart of the values shown

    @property
    def latest(self):
        return self.view.last if self.view else None


@dataclass
class Place:
    """What a dashboard shows: the whole organisation's cells, or the total of some units'
    (a unit and those below it; a hospital; the units a viewer may see), in a month range."""

    label: str
    scope: permissions.Scope
    roots: list[Unit] | None  # None: the organisation's own cells; else the topmost units added up
    first: date | None = None
    last: date | None = None

    @property
    def unit(self) -> Unit | None:
        return self.roots[0] if self.roots and len(self.roots) == 1 else None


def place_for(user, *, unit: Unit | None = None, facility=None, first: date | None = None,
              last: date | None = None) -> Place:
    """The dashboard's scope (`permissions.scope_for`: a unit or hospital outside the viewer's
    grants is refused): a unit; a hospital (the units of it the viewer may see, added up: the whole
    hospital for those who hold it); or, with neither, the whole organisation for those who see it
    all and the viewer's own units for the others."""
    scope = permissions.scope_for(user, "measures.view", unit=unit, facility=None if unit else facility)
    if unit is not None:
        return Place(unit.name, scope, [unit], first, last)
    if facility is None and scope.everything:
        return Place("Whole organisation", scope, None, first, last)
    units = list(scope.units.select_related("facility"))
    keys = {u.pk for u in units}
    roots = [u for u in units if u.parent_id not in keys]
    if facility is not None:
        whole = permissions.can(user, "measures.view", facility)
        return Place(f"{facility.name}" + (" (whole hospital)" if whole else " (your units)"), scope, roots, first, last)
    if len(roots) == 1:
        return Place(roots[0].name, scope, roots, first, last)
    hospitals = {u.facility_id: u.facility for u in roots}
    if len(hospitals) == 1 and permissions.can(user, "measures.view", next(iter(hospitals.values()))):
        return Place(f"{next(iter(hospitals.values())).name} (whole hospital)", scope, roots, first, last)
    return Place("Your units", scope, roots, first, last)


def _place_series(measures, place: Place) -> dict[int, list[tuple]]:
    """(period start, numerator, denominator, value) per month with results, per measure: the
    stored cells of the organisation or of one unit, or those of several units added up (a
    median from their kept cases: a median of medians would be neither)."""
    rows = MeasureResult.objects.filter(measure__in=measures, period_kind="month", stratum="")
    if place.roots is None:
        rows = rows.filter(unit=None)
    else:
        rows = rows.filter(unit__in=place.roots)
    if place.first:
        rows = rows.filter(period_start__gte=place.first)
    if place.last:
        rows = rows.filter(period_start__lte=place.last)
    summed: dict[int, dict[date, list]] = {}
    for measure_id, start, numerator, denominator, value in rows.values_list(
            "measure_id", "period_start", "numerator", "denominator", "value"):
        cell = summed.setdefault(measure_id, {}).setdefault(start, [0.0, 0.0, value, 0])
        cell[0] += numerator
        cell[1] += denominator
        cell[3] += 1
    found = {}
    for measure in measures:
        cells = summed.get(measure.pk, {})
        series = []
        for start, (numerator, denominator, value, parts) in sorted(cells.items()):
            if parts > 1:
                value = _summed_value(measure, start, numerator, denominator, place)
            series.append((start, numerator, denominator, value))
        found[measure.pk] = series
    return found


def _summed_value(measure: Measure, start: date, numerator: float, denominator: float, place: Place):
    if measure.scoring != Scoring.CONTINUOUS:
        return compute.score(measure, numerator, denominator)
    if definitions.aggregate(measure.definition) != "median":
        return numerator / denominator if denominator else None
    table = cases.kept(measure.key, "month", start)
    if table is None:
        return None
    keys = set(place.scope.unit_keys() or [])
    values = [v for v, key in zip(table["value"].to_pylist(), table["unit_key"].to_pylist(), strict=True)
              if v is not None and key in keys]
    return statistics.median(values) if values else None


def dashboard(place: Place) -> list[tuple[str, str, list[Tile]]]:
    """(domain code, label, tiles) for the six IOM domains, each tile a listed measure with its
    monthly chart for the place and months asked for, and a sparkline of its values."""
    tiles: dict[str, list[Tile]] = {code: [] for code in Domain.values}
    measures = [m for m in Measure.objects.filter(active=True).order_by("title") if m.listed]
    series = _place_series(measures, place)
    rebases: dict[int, list[date]] = {}
    for measure_id, on in Annotation.objects.filter(measure__in=measures, rebase=True).values_list("measure_id", "date"):
        rebases.setdefault(measure_id, []).append(on)
    for measure in measures:
        found = series[measure.pk]
        if not found:
            tiles[measure.domain].append(Tile(measure, None))
            continue
        filled = {start: row for start, *row in found}
        full = [(start, *filled.get(start, (None, None, None)))
                for start, _end in period_math.periods(found[0][0], found[-1][0], "month")]
        view = charts.spc_view(measure, full, rebases.get(measure.pk, []), "month")
        tiles[measure.domain].append(Tile(measure, view, charts.sparkline(measure, view, place.label)))
    return [(code, label, tiles[code]) for code, label in Domain.choices]


def organisation_place(first: date, last: date) -> Place:
    """The whole organisation's cells over a range of months, read for no one in particular: the
    board's pack is aggregate, and its readers are let in by the governance module's policy."""
    return Place("Whole organisation", permissions.Scope("measures.view", Unit.objects.all(), everything=True),
                 None, first, last)


def last_computed(measure: Measure):
    return MeasureResult.objects.filter(measure=measure).aggregate(at=Max("computed_at"))["at"]


@dataclass
class Comparison:
    label: str
    numerator: float
    denominator: float
    value: float | None
    low: float | None  # 95 % interval in the measure's unit
    high: float | None


def _window(measure: Measure, months: int) -> tuple[date, date] | None:
    newest = MeasureResult.objects.filter(measure=measure, period_kind="month").aggregate(m=Max("period_start"))["m"]
    if newest is None:
        return None
    first = newest
    for _ in range(months - 1):
        first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    return first, newest


def _interval(measure: Measure, numerator: float, denominator: float):
    if not denominator:
        return None, None
    if measure.scoring == Scoring.PROPORTION and numerator == int(numerator) and denominator == int(denominator):
        low, high = wilson(int(numerator), int(denominator))
        return low * measure.multiplier, high * measure.multiplier
    if measure.scoring in (Scoring.RATE, Scoring.RATIO) and numerator == int(numerator):
        low, high = poisson_interval(int(numerator))
        return low / denominator * measure.multiplier, high / denominator * measure.multiplier
    return None, None


def compare(measure: Measure, *, stratum: str = "", units=None, unit_kind: str = Unit.Kind.WARD,
            months: int = 12, window: tuple[date, date] | None = None) -> tuple[list[Comparison], tuple | None]:
    """Each stratum value (or each unit of one kind, with `stratum` empty: wards with wards, a
    department's cell holding its wards' cases) over the last `months` months with results:
    totals, value and 95 % interval (Wilson for a proportion, exact Poisson for a rate). `units`
    limits the unit rows to those a viewer may see (required for them: none is not every unit).
    `window` (first and last month) replaces the last `months` (the board pack's one month)."""
    if not stratum and units is None:
        raise TypeError("compare units with the units the viewer may see")
    window = window or _window(measure, months)
    if window is None:
        return [], None
    rows = MeasureResult.objects.filter(measure=measure, period_kind="month", period_start__gte=window[0],
                                        period_start__lte=window[1], stratum=stratum)
    rows = rows.filter(unit=None) if stratum else rows.exclude(unit=None).filter(unit__in=units, unit__kind=unit_kind)
    totals: dict[str, list[float]] = {}
    unit_of: dict[str, int] = {}
    for row in rows.select_related("unit"):
        label = row.stratum_value if stratum else str(row.unit)
        unit_of[label] = row.unit_id
        total = totals.setdefault(label, [0.0, 0.0])
        total[0] += row.numerator
        total[1] += row.denominator
    medians = (_window_medians(measure, window, stratum, unit_of) if measure.scoring == Scoring.CONTINUOUS
               and definitions.aggregate(measure.definition) == "median" else None)
    found = []
    for label, (numerator, denominator) in sorted(totals.items()):
        value = numerator / denominator * measure.multiplier if denominator else None
        if measure.scoring == Scoring.CONTINUOUS:
            value = numerator / denominator if denominator else None
        if medians is not None:
            value = medians.get(label)
        found.append(Comparison(label, numerator, denominator, value, *_interval(measure, numerator, denominator)))
    return found, window


def _window_medians(measure: Measure, window, stratum: str, unit_of: dict[str, int]) -> dict[str, float]:
    """A median measure's value over the window: the median of the cases kept for its months
    (a median of monthly medians, or of sums, would be neither), by stratum value or by unit
    (a unit's cases with those of the units below it)."""
    column = stratum or "unit_key"
    values: dict[str, list[float]] = {}
    for start, _end in period_math.periods(window[0], window[1], "month"):
        table = cases.kept(measure.key, "month", start)
        if table is None:
            continue
        kept = table.select(["value", column]).to_pydict()
        for value, key in zip(kept["value"], kept[column], strict=True):
            if value is not None:
                values.setdefault(str(key), []).append(value)
    if not stratum:
        lineage = compute.lineages()
        values = {label: [v for pk, line in lineage.items() if unit in line for v in values.get(str(pk), [])]
                  for label, unit in unit_of.items()}
    return {label: statistics.median(found) for label, found in values.items() if found}


def peers_in(measure: Measure, window: tuple[date, date] | None) -> list[Comparison]:
    """Peer hospitals' results with counts for periods inside the window (from their imported
    summary MeasureReports), summed per peer."""
    if window is None:
        return []
    last_day = period_math.next_start(window[1], "month").toordinal() - 1
    totals: dict[str, list[float]] = {}
    for peer in PeerResult.objects.filter(measure=measure, period_start__gte=window[0], numerator__isnull=False,
                                          denominator__isnull=False):
        # Imports refuse non-finite counts; one stored before they did must not break the page.
        if peer.period_end.toordinal() <= last_day and math.isfinite(peer.numerator + peer.denominator):
            total = totals.setdefault(f"Peer: {peer.peer}", [0.0, 0.0])
            total[0] += peer.numerator
            total[1] += peer.denominator
    return [Comparison(label, n, d, n / d * measure.multiplier if d else None, *_interval(measure, n, d))
            for label, (n, d) in sorted(totals.items())]


# --- drill-down ---------------------------------------------------------------------------------

class DrillDownUnavailable(Exception):
    """A result whose cases cannot be listed (its source keeps no patients, or no data)."""


def patients_scope(user, unit: Unit | None = None) -> permissions.Scope:
    """The units whose patients the user may see behind a cell: the unit asked for (refused
    outside their grants) and those below it, or, with none asked for, the units where they may
    see patients. Never every patient because no unit was named."""
    return permissions.scope_for(user, "measures.view_patients", unit=unit)


def cases_behind(user, measure: Measure, *, period_start: date, kind: str = "month", unit: Unit | None = None,
                 stratum: str = "", value: str = "") -> list[dict]:
    """The patients behind one stored cell, as kept when it was computed, for those who may see
    them (`patients_scope`); every viewing is audited with the cell it was for."""
    scope = patients_scope(user, unit)
    if measure.source_kind not in (SourceKind.SQL, SourceKind.ECQM):
        raise DrillDownUnavailable(f"{measure.title} is counted from {measure.get_source_kind_display().lower()}, "
                                   "which name no patients")
    table = cases.kept(measure.key, kind, period_start)
    if table is None:
        raise DrillDownUnavailable("No cases are kept for this period: it has not been computed since patients were kept.")
    found = kpi.cases_in(table, unit_keys=scope.unit_keys(), stratum=stratum, stratum_value=value)
    audit.record_read(measure, actor=user, reason=(
        f"patients behind {period_start:%Y-%m} {scope}" + (f", {stratum} = {value}" if stratum else "")))
    return found


@dataclass
class Review:
    """One page of the patients behind a cell, for chart review (kpi.review.case_page), with the
    filters it answers and the units whose patients the viewer may see there."""

    rows: list[dict]
    total: int
    page: int
    pages: int
    scope: permissions.Scope
    store_missing: bool


REVIEW_PAGE = 50


def _review(user, measure: Measure, *, period_start: date, kind: str, unit: Unit | None, stratum: str, value: str,
            counted: str, search: str, sort: str, descending: bool, page: int | None, what: str):
    from andon.analytics.kpi import review

    from .services import open_store

    scope = patients_scope(user, unit)
    if measure.source_kind not in (SourceKind.SQL, SourceKind.ECQM):
        raise DrillDownUnavailable(f"{measure.title} is counted from {measure.get_source_kind_display().lower()}, "
                                   "which name no patients")
    table = cases.kept(measure.key, kind, period_start)
    if table is None:
        raise DrillDownUnavailable("No cases are kept for this period: it has not been computed since patients were kept.")
    unit_keys = scope.unit_keys()
    if unit_keys is not None:
        table = table.filter(pc.is_in(table["unit_key"], pa.array(list(unit_keys), pa.string())))
    store = open_store()
    try:
        patients, encounters = review.chart_facts(store, table["patient_id"].to_pylist(),
                                                  table["encounter_id"].to_pylist())
    finally:
        if store is not None:
            store.close()
    names = {str(pk): name for pk, name in Unit.objects.filter(
        pk__in={int(k) for k in pc.unique(table["unit_key"]).to_pylist() if k and k.isdigit()}).values_list("pk", "name")}

    def listed(page):
        return review.case_page(table, patients, encounters, unit_keys=None, unit_names=names, stratum=stratum,
                                stratum_value=value, counted=counted, search=search, sort=sort, descending=descending,
                                offset=(page - 1) * REVIEW_PAGE if page else 0, limit=REVIEW_PAGE if page else None)

    found = listed(page)
    last = max(1, math.ceil(found.total / REVIEW_PAGE))
    if page and page > last:  # a page past the last (the list shrank, or a typed URL) is the last
        page = last
        found = listed(page)
    filters = [f"{period_start:%Y-%m} {scope}"]
    if stratum:
        filters.append(f"{stratum} = {value}")
    if counted:
        filters.append(f"counted: {counted}")
    if search.strip():
        filters.append(f"search: {search.strip()!r}")
    filters.append(f"sorted by {sort}{' descending' if descending else ''}")
    if page:
        filters.append(f"page {page}")
    audit.record_read(measure, actor=user, reason=f"{what} {', '.join(filters)} ({found.total} cases)"[:500])
    return found, scope, store is None, page


def review_cases(user, measure: Measure, *, period_start: date, kind: str = "month", unit: Unit | None = None,
                 stratum: str = "", value: str = "", counted: str = "", search: str = "", sort: str = "at",
                 descending: bool = False, page: int = 1) -> Review:
    """One page of the patients behind a stored cell, with their names, MRNs, ages, sex, units
    and encounter dates read from the FHIR store, filtered and sorted; audited with the filters.
    A page past the last is the last."""
    found, scope, missing, page = _review(user, measure, period_start=period_start, kind=kind, unit=unit,
                                          stratum=stratum, value=value, counted=counted, search=search, sort=sort,
                                          descending=descending, page=max(1, page), what="patients behind")
    return Review(found.rows, found.total, page, max(1, math.ceil(found.total / REVIEW_PAGE)), scope, missing)


def export_cases(user, measure: Measure, *, period_start: date, kind: str = "month", unit: Unit | None = None,
                 stratum: str = "", value: str = "", counted: str = "", search: str = "", sort: str = "at",
                 descending: bool = False) -> list[dict]:
    """Every patient behind a stored cell that the filters keep, for the permitted analyst's CSV
    (identifiable: never for sharing); the export is an `access` entry naming its filters."""
    found, _scope, _missing, _page = _review(user, measure, period_start=period_start, kind=kind, unit=unit, stratum=stratum,
                                      value=value, counted=counted, search=search, sort=sort, descending=descending,
                                      page=None, what="exported to CSV the patients behind")
    return found.rows


# --- by practitioner (issue 19: OPPE) ------------------------------------------------------------

PRACTITIONER = kpi.PRACTITIONER


@dataclass
class PractitionerValue:
    """A practitioner's total over some months: below `minimum` cases the value is not shown
    (nor plotted), only "too few cases (n)" (DOMAIN.md §8: a value of a few cases says nothing)."""

    key: str  # the FHIR Practitioner id (or npi:…, or kpi.attribution.UNATTRIBUTED)
    cases: int
    numerator: float
    denominator: float
    value: float | None
    minimum: int

    @property
    def too_few(self) -> bool:
        return self.cases < self.minimum

    @property
    def shown(self) -> str:
        """The value as every page, API and export shows it."""
        if self.too_few:
            return f"too few cases ({self.cases})"
        return "no value" if self.value is None else charts.format_value(self.value)


def practitioner_results(measure: Measure, first: date, last: date, keys=None, *,
                         minimum: int) -> list[PractitionerValue]:
    """Each practitioner's total of the stored monthly cells from the month holding `first` to
    the one holding `last` (`keys`: only those practitioners), by key."""
    rows = MeasureResult.objects.filter(measure=measure, period_kind="month", stratum=PRACTITIONER, unit=None,
                                        period_start__gte=period_math.start_of(first, "month"), period_start__lte=last)
    if keys is not None:
        rows = rows.filter(stratum_value__in=list(keys))
    totals: dict[str, list] = {}
    for key, count, numerator, denominator in rows.values_list("stratum_value", "cases", "numerator", "denominator"):
        total = totals.setdefault(key, [0, 0.0, 0.0])
        total[0] += count
        total[1] += numerator
        total[2] += denominator
    medians = None
    if measure.scoring == Scoring.CONTINUOUS and definitions.aggregate(measure.definition) == "median":
        medians = _practitioner_medians(measure, first, last)
    found = []
    for key, (count, numerator, denominator) in sorted(totals.items()):
        value = (medians or {}).get(key) if medians is not None else _total_value(measure, numerator, denominator)
        found.append(PractitionerValue(key, count, numerator, denominator, value, minimum))
    return found


def _total_value(measure: Measure, numerator: float, denominator: float) -> float | None:
    if measure.scoring == Scoring.CONTINUOUS:  # numerator: the sum of the values; denominator: the cases
        return numerator / denominator if denominator else None
    return compute.score(measure, numerator, denominator)


def _kept_months(measure: Measure, first: date, last: date):
    """The kept case tables of the months, those kept with their practitioner only."""
    for start, _end in period_math.periods(first, last, "month"):
        table = cases.kept(measure.key, "month", start)
        if table is not None and PRACTITIONER in table.column_names:
            yield table


def _practitioner_medians(measure: Measure, first: date, last: date) -> dict[str, float]:
    values: dict[str, list[float]] = {}
    for table in _kept_months(measure, first, last):
        kept = table.select(["value", PRACTITIONER]).to_pydict()
        for value, key in zip(kept["value"], kept[PRACTITIONER], strict=True):
            if value is not None:
                values.setdefault(key, []).append(value)
    return {key: statistics.median(found) for key, found in values.items() if found}


def practitioner_cases(measure: Measure, key: str, first: date, last: date, limit: int = 2000) -> list[dict]:
    """The cases attributed to a practitioner in the months from `first` to `last`, as kept at
    the computation: case, patient, encounter, when, numerator, denominator, value. The caller
    has checked that the reader may see them, and audits the reading."""
    found: list[dict] = []
    for table in _kept_months(measure, first, last):
        found += kpi.cases_in(table, stratum=PRACTITIONER, stratum_value=key, limit=limit - len(found))
        if len(found) >= limit:
            break
    return found


def practitioner_series(measure: Measure, key: str):
    """(period start, numerator, denominator, value, cases) of a practitioner's monthly cells."""
    return series(measure, stratum=PRACTITIONER, value=key)


def practitioner_chart(measure: Measure, key: str, title: str):
    """A practitioner's own SPC chart from their monthly cells (None without any), drawn as the
    measure's own chart is."""
    found = practitioner_series(measure, key)
    if not found:
        return None
    view = charts.spc_view(measure, [(s, n, d, v) for s, n, d, v, _ in found], (), "month")
    return charts.spc_chart(measure, view, (), title=title)


def practitioner_funnel(measure: Measure, values: list[PractitionerValue], labels: dict[str, str], title: str):
    """The funnel plot of practitioners with enough cases (those with too few are listed apart,
    never plotted): (chart or None, points by key). A point's `outside` is "alarm" (beyond the
    99.8 % limits) or "alert" (95 %), on either side; the caller tells the bad side."""
    shown = [v for v in values if not v.too_few and v.denominator]
    points, centre, curves = charts.funnel_points(measure, [(v.key, v.numerator, v.denominator) for v in shown])
    if not points:
        return None, {}, centre
    by_key = {p.label: p for p in points}
    named = [charts.FunnelPoint(labels.get(p.label, p.label), p.numerator, p.denominator, p.value, p.outside)
             for p in points]
    return charts.funnel_chart(measure, named, centre, curves, title, "Cases"), by_key, centre


def practitioners_pooled(measure: Measure, values: list[PractitionerValue], key: str, minimum: int) -> PractitionerValue:
    """The practitioners' cases added up (a department's value over its practitioners; a median
    measure's is the mean here, as the kept cases are not read again)."""
    count = sum(v.cases for v in values)
    numerator, denominator = sum(v.numerator for v in values), sum(v.denominator for v in values)
    return PractitionerValue(key, count, numerator, denominator, _total_value(measure, numerator, denominator), minimum)
