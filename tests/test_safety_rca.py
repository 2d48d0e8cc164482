"""Root cause analysis: starting, the findings, the fishbone, completion."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.platform.roles import Role
from andon.safety import rca, services
from andon.safety.models import Review, Status, TeamMember


@pytest.fixture
def investigated(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "", username="pso")
    event, _ = services.submit_report(nurse, services.Report(
        kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=5), narrative="Fall at night; hip fracture.",
        harm="severe", details={"injury_level": "major"}))
    event = services.triage(officer, event, services.Triage(
        category="fall", harm="severe", sac_severity="catastrophic", sac_probability="occasional",
        sentinel=True, review=Review.RCA, reason="Fall with fracture is a sentinel event"))
    return event, officer


def test_an_rca_runs_from_start_to_action_planning(investigated, make_user):
    event, officer = investigated
    investigation = rca.start_investigation(officer, event)
    event.refresh_from_db()
    assert event.rca_started_at == investigation.started_at
    assert [(m.person, m.part) for m in investigation.team.all()] == [(officer, TeamMember.Part.LEAD)]
    expert = make_user(Role.STAFF_REPORTER, "rgh/icu", username="expert")
    rca.add_team_member(officer, investigation, expert, TeamMember.Part.EXPERT)
    # A team member works on the analysis without being a safety officer.
    rca.add_fact(expert, investigation, event.occurred_at, "Bed alarm was off.")
    rca.add_why_chain(officer, investigation, "Why was the alarm off?", ["Alarm fatigue", "Too many false alarms", ""])
    rca.add_factor(officer, investigation, "environment", "Bed alarm switched off")
    rca.add_factor(officer, investigation, "communication", "Handover omitted fall risk")
    with pytest.raises(ValidationError, match="root cause"):
        rca.complete_investigation(officer, investigation, "done")
    rca.add_root_cause(officer, investigation, "Alarm fatigue led staff to disable bed alarms, so the fall went unnoticed.")
    rca.complete_investigation(officer, investigation, "Analysis approved")
    event.refresh_from_db()
    assert event.status == Status.ACTION_PLANNING and investigation.completed_at is not None
    assert investigation.why_chains.get().whys == ["Alarm fatigue", "Too many false alarms"]
    bones = {b["code"]: b["factors"] for b in rca.fishbone(investigation)}
    assert bones["environment"] == ["Bed alarm switched off"] and bones["training"] == []
    with pytest.raises(ValidationError, match="complete"):
        rca.add_fact(officer, investigation, timezone.now(), "late fact")


def test_outsiders_cannot_work_on_an_rca_and_bad_findings_are_refused(investigated, make_user):
    event, officer = investigated
    investigation = rca.start_investigation(officer, event)
    with pytest.raises(PermissionDenied):
        rca.add_fact(make_user(Role.STAFF_REPORTER, "rgh/4w"), investigation, timezone.now(), "x")
    with pytest.raises(ValidationError, match="Choose one of"):
        rca.add_factor(officer, investigation, "astrology", "Mercury in retrograde")
    with pytest.raises(ValidationError):
        rca.add_why_chain(officer, investigation, "Why?", [" "])
    with pytest.raises(ValidationError):
        rca.add_why_chain(officer, investigation, "Why?", [str(i) for i in range(8)])
    with pytest.raises(ValidationError):
        rca.link_related(officer, investigation, event)


def test_only_events_under_investigation_get_an_rca(hospital, make_user, safety_taxonomy):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    event, _ = services.submit_report(make_user(Role.STAFF_REPORTER, "rgh/4w"), services.Report(
        kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk, occurred_at=timezone.now(),
        narrative="Spill."))
    with pytest.raises(ValidationError, match="under investigation"):
        rca.start_investigation(officer, event)


def test_the_fishbone_page_and_svg(client, investigated):
    event, officer = investigated
    investigation = rca.start_investigation(officer, event)
    rca.add_factor(officer, investigation, "rules", "Falls bundle <not> applied")
    client.force_login(officer)
    page = client.get(reverse("safety:investigation", args=[event.pk]))
    assert page.status_code == 200 and "Falls bundle &lt;not&gt; applied" in page.content.decode()
    svg = client.get(reverse("safety:fishbone_svg", args=[event.pk]))
    assert svg["Content-Type"] == "image/svg+xml"
    tree = ET.fromstring(svg.content)
    texts = [t.text for t in tree.iter("{http://www.w3.org/2000/svg}text")]
    assert "• Falls bundle <not> applied" in texts and any("Rules, policies" in (t or "") for t in texts)
    assert b"style=" not in svg.content


def test_similar_events_are_offered(investigated, hospital, make_user):
    event, officer = investigated
    nurse = make_user(Role.STAFF_REPORTER, "rgh/5e")
    similar, _ = services.submit_report(nurse, services.Report(
        kind="near_miss", category="fall", unit_id=hospital.unit("rgh/5e").pk, occurred_at=timezone.now(),
        narrative="Near fall.", details={"injury_level": "none"}))
    services.submit_report(nurse, services.Report(
        kind="near_miss", category="fall", unit_id=hospital.unit("lch/2a").pk, occurred_at=timezone.now(),
        narrative="Near fall at the other hospital.", details={"injury_level": "none"}))
    assert list(rca.similar_events(officer, event)) == [similar]


# --- who reads the analysis ----------------------------------------------------------------------

def _bearer(user):
    from andon.platform.models import AccessToken

    _, raw = AccessToken.issue(user, "rca test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_the_reporter_reads_feedback_not_the_analysis(client, investigated):
    """Reporting the event opens the reporter's own report (feedback), not its RCA nor its triage."""
    from auditlog.models import LogEntry

    event, officer = investigated
    investigation = rca.start_investigation(officer, event)
    rca.add_factor(officer, investigation, "environment", "CONFIDENTIAL-FACTOR bed alarm off")
    nurse = event.reporter
    with pytest.raises(PermissionDenied):
        rca.open_investigation(nurse, event)
    client.force_login(nurse)
    for url in (reverse("safety:investigation", args=[event.pk]), reverse("safety:fishbone_svg", args=[event.pk])):
        response = client.get(url)
        assert response.status_code == 403 and b"CONFIDENTIAL-FACTOR" not in response.content
    assert client.get(reverse("safety:my_report", args=[event.pk])).status_code == 200
    client.logout()
    api = client.get(f"/api/v1/safety/events/{event.pk}/investigation", **_bearer(nurse))
    assert api.status_code == 403 and b"CONFIDENTIAL-FACTOR" not in api.content
    detail = client.get(f"/api/v1/safety/events/{event.pk}", **_bearer(nurse))
    assert detail.status_code == 403 and f"/my-reports/{event.pk}" in detail.json()["detail"]
    assert b"sac_score" not in detail.content
    listed = client.get("/api/v1/safety/events", **_bearer(nurse)).json()
    assert [row["id"] for row in listed["items"]] == []
    mine = client.get(f"/api/v1/safety/my-reports/{event.pk}", **_bearer(nurse))
    assert mine.status_code == 200 and "sac_score" not in mine.json()
    reads = LogEntry.objects.filter(object_pk=str(event.pk), action=LogEntry.Action.ACCESS, actor=nurse)
    assert not reads.filter(additional_data__reason="read the root cause analysis").exists()


