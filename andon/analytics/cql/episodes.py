"""A subject's result as cases: one row per member of the measure's first group, with the
numerator and denominator it adds to the score, so that cases can be counted by period, unit
and stratum elsewhere (andon/analytics/kpi).

- Episode basis: one case per initial-population episode (`Encounter/…`); boolean basis: one
  case per subject in the initial population.
- Proportion and ratio: the case's numerator and denominator memberships (cqfmeasures IG:
  exclusions removed, exceptions that did not meet the numerator removed), 1 or 0. A ratio
  whose numerator and denominator are observed (CMS871: days) counts the observed values.
- Cohort (initial population only): numerator and denominator 1 per case.
- Continuous variable: the measure observation as the case's value.
"""

from __future__ import annotations

from dataclasses import dataclass

from .measure import Group, GroupResult, MeasureDefinition, SubjectResult, membership_sets
from .strata import observed


@dataclass(frozen=True)
class Case:
    patient_id: str
    episode: str | None  # "Encounter/123"; None for a boolean basis
    numerator: float
    denominator: float
    value: float | None = None


def _sets(group: Group, result: GroupResult) -> dict[str, set]:
    if group.basis == "boolean":
        return {code: ({"subject"} if count else set()) for code, count in result.counts.items()}
    return {code: set(keys) for code, keys in result.members.items()}


def _observed_values(group: Group, result: GroupResult, members: dict[str, set]) -> dict[str, dict[str, float]]:
    """observation code -> member -> its value (values are listed in the members' sorted order)."""
    found = {}
    for observation in group.observations:
        keys = sorted(observed(members, observation.observes))
        values = result.observations.get(observation.code, [])
        found[observation.code] = {key: None if value is None else float(value)
                                   for key, value in zip(keys, values, strict=True)}
    return found


def cases(definition: MeasureDefinition, result: SubjectResult) -> list[Case]:
    group, group_result = definition.groups[0], result.groups[0]
    members = _sets(group, group_result)
    initial = members.get("initial-population", set())
    numerators, denominators = membership_sets(members)
    observed_values = _observed_values(group, group_result, members)
    patient = result.subject or ""
    found = []
    for key in sorted(initial):
        episode = None if key == "subject" else key
        if group.scoring == "cohort" or "denominator" not in group.criteria and "measure-population" not in group.criteria:
            found.append(Case(patient, episode, 1.0, 1.0))
        elif group.scoring == "continuous-variable":
            value = observed_values.get("measure-observation", {}).get(key)
            found.append(Case(patient, episode, 0.0, 1.0 if value is not None else 0.0, value))
        elif "numerator-observation" in observed_values and "denominator-observation" in observed_values:
            found.append(Case(patient, episode, observed_values["numerator-observation"].get(key) or 0.0,
                              observed_values["denominator-observation"].get(key) or 0.0))
        else:
            found.append(Case(patient, episode, float(key in numerators), float(key in denominators)))
    return found

