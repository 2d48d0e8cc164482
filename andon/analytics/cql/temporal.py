"""CQL 1.5 temporal runtime types: `Date`, `DateTime`, `Time`, and the operators on them.

Follows the CQL 1.5 specification (cql.hl7.org):

- Values carry their own precision (section 2.2 "Date, DateTime, and Time Values"): a
  component is either known or absent, and every component after the first absent one is
  absent too.
- Comparison is component by component from the coarsest precision (Appendix B / section
  22.11 "Comparison Operators"): differing components decide; one value lacking a component
  the other has makes the result null (here `None`). Seconds and milliseconds are compared
  together as one decimal precision.
- Equivalence (`~`, section 22.9) is the same walk, but a precision mismatch gives `False`.
- DateTimes with time components are compared at the same timezone offset (UTC); a DateTime
  without an offset takes the evaluation's default offset (`default_offset`, hours).
- Arithmetic (section 22.22 "Date and Time Operators": Add, Subtract) is calendar arithmetic,
  clamping the day to the month's end; a quantity finer than the value's precision is first
  converted to the value's precision, truncating.
- `duration_between` counts whole periods, `difference_between` counts boundaries crossed
  (section 22.22 DurationBetween / DifferenceBetween, Appendix H); a value less precise than
  needed gives an `Uncertainty(low, high)` computed from its earliest and latest possible values.

Nothing here reads the clock: the evaluation's "now" is a value the caller passes
(`DateTime.from_python(...)` converts one).
"""

from __future__ import annotations

import calendar
import datetime as _py
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

PRECISIONS = ("year", "month", "week", "day", "hour", "minute", "second", "millisecond")
_DATE_FIELDS = ("year", "month", "day")
_TIME_FIELDS = ("hour", "minute", "second", "millisecond")
_DATETIME_FIELDS = _DATE_FIELDS + _TIME_FIELDS

# Plural forms and the UCUM codes of definite durations appear as units in ELM quantities.
_UNIT_ALIASES = {
    "years": "year", "months": "month", "weeks": "week", "days": "day", "hours": "hour",
    "minutes": "minute", "seconds": "second", "milliseconds": "millisecond",
    "wk": "week", "d": "day", "h": "hour", "min": "minute", "s": "second", "ms": "millisecond",
}
_MILLISECONDS = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000,
                 "day": 86_400_000}
