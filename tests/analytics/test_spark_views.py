"""Views on Spark: the SQL-on-FHIR v2 conformance suite, the dialect's pieces, the command line.

Spark runs in local mode (PySpark from the `spark` extra, the machine's Java 17); the tests skip,
saying why, where either is missing (the `spark` fixture, tests/conftest.py).
"""

import json
import re

import pyarrow.parquet as pq
import pytest

from andon.analytics.fhir import sof, store
from tests.analytics.test_sof_conformance import compare, params

# "file::title" -> why Spark does not give what DuckDB gives (strict xfail: a fix fails the run
# until the entry goes)
KNOWN_ON_SPARK = {
    "fn_boundary.json::decimal lowBoundary": "Spark's VARIANT keeps a decimal's value, not its written "
                                             "precision (1.0 is stored as 1), which the boundary is computed from",
    "fn_boundary.json::decimal highBoundary": "the same: 1.0 is read back as 1",
}


_REGISTERED = {}


@pytest.mark.parametrize(("name", "suite", "test"), params(KNOWN_ON_SPARK))
def test_conformance_on_spark(spark, name, suite, test):
    from andon.analytics.spark import views

    if _REGISTERED.get("name") != name:  # each file's resources, registered once for its tests
        views.register_resources(spark, suite["resources"])
        _REGISTERED["name"] = name
    if test.get("expectError"):
        with pytest.raises(sof.ViewError):
            views.run(spark, test["view"])
        return
    compare(views.run(spark, test["view"]), test)


def test_typed_columns_on_spark_serve_the_views_duckdbs_serve_with_the_suites_rows(spark):
    """The suite's resources shredded into typed columns on Spark (spark.typed): exactly the views
    that read typed tables on DuckDB read them on Spark, each with the suite's expected rows."""
    from andon.analytics.fhir.sof import engine
    from andon.analytics.spark import views
    from tests.analytics.test_sof_conformance import CASES, SUITE, _store

    if not CASES:
        pytest.skip(f"conformance suite not found at {SUITE}")
    on_duckdb, on_spark = [], []
    for name in sorted({name for name, _, _ in CASES}):
        cases = [(suite, test) for n, suite, test in CASES if n == name and not test.get("expectError")]
        if not cases:
            continue
        views.register_resources(spark, cases[0][0]["resources"], typed_columns=True)
        for suite, test in cases:
            if engine.typed_sql(_store(name, suite), test["view"]):
                on_duckdb.append(f"{name}::{test['title']}")
            if "andon_typed_" in views.spark_sql(spark, test["view"]):
                on_spark.append(f"{name}::{test['title']}")
                compare(views.run(spark, test["view"]), test)
    _REGISTERED.clear()
    assert on_spark == on_duckdb and len(on_spark) >= 26, on_spark


def test_the_dialect_counts_lists_from_one_as_duckdb_does():
    from andon.analytics.spark.dialect import spark_sql

    sql = spark_sql("SELECT x[1], x[-1], x[i], list_transform(x, lambda e, i: i), x[2:3], x[-1:] FROM t")
    assert sql == ("SELECT TRY_ELEMENT_AT(x, 1), TRY_ELEMENT_AT(x, -1), TRY_ELEMENT_AT(x, i), "
                   "TRANSFORM(x, (e, i) -> (i + 1)), FILTER(x, (_e, _i) -> _i + 1 BETWEEN 2 AND 3), "
                   "FILTER(x, (_e, _i) -> _i + 1 > SIZE(x) - 1) FROM t")


def test_the_dialect_reads_json_as_variant(spark):
    from andon.analytics.spark.dialect import spark_sql

    sql = spark_sql("""SELECT json_extract_string(json_extract(r, '$."a b"[0]'), '$.c') AS c,
        json_extract_string(r, '$.id') AS id, CAST(CAST(json_extract(r, '$.id') AS JSON) AS VARCHAR) AS text,
        json_extract_string(CAST('{"x": 1}' AS JSON), '$.x') AS x, array_length([]::JSON[]) AS none
        FROM (SELECT CAST('{"id": "p1", "a b": [{"c": 1.5}]}' AS JSON) AS r)""")
    assert "VARIANT_GET(r, '$.id', 'string')" in sql and "TO_JSON(VARIANT_GET(r, '$.id'))" in sql
    assert spark.sql(sql).collect()[0].asDict() == {"c": "1.5", "id": "p1", "text": '"p1"', "x": "1", "none": 0}


