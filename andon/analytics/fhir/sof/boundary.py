"""lowBoundary() / highBoundary(): SQL over one JSON item, giving a JSON item (NULL when none).

- decimal: half a unit of the last given digit below / above (1.0 → 0.95 / 1.05);
- date: the first / last day of a partial date (1970-06 → 1970-06-01 / 1970-06-30);
- dateTime: the first / last millisecond, with the widest time zone when none is given
  (2010-10-10 → 2010-10-10T00:00:00.000+14:00 / 2010-10-10T23:59:59.999-12:00);
- time: the first / last millisecond (12:34:00 → 12:34:00.000 / 12:34:00.999).

The kind comes from a preceding `ofType(…)` when there is one; otherwise from the value (a
number is a decimal, text with a T is a dateTime, hh:mm… is a time, other text a date).
"""

from __future__ import annotations

DATE_TIME = r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T(\d{2})(?::(\d{2}))?(?::(\d{2}))?(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?$"
TIME = r"^(\d{2})(?::(\d{2}))?(?::(\d{2}))?(?:\.(\d+))?$"
NUMERIC = "('BIGINT', 'UBIGINT', 'DOUBLE')"


def _part(g: str, name: str, default: str) -> str:
    return f"coalesce(nullif({g}.{name}, ''), '{default}')"


def _time(g: str, which: str) -> str:
    if which == "low":
        return (
            f"{_part(g, 'hh', '00')} || ':' || {_part(g, 'mi', '00')} || ':' || {_part(g, 'ss', '00')} "
            f"|| '.' || rpad({_part(g, 'ms', '000')}, 3, '0')"
        )
    return (
        f"{_part(g, 'hh', '23')} || ':' || {_part(g, 'mi', '59')} || ':' || {_part(g, 'ss', '59')} "
        f"|| '.' || rpad({_part(g, 'ms', '999')}, 3, '9')"
    )


def _date(g: str, which: str) -> str:
    if which == "low":
        return f"{g}.y || '-' || {_part(g, 'm', '01')} || '-' || {_part(g, 'd', '01')}"
    return (
        f"CASE WHEN {g}.m = '' THEN {g}.y || '-12-31' "
        f"WHEN {g}.d = '' THEN strftime(last_day(CAST({g}.y || '-' || {g}.m || '-01' AS DATE)), '%Y-%m-%d') "
        f"ELSE {g}.y || '-' || {g}.m || '-' || {g}.d END"
    )


def json_text(value: str) -> str:
    """The JSON text of a JSON value (a string keeps its quotes). The inner cast costs DuckDB
    nothing (the value is JSON already); it marks the value as JSON for other dialects, where
    a value's text and its JSON text differ (`spark.dialect`)."""
    return f"CAST(CAST({value} AS JSON) AS VARCHAR)"


def _decimal(v: str, which: str) -> str:
    text = json_text(v)
    places = f"(CASE WHEN contains({text}, '.') THEN length(split_part({text}, '.', 2)) ELSE 0 END)"
    sign = "-" if which == "low" else "+"
    return f"to_json(round(CAST({v} AS DOUBLE) {sign} 0.5 * pow(10, -{places}), CAST({places} + 1 AS INTEGER)))"


def _temporal(v: str, which: str, kind: str, g: str) -> str:
    text = f"json_extract_string({v}, '$')"
    if kind == "time":
        names = "['hh', 'mi', 'ss', 'ms']"
        return (
            f"list_transform([regexp_extract({text}, '{TIME}', {names})], lambda {g}: "
            f"CASE WHEN {g}.hh = '' THEN NULL ELSE to_json({_time(g, which)}) END)[1]"
        )
    names = "['y', 'm', 'd', 'hh', 'mi', 'ss', 'ms', 'tz']"
    if kind == "date":
        value = _date(g, which)
    else:
        zone = f"coalesce(nullif({g}.tz, ''), '{'+14:00' if which == 'low' else '-12:00'}')"
        value = f"{_date(g, which)} || 'T' || {_time(g, which)} || {zone}"
    return (
        f"list_transform([regexp_extract({text}, '{DATE_TIME}', {names})], lambda {g}: "
        f"CASE WHEN {g}.y = '' THEN NULL ELSE to_json({value}) END)[1]"
    )


def boundary_sql(v: str, which: str, kind: str | None, g: str) -> str:
    """The boundary of JSON item `v` (`which` is low or high); `g` is a free lambda name."""
    if kind in ("decimal", "integer"):
        return f"CASE WHEN json_type({v}) IN {NUMERIC} THEN {_decimal(v, which)} END"
    if kind in ("date", "dateTime", "instant", "time"):
        kind = "dateTime" if kind == "instant" else kind
        return f"CASE WHEN json_type({v}) = 'VARCHAR' THEN {_temporal(v, which, kind, g)} END"
    text = f"json_extract_string({v}, '$')"
    return (
        f"CASE WHEN json_type({v}) IN {NUMERIC} THEN {_decimal(v, which)} "
        f"WHEN json_type({v}) <> 'VARCHAR' THEN NULL "
        f"WHEN regexp_matches({text}, '^\\d{{2}}:') THEN {_temporal(v, which, 'time', g)} "
        f"WHEN contains({text}, 'T') THEN {_temporal(v, which, 'dateTime', g)} "
        f"ELSE {_temporal(v, which, 'date', g)} END"
    )
