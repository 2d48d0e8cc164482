"""Several eCQMs in one pass over the store (run.run_cases_together): each measure's result is the
one run_cases gives for it alone, whatever the other measures evaluated with it."""

import json
from pathlib import Path

import pytest

from andon.analytics.cql import content
from andon.analytics.cql.measure import MeasureError
from andon.analytics.cql.run import run_cases, run_cases_together
from andon.analytics.fhir import ingest, store

CONTENT = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "ecqm-qicore-2024"
needs_content = pytest.mark.skipif(not (CONTENT / "tests").is_dir(),
                                   reason=f"CMS eCQM content not found at {CONTENT} (the ../shared checkout)")
# episode measures (encounters) whose logic shares libraries and value sets, and a patient-based one
MEASURES = ("CMS71FHIRSTKAnticoagAFFlutter", "CMS816HHHypoFHIR", "CMS871HHHyperFHIR",
            "CMSFHIR529HybridHospitalWideReadmission", "ControllingHighBloodPressureFHIR")
NOW = "2026-01-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The test patients of every measure in one store, each measure's under ids of its own (two
    measures' cases may use the same ids); with the runs: each measure over its test period, and
    the patient-based one over a second period too (a measure evaluated once per month)."""
    folder = tmp_path_factory.mktemp("store")
    export = folder / "cases.ndjson"
    runs = []
    with export.open("w") as out:
        for number, measure in enumerate(MEASURES):
            cases = content.load_cases([CONTENT], measure)
            runs.append((measure, tuple(cases[0].period)))
            for case in cases:
                for resource in _renamed(case.resources, f"m{number}-"):
                    out.write(json.dumps(resource) + "\n")
    start, end = runs[-1][1]
    runs.append((MEASURES[-1], (f"{int(start[:4]) - 1}{start[4:]}", f"{int(end[:4]) - 1}{end[4:]}")))
    connection = store.connect(folder / "fhir.duckdb")
    summary = ingest.load_paths(connection, [export])
    connection.close()
    assert summary.total.quarantined == 0
    return folder / "fhir.duckdb", runs


def _renamed(resources, prefix: str) -> list[dict]:
    kept = [r for r in resources if r.get("resourceType") != "MeasureReport" and r.get("id")]
    ids = {f"{r['resourceType']}/{r['id']}": f"{r['resourceType']}/{prefix}{r['id']}" for r in kept}
    renamed = []
    for resource in kept:
        copy = content.rename_references(resource, ids)
        copy["id"] = prefix + resource["id"]
        renamed.append(copy)
    return renamed


def _alone(path, runs) -> list[tuple]:
    """Each run evaluated by itself, as (cases, evaluated, errors, warnings)."""
    connection = store.connect(path, read_only=True)
    try:
        found = []
        for measure, period in runs:
            warnings = []
            cases, evaluated, errors = run_cases(connection, [CONTENT], measure, period, jobs=1, now=NOW,
                                                 warnings=warnings)
            found.append((cases, evaluated, errors, warnings))
        return found
    finally:
        connection.close()


@pytest.fixture(scope="module")
def alone(loaded):
    return _alone(*loaded)


@needs_content
@pytest.mark.parametrize("jobs", [1, 2])
def test_each_measure_of_one_pass_is_as_evaluated_alone(loaded, alone, jobs):
    path, runs = loaded
    connection = store.connect(path, read_only=True)
    told = []
    try:
        together = run_cases_together(connection, [CONTENT], runs, jobs=jobs, now=NOW, progress=told.append)
    finally:
        connection.close()
    assert len(together) == len(runs)
    for (measure, period), mine, theirs in zip(runs, together, alone, strict=True):
        cases, evaluated, errors, warnings = mine
        assert sorted(map(repr, cases)) == sorted(map(repr, theirs[0])), (measure, period)
        assert (evaluated, sorted(errors), warnings) == (theirs[1], sorted(theirs[2]), theirs[3]), (measure, period)
    assert sum(told) == together[0][1]  # each patient read once, whatever the number of runs
    assert any(cases for cases, *_ in together[:-2]) and sum(len(cases) for cases, *_ in together) > 50


@needs_content
def test_a_measure_missing_from_the_content_stops_before_any_work(loaded):
    path, runs = loaded
    connection = store.connect(path, read_only=True)
    try:
        with pytest.raises(MeasureError, match="NoSuchMeasure"):
            run_cases_together(connection, [CONTENT], [*runs[:1], ("NoSuchMeasure", runs[0][1])], jobs=1, now=NOW)
    finally:
        connection.close()
