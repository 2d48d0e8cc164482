"""The SQL-on-FHIR view engine, piece by piece: the FHIRPath parser, the compiler, invalid views,
and `andon fhir view` writing Parquet and CSV."""

import csv
import json

import pyarrow.parquet as pq
import pytest

from andon.analytics.fhir import sof, store
from andon.analytics.fhir.sof import engine
from andon.analytics.fhir.sof.compile import compile_view
from andon.analytics.fhir.sof.expressions import Shape
from andon.analytics.fhir.sof.fhirpath import (
    Binary,
    Call,
    Constant,
    FHIRPathError,
    Index,
    Literal,
    Member,
    This,
    parse,
)
from andon.analytics.fhir.sof.testing import store_with

PATIENTS = [
    {
        "resourceType": "Patient",
        "id": "p1",
        "active": True,
        "birthDate": "1980-02",
        "name": [{"use": "official", "family": "Ng", "given": ["Ann", "B"]}, {"family": "Old", "given": ["Annie"]}],
        "link": [{"other": {"reference": "Patient/p2"}}],
    },
    {"resourceType": "Patient", "id": "p2", "active": False, "name": [{"family": "Roe"}]},
    {"resourceType": "Patient", "id": "p3"},
    {"resourceType": "Observation", "id": "o1", "valueQuantity": {"value": 7.5}, "subject": {"reference": "Patient/p1"}},
]


@pytest.fixture
def connection():
    c = store_with(PATIENTS)
    yield c
    c.close()


def rows(connection, view):
    return sof.run(connection, view).to_pylist()


# ---------------------------------------------------------------------------- parser


def test_parse_paths_functions_and_operators():
    assert parse("name.given") == Member(Member(This(), "name"), "given")
    assert parse("name[0].family") == Member(Index(Member(This(), "name"), Literal(0, "integer")), "family")
    assert parse("name.where(use = 'official').exists()") == Call(
        Call(Member(This(), "name"), "where", (Binary("=", Member(This(), "use"), Literal("official", "string")),)), "exists"
    )
    assert parse("value.ofType(Quantity).value") == Member(Call(Member(This(), "value"), "ofType", (Member(This(), "Quantity"),)), "value")
    assert parse("a = %x and b") == Binary("and", Binary("=", Member(This(), "a"), Constant("x")), Member(This(), "b"))
    assert parse("1 + 2 * 3") == Binary("+", Literal(1, "integer"), Binary("*", Literal(2, "integer"), Literal(3, "integer")))
    assert parse("@2020-01-02") == Literal("2020-01-02", "date")
    assert parse("$this") == This()
    assert parse("(a or b).not()") == Call(Binary("or", Member(This(), "a"), Member(This(), "b")), "not")


@pytest.mark.parametrize("bad", ["@@", "name.", "name.where(", "a = ", "", "name[0"])
def test_parse_errors_say_where(bad):
    with pytest.raises(FHIRPathError):
        parse(bad)


# ---------------------------------------------------------------------------- compiler


def test_for_each_over_name_given(connection):
    view = {
        "resource": "Patient",
        "select": [
            {"column": [{"name": "id", "path": "id"}]},
            {"forEach": "name.given", "column": [{"name": "given", "path": "$this"}, {"name": "i", "path": "%rowIndex", "type": "integer"}]},
        ],
    }
    assert sorted((r["id"], r["given"], r["i"]) for r in rows(connection, view)) == [
        ("p1", "Ann", 0), ("p1", "Annie", 2), ("p1", "B", 1),
    ]


def test_for_each_or_null_types_and_collections(connection):
    view = {
        "resource": "Patient",
        "select": [
            {"column": [{"name": "id", "path": "id"}, {"name": "active", "path": "active", "type": "boolean"}]},
            {"forEachOrNull": "name", "column": [{"name": "family", "path": "family"}, {"name": "given", "path": "given", "collection": True}]},
        ],
        "where": [{"path": "id != 'p2'"}],
    }
    table = sof.run(connection, view)
    assert table.column_names == ["id", "active", "family", "given"]
    assert str(table.schema.field("active").type) == "bool"
    assert str(table.schema.field("given").type.value_type) == "string"
    assert sorted(table.to_pylist(), key=lambda r: (r["id"], r["family"] or "")) == [
        {"id": "p1", "active": True, "family": "Ng", "given": ["Ann", "B"]},
        {"id": "p1", "active": True, "family": "Old", "given": ["Annie"]},
        # no name: the body runs once over an empty focus (so %rowIndex is 0 and a
        # collection column is the empty list)
        {"id": "p3", "active": None, "family": None, "given": []},
    ]


