"""CQL system values that are not temporal, quantities or intervals: codes, concepts, value
sets, and the type names the ELM uses for every kind of value.

Values in the engine are plain Python where CQL's type maps one to one: null is None,
Boolean bool, Integer int, Decimal `decimal.Decimal`, String str, List list, Tuple dict
(str keys). FHIR data is `fhir_model.Node` (a resource, an element or a primitive with its
FHIR type), and lists of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SYSTEM = "{urn:hl7-org:elm-types:r1}"
FHIR = "{http://hl7.org/fhir}"


@dataclass(frozen=True, slots=True)
class Code:
    """CQL `Code`: equal when every element is; equivalent on code and system alone (§9.4)."""

    code: str | None
    system: str | None = None
    version: str | None = None
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Concept:
    codes: tuple[Code, ...]
    display: str | None = None


@dataclass(frozen=True, slots=True)
class Ratio:
    """CQL `Ratio`: two quantities (§2.10), compared as written, never reduced."""

    numerator: object
    denominator: object


@dataclass(frozen=True, slots=True)
class ValueSet:
    """A value set by its canonical URL, with the (system, code) pairs of its expansion; a
    value set the content does not hold has `codes` None, and testing membership in it is an
    error rather than a silent "no"."""

    id: str
    version: str | None = None
    codes: frozenset | None = None

    def contains(self, code: Code) -> bool | None:
        if code is None or code.code is None:
            return None
        if self.codes is None:
            raise LookupError(f"value set {self.id} has no expansion in the content given")
        return (code.system, code.code) in self.codes


def system_type(name: str) -> str | None:
    """`{urn:hl7-org:elm-types:r1}DateTime` → `DateTime`; None for another namespace."""
    return name[len(SYSTEM):] if name.startswith(SYSTEM) else None


def fhir_type(name: str) -> str | None:
    """`{http://hl7.org/fhir}Period` → `Period`; None for another namespace."""
    return name[len(FHIR):] if name.startswith(FHIR) else None


def as_decimal(value) -> Decimal:
    """A JSON number as a Decimal without binary rounding (0.1 stays 0.1)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))
