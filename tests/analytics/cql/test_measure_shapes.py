"""Measure shapes the CQFM and DEQM guides allow beyond those of the CMS content: several groups
with their own scoring and population basis, observations that name the population they observe
(cqfm-criteriaReference), every aggregate method, stratifiers of components, boolean and
resource population bases. The library, patients and measures are in shapes_content.py; every
expected number below is worked out by hand from the table in its docstring.

The library's definitions were run through cql-execution 3.3.2 with the same patients and gave
the same values (`test_cql_execution_agrees`, which runs when benchmarks/ecqm_js has its
node_modules, or ECQM_JS_DIR names a folder that has)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from andon.analytics.cql import elm
from andon.analytics.cql.evaluator import EvaluationError, PatientData, load_handlers
from andon.analytics.cql.measure import MeasureDefinition, MeasureError, evaluate_subject
from andon.analytics.cql.report import Totals, individual_report, summary_report
from tests.analytics.cql import shapes_content as sc

PERIOD = ("2026-01-01", "2026-12-31")
NOW = "2026-12-31T00:00:00Z"
# the observed lengths of the continuous group: finished, not emergency encounters a1 b1 b2 d1 e1
LENGTHS = [2, 4, 7, 6, 3]


@pytest.fixture(scope="module")
def libraries():
    load_handlers()
    return elm.LibrarySet([elm.parse_library(sc.library())])


def definition_of(measure: dict, libraries) -> MeasureDefinition:
    return MeasureDefinition.from_resource(measure, libraries)


def results_of(definition: MeasureDefinition, libraries) -> dict:
    return {pid: evaluate_subject(definition, libraries, PatientData.from_resources(resources), {}, {}, explained=False)
            for pid, resources in sc.patients().items()}


def summary(measure: dict, libraries) -> dict:
    definition = definition_of(measure, libraries)
    totals = Totals.of(definition)
    for result in results_of(definition, libraries).values():
        totals.add(result)
    return summary_report(definition, totals, PERIOD, NOW, len(sc.patients()), [])


def counts(entry: dict) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in entry["population"]}


def score(entry: dict):
    return entry.get("measureScore", {}).get("value")


def observations(entry: dict) -> dict[str, dict]:
    """A report group's observation extensions: code -> {aggregateMethod, count, value}."""
    found = {}
    for extension in entry.get("extension", []):
        parts = {p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in extension["extension"]}
        found[parts.pop("code")] = {k: parts.get(k) for k in ("aggregateMethod", "count", "value")}
    return found


# -- several groups, each with its own scoring and basis -----------------------------------------

def test_each_group_keeps_its_own_scoring_and_population_basis(libraries):
    measure = sc.measure("ShapesGroups", [sc.proportion_group(), sc.continuous_group("Median"), sc.ratio_group(),
                                          sc.cohort_group()])  # no Measure.scoring: each group says its own
    definition = definition_of(measure, libraries)
    assert [(g.key, g.scoring, g.basis) for g in definition.groups] == [
        ("proportion", "proportion", "boolean"), ("continuous", "continuous-variable", "Encounter"),
        ("ratio", "ratio", "Encounter"), ("cohort", "cohort", "Procedure")]
    proportion, continuous, ratio, cohort = summary(measure, libraries)["group"]
    # patients p1 p2 p3 p5 p6 have an encounter; p1 p3 an emergency; p2 p5 a long one and no emergency
    assert counts(proportion) == {"initial-population": 5, "denominator": 5, "denominator-exclusion": 2, "numerator": 2}
    assert score(proportion) == pytest.approx(2 / 3, abs=1e-6)
    # seven finished encounters, two of them emergencies; the median of 2 3 4 6 7
    assert counts(continuous) == {"initial-population": 7, "measure-population": 7, "measure-population-exclusion": 2}
    assert score(continuous) == 4
    # ratio: the numerator (a2 b2 d1, over 4.5 days) stands beside the denominator, so the
    # excluded emergency a2 still counts in it; 3 counted over 22 days summed
    assert counts(ratio) == {"initial-population": 7, "denominator": 7, "denominator-exclusion": 2, "numerator": 3}
    assert observations(ratio) == {"numerator-observation": {"aggregateMethod": "Count", "count": 3, "value": 3.0},
                                   "denominator-observation": {"aggregateMethod": "Sum", "count": 5, "value": 22.0}}
    assert score(ratio) == pytest.approx(3 / 22, abs=1e-6)
    assert counts(cohort) == {"initial-population": 2} and "measureScore" not in cohort


