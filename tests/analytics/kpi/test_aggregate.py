"""The KPI aggregator on hand-made stores: each cell's counts worked out by hand here, the
strata (age at the time of the case, payer at the time of the case), unit mapping, cases
outside the range or without a date, the drill-down, and SQL that must be refused."""

import importlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pytest

from andon.analytics import kpi
from andon.analytics.fhir import store
from andon.analytics.kpi import periods

aggregate_module = importlib.import_module("andon.analytics.kpi.aggregate")  # kpi.aggregate is the function

VIEWS = kpi.load_view_definitions(Path(__file__).resolve().parents[3] / "content" / "views")

STAYS = """
    SELECT e.id AS case_id, e.patient_id, e.id AS encounter_id, e.period_end AS "at",
           e.location_id, e.service_provider_id,
           (e.discharge_disposition = 'exp') AS numerator,
           date_diff('day', TRY_CAST(left(e.period_start, 10) AS DATE), TRY_CAST(left(e.period_end, 10) AS DATE)) AS "value"
    FROM encounter e WHERE e.class_code = 'IMP'
"""


def patient(pid, gender, birth, race=None):
    resource = {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth}
    if race:
        resource["extension"] = [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
            {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": race[0],
                                                   "display": race[1]}},
            {"url": "text", "valueString": race[1]}]}]
    return resource


def stay(eid, pid, start, end, location=None, org=None, died=False, klass="IMP"):
    resource = {"resourceType": "Encounter", "id": eid, "status": "finished", "subject": {"reference": f"Patient/{pid}"},
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
                "period": {"start": start, "end": end}}
    if location:
        resource["location"] = [{"location": {"reference": f"Location/{location}"}}]
    if org:
        resource["serviceProvider"] = {"reference": f"Organization/{org}"}
    if died:
        resource["hospitalization"] = {"dischargeDisposition": {"coding": [{"code": "exp"}]}}
    return resource


def coverage(cid, pid, payer, start, end=None):
    period = {"start": start, **({"end": end} if end else {})}
    return {"resourceType": "Coverage", "id": cid, "status": "active", "beneficiary": {"reference": f"Patient/{pid}"},
            "payor": [{"display": payer}], "period": period}


RESOURCES = [
    patient("p1", "female", "1950-03-15", ("2106-3", "White")),
    patient("p2", "male", "2000-06-01", ("2054-5", "Black or African American")),
    patient("p3", "female", "1980-01-31"),
    # p1 turns 75 on 2025-03-15: the stay ending that day counts her as 75.
    stay("e1", "p1", "2025-03-10T08:00:00Z", "2025-03-15T10:00:00Z", location="L-4W", died=True),
    stay("e2", "p2", "2025-03-01T08:00:00Z", "2025-03-03T09:00:00Z", location="L-5E"),
    stay("e3", "p3", "2025-04-02T08:00:00Z", "2025-04-09T09:00:00Z", org="O-RGH"),
    stay("e4", "p3", "2025-04-20T08:00:00Z", "2025-04-21T09:00:00Z", location="L-ELSEWHERE"),
    stay("e5", "p2", "2024-12-30T08:00:00Z", "2024-12-31T09:00:00Z", location="L-5E"),  # before the range
    stay("e6", "p1", "2025-03-01T08:00:00Z", "2025-03-02T09:00:00Z", location="L-4W", klass="AMB"),  # not a stay
    coverage("c1", "p2", "Medicaid", "2024-01-01", "2025-03-02"),
    coverage("c2", "p2", "Acme Health", "2025-03-02"),
]
# bare ids and full references both map
UNIT_MAP = [("location", "L-4W", "4w"), ("location", "Location/L-5E", "5e"), ("organization", "O-RGH", "rgh")]


def make_store(resources):
    connection = store.connect()
    for resource in resources:
        connection.execute("INSERT INTO resources (type, id, resource) VALUES (?, ?, ?)",
                           [resource["resourceType"], resource["id"], json.dumps(resource)])
    return connection


