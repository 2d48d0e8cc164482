"""eCQMs on Spark give the summary MeasureReports DuckDB gives: the CMS test cases of two measures
(an episode-based measure with strata, a patient-based one with supplemental data) in one store,
evaluated by `cql.run.run_measure` over the DuckDB store and by `spark.ecqm.run_measure` over the
Parquet store `andon fhir parquet` writes from it. `make test-deep` (ANDON_FUZZ_SCALE > 1) takes
every measure of the content that has test cases."""

import json
import re

import pytest

from andon.analytics.cql import content, run
from andon.analytics.cql.episodes import Case
from andon.analytics.cql.measure import MeasureError
from andon.analytics.fhir import columnar, ingest, store
from tests.analytics.cql.test_ecqm_one_pass import CONTENT, NOW, _renamed, needs_content
from tests.fuzz import examples

IN_CI = ("CMS71FHIRSTKAnticoagAFFlutter", "ControllingHighBloodPressureFHIR")
DEEP = examples(1) > 1
MEASURES = (tuple(sorted(p.name for p in (CONTENT / "tests").iterdir() if p.is_dir()))
            if DEEP and (CONTENT / "tests").is_dir() else IN_CI)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The DuckDB store of both measures' test patients, its Parquet folder, and each measure's period."""
    folder = tmp_path_factory.mktemp("spark-ecqm")
    periods = {}
    with (folder / "cases.ndjson").open("w") as out:
        for number, measure in enumerate(MEASURES):
            cases = content.load_cases([CONTENT], measure)
            periods[measure] = tuple(cases[0].period)
            for case in cases:
                for resource in _renamed(case.resources, f"m{number}-"):
                    out.write(json.dumps(resource) + "\n")
    connection = store.connect(folder / "fhir.duckdb")
    assert ingest.load_paths(connection, [folder / "cases.ndjson"]).total.quarantined == 0
    columnar.export_parquet(connection, folder / "parquet")
    connection.close()
    return folder / "fhir.duckdb", folder / "parquet", periods


def _errors_sorted(report: dict) -> dict:
    for extension in report.get("extension", []):
        if extension["url"].endswith("/evaluation-errors"):
            extension["valueString"] = "\n".join(sorted(extension["valueString"].split("\n")))
    return report


@needs_content
@pytest.mark.parametrize("measure", MEASURES)
def test_a_measure_on_spark_is_the_report_duckdb_gives(spark, stores, measure):
    from andon.analytics.spark import ecqm

    path, parquet, periods = stores
    connection = store.connect(path, read_only=True)
    try:
        try:
            on_duckdb = run.run_measure(connection, [CONTENT], measure, periods[measure], jobs=1, now=NOW)
        except MeasureError as error:  # content the engine refuses (deep runs): refused on Spark too
            with pytest.raises(MeasureError, match=re.escape(str(error))):
                ecqm.run_measure(spark, [CONTENT], measure, periods[measure], store=str(parquet), now=NOW)
            return
        patients = connection.execute("SELECT count(*) FROM resources WHERE type = 'Patient'").fetchone()[0]
    finally:
        connection.close()
    on_spark = ecqm.run_measure(spark, [CONTENT], measure, periods[measure], store=str(parquet), now=NOW)
    assert _errors_sorted(on_spark) == _errors_sorted(on_duckdb)
    evaluated = next(e["valueInteger"] for e in on_spark["extension"] if e["url"].endswith("/patients-evaluated"))
    assert evaluated == patients == sum(len(content.load_cases([CONTENT], m)) for m in MEASURES)  # each once
    if measure in IN_CI:
        counts = {p["code"]["coding"][0]["code"]: p["count"] for p in on_spark["group"][0]["population"]}
        assert counts["initial-population"] > 0 and counts["numerator"] > 0


@needs_content
def test_andon_ecqm_run_on_spark_writes_the_report(spark, stores, tmp_path, monkeypatch, capsys):
    """`andon ecqm run` with ANDON_ANALYTICS_ENGINE=spark evaluates over ANDON_SPARK_STORE."""
    from andon.cli import main

    path, parquet, periods = stores
    measure = IN_CI[1]
    period = "..".join(periods[measure])
    common = ["ecqm", "run", measure, "--period", period, "--content", str(CONTENT)]
    assert main([*common, "--store", str(path), "--out", str(tmp_path / "duckdb.json"), "--no-progress"]) in (0, 1)
    monkeypatch.setenv("ANDON_ANALYTICS_ENGINE", "spark")
    monkeypatch.setenv("ANDON_SPARK_STORE", str(parquet))
    assert main([*common, "--out", str(tmp_path / "spark.json")]) in (0, 1)
    patients = sum(len(content.load_cases([CONTENT], m)) for m in MEASURES)
    assert f"{patients} patients evaluated" in capsys.readouterr().err
    on_duckdb, on_spark = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("duckdb", "spark"))
    assert on_spark["group"] == on_duckdb["group"] and on_spark.get("contained") == on_duckdb.get("contained")
    assert on_spark["date"] != "" and on_spark["period"] == {"start": periods[measure][0], "end": periods[measure][1]}
    monkeypatch.delenv("ANDON_SPARK_STORE")
    assert main([*common, "--out", str(tmp_path / "none.json")]) == 2
    assert "ANDON_SPARK_STORE is not set" in capsys.readouterr().err
    monkeypatch.setenv("ANDON_SPARK_STORE", str(tmp_path / "nowhere"))
    assert main([*common, "--out", str(tmp_path / "none.json")]) == 2
    assert "no FHIR store at" in capsys.readouterr().err and not (tmp_path / "none.json").exists()


@needs_content
def test_cases_and_an_explanation_on_spark_are_those_of_duckdb(spark, stores):
    """The cases of both measures in one pass (what the measure library keeps), and one
    patient's explanation, on Spark as on DuckDB."""
    from andon.analytics.spark import ecqm

    path, parquet, periods = stores
    runs = [(measure, periods[measure]) for measure in IN_CI]
    connection = store.connect(path, read_only=True)
    try:
        on_duckdb = run.run_cases_together(connection, [CONTENT], runs, jobs=1, now=NOW)
        patient_id = connection.execute("SELECT id FROM resources WHERE type = 'Patient' AND id LIKE 'm1-%' ORDER BY id LIMIT 1").fetchone()[0]
        explained = run.explain_patient(connection, [CONTENT], IN_CI[1], periods[IN_CI[1]], patient_id, now=NOW)
    finally:
        connection.close()
    on_spark = ecqm.run_cases_together(spark, [CONTENT], runs, store=str(parquet), now=NOW)
    order = lambda case: (case.patient_id, case.episode or "")  # noqa: E731
    for (run_, period), (frame, evaluated, errors, warnings), (theirs, their_count, their_errors, their_warnings) in zip(
            runs, on_spark, on_duckdb, strict=True):
        rows = frame.toArrow().to_pylist()  # the cases stay on the executors until asked for
        assert {row.pop("period_at") for row in rows} == {period[0]}, run_
        assert sorted((Case(**row) for row in rows), key=order) == sorted(theirs, key=order) and rows
        assert (evaluated, errors, warnings) == (their_count, sorted(their_errors), their_warnings)
    definition, result = ecqm.explain_patient(spark, [CONTENT], IN_CI[1], periods[IN_CI[1]], patient_id,
                                              store=str(parquet), now=NOW)
    assert definition.url == explained[0].url and result == explained[1]
    assert ecqm.explain_patient(spark, [CONTENT], IN_CI[1], periods[IN_CI[1]], "nobody", store=str(parquet), now=NOW) is None