def test_a_glob_becomes_a_whole_string_regular_expression():
    from andon.analytics.spark.dialect import _glob_regex

    assert _glob_regex("Patient/?*") == "^Patient/..*$"
    assert _glob_regex("Patient/*[!A-Za-z0-9.-]*") == "^Patient/.*[^A-Za-z0-9.-].*$"
    assert _glob_regex("a.b") == "^a\\.b$"


def test_json_types_match_duckdbs_names(spark):
    from andon.analytics.spark.dialect import spark_sql

    values = ['"x"', "1", "-2", "1.50", "1e3", "true", "null", "[1]", '{"a": 1}']
    duckdb_names = [store.connect().execute(f"SELECT json_type('{v}')").fetchone()[0] for v in values]
    row = spark.sql(spark_sql("SELECT " + ", ".join(f"json_type(CAST('{v}' AS JSON)) AS c{k}" for k, v in enumerate(values)))).collect()[0]
    names = {"UBIGINT": "BIGINT"}  # the compiler takes both as integers; Spark has one kind
    assert list(row) == [names.get(n, n) for n in duckdb_names]


def _nested_items(levels: int) -> dict:
    """A QuestionnaireResponse whose items nest `levels` deep, one item a level."""
    item = {"linkId": str(levels)}
    for level in range(levels - 1, 0, -1):
        item = {"linkId": str(level), "item": [item]}
    return {"resourceType": "QuestionnaireResponse", "id": f"deep-{levels}", "status": "completed", "item": [item]}


def test_a_repeat_reaches_its_depth_on_spark_as_on_duckdb_and_refuses_deeper_data(spark):
    """On Spark a repeat's levels are bound to lambda variables (compile_view's bound_levels), on
    DuckDB written out: the same items in the same order to REPEAT_DEPTH levels, the same refusal
    past them."""
    from andon.analytics.fhir.sof.compile import REPEAT_DEPTH
    from andon.analytics.fhir.sof.testing import store_with
    from andon.analytics.spark import views

    view = {"resource": "QuestionnaireResponse", "select": [
        {"column": [{"name": "id", "path": "id"}]},
        {"repeat": ["item"], "column": [{"name": "linkId", "path": "linkId"}]}]}
    deepest = _nested_items(REPEAT_DEPTH)
    connection = store_with([deepest])
    views.register_resources(spark, [deepest])
    expected = [{"id": f"deep-{REPEAT_DEPTH}", "linkId": str(level)} for level in range(1, REPEAT_DEPTH + 1)]
    assert sof.run(connection, view).to_pylist() == expected
    assert views.run(spark, view).to_pylist() == expected
    written_out, bound = sof.compile_view(view)[0], sof.compile_view(view, bound_levels=True)[0]
    assert len(bound) * 3 < len(written_out)  # the paths REPEAT_DEPTH times, not REPEAT_DEPTH²/2

    too_deep = _nested_items(REPEAT_DEPTH + 1)
    refusal = re.escape(f"view.select[1].repeat: the data nests deeper than {REPEAT_DEPTH} levels")
    with pytest.raises(sof.ViewError, match=refusal):
        sof.run(store_with([too_deep]), view)
    views.register_resources(spark, [too_deep])
    with pytest.raises(sof.ViewError, match=refusal):
        views.run(spark, view)


def test_a_value_the_view_cannot_flatten_is_a_view_error(spark):
    from andon.analytics.spark import views

    views.register_resources(spark, [{"resourceType": "Patient", "id": "p1", "name": [{"family": "A"}, {"family": "B"}]}])
    _REGISTERED.clear()
    view = {"resource": "Patient", "select": [{"column": [{"name": "family", "path": "name.family"}]}]}
    with pytest.raises(sof.ViewError, match=r"family.*more than one value"):
        views.run(spark, view)


