"""A measure's cases added up by period, by unit and by equity stratum.

A KPI's SQL (run in a `Workspace`) returns one row per case: an inpatient stay, a patient day,
an episode of an eCQM. The columns it may give:

| column | required | meaning |
|---|---|---|
| case_id | yes | what the case is (an Encounter id, a day of a stay); drill-down shows it |
| patient_id | yes | the patient (for the strata and the drill-down) |
| at | yes | when the case counts (a discharge time, a day); it sets the period |
| encounter_id | no | the encounter, shown in the drill-down |
| location_id, service_provider_id | no | where it happened: mapped to a unit (location first) |
| numerator | no (0) | the case's contribution to the numerator (1/0, a count, TRUE/FALSE; NULL is 0) |
| denominator | no (1) | its contribution to the denominator (1, patient days, device days; NULL is 0) |
| value | no | a continuous measure's value (length of stay in days, minutes to needle) |

Every period × unit cell is also split by each stratum dimension (age band at the time of the
case, sex, race, ethnicity, payer at the time of the case). A case counts in its unit's cells and
in those of every unit above it (the workspace's unit tree: a ward's cases in its department's);
a case whose place maps to no unit counts in the whole-organisation cells only; cases without a
usable `at` are counted apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from . import attribution, periods
from .workspace import KpiError, Workspace

REQUIRED = ("case_id", "patient_id", "at")
OPTIONAL = {  # column -> the SQL a missing column is replaced by
    "encounter_id": "CAST(NULL AS VARCHAR)",
    "location_id": "CAST(NULL AS VARCHAR)",
    "service_provider_id": "CAST(NULL AS VARCHAR)",
    "numerator": "0",
    "denominator": "1",
    "value": "CAST(NULL AS DOUBLE)",
    "practitioner_id": "CAST(NULL AS VARCHAR)",
}
DIMENSIONS = ("age_band", "sex", "race", "ethnicity", "payer")
# One more dimension, apart from the equity strata: the case's responsible practitioner
# (attribution.py), for the whole organisation only — a practitioner's cases are theirs wherever
# they were, so they are not multiplied by the unit tree.
PRACTITIONER = "practitioner"
# Lower bounds of the age bands (years at the time of the case): 0–17, 18–44, 45–64, 65–74, 75+.
AGE_BANDS = (0, 18, 45, 65, 75)
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Cell:
    """One period × unit (None: the whole organisation) × stratum (""/"": all cases)."""

    period_start: date
    unit_key: str | None
    stratum: str
    stratum_value: str
    cases: int
    numerator: float
    denominator: float
    value_sum: float | None
    value_mean: float | None
    value_median: float | None


@dataclass
class Aggregation:
    cells: list[Cell] = field(default_factory=list)
    cases: int = 0  # rows the SQL returned
    undated: int = 0  # rows whose `at` is missing or not a date
    outside: int = 0  # rows dated outside the periods asked for
    unmapped: int = 0  # rows in range whose place maps to no unit
    kept: int = 0  # with `keep`: the cases in range handed over, period by period


def age_band_labels(bounds: Sequence[int] = AGE_BANDS) -> list[str]:
    labels = []
    for low, high in zip(bounds, list(bounds[1:]) + [None], strict=True):
        labels.append(f"{low}+" if high is None else f"{low}–{high - 1}")
    return labels


def _age_band_sql(bounds: Sequence[int]) -> str:
    if list(bounds) != sorted(set(bounds)) or not bounds or bounds[0] != 0:
        raise KpiError(f"age bands must rise from 0 without repeats, got {list(bounds)}")
    age = "date_sub('year', TRY_CAST(p.birth_date AS DATE), CAST(t.at_ts AS DATE))"
    branches = " ".join(f"WHEN {age} >= {low} THEN '{label}'"
                        for low, label in reversed(list(zip(bounds, age_band_labels(bounds), strict=True))))
    return f"CASE WHEN {age} IS NULL OR {age} < 0 THEN '{UNKNOWN}' {branches} END"


def _typed_cases(workspace: Workspace, sql: str) -> str:
    """The measure's SQL wrapped so that every contract column exists with its type."""
    columns = workspace.columns(sql)
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise KpiError(f"the SQL must return the columns {', '.join(REQUIRED)}; missing: {', '.join(missing)}")
    optional = {name: (f'"{name}"' if name in columns else default) for name, default in OPTIONAL.items()}
    return f"""
        SELECT CAST(case_id AS VARCHAR) AS case_id, CAST(patient_id AS VARCHAR) AS patient_id,
               TRY_CAST("at" AS TIMESTAMPTZ) AS at_ts,
               CAST({optional['encounter_id']} AS VARCHAR) AS encounter_id,
               CAST({optional['location_id']} AS VARCHAR) AS location_id,
               CAST({optional['service_provider_id']} AS VARCHAR) AS service_provider_id,
               coalesce(CAST({optional['numerator']} AS DOUBLE), 0) AS numerator,
               coalesce(CAST({optional['denominator']} AS DOUBLE), 0) AS denominator,
               CAST({optional['value']} AS DOUBLE) AS "value",
               CAST({optional['practitioner_id']} AS VARCHAR) AS practitioner_id
        FROM ({sql}) AS measure_cases"""


