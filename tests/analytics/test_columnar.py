"""The columnar store (fhir.columnar) and the views that read it (sof.typed).

Every view is run twice: over the store with its typed tables and over the same resources as
JSON text only; the rows must be the same. The data is built to break what the columns assume:
the first item of an array without the path, JSON nulls inside arrays, references of another
type first, a member that is an object in one resource and an array in another, member names
DuckDB cannot make into columns."""

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from andon.analytics.fhir import columnar, ingest, store
from andon.analytics.fhir.sof import engine
from andon.analytics.fhir.sof.testing import store_with

VIEWS = Path(__file__).resolve().parents[2] / "content" / "views"

ENCOUNTERS = [
    {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "IMP"},
     "type": [{"coding": [{"system": "s", "code": "A", "display": "Ay"}]}], "subject": {"reference": "Patient/p1"},
     "period": {"start": "2026-01-01T10:00:00Z", "end": "2026-01-03"},
     "location": [{"location": {"reference": "Location/l1", "display": "Ward 1"}}],
     "serviceProvider": {"reference": "Organization/o1"},
     "diagnosis": [{"condition": {"reference": "Condition/c1"}, "use": {"coding": [{"code": "AD"}]}, "rank": 1},
                   {"condition": {"reference": "Condition/c2"}, "rank": 2}]},
    # the first type has no coding: the first code is the second type's
    {"resourceType": "Encounter", "id": "e2", "status": "finished", "diagnosis": [None, {"rank": 3}],
     "type": [{"text": "no coding"}, {"coding": [{"code": "B"}]}], "subject": {"reference": "Patient/p2"}},
    # the first coding has no code; a JSON null inside the array of codings
    {"resourceType": "Encounter", "id": "e3", "status": "planned", "diagnosis": [],
     "type": [{"coding": [{"system": "only"}, None, {"code": "C"}]}], "subject": {"reference": "Patient/p3"}},
    # no type at all; the first location is not a Location
    {"resourceType": "Encounter", "id": "e4", "status": "finished", "type": [],
     "location": [{"location": {"reference": "Organization/o9"}}, {"location": {"reference": "Location/l2"}}],
     "subject": {"reference": "Patient/p4"}},
    # an absolute reference with a version; a code that is JSON null, then one that is not
    {"resourceType": "Encounter", "id": "e5", "status": "finished",
     "type": [{"coding": [{"code": None}, {"code": "D"}]}],
     "subject": {"reference": "http://example.org/fhir/Patient/p5/_history/2"}},
    {"resourceType": "Encounter", "id": "e6"},
    # a bundle's urn:uuid reference (no key), and one naming its type only in a query
    {"resourceType": "Encounter", "id": "e7", "subject": {"reference": "urn:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"},
     "location": [{"location": {"reference": "Location?identifier=Patient/l7"}}]},
]

PATIENTS = [
    {"resourceType": "Patient", "id": "p1", "active": True, "gender": "female", "birthDate": "1970-02-03",
     "address": [{"postalCode": "10001", "state": "NY"}], "deceasedBoolean": False,
     "extension": [{"url": "race", "extension": [{"url": "ombCategory", "valueCoding": {"code": "2106-3"}},
                                                 {"url": "text", "valueString": "White"}]}],
     "identifier": [{"system": "other", "value": "x"}, {"value": "no system"}, {"system": "npi", "value": "123"}]},
    {"resourceType": "Patient", "id": "p2", "active": False, "deceasedDateTime": "2026-03-01",
     "address": [{"state": "CA"}, {"postalCode": "94000"}], "name": [{"given": [None, "Bob"]}],
     "extension": [{"url": "other", "valueString": "no"}, None,
                   {"url": "race", "extension": [{"url": "text", "valueString": "Asian"},
                                                 {"url": "ombCategory", "valueCoding": {"code": "2028-9"}}]}]},
    {"resourceType": "Patient", "id": "p3"},
]

