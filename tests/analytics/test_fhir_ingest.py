"""Bulk FHIR ingest: NDJSON, Bundles and JSON folders into the FHIR store; bad input quarantined,
reloads idempotent, newest version kept, each file atomic."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.fuzz import examples
from andon.analytics.fhir import columnar, ingest, store

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SYNTHEA = SHARED / "data" / "synthea-10-patients"
ECQM = SHARED / "conformance" / "ecqm-qicore-2024" / "tests"


def needs(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"shared test data not found at {path} (a sibling checkout of the repository's ../shared)")


@pytest.fixture
def db(tmp_path):
    connection = store.connect(tmp_path / "fhir.duckdb")
    yield connection
    connection.close()


def patient(id_, version=None, last_updated=None, **extra) -> dict:
    resource = {"resourceType": "Patient", "id": id_, **extra}
    meta = {}
    if version is not None:
        meta["versionId"] = str(version)
    if last_updated is not None:
        meta["lastUpdated"] = last_updated
    if meta:
        resource["meta"] = meta
    return resource


def line(resource) -> bytes:
    return json.dumps(resource).encode() + b"\n"


def write(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def snapshot(connection):
    """Everything a load can change, as comparable values."""
    return (
        connection.execute(
            "SELECT count(*), md5(coalesce(string_agg(type || '/' || id || '/' || coalesce(version_id, '') || '/' || resource::VARCHAR, '|' ORDER BY type, id), '')) FROM resources"
        ).fetchone(),
        connection.execute("SELECT count(*) FROM quarantine").fetchone()[0],
        connection.execute("SELECT count(*) FROM loads").fetchone()[0],
    )


def stored(connection, type_, id_):
    row = connection.execute("SELECT resource FROM resources WHERE type = ? AND id = ?", [type_, id_]).fetchone()
    return json.loads(row[0]) if row else None


def quarantined(connection, file=None):
    """{line: reason} of the quarantine (of one file)."""
    rows = connection.execute("SELECT file, line, reason FROM quarantine ORDER BY line").fetchall()
    return {line: reason for f, line, reason in rows if file is None or f == str(file)}


# -- the Synthea export ---------------------------------------------------------------------


@needs(SYNTHEA)
def test_synthea_export_loads_every_line_and_a_reload_changes_nothing(db):
    expected = {}
    for path in SYNTHEA.glob("*.ndjson"):
        with open(path, "rb") as f:
            count = sum(1 for raw in f if raw.strip())
        if path.name[0].isupper():
            expected[path.name.split(".")[0]] = count
    summary = ingest.load_paths(db, [SYNTHEA])
    counts = dict(db.execute("SELECT type, count(*) FROM resources GROUP BY type").fetchall())
    assert counts == expected
    assert {t: c.added for t, c in summary.by_type.items() if c.added} == expected
    # log.ndjson is the export's log, not resources: its lines are quarantined, not lost.
    assert set(quarantined(db, SYNTHEA / "log.ndjson").values()) == {"missing resourceType"}

    before = snapshot(db)
    again = ingest.load_paths(db, [SYNTHEA])
    assert again.total.added == again.total.updated == 0
    assert again.total.unchanged == sum(expected.values())
    assert snapshot(db)[0] == before[0]


def test_newest_version_wins(db, tmp_path):
    f = tmp_path / "Patient.ndjson"
    ingest.load_paths(db, [write(f, line(patient("p1", 2, gender="male")), line(patient("p2")))])
    summary = ingest.load_paths(db, [write(f, line(patient("p1", 3, gender="female")), line(patient("p2", active=True)))])
    assert (summary.total.updated, summary.total.unchanged) == (2, 0)
    assert stored(db, "Patient", "p1")["gender"] == "female"
    assert stored(db, "Patient", "p2")["active"] is True  # no version: the later load wins

    summary = ingest.load_paths(db, [write(f, line(patient("p1", 1, gender="other")))])
    assert (summary.total.updated, summary.total.unchanged) == (0, 1)
    assert stored(db, "Patient", "p1")["gender"] == "female"

    # versionIds compare as numbers: 10 is newer than 3
    ingest.load_paths(db, [write(f, line(patient("p1", 10, gender="unknown")))])
    assert stored(db, "Patient", "p1")["meta"]["versionId"] == "10"
    # same version, later lastUpdated wins; earlier loses
    ingest.load_paths(db, [write(f, line(patient("p1", 10, "2024-01-02T00:00:00Z", gender="male")))])
    assert stored(db, "Patient", "p1")["gender"] == "male"
    ingest.load_paths(db, [write(f, line(patient("p1", 10, "2024-01-01T00:00:00+00:00", gender="female")))])
    assert stored(db, "Patient", "p1")["gender"] == "male"


def test_identical_resource_with_other_whitespace_is_unchanged(db, tmp_path):
    f = tmp_path / "Patient.ndjson"
    ingest.load_paths(db, [write(f, b'{"resourceType":"Patient","id":"a","active":true}\n')])
    summary = ingest.load_paths(db, [write(f, b'{ "resourceType": "Patient", "id": "a", "active": true }\n')])
    assert summary.total.unchanged == 1


# -- bad input ------------------------------------------------------------------------------


def test_every_kind_of_bad_line_is_quarantined_and_every_good_line_loaded(db, tmp_path):
    good = [patient(f"good-{n}", name=[{"family": "Zoë"}]) for n in range(6)]
    lines = [
        line(good[0]),                                              # 1
        b'{"resourceType": "Patient", "id": "x"\n',                 # 2 invalid JSON
        b"[1, 2, 3]\n",                                             # 3 not an object
        b'{"id": "no-type"}\n',                                     # 4 missing resourceType
        b'{"resourceType": "", "id": "blank-type"}\n',              # 5 blank resourceType
        b'{"resourceType": "Patient"}\n',                           # 6 missing id
        b'{"resourceType": "Patient", "id": ""}\n',                 # 7 blank id
        b'{"resourceType": "Patient", "id": "bad id/with slash"}\n',  # 8 invalid id
        line(patient("x" * 65)),                                    # 9 id too long
        b'{"resourceType": "Observation", "id": "obs"}\n',          # 10 wrong type for the file
        line(good[1]),                                              # 11
        b"\n",                                                      # 12 blank: skipped
        b"\x00\x01\xff\xfe binary \x89PNG\r\n",                     # 13 binary junk
        '{"resourceType": "Patient", "id": "latin", "name": [{"family": "Zoë"}]}\n'.encode("latin-1"),  # 14
        line(good[2]),                                              # 15
        b'{"resourceType": 7, "id": "num-type"}\n',                 # 16 resourceType not a string
        b'{"resourceType": "Patient", "id": 7}\n',                  # 17 id not a string
        b"   \t  \r\n",                                             # 18 blank: skipped
        line(good[3]),                                              # 19
        "{\"resourceType\": \"Patient\", \"id\": \"utf16\"}".encode("utf-16-le") + b"\n",  # 20 wrong encoding
        line(good[4]).rstrip(b"\n") + b"\r\n",                      # 21 CRLF is fine
        line(good[5])[:25],                                         # 22 truncated last line
    ]
    f = write(tmp_path / "Patient.000.ndjson", *lines)
    summary = ingest.load_paths(db, [f])

    reasons = quarantined(db, f)
    assert set(reasons) == {2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 16, 17, 20, 22}
    assert reasons[2] == "invalid JSON"
    assert reasons[3] == "not a JSON object (array)"
    assert reasons[4] == "missing resourceType"
    assert reasons[5] == "blank resourceType"
    assert reasons[6] == "missing id"
    assert reasons[7] == "blank id"
    assert reasons[8].startswith('invalid id "bad id/with slash"')
    assert reasons[9].startswith("invalid id")
    assert reasons[10] == "resourceType Observation in a file of Patient"
    assert reasons[13].startswith("not UTF-8: byte 0xff at byte offset 2")
    assert reasons[14].startswith("not UTF-8: byte 0xeb")
    assert reasons[16] == "resourceType is not a string"
    assert reasons[17] == "id is not a string"
    assert reasons[20] in ("invalid JSON",) or reasons[20].startswith("not UTF-8")
    assert "truncated last line" in reasons[22]
    assert {r[0] for r in db.execute("SELECT id FROM resources").fetchall()} == {"good-0", "good-1", "good-2", "good-3", "good-4"}
    assert stored(db, "Patient", "good-1") == good[1]
    assert summary.by_type["Patient"].added == 5 and summary.by_type["Patient"].quarantined == 15

    # the raw text is kept, as valid text, for every quarantined line
    raws = dict(db.execute("SELECT line, raw FROM quarantine").fetchall())
    assert raws[2] == '{"resourceType": "Patient", "id": "x"'
    assert "binary" in raws[13] and "\ufffd" in raws[13]
    assert "Zo\ufffd" in raws[14]
    # the load is recorded
    assert db.execute("SELECT added, quarantined FROM loads WHERE file = ?", [str(f)]).fetchone() == (5, 15)


DEEP = "[" * 100_000 + "]" * 100_000  # a 100,000-deep array


def test_what_is_not_strict_json_is_quarantined_with_its_reason(db, tmp_path):
    """DuckDB's reader (and Python's) accept NaN, overflowing numbers, duplicate keys and any
    depth; stored, they broke every later step. Each such line is quarantined, saying why."""
    bad = {
        2: (b'{"resourceType": "Patient", "id": "nan", "multipleBirthInteger": NaN}', "invalid JSON: NaN is not a JSON number"),
        3: (b'{"resourceType": "Patient", "id": "inf", "x": -Infinity}', "invalid JSON: -Infinity is not a JSON number"),
        4: (b'{"resourceType": "Patient", "id": "lower", "x": nan}', "invalid JSON"),  # DuckDB takes it
        5: (b'{"resourceType": "Patient", "id": "big", "x": 1e999999}',
            "invalid JSON: the number 1e999999 is out of range (it overflows to infinity)"),
        6: (b'{"resourceType": "Patient", "id": "dup", "active": true, "active": false}', 'invalid JSON: duplicate key "active"'),
        7: (b'{"resourceType": "Patient", "id": "dup2", "name": [{"family": "a", "family": "b"}]}', 'invalid JSON: duplicate key "family"'),
        8: (b'{"resourceType": "Patient", "id": "deep", "extension": ' + DEEP.encode() + b"}",
            "invalid JSON: nested deeper than 100 levels"),
        9: (b'{"resourceType": "Patient", "id": "comma", "name": [],}', "invalid JSON"),  # DuckDB takes it
        10: (b'{"resourceType": "Patient", "id": "long", "x": ' + b"1" * 5000 + b"}", "invalid JSON: a number of 5000 characters (at most 400)"),
        11: (b'{"resourceType": "Patient", "id": "half", "name": [{"family": "\\ud800"}]}',
             "invalid JSON: a \\u escape of half a surrogate pair (not a character)"),
        # what the fast path (orjson) takes and strict JSON does not: a duplicate whose kept
        # value has more ":" than the dropped one, one hidden by a \u escape that spells ":",
        # and a long number that fits a double
        12: (b'{"resourceType": "Patient", "id": "dup3", "x": "a", "x": "b:c:d"}', 'invalid JSON: duplicate key "x"'),
        13: (b'{"resourceType": "Patient", "id": "dup4", "x": "a\\u003ab", "x": "c"}', 'invalid JSON: duplicate key "x"'),
        14: (b'{"resourceType": "Patient", "id": "tiny", "x": 0.' + b"0" * 500 + b"1}", "invalid JSON: a number of 503 characters (at most 400)"),
        15: (b'-0', "not a JSON object (bigint)"),  # as DuckDB's json_type() names it
        16: (b'{"resourceType": "Patient", "id": "\\u00e9"}', 'invalid id "\u00e9" (FHIR ids are 1-64 of A-Z a-z 0-9 - .)'),
        17: (b'{"resourceType": "\\u3000", "id": "x"}', "blank resourceType"),  # DuckDB's trim(): Unicode spaces
    }
    lines = [line(patient("good-1"))] + [text + b"\n" for text, _ in bad.values()] + [line(patient("good-2"))]
    f = write(tmp_path / "Patient.ndjson", *lines)
    summary = ingest.load_paths(db, [f])
    assert quarantined(db, f) == {n: reason for n, (_, reason) in bad.items()}
    assert {r[0] for r in db.execute("SELECT id FROM resources").fetchall()} == {"good-1", "good-2"}
    assert summary.total.added == 2 and summary.total.quarantined == len(bad)
    assert len(db.execute("SELECT raw FROM quarantine WHERE line = 8").fetchone()[0]) <= ingest.RAW_LIMIT


def test_the_depth_limit_is_configurable_and_bundles_are_held_to_it(db, tmp_path):
    nested = patient("nested", name=[{"given": ["a"]}])  # 4 levels: the resource, name, a name, given
    f = write(tmp_path / "Patient.ndjson", line(nested), line(patient("flat")))
    ingest.load_paths(db, [f], max_depth=3)
    assert quarantined(db, f) == {1: "invalid JSON: nested deeper than 3 levels"}
    # a JSON file is one JSON text: quarantined whole
    for entry, reason in (('{"resourceType": "Patient", "id": "b1", "x": NaN}', "invalid JSON: NaN is not a JSON number"),
                          ('{"resourceType": "Patient", "id": "b2", "x": ' + DEEP + "}", "invalid JSON: nested deeper than 100 levels")):
        bundle = tmp_path / "bundle.json"
        bundle.write_text('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ' + entry + "}]}")
        ingest.load_paths(db, [bundle])
        assert quarantined(db, bundle) == {None: reason}
        db.execute("DELETE FROM quarantine")
    single = tmp_path / "Patient-nested.json"
    single.write_text(json.dumps(nested))
    ingest.load_paths(db, [single], max_depth=3)
    assert quarantined(db, single) == {None: "invalid JSON: nested deeper than 3 levels"}
    assert stored(db, "Patient", "flat") == patient("flat") and stored(db, "Patient", "nested") is None


def test_a_huge_line_is_quarantined_without_being_held(db, tmp_path):
    huge = line(patient("huge", text={"div": "x" * 300_000}))
    f = write(tmp_path / "Patient.ndjson", line(patient("a")), huge, line(patient("b")))
    ingest.load_paths(db, [f], max_line=10_000)
    reasons = quarantined(db, f)
    assert list(reasons) == [2] and reasons[2].startswith("line longer than 10000 bytes")
    assert len(db.execute("SELECT raw FROM quarantine").fetchone()[0]) <= ingest.RAW_LIMIT
    assert {r[0] for r in db.execute("SELECT id FROM resources").fetchall()} == {"a", "b"}


def test_a_line_of_exactly_the_limit_is_fine(db, tmp_path):
    text = line(patient("a"))
    f = write(tmp_path / "Patient.ndjson", text, text[:-1])
    ingest.load_paths(db, [f], max_line=len(text) - 1)
    assert quarantined(db) == {}
    assert db.execute("SELECT count(*) FROM resources").fetchone()[0] == 1


def test_duplicate_ids_within_a_file_keep_the_newest(db, tmp_path):
    f = write(
        tmp_path / "Patient.ndjson",
        line(patient("a", 2, gender="male")),
        line(patient("a", 1, gender="female")),
        line(patient("b", gender="male")),
        line(patient("b", gender="female")),  # equal: the later line wins
        line(patient("c", 9)),
        line(patient("c", 10, gender="other")),
    )
    summary = ingest.load_paths(db, [f], batch_rows=2)  # duplicates across batches too
    assert stored(db, "Patient", "a")["gender"] == "male"
    assert stored(db, "Patient", "b")["gender"] == "female"
    assert stored(db, "Patient", "c")["gender"] == "other"
    assert (summary.total.added, summary.total.unchanged, summary.total.quarantined) == (3, 3, 0)


def test_duplicates_across_batches_end_as_one_pass_over_the_whole_file(tmp_path, monkeypatch):
    """Each batch is written as it comes: whatever the batch size, the store and the counts are
    those of the whole file at once (newest line wins, classified against the store before the
    file; a stored resource a line replaced goes back when a later line equal to it wins).
    Nor do the pieces a batch is handed to DuckDB in (SCAN_ROWS, read on every core) change them."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(
        tmp_path / "a" / "Patient.ndjson",
        line(patient("same", 5, active=True)),
        line(patient("kept", 5, active=True)),
        line(patient("newer", 5)),
        line(patient("plain", active=True)),
    )
    lines = [
        line(patient("new", 1, gender="male")),
        line(patient("same", 6, gender="female")),  # replaces the stored one...
        line(patient("kept", 4)),  # older than stored
        line(patient("plain", gender="male")),
        b"junk\n",
        line(patient("new", 1, gender="female")),  # equal: the later line wins
        line(patient("kept", 3)),
        line(patient("newer", 7, gender="male")),
        line(patient("plain", active=True)),  # ...equal to the stored one, and the last: unchanged
        line(patient("same", 5, active=True)),  # older than the 6 above: loses
        line(patient("newer", 6, gender="female")),  # older than the 7 above
        line(patient("new", 0)),
    ]
    second = write(tmp_path / "b" / "Patient.ndjson", *lines)
    results = []
    for batch_rows, scan_rows in ((1000, 5000), (1000, 1), (1000, 2), (1, 5000), (2, 5000), (3, 5000), (5, 2)):
        monkeypatch.setattr(ingest, "SCAN_ROWS", scan_rows)
        connection = store.connect(tmp_path / f"fhir-{batch_rows}-{scan_rows}.duckdb")
        try:
            ingest.load_paths(connection, [first])
            summary = ingest.load_paths(connection, [second], batch_rows=batch_rows)
            raw = dict(connection.execute("SELECT id, resource::VARCHAR FROM resources").fetchall())
            results.append((snapshot(connection), summary.total, raw))
        finally:
            connection.close()
    assert all(result == results[0] for result in results[1:])
    _, total, raw = results[0]
    assert (total.added, total.updated, total.unchanged, total.quarantined) == (1, 2, 8, 1)
    assert json.loads(raw["new"])["gender"] == "female"
    assert json.loads(raw["same"])["gender"] == "female"
    assert json.loads(raw["newer"])["gender"] == "male"
    assert raw["kept"] == json.dumps(patient("kept", 5, active=True))
    assert raw["plain"] == json.dumps(patient("plain", active=True))