@pytest.fixture(scope="module")
def workspace():
    return kpi.Workspace.for_sql(make_store(RESOURCES), VIEWS, [STAYS], UNIT_MAP)


def cells(result, stratum="", unit="*"):
    return {(c.period_start, c.unit_key, c.stratum_value): (c.cases, c.numerator, c.denominator, c.value_sum)
            for c in result.cells if c.stratum == stratum and (unit == "*" or c.unit_key == unit)}


def test_cells_by_month_and_unit(workspace):
    result = kpi.aggregate(workspace, STAYS, first=date(2025, 3, 1), last=date(2025, 4, 30))
    march, april = date(2025, 3, 1), date(2025, 4, 1)
    assert cells(result) == {
        (march, None, ""): (2, 1.0, 2.0, 7.0),  # e1 (5 days, died) and e2 (2 days)
        (march, "4w", ""): (1, 1.0, 1.0, 5.0),
        (march, "5e", ""): (1, 0.0, 1.0, 2.0),
        (april, None, ""): (2, 0.0, 2.0, 8.0),  # e3 (7 days) and e4 (1 day)
        (april, "rgh", ""): (1, 0.0, 1.0, 7.0),  # mapped by its service provider
    }
    assert (result.cases, result.undated, result.outside, result.unmapped) == (5, 0, 1, 1)
    april_all = next(c for c in result.cells if c.period_start == april and c.unit_key is None and not c.stratum)
    assert (april_all.value_mean, april_all.value_median) == (4.0, 4.0)


def test_a_units_cases_count_in_the_units_above_it():
    # 4w and 5e are wards of "medicine", itself under "rgh"; rgh also has e3 mapped to it directly
    tree = [("4w", "medicine"), ("4w", "rgh"), ("5e", "medicine"), ("5e", "rgh"), ("medicine", "rgh")]
    space = kpi.Workspace.for_sql(make_store(RESOURCES), VIEWS, [STAYS], UNIT_MAP, tree)
    result = kpi.aggregate(space, STAYS, first=date(2025, 3, 1), last=date(2025, 4, 30))
    march, april = date(2025, 3, 1), date(2025, 4, 1)
    assert cells(result) == {
        (march, None, ""): (2, 1.0, 2.0, 7.0),
        (march, "4w", ""): (1, 1.0, 1.0, 5.0),
        (march, "5e", ""): (1, 0.0, 1.0, 2.0),
        (march, "medicine", ""): (2, 1.0, 2.0, 7.0),  # both wards' stays
        (march, "rgh", ""): (2, 1.0, 2.0, 7.0),
        (april, None, ""): (2, 0.0, 2.0, 8.0),  # e4 maps to no unit: the organisation only
        (april, "rgh", ""): (1, 0.0, 1.0, 7.0),
    }
    assert cells(result, "sex", "medicine") == {(march, "medicine", "female"): (1, 1.0, 1.0, 5.0),
                                                (march, "medicine", "male"): (1, 0.0, 1.0, 2.0)}
    medicine = next(c for c in result.cells if c.unit_key == "medicine" and not c.stratum)
    assert (medicine.value_mean, medicine.value_median) == (3.5, 3.5)  # of the stays, not of the wards' cells
    assert result.unmapped == 1
    kept = kpi.framed_table(space, STAYS, first=date(2025, 3, 1), last=date(2025, 4, 30))
    assert kept.num_rows == 4  # each case kept once, with its own unit
    assert [c["case_id"] for c in kpi.cases_in(kept, unit_keys=["medicine", "4w", "5e"])] == ["Encounter/e2", "Encounter/e1"]


