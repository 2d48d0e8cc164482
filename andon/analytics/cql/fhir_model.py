"""FHIR R4 data as the ELM engine sees it: every value read from a resource knows its FHIR type.

CQL reaches FHIR data through the model (`using FHIR version '4.0.1'`): `Encounter.period` is a
`FHIR.Period`, its `start` a `FHIR.dateTime` whose `value` is a CQL `DateTime`. The published
ELM calls FHIRHelpers functions without saying which overload (`ToInterval` of a Period, a
Range or a Quantity), so the engine picks by the argument's FHIR type at run time. JSON alone
does not say that type; the R4 model tables fhirpathpy ships (`path2Type`: element path → type,
`choiceTypePaths`: choice element → allowed types) do.

A `Node` wraps one JSON value (object, list item or primitive) with its FHIR type and the path
its children are typed by: a resource or complex datatype is typed by its own name
(`Period.start`), a backbone element by its path in the resource (`Encounter.hospitalization`).
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from functools import cache

PRIMITIVES = {
    "boolean", "integer", "string", "decimal", "uri", "url", "canonical", "base64Binary", "instant", "date",
    "dateTime", "time", "code", "oid", "id", "markdown", "unsignedInt", "positiveInt", "uuid", "xhtml", "integer64",
}
_BACKBONE = {"BackboneElement", "Element"}
_SYSTEM = {"System.String": "string", "System.Boolean": "boolean", "System.Integer": "integer",
           "System.Decimal": "decimal", "System.Date": "date", "System.DateTime": "dateTime", "System.Time": "time"}
# members every element has, whatever the tables list for its path
_EVERYWHERE = {"id": ("string", "string"), "extension": ("Extension", "Extension"),
               "modifierExtension": ("Extension", "Extension")}


@cache
def _tables() -> tuple[dict, dict, dict, frozenset]:
    """path2Type, choiceTypePaths, pathsDefinedElsewhere, and the backbone element paths
    (the tables list a backbone element's children, not the element itself)."""
    folder = importlib.resources.files("fhirpathpy.models.r4")

    def load(name: str) -> dict:
        return json.loads(folder.joinpath(name).read_text(encoding="utf-8"))

    path2type = load("path2Type.json")
    parents = frozenset(path.rsplit(".", 1)[0] for path in path2type if path.count(".") > 1)
    return path2type, load("choiceTypePaths.json"), load("pathsDefinedElsewhere.json"), parents


def _type_name(choice: str) -> str:
    """choiceTypePaths spells types capitalised (`DateTime`); FHIR names primitives in lower camel."""
    lowered = choice[:1].lower() + choice[1:]
    return lowered if lowered in PRIMITIVES else choice


# Not frozen: every member read makes Nodes, and a frozen dataclass's __init__ costs 3.5× (its
# object.__setattr__ per field). Never changed once made; hashed and compared as when frozen.
@dataclass(slots=True, unsafe_hash=True)
class Node:
    """A FHIR value: `value` is the JSON (dict for complex types, str/bool/number for
    primitives), `fhir_type` its FHIR type name, `path` what its children are typed by, and
    `extension` the `_element` object of a primitive (its id and extensions), if any."""

    value: object
    fhir_type: str
    path: str
    extension: dict | None = None

    @property
    def is_primitive(self) -> bool:
        return self.fhir_type in PRIMITIVES

    def __repr__(self) -> str:
        return f"Node({self.fhir_type}, {self.value!r})"


def resource(data: dict) -> Node:
    kind = data.get("resourceType")
    if not isinstance(kind, str):
        # bad data rather than a programming error: ValueError, like every loader here
        raise ValueError(f"not a FHIR resource (no resourceType): {str(data)[:80]}")  # noqa: TRY004
    return Node(data, kind, kind)


@cache  # asked for every member read; the tables never change
def element_type(path: str, name: str) -> tuple[str | None, str]:
    """(FHIR type, typing path) of member `name` of a value typed by `path`; (None, '') if the
    model has no such element."""
    path2type, _, elsewhere, backbones = _tables()
    while True:
        full = f"{path}.{name}"
        found = path2type.get(full)
        if found is not None:
            found = _SYSTEM.get(found, found)
            return found, (full if found in _BACKBONE else found)
        if full in backbones:
            return "BackboneElement", full
        if full in elsewhere:  # Questionnaire.item.item is typed like Questionnaire.item
            return "BackboneElement", elsewhere[full]
        if path in elsewhere:
            path = elsewhere[path]
            continue
        return None, ""


def choices(path: str, name: str) -> tuple[str, ...] | None:
    """The FHIR types a choice element `name[x]` may take, or None if it is not a choice."""
    _, choice, elsewhere, _ = _tables()
    while True:
        found = choice.get(f"{path}.{name}")
        if found is not None:
            return tuple(_type_name(t) for t in found)
        if path in elsewhere:
            path = elsewhere[path]
            continue
        return None


def _wrap(value, extension, fhir_type: str, path: str):
    """A JSON member as Node(s): a list stays a list (each item wrapped), null is None."""
    if isinstance(value, list):
        extensions = extension if isinstance(extension, list) else [None] * len(value)
        items = [_wrap(v, e, fhir_type, path) for v, e in zip(value, extensions + [None] * (len(value) - len(extensions)))]
        return [item for item in items if item is not None]
    if value is None and not (isinstance(extension, dict) and (extension.get("extension") or extension.get("id"))):
        return None  # no value, and no extension worth keeping: absent
    if fhir_type == "Resource" and isinstance(value, dict) and "resourceType" in value:
        return resource(value)
    return Node(value, fhir_type, path, extension if isinstance(extension, dict) else None)


def member(node: Node, name: str):
    """`node.name` by the FHIR model: a Node, a list of Nodes, or None when absent. A choice
    element is found by its typed key (`value` → `valueQuantity`); `extension` and `id` of a
    primitive come from its `_element` object."""
    data = node.value
    if node.is_primitive:
        source = node.extension or {}
        if name == "extension":
            return _wrap(source.get("extension"), None, "Extension", "Extension")
        if name == "id":
            return _wrap(source.get("id"), None, "string", "string")
        return None
    if not isinstance(data, dict):
        return None
    fhir_type, path = element_type(node.path, name)
    if fhir_type is None and name in _EVERYWHERE:
        fhir_type, path = _EVERYWHERE[name]
    if fhir_type is not None:
        if name in data or "_" + name in data:
            return _wrap(data.get(name), data.get("_" + name), fhir_type, path)
        return None
    for candidate, key in _choice_keys(node.path, name):
        if key in data or "_" + key in data:
            return _wrap(data.get(key), data.get("_" + key), candidate, candidate)
    return None


@cache
def _choice_keys(path: str, name: str) -> tuple[tuple[str, str], ...]:
    """(type, JSON key) of each type a choice element may take: `value` → ("Quantity", "valueQuantity")."""
    return tuple((candidate, name + candidate[:1].upper() + candidate[1:]) for candidate in choices(path, name) or ())