# `code` is an object in one Observation and an array in the other (invalid FHIR, real data)
OBSERVATIONS = [
    {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"coding": [{"code": "x"}]},
     "subject": {"reference": "Patient/p1"}, "valueQuantity": {"value": 1.50, "unit": "mg"}},
    {"resourceType": "Observation", "id": "o2", "status": "final", "code": [{"coding": [{"code": "y"}]}],
     "subject": {"reference": "Patient/p2"}, "valueQuantity": {"value": 7}},
]

CRAFTED = [
    {"resource": "Encounter", "select": [{"column": [
        {"name": "id", "path": "getResourceKey()"},
        {"name": "first_code", "path": "type.coding.code.first()"},
        {"name": "first_system", "path": "type.coding.system.first()"},
        {"name": "location_id", "path": "location.location.getReferenceKey(Location).first()"},
        {"name": "any_location", "path": "location.location.getReferenceKey().first()"},
        {"name": "patient_id", "path": "subject.getReferenceKey(Patient)"},
        {"name": "admit", "path": "hospitalization.admitSource.coding.code.first()"},
    ]}]},
    {"resource": "Patient", "select": [{"column": [
        {"name": "id", "path": "id"},
        {"name": "active_text", "path": "active"},
        {"name": "active", "path": "active", "type": "boolean"},
        {"name": "deceased", "path": "deceased.ofType(boolean)", "type": "boolean"},
        {"name": "postal_code", "path": "address.postalCode.first()"},
        {"name": "given", "path": "name.given.first()"},
    ]}, {"select": [{"column": [{"name": "state", "path": "Patient.address.state.first()"}]}]}]},
    {"resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "id"},
        {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
        {"name": "unit", "path": "value.ofType(Quantity).unit"},
    ]}]},
    {"resource": "Encounter", "select": [
        {"column": [{"name": "id", "path": "getResourceKey()"}]},
        {"forEach": "diagnosis", "column": [
            {"name": "position", "path": "%rowIndex", "type": "integer"},
            {"name": "condition_id", "path": "condition.getReferenceKey(Condition)"},
            {"name": "role", "path": "use.coding.code.first()"},
            {"name": "rank", "path": "rank", "type": "positiveInt"}]}]},
    {"resource": "Encounter", "select": [
        {"forEachOrNull": "diagnosis", "column": [
            {"name": "position", "path": "%rowIndex", "type": "integer"},
            {"name": "rank", "path": "rank", "type": "positiveInt"}]},
        {"column": [{"name": "id", "path": "id"}]}]},
    {"resource": "Encounter", "select": [
        {"column": [{"name": "id", "path": "id"}]},
        {"forEach": "type.coding", "column": [
            {"name": "position", "path": "%rowIndex", "type": "integer"}, {"name": "code", "path": "code"}]}]},
    {"resource": "Patient", "select": [{"column": [
        {"name": "id", "path": "id"},
        {"name": "race_code", "path": "extension('race').extension('ombCategory').value.ofType(Coding).code.first()"},
        {"name": "race", "path": "extension('race').extension('text').value.ofType(string).first()"},
        {"name": "npi", "path": "identifier.where(system = 'npi').value.first()"},
        {"name": "none", "path": "extension('nobody').value.ofType(string).first()"}]}]},
    {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}, {
        "forEach": "extension('race').extension", "column": [
            {"name": "position", "path": "%rowIndex", "type": "integer"}, {"name": "url", "path": "url"}]}]},
    # `code` has differing kinds: read from the JSON text
    {"resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "id"}, {"name": "code", "path": "code.coding.code.first()"}]}]},
    # a decimal read as text keeps the JSON's spelling: read from the JSON text
    {"resource": "Observation", "select": [{"column": [{"name": "value", "path": "value.ofType(Quantity).value"}]}]},
]


def _rows(table):
    return Counter(json.dumps(row, sort_keys=True, default=str) for row in table.to_pylist())


