"""Survey data (issue 20 item 1): the question set as content (a bad file names its field), saved
mappings and the columns suggested from a file's header, the import's row/field/reason report
(each kind of bad row; nothing stored), a file imported twice, comments, hostile input, the pages,
the API and the demo."""

import copy
from datetime import date
from pathlib import Path

import pytest
import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from andon.measures.models import ManualCount
from andon.platform import content
from andon.platform.roles import Role
from andon.voice import surveys
from andon.voice.models import SurveyComment, SurveyImport, SurveyMapping, SurveyResponse, SurveyScoreCell
from tests.test_voice_scores import lead, library  # noqa: F401 (fixtures)

CONTENT = Path(__file__).resolve().parent.parent / "content"
QUESTION_SET = CONTENT / "survey-question-sets" / "hcahps.yaml"
HEADER = "Survey ID,Discharge Date,Unit,Service Line,Sex,Q_RECOMMEND,Q_CLEAN,Comment\n"
COLUMNS = {"Survey ID": "survey_id", "Discharge Date": "discharge_date", "Unit": "unit", "Service Line": "service_line",
           "Sex": "sex", "Q_RECOMMEND": "q:recommend", "Q_CLEAN": "q:clean", "Comment": "comment"}
GOOD = HEADER + ("A1,2026-02-03,rgh/4w,Medicine,F,4,4,\n"
                 "A2,2026-02-10,rgh/4w,Medicine,M,3,,The nurse gave me the wrong tablets\n"
                 "A3,2026-02-11,lch/2a,Medicine,M,4,2,Kind staff\n")


@pytest.fixture
def mapping(lead):
    return surveys.create_mapping(lead, name="Vendor", columns=COLUMNS)


def nothing_stored():
    return not (SurveyImport.objects.exists() or SurveyResponse.objects.exists() or SurveyComment.objects.exists()
                or SurveyScoreCell.objects.exists() or ManualCount.objects.exists())


# --- the question set -----------------------------------------------------------------------------

def test_the_shipped_question_set(library):
    found = surveys.question_set("hcahps")
    assert len(found.questions) == 19 and len(found.composites) == 6
    assert found.questions["overall_rating"].top == {"9", "10"}
    assert found.questions["recommend"].answers["4"] == "Definitely yes"
    assert found.questions["discharge_help"].top == {"1"}  # "Yes"
    assert {c.key for c in found.composites} >= {"nurse_communication", "care_transition"}


@pytest.mark.parametrize(("change", "named"), [
    (lambda d: d["questions"][0].update(scale="castle"), "questions[0].scale"),
    (lambda d: d["scales"]["frequency"].update(top=["9"]), "questions[0].top"),
    (lambda d: d["composites"][0].update(questions=["nurse_courtesy", "nobody"]), "composites[0].questions"),
    (lambda d: d["questions"][1].update(key="Nurse Listen"), "questions[1].key"),
    (lambda d: d["questions"][2].pop("text"), "questions[2].text"),
])
def test_a_bad_question_set_names_the_file_and_field(db, tmp_path, change, named):
    document = yaml.safe_load(QUESTION_SET.read_text())
    broken = copy.deepcopy(document)
    change(broken)
    folder = tmp_path / "survey-question-sets"
    folder.mkdir()
    (folder / "broken.yaml").write_text(yaml.safe_dump(broken))
    with pytest.raises(content.ContentError, match=r"broken\.yaml\." + named.replace("[", r"\[").replace("]", r"\]")):
        content.load_content([folder])


# --- mappings -------------------------------------------------------------------------------------

def test_columns_are_suggested_from_the_header(library):
    header = ["Survey ID", "DISCHARGE_DATE", "Ward", "Service Line", "Gender", "Q_RECOMMEND", "q_overall_rating",
              "Comments", "Something else"]
    suggested = surveys.suggest_columns(header, surveys.question_set())
    assert suggested == {"Survey ID": "survey_id", "DISCHARGE_DATE": "discharge_date", "Ward": "unit",
                         "Service Line": "service_line", "Gender": "sex", "Q_RECOMMEND": "q:recommend",
                         "q_overall_rating": "q:overall_rating", "Comments": "comment"}


def test_a_mapping_must_name_the_required_fields_and_known_questions(lead, make_user):
    with pytest.raises(ValidationError, match="map a column to each of unit"):
        surveys.create_mapping(lead, name="No unit", columns={"a": "survey_id", "b": "discharge_date", "c": "q:recommend"})
    with pytest.raises(ValidationError, match="not a field or question"):
        surveys.create_mapping(lead, name="Bad", columns={**COLUMNS, "x": "q:nonsense"})
    with pytest.raises(ValidationError, match="both mapped to survey_id"):
        surveys.create_mapping(lead, name="Twice", columns={**COLUMNS, "Other id": "survey_id"})
    with pytest.raises(PermissionDenied):
        surveys.create_mapping(make_user(Role.QUALITY_ANALYST, ""), name="Analyst", columns=COLUMNS)
    assert not SurveyMapping.objects.exists()