# The columns of TYPED_CASES (_typed_cases), in order.
TYPED_COLUMNS = ("case_id", "patient_id", "at_ts", "encounter_id", "location_id", "service_provider_id", "numerator",
                 "denominator", "value", "practitioner_id")


def _framing_steps(workspace: Workspace, typed: str, kind: str, age_bands: Sequence[int],
                   bounds: dict) -> list[tuple[str, str, dict | None]]:
    """Cases in range (`bounds`: first and end) with their period, unit and strata, from
    `typed`: the table of the measure's cases with their contract columns (_typed_cases), as
    statements (name, SQL, parameters) each reading the one before, the last FRAMED_CASES.

    Each statement holds one large operator over the cases: the payers' window, the join to the
    payers, the join to the patients, the join to the encounters' practitioners. DuckDB spills
    each alone past a workspace's memory cap but not two at once: at 5.4 million patients,
    inpatient days' 18.5 million cases joined to their payers and to the 5.4 million patients in
    one statement, or to the payers' window in one, failed under 256 MB; each statement here did
    not (docs/benchmarks.md, "Measures library").

    The payer at the time of the case is that of the coverage in force begun last (of two begun
    together, the first payer by name, so that every run and engine picks the same). The payers
    are found for every case, in range or not: with the range's bounds in that statement it
    failed past the cap at 5.4 million patients, without them it did not (the bounds are
    parameters, which DuckDB's planner cannot see when it orders the window's join)."""
    columns = ", ".join(f't."{name}"' for name in TYPED_COLUMNS)
    in_range = "t.at_ts >= $first AND t.at_ts < $end"
    steps = [(CASE_PAYERS, f"""
        SELECT case_id, at_ts, payer FROM (
            SELECT t.case_id, t.at_ts, coalesce(c.payor_display, c.payor_reference) AS payer,
                   row_number() OVER (PARTITION BY t.case_id, t.at_ts
                                      ORDER BY c.period_start DESC NULLS LAST, coalesce(c.payor_display, c.payor_reference) NULLS LAST) AS position
            FROM {typed} t JOIN coverage c ON c.patient_id = t.patient_id
            WHERE (c.period_start IS NULL OR TRY_CAST(c.period_start AS TIMESTAMPTZ) <= t.at_ts)
              AND (c.period_end IS NULL OR TRY_CAST(c.period_end AS TIMESTAMPTZ) >= t.at_ts)
              AND coalesce(c.status, 'active') = 'active'
        ) AS covered WHERE position = 1""", None),
        (PAID_CASES, f"""
        SELECT {columns}, py.payer AS payer_in_force
        FROM {typed} t LEFT JOIN {CASE_PAYERS} py ON py.case_id = t.case_id AND py.at_ts = t.at_ts
        WHERE {in_range}""", bounds),
        (STRATIFIED_CASES if workspace.attribution else FRAMED_CASES, f"""
        SELECT {columns}, {periods.sql_start('t.at_ts', kind)} AS period_start,
               coalesce(ml.unit_key, mo.unit_key) AS unit_key,
               {_age_band_sql(age_bands)} AS age_band,
               coalesce(nullif(p.gender, ''), '{UNKNOWN}') AS sex,
               coalesce(nullif(p.race, ''), '{UNKNOWN}') AS race,
               coalesce(nullif(p.ethnicity, ''), '{UNKNOWN}') AS ethnicity,
               coalesce(nullif(t.payer_in_force, ''), '{UNKNOWN}') AS payer
        FROM {PAID_CASES} t
        LEFT JOIN patient p ON p.id = t.patient_id
        LEFT JOIN unit_map ml ON ml.kind = 'location' AND ml.external_id = t.location_id
        LEFT JOIN unit_map mo ON mo.kind = 'organization' AND mo.external_id = t.service_provider_id""", None)]
    if workspace.attribution:
        steps.append((FRAMED_CASES, f"""
        SELECT t.*, {attribution.case_key_sql('t.practitioner_id', 'own_ids', 'attributed')} AS {PRACTITIONER}
        FROM {STRATIFIED_CASES} t
        {attribution.ids_join('t.practitioner_id', 'own_ids')}
        LEFT JOIN encounter_attribution attributed ON attributed.encounter_id = t.encounter_id""", None))
    return steps