@pytest.fixture(scope="module")
def stores():
    resources = ENCOUNTERS + PATIENTS + OBSERVATIONS
    return store_with(resources, typed=True), store_with(resources)


def _views():
    return [json.loads(p.read_text()) for p in sorted(VIEWS.glob("*.json"))] + CRAFTED


@pytest.mark.parametrize("view", _views(), ids=lambda v: v.get("name") or f"{v['resource']}-{len(v['select'][0]['column'])}")
def test_every_view_gives_the_rows_of_the_json_text(stores, view):
    typed, plain = stores
    assert engine.typed_sql(plain, view) is None
    assert _rows(engine.run(typed, view)) == _rows(engine.run(plain, view))


def test_which_views_read_columns(stores):
    typed, _ = stores
    reads = {i: engine.typed_sql(typed, view) is not None for i, view in enumerate(CRAFTED)}
    assert reads == {0: True, 1: True, 2: True, 3: True, 4: True, 5: True, 6: True, 7: True, 8: False, 9: False}
    for name in ("encounter", "patient", "encounter_diagnosis"):
        assert engine.typed_sql(typed, json.loads((VIEWS / f"{name}.json").read_text())) is not None, name


def test_first_items_and_references_from_the_columns(stores):
    typed, _ = stores
    rows = {r["id"]: r for r in engine.run(typed, CRAFTED[0]).to_pylist()}
    assert [rows[f"Encounter/e{k}"]["first_code"] for k in range(1, 7)] == ["A", "B", "C", None, "D", None]
    assert rows["Encounter/e3"]["first_system"] == "only"
    assert rows["Encounter/e1"]["location_id"] == "Location/l1"
    assert rows["Encounter/e4"]["location_id"] == "Location/l2"  # the first Location, not the first reference
    assert rows["Encounter/e4"]["any_location"] == "Organization/o9"
    assert rows["Encounter/e5"]["patient_id"] == "Patient/p5"
    assert (rows["Encounter/e7"]["patient_id"], rows["Encounter/e7"]["location_id"]) == (None, None)
    assert {r["admit"] for r in rows.values()} == {None}  # a member no resource has
    patients = {r["id"]: r for r in engine.run(typed, CRAFTED[1]).to_pylist()}
    assert patients["p1"] == {"id": "p1", "active_text": "true", "active": True, "deceased": False,
                              "postal_code": "10001", "state": "NY", "given": None}
    assert patients["p2"]["postal_code"] == "94000" and patients["p2"]["deceased"] is None
    assert patients["p2"]["given"] is None  # the first given name is a null element: no value, as from JSON
    assert patients["p3"] == {"id": "p3", "active_text": None, "active": None, "deceased": None,
                              "postal_code": None, "state": None, "given": None}
    values = {r["id"]: (r["value"], r["unit"]) for r in engine.run(typed, CRAFTED[2]).to_pylist()}
    assert values == {"o1": (1.5, "mg"), "o2": (7.0, None)}


def test_each_item_of_a_foreach_from_the_columns(stores):
    typed, _ = stores
    rows = sorted(engine.run(typed, CRAFTED[3]).to_pylist(), key=lambda r: (r["id"], r["position"]))
    assert rows == [
        {"id": "Encounter/e1", "position": 0, "condition_id": "Condition/c1", "role": "AD", "rank": 1},
        {"id": "Encounter/e1", "position": 1, "condition_id": "Condition/c2", "role": None, "rank": 2},
        # an array's null element is an item (as from the JSON text), with nothing in it
        {"id": "Encounter/e2", "position": 0, "condition_id": None, "role": None, "rank": None},
        {"id": "Encounter/e2", "position": 1, "condition_id": None, "role": None, "rank": 3},
    ]
    or_null = {(r["id"], r["position"]): r["rank"] for r in engine.run(typed, CRAFTED[4]).to_pylist()}
    assert or_null == {("e1", 0): 1, ("e1", 1): 2, ("e2", 0): None, ("e2", 1): 3, ("e3", 0): None, ("e4", 0): None,
                       ("e5", 0): None, ("e6", 0): None, ("e7", 0): None}
    codes = sorted((r["id"], r["position"], r["code"]) for r in engine.run(typed, CRAFTED[5]).to_pylist())
    assert codes == [("e1", 0, "A"), ("e2", 0, "B"), ("e3", 0, None), ("e3", 1, None), ("e3", 2, "C"),
                     ("e5", 0, None), ("e5", 1, "D")]