# --- the import -----------------------------------------------------------------------------------

def test_a_good_file_imports_responses_comments_and_cells(lead, mapping, hospital):
    report = surveys.import_survey_file(lead, mapping, GOOD, "february.csv")
    assert report.ok and (report.rows_read, report.rows_imported, report.rows_already_imported) == (3, 3, 0)
    record = report.survey_import
    assert record.sha256 and record.rows_imported == 3 and record.question_set_version == "2026.1"
    a2 = SurveyResponse.objects.get(survey_id="A2")
    assert a2.answers == {"recommend": "3"}  # the skipped question is not stored
    assert a2.month == date(2026, 2, 1) and a2.unit == hospital.unit("rgh/4w") and a2.sex == "M"
    comments = {c.response.survey_id: (c.text, c.unit.code, c.month, c.question) for c in SurveyComment.objects.all()}
    assert comments == {"A2": ("The nurse gave me the wrong tablets", "4w", date(2026, 2, 1), ""),
                        "A3": ("Kind staff", "2a", date(2026, 2, 1), "")}
    assert "hcahps-recommend" in report.measures_fed and "hcahps-cleanliness" in report.measures_fed


def test_a_file_imported_twice_imports_nothing_twice(lead, mapping):
    surveys.import_survey_file(lead, mapping, GOOD, "february.csv")
    cells = set(SurveyScoreCell.objects.values_list("question", "unit_id", "dimension", "value", "top", "valid"))
    again = surveys.import_survey_file(lead, mapping, GOOD + "A4,2026-02-20,rgh/4w,Medicine,F,4,4,\n", "february-2.csv")
    assert (again.rows_read, again.rows_imported, again.rows_already_imported) == (4, 1, 3)
    assert SurveyResponse.objects.count() == 4 and SurveyComment.objects.count() == 2
    recommend = SurveyScoreCell.objects.get(question="recommend", unit__code="4w", dimension="")
    assert (recommend.top, recommend.valid) == (2, 3)  # A1 and A4 "Definitely yes", A2 not
    assert cells != set(SurveyScoreCell.objects.values_list("question", "unit_id", "dimension", "value", "top", "valid"))
    third = surveys.import_survey_file(lead, mapping, GOOD, "february.csv")
    assert (third.rows_imported, third.rows_already_imported) == (0, 3)
    assert SurveyImport.objects.count() == 3 and SurveyResponse.objects.count() == 4


BAD_ROWS = [
    ("X1,2026-02-03,rgh/nowhere,Medicine,F,4,4,\n", "Unit", "is not a unit"),
    ("X1,2026-02-30,rgh/4w,Medicine,F,4,4,\n", "Discharge Date", "is not a date written YYYY-MM-DD"),
    ("X1,03/02/2026,rgh/4w,Medicine,F,4,4,\n", "Discharge Date", "is not a date"),
    ("X1,2099-02-03,rgh/4w,Medicine,F,4,4,\n", "Discharge Date", "not in a past month"),
    ("X1,2026-02-03,rgh/4w,Medicine,F,5,4,\n", "Q_RECOMMEND", "'5' is not an answer code of recommend"),
    ("X1,2026-02-03,rgh/4w,Medicine,F,4,Always,\n", "Q_CLEAN", "is not an answer code of clean"),
    (",2026-02-03,rgh/4w,Medicine,F,4,4,\n", "Survey ID", "the survey id is missing"),
    ("X1,2026-02-03,rgh/4w,Medicine,F,4,4,,extra\n", "", "cells where the header names"),
    ("X1,2026-02-03,rgh/4w,Medicine,F\u202e,4,4,\n", "Sex", "control character"),
    ("X1,2026-02-03,rgh/4w," + "M" * 81 + ",F,4,4,\n", "Service Line", "longer than 80 characters"),
    ("X1,2026-02-03,rgh/4w,Medicine,F,4,4," + "x" * 8001 + "\n", "Comment", "longer than 8,000 characters"),
]