def test_an_empty_file_loads_nothing_and_fails_nothing(db, tmp_path):
    f = write(tmp_path / "Patient.ndjson")
    summary = ingest.load_paths(db, [f])
    assert summary.files == 1 and summary.total == ingest.Counts()
    assert db.execute("SELECT count(*) FROM loads").fetchone()[0] == 1


def test_gzip_files_and_a_gzip_file_cut_mid_stream(db, tmp_path):
    body = b"".join(line(patient(f"p{n}", text={"div": os.urandom(64).hex()})) for n in range(3000))
    whole = tmp_path / "Patient.ndjson.gz"
    whole.write_bytes(gzip.compress(body))
    ingest.load_paths(db, [whole])
    assert db.execute("SELECT count(*) FROM resources").fetchone()[0] == 3000

    data = gzip.compress(body.replace(b'"p', b'"q'))
    cut = tmp_path / "cut" / "Patient.ndjson.gz"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    ingest.load_paths(db, [cut])
    loaded = db.execute("SELECT count(*) FROM resources WHERE id LIKE 'q%'").fetchone()[0]
    reasons = quarantined(db, cut)
    assert 0 < loaded < 3000
    # every line decompressed before the cut is loaded, the rest is named in one quarantine row
    assert list(reasons) == [loaded + 1] or list(reasons) == [loaded + 1, loaded + 2]
    assert any("unreadable" in r for r in reasons.values())
    ids = {r[0] for r in db.execute("SELECT id FROM resources WHERE id LIKE 'q%'").fetchall()}
    assert ids == {f"q{n}" for n in range(loaded)}


