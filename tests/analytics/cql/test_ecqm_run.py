"""`andon ecqm run`: a measure over the FHIR store, patients streamed, into a summary report."""

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from andon.analytics.cql import content, population
from andon.analytics.cql.report import measure_score
from andon.analytics.cql.run import parse_period, run_measure
from andon.analytics.fhir import ingest, store
from andon.cli import main

CONTENT = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "ecqm-qicore-2024"
MEASURE = "CMS108VTEProphylaxisFHIR"
needs_content = pytest.mark.skipif(not (CONTENT / "tests").is_dir(), reason=f"CMS eCQM content not found at {CONTENT}")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Every CMS108 test patient in one store (their resource ids are all distinct).

    Written as one NDJSON file, as an EHR's bulk export comes: the loader commits each file in
    its own transaction, and the cases' thousand small files took a minute and a half to load
    (each worker running this module loaded them again). Loading case folders as they are is
    test_cli_runs_over_test_case_folders's."""
    folder = tmp_path_factory.mktemp("store")
    cases = content.load_cases([CONTENT], MEASURE)
    export = folder / "cases.ndjson"
    export.write_text("".join(json.dumps(resource) + "\n" for case in cases for resource in case.resources))
    connection = store.connect(folder / "fhir.duckdb")
    summary = ingest.load_paths(connection, [export])
    connection.close()
    assert summary.total.quarantined == 0 and summary.total.added > 500
    return folder / "fhir.duckdb", cases


def _patients(path) -> list:
    connection = store.connect(path, read_only=True)
    try:
        return list(population.patients(connection))
    finally:
        connection.close()


@needs_content
def test_patients_stream_one_at_a_time_with_their_own_resources(loaded):
    path, cases = loaded
    seen = _patients(path)
    assert len(seen) == len(cases) == population.count_patients(store.connect(path, read_only=True))
    by_id = dict(seen)
    case = next(c for c in cases if len(c.resources) > 3)
    patient = next(r for r in case.resources if r["resourceType"] == "Patient")
    data = by_id[patient["id"]]
    mine = sorted((r["resourceType"], r["id"]) for r in case.resources if r["resourceType"] not in population.SHARED_TYPES)
    got = sorted((t, n.value["id"]) for t, nodes in data.by_type.items() if t not in population.SHARED_TYPES for n in nodes)
    assert got == mine



@needs_content
def test_patient_records_are_the_stored_text_own_first_then_the_shared(loaded):
    """What run.py hands its worker processes: each patient's records as stored text (the
    Patient first, their own records, then the shared ones they reference), which parse into
    exactly the data `patients` gives."""
    path, _ = loaded
    connection = store.connect(path, read_only=True)
    try:
        records = dict(population.patient_records(connection))
    finally:
        connection.close()
    parsed = dict(_patients(path))
    assert records.keys() == parsed.keys()
    with_shared = 0
    for patient_id, pairs in records.items():
        assert pairs[0][0] == f"Patient/{patient_id}"
        is_shared = [key.split("/")[0] in population.SHARED_TYPES for key, _ in pairs]
        assert is_shared == sorted(is_shared)  # no own record after a shared one
        with_shared += any(is_shared)
        assert all(f"{json.loads(text)['resourceType']}/{json.loads(text)['id']}" == key for key, text in pairs)
        assert sorted(key for key, _ in pairs) == sorted(
            f"{kind}/{node.value['id']}" for kind, nodes in parsed[patient_id].by_type.items() for node in nodes)
    assert with_shared > 10

@needs_content
@pytest.mark.parametrize("jobs", [1, 2])
def test_summary_report_counts_every_patient(loaded, jobs):
    path, cases = loaded
    expected = Counter()
    for case in cases:
        expected.update(case.expected()[0])
    connection = store.connect(path, read_only=True)
    try:
        report = run_measure(connection, [CONTENT], MEASURE, cases[0].period, jobs=jobs, now="2026-01-01T00:00:00.000Z")
    finally:
        connection.close()
    assert report["type"] == "summary" and report["status"] == "complete"
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert counts == dict(expected) and counts["initial-population"] > 50
    # a proportion's exceptions never meet the numerator, so the score follows from the counts
    divisor = counts["denominator"] - counts.get("denominator-exclusion", 0) - counts.get("denominator-exception", 0)
    assert report["group"][0]["measureScore"]["value"] == pytest.approx(counts["numerator"] / divisor)
    assert report["extension"][0]["valueInteger"] == len(cases)