def test_union_constants_keys_and_functions(connection):
    view = {
        "resource": "Patient",
        "constant": [{"name": "use", "valueCode": "official"}],
        "select": [
            {
                "column": [
                    {"name": "id", "path": "id"},
                    {"name": "official", "path": "name.where(use = %use).family.first()"},
                    {"name": "all_given", "path": "name.given.join(' ')"},
                    {"name": "key", "path": "getResourceKey()"},
                    {"name": "linked", "path": "link.other.getReferenceKey(Patient)"},
                    {"name": "born_from", "path": "birthDate.lowBoundary()", "type": "date"},
                ]
            },
            {"unionAll": [{"forEach": "name", "column": [{"name": "n", "path": "family"}]}, {"column": [{"name": "n", "path": "'-'"}]}]},
        ],
        "where": [{"path": "id = 'p1'"}],
    }
    got = rows(connection, view)
    assert sorted(r["n"] for r in got) == ["-", "Ng", "Old"]
    first = got[0]
    assert first["official"] == "Ng" and first["all_given"] == "Ann B Annie"
    assert first["key"] == "Patient/p1" and first["linked"] == "Patient/p2" and first["born_from"] == "1980-02-01"


def test_repeat_walks_nested_items_depth_first():
    questionnaire = {
        "resourceType": "QuestionnaireResponse",
        "id": "q",
        "item": [{"linkId": "1", "item": [{"linkId": "1.1"}, {"linkId": "1.2", "item": [{"linkId": "1.2.1"}]}]}, {"linkId": "2"}],
    }
    view = {"resource": "QuestionnaireResponse", "select": [{"repeat": ["item"], "column": [
        {"name": "link", "path": "linkId"}, {"name": "i", "path": "%rowIndex", "type": "integer"}]}]}
    table = sof.run(store_with([questionnaire]), view)
    assert [(r["link"], r["i"]) for r in table.to_pylist()] == [("1", 0), ("1.1", 1), ("1.2", 2), ("1.2.1", 3), ("2", 4)]


def test_sql_for_is_one_duckdb_query():
    sql = sof.sql_for({"resource": "Patient", "select": [{"forEach": "name", "column": [{"name": "f", "path": "family"}]}]})
    assert sql.startswith("SELECT") and "FROM resources" in sql and "type = 'Patient'" in sql and "unnest(" in sql


# ---------------------------------------------------------------------------- invalid views


@pytest.mark.parametrize(
    ("view", "message"),
    [
        ({}, "'resource' is missing"),
        ({"resource": "Patient"}, "'select' is missing"),
        ({"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}], "selekt": []}, "unknown key(s) selekt"),
        ({"resource": "Patient", "select": [{"column": [{"name": "1id", "path": "id"}]}]}, "column name '1id' is not valid"),
        ({"resource": "Patient", "select": [{"column": [{"name": "a", "path": "id"}, {"name": "a", "path": "id"}]}]}, "used more than once"),
        ({"resource": "Patient", "select": [{"forEach": "name.where(", "column": [{"name": "a", "path": "id"}]}]}, "select[0].forEach"),
        ({"resource": "Patient", "select": [{"column": [{"name": "a", "path": "%nope"}]}]}, "%nope is not a constant"),
        ({"resource": "Patient", "select": [{"column": [{"name": "a", "path": "name.foo()"}]}]}, "foo() is not in the supported"),
        ({"resource": "Patient", "select": [{"unionAll": [{"column": [{"name": "a", "path": "id"}]}, {"column": [{"name": "b", "path": "id"}]}]}]}, "same columns"),
    ],
)
def test_invalid_views_get_clear_errors(view, message):
    with pytest.raises(sof.ViewError, match=None) as error:
        sof.sql_for(view)
    assert message in str(error.value)


def test_data_errors_name_the_column_and_the_where(connection):
    many = {"resource": "Patient", "select": [{"column": [{"name": "family", "path": "name.family"}]}]}
    with pytest.raises(sof.ViewError, match=r"column\[0\] \(family\): the path gives more than one value"):
        sof.run(connection, many)
    not_boolean = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}], "where": [{"path": "name.family"}]}
    with pytest.raises(sof.ViewError, match="does not give a boolean"):
        sof.run(connection, not_boolean)


