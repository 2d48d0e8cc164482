"""Compliance frameworks as data: the loader (YAML, CSV, XLSX), versions and what changed between
them, mappings, and the pages and API that read and import them."""

import io
import re
import textwrap
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from andon.compliance import frameworks, uploads
from andon.compliance.frameworks import FrameworkFileError
from andon.compliance.models import Change, Framework, FrameworkVersion, Requirement, RequirementMapping
from andon.platform import content
from andon.platform.roles import Role

COP_FILE = Path(__file__).resolve().parent.parent / "content" / "frameworks" / "cms-cop-482.yaml"
COP = "urn:andon:framework:cms-cop-482"
OWN = "urn:t:own"
CHAPTERS = ["482.11", "482.12", "482.13", "482.15", "482.21", "482.22", "482.23", "482.24", "482.25", "482.26",
            "482.27", "482.28", "482.30", "482.41", "482.42", "482.43", "482.51"]


def yaml_file(body: str) -> str:
    return textwrap.dedent(body).lstrip()


HEADER = """\
framework:
  urn: urn:t:own
  name: Own standards
  kind: internal
  version: "1"
requirements:
"""

OWN_V1 = HEADER + """\
  - urn: urn:t:own:A
    citation: A
    title: Reporting
    summary: Staff report events.
    children:
      - urn: urn:t:own:A.1
        citation: A.1
        title: Triage
        summary: Triage within a day.
        evidence_hints: [Triage times]
      - urn: urn:t:own:A.2
        citation: A.2
        title: Feedback
        summary: Reporters hear back.
  - urn: urn:t:own:B
    citation: B
    title: Falls
    summary: Falls are prevented.
"""


def load(text, source="own.yaml", user=None):
    return frameworks.load_framework_text(text, source, user=user)


def refused(text, source="bad.yaml") -> list:
    before = (Framework.objects.count(), FrameworkVersion.objects.count(), Requirement.objects.count(),
              RequirementMapping.objects.count())
    with pytest.raises(FrameworkFileError) as caught:
        load(text, source)
    after = (Framework.objects.count(), FrameworkVersion.objects.count(), Requirement.objects.count(),
             RequirementMapping.objects.count())
    assert after == before, "a refused file stores nothing"
    return [str(problem) for problem in caught.value.problems]


# --- the shipped CoP --------------------------------------------------------------------------------

@pytest.fixture
def cop(db):
    return load(COP_FILE.read_text(encoding="utf-8"), str(COP_FILE)).version


def test_the_shipped_cop_holds_every_condition_the_issue_names_each_with_its_standards(cop):
    chapters = list(cop.requirements.filter(depth=0).order_by("position"))
    assert [c.urn.rsplit(":", 1)[1] for c in chapters] == CHAPTERS
    assert not cop.requirements.filter(urn__endswith=":482.14").exists()  # 482.14 is not in the regulation
    for chapter in chapters:
        standards = list(cop.requirements.filter(parent=chapter))
        assert standards, f"{chapter.citation} has no standards"
        assert all(s.chapter_id == chapter.pk and s.depth == 1 for s in standards)
        assert all(s.citation.startswith(chapter.citation + "(") for s in standards)
    qapi = cop.requirements.get(urn=f"{COP}:482.21(a)")
    assert (qapi.citation, qapi.title, qapi.assessable) == ("42 CFR 482.21(a)", "Program scope", True)
    assert qapi.chapter.citation == "42 CFR 482.21"
    assert "adverse patient events" in qapi.summary
    assert cop.requirements.get(urn=f"{COP}:482.21").chapter_id == cop.requirements.get(urn=f"{COP}:482.21").pk
    assert cop.framework.kind == "regulation" and cop.framework.source_url.startswith("https://www.ecfr.gov/")
    assert cop.is_current and cop.previous is None
    positions = list(cop.requirements.values_list("position", flat=True))
    assert positions == sorted(positions) == list(range(len(positions)))


