"""CQL Quantity runtime type with a small, explicit UCUM conversion table.

CQL 1.5, Appendix B §1.8 (Quantity) and Author's Guide §2.7 (Quantities): a quantity
is a decimal value with a UCUM unit (or a CQL calendar-duration keyword). Quantities
with different but commensurable units are converted before comparison; comparing
incommensurable units is null.

Calendar durations (CQL §2.7.1 / Appendix B §1.8): ``year``/``month`` are calendar
units and are NOT comparable with the UCUM definite durations ``a``/``mo``; ``week``,
``day``, ``hour``, ``minute``, ``second`` and ``millisecond`` are treated as equal to
``wk``, ``d``, ``h``, ``min``, ``s`` and ``ms``. Between themselves, 1 year = 12 months.

Conversions are computed with exact rationals (`fractions.Fraction`) so that, e.g.,
5 mg/dL and 0.05 g/L compare equal without decimal rounding noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from functools import lru_cache

Number = int | Decimal | float

UNITLESS = "1"
# CQL Decimal has 8 digits after the point (App. B §1.5)
DECIMAL_STEP = Decimal("0.00000001")

# Calendar keywords (singular and plural) -> canonical singular.
CALENDAR_UNITS = {
    **{
        name: name
        for name in (
            "year",
            "month",
            "week",
            "day",
            "hour",
            "minute",
            "second",
            "millisecond",
        )
    },
    **{
        name + "s": name
        for name in (
            "year",
            "month",
            "week",
            "day",
            "hour",
            "minute",
            "second",
            "millisecond",
        )
    },
}
# The UCUM spelling used when a calendar unit takes part in unit algebra (* and /).
CALENDAR_TO_UCUM = {
    "year": "a",
    "month": "mo",
    "week": "wk",
    "day": "d",
    "hour": "h",
    "minute": "min",
    "second": "s",
    "millisecond": "ms",
}
# Calendar year/month live in their own dimension so they never meet 'a'/'mo' or days.
_CALENDAR_MONTH_DIM = "calendar-month"
_CALENDAR_FACTORS = {
    "year": (Fraction(12), {_CALENDAR_MONTH_DIM: 1}),
    "month": (Fraction(1), {_CALENDAR_MONTH_DIM: 1}),
    "week": (Fraction(604800), {"s": 1}),
    "day": (Fraction(86400), {"s": 1}),
    "hour": (Fraction(3600), {"s": 1}),
    "minute": (Fraction(60), {"s": 1}),
    "second": (Fraction(1), {"s": 1}),
    "millisecond": (Fraction(1, 1000), {"s": 1}),
}

_PRESSURE = {"g": 1, "m": -1, "s": -2}
# UCUM atoms: symbol -> (factor to base units, base dimensions, accepts metric prefixes).
# Only what CMS eCQM content needs; extend deliberately rather than guess.
_ATOMS: dict[str, tuple[Fraction, dict[str, int], bool]] = {
    "g": (Fraction(1), {"g": 1}, True),
    "m": (Fraction(1), {"m": 1}, True),
    "s": (Fraction(1), {"s": 1}, True),
    "K": (Fraction(1), {"K": 1}, True),
    "mol": (Fraction(1), {"mol": 1}, True),
    "eq": (Fraction(1), {"mol": 1}, True),  # UCUM: 1 eq = 1 mol
    "L": (Fraction(1, 1000), {"m": 3}, True),
    "l": (Fraction(1, 1000), {"m": 3}, True),
    "Pa": (Fraction(1000), _PRESSURE, True),  # kg/(m.s2) expressed in grams
    "m[Hg]": (Fraction(133322000), _PRESSURE, True),  # 133.322 kPa
    "min": (Fraction(60), {"s": 1}, False),
    "h": (Fraction(3600), {"s": 1}, False),
    "d": (Fraction(86400), {"s": 1}, False),
    "wk": (Fraction(604800), {"s": 1}, False),
    "a": (Fraction(31557600), {"s": 1}, False),  # Julian year, 365.25 d
    "mo": (Fraction(2629800), {"s": 1}, False),  # a/12
    "[lb_av]": (Fraction("453.59237"), {"g": 1}, False),
    "[oz_av]": (Fraction("28.349523125"), {"g": 1}, False),
    "[in_i]": (Fraction("0.0254"), {"m": 1}, False),
    "[ft_i]": (Fraction("0.3048"), {"m": 1}, False),
    "%": (Fraction(1, 100), {}, False),
    "[iU]": (
        Fraction(1),
        {"[iU]": 1},
        True,
    ),  # arbitrary unit: commensurable only with itself
    "[IU]": (Fraction(1), {"[iU]": 1}, True),
    "U": (Fraction(1, 60_000_000), {"mol": 1, "s": -1}, True),  # umol/min
}
# Affine temperature units: base kelvin = (value + offset) * factor.
_AFFINE = {
    "Cel": (Fraction("273.15"), Fraction(1)),
    "[degF]": (Fraction("459.67"), Fraction(5, 9)),
}
_PREFIXES = {
    "da": Fraction(10),
    "Y": Fraction(10**24),
    "Z": Fraction(10**21),
    "E": Fraction(10**18),
    "P": Fraction(10**15),
    "T": Fraction(10**12),
    "G": Fraction(10**9),
    "M": Fraction(10**6),
    "k": Fraction(1000),
    "h": Fraction(100),
    "d": Fraction(1, 10),
    "c": Fraction(1, 100),
    "m": Fraction(1, 1000),
    "u": Fraction(1, 10**6),
    "n": Fraction(1, 10**9),
    "p": Fraction(1, 10**12),
    "f": Fraction(1, 10**15),
    "a": Fraction(1, 10**18),
}


@dataclass(frozen=True)
class _UnitDefinition:
    """A unit reduced to base dimensions; `offset` is set only for affine temperatures."""

    factor: Fraction
    dimensions: tuple[tuple[str, int], ...]
    offset: Fraction | None = None

    def to_base(self, value: Fraction) -> Fraction:
        return (value + (self.offset or 0)) * self.factor

    def from_base(self, value: Fraction) -> Fraction:
        return value / self.factor - (self.offset or 0)


def _freeze(dimensions: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((dim, exp) for dim, exp in dimensions.items() if exp != 0))


class _UcumParser:
    """Recursive-descent parser for the UCUM subset: products '.', quotients '/',
    leading '/', parentheses, integer exponents, metric prefixes, 10*n factors and
    {annotations} (which UCUM defines as the unity)."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def parse(self) -> tuple[Fraction, dict[str, int], str | None]:
        factor, dims, affine = self._term()
        if self.pos != len(self.text):
            raise ValueError(f"unknown UCUM unit {self.text!r}")
        return factor, dims, affine

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _term(self):
        if self._peek() == "/":
            self.pos += 1
            factor, dims, affine = _power(self._component(), -1)
        else:
            factor, dims, affine = self._component()
        while self._peek() in (".", "/") and self._peek():
            operator = self._peek()
            self.pos += 1
            other = self._component()
            if operator == "/":
                other = _power(other, -1)
            factor, dims, affine = _multiply_units((factor, dims, affine), other)
        return factor, dims, affine

    def _component(self):
        if self._peek() == "(":
            self.pos += 1
            result = self._term()
            if self._peek() != ")":
                raise ValueError(f"unknown UCUM unit {self.text!r}")
            self.pos += 1
            return result
        if self._peek() == "{":
            self._skip_annotation()
            return Fraction(1), {}, None
        token = self._read_token()
        if self._peek() == "{":  # e.g. mL{rbc}: the annotation does not change the unit
            self._skip_annotation()
        return _parse_simple(token, self.text)

    def _skip_annotation(self) -> None:
        end = self.text.find("}", self.pos)
        if end < 0:
            raise ValueError(f"unknown UCUM unit {self.text!r}")
        self.pos = end + 1

    def _read_token(self) -> str:
        start = self.pos
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "[":
                end = self.text.find("]", self.pos)
                if end < 0:
                    raise ValueError(f"unknown UCUM unit {self.text!r}")
                self.pos = end + 1
            elif char in "./(){}":
                break
            else:
                self.pos += 1
        if self.pos == start:
            raise ValueError(f"unknown UCUM unit {self.text!r}")
        return self.text[start : self.pos]


