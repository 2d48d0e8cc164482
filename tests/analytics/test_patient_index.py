"""The FHIR store's patient key (issue 22): each resource's compartment patient, stored by the
ingest and indexed, so that one patient's resources are a seek; stores made before it are
upgraded when opened for writing, and read correctly (by a scan) when opened read-only."""

import json
from pathlib import Path

import duckdb
import pytest

from andon.analytics.cql import population
from andon.analytics.fhir import ingest, store

# The store's tables as they were before the patient key (store.SCHEMA of that time).
OLD_SCHEMA = """
CREATE TABLE resources (type VARCHAR NOT NULL, id VARCHAR NOT NULL, version_id VARCHAR,
    last_updated TIMESTAMPTZ, resource JSON NOT NULL, content_hash UHUGEINT, PRIMARY KEY (type, id));
CREATE TABLE quarantine (file VARCHAR NOT NULL, line BIGINT, reason VARCHAR NOT NULL, raw VARCHAR,
    quarantined_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE loads (file VARCHAR NOT NULL, loaded_at TIMESTAMPTZ NOT NULL DEFAULT now(), added BIGINT NOT NULL,
    updated BIGINT NOT NULL, unchanged BIGINT NOT NULL, quarantined BIGINT NOT NULL);
"""

RESOURCES = [
    {"resourceType": "Patient", "id": "p1"},
    {"resourceType": "Patient", "id": "p2"},
    {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p1"},
     "location": [{"location": {"reference": "Location/l1"}}]},
    {"resourceType": "Encounter", "id": "e2", "subject": {"reference": "https://ehr.example/fhir/Patient/p2"}},
    {"resourceType": "AllergyIntolerance", "id": "a1", "patient": {"reference": "Patient/p1"}},
    {"resourceType": "Coverage", "id": "c1", "beneficiary": {"reference": "Patient/p2"}},
    {"resourceType": "Observation", "id": "o1", "subject": {"reference": "Group/g1"}},
    {"resourceType": "Observation", "id": "o2", "subject": {"reference": "urn:uuid:0c3d1b5e-1a7e-4e0b-9d47-3f1c2a8d9e10"}},
    {"resourceType": "MedicationRequest", "id": "m1", "subject": {"reference": "Patient/p1"},
     "medicationReference": {"reference": "Medication/med1"}},
    {"resourceType": "Medication", "id": "med1", "code": {"text": "aspirin"}},
    {"resourceType": "Organization", "id": "org1"},
    {"resourceType": "Location", "id": "l1", "managingOrganization": {"reference": "Organization/org1"}},
    {"resourceType": "Location", "id": "l2"},
    # versioned references: the patient and the shared resource are those of the version's resource
    {"resourceType": "Condition", "id": "h1", "subject": {"reference": "Patient/p1/_history/3"}},
    {"resourceType": "MedicationRequest", "id": "h2", "subject": {"reference": "https://ehr.example/fhir/Patient/p2/_history/1"},
     "medicationReference": {"reference": "Medication/med2/_history/4"}},
    {"resourceType": "Medication", "id": "med2"},
]
KEYS = {
    ("Patient", "p1"): "p1", ("Patient", "p2"): "p2", ("Encounter", "e1"): "p1", ("Encounter", "e2"): "p2",
    ("AllergyIntolerance", "a1"): "p1", ("Coverage", "c1"): "p2", ("Observation", "o1"): "",
    ("Observation", "o2"): "", ("MedicationRequest", "m1"): "p1", ("Medication", "med1"): "",
    ("Organization", "org1"): "", ("Location", "l1"): "", ("Location", "l2"): "",
    ("Condition", "h1"): "p1", ("MedicationRequest", "h2"): "p2", ("Medication", "med2"): "",
}
# A patient's own resources and the shared ones they reference, and what those reference in turn.
P1 = ["AllergyIntolerance/a1", "Condition/h1", "Encounter/e1", "Location/l1", "Medication/med1",
      "MedicationRequest/m1", "Organization/org1", "Patient/p1"]
P2 = ["Coverage/c1", "Encounter/e2", "Medication/med2", "MedicationRequest/h2", "Patient/p2"]


def ndjson(path: Path, resources) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    return path


