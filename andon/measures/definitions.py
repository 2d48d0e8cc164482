"""Measure definitions as the library writes them (content/measures/*.yaml), checked on load.

A definition names what the registry keeps (TOP_KEYS: domain, improvement, scoring, unit,
target, owner, chart, strata; `aggregate: mean|median` for a continuous measure; `method`, the
counting choices in words for the measure page) and its source (SOURCE_KEYS, by kind):

    source: {kind: sql, sql: "SELECT … FROM encounter …"}            # one row per case
    source: {kind: ecqm, measure: CMS108VTEProphylaxisFHIR}           # the Measure's name
    source: {kind: events, category: fall, details: {injury_level: [minor, major]},
             kinds: [incident], harms: [severe], stratify_by: ncc_merp,
             unit_kinds: [ward], confirmed_only: true, denominator: {measure: inpatient-days}}
    source: {kind: manual, numerator: CLABSI, denominator: Central-line days}

An event rate counts, by default, what the published rates count (NDNQI: events on inpatient
units, over the patient days of those units): events of wards (`unit_kinds`), whose category a
safety officer confirmed in triage (`confirmed_only`).

A key the loader does not know is refused rather than dropped (a misspelt or unsupported key
would otherwise change the results silently). Errors name the file and the field. SQL is
checked against the core views (one SELECT, only those tables); an event category and its
fields against the taxonomy when the measure is computed.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from andon.analytics import kpi
from andon.platform.content import ContentError
from andon.platform.models import Unit

from .models import Domain, Improvement, Scoring, SourceKind

KIND = "measures"
CHARTS = ("auto", "xmr", "p", "u", "c", "run")
SAFETY_EVENT_KINDS = ("incident", "near_miss", "unsafe_condition", "good_catch")
AGGREGATES = ("mean", "median")
TOP_KEYS = ("key", "version", "title", "description", "domain", "improvement", "scoring", "unit_label", "multiplier",
            "target", "owner_role", "chart", "listed", "strata", "aggregate", "method", "source")
SOURCE_KEYS = {
    "sql": ("kind", "sql"),
    "ecqm": ("kind", "measure"),
    "events": ("kind", "category", "kinds", "harms", "details", "stratify_by", "unit_kinds", "confirmed_only",
               "denominator"),
    "manual": ("kind", "numerator", "denominator"),
}
# The units whose events an event rate counts unless its definition says otherwise: inpatient
# wards, whose patient days are the denominator (NDNQI; the ED and other departments are not).
DEFAULT_UNIT_KINDS = ("ward",)


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


def _known_keys(data: dict, allowed, where: str) -> None:
    """Refuse keys the loader does not know: dropped silently, they would change nothing and
    the results would not be what the file says."""
    unknown = sorted(str(name) for name in data if name not in allowed)
    if unknown:
        raise ContentError(f"{where}.{unknown[0]}: not a key of this definition (use {', '.join(allowed)})")


def _flag(data: dict, key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ContentError(f"{where}.{key}: expected true or false, found {value!r}")
    return value


def _lines(value, where: str) -> list[str]:
    """A list of sentences (the counting method in words)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ContentError(f"{where}: expected a list of sentences")
    if any(len(v) > 500 for v in value):
        raise ContentError(f"{where}: at most 500 characters a sentence")
    return [v.strip() for v in value]


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
    _known_keys(data, TOP_KEYS, where)
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
        "listed": _flag(data, "listed", where, True),
        "strata": _strings(data.get("strata", list(kpi.DIMENSIONS)), f"{where}.strata"),
    }
    # Keys added since the first library are kept only when written, so that a file that does
    # not use them normalises as before and reloads under its version (versions are immutable).
    if "method" in data:
        measure["method"] = _lines(data["method"], f"{where}.method")
    unknown = sorted(set(measure["strata"]) - set(kpi.DIMENSIONS))
    if unknown:
        raise ContentError(f"{where}.strata: unknown {', '.join(unknown)} (use {', '.join(kpi.DIMENSIONS)})")
    if not isinstance(measure["multiplier"], int):
        raise ContentError(f"{where}.multiplier: a whole number (1, 100, 1000)")
    source_data = data.get("source")
    if not isinstance(source_data, dict):
        raise ContentError(f"{where}.source: required, a mapping with a kind")
    measure["source"] = _source(source_data, f"{where}.source")
    _check_aggregate(data, measure, where)
    if "aggregate" in data:
        measure["aggregate"] = data["aggregate"]
    return measure


