"""What every page pays before its own work, and the per-request caches that keep it small.

The policy reads a person's role grants (with the two-factor marks of their roles) and facts
such as "owns an action" once per request. These tests show that nothing read that way outlives
the request: a grant revoked, a role granted or marked for two-factor between two requests of
the same signed-in client takes effect on the second. The query counts keep the shared cost of a
page from creeping back (counts on SQLite; the PostgreSQL benchmark is docs/benchmarks.md).
"""

from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse
from django.utils import timezone

from andon.actions import services as actions
from andon.actions.models import Strength
from andon.platform import services
from andon.platform.models import Notification, RoleGrant
from andon.platform.roles import Role
from andon.safety import services as safety
from andon.safety.models import SafetyEvent

TWO_FACTOR = reverse("mfa_activate_totp")


def test_a_revoked_role_is_refused_on_the_next_request(client, make_user, safety_taxonomy):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh")
    client.force_login(officer)
    assert client.get(reverse("safety:triage_queue")).status_code == 200
    services.revoke_role(RoleGrant.objects.get(user=officer))
    assert client.get(reverse("safety:triage_queue")).status_code == 403


def test_a_role_granted_between_requests_counts_on_the_next(client, hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    TOTP.activate(nurse, generate_totp_secret())  # the officer's role needs two-factor by default
    client.force_login(nurse)
    assert client.get(reverse("safety:triage_queue")).status_code == 403
    assert reverse("safety:triage_queue") not in client.get(reverse("home")).content.decode()
    services.grant_role(nurse, Role.PATIENT_SAFETY_OFFICER, hospital.scope("rgh"))
    assert reverse("safety:triage_queue") in client.get(reverse("home")).content.decode()
    assert client.get(reverse("safety:triage_queue")).status_code == 200


def test_a_role_marked_for_two_factor_is_enforced_from_the_next_request_and_released_after(client, make_user):
    analyst = make_user(Role.QUALITY_ANALYST, "")
    client.force_login(analyst)
    assert client.get(reverse("home")).status_code == 200
    services.set_mfa_required(Role.QUALITY_ANALYST, True)
    assert client.get(reverse("home"))["Location"] == TWO_FACTOR
    services.set_mfa_required(Role.QUALITY_ANALYST, False)
    assert client.get(reverse("home")).status_code == 200


def test_a_granted_role_brings_its_two_factor_requirement_on_the_next_request(client, hospital, make_user):
    services.set_mfa_required(Role.CQO, True)
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    client.force_login(nurse)
    assert client.get(reverse("home")).status_code == 200
    grant = services.grant_role(nurse, Role.CQO, hospital.organisation)
    assert client.get(reverse("home"))["Location"] == TWO_FACTOR
    TOTP.activate(nurse, generate_totp_secret())
    assert client.get(reverse("home")).status_code == 200
    services.revoke_role(grant)
    nurse.authenticator_set.all().delete()
    assert client.get(reverse("home")).status_code == 200


def test_admin_site_staff_must_set_up_two_factor_whatever_their_roles(client, make_user):
    staff = make_user(Role.STAFF_REPORTER, "rgh/4w", is_admin_site_staff=True, enrol_mfa=False)
    client.force_login(staff)
    assert client.get(reverse("home"))["Location"] == TWO_FACTOR


def test_the_actions_entry_appears_on_the_request_after_an_action_is_assigned(client, hospital, make_user):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    client.force_login(nurse)
    assert reverse("actions:list") not in client.get(reverse("home")).content.decode()
    actions.create_action(officer, unit=hospital.unit("rgh/4w"), owner=nurse, title="Bed alarms on every bay",
                          due_date=timezone.localdate() + timedelta(days=30), strength=Strength.STRONGER,
                          measure="Falls per 1,000 bed days")
    assert reverse("actions:list") in client.get(reverse("home")).content.decode()


# --- the queries of a page ---------------------------------------------------------------------------

@pytest.fixture
def ward(hospital, make_user, safety_taxonomy):
    """A nurse with three reports on 4 West, and the facility's safety officer."""
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.cost")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.cost")
    events = []
    for hours in (3, 5, 7):
        report = safety.Report(kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
                               occurred_at=timezone.now() - timedelta(hours=hours), harm="mild",
                               narrative="Patient found on the floor by the bed.",
                               details={"injury_level": "minor", "assisted": "no"})
        events.append(safety.submit_report(nurse, report, ())[0])
    return nurse, officer, events


