"""Compliance assessments: creation, the working-status/result rules, sign-off, readiness scoring
(worked out by hand), snapshots and trend, comparison, export and import, permissions, pages, API."""

import csv
import io
import zipfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from andon.compliance import assessments as service
from andon.compliance import findings
from andon.compliance.models import (
    Assessment, AssessmentItem, Framework, FrameworkVersion, ReadinessSnapshot, Requirement, WorkingStatus,
)
from andon.compliance.sweep import run_sweeps
from andon.compliance.uploads import check_upload
from andon.platform.concurrency import Stale
from andon.platform.models import RoleGrant, User
from andon.platform.notifications import Notification
from andon.platform.roles import Role
from andon.platform.services import work_for

URN = "urn:test:framework:mini"
# chapter urn -> [(requirement suffix, citation, title)]
CHAPTERS = {"a": [("1", "A.1", "Governing body"), ("2", "A.2", "Quality indicators")],
            "b": [("1", "B.1", "Infection control"), ("2", "B.2", "Stewardship")]}


def make_framework(version="2025", chapters=CHAPTERS, urn=URN) -> FrameworkVersion:
    """A framework version built directly (not through the loader): chapters at depth 0 (not
    assessable) with requirements under them."""
    framework, _ = Framework.objects.get_or_create(urn=urn, defaults={"name": "Mini", "kind": "regulation"})
    framework_version = FrameworkVersion.objects.create(framework=framework, version=version, is_current=True)
    position = 0
    for key, requirements in chapters.items():
        position += 1
        chapter = Requirement.objects.create(version=framework_version, urn=f"{urn}:{key}", citation=key.upper(),
                                             title=f"Chapter {key.upper()}", position=position, depth=0,
                                             assessable=False)
        chapter.chapter = chapter
        chapter.save()
        for suffix, citation, title in requirements:
            position += 1
            Requirement.objects.create(version=framework_version, urn=f"{urn}:{key}:{suffix}", parent=chapter,
                                       chapter=chapter, depth=1, position=position, citation=citation, title=title)
    return framework_version


@pytest.fixture
def world(hospital, make_user):
    class World:
        version = make_framework()
        specialist = make_user(Role.COMPLIANCE_SPECIALIST, "", username="lee")
        reviewer = make_user(Role.CQO, "", username="olivia")
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="ana")
        rgh = hospital.facility("rgh")
        w4, e5 = hospital.unit("rgh/4w"), hospital.unit("rgh/5e")
    return World


def _assessment(world, **overrides) -> Assessment:
    fields = {"title": "Riverside mock survey", "version": world.version, "scope": world.rgh,
              "lead": world.specialist, "due_on": date(2027, 1, 31)}
    return service.create_assessment(world.specialist, **(fields | overrides))


def _item(assessment, citation, unit=None) -> AssessmentItem:
    return assessment.items.get(requirement__citation=citation, for_unit=unit)


def _judge(world, item, result, status=WorkingStatus.IN_PROGRESS, reason="", user=None):
    item.refresh_from_db()
    return service.update_item(user or world.specialist, item, item.version, working_status=status, result=result,
                               not_applicable_reason=reason, rationale="Looked at the minutes." if result else "")


# --- readiness scoring, by hand -----------------------------------------------------------------

def _row(result, chapter="a", unit=None, weight=1, open_findings=()):
    return {"result": result, "weight": Decimal(weight), "chapter": (chapter, f"Chapter {chapter}"),
            "unit": (str(unit), f"Unit {unit}") if unit else service.WHOLE_SCOPE, "open_findings": list(open_findings)}


ROWS = [
    _row("met", "a", 1), _row("partly_met", "a", 1, weight=2), _row("not_applicable", "a", 2), _row("", "a", 2),
    _row("met", "b", 1, weight=3, open_findings=["high"]), _row("not_met", "b", 2), _row("met", "b", None,
                                                                                           open_findings=["low"]),
]


