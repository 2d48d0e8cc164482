"""The register's exchange with spreadsheets: the export to CSV and XLSX (every field a risk
manager needs, formulas defused, only the risks the person may see), the import back (new rows
raise risks, rows with a reference update and re-score them as "imported"), and bad rows reported
by row, column and reason with nothing stored; the page and the API."""

import csv
import io
from datetime import datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from andon.platform.models import AccessToken
from andon.platform.roles import Role
from andon.risk import exchange, services
from andon.risk.models import Risk, ScoreReason, ScoreRecord
from tests.conftest import TODAY

NEXT_MONTH = TODAY + timedelta(days=30)
STATEMENT = {"cause": "one nurse for 14 beds at night", "event": "confused patients get up unaided",
             "effect": "a fall with harm", "category": "clinical"}
SCORES = {"inherent": (4, 4), "current": (4, 2), "target": (4, 1)}


@pytest.fixture
def world(hospital, make_user):
    class World:
        manager = make_user(Role.RISK_MANAGER, "", username="rita")
        lakeside_manager = make_user(Role.RISK_MANAGER, "lch", username="lars")
        wanda = make_user(Role.UNIT_MANAGER, "rgh/4w", username="wanda")
        w4 = hospital.unit("rgh/4w")
        organisation = hospital.organisation
        falls = services.raise_risk(manager, title="Falls on 4 West", owner=wanda, unit=w4, scores=SCORES,
                                    review_on=NEXT_MONTH, **STATEMENT)
        staffing = services.raise_risk(manager, title="=HYPERLINK(\"http://x\")", owner=manager,
                                       organisation=hospital.organisation, review_on=NEXT_MONTH,
                                       scores={"inherent": (5, 4), "current": (4, 4), "target": (4, 2)},
                                       **STATEMENT | {"category": "operational"})
    services.add_control(World.manager, World.staffing, description="Staffing huddle")
    retired = services.add_control(World.manager, World.staffing, description="Old rota rule")
    services.retire_control(World.manager, retired)
    return World


def _csv(rows: list[dict], columns=None) -> SimpleUploadedFile:
    columns = columns or exchange.EXPORT_COLUMNS
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return SimpleUploadedFile("risks.csv", buffer.getvalue().encode(), "text/csv")


def _xlsx(rows: list[list], name="risks.xlsx") -> SimpleUploadedFile:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(), exchange.XLSX_TYPE)


def _new_row(**overrides) -> dict:
    return {"title": "Pressure injuries on 4 West", "cause": "too few mattresses", "event": "skin breaks down",
            "effect": "pain and longer stays", "category": "Clinical", "facility": "rgh", "unit": "4w",
            "owner": "wanda", "inherent_consequence": "3", "inherent_likelihood": "3", "current_consequence": "3",
            "current_likelihood": "2", "target_consequence": "2", "target_likelihood": "2",
            "review_on": NEXT_MONTH.isoformat()} | overrides


def _exported(user) -> list[dict]:
    return list(exchange.export_rows(user))


# --- export ---------------------------------------------------------------------------------------

def test_the_export_has_every_field_a_risk_manager_needs(world):
    falls, staffing = _exported(world.manager)
    assert falls == {
        "reference": "R-00001", "title": "Falls on 4 West", **{k: STATEMENT[k] for k in ("cause", "event", "effect")},
        "category": "clinical", "facility": "rgh", "unit": "4w", "owner": "wanda", "level": "unit",
        "inherent_consequence": 4, "inherent_likelihood": 4, "inherent_score": 16, "inherent_band": "Extreme",
        "current_consequence": 4, "current_likelihood": 2, "current_score": 8, "current_band": "High",
        "target_consequence": 4, "target_likelihood": 1, "target_score": 4, "target_band": "Moderate",
        "review_on": NEXT_MONTH.isoformat(), "status": "open", "controls": 0}
    assert (staffing["facility"], staffing["unit"], staffing["level"], staffing["controls"]) == ("", "", "facility", 1)
    assert [row["reference"] for row in _exported(world.lakeside_manager)] == []  # Riverside's are not theirs


