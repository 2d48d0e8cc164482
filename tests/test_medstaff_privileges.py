"""Delineated privileges (issue 19, item 2): the catalogue, a request through its dated steps in
order and by the right roles, deny and defer, the board's grant and the FPPE it starts with the
catalogue's plan, the licence flag, the pages (hostile text escaped) and the API."""

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from andon.medstaff import services as medstaff
from andon.medstaff.models import Fppe, GrantedPrivilege, PrivilegeRequest, PrivilegeStep
from andon.platform.concurrency import Stale
from andon.platform.models import AccessToken
from andon.platform.roles import Role
from tests.medstaff_privileges_helpers import days_ago, granted, make_staff, through_the_board

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def staff(make_user, hospital):
    return make_staff(make_user, hospital)


def test_the_catalogue_keeps_criteria_and_refuses_duplicates_bad_plans_and_other_roles(staff, hospital):
    medicine = hospital.unit("rgh/medicine")
    assert [p.name for p in medstaff.catalogue_of(medicine)] == ["Core internal medicine", "Central line insertion"]
    with pytest.raises(ValidationError) as refused:
        medstaff.create_privilege(staff.office, medicine, name="core INTERNAL medicine", fppe_methods=["astrology"],
                                  fppe_cases=0)
    assert refused.value.message_dict == {
        "name": ["Medicine already has a privilege named 'core INTERNAL medicine'."],
        "fppe_methods": ["'astrology' is not a method: chart_review, proctoring, direct_observation, outcome_data."],
        "fppe_cases": ["The number of cases is 0; it must be from 1 to 500."]}
    with pytest.raises(PermissionDenied):
        medstaff.create_privilege(staff.chair, medicine, name="Bronchoscopy")
    seen = staff.lines.version
    edited = medstaff.edit_privilege(staff.office, staff.lines, seen, volume="10 insertions in two years")
    assert (edited.volume, edited.training, edited.fppe_cases) == ("10 insertions in two years", "Simulation course", 5)
    with pytest.raises(Stale):
        medstaff.edit_privilege(staff.office, staff.lines, seen, volume="stale")
    medstaff.retire_privilege(staff.office, staff.lines)
    assert list(medstaff.requestable_privileges(staff.newcomer)) == [staff.core]
    with pytest.raises(ValidationError, match="retired already"):
        medstaff.retire_privilege(staff.office, staff.lines)


def test_the_board_grants_until_reappointment_and_each_privilege_starts_an_fppe_with_its_plan(staff):
    found, grant, fppe = granted(staff)
    assert found.stage == "granted"
    assert [(s.step, s.outcome, s.met_on, s.recorded_by) for s in found.steps.all()] == [
        ("chair", "recommend", days_ago(30), staff.chair), ("credentials", "recommend", days_ago(23), staff.committee),
        ("mec", "recommend", days_ago(16), staff.office), ("board", "approve", days_ago(9), staff.office)]
    assert (grant.granted_from, grant.granted_until, grant.status) == (
        days_ago(9), staff.newcomer.reappointment_due, "active")
    assert (fppe.trigger, fppe.status, fppe.methods, fppe.cases_required, fppe.source_privilege,
            fppe.source_reference) == ("new_privilege", "planning", ["proctoring", "direct_observation"], 5, grant, "Central line insertion")
    assert fppe.created_by == staff.office


def test_without_a_reappointment_date_a_grant_runs_two_years(staff):
    staff.newcomer.reappointment_due = None
    staff.newcomer.save()
    _, grant, _ = granted(staff)
    assert grant.granted_until == grant.granted_from.replace(year=grant.granted_from.year + 2)