def _power(unit, exponent: int):
    factor, dims, affine = unit
    if affine is not None:
        raise ValueError(
            f"UCUM unit {affine!r} cannot be raised to a power or divided by"
        )
    return factor**exponent, {dim: exp * exponent for dim, exp in dims.items()}, None


def _multiply_units(left, right):
    if left[2] is not None or right[2] is not None:
        raise ValueError(
            f"UCUM unit {left[2] or right[2]!r} cannot be combined with other units"
        )
    dims = dict(left[1])
    for dim, exp in right[1].items():
        dims[dim] = dims.get(dim, 0) + exp
    return left[0] * right[0], dims, None


_EXPONENT = re.compile(r"^(.*?[^\d+-])([+-]?\d+)\Z")
_POWER_OF_TEN = re.compile(r"^10[*^]([+-]?\d+)\Z")
# Units come from the data (Quantity.code): a unit's text and exponents are bounded before any
# arithmetic (10*999999999 would be a number of a billion digits; each parenthesis a frame).
MAX_UNIT_CHARS = 200
MAX_EXPONENT = 99


def _exponent(text: str, whole: str) -> int:
    if len(text.lstrip("+-")) > 2:
        raise ValueError(f"UCUM unit {whole[:80]!r}: the exponent {text} is out of range (at most {MAX_EXPONENT})")
    return int(text)