def test_the_csv_and_xlsx_downloads_defuse_formulas(client, world):
    client.force_login(world.manager)
    response = client.get(reverse("risk:export"), {"format": "csv", "status": "all"})
    assert response["Content-Type"].startswith("text/csv") and response["Cache-Control"] == "private, no-store"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["title"] for row in rows] == ["Falls on 4 West", "'=HYPERLINK(\"http://x\")"]
    response = client.get(reverse("risk:export"), {"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
    header, *cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert header == exchange.EXPORT_COLUMNS
    assert cells[1][1] == "'=HYPERLINK(\"http://x\")" and cells[0][header.index("current_score")] == 8
    assert client.get(reverse("risk:export"), {"format": "pdf"}).status_code == 400
    assert client.get(reverse("risk:export"), {"status": "someday"}).status_code == 400


# --- import ---------------------------------------------------------------------------------------

def test_an_edited_export_updates_rescores_and_raises(world):
    falls, staffing = _exported(world.manager)
    falls |= {"title": "Falls with harm on 4 West", "current_likelihood": 3, "current_score": 12,
              "current_band": "High", "review_on": (TODAY + timedelta(days=60)).isoformat()}
    records = ScoreRecord.objects.count()
    result = exchange.import_register(world.manager, _csv([falls, staffing, _new_row()]))
    assert (result.raised, result.updated, result.unchanged, result.problems) == (["R-00003"], ["R-00001"], 1, [])
    risk = Risk.objects.get(reference="R-00001")
    assert (risk.title, risk.current_score, risk.current_band, risk.review_on) == (
        "Falls with harm on 4 West", 12, "High", TODAY + timedelta(days=60))
    latest = ScoreRecord.objects.filter(risk=risk).last()
    assert (latest.reason, latest.current_score, latest.by) == (ScoreReason.IMPORTED, 12, world.manager)
    new = Risk.objects.get(reference="R-00003")
    assert (new.unit, new.owner, new.current_score, new.current_band, new.category) == (
        world.w4, world.wanda, 6, "Moderate", "clinical")
    assert ScoreRecord.objects.count() == records + 2  # the re-score and the new risk; the unchanged row: none
    entry = LogEntry.objects.get_for_object(new).get()
    assert entry.actor == world.manager


def test_a_text_change_alone_keeps_the_trend(world):
    falls, _ = _exported(world.manager)
    result = exchange.import_register(world.manager, _csv([falls | {"effect": "a hip fracture"}]))
    assert result.updated == ["R-00001"]
    assert list(ScoreRecord.objects.filter(risk__reference="R-00001").values_list("reason", flat=True)) == [
        ScoreReason.RAISED]


def test_a_workbook_of_new_risks_with_dates_and_numbers_as_cells(world):
    row = _new_row()
    header = list(row)
    values = [int(v) if v.isdigit() else v for v in row.values()]
    values[header.index("review_on")] = datetime.combine(NEXT_MONTH, datetime.min.time())  # a date cell
    result = exchange.import_register(world.manager, _xlsx([header, values, [None] * len(header)]))
    assert (result.raised, result.problems) == (["R-00003"], [])
    assert Risk.objects.get(reference="R-00003").review_on == NEXT_MONTH


def test_bad_rows_are_reported_by_row_column_and_reason_and_nothing_is_stored(world):
    falls, _ = _exported(world.manager)
    rows = [
        _new_row(title="Good row, not stored"),                                  # 2
        _new_row(inherent_consequence="6"),                                      # 3: out of the matrix
        _new_row(current_band="Severe"),                                         # 4: not a band
        _new_row(inherent_band="Low"),                                           # 5: 3 × 3 = 9 is High
        _new_row(unit="9z"),                                                     # 6
        _new_row(owner="nobody"),                                                # 7
        _new_row(review_on="31/12/2026"),                                        # 8
        falls | {"title": "Changed"},                                            # 9
        falls,                                                                   # 10: the same reference again
        _new_row(facility="xyz", current_likelihood="often"),                    # 11
        _new_row(review_on=(TODAY - timedelta(days=1)).isoformat()),             # 12: the service's rule
    ]
    before = (Risk.objects.count(), ScoreRecord.objects.count(), LogEntry.objects.count())
    result = exchange.import_register(world.manager, _csv(rows))
    found = {(p.row, p.field): p.reason for p in result.problems}
    assert sorted(found) == [(3, "inherent_consequence"), (4, "current_band"), (5, "inherent_band"), (6, "unit"),
                             (7, "owner"), (8, "review_on"), (10, "reference"), (11, "current_likelihood"),
                             (11, "facility"), (12, "review_on")]
    assert found[(3, "inherent_consequence")].startswith("Consequence 6 is out of range")
    assert found[(4, "current_band")].startswith("'Severe' is not a band of this matrix (bands: Low, Moderate")
    assert found[(5, "inherent_band")] == "'Low' does not match the score 9, which is High on the matrix."
    assert found[(6, "unit")] == "'9z' is not a unit of Riverside General Hospital (rgh)."
    assert found[(7, "owner")] == "'nobody' is not the username of an active member of staff."
    assert found[(8, "review_on")] == "'31/12/2026' is not a date: write it as YYYY-MM-DD."
    assert found[(10, "reference")] == "R-00001 is on an earlier row too: one row a risk."
    assert "is in the past" in found[(12, "review_on")]
    assert (result.raised, result.updated) == ([], [])
    assert (Risk.objects.count(), ScoreRecord.objects.count(), LogEntry.objects.count()) == before
    assert Risk.objects.get(reference="R-00001").title == "Falls on 4 West"


def test_an_import_does_not_move_a_risk_change_its_owner_or_touch_what_is_not_yours(world):
    falls, staffing = _exported(world.manager)
    services.close_risk(world.manager, Risk.objects.get(reference="R-00002"), "No longer applies")
    result = exchange.import_register(world.manager, _csv([falls | {"unit": "5e", "owner": "rita"}, staffing]))
    assert {(p.row, p.field): p.reason for p in result.problems} == {
        (2, "unit"): "R-00001 sits in rgh/4w; an import does not move a risk: keep its facility and unit as exported.",
        (2, "owner"): "R-00001 is owned by wanda; an import does not change a risk's owner.",
        (3, "reference"): "R-00002 is closed: reopen it to change it."}
    result = exchange.import_register(world.lakeside_manager, _csv([falls, _new_row()]))  # Riverside is not theirs
    assert {(p.row, p.field): p.reason for p in result.problems} == {
        (2, "reference"): "R-00001 is not a risk you may change (leave the reference empty to raise a new risk).",
        (3, "unit"): "You may not raise risks in 4 West Medical (rgh)."}


@pytest.mark.parametrize(("upload", "message"), [
    (SimpleUploadedFile("risks.txt", b"title\n"), "only CSV and XLSX files are taken here"),
    (SimpleUploadedFile("risks.xlsx", b"title,cause\n"), "does not hold what its name says (XLSX)"),
    (SimpleUploadedFile("risks.csv", b"title,cause\nx,y\n"), "row 1 lacks the columns event, effect"),
    (SimpleUploadedFile("risks.csv", b""), "is empty"),
    (SimpleUploadedFile("risks.csv", b"title\xff\n"), "is not UTF-8 text: byte 0xff on line 1"),
    (SimpleUploadedFile("risks.csv", ",".join([*exchange.EXPORT_COLUMNS, "colour"]).encode()),
     "has the unknown column colour"),
    (SimpleUploadedFile("risks.csv", (",".join(exchange.EXPORT_COLUMNS) + "\n" + "x," * len(exchange.EXPORT_COLUMNS)
                                      + "shifted\n").encode()),
     f"risks.csv: row 2 has more cells than the header's {len(exchange.EXPORT_COLUMNS)} columns"),
])
def test_a_file_that_cannot_be_read_is_refused_naming_why(world, upload, message):
    with pytest.raises(ValidationError) as error:
        exchange.import_register(world.manager, upload)
    assert message in error.value.message_dict["file"][0]


def test_a_file_longer_than_the_limit_is_refused(world, settings):
    settings.ANDON_IMPORT_JOB_ROWS = 2
    with pytest.raises(ValidationError, match="more than 2 rows of risks"):
        exchange.import_register(world.manager, _xlsx([list(_new_row()), *[list(_new_row().values())] * 3]))


# --- the page and the API -------------------------------------------------------------------------

def test_the_page_reports_problems_and_imports_a_good_file(client, world):
    client.force_login(world.manager)
    page = client.get(reverse("risk:exchange")).content.decode()
    assert f'{reverse("risk:export")}?status=open&amp;format=xlsx' in page
    response = client.post(reverse("risk:exchange"), {"file": _csv([_new_row(owner="nobody")])})
    assert response.status_code == 400
    assert "Nothing was stored." in response.content.decode()
    assert "&#x27;nobody&#x27; is not the username of an active member of staff." in response.content.decode()
    response = client.post(reverse("risk:exchange"), {"file": _csv([_new_row()])}, follow=True)
    assert "Imported: 1 risk raised (R-00003); 0 risks updated; 0 unchanged." in response.content.decode()
    response = client.post(reverse("risk:exchange"), {"file": SimpleUploadedFile("risks.pdf", b"%PDF")})
    assert response.status_code == 400 and "only CSV and XLSX files are taken here" in response.content.decode()


def test_the_api_exports_and_imports(client, world):
    _, raw = AccessToken.issue(world.manager, "exchange")
    headers = {"Authorization": f"Bearer {raw}"}
    response = client.get("/api/v1/risk/export", {"format": "xlsx", "status": "all"}, headers=headers)
    assert response.status_code == 200 and response["Content-Type"] == exchange.XLSX_TYPE
    response = client.post("/api/v1/risk/import", {"file": _csv([_new_row()])}, headers=headers)
    assert (response.status_code, response.json()) == (200, {"raised": ["R-00003"], "updated": [], "unchanged": 0})
    response = client.post("/api/v1/risk/import", {"file": _csv([_new_row(unit="9z")])}, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": ["file", "row 2", "unit"], "type": "value_error",
                                          "msg": "'9z' is not a unit of Riverside General Hospital (rgh)."}]
    assert Risk.objects.count() == 3
    response = client.get("/api/v1/risk/export", headers=headers)
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["reference"], row["review_on"]) for row in rows] == [
        (f"R-0000{n}", NEXT_MONTH.isoformat()) for n in (1, 2, 3)]
