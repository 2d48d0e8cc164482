"""A subject's result as cases (episodes.py), against the CMS test cases' expected reports: one
case per initial-population member; the cases' numerators and denominators add up to the
memberships the score counts (exclusions and exceptions removed); a ratio measure with
observations (CMS871) counts each episode's observed values."""

from pathlib import Path

import pytest

from andon.analytics.cql import content, episodes, temporal
from andon.analytics.cql.check import NOW, Runner, measurement_period
from andon.analytics.cql.evaluator import PatientData
from andon.analytics.cql.measure import evaluate_subject

CONTENT = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "ecqm-qicore-2024"
pytestmark = pytest.mark.skipif(not (CONTENT / "tests").is_dir(), reason=f"CMS eCQM content not found at {CONTENT}")


@pytest.fixture(scope="module")
def runner():
    return Runner([CONTENT])


def cases_of(runner, case):
    definition = runner.definition(case.measure)
    result = evaluate_subject(definition, runner.libraries, PatientData.from_resources(case.resources), runner.valuesets,
                              {"Measurement Period": measurement_period(*case.period)}, now=temporal.DateTime.parse(NOW),
                              explained=False)
    return episodes.cases(definition, result)


@pytest.mark.parametrize("measure", ["CMS108VTEProphylaxisFHIR", "CMS71FHIRSTKAnticoagAFFlutter", "CMS334FHIRPCCesareanBirth"])
def test_cases_add_up_to_the_expected_memberships(runner, measure):
    checked = 0
    for case in content.load_cases([CONTENT], measure):
        expected = case.expected()[0]
        found = cases_of(runner, case)
        assert len(found) == expected.get("initial-population", 0), case.case
        assert all(c.episode and c.episode.startswith("Encounter/") for c in found)
        assert sum(c.numerator for c in found) == expected.get("numerator", 0) - expected.get("numerator-exclusion", 0)
        assert sum(c.denominator for c in found) == (expected.get("denominator", 0) - expected.get("denominator-exclusion", 0)
                                                     - expected.get("denominator-exception", 0)), case.case
        checked += 1
    assert checked > 80


def test_a_ratio_with_observations_counts_the_observed_days(runner):
    observed = 0
    for case in content.load_cases([CONTENT], "CMS871HHHyperFHIR"):
        expected = case.expected()[0]
        found = cases_of(runner, case)
        assert sum(c.denominator for c in found) == expected.get("denominator-observation", 0)
        assert sum(c.numerator for c in found) == expected.get("numerator-observation", 0)
        observed += "numerator-observation" in expected
    assert observed == 3


def test_a_cohort_counts_each_member_once(runner):
    for case in content.load_cases([CONTENT], "CMSFHIR529HybridHospitalWideReadmission")[:40]:
        found = cases_of(runner, case)
        assert [(c.numerator, c.denominator) for c in found] == [(1.0, 1.0)] * case.expected()[0]["initial-population"]