def test_a_team_member_outside_the_safety_office_reads_and_works_on_the_analysis(client, investigated, make_user):
    from auditlog.models import LogEntry

    event, officer = investigated
    investigation = rca.start_investigation(officer, event)
    pharmacist = make_user(Role.STAFF_REPORTER, "lch/2a", username="pharmacist")
    client.force_login(pharmacist)
    assert client.get(reverse("safety:investigation", args=[event.pk])).status_code == 403  # not yet on the team
    rca.add_team_member(officer, investigation, pharmacist, TeamMember.Part.EXPERT)
    page = client.get(reverse("safety:investigation", args=[event.pk]))
    assert page.status_code == 200 and event.reference in page.content.decode()
    assert client.get(reverse("safety:fishbone_svg", args=[event.pk])).status_code == 200
    added = client.post(reverse("safety:add_to_investigation", args=[event.pk, "fact"]),
                        {"at": "2026-01-05T10:00", "fact": "Night pharmacy was closed."})
    assert added.status_code == 302
    assert investigation.timeline.get().fact == "Night pharmacy was closed."
    assert client.get(reverse("safety:event", args=[event.pk])).status_code == 403  # the event page stays closed
    client.logout()
    api = client.get(f"/api/v1/safety/events/{event.pk}/investigation", **_bearer(pharmacist))
    assert api.status_code == 200 and [f["fact"] for f in api.json()["timeline"]] == ["Night pharmacy was closed."]
    reads = LogEntry.objects.filter(object_pk=str(event.pk), action=LogEntry.Action.ACCESS, actor=pharmacist)
    assert reads.count() >= 3  # page, fishbone, API: every read of the analysis is recorded


