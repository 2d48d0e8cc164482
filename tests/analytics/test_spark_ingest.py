"""`andon fhir load` on Spark: the same checks, quarantine, keys and counts as the DuckDB ingest,
idempotent, newest wins, and a version that counts only once complete."""

import json

import pyarrow.parquet as pq
import pytest

from andon.analytics.fhir import ingest, store

PATIENTS = [{"resourceType": "Patient", "id": f"p{k}", "gender": "female"} for k in range(3)]
CONDITIONS = [
    {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}, "meta": {"versionId": "1"}},
    {"resourceType": "Condition", "id": "c2", "subject": {"reference": "https://ehr.example/fhir/Patient/p2/_history/4"}},
    {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}, "meta": {"versionId": "2"}},
    {"resourceType": "Condition", "id": "c3", "subject": {"reference": "Group/g1"}, "meta": {"versionId": 7}},
]
BAD = ['{"resourceType": "Condition", "id": "c9", "code": NaN}', "not json at all",
       '{"resourceType": "Patient", "id": "p9"}', '{"resourceType": "Condition"}']


@pytest.fixture
def export(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text("\n".join(json.dumps(r) for r in PATIENTS) + "\n")
    lines = [json.dumps(r) for r in CONDITIONS[:2]] + BAD + [json.dumps(r) for r in CONDITIONS[2:]]
    (folder / "Condition.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def _on_duckdb(tmp_path, export):
    connection = store.connect(tmp_path / "fhir.duckdb")
    summary = ingest.load_paths(connection, [export])
    rows = connection.execute("SELECT type, id, patient, version_id, resource::VARCHAR FROM resources").fetchall()
    quarantine = connection.execute("SELECT line, reason FROM quarantine ORDER BY line").fetchall()
    connection.close()
    return summary, sorted(rows), quarantine


def _stored(spark, root):
    from andon.analytics.spark import store as spark_store

    frame = spark.read.parquet(spark_store.current(spark, root))
    return sorted(tuple(r) for r in frame.select("type", "id", "patient", "version_id", "resource").collect())


def _counts(summary):
    return {t: (c.added, c.updated, c.unchanged, c.quarantined) for t, c in summary.by_type.items()}


def test_a_load_on_spark_stores_and_quarantines_what_duckdb_does(spark, tmp_path, export):
    from andon.analytics.spark import ingest as spark_ingest

    root = str(tmp_path / "spark-store")
    summary = spark_ingest.load_paths(spark, root, [export])
    duckdb_summary, duckdb_rows, duckdb_quarantine = _on_duckdb(tmp_path, export)
    assert _counts(summary) == _counts(duckdb_summary) == {"Patient": (3, 0, 0, 0), "Condition": (3, 0, 1, 4)}
    assert _stored(spark, root) == duckdb_rows
    keys = {(t, i): p for t, i, p, _, _ in duckdb_rows}
    assert keys[("Condition", "c2")] == "p2" and keys[("Condition", "c3")] == "" and keys[("Patient", "p0")] == "p0"
    assert dict(duckdb_rows_versions(duckdb_rows))[("Condition", "c1")] == "2"  # the newer line won
    quarantined = pq.read_table(tmp_path / "spark-store" / "quarantine").to_pylist()
    assert [(q["line"], q["reason"]) for q in sorted(quarantined, key=lambda q: q["line"])] == duckdb_quarantine
    assert [q["line"] for q in quarantined] == [3, 4, 5, 6]
    assert all(q["file"].endswith("Condition.ndjson") for q in quarantined)


def duckdb_rows_versions(rows):
    return [((t, i), v) for t, i, _, v, _ in rows]


def test_loading_again_changes_nothing_and_a_newer_version_wins(spark, tmp_path, export):
    from andon.analytics.spark import ingest as spark_ingest
    from andon.analytics.spark import store as spark_store

    root = str(tmp_path / "spark-store")
    spark_ingest.load_paths(spark, root, [export / "Patient.ndjson"])
    first = spark_store.complete_versions(spark, root)
    again = spark_ingest.load_paths(spark, root, [export / "Patient.ndjson"])
    assert _counts(again) == {"Patient": (0, 0, 3, 0)}
    assert spark_store.complete_versions(spark, root) == first  # no new version for no change
    newer = tmp_path / "newer"
    newer.mkdir()
    changed = [{**PATIENTS[0], "gender": "male", "meta": {"versionId": "2"}},  # newer than stored (none)
               {**PATIENTS[1], "gender": "other"}]  # no version either: not older, so it replaces
    (newer / "Patient.ndjson").write_text("\n".join(json.dumps(r) for r in changed) + "\n")
    summary = spark_ingest.load_paths(spark, root, [newer])
    assert _counts(summary) == {"Patient": (0, 2, 0, 0)}
    genders = {i: json.loads(text)["gender"] for _, i, _, _, text in _stored(spark, root)}
    assert genders == {"p0": "male", "p1": "other", "p2": "female"}
    older = tmp_path / "older"
    older.mkdir()
    (older / "Patient.ndjson").write_text(json.dumps({**PATIENTS[0], "gender": "unknown", "meta": {"versionId": "1"}}) + "\n")
    assert _counts(spark_ingest.load_paths(spark, root, [older])) == {"Patient": (0, 0, 1, 0)}
    assert {i: json.loads(t)["gender"] for _, i, _, _, t in _stored(spark, root)}["p0"] == "male"
    assert len(spark_store.complete_versions(spark, root)) == 2  # the current one and the one before


def test_a_version_left_incomplete_is_never_read_and_goes_at_the_next_load(spark, tmp_path, export, monkeypatch, capsys):
    """A load killed before Spark committed its version leaves a folder without _SUCCESS: readers
    keep to the complete one, and the next load removes the leftover."""
    from andon.analytics.spark import ingest as spark_ingest
    from andon.analytics.spark import store as spark_store
    from andon.analytics.spark import views
    from andon.cli import main

    root = tmp_path / "spark-store"
    spark_ingest.load_paths(spark, str(root), [export / "Patient.ndjson"])
    complete = spark_store.complete_versions(spark, str(root))
    leftover = root / "resources" / "v99991231T000000000000" / "type=Patient"
    leftover.mkdir(parents=True)
    (leftover / "part-0.parquet").write_bytes(b"PAR1 cut short")
    views.register(spark, str(root))
    view = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]}
    assert sorted(r["id"] for r in views.run(spark, view).to_pylist()) == ["p0", "p1", "p2"]
    monkeypatch.setenv("ANDON_ANALYTICS_ENGINE", "spark")
    monkeypatch.setenv("ANDON_SPARK_STORE", str(root))
    assert main(["fhir", "load", str(export / "Condition.ndjson")]) == 0
    out = capsys.readouterr().out
    assert "Condition" in out and "4 line(s) quarantined" in out
    versions = spark_store.complete_versions(spark, str(root))
    assert len(versions) == 2 and versions[0] == complete[0]
    assert not (root / "resources" / "v99991231T000000000000").exists()
    assert {t for t, *_ in _stored(spark, str(root))} == {"Patient", "Condition"}


