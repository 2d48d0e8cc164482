"""The officers' pages: the triage queue, triage and the workflow, who sees the reporter, the
audit of every read, feedback statistics, conduct concerns and attachments."""

import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from andon.platform.roles import Role
from andon.safety import services
from andon.safety.models import Attachment, ConductConcern, ReporterMessage, Review, SafetyEvent, Status, Transition

SAC3_NEEDS_RCA = "A SAC 3 or sentinel event requires a root cause analysis."


@pytest.fixture
def people(hospital, make_user, safety_taxonomy):
    class People:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.jo", first_name="Jo", last_name="Quinlan")
        officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.rgh", first_name="Pat", last_name="Okafor")
        lakeside_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "lch", username="pso.lch")
        manager = make_user(Role.UNIT_MANAGER, "rgh/medicine", username="um.medicine")
        analyst = make_user(Role.QUALITY_ANALYST, "", username="analyst")
        board = make_user(Role.BOARD_MEMBER, "", username="board")
        cmo = make_user(Role.CMO, "", username="cmo")
        staff_office = make_user(Role.MEDICAL_STAFF_OFFICE, "rgh", username="mso")

    return People


def submit(hospital, user, unit="rgh/4w", uploads=(), **overrides):
    fields = dict(kind="incident", category="fall", unit_id=hospital.unit(unit).pk,
                  occurred_at=timezone.now() - timedelta(hours=3), narrative="Patient found on the floor by the bed.",
                  harm="mild", details={"injury_level": "minor", "assisted": "no"})
    fields.update(overrides)
    event, _ = services.submit_report(user, services.Report(**fields), uploads)
    return event


def triage_post(**overrides):
    data = {"category": "fall", "harm": "moderate", "sac_severity": "catastrophic", "sac_probability": "remote",
            "review": "rca", "reason": "Discussed at the morning safety huddle"}
    data.update(overrides)
    return data


def reads_of(record, actor):
    return LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(record), object_pk=str(record.pk),
                                   action=LogEntry.Action.ACCESS, actor=actor)


# --- the queue ------------------------------------------------------------------------------------

def test_the_queue_lists_only_the_officers_units_oldest_first_and_marks_long_waits(hospital, people, client):
    rgh_event = submit(hospital, people.nurse)
    old = submit(hospital, people.nurse, unit="lch/2a")
    SafetyEvent.objects.filter(pk=old.pk).update(reported_at=timezone.now() - timedelta(days=5, hours=1))
    anonymous = submit(hospital, people.nurse, unit="lch/2a", kind="near_miss", harm="", anonymous=True)
    recent = submit(hospital, people.nurse, unit="lch/ed")

    client.force_login(people.lakeside_officer)
    response = client.get(reverse("safety:triage_queue"))
    assert response.status_code == 200
    page = response.content.decode()
    assert rgh_event.reference not in page
    positions = [page.index(e.reference) for e in (old, anonymous, recent)]
    assert positions == sorted(positions)  # oldest first (the anonymous one keeps only the day)
    assert re.findall(r"waiting \d+ days", page) == ["waiting 5 days"]
    assert page.count("Anonymous</span>") == 1
    assert "Fall" in page and "Mild harm" in page

    client.force_login(people.officer)
    page = client.get(reverse("safety:triage_queue")).content.decode()
    assert rgh_event.reference in page and old.reference not in page


def test_the_queue_is_for_officers_only(hospital, people, client):
    for user in (people.manager, people.analyst, people.cmo):
        client.force_login(user)
        assert client.get(reverse("safety:triage_queue")).status_code == 403


# --- triage -----------------------------------------------------------------------------------------