def test_a_step_out_of_order_or_by_the_wrong_role_is_refused_and_changes_nothing(staff, make_user):
    found = medstaff.request_privileges(staff.office, staff.newcomer, [staff.lines, staff.core])
    with pytest.raises(ValidationError) as refused:
        medstaff.record_step(staff.committee, found, "credentials", outcome="recommend", met_on=days_ago(0))
    assert refused.value.message_dict == {"step": [
        f"{found.reference} waits for the department chair; the credentials committee's step comes later."]}
    with pytest.raises(PermissionDenied):  # the office records the MEC and the board, not the chair's step
        medstaff.record_step(staff.office, found, "chair", outcome="recommend", met_on=days_ago(0))
    with pytest.raises(PermissionDenied):  # the chair of another department
        medstaff.record_step(make_user(Role.DEPARTMENT_CHAIR, "rgh/surgery"), found, "chair", outcome="recommend",
                             met_on=days_ago(0))
    with pytest.raises(ValidationError, match="not an outcome of the department chair's step"):
        medstaff.record_step(staff.chair, found, "chair", outcome="approve", met_on=days_ago(0))
    found.refresh_from_db()
    assert (found.stage, found.steps.count()) == ("chair", 0)
    medstaff.record_step(staff.chair, found, "chair", outcome="recommend", met_on=days_ago(0))
    with pytest.raises(ValidationError, match="the department chair's step comes earlier and is recorded"):
        medstaff.record_step(staff.chair, found, "chair", outcome="recommend", met_on=days_ago(0))


def test_meeting_dates_are_not_in_the_future_nor_before_the_step_before(staff):
    found = medstaff.request_privileges(staff.office, staff.newcomer, [staff.lines])
    found.requested_on = days_ago(10)
    found.save()
    with pytest.raises(ValidationError, match="is in the future"):
        medstaff.record_step(staff.chair, found, "chair", outcome="recommend", met_on=days_ago(-1))
    with pytest.raises(ValidationError, match="is before the request"):
        medstaff.record_step(staff.chair, found, "chair", outcome="recommend", met_on=days_ago(11))
    medstaff.record_step(staff.chair, found, "chair", outcome="recommend", met_on=days_ago(5))
    with pytest.raises(ValidationError, match=r"is before the department chair's \("):
        medstaff.record_step(staff.committee, found, "credentials", outcome="recommend", met_on=days_ago(6))
    assert PrivilegeStep.objects.filter(request=found).count() == 1


def test_defer_stays_at_the_step_and_deny_ends_the_request_with_its_reason(staff):
    found = medstaff.request_privileges(staff.office, staff.newcomer, [staff.lines])
    medstaff.record_step(staff.chair, found, "chair", outcome="defer", met_on=days_ago(0), note="Logbook awaited.")
    found.refresh_from_db()
    assert found.stage == "chair"
    with pytest.raises(ValidationError, match="Say why the request is denied"):
        medstaff.record_step(staff.chair, found, "chair", outcome="deny", met_on=days_ago(0))
    medstaff.record_step(staff.chair, found, "chair", outcome="deny", met_on=days_ago(0), note="Volume not met.")
    found.refresh_from_db()
    assert found.stage == "denied" and not GrantedPrivilege.objects.exists()
    with pytest.raises(ValidationError, match="is denied: its steps are over"):
        medstaff.record_step(staff.committee, found, "credentials", outcome="recommend", met_on=days_ago(0))
    # Denied, the privilege may be asked for again.
    assert staff.lines in medstaff.requestable_privileges(staff.newcomer)


def test_a_privilege_held_or_asked_for_is_not_requested_twice(staff):
    medstaff.request_privileges(staff.office, staff.newcomer, [staff.lines])
    with pytest.raises(ValidationError, match="held or asked for already"):
        medstaff.request_privileges(staff.office, staff.newcomer, [staff.lines])
    with pytest.raises(PermissionDenied):
        medstaff.request_privileges(staff.chair, staff.newcomer, [staff.core])