@pytest.mark.parametrize(("row", "column", "reason"), BAD_ROWS)
def test_each_bad_row_is_reported_by_row_field_and_reason(lead, mapping, row, column, reason):
    report = surveys.import_survey_file(lead, mapping, GOOD + row, "bad.csv")
    assert not report.ok
    assert len(report.problems) == 1, report.problems
    line, field, why = report.problems[0]
    assert (line, field) == (5, column) and reason in why
    assert report.rows_imported == 0 and nothing_stored()


def test_a_survey_id_twice_in_the_file_and_a_column_the_file_lacks(lead, mapping):
    report = surveys.import_survey_file(lead, mapping, GOOD + "A1,2026-02-04,rgh/4w,Medicine,F,4,4,\n", "twice.csv")
    assert report.problems == [(5, "Survey ID", "survey id 'A1' is also on row 2")]
    lacking = surveys.import_survey_file(lead, mapping, GOOD.replace("Q_CLEAN", "Q_TIDY"), "renamed.csv")
    assert lacking.problems == [(1, "Q_CLEAN", "the mapping Vendor reads this column; the file has none of that name")]
    assert nothing_stored()


def test_the_problem_list_is_capped_and_counts_the_rest(lead, mapping):
    rows = "".join(f"Y{i},2026-02-03,rgh/4w,Medicine,F,7,4,\n" for i in range(surveys.PROBLEMS_SHOWN + 50))
    report = surveys.import_survey_file(lead, mapping, HEADER + rows, "many.csv")
    assert len(report.problems) == surveys.PROBLEMS_SHOWN and report.more_problems == 50
    assert nothing_stored()


def test_a_unit_outside_the_importers_grants_is_a_row_problem(make_user, library):
    local = make_user(Role.PATIENT_EXPERIENCE_LEAD, "rgh", username="local-lead")
    mapping = surveys.create_mapping(local, name="Local", columns=COLUMNS)
    report = surveys.import_survey_file(local, mapping, GOOD, "f.csv")
    assert report.problems == [(4, "Unit", "you may not import surveys of 2A Medical")]
    assert nothing_stored()


def test_hostile_files_get_a_clear_answer(lead, mapping):
    assert surveys.import_survey_file(lead, mapping, GOOD.replace("A1", "A\x001"), "nul.csv").problems == [
        (1, "", "not text: the file holds a NUL character")]
    empty = surveys.import_survey_file(lead, mapping, "", "empty.csv")
    assert empty.problems == [(1, "", "the file holds no surveys")]
    script = surveys.import_survey_file(lead, mapping, GOOD + "<script>,2026-02-03,rgh/4w,=cmd(),F,4,4,<b>x</b>\n", "s.csv")
    assert script.ok  # stored as text, escaped wherever shown
    assert SurveyResponse.objects.get(survey_id="<script>").service_line == "=cmd()"
    assert nothing_stored() is False


def test_a_vendor_unit_code_mapped_in_the_measures_library(lead, mapping, hospital, make_user):
    from andon.measures import services as measures

    measures.map_unit(make_user(Role.QUALITY_ANALYST, ""), "location", "WARD-4W", hospital.unit("rgh/4w"))
    report = surveys.import_survey_file(lead, mapping, HEADER + "V1,2026-02-03,WARD-4W,Medicine,F,4,4,\n", "v.csv")
    assert report.ok and SurveyResponse.objects.get(survey_id="V1").unit == hospital.unit("rgh/4w")


def test_a_big_file_is_a_background_job(lead, mapping, settings):
    settings.ANDON_IMPORT_JOB_ROWS = 2
    job = surveys.queue_survey_import(lead, mapping, GOOD, "big.csv")
    assert job is not None and job.requested_by == lead
    settings.ANDON_IMPORT_JOB_ROWS = 1000
    assert surveys.queue_survey_import(lead, mapping, GOOD, "small.csv") is None


# --- pages ----------------------------------------------------------------------------------------

def test_the_mapping_page_reads_a_header_and_saves_the_mapping(client, lead):
    client.force_login(lead)
    upload = SimpleUploadedFile("vendor.csv", GOOD.encode(), "text/csv")
    page = client.post(reverse("voice:survey_mapping_new"), {"file": upload})
    assert page.status_code == 200
    form = page.context["form"]
    assert form["c0"].initial == "survey_id" and form["c5"].initial == "q:recommend"
    data = {"name": "From the page", "header": form["header"].initial,
            **{f"c{i}": target for i, target in enumerate(COLUMNS.values())}}
    saved = client.post(reverse("voice:survey_mapping_new"), data)
    assert saved.status_code == 302
    assert SurveyMapping.objects.get(name="From the page").columns == COLUMNS