def _check_aggregate(data: dict, measure: dict, where: str) -> None:
    """How a continuous measure's cases make a cell's value: their mean (the default) or median;
    other scorings have none. Case values exist only where the source lists cases."""
    if measure["scoring"] != "continuous":
        if "aggregate" in data:
            raise ContentError(f"{where}.aggregate: only a continuous measure has one (this one is {measure['scoring']})")
        return
    if measure["source"]["kind"] not in (SourceKind.SQL, SourceKind.ECQM):
        raise ContentError(f"{where}.scoring: a continuous measure needs the values of its cases (source kind sql or ecqm)")
    if "aggregate" in data:
        _choice(data, "aggregate", where, AGGREGATES)


def aggregate(definition: dict) -> str:
    """A continuous measure's aggregate as its definition gives it, the mean when it gives none."""
    return definition.get("aggregate") or "mean"


def events_options(source: dict) -> dict:
    """An event rate's attribution choices (unit_kinds, confirmed_only), defaults filled in."""
    return {"unit_kinds": source.get("unit_kinds", list(DEFAULT_UNIT_KINDS)),
            "confirmed_only": source.get("confirmed_only", True)}


def _source(data: dict, where: str) -> dict:
    kind = _choice(data, "kind", where, SourceKind.values)
    _known_keys(data, SOURCE_KEYS[kind], where)
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
    _known_keys(denominator, ("measure",), f"{where}.denominator")
    found = {
        "kind": SourceKind.EVENTS.value,
        "category": _text(data, "category", where),
        "kinds": kinds,
        "harms": _strings(data.get("harms"), f"{where}.harms"),
        "details": {str(field): _codes(codes, f"{where}.details.{field}") for field, codes in details.items()},
        "stratify_by": _text(data, "stratify_by", where, required=False, limit=40),
        "denominator": {"measure": _text(denominator, "measure", f"{where}.denominator", limit=100)},
    }
    if "unit_kinds" in data:
        found["unit_kinds"] = _strings(data["unit_kinds"], f"{where}.unit_kinds")
        wrong = sorted(set(found["unit_kinds"]) - set(Unit.Kind.values))
        if wrong or not found["unit_kinds"]:
            raise ContentError(f"{where}.unit_kinds: {', '.join(wrong) or 'none'} given; "
                               f"use some of {', '.join(Unit.Kind.values)}")
    if "confirmed_only" in data:
        found["confirmed_only"] = _flag(data, "confirmed_only", where, True)
    return found


def counting_method(definition: dict, scoring: str) -> list[str]:
    """The measure's counting choices in words, for its page: what the loader fills in (a
    continuous measure's aggregate, an event rate's units, confirmation and event kinds) and
    the definition's own `method` sentences (a SQL measure's window, its exclusions)."""
    said = []
    if scoring == "continuous":
        said.append(f"Value: the {aggregate(definition)} of the cases' values in each period and unit.")
    source = definition["source"]
    if source["kind"] == SourceKind.EVENTS:
        options = events_options(source)
        units = ", ".join(f"{Unit.Kind(kind).label.lower()}s" for kind in options["unit_kinds"])
        census = source["denominator"]["measure"]
        said.append(f"Units counted: events on {units} only, over the {census} census of the same units and period.")
        said.append("Confirmed only: events whose category a safety officer confirmed in triage; reports not yet "
                    "triaged are left out." if options["confirmed_only"] else
                    "Reports not yet triaged count, under the category the reporter chose.")
        said.append(f"Event kinds: {', '.join(kind.replace('_', ' ') for kind in source['kinds'])}; "
                    "counted in the period the event occurred.")
    return said + list(definition.get("method", []))
