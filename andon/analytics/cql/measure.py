"""Measure evaluation: from a FHIR Measure to each subject's populations, and MeasureReports.

Population membership follows the CQF measure semantics (cqfmeasures IG, "Measure
population semantics"): each population is evaluated within the one that contains it, so a
subject (or, for an episode-based measure, an Encounter or other resource) counts in

- the denominator only if in the initial population;
- a denominator exclusion only if in the denominator;
- the numerator (proportion) only if in the denominator and not excluded;
- a denominator exception only if in the denominator, not excluded and not in the numerator;
- the measure population (continuous variable) only if in the initial population, and its
  exclusions only if in it.

A ratio measure's numerator side stands beside its denominator side, both drawn from the
initial population (cqfmeasures IG, Table 3-4 "Population Criteria Definitions for Ratio
Measures"): the numerator is the part of the initial population meeting its criteria, whether or
not the denominator excludes it, and numerator exclusions are "removed from the Numerator before
determining if Numerator criteria are met", so they too are drawn from the initial population.
In a proportion measure a numerator exclusion counts only if in the numerator.

The criteria are CQL definitions of the measure's primary library: Booleans for a
`boolean` population basis, lists of resources for an episode basis (`Encounter`, …).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .elm import Library, LibrarySet
from .evaluator import Evaluation, EvaluationError, PatientData
from .explain import explain
from .fhir_model import Node
from .ops_core import call_function
from .strata import AGGREGATES, Observation, Stratifier, aggregate, aggregate_method, number, observed, value_keys

BASIS = "http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-populationBasis"
AGGREGATE_METHOD = "http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-aggregateMethod"
CRITERIA_REFERENCE = "http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-criteriaReference"
SCORING = "http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-scoring"
POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"

# each population, and the one it is evaluated within
WITHIN = {
    "denominator": "initial-population",
    "denominator-exclusion": "denominator",
    "numerator-exclusion": "numerator",
    "measure-population": "initial-population",
    "measure-population-exclusion": "measure-population",
}


class MeasureError(ValueError):
    """A Measure that cannot be evaluated: the message names the measure and the problem."""


@dataclass
class Group:
    key: str  # the group's id, or its position
    basis: str  # "boolean" or a resource type
    scoring: str  # proportion, ratio, continuous-variable, cohort
    criteria: dict[str, str]  # population code -> CQL definition name
    observations: list[Observation] = field(default_factory=list)
    stratifiers: list[Stratifier] = field(default_factory=list)


@dataclass
class MeasureDefinition:
    name: str
    url: str | None
    library: Library
    groups: list[Group]
    supplemental: dict[str, str] = field(default_factory=dict)  # id -> CQL definition name
    warnings: list[str] = field(default_factory=list)  # what of the Measure could not be used

    @classmethod
    def from_resource(cls, measure: dict, libraries: LibrarySet) -> MeasureDefinition:
        name = measure.get("name") or measure.get("id") or "?"
        if not measure.get("library"):
            raise MeasureError(f"measure {name}: no library")
        library_name = measure["library"][0].split("|")[0].rsplit("/", 1)[-1]
        library = libraries.get(library_name)
        default_scoring = _code(measure.get("scoring"))
        groups = []
        for position, group in enumerate(measure.get("group", []), start=1):
            extensions = {e.get("url"): e for e in group.get("extension", [])}
            basis = (extensions.get(BASIS) or {}).get("valueCode") or _measure_basis(measure) or "boolean"
            scoring = _code((extensions.get(SCORING) or {}).get("valueCodeableConcept")) or default_scoring
            if scoring is None:
                raise MeasureError(f"measure {name}, group {position}: no scoring")
            where = f"measure {name}, group {position}"
            criteria, observations = _populations_of(group, library, where, scoring)
            stratifiers = [_stratifier(s, n, library, where) for n, s in enumerate(group.get("stratifier", []), start=1)]
            stratifiers = [s for s in stratifiers if s.expressions]  # one without an expression states nothing
            groups.append(Group(group.get("id") or str(position), basis, scoring, criteria, observations, stratifiers))
        supplemental, warnings = {}, []
        for element in measure.get("supplementalData", []):
            expression = (element.get("criteria") or {}).get("expression")
            if expression in library.expressions:
                supplemental[element.get("id") or expression] = expression
            elif expression:  # published content does this (CMS1244's 'SDE Address'): report, don't fail the measure
                warnings.append(f"supplemental data {expression!r} is not a definition of {library.name}: left out")
        return cls(name, measure.get("url"), library, groups, supplemental, warnings)


def _populations_of(group: dict, library: Library, where: str, scoring: str) -> tuple[dict, list[Observation]]:
    """A group's population criteria (code -> definition) and its measure observations."""
    criteria, observations, codes_by_id = {}, [], {}
    for population in group.get("population", []):
        code = _code(population.get("code"))
        expression = (population.get("criteria") or {}).get("expression")
        if code is None or not expression:
            raise MeasureError(f"{where}: a population without code or criteria")
        codes_by_id[population.get("id")] = code
        if code in criteria:  # e.g. a ratio's two initial populations: the second would replace the first, silently
            raise MeasureError(f"{where}: two {code} populations (a ratio measure with an initial population "
                               "for each side is not supported)")
        if code != "measure-observation":
            criteria[code] = _definition(library, expression, where, code)
    for population in group.get("population", []):
        if _code(population.get("code")) != "measure-observation":
            continue
        function = population["criteria"]["expression"]
        # the guide's extensions hold a string (criteriaReference) and a code (aggregateMethod);
        # MADiE writes the method as a string: either is read
        extensions = {e.get("url"): e.get("valueString") or e.get("valueCode") for e in population.get("extension", [])}
        observes = codes_by_id.get(extensions.get(CRITERIA_REFERENCE)) or (
            "measure-population" if scoring == "continuous-variable" else None)
        written = extensions.get(AGGREGATE_METHOD) or "Sum"
        method = aggregate_method(written)
        if observes is None or observes not in criteria:
            raise MeasureError(f"{where}: observation {function!r} refers to no population of the group")
        if method is None:
            raise MeasureError(f"{where}: observation {function!r} has aggregate method {written!r}, "
                               f"not one of {', '.join(AGGREGATES)} (or the guide's codes)")
        if function not in library.functions:
            raise MeasureError(f"{where}: observation {function!r} is not a function of {library.name}")
        observations.append(Observation(function, observes, method))
    return criteria, observations