# The temporary tables a measure's cases are computed into, once: the cells, the counts and the
# kept cases all read them. Evaluated as CTEs instead, the measure's SQL and the joins of its
# framing ran once per reader, and their transient memory was the peak of the measures library
# (inpatient-days: a row per inpatient day, 340,013 at 100,000 patients). The framing's steps
# in between (_framing_steps) are each dropped once the next is made.
TYPED_CASES, FRAMED_CASES = "_kpi_typed_cases", "_kpi_framed_cases"
CASE_PAYERS, PAID_CASES, STRATIFIED_CASES = "_kpi_case_payers", "_kpi_paid_cases", "_kpi_stratified_cases"


@contextmanager
def _materialised(workspace: Workspace, sql: str, kind: str, bounds: dict, age_bands: Sequence[int]) -> Iterator[None]:
    """The measure's cases in TYPED_CASES and those in range, framed, in FRAMED_CASES, for the
    time of the block."""
    try:
        workspace.create_table(TYPED_CASES, _typed_cases(workspace, sql))
        workspace.create_table_in_steps(_framing_steps(workspace, TYPED_CASES, kind, age_bands, bounds))
        yield
    finally:
        for table in (FRAMED_CASES, TYPED_CASES):
            workspace.drop_table(table)


# Each case once for the whole organisation (cell_unit NULL) and once for each unit it counts
# in: its own and those above it. Unmapped cases have no unit_rollup row, so only the first.
SPREAD = f"""
    SELECT f.*, CAST(NULL AS VARCHAR) AS cell_unit FROM {FRAMED_CASES} f
    UNION ALL
    SELECT f.*, r.cell_unit FROM {FRAMED_CASES} f JOIN unit_rollup r ON r.unit_key = f.unit_key"""


# The organisation's cells only (see PRACTITIONER).
BY_PRACTITIONER = f"SELECT f.*, CAST(NULL AS VARCHAR) AS cell_unit FROM {FRAMED_CASES} f"


def _grouped(spread: str, dimensions: Sequence[str], *, all_cases: bool = True) -> str:
    """The cells of all cases (stratum "", unless not `all_cases`) and of each dimension's
    values, ordered by period, unit (the organisation first), stratum, value. One GROUP BY per
    stratum, joined by UNION ALL: DuckDB runs them one after another, and each can spill past
    the workspace's memory cap, where GROUPING SETS held every set's medians at once and could
    not (tests/analytics/kpi/test_aggregate.py)."""
    groups = [*([None] if all_cases else []), *dimensions]
    return " UNION ALL ".join(_grouped_by(spread, dimension) for dimension in groups) + " ORDER BY 1, 2 NULLS FIRST, 3, 4"


def _grouped_by(spread: str, dimension: str | None) -> str:
    label = f"'{dimension}'" if dimension else "''"
    value = f"CAST({dimension} AS VARCHAR)" if dimension else "''"
    extra = f", {dimension}" if dimension else ""
    return f"""
        SELECT period_start, cell_unit AS unit_key, {label} AS stratum, {value} AS stratum_value, count(*) AS cases,
               sum(numerator) AS numerator, sum(denominator) AS denominator,
               sum("value") AS value_sum, avg("value") AS value_mean, median("value") AS value_median
        FROM ({spread}) AS spread
        GROUP BY period_start, cell_unit{extra}"""


