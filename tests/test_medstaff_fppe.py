"""FPPE (issue 19, item 5): the plan (methods, cases or days, a proctor who is not the one
evaluated), beginning it, cases recorded by the proctor (an object rule) and the progress, the
credentials committee's decision and its effect on the privilege, an FPPE started by hand for a
concern, the pages (hostile text escaped) and the API."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from andon.medstaff import services as medstaff
from andon.medstaff.models import Fppe
from andon.platform import permissions
from andon.platform.models import AccessToken
from andon.platform.roles import Role
from tests.medstaff_privileges_helpers import days_ago, granted, make_staff

HOSTILE = '<img src=x onerror=alert(1)>'


@pytest.fixture
def staff(make_user, hospital):
    return make_staff(make_user, hospital)


def _begun(staff, fppe, **plan):
    plan = {"methods": fppe.methods, "cases_required": fppe.cases_required, "proctor": staff.proctor, **plan}
    medstaff.plan_fppe(staff.office, fppe, **plan)
    return medstaff.begin_fppe(staff.office, fppe)


def test_the_plan_needs_a_method_cases_or_days_and_a_proctor_who_is_not_the_one_evaluated(staff, make_user):
    _, _, fppe = granted(staff)
    with pytest.raises(ValidationError) as refused:
        medstaff.plan_fppe(staff.office, fppe, methods=[], cases_required=None, duration_days=None,
                           proctor=staff.newcomer)
    assert refused.value.message_dict == {
        "proctor": ["Amara Nwosu, MD is the practitioner evaluated: the proctor must be someone else."],
        "methods": ["Choose at least one method."],
        "cases_required": ["Give a number of cases or a duration in days."]}
    no_role = medstaff.create_practitioner(staff.office, department=staff.newcomer.department, family_name="Lee",
                                           given_name="Ann", account=make_user(Role.STAFF_REPORTER, "rgh/4w"))
    with pytest.raises(ValidationError, match="account does not hold the Practitioner role"):
        medstaff.plan_fppe(staff.office, fppe, methods=["proctoring"], cases_required=3, proctor=no_role)
    with pytest.raises(ValidationError, match="Proctoring needs a proctor"):
        medstaff.begin_fppe(staff.office, fppe)  # the catalogue's plan has proctoring and no proctor yet
    with pytest.raises(PermissionDenied):
        medstaff.plan_fppe(staff.committee, fppe, methods=["chart_review"], cases_required=3)
    fppe = _begun(staff, fppe, duration_days=90)
    assert (fppe.status, fppe.begun_on, fppe.proctor) == ("in_progress", days_ago(0), staff.proctor)
    with pytest.raises(ValidationError, match="it began already"):
        medstaff.begin_fppe(staff.office, fppe)


def test_the_proctor_records_cases_and_the_progress_counts_them(staff, make_user):
    _, _, fppe = granted(staff)
    with pytest.raises(ValidationError, match="cases are recorded while it is in progress"):
        medstaff.record_fppe_case(staff.office, fppe, case_date=days_ago(1), case_reference="ENC-1", result="met")
    fppe = _begun(staff, fppe, duration_days=60)
    proctor = staff.proctor.user
    medstaff.record_fppe_case(proctor, fppe, case_date=days_ago(2), case_reference="ENC-1", result="met")
    medstaff.record_fppe_case(staff.chair, fppe, case_date=days_ago(1), case_reference="MRN 0042",
                              result="concerns", notes="Second attempt needed.")
    stranger = make_user(Role.PRACTITIONER, "rgh/medicine")
    with pytest.raises(PermissionDenied):
        medstaff.record_fppe_case(stranger, fppe, case_date=days_ago(1), case_reference="ENC-3", result="met")
    with pytest.raises(PermissionDenied):  # the committee decides; it does not record cases
        medstaff.record_fppe_case(staff.committee, fppe, case_date=days_ago(1), case_reference="ENC-3", result="met")
    with pytest.raises(ValidationError) as refused:
        medstaff.record_fppe_case(proctor, fppe, case_date=days_ago(-1), case_reference=" ", result="fine")
    assert set(refused.value.message_dict) == {"case_date", "case_reference", "result"}
    progress = medstaff.progress_of(fppe)
    assert (progress.cases, progress.concerns, progress.cases_required, progress.days_left, progress.percent) == (
        2, 1, 5, 60, 40)
    assert progress.words == "2 of 5 cases, 60 days left"
    assert medstaff.progress_of(fppe, today=days_ago(-61)).words == "2 of 5 cases, its period has ended"
    assert permissions.can(proctor, "medstaff.view_fppe_record", fppe)
    assert not permissions.can(stranger, "medstaff.view_fppe_record", fppe)
    assert [f.pk for f in medstaff.visible_fppes(proctor)] == [fppe.pk]


def test_the_committee_extends_then_restricts_and_the_privilege_follows(staff):
    _, grant, fppe = granted(staff)
    fppe = _begun(staff, fppe)
    with pytest.raises(PermissionDenied):
        medstaff.decide_fppe(staff.office, fppe, decision="confirmed", reason="Fine", decided_on=days_ago(0))
    with pytest.raises(ValidationError, match="An extension adds cases or days"):
        medstaff.decide_fppe(staff.committee, fppe, decision="extended", reason="More", decided_on=days_ago(0))
    medstaff.decide_fppe(staff.committee, fppe, decision="extended", reason="Two concerns: five more cases.",
                         decided_on=days_ago(0), more_cases=5, more_days=30)
    fppe.refresh_from_db()
    assert (fppe.status, fppe.cases_required, fppe.duration_days) == ("in_progress", 10, 30)
    with pytest.raises(ValidationError, match="must be from the FPPE's start"):
        medstaff.decide_fppe(staff.committee, fppe, decision="restricted", reason="x", decided_on=days_ago(-1))
    medstaff.decide_fppe(staff.committee, fppe, decision="restricted", reason="Only with a second operator.",
                         decided_on=days_ago(0))
    fppe.refresh_from_db()
    grant.refresh_from_db()
    assert (fppe.status, fppe.concluded_on) == ("concluded", days_ago(0))
    assert (grant.status, grant.status_reason) == ("restricted", f"{fppe.reference}: Only with a second operator.")
    assert [d.decision for d in fppe.decisions.all()] == ["extended", "restricted"]
    with pytest.raises(ValidationError, match="the committee decides an FPPE in progress"):
        medstaff.decide_fppe(staff.committee, fppe, decision="confirmed", reason="x", decided_on=days_ago(0))


def test_a_concern_starts_an_fppe_by_hand_and_revoking_names_the_privileges(staff):
    _, grant, first = granted(staff, privilege=staff.core)
    with pytest.raises(PermissionDenied):
        medstaff.start_fppe(staff.committee, staff.newcomer, trigger="complaint", reason="x")
    concern = medstaff.start_fppe(staff.chair, staff.newcomer, trigger="peer_review", reason="PR outcome level 3",
                                  source_reference="PR-2026-004")
    assert (concern.status, concern.methods, concern.source_privilege) == ("planning", [], None)
    concern = _begun(staff, concern, methods=["chart_review"], cases_required=3, proctor=None)
    with pytest.raises(ValidationError, match="Name the privileges that are restricted or revoked"):
        medstaff.decide_fppe(staff.committee, concern, decision="revoked", reason="x", decided_on=days_ago(0))
    medstaff.decide_fppe(staff.committee, concern, decision="revoked", reason="Pattern of unsafe care.",
                         decided_on=days_ago(0), grants=[grant])
    grant.refresh_from_db()
    assert grant.status == "revoked"
    first.refresh_from_db()
    assert first.status == "planning"  # the grant's own FPPE is the office's to close


def test_the_pages_start_plan_and_record_and_the_proctor_reaches_the_fppe_from_the_menu(staff, client):
    _, _, fppe = granted(staff)
    client.force_login(staff.office)
    search = client.get(reverse("medstaff:fppe_new"), {"q": "amara"}).content.decode()
    assert f"?practitioner={staff.newcomer.pk}" in search
    started = client.post(reverse("medstaff:fppe_new") + f"?practitioner={staff.newcomer.pk}", {
        "trigger": "complaint", "reason": HOSTILE, "source_reference": "C-17"})
    concern = Fppe.objects.get(trigger="complaint")
    assert started.status_code == 302 and started["Location"] == reverse("medstaff:fppe", args=[concern.pk])
    page = client.get(started["Location"]).content.decode()
    assert HOSTILE not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    planned = client.post(reverse("medstaff:fppe_plan", args=[fppe.pk]), {
        "methods": ["proctoring"], "cases_required": "4", "proctor": staff.proctor.pk, "version": fppe.version})
    assert planned.status_code == 302
    stale = client.post(reverse("medstaff:fppe_plan", args=[fppe.pk]), {
        "methods": ["chart_review"], "cases_required": "9", "version": fppe.version})
    assert stale.status_code == 409
    assert client.post(reverse("medstaff:fppe_begin", args=[fppe.pk])).status_code == 302
    listing = client.get(reverse("medstaff:fppes")).content.decode()
    assert listing.index(fppe.reference) < listing.index(concern.reference)  # in progress before planning
    assert "0 of 4 cases" in listing
    client.force_login(staff.proctor.user)
    home = client.get(reverse("home")).content.decode()
    assert reverse("medstaff:fppes") in home and f"{fppe.reference}: record cases of Amara Nwosu, MD" in home
    assert client.get(reverse("medstaff:fppe", args=[concern.pk])).status_code == 403
    recorded = client.post(reverse("medstaff:fppe_case", args=[fppe.pk]), {
        "case_date": days_ago(1).isoformat(), "case_reference": HOSTILE, "result": "met", "notes": "Clean insertion"})
    assert recorded.status_code == 302
    page = client.get(reverse("medstaff:fppe", args=[fppe.pk])).content.decode()
    assert "1 of 4 cases" in page and HOSTILE not in page and "The credentials committee" not in page
    assert client.post(reverse("medstaff:fppe_decide", args=[fppe.pk]), {
        "decision": "confirmed", "reason": "x", "decided_on": days_ago(0).isoformat()}).status_code == 403
    client.force_login(staff.committee)
    decided = client.post(reverse("medstaff:fppe_decide", args=[fppe.pk]), {
        "decision": "confirmed", "reason": "Five clean insertions.", "decided_on": days_ago(0).isoformat()})
    assert decided.status_code == 302
    fppe.refresh_from_db()
    assert fppe.status == "concluded"


def test_the_api_plans_begins_records_and_decides(staff, client):
    def call(user, method, path, body=None):
        token = AccessToken.issue(user, "test")[1]
        return getattr(client, method)(f"/api/v1/medstaff{path}", json.dumps(body) if body is not None else None,
                                       content_type="application/json",
                                       headers={"Authorization": f"Bearer {token}"})

    _, grant, fppe = granted(staff)
    path = f"/fppes/{fppe.pk}"
    assert call(staff.proctor.user, "get", path).status_code == 403
    planned = call(staff.office, "put", path + "/plan", {"methods": ["proctoring"], "cases_required": 2,
                                                         "proctor_id": staff.proctor.pk, "version": fppe.version})
    assert planned.status_code == 200 and planned.json()["proctor_id"] == staff.proctor.pk
    assert call(staff.office, "put", path + "/plan", {"methods": ["proctoring"], "cases_required": 2,
                                                      "version": fppe.version}).status_code == 409
    assert call(staff.office, "post", path + "/begin", {}).json()["status"] == "in_progress"
    for number in (1, 2):
        case = call(staff.proctor.user, "post", path + "/cases", {
            "case_date": days_ago(number).isoformat(), "case_reference": f"ENC-{number}", "result": "met"})
        assert case.status_code == 201, case.content
    read = call(staff.proctor.user, "get", path).json()
    assert read["progress"] == {"cases": 2, "concerns": 0, "cases_required": 2, "ends_on": None, "days_left": None}
    assert [c["case_reference"] for c in call(staff.chair, "get", path + "/cases").json()] == ["ENC-2", "ENC-1"]
    decided = call(staff.committee, "post", path + "/decision", {
        "decision": "revoked", "reason": "Complication rate.", "decided_on": days_ago(0).isoformat()})
    assert decided.status_code == 201 and decided.json()["decision"] == "revoked"
    grant.refresh_from_db()
    assert grant.status == "revoked"
    listed = call(staff.committee, "get", "/fppes?status=concluded").json()["items"]
    assert [f["reference"] for f in listed] == [fppe.reference]
