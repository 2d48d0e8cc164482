"""Permission matrix rows of OPPE (issue 19): the medical staff readers (office, CMO, department
chair, credentials committee) read the departments' evaluations; the office configures profiles;
the chair and the CMO decide; a practitioner reads their own OPPE and no one else's."""

from andon.medstaff.models import OppeIndicator, OppeProfile, Practitioner
from andon.platform.models import Unit
from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case

ALL = frozenset(Role)
READERS = frozenset({Role.MEDICAL_STAFF_OFFICE, Role.CMO, Role.DEPARTMENT_CHAIR, Role.CREDENTIALS_COMMITTEE})
CONFIGURERS = frozenset({Role.MEDICAL_STAFF_OFFICE})
DECIDERS = frozenset({Role.DEPARTMENT_CHAIR, Role.CMO})
NOBODY = frozenset()


def _medicine() -> Unit:
    return Unit.objects.get(facility__code="rgh", code="medicine")


def _profile(other) -> OppeProfile:
    profile, _made = OppeProfile.objects.get_or_create(department=_medicine(), defaults={"updated_by": other})
    OppeIndicator.objects.get_or_create(profile=profile, measure_key="readmission-30-day")
    return profile


def _practitioner(other, account=None) -> Practitioner:
    _profile(other)
    unit = _medicine()
    return Practitioner.objects.create(organisation=unit.facility.organisation, department=unit, family_name="Okafor",
                                       given_name="Kwame", fhir_id="matrix-prac-1", user=account, created_by=other)


def department(user, other):
    return [_profile(other).department_id], {}


def medicine(user, other):
    return [_medicine().pk], {}


def someone(user, other):
    return [_practitioner(other).pk], {}


def own(user, other):
    return [_practitioner(other, account=user).pk], {}


def own_file(user, other):
    _practitioner(other, account=user)
    return [], {}


PAGES = {
    "medstaff:oppe": Case(READERS),
    "medstaff:oppe_mine": Case(NOBODY),  # nobody's account is a practitioner's here: see OBJECT_CASES
    "medstaff:oppe_department": Case(READERS, setup=department),
    "medstaff:oppe_configure": Case(CONFIGURERS, setup=medicine),
    "medstaff:oppe_practitioner": Case(READERS, setup=someone),
    "medstaff:oppe_decide": Case(DECIDERS, method="post", setup=someone,
                                 data={"decision": "continue", "reason": "Within limits on every indicator"}),
}

OBJECT_CASES = {
    # A practitioner reads their own OPPE whatever their role (and decides nothing on it).
    "medstaff:oppe_practitioner (own)": ("medstaff:oppe_practitioner", Case(ALL, setup=own)),
    # "My OPPE" is the practitioner role's door (as "My file" is): an account linked to a file
    # without the role reads its OPPE from the practitioner's page above, so that everyone else's
    # menu asks the database nothing.
    "medstaff:oppe_mine (own)": ("medstaff:oppe_mine", Case(frozenset({Role.PRACTITIONER}), setup=own_file)),
}


def api_department(user, other, hospital):
    return {"unit_id": _profile(other).department_id}


def api_medicine(user, other, hospital):
    return {"unit_id": _medicine().pk}


def api_someone(user, other, hospital):
    return {"practitioner_id": _practitioner(other).pk}


API = {
    ("GET", "/api/v1/medstaff/oppe/profiles"): ApiCase(READERS),
    ("PUT", "/api/v1/medstaff/oppe/profiles/{unit_id}"): ApiCase(
        CONFIGURERS, setup=api_medicine, body={"period_months": 6, "indicators": [{"measure_key": "readmission-30-day"}]}),
    ("GET", "/api/v1/medstaff/oppe/departments/{unit_id}"): ApiCase(READERS, setup=api_department),
    ("GET", "/api/v1/medstaff/oppe/practitioners/{practitioner_id}"): ApiCase(READERS, setup=api_someone),
    ("POST", "/api/v1/medstaff/oppe/practitioners/{practitioner_id}/decisions"): ApiCase(
        DECIDERS, setup=api_someone, body={"decision": "continue", "reason": "Within limits"}),
}