def aggregate(workspace: Workspace, sql: str, *, kind: str = "month", first: date, last: date,
              dimensions: Sequence[str] = DIMENSIONS, age_bands: Sequence[int] = AGE_BANDS,
              by_practitioner: bool = False, keep: Callable[[date, pa.Table], None] | None = None) -> Aggregation:
    """The measure's cells for every period of `kind` from the one holding `first` to the one
    holding `last`, for the whole organisation and each unit, all cases and each stratum; with
    `by_practitioner` (a workspace made with attribution), then the organisation's cells of each
    practitioner (stratum "practitioner", value the practitioner's key or UNATTRIBUTED). With
    `keep`, also the cases in range, as framed_table gives them, to `keep(period start, cases)`
    for each period holding any, in period order, a large period in several calls
    (`_keep_by_period`)."""
    unknown = sorted(set(dimensions) - set(DIMENSIONS))
    if unknown:
        raise KpiError(f"unknown strata {', '.join(unknown)}: use {', '.join(DIMENSIONS)}")
    if by_practitioner and not workspace.attribution:
        raise KpiError("cells by practitioner need a workspace made with attribution")
    workspace.check_unit_map()
    bounds = _bounds(first, last, kind)
    result = Aggregation()
    with _materialised(workspace, sql, kind, bounds, age_bands):
        counts = workspace.rows(f"SELECT period_start, count(*) FROM {FRAMED_CASES} GROUP BY period_start ORDER BY period_start")
        chunks = _chunks(counts, GROUPED_ROWS_AT_ONCE)
        result.cells = _cells(workspace, SPREAD, dimensions, chunks)
        if by_practitioner:  # after the others, which stay as they were without it
            result.cells += _cells(workspace, BY_PRACTITIONER, [PRACTITIONER], chunks, all_cases=False)
        result.cases, result.undated, result.outside = workspace.rows(f"""
            SELECT count(*), count(*) FILTER (WHERE at_ts IS NULL), count(*) FILTER (WHERE at_ts < $first OR at_ts >= $end)
            FROM {TYPED_CASES}""", bounds)[0]
        result.unmapped = workspace.rows(f"SELECT count(*) FROM {FRAMED_CASES} WHERE unit_key IS NULL")[0][0]
        if keep is not None:
            result.kept = _keep_by_period(workspace, keep, counts)
    return result


# The cases whose cells are computed at once: whole periods up to about this many (or one larger
# period). A median holds every value of its cell in memory and cannot spill to disk: a year of a
# health system's stays at once (1.36 million patients' inpatient stays for average length of stay)
# was past the workspace's memory cap (docs/benchmarks.md, "Measures library").
GROUPED_ROWS_AT_ONCE = 250_000


def _cells(workspace: Workspace, spread: str, dimensions: Sequence[str], chunks: list[list[date]], *,
           all_cases: bool = True) -> list[Cell]:
    """The cells of each chunk of periods (`_chunks`) in turn: in order, as one query gives them."""
    cells = []
    for chunk in chunks:
        within = f"SELECT * FROM ({spread}) AS s WHERE {_periods_between(chunk)}"
        cells += [Cell(*row) for row in workspace.rows(_grouped(within, dimensions, all_cases=all_cases))]
    return cells


def _periods_between(chunk: list[date]) -> str:
    return f"period_start BETWEEN DATE '{chunk[0].isoformat()}' AND DATE '{chunk[-1].isoformat()}'"


# The kept cases brought from the workspace at once: whole periods up to about this many rows, or
# one larger period a run of whole days at a time. All of them at once were more than a process
# holds for a health system's data (a measure's 4.6 million cases over 24 months: past Spark's
# 1 GB for a result on the driver); one period at once too (inpatient days at 20 million resources:
# a month of 1.6 million days and one after it larger, past the Spark driver's 4 GB heap).
KEPT_ROWS_AT_ONCE = 500_000


def _keep_by_period(workspace: Workspace, keep, counts: list[tuple[date, int]]) -> int:
    """Each period's kept cases to `keep(period start, cases)`, in order (`counts`: each period's
    cases, in order): a chunk of whole periods at a time, and a period past KEPT_ROWS_AT_ONCE a
    run of its days at a time (`keep` is then called for it once per run, in order of time); the
    rows kept."""
    held = dict(counts)
    for chunk in _chunks(counts, KEPT_ROWS_AT_ONCE):
        if held[chunk[0]] > KEPT_ROWS_AT_ONCE:  # a period alone (_chunks)
            for days in _day_runs(workspace, chunk[0]):
                keep(chunk[0], _kept(workspace, f"WHERE {days}"))
            continue
        table = _kept(workspace, f"WHERE {_periods_between(chunk)}")
        for start in chunk:
            keep(start, table.filter(pc.equal(table["period_start"], pa.scalar(start, pa.date32()))))
    return sum(count for _, count in counts)


