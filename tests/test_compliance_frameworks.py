"""Compliance frameworks as data: the loader (YAML, CSV, XLSX), versions and what changed between
them, mappings, and the pages and API that read and import them."""

import io
import textwrap
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from andon.compliance import frameworks
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
