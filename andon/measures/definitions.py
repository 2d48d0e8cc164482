"""Measure definitions as the library writes them (content/measures/*.yaml), checked on load.

A definition names what the registry keeps (domain, improvement, scoring, unit, target, owner)
and its source:

    source: {kind: sql, sql: "SELECT … FROM encounter …"}            # one row per case
    source: {kind: ecqm, measure: CMS108VTEProphylaxisFHIR}           # the Measure's name
    source: {kind: events, category: fall, details: {injury_level: [minor, major]},
             kinds: [incident], stratify_by: ncc_merp, denominator: {measure: inpatient-days}}
    source: {kind: manual, numerator: CLABSI, denominator: Central-line days}

Errors name the file and the field. SQL is checked against the core views (one SELECT, only
those tables); an event category against the taxonomy when the measure is computed.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from andon.analytics import kpi
from andon.platform.content import ContentError

from .models import Domain, Improvement, Scoring, SourceKind

KIND = "measures"
CHARTS = ("auto", "xmr", "p", "u", "c", "run")
SAFETY_EVENT_KINDS = ("incident", "near_miss", "unsafe_condition", "good_catch")


def views_folder() -> Path:
    return Path(settings.ANDON_CONTENT_DIR) / "views"


def _text(data: dict, key: str, where: str, *, required: bool = True, limit: int = 200) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise ContentError(f"{where}.{key}: required")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ContentError(f"{where}.{key}: expected text, found {type(value).__name__}")
    value = str(value).strip()
    if len(value) > limit:
        raise ContentError(f"{where}.{key}: at most {limit} characters")
    return value


def _choice(data: dict, key: str, where: str, choices) -> str:
    value = _text(data, key, where)
    if value not in choices:
        raise ContentError(f"{where}.{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _number(data: dict, key: str, where: str, *, default=None, positive=False):
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContentError(f"{where}.{key}: expected a number, found {type(value).__name__}")
    if positive and value <= 0:
        raise ContentError(f"{where}.{key}: must be greater than 0")
    return value


def _strings(value, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        raise ContentError(f"{where}: expected a list of codes")
    return [str(v) for v in value]


def _codes(value, where: str) -> list:
    """Accepted answers of an event field: codes, or true/false for a yes/no field."""
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | int | bool) for v in values):
        raise ContentError(f"{where}: expected codes (or true/false)")
    return [v if isinstance(v, bool) else str(v) for v in values]


def check(data, source: str) -> dict:
    """The definition, normalised; ContentError naming the file and field when it is wrong."""
    if not isinstance(data, dict):
        raise ContentError(f"{source}: expected a mapping, found {type(data).__name__}")
    where = source
    key = _text(data, "key", where, limit=100)
    if not key.replace("-", "").replace("_", "").isalnum() or not key.isascii():
        raise ContentError(f"{where}.key: letters, digits, - and _ only")
    measure = {
        "key": key,
        "version": _text(data, "version", where, limit=40),
        "title": _text(data, "title", where),
        "description": _text(data, "description", where, required=False, limit=4000),
        "domain": _choice(data, "domain", where, Domain.values),
        "improvement": _choice(data, "improvement", where, Improvement.values),
        "scoring": _choice(data, "scoring", where, Scoring.values),
        "unit_label": _text(data, "unit_label", where, limit=60),
        "multiplier": _number(data, "multiplier", where, default=1, positive=True),
        "target": _number(data, "target", where),
        "owner_role": _text(data, "owner_role", where, required=False, limit=120),
        "chart": _choice({"chart": data.get("chart", "auto")}, "chart", where, CHARTS),
        "listed": bool(data.get("listed", True)),
        "strata": _strings(data.get("strata", list(kpi.DIMENSIONS)), f"{where}.strata"),
    }
    unknown = sorted(set(measure["strata"]) - set(kpi.DIMENSIONS))
    if unknown:
        raise ContentError(f"{where}.strata: unknown {', '.join(unknown)} (use {', '.join(kpi.DIMENSIONS)})")
    if not isinstance(measure["multiplier"], int):
        raise ContentError(f"{where}.multiplier: a whole number (1, 100, 1000)")
    source_data = data.get("source")
    if not isinstance(source_data, dict):
        raise ContentError(f"{where}.source: required, a mapping with a kind")
    measure["source"] = _source(source_data, f"{where}.source")
    return measure


def _source(data: dict, where: str) -> dict:
    kind = _choice(data, "kind", where, SourceKind.values)
    if kind == SourceKind.SQL:
        sql = _text(data, "sql", where, limit=20_000)
        try:
            known = kpi.load_view_definitions(views_folder())
            kpi.referenced_views(sql, known)
        except kpi.KpiError as error:
            raise ContentError(f"{where}.sql: {error}") from None
        return {"kind": kind, "sql": sql}
    if kind == SourceKind.ECQM:
        return {"kind": kind, "measure": _text(data, "measure", where)}
    if kind == SourceKind.EVENTS:
        return _events_source(data, where)
    return {"kind": kind, "numerator": _text(data, "numerator", where), "denominator": _text(data, "denominator", where)}


def _events_source(data: dict, where: str) -> dict:
    details = data.get("details") or {}
    if not isinstance(details, dict):
        raise ContentError(f"{where}.details: expected a mapping of field to accepted codes")
    kinds = _strings(data.get("kinds", ["incident"]), f"{where}.kinds")
    wrong = sorted(set(kinds) - set(SAFETY_EVENT_KINDS))
    if wrong:
        raise ContentError(f"{where}.kinds: {', '.join(wrong)} are not safety event kinds")
    denominator = data.get("denominator")
    if not isinstance(denominator, dict):
        raise ContentError(f"{where}.denominator: required, {{measure: <key of a census measure>}}")
    return {
        "kind": SourceKind.EVENTS.value,
        "category": _text(data, "category", where),
        "kinds": kinds,
        "harms": _strings(data.get("harms"), f"{where}.harms"),
        "details": {str(field): _codes(codes, f"{where}.details.{field}") for field, codes in details.items()},
        "stratify_by": _text(data, "stratify_by", where, required=False, limit=40),
        "denominator": {"measure": _text(denominator, "measure", f"{where}.denominator", limit=100)},
    }
