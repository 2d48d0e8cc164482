"""What every page pays before its own work, and the per-request caches that keep it small.

The policy reads a person's role grants (with the two-factor marks of their roles) and facts
such as "owns an action" (all of them in one query) once per request. These tests show that
nothing read that way outlives the request: a grant revoked, a role granted or marked for
two-factor between two requests of the same signed-in client takes effect on the second. The
query counts keep the shared cost of a page from creeping back (counts on SQLite; the PostgreSQL
benchmark is docs/benchmarks.md).
"""

from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from andon.actions import services as actions
from andon.actions.models import Strength
from andon.platform import permissions, services
from andon.platform.models import Notification, RoleGrant
from andon.platform.roles import Role
from andon.risk import services as risk
from andon.risk.models import Level, Risk, ScoreRecord
from andon.risk.scoring import Matrix
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


def test_the_facts_about_a_person_are_read_together_in_one_query_and_named_once(hospital, make_user,
                                                                                  django_assert_num_queries):
    from andon.actions.rules import owns_actions
    from andon.compliance.rules import owns_items, surveys_tracers
    from andon.improvement.rules import named_on_an_audit, on_a_project
    from andon.risk.rules import on_a_team, owns_risks

    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    actions.create_action(officer, unit=hospital.unit("rgh/4w"), owner=nurse, title="Bed alarms on every bay",
                          due_date=timezone.localdate() + timedelta(days=30), strength=Strength.STRONGER,
                          measure="Falls per 1,000 bed days")
    with django_assert_num_queries(1):
        answers = [fact(nurse) for fact in (surveys_tracers, owns_actions, owns_items, on_a_team, owns_risks,
                                            on_a_project, named_on_an_audit)]
    assert answers == [False, True, False, False, False, False, False]
    with pytest.raises(ValueError, match="owns_an_action"):
        permissions.person_fact("owns_an_action", lambda person: None)


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
    # 7: anyone may be on an RCA team, and the home page lists the open analyses whose team they
    # are on (issue 15: a team member who is not an officer had no way to find them). 8: the facts
    # about the person that anyone may hold whatever their role (owns an action, an assessment item
    # or a risk, surveys a tracer, is on an FMEA team, a QI project or an audit: issues 16-18), which
    # the menu and the home page's work ask, all in one query (permissions.person_fact). 11:
    # compliance (issue 16) lists every member of staff's assessment items, policies to read and
    # sign, and policies they own due for review, one query each. 12: the committees they sit on.
    "home page (reporter)": ("nurse", lambda events: reverse("home"), 12),
    # 7: the facts about the person the menu asks (above), in one query.
    "report form": ("nurse", lambda events: reverse("safety:report"), 7),
    # 8: the queue's unit filter lists the officer's units (issue 15, item 8).
    "triage queue": ("officer", lambda events: reverse("safety:triage_queue"), 8),
    # No count of the whole list: a page is read with one more row to know if there is a next.
    "event list": ("officer", lambda events: reverse("safety:event_list"), 7),
    # 12: opening the event marks the officer's notifications about it read (one UPDATE), so its
    # line leaves their home page (issue 15, defect 3); and the page lists who was alerted about
    # a severe report (one read of its escalations, issue 15 item 8). 13: and whether the event
    # was referred to medical staff peer review, with the day (one read, issue 19 item 6).
    "event page": ("officer", lambda events: reverse("safety:event", args=[events[0].pk]), 13),
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
    # 23: the named reference's number in the year is a locked increment and its read. 24: the
    # menu of the answer asks the facts about the nurse (one query: permissions.person_fact).
    with django_assert_max_num_queries(24):
        assert client.post(reverse("safety:report"), post).status_code == 200
    event = SafetyEvent.objects.latest("reported_at")
    assert Notification.objects.filter(title=f"New safety report {event.reference} to triage").count() == 5


# --- the risk register at ten times the risks (issue 17's benchmark, benchmarks/risk_load.py) --------

RISK_PLACES = ["rgh/4w", "rgh/5e", "rgh/medicine", "rgh/icu", "lch/2a", "rgh", ""]
RISK_SCORES = [{"inherent": (5, 4), "current": (4, 3), "target": (2, 2)},
               {"inherent": (3, 3), "current": (3, 2), "target": (1, 2)},
               {"inherent": (4, 4), "current": (4, 4), "target": (4, 1)}]


def _more_risks(hospital, owner, count: int) -> None:
    """`count` risks over wards, a service line, both facilities and the organisation (one in ten
    closed, one in seven on the board assurance framework), three score records each, written in
    bulk (no audit), as the benchmark seeds them."""
    start = Risk.objects.count()
    risks, records = [], []
    for n in range(start, start + count):
        place = hospital.scope(RISK_PLACES[n % len(RISK_PLACES)])
        unit = place if "/" in RISK_PLACES[n % len(RISK_PLACES)] else None
        facility = unit.facility if unit else place if RISK_PLACES[n % len(RISK_PLACES)] else None
        found = Risk(reference=f"R-{n + 1:05d}", title=f"Bulk risk {n + 1}", cause="c", event="e", effect="f",
                     category="clinical", owner=owner, organisation=hospital.organisation, facility=facility,
                     unit=unit, level=Level.BOARD if n % 7 == 6 else risk.level_for_place(unit, facility),
                     status="closed" if n % 10 == 9 else "open", created_by=owner,
                     review_on=timezone.localdate() + timedelta(days=30),
                     **risk.scored(Matrix(), RISK_SCORES[n % len(RISK_SCORES)]))
        risks.append(found)
    Risk.objects.bulk_create(risks)
    for found in Risk.objects.filter(reference__in=[r.reference for r in risks]):
        records += [risk.record_scores(found, "reviewed", 1, owner) for _ in range(3)]
    ScoreRecord.objects.bulk_create(records)