# ---------------------------------------------------------------------------- command line


@pytest.fixture
def on_disk(tmp_path):
    path = tmp_path / "fhir.duckdb"
    connection = store.connect(path)
    for r in PATIENTS:
        connection.execute("INSERT INTO resources (type, id, resource) VALUES (?, ?, ?)", [r["resourceType"], r["id"], json.dumps(r)])
    connection.close()
    view = tmp_path / "view.json"
    view.write_text(json.dumps({"resource": "Patient", "select": [
        {"column": [{"name": "id", "path": "id"}, {"name": "active", "path": "active", "type": "boolean"}]},
        {"forEach": "name", "column": [{"name": "family", "path": "family"}, {"name": "given", "path": "given", "collection": True}]},
    ]}))
    return path, view


def andon(*argv):
    from andon.cli import main

    return main(list(argv))


def test_cli_writes_parquet(on_disk, tmp_path):
    path, view = on_disk
    out = tmp_path / "out" / "names.parquet"
    assert andon("fhir", "--store", str(path), "view", str(view), "--out", str(out)) == 0
    table = pq.read_table(out)
    assert table.column_names == ["id", "active", "family", "given"]
    assert sorted(table.to_pylist(), key=lambda r: r["family"]) == [
        {"id": "p1", "active": True, "family": "Ng", "given": ["Ann", "B"]},
        {"id": "p1", "active": True, "family": "Old", "given": ["Annie"]},
        {"id": "p2", "active": False, "family": "Roe", "given": []},
    ]


def test_cli_writes_csv_and_prints(on_disk, tmp_path, capsys):
    path, view = on_disk
    out = tmp_path / "names.csv"
    assert andon("fhir", "--store", str(path), "view", str(view), "--out", str(out)) == 0
    with out.open(newline="") as f:
        got = sorted(csv.DictReader(f), key=lambda r: r["family"])
    assert [(r["id"], r["active"], r["family"], json.loads(r["given"])) for r in got] == [
        ("p1", "true", "Ng", ["Ann", "B"]), ("p1", "true", "Old", ["Annie"]), ("p2", "false", "Roe", []),
    ]
    capsys.readouterr()
    assert andon("fhir", "--store", str(path), "view", str(view)) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "id\tactive\tfamily\tgiven" and len(printed) == 4


def test_cli_refuses_other_suffixes_and_invalid_views(on_disk, tmp_path, capsys):
    path, view = on_disk
    assert andon("fhir", "--store", str(path), "view", str(view), "--out", str(tmp_path / "x.xlsx")) == 2
    assert ".parquet or .csv" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"select": [{"column": [{"name": "id", "path": "id"}]}]}))
    assert andon("fhir", "--store", str(path), "view", str(bad)) == 2
    assert "invalid ViewDefinition: view: 'resource' is missing" in capsys.readouterr().err


# ---------------------------------------------------------------------------- fast path
TRICKY = [
    {"resourceType": "Encounter", "id": "e1", "status": "done", "class": {"code": "AMB"}, "period": {"start": "2020"},
     "type": [{"coding": [{"code": "x"}, {"code": "x2"}]}], "subject": {"reference": "Patient/p1"},
     "valueQuantity": {"value": 3.5}, "length": {"value": 5}},
    # arrays where a singleton is expected, an object where an array is expected
    {"resourceType": "Encounter", "id": "e2", "status": ["done"], "class": [{"code": "IMP"}], "period": [{"start": "2021"}],
     "type": {"coding": {"code": "y"}}, "subject": [{"reference": "https://x.org/fhir/Patient/p2/_history/3"}],
     "valueQuantity": [{"value": 1}], "length": [{"value": 6}]},
    # nulls, empty arrays, a scalar where an object is expected, another reference type
    {"resourceType": "Encounter", "id": "e3", "status": None, "class": "AMB", "period": None, "type": [],
     "subject": {"reference": "Group/g1"}, "valueQuantity": None, "length": {"value": None}},
    # absent members; the first type has no coding, the second has
    {"resourceType": "Encounter", "id": "e4", "type": [{"text": "none"}, {"coding": [{"code": "z"}]}]},
    # a null first code, a code that is an array, mixed object / array
    {"resourceType": "Encounter", "id": "e5", "type": [{"coding": [{"code": None}, {"code": "w"}]}],
     "class": {"code": ["a", "b"][:1]}, "subject": {"display": "no reference"}},
    {"resourceType": "Encounter", "id": "e6", "type": [{"coding": [{"code": ["q", "r"]}]}], "period": {"start": None},
     "subject": {"reference": ["Patient/p9"]}},
    {"resourceType": "Encounter", "id": "e7", "type": {"coding": [{"system": "s"}, {"code": "v"}]}, "length": {"value": "7"}},
]

