"""Stratifiers, supplemental data and observations, from subjects' results to the summary
MeasureReport, checked against counts computed here from the test cases' own data."""

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from andon.analytics.cql import check, content, temporal
from andon.analytics.cql.evaluator import PatientData
from andon.analytics.cql.measure import MeasureDefinition, evaluate_subject
from andon.analytics.cql.report import Totals, individual_report, summary_report
from andon.analytics.cql.strata import aggregate, number, value_keys
from andon.analytics.cql.values import Code, Concept

CONTENT = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "ecqm-qicore-2024"
needs_content = pytest.mark.skipif(not (CONTENT / "tests").is_dir(), reason=f"CMS eCQM content not found at {CONTENT}")


def test_aggregates():
    assert aggregate("Sum", [3, 4, None]) == 7
    assert aggregate("Count", [3, None, 5]) == 2
    assert aggregate("Average", [1, 2]) == Decimal("1.5")
    assert aggregate("Median", [5, 1, 3, 100]) == 4
    assert aggregate("Min", [5, 1]) == 1 and aggregate("Max", [5, 1]) == 5
    assert aggregate("Sum", []) is None and aggregate("Count", []) == 0
    with pytest.raises(ValueError, match="aggregate method 'Mode'"):
        aggregate("Mode", [1])


def test_observed_numbers():
    assert number(True) is None and number("3") is None and number(None) is None
    assert number(3) == 3 and number(2.5) == Decimal("2.5")


def test_value_keys():
    male = Code("M", "http://hl7.org/fhir/v3/AdministrativeGender")
    assert value_keys(male) == ["http://hl7.org/fhir/v3/AdministrativeGender|M"]
    assert value_keys(Concept((male, Code("x")))) == ["http://hl7.org/fhir/v3/AdministrativeGender|M", "x"]
    assert value_keys({"codes": [Code("2106-3", "urn:oid:2.16.840.1.113883.6.238")], "display": "White"}) == \
        ["urn:oid:2.16.840.1.113883.6.238|2106-3"]
    assert value_keys([True, None, 7]) == ["true", "7"]
    assert value_keys(None) == []


def _evaluate(measure: str):
    runner = check.Runner([CONTENT])
    definition = runner.definition(measure)
    cases = content.load_cases([CONTENT], measure)
    totals, results = Totals.of(definition), []
    for case in cases:
        result = evaluate_subject(definition, runner.libraries, PatientData.from_resources(case.resources), runner.valuesets,
                                  {"Measurement Period": check.measurement_period(*case.period)},
                                  now=temporal.DateTime.parse(check.NOW))
        totals.add(result)
        results.append((case, result))
    report = summary_report(definition, totals, cases[0].period, check.NOW, len(cases), [])
    return definition, results, report


def _age(birth: str, on: str) -> int:
    born, day = datetime.date.fromisoformat(birth), datetime.date.fromisoformat(on)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@needs_content
def test_episode_stratifiers_count_the_encounters_of_each_age_band():
    definition, results, report = _evaluate("AppropriateTestingforPharyngitisFHIR")
    bands = {"Stratification 1": range(3, 18), "Stratification 2": range(18, 65), "Stratification 3": range(65, 200)}
    group = report["group"][0]
    assert [s["code"][0]["text"] for s in group["stratifier"]] == list(bands)
    for stratifier, band in zip(group["stratifier"], bands.values(), strict=True):
        expected = {}
        for case, _ in results:  # the cases' expected counts, by the patient's age at the period's start
            birth = next(r for r in case.resources if r["resourceType"] == "Patient")["birthDate"]
            if _age(birth, case.period[0]) in band:
                for code, count in case.expected()[0].items():
                    expected[code] = expected.get(code, 0) + count
        strata = {s["value"]["text"]: {p["code"]["coding"][0]["code"]: p["count"] for p in s["population"]}
                  for s in stratifier["stratum"]}
        if not expected.get("initial-population"):
            assert strata == {}
            continue
        assert list(strata) == ["true"]
        assert strata["true"] == {code: expected.get(code, 0) for code in strata["true"]}
        assert strata["true"]["initial-population"] > 0