def test_a_file_without_a_declared_type_takes_any_type(db, tmp_path):
    f = write(tmp_path / "export.ndjson", line(patient("a")), b'{"resourceType": "Observation", "id": "o"}\n')
    summary = ingest.load_paths(db, [f])
    assert set(summary.by_type) == {"Patient", "Observation"}


junk = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    st.text(max_size=100).map(lambda s: s.encode("utf-8", errors="replace")[:50]),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=10,
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"resourceType": st.text(max_size=12), "id": st.text(max_size=70)}).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"resourceType": st.just("Patient"), "id": st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True)}).map(
        lambda v: json.dumps(v).encode()[:-2]  # truncated
    ),
).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" "))


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(st.one_of(st.just(None), junk), min_size=1, max_size=40), last_newline=st.booleans())
@example(plan=[b"\xef\xbb\xbf"], last_newline=False)  # a file that is only a BOM (found by hypothesis)
def test_generated_junk_never_crashes_the_load_nor_loses_a_good_line(tmp_path_factory, plan, last_newline):
    folder = tmp_path_factory.mktemp("junk")
    lines, good = [], {}
    for n, item in enumerate(plan, start=1):
        if item is None:
            resource = patient(f"good-{n}", gender="other")
            good[n] = resource
            lines.append(json.dumps(resource).encode())
        else:
            lines.append(item)
    data = b"\n".join(lines) + (b"\n" if last_newline else b"")
    f = write(folder / "Patient.ndjson", data)
    connection = store.connect(folder / "fhir.duckdb")
    try:
        summary = ingest.load_paths(connection, [f], batch_rows=7, max_line=200)
        for resource in good.values():
            assert stored(connection, "Patient", resource["id"]) == resource
        reasons = quarantined(connection, f)
        assert not set(reasons) & set(good)
        # a UTF-8 BOM opening the file is the encoding's mark, not part of the first line
        nonblank = sum(1 for n, item in enumerate(lines, start=1)
                       if (item[3:] if n == 1 and item.startswith(b"\xef\xbb\xbf") else item).strip())
        total = summary.total
        assert total.added + total.updated + total.unchanged + total.quarantined == nonblank
        assert total.quarantined == len(reasons)
    finally:
        connection.close()