def keys(connection) -> dict:
    return {(t, i): p for t, i, p in connection.execute("SELECT type, id, patient FROM resources").fetchall()}


def read(connection, patient_id) -> list[str] | None:
    """The resources population.patient gives for one patient (shared ones too), as `Type/id`."""
    data = population.patient(connection, patient_id)
    if data is None:
        return None
    return sorted(f"{kind}/{node.value['id']}" for kind, nodes in data.by_type.items() for node in nodes)


def streamed(connection) -> dict:
    return {pid: sorted(f"{k}/{n.value['id']}" for k, nodes in data.by_type.items() for n in nodes)
            for pid, data in population.patients(connection)}


def old_store(path: Path, resources) -> Path:
    """A store as Andon wrote it before the patient key."""
    connection = duckdb.connect(str(path))
    connection.execute(OLD_SCHEMA)
    connection.executemany("INSERT INTO resources (type, id, resource) VALUES (?, ?, ?)",
                           [(r["resourceType"], r["id"], json.dumps(r)) for r in resources])
    connection.close()
    return path


@pytest.fixture
def loaded(tmp_path):
    connection = store.connect(tmp_path / "fhir.duckdb")
    ingest.load_paths(connection, [ndjson(tmp_path / "all.ndjson", RESOURCES)])
    yield connection
    connection.close()


def test_the_ingest_stores_each_resources_compartment_patient(loaded):
    assert keys(loaded) == KEYS
    assert store.has_patient_key(loaded)


def test_the_stored_key_is_the_rule_the_population_groups_by(loaded):
    computed = dict(((t, i), p or "") for t, i, p in loaded.execute(
        f"SELECT type, id, {population._PATIENT_OF} FROM resources").fetchall())
    assert computed == keys(loaded)


def test_one_patient_is_read_by_the_key_and_agrees_with_the_stream(loaded):
    assert read(loaded, "p1") == P1
    assert read(loaded, "p2") == P2
    assert read(loaded, "nobody") is None
    assert read(loaded, "g1") is None  # a Group's resources are no patient's
    assert streamed(loaded) == {"p1": P1, "p2": P2}


def test_a_reload_that_moves_a_resource_to_another_patient_moves_its_key(loaded, tmp_path):
    moved = {"resourceType": "Encounter", "id": "e1", "meta": {"versionId": "2"}, "subject": {"reference": "Patient/p2"}}
    unlinked = {"resourceType": "AllergyIntolerance", "id": "a1", "meta": {"versionId": "2"}}
    summary = ingest.load_paths(loaded, [ndjson(tmp_path / "update.ndjson", [moved, unlinked])])
    assert summary.total.updated == 2
    assert keys(loaded) == {**KEYS, ("Encounter", "e1"): "p2", ("AllergyIntolerance", "a1"): ""}
    assert read(loaded, "p1") == ["Condition/h1", "Medication/med1", "MedicationRequest/m1", "Patient/p1"]
    assert read(loaded, "p2") == ["Coverage/c1", "Encounter/e1", "Encounter/e2", "Medication/med2",
                                  "MedicationRequest/h2", "Patient/p2"]


def test_a_stored_row_put_back_within_a_file_keeps_its_key(loaded, tmp_path):
    """A line replaces e1 in one batch; a later line of the same file, equal to what was stored,
    wins: the stored row goes back as it was, its key with it."""
    other = {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p2"}}
    same = RESOURCES[2]
    summary = ingest.load_paths(loaded, [ndjson(tmp_path / "again.ndjson", [other, same])], batch_rows=1)
    assert summary.total.unchanged == 2
    assert keys(loaded) == KEYS


def test_an_old_store_is_upgraded_when_opened_for_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "KEY_BATCH_ROWS", 3)  # the backfill in several statements
    path = old_store(tmp_path / "old.duckdb", RESOURCES)
    connection = store.connect(path)
    try:
        assert store.has_patient_key(connection)
        assert keys(connection) == KEYS
        assert connection.execute("SELECT index_name, expressions FROM duckdb_indexes() WHERE table_name = 'resources'"
                                  ).fetchall() == [(store.PATIENT_INDEX, "[patient]")]
        assert read(connection, "p1") == P1
    finally:
        connection.close()
    again = store.connect(path)  # opened again: nothing more to do, nothing fails
    try:
        assert keys(again) == KEYS
    finally:
        again.close()


