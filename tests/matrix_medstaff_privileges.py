"""The permission matrix's rows for privileges and FPPE (andon/medstaff/privileges.py, fppe.py).

Practitioners' files, privilege requests and FPPEs are read by the medical staff office, the CMO,
department chairs and the credentials committee (over the department); the office keeps the
catalogue, enters requests and records the MEC's and the board's decisions; the chair recommends;
FPPEs are planned by the office and the chair, their cases recorded by them or the proctor (any
practitioner with an account: object rule), decided by the credentials committee."""

from datetime import timedelta
from itertools import count

from django.utils import timezone

from andon.platform import services
from andon.platform.models import Unit
from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case, sending

READERS = frozenset({Role.MEDICAL_STAFF_OFFICE, Role.CMO, Role.DEPARTMENT_CHAIR, Role.CREDENTIALS_COMMITTEE})
OFFICE = frozenset({Role.MEDICAL_STAFF_OFFICE})
CHAIR = frozenset({Role.DEPARTMENT_CHAIR})
COMMITTEE = frozenset({Role.CREDENTIALS_COMMITTEE})
FPPE_MANAGERS = frozenset({Role.MEDICAL_STAFF_OFFICE, Role.DEPARTMENT_CHAIR})
ALL = frozenset(Role)

_NUMBERS = count(1)


def _medicine():
    return Unit.objects.get(facility__code="rgh", code="medicine")


def _person(role):
    number = next(_NUMBERS)
    person = services.create_user(f"mspriv-{role.value}-{number}")
    services.grant_role(person, role, _medicine().facility.organisation)
    return person


def _practitioner(account=None):
    from andon.medstaff import services as medstaff

    number = next(_NUMBERS)
    return medstaff.create_practitioner(_person(Role.MEDICAL_STAFF_OFFICE), department=_medicine(),
                                        family_name=f"Matrix{number}", given_name="Pat", degree="MD",
                                        appointed_on=timezone.localdate() - timedelta(days=10), account=account)


def _privilege(**plan):
    from andon.medstaff import services as medstaff

    plan = plan or {"fppe_methods": ["chart_review"], "fppe_cases": 3}
    return medstaff.create_privilege(_person(Role.MEDICAL_STAFF_OFFICE), _medicine(),
                                     name=f"Matrix privilege {next(_NUMBERS)}", kind="special", **plan)


def _request(practitioner=None):
    from andon.medstaff import services as medstaff

    return medstaff.request_privileges(_person(Role.MEDICAL_STAFF_OFFICE), practitioner or _practitioner(),
                                       [_privilege()])


def _grant(practitioner=None):
    """A privilege granted through the four steps today: (grant, its FPPE in planning)."""
    from andon.medstaff import services as medstaff

    found = _request(practitioner)
    today = timezone.localdate()
    office = _person(Role.MEDICAL_STAFF_OFFICE)
    for step, who, outcome in [("chair", _person(Role.DEPARTMENT_CHAIR), "recommend"),
                               ("credentials", _person(Role.CREDENTIALS_COMMITTEE), "recommend"),
                               ("mec", office, "recommend"), ("board", office, "approve")]:
        medstaff.record_step(who, found, step, outcome=outcome, met_on=today)
    grant = found.practitioner.granted_privileges.get()
    return grant, grant.fppes.get()


def _fppe(begun=False, proctor_account=None):
    from andon.medstaff import services as medstaff

    _, fppe = _grant()
    proctor = _practitioner(account=proctor_account or _person(Role.PRACTITIONER))
    office = _person(Role.MEDICAL_STAFF_OFFICE)
    medstaff.plan_fppe(office, fppe, methods=["proctoring"], cases_required=3, proctor=proctor)
    return medstaff.begin_fppe(office, fppe) if begun else fppe


# --- pages --------------------------------------------------------------------------------------

def a_privilege(user, other):
    return [_privilege().pk], {}


def a_request(user, other):
    return [_request().pk], {}


def a_grant(user, other):
    return [_grant()[0].pk], {"status": "suspended", "reason": "Matrix"}


def a_practitioner(user, other):
    return [_practitioner().pk], {}


def an_fppe(begun=False):
    def setup(user, other):
        return [_fppe(begun).pk], {}

    return setup


def proctoring(begun=True, listing=False):
    """The user proctors an FPPE: a practitioner of Medicine (their account holds the Practitioner
    role there, beside the role of the cell) linked to their account."""
    def setup(user, other):
        services.grant_role(user, Role.PRACTITIONER, _medicine())
        fppe = _fppe(begun, proctor_account=user)
        return ([] if listing else [fppe.pk]), {}

    return setup


def _today():
    return timezone.localdate().isoformat()


CASE = {"case_date": None, "case_reference": "ENC-MATRIX", "result": "met"}


def _case_data():
    return {**CASE, "case_date": _today()}


