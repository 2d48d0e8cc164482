"""Quantities whose system misspells UCUM's (`http://ucum.org`, `https://ucum.org`): an error as
published FHIRHelpers gives by default; read as UCUM, and counted in the run's report, on request."""

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest

from andon.analytics.cql import content, elm, temporal
from andon.analytics.cql.check import measurement_period
from andon.analytics.cql.evaluator import Evaluation, EvaluationError, PatientData, load_handlers
from andon.analytics.cql.measure import MeasureDefinition, evaluate_subject
from andon.analytics.cql.quantity import Quantity
from andon.analytics.cql.report import WARNINGS_EXTENSION
from andon.analytics.cql.run import run_cases, run_measure
from andon.analytics.cql.ucum_spelling import ACCEPTED_URL, Accepted
from andon.analytics.fhir import ingest, store
from andon.cli import main

from .elm_builders import FHIR, NOW, agg, op, prop, retrieve

SHIPPED = Path(__file__).resolve().parents[3] / "content" / "ecqm"
HYPO = "CMS816HHHypoFHIR"  # hypoglycemia: a glucose result below 40 mg/dL in the encounter
HYPO_CASES = SHIPPED / "tests" / HYPO


# -- FHIRHelpers.ToQuantity, the published ELM, on one Observation ------------------------------


def _helpers_call(function: str, argument: dict) -> dict:
    return {"type": "FunctionRef", "libraryName": "FHIRHelpers", "name": function, "operand": [argument]}


def _value_of_first(kind: str = "Quantity") -> dict:
    first = agg("First", retrieve("Observation"))
    return {"type": "As", "asType": FHIR + kind, "operand": prop("value", first)}


def _evaluate(expression: dict, resources: list, accept: bool = False):
    """(the value of `define X: <expression>` in a library including the shipped FHIRHelpers,
    the resources of the quantities the evaluation read as UCUM though misspelled)."""
    load_handlers()
    body = {"identifier": {"id": "T", "version": "1"},
            "includes": {"def": [{"localIdentifier": "FHIRHelpers", "path": "FHIRHelpers", "version": "4.4.000"}]},
            "statements": {"def": [{"name": "X", "context": "Patient", "accessLevel": "Public", "expression": expression}]}}
    library = elm.parse_library({"library": body})
    libraries = elm.LibrarySet([library, elm.load_library(SHIPPED / "libraries" / "FHIRHelpers.json")])
    evaluation = Evaluation(libraries, PatientData.from_resources(resources), {}, {}, now=temporal.DateTime.parse(NOW),
                            accept_ucum_misspellings=accept)
    value = evaluation.expression(library, "X")
    return value, (evaluation.ucum_corrector.accepted() if accept else None)


def _observation(system: str | None, value=7.5, unit="kg", ident="o1", element="valueQuantity", **more) -> dict:
    quantity = {"value": value, "unit": unit, "code": unit, **more}
    if system is not None:
        quantity["system"] = system
    return {"resourceType": "Observation", "id": ident, "status": "final", "code": {"text": "weight"}, element: quantity}


@pytest.mark.parametrize("system", ["https://ucum.org", "http://ucum.org"])
def test_a_misspelled_system_is_an_error_as_published_fhirhelpers_gives(system):
    with pytest.raises(EvaluationError) as raised:
        _evaluate(_helpers_call("ToQuantity", _value_of_first()), [_observation(system)])
    # FHIRHelpers.ToQuantity's own Message: 'Invalid FHIR Quantity code: ' & unit & ' (' & system & '|' & code & ')'
    assert str(raised.value) == f"FHIRHelpers: Invalid FHIR Quantity code: kg ({system}|kg)"


@pytest.mark.parametrize("system", [None, "http://unitsofmeasure.org"])
def test_ucum_or_no_system_converts_with_or_without_the_option(system):
    for accept in (False, True):
        value, accepted = _evaluate(_helpers_call("ToQuantity", _value_of_first()), [_observation(system)], accept)
        assert (value.value, value.unit) == (Decimal("7.5"), "kg")
        assert accepted in (None, [])


