"""What a measure reports beside its population counts: measure observations, stratifiers and
supplemental data (cqfmeasures IG, "Measure Observations", "Stratifiers", "Supplemental Data
Elements"; DEQM for how they appear in MeasureReports).

- A **measure observation** is a function of the measure's library applied to each member of
  the population it refers to (`cqfm-criteriaReference`), less that population's exclusions:
  an Encounter for an episode-based measure, nothing for a patient-based one. Its values are
  aggregated by the `cqfm-aggregateMethod` (Sum, Count, Average, Median, Min, Max; the guide's
  codes sum … minimum, maximum too, in a valueCode or a valueString), for a subject and again
  over all subjects.
- A **stratifier** is a definition whose value puts a subject, or a subject's episodes, in a
  stratum: a list of the measure's episode type names the episodes of the stratum `true`; any
  other value (a code, a Boolean, an age band) names the stratum of all the subject's members.
  A stratifier of components has a stratum per combination of theirs ("F & 18-64"). A
  stratum's score comes from its own members: their counts, and the observations made of them.
- A **supplemental data element** is a definition whose value describes the subject (sex,
  race, ethnicity, payer); summary reports count subjects per value.

Stratum and supplemental values become short text keys (`value_keys`): a Code or Concept by
its codes (`system|code`), a Tuple by its `code`/`codes` element, a list by each item.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from .fhir_model import Node
from .quantity import Quantity
from .values import Code, Concept

AGGREGATES = ("Sum", "Count", "Average", "Median", "Min", "Max")
# the aggregate method as Measures write it, in any case: the guide's codes (cqfm aggregate-method
# code system: sum, count, average, median, minimum, maximum) and the short names MADiE and
# this engine use (Min, Max)
_METHOD_NAMES = {**{name.lower(): name for name in AGGREGATES}, "minimum": "Min", "maximum": "Max"}
EXCLUSION_OF = {"denominator": "denominator-exclusion", "numerator": "numerator-exclusion",
                "measure-population": "measure-population-exclusion"}


@dataclass
class Observation:
    function: str  # a function of the measure's library
    observes: str  # the population code it observes
    aggregate: str  # one of AGGREGATES

    @property
    def code(self) -> str:
        """How test reports name it: denominator-observation, numerator-observation, or
        measure-observation (continuous variable)."""
        return f"{self.observes}-observation" if self.observes in ("denominator", "numerator") else "measure-observation"


@dataclass
class Stratifier:
    key: str  # the stratifier's id, or its position
    label: str  # its code's text, else its definitions' names
    expressions: list[str]  # its criteria, or its components' criteria
    components: list[str] = field(default_factory=list)  # each component's code text (else its definition)


def aggregate_method(written: str) -> str | None:
    """One of AGGREGATES for a method as a Measure writes it (`median`, `Median`, `minimum`), or
    None if it names no method."""
    return _METHOD_NAMES.get(written.strip().lower())


def observed(members: dict[str, set], observes: str) -> set:
    """The members an observation is made of: the population less its exclusions."""
    return members.get(observes, set()) - members.get(EXCLUSION_OF.get(observes, ""), set())


def number(value):
    """An observation's value as a number (a Quantity by its value), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Quantity):
        return value.value
    if isinstance(value, (int, Decimal)):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    return None


def aggregate(method: str, values: list):
    """Aggregate observed numbers; None when there are none (Count: 0)."""
    numbers = [v for v in values if v is not None]
    if method == "Count":
        return len(numbers)
    if not numbers:
        return None
    if method == "Sum":
        return sum(numbers)
    if method == "Average":
        return Decimal(sum(numbers)) / len(numbers)
    if method == "Median":
        return statistics.median(sorted(Decimal(n) for n in numbers))
    if method == "Min":
        return min(numbers)
    if method == "Max":
        return max(numbers)
    raise ValueError(f"unknown aggregate method {method!r} (expected one of {', '.join(AGGREGATES)})")


def value_keys(value) -> list[str]:
    """A stratum's or supplemental value's keys, as short text (see the module docstring)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [key for item in value for key in value_keys(item)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, Code):
        return [f"{value.system}|{value.code}" if value.system else str(value.code)]
    if isinstance(value, Concept):
        return [key for code in value.codes for key in value_keys(code)]
    if isinstance(value, dict):  # a Tuple
        for element in ("code", "codes"):
            if element in value:
                return value_keys(value[element])
        return [str(value)]
    if isinstance(value, Node):
        return _node_keys(value)
    return [str(value)]


def _node_keys(node: Node) -> list[str]:
    data = node.value
    if not isinstance(data, dict):
        return value_keys(data)
    if node.fhir_type == "Coding":
        return [f"{data['system']}|{data.get('code')}" if data.get("system") else str(data.get("code"))]
    if node.fhir_type == "CodeableConcept":
        return [f"{c['system']}|{c.get('code')}" if c.get("system") else str(c.get("code")) for c in data.get("coding", [])]
    return [f"{node.fhir_type}/{data.get('id')}"]
