"""Quantities whose system misspells UCUM's, read as UCUM only when asked, and counted.

Published FHIRHelpers (4.4.000, `ToQuantity` and `ToQuantityIgnoringComparator`) turns a FHIR
Quantity into a CQL Quantity only when its system is UCUM's (`http://unitsofmeasure.org`), the
calendar units' or none; any other system is an Error Message ('Invalid FHIR Quantity code: …'),
so the patient's evaluation fails. The engine does that by default: it evaluates the published
ELM as it is.

Real EHR data (and some of CMS's own test cases) carries two misspellings, `http://ucum.org`
and `https://ucum.org`. With `accept_ucum_misspellings`, a quantity with one of them is handed
to those two functions with UCUM's system in its place, and counted once per quantity: the run's
report says how many there were and in which resources the first ones are, so that reading them
as UCUM is never silent. Only the conversion sees the correction; the data itself is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .fhir_model import Node

UCUM = "http://unitsofmeasure.org"
MISSPELLINGS = frozenset({"http://ucum.org", "https://ucum.org"})
# the FHIRHelpers functions that read a FHIR Quantity's system (the others reach it through them)
_CONVERSIONS = frozenset({"ToQuantity", "ToQuantityIgnoringComparator"})
RESOURCES_NAMED = 5  # resources a warning names: enough to find the feed, short enough to read
ACCEPTED_URL = "https://andon.dev/fhir/ucum-misspellings-accepted"


@dataclass
class Accepted:
    """Quantities read as UCUM though their system misspells it: how many, and the resources
    holding the first ones (`Observation/o1`). Adds up across patients and worker processes."""

    count: int = 0
    resources: list[str] = field(default_factory=list)

    def add(self, resources: list[str]) -> None:
        """One entry per accepted quantity (a resource holding two appears twice)."""
        self.count += len(resources)
        self._name(resources)

    def merge(self, other: Accepted) -> None:
        self.count += other.count
        self._name(other.resources)

    def _name(self, resources: list[str]) -> None:
        for resource in resources:
            if len(self.resources) >= RESOURCES_NAMED:
                return
            if resource not in self.resources:
                self.resources.append(resource)

    def warning(self) -> str | None:
        """The run's warning in words, or None when no quantity was accepted so."""
        if not self.count:
            return None
        noun = "quantity" if self.count == 1 else "quantities"
        return (f"{self.count} {noun} with system {' or '.join(sorted(MISSPELLINGS))} read as UCUM ({UCUM}), "
                f"which published FHIRHelpers rejects; first in {', '.join(self.resources)}")


class Corrector:
    """One patient's evaluation: FHIRHelpers conversions given UCUM's system in place of a
    misspelling, each quantity remembered once however often the logic converts it."""

    def __init__(self, resources_by_type: dict[str, list[Node]]):
        self._resources_by_type = resources_by_type
        self._accepted: dict[int, str] = {}  # id of the quantity's JSON -> the resource holding it
        self._holders: dict[int, str] | None = None

    def arguments(self, library: str, function: str, arguments: list) -> list:
        """`arguments` as FHIRHelpers' conversion `function` should see them."""
        if library != "FHIRHelpers" or function not in _CONVERSIONS or len(arguments) != 1:
            return arguments
        quantity = arguments[0]
        if not (isinstance(quantity, Node) and isinstance(quantity.value, dict)
                and quantity.value.get("system") in MISSPELLINGS):
            return arguments
        self._remember(quantity.value)
        corrected = {**quantity.value, "system": UCUM}
        return [Node(corrected, quantity.fhir_type, quantity.path, quantity.extension)]

    def accepted(self) -> list[str]:
        """The resource of each quantity accepted so far, in the order first met."""
        return list(self._accepted.values())

    def _remember(self, quantity: dict) -> None:
        # the patient's JSON lives as long as the evaluation, so its identity names the quantity
        if id(quantity) not in self._accepted:
            self._accepted[id(quantity)] = self._holder_of(quantity)

    def _holder_of(self, quantity: dict) -> str:
        if self._holders is None:  # found once per patient, and only for a patient with a misspelling
            self._holders = {}
            for nodes in self._resources_by_type.values():
                for node in nodes:
                    reference = f"{node.fhir_type}/{node.value.get('id')}"
                    for found in _misspelled_in(node.value):
                        self._holders.setdefault(id(found), reference)
        return self._holders.get(id(quantity), "an unknown resource")


def _misspelled_in(value):
    """Every JSON object within `value` whose system is a misspelling of UCUM's."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("system") in MISSPELLINGS:
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