def test_the_shipped_cop_assesses_the_standards_and_rolls_each_condition_up_from_them(cop, hospital, make_user):
    from andon.compliance import assessments

    conditions = cop.requirements.filter(depth=0)
    assert not conditions.filter(assessable=True).exists()  # surveyors judge a condition through its standards
    # Every standard is assessed but 482.30(a), which only says when the section applies.
    assert list(cop.requirements.filter(depth=1, assessable=False).values_list("citation", flat=True)) == [
        "42 CFR 482.30(a)"]
    lee = make_user(Role.COMPLIANCE_SPECIALIST, "")
    whole = assessments.create_assessment(lee, title="CoP survey", version=cop, scope=hospital.facility("rgh"),
                                          lead=lee)
    assert set(whole.items.values_list("requirement__depth", flat=True)) == {1}  # standards only
    assert whole.items.count() == cop.requirements.filter(assessable=True).count() == 71
    qapi = whole.items.filter(requirement__chapter__urn=f"{COP}:482.21").order_by("requirement__position")
    for item in qapi[:3]:
        assessments.update_item(lee, item, item.version, working_status="done", result="met",
                                rationale="Seen in the minutes.")
    by_chapter = {line.key: line for line in assessments.readiness(whole).by_chapter}
    assert list(by_chapter) == [f"{COP}:{chapter}" for chapter in CHAPTERS]
    assert (by_chapter[f"{COP}:482.21"].earned, by_chapter[f"{COP}:482.21"].possible) == (3, 6)  # 3 of 6 standards
    assert by_chapter[f"{COP}:482.28"].possible == 2  # Organization and Diets, no item for the condition


def test_the_shipped_cop_titles_standards_as_the_rule_does(cop):
    titles = dict(cop.requirements.values_list("citation", "title"))
    assert titles["42 CFR 482.22(c)"] == "Medical staff bylaws"  # "... and rules" is the survey tag's name
    assert titles["42 CFR 482.43(a)"] == "Discharge planning process"
    assert titles["42 CFR 482.30(a)"] == "Applicability"
    assert cop.version == "2024-11-01 edition 2"  # edition 1 had other content under "2024-11-01"


def test_the_content_command_loads_the_frameworks_folder_and_a_reload_changes_nothing(db):
    content.load_content([COP_FILE.parent])
    content.load_content([COP_FILE.parent])
    assert FrameworkVersion.objects.filter(framework__urn=COP).count() == 1
    assert Requirement.objects.filter(version__framework__urn=COP, depth=0).count() == len(CHAPTERS)


# --- bad files: every problem named with file and line, nothing stored ------------------------------

def test_a_duplicate_urn_is_refused_with_both_lines(db):
    problems = refused(OWN_V1 + """\
  - urn: urn:t:own:A.1
    title: Again
""")
    assert problems == ["bad.yaml, line 25: urn: urn:t:own:A.1 appears twice (first at line 12)"]


def test_a_parent_that_is_missing_is_refused(db):
    problems = refused(HEADER + """\
  - urn: urn:t:own:A
    title: A
  - urn: urn:t:own:B
    parent: urn:t:own:Z
    title: B
""")
    assert problems == ["bad.yaml, line 10: parent: no requirement urn:t:own:Z in this file"]


def test_a_cycle_through_parent_is_refused(db):
    problems = refused(HEADER + """\
  - urn: urn:t:own:A
    title: A
  - urn: urn:t:own:B
    parent: urn:t:own:C
    title: B
  - urn: urn:t:own:C
    parent: urn:t:own:B
    title: C
""")
    assert problems == ["bad.yaml, line 10: parent: urn:t:own:B is its own ancestor (a cycle through parent)",
                        "bad.yaml, line 13: parent: urn:t:own:C is its own ancestor (a cycle through parent)"]