def test_an_expired_licence_flags_the_privileges_and_refuses_new_grants(staff, client):
    _, grant, _ = granted(staff, privilege=staff.core)
    found = medstaff.request_privileges(staff.office, staff.newcomer, [staff.lines])
    staff.newcomer.licence_expired_on = days_ago(3)
    staff.newcomer.save()
    found.requested_on = days_ago(40)
    found.save()
    with pytest.raises(ValidationError) as refused:
        through_the_board(staff, found)
    assert refused.value.message_dict == {"practitioner": [
        f"Amara Nwosu, MD's licence expired on {days_ago(3):%Y-%m-%d}: no privilege is granted until a current "
        "licence is recorded."]}
    found.refresh_from_db()
    assert found.stage == "board" and GrantedPrivilege.objects.filter(privilege=staff.lines).count() == 0
    grant.refresh_from_db()
    assert grant.licence_flag == f"Licence expired on {days_ago(3):%Y-%m-%d}"
    client.force_login(staff.office)
    flag = f"Licence expired on {days_ago(3):%Y-%m-%d}"
    for url in (reverse("medstaff:privileges_granted"), reverse("medstaff:privileges_granted") + "?flagged=1",
                reverse("medstaff:practitioner_privileges", args=[staff.newcomer.pk])):
        assert flag in client.get(url).content.decode(), url
    medstaff.set_grant_status(staff.office, grant, "suspended", reason="Licence lapsed.")
    with pytest.raises(ValidationError, match="it cannot be made active"):
        medstaff.set_grant_status(staff.office, grant, "active", reason="Back")
    assert GrantedPrivilege.objects.get(pk=grant.pk).licence_flag == ""  # suspended: not exercised, not flagged


def test_the_daily_sweep_expires_privileges_whose_term_ended_once(staff):
    _, grant, _ = granted(staff)
    GrantedPrivilege.objects.filter(pk=grant.pk).update(granted_until=days_ago(1))
    assert medstaff.expire_privileges(days_ago(0)) == 1
    assert medstaff.expire_privileges(days_ago(0)) == 0
    assert GrantedPrivilege.objects.get(pk=grant.pk).status == "expired"


def test_the_pages_take_a_request_through_the_chair_and_escape_what_people_wrote(staff, client, hospital):
    client.force_login(staff.office)
    page = client.get(reverse("medstaff:privilege_request_new"), {"q": "nwosu"}).content.decode()
    assert f'?practitioner={staff.newcomer.pk}"' in page
    response = client.post(reverse("medstaff:privilege_request_new") + f"?practitioner={staff.newcomer.pk}",
                           {"privileges": [staff.lines.pk], "note": HOSTILE})
    found = PrivilegeRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("medstaff:privilege_request",
                                                                            args=[found.pk])
    page = client.get(response["Location"]).content.decode()
    assert HOSTILE not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Record the decision" not in page  # the office does not record the chair's step
    assert client.post(reverse("medstaff:privilege_request_step", args=[found.pk]), {
        "outcome": "recommend", "met_on": days_ago(0).isoformat()}).status_code == 403
    client.force_login(staff.chair)
    assert "Record the decision" in client.get(reverse("medstaff:privilege_request", args=[found.pk])).content.decode()
    refused = client.post(reverse("medstaff:privilege_request_step", args=[found.pk]), {
        "outcome": "recommend", "met_on": days_ago(-2).isoformat(), "version": found.version})
    assert refused.status_code == 400 and "is in the future" in refused.content.decode()
    done = client.post(reverse("medstaff:privilege_request_step", args=[found.pk]), {
        "outcome": "recommend", "met_on": days_ago(0).isoformat(), "note": HOSTILE, "version": found.version})
    assert done.status_code == 302
    found.refresh_from_db()
    assert found.stage == "credentials"
    stale = client.post(reverse("medstaff:privilege_request_step", args=[found.pk]), {
        "outcome": "recommend", "met_on": days_ago(0).isoformat(), "version": 1})
    assert stale.status_code == 403  # the next step is the committee's, not the chair's
    client.force_login(staff.office)
    created = client.post(reverse("medstaff:privilege_new"), {
        "department": hospital.unit("rgh/medicine").pk, "name": HOSTILE, "kind": "special",
        "fppe_methods": ["proctoring"], "fppe_cases": "3"})
    assert created.status_code == 302
    page = client.get(reverse("medstaff:privilege_catalogue")).content.decode()
    assert HOSTILE not in page and "&lt;script&gt;" in page and "Proctoring; 3 cases" in page


