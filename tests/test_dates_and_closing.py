"""Dates people enter are checked where they are entered (a due date in the past for a new action,
a timeline fact in the future), and an event is not closed with open
actions without a statement of why (issue 15, defect 5)."""

from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.actions import services as actions
from andon.actions.models import Action
from andon.platform import permissions
from andon.platform import services as platform
from andon.platform.roles import Role
from andon.safety import rca, services
from andon.safety.models import Review, SafetyEvent, Status

API = "/api/v1/safety"
PAST = "2020-01-01"
PAST_MESSAGE = "The due date 2020-01-01 is in the past: choose today or a later day."


@pytest.fixture
def people(hospital, make_user, safety_taxonomy):
    class People:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.jo")
        officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.rgh")
        cqo = make_user(Role.CQO, "", username="cqo")

    return People


@pytest.fixture
def bearer(client):
    def credentials(user) -> dict:
        if permissions.can(user, "platform.manage_own_tokens"):
            _, raw = platform.issue_token(user, "test")
            return {"Authorization": f"Bearer {raw}"}
        client.force_login(user)
        return {}

    return credentials


@pytest.fixture
def investigation(hospital, people):
    event, _ = services.submit_report(people.nurse, services.Report(
        kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=3), narrative="Found on the floor.", harm="severe",
        details={"injury_level": "major"}))
    event = services.triage(people.officer, event, services.Triage(
        category="fall", harm="severe", sac_severity="catastrophic", sac_probability="occasional", sentinel=False,
        review=Review.RCA, reason="Huddle"))
    found = rca.start_investigation(people.officer, event)
    rca.add_root_cause(people.officer, found, "Alarm fatigue.")
    return found


# --- due dates ---------------------------------------------------------------------------------