def test_a_group_without_its_own_scoring_or_basis_takes_the_measures(libraries):
    bare = sc.continuous_group("Sum")
    bare["extension"] = []
    definition = definition_of(sc.measure("ShapesDefaults", [bare], scoring="continuous-variable", basis="Encounter"),
                               libraries)
    assert (definition.groups[0].scoring, definition.groups[0].basis) == ("continuous-variable", "Encounter")
    with pytest.raises(MeasureError, match="group 1: no scoring"):
        definition_of(sc.measure("ShapesNoScoring", [bare]), libraries)


# -- observations and their aggregate methods -----------------------------------------------------

AGGREGATED = {"sum": 22, "count": 5, "average": Decimal("4.4"), "median": 4, "minimum": 2, "maximum": 7}


@pytest.mark.parametrize("method_as, method, expected", [
    *[("valueCode", code, value) for code, value in AGGREGATED.items()],  # the guide's extension: a code
    ("valueString", "Sum", 22), ("valueString", "Count", 5), ("valueString", "Average", Decimal("4.4")),  # MADiE's
    ("valueString", "Median", 4), ("valueString", "Min", 2), ("valueString", "Max", 7),
    ("valueString", "Minimum", 2), ("valueString", "MAXIMUM", 7),
])
def test_continuous_variable_score_by_each_aggregate_method(libraries, method_as, method, expected):
    report = summary(sc.measure("ShapesCV", [sc.continuous_group(method, method_as)]), libraries)
    [group] = report["group"]
    assert score(group) == pytest.approx(float(expected), abs=1e-6)
    [observed] = observations(group).values()
    assert observed["count"] == 5 and observed["value"] == pytest.approx(float(expected), abs=1e-6)


def test_an_unknown_aggregate_method_is_refused(libraries):
    with pytest.raises(MeasureError, match="aggregate method 'mode'"):
        definition_of(sc.measure("ShapesMode", [sc.continuous_group("mode", "valueCode")]), libraries)


def test_an_aggregate_method_without_a_value_counts_as_sum(libraries):
    group = sc.continuous_group()
    del group["population"][0]["extension"][1]  # the criteriaReference stays, the method goes
    assert score(summary(sc.measure("ShapesNoMethod", [group]), libraries)["group"][0]) == 22


def test_ratio_observations_follow_their_criteria_reference_not_their_position(libraries):
    after = summary(sc.measure("ShapesRatio", [sc.ratio_group("Sum", "Count")]), libraries)["group"][0]
    before = summary(sc.measure("ShapesRatio", [sc.ratio_group("Sum", "Count", observations_first=True)]), libraries)["group"][0]
    # numerator a2 b2 d1: 5 + 7 + 6 days; denominator a1 b1 b2 d1 e1: 5 observations
    for entry in (after, before):
        assert observations(entry) == {"numerator-observation": {"aggregateMethod": "Sum", "count": 3, "value": 18.0},
                                       "denominator-observation": {"aggregateMethod": "Count", "count": 5, "value": 5.0}}
        assert score(entry) == pytest.approx(18 / 5, abs=1e-6)


def test_an_observation_naming_no_population_is_refused(libraries):
    group = sc.ratio_group()
    group["population"][-1]["extension"][0]["valueString"] = "no-such-id"
    with pytest.raises(MeasureError, match="observation 'Length' refers to no population"):
        definition_of(sc.measure("ShapesDangling", [group]), libraries)


def test_each_subjects_observations_in_its_individual_report(libraries):
    definition = definition_of(sc.measure("ShapesCV", [sc.continuous_group("Sum")]), libraries)
    results = results_of(definition, libraries)
    # p1: a1 observed (2 days), a2 an excluded emergency; p2: b1 and b2
    assert results["p1"].groups[0].observations == {"measure-observation": [2]}
    assert sorted(results["p2"].groups[0].observations["measure-observation"]) == [4, 7]
    report = individual_report(definition, results["p2"], PERIOD, NOW)
    assert observations(report["group"][0]) == {"measure-observation": {"aggregateMethod": "Sum", "count": 2, "value": 11.0}}
    assert {e["reference"] for e in report["evaluatedResource"]} == {"Encounter/b1", "Encounter/b2"}


