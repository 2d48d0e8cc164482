"""The action (CAPA) tracker: services, policy by role and scope, audit trail, pages, work list
and API."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.actions import services
from andon.actions.models import Action, Effectiveness, Status, Strength
from andon.platform import permissions
from andon.platform.models import AccessToken
from andon.platform.roles import Role
from andon.platform.services import work_for
from tests.conftest import TODAY

NEXT_MONTH = TODAY + timedelta(days=30)
# The refusal names the date (issue 15): yesterday, in every test below that sends it.
PAST_DUE = f"The due date {TODAY - timedelta(days=1):%Y-%m-%d} is in the past: choose today or a later day."
VIEWERS = {Role.UNIT_MANAGER, Role.PATIENT_SAFETY_OFFICER, Role.QUALITY_ANALYST, Role.COMPLIANCE_SPECIALIST,
           Role.CLINICAL_AUDITOR, Role.RISK_MANAGER, Role.IMPROVEMENT_LEAD, Role.CQO, Role.CMO,
           # the patient's voice acts on what patients tell (docs/voice.md)
           Role.PATIENT_RELATIONS, Role.PATIENT_EXPERIENCE_LEAD, Role.GRIEVANCE_COMMITTEE}
MANAGERS = VIEWERS
APPROVERS = {Role.CQO, Role.CMO}


@pytest.fixture
def people(make_user):
    class People:
        pso = make_user(Role.PATIENT_SAFETY_OFFICER, "", username="pso", first_name="Pat", last_name="Officer")
        cqo = make_user(Role.CQO, "", username="cqo")
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse", first_name="Nia", last_name="Nurse")
        manager = make_user(Role.UNIT_MANAGER, "rgh/medicine", username="manager")
        lakeside_manager = make_user(Role.UNIT_MANAGER, "lch/medicine", username="lakeside")

    return People


def new_action(user, unit, owner, **fields):
    values = {"title": "Smart pumps with drug library", "due_date": NEXT_MONTH, "strength": Strength.STRONGER,
              "measure": "Share of infusions run through the drug library, monthly; expect ≥ 95% by June"}
    values.update(fields)
    return services.create_action(user, unit=unit, owner=owner, **values)


def _backdate(action, due_date):
    """Due dates in the past cannot be entered; tests move them with update() (no audit entry)."""
    Action.objects.filter(pk=action.pk).update(due_date=due_date)
    action.refresh_from_db()
    return action


# --- services: creation and validation -------------------------------------------------------------

def test_create_action_records_every_field_and_its_source(hospital, people):
    ward = hospital.unit("rgh/4w")
    action = new_action(people.pso, ward, people.nurse, source=ward, source_label="RCA for EV-2026-000123",
                        description="  Replace the volumetric pumps  ")
    action.refresh_from_db()
    assert action.title == "Smart pumps with drug library"
    assert action.description == "Replace the volumetric pumps"
    assert (action.unit, action.owner, action.created_by) == (ward, people.nurse, people.pso)
    assert (action.status, action.approval, action.effectiveness_result) == ("planned", "pending", "not_checked")
    assert action.source == ward and action.source_label == "RCA for EV-2026-000123"
    assert list(services.actions_for_source(ward)) == [action]
    assert list(services.actions_for_source(hospital.unit("rgh/5e"))) == []
    assert action.completed_at is None and action.approved_by is None


def test_source_label_defaults_to_the_source_itself(hospital, people):
    ward = hospital.unit("rgh/4w")
    action = new_action(people.pso, ward, people.nurse, source=ward)
    assert action.source_label == str(ward) == "4 West Medical (rgh)"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"title": "   "}, "title", "Give the action a title."),
    ({"title": "x" * 201}, "title", "At most 200 characters."),
    ({"due_date": TODAY - timedelta(days=1)}, "due_date", PAST_DUE),
    ({"due_date": None}, "due_date", "Give the date by which the action is to be done."),
    ({"strength": "strongest"}, "strength", "Choose one of: stronger, intermediate, weaker."),
    ({"measure": " "}, "measure", "Say how you will know whether the action worked (a process or outcome measure)."),
])
def test_create_refuses_invalid_fields_naming_the_field(hospital, people, fields, field, message):
    with pytest.raises(ValidationError) as refused:
        new_action(people.pso, hospital.unit("rgh/4w"), people.nurse, **fields)
    assert refused.value.message_dict == {field: [message]}
    assert Action.objects.count() == 0


def test_a_due_date_of_today_is_accepted(hospital, people):
    assert new_action(people.pso, hospital.unit("rgh/4w"), people.nurse, due_date=TODAY).due_date == TODAY


def test_the_owner_must_be_one_active_member_of_staff(hospital, people, make_user):
    ward = hospital.unit("rgh/4w")
    people.nurse.is_active = False
    people.nurse.save()
    with pytest.raises(ValidationError) as refused:
        new_action(people.pso, ward, people.nurse)
    assert refused.value.message_dict == {"owner": ["The owner must be an active user."]}
    with pytest.raises(ValidationError) as refused:
        new_action(people.pso, ward, None)
    assert refused.value.message_dict == {"owner": ["Choose the one person responsible."]}
    from andon.platform import services as platform_services

    outsider = platform_services.create_user("outsider")  # no role in the organisation
    with pytest.raises(ValidationError) as refused:
        new_action(people.pso, ward, outsider)
    assert refused.value.message_dict == {"owner": ["The owner must be a member of staff of the unit's organisation."]}


def test_create_needs_manage_over_the_unit(hospital, people):
    with pytest.raises(PermissionDenied):
        new_action(people.nurse, hospital.unit("rgh/4w"), people.nurse)
    with pytest.raises(PermissionDenied):
        new_action(people.manager, hospital.unit("lch/2a"), people.nurse)  # outside their scope
    assert new_action(people.manager, hospital.unit("rgh/4w"), people.nurse).unit.code == "4w"


# --- services: status, decision, effectiveness ---------------------------------------------------

def test_status_moves_along_and_done_stamps_completion(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    services.set_status(people.nurse, action, Status.IN_PROGRESS)
    assert action.status == "in_progress" and action.completed_at is None
    services.set_status(people.nurse, action, "done")
    assert action.status == "done" and action.completed_at is not None
    services.set_status(people.pso, action, "in_progress")  # reopened
    action.refresh_from_db()
    assert action.status == "in_progress" and action.completed_at is None


@pytest.mark.parametrize(("start", "target"), [("done", "planned"), ("done", "cancelled"), ("cancelled", "done"),
                                               ("cancelled", "in_progress")])
def test_transitions_outside_the_table_are_refused(hospital, people, start, target):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    Action.objects.filter(pk=action.pk).update(status=start)
    action.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        services.set_status(people.pso, action, target, note="because")
    assert list(refused.value.message_dict) == ["status"]
    action.refresh_from_db()
    assert action.status == start


def test_unknown_status_is_refused(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    with pytest.raises(ValidationError) as refused:
        services.set_status(people.pso, action, "finished")
    assert refused.value.message_dict == {"status": ["Choose one of: planned, in_progress, done, cancelled."]}


def test_cancelling_needs_manage_and_a_note_which_the_audit_trail_keeps(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    with pytest.raises(PermissionDenied):
        services.set_status(people.nurse, action, Status.CANCELLED, note="too hard")
    with pytest.raises(ValidationError) as refused:
        services.set_status(people.pso, action, Status.CANCELLED)
    assert refused.value.message_dict == {"note": ["Say why the action is cancelled or reinstated."]}
    services.set_status(people.pso, action, Status.CANCELLED, note="Replaced by action 12")
    entry = LogEntry.objects.get_for_object(action).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == people.pso
    assert entry.changes_dict["status"] == ["planned", "cancelled"]
    assert entry.additional_data == {"note": "Replaced by action 12"}


def test_a_rejected_action_cannot_be_worked_on(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    services.decide(people.cqo, action, approve=False, reason="A memo is a weak action; find a forcing function")
    with pytest.raises(ValidationError) as refused:
        services.set_status(people.nurse, action, Status.IN_PROGRESS)
    assert list(refused.value.message_dict) == ["status"]


def test_decision_records_who_when_and_why_and_rejection_needs_a_reason(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    with pytest.raises(ValidationError) as refused:
        services.decide(people.cqo, action, approve=False, reason="  ")
    assert refused.value.message_dict == {"reason": ["Say why the action is rejected."]}
    assert Action.objects.get(pk=action.pk).approval == "pending"
    services.decide(people.cqo, action, approve=True, reason="")
    action.refresh_from_db()
    assert (action.approval, action.approved_by, action.approval_reason) == ("approved", people.cqo, "")
    assert timezone.now() - action.approved_at < timedelta(minutes=1)
    services.decide(people.cqo, action, approve=False, reason="Budget moved to the interlock")
    action.refresh_from_db()
    assert (action.approval, action.approval_reason) == ("rejected", "Budget moved to the interlock")


def test_only_leadership_decides(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    for person in (people.pso, people.manager, people.nurse):
        with pytest.raises(PermissionDenied):
            services.decide(person, action, approve=True, reason="")


def test_changing_the_substance_of_a_decided_action_sends_it_back_for_a_decision(hospital, people, make_user):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    services.decide(people.cqo, action, approve=True, reason="Good")
    services.update_action(people.pso, action, due_date=NEXT_MONTH + timedelta(days=7), owner=people.manager)
    action.refresh_from_db()
    assert action.approval == "approved" and action.owner == people.manager  # who and when: no new decision
    services.update_action(people.pso, action, strength=Strength.WEAKER)
    action.refresh_from_db()
    assert (action.approval, action.approved_by, action.approved_at, action.strength) == ("pending", None, None, "weaker")


def test_update_validates_and_refuses_fields_it_does_not_own(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    with pytest.raises(ValidationError) as refused:
        services.update_action(people.pso, action, status="done", approval="approved")
    assert refused.value.message_dict == {"approval": ["This field cannot be changed here."],
                                          "status": ["This field cannot be changed here."]}
    with pytest.raises(ValidationError) as refused:
        services.update_action(people.pso, action, title="", due_date=TODAY - timedelta(days=2))
    assert refused.value.message_dict == {"title": ["Give the action a title."], "due_date": [
        f"The due date {TODAY - timedelta(days=2):%Y-%m-%d} is in the past: choose today or a later day."]}
    with pytest.raises(ValidationError) as refused:
        services.update_action(people.manager, action, unit=hospital.unit("lch/2a"))
    assert refused.value.message_dict == {"unit": ["You cannot move actions to that unit."]}
    action.refresh_from_db()
    assert action.title == "Smart pumps with drug library" and action.unit.code == "4w"


def test_an_overdue_action_keeps_its_past_due_date_when_other_fields_change(hospital, people):
    action = _backdate(new_action(people.pso, hospital.unit("rgh/4w"), people.nurse), TODAY - timedelta(days=3))
    services.update_action(people.pso, action, due_date=action.due_date, description="More detail")
    assert Action.objects.get(pk=action.pk).description == "More detail"


def test_effectiveness_is_recorded_for_done_actions_with_a_note_unless_effective(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    with pytest.raises(ValidationError) as refused:
        services.record_effectiveness(people.pso, action, Effectiveness.EFFECTIVE, "", TODAY)
    assert refused.value.message_dict == {"status": ["Effectiveness is checked once the action is done."]}
    services.set_status(people.nurse, action, Status.DONE)
    with pytest.raises(ValidationError) as refused:
        services.record_effectiveness(people.pso, action, Effectiveness.NOT_EFFECTIVE, "", TODAY + timedelta(days=1))
    assert refused.value.message_dict == {"note": ["Say what the measure showed, and what happens next."],
                                          "checked_on": ["The check cannot be dated in the future."]}
    with pytest.raises(ValidationError) as refused:
        services.record_effectiveness(people.pso, action, Effectiveness.NOT_CHECKED, "", TODAY)
    assert refused.value.message_dict == {"result": ["Say whether the action was effective."]}
    with pytest.raises(PermissionDenied):
        services.record_effectiveness(people.nurse, action, Effectiveness.EFFECTIVE, "", TODAY)
    checked = TODAY - timedelta(days=1)
    services.record_effectiveness(people.pso, action, "partly_effective", "Library used in 80% of infusions", checked)
    action.refresh_from_db()
    assert (action.effectiveness_result, action.effectiveness_note, action.effectiveness_check_date) == (
        "partly_effective", "Library used in 80% of infusions", checked)


# --- strength share and overdue -----------------------------------------------------------------

@pytest.mark.parametrize(("strengths", "counts", "share"), [
    (["stronger", "stronger", "intermediate", "weaker"], (2, 1, 1, 4), 0.75),
    (["weaker", "weaker", "weaker", "intermediate"], (0, 1, 3, 4), 0.25),
    (["weaker"], (0, 0, 1, 1), 0.0),
    (["stronger", "weaker", "weaker"], (1, 0, 2, 3), 1 / 3),
    ([], (0, 0, 0, 0), None),
])
def test_strength_share(hospital, people, strengths, counts, share):
    ward = hospital.unit("rgh/4w")
    for strength in strengths:
        new_action(people.pso, ward, people.nurse, strength=strength)
    result = services.strength_share(Action.objects.all())
    assert services.strength_share(list(Action.objects.all())) == result  # a list counts the same
    assert (result.stronger, result.intermediate, result.weaker, result.total) == counts
    assert result.share == share
    assert result.as_dict() == {"stronger": counts[0], "intermediate": counts[1], "weaker": counts[2],
                                "total": counts[3], "share": share}


def test_overdue_means_open_and_past_its_due_date(hospital, people):
    ward = hospital.unit("rgh/4w")
    late = _backdate(new_action(people.pso, ward, people.nurse, title="late"), TODAY - timedelta(days=1))
    _backdate(new_action(people.pso, ward, people.nurse, title="due today"), TODAY)
    started = _backdate(new_action(people.pso, ward, people.nurse, title="late, started"), TODAY - timedelta(days=9))
    services.set_status(people.nurse, started, Status.IN_PROGRESS)
    finished = _backdate(new_action(people.pso, ward, people.nurse, title="late, done"), TODAY - timedelta(days=9))
    services.set_status(people.nurse, finished, Status.DONE)
    cancelled = _backdate(new_action(people.pso, ward, people.nurse, title="late, cancelled"), TODAY - timedelta(days=9))
    services.set_status(people.pso, cancelled, Status.CANCELLED, note="superseded")
    assert sorted(a.title for a in services.overdue(Action.objects.all(), TODAY)) == ["late", "late, started"]
    assert [a.title for a in services.overdue(Action.objects.all(), TODAY + timedelta(days=1))] == [
        "late, started", "late", "due today"]
    assert late.is_overdue(TODAY) and not finished.is_overdue(TODAY)


# --- permissions by role and scope ---------------------------------------------------------------

def test_unit_manager_sees_actions_of_their_subtree_only(hospital, people):
    in_scope = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse, title="4 West")
    lakeside_owner = people.lakeside_manager
    elsewhere = new_action(people.pso, hospital.unit("lch/2a"), lakeside_owner, title="2A")
    assert permissions.can(people.manager, "actions.view_action", in_scope)
    assert not permissions.can(people.manager, "actions.view_action", elsewhere)
    assert [a.title for a in services.visible_actions(people.manager)] == ["4 West"]
    assert [a.title for a in services.visible_actions(people.lakeside_manager)] == ["2A"]
    assert sorted(a.title for a in services.visible_actions(people.pso)) == ["2A", "4 West"]
    with pytest.raises(PermissionDenied):
        services.open_action(people.manager, elsewhere)


def test_the_owner_sees_and_moves_their_own_action_without_a_role_for_it(hospital, people, make_user):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    other_nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    assert permissions.can(people.nurse, "actions.update_own", action)
    assert permissions.can(people.nurse, "actions.view_action", action)
    assert permissions.can(people.nurse, "actions.set_status", action)
    assert not permissions.can(people.nurse, "actions.manage", action)
    assert not permissions.can(other_nurse, "actions.view_action", action)
    assert not permissions.can(other_nurse, "actions.set_status", action)
    assert [a.pk for a in services.visible_actions(people.nurse)] == [action.pk]
    assert list(services.visible_actions(other_nurse)) == []
    assert permissions.can(people.nurse, "actions.use") and not permissions.can(other_nurse, "actions.use")
    with pytest.raises(PermissionDenied):
        services.set_status(other_nurse, action, Status.IN_PROGRESS)
    with pytest.raises(PermissionDenied):
        services.update_action(people.nurse, action, title="Mine now")


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_capabilities_by_role_over_the_whole_organisation(hospital, people, make_user, role):
    user = make_user(role, "")
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    assert permissions.can(user, "actions.view_action", action) == (role in VIEWERS)
    assert permissions.can(user, "actions.manage", action) == (role in MANAGERS)
    assert permissions.can(user, "actions.approve", action) == (role in APPROVERS)
    assert permissions.can(user, "actions.set_status", action) == (role in MANAGERS)
    assert permissions.can(user, "actions.use") == (role in VIEWERS)


def test_an_approver_scoped_to_one_facility_decides_only_there(hospital, people, make_user):
    lakeside_cmo = make_user(Role.CMO, "lch")
    riverside = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    with pytest.raises(PermissionDenied):
        services.decide(lakeside_cmo, riverside, approve=True, reason="")
    assert list(services.awaiting_decision(lakeside_cmo)) == []
    assert list(services.awaiting_decision(people.cqo)) == [riverside]


def test_deactivated_owner_loses_access(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    people.nurse.is_active = False
    assert not permissions.can(people.nurse, "actions.view_action", action)
    assert list(services.visible_actions(people.nurse)) == []


# --- audit trail ------------------------------------------------------------------------------

def test_create_and_update_are_audited_with_the_actor_and_before_and_after(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    created = LogEntry.objects.get_for_object(action).get(action=LogEntry.Action.CREATE)
    assert created.actor == people.pso
    assert created.changes_dict["title"] == [None, "Smart pumps with drug library"]
    assert created.changes_dict["strength"] == [None, "stronger"]
    services.update_action(people.pso, action, title="Smart pumps on every ward", strength="intermediate")
    updated = LogEntry.objects.get_for_object(action).get(action=LogEntry.Action.UPDATE)
    assert updated.actor == people.pso
    assert updated.changes_dict == {"title": ["Smart pumps with drug library", "Smart pumps on every ward"],
                                    "strength": ["stronger", "intermediate"]}
    services.decide(people.cqo, action, approve=False, reason="Needs a stronger action")
    decided = LogEntry.objects.get_for_object(action).filter(action=LogEntry.Action.UPDATE).order_by("-pk").first()
    assert decided.actor == people.cqo
    assert decided.changes_dict["approval"] == ["pending", "rejected"]
    assert decided.changes_dict["approval_reason"] == ["", "Needs a stronger action"]


def test_an_update_that_changes_nothing_writes_no_entry(hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    services.update_action(people.pso, action, title="Smart pumps with drug library")
    assert LogEntry.objects.get_for_object(action).count() == 1


# --- pages -------------------------------------------------------------------------------------

def test_list_shows_mine_and_scope_and_marks_overdue_in_words(client, hospital, people):
    ward = hospital.unit("rgh/4w")
    late = _backdate(new_action(people.pso, ward, people.nurse, title="Relabel the potassium"), TODAY - timedelta(days=3))
    new_action(people.pso, ward, people.manager, title="Interlock on the pump")
    new_action(people.pso, hospital.unit("lch/2a"), people.lakeside_manager, title="Lakeside only")
    client.force_login(people.manager)
    page = client.get(reverse("actions:list")).content.decode()
    assert "Relabel the potassium" in page and "Interlock on the pump" in page and "Lakeside only" not in page
    assert "Overdue" in page and "3\xa0days overdue" in page
    filtered = client.get(reverse("actions:list"), {"overdue": "on"}).content.decode()
    assert "Relabel the potassium" in filtered and "Interlock on the pump" not in filtered
    mine = client.get(reverse("actions:list"), {"mine": "on"}).content.decode()
    assert "Interlock on the pump" in mine and "Relabel the potassium" not in mine
    by_strength = client.get(reverse("actions:list"), {"strength": "weaker"}).content.decode()
    assert "No actions match." in by_strength
    by_status = client.get(reverse("actions:list"), {"status": "done"}).content.decode()
    assert "No actions match." in by_status
    client.force_login(people.nurse)
    page = client.get(reverse("actions:list")).content.decode()
    assert "Relabel the potassium" in page and "Interlock on the pump" not in page
    assert 'href="/actions/new/"' not in page
    assert late.pk


def test_list_and_detail_are_refused_to_people_with_no_actions_and_no_role(client, hospital, people, make_user):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    stranger = make_user(Role.STAFF_REPORTER, "rgh/4w")
    client.force_login(stranger)
    assert client.get(reverse("actions:list")).status_code == 403
    assert client.get(reverse("actions:detail", args=[action.pk])).status_code == 403
    assert client.get(reverse("actions:new")).status_code == 403
    client.logout()
    response = client.get(reverse("actions:detail", args=[action.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_new_action_page_creates_through_the_service(client, hospital, people):
    client.force_login(people.manager)
    page = client.get(reverse("actions:new"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "forcing functions and interlocks" in html and "double checks; warnings and labels" in html  # the hierarchy's examples
    units = {unit.code for unit in page.context["form"].fields["unit"].queryset}
    assert units == {"medicine", "4w", "5e"}
    ward = hospital.unit("rgh/4w")
    response = client.post(reverse("actions:new"), {
        "title": "Independent double check", "description": "", "unit": ward.pk, "owner": people.nurse.pk,
        "due_date": NEXT_MONTH.isoformat(), "strength": "weaker", "measure": "Audit of 20 charts a month",
    })
    action = Action.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("actions:detail", args=[action.pk])
    assert (action.title, action.owner, action.unit, action.created_by, action.strength) == (
        "Independent double check", people.nurse, ward, people.manager, "weaker")


def test_new_action_page_shows_service_errors_on_the_field(client, hospital, people):
    client.force_login(people.manager)
    response = client.post(reverse("actions:new"), {
        "title": "Late", "unit": hospital.unit("rgh/4w").pk, "owner": people.nurse.pk,
        "due_date": (TODAY - timedelta(days=1)).isoformat(), "strength": "weaker", "measure": "m",
    })
    assert response.status_code == 200
    assert response.context["form"].errors == {"due_date": [PAST_DUE]}
    assert Action.objects.count() == 0
    foreign = client.post(reverse("actions:new"), {
        "title": "Elsewhere", "unit": hospital.unit("lch/2a").pk, "owner": people.nurse.pk,
        "due_date": NEXT_MONTH.isoformat(), "strength": "weaker", "measure": "m",
    })
    assert "unit" in foreign.context["form"].errors and Action.objects.count() == 0


def test_detail_shows_only_the_forms_the_policy_allows(client, hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    client.force_login(people.nurse)
    page = client.get(reverse("actions:detail", args=[action.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Update the status" in html and "Decide on the action" not in html and "/edit/" not in html
    assert [value for value, _ in page.context["status_form"].fields["status"].choices] == ["in_progress", "done"]
    assert page.context["history"] == []
    client.force_login(people.cqo)
    html = client.get(reverse("actions:detail", args=[action.pk])).content.decode()
    assert "Decide on the action" in html and "Update the status" in html and "/edit/" in html
    assert "History" in html


def test_owner_updates_status_from_the_page(client, hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    client.force_login(people.nurse)
    response = client.post(reverse("actions:status", args=[action.pk]), {"status": "in_progress", "note": ""})
    assert response.status_code == 302
    assert Action.objects.get(pk=action.pk).status == "in_progress"
    refused = client.post(reverse("actions:status", args=[action.pk]), {"status": "cancelled", "note": "no"})
    assert refused.status_code == 400 and Action.objects.get(pk=action.pk).status == "in_progress"
    entry = LogEntry.objects.get_for_object(action).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == people.nurse


def test_decision_page_requires_a_reason_to_reject(client, hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    client.force_login(people.cqo)
    response = client.post(reverse("actions:decision", args=[action.pk]), {"decision": "rejected", "reason": ""})
    assert response.status_code == 400
    assert response.context["decision_form"].errors == {"reason": ["Say why the action is rejected."]}
    response = client.post(reverse("actions:decision", args=[action.pk]), {"decision": "rejected", "reason": "Too weak"})
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.approval, action.approval_reason, action.approved_by) == ("rejected", "Too weak", people.cqo)
    client.force_login(people.pso)
    assert client.post(reverse("actions:decision", args=[action.pk]), {"decision": "approved"}).status_code == 403


def test_edit_and_effectiveness_pages(client, hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    client.force_login(people.manager)
    form = client.get(reverse("actions:edit", args=[action.pk])).context["form"]
    assert form.initial["title"] == "Smart pumps with drug library"
    response = client.post(reverse("actions:edit", args=[action.pk]), {
        "title": "Smart pumps, all wards", "description": "", "unit": action.unit_id, "owner": people.nurse.pk,
        "due_date": NEXT_MONTH.isoformat(), "strength": "stronger", "measure": action.measure,
    })
    assert response.status_code == 302 and Action.objects.get(pk=action.pk).title == "Smart pumps, all wards"
    services.set_status(people.nurse, action, Status.DONE)
    response = client.post(reverse("actions:effectiveness", args=[action.pk]),
                           {"result": "effective", "checked_on": TODAY.isoformat(), "note": ""})
    assert response.status_code == 302
    assert Action.objects.get(pk=action.pk).effectiveness_result == "effective"
    client.force_login(people.nurse)
    assert client.get(reverse("actions:edit", args=[action.pk])).status_code == 403
    assert client.post(reverse("actions:effectiveness", args=[action.pk]),
                       {"result": "effective", "checked_on": TODAY.isoformat()}).status_code == 403


def test_pages_refuse_actions_outside_scope(client, hospital, people):
    elsewhere = new_action(people.pso, hospital.unit("lch/2a"), people.lakeside_manager)
    client.force_login(people.manager)
    for name in ("actions:detail", "actions:edit"):
        assert client.get(reverse(name, args=[elsewhere.pk])).status_code == 403
    assert client.post(reverse("actions:status", args=[elsewhere.pk]), {"status": "done"}).status_code == 403
    assert client.get(reverse("actions:detail", args=[999999])).status_code == 404


def test_navigation_shows_actions_to_viewers_and_owners(client, hospital, people, make_user):
    client.force_login(people.manager)
    assert 'href="/actions/"' in client.get(reverse("home")).content.decode()
    stranger = make_user(Role.STAFF_REPORTER, "rgh/4w")
    client.force_login(stranger)
    assert 'href="/actions/"' not in client.get(reverse("home")).content.decode()
    new_action(people.pso, hospital.unit("rgh/4w"), stranger)
    assert 'href="/actions/"' in client.get(reverse("home")).content.decode()


def test_every_action_page_declares_its_permission():
    from django.urls import get_resolver

    resolver = get_resolver()
    names = ["list", "new", "detail", "edit", "status", "decision", "effectiveness"]
    declared = {}
    for name in names:
        url = reverse(f"actions:{name}", args=[] if name in ("list", "new") else [1])
        declared[name] = resolver.resolve(url).func.andon_permission
    assert declared == {"list": "actions.use", "new": "actions.manage", "detail": "actions.use",
                        "edit": "actions.manage", "status": "actions.use", "decision": "actions.approve",
                        "effectiveness": "actions.manage"}


# --- my work -----------------------------------------------------------------------------------

def test_work_list_has_due_overdue_and_awaiting_decision(hospital, people):
    ward = hospital.unit("rgh/4w")
    soon = new_action(people.pso, ward, people.nurse, title="Soon", due_date=TODAY + timedelta(days=14))
    new_action(people.pso, ward, people.nurse, title="Later", due_date=TODAY + timedelta(days=15))
    later = Action.objects.get(title="Later")
    late = _backdate(new_action(people.pso, ward, people.nurse, title="Late"), TODAY - timedelta(days=2))
    # Every open action of the owner (issue 15: one due in more than two weeks was left out, and
    # its owner told "Nothing due"); the "assigned to you" notifications are lines of their own.
    items = [i for i in work_for(people.nurse) if "/actions/" in i.url and not i.title.startswith("Action assigned")]
    assert [(i.kind, i.title, i.url) for i in items] == [
        ("alert", "Action overdue: Late", f"/actions/{late.pk}/"),
        ("due", f"Action due {soon.due_date:%Y-%m-%d}: Soon", f"/actions/{soon.pk}/"),
        ("due", f"Action due {later.due_date:%Y-%m-%d}: Later", f"/actions/{later.pk}/"),
    ]
    assert items[0].detail == f"Was due {late.due_date:%Y-%m-%d} (2 days ago)"
    reviews = [i for i in work_for(people.cqo) if i.kind == "review" and "/actions/" in i.url]
    assert sorted(i.title for i in reviews) == [
        "Action awaiting your decision: Late", "Action awaiting your decision: Later", "Action awaiting your decision: Soon"]
    services.decide(people.cqo, soon, approve=True, reason="")
    assert len([i for i in work_for(people.cqo) if i.kind == "review" and "/actions/" in i.url]) == 2


# --- API -----------------------------------------------------------------------------------------

def _bearer(user):
    _, raw = AccessToken.issue(user, "x")
    return {"Authorization": f"Bearer {raw}"}


def test_api_lists_only_what_the_caller_may_see(client, hospital, people):
    mine = new_action(people.pso, hospital.unit("rgh/4w"), people.manager, title="4 West")
    new_action(people.pso, hospital.unit("lch/2a"), people.lakeside_manager, title="2A")
    response = client.get("/api/v1/actions", headers=_bearer(people.manager))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["items"][0]
    assert (item["id"], item["title"], item["unit"], item["owner_id"], item["status"], item["overdue"]) == (
        mine.pk, "4 West", "4 West Medical", people.manager.pk, "planned", False)
    assert item["due_date"] == NEXT_MONTH.isoformat() and item["source_type"] is None
    everything = client.get("/api/v1/actions", {"limit": 1, "offset": 1}, headers=_bearer(people.pso)).json()
    assert everything["count"] == 2 and len(everything["items"]) == 1
    assert client.get("/api/v1/actions", {"status": "finished"}, headers=_bearer(people.pso)).status_code == 422
    assert client.get("/api/v1/actions", {"status": "done"}, headers=_bearer(people.pso)).json()["count"] == 0


def test_api_reads_one_action_and_refuses_others(client, hospital, people):
    elsewhere = new_action(people.pso, hospital.unit("lch/2a"), people.lakeside_manager, source=hospital.unit("lch/2a"))
    headers = _bearer(people.manager)
    assert client.get(f"/api/v1/actions/{elsewhere.pk}", headers=headers).status_code == 403
    assert client.get("/api/v1/actions/999999", headers=_bearer(people.pso)).status_code == 404
    body = client.get(f"/api/v1/actions/{elsewhere.pk}", headers=_bearer(people.pso)).json()
    assert (body["source_type"], body["source_id"], body["source_label"]) == (
        "platform.unit", elsewhere.source_id, "2A Medical (lch)")


def test_api_creates_an_action_with_the_caller_as_actor(client, hospital, people):
    ward = hospital.unit("rgh/4w")
    payload = {"title": "Barcode scanning at the bedside", "unit_id": ward.pk, "owner_id": people.nurse.pk,
               "due_date": NEXT_MONTH.isoformat(), "strength": "stronger", "measure": "Scan rate weekly"}
    response = client.post("/api/v1/actions", payload, content_type="application/json", headers=_bearer(people.pso))
    assert response.status_code == 201, response.content
    action = Action.objects.get(pk=response.json()["id"])
    assert (action.title, action.unit, action.owner, action.created_by) == (
        "Barcode scanning at the bedside", ward, people.nurse, people.pso)
    entry = LogEntry.objects.get_for_object(action).get()
    assert entry.actor == people.pso  # a token call is attributed, not "system"


def test_api_create_refusals(client, hospital, people):
    ward = hospital.unit("rgh/4w")
    payload = {"title": "t", "unit_id": ward.pk, "owner_id": people.nurse.pk,
               "due_date": (TODAY - timedelta(days=1)).isoformat(), "strength": "weaker", "measure": "m"}
    post = lambda body, user: client.post("/api/v1/actions", body, content_type="application/json",  # noqa: E731
                                          headers=_bearer(user))
    past = post(payload, people.pso)
    assert past.status_code == 422
    assert past.json()["detail"] == [{"loc": ["body", "due_date"], "msg": PAST_DUE,
                                      "type": "value_error"}]
    assert post({**payload, "due_date": NEXT_MONTH.isoformat(), "extra": 1}, people.pso).status_code == 422
    assert post({**payload, "due_date": NEXT_MONTH.isoformat(), "unit_id": 10**9}, people.pso).json()["detail"][0]["loc"] == ["body", "unit"]
    outside = {**payload, "due_date": NEXT_MONTH.isoformat(), "unit_id": hospital.unit("lch/2a").pk}
    assert post(outside, people.manager).status_code == 403
    assert post({**payload, "due_date": NEXT_MONTH.isoformat()}, people.nurse).status_code == 403
    assert Action.objects.count() == 0


def test_api_status_and_decision(client, hospital, people):
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.nurse)
    url = f"/api/v1/actions/{action.pk}"
    moved = client.post(f"{url}/status", {"status": "in_progress"}, content_type="application/json",
                        headers=_bearer(people.nurse))
    assert moved.status_code == 200 and moved.json()["status"] == "in_progress"
    entry = LogEntry.objects.get_for_object(action).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == people.nurse
    bad = client.post(f"{url}/status", {"status": "cancelled"}, content_type="application/json",
                      headers=_bearer(people.nurse))
    assert bad.status_code == 403
    assert client.post(f"{url}/decision", {"approve": True}, content_type="application/json",
                       headers=_bearer(people.nurse)).status_code == 403
    no_reason = client.post(f"{url}/decision", {"approve": False}, content_type="application/json",
                            headers=_bearer(people.cqo))
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    approved = client.post(f"{url}/decision", {"approve": True, "reason": "Go"}, content_type="application/json",
                           headers=_bearer(people.cqo))
    assert approved.status_code == 200
    assert (approved.json()["approval"], approved.json()["approved_by_id"]) == ("approved", people.cqo.pk)


def test_api_operations_are_documented_and_guarded():
    from andon.api.api import api

    schema = api.get_openapi_schema()
    operations = {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods
                  if path.startswith("/api/v1/actions")}
    assert operations == {("GET", "/api/v1/actions"), ("POST", "/api/v1/actions"), ("GET", "/api/v1/actions/{action_id}"),
                          ("POST", "/api/v1/actions/{action_id}/status"), ("POST", "/api/v1/actions/{action_id}/decision")}
    post = schema["paths"]["/api/v1/actions"]["post"]
    assert {str(code) for code in post["responses"]} == {"201", "400", "401", "403", "422"}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                assert hasattr(operation.view_func, "andon_permission"), operation.view_func



def test_the_owner_is_told_of_a_new_action(hospital, make_user):
    from datetime import timedelta

    from django.utils import timezone

    from andon.actions import services as action_services
    from andon.platform.models import Notification

    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    owner = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    action = action_services.create_action(
        officer, unit=hospital.unit("rgh/4w"), owner=owner, title="Bed alarms on every night",
        due_date=timezone.localdate() + timedelta(days=10), strength="stronger", measure="Falls per 1,000 bed days")
    told = Notification.objects.get(recipient=owner)
    assert told.title == "Action assigned to you: Bed alarms on every night"
    assert told.url == f"/actions/{action.pk}/"


def test_history_reads_in_plain_words_with_names_not_ids(client, hospital, people):
    """Friction 12: people, units and states by name; no ids, field names or empty signs."""
    action = new_action(people.pso, hospital.unit("rgh/4w"), people.pso, source=hospital.unit("rgh/4w"),
                        source_label="RCA for EV-2026-000123")
    services.update_action(people.pso, action, owner=people.nurse, unit=hospital.unit("rgh/4w"))
    services.set_status(people.nurse, Action.objects.get(pk=action.pk), Status.IN_PROGRESS, note="Pumps ordered")
    client.force_login(people.cqo)
    page = client.get(reverse("actions:detail", args=[action.pk]))
    lines = page.context["history"]
    assert [line.changes for line in lines[:2]] == [
        ["Status changed from Planned to In progress"],
        ["Owner changed from Pat Officer to Nia Nurse"],
    ]
    assert (lines[0].who, lines[0].note) == ("Nia Nurse", "Pumps ordered")
    created = lines[-1].changes
    assert "Unit set to 4 West Medical (rgh)" in created and "Owner set to Pat Officer" in created
    assert "Strength set to Stronger" in created and "Decision set to Awaiting decision" in created
    assert "Source set to RCA for EV-2026-000123" in created
    assert not any(sentence.startswith(("Source id", "Source type")) for sentence in created)
    shown = page.content.decode().split('id="history-heading"')[1]
    assert "Status changed from Planned to In progress" in shown and "Owner changed from Pat Officer to Nia Nurse" in shown
    assert "∅" not in shown and "owner" not in shown and f">{people.nurse.pk}<" not in shown
