"""Computing a measure's cells (period × unit × stratum) from its source, and the score of a cell.

Sources:
- sql: the case rows of the measure's SQL, added up in a KPI workspace (andon/analytics/kpi);
- ecqm: the eCQM evaluated once over the whole range (andon/analytics/cql), each episode
  counted in the period its encounter ends, then added up like SQL cases;
- events: safety events counted by period and unit, over a census measure's results;
- manual: the counts entered by unit and month (months only: a week cannot be cut from them).

Units are carried as text keys (the Unit's id) through the analytics layer and turned back
into ids here. Cells for the whole organisation have the unit None.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import reduce
from datetime import UTC, date, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from andon.analytics import kpi
from andon.analytics.fhir import store as fhir_store
from andon.analytics.kpi import periods as period_math
from andon.platform.models import Unit

from . import cases, definitions
from .models import ManualCount, Measure, MeasureResult, Scoring


class ComputeError(Exception):
    """A measure that cannot be computed now; the message says why, for the person asking."""


@dataclass(frozen=True)
class Cell:
    period_start: date
    unit_id: int | None
    stratum: str
    stratum_value: str
    cases: int
    numerator: float
    denominator: float
    value: float | None


def score(measure: Measure, numerator: float, denominator: float, *, mean=None, median=None) -> float | None:
    """The value a user sees, in the measure's unit (after the multiplier); a continuous
    measure's is the mean or the median of its cases' values, as its definition says."""
    if measure.scoring == Scoring.COUNT:
        return numerator
    if measure.scoring == Scoring.CONTINUOUS:
        return median if definitions.aggregate(measure.definition) == "median" else mean
    if not denominator:
        return None
    return numerator / denominator * measure.multiplier


def _unit_id(key: str | None) -> int | None:
    return None if key is None else int(key)


def from_kpi(measure: Measure, cells: list[kpi.Cell]) -> list[Cell]:
    """Cells of a SQL or eCQM measure: for a continuous measure the numerator is the sum of
    the values and the denominator the number of cases."""
    found = []
    for c in cells:
        if measure.scoring == Scoring.CONTINUOUS:
            numerator, denominator = c.value_sum or 0.0, float(c.cases)
        else:
            numerator, denominator = c.numerator, c.denominator
        found.append(Cell(c.period_start, _unit_id(c.unit_key), c.stratum, c.stratum_value, c.cases, numerator,
                          denominator, score(measure, numerator, denominator, mean=c.value_mean, median=c.value_median)))
    return found


def from_sql(measure: Measure, workspace: kpi.Workspace, kind: str, first: date, last: date,
             sql: str | None = None, measured=None, by_practitioner: bool = False) -> tuple[list[Cell], dict]:
    """Cells of the measure's SQL (or of `sql`, an eCQM's cases, with `measured` giving the
    measurement period of a period's cases); its cases are kept for the drill-down (cases.py).
    `by_practitioner` (a workspace made with attribution): also the organisation's cells of each
    practitioner."""
    sql = sql or measure.definition["source"]["sql"]
    strata = measure.definition.get("strata", list(kpi.DIMENSIONS))
    keeper = cases.Keeper(measure.key, kind, period_math.periods(first, last, kind), measured)
    try:
        result = kpi.aggregate(workspace, sql, kind=kind, first=first, last=last, dimensions=strata,
                               by_practitioner=by_practitioner, keep=keeper.add)
    except kpi.KpiError as error:
        keeper.discard()
        raise ComputeError(f"{measure.key}: {error}") from None
    except BaseException:
        keeper.discard()
        raise
    counts = {"cases": result.cases, "undated": result.undated, "outside": result.outside, "unmapped": result.unmapped,
              "kept": keeper.done()}
    return from_kpi(measure, result.cells), counts


def lineages() -> dict[int, tuple[int, ...]]:
    """Each unit's id with those of the units above it (from its materialised path): the cells
    a count of the unit adds to."""
    return {pk: tuple(int(part) for part in path.strip("/").split("/") if part)
            for pk, path in Unit.objects.values_list("pk", "path")}


def _cells_of(unit_id: int | None, lineage: dict[int, tuple[int, ...]]) -> tuple[int | None, ...]:
    """The whole organisation's cell, and the unit's and those above it."""
    return (None, *lineage.get(unit_id, (unit_id,))) if unit_id is not None else (None,)


def local_start(day: date) -> datetime:
    """Midnight beginning `day` in the organisation's time zone (TIME_ZONE): a hospital's month
    is its own, as the census's days are the local dates written in the record."""
    return timezone.make_aware(datetime.combine(day, time.min))


