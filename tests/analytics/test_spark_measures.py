"""Measures computed on Spark (ANDON_ANALYTICS_ENGINE=spark) land in the same cells as on DuckDB.

One store: the shared Synthea patients, with coverages written here (so that the payer stratum
counts), and the CMS108 VTE prophylaxis test patients. Every SQL measure of the library and the
VTE eCQM (evaluated by patient on Spark) are computed by `services.compute_measures` on DuckDB,
then on Spark over the Parquet store of the same data, with EHR places mapped to two wards under
a service line and cases by practitioner: the stored results and the cases kept for the drill-down
are the same, and each result says which store version it came from. A measure whose SQL cannot
run says why on either engine. An engine that cannot be used is refused, saying why, and the
stored results stay.

These tests use the database, but run once, with the analytics tests (.ci/run): what they check is
the engine; what a computation writes to the database goes through the same code as on DuckDB,
whose computations tests/test_measures.py checks on both databases.
"""

import json
import math
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from andon.analytics.fhir import columnar, ingest, store
from andon.measures import cases, services
from andon.measures.models import MeasureResult
from andon.platform import content
from andon.platform.roles import Role
from tests.test_measures import ECQM, LIBRARY, SYNTHEA, ecqm_test_cases_store, library  # noqa: F401 (a fixture)

SQL_MEASURES = sorted(p.stem for p in LIBRARY.glob("*.yaml") if "\n  kind: sql\n" in p.read_text())
BROKEN = {  # measures whose SQL cannot run, and what each engine says
    "broken-column": ("SELECT e.id AS case_id, e.patient_id, e.no_such_column AS \"at\" FROM encounter e", "no_such_column"),
    "broken-on-spark": ("SELECT e.id AS case_id, e.patient_id, e.period_end AS \"at\", date_sub('day', "
                        "TRY_CAST(left(e.period_start, 10) AS DATE), TRY_CAST(left(e.period_end, 10) AS DATE)) AS \"value\" "
                        "FROM encounter e WHERE e.class_code = 'IMP'", "date_sub by 'day' is not written for Spark"),
}
FIRST = date(1960, 1, 1)


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
            coverage(5, patients[3], "Humana", start="1980-01-01", end="1986-12-31T23:59:59Z")]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The DuckDB store of both sets of patients, its Parquet store, and the CMS108 period's last day."""
    if not SYNTHEA.is_dir():
        pytest.skip(f"the shared Synthea patients are not at {SYNTHEA}")
    folder = tmp_path_factory.mktemp("spark-measures")
    path, vte_cases = ecqm_test_cases_store(folder, "CMS108VTEProphylaxisFHIR")
    encounters = [json.loads(line) for line in (SYNTHEA / "Encounter.000.ndjson").read_text().splitlines() if line.strip()]
    (folder / "coverage").mkdir()
    (folder / "coverage" / "Coverage.ndjson").write_text("\n".join(json.dumps(c) for c in _coverages(
        sorted({e["subject"]["reference"] for e in encounters if e["class"]["code"] == "IMP"}))) + "\n")
    connection = store.connect(path)
    ingest.load_paths(connection, [SYNTHEA, folder / "coverage"], progress=False)
    columnar.export_parquet(connection, folder / "parquet")
    connection.close()
    places = sorted({(e["location"][0]["location"]["reference"], e["id"]) for e in encounters if e["class"]["code"] == "IMP"})
    busiest = sorted({p for p, _ in places}, key=lambda place: (-sum(1 for p, _ in places if p == place), place))[:2]
    return path, folder / "parquet", date.fromisoformat(vte_cases[0].period[1][:10]), busiest


@pytest.fixture
def both_engines(stores, settings, library, hospital, make_user, spark, tmp_path):  # noqa: F811 (library)
    """The stores configured, two busy places mapped to wards under Medicine, and the broken measures loaded."""
    path, parquet, last, places = stores
    settings.ANDON_FHIR_STORE, settings.ANDON_ECQM_CONTENT = path, [ECQM]
    analyst = make_user(Role.QUALITY_ANALYST)
    services.map_unit(analyst, "location", places[0], hospital.unit("rgh/4w"))
    services.map_unit(analyst, "location", places[1], hospital.unit("rgh/5e"))
    (tmp_path / "measures").mkdir()
    template = (LIBRARY / "in-hospital-mortality.yaml").read_text()
    for key, (sql, _) in BROKEN.items():
        head = template.split("source:")[0].replace("key: in-hospital-mortality", f"key: {key}")
        (tmp_path / "measures" / f"{key}.yaml").write_text(head + "source:\n  kind: sql\n  sql: |\n    " + sql + "\n")
    content.load_content([tmp_path / "measures"])
    return parquet, last


def _stored() -> list[tuple]:
    return sorted((r.measure.key, r.period_kind, r.period_start, r.unit_id or 0, r.stratum, r.stratum_value, r.cases,
                   r.numerator, r.denominator, r.value) for r in MeasureResult.objects.select_related("measure"))


def _assert_same_cells(found: list[tuple], expected: list[tuple]) -> None:
    """The same cells: every key, count and median the same; a sum of values that are not whole
    numbers (a continuous measure's numerator, its mean) may differ in its last digits only, as
    the engines add the cases in different orders (507.90000000000003 and 507.9)."""
    assert [row[:7] for row in found] == [row[:7] for row in expected]
    for mine, theirs in zip(found, expected, strict=True):
        for a, b in zip(mine[7:], theirs[7:], strict=True):
            whole = b is None or float(b).is_integer()  # sums of whole numbers are exact in either order
            assert a == b or (not whole and a is not None and math.isclose(a, b, rel_tol=1e-12)), (mine, theirs)