def test_strata_age_at_the_time_of_the_case_sex_race_and_payer(workspace):
    result = kpi.aggregate(workspace, STAYS, first=date(2025, 3, 1), last=date(2025, 4, 30))
    march, april = date(2025, 3, 1), date(2025, 4, 1)
    assert cells(result, "age_band", None) == {
        (march, None, "75+"): (1, 1.0, 1.0, 5.0),  # p1 on her 75th birthday
        (march, None, "18–44"): (1, 0.0, 1.0, 2.0),  # p2 aged 24
        (april, None, "45–64"): (2, 0.0, 2.0, 8.0),  # p3 aged 45
    }
    assert cells(result, "sex", None) == {
        (march, None, "female"): (1, 1.0, 1.0, 5.0), (march, None, "male"): (1, 0.0, 1.0, 2.0),
        (april, None, "female"): (2, 0.0, 2.0, 8.0),
    }
    assert {k[2] for k in cells(result, "race", None)} == {"White", "Black or African American", "Unknown"}
    # p2's stay ended 2025-03-03, under the Acme coverage (Medicaid ended 2025-03-02)
    assert cells(result, "payer", "5e") == {(march, "5e", "Acme Health"): (1, 0.0, 1.0, 2.0)}
    assert cells(result, "payer", "4w") == {(march, "4w", "Unknown"): (1, 1.0, 1.0, 5.0)}


def test_only_the_strata_asked_for_and_other_period_kinds(workspace):
    result = kpi.aggregate(workspace, STAYS, kind="quarter", first=date(2025, 1, 1), last=date(2025, 6, 30),
                           dimensions=["sex"])
    assert {c.stratum for c in result.cells} == {"", "sex"}
    assert cells(result, "", None) == {(date(2025, 1, 1), None, ""): (2, 1.0, 2.0, 7.0),
                                       (date(2025, 4, 1), None, ""): (2, 0.0, 2.0, 8.0)}
    weekly = kpi.aggregate(workspace, STAYS, kind="week", first=date(2025, 3, 1), last=date(2025, 3, 31), dimensions=[])
    # 2025-03-03 and 2025-03-15 fall in the ISO weeks starting Monday 3 and Monday 10 March
    assert cells(weekly, "", None) == {(date(2025, 3, 3), None, ""): (1, 0.0, 1.0, 2.0),
                                       (date(2025, 3, 10), None, ""): (1, 1.0, 1.0, 5.0)}


def test_drill_down_gives_the_cases_of_a_cell(workspace):
    kept = kpi.framed_table(workspace, STAYS, first=date(2025, 3, 1), last=date(2025, 4, 30))
    assert kept.column_names == list(kpi.CASE_COLUMNS) and kept.num_rows == 4
    april = kept.filter(pa.compute.equal(kept["period_start"], pa.scalar(date(2025, 4, 1))))
    rows = kpi.cases_in(april)
    assert [(r["case_id"], r["patient_id"], r["unit_key"], r["value"]) for r in rows] == [
        ("Encounter/e3", "Patient/p3", "rgh", 7.0), ("Encounter/e4", "Patient/p3", None, 1.0)]
    march = kept.filter(pa.compute.equal(kept["period_start"], pa.scalar(date(2025, 3, 1))))
    assert [r["case_id"] for r in kpi.cases_in(march, unit_keys=["4w"])] == ["Encounter/e1"]
    assert [r["case_id"] for r in kpi.cases_in(march, stratum="sex", stratum_value="male")] == ["Encounter/e2"]
    assert [r["case_id"] for r in kpi.cases_in(march, stratum="age_band", stratum_value="75+")] == ["Encounter/e1"]


def test_cases_without_a_usable_date_are_counted_apart():
    resources = [patient("p1", "female", "1950-03-15"),
                 stay("e1", "p1", "2025-03-10T08:00:00Z", "2025-03-12T08:00:00Z"),
                 stay("e2", "p1", "2025-03-10T08:00:00Z", "2025-03")]  # a month is not an instant
    space = kpi.Workspace.for_sql(make_store(resources), VIEWS, [STAYS])
    result = kpi.aggregate(space, STAYS, first=date(2025, 3, 1), last=date(2025, 3, 31), dimensions=[])
    assert (result.cases, result.undated, result.outside, result.unmapped) == (2, 1, 0, 1)
    assert cells(result) == {(date(2025, 3, 1), None, ""): (1, 0.0, 1.0, 2.0)}