def _parse_simple(token: str, whole: str):
    if token.isdigit():
        if len(token) > 30:
            raise ValueError(f"UCUM unit {whole[:80]!r}: the factor {token[:10]}… is out of range")
        return Fraction(int(token)), {}, None
    ten = _POWER_OF_TEN.match(token)
    if ten:
        return Fraction(10) ** _exponent(ten.group(1), whole), {}, None
    match = _EXPONENT.match(token)
    symbol, exponent = (match.group(1), _exponent(match.group(2), whole)) if match else (token, 1)
    if symbol in _AFFINE:
        if exponent != 1:
            raise ValueError(f"UCUM unit {symbol!r} cannot be raised to a power")
        return Fraction(1), {"K": 1}, symbol
    factor, dims = _atom(symbol, whole)
    return (
        _power((factor, dims, None), exponent)
        if exponent != 1
        else (factor, dict(dims), None)
    )


def _atom(symbol: str, whole: str) -> tuple[Fraction, dict[str, int]]:
    if symbol in _ATOMS:
        factor, dims, _ = _ATOMS[symbol]
        return factor, dims
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        rest = symbol[len(prefix) :]
        if symbol.startswith(prefix) and rest in _ATOMS and _ATOMS[rest][2]:
            factor, dims, _ = _ATOMS[rest]
            return _PREFIXES[prefix] * factor, dims
    raise ValueError(
        f"unknown UCUM unit {whole!r} (no conversion known for {symbol!r})"
    )


@lru_cache(maxsize=512)
def unit_definition(unit: str) -> _UnitDefinition:
    """Reduce a unit string (UCUM or CQL calendar keyword) to base dimensions.

    Raises ValueError naming the unit when it is not in the conversion table."""
    if unit in CALENDAR_UNITS:
        factor, dims = _CALENDAR_FACTORS[CALENDAR_UNITS[unit]]
        return _UnitDefinition(factor, _freeze(dims))
    if unit in ("", UNITLESS):
        return _UnitDefinition(Fraction(1), ())
    if len(unit) > MAX_UNIT_CHARS:
        raise ValueError(f"UCUM unit {unit[:80]!r}…: {len(unit)} characters (at most {MAX_UNIT_CHARS})")
    factor, dims, affine = _UcumParser(unit).parse()
    if affine is not None:
        offset, affine_factor = _AFFINE[affine]
        return _UnitDefinition(affine_factor, _freeze(dims), offset)
    return _UnitDefinition(factor, _freeze(dims))


def _same_unit(left: str, right: str) -> bool:
    """Identical spellings (or calendar singular/plural) need no conversion table."""
    return CALENDAR_UNITS.get(left, left) == CALENDAR_UNITS.get(right, right)


