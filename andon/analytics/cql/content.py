"""Measure content laid out like the CMS packages: `libraries/` (ELM), `measures/` (FHIR
Measure resources), `valuesets/` (ValueSets with expansions) and `tests/<Measure>/<case>/`
(a patient's resources and a MeasureReport with the expected populations).

Several folders can be given; their contents are merged (a library or value set found twice
with different contents is an error, not a silent choice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import strict_json
from .elm import ELMError, LibrarySet
from .values import ValueSet


class ContentError(ValueError):
    """Content that cannot be used: the message names the file and what is wrong."""


def _read(path: Path) -> dict:
    try:
        # strict and bounded: value sets nest `contains`, read recursively
        data = strict_json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ContentError(f"{path}: cannot read JSON ({error})") from None
    if not isinstance(data, dict):
        raise ContentError(f"{path}: expected a JSON object")
    return data


def _expansion_codes(contains: list) -> set:
    codes = set()
    for entry in contains or []:
        if entry.get("code") is not None:
            codes.add((entry.get("system"), entry["code"]))
        codes |= _expansion_codes(entry.get("contains"))  # nested (grouped) expansions
    return codes


def _compose_codes(compose: dict) -> set:
    """Codes listed explicitly in `compose.include.concept` (an unexpanded value set)."""
    return {(inc.get("system"), c["code"]) for inc in compose.get("include", []) for c in inc.get("concept", []) if "code" in c}


# Content read once per process: a measure's "why" page, each run and each explained patient
# would otherwise parse every library and value set again (about 2 s for the CMS package). An
# entry is kept while no file it was read from changed (name, size and modification time of each
# `*.json` in the folders read), so content edited or added on disk is read afresh. What the
# loaders return is shared between callers: read it, never change it.
_READ: dict[tuple, tuple[tuple, object]] = {}


def _files_of(folders: list[Path]) -> tuple:
    signature = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            try:
                stat = path.stat()
            except OSError:
                continue  # gone since the listing: the loader says so when it reads
            signature.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(signature)


def _read_once(kind: str, folders: list[Path], load: Callable[[], object]):
    key = (kind, tuple(str(folder.resolve()) for folder in folders))
    signature = _files_of(folders)
    kept = _READ.get(key)
    if kept is not None and kept[0] == signature:
        return kept[1]
    loaded = load()
    _READ[key] = (signature, loaded)
    return loaded


def _valueset_folders(folders) -> list[Path]:
    return [Path(f) / "valuesets" if (Path(f) / "valuesets").is_dir() else Path(f) for f in folders]


def load_valuesets(folders) -> dict[str, ValueSet]:
    """Every ValueSet in the folders' `valuesets/` (or the folders themselves), by URL."""
    where = _valueset_folders(folders)
    return _read_once("valuesets", where, lambda: _read_valuesets(where))


def _read_valuesets(where: list[Path]) -> dict[str, ValueSet]:
    found: dict[str, ValueSet] = {}
    for folder in where:
        for path in sorted(folder.glob("*.json")):
            data = _read(path)
            if data.get("resourceType") != "ValueSet" or not data.get("url"):
                raise ContentError(f"{path}: not a ValueSet with a url")
            codes = _expansion_codes((data.get("expansion") or {}).get("contains")) or _compose_codes(data.get("compose") or {})
            valueset = ValueSet(data["url"], data.get("version"), frozenset(codes))
            other = found.get(data["url"])
            if other is not None and other.codes != valueset.codes:
                raise ContentError(f"{path}: value set {data['url']} differs from one read before")
            found[data["url"]] = valueset
    return found


def load_libraries(folders) -> LibrarySet:
    libraries = [Path(f) / "libraries" for f in folders if (Path(f) / "libraries").is_dir()]
    return _read_once("libraries", libraries, lambda: _read_libraries(libraries))


def _read_libraries(libraries: list[Path]) -> LibrarySet:
    try:
        return LibrarySet.from_folders(libraries)
    except ELMError as error:
        raise ContentError(str(error)) from None


def load_measures(folders) -> dict[str, dict]:
    """Measure resources by name (and by id and url, for the test reports' references)."""
    where = [Path(f) / "measures" for f in folders]
    return _read_once("measures", where, lambda: _read_measures(where))


def _read_measures(where: list[Path]) -> dict[str, dict]:
    measures: dict[str, dict] = {}
    for folder in where:
        for path in sorted(folder.glob("*.json")):
            data = _read(path)
            if data.get("resourceType") != "Measure":
                raise ContentError(f"{path}: not a Measure")
            for key in (data.get("name"), data.get("id"), data.get("url")):
                if key:
                    measures[key] = data
    return measures


@dataclass
class TestCase:
    measure: str  # the folder name under tests/ (the measure's name)
    case: str
    folder: Path
    resources: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)

    @property
    def period(self) -> tuple[str, str]:
        period = self.report.get("period") or {}
        return period.get("start"), period.get("end")

    def expected(self) -> list[dict[str, int]]:
        """Per group, population code → expected count."""
        groups = []
        for group in self.report.get("group", []):
            counts = {}
            for population in group.get("population", []):
                codes = [c.get("code") for c in (population.get("code") or {}).get("coding", [])]
                if codes and population.get("count") is not None:
                    counts[codes[0]] = population["count"]
            groups.append(counts)
        return groups

    @property
    def description(self) -> str:
        for extension in self.report.get("extension", []):
            if extension.get("url", "").endswith("cqfm-testCaseDescription"):
                return extension.get("valueMarkdown", "")
        return ""


def load_cases(folders, measure: str | None = None) -> list[TestCase]:
    cases = []
    for folder in folders:
        tests = Path(folder) / "tests"
        for measure_folder in sorted(p for p in tests.glob("*") if p.is_dir()):
            if measure is not None and measure_folder.name != measure:
                continue
            for case_folder in sorted(p for p in measure_folder.iterdir() if p.is_dir()):
                cases.append(read_case(measure_folder.name, case_folder))
    return cases


def read_case(measure: str, folder: Path) -> TestCase:
    case = TestCase(measure, folder.name, folder)
    for path in sorted(folder.glob("*.json")):
        data = _read(path)
        if data.get("resourceType") == "MeasureReport":
            case.report = data
        elif data.get("resourceType") == "Bundle":
            case.resources.extend(e["resource"] for e in data.get("entry", []) if isinstance(e.get("resource"), dict))
        elif "resourceType" in data:
            case.resources.append(data)
        else:
            raise ContentError(f"{path}: not a FHIR resource")
    if not case.report:
        raise ContentError(f"{folder}: no MeasureReport (the expected results)")
    return case


def rename_references(node, ids: dict[str, str]):
    """A copy of a resource (or any part of one) with every `Type/id` reference found in `ids`
    renamed: for copies of test patients under fresh ids (test cases reuse ids)."""
    if isinstance(node, dict):
        return {key: ids[value] if key == "reference" and isinstance(value, str) and value in ids
                else rename_references(value, ids) for key, value in node.items()}
    if isinstance(node, list):
        return [rename_references(v, ids) for v in node]
    return node