def _stratifier(stratifier: dict, position: int, library: Library, where: str) -> Stratifier:
    """A stratifier of one criteria expression, or of components (a stratum per combination)."""
    whole = bool((stratifier.get("criteria") or {}).get("expression"))
    parts = [part for part in ([stratifier] if whole else stratifier.get("component", []))
             if (part.get("criteria") or {}).get("expression")]
    expressions = [_definition(library, part["criteria"]["expression"], where, "stratifier") for part in parts]
    label = (stratifier.get("code") or {}).get("text") or " & ".join(expressions)
    components = [] if whole else [(part.get("code") or {}).get("text") or expression
                                   for part, expression in zip(parts, expressions, strict=True)]
    return Stratifier(stratifier.get("id") or str(position), label, expressions, components)


def _definition(library: Library, expression: str, where: str, code: str = "criteria") -> str:
    if expression not in library.expressions:
        raise MeasureError(f"{where}: {code} names {expression!r}, not a definition of {library.name}")
    return expression


def _code(concept) -> str | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("code"):
            return coding["code"]
    return None


def _measure_basis(measure: dict) -> str | None:
    for extension in measure.get("extension", []):
        if extension.get("url") == BASIS:
            return extension.get("valueCode")
    return None


@dataclass
class GroupResult:
    counts: dict[str, int]
    members: dict[str, list[str]] = field(default_factory=dict)  # episode basis: resource keys
    memberships: dict[str, int] = field(default_factory=dict)  # what the score counts (memberships())
    observations: dict[str, list] = field(default_factory=dict)  # observation code -> a number per member
    # stratifier key -> stratum key -> the stratum's counts and memberships
    strata: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    # stratifier key -> stratum key -> observation code -> the numbers of the stratum's members
    strata_observations: dict[str, dict[str, dict[str, list]]] = field(default_factory=dict)

    def observation_values(self, group: Group) -> dict[str, object]:
        """Each observation aggregated over this subject's members, as test reports give it."""
        return {o.code: aggregate(o.aggregate, self.observations.get(o.code, [])) for o in group.observations}


@dataclass
class SubjectResult:
    subject: str | None
    groups: list[GroupResult]
    # why, per group: each population's definition and result, and every definition reached
    # with its value and the definitions it uses (explain.py)
    explanation: dict[str, object] = field(default_factory=dict)
    missing_valuesets: set[str] = field(default_factory=set)
    supplemental: dict[str, list[str]] = field(default_factory=dict)  # supplemental data id -> value keys
    # the resource of each quantity read as UCUM though its system misspells it (ucum_spelling.py)
    misspelled_ucum: list[str] = field(default_factory=list)