@pytest.mark.parametrize("system", ["https://ucum.org", "http://ucum.org"])
def test_with_the_option_a_misspelled_system_reads_as_ucum_and_compares(system):
    converted = _helpers_call("ToQuantity", _value_of_first())
    resources = [_observation(system)]
    value, accepted = _evaluate(converted, resources, accept=True)
    assert (value.value, value.unit) == (Decimal("7.5"), "kg")
    assert accepted == ["Observation/o1"]
    grams = {"type": "Quantity", "value": 7500, "unit": "g"}
    assert _evaluate(op("Equal", converted, grams), resources, accept=True)[0] is True
    assert _evaluate(op("Less", converted, {"type": "Quantity", "value": 8, "unit": "kg"}), resources, accept=True)[0] is True
    assert resources[0]["valueQuantity"]["system"] == system  # the data is read, never changed


def test_with_the_option_another_system_is_still_an_error():
    with pytest.raises(EvaluationError, match=r"Invalid FHIR Quantity code: kg \(http://example.org/units\|kg\)"):
        _evaluate(_helpers_call("ToQuantity", _value_of_first()), [_observation("http://example.org/units")], accept=True)
    # a misspelling with a trailing slash is not one of the two: FHIRHelpers' answer stands
    with pytest.raises(EvaluationError, match="Invalid FHIR Quantity code"):
        _evaluate(_helpers_call("ToQuantity", _value_of_first()), [_observation("https://ucum.org/")], accept=True)


def test_a_quantity_converted_twice_counts_once_and_each_quantity_of_a_range_counts():
    converted = _helpers_call("ToQuantity", _value_of_first())
    twice = op("Add", converted, converted)
    value, accepted = _evaluate(twice, [_observation("https://ucum.org")], accept=True)
    assert (value.value, value.unit) == (Decimal("15.0"), "kg") and accepted == ["Observation/o1"]
    ranged = {"resourceType": "Observation", "id": "r1", "status": "final", "code": {"text": "range"},
              "valueRange": {"low": {"value": 1, "unit": "kg", "code": "kg", "system": "http://ucum.org"},
                             "high": {"value": 2, "unit": "kg", "code": "kg", "system": "https://ucum.org"}}}
    interval, accepted = _evaluate(_helpers_call("ToInterval", _value_of_first("Range")), [ranged], accept=True)
    assert (interval.low, interval.high) == (Quantity(1, "kg"), Quantity(2, "kg"))
    assert accepted == ["Observation/r1", "Observation/r1"]


def test_a_comparator_quantity_goes_through_the_conversion_that_ignores_it():
    """FHIRHelpers.ToInterval(Quantity) reads '<' as an interval up to the value, through
    ToQuantityIgnoringComparator, which checks the system as ToQuantity does."""
    resources = [_observation("https://ucum.org", value=40, unit="mg/dL", comparator="<")]
    call = _helpers_call("ToInterval", _value_of_first())
    with pytest.raises(EvaluationError, match=r"Invalid FHIR Quantity code: mg/dL \(https://ucum.org\|mg/dL\)"):
        _evaluate(call, resources)
    interval, accepted = _evaluate(call, resources, accept=True)
    assert (interval.low, interval.high, interval.high_closed) == (None, Quantity(40, "mg/dL"), False)
    assert accepted == ["Observation/o1"]


def test_accepted_quantities_add_up_and_name_the_first_resources():
    total = Accepted()
    assert total.warning() is None
    total.add(["Observation/a", "Observation/a"])
    other = Accepted()
    other.add([f"Observation/{n}" for n in "bcdefg"])
    total.merge(other)
    assert total.count == 8
    assert total.resources == ["Observation/a", "Observation/b", "Observation/c", "Observation/d", "Observation/e"]
    assert total.warning() == ("8 quantities with system http://ucum.org or https://ucum.org read as UCUM "
                               "(http://unitsofmeasure.org), which published FHIRHelpers rejects; first in "
                               "Observation/a, Observation/b, Observation/c, Observation/d, Observation/e")


# -- a measure: CMS816 (hypoglycemia), its shipped test cases with misspelled systems -----------