def _open_risks(hospital, under: str = "") -> int:
    """The open risks of the organisation (under a unit), counted apart from the pages."""
    found = Risk.objects.filter(organisation=hospital.organisation, status="open")
    return found.filter(unit__path__startswith=hospital.unit(under).path).count() if under else found.count()


REGISTER_PAGES = {  # name: (the page, the unit asked for)
    "register": ("risk:register", ""), "register of a service line": ("risk:register", "rgh/medicine"),
    "heat map": ("risk:heat_map", ""),
}


@pytest.mark.parametrize("page", list(REGISTER_PAGES))
def test_the_register_and_heat_map_cost_the_same_for_ten_times_the_risks(client, hospital, make_user, page):
    """Issue 17's benchmark has 20,000 risks. A page of the register reads its 25 rows and one
    count, and the heat map one count per cell of both scores, whatever the number of risks: 30
    risks and 300 cost the risk manager (the whole organisation's register) the same queries."""
    manager = make_user(Role.RISK_MANAGER, "", username="risk.cost")
    name, unit = REGISTER_PAGES[page]
    url, query = reverse(name), {"unit": hospital.unit(unit).pk} if unit else {}
    client.force_login(manager)
    _more_risks(hospital, manager, 30)
    client.get(url, query)  # the first request of a session reads more than any later one
    counts = []
    for more in (0, 270):
        _more_risks(hospital, manager, more)
        with CaptureQueriesContext(connection) as captured:
            answer = client.get(url, query)
        assert answer.status_code == 200
        text, risks = answer.content.decode(), _open_risks(hospital, unit)
        counts.append(len(captured))
        if page == "heat map":  # every open risk in a cell, of the current score and of the target
            assert text.count(f"{risks} risks</small>") == 2
        else:
            assert f"{risks} risks, highest current score first" in text
            assert text.count('<a href="/risk/risks/') == min(risks, 25)
    assert Risk.objects.count() == 300 and _open_risks(hospital, unit) > 25
    assert counts[0] == counts[1], f"{counts[0]} queries for 30 risks, {counts[1]} for 300"


@pytest.mark.parametrize("who", [(Role.RISK_MANAGER, ""), (Role.CQO, ""), (Role.PATIENT_SAFETY_OFFICER, "rgh"),
                                 (Role.UNIT_MANAGER, "rgh/medicine"), (Role.BOARD_MEMBER, ""),
                                 (Role.STAFF_REPORTER, "rgh/4w")])
def test_an_organisations_register_holds_the_risks_the_person_may_open_there(hospital, make_user, who):
    """Whoever reads the whole organisation's register gets it by a plain filter (which the
    indexes serve); it holds what the risk's own rule lets each person open (their grants, their
    own risks, the board's), and no other organisation's risks."""
    from andon.platform.models import Facility, Organisation, Unit

    owner = make_user(Role.RISK_MANAGER, "", username="risk.owner")
    _more_risks(hospital, owner, 21)
    person = make_user(*who)
    Risk.objects.filter(pk__in=Risk.objects.order_by("pk").values("pk")[:2]).update(owner=person)
    other = Organisation.objects.create(name="Elsewhere Health")
    clinic = Facility.objects.create(organisation=other, name="Elsewhere Clinic", code="ec")
    ward_x = Unit.objects.create(facility=clinic, name="Ward X", code="x", kind="ward")
    Risk.objects.create(reference="R-99999", title="Elsewhere", cause="c", event="e", effect="f", category="clinical",
                        owner=person, organisation=other, facility=clinic, unit=ward_x, created_by=owner,
                        review_on=timezone.localdate(), **risk.scored(Matrix(), RISK_SCORES[0]))
    found = set(risk.visible_risks(person, hospital.organisation))
    expected = {r for r in Risk.objects.filter(organisation=hospital.organisation)
                if permissions.can(person, "risk.view_risk", r)}
    assert found == expected and found == set(risk.visible_risks(person).filter(organisation=hospital.organisation))
    assert 2 <= len(found) <= 21 and (len(found) == 21) == (who[0] in (Role.RISK_MANAGER, Role.CQO))


def test_who_am_i_reads_every_grant_with_its_scope_in_one_query(client, hospital, make_user,
                                                                 django_assert_max_num_queries):
    """`/api/v1/me` names each grant's scope: the organisation, facility or unit comes with the
    grants, not one query per grant (a person holding many roles made it 23 queries)."""
    person = make_user(*[(role, scope) for role in (Role.QUALITY_ANALYST, Role.CQO, Role.RISK_MANAGER)
                         for scope in ("", "rgh", "rgh/4w")])
    _, raw = services.issue_token(person, "feed")
    # The token (and its time of use, written at most once a minute), the grants.
    with django_assert_max_num_queries(3):
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200 and len(response.json()["grants"]) == 9
    assert {grant["scope"] for grant in response.json()["grants"]} == {
        "Riverside General Hospital", "4 West Medical and its children", hospital.organisation.name}
