"""Permission matrix rows of the practitioners and credentials (issue 19 item 1): files are read by
the medical staff office, the CMO, department chairs and the credentials committee in their scope,
and by the practitioner (their own only); only the office keeps them. Merged by
tests/test_permission_matrix.py (tests/matrix_kit.py)."""

from datetime import timedelta

from tests.matrix_kit import ApiCase, Case, ScopeCase

from andon.platform.roles import Role

ALL = frozenset(Role)
READERS = frozenset({Role.MEDICAL_STAFF_OFFICE, Role.CMO, Role.DEPARTMENT_CHAIR, Role.CREDENTIALS_COMMITTEE})
OFFICE = frozenset({Role.MEDICAL_STAFF_OFFICE})
PRACTITIONERS = frozenset({Role.PRACTITIONER})


def _office():
    from andon.platform import services
    from andon.platform.models import Organisation

    office = services.create_user(f"matrix-office-{services.User.objects.count()}")
    services.grant_role(office, Role.MEDICAL_STAFF_OFFICE, Organisation.objects.get())
    return office


def _medicine():
    from andon.platform.models import Unit

    return Unit.objects.get(facility__code="rgh", code="medicine")


def _file(account=None, family_name="Matrix"):
    from andon.medstaff import services as medstaff

    return medstaff.create_practitioner(_office(), department=_medicine(), family_name=family_name,
                                        given_name="Dana", account=account)


def _credential(practitioner):
    from django.utils import timezone

    from andon.medstaff import services as medstaff

    return medstaff.add_credential(practitioner.created_by, practitioner, kind="licence", title="Medical licence",
                                   number="TX-MATRIX", issuer="Texas Medical Board", state="TX",
                                   expires_on=timezone.localdate() + timedelta(days=30))


def a_file(user, other):
    return [_file().pk], {}


def own_file(user, other):
    return [_file(account=user).pk], {}


def having_a_file(user, other):
    _file(account=user)
    return [], {}


def another_file_having_ones_own(user, other):
    _file(account=user, family_name="Own")
    return [_file().pk], {}


def a_credential(user, other):
    return [_credential(_file()).pk], {}


def _file_form(user, other):
    return [], {"given_name": "Dana", "family_name": "Matrix", "department": _medicine().pk, "status": "active"}


def _edit_form(user, other):
    made = _file()
    return [made.pk], {**_file_form(user, other)[1], "family_name": "Changed", "version": made.version}


def _credential_form(user, other):
    return [_file().pk], {"kind": "board_certification", "title": "Board certification", "number": "ABIM-M",
                          "issuer": "ABIM"}


def _renewal_form(user, other):
    from django.utils import timezone

    credential = _credential(_file())
    return [credential.pk], {"expires_on": (timezone.localdate() + timedelta(days=700)).isoformat(),
                             "version": credential.version}


PAGES = {
    "medstaff:practitioners": Case(READERS),
    "medstaff:practitioner_new": Case(OFFICE),
    "medstaff:practitioner_import": Case(OFFICE),
    "medstaff:practitioner": Case(READERS, setup=a_file),
    "medstaff:practitioner_edit": Case(OFFICE, setup=a_file),
    "medstaff:credential_new": Case(OFFICE, setup=a_file),
    "medstaff:credential_edit": Case(OFFICE, setup=a_credential),
    "medstaff:credential_renew": Case(OFFICE, setup=a_credential),
    "medstaff:expiring": Case(READERS),
    "medstaff:my_file": Case(PRACTITIONERS),
}

OBJECT_CASES = {
    # A practitioner reads their own file whatever their role, and not another's by having one.
    "medstaff:practitioner (own file)": ("medstaff:practitioner", Case(ALL, setup=own_file)),
    "medstaff:practitioner (another's, having one's own)": ("medstaff:practitioner", Case(
        READERS, setup=another_file_having_ones_own)),
    "medstaff:my_file (having a file)": ("medstaff:my_file", Case(PRACTITIONERS, setup=having_a_file)),
    "medstaff:practitioner_new (sent)": ("medstaff:practitioner_new", Case(OFFICE, method="post", setup=_file_form)),
    "medstaff:practitioner_edit (sent)": ("medstaff:practitioner_edit", Case(OFFICE, method="post",
                                                                            setup=_edit_form)),
    "medstaff:credential_new (sent)": ("medstaff:credential_new", Case(OFFICE, method="post", setup=_credential_form)),
    "medstaff:credential_renew (sent)": ("medstaff:credential_renew", Case(OFFICE, method="post",
                                                                          setup=_renewal_form)),
}


def api_file(user, other, hospital):
    return {"practitioner_id": _file().pk}


def api_own_file(user, other, hospital):
    return {"practitioner_id": _file(account=user).pk}


def api_credential(user, other, hospital):
    return {"credential_id": _credential(_file()).pk}


def _api_file_body(hospital):
    return {"department_id": hospital.unit("rgh/medicine").pk, "given_name": "Dana", "family_name": "Api"}


P = "/api/v1/medstaff/practitioners"
API = {
    ("GET", P): ApiCase(READERS),
    ("POST", P): ApiCase(OFFICE, body=_api_file_body),
    ("GET", P + "/{practitioner_id}"): ApiCase(READERS, setup=api_file),
    ("POST", P + "/{practitioner_id}"): ApiCase(OFFICE, setup=api_file, body=_api_file_body),
    ("GET", P + "/{practitioner_id}/credentials"): ApiCase(READERS, setup=api_file),
    ("POST", P + "/{practitioner_id}/credentials"): ApiCase(OFFICE, setup=api_file, body={
        "kind": "other", "title": "ACLS", "number": "A-1", "issuer": "American Heart Association"}),
    ("POST", "/api/v1/medstaff/credentials/{credential_id}/renewal"): ApiCase(OFFICE, setup=api_credential, body={
        "expires_on": "2199-01-01"}),
    ("GET", "/api/v1/medstaff/credentials/expiring"): ApiCase(READERS),
}

# The practitioner's own file through the API, whatever their role (a separate path key would be
# a second operation; the matrix's API rows are by operation, so the own-file case is a page row
# above and a test in tests/test_medstaff_practitioners.py).

SCOPE_CELLS = {
    "GET /medstaff/practitioners, left out": ScopeCase("cmo@lch", "/api/v1/medstaff/practitioners", api=True),
    "GET /medstaff/practitioners, unit_id outside": ScopeCase(
        "cmo@lch", "/api/v1/medstaff/practitioners?unit_id={rgh/4w}", (403,), api=True),
}
