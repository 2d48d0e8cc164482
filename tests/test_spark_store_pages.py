"""The pages that read the clinical record itself, with the measures computed on Spark: they
read the Spark store's newest complete version with DuckDB (`spark.duckdb_read`), neither Spark
nor Java on the web server. The store here is the layout Spark's load writes, written from a
DuckDB store of the same data by `andon fhir parquet` (`columnar.export_parquet`); every answer
is compared with the same reader's answer over that DuckDB store."""

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from django.urls import reverse

from andon.analytics.cql import population
from andon.analytics.fhir import columnar, ingest, store
from andon.analytics.kpi import review
from andon.analytics.spark import duckdb_read
from andon.measures import services
from andon.medstaff import practitioners
from andon.platform.roles import Role

REPO = Path(__file__).resolve().parent.parent
SYNTHEA = REPO.parent / "shared" / "data" / "synthea-10-patients"


@pytest.fixture(scope="module")
def both_stores(tmp_path_factory):
    """(the DuckDB store, the Spark store's folder) of the shared Synthea patients."""
    if not SYNTHEA.is_dir():
        pytest.skip(f"the shared Synthea patients are not at {SYNTHEA}")
    folder = tmp_path_factory.mktemp("spark-store-pages")
    path = folder / "fhir.duckdb"
    connection = store.connect(path)
    ingest.load_paths(connection, [SYNTHEA], progress=False)
    spark_store = folder / "it's the Spark store"  # a quote in the path: the SQL is escaped
    columnar.export_parquet(connection, spark_store)
    connection.close()
    return path, spark_store


@pytest.fixture
def on_duckdb(settings, both_stores):
    settings.ANDON_ANALYTICS_ENGINE = "duckdb"
    settings.ANDON_FHIR_STORE = both_stores[0]


@pytest.fixture
def on_spark(settings, both_stores, tmp_path):
    """Spark configured, and no DuckDB store on this server: what the pages find, the Spark
    store gave them."""
    settings.ANDON_ANALYTICS_ENGINE = "spark"
    settings.ANDON_SPARK_STORE = str(both_stores[1])
    settings.ANDON_SPARK_STORE_MOUNT = ""
    settings.ANDON_FHIR_STORE = tmp_path / "no-store.duckdb"


def _ndjson(kind):
    return [json.loads(line) for line in (SYNTHEA / f"{kind}.000.ndjson").read_text().splitlines() if line.strip()]


def _readings(unit_key):
    """What each page's reader finds in the store the settings name (the test sets them)."""
    patient = _ndjson("Patient")[0]
    mrn = next(i["value"] for i in patient["identifier"] if i.get("type", {}).get("coding", [{}])[0].get("code") == "MR")
    encounter = _ndjson("Encounter")[0]
    return {
        "places": services.places_in_store(),
        "found by MRN": services.find_patient(mrn),
        "found by encounter": services.find_patient(encounter["id"]),
        "identity": services.patient_identity(patient["id"]),
        "cohort": services.encounters_in(date(1900, 1, 1), date(2100, 1, 1)),
        "cohort of a unit": services.encounters_in(date(1900, 1, 1), date(2100, 1, 1), [unit_key]),
        "practitioners": practitioners.store_practitioners(),
        "drill-down facts": _chart_facts([f"Patient/{p['id']}" for p in _ndjson("Patient")[:3]],
                                         [f"Encounter/{e['id']}" for e in _ndjson("Encounter")[:5]]),
    }


def _chart_facts(patient_keys, encounter_keys):
    """The drill-down's facts about the cases' patients and encounters (`measures.results`, which
    joins them to the cases by id: in no order)."""
    connection = services.open_store()
    try:
        return [sorted(table.to_pylist(), key=lambda row: row["id"])
                for table in review.chart_facts(connection, patient_keys, encounter_keys)]
    finally:
        connection.close()


def test_the_pages_read_from_the_spark_store_what_they_read_from_the_duckdb_store(
        settings, both_stores, hospital, make_user, on_duckdb):
    ward = hospital.unit("rgh/4w")
    location = Counter(e["location"][0]["location"]["reference"] for e in _ndjson("Encounter")
                       if e.get("location")).most_common(1)[0][0]
    services.map_unit(make_user(Role.QUALITY_ANALYST), "location", location, ward)
    expected = _readings(str(ward.pk))
    settings.ANDON_ANALYTICS_ENGINE = "spark"
    settings.ANDON_SPARK_STORE = str(both_stores[1])
    settings.ANDON_FHIR_STORE = both_stores[0].parent / "none.duckdb"
    found = _readings(str(ward.pk))
    assert found == expected
    # and they are the record's: not empty answers that agree
    assert found["identity"].mrn and found["found by MRN"].patient_id == _ndjson("Patient")[0]["id"]
    assert found["found by encounter"].encounter_id == _ndjson("Encounter")[0]["id"]
    assert len(found["cohort"]) == len(_ndjson("Encounter"))
    assert found["cohort of a unit"] and {e["unit_key"] for e in found["cohort of a unit"]} == {str(ward.pk)}
    assert {p["place"] for p in found["places"]} >= {location}
    assert len(found["practitioners"]) == len(_ndjson("Practitioner"))
    assert [len(rows) for rows in found["drill-down facts"]] == [3, 5]