# Session, user, grants (with their two-factor marks), then the page's own queries. Raise a
# maximum only for a reason the page itself has, and say it in the commit.
PAGES = {
    # 9: anyone may be on an RCA team, and the home page lists the open analyses whose team they
    # are on (issue 15: a team member who is not an officer had no way to find them).
    # 13: compliance (issue 16) gives every member of staff four kinds of work, one query each:
    # assessment items they own, policies to read and sign, policies they own due for review, and
    # tracers they survey (anyone may be the surveyor for a day or own an item or a policy).
    # 14: the menu asks whether the person is on an FMEA team (issue 17: anyone may be, and the
    # Proactive risk entry is theirs then), once per request.
    "home page (reporter)": ("nurse", lambda events: reverse("home"), 14),
    # 8: the menu asks whether the person surveys a tracer (a surveyor for the day holds no
    # compliance role; the Tracers entry is theirs then), once per request. 9: and whether they
    # are on an FMEA team, likewise.
    "report form": ("nurse", lambda events: reverse("safety:report"), 9),
    # 8: the queue's unit filter lists the officer's units (issue 15, item 8).
    "triage queue": ("officer", lambda events: reverse("safety:triage_queue"), 8),
    # No count of the whole list: a page is read with one more row to know if there is a next.
    "event list": ("officer", lambda events: reverse("safety:event_list"), 7),
    # 12: opening the event marks the officer's notifications about it read (one UPDATE), so its
    # line leaves their home page (issue 15, defect 3); and the page lists who was alerted about
    # a severe report (one read of its escalations, issue 15 item 8).
    "event page": ("officer", lambda events: reverse("safety:event", args=[events[0].pk]), 12),
    "analysis": ("officer", lambda events: reverse("safety:analysis"), 6),
}


@pytest.mark.parametrize("page", list(PAGES))
def test_a_page_costs_a_bounded_number_of_queries(client, ward, django_assert_max_num_queries, page):
    nurse, officer, events = ward
    who, url, most = PAGES[page]
    client.force_login(nurse if who == "nurse" else officer)
    client.get(url(events))  # first visit: caches of the process (taxonomy, analysis counts)
    with django_assert_max_num_queries(most):
        assert client.get(url(events)).status_code == 200


def test_submitting_a_report_reads_the_officers_grants_in_one_query(client, hospital, make_user, ward,
                                                                      django_assert_max_num_queries):
    """The officers who triage the unit are read with their grants in one query, not one each
    (five officers here: one notification written for each, nothing else per officer)."""
    nurse, _, _ = ward
    for n in range(4):
        make_user(Role.PATIENT_SAFETY_OFFICER, "rgh" if n % 2 else "", username=f"pso.more{n}")
    client.force_login(nurse)
    post = {"kind": "incident", "unit": str(hospital.unit("rgh/4w").pk), "category": "fall", "harm": "mild",
            "occurred_at": timezone.localtime(timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "narrative": "Patient found on the floor beside the bed.", "details.injury_level": "minor",
            "details.assisted": "no"}
    # 26: the named reference's number in the year is a locked increment and its read. 27: the
    # menu of the answer asks whether the nurse is on an FMEA team.
    with django_assert_max_num_queries(27):
        assert client.post(reverse("safety:report"), post).status_code == 200
    event = SafetyEvent.objects.latest("reported_at")
    assert Notification.objects.filter(title=f"New safety report {event.reference} to triage").count() == 5
