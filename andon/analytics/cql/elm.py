"""ELM libraries: read the JSON the CQL-to-ELM translator publishes, and find libraries and
their includes by name and version.

The published JSON has two quirks a plain `json.load` gets wrong or keeps needlessly:

- A `ChoiceTypeSpecifier` is written as `{"type": "ChoiceTypeSpecifier", "type": [], …}`: the
  key `type` twice. The last value wins in `json.load`, so the node loses its kind. The
  reader keeps the first string `type` (the node's kind).
- `annotation` subtrees hold the CQL source and narrative for people, never evaluated:
  dropped on load (they are most of the file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import strict_json

MAX_DEPTH = 256  # the published CMS libraries nest at most 131 levels


class ELMError(ValueError):
    """A library that cannot be used: the message names the file or library and what is wrong."""


def _object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose first string `type` wins over a repeated one (ChoiceTypeSpecifier)."""
    obj: dict = {}
    for key, value in pairs:
        if key == "annotation":
            continue
        if key == "type" and isinstance(obj.get("type"), str):
            continue
        obj[key] = value
    return obj


def read_json(text: str, where: str) -> dict:
    """A library's JSON, strict (no NaN, no number overflowing to infinity) and nested at most
    MAX_DEPTH levels, so that nothing walking the tree meets Python's recursion limit."""
    try:
        data = strict_json.loads(text, MAX_DEPTH, object_pairs_hook=_object)
    except strict_json.JSONError as error:
        raise ELMError(f"{where}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ELMError(f"{where}: expected a JSON object")
    return data


@dataclass(frozen=True)
class Include:
    alias: str  # the local name (`localIdentifier`)
    name: str  # the library's id: the last segment of the include's path
    version: str | None
    system: str | None = None  # the namespace URL before it, when the path is canonical


@dataclass
class Library:
    """One ELM library: its definitions by name, functions by name (overloads in order)."""

    name: str
    version: str | None
    source: str  # where it was read from, for messages
    system: str | None = None  # the namespace of the identifier (http://ecqi.healthit.gov/ecqms)
    includes: dict[str, Include] = field(default_factory=dict)  # alias -> include
    parameters: dict[str, dict] = field(default_factory=dict)
    codesystems: dict[str, dict] = field(default_factory=dict)
    valuesets: dict[str, dict] = field(default_factory=dict)
    codes: dict[str, dict] = field(default_factory=dict)
    concepts: dict[str, dict] = field(default_factory=dict)
    expressions: dict[str, dict] = field(default_factory=dict)  # ExpressionDef by name
    functions: dict[str, list[dict]] = field(default_factory=dict)  # FunctionDef overloads by name
    usings: dict[str, dict] = field(default_factory=dict)
    # what the engine derives from the (unchanging) ELM once, by purpose, e.g. the definitions each
    # definition refers to (explain.py)
    derived: dict[str, dict] = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str | None]:
        return self.name, self.version

    def __repr__(self) -> str:
        return f"Library({self.name!r}, {self.version!r})"


def _defs(library: dict, section: str, where: str) -> list[dict]:
    found = (library.get(section) or {}).get("def", [])
    if not isinstance(found, list) or not all(isinstance(d, dict) for d in found):
        raise ELMError(f"{where}: {section}.def is not a list of objects")
    return found


def _by_name(defs: list[dict], where: str, section: str, key: str = "name") -> dict[str, dict]:
    named = {}
    for d in defs:
        name = d.get(key)
        if not isinstance(name, str):
            raise ELMError(f"{where}: a {section} definition has no {key}")
        named[name] = d
    return named


def parse_library(data: dict, source: str = "<memory>") -> Library:
    """A Library from ELM JSON (`{"library": {…}}`); ELMError says what is missing."""
    library = data.get("library")
    if not isinstance(library, dict):
        raise ELMError(f"{source}: not an ELM library (no 'library' object)")
    identifier = library.get("identifier") or {}
    name = identifier.get("id")
    if not isinstance(name, str) or not name:
        raise ELMError(f"{source}: the library has no identifier.id")
    where = f"{source} ({name})"
    lib = Library(name=name, version=identifier.get("version"), source=source, system=identifier.get("system"))
    for include in _defs(library, "includes", where):
        alias, path = include.get("localIdentifier"), include.get("path")
        if not isinstance(alias, str) or not isinstance(path, str):
            raise ELMError(f"{where}: an include needs localIdentifier and path")
        system, _, bare = path.rpartition("/")
        lib.includes[alias] = Include(alias, bare, include.get("version"), system or None)
    lib.usings = _by_name(_defs(library, "usings", where), where, "using", "localIdentifier")
    lib.parameters = _by_name(_defs(library, "parameters", where), where, "parameter")
    lib.codesystems = _by_name(_defs(library, "codeSystems", where), where, "code system")
    lib.valuesets = _by_name(_defs(library, "valueSets", where), where, "value set")
    lib.codes = _by_name(_defs(library, "codes", where), where, "code")
    lib.concepts = _by_name(_defs(library, "concepts", where), where, "concept")
    for statement in _defs(library, "statements", where):
        name_ = statement.get("name")
        if not isinstance(name_, str):
            raise ELMError(f"{where}: a statement has no name")
        if statement.get("type") == "FunctionDef":
            lib.functions.setdefault(name_, []).append(statement)
        else:
            lib.expressions[name_] = statement
    return lib


def load_library(path: str | Path) -> Library:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ELMError(f"{path}: cannot read ({error})") from None
    return parse_library(read_json(text, str(path)), str(path))


class LibrarySet:
    """The libraries found in some folders, by (name, version); includes resolved on demand.

    A library asked for without a version, or with one no file has, is an error rather than a
    silent stand-in: a measure run against other logic than it was published with is wrong."""

    def __init__(self, libraries: list[Library] | None = None):
        self._by_key: dict[tuple[str, str | None], Library] = {}
        for library in libraries or []:
            self.add(library)

    def add(self, library: Library) -> None:
        other = self._by_key.get(library.key)
        if other is not None and other.source != library.source:
            raise ELMError(f"library {library.name} version {library.version} is in both {other.source} and {library.source}")
        self._by_key[library.key] = library

    @classmethod
    def from_folders(cls, folders) -> LibrarySet:
        """Every `*.json` ELM library in the folders (not recursive)."""
        found = cls()
        for folder in folders:
            for path in sorted(Path(folder).glob("*.json")):
                found.add(load_library(path))
        return found

    def get(self, name: str, version: str | None = None) -> Library:
        if version is not None:
            library = self._by_key.get((name, version))
            if library is None:
                have = sorted(v or "no version" for n, v in self._by_key if n == name)
                raise ELMError(f"library {name} version {version} not found" + (f" (have: {', '.join(have)})" if have else ""))
            return library
        versions = [lib for (n, _), lib in self._by_key.items() if n == name]
        if len(versions) != 1:
            raise ELMError(f"library {name}: {'not found' if not versions else 'several versions; say which'}")
        return versions[0]

    def included(self, library: Library, alias: str) -> Library:
        include = library.includes.get(alias)
        if include is None:
            raise ELMError(f"{library.name}: no include named {alias}")
        found = self.get(include.name, include.version)
        if include.system and found.system and include.system != found.system:
            raise ELMError(f"{library.name} includes {include.system}/{include.name}; {found.source} is {found.system}/{found.name}")
        return found

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self):
        return iter(self._by_key.values())
