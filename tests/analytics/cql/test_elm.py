"""The ELM loader on the published CMS content and on broken input."""

import json
from pathlib import Path

import pytest

from andon.analytics.cql.elm import (
    ELMError,
    LibrarySet,
    load_library,
    parse_library,
    read_json,
)

CONTENT = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "ecqm-qicore-2024"
LIBRARIES = CONTENT / "libraries"
needs_content = pytest.mark.skipif(not LIBRARIES.is_dir(), reason=f"CMS eCQM content not found at {LIBRARIES}")


def test_choice_type_keeps_its_kind_and_annotations_are_dropped():
    text = '{"type": "ChoiceTypeSpecifier", "type": [], "choice": [{"type": "NamedTypeSpecifier", "name": "x"}], "annotation": [1]}'
    node = read_json(text, "t")
    assert node == {"type": "ChoiceTypeSpecifier", "choice": [{"type": "NamedTypeSpecifier", "name": "x"}]}
    assert json.loads(text)["type"] == []  # what a plain load would have kept


def minimal(**library):
    return {"library": {"identifier": {"id": "L", "version": "1.0"}, **library}}


def test_parse_sorts_statements_and_overloads():
    lib = parse_library(minimal(
        includes={"def": [{"localIdentifier": "FH", "path": "FHIRHelpers", "version": "4.4.000"}]},
        statements={"def": [
            {"name": "Patient", "context": "Patient", "expression": {"type": "SingletonFrom"}},
            {"name": "ToString", "type": "FunctionDef", "operand": [{"name": "a"}]},
            {"name": "ToString", "type": "FunctionDef", "operand": [{"name": "b"}]},
        ]},
        parameters={"def": [{"name": "Measurement Period"}]},
    ))
    assert lib.key == ("L", "1.0") and set(lib.expressions) == {"Patient"}
    assert [f["operand"][0]["name"] for f in lib.functions["ToString"]] == ["a", "b"]
    assert lib.includes["FH"].name == "FHIRHelpers" and "Measurement Period" in lib.parameters


@pytest.mark.parametrize("data, message", [
    ({}, "no 'library' object"),
    ({"library": {"identifier": {}}}, "no identifier.id"),
    (minimal(statements={"def": [{"expression": {}}]}), "a statement has no name"),
    (minimal(includes={"def": [{"path": "X"}]}), "include needs localIdentifier and path"),
    (minimal(statements={"def": "nope"}), "statements.def is not a list"),
])
def test_broken_libraries_say_what_is_wrong(data, message):
    with pytest.raises(ELMError, match=message):
        parse_library(data, "f.json")


def test_unreadable_files(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ELMError, match=r"bad.json: not valid JSON"):
        load_library(tmp_path / "bad.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ELMError, match="bin.json: cannot read"):
        load_library(tmp_path / "bin.json")


def test_library_set_refuses_missing_and_ambiguous_versions():
    a1 = parse_library({"library": {"identifier": {"id": "A", "version": "1"}}}, "a1")
    a2 = parse_library({"library": {"identifier": {"id": "A", "version": "2"}}}, "a2")
    libs = LibrarySet([a1, a2])
    assert libs.get("A", "2") is a2
    with pytest.raises(ELMError, match=r"A version 3 not found \(have: 1, 2\)"):
        libs.get("A", "3")
    with pytest.raises(ELMError, match="several versions"):
        libs.get("A")
    with pytest.raises(ELMError, match="is in both a1 and other"):
        libs.add(parse_library({"library": {"identifier": {"id": "A", "version": "1"}}}, "other"))


@needs_content
def test_every_published_library_loads_and_its_includes_resolve():
    libs = LibrarySet.from_folders([LIBRARIES])
    assert len(libs) == len(list(LIBRARIES.glob("*.json"))) == 83
    for library in libs:
        for alias in library.includes:
            assert libs.included(library, alias).name == library.includes[alias].name
    helpers = libs.get("FHIRHelpers", "4.4.000")
    assert len(helpers.functions["ToInterval"]) == 3 and "ToConcept" in helpers.functions
    choice = [n for lib in libs for n in _walk(lib.expressions) if n.get("type") == "ChoiceTypeSpecifier"]
    choice += [n for lib in libs for n in _walk(lib.functions) if n.get("type") == "ChoiceTypeSpecifier"]
    assert choice and all(isinstance(n["type"], str) and n["choice"] for n in choice)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_an_include_from_another_namespace_is_refused():
    helper = parse_library({"library": {"identifier": {"id": "H", "version": "1", "system": "http://a.org"}}}, "h")
    user = parse_library(minimal(includes={"def": [{"localIdentifier": "H", "path": "http://b.org/H", "version": "1"}]}), "u")
    libs = LibrarySet([helper, user])
    assert user.includes["H"].system == "http://b.org" and user.includes["H"].name == "H"
    with pytest.raises(ELMError, match="includes http://b.org/H; h is http://a.org/H"):
        libs.included(user, "H")


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(("text", "message"), [
    ('{"library": ' + DEEP + "}", "nested deeper than 256 levels"),
    ('{"library": {"x": NaN}}', "NaN is not a JSON number"),
    ('{"library": {"x": 1e999}}', "out of range"),
])
def test_content_that_is_not_strict_json_or_too_deep_is_refused(tmp_path, text, message):
    from andon.analytics.cql import content

    (tmp_path / "L.json").write_text(text)
    with pytest.raises(ELMError, match=f"L.json: not valid JSON.*{message}"):
        load_library(tmp_path / "L.json")
    (tmp_path / "valuesets").mkdir()
    (tmp_path / "valuesets" / "V.json").write_text(text.replace("library", "compose"))
    with pytest.raises(content.ContentError, match=f"V.json: cannot read JSON.*{message.replace('256', '100')}"):
        content.load_valuesets([tmp_path])


def test_content_is_read_once_and_again_when_a_file_changes(tmp_path):
    from andon.analytics.cql import content

    folder = tmp_path / "valuesets"
    folder.mkdir()

    def write(name, codes):
        (folder / name).write_text(json.dumps({"resourceType": "ValueSet", "url": f"urn:{name}", "expansion": {
            "contains": [{"system": "s", "code": code} for code in codes]}}))

    write("A.json", ["1"])
    first = content.load_valuesets([tmp_path])
    assert content.load_valuesets([tmp_path]) is first  # not parsed again
    write("A.json", ["1", "22"])  # same name, another size
    changed = content.load_valuesets([tmp_path])
    assert changed is not first and changed["urn:A.json"].codes == {("s", "1"), ("s", "22")}
    write("B.json", ["3"])  # a file added
    assert set(content.load_valuesets([tmp_path])) == {"urn:A.json", "urn:B.json"}
    (folder / "B.json").unlink()  # and removed
    assert set(content.load_valuesets([tmp_path])) == {"urn:A.json"}
    (folder / "A.json").write_text("{not json")
    with pytest.raises(content.ContentError, match="A.json: cannot read JSON"):
        content.load_valuesets([tmp_path])  # a broken edit is refused, not hidden by the last good read
