"""Measures on Spark mean what they mean on DuckDB.

- The KPI layer's SQL (a measure's SQL, the aggregation around it) turned into Spark's keeps
  DuckDB's meaning where the two engines differ: each construct over a grid of values, run on
  both engines.
- Every SQL measure of the library (content/measures), on the shared Synthea patients with
  coverages written here (so that the payer stratum counts), EHR places mapped to units with a
  parent, and cases by practitioner: the same cells, counts and kept cases from a DuckDB
  workspace and from `spark.workspace.SparkWorkspace` over the Parquet store of the same data.
"""

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from andon.analytics import kpi
from andon.analytics.fhir import columnar, ingest, store

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-10-patients"
VIEWS = ROOT / "content" / "views"
FIRST, LAST = date(1950, 1, 1), date(2025, 12, 31)


def _library_sql() -> dict[str, str]:
    found = {}
    for path in sorted((ROOT / "content" / "measures").glob("*.yaml")):
        definition = yaml.safe_load(path.read_text())
        if definition["source"]["kind"] == "sql":
            found[definition["key"]] = definition["source"]["sql"]
    return found


# --- the dialect, construct by construct ------------------------------------------------------

DATES = ["2000-02-29", "2001-02-28", "2001-03-01", "2000-03-31", "2001-03-30", "2000-01-31", "2000-02-28",
         "2001-05-14", "2001-05-15", "2000-05-15", "1999-12-31", "2024-02-29"]
TIMES = ["2020-01-01T10:00:59Z", "2020-01-01T10:01:00Z", "2020-01-01T23:59:59+02:00", "2020-01-02T00:00:00Z",
         "2020-02-29T12:30:00.500-05:00", "2021-03-01T00:00:00Z"]
# FHIR's date and dateTime forms (partial dates among them) and text that is no date at all
WRITTEN = ["2019", "2019-03", "2019-03-04", "2019-03-04T10:11:12Z", "2019-03-04T10:11:12+05:30",
           "2019-03-04T10:11:12.123-08:00", "2019-02-30", "garbage", "", "+2019-03-04", "20190304"]


def _both(spark, duckdb_sql: str, rows: list[tuple], columns: str) -> tuple[list, list]:
    """`duckdb_sql` (a SELECT over `t`, its rows given) on DuckDB and, turned into Spark's SQL,
    on Spark: the rows of each, in the query's order."""
    from andon.analytics.spark.workspace import _spark_sql

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    names = [c.split()[0] for c in columns.split(",")]
    values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
    table = f"(VALUES {values}) AS t({', '.join(names)})"
    on_duckdb = connection.execute(duckdb_sql.replace("FROM t", f"FROM {table}")).fetchall()
    spark_sql = _spark_sql(duckdb_sql).replace("FROM t", f"FROM {table}")
    on_spark = [tuple(row) for row in spark.sql(spark_sql).collect()]
    return on_duckdb, on_spark


def _literal(value) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def test_dates_and_times_mean_on_spark_what_they_mean_on_duckdb(spark):
    pairs = [(a, b) for a in DATES for b in DATES]
    duck, on_spark = _both(spark, """
        SELECT a, b, date_sub('year', CAST(a AS DATE), CAST(b AS DATE)), date_sub('month', CAST(a AS DATE), CAST(b AS DATE)),
               date_diff('day', CAST(a AS DATE), CAST(b AS DATE)), date_diff('month', CAST(a AS DATE), CAST(b AS DATE)),
               date_diff('year', CAST(a AS DATE), CAST(b AS DATE)), date_diff('week', CAST(a AS DATE), CAST(b AS DATE))
        FROM t ORDER BY a, b""", pairs, "a, b")
    assert on_spark == duck
    assert ("2000-02-29", "2001-02-28", 1, 12, 365, 12, 1, 52) in duck  # the last day of February is a whole year
    assert ("2000-03-31", "2001-03-30", 0, 11, 364, 12, 1, 52) in duck

    pairs = [(a, b) for a in TIMES for b in TIMES]
    duck, on_spark = _both(spark, """
        SELECT a, b, date_diff('second', TRY_CAST(a AS TIMESTAMPTZ), TRY_CAST(b AS TIMESTAMPTZ)),
               date_diff('minute', TRY_CAST(a AS TIMESTAMPTZ), TRY_CAST(b AS TIMESTAMPTZ)),
               date_diff('hour', TRY_CAST(a AS TIMESTAMPTZ), TRY_CAST(b AS TIMESTAMPTZ)),
               date_diff('day', TRY_CAST(a AS TIMESTAMPTZ), TRY_CAST(b AS TIMESTAMPTZ)),
               date_diff('minute', TRY_CAST(a AS TIMESTAMPTZ), TRY_CAST(b AS TIMESTAMPTZ)) / 60.0
        FROM t ORDER BY a, b""", pairs, "a, b")
    assert on_spark == duck
    assert ("2020-01-01T10:00:59Z", "2020-01-01T10:01:00Z", 1, 1, 0, 0, 1 / 60) in duck  # boundaries crossed