def test_unknown_fields_wrong_types_and_missing_fields_are_all_listed(db):
    problems = refused(yaml_file("""
        framework:
          urn: urn:t:own
          name: Own
          kind: castle
          version: 1.10
          colour: red
        requirements:
          - urn: urn:t:own:A
            title: [not, text]
            assessable: maybe
            evidence_hints: 3
            childs: []
          - citation: B
    """))
    assert problems == [
        "bad.yaml, line 6: framework.colour: unknown field (fields: description, effective_on, kind, name, publisher, "
        "source_url, urn, version)",
        "bad.yaml, line 4: framework.kind: 'castle' is not one of regulation, accreditation, internal",
        "bad.yaml, line 5: framework.version: expected text, found a number with a decimal point (write it in quotes)",
        "bad.yaml, line 12: requirements[0].childs: unknown field (fields: assessable, children, citation, "
        "evidence_hints, guidance, parent, summary, title, urn)",
        "bad.yaml, line 9: requirements[0].title: expected text, found list",
        "bad.yaml, line 11: requirements[0].evidence_hints: expected a list of texts",
        "bad.yaml, line 10: requirements[0].assessable: expected true or false, found 'maybe'",
        "bad.yaml, line 13: requirements[1].urn: required",
        "bad.yaml, line 13: requirements[1].title: required",
    ]


def test_an_empty_framework_a_yaml_alias_and_broken_yaml_are_refused(db):
    assert refused(HEADER) == ["bad.yaml, line 6: requirements: the framework has no requirements"]
    alias = HEADER + "  - &a {urn: 'urn:t:own:A', title: A}\n  - *a\n"
    assert refused(alias) == ["bad.yaml, line 8: aliases (*name) are not accepted; write the parts out"]
    broken = HEADER + "  - urn: [unclosed\n"
    assert refused(broken)[0].startswith("bad.yaml, line 8: not valid YAML")
    twice = HEADER.replace('  version: "1"\n', '  version: "1"\n  version: "2"\n') + "  - {urn: 'urn:t:own:A', title: A}\n"
    assert refused(twice) == ["bad.yaml, line 6: not valid YAML: the key 'version' appears twice in one mapping"]


def test_a_requirement_urn_of_another_framework_is_refused(cop):
    other = HEADER.replace("urn: urn:t:own\n", "urn: urn:t:other\n", 1) + f"  - urn: '{COP}:482.21(a)'\n    title: Mine\n"
    assert refused(other) == [f"bad.yaml, line 7: urn: {COP}:482.21(a) already belongs to "
                              "CMS Conditions of Participation for Hospitals (42 CFR Part 482)"]


def test_a_nested_requirement_may_not_name_another_parent(db):
    problems = refused(HEADER + """\
  - urn: urn:t:own:A
    title: A
    children:
      - urn: urn:t:own:A.1
        parent: urn:t:own:B
        title: A.1
  - urn: urn:t:own:B
    title: B
""")
    assert problems == ["bad.yaml, line 11: requirements[0].children[0].parent: a nested requirement's parent is the "
                        "one it is written under; leave parent out"]


# --- versions -----------------------------------------------------------------------------------

OWN_V2 = OWN_V1.replace('version: "1"', 'version: "2"').replace(
    "summary: Triage within a day.", "summary: Triage within four hours.").replace(
    """      - urn: urn:t:own:A.2
        citation: A.2
        title: Feedback
        summary: Reporters hear back.
""", "") + """\
  - urn: urn:t:own:C
    parent: urn:t:own:B
    citation: C
    title: Fall risk assessed
"""


def test_a_new_version_keeps_the_old_one_and_says_what_changed(db, make_user):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST)
    v1 = load(OWN_V1).version
    old_triage = v1.requirements.get(urn="urn:t:own:A.1")
    outcome = load(OWN_V2, "own-2.yaml", user=specialist)
    v2 = outcome.version
    v1.refresh_from_db()
    assert outcome.created and v2.is_current and not v1.is_current and v2.previous_id == v1.pk
    assert v2.loaded_by == specialist
    assert Requirement.objects.filter(pk=old_triage.pk, version=v1).exists()  # assessments' targets untouched
    assert v1.requirements.count() == 4 and v2.requirements.count() == 4
    assert dict(v2.requirements.values_list("urn", "change")) == {
        "urn:t:own:A": Change.UNCHANGED, "urn:t:own:A.1": Change.CHANGED, "urn:t:own:B": Change.UNCHANGED,
        "urn:t:own:C": Change.NEW}
    assert all(change == Change.NEW for change in v1.requirements.values_list("change", flat=True))
    changes = frameworks.version_changes(v1, v2)
    assert [r.urn for r in changes.added] == ["urn:t:own:C"]
    assert [r.urn for r in changes.removed] == ["urn:t:own:A.2"]
    assert [(old.pk, new.urn, diff) for old, new, diff in changes.changed] == [
        (old_triage.pk, "urn:t:own:A.1",
         [frameworks.FieldChange("summary", "Triage within a day.", "Triage within four hours.")])]
    new_c = v2.requirements.get(urn="urn:t:own:C")
    assert (new_c.parent.urn, new_c.chapter.urn, new_c.depth) == ("urn:t:own:B", "urn:t:own:B", 1)
    assert frameworks.changes_of(v2.requirements.get(urn="urn:t:own:A.1")) == changes.changed[0][2]