def test_a_reporter_on_the_team_does_not_read_the_triage_of_their_own_reports(client, investigated, hospital,
                                                                              make_user):
    """Similar events are those the caller sees the analysis of: a team member's own report (a
    sentinel event, SAC 1) is not listed with its triage, on the page or through the API."""
    event, officer = investigated
    investigation = rca.start_investigation(officer, event)
    nurse = event.reporter
    own, _ = services.submit_report(nurse, services.Report(
        kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(days=3), narrative="Another fall.", harm="severe",
        details={"injury_level": "major"}))
    services.triage(officer, own, services.Triage(category="fall", harm="severe", sac_severity="catastrophic",
                                                  sac_probability="occasional", sentinel=True, review=Review.RCA,
                                                  reason="Sentinel"))
    rca.add_team_member(officer, investigation, nurse, TeamMember.Part.MEMBER)
    assert list(rca.similar_events(nurse, event)) == []
    assert list(rca.similar_events(officer, event)) == [own]  # the officer sees its triage
    api = client.get(f"/api/v1/safety/events/{event.pk}/investigation/similar", **_bearer(nurse))
    assert api.status_code == 200 and api.json() == []
    client.force_login(nurse)
    page = client.get(reverse("safety:investigation", args=[event.pk]))
    assert page.status_code == 200 and own.reference not in page.content.decode()


def test_own_reports_outside_ones_scope_show_no_triage_in_lists_or_on_the_home_page(client, investigated, hospital,
                                                                                    make_user):
    """A manager or officer who reported an event outside their scope reads it as its reporter:
    not in the event list with its SAC and sentinel flag, not as an overdue RCA on their home page."""
    _event, officer = investigated
    manager = make_user(Role.UNIT_MANAGER, "rgh/icu")
    lakeside_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "lch")
    reported = []
    for reporter in (manager, lakeside_officer):
        own, _ = services.submit_report(reporter, services.Report(
            kind="incident", category="fall", unit_id=hospital.unit("rgh/5e").pk,
            occurred_at=timezone.now() - timedelta(hours=2), narrative="Fall.", harm="severe",
            details={"injury_level": "major"}))
        reported.append(services.triage(officer, own, services.Triage(
            category="fall", harm="severe", sac_severity="catastrophic", sac_probability="occasional", sentinel=True,
            review=Review.RCA, reason="Sentinel")))
    services.SafetyEvent.objects.filter(pk__in=[e.pk for e in reported]).update(
        rca_start_due=timezone.now() - timedelta(days=1))
    client.force_login(manager)
    listed = client.get(reverse("safety:event_list")).content.decode()
    assert reported[0].reference not in listed and "Sentinel" not in listed
    client.force_login(lakeside_officer)
    home = client.get(reverse("home")).content.decode()
    assert f"RCA overdue: {reported[1].reference}" not in home and "start due" not in home
    assert f"Feedback on your report {reported[1].reference}" in home  # as its reporter: the feedback