FAST_VIEW = {"resource": "Encounter", "select": [{"column": [
    {"name": "id", "path": "getResourceKey()"},
    {"name": "patient", "path": "subject.getReferenceKey(Patient)"},
    {"name": "ref", "path": "subject.getReferenceKey()"},
    {"name": "status", "path": "Encounter.status"},
    {"name": "cls", "path": "class.code"},
    {"name": "start", "path": "period.start", "type": "dateTime"},
    {"name": "code", "path": "type.coding.code.first()"},
    {"name": "q", "path": "value.ofType(Quantity).value", "type": "decimal"},
    {"name": "n", "path": "length.value.first()", "type": "integer"},
]}]}


def general_rows(connection, view, monkeypatch):
    """The rows of the general (list-building) compilation of the same view."""
    from andon.analytics.fhir.sof import compile as compile_module

    with monkeypatch.context() as m:
        m.setattr(compile_module, "fast_column", lambda *args: None)
        m.setattr(compile_module, "_iterates", lambda nodes: True)
        assert "unnest" in sof.sql_for(view)
        return rows(connection, view)


def test_fast_path_gives_the_general_rows_on_tricky_json(monkeypatch):
    c = store_with(TRICKY)
    try:
        fast = rows(c, FAST_VIEW)
        assert sorted(fast, key=lambda r: r["id"]) == sorted(general_rows(c, FAST_VIEW, monkeypatch), key=lambda r: r["id"])
        by_id = {r["id"]: r for r in fast}
        assert by_id["Encounter/e1"]["code"] == "x" and by_id["Encounter/e4"]["code"] == "z"
        assert by_id["Encounter/e5"]["code"] == "w" and by_id["Encounter/e6"]["code"] == "q"
        assert by_id["Encounter/e2"]["patient"] == "Patient/p2" and by_id["Encounter/e3"]["patient"] is None
        assert by_id["Encounter/e2"]["start"] == "2021" and by_id["Encounter/e3"]["cls"] is None
        assert by_id["Encounter/e7"]["code"] == "v" and by_id["Encounter/e7"]["n"] == 7
    finally:
        c.close()


@pytest.mark.parametrize("resource", [
    {"resourceType": "Encounter", "id": "m1", "period": [{"start": "a"}, {"start": "b"}]},
    {"resourceType": "Encounter", "id": "m2", "period": {"start": ["a", "b"]}},
])
def test_fast_path_still_errors_on_several_values(resource, monkeypatch):
    view = {"resource": "Encounter", "select": [{"column": [{"name": "start", "path": "period.start"}]}]}
    c = store_with([resource])
    try:
        for run in (lambda: rows(c, view), lambda: general_rows(c, view, monkeypatch)):
            with pytest.raises(sof.ViewError, match="more than one value"):
                run()
    finally:
        c.close()


def test_a_simple_view_compiles_to_one_plain_select():
    sql = sof.sql_for(FAST_VIEW)
    assert "unnest" not in sql.lower() and "STRUCT" not in sql
    assert "starts_with" in sql  # the fast path, with the general expression kept for odd rows
    nested = {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "getResourceKey()"}]},
                                                {"select": [{"column": [{"name": "b", "path": "birthDate"}]}]}]}
    assert "unnest" not in sof.sql_for(nested).lower()
    iterating = {"resource": "Patient", "select": [{"forEach": "name", "column": [{"name": "f", "path": "family"}]}]}
    assert "unnest" in sof.sql_for(iterating)


