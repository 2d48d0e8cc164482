"""Lost updates and stale decisions (issue 14, items 3 and 11): two people acting from forms
opened on the same version of a record, on the pages and through the API; the state a service
acts on; lowering a SAC 3 or a sentinel after its RCA has started; the triage reason of "no
further review"; and the reporter's saved drafts."""

import re
import threading
import time
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from andon.actions import services as actions
from andon.actions.models import Action, Strength
from andon.platform import services as platform
from andon.platform.concurrency import Stale
from andon.platform.roles import Role
from andon.safety import rca, services
from andon.safety.models import Deescalation, ReportDraft, Review, SafetyEvent, Status

API = "/api/v1/safety"


@pytest.fixture
def people(hospital, make_user, safety_taxonomy):
    class People:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.jo")
        pat = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.pat", first_name="Pat", last_name="Okafor")
        sam = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.sam", first_name="Sam", last_name="Reyes")
        cqo = make_user(Role.CQO, "", username="cqo", first_name="Cleo", last_name="Quist")

    return People


# A fall with a hip fracture, as the nurse reports it.
FALL = dict(kind="incident", category="fall", narrative="Found on the floor by the bed.", harm="severe",
            details={"injury_level": "major"})


def report(hospital, nurse, **overrides):
    where_and_when = {"unit_id": hospital.unit("rgh/4w").pk, "occurred_at": timezone.now() - timedelta(hours=3)}
    return services.submit_report(nurse, services.Report(**{**FALL, **where_and_when, **overrides}))[0]


def decision(**overrides):
    fields = dict(category="fall", harm="severe", sac_severity="catastrophic", sac_probability="remote",
                  sentinel=True, review=Review.RCA, reason="Fall with a hip fracture: sentinel")
    fields.update(overrides)
    return services.Triage(**fields)


def version_in(page: str, action: str) -> str:
    """The version the form posting to `action` carries, as the browser would send it back."""
    form = page[page.index(f'action="{action}"' if action else 'class="action-form"'):]
    return re.search(r'name="(?:[\w-]+-)?version" value="(\d+)"', form[:form.index("</form>")]).group(1)


def token(user) -> dict:
    return {"Authorization": f"Bearer {platform.issue_token(user, 'test')[1]}"}


def under_rca(hospital, people):
    """A sentinel SAC 3 fall whose RCA has started."""
    event = services.triage(people.pat, report(hospital, people.nurse), decision())
    rca.start_investigation(people.pat, event)
    event.refresh_from_db()
    return event


def rca_done(officer, event):
    """Complete the event's RCA (with a root cause): the event moves to action planning."""
    investigation = rca.start_investigation(officer, event)
    rca.add_root_cause(officer, investigation, "Alarm fatigue.")
    rca.complete_investigation(officer, investigation, "RCA done")
    event.refresh_from_db()


# --- triage: two officers, one event ----------------------------------------------------------------

def test_two_officers_triaging_from_the_same_page_the_second_is_refused_and_the_first_kept(
        hospital, people, client):
    event = report(hospital, people.nurse)
    url, triage_url = reverse("safety:event", args=[event.pk]), reverse("safety:triage_event", args=[event.pk])
    client.force_login(people.pat)
    pats = version_in(client.get(url).content.decode(), triage_url)
    client.force_login(people.sam)
    sams = version_in(client.get(url).content.decode(), triage_url)
    assert pats == sams

    client.force_login(people.pat)
    response = client.post(triage_url, {"category": "fall", "harm": "severe", "sac_severity": "catastrophic",
                                        "sac_probability": "remote", "sentinel": "on", "review": "rca",
                                        "reason": "Sentinel: hip fracture", "version": pats})
    assert response.status_code == 302
    client.force_login(people.sam)
    response = client.post(triage_url, {"category": "fall", "harm": "mild", "sac_severity": "minor",
                                        "sac_probability": "remote", "review": "none",
                                        "reason": "Looks minor to me", "version": sams})
    page = response.content.decode()
    assert response.status_code == 409
    assert re.search(r"changed by Pat Okafor at \d{4}-\d\d-\d\d \d\d:\d\d since you opened it", page)

    event.refresh_from_db()
    assert (event.sac_score, event.is_sentinel, event.review, event.triaged_by) == (3, True, "rca", people.pat)
    assert event.status == Status.INVESTIGATION and event.rca_complete_due is not None
    assert event.triage_reason == "Sentinel: hip fracture"
    assert [t.by for t in event.transitions.all()] == [people.pat, people.pat]