def test_the_api_runs_the_catalogue_request_steps_and_grants(staff, hospital, client):
    def call(user, method, path, body=None):
        token = AccessToken.issue(user, "test")[1]
        send = getattr(client, method)
        return send(f"/api/v1/medstaff{path}", json.dumps(body) if body is not None else None,
                    content_type="application/json", headers={"Authorization": f"Bearer {token}"})

    made = call(staff.office, "post", "/privileges", {
        "department_id": hospital.unit("rgh/medicine").pk, "name": "Bronchoscopy", "kind": "special",
        "fppe_methods": ["chart_review"], "fppe_cases": 6})
    assert made.status_code == 201 and made.json()["fppe_methods"] == ["chart_review"]
    bronchoscopy = made.json()["id"]
    asked = call(staff.office, "post", "/privilege-requests", {
        "practitioner_id": staff.newcomer.pk, "privilege_ids": [bronchoscopy]})
    assert asked.status_code == 201 and asked.json()["stage"] == "chair"
    path = f"/privilege-requests/{asked.json()['id']}/steps"
    early = call(staff.committee, "post", path, {"step": "credentials", "outcome": "recommend",
                                                 "met_on": days_ago(0).isoformat()})
    assert early.status_code == 422 and "waits for the department chair" in early.content.decode()
    for step, who, outcome in [("chair", staff.chair, "recommend"), ("credentials", staff.committee, "recommend"),
                               ("mec", staff.office, "recommend"), ("board", staff.office, "approve")]:
        answer = call(who, "post", path, {"step": step, "outcome": outcome, "met_on": days_ago(0).isoformat()})
        assert answer.status_code == 201, answer.content
    assert answer.json()["stage"] == "granted" and [s["step"] for s in answer.json()["steps"]] == [
        "chair", "credentials", "mec", "board"]
    grants = call(staff.chair, "get", f"/practitioners/{staff.newcomer.pk}/privileges").json()
    assert [(g["privilege"], g["status"], g["licence_flag"]) for g in grants] == [("Bronchoscopy", "active", "")]
    assert call(staff.chair, "get", "/granted-privileges").json()["count"] == 1
    assert Fppe.objects.get(source_privilege_id=grants[0]["id"]).cases_required == 6
    status = call(staff.office, "post", f"/granted-privileges/{grants[0]['id']}/status",
                  {"status": "relinquished", "reason": "Left the pulmonary service."})
    assert status.status_code == 200 and status.json()["status"] == "relinquished"


def test_the_demo_has_a_catalogue_a_request_at_the_chair_and_an_fppe_in_progress(demo_hospital):
    from andon.medstaff.models import Practitioner, Privilege

    assert set(Privilege.objects.values_list("department__code", flat=True)) == {"medicine", "surgery"}
    amara = Practitioner.objects.get(family_name="Nwosu", given_name="Amara")
    waiting = amara.privilege_requests.get()
    assert (waiting.stage, [p.name for p in waiting.privileges.all()]) == (
        "chair", ["Central venous catheter insertion"])
    assert not amara.granted_privileges.exists()
    core = GrantedPrivilege.objects.filter(privilege__name="Core privileges in internal medicine", status="active")
    # Riverside General's Medicine (Lakeside has a Medicine of its own, whose practitioners hold none).
    others = Practitioner.objects.filter(department__facility__code="rgh", department__code="medicine").exclude(
        pk=amara.pk)
    assert core.count() == others.count() >= 2 and not core.filter(granted_until__lte=days_ago(0)).exists()
    fppe = Fppe.objects.get(status="in_progress")
    assert (fppe.proctor.user.username, fppe.cases.count(), fppe.source_privilege.privilege.name) == (
        "dr.yusuf", 3, "Bronchoscopy")