REFERENCES = [
    # a conditional first location (no key), a second one with a key
    {"resourceType": "Encounter", "id": "r1", "location": [
        {"location": {"reference": "Location?identifier=x|1"}}, {"location": {"reference": "Location/l2"}}]},
    # the first reference is of another type; the second is the first Location key
    {"resourceType": "Encounter", "id": "r2", "location": [
        {"location": {"reference": "Organization/o1"}}, {"location": {"reference": "https://h.org/fhir/Location/l3/_history/2"}}]},
    # one conditional reference only: no key
    {"resourceType": "Encounter", "id": "r3", "location": [{"location": {"reference": "Location?identifier=x|3"}}],
     "serviceProvider": {"reference": "Organization?identifier=y|3"}},
    # location an object, not a list; a plain key
    {"resourceType": "Encounter", "id": "r4", "location": {"location": {"reference": "Location/l4"}},
     "serviceProvider": {"reference": "Organization/o4"}},
    {"resourceType": "Encounter", "id": "r5", "hospitalization": {"dischargeDisposition": {"coding": [{"code": "home"}]}}},
    {"resourceType": "Encounter", "id": "r6", "hospitalization": {"admitSource": {"text": "no coding"}}},
    {"resourceType": "Encounter", "id": "r7"},
]

SHAPED_VIEW = {"resource": "Encounter", "select": [{"column": [
    {"name": "id", "path": "getResourceKey()"},
    {"name": "location", "path": "location.location.getReferenceKey(Location).first()"},
    {"name": "any_key", "path": "location.location.getReferenceKey().first()"},
    {"name": "provider", "path": "serviceProvider.getReferenceKey(Organization)"},
    {"name": "disposition", "path": "hospitalization.dischargeDisposition.coding.code.first()"},
    {"name": "code", "path": "type.coding.code.first()"},
    {"name": "status", "path": "status.first()"},
    {"name": "cls", "path": "class.code"},
]}]}

# shapes that guide the fast path well, badly or not at all: the rows must not change
SHAPES = {
    "none": None,
    "arrays everywhere": Shape(
        {"location": [{"location": [{"reference": "VARCHAR"}]}], "type": [{"coding": [{"code": ["VARCHAR"]}]}],
         "hospitalization": [{"dischargeDisposition": [{"coding": [{"code": "VARCHAR"}]}]}], "status": ["VARCHAR"],
         "class": [{"code": "VARCHAR"}], "serviceProvider": [{"reference": "VARCHAR"}]},
        {"location": 0.9, "type": 0.9, "hospitalization": 0.1, "status": 0.1, "class": 0.1, "serviceProvider": 0.1}),
    "objects everywhere": Shape(
        {"location": {"location": {"reference": "VARCHAR"}}, "type": {"coding": {"code": "VARCHAR"}},
         "hospitalization": {"dischargeDisposition": {"coding": {"code": "VARCHAR"}}}},
        {"location": 0.1, "type": 0.1, "hospitalization": 0.9}),
}


@pytest.mark.parametrize("data", ["TRICKY", "REFERENCES"])
@pytest.mark.parametrize("shape", SHAPES)
def test_shape_guided_fast_path_gives_the_general_rows(data, shape, monkeypatch):
    c = store_with(TRICKY if data == "TRICKY" else REFERENCES)
    try:
        for view in (SHAPED_VIEW, FAST_VIEW):
            sql, _ = compile_view(view, SHAPES[shape])
            assert "unnest" not in sql
            fast = c.sql(sql).to_arrow_table().to_pylist()
            key = lambda r: r["id"]
            assert sorted(fast, key=key) == sorted(general_rows(c, view, monkeypatch), key=key)
    finally:
        c.close()


def test_reference_keys_first_of_their_type():
    c = store_with(REFERENCES)
    try:
        by_id = {r["id"]: r for r in rows(c, SHAPED_VIEW)}
        assert by_id["Encounter/r1"]["location"] == "Location/l2" and by_id["Encounter/r1"]["any_key"] == "Location/l2"
        assert by_id["Encounter/r2"]["location"] == "Location/l3" and by_id["Encounter/r2"]["any_key"] == "Organization/o1"
        assert by_id["Encounter/r3"]["location"] is None and by_id["Encounter/r3"]["provider"] is None
        assert by_id["Encounter/r4"]["location"] == "Location/l4" and by_id["Encounter/r4"]["provider"] == "Organization/o4"
        assert by_id["Encounter/r5"]["disposition"] == "home" and by_id["Encounter/r6"]["disposition"] is None
        assert all(by_id["Encounter/r7"][k] is None for k in ("location", "provider", "disposition", "code"))
    finally:
        c.close()