def evaluate_subject(definition: MeasureDefinition, libraries: LibrarySet, data: PatientData, valuesets: dict,
                     parameters: dict, now=None, explained: bool = True,
                     accept_ucum_misspellings: bool = False, shared_as=None) -> SubjectResult:
    """One subject's populations in every group of the measure, with observations, strata
    and supplemental data, and (unless `explained` is False) why. `accept_ucum_misspellings`:
    quantities with system http(s)://ucum.org read as UCUM, not an error (ucum_spelling.py).
    `shared_as`: see Evaluation."""
    if data.unreadable:  # a result without some of the patient's records would be wrong, silently
        raise EvaluationError("; ".join(data.unreadable[:3]))
    evaluation = Evaluation(libraries, data, valuesets, parameters, now=now,
                            accept_ucum_misspellings=accept_ucum_misspellings, shared_as=shared_as)
    library = definition.library
    results, explanations = [], []
    for group in definition.groups:
        results.append(_group_result(evaluation, definition, group, complete=explained))
        if explained:
            explanations.append(explain(evaluation, library, group.criteria))
    supplemental = {key: value_keys(evaluation.expression(library, expression))
                    for key, expression in definition.supplemental.items()}
    subject = data.patient.value.get("id") if data.patient is not None else None
    explanation = {"groups": explanations} if explained else {}
    accepted = evaluation.ucum_corrector.accepted() if evaluation.ucum_corrector is not None else []
    return SubjectResult(subject, results, explanation, set(evaluation.missing_valuesets), supplemental, accepted)


def _group_result(evaluation: Evaluation, definition: MeasureDefinition, group: Group, complete: bool = True) -> GroupResult:
    """One group's populations for the subject, with its observations and strata. Every
    population lies within the initial population (`populations`): unless `complete` (an
    explanation shows every criterion's value), a subject outside it is not evaluated further,
    since they hold no member of any population, stratum or observation whatever the other
    criteria give. Most of a measure's patients are outside it (three in four for CMS165)."""
    nodes: dict[str, object] = {}
    initial = (_criterion(evaluation, definition, group, "initial-population", nodes)
               if "initial-population" in group.criteria else None)
    outside = initial == {} and not complete
    values = {code: set() if outside else set(initial if code == "initial-population" else
                                              _criterion(evaluation, definition, group, code, nodes))
              for code in group.criteria}
    members = populations(values, group.scoring)
    observed_by_member = _observations(evaluation, definition.library, group, members, nodes)
    if complete or any(members.values()):
        strata, strata_observations = _strata(evaluation, definition, group, members, observed_by_member)
    else:  # what _strata gives for no members, without evaluating the stratifiers
        strata = {stratifier.key: {} for stratifier in group.stratifiers}
        strata_observations = {stratifier.key: {} for stratifier in group.stratifiers}
    return GroupResult({code: len(keys) for code, keys in members.items()},
                       {} if group.basis == "boolean" else {c: sorted(k) for c, k in members.items()},
                       memberships(members),
                       {code: [by_member[key] for key in sorted(by_member)] for code, by_member in observed_by_member.items()},
                       strata, strata_observations)


def _criterion(evaluation: Evaluation, definition: MeasureDefinition, group: Group, code: str, nodes: dict) -> dict:
    """A population's members for the subject (`_members`), added to `nodes` too."""
    found = _members(evaluation.expression(definition.library, group.criteria[code]), group, definition, code)
    nodes.update(found)
    return found


def _members(value, group: Group, definition: MeasureDefinition, code: str) -> dict[str, object]:
    """A population's members by key: {"subject": None} or nothing for a boolean basis; each
    resource by its `Type/id` for an episode basis."""
    if group.basis == "boolean":
        if value is not None and not isinstance(value, bool):
            raise EvaluationError(f"measure {definition.name}: {code} should be a Boolean, found {type(value).__name__}")
        return {"subject": None} if value is True else {}
    items = value if isinstance(value, list) else ([] if value is None else [value])
    found = {}
    for item in items:
        if not isinstance(item, Node) or not isinstance(item.value, dict):
            raise EvaluationError(f"measure {definition.name}: {code} should list {group.basis} resources")
        if item.fhir_type != group.basis:  # a Procedure counted as an Encounter would be counted wrong, silently
            raise EvaluationError(f"measure {definition.name}: {code} should list {group.basis} resources, "
                                  f"found {item.fhir_type}")
        found[f"{item.fhir_type}/{item.value.get('id')}"] = item
    return found