def test_measure_score_and_period():
    counts = Counter({"numerator-membership": 4, "denominator-membership": 5})
    assert measure_score(counts, "proportion") == Decimal("0.8")
    assert measure_score(counts, "ratio") == Decimal("0.8")
    assert measure_score(Counter({"denominator": 2, "denominator-membership": 0}), "proportion") is None
    assert measure_score(counts, "cohort") is None
    assert parse_period("2025-01-01..2025-12-31") == ("2025-01-01", "2025-12-31")
    for bad in ("2025-01-01", "2025-12-31..2025-01-01", "2025-13-01..2025-12-31", "x..y"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_period(bad)


@needs_content
def test_cli_writes_the_report(loaded, tmp_path, capsys):
    path, cases = loaded
    out = tmp_path / "report.json"
    code = main(["ecqm", "run", MEASURE, "--period", "2026-01-01..2026-12-31", "--content", str(CONTENT),
                 "--store", str(path), "--out", str(out), "--jobs", "1", "--no-progress"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["period"] == {"start": "2026-01-01", "end": "2026-12-31"} and report["group"][0]["population"]
    assert f"{len(cases)} patients evaluated" in capsys.readouterr().err
    assert main(["ecqm", "run", MEASURE, "--period", "2026", "--content", str(CONTENT), "--store", str(path), "--out", str(out)]) == 2
    assert main(["ecqm", "run", "NoSuch", "--period", "2026-01-01..2026-12-31", "--content", str(CONTENT),
                 "--store", str(path), "--out", str(out), "--no-progress"]) == 2
    assert "no Measure named NoSuch" in capsys.readouterr().err


@needs_content
def test_each_patient_gets_the_shared_resources_their_records_reference(loaded):
    path, cases = loaded
    by_id = dict(_patients(path))
    checked = 0
    for case in cases:
        patient = next(r for r in case.resources if r["resourceType"] == "Patient")
        own = json.dumps([r for r in case.resources if r["resourceType"] not in population.SHARED_TYPES])
        # one level is enough for these cases; the engine also follows shared-to-shared references
        expected = sorted(f"{r['resourceType']}/{r['id']}" for r in case.resources
                          if r["resourceType"] in population.SHARED_TYPES and f'"{r["resourceType"]}/{r["id"]}"' in own)
        data = by_id[patient["id"]]
        got = sorted(f"{t}/{n.value['id']}" for t, nodes in data.by_type.items() if t in population.SHARED_TYPES for n in nodes)
        assert got == expected, case.case
        checked += bool(expected)
    assert checked > 10  # cases whose records reference a Medication, Location, Organization or Practitioner


@needs_content
def test_cli_runs_over_test_case_folders(tmp_path, capsys):
    # CMS165 (Controlling High Blood Pressure): its test cases reuse ids (Condition-1, …) from one
    # case to the next, so each folder is its own run here; two folders with distinct ids at once
    cases = content.load_cases([CONTENT], "ControllingHighBloodPressureFHIR")
    first, second = cases[0], next(c for c in cases[1:] if not {r["id"] for r in c.resources} & {r["id"] for r in cases[0].resources})
    out = tmp_path / "report.json"
    code = main(["ecqm", "run", "ControllingHighBloodPressureFHIR", "--period", "..".join(first.period), "--content", str(CONTENT),
                 "--patients", str(first.folder), str(second.folder), "--out", str(out), "--jobs", "1", "--no-progress"])
    assert code == 0, capsys.readouterr().err
    report = json.loads(out.read_text())
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    expected = Counter(first.expected()[0]) + Counter(second.expected()[0])
    assert counts == {code: expected.get(code, 0) for code in counts}
    assert "2 patients evaluated" in capsys.readouterr().err
    sexes = [o for o in report["contained"] if o["extension"][0]["valueString"] == "sde-sex"]
    assert sum(o["valueInteger"] for o in sexes) == 2
    assert main(["ecqm", "run", "ControllingHighBloodPressureFHIR", "--period", "2025-01-01..2025-12-31", "--content",
                 str(CONTENT), "--patients", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "no such file or folder" in capsys.readouterr().err


@needs_content
def test_patients_come_whole_whatever_the_number_of_buckets(loaded, monkeypatch):
    path, cases = loaded
    def records(patients):
        return {pid: sorted((t, n.value["id"]) for t, nodes in data.by_type.items() for n in nodes) for pid, data in patients}

    one = records(_patients(path))
    monkeypatch.setattr(population, "BUCKET_BYTES", 150_000)  # several small sorted passes
    connection = store.connect(path, read_only=True)
    try:
        assert population.bucket_count(connection) > 3
    finally:
        connection.close()
    many = records(_patients(path))
    assert many == one and len(many) == len(cases)


@needs_content
def test_one_patient_reads_as_the_stream_gives_them_and_explains_against_the_test_case(loaded):
    from andon.analytics.cql.run import explain_patient

    path, cases = loaded
    streamed = dict(_patients(path))
    connection = store.connect(path, read_only=True)
    try:
        for case in cases[:12]:
            patient_id = next(r["id"] for r in case.resources if r["resourceType"] == "Patient")
            alone = population.patient(connection, patient_id)
            assert {t: sorted(n.value["id"] for n in nodes) for t, nodes in alone.by_type.items()} == \
                   {t: sorted(n.value["id"] for n in nodes) for t, nodes in streamed[patient_id].by_type.items()}
            definition, result = explain_patient(connection, [CONTENT], MEASURE, case.period, patient_id,
                                                 now="2026-01-01T00:00:00.000Z")
            assert {c: n for c, n in result.groups[0].counts.items() if n} == \
                   {c: n for c, n in case.expected()[0].items() if n}
            populations = result.explanation["groups"][0]["populations"]
            assert set(populations) == set(definition.groups[0].criteria)
        assert population.patient(connection, "no-such-patient") is None
        assert explain_patient(connection, [CONTENT], MEASURE, cases[0].period, "no-such-patient") is None
    finally:
        connection.close()


def test_resources_stored_before_the_loader_checked_json_never_crash_a_run(tmp_path):
    """A store loaded before the loader refused NaN, duplicate keys and deep nesting may hold
    them: the patient comes with the reasons, and evaluating them is an error naming the
    resource (reported per patient by the run), not a RecursionError ending the run."""
    from andon.analytics.cql.evaluator import EvaluationError
    from andon.analytics.cql.measure import evaluate_subject

    path = tmp_path / "fhir.duckdb"
    connection = store.connect(path)
    rows = [
        ("Patient", "ok", '{"resourceType": "Patient", "id": "ok", "gender": "female"}'),
        ("Patient", "deep", '{"resourceType": "Patient", "id": "deep"}'),
        ("Encounter", "e1", '{"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/deep"}, "x": '
                            + "[" * 100_000 + "]" * 100_000 + "}"),
        ("Patient", "nan", '{"resourceType": "Patient", "id": "nan", "multipleBirthInteger": NaN}'),
        ("Medication", "m1", '{"resourceType": "Medication", "id": "m1", "code": {"text": "a", "text": "b"}}'),
        ("MedicationRequest", "r1", '{"resourceType": "MedicationRequest", "id": "r1", "subject": {"reference": "Patient/ok"},'
                                    ' "medicationReference": {"reference": "Medication/m1"}}'),
        ("Patient", "fine", '{"resourceType": "Patient", "id": "fine"}'),
    ]
    connection.executemany("INSERT INTO resources (type, id, resource) VALUES (?, ?, ?)", rows)
    connection.close()
    patients = dict(_patients(path))
    assert {pid: data.unreadable for pid, data in patients.items()} == {
        "deep": ["Encounter/e1 in the FHIR store is not strict JSON (nested deeper than 100 levels): load it again"],
        "nan": ["Patient/nan in the FHIR store is not strict JSON (NaN is not a JSON number): load it again"],
        "ok": ['Medication/m1 in the FHIR store is not strict JSON (duplicate key "text"): load it again'],
        "fine": [],
    }
    assert [n.value["id"] for n in patients["ok"].by_type["MedicationRequest"]] == ["r1"]
    with pytest.raises(EvaluationError, match="Encounter/e1 in the FHIR store is not strict JSON"):
        evaluate_subject(None, None, patients["deep"], {}, {})  # before anything else is read