def from_events(measure: Measure, census: dict[tuple[date, int | None], float], kind: str, first: date,
                last: date) -> tuple[list[Cell], dict]:
    """Events per period and unit (a unit's own and those of the units below it) over the census
    (patient days) of the same period and unit; with `stratify_by`, one stratum per answer, each
    over the whole census of its cell. Only events of the definition's kinds of unit (wards,
    whose days the census holds) and, unless it says otherwise, of a category confirmed in
    triage are counted (definitions.events_options)."""
    from andon.safety import services as safety

    source = measure.definition["source"]
    spans = period_math.periods(first, last, kind)
    try:
        events = safety.events_for_measure(
            category=source["category"], kinds=source["kinds"], harms=source.get("harms") or (),
            details=source.get("details") or {}, stratify_by=source.get("stratify_by", ""),
            since=local_start(spans[0][0]), until=local_start(spans[-1][1]), **definitions.events_options(source))
    except LookupError as error:
        raise ComputeError(f"{measure.key}: {error}") from None
    dimension = source.get("stratify_by", "")
    counts: dict[tuple, int] = defaultdict(int)
    lineage = lineages()
    for occurred_at, unit_id, answer in events:
        start = period_math.start_of(timezone.localtime(occurred_at).date(), kind)
        for unit in _cells_of(unit_id, lineage):
            counts[(start, unit, "", "")] += 1
            if dimension:
                counts[(start, unit, dimension, answer)] += 1
    cells_keys = set(counts) | {(start, unit, "", "") for start, unit in census}
    cells = []
    for start, unit, stratum, answer in sorted(cells_keys, key=lambda k: (k[0], k[1] or 0, k[2], k[3])):
        numerator = float(counts.get((start, unit, stratum, answer), 0))
        denominator = float(census.get((start, unit), 0.0))
        cells.append(Cell(start, unit, stratum, answer, int(numerator), numerator, denominator,
                          score(measure, numerator, denominator)))
    return cells, {"cases": len(events)}


def census_of(measure_key: str, kind: str, first: date, last: date) -> dict[tuple[date, int | None], float]:
    """A census measure's stored totals by (period start, unit id) over the range."""
    spans = period_math.periods(first, last, kind)
    rows = MeasureResult.objects.filter(measure__key=measure_key, period_kind=kind, stratum="",
                                        period_start__gte=spans[0][0], period_start__lt=spans[-1][1])
    return {(r.period_start, r.unit_id): r.numerator for r in rows}


def from_manual(measure: Measure, kind: str, first: date, last: date) -> tuple[list[Cell], dict]:
    """Entered counts summed by period (months or quarters) for each unit (its own and those of
    the units below it) and for all units."""
    if kind == "week":
        raise ComputeError(f"{measure.key}: counts are entered by month, so weekly results cannot be made from them")
    spans = period_math.periods(first, last, kind)
    rows = ManualCount.objects.filter(measure=measure, month__gte=spans[0][0], month__lt=spans[-1][1])
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0.0, 0.0])
    lineage = lineages()
    for row in rows:
        start = period_math.start_of(row.month, kind)
        for unit in _cells_of(row.unit_id, lineage):
            total = sums[(start, unit)]
            total[0] += 1
            total[1] += row.numerator
            total[2] += row.denominator
    cells = [Cell(start, unit, "", "", n, num, den, score(measure, num, den))
             for (start, unit), (n, num, den) in sorted(sums.items(), key=lambda item: (item[0][0], item[0][1] or 0))]
    return cells, {"cases": rows.count()}


# --- the engine ---------------------------------------------------------------------------------

def computation_store():
    """The store measures are computed from, for one computation: DuckDB's file, read-only, or
    on Spark (ANDON_ANALYTICS_ENGINE=spark) the newest complete version of ANDON_SPARK_STORE
    (`spark.store.Opened`); None when no clinical data is loaded. ValidationError when Spark is
    asked for but cannot be used (the extra not installed, no store configured)."""
    from andon.analytics.spark import session

    try:
        if session.engine(settings.ANDON_ANALYTICS_ENGINE) == "duckdb":
            return open_duckdb_store()
        if not settings.ANDON_SPARK_STORE:
            raise session.EngineError(session.NO_STORE)
        from andon.analytics.spark import store as spark_store

        return spark_store.open_current(session.spark(), settings.ANDON_SPARK_STORE)
    except session.EngineError as error:
        raise ValidationError(f"the analytics engine cannot be used: {error}") from None