def test_extensions_and_where_filters_from_the_columns(stores):
    typed, _ = stores
    rows = {r["id"]: r for r in engine.run(typed, CRAFTED[6]).to_pylist()}
    assert rows == {
        "p1": {"id": "p1", "race_code": "2106-3", "race": "White", "npi": "123", "none": None},
        "p2": {"id": "p2", "race_code": "2028-9", "race": "Asian", "npi": None, "none": None},
        "p3": {"id": "p3", "race_code": None, "race": None, "npi": None, "none": None},
    }
    assert sorted((r["id"], r["position"], r["url"]) for r in engine.run(typed, CRAFTED[7]).to_pylist()) == [
        ("p1", 0, "ombCategory"), ("p1", 1, "text"), ("p2", 0, "text"), ("p2", 1, "ombCategory")]


def test_the_structure_types_every_member_by_what_the_data_holds(stores):
    typed, _ = stores
    observation = columnar.typed_table(typed, "Observation").structure
    assert observation["code"] == "JSON"
    assert observation["valueQuantity"] == {"value": "DOUBLE", "unit": "VARCHAR"}
    encounter = columnar.typed_table(typed, "Encounter").structure
    assert encounter["type"] == [{"coding": [{"system": "VARCHAR", "code": "VARCHAR", "display": "VARCHAR"}], "text": "VARCHAR"}]


def _load(connection, folder: Path, resources, name="export.ndjson"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in resources), encoding="utf-8")
    return ingest.load_paths(connection, [path])


def test_the_ingest_builds_the_tables_of_the_types_it_changed(tmp_path):
    connection = store.connect(tmp_path / "fhir.duckdb")
    summary = _load(connection, tmp_path / "a", ENCOUNTERS + PATIENTS)
    assert summary.typed == {"Encounter": "built", "Patient": "built"}
    assert "typed columns up to date for 2 type(s)" in ingest.format_summary(summary)
    again = _load(connection, tmp_path / "b", PATIENTS)  # nothing changed: nothing rebuilt
    assert again.typed == {}
    changed = [{**PATIENTS[2], "gender": "male"}]
    assert _load(connection, tmp_path / "c", changed).typed == {"Patient": "built"}
    view = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}, {"name": "gender", "path": "gender"}]}]}
    assert engine.typed_sql(connection, view) is not None
    assert dict(engine.run(connection, view).to_pylist()[k].values() for k in range(3)) == {
        "p1": "female", "p2": None, "p3": "male"}


def test_rows_changed_without_a_rebuild_send_views_back_to_the_json_text(tmp_path, monkeypatch):
    connection = store.connect(tmp_path / "fhir.duckdb")
    _load(connection, tmp_path / "a", PATIENTS)
    view = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}, {"name": "gender", "path": "gender"}]}]}
    genders = lambda: {r["id"]: r["gender"] for r in engine.run(connection, view).to_pylist()}  # noqa: E731
    # a load whose new member leaves the table to be rebuilt after it, killed before that
    monkeypatch.setattr(columnar.Maintainer, "REBUILD_NOW_ROWS", 0)
    monkeypatch.setattr(columnar, "refresh", lambda connection, types=None, structures=None: {})
    _load(connection, tmp_path / "b", [{**PATIENTS[0], "gender": "other", "maritalStatus": {"text": "M"}}])
    assert columnar.typed_table(connection, "Patient") is None
    assert engine.typed_sql(connection, view) is None
    assert genders()["p1"] == "other"
    monkeypatch.undo()
    assert columnar.refresh(connection) == {"Patient": "built"}
    assert engine.typed_sql(connection, view) is not None and genders()["p1"] == "other"
    # rows written by anything but the ingest (no content hash), then rows taken away
    connection.execute("""INSERT INTO resources (type, id, resource) VALUES ('Patient', 'p9', '{"resourceType":"Patient","id":"p9","gender":"unknown"}')""")
    assert columnar.typed_table(connection, "Patient") is None and genders()["p9"] == "unknown"
    assert columnar.refresh(connection) == {"Patient": "left as JSON: rows written without the ingest's content hash"}
    connection.execute("DELETE FROM resources WHERE id = 'p9'")
    assert columnar.refresh(connection) == {"Patient": "built"}
    connection.execute("DELETE FROM resources WHERE id = 'p3'")
    assert columnar.typed_table(connection, "Patient") is None and set(genders()) == {"p1", "p2"}