def test_run_samples_the_shape_of_the_stored_resources():
    c = store_with([r for r in REFERENCES if r["id"] != "r4"])
    try:
        shape = engine.sample_shape(c, "Encounter")
        assert isinstance(shape.structure["location"], list) and isinstance(shape.structure["hospitalization"], dict)
        assert shape.present["hospitalization"] == pytest.approx(2 / 6) and shape.present["id"] == 1
        mixed = store_with(REFERENCES)  # location a list in some, an object in r4: no guidance
        assert engine.sample_shape(mixed, "Encounter").structure["location"] == "JSON"
        mixed.close()
        assert engine.sample_shape(c, "Patient") is None
        # a list location in the sample: the fast path reads location[0] directly
        assert "$.\"location\"[0].\"location\".\"reference\"" in compile_view(SHAPED_VIEW, shape)[0]
    finally:
        c.close()


# ---------------------------------------------------------------------------- size and limits


def _column_view(path, name="x"):
    return {"resource": "Patient", "select": [{"column": [{"name": name, "path": path}]}]}


def _nested_or_null(k):
    """k forEachOrNull nodes, each inside the one before."""
    node = {"column": [{"name": "f", "path": "family"}]}
    for _ in range(k):
        node = {"forEachOrNull": "name", "select": [node]}
    return {"resource": "Patient", "select": [node]}


# an expression in which each of k operators has the expression before it as an operand (or an index)
CHAINS = {
    "=": lambda k: _column_view("=".join(["active"] * (k + 1))),
    "!=": lambda k: _column_view("!=".join(["active"] * (k + 1))),
    "<": lambda k: _column_view("<".join(["birthDate"] * (k + 1))),
    "+": lambda k: _column_view("+".join(["1"] * (k + 1))),
    "*": lambda k: _column_view("*".join(["2"] * (k + 1))),
    "index": lambda k: _column_view("name[" * k + "0" + "]" * k),
    "forEachOrNull": _nested_or_null,
}


@pytest.mark.parametrize("chain", CHAINS)
def test_sql_grows_linearly_with_the_expression(chain):
    """Each operand is compiled once and bound (a lambda over a one-item list), never pasted
    into the SQL once per use: a 37-character chain of `=` once compiled to hundreds of MB."""
    base = len(sof.sql_for(CHAINS[chain](1)))
    sizes = {}
    for k in (4, 8, 16):
        sizes[k] = len(sof.sql_for(CHAINS[chain](k)))
        assert sizes[k] <= base + 1_500 * k, (chain, k, sizes[k])  # checked before the next, larger k
    assert sizes[16] - sizes[8] <= 2.2 * (sizes[8] - sizes[4]), sizes