def _records(data) -> dict[str, list[str]]:
    """A patient's records by type, in no order: neither store orders a patient's resources of a
    type (the DuckDB store gives them as loaded, the Spark store by id)."""
    return {kind: sorted(json.dumps(node.value, sort_keys=True) for node in nodes) for kind, nodes in data.by_type.items()}


def test_views_read_the_versions_typed_columns_and_without_them_its_json(both_stores, tmp_path):
    """The version's typed columns serve the views of member paths, as the DuckDB store's typed
    tables do; a version whose columns never completed is read from its JSON text, the same rows."""
    import shutil

    from andon.analytics import kpi
    from andon.analytics.fhir import sof

    encounter = kpi.load_view_definitions(REPO / "content" / "views")["encounter"]
    duck = store.connect(both_stores[0], read_only=True)
    expected = sorted(map(str, sof.run(duck, encounter).to_pylist()))
    duck.close()
    parquet = duckdb_read.connect(both_stores[1])
    assert columnar.typed_table(parquet, "Encounter") is not None
    assert sorted(map(str, sof.run(parquet, encounter).to_pylist())) == expected and expected
    parquet.close()
    copy = tmp_path / "store"
    shutil.copytree(both_stores[1], copy)
    next((copy / "typed").iterdir()).joinpath("_structures.json").unlink()
    parquet = duckdb_read.connect(copy)
    assert columnar.typed_table(parquet, "Encounter") is None
    assert sorted(map(str, sof.run(parquet, encounter).to_pylist())) == expected
    parquet.close()


def test_one_patients_record_is_the_same_from_either_store(both_stores):
    """What the explanation of an eCQM case evaluates again (`cql.run.explain_patient`)."""
    duck = store.connect(both_stores[0], read_only=True)
    parquet = duckdb_read.connect(both_stores[1])
    try:
        for patient in _ndjson("Patient"):
            found = _records(population.patient(parquet, patient["id"]))
            assert found == _records(population.patient(duck, patient["id"]))
            assert found["Patient"] == [json.dumps(patient, sort_keys=True)]
        assert population.patient(parquet, "no-such-patient") is None
    finally:
        duck.close()
        parquet.close()


def test_the_places_page_lists_the_spark_stores_places(on_spark, client, hospital, make_user, sign_in_with_mfa):
    location = Counter(e["location"][0]["location"]["reference"] for e in _ndjson("Encounter")
                       if e.get("location")).most_common(1)[0][0]
    sign_in_with_mfa(make_user(Role.QUALITY_ANALYST))
    page = client.get(reverse("measures:mappings")).content.decode()
    assert location in page and "No clinical data is loaded." not in page


@pytest.mark.parametrize("location, folder", [
    ("/data/andon/spark", "/data/andon/spark"),
    ("file:///data/andon/spark", "/data/andon/spark"),
    ("relative/spark", "relative/spark"),
    ("s3a://bucket/andon", None),
    ("abfss://container@account.dfs.core.windows.net/andon", None),
    ("hdfs://namenode:8020/andon", None),
    ("", None),
])
def test_the_web_server_reads_a_store_on_a_path_only(location, folder):
    assert duckdb_read.local_folder(location) == (Path(folder) if folder else None)


def test_a_store_at_a_url_is_read_at_its_mount_or_not_at_all(settings, both_stores, on_spark, db):
    settings.ANDON_SPARK_STORE = "s3a://health-system/andon"
    assert services.places_in_store() == []  # no mount, no DuckDB store: no clinical data here
    settings.ANDON_FHIR_STORE = both_stores[0]
    kept_beside = services.places_in_store()
    assert kept_beside  # a DuckDB store kept beside the web server, as before
    settings.ANDON_SPARK_STORE_MOUNT = str(both_stores[1])
    settings.ANDON_FHIR_STORE = both_stores[0].parent / "none.duckdb"
    assert services.places_in_store() == kept_beside


def test_only_a_complete_version_is_read(tmp_path, both_stores):
    """A load killed half-way (no _SUCCESS) leaves the version before it read; a store with no
    complete version has no clinical data."""
    assert duckdb_read.connect(tmp_path) is None
    complete = duckdb_read.newest_version(both_stores[1])
    assert complete is not None and (complete / "_SUCCESS").exists()
    shadow = tmp_path / "resources"
    shadow.mkdir()
    (shadow / complete.name).symlink_to(complete, target_is_directory=True)
    (shadow / "v99991231T000000000000" / "type=Patient").mkdir(parents=True)  # begun, never finished
    (shadow / "v99991231T000000000000" / "type=Patient" / "part-0.parquet").write_bytes(b"not parquet yet")
    assert duckdb_read.newest_version(tmp_path) == shadow / complete.name
    connection = duckdb_read.connect(tmp_path)
    try:
        assert connection.execute("SELECT count(*) FROM resources WHERE type = 'Patient'").fetchone()[0] == len(
            _ndjson("Patient"))
    finally:
        connection.close()