# -- Bundles and folders of JSON files ------------------------------------------------------


def test_a_bundle_is_loaded_entry_by_entry(db, tmp_path):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient("b1")},
            {"resource": {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/b1"}}},
            {"request": {"method": "DELETE", "url": "Patient/zz"}},
            {"resource": {"resourceType": "Encounter", "id": "bad id"}},
        ],
    }
    f = tmp_path / "bundle.json"
    f.write_text(json.dumps(bundle, indent=2))
    summary = ingest.load_paths(db, [f])
    assert {t: c.added for t, c in summary.by_type.items()} == {"Patient": 1, "Encounter": 1, "(unknown)": 0}
    assert stored(db, "Encounter", "e1")["subject"] == {"reference": "Patient/b1"}
    reasons = quarantined(db, f)
    assert reasons[3] == "Bundle entry without a resource" and reasons[4].startswith("invalid id")


def test_a_folder_of_single_json_files(db, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "Patient-a.json").write_text(json.dumps(patient("a"), indent=2))
    (tmp_path / "in" / "broken.json").write_text('{"resourceType": "Patient",')
    (tmp_path / "in" / "notes.txt").write_text("not loaded")
    summary = ingest.load_paths(db, [tmp_path / "in"])
    assert summary.files == 2 and summary.total.added == 1
    reasons = quarantined(db, tmp_path / "in" / "broken.json")
    assert list(reasons) == [None] and reasons[None].startswith("invalid JSON")


