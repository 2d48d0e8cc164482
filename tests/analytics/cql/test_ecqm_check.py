"""`andon ecqm check` over the CMS eCQM content and its 2,446 test cases (shared/conformance).

Every case must give its expected populations, except the ones listed, with their cause, in
`ecqm_known_failures.json` (and docs/ecqm.md). The list is strict both ways: a case that
starts failing fails this test, and so does a listed case that now passes (take it off).
"""

import json
from pathlib import Path

import pytest

from andon.analytics.cql.check import check, summary
from andon.cli import main

CONTENT = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "ecqm-qicore-2024"
KNOWN = json.loads((Path(__file__).parent / "ecqm_known_failures.json").read_text())
needs_content = pytest.mark.skipif(not (CONTENT / "tests").is_dir(), reason=f"CMS eCQM content not found at {CONTENT}")


@pytest.fixture(scope="module")
def outcomes():
    return check([CONTENT])


@needs_content
def test_every_case_passes_but_the_known_failures(outcomes):
    assert len(outcomes) == 2446
    failing = {(o.measure, o.case): o for o in outcomes if not o.passed}
    known = {(measure, case) for measure, cases in KNOWN.items() for case in cases}
    new = [f"{m}/{c}: {failing[m, c].error or '; '.join(failing[m, c].differences)}" for m, c in sorted(set(failing) - known)]
    fixed = sorted(f"{m}/{c}" for m, c in known - set(failing))
    assert not new, "newly failing cases:\n" + "\n".join(new)
    assert not fixed, "now passing, take them off ecqm_known_failures.json and docs/ecqm.md:\n" + "\n".join(fixed)


@needs_content
def test_summary_lists_each_measure_and_ends_with_the_totals(outcomes):
    text = summary(outcomes).splitlines()
    failed = sum(len(cases) for cases in KNOWN.values())
    assert text[-1] == f"{2446 - failed} passed, {failed} failed"
    assert "CMS108VTEProphylaxisFHIR: 136/136" in text
    assert any(line.startswith("  FAILED ") for line in text)


@needs_content
def test_cli_checks_one_measure(capsys):
    assert main(["ecqm", "check", str(CONTENT), "--measure", "ControllingHighBloodPressureFHIR", "--jobs", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["ControllingHighBloodPressureFHIR: 60/60", "60 passed, 0 failed"]
    assert main(["ecqm", "check", str(CONTENT), "--measure", "NoSuchMeasure"]) == 2
    assert "no test cases for measure NoSuchMeasure" in capsys.readouterr().err


def test_cli_refuses_broken_content(tmp_path, capsys):
    (tmp_path / "libraries").mkdir()
    (tmp_path / "libraries" / "Broken.json").write_text("{not json")
    (tmp_path / "tests").mkdir()
    assert main(["ecqm", "check", str(tmp_path)]) == 2
    assert "Broken.json: not valid JSON" in capsys.readouterr().err


@needs_content
def test_explanation_follows_each_population_down_to_the_records():
    from andon.analytics.cql.check import Runner, measurement_period
    from andon.analytics.cql.content import read_case
    from andon.analytics.cql.evaluator import PatientData
    from andon.analytics.cql.measure import evaluate_subject

    runner = Runner([CONTENT])
    case = read_case("CMS108VTEProphylaxisFHIR", CONTENT / "tests" / "CMS108VTEProphylaxisFHIR" / "068814f1-4270-4e10-b470-9a5433bceb3e")
    result = evaluate_subject(runner.definition(case.measure), runner.libraries, PatientData.from_resources(case.resources),
                              runner.valuesets, {"Measurement Period": measurement_period(*case.period)})
    [why] = result.explanation["groups"]
    encounter = "Encounter/8cb3c2e2-7fe3-4a40-b1a5-4fbf6e386976"
    assert why["populations"]["numerator"] == {"definition": "CMS108VTEProphylaxisFHIR.Numerator", "result": 1}
    definitions = why["definitions"]
    assert definitions["CMS108VTEProphylaxisFHIR.Initial Population"]["resources"] == [encounter]
    assert "VTE.Encounter with Age Range and without VTE Diagnosis or Obstetrical Conditions" in definitions[
        "CMS108VTEProphylaxisFHIR.Initial Population"]["uses"]
    reasons = definitions["CMS108VTEProphylaxisFHIR.Encounter with No VTE Prophylaxis Due to Medical Reason"]
    assert reasons["resources"] == [encounter] and reasons["value"] == 1
    # every definition listed either has a value or says it was not reached
    assert all("value" in d or d == {"evaluated": False} or d.get("evaluated") is False for d in definitions.values())
    assert all(uses in definitions for d in definitions.values() for uses in d.get("uses", []))


# an episode basis, a boolean one with strata, observations, two groups with six stratifiers
PARITY_MEASURES = ("CMS108VTEProphylaxisFHIR", "ControllingHighBloodPressureFHIR", "CMS1017HHFIFHIR",
                   "InitiationandEngagementofSubstanceUseDisorderTreatmentFHIR")


@needs_content
def test_a_summary_evaluates_less_but_gives_what_an_explanation_gives():
    """`explained=False` (summaries, the check above) stops at a subject outside the initial
    population; the explained path evaluates every criterion. Same groups, counts, members,
    observations, strata and supplemental data for every test case of these measures, in and
    out of the initial population."""
    from andon.analytics.cql import content, temporal
    from andon.analytics.cql.check import NOW, Runner, measurement_period
    from andon.analytics.cql.evaluator import PatientData
    from andon.analytics.cql.measure import evaluate_subject

    runner = Runner([CONTENT])
    outside = inside = 0
    for measure in PARITY_MEASURES:
        definition = runner.definition(measure)
        for case in content.load_cases([CONTENT], measure):
            parameters = {"Measurement Period": measurement_period(*case.period)}
            both = [evaluate_subject(definition, runner.libraries, PatientData.from_resources(case.resources),
                                     runner.valuesets, parameters, now=temporal.DateTime.parse(NOW), explained=explained)
                    for explained in (True, False)]
            assert both[1].groups == both[0].groups, f"{measure}/{case.case}"
            assert both[1].supplemental == both[0].supplemental, f"{measure}/{case.case}"
            in_population = any(group.counts.get("initial-population") for group in both[0].groups)
            inside += in_population
            outside += not in_population
    assert inside > 200 and outside > 10  # 263 and 15: the test cases mostly lie inside