@pytest.mark.parametrize(("sql", "message"), [
    ("DELETE FROM encounter", "exactly one SELECT"),
    ("SELECT 1; SELECT 2", "exactly one SELECT"),
    ("SELECT * FROM resources", "resources, which are not views"),
    ("SELEC id FROM encounter", "does not parse"),
])
def test_sql_other_than_one_select_over_the_views_is_refused(sql, message):
    with pytest.raises(kpi.KpiError, match=message):
        kpi.referenced_views(sql, VIEWS)


def test_sql_cannot_read_files_or_miss_columns(workspace):
    with pytest.raises(kpi.KpiError, match="cannot run"):
        kpi.aggregate(workspace, "SELECT * FROM read_csv('/etc/hostname')", first=date(2025, 3, 1), last=date(2025, 3, 31))
    with pytest.raises(kpi.KpiError, match="missing: at"):
        kpi.aggregate(workspace, "SELECT id AS case_id, patient_id FROM encounter", first=date(2025, 3, 1),
                      last=date(2025, 3, 31))
    with pytest.raises(kpi.KpiError, match="unknown strata"):
        kpi.aggregate(workspace, STAYS, first=date(2025, 3, 1), last=date(2025, 3, 31), dimensions=["language"])


def test_a_place_mapped_to_two_units_is_refused():
    space = kpi.Workspace(make_store(RESOURCES), VIEWS, ["encounter"], [("location", "L-4W", "4w"), ("location", "L-4W", "5e")])
    with pytest.raises(kpi.KpiError, match="more than one unit"):
        kpi.aggregate(space, STAYS, first=date(2025, 3, 1), last=date(2025, 3, 31))


def test_periods():
    assert periods.start_of(date(2025, 8, 17), "quarter") == date(2025, 7, 1)
    assert periods.start_of(date(2025, 8, 17), "week") == date(2025, 8, 11)
    assert periods.next_start(date(2025, 12, 1), "month") == date(2026, 1, 1)
    assert periods.next_start(date(2025, 10, 1), "quarter") == date(2026, 1, 1)
    assert len(periods.periods(date(2024, 1, 15), date(2025, 12, 3), "month")) == 24
    with pytest.raises(periods.PeriodError):
        periods.periods(date(2025, 2, 1), date(2025, 1, 1), "month")
    with pytest.raises(periods.PeriodError):
        periods.start_of(date(2025, 1, 1), "fortnight")
    assert kpi.age_band_labels() == ["0–17", "18–44", "45–64", "65–74", "75+"]