def misspelled_hypo_cases() -> tuple[list[dict], dict[str, int]]:
    """The shipped CMS816 cases' resources, each glucose result's system misspelled (the
    numerator case's https, the others' http), and each case's expected populations summed."""
    resources, expected = [], {}
    for case in content.load_cases([SHIPPED], HYPO):
        for resource in copy.deepcopy(case.resources):
            if "valueQuantity" in resource:
                spelling = "https://ucum.org" if case.expected()[0].get("numerator") else "http://ucum.org"
                resource["valueQuantity"].update(system=spelling, code=resource["valueQuantity"]["unit"])
            resources.append(resource)
        for code, count in case.expected()[0].items():
            expected[code] = expected.get(code, 0) + count
    return resources, expected


MISSPELLED = ["Observation/39a13fe1-664d-429d-99ad-3e71cefe6b7d", "Observation/863e07f1-5df4-4d89-b23c-96ac76433e0e",
              "Observation/e7a78700-0a3c-4e9b-a7a6-e6700d6eab0f"]


def test_the_numerator_case_reads_its_misspelled_glucose_below_40_mg_dl():
    case = next(c for c in content.load_cases([SHIPPED], HYPO) if c.expected()[0]["numerator"] == 1)
    resources = copy.deepcopy(case.resources)
    [glucose] = [r for r in resources if "valueQuantity" in r]
    glucose["valueQuantity"].update(system="https://ucum.org", code="mg/dL")
    assert glucose["valueQuantity"]["value"] == 39.0
    libraries, valuesets = content.load_libraries([SHIPPED]), content.load_valuesets([SHIPPED])
    definition = MeasureDefinition.from_resource(content.load_measures([SHIPPED])[HYPO], libraries)
    parameters = {"Measurement Period": measurement_period(*case.period)}

    def evaluate(accept: bool):
        return evaluate_subject(definition, libraries, PatientData.from_resources(resources), valuesets, parameters,
                                temporal.DateTime.parse(NOW), explained=False, accept_ucum_misspellings=accept)

    with pytest.raises(EvaluationError, match=r"Invalid FHIR Quantity code: mg/dL \(https://ucum.org\|mg/dL\)"):
        evaluate(False)
    result = evaluate(True)
    assert result.groups[0].counts == {"initial-population": 1, "denominator": 1, "numerator": 1}
    assert result.misspelled_ucum == [f"Observation/{glucose['id']}"]


@pytest.fixture(scope="module")
def misspelled_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ucum")
    resources, expected = misspelled_hypo_cases()
    export = folder / "export" / "cases.ndjson"
    export.parent.mkdir()
    export.write_text("".join(json.dumps(r) + "\n" for r in resources))
    connection = store.connect(folder / "fhir.duckdb")
    summary = ingest.load_paths(connection, [export])
    connection.close()
    assert summary.total.quarantined == 0
    return folder / "fhir.duckdb", export.parent, expected


def _counts(report: dict) -> dict:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}