def test_through_the_api_a_stale_triage_is_a_409_and_an_event_under_investigation_is_not_retriaged(
        hospital, people, client):
    event = report(hospital, people.nurse)
    path = f"{API}/events/{event.pk}"
    pat, sam = token(people.pat), token(people.sam)
    seen = client.get(path, headers=pat).json()["version"]
    assert client.get(path, headers=sam).json()["version"] == seen
    body = {"category": "fall", "harm": "severe", "sac_severity": "catastrophic", "sac_probability": "remote",
            "sentinel": True, "review": "rca", "reason": "Sentinel: hip fracture", "version": seen}
    first = client.post(f"{path}/triage", body, content_type="application/json", headers=pat)
    assert first.status_code == 200 and first.json()["version"] > seen
    lower = {**body, "harm": "mild", "sac_severity": "minor", "sentinel": False, "review": "none",
             "reason": "Looks minor to me"}
    stale = client.post(f"{path}/triage", lower, content_type="application/json", headers=sam)
    assert stale.status_code == 409
    assert "changed by Pat Okafor" in stale.json()["detail"]

    # A late re-triage, even on the current version, cannot lower an event under investigation.
    rca.start_investigation(people.pat, SafetyEvent.objects.get(pk=event.pk))
    current = client.get(path, headers=sam).json()["version"]
    late = client.post(f"{path}/triage", {**lower, "version": current}, content_type="application/json", headers=sam)
    assert late.status_code == 422
    assert "under investigation" in late.json()["detail"][0]["msg"]
    event.refresh_from_db()
    assert (event.sac_score, event.is_sentinel, event.review, event.status) == (3, True, "rca", Status.INVESTIGATION)
    assert event.rca_start_due is not None and event.rca_complete_due is not None