def test_the_command_line_runs_a_view_on_spark_over_the_parquet_store(spark, tmp_path, monkeypatch, capsys):
    """`andon fhir parquet` writes the store for Spark, typed columns too; with
    ANDON_ANALYTICS_ENGINE=spark, `andon fhir view` reads it and gives the rows DuckDB gives,
    printed, or written by Spark as a folder of files (Parquet, or CSV with lists as JSON) that
    replaces an older one only once complete."""
    import pyarrow.csv as pcsv
    import pyarrow.dataset as ds

    from andon.analytics.spark import views
    from andon.cli import main

    patients = [{"resourceType": "Patient", "id": f"p{k}", "gender": g, "name": [{"family": f"F{k}"}]}
                for k, g in enumerate(["female", "male", "other"])]
    conditions = [{"resourceType": "Condition", "id": f"c{k}", "subject": {"reference": f"Patient/p{k % 3}"},
                   "code": {"coding": [{"system": "http://snomed.info/sct", "code": str(100 + k)}]}} for k in range(5)]
    conditions[2]["code"]["coding"].append({"system": "http://snomed.info/sct", "code": "999"})
    (tmp_path / "export.ndjson").write_text("\n".join(json.dumps(r) for r in patients + conditions) + "\n")
    path = tmp_path / "fhir.duckdb"
    assert main(["fhir", "--store", str(path), "load", str(tmp_path / "export.ndjson"), "--no-progress"]) == 0
    folder = tmp_path / "parquet"
    assert main(["fhir", "--store", str(path), "parquet", str(folder)]) == 0
    view = {"resource": "Condition", "select": [{"column": [
        {"name": "id", "path": "getResourceKey()"}, {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
        {"name": "code", "path": "code.coding.code.first()"},
        {"name": "codes", "path": "code.coding.code", "collection": True}]}]}
    (tmp_path / "view.json").write_text(json.dumps(view))
    for name in ("duckdb.parquet", "duckdb.csv"):
        assert main(["fhir", "--store", str(path), "view", str(tmp_path / "view.json"), "--out", str(tmp_path / name)]) == 0
    capsys.readouterr()
    assert main(["fhir", "--store", str(path), "view", str(tmp_path / "view.json")]) == 0
    printed_by_duckdb = sorted(capsys.readouterr().out.splitlines())
    monkeypatch.setenv("ANDON_ANALYTICS_ENGINE", "spark")
    monkeypatch.setenv("ANDON_SPARK_STORE", str(folder))
    _REGISTERED.clear()
    assert main(["fhir", "view", str(tmp_path / "view.json"), "--out", str(tmp_path / "spark.parquet")]) == 0
    assert "5 rows written" in capsys.readouterr().err
    assert views.shown_typed(spark) == ["Condition", "Patient"]  # the typed columns `andon fhir parquet` wrote
    on_duckdb = sorted(pq.read_table(tmp_path / "duckdb.parquet").to_pylist(), key=lambda r: r["id"])
    on_spark = sorted(ds.dataset(tmp_path / "spark.parquet").to_table().to_pylist(), key=lambda r: r["id"])
    assert on_spark == on_duckdb
    assert on_spark[2] == {"id": "Condition/c2", "patient": "Patient/p2", "code": "102", "codes": ["102", "999"]}

    assert main(["fhir", "view", str(tmp_path / "view.json"), "--out", str(tmp_path / "spark.csv")]) == 0
    assert "5 rows written" in capsys.readouterr().err
    parts = sorted((tmp_path / "spark.csv").glob("*.csv"))
    assert parts and all(p.read_text().startswith("id,patient,code,codes\n") for p in parts if p.stat().st_size)
    csv_on_spark = [r for p in parts for r in pcsv.read_csv(p).to_pylist()]
    csv_on_duckdb = pcsv.read_csv(tmp_path / "duckdb.csv").to_pylist()
    assert sorted(csv_on_spark, key=lambda r: r["id"]) == sorted(csv_on_duckdb, key=lambda r: r["id"])
    assert {r["id"]: r["codes"] for r in csv_on_spark}["Condition/c2"] == '["102","999"]'

    assert main(["fhir", "view", str(tmp_path / "view.json")]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == printed_by_duckdb

    # a view that fails part-way (two codes where one is allowed) leaves the older output whole
    failing = {**view, "select": [{"column": [{"name": "id", "path": "getResourceKey()"},
                                              {"name": "code", "path": "code.coding.code"}]}]}
    (tmp_path / "failing.json").write_text(json.dumps(failing))
    assert main(["fhir", "view", str(tmp_path / "failing.json"), "--out", str(tmp_path / "spark.parquet")]) == 2
    assert "more than one value" in capsys.readouterr().err
    assert sorted(ds.dataset(tmp_path / "spark.parquet").to_table().to_pylist(), key=lambda r: r["id"]) == on_duckdb
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".spark")) == []
    monkeypatch.setenv("ANDON_SPARK_STORE", str(tmp_path / "nowhere"))
    assert main(["fhir", "view", str(tmp_path / "view.json")]) == 2
    assert "no FHIR store at" in capsys.readouterr().err
    monkeypatch.setenv("ANDON_ANALYTICS_ENGINE", "oracle")
    assert main(["fhir", "view", str(tmp_path / "view.json")]) == 2
    assert "must be one of duckdb, spark" in capsys.readouterr().err