# The spec gives no day length for a month or year when a finer quantity must be converted
# to a month or year precision value; these are the conventional 30 and 365 days.
_DAYS_IN = {"month": 30, "year": 365}
_LOW = {"month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "millisecond": 0}
_HIGH = {"month": 12, "hour": 23, "minute": 59, "second": 59, "millisecond": 999}


@dataclass(frozen=True)
class Uncertainty:
    """An integer known only to lie in [low, high] (CQL 1.5 section 22.22, DurationBetween:
    the result for values of insufficient precision)."""

    low: int
    high: int


# --- precision and validation ---------------------------------------------------------------


class _Temporal:
    _FIELDS: tuple[str, ...] = ()

    @property
    def precision(self) -> str:
        """The name of the finest known component."""
        known = [name for name in self._FIELDS if getattr(self, name) is not None]
        return known[-1]

    def _validate(self) -> None:
        seen_absent = False
        for name in self._FIELDS:
            value = getattr(self, name)
            if value is None:
                seen_absent = True
            elif seen_absent:
                raise ValueError(f"{type(self).__name__}: {name} given without a coarser component")
            elif not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{type(self).__name__}: {name} must be an int, got {value!r}")
        if getattr(self, self._FIELDS[0]) is None:
            raise ValueError(f"{type(self).__name__}: {self._FIELDS[0]} is required")
        _check_ranges(self)


def _check_ranges(value: _Temporal) -> None:
    limits = {"year": (1, 9999), "month": (1, 12), "hour": (0, 23), "minute": (0, 59),
              "second": (0, 59), "millisecond": (0, 999)}
    for name in value._FIELDS:
        component = getattr(value, name)
        if component is None:
            continue
        low, high = limits.get(name) or (1, calendar.monthrange(value.year, value.month)[1])
        if not low <= component <= high:
            raise ValueError(f"{type(value).__name__}: {name} {component} out of range {low}..{high}")


def _unit(name: str) -> str:
    """A precision name from a CQL unit: singular, plural or a definite-duration UCUM code."""
    unit = _UNIT_ALIASES.get(name, name) if isinstance(name, str) else name
    if unit not in PRECISIONS:
        raise ValueError(f"not a CQL temporal precision: {name!r}")
    return unit


def unit_precision(name: str) -> str:
    """The precision a CQL duration unit names (`days`, `d`, `week` → day, week, …)."""
    return _unit(name)


def _rank(precision: str) -> int:
    return _DATETIME_FIELDS.index(precision)


# --- the types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Date(_Temporal):
    """CQL Date (section 2.2): year, then optionally month and day."""

    year: int
    month: int | None = None
    day: int | None = None

    _FIELDS = _DATE_FIELDS

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def parse(cls, text: str) -> Date:
        """'2024', '2024-03', '2024-03-05' (an ELM literal's leading '@' is allowed)."""
        match = _DATE_PATTERN.fullmatch(_strip_at(text))
        if not match:
            raise ValueError(f"not a CQL Date: {text!r}")
        return _build(cls, text, _ints(match, _DATE_FIELDS))

    def __str__(self) -> str:
        return _date_text(self)


@dataclass(frozen=True)
class DateTime(_Temporal):
    """CQL DateTime (section 2.2): year to millisecond, each optional from month on, and a
    timezone offset in hours (a Decimal; None when the value has none, in which case the
    evaluation's default offset applies)."""

    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: int | None = None
    millisecond: int | None = None
    offset: Decimal | None = None

    _FIELDS = _DATETIME_FIELDS

    def __post_init__(self) -> None:
        if self.offset is not None:
            # Decimal from str keeps float offsets like 5.5 exact.
            object.__setattr__(self, "offset", Decimal(str(self.offset)))
            if not -14 <= self.offset <= 14:
                raise ValueError(f"DateTime: offset {self.offset} out of range -14..14")
        self._validate()

    @classmethod
    def parse(cls, text: str) -> DateTime:
        """FHIR dateTime / ISO 8601 at any precision: '2024', '2024-03-05T10',
        '2024-01-15T10:30:00.123-04:00', '...Z'; ELM's '@2024-03-05T' forms too."""
        match = _DATETIME_PATTERN.fullmatch(_strip_at(text))
        if not match:
            raise ValueError(f"not a CQL DateTime: {text!r}")
        fields = _ints(match, _DATETIME_FIELDS[:-1])
        fields["millisecond"] = _milliseconds(match["fraction"])
        fields["offset"] = _offset_hours(match["offset"])
        return _build(cls, text, fields)

    @classmethod
    def from_python(cls, moment: _py.datetime) -> DateTime:
        """A full-precision DateTime from a Python datetime (e.g. the evaluation's "now");
        an aware datetime keeps its UTC offset, a naive one has none."""
        delta = moment.utcoffset()
        offset = None if delta is None else Decimal(int(delta.total_seconds()) // 60) / 60
        return cls(moment.year, moment.month, moment.day, moment.hour, moment.minute,
                   moment.second, moment.microsecond // 1000, offset)

    def __str__(self) -> str:
        if self.hour is None:
            return _date_text(self)
        return f"{_date_text(self)}T{_time_text(self)}{_offset_text(self.offset)}"


@dataclass(frozen=True)
class Time(_Temporal):
    """CQL Time (section 2.2): hour, then optionally minute, second, millisecond."""

    hour: int
    minute: int | None = None
    second: int | None = None
    millisecond: int | None = None

    _FIELDS = _TIME_FIELDS

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def parse(cls, text: str) -> Time:
        """'10', '10:30', '10:30:00.5', and the ELM literal forms '@T10:30', 'T10:30'."""
        match = _TIME_PATTERN.fullmatch(_strip_at(text).removeprefix("T"))
        if not match:
            raise ValueError(f"not a CQL Time: {text!r}")
        fields = _ints(match, _TIME_FIELDS[:-1])
        fields["millisecond"] = _milliseconds(match["fraction"])
        return _build(cls, text, fields)

    def __str__(self) -> str:
        return _time_text(self)


# --- parsing and printing ----------------------------------------------------------------------

_DATE_RE = r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
_TIME_RE = (r"(?P<hour>\d{2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2})"
            r"(?:\.(?P<fraction>\d+))?)?)?")
_OFFSET_RE = r"(?P<offset>Z|[+-]\d{2}:\d{2})"
_DATE_PATTERN = re.compile(_DATE_RE)
# A trailing 'T' with no time is ELM's way of writing a DateTime at date precision.
_DATETIME_PATTERN = re.compile(f"{_DATE_RE}(?:T(?:{_TIME_RE}{_OFFSET_RE}?)?)?")
_TIME_PATTERN = re.compile(_TIME_RE)


def _strip_at(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"not a temporal string: {text!r}")
    return text.strip().removeprefix("@")


def _ints(match: re.Match, names: tuple[str, ...]) -> dict:
    return {name: None if match[name] is None else int(match[name]) for name in names}


def _milliseconds(fraction: str | None) -> int | None:
    # Digits past the third are finer than CQL's millisecond: truncated, never rounded up.
    return None if fraction is None else int((fraction + "00")[:3])


def _offset_hours(text: str | None) -> Decimal | None:
    if text is None:
        return None
    if text == "Z":
        return Decimal(0)
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if minutes > 59:
        raise ValueError(f"offset minutes out of range in {text!r}")
    return sign * (Decimal(hours * 60 + minutes) / 60)


def _build(cls, text: str, fields: dict):
    try:
        return cls(**fields)
    except ValueError as error:
        raise ValueError(f"not a valid CQL {cls.__name__}: {text!r} ({error})") from None


def _date_text(value) -> str:
    parts = [f"{value.year:04d}"]
    parts += [f"{getattr(value, name):02d}" for name in ("month", "day")
              if getattr(value, name) is not None]
    return "-".join(parts)


def _time_text(value) -> str:
    text = ":".join(f"{getattr(value, name):02d}" for name in ("hour", "minute", "second")
                    if getattr(value, name) is not None)
    return text if value.millisecond is None else f"{text}.{value.millisecond:03d}"


def _offset_text(offset: Decimal | None) -> str:
    if offset is None:
        return ""
    if offset == 0:
        return "Z"
    minutes = int(abs(offset) * 60)
    return f"{'-' if offset < 0 else '+'}{minutes // 60:02d}:{minutes % 60:02d}"


# --- timezone normalisation ----------------------------------------------------------------------


def _effective_offset(value: DateTime, default_offset) -> Decimal:
    return value.offset if value.offset is not None else Decimal(str(default_offset))


def _with_offset(value: DateTime, target: Decimal, default_offset) -> DateTime:
    """The same instant expressed at offset `target`, at the value's own precision.

    A value without time components is left as it is: shifting a bare date by hours would
    invent a time. A shift finer than the value's precision (a +05:30 offset on an
    hour-precision value) is truncated to that precision."""
    if value.hour is None:
        return value
    shift = target - _effective_offset(value, default_offset)
    try:
        moment = _bound(value, value.precision, high=False) + _py.timedelta(minutes=int(shift * 60))
    except OverflowError:
        raise ValueError(f"{value} at offset {target} is outside years 1..9999") from None
    return _from_moment(DateTime, moment, value.precision, offset=target)


def _comparable(a, b, default_offset=0):
    """Both values at one offset (UTC) when both are DateTimes with time components and their
    offsets differ (CQL 1.5 section 22.11: DateTime comparison normalises the offsets)."""
    if type(a) is not type(b):
        raise TypeError(f"cannot compare {type(a).__name__} with {type(b).__name__}")
    if not isinstance(a, DateTime) or a.hour is None or b.hour is None:
        return a, b
    if _effective_offset(a, default_offset) == _effective_offset(b, default_offset):
        return a, b
    utc = Decimal(0)
    return _with_offset(a, utc, default_offset), _with_offset(b, utc, default_offset)


# --- comparison ----------------------------------------------------------------------------------


def _fields_to(value: _Temporal, precision: str | None) -> tuple[str, ...]:
    if precision is None:
        return value._FIELDS
    unit = _unit(precision)
    if unit not in value._FIELDS:
        raise ValueError(f"{type(value).__name__} has no {precision!r} precision")
    return value._FIELDS[: value._FIELDS.index(unit) + 1]


def _seconds(value) -> Decimal | None:
    if value.second is None:
        return None
    return Decimal(value.second) + Decimal(value.millisecond or 0) / 1000


def _component_pairs(a, b, fields: tuple[str, ...]):
    """Pairs of components, coarsest first; seconds and milliseconds as one decimal pair when
    the walk reaches milliseconds (CQL 1.5 section 22.11)."""
    together = "millisecond" in fields
    for name in fields:
        if together and name == "millisecond":
            continue
        if together and name == "second":
            yield _seconds(a), _seconds(b)
        else:
            yield getattr(a, name), getattr(b, name)


def compare(a, b, precision: str | None = None, default_offset=0) -> int | None:
    """-1, 0 or 1 as `a` is before, the same as or after `b` (to `precision` if given), or
    None when a value lacks a component the other has before any component differs (CQL 1.5
    section 22.11; SameAs / SameOrBefore / SameOrAfter in section 22.22)."""
    if a is None or b is None:
        return None
    a, b = _comparable(a, b, default_offset)
    for x, y in _component_pairs(a, b, _fields_to(a, precision)):
        if x is None and y is None:
            return 0
        if x is None or y is None:
            return None
        if x != y:
            return -1 if x < y else 1
    return 0


def _decide(order: int | None, test) -> bool | None:
    return None if order is None else test(order)


def equal(a, b, default_offset=0) -> bool | None:
    """CQL Equal (`=`), section 22.11: None when uncertain."""
    return _decide(compare(a, b, None, default_offset), lambda order: order == 0)


def less(a, b, default_offset=0) -> bool | None:
    """CQL Less (`<`), section 22.11."""
    return _decide(compare(a, b, None, default_offset), lambda order: order < 0)


def less_or_equal(a, b, default_offset=0) -> bool | None:
    """CQL LessOrEqual (`<=`), section 22.11."""
    return _decide(compare(a, b, None, default_offset), lambda order: order <= 0)


def greater(a, b, default_offset=0) -> bool | None:
    """CQL Greater (`>`), section 22.11."""
    return _decide(compare(a, b, None, default_offset), lambda order: order > 0)


def greater_or_equal(a, b, default_offset=0) -> bool | None:
    """CQL GreaterOrEqual (`>=`), section 22.11."""
    return _decide(compare(a, b, None, default_offset), lambda order: order >= 0)


def same_as(a, b, precision: str | None = None, default_offset=0) -> bool | None:
    """CQL SameAs (`same <precision> as`), section 22.22."""
    return _decide(compare(a, b, precision, default_offset), lambda order: order == 0)


def before(a, b, precision: str | None = None, default_offset=0) -> bool | None:
    """CQL Before (`before <precision> of`), section 22.22."""
    return _decide(compare(a, b, precision, default_offset), lambda order: order < 0)


def after(a, b, precision: str | None = None, default_offset=0) -> bool | None:
    """CQL After (`after <precision> of`), section 22.22."""
    return _decide(compare(a, b, precision, default_offset), lambda order: order > 0)


def same_or_before(a, b, precision: str | None = None, default_offset=0) -> bool | None:
    """CQL SameOrBefore (`same <precision> or before`), section 22.22."""
    return _decide(compare(a, b, precision, default_offset), lambda order: order <= 0)


def same_or_after(a, b, precision: str | None = None, default_offset=0) -> bool | None:
    """CQL SameOrAfter (`same <precision> or after`), section 22.22."""
    return _decide(compare(a, b, precision, default_offset), lambda order: order >= 0)


def equivalent(a, b, default_offset=0) -> bool:
    """CQL Equivalent (`~`), section 22.9: like Equal, but a component one value has and the
    other lacks makes the result False; never None (two nulls are equivalent)."""
    if a is None or b is None:
        return a is None and b is None
    a, b = _comparable(a, b, default_offset)
    for x, y in _component_pairs(a, b, a._FIELDS):
        if x is None or y is None:
            return x is None and y is None
        if x != y:
            return False
    return True


# --- moments: a value's earliest or latest possible instant as a Python datetime ---------------


def _bound(value: _Temporal, upto: str, high: bool) -> _py.datetime:
    """The earliest (or, with `high`, latest) instant the value can be, choosing the unknown
    components up to precision `upto`; components finer than `upto` take their lowest value
    (they are treated as equal on both sides of a calculation). Times sit on 2000-01-01."""
    parts = {"year": 2000, "month": 1, "day": 1}
    limit = _rank(upto)
    for name in value._FIELDS:
        known = getattr(value, name)
        if known is not None:
            parts[name] = known
        elif high and _rank(name) <= limit:
            parts[name] = _HIGH.get(name) or calendar.monthrange(parts["year"], parts["month"])[1]
        else:
            parts[name] = _LOW[name]
    return _py.datetime(parts["year"], parts["month"], parts["day"], parts.get("hour", 0),
                        parts.get("minute", 0), parts.get("second", 0),
                        parts.get("millisecond", 0) * 1000)


def _from_moment(cls, moment: _py.datetime, precision: str, **extra):
    """A value of `cls` holding the moment's components up to `precision`."""
    keep = cls._FIELDS[: cls._FIELDS.index(precision) + 1]
    parts = {"year": moment.year, "month": moment.month, "day": moment.day,
             "hour": moment.hour, "minute": moment.minute, "second": moment.second,
             "millisecond": moment.microsecond // 1000}
    return cls(**{name: parts[name] for name in keep}, **extra)


# --- arithmetic ---------------------------------------------------------------------------------


def add(value, amount, unit: str):
    """CQL Add of a time-valued quantity (section 22.22 "Add" for Date, DateTime, Time).

    Years and months are calendar units: the day is clamped to the end of the resulting
    month (2024-01-31 + 1 month = 2024-02-29). Weeks are 7 days. Any fraction is ignored
    except for seconds, whose fraction is kept as milliseconds. A quantity finer than the
    value's precision is converted to that precision, truncating (@2014 + 25 months = @2016).
    Time values wrap around midnight. A result outside years 1..9999 is a ValueError."""
    if value is None or amount is None:
        return None
    count, unit = _whole_amount(amount, _unit(unit))
    _check_unit_fits(value, unit)
    count, unit = _at_value_precision(value, count, unit)
    if unit in ("year", "month"):
        return _add_months(value, count * 12 if unit == "year" else count)
    return _add_fixed(value, count * _MILLISECONDS[unit])


def truncate(value, precision: str):
    """The value with no component finer than `precision` (a precision name or unit); None when
    the value is coarser than it (its finer components are not known, so cannot be kept)."""
    precision = _unit(precision)
    if precision not in value._FIELDS or getattr(value, precision) is None:
        return None
    finer = value._FIELDS[value._FIELDS.index(precision) + 1:]
    return replace(value, **{name: None for name in finer})


def subtract(value, amount, unit: str):
    """CQL Subtract of a time-valued quantity (section 22.22 "Subtract"): Add of the negation,
    with the same clamping and truncation (2024-03-31 - 1 month = 2024-02-29)."""
    if value is None or amount is None:
        return None
    return add(value, -Decimal(str(amount)), unit)


def _whole_amount(amount, unit: str) -> tuple[int, str]:
    exact = Fraction(Decimal(str(amount)))
    if unit == "second" and exact.denominator != 1:
        return int(exact * 1000), "millisecond"
    if unit == "week":
        return int(exact) * 7, "day"
    return int(exact), unit


def _check_unit_fits(value, unit: str) -> None:
    if isinstance(value, Time) and unit not in _TIME_FIELDS:
        raise ValueError(f"a Time cannot be shifted by {unit}s")
    if isinstance(value, Date) and unit not in _DATE_FIELDS:
        raise ValueError(f"a Date cannot be shifted by {unit}s")


def _at_value_precision(value, count: int, unit: str) -> tuple[int, str]:
    """The amount converted to the value's precision, truncated, when the unit is finer."""
    precision = value.precision
    if _rank(unit) <= _rank(precision):
        return count, unit
    if unit == "month":  # only a year-precision value is coarser than a month
        return int(Fraction(count, 12)), "year"
    milliseconds = count * _MILLISECONDS[unit]
    if precision in _DAYS_IN:
        days = Fraction(milliseconds, _MILLISECONDS["day"])
        return int(days / _DAYS_IN[precision]), precision
    return int(Fraction(milliseconds, _MILLISECONDS[precision])), precision


def _add_months(value, months: int):
    total = value.year * 12 + (value.month or 1) - 1 + months
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"{value} + {months} months is outside years 1..9999")
    changes = {"year": year}
    if value.month is not None:
        changes["month"] = month + 1
    if value.day is not None:
        changes["day"] = min(value.day, calendar.monthrange(year, month + 1)[1])
    return replace(value, **changes)


def _add_fixed(value, milliseconds: int):
    if isinstance(value, Time):
        day = _MILLISECONDS["day"]
        since_midnight = _bound(value, value.precision, high=False) - _py.datetime(2000, 1, 1)
        total = (since_midnight // _py.timedelta(milliseconds=1) + milliseconds) % day
        moment = _py.datetime(2000, 1, 1) + _py.timedelta(milliseconds=total)
        return _from_moment(Time, moment, value.precision)
    try:
        moment = _bound(value, value.precision, high=False) + _py.timedelta(milliseconds=milliseconds)
    except OverflowError:
        raise ValueError(f"{value} + {milliseconds} ms is outside years 1..9999") from None
    extra = {"offset": value.offset} if isinstance(value, DateTime) else {}
    return _from_moment(type(value), moment, value.precision, **extra)


# --- duration and difference ----------------------------------------------------------------------


def duration_between(a, b, precision: str, default_offset=0) -> int | Uncertainty | None:
    """CQL DurationBetween (`<precision>s between a and b`, section 22.22; Appendix H): the
    number of whole calendar periods from a to b (negative when b is before a).

    A component either value lacks, down to the finer of the two values' precisions and the
    asked precision, makes the answer depend on the unknown: the result is then the
    Uncertainty between the answers from the earliest and latest possible values (or an int
    when both agree)."""
    if a is None or b is None:
        return None
    unit = _unit(precision)
    _check_between_unit(a, unit)
    a, b = _comparable(a, b, default_offset)
    upto = max(a.precision, b.precision, _calendar_field(unit), key=_rank)
    return _range(lambda x, y: _whole_periods(x, y, unit), a, b, upto)


def difference_between(a, b, precision: str, default_offset=0) -> int | Uncertainty | None:
    """CQL DifferenceBetween (`difference in <precision>s between a and b`, section 22.22;
    Appendix H): the number of `precision` boundaries crossed from a to b, i.e. the whole
    periods between the two values truncated to `precision` (the difference in years between
    2023-12-31 and 2024-01-01 is 1). Week boundaries fall at the start of Sunday. Values
    lacking components down to the precision give an Uncertainty as for duration."""
    if a is None or b is None:
        return None
    unit = _unit(precision)
    _check_between_unit(a, unit)
    a, b = _comparable(a, b, default_offset)

    def crossed(x: _py.datetime, y: _py.datetime) -> int:
        return _whole_periods(_truncate(x, unit), _truncate(y, unit), unit)

    return _range(crossed, a, b, _calendar_field(unit))


def _check_between_unit(value, unit: str) -> None:
    if isinstance(value, Time) and unit not in _TIME_FIELDS:
        raise ValueError(f"no {unit}s between Time values")
    if isinstance(value, Date) and unit not in _DATE_FIELDS + ("week",):
        raise ValueError(f"no {unit}s between Date values")


def _calendar_field(unit: str) -> str:
    return "day" if unit == "week" else unit


def _range(periods, a, b, upto: str) -> int | Uncertainty:
    """Periods from the choices of the unknown components that make the count smallest and
    largest: a as late as possible with b as early as possible, and the reverse."""
    shortest = periods(_bound(a, upto, high=True), _bound(b, upto, high=False))
    longest = periods(_bound(a, upto, high=False), _bound(b, upto, high=True))
    low, high = min(shortest, longest), max(shortest, longest)
    return low if low == high else Uncertainty(low, high)


def _whole_periods(x: _py.datetime, y: _py.datetime, unit: str) -> int:
    if unit == "year":
        return int(Fraction(_whole_months(x, y), 12))
    if unit == "month":
        return _whole_months(x, y)
    elapsed = y - x
    milliseconds = (elapsed.days * 86_400 + elapsed.seconds) * 1000 + elapsed.microseconds // 1000
    size = _MILLISECONDS["day"] * 7 if unit == "week" else _MILLISECONDS[unit]
    return int(Fraction(milliseconds, size))  # int() truncates towards zero


def _whole_months(x: _py.datetime, y: _py.datetime) -> int:
    """Calendar months from x to y: a month counts once y's day-and-time reaches x's."""
    months = (y.year - x.year) * 12 + y.month - x.month
    rest_x, rest_y = _within_month(x), _within_month(y)
    if months > 0 and rest_y < rest_x:
        months -= 1
    elif months < 0 and rest_y > rest_x:
        months += 1
    return months


def _within_month(moment: _py.datetime) -> tuple:
    return (moment.day, moment.hour, moment.minute, moment.second, moment.microsecond)


def _truncate(moment: _py.datetime, unit: str) -> _py.datetime:
    """The start of the `unit` period holding the moment (weeks start on Sunday)."""
    if unit == "week":
        day_start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return day_start - _py.timedelta(days=(moment.weekday() + 1) % 7)
    kept = _rank(unit)
    return _py.datetime(moment.year, moment.month if kept >= 1 else 1,
                        moment.day if kept >= 2 else 1, moment.hour if kept >= 3 else 0,
                        moment.minute if kept >= 4 else 0, moment.second if kept >= 5 else 0,
                        moment.microsecond if kept >= 6 else 0)


# --- conversions and components ------------------------------------------------------------------


def to_datetime(date: Date | None, offset=None) -> DateTime | None:
    """CQL ToDateTime(Date), section 22.23: the same components, no time. The offset is None
    unless given (the evaluation's default offset then applies when it matters)."""
    if date is None:
        return None
    return DateTime(date.year, date.month, date.day, offset=offset)


def date_from(value: DateTime | Date | None) -> Date | None:
    """CQL DateFrom, section 22.22: the date components, as written (no offset change)."""
    if value is None:
        return None
    return Date(value.year, value.month, value.day)


def to_date(value: DateTime | Date | None) -> Date | None:
    """CQL ToDate(DateTime), section 22.23: the date components (as DateFrom)."""
    return date_from(value)


def time_from(value: DateTime | None) -> Time | None:
    """CQL TimeFrom, section 22.22: the time components; None for a value without an hour."""
    if value is None or value.hour is None:
        return None
    return Time(value.hour, value.minute, value.second, value.millisecond)


def component(value, name: str):
    """CQL DateTimeComponentFrom (`year from x`, ...), section 22.22: the component, or None
    when the value does not have it. 'timezoneoffset' gives a DateTime's offset."""
    if value is None:
        return None
    key = name.lower().replace(" ", "")
    if key in ("timezoneoffset", "offset") and isinstance(value, DateTime):
        return value.offset
    unit = _unit(key)
    if unit not in value._FIELDS:
        raise ValueError(f"{type(value).__name__} has no {name!r} component")
    return getattr(value, unit)