def test_a_chain_of_equalities_still_evaluates(connection):
    """((a = a) = a) = …: true for active patients, alternating for inactive ones."""
    for k in (1, 2, 7, 16):
        view = {"resource": "Patient", "select": [{"column": [
            {"name": "id", "path": "id"}, {"name": "x", "path": "=".join(["active"] * (k + 1)), "type": "boolean"}]}]}
        got = {r["id"]: r["x"] for r in rows(connection, view)}
        assert got == {"p1": True, "p2": k % 2 == 1, "p3": None}


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (_column_view("(" * 4000 + "id" + ")" * 4000), "select[0].column[0] (x).path: nested deeper than 64 levels"),
        (_column_view("-" * 4000 + "1"), "nested deeper than 64 levels"),
        (_column_view("=".join(["active"] * 100)), "nested deeper than 64 levels"),
        (_column_view("a." * 100 + "b"), "nested deeper than 64 levels"),
        (_column_view("1" * 5000), "select[0].column[0] (x).path: the number 1111111111… is out of range"),
        (_column_view("9223372036854775808"), "out of range"),
        (_column_view("id" + " " * 20_000), "select[0].column[0] (x).path: the expression has 20002 characters, more than the limit of 10000"),
        (_column_view("id", name="id\n"), "column name 'id\\n' is not valid"),
        ({"resource": "Patient\n", "select": [{"column": [{"name": "id", "path": "id"}]}]}, "is not a FHIR resource type"),
        ({"resource": "Patient", "constant": [{"name": "c\n", "valueString": "x"}], "select": [{"column": [{"name": "id", "path": "id"}]}]},
         "a constant needs a name"),
        ({"resource": "Patient", "constant": [{"name": "c", "valueInteger": 10 ** 5000}], "select": [{"column": [{"name": "id", "path": "%c"}]}]},
         "constant[0] (c): valueInteger is out of range"),
        ({"resource": "Patient", "constant": [{"name": "c", "valueDecimal": float("nan")}], "select": [{"column": [{"name": "id", "path": "%c"}]}]},
         "constant[0] (c): valueDecimal is not a finite number"),
        ({"resource": "Patient", "constant": [{"name": "c", "valueString": {"a": 1}}], "select": [{"column": [{"name": "id", "path": "%c"}]}]},
         "constant[0] (c): valueString must be a string, number or boolean"),
    ],
)
def test_views_beyond_the_limits_get_a_clear_error(view, message):
    with pytest.raises(sof.ViewError) as error:
        sof.sql_for(view)
    assert message in str(error.value)


def test_select_nesting_and_sql_size_limits_are_configurable():
    with pytest.raises(sof.ViewError, match=r"select\[0\]\.column\[0\] \(x\)\.path: the SQL would exceed the limit of 1000 characters"):
        sof.sql_for(_column_view("name.where(use = 'official').family"), sof.Limits(sql_chars=1_000))
    with pytest.raises(sof.ViewError, match="nested deeper than 3 levels"):
        sof.sql_for(_column_view("name.given.first()"), sof.Limits(expression_depth=3))
    deep = _nested_or_null(40)
    with pytest.raises(sof.ViewError, match=r"view(\.select\[0\])+: selects nested deeper than 32 levels"):
        sof.sql_for(deep)
    assert "unnest" in sof.sql_for(deep, sof.Limits(select_depth=50))


def _deep_view(levels: int) -> str:
    """A ViewDefinition file of `levels` select nodes, each inside the one before."""
    return '{"resource": "Patient", "select": [' + '{"select": [' * levels + '{"column": [{"name": "id", "path": "id"}]}' + "]}" * levels + "]}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_deep_view(100_000), "cannot read the ViewDefinition: nested deeper than"),
        (_deep_view(40), "invalid ViewDefinition: view.select[0]"),
        (json.dumps(_column_view("1" * 5000)), "the number 1111111111… is out of range"),
        (json.dumps(_column_view("(" * 4000 + "id" + ")" * 4000)), "nested deeper than 64 levels"),
        (json.dumps(_column_view("(" * 5000 + "id" + ")" * 5000)), "the expression has 10002 characters, more than the limit of 10000"),
        (json.dumps(_column_view("id", name="id\n")), "column name 'id\\n' is not valid"),
        ('{"resource": "Patient", "resource": "Encounter", "select": []}', 'cannot read the ViewDefinition: duplicate key "resource"'),
        ('{"resource": "Patient", "constant": [{"name": "c", "valueDecimal": NaN}], "select": []}', "NaN is not a JSON number"),
    ],
)
def test_cli_reports_bad_views_in_one_line(on_disk, tmp_path, capsys, text, message):
    path, _ = on_disk
    view = tmp_path / "hostile.json"
    view.write_text(text)
    assert andon("fhir", "--store", str(path), "view", str(view)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


def test_deep_data_stored_before_the_loader_checked_never_stops_a_view():
    """The shape sample parsed the data's JSON structure, as deep as the data: a 100,000-deep
    array stored by an older loader made every view of its type fail with RecursionError."""
    c = store_with(PATIENTS)
    try:
        deep = '{"resourceType": "Patient", "id": "deep", "extension": ' + "[" * 100_000 + "]" * 100_000 + "}"
        c.execute("INSERT INTO resources (type, id, resource) VALUES ('Patient', 'deep', ?)", [deep])
        got = rows(c, {"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]})
        assert sorted(r["id"] for r in got) == ["deep", "p1", "p2", "p3"]
    finally:
        c.close()
