"""The core ViewDefinitions shipped in content/views/: each is a valid view, and on the shared
Synthea and eCQM patients each gives the rows and values computed here independently from the
raw JSON (plain Python, no FHIRPath)."""

import json
from collections import Counter
from pathlib import Path

import pytest

from andon.analytics.fhir import ingest, store
from andon.analytics.fhir.sof import engine

REPO = Path(__file__).resolve().parents[2]
VIEWS = REPO / "content" / "views"
SHARED = REPO.parent / "shared"
SYNTHEA = SHARED / "data" / "synthea-10-patients"
ECQM_CASES = SHARED / "conformance" / "ecqm-qicore-2024" / "tests"
CORE = ["patient", "encounter", "encounter_diagnosis", "condition", "procedure", "observation",
        "observation_component", "medication_administration", "medication_request", "device_use", "device",
        "coverage", "encounter_participant", "practitioner"]
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"


def view(name: str) -> dict:
    return json.loads((VIEWS / f"{name}.json").read_text())


def rows(connection, name: str) -> list[dict]:
    return engine.run(connection, view(name)).to_pylist()


def resources_in(files) -> list[dict]:
    found = []
    for path in files:
        if path.suffix == ".ndjson":
            found += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        else:
            found.append(json.loads(path.read_text()))
    return [r for r in found if isinstance(r, dict) and "resourceType" in r and "id" in r]


def of_type(resources, resource_type):
    return [r for r in resources if r["resourceType"] == resource_type]


def first_code(concept):
    codings = (concept or {}).get("coding") or []
    return codings[0].get("code") if codings else None


def test_every_core_view_is_shipped_valid_and_compiles():
    assert sorted(p.stem for p in VIEWS.glob("*.json")) == sorted(CORE)
    for name in CORE:
        definition = view(name)
        assert definition["resourceType"] == "ViewDefinition" and definition["name"] == name
        assert "FROM" in engine.sql_for(definition).upper()
        columns = [c["name"] for select in definition["select"] for c in select.get("column", [])]
        assert len(columns) == len(set(columns)), f"{name}: a column name twice"


@pytest.fixture(scope="module")
def synthea(tmp_path_factory):
    if not SYNTHEA.is_dir():
        pytest.skip(f"the shared Synthea patients are not at {SYNTHEA}")
    connection = store.connect(tmp_path_factory.mktemp("core-views") / "fhir.duckdb")
    ingest.load_paths(connection, [SYNTHEA])
    return connection, resources_in(sorted(SYNTHEA.glob("*.ndjson")))


def test_patient_view_on_synthea(synthea):
    connection, resources = synthea
    expected = {}
    for patient in of_type(resources, "Patient"):
        race = next(e for e in patient["extension"] if e["url"] == RACE)
        omb = next(e for e in race["extension"] if e["url"] == "ombCategory")
        expected[f"Patient/{patient['id']}"] = (patient["gender"], patient["birthDate"], omb["valueCoding"]["code"],
                                                patient.get("deceasedDateTime"))
    got = {r["id"]: (r["gender"], r["birth_date"], r["race_code"], r["deceased_at"]) for r in rows(connection, "patient")}
    assert got == expected and len(got) == 13


def test_encounter_view_on_synthea(synthea):
    connection, resources = synthea
    encounters = of_type(resources, "Encounter")
    expected = {
        f"Encounter/{e['id']}": (e["subject"]["reference"], e["status"], e["class"]["code"], first_code(e["type"][0]),
                                 e["period"]["start"], e["period"]["end"],
                                 first_code((e.get("hospitalization") or {}).get("dischargeDisposition")),
                                 e["serviceProvider"]["display"])
        for e in encounters
    }
    got = {r["id"]: (r["patient_id"], r["status"], r["class_code"], r["type_code"], r["period_start"], r["period_end"],
                     r["discharge_disposition"], r["service_provider_display"]) for r in rows(connection, "encounter")}
    assert got == expected and len(got) == len(encounters) == 1215
    assert Counter(v[2] for v in got.values()) == Counter(e["class"]["code"] for e in encounters)