def test_written_dates_are_read_on_spark_as_duckdb_reads_them(spark):
    duck, on_spark = _both(spark, """
        SELECT w, TRY_CAST(w AS DATE),
               date_diff('second', TRY_CAST('1970-01-01' AS TIMESTAMPTZ), TRY_CAST(w AS TIMESTAMPTZ))
        FROM t ORDER BY w""", [(w,) for w in WRITTEN], "w")
    assert on_spark == duck
    read = {row[0]: row[1:] for row in duck}
    assert read["2019-03-04T10:11:12+05:30"] == (date(2019, 3, 4), 1551674472)
    assert all(read[w] == (None, None) for w in ("2019", "2019-03", "garbage", "+2019-03-04", "20190304"))


def test_matching_and_dividing_mean_on_spark_what_they_mean_on_duckdb(spark):
    rows = [("Practitioner/123", 125, 60), ("Practitioner?identifier=a|b", 7, 2), ("xPractitioner/1y", 1, 3)]
    duck, on_spark = _both(spark, """
        SELECT r, regexp_full_match(r, 'Practitioner/[0-9]+'), CAST(n AS INTEGER) / 60.0, CAST(n AS INTEGER) / CAST(d AS INTEGER)
        FROM t ORDER BY r""", rows, "r, n, d")
    assert on_spark == duck
    assert duck[0][1:3] == (True, 125 / 60)


# --- the library's SQL measures on both engines ------------------------------------------------

def _coverages(patients: list[str]) -> list[dict]:
    """Coverages of the first patients with inpatient stays: one payer for all time; two begun
    the same day (the payer first by name counts); one cancelled (never counts); one that ended."""
    def coverage(number, patient, payer, start=None, end=None, status="active"):
        period = {key: value for key, value in (("start", start), ("end", end)) if value}
        return {"resourceType": "Coverage", "id": f"cov-{number}", "status": status,
                "beneficiary": {"reference": patient}, "payor": [{"display": payer}],
                **({"period": period} if period else {})}

    return [coverage(1, patients[0], "Medicare"),
            coverage(2, patients[1], "Blue Shield", start="1900-01-01"),
            coverage(3, patients[1], "Aetna", start="1900-01-01"),
            coverage(4, patients[2], "Medicaid", status="cancelled"),
            coverage(5, patients[3], "Humana", start="1980-01-01", end="2000-12-31T23:59:59Z")]


@pytest.fixture(scope="module")
def both_stores(tmp_path_factory):
    """The DuckDB store of the Synthea patients with their coverages, and its Parquet store."""
    if not SYNTHEA.is_dir():
        pytest.skip(f"the shared Synthea patients are not at {SYNTHEA}")
    folder = tmp_path_factory.mktemp("spark-kpi")
    encounters = [json.loads(line) for line in (SYNTHEA / "Encounter.000.ndjson").read_text().splitlines() if line.strip()]
    patients = sorted({e["subject"]["reference"] for e in encounters if e["class"]["code"] == "IMP"})
    (folder / "coverage").mkdir()
    (folder / "coverage" / "Coverage.ndjson").write_text(
        "\n".join(json.dumps(c) for c in _coverages(patients)) + "\n")
    connection = store.connect(folder / "fhir.duckdb")
    ingest.load_paths(connection, [SYNTHEA, folder / "coverage"], progress=False)
    columnar.export_parquet(connection, folder / "parquet")
    yield connection, folder / "parquet"
    connection.close()


def _units(connection) -> tuple[list, list]:
    """The two busiest inpatient places as units 1 and 2 and their organisation as unit 3, the
    first two under unit 10 (a department)."""
    probe = kpi.Workspace(connection, kpi.load_view_definitions(VIEWS), ["encounter"])
    try:
        places = probe.rows("""SELECT coalesce(location_id, location_reference), coalesce(service_provider_id, service_provider_reference)
                               FROM encounter WHERE class_code = 'IMP' GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 2""")
    finally:
        probe.close()
    unit_map = [("location", places[0][0], "1"), ("location", places[1][0], "2"), ("organization", places[1][1], "3")]
    return unit_map, [("1", "10"), ("2", "10")]