def test_a_patient_based_observation_takes_no_argument(libraries):
    group = sc.group("patients", "continuous-variable", "boolean", [
        sc.population("initial-population", "Has Encounter", "pb-ip"),
        sc.population("measure-population", "Has Encounter", "pb-mp"),
        sc.population("measure-observation", "Encounter Count", "pb-obs", observes="pb-mp", method="average",
                      method_as="valueCode")])
    [entry] = summary(sc.measure("ShapesPatientCV", [group]), libraries)["group"]
    # p1 2, p2 2, p3 1, p5 1, p6 1 finished encounters
    assert counts(entry) == {"initial-population": 5, "measure-population": 5}
    assert score(entry) == pytest.approx(7 / 5, abs=1e-6)


def test_a_ratio_with_an_initial_population_for_each_side_is_refused_not_miscounted(libraries):
    # the guide lets a ratio's numerator and denominator each name their initial population
    # (cqfm-criteriaReference); the engine keeps one population per code, so it says so
    group = sc.ratio_group()
    group["population"].insert(1, sc.population("initial-population", "Long Encounters", "r-ip2"))
    with pytest.raises(MeasureError, match="two initial-population populations"):
        definition_of(sc.measure("ShapesTwoInitial", [group]), libraries)


# -- stratifiers ------------------------------------------------------------------------------

def strata(entry: dict, position: int = 0) -> dict:
    """A report stratifier's strata: the stratum's value (or its components' values, joined by
    " & ") -> (counts, score)."""
    found = {}
    for stratum in entry["stratifier"][position]["stratum"]:
        if "component" in stratum:
            key = " & ".join(c["value"]["text"] for c in stratum["component"])
        else:
            key = stratum["value"]["text"]
        found[key] = (counts(stratum), score(stratum))
    return found


def test_a_stratifier_of_components_has_a_stratum_per_combination(libraries):
    group = sc.proportion_group([sc.stratifier("sex-emergency", "Sex", "Has Emergency Encounter")])
    [entry] = summary(sc.measure("ShapesComponents", [group]), libraries)["group"]
    both = {"initial-population", "denominator"}
    assert strata(entry) == {
        # p1 p3: excluded, no score; p2 p6: p2 met; p5 met (p4 has no encounter: in no stratum)
        "female & true": ({**dict.fromkeys(both, 2), "denominator-exclusion": 2, "numerator": 0}, None),
        "male & false": ({**dict.fromkeys(both, 2), "denominator-exclusion": 0, "numerator": 1}, 0.5),
        "unknown & false": ({**dict.fromkeys(both, 1), "denominator-exclusion": 0, "numerator": 1}, 1.0),
    }
    stratum = entry["stratifier"][0]["stratum"][0]
    assert [c["code"]["text"] for c in stratum["component"]] == ["Sex", "Has Emergency Encounter"]
    assert "value" not in stratum  # DEQM: a component stratum's values are its components'
    assert entry["stratifier"][0]["code"] == [{"text": "sex-emergency"}]


def test_episode_components_put_each_episode_in_its_combination(libraries):
    group = sc.continuous_group("Sum", stratifiers=[sc.stratifier("sex-long", "Sex", "Long Encounters")])
    [entry] = summary(sc.measure("ShapesEpisodeComponents", [group]), libraries)["group"]
    # the long encounters: a2 (female, an emergency: excluded), b2 (male, 7 days), d1 (unknown, 6 days)
    assert strata(entry) == {
        "female & true": ({"initial-population": 1, "measure-population": 1, "measure-population-exclusion": 1}, None),
        "male & true": ({"initial-population": 1, "measure-population": 1, "measure-population-exclusion": 0}, 7),
        "unknown & true": ({"initial-population": 1, "measure-population": 1, "measure-population-exclusion": 0}, 6),
    }


def test_continuous_variable_strata_are_scored_by_their_own_observations(libraries):
    group = sc.continuous_group("median", "valueCode", stratifiers=[sc.stratifier("sex", "Sex")])
    [entry] = summary(sc.measure("ShapesStrataCV", [group]), libraries)["group"]
    # female: a1 2 (a2 and c1 excluded); male: b1 4, b2 7, e1 3; unknown: d1 6
    assert strata(entry) == {
        "female": ({"initial-population": 3, "measure-population": 3, "measure-population-exclusion": 2}, 2),
        "male": ({"initial-population": 3, "measure-population": 3, "measure-population-exclusion": 0}, 4),
        "unknown": ({"initial-population": 1, "measure-population": 1, "measure-population-exclusion": 0}, 6),
    }