def test_the_import_page_shows_the_report_and_the_record(client, lead, mapping):
    client.force_login(lead)
    bad = client.post(reverse("voice:survey_import"), {
        "file": SimpleUploadedFile("bad.csv", (GOOD + "Z1,2026-02-03,rgh/4w,Medicine,F,9,4,\n").encode()),
        "mapping": mapping.pk})
    assert bad.status_code == 400 and "is not an answer code of recommend" in bad.content.decode()
    latin = client.post(reverse("voice:survey_import"), {
        "file": SimpleUploadedFile("latin.csv", (GOOD + "Z2,2026-02-03,rgh/4w,Médecine,F,4,4,\n").encode("latin-1")),
        "mapping": mapping.pk})
    assert latin.status_code == 400 and "not UTF-8 text" in latin.content.decode()
    good = client.post(reverse("voice:survey_import"), {"file": SimpleUploadedFile("good.csv", GOOD.encode()),
                                                         "mapping": mapping.pk})
    assert good.status_code == 302
    record = client.get(good["Location"])
    assert record.status_code == 200 and 'id="rows-imported">3<' in record.content.decode()
    scores = client.get(reverse("voice:survey_scores"), {"first": "2026-02", "last": "2026-02"})
    assert scores.status_code == 200 and 'id="survey-count">3<' in scores.content.decode()
    assert "Unadjusted" in scores.content.decode()
    wrong = client.get(reverse("voice:survey_scores"), {"first": "2026-13", "last": "2026-02"})
    assert wrong.status_code == 400


# --- API ------------------------------------------------------------------------------------------

def test_the_api_imports_and_answers_scores(client, lead, mapping):
    client.force_login(lead)
    answer = client.post("/api/v1/voice/surveys/imports", {
        "file": SimpleUploadedFile("api.csv", GOOD.encode()), "mapping_id": str(mapping.pk)})
    assert answer.status_code == 200, answer.content
    assert answer.json()["rows_imported"] == 3 and answer.json()["import_id"]
    bad = client.post("/api/v1/voice/surveys/imports", {
        "file": SimpleUploadedFile("bad.csv", (HEADER + "Q1,2026-02-03,rgh/4w,Medicine,F,4,4,\n"
                                               "Q1,2026-02-04,rgh/4w,Medicine,F,4,4,\n").encode()),
        "mapping_id": str(mapping.pk)})
    assert bad.json()["problems"] == [{"row": 3, "field": "Survey ID", "reason": "survey id 'Q1' is also on row 2"}]
    assert bad.json()["import_id"] is None
    scores = client.get("/api/v1/voice/surveys/scores", {"first": "2026-02", "last": "2026-02"}).json()
    recommend = next(q for q in scores["questions"] if q["key"] == "recommend")
    assert (recommend["top"], recommend["valid"], scores["surveys"], scores["adjusted"]) == (2, 3, 3, False)
    assert client.get("/api/v1/voice/surveys/scores", {"first": "2026-02", "last": "2026-01"}).status_code == 422
    listed = client.get("/api/v1/voice/surveys/imports").json()
    assert listed["count"] == 1
    sets = client.get("/api/v1/voice/surveys/question-sets").json()
    assert sets[0]["key"] == "hcahps" and len(sets[0]["composites"]) == 6


# --- the demo -------------------------------------------------------------------------------------

def test_the_demo_surveys_come_through_the_import(demo_hospital):
    record = SurveyImport.objects.get()
    assert record.rows_imported == record.rows_read > 1000
    assert SurveyComment.objects.filter(text__icontains="fell").exists()
    assert SurveyComment.objects.filter(text__icontains="wrong medicine").exists()
    counts = ManualCount.objects.filter(measure__key="hcahps-recommend")
    assert counts.exists() and set(counts.values_list("source", flat=True)) == {"Patient experience survey imports"}
    recount = SurveyScoreCell.objects.filter(question="recommend", dimension="")
    assert sum(c.valid for c in recount) == sum(c.denominator for c in counts)


@pytest.mark.django_db(transaction=True)
def test_the_background_job_imports_the_file(lead, mapping, settings):
    from django.core.management import call_command

    from andon.platform.models import Job

    settings.ANDON_IMPORT_JOB_ROWS = 2
    job = surveys.queue_survey_import(lead, mapping, GOOD, "big.csv")
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["rows_imported"] == 3 and SurveyResponse.objects.count() == 3
    failing = surveys.queue_survey_import(lead, mapping, GOOD + "B1,2026-02-03,rgh/4w,M,F,9,4,\n" * 2, "bad.csv")
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)
    failing.refresh_from_db()
    assert failing.status == Job.Status.FAILED and "Nothing was imported. row 5, Q_RECOMMEND" in failing.error
    assert SurveyResponse.objects.count() == 3