@needs(ECQM)
def test_ecqm_test_case_folders(db):
    cases = sorted(p for p in (ECQM / "AlaraCTClinicalFHIR").iterdir() if p.is_dir())[:2]
    files = [f for case in cases for f in case.glob("*.json")]
    expected = {}
    for f in files:
        resource = json.loads(f.read_text(encoding="utf-8"))
        expected[(resource["resourceType"], resource["id"])] = resource
    summary = ingest.load_paths(db, cases)
    assert summary.total.quarantined == 0 and summary.total.added == len(expected)
    assert any(t == "MeasureReport" for t, _ in expected)
    for (type_, id_), resource in expected.items():
        assert stored(db, type_, id_) == resource
    assert ingest.load_paths(db, cases).total.unchanged == len(expected)


# -- atomicity ------------------------------------------------------------------------------


KILLED_LOAD = """
import sys, time
from pathlib import Path
from andon.analytics.fhir import ingest, store
db, data, marker, phase = sys.argv[1:]
def hook(event, path):
    if event == phase:
        Path(marker).write_text(event)
        time.sleep(600)
ingest.load_paths(store.connect(db), [Path(data)], batch_rows=500, hook=hook)
"""


@pytest.mark.parametrize("phase", ["batch", "merged"])
def test_a_load_killed_part_way_leaves_the_store_as_it_was(tmp_path, phase):
    path = tmp_path / "fhir.duckdb"
    connection = store.connect(path)
    f = tmp_path / "first" / "Patient.ndjson"
    f.parent.mkdir()
    ingest.load_paths(connection, [write(f, *(line(patient(f"p{n}", 1)) for n in range(200)), b"junk\n")])
    before = snapshot(connection)
    connection.close()

    big = tmp_path / "big" / "Patient.ndjson"
    big.parent.mkdir()
    with open(big, "wb") as out:  # updates of the stored ones, new ones and a bad line
        for n in range(20_000):
            out.write(line(patient(f"p{n}", 2, text={"div": "y" * 200})))
        out.write(b"{oops\n")
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", KILLED_LOAD, str(path), str(big), str(marker), phase], cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, "the load ended before it could be killed"
            assert time.monotonic() < deadline, "the load never reached the point to kill it at"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    connection = store.connect(path)
    try:
        assert snapshot(connection) == before
        # and the store still works: the same file loads in full afterwards
        assert ingest.load_paths(connection, [big]).total.updated == 200
    finally:
        connection.close()


