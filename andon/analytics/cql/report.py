"""MeasureReports (DEQM style): a subject's (`individual_report`), and what subjects' results
add up to (`summary_report`).

`Totals` sums subjects' results (in a worker, then across workers): population counts and
score memberships per group, every observed value, counts per stratum, and subjects per
supplemental data value. `summary_report` turns them into a FHIR MeasureReport:

- each group's populations with their counts, and its measure score: numerator membership ÷
  denominator membership for proportion and ratio measures; for a ratio measure with
  numerator and denominator observations, their aggregates' quotient; for a continuous-variable
  measure, the aggregate of its observations;
- each observation's aggregate and number of values, as an extension of the group;
- each stratifier's strata with their counts and scores, a stratum's score from its own
  members (and their observations); a stratum of components with each component's value;
- supplemental data as contained Observations, one per element and value, with the number of
  subjects (DEQM's summary representation), referenced from the report's extensions.

An individual report has the same parts for one subject: its counts, its observations, the
strata it is in, its supplemental data values, and the resources its populations hold as
`evaluatedResource`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from .measure import POPULATION_SYSTEM, GroupResult, MeasureDefinition, SubjectResult
from .strata import aggregate
from .ucum_spelling import ACCEPTED_URL, Accepted

OBSERVATION_EXTENSION = "https://andon.dev/fhir/measure-observation"
SUPPLEMENTAL_EXTENSION = "http://hl7.org/fhir/us/davinci-deqm/StructureDefinition/extension-supplementalData"
CRITERIA_REFERENCE = "http://hl7.org/fhir/us/davinci-deqm/StructureDefinition/extension-criteriaReference"
WARNINGS_EXTENSION = "https://andon.dev/fhir/evaluation-warnings"


@dataclass
class GroupTotals:
    counts: Counter = field(default_factory=Counter)  # populations and memberships
    observations: dict[str, list] = field(default_factory=dict)  # observation code -> every value
    strata: dict[str, dict[str, Counter]] = field(default_factory=dict)  # stratifier -> stratum -> counts
    # stratifier -> stratum -> observation code -> every value of the stratum's members
    strata_observations: dict[str, dict[str, dict[str, list]]] = field(default_factory=dict)

    def add(self, result: GroupResult) -> None:
        self.counts.update(result.counts)
        self.counts.update(result.memberships)
        self._absorb(result.observations, result.strata, result.strata_observations)

    def merge(self, other: GroupTotals) -> None:
        self.counts.update(other.counts)
        self._absorb(other.observations, other.strata, other.strata_observations)

    def _absorb(self, observations: dict[str, list], strata: dict, strata_observations: dict) -> None:
        _extend(self.observations, observations)
        for key, by_stratum in strata.items():
            for stratum, counts in by_stratum.items():
                self.strata.setdefault(key, {}).setdefault(stratum, Counter()).update(counts)
        for key, by_stratum in strata_observations.items():
            for stratum, values in by_stratum.items():
                _extend(self.strata_observations.setdefault(key, {}).setdefault(stratum, {}), values)


def _extend(lists: dict[str, list], more: dict[str, list]) -> None:
    for code, values in more.items():
        lists.setdefault(code, []).extend(values)


@dataclass
class Totals:
    groups: list[GroupTotals]
    supplemental: dict[str, Counter] = field(default_factory=dict)  # element id -> value key -> subjects

    @classmethod
    def of(cls, definition: MeasureDefinition) -> Totals:
        return cls([GroupTotals() for _ in definition.groups])

    def add(self, result: SubjectResult) -> None:
        for total, group in zip(self.groups, result.groups, strict=True):
            total.add(group)
        for key, values in result.supplemental.items():
            self.supplemental.setdefault(key, Counter()).update(set(values))

    def merge(self, other: Totals) -> None:
        for total, more in zip(self.groups, other.groups, strict=True):
            total.merge(more)
        for key, counts in other.supplemental.items():
            self.supplemental.setdefault(key, Counter()).update(counts)


def measure_score(counts: Counter, scoring: str, observations: dict | None = None, group=None):
    """The group's score (see the module docstring); None when it has none or divides by 0."""
    observations = observations or {}
    observed = {o.code: aggregate(o.aggregate, observations.get(o.code, [])) for o in (group.observations if group else [])}
    if scoring == "continuous-variable":
        return observed.get("measure-observation")
    if scoring == "ratio" and "numerator-observation" in observed and "denominator-observation" in observed:
        numerator, denominator = observed["numerator-observation"], observed["denominator-observation"]
        return None if not denominator or numerator is None else Decimal(numerator) / Decimal(denominator)
    if scoring not in ("proportion", "ratio"):
        return None
    divisor = counts["denominator-membership"]
    return None if divisor <= 0 else Decimal(counts["numerator-membership"]) / Decimal(divisor)