def _tables(space) -> set[str]:
    return {row[0] for row in space.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


class Collected(list):
    """What `aggregate` hands to `keep`: (period start, its cases) in order."""

    def __call__(self, start, table):
        self.append((start, table))

    def table(self):
        return pa.concat_tables([table for _, table in self])


def test_the_cells_and_the_kept_cases_come_from_one_computation_that_leaves_nothing_behind(workspace):
    before = _tables(workspace)
    collected = Collected()
    result = kpi.aggregate(workspace, STAYS, first=date(2025, 3, 1), last=date(2025, 4, 30), keep=collected)
    kept = kpi.framed_table(workspace, STAYS, first=date(2025, 3, 1), last=date(2025, 4, 30))
    assert collected.table().to_pylist() == kept.to_pylist() and kept.num_rows == 4 == result.kept
    assert [start for start, _ in collected] == sorted({row["period_start"] for row in kept.to_pylist()})
    assert all({row["period_start"] for row in table.to_pylist()} == {start} for start, table in collected)
    assert kpi.aggregate(workspace, STAYS, first=date(2025, 3, 1), last=date(2025, 4, 30)).kept == 0
    assert _tables(workspace) == before


def test_the_kept_cases_come_a_chunk_of_whole_periods_at_a_time(monkeypatch):
    """However many the cases, a process holds one chunk of them: whole periods up to
    KEPT_ROWS_AT_ONCE rows, or one period alone when it holds more."""
    march, april, may, june = (date(2025, m, 1) for m in (3, 4, 5, 6))
    assert aggregate_module._chunks([(march, 5), (april, 5), (may, 20), (june, 1)], 10) == [[march, april], [may], [june]]
    assert aggregate_module._chunks([(march, 11)], 10) == [[march]] and aggregate_module._chunks([], 10) == []
    resources = RESOURCES[:3] + RESOURCES[-2:]
    whole, chunked = Collected(), Collected()
    space = kpi.Workspace.for_sql(make_store(resources), VIEWS, [STAYS], UNIT_MAP)
    kpi.aggregate(space, MANY, first=date(2025, 1, 1), last=date(2025, 12, 31), keep=whole)
    asked = []
    arrow = space.arrow
    monkeypatch.setattr(space, "arrow", lambda query: asked.append(query) or arrow(query))
    monkeypatch.setattr(aggregate_module, "KEPT_ROWS_AT_ONCE", 20_000)  # about two months of MANY's
    result = kpi.aggregate(space, MANY, first=date(2025, 1, 1), last=date(2025, 12, 31), keep=chunked)
    space.close()
    assert result.kept == 105_120 and len(asked) == 6
    assert [start for start, _ in chunked] == [start for start, _ in whole] == [date(2025, m, 1) for m in range(1, 13)]
    assert all(mine.equals(theirs) for (_, mine), (_, theirs) in zip(chunked, whole, strict=True))



def test_a_period_past_the_limit_comes_a_run_of_whole_days_at_a_time(monkeypatch):
    """A period holding more than KEPT_ROWS_AT_ONCE cases comes over in runs of whole days, in
    order, each within the limit unless one day alone holds more: the same cases in the same
    order as whole (inpatient days at 20 million resources: a month of 1.6 million)."""
    resources = RESOURCES[:3] + RESOURCES[-2:]
    whole, by_days = Collected(), Collected()
    space = kpi.Workspace.for_sql(make_store(resources), VIEWS, [STAYS], UNIT_MAP)
    kpi.aggregate(space, MANY, first=date(2025, 1, 1), last=date(2025, 2, 28), keep=whole)
    monkeypatch.setattr(aggregate_module, "KEPT_ROWS_AT_ONCE", 3_000)  # 288 cases a day: 10 days a run
    kpi.aggregate(space, MANY, first=date(2025, 1, 1), last=date(2025, 2, 28), keep=by_days)
    monkeypatch.setattr(aggregate_module, "KEPT_ROWS_AT_ONCE", 100)  # less than a day: a day a run
    day_by_day = Collected()
    kpi.aggregate(space, MANY, first=date(2025, 1, 1), last=date(2025, 1, 31), keep=day_by_day)
    space.close()
    january, february = date(2025, 1, 1), date(2025, 2, 1)
    assert [(start, table.num_rows) for start, table in by_days] == [
        (january, 2_880), (january, 2_880), (january, 2_880), (january, 288),
        (february, 2_880), (february, 2_880), (february, 2_304)]
    for month in (january, february):
        parts = [table for start, table in by_days if start == month]
        [expected] = [table for start, table in whole if start == month]
        assert pa.concat_tables(parts).equals(expected)
    assert [table.num_rows for _, table in day_by_day] == [288] * 31
    assert pa.concat_tables([table for _, table in day_by_day]).equals(whole[0][1])

# Many cases from few resources: one for every 5 minutes of 2025 (105,120), with long ids, on the
# two mapped wards in turn, for the three patients in turn.
MANY = """
    SELECT 'case-' || repeat('x', 60) || i AS case_id, 'Patient/p' || (i % 3 + 1) AS patient_id,
           TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_minutes(5 * i) AS "at",
           CASE WHEN i % 2 = 0 THEN 'Location/L-4W' ELSE 'Location/L-5E' END AS location_id,
           i % 7 AS numerator
    FROM range(105120) AS t(i)
"""


def test_a_workspace_spills_past_its_memory_cap_and_counts_the_same(monkeypatch):
    resources = RESOURCES[:3] + RESOURCES[-2:]
    roomy = kpi.Workspace.for_sql(make_store(resources), VIEWS, [STAYS], UNIT_MAP)
    expected_cases, found_cases = Collected(), Collected()
    expected = kpi.aggregate(roomy, MANY, first=date(2025, 1, 1), last=date(2025, 12, 31), keep=expected_cases)
    roomy.close()
    # The framed cases alone take 42 MB in DuckDB: under this cap they must go to disk.
    monkeypatch.setattr(kpi.workspace, "MEMORY_LIMIT", "40MB")
    tight = kpi.Workspace.for_sql(make_store(resources), VIEWS, [STAYS], UNIT_MAP)
    spill = Path(tight.connection.execute("SELECT current_setting('temp_directory')").fetchone()[0])
    found = kpi.aggregate(tight, MANY, first=date(2025, 1, 1), last=date(2025, 12, 31), keep=found_cases)
    # Each month, for the organisation and each ward: all cases, 3 age bands (4 in March, when p1
    # turns 75), 2 sexes, 3 races, 1 ethnicity, 2 payers (3 in March, when p2 changes plan).
    assert len(found.cells) == 3 * (11 * (1 + 3 + 2 + 3 + 1 + 2) + (1 + 4 + 2 + 3 + 1 + 3))
    assert found.cells == expected.cells
    assert found.kept == 105_120 and found_cases.table().equals(expected_cases.table())
    assert spill.is_dir()
    tight.close()
    assert not spill.exists()


# 300,000 stays of 2025 evenly spread, each with a length (its median is what cannot spill).
STAYS_WITH_LENGTHS = """
    SELECT 'case-' || i AS case_id, 'Patient/p' || (i % 3 + 1) AS patient_id,
           TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_seconds(CAST(105 * i AS BIGINT)) AS "at",
           CASE WHEN i % 2 = 0 THEN 'Location/L-4W' ELSE 'Location/L-5E' END AS location_id,
           (i * 7919) % 1000 AS "value"
    FROM range(300000) AS t(i)
"""


def test_medians_past_the_memory_cap_are_computed_a_chunk_of_periods_at_a_time(monkeypatch):
    resources = RESOURCES[:3] + RESOURCES[-2:]
    year = {"first": date(2025, 1, 1), "last": date(2025, 12, 31)}
    roomy = kpi.Workspace.for_sql(make_store(resources), VIEWS, [STAYS], UNIT_MAP)
    expected = kpi.aggregate(roomy, STAYS_WITH_LENGTHS, **year)
    roomy.close()
    monkeypatch.setattr(kpi.workspace, "MEMORY_LIMIT", "64MB")
    tight = kpi.Workspace.for_sql(make_store(resources), VIEWS, [STAYS], UNIT_MAP)
    monkeypatch.setattr(aggregate_module, "GROUPED_ROWS_AT_ONCE", 1_000_000)  # every period at once
    with pytest.raises(kpi.KpiError, match=r"need more memory than a workspace may take \(64MB"):
        kpi.aggregate(tight, STAYS_WITH_LENGTHS, **year)
    monkeypatch.setattr(aggregate_module, "GROUPED_ROWS_AT_ONCE", 40_000)  # a month is about 25,000
    found = kpi.aggregate(tight, STAYS_WITH_LENGTHS, **year)
    tight.close()
    assert found.cases == 300_000 and found.cells == expected.cells
    january = [c for c in found.cells if c.period_start == date(2025, 1, 1) and c.unit_key is None and c.stratum == ""]
    # 0..999 spread evenly over January's 25,509 stays (i up to 25,508): the median is 499 or 500.
    assert january[0].cases == 25_509 and 499 <= january[0].value_median <= 500


def test_cases_that_cannot_fit_even_spilling_say_so(monkeypatch):
    monkeypatch.setattr(kpi.workspace, "MEMORY_LIMIT", "12MB")
    tight = kpi.Workspace.for_sql(make_store(RESOURCES[:3]), VIEWS, [STAYS], UNIT_MAP)
    with pytest.raises(kpi.KpiError, match=r"need more memory than a workspace may take \(12MB, and disk space past "
                                           r"it; ANDON_KPI_MEMORY_LIMIT sets it\)"):
        kpi.aggregate(tight, MANY, first=date(2025, 1, 1), last=date(2025, 12, 31))
    assert not {name for name in _tables(tight) if name.startswith("_kpi_")}  # nor any step of the framing
    tight.close()


def test_each_statement_of_the_framing_reads_one_large_table_besides_the_cases():
    """DuckDB spills one large join or window past the workspace's cap, not two at once (5.4
    million patients' inpatient days: docs/benchmarks.md): the coverages, the payers found, the
    patients and the encounters' practitioners each have a statement of their own."""
    space = kpi.Workspace.for_sql(make_store(RESOURCES[:3]), VIEWS, [STAYS], UNIT_MAP, attribution=True)
    steps = aggregate_module._framing_steps(space, aggregate_module.TYPED_CASES, "month", kpi.AGE_BANDS,
                                            aggregate_module._bounds(date(2025, 1, 1), date(2025, 12, 31), "month"))
    space.close()
    large = {"coverage", "_kpi_case_payers", "patient", "encounter_attribution"}
    parser = duckdb.connect()  # names the tables a statement reads (its parameters as NULL, to parse it)
    read = [sorted(set(parser.get_table_names(re.sub(r"\$\w+", "NULL", sql))) & large) for _, sql, _ in steps]
    assert read == [["coverage"], ["_kpi_case_payers"], ["patient"], ["encounter_attribution"]]
    assert steps[-1][0] == aggregate_module.FRAMED_CASES


def test_a_table_made_in_steps_keeps_the_last_and_drops_the_others_even_when_a_step_fails(workspace):
    before = _tables(workspace)
    workspace.create_table_in_steps([("_s1", "SELECT 1 AS x", None), ("_s2", "SELECT x + $more AS x FROM _s1", {"more": 1}),
                                     ("_s3", "SELECT x * 10 AS x FROM _s2", None)])
    assert workspace.rows("SELECT x FROM _s3") == [(20,)] and _tables(workspace) == before | {"_s3"}
    workspace.drop_table("_s3")
    with pytest.raises(kpi.KpiError, match="no_such_column"):
        workspace.create_table_in_steps([("_s1", "SELECT 1 AS x", None), ("_s2", "SELECT x FROM _s1", None),
                                         ("_s3", "SELECT no_such_column FROM _s2", None)])
    assert _tables(workspace) == before


def test_a_health_system_sets_the_workspaces_memory_cap_and_a_wrong_one_is_named(monkeypatch):
    """ANDON_KPI_MEMORY_LIMIT raises the cap (5.4 million patients' inpatient days did not fit
    256 MB): the cases that did not fit under 12 MB fit under it."""
    monkeypatch.setattr(kpi.workspace, "MEMORY_LIMIT", "12MB")
    monkeypatch.setenv("ANDON_KPI_MEMORY_LIMIT", "200MB")
    roomy = kpi.Workspace.for_sql(make_store(RESOURCES[:3]), VIEWS, [STAYS], UNIT_MAP)
    assert roomy.connection.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "190.7 MiB"
    assert kpi.aggregate(roomy, MANY, first=date(2025, 1, 1), last=date(2025, 12, 31)).cases > 0
    roomy.close()
    for wrong in ("lots", "2GB'; SELECT 1; --"):
        monkeypatch.setenv("ANDON_KPI_MEMORY_LIMIT", wrong)
        with pytest.raises(kpi.KpiError, match=r"ANDON_KPI_MEMORY_LIMIT=.*expected a size such as 2GB"):
            kpi.Workspace.for_sql(make_store(RESOURCES[:3]), VIEWS, [STAYS], UNIT_MAP)