def _period() -> tuple[str, str]:
    return content.load_cases([SHIPPED], HYPO)[0].period


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_fails_the_patients_with_misspelled_systems_by_default(misspelled_store, jobs):
    path, _, expected = misspelled_store
    connection = store.connect(path, read_only=True)
    try:
        report = run_measure(connection, [SHIPPED], HYPO, _period(), jobs=jobs, now=NOW)
    finally:
        connection.close()
    assert report["status"] == "error"
    [errors] = [e["valueString"] for e in report["extension"] if e["url"] == "https://andon.dev/fhir/evaluation-errors"]
    assert len(errors.splitlines()) == 2  # the two cases with glucose results; the third has none
    assert all("Invalid FHIR Quantity code: mg/dL (http" in line and "ucum.org|mg/dL)" in line for line in errors.splitlines())
    assert _counts(report)["initial-population"] == expected["initial-population"] - 2
    assert not [e for e in report["extension"] if e["url"] in (WARNINGS_EXTENSION, ACCEPTED_URL)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_with_the_option_counts_as_ucum_and_warns_with_the_count(misspelled_store, jobs):
    path, _, expected = misspelled_store
    connection = store.connect(path, read_only=True)
    try:
        report = run_measure(connection, [SHIPPED], HYPO, _period(), jobs=jobs, now=NOW, accept_ucum_misspellings=True)
    finally:
        connection.close()
    assert report["status"] == "complete"
    assert _counts(report) == {"initial-population": 3, "denominator": 3, "numerator": 1} == expected
    [warning] = [e["valueString"] for e in report["extension"] if e["url"] == WARNINGS_EXTENSION]
    assert warning.startswith("3 quantities with system http://ucum.org or https://ucum.org read as UCUM")
    [accepted] = [e["extension"] for e in report["extension"] if e["url"] == ACCEPTED_URL]
    assert accepted[0] == {"url": "count", "valueInteger": 3}
    assert sorted(part["valueReference"]["reference"] for part in accepted[1:]) == MISSPELLED


@pytest.mark.parametrize("jobs", [1, 2])
def test_cases_runs_say_the_warning_when_asked(misspelled_store, jobs):
    path, _, _ = misspelled_store
    connection = store.connect(path, read_only=True)
    try:
        warnings: list[str] = []
        found, evaluated, errors = run_cases(connection, [SHIPPED], HYPO, _period(), jobs=jobs, now=NOW,
                                             accept_ucum_misspellings=True, warnings=warnings)
        refused: list[str] = []
        _, _, failed = run_cases(connection, [SHIPPED], HYPO, _period(), jobs=jobs, now=NOW, warnings=refused)
    finally:
        connection.close()
    assert (evaluated, errors, sum(case.numerator or 0 for case in found)) == (3, [], 1)
    assert len(warnings) == 1 and warnings[0].startswith("3 quantities with system")
    assert refused == [] and len(failed) == 2


def test_cli_flag_over_an_ndjson_folder(misspelled_store, tmp_path, capsys):
    _, folder, _ = misspelled_store
    out = tmp_path / "report.json"
    arguments = ["ecqm", "run", HYPO, "--period", "..".join(_period()), "--content", str(SHIPPED),
                 "--patients", str(folder), "--out", str(out), "--jobs", "1", "--no-progress"]
    assert main(arguments) == 1  # by default, FHIRHelpers' error for two of the three patients
    assert json.loads(out.read_text())["status"] == "error"
    assert "warning: " not in capsys.readouterr().err
    assert main([*arguments, "--accept-ucum-misspellings"]) == 0
    report = json.loads(out.read_text())
    assert report["status"] == "complete" and _counts(report) == {"initial-population": 3, "denominator": 3, "numerator": 1}
    err = capsys.readouterr().err
    assert "warning: 3 quantities with system http://ucum.org or https://ucum.org read as UCUM" in err
    assert "3 patients evaluated" in err


CONFORMANCE = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "ecqm-qicore-2024"


@pytest.mark.skipif(not (CONFORMANCE / "tests").is_dir(), reason=f"CMS eCQM content not found at {CONFORMANCE}")
@pytest.mark.parametrize("case_id", ["45b1ce40-0f49-4559-8c3b-5c2a8070b0a7", "7b34e64e-e7fe-402c-9a26-12da90662897"])
def test_the_cms_cases_known_to_fail_on_https_ucum_org_pass_with_the_option(case_id):
    """Two PCSBMIScreenAndFollowUpFHIR cases carry a BMI in https://ucum.org (ecqm_known_failures.json):
    FHIRHelpers' error by default, their expected populations with the option."""
    from andon.analytics.cql.content import read_case

    measure = "PCSBMIScreenAndFollowUpFHIR"
    case = read_case(measure, CONFORMANCE / "tests" / measure / case_id)
    libraries, valuesets = content.load_libraries([CONFORMANCE]), content.load_valuesets([CONFORMANCE])
    definition = MeasureDefinition.from_resource(content.load_measures([CONFORMANCE])[measure], libraries)
    parameters = {"Measurement Period": measurement_period(*case.period)}

    def evaluate(accept: bool):
        return evaluate_subject(definition, libraries, PatientData.from_resources(case.resources), valuesets, parameters,
                                temporal.DateTime.parse("2026-01-01T00:00:00.000Z"), explained=False,
                                accept_ucum_misspellings=accept)

    with pytest.raises(EvaluationError, match=r"Invalid FHIR Quantity code: kg/m2 \(https://ucum.org\|kg/m2\)"):
        evaluate(False)
    result = evaluate(True)
    for expected, got in zip(case.expected(), result.groups, strict=True):
        assert {code: got.counts.get(code) for code in expected} == expected
    assert result.misspelled_ucum == ["Observation/body-mass-index-bmi-ratio-5d32"]
