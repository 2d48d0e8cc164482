"""The rows of the permission matrix (tests/test_permission_matrix.py) and where a module's rows
come from.

A module with many pages writes its rows in a file of its own, `tests/matrix_<module>_<subject>.py`,
with any of the dicts `PAGES`, `OBJECT_CASES`, `API` and `SCOPE_CELLS` built from the cases below;
the matrix merges every such file (`module_rows`), so subjects written side by side do not edit
one long file. A row written twice (here and in the matrix, or in two files) is an error."""

import dis
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Case:
    allowed: frozenset | None
    method: str = "get"
    # fixture(user, other) -> (args for reverse, data); `other` is a second person.
    setup: object = None
    data: dict = field(default_factory=dict)


@dataclass
class ApiCase:
    allowed: frozenset
    # setup(user, other, hospital) -> {path parameter: value}
    setup: object = None
    body: dict = field(default_factory=dict)
    # files(hospital) -> {field: uploaded file}: the body and the files go as a multipart form.
    files: object = None
    query: dict = field(default_factory=dict)  # a GET's query parameters


@dataclass
class ScopeCase:
    person: str
    path: str  # formatted with Scoped.ids and, for cases, the kept case ids ("case_rgh-4w")
    status: tuple = (200,)
    shows: tuple = ()  # keys of Scoped.inside
    hides: tuple = ()  # more regexes that must not show (beyond Scoped.outside)
    api: bool = False


def module_rows(tables: dict[str, dict]) -> None:
    """Adds the rows of every tests/matrix_<module>_<subject>.py to `tables` (name -> dict: PAGES,
    OBJECT_CASES, API, SCOPE_CELLS)."""
    for path in sorted(Path(__file__).parent.glob("matrix_*.py")):
        if path.stem == "matrix_kit":
            continue
        module = importlib.import_module(f"tests.{path.stem}")
        for name in tables:
            rows = getattr(module, name, {})
            twice = set(rows) & set(tables[name])
            assert not twice, f"{path.name} writes rows of {name} that are written already: {sorted(twice)}"
            tables[name].update(rows)


def uses_its_person(setup) -> bool:
    """Whether a row's setup reads its first argument (the person of the role asking): an event of
    one's own, a name with one's id. One that does not makes the same records for every role."""
    code = getattr(setup, "__code__", None)
    if code is None or not code.co_argcount or code.co_flags & inspect.CO_VARARGS:
        return True
    person = code.co_varnames[0]
    if person in code.co_cellvars:  # read by a function defined inside it
        return True
    return any(instruction.argval == person or (isinstance(instruction.argval, tuple) and person in instruction.argval)
               for instruction in dis.get_instructions(code)
               if "FAST" in instruction.opname or "DEREF" in instruction.opname)


def sending(setup, data=dict):
    """A row's setup: the records `setup` makes, with the form data `data()` gives (made when the
    cell runs: a date of today). It reads the asking person only where `setup` does, so that a
    setup that does not runs once for the row (`uses_its_person`)."""
    if uses_its_person(setup):
        return lambda user, other: (setup(user, other)[0], data())
    return lambda _user, other: (setup(None, other)[0], data())

