"""The permission matrix's rows of survey data and scores (andon/voice/surveys.py, scores.py):
imports, mappings and question sets are the patient experience lead's; scores are read by the
survey readers (patient experience, patient relations, unit managers in their units, quality,
the CQO, the CMO and the board)."""

from django.core.files.uploadedfile import SimpleUploadedFile

from andon.platform.roles import VOICE_CAPABILITIES, Role
from tests.matrix_kit import ApiCase, Case, ScopeCase

READERS = VOICE_CAPABILITIES["voice.view_surveys"]
LEADS = frozenset({Role.PATIENT_EXPERIENCE_LEAD})
BASE = "/api/v1/voice/surveys"
COLUMNS = {"id": "survey_id", "discharged": "discharge_date", "ward": "unit", "rec": "q:recommend"}
FILE = b"id,discharged,ward,rec\nM1,2026-01-05,rgh/4w,4\nM2,2026-01-09,rgh/4w,3\n"


def _lead():
    from andon.platform import services

    lead = services.create_user("matrix-survey-lead", email="matrix-survey-lead@example.org")
    services.grant_role(lead, Role.PATIENT_EXPERIENCE_LEAD, _ward().facility.organisation)
    return lead


def _ward():
    from andon.platform.models import Unit

    return Unit.objects.get(facility__code="rgh", code="4w")


def _mapping():
    from andon.voice import surveys

    return surveys.create_mapping(_lead(), name="Matrix mapping", columns=COLUMNS)


def _import():
    from andon.voice import surveys

    mapping = _mapping()
    report = surveys.import_survey_file(mapping.created_by, mapping, FILE.decode(), "matrix.csv")
    assert report.ok, report.problems
    return report.survey_import


def a_mapping(user, other):
    return [_mapping().pk], {}


def an_import(user, other):
    return [_import().pk], {}


def a_unit_chart(user, other):
    _import()
    return [], {"unit": _ward().pk, "item": "recommend"}


def mapping_id(user, other, hospital):
    return {"mapping_id": _mapping().pk}


def import_id(user, other, hospital):
    return {"import_id": _import().pk}


def mapping_body(hospital):
    return {"name": "Matrix API mapping", "columns": COLUMNS}


def survey_file(hospital):
    return {"file": SimpleUploadedFile("surveys.csv", FILE, "text/csv"), "mapping_id": str(_mapping().pk)}


def upload_form(user, other):
    return [], {"file": SimpleUploadedFile("surveys.csv", FILE, "text/csv"), "mapping": _mapping().pk}


PAGES = {
    "voice:surveys": Case(READERS),
    "voice:survey_import": Case(LEADS),
    "voice:survey_mapping_new": Case(LEADS),
    "voice:survey_mapping_edit": Case(LEADS, setup=a_mapping),
    "voice:survey_import_detail": Case(READERS, setup=an_import),
    "voice:survey_scores": Case(READERS),
    "voice:survey_chart": Case(READERS, setup=a_unit_chart),
}

OBJECT_CASES = {
    "voice:survey_import (a file imported)": ("voice:survey_import", Case(LEADS, method="post", setup=upload_form)),
}

API = {
    ("GET", BASE + "/question-sets"): ApiCase(READERS),
    ("GET", BASE + "/mappings"): ApiCase(READERS),
    ("POST", BASE + "/mappings"): ApiCase(LEADS, body=mapping_body),
    ("PUT", BASE + "/mappings/{mapping_id}"): ApiCase(LEADS, setup=mapping_id, body=mapping_body),
    ("POST", BASE + "/imports"): ApiCase(LEADS, files=survey_file),
    ("GET", BASE + "/imports"): ApiCase(READERS),
    ("GET", BASE + "/imports/{import_id}"): ApiCase(READERS, setup=import_id),
    ("GET", BASE + "/scores"): ApiCase(READERS, query={"first": "2026-01", "last": "2026-06"}),
}

SCOPE_CELLS = {
    "voice:survey_scores, unit left out": ScopeCase("analyst@lch", "/voice/surveys/scores/", shows=("name",)),
    "voice:survey_scores, unit outside": ScopeCase("analyst@lch", "/voice/surveys/scores/?unit={rgh/4w}", (403,)),
    "voice:survey_chart, unit left out": ScopeCase("analyst@lch", "/voice/surveys/chart/?item=recommend", (404,)),
    "voice:survey_chart, unit outside": ScopeCase("analyst@lch", "/voice/surveys/chart/?item=recommend&unit={rgh/4w}",
                                                  (403,)),
    "GET /voice/surveys/scores, left out": ScopeCase("analyst@lch", "/api/v1/voice/surveys/scores?first=2026-01&last=2026-06",
                                                     api=True),
    "GET /voice/surveys/scores, unit_id outside": ScopeCase(
        "analyst@lch", "/api/v1/voice/surveys/scores?first=2026-01&last=2026-06&unit_id={rgh/4w}", (403,), api=True),
}