def _day_runs(workspace: Workspace, start: date) -> list[str]:
    """The conditions of a period's runs of whole days of about KEPT_ROWS_AT_ONCE cases each (a
    day that alone holds more is a run of its own), in order."""
    period = f"period_start = DATE '{start.isoformat()}'"
    days = workspace.rows(f"SELECT CAST(at_ts AS DATE) AS day, count(*) FROM {FRAMED_CASES} WHERE {period} "
                          "GROUP BY 1 ORDER BY 1")
    return [f"{period} AND CAST(at_ts AS DATE) BETWEEN DATE '{run[0].isoformat()}' AND DATE '{run[-1].isoformat()}'"
            for run in _chunks(days, KEPT_ROWS_AT_ONCE)]


def _chunks(counts: list[tuple[date, int]], rows: int) -> list[list[date]]:
    """The periods (with their counts, in order) in runs of about `rows` rows: a period that
    alone holds more is a run of its own."""
    chunks, current, held = [], [], 0
    for start, count in counts:
        if current and held + count > rows:
            chunks.append(current)
            current, held = [], 0
        current.append(start)
        held += count
    return chunks + [current] if current else chunks


def _bounds(first: date, last: date, kind: str) -> dict:
    """The parameters $first and $end: the start of the period holding `first`, the end of the one holding `last`."""
    spans = periods.periods(first, last, kind)
    return {"first": spans[0][0], "end": spans[-1][1]}


CASE_COLUMNS = ("case_id", "patient_id", "encounter_id", "at", "period_start", "unit_key", "numerator", "denominator",
                "value", *DIMENSIONS)


def framed_table(workspace: Workspace, sql: str, *, kind: str = "month", first: date, last: date,
                 age_bands: Sequence[int] = AGE_BANDS) -> pa.Table:
    """Every case in the periods from the one holding `first` to the one holding `last`, with
    the cell it counts in (period, unit, strata): kept beside the results for the drill-down.
    (`aggregate(..., keep=...)` gives the same cases with the cells, period by period, computing them once.)"""
    with _materialised(workspace, sql, kind, _bounds(first, last, kind), age_bands):
        return _kept(workspace)


def _kept(workspace: Workspace, where: str = "") -> pa.Table:
    dimensions = (*DIMENSIONS, PRACTITIONER) if workspace.attribution else DIMENSIONS
    query = f"""SELECT case_id, patient_id, encounter_id, at_ts AS "at", period_start, unit_key, numerator, denominator,
               "value", {", ".join(dimensions)}
        FROM {FRAMED_CASES} {where} ORDER BY period_start, at_ts, case_id"""
    return workspace.arrow(query)


def cases_in(table: pa.Table, *, unit_keys: Sequence[str] | None = None, stratum: str = "", stratum_value: str = "",
             limit: int = 10_000) -> list[dict]:
    """The cases of a kept table (framed_table) behind one cell: all units (`unit_keys` None) or
    those units (a unit's cell: the unit and those below it), all cases or one stratum value
    (the practitioner's too, in a table kept with attribution)."""
    if stratum and (stratum not in (*DIMENSIONS, PRACTITIONER) or stratum not in table.column_names):
        raise KpiError(f"unknown stratum {stratum!r}")
    # Filtered with pyarrow's compute functions on the table in memory: a DuckDB connection per
    # call cost a page that lists cases of many cells (OPPE: 18 of them) most of its time.
    keep = None
    if unit_keys is not None:
        keep = pc.is_in(table["unit_key"], value_set=pa.array(list(unit_keys), type=table.schema.field("unit_key").type))
    if stratum:
        same = pc.equal(pc.cast(table[stratum], pa.string()), pa.scalar(stratum_value, pa.string()))
        keep = same if keep is None else pc.and_(keep, same)
    names = ["case_id", "patient_id", "encounter_id", "at", "unit_key", "numerator", "denominator", "value"]
    found = table.select(names) if keep is None else table.select(names).filter(keep)
    order = pc.sort_indices(found, sort_keys=[("at", "ascending", "at_end"), ("case_id", "ascending", "at_end")])
    return found.take(order.slice(0, limit)).to_pylist()