def open_reading_store():
    """The FHIR store the pages read the clinical record from (a patient, the places), read-only,
    as a DuckDB connection; None when no clinical data has been loaded. On Spark, the Spark
    store's newest complete version, where this server can read its files
    (ANDON_SPARK_STORE_MOUNT, else ANDON_SPARK_STORE when it is a path), so that the pages read
    the data the measures were computed from; otherwise the DuckDB store (which a server may
    keep beside a Spark store at a URL it cannot read)."""
    from andon.analytics.spark import duckdb_read, session

    try:
        on_spark_engine = session.engine(settings.ANDON_ANALYTICS_ENGINE) == "spark"
    except session.EngineError:
        on_spark_engine = False  # the computations say why; the pages read what there is
    folder = duckdb_read.local_folder(settings.ANDON_SPARK_STORE_MOUNT or settings.ANDON_SPARK_STORE)
    if on_spark_engine and folder is not None:
        return duckdb_read.connect(folder)
    return open_duckdb_store()


def open_duckdb_store():
    """The DuckDB FHIR store, read-only; None when no clinical data has been loaded."""
    path = settings.ANDON_FHIR_STORE
    return fhir_store.connect(path, read_only=True, memory_limit=fhir_store.READ_MEMORY_LIMIT) if path.exists() else None


def on_spark(store) -> bool:
    from andon.analytics.spark.store import Opened

    return isinstance(store, Opened)


def workspace_for(store, views, sqls, unit_map, unit_tree, attribution: bool = False) -> kpi.Workspace:
    """A KPI workspace on the store's engine holding the views the SQL texts read."""
    if on_spark(store):
        from andon.analytics.spark.workspace import SparkWorkspace

        return SparkWorkspace.for_sql(store, views, sqls, unit_map, unit_tree, attribution=attribution)
    return kpi.Workspace.for_sql(store, views, sqls, unit_map, unit_tree, attribution=attribution)


def load_label(store) -> str:
    """Which load of the store results came from (MeasureResult.data_load)."""
    if on_spark(store):
        return store.label()
    files, newest = store.execute("SELECT count(*), max(loaded_at) FROM loads").fetchone()
    stamp = newest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if newest else "never"
    return f"FHIR store: {files} files, last loaded {stamp}"


# --- eCQMs --------------------------------------------------------------------------------------

ECQM_CASES_SQL = """
    SELECT c.patient_id || coalesce('|' || c.episode, '') AS case_id, c.patient_id, e.id AS encounter_id,
           CASE WHEN c.episode IS NULL THEN c.period_at ELSE e.period_end END AS "at",
           coalesce(e.location_id, e.location_reference) AS location_id,
           coalesce(e.service_provider_id, e.service_provider_reference) AS service_provider_id,
           c.numerator, c.denominator, c."value"
    FROM {table} c LEFT JOIN encounter e ON e.id = c.episode"""


def ecqm_cases(store, folders, name: str, kind: str, first: date, last: date, jobs=None, progress=None,
               warnings: list[str] | None = None):
    """The eCQM's cases as an Arrow table (on Spark, a DataFrame the executors hold), with the
    patients evaluated, the errors and the measurement periods evaluated (first day, last day).
    The engine's warnings (quantities read as UCUM though misspelled, when
    ANDON_ECQM_ACCEPT_UCUM_MISSPELLINGS asks) go to `warnings`, each naming its period.

    An episode measure is evaluated once over the whole range: its episodes are encounters
    ending in the measurement period, so each counts in the period its encounter ends. A
    patient-based measure is evaluated once per period, its cases dated at the period's start.
    """
    found = ecqm_cases_together(store, folders, [name], kind, first, last, jobs, progress)[name]
    if isinstance(found, ComputeError):
        raise found
    *evaluation, said = found
    if warnings is not None:
        warnings += said
    return tuple(evaluation)


def ecqm_cases_together(store, folders, names: list[str], kind: str, first: date, last: date, jobs=None,
                        progress=None) -> dict:
    """By eCQM name, what ecqm_cases gives for it, with its warnings fifth: (table, patients
    evaluated, errors, measured, warnings); the store read once for them all (the engine's
    run_cases_together). An eCQM that cannot be evaluated (not in the content, a measure the
    engine refuses) has its ComputeError instead, and the others are evaluated all the same."""
    from andon.analytics.cql import run

    found, measured = {}, {}
    for name in names:
        try:
            measured[name] = _ecqm_periods(folders, name, kind, first, last)
        except ComputeError as error:
            found[name] = error
    runs = [(name, (start.isoformat(), end.isoformat())) for name, spans in measured.items() for start, end in spans]
    accept = settings.ANDON_ECQM_ACCEPT_UCUM_MISSPELLINGS
    if not runs:
        results = iter([])
    elif on_spark(store):  # patients spread over the cluster, the same cases (spark/ecqm.py)
        from andon.analytics.spark import ecqm as spark_ecqm

        results = iter(spark_ecqm.run_cases_together(store.spark, folders, runs, store=store,
                                                     accept_ucum_misspellings=accept))
    else:
        results = iter(run.run_cases_together(store, folders, runs, jobs=jobs, progress=progress,
                                              accept_ucum_misspellings=accept))
    for name, spans in measured.items():
        found[name] = _ecqm_evaluation(spans, [next(results) for _ in spans])
    return found