def test_ratio_strata_are_scored_by_their_own_observations(libraries):
    group = sc.ratio_group("Sum", "Sum")
    group["stratifier"] = [sc.stratifier("sex", "Sex")]
    [entry] = summary(sc.measure("ShapesStrataRatio", [group]), libraries)["group"]
    # numerator days over denominator days: female a2 5 / a1 2; male b2 7 / b1 b2 e1 14; unknown d1 6 / 6
    assert {key: value[1] for key, value in strata(entry).items()} == {"female": 2.5, "male": 0.5, "unknown": 1.0}


# -- population basis -------------------------------------------------------------------------

def test_a_resource_basis_counts_resources_and_a_boolean_one_patients(libraries):
    measure = sc.measure("ShapesBasis", [sc.group("encounters", "cohort", "Encounter", [
        sc.population("initial-population", "Encounters", "e-ip")]), sc.group("patients", "cohort", "boolean", [
            sc.population("initial-population", "Has Encounter", "p-ip")])])
    definition = definition_of(measure, libraries)
    results = results_of(definition, libraries)
    assert results["p2"].groups[0].members == {"initial-population": ["Encounter/b1", "Encounter/b2"]}
    assert results["p2"].groups[1].counts == {"initial-population": 1} and results["p2"].groups[1].members == {}
    assert [counts(g) for g in summary(measure, libraries)["group"]] == [{"initial-population": 7}, {"initial-population": 5}]


def test_a_resource_of_another_type_than_the_basis_is_an_error(libraries):
    measure = sc.measure("ShapesWrongBasis", [sc.group("wrong", "cohort", "Encounter", [
        sc.population("initial-population", "Procedures", "w-ip")])])
    definition = definition_of(measure, libraries)
    with pytest.raises(EvaluationError, match="initial-population should list Encounter resources, found Procedure"):
        evaluate_subject(definition, libraries, PatientData.from_resources(sc.patients()["p1"]), {}, {}, explained=False)
    with pytest.raises(EvaluationError, match="should be a Boolean"):
        evaluate_subject(definition_of(sc.measure("ShapesWrongBoolean", [sc.group("wrong", "cohort", "boolean", [
            sc.population("initial-population", "Encounters", "w-ip")])]), libraries),
            libraries, PatientData.from_resources(sc.patients()["p1"]), {}, {}, explained=False)


# -- the same definitions in cql-execution ------------------------------------------------------

ECQM_JS = Path(os.environ.get("ECQM_JS_DIR") or Path(__file__).resolve().parents[3] / "benchmarks" / "ecqm_js")
DEFINITIONS = ["Encounters", "Emergency Encounters", "Long Encounters", "Has Encounter", "Has Emergency Encounter",
               "Has Long Encounter", "Sex", "Procedures", "Lengths", "Encounter Count Value"]


@pytest.mark.skipif(not (ECQM_JS / "node_modules" / "cql-execution").is_dir() or not shutil.which("node"),
                    reason=f"cql-execution not installed in {ECQM_JS} (npm ci there, or set ECQM_JS_DIR)")
def test_cql_execution_agrees(libraries, tmp_path):
    for folder in ("libraries", "valuesets", "patients"):
        (tmp_path / folder).mkdir()
    (tmp_path / "libraries" / "Shapes.json").write_text(json.dumps(sc.library()))
    bundles = [{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
               for resources in sc.patients().values()]
    (tmp_path / "patients" / "shapes.ndjson").write_text("".join(json.dumps(b) + "\n" for b in bundles))
    run = subprocess.run(["node", str(ECQM_JS / "run.js"), "--libraries", str(tmp_path / "libraries"),
                          "--valuesets", str(tmp_path / "valuesets"), "--library", "Shapes", "--version", "1.0.0",
                          "--patients", str(tmp_path / "patients"), "--period-start", PERIOD[0], "--period-end", PERIOD[1],
                          "--definitions", ",".join(DEFINITIONS)], capture_output=True, text=True, timeout=120, check=True)
    theirs = json.loads(run.stdout)["results"]
    from andon.analytics.cql.evaluator import Evaluation
    library = libraries.get("Shapes")
    for pid, resources in sc.patients().items():
        evaluation = Evaluation(libraries, PatientData.from_resources(resources), {}, {})
        ours = {name: _plain(evaluation.expression(library, name)) for name in DEFINITIONS}
        assert ours == theirs[pid], pid


def _plain(value):
    """A value as run.js prints it: resources by id, numbers as numbers."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if hasattr(value, "fhir_type") and isinstance(value.value, dict):
        return value.value.get("id")
    return value