@needs_content
def test_supplemental_data_counts_patients_by_sex():
    definition, results, report = _evaluate("CMS108VTEProphylaxisFHIR")
    sexes = {}
    for case, _ in results:
        gender = next(r for r in case.resources if r["resourceType"] == "Patient").get("gender")
        code = {"male": "M", "female": "F"}.get(gender)
        if code:
            sexes[code] = sexes.get(code, 0) + 1
    reported = {o["code"]["coding"][0]["code"]: o["valueInteger"] for o in report["contained"]
                if o["extension"][0]["valueString"] == "sde-sex"}
    assert reported == sexes and sum(sexes.values()) > 100
    referenced = {e["valueReference"]["reference"] for e in report["extension"] if "valueReference" in e}
    assert referenced == {f"#{o['id']}" for o in report["contained"]}


@needs_content
def test_ratio_score_from_observations():
    # CMS871: summed numerator observations over summed denominator observations; the sums from
    # the test reports' own observation values (each of these cases has at most one episode)
    definition, results, report = _evaluate("CMS871HHHyperFHIR")
    sums = {"denominator-observation": 0, "numerator-observation": 0}
    for case, _ in results:
        for code in sums:
            sums[code] += case.expected()[0].get(code, 0)
    assert sums["denominator-observation"] > 0 and sums["numerator-observation"] > 0
    extensions = {part["valueCode"]: ext for ext in report["group"][0]["extension"]
                  for part in ext["extension"] if part["url"] == "code"}
    assert {code: next(p["valueDecimal"] for p in ext["extension"] if p["url"] == "value") for code, ext in extensions.items()} \
        == {code: float(total) for code, total in sums.items()}
    score = sums["numerator-observation"] / sums["denominator-observation"]
    assert report["group"][0]["measureScore"]["value"] == pytest.approx(score, abs=1e-6)


@needs_content
def test_component_stratifier_has_a_stratum_per_combination():
    runner = check.Runner([CONTENT])
    measure = json.loads(json.dumps(runner.measures["AppropriateTestingforPharyngitisFHIR"]))
    measure["group"][0]["stratifier"] = [{"id": "age-sex", "code": {"text": "children by sex"}, "component": [
        {"criteria": {"language": "text/cql-identifier", "expression": "Stratification 1"}},
        {"criteria": {"language": "text/cql-identifier", "expression": "SDE Sex"}}]}]
    definition = MeasureDefinition.from_resource(measure, runner.libraries)
    expected, totals = {}, Totals.of(definition)
    for case in content.load_cases([CONTENT], "AppropriateTestingforPharyngitisFHIR"):
        patient = next(r for r in case.resources if r["resourceType"] == "Patient")
        totals.add(evaluate_subject(definition, runner.libraries, PatientData.from_resources(case.resources), runner.valuesets,
                                    {"Measurement Period": check.measurement_period(*case.period)},
                                    now=temporal.DateTime.parse(check.NOW), explained=False))
        sex = {"male": "M", "female": "F"}.get(patient.get("gender"))
        if _age(patient["birthDate"], case.period[0]) in range(3, 18) and sex and case.expected()[0]["initial-population"]:
            key = f"true & http://hl7.org/fhir/administrative-gender|{sex}"  # the system SDE Sex declares
            expected[key] = expected.get(key, 0) + case.expected()[0]["initial-population"]
    got = {stratum: counts["initial-population"] for stratum, counts in totals.groups[0].strata["age-sex"].items()}
    assert got == expected and len(expected) == 2


@needs_content
def test_individual_report_of_an_episode_measure():
    definition, results, _ = _evaluate("CMS108VTEProphylaxisFHIR")
    case, result = next((c, r) for c, r in results if c.expected()[0]["initial-population"] >= 2)
    report = individual_report(definition, result, case.period, check.NOW)
    patient = next(r for r in case.resources if r["resourceType"] == "Patient")
    assert report["type"] == "individual" and report["subject"] == {"reference": f"Patient/{patient['id']}"}
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert counts == case.expected()[0]
    encounters = {f"Encounter/{r['id']}" for r in case.resources if r["resourceType"] == "Encounter"}
    evaluated = {e["reference"] for e in report["evaluatedResource"]}
    assert len(evaluated) == counts["initial-population"] and evaluated <= encounters
    sex = [o for o in report["contained"] if o["extension"][0]["valueString"] == "sde-sex"]
    assert [o["code"]["coding"][0]["code"] for o in sex] == [{"male": "M", "female": "F"}[patient["gender"]]]
