"""Compliance: frameworks as data. The domain logic of this subject; other modules reach it through
andon.compliance.services (which re-exports the names in __all__).

A framework file (YAML, or a spreadsheet with one row per requirement) goes through three steps:

1. read: the file's text becomes plain items, each with where it was written (YAML line from the
   node marks, CSV row, XLSX sheet and row);
2. check: pure functions turn the items into a `FrameworkSpec` or a list of `Problem`s (every
   problem of the file, not only the first);
3. store: one transaction writes the version, its requirements and its mappings.

Nothing is stored while any problem stands. The file format is documented in docs/compliance.md
("Frameworks").
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.urls import reverse

from andon.platform import audit, content, history, inputs, navigation, permissions

from . import uploads
from .models import (
    Change, Framework, FrameworkKind, FrameworkVersion, MappingRelation, Requirement, RequirementMapping,
)

__all__: list[str] = [
    "FrameworkFileError", "Problem", "ImportOutcome", "VersionChanges", "FieldChange",
    "mapped_urns", "mappings_of", "version_changes", "import_framework", "import_mappings",
    "load_framework_text", "load_mappings_text", "access_framework_version", "access_requirement",
    "requirement_url", "requirement_by_urn", "current_requirements", "frameworks_with_counts",
    "version_tree", "ancestors_of", "changes_of", "TreeNode", "MappedRequirement", "FORMATS",
]

MAX_FILE_BYTES = 5 * 1024 * 1024  # the full CoP is under 100 KB; a standards book of thousands of items fits
MAX_DEPTH = 20  # chapter > standard > element > … : deeper is a mistake in the file
FORMATS = ("yaml", "csv", "xlsx")
TEXT_LIMITS = {"urn": 300, "citation": 100, "title": 300, "summary": 5000, "guidance": 20000, "name": 200,
               "publisher": 200, "source_url": 500, "version": 50, "description": 5000, "note": 2000}
FRAMEWORK_FIELDS = {"urn", "name", "kind", "publisher", "source_url", "version", "effective_on", "description"}
REQUIREMENT_FIELDS = {"urn", "parent", "citation", "title", "summary", "guidance", "evidence_hints", "assessable",
                      "children"}
COLUMNS = ["urn", "parent", "citation", "title", "summary", "guidance", "evidence_hints", "assessable"]
MAPPING_FIELDS = {"source", "target", "relation", "note"}
MAPPING_COLUMNS = ["source", "target", "relation", "note"]
COMPARED = ("parent", "citation", "title", "summary", "guidance", "evidence_hints", "assessable")
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[^\s]+")


# --- problems ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: which file, where in it (a line, a row, a sheet), which field, why."""

    source: str
    line: int | None
    field: str
    reason: str
    sheet: str = ""
    unit: str = "line"  # "line" for YAML, "row" for spreadsheets

    @property
    def where(self) -> str:
        place = f"{self.unit} {self.line}" if self.line else ""
        if self.sheet:
            place = f"sheet {self.sheet!r}, {place}" if place else f"sheet {self.sheet!r}"
        return ", ".join(part for part in (self.source, place) if part)

    def __str__(self):
        return f"{self.where}: {self.field + ': ' if self.field else ''}{self.reason}"


class FrameworkFileError(content.ContentError):
    """A file that was refused, with every problem found in it; nothing of it was stored."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}, nothing loaded:\n  {shown}{more}")


# --- what a checked file holds -------------------------------------------------------------------

@dataclass(frozen=True)
class Where:
    source: str
    line: int | None
    sheet: str = ""
    unit: str = "line"

    def problem(self, field_name: str, reason: str) -> Problem:
        return Problem(self.source, self.line, field_name, reason, self.sheet, self.unit)


@dataclass
class RequirementSpec:
    urn: str
    parent: str | None
    citation: str
    title: str
    summary: str
    guidance: str
    evidence_hints: list[str]
    assessable: bool
    where: Where = field(compare=False, repr=False)
    parent_where: Where | None = field(default=None, compare=False, repr=False)

    def at_parent(self) -> Where:
        return self.parent_where or self.where


@dataclass
class MappingSpec:
    source: str
    target: str
    relation: str
    note: str
    where: Where = field(compare=False, repr=False)
    field_where: dict = field(default_factory=dict, compare=False, repr=False)  # "source"/"target" -> Where


@dataclass
class FrameworkSpec:
    urn: str
    name: str
    kind: str
    publisher: str
    source_url: str
    version: str
    effective_on: date | None
    description: str
    requirements: list[RequirementSpec]  # depth-first, parents before children
    mappings: list[MappingSpec] = field(default_factory=list)

    def digest(self) -> str:
        """The content's fingerprint: the same framework read from YAML or a spreadsheet, with
        other comments or spacing, has the same one (a version is immutable: a changed one is refused)."""
        data = {key: getattr(self, key) for key in sorted(FRAMEWORK_FIELDS)}
        data["effective_on"] = self.effective_on.isoformat() if self.effective_on else None
        data["requirements"] = [{k: v for k, v in asdict(r).items() if k not in ("where", "parent_where")}
                                for r in self.requirements]
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class ImportOutcome:
    version: FrameworkVersion | None  # None for a mappings file
    created: bool  # False: the same version was already loaded, nothing changed
    mappings: int = 0


# --- reading YAML with line numbers ----------------------------------------------------------------

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Located(dict):
    """A YAML mapping that remembers the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict


class _LineLoader(_BASE_LOADER):
    pass


def _construct_located_map(loader, node):
    data = _Located()
    data.line, data.key_lines = node.start_mark.line + 1, {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | bool | date):
            raise yaml.constructor.ConstructorError(None, None, "a key must be a plain word", key_node.start_mark)
        if key in data:
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} appears twice in one mapping",
                                                    key_node.start_mark)
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_located_map)


def read_yaml(text: str, source: str):
    """A YAML document whose mappings know their lines; a Problem list when it cannot be read."""
    if len(text) > MAX_FILE_BYTES:
        raise FrameworkFileError([Problem(source, None, "", f"longer than {MAX_FILE_BYTES:,} characters")])
    try:
        if "*" in text:
            # An alias repeats a part without its size in the text (content files refuse them too).
            for event in yaml.parse(text, Loader=_BASE_LOADER):
                if isinstance(event, yaml.AliasEvent):
                    raise FrameworkFileError([Problem(source, event.start_mark.line + 1, "",
                                                      "aliases (*name) are not accepted; write the parts out")])
        loader = _LineLoader(text)
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
        inputs.check_tree(document, content.MAX_DEPTH)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = " ".join(part for part in (error.context, error.problem) if part) or "not valid YAML"
        raise FrameworkFileError([Problem(source, mark.line + 1 if mark else None, "", f"not valid YAML: {reason}")]) from None
    except yaml.YAMLError as error:
        raise FrameworkFileError([Problem(source, None, "", f"not valid YAML: {error}")]) from None
    except RecursionError:
        raise FrameworkFileError([Problem(source, None, "", f"nested more than {content.MAX_DEPTH} levels deep")]) from None
    except inputs.InputError as error:
        raise FrameworkFileError([Problem(source, None, "", str(error))]) from None
    return document


def _line(mapping, key=None) -> int | None:
    if isinstance(mapping, _Located):
        return mapping.key_lines.get(key, mapping.line) if key is not None else mapping.line
    return None


# --- checking values -------------------------------------------------------------------------------

def _text(raw: dict, key: str, where: Where, problems: list, *, required=False, path="") -> str:
    value = raw.get(key)
    name = f"{path}{key}"
    if value is None or value == "":
        if required:
            problems.append(where.problem(name, "required"))
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | date):
        kind = "a number with a decimal point (write it in quotes)" if isinstance(value, float) else type(value).__name__
        problems.append(where.problem(name, f"expected text, found {kind}"))
        return ""
    value = value.isoformat() if isinstance(value, date) else str(value).strip()
    limit = TEXT_LIMITS.get(key)
    if limit and len(value) > limit:
        problems.append(where.problem(name, f"longer than {limit} characters ({len(value)})"))
    return value


def _urn(raw, key, where, problems, *, required=True, path="") -> str:
    value = _text(raw, key, where, problems, required=required, path=path)
    if value and not _URN.fullmatch(value):
        problems.append(where.problem(f"{path}{key}", f"{inputs.shown(value)} is not a URN (write it like "
                                                      "urn:andon:framework:cms-cop-482:482.21(a), without spaces)"))
        return ""
    return value


def _flag(raw, key, where, problems, *, path="") -> bool:
    value = raw.get(key)
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if isinstance(value, str | int) and str(value).strip().lower() in words:
        return words[str(value).strip().lower()]
    problems.append(where.problem(f"{path}{key}", f"expected true or false, found {inputs.shown(str(value))}"))
    return True