def test_members_that_cannot_be_columns_leave_the_type_as_json(tmp_path):
    odd = [{"resourceType": "Basic", "id": "b1", 'a"b': "quoted", "code": {"text": "one"}},
           {"resourceType": "Basic", "id": "b2", "Code": "differs only by case", "code": {"text": "two"}}]
    connection = store.connect(tmp_path / "fhir.duckdb")
    summary = _load(connection, tmp_path / "a", odd)
    assert summary.typed["Basic"].startswith("left as JSON: ")
    assert columnar.typed_table(connection, "Basic") is None
    view = {"resource": "Basic", "select": [{"column": [{"name": "id", "path": "id"}, {"name": "text", "path": "code.text"}]}]}
    assert sorted(r["text"] for r in engine.run(connection, view).to_pylist()) == ["one", "two"]
    quoted = store_with([odd[0]], typed=True)  # a quote alone is a column like any other
    assert columnar.typed_table(quoted, "Basic") is not None
    assert quoted.execute(f'SELECT "a""b" FROM {columnar.typed_table(quoted, "Basic").table}').fetchall() == [("quoted",)]


def test_parquet_files_by_type_in_typed_columns(tmp_path, capsys):
    from andon.cli import main

    path = tmp_path / "fhir.duckdb"
    connection = store.connect(path)
    _load(connection, tmp_path / "a", ENCOUNTERS + PATIENTS)
    connection.close()
    out = tmp_path / "parquet"
    assert main(["fhir", "--store", str(path), "parquet", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["Encounter.parquet", "Patient.parquet", "resources", "typed"]
    (version,) = (out / "resources").iterdir()  # the store Spark reads: one complete version
    assert sorted(p.name for p in version.iterdir()) == ["_SUCCESS", "type=Encounter", "type=Patient"]
    (typed,) = (out / "typed").iterdir()  # and its typed columns, under the version's name
    assert typed.name == version.name and sorted(p.name for p in typed.iterdir()) == ["Encounter", "Patient", "_structures.json"]
    assert json.loads((typed / "_structures.json").read_text())["Encounter"] == columnar.typed_table(
        store.connect(path, read_only=True), "Encounter").structure
    assert pq.read_table(typed / "Encounter").to_pylist() == pq.read_table(out / "Encounter.parquet").to_pylist()
    texts = pq.read_table(version / "type=Encounter")
    assert sorted(texts.column_names) == ["content_hash", "id", "last_updated", "patient", "resource", "version_id"]
    assert sorted(texts.column("id").to_pylist()) == sorted(e["id"] for e in ENCOUNTERS)
    assert {json.loads(t)["id"] for t in texts.column("resource").to_pylist()} == {e["id"] for e in ENCOUNTERS}
    encounters = pq.read_table(out / "Encounter.parquet")
    assert encounters.num_rows == len(ENCOUNTERS)
    assert str(encounters.schema.field("type").type) == (
        "list<element: struct<coding: list<element: struct<system: string, code: string, display: string>>, text: string>>")
    rows = {r["id"]: r for r in encounters.to_pylist()}
    assert rows["e2"]["type"][1]["coding"][0]["code"] == "B" and rows["e2"]["andon_patient"] == "p2"
    assert rows["e4"]["andon_patient"] == "p4"
    assert [r["andon_patient"] for r in encounters.to_pylist()] == sorted(r["andon_patient"] for r in encounters.to_pylist())
    assert main(["fhir", "--store", str(path), "parquet", str(out)]) == 0  # again: a new version, the old one gone
    assert [p.name for p in (out / "resources").iterdir()] != [version.name]
    assert len(list((out / "resources").iterdir())) == 1
    assert [p.name for p in (out / "typed").iterdir()] == [p.name for p in (out / "resources").iterdir()]
    (tmp_path / "file").write_text("x")
    assert main(["fhir", "--store", str(path), "parquet", str(tmp_path / "file")]) == 2
    assert main(["fhir", "--store", str(tmp_path / "none.duckdb"), "parquet", str(out)]) == 2
    assert "no FHIR store" in capsys.readouterr().err


def test_a_view_that_fails_part_way_leaves_no_half_written_file(tmp_path, capsys):
    """The command streams the rows to a hidden file renamed at the end: an error met after
    the first batch (a column meeting several values) leaves the older file as it was."""
    from andon.analytics.fhir.sof import engine as sof_engine
    from andon.cli import main

    path = tmp_path / "fhir.duckdb"
    connection = store.connect(path)
    many = [{"resourceType": "Patient", "id": f"p{k}", "name": [{"given": ["A"] if k < 300 else ["A", "B"]}]}
            for k in range(400)]
    _load(connection, tmp_path / "a", many)
    connection.close()
    view = tmp_path / "view.json"
    view.write_text(json.dumps({"resource": "Patient", "select": [{"column": [{"name": "given", "path": "name.given"}]}]}))
    out = tmp_path / "rows.parquet"
    out.write_text("the older file")
    original = sof_engine.STREAM_ROWS
    sof_engine.STREAM_ROWS = 100
    try:
        assert main(["fhir", "--store", str(path), "view", str(view), "--out", str(out)]) == 2
    finally:
        sof_engine.STREAM_ROWS = original
    assert "more than one value" in capsys.readouterr().err
    assert out.read_text() == "the older file"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(("a", "b", "merged"), [
    ({"a": "VARCHAR"}, {"b": ["BIGINT"]}, {"a": "VARCHAR", "b": ["BIGINT"]}),
    ({"a": "NULL"}, {"a": {"x": "BOOLEAN"}}, {"a": {"x": "BOOLEAN"}}),
    ({"a": ["NULL"]}, {"a": [{"x": "VARCHAR"}]}, {"a": [{"x": "VARCHAR"}]}),
    ({"n": "UBIGINT"}, {"n": "BIGINT"}, {"n": "HUGEINT"}),  # both signs: no 64-bit type holds every value
    ({"n": "UBIGINT"}, {"n": "DOUBLE"}, {"n": "DOUBLE"}),
    ({"n": "VARCHAR"}, {"n": "DOUBLE"}, {"n": "JSON"}),
    ({"n": "BOOLEAN"}, {"n": "VARCHAR"}, {"n": "JSON"}),
    ({"c": {"x": "VARCHAR"}}, {"c": [{"x": "VARCHAR"}]}, {"c": "JSON"}),
    ({"c": {"x": "VARCHAR"}}, {"c": "VARCHAR"}, {"c": "JSON"}),
    ({"c": ["VARCHAR"]}, {"c": ["UBIGINT"]}, {"c": ["JSON"]}),
])
def test_structures_merge_into_one_every_resource_fits(a, b, merged):
    assert columnar.merge_structures(a, b) == merged
    assert columnar.merge_structures(b, a) == merged


def test_integers_of_both_signs_and_decimals_keep_their_values(tmp_path):
    resources = [{"resourceType": "Observation", "id": "o1", "valueInteger": 9223372036854775807 + 10, "n": 2.5},
                 {"resourceType": "Observation", "id": "o2", "valueInteger": -3, "n": 4}]
    connection = store.connect(tmp_path / "fhir.duckdb")
    assert _load(connection, tmp_path / "a", resources).typed == {"Observation": "built"}
    view = {"resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "id"}, {"name": "n", "path": "n", "type": "decimal"},
        {"name": "v", "path": "value.ofType(integer)", "type": "decimal"}]}]}
    assert engine.typed_sql(connection, view) is not None
    assert sorted(engine.run(connection, view).to_pylist(), key=lambda r: r["id"]) == [
        {"id": "o1", "n": 2.5, "v": float(9223372036854775807 + 10)}, {"id": "o2", "n": 4.0, "v": -3.0}]