def _to_decimal(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = 34
        return Decimal(value.numerator) / Decimal(value.denominator)


def _as_decimal(value: Number) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest repr, not the binary expansion
    return Decimal(value)


def _sign(number) -> int:
    return (number > 0) - (number < 0)


@dataclass(frozen=True)
class Quantity:
    """CQL System.Quantity (Appendix B §1.8): a Decimal value and a UCUM unit, '1' if none."""

    value: Decimal
    unit: str = UNITLESS

    def __post_init__(self):
        object.__setattr__(self, "value", _as_decimal(self.value))
        object.__setattr__(self, "unit", self.unit or UNITLESS)

    # --- conversion -------------------------------------------------------------
    def base_value(self) -> tuple[Fraction, tuple[tuple[str, int], ...]]:
        """The value in base units (g, m, s, K, mol, ...) and its dimensions."""
        definition = unit_definition(self.unit)
        return definition.to_base(Fraction(self.value)), definition.dimensions

    def convert(self, unit: str) -> Quantity | None:
        """ConvertQuantity (App. B §1.8 / ELM ConvertQuantity): null when incommensurable;
        ValueError when a unit is not in the table."""
        if _same_unit(self.unit, unit):
            return Quantity(self.value, unit)
        base, dims = self.base_value()
        target = unit_definition(unit)
        if dims != target.dimensions:
            return None
        return Quantity(_to_decimal(target.from_base(base)), unit)

    def can_convert(self, unit: str) -> bool:
        try:
            return self.convert(unit) is not None
        except ValueError:
            return False

    # --- comparison -------------------------------------------------------------
    def compare(self, other: Quantity | None, precision: object = None) -> int | None:
        """-1/0/1, or None (CQL null) when other is null or the units are incommensurable.
        `precision` is accepted for the interval comparison protocol and ignored."""
        if other is None:
            return None
        if _same_unit(self.unit, other.unit):
            return _sign(self.value - other.value)
        mine, my_dims = self.base_value()
        theirs, their_dims = other.base_value()
        if my_dims != their_dims:
            return None
        return _sign(mine - theirs)

    def successor(self) -> Quantity:
        return Quantity(self.value + DECIMAL_STEP, self.unit)

    def predecessor(self) -> Quantity:
        return Quantity(self.value - DECIMAL_STEP, self.unit)

    # --- arithmetic (App. B §4: Add, Subtract, Multiply, Divide) ----------------
    def add(self, other: Quantity) -> Quantity | None:
        converted = other.convert(self.unit)
        return (
            None
            if converted is None
            else Quantity(self.value + converted.value, self.unit)
        )

    def subtract(self, other: Quantity) -> Quantity | None:
        converted = other.convert(self.unit)
        return (
            None
            if converted is None
            else Quantity(self.value - converted.value, self.unit)
        )

    def multiply(self, other: Quantity | Number) -> Quantity:
        if not isinstance(other, Quantity):
            return Quantity(self.value * _as_decimal(other), self.unit)
        return Quantity(
            self.value * other.value, multiply_unit_strings(self.unit, other.unit)
        )

    def divide(self, other: Quantity | Number) -> Quantity | None:
        """Division by zero is null in CQL (App. B §4.5), not an error."""
        divisor = other.value if isinstance(other, Quantity) else _as_decimal(other)
        if divisor == 0:
            return None
        unit = (
            divide_unit_strings(self.unit, other.unit)
            if isinstance(other, Quantity)
            else self.unit
        )
        return Quantity(self.value / divisor, unit)

    __add__ = add
    __sub__ = subtract
    __mul__ = multiply
    __rmul__ = multiply
    __truediv__ = divide

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.unit)

    def __str__(self) -> str:
        return f"{self.value} '{self.unit}'"


def _algebra_unit(unit: str) -> str:
    return CALENDAR_TO_UCUM.get(CALENDAR_UNITS.get(unit, ""), unit)


def _wrap(unit: str) -> str:
    # UCUM '.' and '/' are left-associative, so a compound right operand needs parentheses.
    return f"({unit})" if any(op in unit for op in "./") else unit


def multiply_unit_strings(left: str, right: str) -> str:
    left, right = _algebra_unit(left), _algebra_unit(right)
    if left == UNITLESS:
        return right
    if right == UNITLESS:
        return left
    return f"{left}.{_wrap(right)}"


def divide_unit_strings(left: str, right: str) -> str:
    if _same_unit(left, right):
        return UNITLESS
    left, right = _algebra_unit(left), _algebra_unit(right)
    if right == UNITLESS:
        return left
    return f"{'' if left == UNITLESS else left}/{_wrap(right)}"


# --- CQL Equal / Equivalent (App. B §2.3, §2.5) ----------------------------------


def compare(left: Quantity | None, right: Quantity | None) -> int | None:
    if left is None or right is None:
        return None
    return left.compare(right)


def equal(left: Quantity | None, right: Quantity | None) -> bool | None:
    """CQL Equal (=): null if either is null or the units are incommensurable."""
    result = compare(left, right)
    return None if result is None else result == 0


def _scale(value: Decimal) -> int:
    """Digits after the point, trailing zeros ignored (CQL: they do not count for ~)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def equivalent(left: Quantity | None, right: Quantity | None) -> bool:
    """CQL Equivalent (~), App. B §2.5: never null. Both null is true; incommensurable
    is false; otherwise right is converted to left's unit and both values are compared
    after rounding to the precision of the less precise one."""
    if left is None or right is None:
        return left is None and right is None
    converted = right.convert(left.unit)
    if converted is None:
        return False
    places = min(_scale(left.value), _scale(converted.value))
    quantum = Decimal(1).scaleb(-places)
    with localcontext() as context:
        context.prec = 60
        return left.value.quantize(quantum, ROUND_HALF_UP) == converted.value.quantize(
            quantum, ROUND_HALF_UP
        )