def summary_report(definition: MeasureDefinition, totals: Totals, period, now: str, evaluated: int, errors,
                   accepted: Accepted | None = None) -> dict:
    """The summary MeasureReport (module docstring); `accepted`, the quantities read as UCUM
    though their system misspells it, is said as a warning that leaves the report complete."""
    groups = [_group(group, total) for group, total in zip(definition.groups, totals.groups, strict=True)]
    report = {
        "resourceType": "MeasureReport", "status": "complete", "type": "summary", "measure": definition.url,
        "date": now, "period": {"start": period[0], "end": period[1]}, "group": groups,
        "extension": [{"url": "https://andon.dev/fhir/patients-evaluated", "valueInteger": evaluated}],
    }
    contained = _supplemental(totals.supplemental)
    if contained:
        report["contained"] = contained
        report["extension"] += [{"url": SUPPLEMENTAL_EXTENSION, "valueReference": {"reference": f"#{o['id']}"}}
                                for o in contained]
    if errors:
        report["status"] = "error"
        report["extension"].append({"url": "https://andon.dev/fhir/evaluation-errors", "valueString": "\n".join(errors[:100])})
    if accepted is not None and accepted.count:
        report["extension"] += _accepted_ucum(accepted)
    return report


def _accepted_ucum(accepted: Accepted) -> list[dict]:
    """The warning in words, and its count and first resources for a program to read."""
    parts = [{"url": "count", "valueInteger": accepted.count}]
    parts += [{"url": "resource", "valueReference": {"reference": resource}} for resource in accepted.resources]
    return [{"url": WARNINGS_EXTENSION, "valueString": accepted.warning()},
            {"url": ACCEPTED_URL, "extension": parts}]


def _group(group, total: GroupTotals) -> dict:
    entry = {"id": group.key, "population": _populations(group, total.counts)}
    _score(entry, measure_score(total.counts, group.scoring, total.observations, group))
    if group.observations:
        entry["extension"] = [_observation(o, total.observations.get(o.code, [])) for o in group.observations]
    if group.stratifiers:
        entry["stratifier"] = _stratifiers(group, total.strata, total.strata_observations)
    return entry


def _stratifiers(group, strata: dict[str, dict], observations: dict[str, dict]) -> list[dict]:
    return [{"id": s.key, "code": [{"text": s.label}],
             "stratum": [_stratum(group, s, stratum, Counter(counts), observations.get(s.key, {}).get(stratum, {}))
                         for stratum, counts in sorted(strata.get(s.key, {}).items())]}
            for s in group.stratifiers]


def _populations(group, counts: Counter) -> list[dict]:
    return [{"code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}, "count": counts[code]} for code in group.criteria]


def _stratum(group, stratifier, stratum: str, counts: Counter, observations: dict[str, list]) -> dict:
    """A stratum with its counts and its own score (from its own observations, if the group has
    any). A stratum of components gives each component's value (DEQM), not one value."""
    values = stratum.split(" & ")
    if stratifier.components and len(values) == len(stratifier.components):
        entry = {"component": [{"code": {"text": label}, "value": {"text": value}}
                               for label, value in zip(stratifier.components, values, strict=True)]}
    else:  # one criteria, or component values that themselves hold " & ": the stratum's key whole
        entry = {"value": {"text": stratum}}
    entry["population"] = _populations(group, counts)
    _score(entry, measure_score(counts, group.scoring, observations, group))
    return entry


def _score(entry: dict, score) -> None:
    if score is not None:
        entry["measureScore"] = {"value": float(round(Decimal(score), 6))}


def _observation(observation, values: list) -> dict:
    value = aggregate(observation.aggregate, values)
    parts = [{"url": "code", "valueCode": observation.code}, {"url": "function", "valueString": observation.function},
             {"url": "aggregateMethod", "valueString": observation.aggregate},
             {"url": "count", "valueInteger": sum(v is not None for v in values)}]
    if value is not None:
        parts.append({"url": "value", "valueDecimal": float(value)})
    return {"url": OBSERVATION_EXTENSION, "extension": parts}


def _supplemental(supplemental: dict[str, Counter]) -> list[dict]:
    contained = []
    for key in sorted(supplemental):
        for value, subjects in sorted(supplemental[key].items()):
            system, _, code = value.rpartition("|")
            concept = {"coding": [{"system": system, "code": code}]} if system else {"text": value}
            contained.append({"resourceType": "Observation", "id": f"sde-{len(contained) + 1}", "status": "final",
                              "extension": [{"url": CRITERIA_REFERENCE, "valueString": key}],
                              "code": concept, "valueInteger": subjects})
    return contained


def individual_report(definition: MeasureDefinition, result: SubjectResult, period: tuple[str, str], now: str) -> dict:
    """One subject's MeasureReport (DEQM individual)."""
    groups = []
    for group, outcome in zip(definition.groups, result.groups, strict=True):
        entry = {"id": group.key, "population": _populations(group, Counter(outcome.counts))}
        if group.observations:
            entry["extension"] = [_observation(o, outcome.observations.get(o.code, [])) for o in group.observations]
        if group.stratifiers:
            entry["stratifier"] = _stratifiers(group, outcome.strata, outcome.strata_observations)
        groups.append(entry)
    report = {"resourceType": "MeasureReport", "status": "complete", "type": "individual", "measure": definition.url,
              "date": now, "period": {"start": period[0], "end": period[1]}, "group": groups}
    if result.subject:
        report["subject"] = {"reference": f"Patient/{result.subject}"}
    contained = _supplemental({key: Counter(set(values)) for key, values in result.supplemental.items()})
    if contained:
        report["contained"] = contained
        report["extension"] = [{"url": SUPPLEMENTAL_EXTENSION, "valueReference": {"reference": f"#{o['id']}"}}
                               for o in contained]
    evaluated = sorted({key for outcome in result.groups for keys in outcome.members.values() for key in keys})
    if evaluated:
        report["evaluatedResource"] = [{"reference": key} for key in evaluated]
    return report