def test_a_reopened_event_whose_rca_started_is_not_lowered_by_triage(hospital, people):
    event = under_rca(hospital, people)
    rca_done(people.pat, event)
    services.move(people.pat, event, "close", "Actions agreed", closing_summary="Thank you.")
    services.move(people.pat, event, "reopen", "New information")
    with pytest.raises(ValidationError, match="Lower the SAC"):
        services.triage(people.pat, event, decision(sac_severity="minor", sentinel=False, review=Review.LOCAL))
    event.refresh_from_db()
    assert (event.sac_score, event.is_sentinel, event.review) == (3, True, "rca")
    assert event.rca_complete_due is not None


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_two_triages_at_the_same_moment_run_one_after_the_other(hospital, people):
    """Both officers send the version they read at the same moment: the second waits for the
    first's row lock, then finds the event changed, and is refused (without the lock it would
    read the old row and overwrite the first decision)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite writes one transaction at a time")
    event = report(hospital, people.nurse)
    outcome, pat_holds_the_lock, sam_is_waiting = {}, threading.Event(), threading.Event()

    def triage(officer, reason, hold):
        try:
            with transaction.atomic():
                services.triage(officer, SafetyEvent.objects.get(pk=event.pk), decision(reason=reason), event.version)
                if hold:
                    pat_holds_the_lock.set()
                    sam_is_waiting.wait(20)
            outcome[officer.username] = "triaged"
        except Stale as stale:
            outcome[officer.username] = stale.api_message
        finally:
            connection.close()

    pat = threading.Thread(target=triage, args=(people.pat, "Pat's decision", True))
    pat.start()
    assert pat_holds_the_lock.wait(20)
    sam = threading.Thread(target=triage, args=(people.sam, "Sam's decision", False))
    sam.start()
    deadline = time.monotonic() + 20
    while not _waiting_on_a_row_lock():
        assert time.monotonic() < deadline, "Sam's transaction never waited for Pat's"
        threading.Event().wait(0.02)
    sam_is_waiting.set()
    pat.join(20)
    sam.join(20)
    assert outcome["pso.pat"] == "triaged"
    assert outcome["pso.sam"].startswith(f"Safety event “{event.reference}” was changed by Pat Okafor")
    event.refresh_from_db()
    assert (event.triaged_by, event.triage_reason) == (people.pat, "Pat's decision")
    assert [t.by for t in event.transitions.all()] == [people.pat, people.pat]


def _waiting_on_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0] > 0


# --- lowering after the RCA started: its own step -----------------------------------------------------

def test_lowering_after_the_rca_started_needs_the_capability_and_a_reason_and_is_kept(hospital, people, client):
    event = under_rca(hospital, people)
    deadlines = (event.rca_start_due, event.rca_complete_due)
    lower = dict(sac_severity="moderate", sac_probability="remote", sentinel=False)
    with pytest.raises(PermissionDenied):
        services.deescalate(people.pat, event, reason="Not a fracture after all", **lower)
    with pytest.raises(ValidationError, match="Say why"):
        services.deescalate(people.cqo, event, reason="  ", **lower)
    # Clearing the sentinel flag alone keeps the RCA required (SAC 3): the deadlines stay.
    services.deescalate(people.cqo, event, sac_severity="catastrophic", sac_probability="remote", sentinel=False,
                        reason="The family's account: no permanent harm")
    event.refresh_from_db()
    assert (event.sac_score, event.is_sentinel, (event.rca_start_due, event.rca_complete_due)) == (3, False, deadlines)

    url = reverse("safety:event", args=[event.pk])
    client.force_login(people.cqo)
    page = client.get(url).content.decode()
    action = reverse("safety:deescalate_event", args=[event.pk])
    posted = {f"lower-{name}": value for name, value in lower.items() if value is not False}
    response = client.post(action, {**posted, "lower-reason": "X-ray: no fracture",
                                    "lower-version": version_in(page, action)})
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.sac_score, event.is_sentinel, event.rca_start_due, event.rca_complete_due) == (1, False, None, None)
    assert (event.status, event.review) == (Status.INVESTIGATION, "rca")  # the analysis itself goes on
    steps = list(Deescalation.objects.filter(event=event).values_list(
        "sac_before", "sentinel_before", "sac_after", "sentinel_after", "by", "reason"))
    assert steps == [(3, True, 3, False, people.cqo.pk, "The family's account: no permanent harm"),
                     (3, False, 1, False, people.cqo.pk, "X-ray: no fracture")]
    trail = LogEntry.objects.get_for_object(Deescalation.objects.last())
    assert trail.get().actor == people.cqo and trail.get().changes["reason"][1] == "X-ray: no fracture"
    page = client.get(url).content.decode()
    assert "X-ray: no fracture" in page and "RCA deadlines removed" in page
    client.force_login(people.pat)
    assert action not in client.get(url).content.decode()  # officers do not get the form
    assert client.post(action, {**posted, "lower-reason": "x"}).status_code == 403


def test_lowering_through_the_api_refuses_a_stale_version(hospital, people, client):
    event = under_rca(hospital, people)
    cqo = token(people.cqo)
    seen = client.get(f"{API}/events/{event.pk}", headers=cqo).json()["version"]
    rca_done(people.pat, event)
    body = {"sac_severity": "minor", "sac_probability": "remote", "sentinel": False, "reason": "No harm",
            "version": seen}
    response = client.post(f"{API}/events/{event.pk}/deescalation", body, content_type="application/json", headers=cqo)
    assert response.status_code == 409 and "Pat Okafor" in response.json()["detail"]
    body["version"] = client.get(f"{API}/events/{event.pk}", headers=cqo).json()["version"]
    response = client.post(f"{API}/events/{event.pk}/deescalation", body, content_type="application/json", headers=cqo)
    assert response.status_code == 200
    assert response.json()["deescalations"][0]["reason"] == "No harm" and response.json()["rca_complete_due"] is None


# --- the reason of "no further review" -----------------------------------------------------------------

def test_the_reason_for_no_further_review_is_kept_and_shown(hospital, people, client):
    event = report(hospital, people.nurse, kind="near_miss", category="other", harm="", details={})
    client.force_login(people.pat)
    url = reverse("safety:event", args=[event.pk])
    response = client.post(reverse("safety:triage_event", args=[event.pk]), {
        "category": "other", "sac_severity": "minor", "sac_probability": "remote", "review": "none",
        "reason": "Wet floor sign already in place; isolated"})
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.review, event.triage_reason) == ("none", "Wet floor sign already in place; isolated")
    assert "Wet floor sign already in place; isolated" in client.get(url).content.decode()
    assert client.get(f"{API}/events/{event.pk}", headers=token(people.pat)).json()["triage_reason"] == (
        "Wet floor sign already in place; isolated")


# --- actions: two editors, one action --------------------------------------------------------------

def test_two_people_editing_one_action_the_second_is_refused_and_nothing_of_the_first_lost(
        hospital, people, client, make_user):
    manager = make_user(Role.UNIT_MANAGER, "rgh/4w", username="um", first_name="Uma", last_name="Mehta")
    action = actions.create_action(people.pat, unit=hospital.unit("rgh/4w"), owner=manager, title="Bed alarms",
                                   due_date=timezone.localdate() + timedelta(days=30), strength=Strength.STRONGER,
                                   measure="Falls per 1,000 bed days")
    edit = reverse("actions:edit", args=[action.pk])
    client.force_login(people.pat)
    pats = version_in(client.get(edit).content.decode(), "")
    client.force_login(manager)
    umas = version_in(client.get(edit).content.decode(), "")
    form = {"title": "Bed alarms", "unit": action.unit_id, "owner": manager.pk, "strength": "stronger",
            "due_date": f"{action.due_date:%Y-%m-%d}", "measure": "Falls per 1,000 bed days", "description": ""}

    client.force_login(people.pat)
    assert client.post(edit, {**form, "title": "Bed and chair alarms", "version": pats}).status_code == 302
    client.force_login(manager)
    later = f"{action.due_date + timedelta(days=14):%Y-%m-%d}"
    response = client.post(edit, {**form, "due_date": later, "version": umas})
    assert response.status_code == 409
    assert re.search(r"changed by Pat Okafor at .* since you opened it", response.content.decode())
    action.refresh_from_db()
    assert (action.title, action.due_date) == ("Bed and chair alarms", form_date(form["due_date"]))

    # The API's status change carries the version it read, too.
    seen = client.get(f"/api/v1/actions/{action.pk}", headers=token(people.pat)).json()["version"]
    actions.set_status(manager, action, "in_progress")
    response = client.post(f"/api/v1/actions/{action.pk}/status", {"status": "cancelled", "note": "dup", "version": seen},
                           content_type="application/json", headers=token(people.pat))
    assert response.status_code == 409 and "Uma Mehta" in response.json()["detail"]
    assert Action.objects.get(pk=action.pk).status == "in_progress"


def form_date(text):
    from datetime import date

    return date.fromisoformat(text)


# --- the RCA: a finding added to an analysis completed meanwhile ------------------------------------------

def test_a_finding_sent_after_the_analysis_was_completed_elsewhere_is_refused(hospital, people):
    event = under_rca(hospital, people)
    investigation = rca.access_investigation(people.pat, event.pk)
    opened_elsewhere = rca.access_investigation(people.sam, event.pk)  # read before the completion
    rca.add_root_cause(people.pat, investigation, "Alarm fatigue.")
    rca.complete_investigation(people.pat, investigation, "Approved")
    with pytest.raises(ValidationError, match="complete"):
        rca.add_fact(people.sam, opened_elsewhere, timezone.now(), "A late fact")
    assert not opened_elsewhere.timeline.exists()


# --- drafts: a new report keeps the saved draft ------------------------------------------------------

def draft_in(page: str) -> str:
    """The draft the report form says it is written in (its hidden field)."""
    return re.search(r'name="draft"[^>]*value="(\d*)"', page).group(1)


def test_sending_a_new_report_keeps_the_draft_it_was_not_written_from(hospital, people, client):
    client.force_login(people.nurse)
    unit = hospital.unit("rgh/4w").pk
    page = client.post(reverse("safety:report"), {"save_draft": "1", "narrative": "Saved for later: pump alarm",
                                                  "draft": ""}).content.decode()
    saved = ReportDraft.objects.get(author=people.nurse)
    assert draft_in(page) == str(saved.pk)

    page = client.get(reverse("safety:report") + "?new=1").content.decode()
    assert draft_in(page) == ""
    # The new report's autosave makes its own draft, leaving the saved one as it was.
    fragment = client.post(reverse("safety:save_draft"), {"narrative": "A fall", "draft": ""}).content.decode()
    second = ReportDraft.objects.exclude(pk=saved.pk).get(author=people.nurse)
    assert draft_in(fragment) == str(second.pk) and "hx-swap-oob" in fragment
    response = client.post(reverse("safety:report"), {
        "kind": "near_miss", "category": "other", "unit": unit, "occurred_at": "2026-01-05T10:00",
        "narrative": "Spill on the corridor floor.", "draft": str(second.pk)})
    assert response.status_code == 200 and SafetyEvent.objects.get(narrative="Spill on the corridor floor.").reference in response.content.decode()
    assert list(ReportDraft.objects.filter(author=people.nurse).values_list("data__narrative", flat=True)) == [
        "Saved for later: pump alarm"]
    assert "Saved for later: pump alarm" in client.get(reverse("safety:report")).content.decode()