def test_condition_procedure_and_medication_request_views_on_synthea(synthea):
    connection, resources = synthea
    conditions = {f"Condition/{c['id']}": (first_code(c["code"]), c.get("onsetDateTime"), c.get("abatementDateTime"))
                  for c in of_type(resources, "Condition")}
    assert {r["id"]: (r["code"], r["onset"], r["abatement"]) for r in rows(connection, "condition")} == conditions
    procedures = {f"Procedure/{p['id']}": (first_code(p["code"]), (p.get("performedPeriod") or {}).get("start"))
                  for p in of_type(resources, "Procedure")}
    assert {r["id"]: (r["code"], r["performed_start"]) for r in rows(connection, "procedure")} == procedures
    requests = {f"MedicationRequest/{m['id']}": (first_code(m.get("medicationCodeableConcept")), m["intent"],
                                                 m["authoredOn"])
                for m in of_type(resources, "MedicationRequest")}
    got = {r["id"]: (r["medication_code"], r["intent"], r["authored_on"]) for r in rows(connection, "medication_request")}
    assert got == requests and len(got) == 1745


@pytest.fixture(scope="module")
def ecqm(tmp_path_factory):
    if not ECQM_CASES.is_dir():
        pytest.skip(f"the shared eCQM test patients are not at {ECQM_CASES}")
    folders = sorted(ECQM_CASES.glob("*/*"))[::50]  # a sample across the measures' kinds of resource
    connection = store.connect(tmp_path_factory.mktemp("core-views-ecqm") / "fhir.duckdb")
    ingest.load_paths(connection, folders)
    # The store keeps one version per (type, id): the same id in two cases counts once.
    latest = {}
    for resource in resources_in(p for folder in folders for p in sorted(folder.glob("*.json"))):
        latest[(resource["resourceType"], resource["id"])] = resource
    return connection, list(latest.values())


def test_observation_views_on_ecqm_patients(ecqm):
    connection, resources = ecqm
    observations = of_type(resources, "Observation")
    assert observations, "the sample holds observations"
    expected = {f"Observation/{o['id']}": (first_code(o["code"]), (o.get("valueQuantity") or {}).get("value"),
                                           (o.get("valueQuantity") or {}).get("code"), o.get("effectiveDateTime"))
                for o in observations}
    got = {r["id"]: (r["code"], r["value"], r["unit_code"], r["effective_at"]) for r in rows(connection, "observation")}
    assert got.keys() == expected.keys()
    for key, (code, value, unit, effective) in expected.items():
        assert got[key][0] == code and got[key][2] == unit and got[key][3] == effective, key
        assert (got[key][1] is None) == (value is None) and (value is None or float(got[key][1]) == float(value)), key
    components = [(f"Observation/{o['id']}", first_code(c["code"]), (c.get("valueQuantity") or {}).get("value"))
                  for o in observations for c in o.get("component", [])]
    got_components = [(r["observation_id"], r["code"], r["value"]) for r in rows(connection, "observation_component")]
    assert sorted((i, c, None if v is None else float(v)) for i, c, v in got_components) == sorted(
        (i, c, None if v is None else float(v)) for i, c, v in components)


def test_encounter_diagnosis_and_coverage_views_on_ecqm_patients(ecqm):
    connection, resources = ecqm
    diagnoses = sorted([(f"Encounter/{e['id']}", d["condition"].get("reference", "").split("/")[-1],
                         first_code(d.get("use")), d.get("rank"))
                        for e in of_type(resources, "Encounter") for d in e.get("diagnosis", [])], key=repr)
    assert diagnoses, "the sample holds encounter diagnoses"
    got = sorted([(r["encounter_id"], (r["condition_id"] or "").split("/")[-1], r["role"],
                   None if r["rank"] is None else int(r["rank"])) for r in rows(connection, "encounter_diagnosis")],
                 key=repr)
    assert got == diagnoses
    coverage = {f"Coverage/{c['id']}": (c["beneficiary"]["reference"], first_code(c.get("type")))
                for c in of_type(resources, "Coverage")}
    assert {r["id"]: (r["patient_id"], r["type_code"]) for r in rows(connection, "coverage")} == coverage


def test_the_core_views_checked_here_read_the_typed_columns(ecqm, synthea):
    """The values above come from the typed tables the ingest builds (docs/fhir.md, "Which views
    read columns"), the patient's extensions and the practitioner's NPI included."""
    connection, _ = ecqm
    on_ecqm = {name for name in CORE if engine.typed_sql(connection, view(name))}
    assert on_ecqm >= {"encounter", "encounter_diagnosis", "condition", "procedure", "observation",
                       "observation_component", "medication_request", "coverage", "patient"}
    assert engine.typed_sql(synthea[0], view("encounter")) is not None
    assert engine.typed_sql(synthea[0], view("practitioner")) is not None