def _observations(evaluation: Evaluation, library: Library, group: Group, members: dict[str, set], nodes: dict) -> dict:
    """Each observation's function over the members it observes (no argument for a patient
    basis): observation code -> member key -> number."""
    values = {}
    for observation in group.observations:
        values[observation.code] = {
            key: number(call_function(evaluation, library, observation.function, [] if key == "subject" else [nodes[key]]))
            for key in sorted(observed(members, observation.observes))}
    return values


def _strata(evaluation: Evaluation, definition: MeasureDefinition, group: Group, members: dict[str, set],
            observed_by_member: dict[str, dict]) -> tuple[dict, dict]:
    """Each stratifier's strata with the subject's counts in them, and the observations of the
    members each stratum holds (so that a stratum has its own score). A criteria expression
    listing episodes puts those in its stratum "true"; any other value names the stratum of all
    the subject's members. Components combine: a stratum per combination of their strata
    ("a & b"), holding the members all of them hold."""
    strata, observations = {}, {}
    everyone = set().union(*members.values()) if members else set()
    for stratifier in group.stratifiers:
        chosen = {"": everyone}
        for expression in stratifier.expressions:
            part = _stratum_members(evaluation.expression(definition.library, expression), group, definition,
                                    stratifier, everyone)
            chosen = {f"{key} & {more}" if key else more: inside & within
                      for key, inside in chosen.items() for more, within in part.items()}
        chosen = {stratum: inside for stratum, inside in chosen.items() if everyone & inside}
        strata[stratifier.key] = {
            stratum: {**{code: len(keys & inside) for code, keys in members.items()},
                      **memberships({code: keys & inside for code, keys in members.items()})}
            for stratum, inside in chosen.items()}
        observations[stratifier.key] = {
            stratum: {code: [value for key, value in sorted(by_member.items()) if key in inside]
                      for code, by_member in observed_by_member.items()}
            for stratum, inside in chosen.items()} if observed_by_member else {}
    return strata, observations


def _stratum_members(value, group: Group, definition: MeasureDefinition, stratifier: Stratifier,
                     everyone: set) -> dict[str, set]:
    """One stratifier expression's strata: stratum key -> the members in it."""
    episodes = isinstance(value, list) and all(isinstance(v, Node) and isinstance(v.value, dict) for v in value)
    if group.basis != "boolean" and episodes:
        return {"true": set(_members(value, group, definition, stratifier.label))}
    return {key: everyone for key in value_keys(value)}


def populations(values: dict[str, set], scoring: str) -> dict[str, set]:
    """Each population within the one that contains it (see the module docstring)."""
    members = {}
    for code in ("initial-population", "denominator", "measure-population"):
        if code in values:
            members[code] = values[code] & members.get(WITHIN.get(code), values[code])
    for code in ("denominator-exclusion", "measure-population-exclusion"):
        if code in values:
            members[code] = values[code] & members.get(WITHIN[code], set())
    initial = members.get("initial-population", set())
    included = members.get("denominator", set()) - members.get("denominator-exclusion", set())
    if "numerator" in values:
        members["numerator"] = values["numerator"] & (initial if scoring == "ratio" else included)
    if "numerator-exclusion" in values:
        within = initial if scoring == "ratio" else members.get("numerator", set())
        members["numerator-exclusion"] = values["numerator-exclusion"] & within
    if "denominator-exception" in values:
        members["denominator-exception"] = values["denominator-exception"] & (included - members.get("numerator", set()))
    return members


def memberships(members: dict[str, set]) -> dict[str, int]:
    """What the measure score counts (cqfmeasures IG, "Numerator Membership" and "Denominator
    Membership"): the numerator less its exclusions, and the denominator less its exclusions
    and the exceptions that did not meet the numerator. Kept beside the population counts as
    "numerator-membership" and "denominator-membership", since with a ratio measure's numerator
    exclusions (not within the numerator) counts alone cannot give them."""
    numerator, denominator = membership_sets(members)
    return {"numerator-membership": len(numerator), "denominator-membership": len(denominator)}


def membership_sets(members: dict[str, set]) -> tuple[set, set]:
    """The members `memberships` counts: (numerator membership, denominator membership)."""
    numerator = members.get("numerator", set())
    denominator = (members.get("denominator", set()) - members.get("denominator-exclusion", set())
                   - (members.get("denominator-exception", set()) - numerator))
    return numerator - members.get("numerator-exclusion", set()), denominator