def test_readiness_scoring_by_hand():
    scored = service.score_readiness(ROWS)
    # Chapter A: met 1×1 + partly 2×0.5 = 2 earned of 1 + 2 + 1 (N/A left out; not assessed counts) = 4.
    a, b = scored.by_chapter
    assert (a.earned, a.possible, a.score) == (Decimal(2), Decimal(4), Decimal("0.5000"))
    # Chapter B: met weight 3 held back by an open high finding (0 of 3), not met 0 of 1, met 1 of 1 (low finding).
    assert (b.earned, b.possible, b.score, b.held_back) == (Decimal(1), Decimal(5), Decimal("0.2000"), 1)
    assert b.open_findings == {"low": 1, "moderate": 0, "high": 1, "extreme": 0}
    assert (scored.overall.earned, scored.overall.possible, scored.overall.score) == (3, 9, Decimal("0.3333"))
    assert scored.overall.counts == {"met": 3, "partly_met": 1, "not_met": 1, "not_applicable": 1, "not_assessed": 1}
    units = {line.key: line for line in scored.by_unit}
    assert [line.key for line in scored.by_unit] == ["", "1", "2"]  # the whole scope first
    assert (units["1"].earned, units["1"].possible) == (Decimal(2), Decimal(6))
    assert (units["2"].earned, units["2"].possible) == (Decimal(0), Decimal(2))  # N/A out; not assessed, not met in
    assert (units[""].earned, units[""].possible, units[""].label) == (Decimal(1), Decimal(1), "Whole scope")


def test_partly_met_credit_is_configured(settings):
    settings.ANDON_COMPLIANCE_PARTLY_MET_CREDIT = 0.25
    a = service.score_readiness(ROWS).by_chapter[0]
    assert (a.earned, a.score) == (Decimal("1.5"), Decimal("0.3750"))


def test_nothing_scorable_has_no_score():
    scored = service.score_readiness([_row("not_applicable")])
    assert scored.overall.score is None and scored.overall.possible == 0


# --- creating -----------------------------------------------------------------------------------

def test_an_assessment_has_an_item_per_assessable_requirement_and_unit(world):
    whole = _assessment(world)
    assert sorted(whole.items.values_list("requirement__citation", flat=True)) == ["A.1", "A.2", "B.1", "B.2"]
    assert set(whole.items.values_list("for_unit", flat=True)) == {None}
    per_unit = _assessment(world, requirements=[f"{URN}:a"], per_unit_units=[world.w4, world.e5])
    assert sorted((i.requirement.citation, i.for_unit.code) for i in per_unit.items.all()) == [
        ("A.1", "4w"), ("A.1", "5e"), ("A.2", "4w"), ("A.2", "5e")]
    # Its first readiness point: nothing assessed yet, 0 of 4.
    assert [(s.taken_on, s.score) for s in per_unit.snapshots.all()] == [(timezone.localdate(), Decimal("0"))]


def test_creation_refuses_an_unknown_part_and_units_outside_the_scope(world, hospital):
    with pytest.raises(ValidationError) as error:
        _assessment(world, requirements=[f"{URN}:z"])
    assert "urn:test:framework:mini:z" in str(error.value)
    with pytest.raises(ValidationError) as error:
        _assessment(world, per_unit_units=[hospital.unit("lch/2a")])
    assert "per_unit_units" in error.value.message_dict
    assert Assessment.objects.count() == 0


# --- the item rules -----------------------------------------------------------------------------