def test_reloading_a_version_unchanged_is_a_no_op_and_a_changed_one_is_refused(db):
    first = load(OWN_V1).version
    again = load("# a comment changes nothing\n" + OWN_V1, "own-copy.yaml")
    assert not again.created and again.version == first
    assert FrameworkVersion.objects.count() == 1 and Requirement.objects.count() == 4
    changed = OWN_V1.replace("Staff report events.", "Staff report every event.")
    assert refused(changed) == ["bad.yaml: framework.version: version 1 of Own standards is already loaded with other "
                                "content; give the changed file a new version"]


# --- mappings -------------------------------------------------------------------------------------

MAPPINGS = f"""\
mappings:
  - source: urn:t:own:A.1
    target: '{COP}:482.21(a)'
    relation: subset
    note: Part of QAPI scope.
  - source: urn:t:own:B
    target: '{COP}:482.23(b)'
    relation: equal
"""


def test_mappings_load_and_evidence_shows_one_way_for_subset_both_ways_for_equal(cop):
    load(OWN_V1)
    assert frameworks.load_mappings_text(MAPPINGS, "map.yaml") == 2
    assert frameworks.mapped_urns(f"{COP}:482.21(a)") == {"urn:t:own:A.1"}
    assert frameworks.mapped_urns("urn:t:own:A.1") == set()  # a subset's evidence does not flow back
    assert frameworks.mapped_urns(f"{COP}:482.23(b)") == {"urn:t:own:B"}
    assert frameworks.mapped_urns("urn:t:own:B") == {f"{COP}:482.23(b)"}
    shown = frameworks.mappings_of(f"{COP}:482.21(a)")
    assert [(m.other_urn, m.requirement.title, m.evidence_shows_here, m.mapping.note) for m in shown] == [
        ("urn:t:own:A.1", "Triage", True, "Part of QAPI scope.")]
    assert frameworks.load_mappings_text(MAPPINGS, "map.yaml") == 2  # a reload updates, never doubles
    assert RequirementMapping.objects.count() == 2