PAGES = {
    "medstaff:privilege_catalogue": Case(READERS),
    "medstaff:privilege_new": Case(OFFICE),
    "medstaff:privilege_edit": Case(OFFICE, setup=a_privilege),
    "medstaff:privilege_retire": Case(OFFICE, method="post", setup=a_privilege),
    "medstaff:privilege_requests": Case(READERS),
    "medstaff:privilege_request_new": Case(OFFICE),
    "medstaff:privilege_request": Case(READERS, setup=a_request),
    "medstaff:privilege_request_step": Case(CHAIR, method="post", setup=sending(
        a_request, lambda: {"outcome": "recommend", "met_on": _today()})),
    "medstaff:privileges_granted": Case(READERS),
    "medstaff:privilege_grant_status": Case(OFFICE, method="post", setup=a_grant),
    "medstaff:practitioner_privileges": Case(READERS, setup=a_practitioner),
    "medstaff:fppes": Case(READERS),
    "medstaff:fppe_new": Case(FPPE_MANAGERS),
    "medstaff:fppe": Case(READERS, setup=an_fppe()),
    "medstaff:fppe_plan": Case(FPPE_MANAGERS, setup=an_fppe()),
    "medstaff:fppe_begin": Case(FPPE_MANAGERS, method="post", setup=an_fppe()),
    "medstaff:fppe_case": Case(FPPE_MANAGERS, method="post", setup=sending(an_fppe(True), _case_data)),
    "medstaff:fppe_decide": Case(COMMITTEE, method="post", setup=sending(
        an_fppe(True), lambda: {"decision": "confirmed", "reason": "Matrix", "decided_on": _today()})),
}

# The proctor of an FPPE reads it and records its cases whatever their role; deciding stays the committee's.
OBJECT_CASES = {
    "medstaff:fppes (proctor)": ("medstaff:fppes", Case(ALL, setup=proctoring(listing=True))),
    "medstaff:fppe (proctor)": ("medstaff:fppe", Case(ALL, setup=proctoring())),
    "medstaff:fppe_case (proctor)": ("medstaff:fppe_case", Case(ALL, method="post", setup=sending(
        proctoring(), _case_data))),
    "medstaff:fppe_decide (proctor)": ("medstaff:fppe_decide", Case(COMMITTEE, method="post", setup=sending(
        proctoring(), lambda: {"decision": "confirmed", "reason": "Matrix", "decided_on": _today()}))),
}


# --- API ----------------------------------------------------------------------------------------

MS = "/api/v1/medstaff"


def api_privilege(user, other, hospital):
    return {"privilege_id": _privilege().pk}


def api_request(user, other, hospital):
    return {"request_id": _request().pk}


def api_grant(user, other, hospital):
    return {"grant_id": _grant()[0].pk}


def api_fppe(begun=False):
    def setup(user, other, hospital):
        return {"fppe_id": _fppe(begun).pk}

    return setup


def new_privilege_body(hospital):
    return {"department_id": hospital.unit("rgh/medicine").pk, "name": f"API privilege {next(_NUMBERS)}",
            "fppe_methods": ["chart_review"], "fppe_cases": 5}


def new_request_body(hospital):
    return {"practitioner_id": _practitioner().pk, "privilege_ids": [_privilege().pk]}


def concern_body(hospital):
    return {"practitioner_id": _practitioner().pk, "trigger": "complaint", "reason": "Matrix concern"}


def case_body(hospital):
    return _case_data()


def decision_body(hospital):
    return {"decision": "confirmed", "reason": "Matrix", "decided_on": _today()}


def step_body(hospital):
    return {"step": "chair", "outcome": "recommend", "met_on": _today()}


API = {
    ("GET", MS + "/privileges"): ApiCase(READERS),
    ("POST", MS + "/privileges"): ApiCase(OFFICE, body=new_privilege_body),
    ("PUT", MS + "/privileges/{privilege_id}"): ApiCase(OFFICE, setup=api_privilege, body={
        "name": "Renamed matrix privilege", "kind": "special"}),
    ("POST", MS + "/privileges/{privilege_id}/retire"): ApiCase(OFFICE, setup=api_privilege),
    ("GET", MS + "/privilege-requests"): ApiCase(READERS),
    ("POST", MS + "/privilege-requests"): ApiCase(OFFICE, body=new_request_body),
    ("GET", MS + "/privilege-requests/{request_id}"): ApiCase(READERS, setup=api_request),
    ("POST", MS + "/privilege-requests/{request_id}/steps"): ApiCase(CHAIR, setup=api_request, body=step_body),
    ("GET", MS + "/granted-privileges"): ApiCase(READERS),
    ("GET", MS + "/practitioners/{practitioner_id}/privileges"): ApiCase(READERS, setup=lambda user, other, hospital: {
        "practitioner_id": _grant()[0].practitioner_id}),
    ("POST", MS + "/granted-privileges/{grant_id}/status"): ApiCase(OFFICE, setup=api_grant, body={
        "status": "suspended", "reason": "Matrix"}),
    ("GET", MS + "/fppes"): ApiCase(READERS),
    ("POST", MS + "/fppes"): ApiCase(FPPE_MANAGERS, body=concern_body),
    ("GET", MS + "/fppes/{fppe_id}"): ApiCase(READERS, setup=api_fppe()),
    ("PUT", MS + "/fppes/{fppe_id}/plan"): ApiCase(FPPE_MANAGERS, setup=api_fppe(), body={
        "methods": ["chart_review"], "cases_required": 4}),
    ("POST", MS + "/fppes/{fppe_id}/begin"): ApiCase(FPPE_MANAGERS, setup=api_fppe()),
    ("GET", MS + "/fppes/{fppe_id}/cases"): ApiCase(READERS, setup=api_fppe(True)),
    ("POST", MS + "/fppes/{fppe_id}/cases"): ApiCase(FPPE_MANAGERS, setup=api_fppe(True), body=case_body),
    ("POST", MS + "/fppes/{fppe_id}/decision"): ApiCase(COMMITTEE, setup=api_fppe(True), body=decision_body),
}