def _ecqm_periods(folders, name: str, kind: str, first: date, last: date) -> list[tuple[date, date]]:
    """The measurement periods (first day, last day) to evaluate the eCQM over: each period of
    `kind` for a patient-based measure, the whole range for an episode measure (ecqm_cases)."""
    from andon.analytics.cql import content
    from andon.analytics.cql.measure import MeasureDefinition, MeasureError

    try:
        measures = content.load_measures(folders)
        if name not in measures:
            raise ComputeError(f"no eCQM named {name} in the eCQM content ({', '.join(map(str, folders)) or 'none configured'})")
        definition = MeasureDefinition.from_resource(measures[name], content.load_libraries(folders))
    except (content.ContentError, MeasureError) as error:
        raise ComputeError(f"{name}: {error}") from None
    spans = period_math.periods(first, last, kind)
    if definition.groups[0].basis != "boolean":
        spans = [(spans[0][0], spans[-1][1])]
    return [(start, date.fromordinal(end.toordinal() - 1)) for start, end in spans]


def _ecqm_evaluation(spans, results) -> tuple:
    """One eCQM's runs (one per measurement period) as ecqm_cases_together gives them."""
    evaluated, errors, warnings = 0, [], []
    for (start, end), (_, count, failed, said) in zip(spans, results, strict=True):
        warnings += [f"{start.isoformat()}..{end.isoformat()}: {warning}" for warning in said]
        evaluated += count
        errors += failed
    return _case_table(spans, [found for found, *_ in results]), evaluated, errors, list(spans), warnings


def _case_table(spans, found: list):
    """The runs' cases in one table: an Arrow table of the engine's cases, each dated at its
    period's first day; on Spark, the runs' DataFrames (already dated) as one."""
    if found and not isinstance(found[0], list):
        return reduce(lambda frame, more: frame.unionByName(more), found)
    rows = {"patient_id": [], "episode": [], "numerator": [], "denominator": [], "value": [], "period_at": []}
    for (start, _end), cases in zip(spans, found, strict=True):
        for case in cases:
            for column, value in (("patient_id", case.patient_id), ("episode", case.episode), ("numerator", case.numerator),
                                  ("denominator", case.denominator), ("value", case.value), ("period_at", start.isoformat())):
                rows[column].append(value)
    return ecqm_case_table(rows)


def ecqm_case_table(rows: dict):
    """The engine's cases as ecqm_cases gives them (columns of `rows` by name)."""
    import pyarrow as pa

    schema = pa.schema([("patient_id", pa.string()), ("episode", pa.string()), ("numerator", pa.float64()),
                        ("denominator", pa.float64()), ("value", pa.float64()), ("period_at", pa.string())])
    return pa.table(rows, schema=schema)


def from_ecqm(measure: Measure, workspace: kpi.Workspace, store, folders, kind: str, first: date, last: date,
              jobs=None, progress=None, evaluation=None, by_practitioner: bool = False) -> tuple[list[Cell], dict]:
    """`evaluation`: the engine's output (ecqm_cases, or ecqm_cases_together with its warnings)
    made earlier over the same patients (with the library's other eCQMs, or the demo's:
    scripts/demo_ecqm.py), used in place of evaluating them again; the cells and the kept cases
    are then made from the store as always."""
    name = measure.definition["source"]["measure"]
    warnings: list[str] = []
    if evaluation is None:
        evaluation = ecqm_cases(store, folders, name, kind, first, last, jobs, progress, warnings)
    table, evaluated, errors, measured, *said = evaluation
    warnings += said[0] if said else []
    table_name = "ecqm_" + "".join(ch if ch.isalnum() else "_" for ch in measure.key)
    workspace.add_table(table_name, table)

    def measured_over(start: date) -> tuple[date, date]:
        return next(span for span in measured if span[0] <= start <= span[1])

    cells, counts = from_sql(measure, workspace, kind, first, last, sql=ECQM_CASES_SQL.format(table=table_name),
                             measured=measured_over, by_practitioner=by_practitioner)
    said = {"warnings": warnings} if warnings else {}  # only when there are some: the results keep their shape
    return cells, {**counts, "patients": evaluated, "errors": len(errors), "first_errors": errors[:5], **said}