def test_a_mapping_to_an_unknown_urn_is_refused_with_file_line_and_urn(cop):
    load(OWN_V1)
    bad = MAPPINGS.replace("482.23(b)", "482.99(z)").replace("relation: subset", "relation: sort-of")
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.load_mappings_text(bad, "map.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "map.yaml, line 4: mappings[0].relation: 'sort-of' is not one of equal, subset, superset, intersect"]
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.load_mappings_text(MAPPINGS.replace("482.23(b)", "482.99(z)"), "map.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"map.yaml, line 7: target: no loaded framework has a requirement {COP}:482.99(z)"]
    assert RequirementMapping.objects.count() == 0


def test_the_demo_loads_the_cop_the_own_standards_and_their_mapping(db):
    from andon.compliance import demo_frameworks

    demo_frameworks.load_demo_frameworks()
    demo_frameworks.load_demo_frameworks()
    assert Framework.objects.count() == 2 and FrameworkVersion.objects.count() == 2
    assert frameworks.mapped_urns(f"{COP}:482.42(a)") == {"urn:andon:framework:riverside-standards:RS-3"}
    assert RequirementMapping.objects.count() == 4


# --- spreadsheets -------------------------------------------------------------------------------

CSV_OK = """urn,parent,citation,title,summary,guidance,evidence_hints,assessable
urn:t:own:A,,A,Reporting,Staff report events.,,,false
urn:t:own:A.1,urn:t:own:A,A.1,Triage,Triage within a day.,,Triage times|Escalation log,
"""
META = {"urn": OWN, "name": "Own standards", "kind": "internal", "version": "1"}


def test_a_csv_framework_loads_flat_rows_into_a_tree(db, make_user):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST)
    outcome = frameworks.import_framework(specialist, CSV_OK.encode(), "csv", "own.csv", META)
    rows = {r.urn: r for r in outcome.version.requirements.select_related("parent")}
    assert rows["urn:t:own:A"].assessable is False and rows["urn:t:own:A.1"].assessable is True
    assert rows["urn:t:own:A.1"].parent.urn == "urn:t:own:A"
    assert rows["urn:t:own:A.1"].evidence_hints == ["Triage times", "Escalation log"]


def test_a_csv_with_bad_rows_is_refused_by_row_field_and_reason(db, make_user):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST)
    bad = CSV_OK + "urn:t:own:A.1,urn:t:own:Q,A.2,,x,,,perhaps\nnot a urn,,B,B,,,,\n"
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.import_framework(specialist, bad.encode(), "csv", "own.csv", {**META, "kind": "castle"})
    assert [str(p) for p in caught.value.problems] == [
        "own.csv: framework.kind: 'castle' is not one of regulation, accreditation, internal",
        "own.csv, row 4: title: required",
        "own.csv, row 4: assessable: expected true or false, found 'perhaps'",
        "own.csv, row 5: urn: 'not a urn' is not a URN (write it like urn:andon:framework:cms-cop-482:482.21(a), "
        "without spaces)",
    ]
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.import_framework(specialist, "urn,title,colour\nurn:t:own:A,A,red\n".encode(), "csv", "own.csv",
                                    META)
    assert [str(p) for p in caught.value.problems] == [
        "own.csv, row 1: colour: unknown column (columns: urn, parent, citation, title, summary, guidance, "
        "evidence_hints, assessable)"]
    assert Requirement.objects.count() == 0 and Framework.objects.count() == 0


def xlsx(rows, framework_rows=None) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "requirements"
    for row in rows:
        sheet.append(row)
    if framework_rows:
        meta = book.create_sheet("framework")
        for row in framework_rows:
            meta.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_framework_takes_its_fields_from_the_framework_sheet_and_names_sheet_and_row(db, make_user):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST)
    header = ["urn", "parent", "citation", "title", "summary"]
    fields = [["field", "value"], ["urn", OWN], ["name", "Own standards"], ["kind", "internal"], ["version", 3]]
    data = xlsx([header, ["urn:t:own:A", None, "A", "Reporting", "Staff report."],
                 ["urn:t:own:A.1", "urn:t:own:A", "A.1", "Triage", None]], fields)
    version = frameworks.import_framework(specialist, data, "xlsx", "own.xlsx", {}).version
    assert (version.version, version.framework.name, version.requirements.count()) == ("3", "Own standards", 2)
    bad = xlsx([header, ["urn:t:own:X", "urn:t:own:X", "X", "Self", None]], fields[:-1])
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.import_framework(specialist, bad, "xlsx", "own.xlsx", {})
    assert [str(p) for p in caught.value.problems] == ["own.xlsx: framework.version: required"]
    bad = xlsx([header, ["urn:t:own:X", "urn:t:own:Y", "X", None, None]], fields)
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.import_framework(specialist, bad, "xlsx", "own.xlsx", {})
    assert [str(p) for p in caught.value.problems] == ["own.xlsx, sheet 'requirements', row 2: title: required"]
    assert FrameworkVersion.objects.count() == 1