def _hints(raw, key, where, problems, *, path="") -> list[str]:
    value = raw.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):  # a spreadsheet cell: separated by "|" or new lines
        return [part.strip() for part in re.split(r"\||\n", value) if part.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    problems.append(where.problem(f"{path}{key}", "expected a list of texts"))
    return []


def _unknown(raw: dict, allowed: set, where_of, problems, path="") -> None:
    for key in raw:
        if key not in allowed:
            problems.append(where_of(key).problem(f"{path}{key}", f"unknown field (fields: {', '.join(sorted(allowed))})"))


def _choice(raw, key, choices, where, problems, *, default=None, path="") -> str:
    value = _text(raw, key, where, problems, required=default is None, path=path)
    if not value:
        return default or ""
    if value not in choices:
        problems.append(where.problem(f"{path}{key}", f"{inputs.shown(value)} is not one of {', '.join(choices)}"))
    return value


def _day(raw, key, where, problems) -> date | None:
    value = raw.get(key)
    if value in (None, ""):
        return None
    try:
        found = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
        return inputs.day(found)
    except (ValueError, inputs.InputError):
        problems.append(where.problem(key, f"{inputs.shown(str(value))} is not a date (write it as YYYY-MM-DD)"))
        return None


def check_framework_fields(raw: dict, where_of, problems: list) -> dict:
    """The framework's own fields (urn, name, kind, …), from a file's `framework:` or a form."""
    _unknown(raw, FRAMEWORK_FIELDS, where_of, problems, "framework.")
    p = "framework."
    return {
        "urn": _urn(raw, "urn", where_of("urn"), problems, path=p),
        "name": _text(raw, "name", where_of("name"), problems, required=True, path=p),
        "kind": _choice(raw, "kind", FrameworkKind.values, where_of("kind"), problems, path=p),
        "publisher": _text(raw, "publisher", where_of("publisher"), problems, path=p),
        "source_url": _source_url(raw, where_of("source_url"), problems),
        "version": _text(raw, "version", where_of("version"), problems, required=True, path=p),
        "effective_on": _day(raw, "effective_on", where_of("effective_on"), problems),
        "description": _text(raw, "description", where_of("description"), problems, path=p),
    }


def _source_url(raw, where, problems) -> str:
    value = _text(raw, "source_url", where, problems, path="framework.")
    if value and not re.fullmatch(r"https?://[^\s]+", value):
        problems.append(where.problem("framework.source_url", f"{inputs.shown(value)} is not a web address (http or https)"))
        return ""
    return value


def check_requirement(raw, where: Where, problems: list, *, parent: str | None, path="") -> RequirementSpec | None:
    """One requirement's fields; `parent` is where it is nested (None at the top, where a
    `parent` field may name it instead)."""
    if not isinstance(raw, dict):
        problems.append(where.problem(path.rstrip("."), f"expected a requirement (a mapping), found {type(raw).__name__}"))
        return None
    where_of = (lambda key: Where(where.source, _line(raw, key), where.sheet, where.unit)) if isinstance(raw, _Located) \
        else (lambda key: where)
    _unknown(raw, REQUIREMENT_FIELDS, where_of, problems, path)
    if parent is not None and raw.get("parent") not in (None, "", parent):
        problems.append(where_of("parent").problem(f"{path}parent", "a nested requirement's parent is the one it is "
                                                                     "written under; leave parent out"))
    named_parent = _urn(raw, "parent", where_of("parent"), problems, required=False, path=path) if parent is None else ""
    return RequirementSpec(
        urn=_urn(raw, "urn", where_of("urn"), problems, path=path),
        parent=parent or named_parent or None,
        citation=_text(raw, "citation", where_of("citation"), problems, path=path),
        title=_text(raw, "title", where_of("title"), problems, required=True, path=path),
        summary=_text(raw, "summary", where_of("summary"), problems, path=path),
        guidance=_text(raw, "guidance", where_of("guidance"), problems, path=path),
        evidence_hints=_hints(raw, "evidence_hints", where_of("evidence_hints"), problems, path=path),
        assessable=_flag(raw, "assessable", where_of("assessable"), problems, path=path),
        where=where,
        parent_where=where_of("parent"),
    )


def check_tree_of(requirements: list[RequirementSpec], problems: list) -> list[RequirementSpec]:
    """Duplicate URNs, parents that are missing, cycles through `parent`, too deep a tree; the
    requirements in depth-first order (siblings as written) when all is well."""
    by_urn: dict[str, RequirementSpec] = {}
    for item in requirements:
        if not item.urn:
            continue
        if item.urn in by_urn:
            first = by_urn[item.urn].where
            problems.append(item.where.problem("urn", f"{item.urn} appears twice (first at {first.unit} {first.line})"))
        else:
            by_urn[item.urn] = item
    for item in requirements:
        if item.parent and item.parent not in by_urn:
            problems.append(item.at_parent().problem("parent", f"no requirement {item.parent} in this file"))
    for item in by_urn.values():
        if _in_cycle(item, by_urn):
            problems.append(item.at_parent().problem("parent", f"{item.urn} is its own ancestor (a cycle through parent)"))
    if problems:
        return []
    children: dict[str | None, list[RequirementSpec]] = {}
    for item in by_urn.values():
        children.setdefault(item.parent, []).append(item)
    ordered, stack = [], [(item, 0) for item in reversed(children.get(None, []))]
    while stack:
        item, depth = stack.pop()
        if depth >= MAX_DEPTH:
            problems.append(item.where.problem("parent", f"more than {MAX_DEPTH} levels deep"))
            return []
        ordered.append(item)
        stack.extend((child, depth + 1) for child in reversed(children.get(item.urn, [])))
    return ordered


def _in_cycle(item: RequirementSpec, by_urn: dict) -> bool:
    seen, current = {item.urn}, item
    while current.parent and current.parent in by_urn:
        if current.parent in seen:
            return current.parent == item.urn
        seen.add(current.parent)
        current = by_urn[current.parent]
    return False


def check_mapping(raw, where: Where, problems: list, path="") -> MappingSpec | None:
    if not isinstance(raw, dict):
        problems.append(where.problem(path.rstrip("."), f"expected a mapping, found {type(raw).__name__}"))
        return None
    where_of = (lambda key: Where(where.source, _line(raw, key), where.sheet, where.unit)) if isinstance(raw, _Located) \
        else (lambda key: where)
    _unknown(raw, MAPPING_FIELDS, where_of, problems, path)
    return MappingSpec(
        source=_urn(raw, "source", where_of("source"), problems, path=path),
        target=_urn(raw, "target", where_of("target"), problems, path=path),
        relation=_choice(raw, "relation", MappingRelation.values, where_of("relation"), problems,
                         default=MappingRelation.EQUAL, path=path),
        note=_text(raw, "note", where_of("note"), problems, path=path),
        where=where,
        field_where={"source": where_of("source"), "target": where_of("target")},
    )


def check_mappings_known(mappings: list[MappingSpec], own_urns: set[str], problems: list) -> None:
    """Both ends of every mapping must be a requirement of some loaded framework (or of the file)."""
    wanted = {urn for m in mappings for urn in (m.source, m.target) if urn} - own_urns
    known = set(Requirement.objects.filter(urn__in=wanted).values_list("urn", flat=True).distinct()) if wanted else set()
    seen = {}
    for mapping in mappings:
        for end in ("source", "target"):
            urn = getattr(mapping, end)
            if urn and urn not in own_urns and urn not in known:
                problems.append(mapping.field_where.get(end, mapping.where).problem(end, f"no loaded framework has a requirement {urn}"))
        if mapping.source and mapping.source == mapping.target:
            problems.append(mapping.where.problem("target", "a requirement cannot be mapped to itself"))
        pair = (mapping.source, mapping.target)
        if pair in seen:
            problems.append(mapping.where.problem("target", f"this mapping is given twice (first at "
                                                            f"{seen[pair].unit} {seen[pair].line})"))
        seen.setdefault(pair, mapping.where)


# --- whole files -----------------------------------------------------------------------------------

def parse_framework_yaml(document, source: str) -> FrameworkSpec:
    """A framework document (as read by read_yaml) checked; FrameworkFileError with every problem."""
    problems: list[Problem] = []
    top = Where(source, _line(document))
    if not isinstance(document, dict):
        raise FrameworkFileError([top.problem("", "expected a mapping with framework: and requirements:")])
    _unknown(document, {"framework", "requirements", "mappings"}, lambda k: Where(source, _line(document, k)), problems)
    raw = document.get("framework")
    if not isinstance(raw, dict):
        problems.append(Where(source, _line(document, "framework")).problem("framework", "required: a mapping of the "
                                                                                          "framework's urn, name, kind, version"))
        raw = {}
    fields = check_framework_fields(raw, lambda key: Where(source, _line(raw, key)), problems)
    items = _nested_requirements(document.get("requirements"), Where(source, _line(document, "requirements")), problems)
    mappings = _yaml_mappings(document.get("mappings"), Where(source, _line(document, "mappings")), problems)
    return _finish(fields, items, mappings, Where(source, _line(document, "requirements") or top.line), problems)


def _nested_requirements(value, where: Where, problems) -> list[RequirementSpec]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(where.problem("requirements", f"expected a list, found {type(value).__name__}"))
        return []
    found, stack = [], [(raw, None, f"requirements[{i}].") for i, raw in reversed(list(enumerate(value)))]
    while stack:
        raw, parent, path = stack.pop()
        here = Where(where.source, _line(raw) or where.line)
        item = check_requirement(raw, here, problems, parent=parent, path=path)
        if item is None:
            continue
        found.append(item)
        children = raw.get("children")
        if children is None:
            continue
        if not isinstance(children, list):
            problems.append(Where(where.source, _line(raw, "children")).problem(f"{path}children", "expected a list"))
            continue
        stack.extend((child, item.urn or f"?{path}", f"{path}children[{i}].")
                     for i, child in reversed(list(enumerate(children))))
    return found


def _yaml_mappings(value, where: Where, problems) -> list[MappingSpec]:
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(where.problem("mappings", f"expected a list, found {type(value).__name__}"))
        return []
    found = [check_mapping(raw, Where(where.source, _line(raw) or where.line), problems, f"mappings[{i}].")
             for i, raw in enumerate(value)]
    return [m for m in found if m is not None]


def _finish(fields, items, mappings, where: Where, problems) -> FrameworkSpec:
    if not items and not any(p.field.startswith("requirements") for p in problems):
        problems.append(where.problem("requirements", "the framework has no requirements"))
    ordered = check_tree_of(items, problems) if not problems else []
    if not problems and mappings:
        check_mappings_known(mappings, {item.urn for item in ordered}, problems)
    if not problems:
        _check_urns_are_ours(fields["urn"], ordered, problems)
    if problems:
        raise FrameworkFileError(problems)
    return FrameworkSpec(**fields, requirements=ordered, mappings=mappings)


def _check_urns_are_ours(framework_urn: str, items, problems) -> None:
    """A requirement URN names one framework's requirement for ever: another framework's is refused."""
    taken = dict(Requirement.objects.filter(urn__in=[i.urn for i in items])
                 .exclude(version__framework__urn=framework_urn)
                 .values_list("urn", "version__framework__name").distinct())
    for item in items:
        if item.urn in taken:
            problems.append(item.where.problem("urn", f"{item.urn} already belongs to {taken[item.urn]}"))


def parse_mappings_yaml(document, source: str) -> list[MappingSpec]:
    problems: list[Problem] = []
    if not isinstance(document, dict):
        raise FrameworkFileError([Problem(source, None, "", "expected a mapping with mappings:")])
    _unknown(document, {"mappings", "name"}, lambda k: Where(source, _line(document, k)), problems)
    mappings = _yaml_mappings(document.get("mappings"), Where(source, _line(document, "mappings")), problems)
    if not mappings and not problems:
        problems.append(Where(source, _line(document)).problem("mappings", "the file has no mappings"))
    if not problems:
        check_mappings_known(mappings, set(), problems)
    if problems:
        raise FrameworkFileError(problems)
    return mappings


# --- spreadsheets ----------------------------------------------------------------------------------

def read_csv_rows(text: str, source: str) -> tuple[list[str], list[tuple[int, dict]]]:
    """The header and the rows (numbered as a spreadsheet shows them: the header is row 1)."""
    try:
        rows = uploads.read_csv(text)
    except uploads.SheetError as error:
        raise FrameworkFileError([_unreadable(source, error)]) from None
    return _table(rows, source, "")


def read_xlsx(data: bytes, source: str) -> dict[str, list[list]]:
    """Each sheet's rows of cell values (text, numbers, dates), by sheet name."""
    try:
        return uploads.read_workbook(data)
    except uploads.SheetError as error:
        raise FrameworkFileError([_unreadable(source, error)]) from None


def _unreadable(source: str, error) -> Problem:
    return Problem(source, error.row, "", error.reason, error.sheet, "row")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    return value if isinstance(value, str) else str(value)


def _table(rows: list[list], source: str, sheet: str) -> tuple[list[str], list[tuple[int, dict]]]:
    if not rows:
        return [], []
    header = [str(_cell(name)).strip().lower() for name in rows[0]]
    table = []
    for number, row in enumerate(rows[1:], start=2):
        values = [_cell(v) for v in row]
        if not any(str(v).strip() for v in values):
            continue  # a blank line
        record = {name: str(values[i]).strip() if i < len(values) else "" for i, name in enumerate(header) if name}
        extra = [str(v) for v in values[len(header):] if str(v).strip()]
        if extra:
            record["\x00extra"] = extra
        table.append((number, record))
    return header, table


def _check_header(header, expected, required, source, sheet, problems) -> None:
    where = Where(source, 1, sheet, "row")
    if not header:
        problems.append(where.problem("", "the sheet is empty (a header row is expected: " + ", ".join(expected) + ")"))
        return
    for name in header:
        if name and name not in expected:
            problems.append(where.problem(name, f"unknown column (columns: {', '.join(expected)})"))
    for name in required:
        if name not in header:
            problems.append(where.problem(name, "this column is required"))


def _rows_as_requirements(header, rows, source, sheet, problems) -> list[RequirementSpec]:
    _check_header(header, COLUMNS, ("urn", "title"), source, sheet, problems)
    found = []
    for number, record in rows:
        where = Where(source, number, sheet, "row")
        if "\x00extra" in record:
            problems.append(where.problem("", "more cells than the header has columns"))
        record = {k: v for k, v in record.items() if k in COLUMNS}
        item = check_requirement(record, where, problems, parent=None)
        if item is not None:
            found.append(item)
    return found


def _rows_as_mappings(header, rows, source, sheet, problems) -> list[MappingSpec]:
    _check_header(header, MAPPING_COLUMNS, ("source", "target"), source, sheet, problems)
    found = []
    for number, record in rows:
        where = Where(source, number, sheet, "row")
        if "\x00extra" in record:
            problems.append(where.problem("", "more cells than the header has columns"))
        found.append(check_mapping({k: v for k, v in record.items() if k in MAPPING_COLUMNS}, where, problems))
    return [m for m in found if m is not None]


def _xlsx_framework_sheet(rows: list[list], source: str, problems) -> tuple[dict, dict]:
    """The "framework" sheet: one field and its value a row (field, value)."""
    raw, lines = {}, {}
    for number, row in enumerate(rows, start=1):
        cells = [_cell(v) for v in row] + ["", ""]
        key, value = str(cells[0]).strip().lower(), cells[1]
        if not key or (number == 1 and key == "field"):
            continue
        raw[key], lines[key] = (value.strip() if isinstance(value, str) else value), number
    return raw, lines


def parse_spreadsheet(kind: str, data: bytes, source: str, metadata: dict) -> FrameworkSpec:
    """A flat framework (one row per requirement) from CSV or XLSX. The framework's fields come
    from `metadata` (the form or the API), where given, else from an XLSX "framework" sheet."""
    problems: list[Problem] = []
    lines: dict = {}
    sheet_name = ""
    if kind == "csv":
        header, rows = read_csv_rows(_as_text(data, source), source)
    else:
        sheets = read_xlsx(data, source)
        sheet_name = _requirements_sheet(sheets, source)
        header, rows = _table(sheets[sheet_name], source, sheet_name)
        if "framework" in sheets:
            from_sheet, lines = _xlsx_framework_sheet(sheets["framework"], source, problems)
            metadata = {**from_sheet, **{k: v for k, v in metadata.items() if v not in (None, "")}}
    metadata = {k: v for k, v in metadata.items() if v not in (None, "")}
    fields = check_framework_fields(
        metadata, lambda key: Where(source, lines.get(key), "framework", "row") if key in lines else Where(source, None),
        problems)
    items = _rows_as_requirements(header, rows, source, sheet_name, problems)
    return _finish(fields, items, [], Where(source, None, sheet_name, "row"), problems)


def _requirements_sheet(sheets: dict, source: str) -> str:
    if "requirements" in sheets:
        return "requirements"
    others = [name for name in sheets if name != "framework"]
    if not others:
        raise FrameworkFileError([Problem(source, None, "", "the workbook has no sheet of requirements")])
    return others[0]


def parse_mappings_spreadsheet(kind: str, data: bytes, source: str) -> list[MappingSpec]:
    problems: list[Problem] = []
    if kind == "csv":
        sheet, (header, rows) = "", read_csv_rows(_as_text(data, source), source)
    else:
        sheets = read_xlsx(data, source)
        sheet = "mappings" if "mappings" in sheets else next(iter(sheets), "")
        header, rows = _table(sheets.get(sheet, []), source, sheet)
    mappings = _rows_as_mappings(header, rows, source, sheet, problems)
    if not mappings and not problems:
        problems.append(Problem(source, None, "", "the file has no mappings"))
    if not problems:
        check_mappings_known(mappings, set(), problems)
    if problems:
        raise FrameworkFileError(problems)
    return mappings


def _as_text(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_FILE_BYTES:
        raise FrameworkFileError([Problem(source, None, "", f"larger than {MAX_FILE_BYTES:,} bytes")])
    try:
        return inputs.utf8_text(data)
    except inputs.InputError as error:
        raise FrameworkFileError([Problem(source, None, "", str(error))]) from None


# --- storing ---------------------------------------------------------------------------------------

@transaction.atomic
def store_framework(spec: FrameworkSpec, *, source_name: str, user=None) -> ImportOutcome:
    """Write a checked framework: a new version made current (the old ones kept, with every
    assessment made against them), or nothing when this version is already loaded unchanged."""
    digest = spec.digest()
    framework = Framework.objects.select_for_update().filter(urn=spec.urn).first()
    if framework is not None:
        same = framework.versions.filter(version=spec.version).first()
        if same is not None:
            if same.sha256 != digest:
                raise FrameworkFileError([Problem(source_name, None, "framework.version",
                                                  f"version {spec.version} of {framework.name} is already loaded with "
                                                  "other content; give the changed file a new version")])
            return ImportOutcome(same, created=False, mappings=_store_mappings(spec.mappings, source_name))
    framework = _upsert_framework(framework, spec)
    previous = framework.versions.filter(is_current=True).first()
    framework.versions.filter(is_current=True).update(is_current=False)
    version = FrameworkVersion.objects.create(
        framework=framework, version=spec.version, effective_on=spec.effective_on, is_current=True,
        previous=previous, source_name=source_name[:300], sha256=digest, loaded_by=user)
    _store_requirements(version, spec.requirements, previous)
    return ImportOutcome(version, created=True, mappings=_store_mappings(spec.mappings, source_name))


def _upsert_framework(framework, spec) -> Framework:
    values = {"name": spec.name, "kind": spec.kind, "publisher": spec.publisher, "source_url": spec.source_url,
              "description": spec.description}
    if framework is None:
        return Framework.objects.create(urn=spec.urn, **values)
    if any(getattr(framework, k) != v for k, v in values.items()):
        for key, value in values.items():
            setattr(framework, key, value)
        framework.save()
    return framework


def _store_requirements(version, specs: list[RequirementSpec], previous) -> None:
    """One insert per level of the tree, so each level's parents already have their ids."""
    before = {r["urn"]: r for r in _comparable(previous)} if previous else {}
    created: dict[str, Requirement] = {}
    depth_of: dict[str, int] = {}
    levels: dict[int, list[Requirement]] = {}
    for position, spec in enumerate(specs):
        depth = depth_of[spec.urn] = depth_of[spec.parent] + 1 if spec.parent else 0
        row = Requirement(version=version, urn=spec.urn, depth=depth, position=position, citation=spec.citation,
                          title=spec.title, summary=spec.summary, guidance=spec.guidance,
                          evidence_hints=spec.evidence_hints, assessable=spec.assessable,
                          change=_change_of(spec, before.get(spec.urn), previous))
        created[spec.urn] = row
        levels.setdefault(depth, []).append((spec, row))
    for depth in sorted(levels):
        for spec, row in levels[depth]:
            if spec.parent:
                row.parent = created[spec.parent]
                row.chapter_id = row.parent.chapter_id if depth > 1 else row.parent.pk
        Requirement.objects.bulk_create([row for _, row in levels[depth]])
        if depth == 0:
            Requirement.objects.filter(version=version, depth=0).update(chapter_id=F("pk"))
            for _, row in levels[0]:
                row.chapter_id = row.pk


def _change_of(spec: RequirementSpec, old: dict | None, previous) -> str:
    if previous is None or old is None:
        return Change.NEW
    new = {"parent": spec.parent, "citation": spec.citation, "title": spec.title, "summary": spec.summary,
           "guidance": spec.guidance, "evidence_hints": spec.evidence_hints, "assessable": spec.assessable}
    return Change.UNCHANGED if all(new[k] == old[k] for k in COMPARED) else Change.CHANGED


def _comparable(version) -> list[dict]:
    rows = version.requirements.values("urn", "parent__urn", *COMPARED[1:])
    return [{**row, "parent": row.pop("parent__urn")} for row in rows]


def _store_mappings(mappings: list[MappingSpec], source_name: str) -> int:
    for mapping in mappings:
        RequirementMapping.objects.update_or_create(
            source_urn=mapping.source, target_urn=mapping.target,
            defaults={"relation": mapping.relation, "note": mapping.note, "source_name": source_name[:300]})
    return len(mappings)


# --- services: loading -----------------------------------------------------------------------------

def load_framework_text(text: str, source: str, *, user=None) -> ImportOutcome:
    """Load a framework YAML (content files, the demo, tests); FrameworkFileError on any problem."""
    return store_framework(parse_framework_yaml(read_yaml(text, source), source), source_name=source, user=user)


@transaction.atomic
def load_mappings_text(text: str, source: str) -> int:
    return _store_mappings(parse_mappings_yaml(read_yaml(text, source), source), source)


def _content_loader(data, source: str) -> None:
    """`andon load-content`: content/frameworks/*.yaml. The platform has read the file already;
    it is read again here for the line numbers a problem names. A file with `framework:` is a
    framework (which may carry `mappings:`), one with only `mappings:` is a mappings file."""
    text = Path(source).read_text(encoding="utf-8")
    if isinstance(data, dict) and "framework" not in data and "mappings" in data:
        load_mappings_text(text, source)
    else:
        load_framework_text(text, source)


def _parse_upload(what: str, fmt: str, data: bytes | str, source: str, metadata: dict):
    if fmt not in FORMATS:
        raise FrameworkFileError([Problem(source, None, "format", f"{inputs.shown(fmt)} is not one of {', '.join(FORMATS)}")])
    if fmt == "yaml":
        document = read_yaml(_as_text(data, source), source)
        if what == "mappings":
            return parse_mappings_yaml(document, source)
        if metadata:
            raise FrameworkFileError([Problem(source, None, "", "a YAML file names its framework under framework:; "
                                                                "leave the framework's fields out")])
        return parse_framework_yaml(document, source)
    if what == "mappings":
        return parse_mappings_spreadsheet(fmt, data if isinstance(data, bytes) else data.encode(), source)
    return parse_spreadsheet(fmt, data if isinstance(data, bytes) else data.encode(), source, metadata)


@audit.changes_by_user
def import_framework(user, data: bytes | str, fmt: str, source_name: str, metadata: dict | None = None) -> ImportOutcome:
    """A framework uploaded or posted by a person: checked whole, then stored in one transaction.
    FrameworkFileError (a ValidationError's sibling: see `as_validation_error`) lists every problem."""
    permissions.check(user, "compliance.manage_frameworks")
    spec = _parse_upload("framework", fmt, data, source_name, metadata or {})
    return store_framework(spec, source_name=source_name, user=user)


@audit.changes_by_user
def import_mappings(user, data: bytes | str, fmt: str, source_name: str) -> int:
    """Mappings between two frameworks' requirements (YAML `mappings:`, or CSV/XLSX columns
    source, target, relation, note); both ends must be loaded requirements."""
    permissions.check(user, "compliance.manage_frameworks")
    mappings = _parse_upload("mappings", fmt, data, source_name, {})
    with transaction.atomic():
        return _store_mappings(mappings, source_name)


def as_validation_error(error: FrameworkFileError) -> ValidationError:
    return ValidationError([str(problem) for problem in error.problems])


# --- services: reading -----------------------------------------------------------------------------

def mapped_urns(urn: str) -> set[str]:
    """The URNs whose evidence shows against `urn` through mappings: the source of any mapping
    onto it (evidence for the source serves the target), and the target of an `equal` mapping
    from it (equivalence works both ways). Not `urn` itself."""
    rows = RequirementMapping.objects.filter(
        Q(target_urn=urn) | Q(source_urn=urn, relation=MappingRelation.EQUAL)).values_list("source_urn", "target_urn")
    return {source if target == urn else target for source, target in rows} - {urn}


@dataclass
class MappedRequirement:
    mapping: RequirementMapping
    other_urn: str
    direction: str  # "from": the other's evidence shows here; "to": this one's evidence shows there
    requirement: Requirement | None  # the other end in its framework's current version, if loaded

    @property
    def evidence_shows_here(self) -> bool:
        return self.direction == "from" or self.mapping.relation == MappingRelation.EQUAL


def mappings_of(urn: str) -> list[MappedRequirement]:
    """Every mapping touching `urn`, for display: the other requirement (current version) and
    which way evidence flows."""
    rows = list(RequirementMapping.objects.filter(Q(source_urn=urn) | Q(target_urn=urn)).order_by("pk"))
    others = {m.source_urn if m.target_urn == urn else m.target_urn for m in rows}
    current = {r.urn: r for r in current_requirements(others)}
    return [MappedRequirement(m, other, "from" if m.target_urn == urn else "to", current.get(other))
            for m in rows for other in [m.source_urn if m.target_urn == urn else m.target_urn]]


def current_requirements(urns) -> list[Requirement]:
    """The requirements with these URNs in their framework's current version."""
    return list(Requirement.objects.filter(urn__in=list(urns), version__is_current=True)
                .select_related("version__framework"))


def requirement_by_urn(urn: str) -> Requirement | None:
    """The requirement with this URN in its framework's current version (None when not loaded)."""
    return Requirement.objects.filter(urn=urn, version__is_current=True).select_related("version__framework").first()


def requirement_url(requirement: Requirement | int) -> str:
    """The page of one requirement, for other subjects to link to."""
    return reverse("compliance:requirement", args=[getattr(requirement, "pk", requirement)])


def access_framework_version(user, version_id: int, capability: str = "compliance.view") -> FrameworkVersion:
    return permissions.fetch_checked(user, capability, FrameworkVersion.objects.select_related("framework", "previous"),
                                     pk=version_id)


def access_requirement(user, requirement_id: int, capability: str = "compliance.view") -> Requirement:
    return permissions.fetch_checked(
        user, capability, Requirement.objects.select_related("version__framework", "parent", "chapter"),
        pk=requirement_id)


def frameworks_with_counts():
    """Every framework with its versions (newest first), each version's requirement counts."""
    versions = (FrameworkVersion.objects.select_related("framework", "loaded_by")
                .annotate(total=Count("requirements"), assessable=Count("requirements", filter=Q(requirements__assessable=True)),
                          chapters=Count("requirements", filter=Q(requirements__depth=0)),
                          changed=Count("requirements", filter=~Q(requirements__change=Change.UNCHANGED)))
                .order_by("framework__name", "-loaded_at", "-pk"))
    library: dict[int, dict] = {}
    for version in versions:
        entry = library.setdefault(version.framework_id, {"framework": version.framework, "current": None, "older": []})
        if version.is_current:
            entry["current"] = version
        else:
            entry["older"].append(version)
    return list(library.values())


@dataclass
class TreeNode:
    requirement: Requirement
    children: list["TreeNode"] = field(default_factory=list)
    matches: bool = False  # the filter's words are in its citation, title or summary
    shown: bool = True  # it matches, or something below it does (or there is no filter)


def version_tree(version: FrameworkVersion, query: str = "") -> list[TreeNode]:
    """The version's chapters, each with its requirements nested; with a query, only the
    requirements whose citation, title or summary hold every word of it, and their ancestors."""
    words = [word.casefold() for word in query.split()][:10]
    nodes: dict[int, TreeNode] = {}
    chapters = []
    for row in version.requirements.order_by("position"):
        text = f"{row.citation} {row.title} {row.summary}".casefold()
        node = nodes[row.pk] = TreeNode(row, matches=bool(words) and all(w in text for w in words), shown=not words)
        if row.parent_id is None:
            chapters.append(node)
        else:
            nodes[row.parent_id].children.append(node)
    if words:
        for node in reversed(list(nodes.values())):  # depth-first order reversed: children before parents
            node.shown = node.matches or any(child.shown for child in node.children)
            node.children = [child for child in node.children if child.shown]
        chapters = [chapter for chapter in chapters if chapter.shown]
    return chapters


def ancestors_of(requirement: Requirement) -> list[Requirement]:
    """From the chapter down to the requirement's parent."""
    found, current = [], requirement.parent
    while current is not None:
        found.append(current)
        current = current.parent
    return found[::-1]


# --- comparing versions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldChange:
    field: str
    before: object
    after: object


@dataclass
class VersionChanges:
    old: FrameworkVersion
    new: FrameworkVersion
    added: list[Requirement]
    removed: list[Requirement]
    changed: list[tuple[Requirement, Requirement, list[FieldChange]]]  # (old, new, what changed)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def field_changes(old: dict, new: dict) -> list[FieldChange]:
    return [FieldChange(key, old[key], new[key]) for key in COMPARED if old[key] != new[key]]


def version_changes(old: FrameworkVersion, new: FrameworkVersion) -> VersionChanges:
    """What `new` adds, removes and changes against `old`, requirement by URN, with the fields
    that changed (before and after). The two must be versions of one framework."""
    if old.framework_id != new.framework_id:
        raise ValidationError("Only two versions of one framework can be compared.")
    before = {row["urn"]: row for row in _comparable(old)}
    after = {row["urn"]: row for row in _comparable(new)}
    rows = {(r.version_id, r.urn): r for r in Requirement.objects.filter(version__in=[old, new])
            .select_related("parent").order_by("position")}
    changed = []
    for urn, row in after.items():
        if urn in before:
            diff = field_changes(before[urn], row)
            if diff:
                changed.append((rows[(old.pk, urn)], rows[(new.pk, urn)], diff))
    return VersionChanges(
        old=old, new=new,
        added=sorted((rows[(new.pk, u)] for u in after.keys() - before.keys()), key=lambda r: r.position),
        removed=sorted((rows[(old.pk, u)] for u in before.keys() - after.keys()), key=lambda r: r.position),
        changed=sorted(changed, key=lambda c: c[1].position),
    )


def changes_of(requirement: Requirement) -> list[FieldChange] | None:
    """How this requirement differs from the same URN in the version before its own (None: no
    previous version, or the URN is new in this one)."""
    previous = requirement.version.previous
    if previous is None:
        return None
    old = next(iter(r for r in _comparable_of(previous, requirement.urn)), None)
    if old is None:
        return None
    return field_changes(old, next(iter(_comparable_of(requirement.version, requirement.urn))))


def _comparable_of(version, urn):
    rows = version.requirements.filter(urn=urn).values("urn", "parent__urn", *COMPARED[1:])
    return [{**row, "parent": row.pop("parent__urn")} for row in rows]


def connect() -> None:
    """Registries of this subject (audit, history, navigation, work, content, demo), from ready()."""
    from . import demo_frameworks

    # Requirements are content rows, written once per version and never edited: the version's
    # own entry (who loaded which file, its digest) records the load; one entry per requirement
    # would add hundreds of rows a load and tell nothing more.
    audit.register(Framework)
    audit.register(FrameworkVersion)
    audit.register(RequirementMapping)
    history.register(FrameworkVersion, labels={"sha256": "Content digest"})
    navigation.add(navigation.NavEntry("Frameworks", "compliance:frameworks", "compliance.view", "journal-check"))
    content.register_loader("frameworks", _content_loader)
    demo_frameworks.connect()
