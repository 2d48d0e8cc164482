"""The KPI layer's SQL (a measure's SQL, the aggregation around it) turned into Spark's keeps
DuckDB's meaning where the two engines differ: each construct over a grid of values, run on both
engines. The measures themselves on both engines: test_spark_measures.py."""

import importlib
import re
from datetime import date

import duckdb
import pytest


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
               date_diff('year', CAST(a AS DATE), CAST(b AS DATE)), date_diff('week', CAST(a AS DATE), CAST(b AS DATE)),
               CAST(date_trunc('week', CAST(a AS DATE)) AS DATE), CAST(date_trunc('quarter', CAST(b AS DATE)) AS DATE)
        FROM t ORDER BY a, b""", pairs, "a, b")
    assert on_spark == duck
    # the last day of February is a whole year; ISO weeks begin on Mondays
    assert ("2000-02-29", "2001-02-28", 1, 12, 365, 12, 1, 52, date(2000, 2, 28), date(2001, 1, 1)) in duck
    assert ("2000-03-31", "2001-03-30", 0, 11, 364, 12, 1, 52, date(2000, 3, 27), date(2001, 1, 1)) in duck

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


def test_a_measure_s_sql_on_spark_reads_no_files(spark, tmp_path):
    """As on DuckDB (enable_external_access false), SQL on Spark names tables, never files."""
    (tmp_path / "secret.json").write_text('{"a": 1}\n')
    with pytest.raises(Exception, match="UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY|TABLE_OR_VIEW_NOT_FOUND"):
        spark.sql(f"SELECT * FROM json.`{tmp_path / 'secret.json'}`").collect()


def test_a_failure_inside_the_jvm_is_told_in_java_s_words(spark):
    """py4j's error names only the call that failed (at 20 million resources a measure on Spark
    failed with "An error occurred while calling o604.getResult."): the measure's error is the
    Java exception's first line, which says what went wrong."""
    from py4j.protocol import Py4JJavaError

    from andon.analytics.spark.workspace import _spark_message

    with pytest.raises(Py4JJavaError) as raised:  # an exception pyspark does not turn into one of its own
        spark._jvm.java.util.ArrayList().get(0)
    assert re.fullmatch(r"An error occurred while calling o\d+\.get\.", str(raised.value).splitlines()[0])
    assert _spark_message(raised.value) == "java.lang.IndexOutOfBoundsException: Index 0 out of bounds for length 0"

    # Spark's "Exception thrown in awaitResult:" wraps the cause, as an ExecutionException does
    jvm = spark._jvm
    failed = jvm.java.util.concurrent.CompletableFuture.failedFuture(jvm.java.lang.IllegalStateException("out of room"))
    with pytest.raises(Py4JJavaError) as raised:
        failed.get()
    assert str(raised.value.java_exception.toString()).startswith("java.util.concurrent.ExecutionException")
    assert _spark_message(raised.value) == "java.lang.IllegalStateException: out of room"


def test_a_large_period_s_runs_of_days_are_the_same_on_spark(spark, monkeypatch):
    """The queries that cut a period past KEPT_ROWS_AT_ONCE into runs of whole days
    (kpi.aggregate._day_runs) on both engines: the same runs, and each run's condition picks the
    same cases."""
    from andon.analytics.spark.workspace import _spark_sql

    aggregate = importlib.import_module("andon.analytics.kpi.aggregate")  # the package's name is the function

    framed = """SELECT CAST(period_start AS DATE) AS period_start, CAST(at_ts AS TIMESTAMP) AS at_ts, case_id
                FROM (VALUES ('2025-01-01', '2025-01-01 00:00:00', 'a'), ('2025-01-01', '2025-01-01 23:59:59', 'b'),
                             ('2025-01-01', '2025-01-02 08:00:00', 'c'), ('2025-01-01', '2025-01-04 12:00:00', 'd'),
                             ('2025-01-01', '2025-01-04 13:00:00', 'e'), ('2025-01-01', '2025-01-31 23:00:00', 'f'),
                             ('2025-02-01', '2025-02-01 00:00:00', 'g')) AS t(period_start, at_ts, case_id)"""
    on_duckdb = duckdb.connect()
    on_duckdb.execute(f"CREATE TABLE {aggregate.FRAMED_CASES} AS {framed}")
    spark.sql(f"CREATE OR REPLACE TEMP VIEW {aggregate.FRAMED_CASES} AS {_spark_sql(framed)}")

    class Duck:
        def rows(self, query):
            return on_duckdb.execute(query).fetchall()

    class Spark:
        def rows(self, query):
            return [tuple(row) for row in spark.sql(_spark_sql(query)).collect()]

    def cases(engine, condition):
        return [row[0] for row in engine.rows(f"SELECT case_id FROM {aggregate.FRAMED_CASES} WHERE {condition} "
                                              "ORDER BY at_ts")]

    monkeypatch.setattr(aggregate, "KEPT_ROWS_AT_ONCE", 3)
    try:
        duck_runs, spark_runs = (aggregate._day_runs(engine, date(2025, 1, 1)) for engine in (Duck(), Spark()))
        assert duck_runs == spark_runs
        picked = [cases(Duck(), condition) for condition in duck_runs]
        assert picked == [["a", "b", "c"], ["d", "e", "f"]]  # January's 1st and 2nd, then its 4th and 31st
        assert [cases(Spark(), condition) for condition in spark_runs] == picked
    finally:
        spark.catalog.dropTempView(aggregate.FRAMED_CASES)
