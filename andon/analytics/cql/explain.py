"""Why a subject is in or out of each population, kept as plain data for pages to show.

For each population: its criteria definition and result. For each definition the evaluation
reached (the criteria and, transitively, the definitions they refer to): its value in short
(true/false/null, a count, the resources it holds as `Type/id`) and the definitions it uses.
A definition never reached (`and` stopped at an earlier false) is listed as not evaluated, so
the chain from a population down to the patient's records can be followed either way.
"""

from __future__ import annotations

from .elm import Library
from .evaluator import NOT_EVALUATED, Evaluation
from .fhir_model import Node

MAX_RESOURCES = 50  # per definition: enough to show, small enough to store


def explain(evaluation: Evaluation, library: Library, criteria: dict[str, str]) -> dict:
    definitions: dict[str, dict] = {}
    for name in criteria.values():
        _visit(evaluation, library, name, definitions)
    populations = {code: {"definition": f"{library.name}.{name}", "result": definitions[f"{library.name}.{name}"].get("value")}
                   for code, name in criteria.items()}
    return {"populations": populations, "definitions": definitions}


def _visit(evaluation: Evaluation, library: Library, name: str, seen: dict) -> str:
    key = f"{library.name}.{name}"
    if key in seen:
        return key
    entry: dict = {}
    seen[key] = entry
    cached = evaluation.cached(library, name)
    if cached is NOT_EVALUATED:
        entry["evaluated"] = False
    else:
        entry.update(summarise(cached))
    uses = []
    for alias, referenced in _references_of(library, name):
        target = evaluation.libraries.included(library, alias) if alias else library
        if referenced in target.expressions:
            uses.append(_visit(evaluation, target, referenced, seen))
    if uses:
        entry["uses"] = sorted(set(uses))
    return key


def summarise(value) -> dict:
    if value is None or isinstance(value, bool):
        return {"value": value}
    if isinstance(value, Node):
        return {"value": _key(value)} if _key(value) else {"value": repr(value)[:120]}
    if isinstance(value, list):
        keys = [k for k in (_key(v) for v in value if isinstance(v, Node)) if k]
        summary = {"value": len(value)}
        if keys:
            summary["resources"] = keys[:MAX_RESOURCES]
            if len(keys) > MAX_RESOURCES:
                summary["more"] = len(keys) - MAX_RESOURCES
        return summary
    return {"value": str(value)[:120]}


def _key(node: Node) -> str | None:
    data = node.value
    if isinstance(data, dict) and "resourceType" in data:
        return f"{data['resourceType']}/{data.get('id')}"
    return None


def _references_of(library: Library, name: str) -> list[tuple[str | None, str]]:
    known = library.derived.setdefault("references", {})
    if name not in known:
        known[name] = sorted(set(_references(library.expressions.get(name, {}).get("expression"))), key=str)
    return known[name]


def _references(node):
    """(library alias or None, name) of every ExpressionRef in an ELM expression."""
    if isinstance(node, dict):
        if node.get("type") == "ExpressionRef" and "name" in node:
            yield node.get("libraryName"), node["name"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)
