"""The review the triage requires (an RCA for a SAC 3 or sentinel event, a local or aggregated
review where chosen) is done before the event moves to action planning or is closed, unless the
CQO or CMO waives it with a reason that is kept, audited and shown (issue 15, defect 1). Every
step that ends the review is tried through the pages and the API."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from andon.platform import permissions
from andon.platform import services as platform
from andon.platform.roles import Role
from andon.safety import rca, services
from andon.safety.models import ReporterMessage, Review, ReviewWaiver, SafetyEvent, Status

API = "/api/v1/safety"
REVIEW_DONE = services.REPORTER_STATUS_TEXT[Status.ACTION_PLANNING]


@pytest.fixture
def people(hospital, make_user, safety_taxonomy):
    class People:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.jo")
        officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.rgh", first_name="Pat",
                            last_name="Okafor")
        manager = make_user(Role.UNIT_MANAGER, "rgh/medicine", username="um.medicine", first_name="Uma",
                            last_name="Reyes")
        cqo = make_user(Role.CQO, "", username="cqo", first_name="Dana", last_name="Ortiz")

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


def reported(hospital, people) -> SafetyEvent:
    event, _ = services.submit_report(people.nurse, services.Report(
        kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=3), narrative="Patient found on the floor by the bed.",
        harm="severe", details={"injury_level": "major"}))
    return event


def triaged(hospital, people, review=Review.RCA, severity="catastrophic") -> SafetyEvent:
    return services.triage(people.officer, reported(hospital, people), services.Triage(
        category="fall", harm="severe", sac_severity=severity, sac_probability="occasional",
        sentinel=False, review=review, reason="Huddle"))


def move_on_page(client, event, action, **data):
    return client.post(reverse("safety:move_event", args=[event.pk]),
                       {"action": action, "reason": "Next step", **data})


def told(event) -> list[str]:
    return list(ReporterMessage.objects.filter(event=event).values_list("text", flat=True))


# --- an RCA ------------------------------------------------------------------------------------

def test_plan_actions_without_an_rca_is_refused_on_the_page_and_the_reporter_is_not_told_it_is_done(
        hospital, people, client):
    event = triaged(hospital, people)
    assert event.status == Status.INVESTIGATION and event.sac_score == 3
    client.force_login(people.officer)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert 'value="plan_actions"' not in page
    assert "its root cause analysis has not been started" in page

    response = move_on_page(client, event, "plan_actions")
    assert response.status_code == 400
    assert (f"The triage of {event.reference} requires a review and its root cause analysis has not been started."
            in response.content.decode())
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.INVESTIGATION
    assert REVIEW_DONE not in told(event)


def test_plan_actions_with_an_rca_begun_but_not_complete_is_refused_over_the_api(hospital, people, client, bearer):
    event = triaged(hospital, people)
    investigation = rca.start_investigation(people.officer, event)
    rca.add_root_cause(people.officer, investigation, "Alarm fatigue.")
    response = client.post(f"{API}/events/{event.pk}/moves", {"action": "plan_actions", "reason": "Skip it"},
                           content_type="application/json", headers=bearer(people.officer))
    assert response.status_code == 422
    assert "its root cause analysis is not complete (with at least one root cause)" in str(response.json())
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.INVESTIGATION
    got = client.get(f"{API}/events/{event.pk}", headers=bearer(people.officer)).json()
    assert got["review_outstanding"].startswith(f"The triage of {event.reference} requires a review")
    assert REVIEW_DONE not in told(event)


def test_the_service_refuses_every_caller(hospital, people):
    event = triaged(hospital, people)
    with pytest.raises(services.ValidationError, match="has not been started"):
        services.move(people.officer, event, "plan_actions", "Skip")
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.INVESTIGATION


def test_a_completed_rca_moves_the_event_on_and_the_reporter_is_told_the_review_is_done(hospital, people):
    event = triaged(hospital, people)
    investigation = rca.start_investigation(people.officer, event)
    rca.add_root_cause(people.officer, investigation, "Alarm fatigue.")
    rca.complete_investigation(people.officer, investigation, "Signed off")
    event.refresh_from_db()
    assert event.status == Status.ACTION_PLANNING
    assert told(event)[-1] == REVIEW_DONE
    assert services.review_outstanding(event) == ""


# --- a local review ------------------------------------------------------------------------------

def test_a_local_review_needs_its_findings_before_planning_or_closing(hospital, people, client, bearer):
    event = triaged(hospital, people, review=Review.LOCAL, severity="moderate")
    assert event.status == Status.REVIEW
    client.force_login(people.officer)
    for action in ("plan_actions", "close"):
        response = move_on_page(client, event, action, closing_summary="Thank you")
        assert response.status_code == 400, action
        assert "the findings of its local review by the unit are not recorded" in response.content.decode()
    api = client.post(f"{API}/events/{event.pk}/moves",
                      {"action": "close", "reason": "Skip", "closing_summary": "Thank you"},
                      content_type="application/json", headers=bearer(people.officer))
    assert api.status_code == 422
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.REVIEW

    # The unit's manager records the findings on the event page; then the event moves on.
    client.force_login(people.manager)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Record the findings" in page
    empty = client.post(reverse("safety:record_review_findings", args=[event.pk]), {"findings-findings": " "})
    assert empty.status_code == 400 and "Write what the review found" in empty.content.decode()
    done = client.post(reverse("safety:record_review_findings", args=[event.pk]),
                       {"findings-findings": "Bed alarm off at handover; checklist lacks it."})
    assert done.status_code == 302
    event.refresh_from_db()
    assert (event.review_findings, event.review_findings_by) == ("Bed alarm off at handover; checklist lacks it.",
                                                                 people.manager)
    client.force_login(people.officer)
    assert move_on_page(client, event, "plan_actions").status_code == 302
    event.refresh_from_db()
    assert event.status == Status.ACTION_PLANNING and told(event)[-1] == REVIEW_DONE
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Bed alarm off at handover; checklist lacks it." in page and "Uma Reyes" in page


def test_findings_over_the_api(hospital, people, client, bearer):
    event = triaged(hospital, people, review=Review.AGGREGATED, severity="moderate")
    response = client.post(f"{API}/events/{event.pk}/review-findings", {"findings": "Three falls, one cause."},
                           content_type="application/json", headers=bearer(people.officer))
    assert response.status_code == 200
    assert (response.json()["review_findings"], response.json()["review_outstanding"]) == ("Three falls, one cause.",
                                                                                            "")


# --- waiving -------------------------------------------------------------------------------------

def test_the_cqo_waives_the_rca_with_a_reason_kept_audited_and_shown(hospital, people, client, bearer):
    event = triaged(hospital, people)
    client.force_login(people.officer)
    assert client.post(reverse("safety:waive_review", args=[event.pk]),
                       {"waiver-reason": "Not needed"}).status_code == 403
    client.force_login(people.cqo)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Waive the required review" in page
    refused = client.post(reverse("safety:waive_review", args=[event.pk]), {"waiver-reason": ""})
    assert refused.status_code == 400 and "Say why the review is waived" in refused.content.decode()
    assert not ReviewWaiver.objects.exists()
    response = client.post(reverse("safety:waive_review", args=[event.pk]),
                           {"waiver-reason": "Same failure analysed in EV-2026-000003 last month"})
    assert response.status_code == 302
    waiver = ReviewWaiver.objects.get(event=event)
    assert (waiver.by, waiver.review, waiver.reason) == (people.cqo, Review.RCA,
                                                         "Same failure analysed in EV-2026-000003 last month")
    entry = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(ReviewWaiver),
                                 object_pk=str(waiver.pk), action=LogEntry.Action.CREATE)
    assert entry.actor == people.cqo

    client.force_login(people.officer)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Same failure analysed in EV-2026-000003 last month" in page and "Dana Ortiz" in page
    assert 'value="plan_actions"' in page
    assert move_on_page(client, event, "plan_actions").status_code == 302
    event.refresh_from_db()
    assert event.status == Status.ACTION_PLANNING
    assert REVIEW_DONE not in told(event)
    assert told(event)[-1] == services.REPORTER_ACTIONS_WITHOUT_REVIEW
    got = client.get(f"{API}/events/{event.pk}", headers=bearer(people.officer)).json()
    assert [(w["review"], w["by"], w["reason"]) for w in got["review_waivers"]] == [
        ("rca", str(people.cqo), "Same failure analysed in EV-2026-000003 last month")]


def test_waiving_over_the_api_and_a_new_triage_asks_again(hospital, people, client, bearer):
    event = triaged(hospital, people)
    response = client.post(f"{API}/events/{event.pk}/review-waiver", {"reason": "Analysed elsewhere"},
                           content_type="application/json", headers=bearer(people.cqo))
    assert response.status_code == 200 and response.json()["review_outstanding"] == ""
    again = client.post(f"{API}/events/{event.pk}/review-waiver", {"reason": "Twice"},
                        content_type="application/json", headers=bearer(people.cqo))
    assert again.status_code == 422 and "nothing to waive" in str(again.json())
    event = services.move(people.officer, event, "plan_actions", "Waived")
    event = services.move(people.officer, event, "close", "Done", "Thank you for reporting.")
    event = services.move(people.officer, event, "reopen", "New facts")
    event = services.triage(people.officer, event, services.Triage(
        category="fall", harm="severe", sac_severity="catastrophic", sac_probability="occasional", sentinel=False,
        review=Review.RCA, reason="New facts: RCA after all"))
    assert event.status == Status.INVESTIGATION
    with pytest.raises(services.ValidationError, match="has not been started"):
        services.move(people.officer, event, "plan_actions", "Skip again")


def test_a_waiver_holds_for_the_triage_in_force_after_a_reopening(hospital, people):
    event = triaged(hospital, people, review=Review.LOCAL, severity="moderate")
    services.waive_review(people.cqo, event, "Unit closed for refurbishment")
    event = services.move(people.officer, event, "close", "Waived", "Thank you for reporting.")
    event = services.move(people.officer, event, "reopen", "The unit reopened")
    assert event.status == Status.TRIAGE and event.review == Review.LOCAL
    # The waiver was given for the triage still in force: the step stands.
    event = services.move(people.officer, event, "close", "Still waived", "Thank you again.")
    assert event.status == Status.CLOSED


def test_findings_hold_for_the_triage_in_force_and_a_new_triage_asks_again(hospital, people, client):
    """As a waiver: a local review's findings answer the triage they were recorded after; a new
    triage after a reopening asks for the review again (and the unit manager's home lists it)."""
    event = triaged(hospital, people, review=Review.LOCAL, severity="moderate")
    event = services.record_review_findings(people.manager, event, "Bed alarm left off at night")
    event = services.move(people.officer, event, "close", "Reviewed", "Thank you for reporting.")
    event = services.move(people.officer, event, "reopen", "The family raised new facts")
    event = services.triage(people.officer, event, services.Triage(
        category="fall", harm="severe", sac_severity="moderate", sac_probability="occasional", sentinel=False,
        review=Review.LOCAL, reason="New facts: review again"))
    assert event.status == Status.REVIEW
    with pytest.raises(services.ValidationError, match="findings of its local review by the unit are not recorded"):
        services.move(people.officer, event, "close", "Skip", "Thank you again.")
    client.force_login(people.manager)
    assert f"Local review asked of your unit: {event.reference}" in client.get(reverse("home")).content.decode()
    event = services.record_review_findings(people.manager, event, "Second review: alarms now checked hourly")
    assert services.move(people.officer, event, "close", "Reviewed again", "Thank you again.").status == Status.CLOSED