def test_working_status_and_result_rules(world):
    item = _item(_assessment(world), "A.1")
    cases = [
        ({"working_status": "in_progress", "result": "not_applicable"}, "not_applicable_reason"),
        ({"working_status": "in_progress", "result": "met", "rationale": ""}, "rationale"),
        ({"working_status": "done", "result": ""}, "working_status"),
        ({"working_status": "in_progress", "result": "met", "rationale": "x", "not_applicable_reason": "y"},
         "not_applicable_reason"),
        ({"working_status": "finished", "result": ""}, "working_status"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as error:
            service.update_item(world.specialist, item, item.version, **fields)
        assert field in error.value.message_dict, fields
    # The result is kept apart from the working status: met while still in progress.
    item = service.update_item(world.specialist, item, item.version, working_status="in_progress", result="met",
                               rationale="Minutes of March.")
    assert (item.working_status, item.result, item.version) == ("in_progress", "met", 2)
    item = service.update_item(world.specialist, item, item.version, working_status="done", result="not_applicable",
                               not_applicable_reason="No contracted services.", rationale="Contracts register.")
    assert (item.result, item.not_applicable_reason) == ("not_applicable", "No contracted services.")
    with pytest.raises(Stale):
        service.update_item(world.specialist, item, 1, working_status="in_progress", result="")


def test_sign_off_by_a_reviewer_other_than_the_owner(world):
    assessment = _assessment(world)
    item = _item(assessment, "A.1")
    service.assign_items(world.specialist, [item], world.reviewer)
    item.refresh_from_db()
    _judge(world, item, "met", WorkingStatus.IN_PROGRESS, user=world.reviewer)
    with pytest.raises(ValidationError, match="in review or done"):
        service.sign_off(world.specialist, item)
    _judge(world, item, "met", WorkingStatus.IN_REVIEW, user=world.reviewer)
    with pytest.raises(ValidationError, match="own work"):
        service.sign_off(world.reviewer, item)  # the owner, though a reviewer
    with pytest.raises(PermissionDenied):
        service.sign_off(world.nurse, item)
    item = service.sign_off(world.specialist, item, item.version)
    assert (item.reviewed_by, item.working_status) == (world.specialist, WorkingStatus.DONE)
    # A later change of the result clears the sign-off; a change of rationale alone does not.
    item = service.update_item(world.reviewer, item, item.version, working_status="done", result="met",
                               rationale="Minutes of March and April.")
    assert item.reviewed_by == world.specialist
    item = _judge(world, item, "partly_met", WorkingStatus.IN_REVIEW, user=world.reviewer)
    assert (item.reviewed_by, item.reviewed_at) == (None, None)


# --- permissions --------------------------------------------------------------------------------

def test_an_owner_outside_assess_works_on_own_item_only(world, mailoutbox, django_capture_on_commit_callbacks):
    assessment = _assessment(world)
    own, other = _item(assessment, "A.1"), _item(assessment, "A.2")
    with django_capture_on_commit_callbacks(execute=True):
        service.assign_items(world.specialist, [own], world.nurse)
    # E-mail only: the owner's home page lists the item itself.
    assert [(m.to, m.subject) for m in mailoutbox] == [([world.nurse.email], "[Andon] 1 assessment item assigned to you")]
    assert not Notification.objects.filter(recipient=world.nurse).exists()
    own.refresh_from_db()
    item = service.update_item(world.nurse, own, own.version, working_status="in_review", result="partly_met",
                               rationale="Two of three audits done.")
    assert item.result == "partly_met"
    with pytest.raises(PermissionDenied):
        service.update_item(world.nurse, other, other.version, working_status="in_progress", result="")
    with pytest.raises(ValidationError, match="weight"):
        service.update_item(world.nurse, item, item.version, working_status="in_review", result="partly_met",
                            rationale="x", weight=5)
    assert service.access_item(world.nurse, own.pk) == own
    with pytest.raises(PermissionDenied):
        service.access_item(world.nurse, other.pk)
    with pytest.raises(PermissionDenied):
        service.access_assessment(world.nurse, assessment.pk)
    titles = [line.title for line in work_for(world.nurse)]
    assert "Assessment item: A.1 Governing body" in titles


def test_a_unit_scoped_person_cannot_see_another_facilitys_assessment(world, make_user):
    assessment = _assessment(world)
    lakeside = make_user(Role.COMPLIANCE_SPECIALIST, "lch/2a")
    riverside_manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    with pytest.raises(PermissionDenied):
        service.access_assessment(lakeside, assessment.pk)
    assert list(service.visible_assessments(lakeside)) == []
    # A unit grant does not cover a facility's assessment either; a unit's assessment within it does.
    assert list(service.visible_assessments(riverside_manager)) == []
    ward = _assessment(world, scope=world.w4, title="4 West")
    assert list(service.visible_assessments(riverside_manager)) == [ward]
    with pytest.raises(PermissionDenied):
        service.create_assessment(lakeside, title="x", version=world.version, scope=world.rgh, lead=lakeside)


# --- readiness from the records, snapshots, trend ------------------------------------------------

def test_readiness_counts_open_findings(world):
    assessment = _assessment(world)
    _judge(world, _item(assessment, "A.1"), "met")
    partly = _judge(world, _item(assessment, "A.2"), "partly_met")
    _judge(world, _item(assessment, "B.1"), "not_applicable", reason="No infection programme contracted out.")
    # Met 1 + partly 0.5 of 1 + 1 + 1 (B.2 not assessed): 0.5.
    assert service.readiness(assessment).overall.score == Decimal("0.5000")
    finding = findings.raise_finding_for_item(world.specialist, partly, title="Audits incomplete", risk="high",
                                              unit=world.w4)
    scored = service.readiness(assessment)
    assert (scored.overall.score, scored.overall.held_back, scored.overall.open_findings["high"]) == (
        Decimal("0.3333"), 1, 1)
    findings.close_finding(world.specialist, finding, "Audits completed in May.")
    assert service.readiness(assessment).overall.score == Decimal("0.5000")


def test_the_daily_sweep_snapshots_open_assessments_and_the_trend_has_points(world):
    assessment = _assessment(world)
    _judge(world, _item(assessment, "A.1"), "met")
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert run_sweeps(tomorrow)["readiness snapshots"] == 1
    assert run_sweeps(tomorrow)["readiness snapshots"] == 1  # the same day again: replaced, not added
    assert service.trend(assessment) == [(timezone.localdate(), 0.0), (tomorrow, 0.25)]
    service.close_assessment(world.specialist, assessment)
    assert run_sweeps(tomorrow + timedelta(days=1))["readiness snapshots"] == 0
    assert ReadinessSnapshot.objects.filter(assessment=assessment).count() == 2


# --- comparison ---------------------------------------------------------------------------------

def test_comparison_of_two_versions(world):
    before = _assessment(world)
    _judge(world, _item(before, "A.1"), "not_met")
    _judge(world, _item(before, "A.2"), "met")
    _judge(world, _item(before, "B.1"), "partly_met")
    newer = make_framework("2026", {"a": CHAPTERS["a"], "b": [("1", "B.1", "Infection control"),
                                                              ("3", "B.3", "Outbreaks")]})
    after = _assessment(world, version=newer, title="After")
    _judge(world, _item(after, "A.1"), "met")
    _judge(world, _item(after, "A.2"), "partly_met")
    _judge(world, _item(after, "B.1"), "partly_met")
    found = service.compare_assessments(before, after)
    assert [(m["urn"].rsplit(":", 2)[-2:], m["before"].result, m["after"].result, m["direction"])
            for m in found["moved"]] == [(["a", "1"], "not_met", "met", "better"),
                                         (["a", "2"], "met", "partly_met", "worse")]
    assert [i.requirement.citation for i in found["added"]] == ["B.3"]
    assert [i.requirement.citation for i in found["removed"]] == ["B.2"]
    chapters = {c["key"].rsplit(":", 1)[-1]: (c["before"].score, c["after"].score) for c in found["chapters"]}
    assert chapters == {"a": (Decimal("0.5000"), Decimal("0.7500")), "b": (Decimal("0.2500"), Decimal("0.2500"))}
    other = make_framework("1", urn="urn:test:framework:other")
    with pytest.raises(ValidationError, match="same framework"):
        service.compare_assessments(before, _assessment(world, version=other))


# --- export and import --------------------------------------------------------------------------

def _csv(assessment) -> list[dict]:
    """The export's rows as a spreadsheet program reads them: text."""
    return [{k: str(v) for k, v in row.items()} for row in service.assessment_export_rows(assessment)]


def _upload(rows, name="items.csv"):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, service.EXPORT_HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return check_upload(SimpleUploadedFile(name, buffer.getvalue().encode()), ("csv", "xlsx"))


def test_export_then_import_round_trip(world, client):
    assessment = _assessment(world)
    client.force_login(world.specialist)
    response = client.get(reverse("compliance:assessment_csv", args=[assessment.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["citation"] for r in rows] == ["A.1", "A.2", "B.1", "B.2"]
    assert rows[0]["item_version"] == "1" and rows[0]["weight"] == "1.00"
    rows[0].update(owner="ana", working_status="In review", result="Met", rationale="-Minutes of March")
    rows[1].update(result="not_applicable", not_applicable_reason="Not a teaching hospital.", weight="2",
                   rationale="Licence checked.")
    changed, problems = service.import_items(world.specialist, assessment, _upload(rows))
    assert (changed, problems) == (2, [])
    a1, a2 = _item(assessment, "A.1"), _item(assessment, "A.2")
    assert (a1.owner, a1.working_status, a1.result, a1.rationale) == (world.nurse, "in_review", "met",
                                                                      "-Minutes of March")
    assert (a2.result, a2.not_applicable_reason, a2.weight) == ("not_applicable", "Not a teaching hospital.",
                                                                Decimal("2.00"))
    # The same through XLSX: the export read back changes nothing; the formula-like rationale survives.
    response = client.get(reverse("compliance:assessment_xlsx", args=[assessment.pk]))
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["I2"].value == "'-Minutes of March"  # defused in the sheet
    upload = check_upload(SimpleUploadedFile("items.xlsx", response.content), ("csv", "xlsx"))
    assert service.import_items(world.specialist, assessment, upload) == (0, [])
    assert _item(assessment, "A.1").rationale == "-Minutes of March"


def test_an_import_with_bad_rows_reports_each_and_changes_nothing(world):
    assessment = _assessment(world)
    rows = _csv(assessment)
    rows[0].update(result="Met", rationale="Fine", working_status="done")  # a good row: not applied either
    rows[1].update(owner="nobody-here")
    rows[2].update(working_status="finished", result="excellent")
    rows[3].update(result="Not applicable", not_applicable_reason="", rationale="Checked.")
    rows.append(dict(rows[0], requirement_urn="urn:test:unknown"))
    stale = _item(assessment, "A.1")
    _judge(world, stale, "not_met")
    changed, problems = service.import_items(world.specialist, assessment, _upload(rows))
    assert changed == 0
    assert [(p.row, p.field) for p in problems] == [
        (2, "item_version"), (3, "owner"), (4, "working_status"), (4, "result"), (5, "not_applicable_reason"),
        (6, "requirement_urn")]
    assert "urn:test:unknown" in problems[-1].reason
    assert [(i.requirement.citation, i.result, i.version) for i in service.items_of(assessment).order_by(
        "requirement__position")] == [("A.1", "not_met", 2), ("A.2", "", 1), ("B.1", "", 1), ("B.2", "", 1)]
    with pytest.raises(ValidationError, match="lacks the column"):
        service.import_items(world.specialist, assessment, check_upload(
            SimpleUploadedFile("x.csv", b"requirement_urn\nx\n"), ("csv",)))


def _unchanged(assessment) -> list[tuple]:
    return list(service.items_of(assessment).order_by("pk").values_list("pk", "version", "result", "owner"))


def test_an_import_that_cannot_be_read_is_refused_naming_the_file_and_the_reason(world, monkeypatch):
    from openpyxl import Workbook

    from andon.compliance import uploads

    assessment = _assessment(world)
    before = _unchanged(assessment)
    rows = _csv(assessment)
    rows[0].update(result="Met", rationale="x" * 200_000, working_status="done")

    def refusal(upload) -> str:
        with pytest.raises(ValidationError) as caught:
            service.import_items(world.specialist, assessment, upload)
        assert _unchanged(assessment) == before
        return caught.value.message_dict["file"][0]

    assert refusal(_upload(rows)) == "items.csv: row 2: not valid CSV: field larger than field limit (131072)"
    book = Workbook()
    book.active.append(service.EXPORT_HEADER)
    data = io.BytesIO()
    book.save(data)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in zipfile.ZipFile(data).infolist():
            archive.writestr(part, zipfile.ZipFile(data).read(part))
        archive.writestr("xl/worksheets/sheet2.xml", b" " * 2**20)
    message = refusal(check_upload(SimpleUploadedFile("items.xlsx", bomb.getvalue()), ("xlsx",)))
    assert message.startswith("items.xlsx: not a workbook that can be read: the part 'xl/worksheets/sheet2.xml' "
                              "unpacks to ") and message.endswith("it looks like a zip bomb")
    buffer = io.StringIO()
    csv.writer(buffer).writerows([service.EXPORT_HEADER, ["x"] * len(service.EXPORT_HEADER),
                                  ["x"] * len(service.EXPORT_HEADER) + ["a cell past the header"]])
    shifted = check_upload(SimpleUploadedFile("items.csv", buffer.getvalue().encode()), ("csv",))
    assert refusal(shifted) == (
        f"items.csv: row 3 has more cells than the header's {len(service.EXPORT_HEADER)} columns (a comma or tab "
        "inside a value?).")
    monkeypatch.setattr(uploads, "MAX_ROWS", 3)
    assert refusal(_upload(_csv(assessment))) == (
        "items.csv: more than 3 rows; import at most 3 at once (split the file, or delete what is below the table)")


def test_exports_defuse_every_cell_a_spreadsheet_would_run_as_a_formula(world, client):
    from openpyxl import load_workbook

    assessment = _assessment(world)
    Requirement.objects.filter(citation="A.1").update(title='=HYPERLINK("http://evil.example","Open")')
    Requirement.objects.filter(citation="A.2").update(title="+1+cmd|' /C calc'!A0")
    item = _item(assessment, "A.1")
    service.update_item(world.specialist, item, item.version, working_status="in_progress", result="met",
                        rationale="@SUM(1+1)*cmd|' /C calc'!A0")
    item = _item(assessment, "A.2")
    service.update_item(world.specialist, item, item.version, working_status="in_progress", result="not_applicable",
                        not_applicable_reason="-2+3+cmd|' /C calc'!A0", rationale="Checked.")
    expected = {("title", 0): "'=HYPERLINK(\"http://evil.example\",\"Open\")", ("rationale", 0):
                "'@SUM(1+1)*cmd|' /C calc'!A0", ("title", 1): "'+1+cmd|' /C calc'!A0",
                ("not_applicable_reason", 1): "'-2+3+cmd|' /C calc'!A0"}
    client.force_login(world.specialist)
    for response in (client.get(reverse("compliance:assessment_csv", args=[assessment.pk])),
                     client.get(f"/api/v1/compliance/assessments/{assessment.pk}/export", {"format": "csv"})):
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert {(column, n): rows[n][column] for column, n in expected} == expected
    sheet = load_workbook(io.BytesIO(client.get(reverse("compliance:assessment_xlsx", args=[assessment.pk])).content),
                          data_only=False).active
    header = [cell.value for cell in sheet[1]]
    assert {(column, n): sheet.cell(n + 2, header.index(column) + 1).value for column, n in expected} == expected
    assert "f" not in {cell.data_type for row in sheet.iter_rows() for cell in row}  # no formula cell
    # Read back, the quotes come off: the import changes nothing.
    upload = check_upload(SimpleUploadedFile("items.xlsx", client.get(
        reverse("compliance:assessment_xlsx", args=[assessment.pk])).content), ("xlsx",))
    assert service.import_items(world.specialist, assessment, upload) == (0, [])


# --- pages and API ------------------------------------------------------------------------------

def test_the_assessment_page_and_inline_edit(world, client):
    assessment = _assessment(world)
    _judge(world, _item(assessment, "A.1"), "met")
    client.force_login(world.specialist)
    page = client.get(reverse("compliance:assessment", args=[assessment.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "25.0%" in text and "Readiness by chapter" in text and "<svg" in text
    item = _item(assessment, "A.2")
    prefix = f"i{item.pk}-"
    data = {prefix + "working_status": "in_review", prefix + "result": "partly_met",
            prefix + "rationale": "<script>x</script>", prefix + "version": item.version}
    row = client.post(reverse("compliance:item_edit", args=[item.pk]), data, headers={"HX-Request": "true"})
    assert row.status_code == 200 and row.content.decode().startswith(f'<tr id="item-{item.pk}">')
    assert "<script>x</script>" not in row.content.decode()
    assert _item(assessment, "A.2").result == "partly_met"
    stale = client.post(reverse("compliance:item_edit", args=[item.pk]), data)  # the old version again
    assert stale.status_code == 409
    filtered = client.get(reverse("compliance:assessment", args=[assessment.pk]), {"result": "partly_met"})
    assert filtered.content.decode().count('<tr id="item-') == 1


def test_my_items_page_for_an_owner_without_compliance_roles(world, client):
    assessment = _assessment(world)
    service.assign_items(world.specialist, [_item(assessment, "B.1")], world.nurse)
    client.force_login(world.nurse)
    assert "Infection control" in client.get(reverse("compliance:my_items")).content.decode()
    assert client.get(reverse("compliance:item", args=[_item(assessment, "B.1").pk])).status_code == 200
    assert client.get(reverse("compliance:item", args=[_item(assessment, "B.2").pk])).status_code == 403
    assert client.get(reverse("compliance:assessment", args=[assessment.pk])).status_code == 403


def test_api_items_readiness_and_stale_versions(world, client):
    assessment = _assessment(world)
    client.force_login(world.specialist)
    base = "/api/v1/compliance"
    items = client.get(f"{base}/assessments/{assessment.pk}/items", {"chapter": f"{URN}:b"}).json()
    assert [i["citation"] for i in items["items"]] == ["B.1", "B.2"]
    item = items["items"][0]
    body = {"working_status": "in_review", "result": "met", "rationale": "Policy and audits.",
            "version": item["version"]}
    answer = client.post(f"{base}/items/{item['id']}", body, content_type="application/json")
    assert answer.status_code == 200 and answer.json()["result"] == "met"
    assert client.post(f"{base}/items/{item['id']}", body, content_type="application/json").status_code == 409
    readiness = client.get(f"{base}/assessments/{assessment.pk}/readiness").json()
    assert readiness["overall"]["score"] == 0.25 and readiness["by_chapter"][1]["score"] == 0.5
    sign = client.post(f"{base}/items/{item['id']}/sign-off", {}, content_type="application/json")
    assert sign.status_code == 200 and sign.json()["reviewed_by_id"] == world.specialist.pk
    trend = client.get(f"{base}/assessments/{assessment.pk}/trend").json()
    assert trend == [{"taken_on": timezone.localdate().isoformat(), "score": 0.0}]


QAPI_TITLE = "Quality assessment and performance improvement program"


def test_the_demo_assessment_works_the_qapi_standards(hospital, make_user):
    from andon.actions.models import Action
    from andon.compliance import demo_assessments, demo_frameworks
    from andon.compliance.frameworks import load_framework_text

    demo_assessments.load()  # without the CoP: nothing, quietly
    assert Assessment.objects.count() == 0
    lee = make_user(Role.COMPLIANCE_SPECIALIST, "", username="compliance.lee")
    load_framework_text(demo_frameworks.COP_FILE.read_text(encoding="utf-8"), "cms-cop-482.yaml")
    demo_assessments.load()
    demo_assessments.load()  # twice: still one
    assessment = Assessment.objects.get()
    mine = assessment.items.filter(owner=lee).order_by("requirement__position")
    assert [(i.requirement.citation, i.result) for i in mine] == [
        ("42 CFR 482.21(a)", "met"), ("42 CFR 482.21(b)", "partly_met"), ("42 CFR 482.21(c)", "not_met"),
        ("42 CFR 482.21(d)", "met"), ("42 CFR 482.21(e)", "met"), ("42 CFR 482.21(f)", "")]
    finding = assessment.items.get(result="not_met").findings.get()
    assert finding.item.requirement.citation == "42 CFR 482.21(c)" and Action.objects.get().source == finding
    qapi = next(line for line in service.readiness(assessment).by_chapter if line.key.endswith(":482.21"))
    # Three met and one partly met of QAPI's six standards: the condition itself is no item.
    assert (qapi.earned, qapi.possible, qapi.label) == (Decimal("3.5"), Decimal(6), "42 CFR 482.21 " + QAPI_TITLE)
    assert len(service.trend(assessment)) == 7


def test_assigning_items_on_the_page(world, client, mailoutbox, django_capture_on_commit_callbacks):
    assessment = _assessment(world)
    items = [_item(assessment, "A.1").pk, _item(assessment, "B.2").pk]
    client.force_login(world.specialist)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("compliance:assessment_assign", args=[assessment.pk]),
                             {"assign-items": items, "assign-owner": world.nurse.pk})
    assert answer.status_code == 302
    assert sorted(assessment.items.filter(owner=world.nurse).values_list("requirement__citation", flat=True)) == [
        "A.1", "B.2"]
    assert [m.subject for m in mailoutbox] == ["[Andon] 2 assessment items assigned to you"]
    # One line per item on the owner's home page, and no notification saying it again.
    client.force_login(world.nurse)
    home = client.get(reverse("home")).content.decode()
    assert home.count("Assessment item: A.1") == 1 and home.count("Assessment item: B.2") == 1
    assert "assigned to you" not in home


def _more_staff(hospital, count: int) -> None:
    """`count` members of staff on 4 West, written in bulk (no password to hash, no audit)."""
    people = User.objects.bulk_create([User(username=f"extra{n:03}", first_name="Extra", last_name=f"Staffer{n:03}",
                                            password="!") for n in range(count)])
    ward = hospital.unit("rgh/4w")
    RoleGrant.objects.bulk_create([RoleGrant(user=person, role=Role.STAFF_REPORTER, organisation=hospital.organisation,
                                             facility=ward.facility, unit=ward) for person in people])


def test_the_assessment_page_costs_the_same_whatever_the_number_of_staff(world, client, hospital):
    """Issue 16: the owner pickers listed every member of staff (3,000 options a picker in the
    benchmark). They search now: 300 more staff add nothing to the page, nor a query."""
    assessment = _assessment(world)
    url = reverse("compliance:assessment", args=[assessment.pk])
    client.force_login(world.specialist)
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        small = client.get(url).content.decode()
    _more_staff(hospital, 300)
    with CaptureQueriesContext(connection) as after:
        large = client.get(url).content.decode()
    assert "Staffer" not in large and large.count("<option") == small.count("<option")
    assert len(after.captured_queries) == len(before.captured_queries)
    assert 'name="assign-owner"' in large and 'name="owner"' in large  # the assign and filter pickers
    found = client.get(reverse("compliance:assessment_assignees", args=[assessment.pk]), {"q": "staffer29"})
    assert found.content.decode().count('name="assign-owner"') == 10  # Staffer290 to Staffer299


def _more_items(world, assessment, count: int) -> None:
    """`count` more requirements in chapter A of the framework, each with its item in the
    assessment, written in bulk (no audit)."""
    chapter = world.version.requirements.get(urn=f"{URN}:a")
    start = world.version.requirements.count() * 10
    requirements = Requirement.objects.bulk_create([
        Requirement(version=world.version, urn=f"{URN}:a:x{start + n}", parent=chapter, chapter=chapter, depth=1,
                    position=start + n, citation=f"A.x{start + n}", title="Extra requirement")
        for n in range(count)])
    AssessmentItem.objects.bulk_create([AssessmentItem(assessment=assessment, requirement=r) for r in requirements])


def test_the_assessment_page_costs_the_same_whatever_the_number_of_items(world, client):
    """Issue 16: every row carried its edit form and the assign form listed every item of the
    assessment (500 options in the benchmark). Now a row's form is fetched when it is opened and
    items are ticked on the rows of the page: a page of 25 rows is the same for 300 items as for 30."""
    assessment = _assessment(world)
    _more_items(world, assessment, 26)  # 30 items: two pages
    url = reverse("compliance:assessment", args=[assessment.pk])
    client.force_login(world.specialist)
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        small = client.get(url).content.decode()
    _more_items(world, assessment, 270)
    with CaptureQueriesContext(connection) as after:
        large = client.get(url).content.decode()
    assert assessment.items.count() == 300
    assert small.count('name="assign-items"') == large.count('name="assign-items"') == 25
    assert large.count("<option") == small.count("<option") and large.count("<textarea") == small.count("<textarea") == 0
    assert len(after.captured_queries) == len(before.captured_queries)
    assert len(small) - 100 < len(large) < len(small) + 100  # the pager's and the readiness's figures
    first = assessment.items.order_by("requirement__position").first()
    assert f'name="assign-items" value="{first.pk}" form="assign-items"' in large and 'id="assign-items"' in large


def test_a_row_fetches_its_edit_form_when_opened(world, client):
    assessment = _assessment(world)
    item = _item(assessment, "A.2")
    row_form = reverse("compliance:item_row_form", args=[item.pk])
    client.force_login(world.specialist)
    page = client.get(reverse("compliance:assessment", args=[assessment.pk])).content.decode()
    # Edit asks for the row with its form (htmx); without JavaScript it opens the item's page.
    assert f'href="{reverse("compliance:item", args=[item.pk])}"\n       hx-get="{row_form}"' in page
    assert f'name="i{item.pk}-working_status"' not in page
    row = client.get(row_form, headers={"HX-Request": "true"}).content.decode()
    assert row.startswith(f'<tr id="item-{item.pk}">') and f'hx-post="{reverse("compliance:item_edit", args=[item.pk])}"' in row
    assert f'<select name="i{item.pk}-working_status" autofocus' in row  # the Edit link it replaces had the focus
    assert f'name="i{item.pk}-version" value="{item.version}"' in row
    assert client.get(row_form)["Location"] == reverse("compliance:item", args=[item.pk])
    prefix = f"i{item.pk}-"
    saved = client.post(reverse("compliance:item_edit", args=[item.pk]), {
        prefix + "working_status": "in_review", prefix + "result": "met", prefix + "rationale": "Minutes of March.",
        prefix + "version": item.version},
        headers={"HX-Request": "true"}).content.decode()
    assert "Met" in saved and f'hx-get="{row_form}"' in saved and f'name="{prefix}working_status"' not in saved
    service.close_assessment(world.specialist, assessment)
    closed = client.get(row_form, headers={"HX-Request": "true"}).content.decode()
    assert "<form" not in closed and "hx-get" not in closed and 'name="assign-items"' not in closed


def test_the_owner_pickers_offer_and_accept_only_whom_their_forms_allow(world, client, make_user):
    assessment = _assessment(world)
    service.assign_items(world.specialist, [_item(assessment, "A.1")], world.nurse)
    stranger = make_user()  # no role in the organisation
    client.force_login(world.specialist)

    def search(name, words):
        return client.get(reverse(name, args=[assessment.pk]), {"q": words}).content.decode()

    assert f'value="{world.nurse.pk}"' in search("compliance:assessment_owners", "ana")  # owns an item
    assert "No one matches" in search("compliance:assessment_owners", "olivia")  # owns none
    assert f'value="{world.reviewer.pk}"' in search("compliance:assessment_assignees", "olivia")  # staff
    assert "No one matches" in search("compliance:assessment_assignees", stranger.username)

    page = client.get(reverse("compliance:assessment", args=[assessment.pk]), {"owner": world.nurse.pk})
    assert [row["item"].requirement.citation for row in page.context["rows"]] == ["A.1"]
    assert f'id="id_owner-chosen-{world.nurse.pk}" value="{world.nurse.pk}" checked' in page.content.decode()
    page = client.get(reverse("compliance:assessment", args=[assessment.pk]), {"owner": "none"})
    assert [row["item"].requirement.citation for row in page.context["rows"]] == ["A.2", "B.1", "B.2"]

    answer = client.post(reverse("compliance:assessment_assign", args=[assessment.pk]),
                         {"assign-items": [_item(assessment, "B.1").pk], "assign-owner": stranger.pk}, follow=True)
    assert [str(m) for m in answer.context["messages"]] == [
        "Nothing was assigned. Owner: Select a valid choice. That choice is not one of the available choices."]
    assert _item(assessment, "B.1").owner is None