BOUNDED_LOAD = """
import resource, sys
from pathlib import Path
from andon.analytics.fhir import ingest, store
db, data = sys.argv[1:]
connection = store.connect(db)
start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = ingest.load_paths(connection, [Path(data)], memory_limit="128MB", batch_bytes=4 * 1024 * 1024)
print(start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, summary.total.added)
"""


def test_memory_stays_bounded_whatever_the_size_of_the_file(tmp_path):
    """A file several times DuckDB's memory limit loads in one transaction while the process's
    peak RSS grows by much less than the file: nothing proportional to the file is held (a
    whole-file staging table grew by more than the file's size)."""
    f = tmp_path / "Patient.ndjson"
    lines = 600_000
    with open(f, "wb") as out:
        for n in range(lines):
            out.write(line(patient(f"p{n}", 1, text={"status": "generated", "div": os.urandom(200).hex()})))
    size = f.stat().st_size
    assert size > 280 * 1024 * 1024
    result = subprocess.run(
        [sys.executable, "-c", BOUNDED_LOAD, str(tmp_path / "fhir.duckdb"), str(f)],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    start, peak, added = map(int, result.stdout.split("\n")[-2].split())
    assert added == lines
    grown = (peak - start) * 1024  # ru_maxrss is in KiB on Linux
    print(f"file {size >> 20} MiB, peak RSS {peak >> 10} MiB, grew {grown >> 20} MiB")
    assert grown < size / 2


# -- command line ---------------------------------------------------------------------------


def test_cli_load_and_quarantine(tmp_path, capsys):
    from andon.cli import main

    folder = tmp_path / "export"
    folder.mkdir()
    write(folder / "Patient.ndjson", line(patient("a")), line(patient("b")), b"not json\n")
    write(folder / "Observation.000.ndjson.gz", gzip.compress(b'{"resourceType": "Observation", "id": "o1"}\n'))
    db = tmp_path / "store.duckdb"

    def run(*args):
        try:
            code = main(["fhir", "--store", str(db), *args])
        except SystemExit as exit_:
            code = exit_.code
        return code, capsys.readouterr().out

    code, out = run("load", str(folder), "--no-progress")
    assert code in (0, None)
    rows = {l.split()[0]: l.split()[1:] for l in out.splitlines() if l.strip()}
    assert rows["Patient"] == ["2", "0", "0", "1"]
    assert rows["Observation"] == ["1", "0", "0", "0"]
    assert rows["total"] == ["3", "0", "0", "1"]

    code, out = run("load", str(folder), "--no-progress")
    assert {l.split()[0]: l.split()[1:] for l in out.splitlines() if l.strip()}["total"] == ["0", "0", "3", "1"]

    code, out = run("quarantine")
    assert code in (0, None)
    assert f"{folder / 'Patient.ndjson'}:3: invalid JSON: 'not json'" in out
    assert "2 quarantined line(s)" in out

    code, out = run("quarantine", "--limit", "1")
    assert "1 shown" in out

    code, _ = run("load", str(tmp_path / "missing"))
    assert code == 2


def test_a_bom_opening_a_file_is_not_a_line(tmp_path):
    only = write(tmp_path / "only.ndjson", b"\xef\xbb\xbf")
    first = write(tmp_path / "first.ndjson", b"\xef\xbb\xbf" + json.dumps(patient("bom-1")).encode())
    later = write(tmp_path / "later.ndjson", json.dumps(patient("bom-2")).encode(), b"\n\xef\xbb\xbf\n")
    connection = store.connect(tmp_path / "fhir.duckdb")
    try:
        assert ingest.load_paths(connection, [only]).total == ingest.Counts()
        assert ingest.load_paths(connection, [first]).total.added == 1
        total = ingest.load_paths(connection, [later]).total
        assert (total.added, total.quarantined) == (1, 1)  # a BOM elsewhere is junk, quarantined
    finally:
        connection.close()


def test_lines_split_across_read_blocks_load_as_whole_lines(db, tmp_path, monkeypatch):
    """The reader takes the file a block at a time: a line may start in one block and end
    several blocks later; the result is the same as with one block for the whole file."""
    from andon.analytics.fhir import reading

    lines = [line(patient("a")), b"\n", line(patient("b", text={"div": "y" * 300})), b"  \r\n",
             line(patient("c", text={"div": "z" * 3000})), line(patient("d"))[:-1]]
    f = write(tmp_path / "Patient.ndjson", *lines)
    ingest.load_paths(db, [f], max_line=1000)
    whole = (snapshot(db), quarantined(db, f))
    for block in (1, 7, 64, 999, 1000, 1001):
        other = store.connect(tmp_path / f"fhir-{block}.duckdb")
        monkeypatch.setattr(reading, "BLOCK", block)
        ingest.load_paths(other, [f], max_line=1000)
        assert (snapshot(other), quarantined(other, f)) == whole, block
        other.close()
    assert whole[1] == {5: f"line longer than 1000 bytes ({len(lines[4])} bytes)"}  # its newline counted
    assert {r[0] for r in db.execute("SELECT id FROM resources").fetchall()} == {"a", "b", "d"}


def test_the_patient_key_and_versions_read_in_python_are_those_of_the_sql(db, tmp_path):
    """The ingest reads the patient reference, meta.versionId and meta.lastUpdated of each line
    in Python (reading.check); the stored columns must be what store.patient_key() and
    json_extract_string() say of the stored JSON, odd shapes included."""
    odd = [
        {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p1"}},
        {"resourceType": "Encounter", "id": "e2", "subject": [{"reference": "Patient/p2"}], "patient": {"reference": "Patient/p3"}},
        {"resourceType": "Encounter", "id": "e3", "subject": {"reference": 42}, "patient": {"reference": "Patient/p3"}},
        {"resourceType": "Encounter", "id": "e4", "subject": {"reference": None}, "patient": {"display": "x"},
         "beneficiary": {"reference": "http://h/fhir/Patient/p4"}},
        {"resourceType": "Encounter", "id": "e5", "subject": "Patient/p5", "meta": {"versionId": 7, "lastUpdated": 20260101}},
        {"resourceType": "Encounter", "id": "e6", "subject": {"reference": "Group/g1"}, "meta": [{"versionId": "1"}]},
        {"resourceType": "Encounter", "id": "e7", "subject": {"reference": {"x": "Patient/p7"}},
         "meta": {"versionId": 1.50, "lastUpdated": "2026-01-02T03:04:05+02:00"}},
        {"resourceType": "Patient", "id": "p8", "subject": {"reference": "Patient/other"}, "meta": {"versionId": "3"}},
    ]
    f = write(tmp_path / "export.ndjson", *(line(r) for r in odd))
    assert ingest.load_paths(db, [f]).total.added == len(odd)
    rows = db.execute(f"""
        SELECT id, patient, {store.patient_key()}, version_id, json_extract_string(resource, '$.meta.versionId'),
               last_updated, TRY_CAST(json_extract_string(resource, '$.meta.lastUpdated') AS TIMESTAMPTZ)
        FROM resources ORDER BY id""").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("e1", "p1"), ("e2", "p3"), ("e3", ""), ("e4", "p4"), ("e5", ""),
                                            ("e6", ""), ("e7", ""), ("p8", "p8")]
    for row in rows:
        assert row[1] == row[2] and row[3] == row[4] and row[5] == row[6], row
    assert dict((r[0], r[3]) for r in rows)["e7"] == "1.5"


def test_an_error_while_reading_reaches_the_load_and_stops_the_reader():
    from andon.analytics.fhir import reading

    made = []

    def items():
        for n in range(1000):
            made.append(n)
            if n == 3:
                raise OSError("disk gone")
            yield n

    with pytest.raises(OSError, match="disk gone"):
        list(reading.prefetched(items()))
    early = reading.prefetched(iter(range(10_000)), depth=2)
    assert next(early) == 0
    early.close()  # the caller stops: the thread stops too, at most `depth` ahead
    assert len(made) == 4


def test_readers_of_the_whole_store_cap_duckdbs_memory(tmp_path):
    """`andon fhir view` and the measures read the store under store.READ_MEMORY_LIMIT: DuckDB's
    buffer pool would otherwise keep all it read (docs/benchmarks.md: 2.7 GB for one view)."""
    path = tmp_path / "fhir.duckdb"
    store.connect(path).close()
    capped = store.connect(path, read_only=True, memory_limit=store.READ_MEMORY_LIMIT)
    assert capped.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "488.2 MiB"  # 512 MB
    capped.close()
    with pytest.raises(ValueError, match="expected a size"):
        store.connect(path, read_only=True, memory_limit="1GB'; SELECT 1; --")


def test_a_loads_cap_grows_with_the_resources_the_stores_indexes_hold(tmp_path):
    """DuckDB cannot spill the key's and the patient index's ART to disk: a fixed cap failed a
    commit at 9.3 million resources. The cap rises by INDEX_BYTES_PER_RESOURCE for each
    resource in the store and in the file so far, and is given back after the load."""
    connection = store.connect(tmp_path / "fhir.duckdb")
    shown = []

    def seen(event, _file):
        if event == "merged":
            text = connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]
            number, unit = text.split()
            shown.append(float(number) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit])

    default = connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    for name, first, count in [("a.ndjson", 0, 40_000), ("b.ndjson", 40_000, 20_000)]:
        (tmp_path / name).write_text("".join(json.dumps({"resourceType": "Patient", "id": f"p{n}"}) + "\n"
                                             for n in range(first, first + count)))
        ingest.load_paths(connection, [tmp_path / name], memory_limit="64MB", batch_rows=5_000, hook=seen)
    per = ingest.INDEX_BYTES_PER_RESOURCE
    assert shown[0] >= 64_000_000 + 40_000 * per - 2**20 * 0.1  # DuckDB shows a tenth of a MiB
    assert shown[1] >= 64_000_000 + 60_000 * per - 2**20 * 0.1  # the first file's resources counted too
    assert shown[1] - shown[0] < 2 * 20_000 * per
    assert connection.execute("SELECT current_setting('memory_limit')").fetchone()[0] == default
    assert store.size_bytes("10MB") == 10_000_000 and store.size_bytes("1GiB") == 2**30
    connection.close()