def test_a_past_due_date_is_refused_on_the_actions_page_with_the_date_named(client, hospital, people):
    client.force_login(people.officer)
    response = client.post(reverse("actions:new"), {
        "title": "Late", "unit": hospital.unit("rgh/4w").pk, "owner": people.nurse.pk, "due_date": PAST,
        "strength": "weaker", "measure": "m"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"due_date": [PAST_MESSAGE]}
    assert not Action.objects.exists()
    page = client.get(reverse("actions:new")).content.decode()
    assert f'min="{timezone.localdate().isoformat()}"' in page  # the date picker starts today


def test_a_past_due_date_is_refused_on_the_rca_page_and_over_the_api(client, people, investigation, bearer):
    event = investigation.event
    client.force_login(people.officer)
    response = client.post(reverse("safety:add_to_investigation", args=[event.pk, "action"]), {
        "title": "Bed alarm default on", "owner": people.nurse.pk, "due_date": PAST, "strength": "stronger",
        "measure": "Alarm-on audit weekly"})
    assert response.status_code == 400
    assert PAST_MESSAGE in response.content.decode()
    assert not Action.objects.exists()
    api = client.post(f"{API}/events/{event.pk}/investigation/actions", {
        "title": "Bed alarm default on", "owner_id": people.nurse.pk, "due_date": PAST, "strength": "stronger",
        "measure": "Alarm-on audit weekly"}, content_type="application/json", headers=bearer(people.officer))
    assert api.status_code == 422 and PAST_MESSAGE in str(api.json())
    assert not Action.objects.exists()


def test_an_overdue_actions_unchanged_date_is_kept_but_a_new_past_date_is_refused(hospital, people):
    action = actions.create_action(people.officer, unit=hospital.unit("rgh/4w"), owner=people.nurse, title="Audit",
                                   due_date=timezone.localdate() + timedelta(days=3), strength="weaker", measure="m")
    Action.objects.filter(pk=action.pk).update(due_date=date(2025, 1, 1))  # time passed
    action.refresh_from_db()
    actions.update_action(people.officer, action, title="Audit of 20 charts", due_date=date(2025, 1, 1))
    with pytest.raises(ValidationError) as refused:
        actions.update_action(people.officer, action, due_date=date(2024, 12, 1))
    assert refused.value.message_dict == {"due_date": ["The due date 2024-12-01 is in the past: choose today or a "
                                                       "later day."]}


# --- other dates --------------------------------------------------------------------------------

def test_a_timeline_fact_in_the_future_is_refused(client, people, investigation, bearer):
    later = timezone.now() + timedelta(days=2)
    with pytest.raises(ValidationError, match="in the future"):
        rca.add_fact(people.officer, investigation, later, "Tomorrow's fact")
    client.force_login(people.officer)
    response = client.post(reverse("safety:add_to_investigation", args=[investigation.event.pk, "fact"]),
                           {"at": timezone.localtime(later).strftime("%Y-%m-%dT%H:%M"), "fact": "Tomorrow's fact"})
    assert response.status_code == 400 and "in the future" in response.content.decode()
    assert not investigation.timeline.exists()


# --- closing with open actions ---------------------------------------------------------------------

def test_closing_with_an_open_action_needs_a_statement_of_why_kept_and_shown(client, people, investigation, bearer):
    event = investigation.event
    action = services.add_rca_action(people.officer, investigation, title="Bed alarm default on", owner=people.nurse,
                                     due_date=timezone.localdate() + timedelta(days=30), strength="stronger",
                                     measure="Alarm-on audit weekly")
    rca.complete_investigation(people.officer, investigation, "Signed off")
    event.refresh_from_db()
    assert event.status == Status.ACTION_PLANNING
    client.force_login(people.officer)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Why close with actions still open" in page and "Bed alarm default on" in page
    move = reverse("safety:move_event", args=[event.pk])
    refused = client.post(move, {"action": "close", "reason": "Done", "closing_summary": "Thank you."})
    assert refused.status_code == 400
    assert ("1 action is still open: “Bed alarm default on” (planned). Say why the event closes with it open, or "
            "finish or cancel it first." in refused.content.decode().replace("&quot;", '"'))
    api = client.post(f"{API}/events/{event.pk}/moves", {"action": "close", "reason": "Done",
                                                          "closing_summary": "Thank you."},
                      content_type="application/json", headers=bearer(people.officer))
    assert api.status_code == 422 and "still open" in str(api.json())
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.ACTION_PLANNING

    why = "The ward manager follows the alarm change up at the monthly safety meeting."
    closed = client.post(move, {"action": "close", "reason": "Done", "closing_summary": "Thank you.",
                                "open_actions_reason": why})
    assert closed.status_code == 302
    event.refresh_from_db()
    assert (event.status, event.open_actions_reason) == (Status.CLOSED, why)
    assert why in client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert any(entry.changes_dict.get("open_actions_reason") == ["", why]
               for entry in LogEntry.objects.get_for_object(event))
    assert action.pk  # the action stays open in the tracker


def test_closing_with_every_action_done_needs_no_statement(client, people, investigation):
    action = services.add_rca_action(people.officer, investigation, title="Bed alarm default on", owner=people.nurse,
                                     due_date=timezone.localdate() + timedelta(days=30), strength="stronger",
                                     measure="Alarm-on audit weekly")
    rca.complete_investigation(people.officer, investigation, "Signed off")
    actions.set_status(people.officer, action, "done")
    event = services.move(people.officer, SafetyEvent.objects.get(pk=investigation.event_id), "close", "Done",
                          "Thank you.")
    assert (event.status, event.open_actions_reason) == (Status.CLOSED, "")


def test_counts_for_a_month_that_has_not_begun_are_refused_by_hand_and_in_a_file(hospital, make_user):
    from pathlib import Path

    from andon.measures import services as measures
    from andon.measures.models import ManualCount, Measure
    from andon.platform import content

    content.load_content([Path(__file__).resolve().parent.parent / "content" / "measures"])
    hygiene = Measure.objects.get(key="hand-hygiene")
    manager = make_user(Role.UNIT_MANAGER, "rgh/4w")
    today = timezone.localdate()
    later = date(today.year + 1, today.month, 1)
    with pytest.raises(ValidationError, match=f"{later:%Y-%m} has not begun"):
        measures.enter_count(manager, hygiene, hospital.unit("rgh/4w"), later, 9, 10)
    report = measures.import_counts_csv(manager, hygiene, f"unit,month,numerator,denominator\nrgh/4w,{later:%Y-%m},9,10\n",
                                        "counts.csv")
    assert report.errors == [(2, f"{later:%Y-%m} has not begun: counts are entered for this month or earlier ones")]
    measures.enter_count(manager, hygiene, hospital.unit("rgh/4w"), date(today.year, today.month, 1), 9, 10)
    assert ManualCount.objects.count() == 1
