"""SQL-on-FHIR v2 conformance: every test of the specification's suite, run through the engine.

The suite lives outside the checkout (`../shared/conformance/sql-on-fhir-v2/tests/*.json`).
Each test file's resources go into a fresh in-memory store; each test's view runs there, three
ways: over the store as `andon fhir load` leaves it (hashed, with its typed tables: views of
member paths read columns), over the JSON text alone (no typed tables), and through the
command line (`andon fhir load` of the resources as NDJSON, `andon fhir view … --out` Parquet,
an invalid view answered with exit code 2). Rows
are compared as multisets; `expectColumns` checks the column order; `expectError` passes when
the engine raises a clear error (`ViewError`). The results are written in the specification's
`test_report.json` format to `var/conformance/sql-on-fhir-v2/test_report.json`.

Tests the engine does not pass yet are in KNOWN_FAILURES (one place, each with its reason),
marked strict xfail: a test that starts passing fails the run until it is taken off the list.
"""

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from andon.analytics.fhir import sof
from andon.analytics.fhir.sof import engine
from andon.analytics.fhir.sof.testing import store_with

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT.parent / "shared" / "conformance" / "sql-on-fhir-v2"
REPORT = ROOT / "var" / "conformance" / "sql-on-fhir-v2" / "test_report.json"

# "file::title" -> why the engine does not pass it (yet)
KNOWN_FAILURES: dict[str, str] = {}


def _cases():
    if not (SUITE / "tests").is_dir():
        return []
    cases = []
    for path in sorted((SUITE / "tests").glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        for test in suite["tests"]:
            cases.append((path.name, suite, test))
    return cases


CASES = _cases()
RESULTS: dict = {}
_STORES: dict = {}
_JSON_STORES: dict = {}


def params(known: dict[str, str]):
    """The suite's tests as pytest parameters, those in `known` marked strict xfail."""
    if not CASES:
        return [pytest.param(None, None, None, marks=pytest.mark.skip(reason=f"conformance suite not found at {SUITE}"))]
    found = []
    for name, suite, test in CASES:
        case_id = f"{name}::{test['title']}"
        marks = []
        if case_id in known:
            marks.append(pytest.mark.xfail(strict=True, reason=known[case_id]))
        found.append(pytest.param(name, suite, test, id=case_id, marks=marks))
    return found


def _params():
    return params(KNOWN_FAILURES)


def _store(name, suite):
    if name not in _STORES:
        _STORES[name] = store_with(suite["resources"], typed=True)
    return _STORES[name]


def _json_store(name, suite):
    if name not in _JSON_STORES:
        _JSON_STORES[name] = store_with(suite["resources"])
    return _JSON_STORES[name]


def _canonical(value):
    """A row value in a form that compares and hashes (numbers by value, lists as tuples)."""
    if isinstance(value, list):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return ("number", round(float(value), 9))
    return value


def _row(row: dict, columns) -> tuple:
    return tuple((c, _canonical(row.get(c))) for c in columns)


def check(name, suite, test, connection=None):
    """Run one test; raise AssertionError (with the difference) when it does not pass."""
    connection = connection or _store(name, suite)
    if test.get("expectError"):
        with pytest.raises(sof.ViewError):
            sof.run(connection, test["view"])
        return
    compare(sof.run(connection, test["view"]), test)


def compare(table, test):
    """Assert that `table` holds the rows (and columns, and count) the test expects."""
    if "expectColumns" in test:
        assert table.column_names == test["expectColumns"]
    if "expectCount" in test:
        assert table.num_rows == test["expectCount"]
    if "expect" in test:
        expected = test["expect"]
        columns = table.column_names
        if expected:
            assert sorted(columns) == sorted(expected[0]), f"columns {columns} != {list(expected[0])}"
        got = Counter(_row(r, columns) for r in table.to_pylist())
        want = Counter(_row(r, columns) for r in expected)
        assert got == want, f"missing {list((want - got).elements())}, unexpected {list((got - want).elements())}"


@pytest.fixture(scope="module", autouse=True)
def report():
    """Write test_report.json once the module's tests have run."""
    yield RESULTS
    if RESULTS:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(RESULTS, indent=2) + "\n", encoding="utf-8")


@pytest.mark.parametrize(("name", "suite", "test"), _params())
def test_conformance(name, suite, test, report):
    results = report.setdefault(name, {"tests": []})["tests"]
    try:
        check(name, suite, test)
    except BaseException as error:
        results.append({"name": test["title"], "result": {"passed": False, "reason": str(error)[:500]}})
        raise
    results.append({"name": test["title"], "result": {"passed": True}})



@pytest.mark.parametrize(("name", "suite", "test"), _params())
def test_conformance_from_the_json_text(name, suite, test):
    """The same over a store without typed tables: every view reads the JSON text."""
    connection = _json_store(name, suite)
    if not test.get("expectError"):
        assert engine.typed_sql(connection, test["view"]) is None
    check(name, suite, test, connection)


def test_the_typed_store_serves_the_views_of_member_paths():
    """The typed tables are built for the suite's resources and the views of member paths
    read them (so the first run above goes through columns, not only through JSON)."""
    if not CASES:
        pytest.skip(f"conformance suite not found at {SUITE}")
    typed = [f"{name}::{test['title']}" for name, suite, test in CASES
             if not test.get("expectError") and engine.typed_sql(_store(name, suite), test["view"])]
    assert len(typed) >= 26, typed  # 26 of the suite's views at the time of writing
    assert "fn_extension.json::nested extension" in typed
    assert "foreach.json::forEachOrNull: basic" in typed and "row_index.json::%rowIndex with forEach" in typed
    assert "basic.json::basic attribute" in typed


def _files():
    if not CASES:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance suite not found at {SUITE}"))]
    return sorted({name for name, _, _ in CASES})


def _andon(*argv) -> int:
    from andon.cli import main

    return main(list(argv))


@pytest.mark.parametrize("name", _files())
def test_conformance_through_the_command_line(name, tmp_path, capsys):
    """Each file's resources loaded by `andon fhir load` (a resource without an id gets the
    one the in-memory stores give it, its position: the loader quarantines a resource without
    one), each view run by `andon fhir view … --out rows.parquet`."""
    suite = next(s for n, s, _ in CASES if n == name)
    lines = [json.dumps({**r, "id": r.get("id", str(i))}) for i, r in enumerate(suite["resources"])]
    (tmp_path / "resources.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    store_path = str(tmp_path / "fhir.duckdb")
    assert _andon("fhir", "--store", store_path, "load", str(tmp_path / "resources.ndjson"), "--no-progress") == 0
    failures = []
    for k, test in enumerate(suite["tests"]):
        view, out = tmp_path / f"view{k}.json", tmp_path / f"rows{k}.parquet"
        view.write_text(json.dumps(test["view"]), encoding="utf-8")
        code = _andon("fhir", "--store", store_path, "view", str(view), "--out", str(out))
        try:
            if test.get("expectError"):
                assert code == 2, f"exit code {code}, expected 2"
            else:
                assert code == 0, f"exit code {code}: {capsys.readouterr().err}"
                compare(pq.read_table(out), test)
        except AssertionError as error:
            failures.append(f"{test['title']}: {error}")
    assert not failures, failures
