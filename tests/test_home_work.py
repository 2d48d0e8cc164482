"""The home page's "my work" (issue 15, defect 3): one line per thing to do, which clears when it
is done or read; nobody holding work is told "Nothing due"."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from andon.actions import services as actions
from andon.actions.models import Strength
from andon.platform.models import Notification
from andon.platform.notifications import notify
from andon.platform.roles import Role
from andon.safety import services as safety

NARRATIVE = "Patient found on the floor by the bed."


@pytest.fixture
def ward(hospital, make_user, safety_taxonomy):
    class Ward:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.home")
        officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.home")
        other_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "", username="pso.home2")

    return Ward


def _report(hospital, user, **overrides):
    fields = dict(kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
                  occurred_at=timezone.now() - timedelta(hours=3), narrative=NARRATIVE, harm="mild",
                  details={"injury_level": "minor", "assisted": "no"})
    fields.update(overrides)
    return safety.submit_report(user, safety.Report(**fields), ())[0]


def _home(client, user) -> str:
    client.force_login(user)
    return client.get(reverse("home")).content.decode()


def _feedback_four_times(hospital, ward):
    event = _report(hospital, ward.nurse)
    decision = safety.Triage(category="fall", harm="mild", sac_severity="minor", sac_probability="remote",
                             sentinel=False, review="local", reason="Unit review")
    event = safety.triage(ward.officer, event, decision)  # in triage, then under review: two updates
    event = safety.record_review_findings(ward.officer, event, "Alarms were off at night")  # the review done
    event = safety.move(ward.officer, event, "plan_actions", "Reviewed with the ward")  # three
    safety.move(ward.officer, event, "close", "Done", closing_summary="Bed alarms are now on every bay.")  # four
    return event


def test_feedback_on_a_report_is_one_line_until_the_reporter_reads_the_report(client, hospital, ward):
    event = _feedback_four_times(hospital, ward)
    assert event.reporter_messages.count() == 4
    page = _home(client, ward.nurse)
    assert page.count(event.reference) == 1  # the demo showed four identical lines
    assert "and 3 earlier updates" in page
    assert client.get(reverse("safety:my_report", args=[event.pk])).status_code == 200
    page = client.get(reverse("home")).content.decode()
    assert event.reference not in page and "Nothing to review." in page
    assert not Notification.objects.filter(recipient=ward.nurse, read_at=None).exists()


def test_feedback_read_through_the_api_clears_the_line_too(client, hospital, ward):
    event = _feedback_four_times(hospital, ward)
    client.force_login(ward.nurse)
    assert client.get(f"/api/v1/safety/my-reports/{event.pk}").status_code == 200
    assert event.reference not in client.get(reverse("home")).content.decode()


def test_new_feedback_after_reading_brings_the_line_back_once(client, hospital, ward):
    event = _feedback_four_times(hospital, ward)
    client.force_login(ward.nurse)
    client.get(reverse("safety:my_report", args=[event.pk]))
    event.refresh_from_db()
    safety.move(ward.officer, event, "reopen", "New information from the family")
    page = client.get(reverse("home")).content.decode()
    assert page.count(event.reference) == 1 and "A patient safety officer is reading your report." in page


def test_an_owner_of_an_open_action_is_never_told_nothing_is_due(client, hospital, ward, make_user):
    owner = make_user(Role.STAFF_REPORTER, "rgh/4w", username="owner.home")
    today = timezone.localdate()
    later = actions.create_action(ward.officer, unit=hospital.unit("rgh/4w"), owner=owner, title="Bed alarms on every bay",
                                  due_date=today + timedelta(days=60), strength=Strength.STRONGER,
                                  measure="Falls per 1,000 bed days, monthly")
    soon = actions.create_action(ward.officer, unit=hospital.unit("rgh/4w"), owner=owner, title="Teach-back on call bells",
                                 due_date=today + timedelta(days=3), strength=Strength.WEAKER,
                                 measure="Audit of ten patients a week")
    page = _home(client, owner)
    assert "Nothing due." not in page
    due = page.split('id="due-heading"')[1].split("</section>")[0]
    assert due.index(soon.title) < due.index(later.title)  # the nearest first
    assert f"Action due {later.due_date:%Y-%m-%d}: {later.title}" in due
    # The "assigned to you" notifications are one line each until the owner opens the action.
    assert page.count(f"Action assigned to you: {later.title}") == 1
    client.get(reverse("actions:detail", args=[later.pk]))
    page = client.get(reverse("home")).content.decode()
    assert f"Action assigned to you: {later.title}" not in page
    actions.set_status(owner, later, "done", "Alarms fitted", later.version)
    later.refresh_from_db()
    assert later.title not in client.get(reverse("home")).content.decode()


def test_a_report_triaged_by_one_officer_leaves_the_others_home_pages(client, hospital, ward):
    event = _report(hospital, ward.nurse)
    line = f"New safety report {event.reference} to triage"
    assert _home(client, ward.other_officer).count(line) == 1
    decision = safety.Triage(category="fall", harm="mild", sac_severity="minor", sac_probability="remote",
                             sentinel=False, review="local", reason="Unit review")
    safety.triage(ward.officer, event, decision)
    assert line not in _home(client, ward.other_officer)


def test_notifications_to_one_page_are_one_line_with_the_newest_first(client, ward):
    for n in range(3):
        notify([ward.nurse], f"Update {n}", body=f"Body {n}", url="/somewhere/")
    notify([ward.nurse], "Elsewhere", url="/elsewhere/")
    page = _home(client, ward.nurse)
    assert page.count("/somewhere/") == 1 and "Update 2" in page and "Update 0" not in page
    assert "and 2 earlier updates" in page and "Elsewhere" in page


def test_reports_in_triage_local_reviews_and_rca_teams_are_listed_for_those_who_do_them(
        client, hospital, ward, make_user):
    from andon.safety import rca
    from andon.safety.models import Review

    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine", username="um.home")
    expert = make_user(Role.STAFF_REPORTER, "rgh/4w", username="expert.home")
    local = _report(hospital, ward.nurse)
    safety.triage(ward.officer, local, safety.Triage(category="fall", harm="mild", sac_severity="minor",
                                                     sac_probability="remote", sentinel=False, review=Review.LOCAL,
                                                     reason="The ward reviews it"))
    plain = _report(hospital, ward.nurse)
    safety.triage(ward.officer, plain, safety.Triage(category="fall", harm="mild", sac_severity="minor",
                                                     sac_probability="remote", sentinel=False, review=Review.NONE,
                                                     reason="Nothing more to learn"))
    serious = _report(hospital, ward.nurse, harm="moderate")
    serious = safety.triage(ward.officer, serious, safety.Triage(
        category="fall", harm="moderate", sac_severity="catastrophic", sac_probability="remote", sentinel=False,
        review=Review.RCA, reason="SAC 3"))
    investigation = rca.start_investigation(ward.officer, serious)
    rca.add_team_member(ward.officer, investigation, expert, "expert")

    officer_home = _home(client, ward.officer)
    assert "1 report in triage to finish" in officer_home  # the one triaged with no further review
    assert f"Local review asked of your unit: {local.reference}" in _home(client, manager)
    expert_home = _home(client, expert)
    assert expert_home.count(f"Root cause analysis of {serious.reference}: you are on its team") == 1
    assert reverse("safety:investigation", args=[serious.pk]) in expert_home
    # Done: the lines leave.
    local = safety.record_review_findings(manager, local, "Handover checks missed")
    assert local.reference not in _home(client, manager)  # the unit's part is done
    safety.move(ward.officer, local, "plan_actions", "Reviewed")