def test_a_sac_3_without_an_rca_is_refused_with_the_reason(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    response = client.post(reverse("safety:triage_event", args=[event.pk]), triage_post(review="local"))
    assert response.status_code == 400
    assert SAC3_NEEDS_RCA in response.content.decode()
    event.refresh_from_db()
    assert (event.status, event.sac_score, event.review) == (Status.SUBMITTED, None, "")
    assert not Transition.objects.filter(event=event).exists()


def test_triage_errors_are_shown_next_to_their_fields(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    response = client.post(reverse("safety:triage_event", args=[event.pk]),
                           {"category": "fall", "harm": "", "sac_severity": "minor", "review": "none", "reason": " "})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Confirm the harm." in page
    assert "Choose the severity and the probability." in page
    assert "Say why (it is kept in the event&#x27;s history)." in page


def test_triage_as_sac_3_with_an_rca_starts_the_investigation_with_its_deadlines(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    response = client.post(reverse("safety:triage_event", args=[event.pk]), triage_post())
    assert response.status_code == 302 and response["Location"] == reverse("safety:event", args=[event.pk])

    event.refresh_from_db()
    assert (event.status, event.sac_scheme, event.sac_score, event.review) == (
        Status.INVESTIGATION, "va-ncps", 3, Review.RCA)
    assert (event.harm, event.triaged_by) == ("moderate", people.officer)
    assert event.rca_start_due - event.triaged_at == timedelta(hours=72)
    assert event.rca_complete_due - event.triaged_at == timedelta(days=45)
    history = [(t.source, t.target, t.by, t.reason) for t in event.transitions.all()]
    assert history == [
        (Status.SUBMITTED, Status.TRIAGE, people.officer, "Triage started."),
        (Status.TRIAGE, Status.INVESTIGATION, people.officer, "Discussed at the morning safety huddle"),
    ]

    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "In triage → Under investigation (RCA)" in page
    assert "Discussed at the morning safety huddle" in page and "Pat Okafor" in page
    assert "SAC 3" in page and "VA NCPS Safety Assessment Code: 3 is the highest risk" in page and "va-ncps" not in page
    assert f"{event.rca_start_due:%Y-%m-%d %H:%M}" in page and f"{event.rca_complete_due:%Y-%m-%d %H:%M}" in page
    assert "Overdue" not in page
    assert 'action="%s"' % reverse("safety:triage_event", args=[event.pk]) not in page  # triaged: no form
    # Issue 15: "Plan actions" waits for the RCA (or a waiver); the page says why.
    assert 'value="plan_actions"' not in page and 'value="close"' not in page
    assert "its root cause analysis has not been started" in page


def test_the_event_page_tells_the_changes_of_the_record_in_words(hospital, people, client):
    """Friction 12: who changed what, by name and label; no ids, field names or ∅."""
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    client.post(reverse("safety:triage_event", args=[event.pk]), triage_post())
    response = client.get(reverse("safety:event", args=[event.pk]))
    lines = response.context["changes"]
    said = [sentence for line in lines for sentence in line.changes]
    assert lines[0].who == "Pat Okafor"
    for sentence in ("Harm changed from Mild harm to Moderate harm", "SAC set to SAC 3",
                     "SAC severity set to Catastrophic", "SAC probability set to Remote",
                     "Review set to Root cause analysis (RCA²)", "Triaged by set to Pat Okafor"):
        assert sentence in said
    shown = response.content.decode().split('id="changes-heading"')[1].split("</section>")[0]
    assert "Harm changed from Mild harm to Moderate harm" in shown
    assert "∅" not in shown and "triaged_by" not in shown and "sac_score" not in shown


def test_the_triage_form_shows_the_definitions_and_the_matrix(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Remote: sometime in 5 to 30 years" in page
    assert "Moderate: increased length of stay or level of care for 1 or 2 patients" in page
    assert "Probability ↓ / Severity →" in page and page.count("SAC 3</td>") == 5
    assert "reaches the patient and results in death, permanent harm, or severe temporary harm" in page
    assert "Severe harm: Bodily or psychological injury" in page


def test_the_sac_matrix_marks_the_chosen_cell_on_the_event_page_and_a_refused_triage(hospital, people, client):
    """Friction 17: the cell of the SAC chosen is marked (and named for screen readers)."""
    chosen = re.compile(r'<td data-severity="(\w+)" data-probability="(\w+)" class="[^"]*sac-chosen" aria-current="true">SAC (\d)</td>')
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    assert chosen.findall(client.get(reverse("safety:event", args=[event.pk])).content.decode()) == []
    refused = client.post(reverse("safety:triage_event", args=[event.pk]),
                          triage_post(sac_severity="major", sac_probability="occasional", reason=" "))
    assert refused.status_code == 400
    assert chosen.findall(refused.content.decode()) == [("major", "occasional", "2")]
    client.post(reverse("safety:triage_event", args=[event.pk]), triage_post())
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert chosen.findall(page) == [("catastrophic", "remote", "3")]


def test_close_needs_a_closing_summary_then_reopen(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    client.post(reverse("safety:triage_event", args=[event.pk]),
                triage_post(sac_severity="minor", sac_probability="remote", review="none", reason="Isolated, no harm"))
    event.refresh_from_db()
    assert (event.status, event.sac_score, event.review) == (Status.TRIAGE, 1, Review.NONE)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert 'value="close"' in page and 'value="reopen"' not in page and 'value="plan_actions"' not in page
    assert "Written for the reporter" in page

    move = reverse("safety:move_event", args=[event.pk])
    response = client.post(move, {"action": "close", "reason": "No further review"})
    assert response.status_code == 400
    assert "Write the closing summary for the reporter." in response.content.decode()
    event.refresh_from_db()
    assert event.status == Status.TRIAGE

    response = client.post(move, {"action": "close", "reason": "No further review",
                                  "closing_summary": "Thank you. The bed alarm check is now part of the handover."})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == Status.CLOSED and event.closed_at is not None
    closing = ReporterMessage.objects.get(event=event, is_closing_summary=True)
    assert closing.text == "Thank you. The bed alarm check is now part of the handover."
    last = event.transitions.last()
    assert (last.source, last.target, last.by, last.reason) == (Status.TRIAGE, Status.CLOSED, people.officer,
                                                                "No further review")
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert 'value="reopen"' in page and 'value="close"' not in page

    response = client.post(move, {"action": "reopen", "reason": "Second fall on the same bed"})
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.status, event.closed_at) == (Status.TRIAGE, None)
    assert event.transitions.last().reason == "Second fall on the same bed"


def test_a_step_not_possible_from_the_status_is_refused(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    response = client.post(reverse("safety:move_event", args=[event.pk]), {"action": "plan_actions", "reason": "x"})
    assert response.status_code == 400
    assert "You cannot plan actions for an event that is submitted." in response.content.decode()
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.SUBMITTED


def test_plan_actions_from_investigation(hospital, people, client):
    # Issue 15: not before the RCA is complete, unless leadership waived it (test_safety_review_required.py).
    event = submit(hospital, people.nurse)
    client.force_login(people.officer)
    client.post(reverse("safety:triage_event", args=[event.pk]), triage_post())
    response = client.post(reverse("safety:move_event", args=[event.pk]),
                           {"action": "plan_actions", "reason": "RCA signed off"})
    assert response.status_code == 400
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.INVESTIGATION
    services.waive_review(people.cmo, SafetyEvent.objects.get(pk=event.pk), "Analysed with EV-1 last week")
    response = client.post(reverse("safety:move_event", args=[event.pk]),
                           {"action": "plan_actions", "reason": "RCA waived"})
    assert response.status_code == 302
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.ACTION_PLANNING


def test_triage_and_moves_need_the_officer_over_the_event(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.lakeside_officer)
    assert client.post(reverse("safety:triage_event", args=[event.pk]), triage_post()).status_code == 403
    assert client.post(reverse("safety:move_event", args=[event.pk]),
                       {"action": "close", "reason": "x", "closing_summary": "y"}).status_code == 403
    client.force_login(people.manager)
    assert client.post(reverse("safety:triage_event", args=[event.pk]), triage_post()).status_code == 403
    assert SafetyEvent.objects.get(pk=event.pk).status == Status.SUBMITTED
    assert client.post(reverse("safety:triage_event", args=[999999]), triage_post()).status_code == 403
    client.force_login(people.officer)
    assert client.post(reverse("safety:triage_event", args=[999999]), triage_post()).status_code == 404


# --- reading an event ------------------------------------------------------------------------------

def test_the_unit_manager_sees_the_reporter_only_when_the_reporter_agreed(hospital, people, client):
    hidden = submit(hospital, people.nurse, narrative="Found on the floor <script>alert(1)</script>")
    shared = submit(hospital, people.nurse, share_identity=True)
    anonymous = submit(hospital, people.nurse, anonymous=True)
    client.force_login(people.manager)

    page = client.get(reverse("safety:event", args=[hidden.pk])).content.decode()
    assert "Hidden (confidential)" in page and "Quinlan" not in page and "nurse.jo" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "Injury from the fall" in page and "Minor (bruise, abrasion, dressing or ice)" in page
    assert "Was the fall assisted by staff?" in page
    assert 'value="close"' not in page and "Record the triage" not in page  # managers neither triage nor move

    page = client.get(reverse("safety:event", args=[shared.pk])).content.decode()
    assert "Jo Quinlan" in page and "Hidden (confidential)" not in page

    page = client.get(reverse("safety:event", args=[anonymous.pk])).content.decode()
    assert ">Anonymous<" in page and "Quinlan" not in page and "Hidden (confidential)" not in page

    client.force_login(people.officer)  # safety.view_reporter
    assert "Jo Quinlan" in client.get(reverse("safety:event", args=[hidden.pk])).content.decode()
    page = client.get(reverse("safety:event", args=[anonymous.pk])).content.decode()
    assert ">Anonymous<" in page and "Quinlan" not in page


def test_every_open_is_audited_with_the_reader(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.manager)
    assert reads_of(event, people.manager).count() == 0
    client.get(reverse("safety:event", args=[event.pk]))
    client.get(reverse("safety:event", args=[event.pk]))
    entries = list(reads_of(event, people.manager))
    assert len(entries) == 2 and entries[0].action == 3
    assert entries[0].additional_data == {"reason": "viewed"}

    client.force_login(people.officer)
    client.get(reverse("safety:event_list"))
    client.get(reverse("safety:triage_queue"))
    assert reads_of(event, people.officer).count() == 0  # lists are not reads of each event


def test_those_outside_the_event_get_403_and_nothing_is_recorded(hospital, people, client):
    event = submit(hospital, people.nurse)
    for user in (people.analyst, people.board, people.lakeside_officer, people.staff_office):
        client.force_login(user)
        assert client.get(reverse("safety:event", args=[event.pk])).status_code == 403
        assert reads_of(event, user).count() == 0
    client.force_login(people.officer)
    assert client.get(reverse("safety:event", args=[999999])).status_code == 404


def test_the_reporter_is_sent_to_the_reporters_page(hospital, people, client):
    event = submit(hospital, people.nurse)
    client.force_login(people.nurse)
    response = client.get(reverse("safety:event", args=[event.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("safety:my_report", args=[event.pk])


# --- the event list --------------------------------------------------------------------------------

def test_the_event_list_filters_and_flags_overdue_rcas(hospital, people, client):
    late = submit(hospital, people.nurse)
    fine = submit(hospital, people.nurse, kind="near_miss", harm="", unit="rgh/ed")
    elsewhere = submit(hospital, people.nurse, unit="lch/2a")
    client.force_login(people.officer)
    client.post(reverse("safety:triage_event", args=[late.pk]), triage_post())
    due = timezone.now() - timedelta(days=1)
    SafetyEvent.objects.filter(pk=late.pk).update(rca_start_due=due)

    page = client.get(reverse("safety:event_list")).content.decode()
    assert late.reference in page and fine.reference in page and elsewhere.reference not in page
    assert page.count("RCA overdue</span>") == 1 and f"start was due {due:%Y-%m-%d}" in page

    page = client.get(reverse("safety:event_list"), {"overdue": "on"}).content.decode()
    assert late.reference in page and fine.reference not in page
    page = client.get(reverse("safety:event_list"), {"kind": "near_miss"}).content.decode()
    assert fine.reference in page and late.reference not in page
    page = client.get(reverse("safety:event_list"), {"unit": hospital.unit("rgh/medicine").pk}).content.decode()
    assert late.reference in page and fine.reference not in page
    page = client.get(reverse("safety:event_list"), {"status": "investigation"}).content.decode()
    assert late.reference in page and fine.reference not in page
    page = client.get(reverse("safety:event_list"), {"category": "medication"}).content.decode()
    assert late.reference not in page and "No events match." in page

    client.force_login(people.analyst)
    assert client.get(reverse("safety:event_list")).status_code == 403


# --- feedback statistics ---------------------------------------------------------------------------

def test_feedback_share_counts_reports_old_enough_to_judge(hospital, people, client):
    now = timezone.now()
    events = [submit(hospital, people.nurse) for _ in range(4)] + [submit(hospital, people.nurse, unit="lch/2a")]
    met_1, met_2, missed, young, other = events
    old = now - timedelta(days=20)
    SafetyEvent.objects.filter(pk__in=[met_1.pk, met_2.pk, missed.pk, other.pk]).update(reported_at=old)
    SafetyEvent.objects.filter(pk=met_1.pk).update(first_feedback_at=old + timedelta(days=2))
    SafetyEvent.objects.filter(pk=met_2.pk).update(first_feedback_at=old + timedelta(days=14))
    SafetyEvent.objects.filter(pk=missed.pk).update(first_feedback_at=old + timedelta(days=15))
    SafetyEvent.objects.filter(pk=young.pk).update(reported_at=now - timedelta(days=2))

    client.force_login(people.officer)  # rgh only: the lch report is not counted
    response = client.get(reverse("safety:feedback_stats"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Overall: <strong>2 of 3</strong> (67%)" in page
    assert "within 14 days of reporting" in page
    assert "4 West Medical" in page and "2A Medical" not in page

    client.force_login(people.manager)
    assert client.get(reverse("safety:feedback_stats")).status_code == 403


# --- conduct concerns --------------------------------------------------------------------------------

def test_conduct_concerns_are_for_the_cmo_and_medical_staff_office_only(hospital, people, client):
    concern = services.raise_conduct_concern(people.nurse, unit_id=hospital.unit("rgh/4w").pk,
                                             about="Dr Example, registrar",
                                             narrative="Shouted at a nurse <b>during</b> the round.")
    lakeside = services.raise_conduct_concern(people.nurse, unit_id=hospital.unit("lch/2a").pk,
                                              about="Someone at Lakeside", narrative="Another concern.")
    for user in (people.staff_office, people.cmo):
        client.force_login(user)
        response = client.get(reverse("safety:conduct_concerns"))
        page = response.content.decode()
        assert response.status_code == 200
        assert "Dr Example, registrar" in page and "Shouted at a nurse &lt;b&gt;during&lt;/b&gt; the round." in page
        assert "Jo Quinlan" in page and "Open" in page
        assert reads_of(concern, user).get().additional_data == {"reason": "conduct concern list"}
    assert "Someone at Lakeside" in page  # the CMO's scope is the organisation
    client.force_login(people.staff_office)  # rgh only
    assert "Someone at Lakeside" not in client.get(reverse("safety:conduct_concerns")).content.decode()
    assert reads_of(lakeside, people.staff_office).count() == 0

    for user in (people.officer, people.manager, people.analyst):
        client.force_login(user)
        assert client.get(reverse("safety:conduct_concerns")).status_code == 403
    client.force_login(people.officer)
    assert "Dr Example" not in client.get(reverse("safety:triage_queue")).content.decode()
    assert ConductConcern.objects.count() == 2


# --- attachments ----------------------------------------------------------------------------------------

def test_an_attachment_is_downloaded_only_by_those_who_may_see_the_event(hospital, people, client):
    upload = SimpleUploadedFile("bed-rail.png", b"\x89PNG\r\n\x1a\n" + b"0" * 50, content_type="image/png")
    event = submit(hospital, people.nurse, uploads=[services.Upload(upload.name, upload.content_type, upload.size,
                                                                    upload)])
    other = submit(hospital, people.nurse)
    item = Attachment.objects.get(event=event)
    url = reverse("safety:attachment", args=[event.pk, item.pk])

    client.force_login(people.manager)
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert url in page and "bed-rail.png" in page
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="bed-rail.png"'
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert reads_of(item, people.manager).get().additional_data == {"reason": "downloaded attachment"}

    for user in (people.analyst, people.lakeside_officer, people.board):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert reads_of(item, user).count() == 0
    client.force_login(people.officer)
    assert client.get(reverse("safety:attachment", args=[other.pk, item.pk])).status_code == 404