def _typed_rows(connection, resource_type):
    typed = columnar.typed_table(connection, resource_type)
    assert typed is not None
    rows = connection.sql(f"SELECT * FROM {columnar.quote(typed.table)}").to_arrow_table().to_pylist()
    return typed.table, sorted((json.dumps(r, sort_keys=True, default=str) for r in rows))


def test_the_ingest_keeps_the_tables_in_step_batch_by_batch(tmp_path, monkeypatch):
    """Batches of two: each batch's rows are shredded into the table (made from the first
    batch, rebuilt at once when a later one needs a wider structure, replaced rows deleted);
    the table ends as a rebuild from the stored JSON would make it."""
    connection = store.connect(tmp_path / "fhir.duckdb")
    folder = tmp_path / "a"
    folder.mkdir()
    path = folder / "export.ndjson"
    updated = {**ENCOUNTERS[0], "status": "cancelled"}  # the same id later in the same file
    path.write_text("".join(json.dumps(r) + "\n" for r in ENCOUNTERS + [updated] + PATIENTS), encoding="utf-8")
    summary = ingest.load_paths(connection, [path], batch_rows=2)
    assert summary.typed == {"Encounter": "built", "Patient": "built"}
    kept = {t: _typed_rows(connection, t) for t in ("Encounter", "Patient")}
    columnar.refresh(connection, ["Encounter", "Patient"])  # a rebuild from `resources`
    for resource_type, (table, rows) in kept.items():
        rebuilt_table, rebuilt = _typed_rows(connection, resource_type)
        assert rows == rebuilt and table != rebuilt_table
    assert connection.execute(f"SELECT status FROM {columnar.typed_table(connection, 'Encounter').table} WHERE id = 'e1'").fetchall() == [("cancelled",)]

    # a later load that fits the structure: rows replaced in the same table, nothing rebuilt
    table = columnar.typed_table(connection, "Patient").table
    _load(connection, tmp_path / "b", [{**PATIENTS[0], "gender": "other"}])
    assert columnar.typed_table(connection, "Patient").table == table
    assert connection.execute(f"SELECT id, gender FROM {table} ORDER BY id").fetchall() == [("p1", "other"), ("p2", None), ("p3", None)]

    # one that needs a wider structure on a type past REBUILD_NOW_ROWS: rebuilt after the load,
    # from the structure merged while loading (no pass over the stored resources for it)
    monkeypatch.setattr(columnar.Maintainer, "REBUILD_NOW_ROWS", 1)
    monkeypatch.setattr(columnar, "_structure_of", lambda *a: pytest.fail("the merged structure was not used"))
    summary = _load(connection, tmp_path / "c", [{**PATIENTS[1], "maritalStatus": {"text": "M"}}])
    assert summary.typed == {"Patient": "built"}
    widened = columnar.typed_table(connection, "Patient")
    assert widened.table != table and widened.structure["maritalStatus"] == {"text": "VARCHAR"}
    assert connection.execute(f"SELECT id, maritalStatus.text FROM {widened.table} ORDER BY id").fetchall() == [
        ("p1", None), ("p2", "M"), ("p3", None)]