def _kept(keys) -> dict:
    found = {}
    for key in keys:
        for path in sorted(cases.folder(key, "month").glob("*.parquet")):
            table = cases.kept(key, "month", date.fromisoformat(path.stem))
            found[(key, path.stem)] = (table.to_pylist(), cases.measurement_period(table))
    return found


def _held_by_spark(spark) -> set[int]:
    """The RDDs whose blocks Spark's executors hold (cached or checkpointed)."""
    return {info.id() for info in spark.sparkContext._jsc.sc().getRDDStorageInfo()}


def test_measures_computed_on_spark_are_the_cells_computed_on_duckdb(both_engines, settings, hospital, spark):
    parquet, last = both_engines
    keys = [*SQL_MEASURES, "vte-prophylaxis", *BROKEN]
    on_duckdb = services.compute_measures(keys, first=FIRST, last=last, jobs=1, by_practitioner=True)
    errors = {d.measure: d.error for d in on_duckdb}
    assert [k for k, e in errors.items() if e] == ["broken-column"] and "no_such_column" in errors["broken-column"]
    cells, kept = _stored(), _kept([*SQL_MEASURES, "vte-prophylaxis"])
    strata = {(row[0], row[4]) for row in cells}
    assert {(key, "practitioner") for key in [*SQL_MEASURES, "vte-prophylaxis"]} <= strata
    assert {"Medicare", "Aetna"} <= {row[5] for row in cells if row[4] == "payer"}
    assert {"Blue Shield", "Medicaid"}.isdisjoint({row[5] for row in cells if row[4] == "payer"})
    assert {hospital.unit(u).pk for u in ("rgh/4w", "rgh/5e", "rgh/medicine")} <= {row[3] for row in cells}

    settings.ANDON_ANALYTICS_ENGINE, settings.ANDON_SPARK_STORE = "spark", str(parquet)
    told, held = [], _held_by_spark(spark)
    on_spark = services.compute_measures(keys, first=FIRST, last=last, by_practitioner=True,
                                         progress=lambda done, total, title: told.append((done, total)))
    errors_on_spark = {d.measure: d.error for d in on_spark}
    for key, (_, said) in BROKEN.items():
        assert errors_on_spark[key].startswith(f"{key}: ") and said in errors_on_spark[key], errors_on_spark[key]
    good = [d for d in on_spark if d.measure not in BROKEN]
    assert [(d.measure, d.error, d.cells) for d in good] == [(d.measure, d.error, d.cells) for d in on_duckdb
                                                              if d.measure not in BROKEN]
    assert next(d for d in good if d.measure == "vte-prophylaxis").counts["patients"] == \
        next(d for d in on_duckdb if d.measure == "vte-prophylaxis").counts["patients"]
    _assert_same_cells(_stored(), cells)  # the broken-on-spark measure keeps its results from DuckDB
    assert _kept([*SQL_MEASURES, "vte-prophylaxis"]) == kept
    loads = set(MeasureResult.objects.exclude(measure__key="broken-on-spark").values_list("data_load", flat=True))
    assert len(loads) == 1 and loads.pop().startswith(f"Spark store {parquet}, version v")
    assert told == [(n, len(keys)) for n in range(1, len(keys) + 1)]
    assert _held_by_spark(spark) <= held  # the views and every measure's cases freed with the workspace


def test_an_engine_that_cannot_be_used_is_refused_and_the_results_stay(both_engines, settings, tmp_path):
    _, last = both_engines
    services.compute_measures(["average-length-of-stay"], first=FIRST, last=last, by_practitioner=False)
    cells = _stored()
    settings.ANDON_ANALYTICS_ENGINE = "spork"
    with pytest.raises(ValidationError, match="ANDON_ANALYTICS_ENGINE is 'spork': it must be one of duckdb, spark"):
        services.compute_measures(["average-length-of-stay"], first=FIRST, last=last)
    settings.ANDON_ANALYTICS_ENGINE, settings.ANDON_SPARK_STORE = "spark", ""
    with pytest.raises(ValidationError, match="ANDON_SPARK_STORE is not set"):
        services.compute_measures(["average-length-of-stay"], first=FIRST, last=last)
    settings.ANDON_SPARK_STORE = str(tmp_path / "no-store-here")
    done = services.compute_measures(["average-length-of-stay"], first=FIRST, last=last)
    assert done[0].error == "average-length-of-stay: no clinical data is loaded (andon fhir load)"
    assert _stored() == cells


def test_the_tasks_run_after_each_load_see_a_load_of_the_spark_store(stores, settings, spark, tmp_path):
    from andon.analytics.spark import store as spark_store
    from andon.platform import schedules

    _, parquet, _, _ = stores
    settings.ANDON_ANALYTICS_ENGINE, settings.ANDON_SPARK_STORE = "spark", str(parquet)
    version = spark_store.complete_versions(spark, str(parquet))[-1]
    loaded = schedules.fhir_loaded_at()
    assert loaded is not None and loaded.strftime("v%Y%m%dT%H%M%S%f") == version
    (parquet / "resources" / "v29991231T000000000000").mkdir()  # a load begun later, not complete
    assert schedules.fhir_loaded_at() == loaded
    settings.ANDON_SPARK_STORE = str(tmp_path / "empty")
    assert schedules.fhir_loaded_at() is None