def test_a_load_writes_typed_columns_that_views_read_and_a_version_without_them_reads_json(spark, tmp_path, export):
    """The typed columns of a version (spark.typed) serve the views of member paths with the rows
    DuckDB gives; a type whose members differ only by case stays JSON, as on DuckDB; a version
    whose columns were never completed is read from its JSON text; old versions' columns go."""
    from andon.analytics.fhir import columnar, sof
    from andon.analytics.spark import duckdb_read
    from andon.analytics.spark import ingest as spark_ingest
    from andon.analytics.spark import store as spark_store
    from andon.analytics.spark import views

    (export / "Observation.ndjson").write_text(json.dumps(
        {"resourceType": "Observation", "id": "o1", "status": "final", "Status": "odd"}) + "\n")
    root = tmp_path / "spark-store"
    spark_ingest.load_paths(spark, str(root), [export])
    version = spark_store.current(spark, str(root))
    structures_file = root / spark_store.TYPED / version.rsplit("/", 1)[-1] / spark_store.STRUCTURES
    structures = json.loads(structures_file.read_text())
    assert sorted(structures) == ["Condition", "Patient"]  # Observation's status and Status: JSON only
    assert structures["Condition"]["meta"] == {"versionId": "JSON"}  # "2" and 7: kinds that differ

    connection = store.connect(tmp_path / "fhir.duckdb")
    ingest.load_paths(connection, [export], progress=False)
    patients = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "getResourceKey()"},
                                                              {"name": "gender", "path": "gender"}]}]}
    conditions = {"resource": "Condition", "select": [{"column": [
        {"name": "id", "path": "id"}, {"name": "patient", "path": "subject.getReferenceKey(Patient)"}]}]}
    observations = {"resource": "Observation", "select": [{"column": [{"name": "status", "path": "status"}]}]}
    views.register(spark, str(root))
    assert views.shown_typed(spark) == ["Condition", "Patient"]
    reader = duckdb_read.connect(root)  # the web server's DuckDB, reading Spark's files
    for view, reads in ((patients, "typed"), (conditions, "typed"), (observations, "json")):
        assert ("andon_typed_" in views.spark_sql(spark, view)) == (reads == "typed")
        expected = sorted(map(str, sof.run(connection, view).to_pylist()))
        assert sorted(map(str, views.run(spark, view).to_pylist())) == expected and expected
        assert (columnar.typed_table(reader, view["resource"]) is not None) == (reads == "typed")
        assert sorted(map(str, sof.run(reader, view).to_pylist())) == expected
    reader.close()

    structures_file.unlink()  # killed before the columns completed
    views.register(spark, str(root))
    assert views.shown_typed(spark) == [] and "andon_typed_" not in views.spark_sql(spark, patients)
    assert sorted(map(str, views.run(spark, patients).to_pylist())) == sorted(map(str, sof.run(connection, patients).to_pylist()))
    connection.close()

    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "Patient.ndjson").write_text(json.dumps({**PATIENTS[0], "gender": "male"}) + "\n")
    spark_ingest.load_paths(spark, str(root), [newer])
    spark_ingest.load_paths(spark, str(root), [newer / "Patient.ndjson", export / "Patient.ndjson"])
    kept = spark_store.complete_versions(spark, str(root))
    assert sorted(p.name for p in (root / "typed").iterdir()) == kept  # the older versions' columns went with them
