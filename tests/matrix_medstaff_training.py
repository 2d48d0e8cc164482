"""The permission matrix's rows of training and competencies (andon/medstaff/training.py): compliance
is read by unit managers (in their units), the medical staff office, quality analysts, the CQO and
the CMO; requirements, imports and the monthly record are the medical staff office's."""

from django.core.files.uploadedfile import SimpleUploadedFile

from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case, ScopeCase

TRAINING_VIEWERS = frozenset({Role.UNIT_MANAGER, Role.MEDICAL_STAFF_OFFICE, Role.QUALITY_ANALYST, Role.CQO, Role.CMO})
TRAINING_MANAGERS = frozenset({Role.MEDICAL_STAFF_OFFICE})
BASE = "/api/v1/medstaff/training"


def _ward():
    from andon.platform.models import Unit

    return Unit.objects.get(facility__code="rgh", code="4w")


def _requirement(other):
    from andon.medstaff.models import TrainingRequirement

    ward = _ward()
    return TrainingRequirement.objects.create(organisation=ward.facility.organisation, course_code="MATRIX",
                                              title="Matrix course", job_roles=["RN"], unit=ward, renewal_months=12,
                                              created_by=other)


def a_ward(user, other):
    return [_ward().pk], {}


def a_requirement(user, other):
    return [_requirement(other).pk], {}


def requirement_id(user, other, hospital):
    return {"requirement_id": _requirement(other).pk}


def requirement_body(hospital):
    return {"course_code": "MATRIX-API", "title": "Matrix API course", "job_roles": ["RN", "HCA"],
            "unit_id": hospital.unit("rgh/4w").pk, "renewal_months": 24}


def completions_file(hospital):
    return {"file": SimpleUploadedFile("export.csv", b"employee_id,name,unit,job_role,course_code,completed_on\n"
                                                     b"E1,Ana,rgh/4w,RN,NOT-REQUIRED,2025-01-02\n", "text/csv")}


PAGES = {
    "medstaff:training_compliance": Case(TRAINING_VIEWERS),
    "medstaff:training_unit": Case(TRAINING_VIEWERS, setup=a_ward),
    "medstaff:training_unit_csv": Case(TRAINING_VIEWERS, setup=a_ward),
    "medstaff:training_record_month": Case(TRAINING_MANAGERS, method="post"),
    "medstaff:training_requirements": Case(TRAINING_MANAGERS),
    "medstaff:training_requirement_new": Case(TRAINING_MANAGERS),
    "medstaff:training_requirement_edit": Case(TRAINING_MANAGERS, setup=a_requirement),
    "medstaff:training_requirement_active": Case(TRAINING_MANAGERS, method="post", setup=a_requirement,
                                                 data={"active": "0"}),
    "medstaff:training_import": Case(TRAINING_MANAGERS),
}

API = {
    ("GET", BASE + "/requirements"): ApiCase(TRAINING_VIEWERS),
    ("POST", BASE + "/requirements"): ApiCase(TRAINING_MANAGERS, body=requirement_body),
    ("PUT", BASE + "/requirements/{requirement_id}"): ApiCase(TRAINING_MANAGERS, setup=requirement_id,
                                                               body=requirement_body),
    ("POST", BASE + "/requirements/{requirement_id}/active"): ApiCase(TRAINING_MANAGERS, setup=requirement_id,
                                                                       body={"active": False}),
    ("POST", BASE + "/imports"): ApiCase(TRAINING_MANAGERS, files=completions_file),
    ("GET", BASE + "/compliance"): ApiCase(TRAINING_VIEWERS),
    ("POST", BASE + "/record-month"): ApiCase(TRAINING_MANAGERS),
}

SCOPE_CELLS = {
    "medstaff:training_compliance, left out": ScopeCase("analyst@lch", "/medstaff/training/", shows=("name",)),
    "medstaff:training_compliance, unit outside": ScopeCase("analyst@lch", "/medstaff/training/?unit={rgh/4w}",
                                                            (403,)),
    "GET /medstaff/training/compliance, left out": ScopeCase("analyst@lch", "/api/v1/medstaff/training/compliance",
                                                             shows=("name",), api=True),
    "GET /medstaff/training/compliance, unit_id outside": ScopeCase(
        "analyst@lch", "/api/v1/medstaff/training/compliance?unit_id={rgh/4w}", (403,), api=True),
}