def test_an_upgrade_cut_short_is_finished_by_the_next_connection_for_writing(loaded, tmp_path):
    path = tmp_path / "fhir.duckdb"
    loaded.execute("UPDATE resources SET patient = NULL WHERE type IN ('Encounter', 'Coverage')")
    loaded.close()
    read_only = store.connect(path, read_only=True)
    try:
        assert read(read_only, "p2") == P2  # rows without their key are read all the same
    finally:
        read_only.close()
    again = store.connect(path)
    try:
        assert keys(again) == KEYS
    finally:
        again.close()


def test_an_old_store_opened_read_only_is_read_by_a_scan_with_the_same_answers(tmp_path):
    path = old_store(tmp_path / "old.duckdb", RESOURCES)
    connection = store.connect(path, read_only=True)
    try:
        assert not store.has_patient_key(connection)
        assert read(connection, "p1") == P1
        assert read(connection, "p2") == P2
        assert read(connection, "nobody") is None
        assert streamed(connection) == {"p1": P1, "p2": P2}
    finally:
        connection.close()


def test_rows_written_without_the_key_are_still_found(loaded):
    """A row inserted by anything but the ingest (a test, an older Andon) has no key (NULL): the
    reader computes its patient."""
    loaded.execute("INSERT INTO resources (type, id, resource) VALUES ('Condition', 'k1', ?)",
                   [json.dumps({"resourceType": "Condition", "id": "k1", "subject": {"reference": "Patient/p2"}})])
    assert loaded.execute("SELECT patient FROM resources WHERE id = 'k1'").fetchall() == [(None,)]
    assert read(loaded, "p2") == ["Condition/k1", *P2]
    assert read(loaded, "p1") == P1
    store.key_patients(loaded)
    assert loaded.execute("SELECT patient FROM resources WHERE id = 'k1'").fetchall() == [("p2",)]


def test_the_testing_store_is_keyed():
    from andon.analytics.fhir.sof.testing import store_with

    connection = store_with(RESOURCES)
    try:
        assert keys(connection) == KEYS
    finally:
        connection.close()


def test_one_patient_is_an_index_scan(loaded):
    plan = loaded.execute("EXPLAIN ANALYZE " + population._ONE_PATIENT_KEYED,
                          {"id": "p1", "reference": "Patient/p1"}).fetchall()[0][1]
    assert "Index Scan" in plan and "Sequential Scan" not in plan  # no row lacks its key: nothing else is read
    plain = loaded.execute("EXPLAIN ANALYZE SELECT id FROM resources WHERE patient = ?", ["p1"]).fetchall()[0][1]
    assert "Index Scan" in plain and "Sequential Scan" not in plain


def test_a_store_keyed_before_versioned_references_were_read_is_keyed_again(loaded, tmp_path):
    """Keys written before `Patient/p1/_history/3` was read as p1's ('' then): readers compute
    those rows' patient until the store is opened for writing, which keys them again once and
    rebuilds the typed tables whose patient column they were in."""
    from andon.analytics.fhir import columnar

    path = tmp_path / "fhir.duckdb"
    loaded.execute("UPDATE resources SET patient = '' WHERE id IN ('h1', 'h2')")
    loaded.execute("DELETE FROM upgrades")
    loaded.close()
    read_only = store.connect(path, read_only=True)
    try:
        assert not store.keys_current(read_only)
        assert read(read_only, "p1") == P1 and read(read_only, "p2") == P2
        assert streamed(read_only) == {"p1": P1, "p2": P2}
    finally:
        read_only.close()
    again = store.connect(path)
    try:
        assert store.keys_current(again) and keys(again) == KEYS
        typed = columnar.typed_table(again, "Condition")
        assert typed is not None
        assert again.execute(f"SELECT id, {columnar.PATIENT_COLUMN} FROM {columnar.quote(typed.table)}").fetchall() == [
            ("h1", "p1")]
        assert read(again, "p1") == P1 and streamed(again) == {"p1": P1, "p2": P2}
    finally:
        again.close()
