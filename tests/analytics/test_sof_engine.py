"""The SQL-on-FHIR view engine, piece by piece: the FHIRPath parser, the compiler, invalid views,
and `andon fhir view` writing Parquet and CSV."""

import csv
import json

import pyarrow.parquet as pq
import pytest

from andon.analytics.fhir import sof, store
from andon.analytics.fhir.sof.fhirpath import Binary, Call, Constant, FHIRPathError, Index, Literal, Member, This, parse
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