def rewritten(data: bytes, changes: dict[str, object]) -> bytes:
    """An XLSX file with parts replaced (bytes), edited (a function of the old bytes) or added:
    the files that openpyxl would never write and an attacker would."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            change = changes.get(name)
            old = source.read(name)
            target.writestr(name, change(old) if callable(change) else change if change is not None else old)
        for name in changes.keys() - set(source.namelist()):
            target.writestr(name, changes[name])
    return out.getvalue()


HEADER_ROW = ["urn", "parent", "citation", "title", "summary"]
FIELDS = [["field", "value"], ["urn", OWN], ["name", "Own standards"], ["kind", "internal"], ["version", "1"]]


def refused_xlsx(user, data, metadata=None) -> list[str]:
    before = (FrameworkVersion.objects.count(), Requirement.objects.count())
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.import_framework(user, data, "xlsx", "own.xlsx", metadata or {})
    assert (FrameworkVersion.objects.count(), Requirement.objects.count()) == before, "nothing is stored"
    return [str(p) for p in caught.value.problems]


def test_an_xlsx_zip_bomb_is_refused_before_openpyxl_reads_it_and_nothing_is_stored(db, make_user, settings):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST)
    good = xlsx([HEADER_ROW, ["urn:t:own:A", None, "A", "Reporting", None]], FIELDS)
    # A part of zeros packs a thousand to one (60 MB would pack into 60 KB); 1 MB shows it.
    bomb = rewritten(good, {"xl/media/image1.png": b"\x00" * 2**20})
    assert len(bomb) < len(good) + 5000
    [problem] = refused_xlsx(specialist, bomb)
    assert re.fullmatch(r"own\.xlsx: not a workbook that can be read: the part 'xl/media/image1\.png' unpacks to "
                        r"1,0\d\d times its packed size \(at most 100\): it looks like a zip bomb", problem), problem
    settings.ANDON_XLSX_MAX_UNPACKED_BYTES = 10_000
    [problem] = refused_xlsx(specialist, good)
    assert re.fullmatch(r"own\.xlsx: not a workbook that can be read: the archive unpacks to 1\d,\d\d\d bytes; at "
                        r"most 10,000", problem), problem
    settings.ANDON_XLSX_MAX_UNPACKED_BYTES = 50 * 2**20
    assert refused_xlsx(specialist, good[:len(good) // 2]) == [
        "own.xlsx: not a workbook that can be read: not a valid ZIP archive, as an XLSX or DOCX file is (File is not "
        "a zip file)"]
    assert refused_xlsx(specialist, rewritten(good, {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row>"})) == [
        "own.xlsx: not an XLSX workbook that can be read (ParseError)"]
    assert frameworks.import_framework(specialist, good, "xlsx", "own.xlsx", {}).version.requirements.count() == 1


def test_an_xlsx_sheet_is_read_row_by_row_up_to_the_limit_whatever_size_it_claims(db, make_user, monkeypatch):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST)
    rows = [HEADER_ROW] + [[f"urn:t:own:{n}", None, str(n), f"Requirement {n}", None] for n in range(1, 6)]
    # A sheet claiming to span every row and column is read as the rows it holds (openpyxl pads each
    # row it reads to the claim)...
    sheet = "xl/worksheets/sheet1.xml"
    claims_all = rewritten(xlsx(rows, FIELDS), {sheet: lambda old: re.sub(
        rb'<dimension ref="[^"]*" ?/>', b'<dimension ref="A1:XFD1048576"/>', old)})
    assert b"A1:XFD1048576" in zipfile.ZipFile(io.BytesIO(claims_all)).read(sheet)
    version = frameworks.import_framework(specialist, claims_all, "xlsx", "own.xlsx", {}).version
    assert version.requirements.count() == 5
    # ... and one cell a million rows down is past the limit, whether the rows between are there or
    # not (openpyxl fills them in: 16,384 cells times a million rows, read as it would be).
    far = rewritten(claims_all, {sheet: lambda old: old.replace(b"</sheetData>", b'<row r="1000000"><c r="A1000000" '
                                                                b't="inlineStr"><is><t>urn:t:own:far</t></is></c></row>'
                                                                b"</sheetData>")})
    assert refused_xlsx(specialist, far, {"version": "2"}) == [
        "own.xlsx, sheet 'requirements': more than 20,000 rows; import at most 20,000 at once (split the file, or "
        "delete what is below the table)"]
    monkeypatch.setattr(uploads, "MAX_ROWS", 5)
    assert refused_xlsx(specialist, xlsx(rows, FIELDS), {"version": "2"}) == [
        "own.xlsx, sheet 'requirements': more than 5 rows; import at most 5 at once (split the file, or delete what "
        "is below the table)"]
    text = "\n".join(",".join(str(cell or "") for cell in row) for row in rows)
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.import_framework(specialist, text.encode(), "csv", "own.csv", {**META, "version": "3"})
    assert [str(p) for p in caught.value.problems] == [
        "own.csv: more than 5 rows; import at most 5 at once (split the file, or delete what is below the table)"]
    assert FrameworkVersion.objects.count() == 1


def test_importing_needs_the_capability(db, make_user):
    analyst = make_user(Role.QUALITY_ANALYST)
    with pytest.raises(PermissionDenied) as caught:
        frameworks.import_framework(analyst, OWN_V1, "yaml", "own.yaml")
    assert caught.type.__name__ == "Refused"
    assert Framework.objects.count() == 0


# --- pages --------------------------------------------------------------------------------------

def test_the_library_version_requirement_and_compare_pages(client, make_user):
    viewer = make_user(Role.BOARD_MEMBER)
    v1 = load(OWN_V1).version
    v2 = load(OWN_V2, "own-2.yaml").version
    client.force_login(viewer)
    page = client.get(reverse("compliance:frameworks")).content.decode()
    assert "Own standards" in page and "Older versions (1)" in page and "Import</a>" not in page
    page = client.get(reverse("compliance:framework_version", args=[v2.pk])).content.decode()
    assert page.count("<details") == 2 and "Triage within four hours." in page
    filtered = client.get(reverse("compliance:framework_version", args=[v2.pk]), {"q": "four hours"}).content.decode()
    assert "Triage within four hours." in filtered and "Fall risk assessed" not in filtered
    assert filtered.count("<details") == 1
    triage = v2.requirements.get(urn="urn:t:own:A.1")
    page = client.get(reverse("compliance:requirement", args=[triage.pk])).content.decode()
    assert "Changed since version 1" in page and "Triage within a day." in page
    page = client.get(reverse("compliance:framework_changes", args=[v2.pk])).content.decode()
    assert "<strong>1</strong> added, <strong>1</strong> removed, <strong>1</strong> changed" in page
    assert "Feedback" in page and "Fall risk assessed" in page
    assert client.get(reverse("compliance:framework_changes", args=[v1.pk])).status_code == 200
    hostile = client.get(reverse("compliance:framework_version", args=[v2.pk]), {"q": "<script>x</script>"})
    assert b"<script>x</script>" not in hostile.content and b"&lt;script&gt;" in hostile.content


def test_the_import_page_loads_a_file_and_reports_a_refused_one_by_row(client, make_user):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST)
    client.force_login(specialist)
    url = reverse("compliance:framework_import")
    response = client.post(url, {"what": "framework", "file": SimpleUploadedFile("own.yaml", OWN_V1.encode())})
    version = FrameworkVersion.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("compliance:framework_version",
                                                                           args=[version.pk])
    bad = CSV_OK + "urn:t:own:A,,A,Again,,,,\n"
    response = client.post(url, {"what": "framework", "file": SimpleUploadedFile("own2.csv", bad.encode()),
                                 **{**META, "version": "2"}})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Nothing was stored" in page and "row 4" in page and "urn:t:own:A appears twice (first at row 2)" in page
    assert FrameworkVersion.objects.count() == 1
    response = client.post(url, {"what": "framework", "file": SimpleUploadedFile("own.pdf", b"%PDF-1.4")})
    assert "only CSV, XLSX, YAML files are taken here" in response.content.decode()
    response = client.post(url, {"what": "framework", "file": SimpleUploadedFile("own.xlsx", b"not a zip")})
    assert "does not hold what its name says (XLSX)" in response.content.decode()
    client.force_login(make_user(Role.CQO))
    assert client.get(url).status_code == 403


# --- API ----------------------------------------------------------------------------------------

def test_the_api_reads_versions_requirements_changes_and_mappings(client, make_user):
    client.force_login(make_user(Role.QUALITY_ANALYST))
    v1 = load(OWN_V1).version
    v2 = load(OWN_V2, "own-2.yaml").version
    listed = client.get("/api/v1/compliance/frameworks").json()
    assert [(f["urn"], f["current_version"]["version"]) for f in listed["items"]] == [(OWN, "2")]
    versions = client.get(f"/api/v1/compliance/frameworks/{v1.framework_id}/versions").json()["items"]
    assert [v["version"] for v in versions] == ["2", "1"]
    rows = client.get(f"/api/v1/compliance/framework-versions/{v2.pk}/requirements",
                      {"chapter": "urn:t:own:B"}).json()["items"]
    assert [(r["urn"], r["parent_urn"], r["change"]) for r in rows] == [
        ("urn:t:own:B", None, "unchanged"), ("urn:t:own:C", "urn:t:own:B", "new")]
    one = client.get(f"/api/v1/compliance/requirements/{rows[1]['id']}").json()
    assert one["chapter_urn"] == "urn:t:own:B"
    changes = client.get(f"/api/v1/compliance/framework-versions/{v2.pk}/changes").json()
    assert [r["urn"] for r in changes["added"]] == ["urn:t:own:C"]
    assert changes["changed"][0]["fields"] == [{"field": "summary", "before": "Triage within a day.",
                                                "after": "Triage within four hours."}]
    assert client.get(f"/api/v1/compliance/framework-versions/{v1.pk}/changes").status_code == 404
    assert client.get("/api/v1/compliance/mappings", {"urn": "urn:t:own:B"}).json()["items"] == []


def test_the_api_imports_and_answers_422_with_the_problems(client, make_user):
    client.force_login(make_user(Role.COMPLIANCE_SPECIALIST))
    url = "/api/v1/compliance/frameworks/imports"
    response = client.post(url, {"format": "yaml", "text": OWN_V1, "source_name": "own.yaml"},
                           content_type="application/json")
    assert response.status_code == 201 and response.json()["requirements"] == 4
    response = client.post(url, {"format": "csv", "text": "urn,title\nurn:t:x:A,\n", "source_name": "x.csv",
                                 "framework": {"urn": "urn:t:x", "name": "X", "kind": "internal", "version": "1"}},
                           content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": ["body", "text"], "msg": "x.csv, row 2: title: required",
                                          "type": "file_problem", "source": "x.csv", "line": 2, "sheet": "",
                                          "field": "title", "reason": "required"}]
    client.force_login(make_user(Role.CQO))
    response = client.post(url, {"format": "yaml", "text": OWN_V1}, content_type="application/json")
    assert response.status_code == 403
    assert FrameworkVersion.objects.count() == 1


def test_mappings_import_from_csv_and_the_api_lists_them(client, cop, make_user):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST)
    load(OWN_V1)
    rows = f"source,target,relation,note\nurn:t:own:A.1,{COP}:482.21(a),subset,QAPI\nurn:t:own:A,{COP}:482.99,equal,\n"
    with pytest.raises(FrameworkFileError) as caught:
        frameworks.import_mappings(specialist, rows.encode(), "csv", "map.csv")
    assert [str(p) for p in caught.value.problems] == [
        f"map.csv, row 3: target: no loaded framework has a requirement {COP}:482.99"]
    assert RequirementMapping.objects.count() == 0
    assert frameworks.import_mappings(specialist, rows.replace("482.99", "482.21(b)").encode(), "csv", "map.csv") == 2
    client.force_login(specialist)
    listed = client.get("/api/v1/compliance/mappings").json()
    assert listed["count"] == 2 and listed["items"][0]["other_urn"] is None
    mine = client.get("/api/v1/compliance/mappings", {"urn": f"{COP}:482.21(b)"}).json()["items"]
    assert [(m["other_urn"], m["relation"], m["evidence_shows_here"]) for m in mine] == [("urn:t:own:A", "equal", True)]
    page = client.get(reverse("compliance:requirement", args=[cop.requirements.get(urn=f"{COP}:482.21(a)").pk]))
    assert "Triage" in page.content.decode() and "Its evidence shows against this requirement." in page.content.decode()