def test_the_writers_cap_duckdbs_memory_while_they_work_and_give_the_connections_back(tmp_path):
    """The load, the export to Parquet and the upgrades work under a cap (store.memory_capped):
    an export's sorts took 8.4 GB for 5 million resources without one (docs/benchmarks.md)."""
    connection = store.connect(tmp_path / "fhir.duckdb")
    limit = lambda: connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]  # noqa: E731
    default = limit()  # DuckDB's own: 80 % of the machine
    with store.memory_capped(connection, "256MB"):
        assert limit() == "244.1 MiB" != default
    with pytest.raises(ZeroDivisionError), store.memory_capped(connection, "256MB"):
        1 / 0
    assert limit() == default
    with store.memory_capped(connection, None):
        assert limit() == default
    with pytest.raises(ValueError, match="expected a size"), store.memory_capped(connection, "1GB'; SELECT 1; --"):
        pass
    (tmp_path / "one.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "p1"}) + "\n")
    for _ in range(3):  # given back whole each time, not a little less (DuckDB shows it rounded)
        assert ingest.load_paths(connection, [tmp_path / "one.ndjson"], memory_limit="128MB").files == 1
        assert limit() == default
        assert set(columnar.export_parquet(connection, tmp_path / "parquet")) == {"Patient"}
        assert limit() == default
    connection.close()