@pytest.fixture(scope="module")
def workspaces(both_stores, spark):
    from andon.analytics.spark import store as spark_store
    from andon.analytics.spark.workspace import SparkWorkspace

    connection, parquet = both_stores
    definitions, sqls = kpi.load_view_definitions(VIEWS), _library_sql().values()
    unit_map, tree = _units(connection)
    on_duckdb = kpi.Workspace.for_sql(connection, definitions, sqls, unit_map, tree, attribution=True)
    on_spark = SparkWorkspace.for_sql(spark_store.open_current(spark, str(parquet)), definitions, sqls, unit_map, tree,
                                      attribution=True)
    yield on_duckdb, on_spark
    on_duckdb.close()
    on_spark.close()


def _same_aggregation(on_duckdb: kpi.Aggregation, on_spark: kpi.Aggregation) -> None:
    assert on_spark.cells == on_duckdb.cells
    counts = ("cases", "undated", "outside", "unmapped")
    assert [getattr(on_spark, c) for c in counts] == [getattr(on_duckdb, c) for c in counts]
    assert on_spark.kept.column_names == on_duckdb.kept.column_names
    assert on_spark.kept.to_pylist() == on_duckdb.kept.to_pylist()


@pytest.mark.parametrize("key", sorted(_library_sql()))
def test_a_library_sql_measure_has_the_same_cells_on_spark(workspaces, key):
    on_duckdb, on_spark = workspaces
    assert on_spark.loaded == on_duckdb.loaded and on_duckdb.loaded["coverage"] == 5
    sql = _library_sql()[key]
    duck = kpi.aggregate(on_duckdb, sql, first=FIRST, last=LAST, by_practitioner=True, keep=True)
    _same_aggregation(duck, kpi.aggregate(on_spark, sql, first=FIRST, last=LAST, by_practitioner=True, keep=True))
    strata = {c.stratum for c in duck.cells}
    assert strata == {"", *kpi.DIMENSIONS, kpi.PRACTITIONER} and duck.cases > 0
    units = {c.unit_key for c in duck.cells}
    assert {None, "1", "10"} <= units  # the organisation, a ward and the department above it
    if key == "inpatient-days":
        payers = {c.stratum_value for c in duck.cells if c.stratum == "payer"}
        assert {"Medicare", "Aetna"} <= payers and "Blue Shield" not in payers and "Medicaid" not in payers


@pytest.mark.parametrize("kind", ["week", "quarter"])
def test_weeks_and_quarters_are_the_same_on_spark(workspaces, kind):
    on_duckdb, on_spark = workspaces
    sql = _library_sql()["average-length-of-stay"]
    duck = kpi.aggregate(on_duckdb, sql, kind=kind, first=FIRST, last=LAST, dimensions=["age_band"], keep=True)
    _same_aggregation(duck, kpi.aggregate(on_spark, sql, kind=kind, first=FIRST, last=LAST, dimensions=["age_band"], keep=True))
    assert len({c.period_start for c in duck.cells}) > 10


def test_a_measure_spark_cannot_run_says_why_and_the_workspace_reads_no_files(workspaces, spark, tmp_path):
    _, on_spark = workspaces
    with pytest.raises(kpi.KpiError, match=r"the SQL cannot run: .*no_such_column"):
        kpi.aggregate(on_spark, "SELECT id AS case_id, patient_id, no_such_column AS at FROM encounter", first=FIRST, last=LAST)
    with pytest.raises(kpi.KpiError, match=r"on Spark: date_sub by 'day' is not written for Spark \(year or month\)"):
        kpi.aggregate(on_spark, "SELECT id AS case_id, patient_id, period_end AS at, date_sub('day', CAST(period_start AS DATE), "
                                "CAST(period_end AS DATE)) AS value FROM encounter", first=FIRST, last=LAST)
    (tmp_path / "secret.json").write_text('{"a": 1}\n')
    with pytest.raises(Exception, match="UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY|runSQLOnFiles|TABLE_OR_VIEW_NOT_FOUND"):
        spark.sql(f"SELECT * FROM json.`{tmp_path / 'secret.json'}`").collect()
