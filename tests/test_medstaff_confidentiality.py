"""Peer review is confidential (issue 19 item 6; DOMAIN.md §9, §10): as each role, the content of
a peer review case (unique marker strings in its summary, the reviewer's narrative and notes, and
the committee's words) never appears in the safety event it came from, the safety lists, exports
(the CSV and the de-identified export of the API) and API, the audit trail's page and API, the
people searches, the home page and notifications of those who may not read it; only the
committee and the medical staff office open the case; every read of it is audited."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from andon.medstaff import peer_review
from andon.medstaff.models import PeerReviewCase
from andon.medstaff.practitioners import create_practitioner
from andon.platform.roles import Role
from andon.safety import services as safety

SUMMARY = "QZX7-SUMMARY-peer"
NARRATIVE = "QZX7-NARRATIVE-peer"
NOTE = "QZX7-NOTE-peer"
WORDS = "QZX7-COMMITTEE-peer"
MARKERS = (SUMMARY, NARRATIVE, NOTE, WORDS, "QZX7")
READERS = {Role.PEER_REVIEW_COMMITTEE, Role.MEDICAL_STAFF_OFFICE}


@pytest.fixture
def reviewed(hospital, make_user, safety_taxonomy):
    """A safety event of 4 West referred to peer review by the officer, reviewed and decided."""
    office = make_user(Role.MEDICAL_STAFF_OFFICE, "", username="the-office")
    pso = make_user(Role.PATIENT_SAFETY_OFFICER, "", username="the-pso")
    reviewer = make_user(Role.PEER_REVIEWER, "rgh/medicine", username="the-reviewer")
    committee = make_user(Role.PEER_REVIEW_COMMITTEE, "", username="the-committee")
    doctor = make_user(Role.PRACTITIONER, "rgh/medicine", username="the-doctor")
    subject = create_practitioner(office, department=hospital.unit("rgh/medicine"), family_name="Osei",
                                  given_name="Amara", degree="MD", account=doctor)
    event, _ = safety.submit_report(make_user(Role.STAFF_REPORTER, "rgh/4w", username="the-nurse"), safety.Report(
        kind="incident", category="vte", unit_id=hospital.unit("rgh/4w").pk, harm="moderate",
        occurred_at=timezone.now() - timedelta(days=1), details={"type": "pe"},
        narrative="Pulmonary embolism on day 4."))
    case = peer_review.refer_from_event(pso, event, practitioner=subject, summary=f"{SUMMARY} no prophylaxis")
    peer_review.assign_reviewers(office, case, [reviewer])
    peer_review.submit_review(reviewer, case, care_level="3", system_level="minor", narrative=f"{NARRATIVE} text",
                              documentation_issue=True, documentation_note=f"{NOTE} missing")
    peer_review.decide_case(committee, case, outcome="3", system_level="minor", committee_note=f"{WORDS} words")
    case.refresh_from_db()
    return {"event": event, "case": case, "office": office, "pso": pso, "doctor": doctor}


def _pages(event, case):
    """(label, url) of every page and API answer the content must not reach."""
    api = "/api/v1/safety"
    return [
        ("the safety event", reverse("safety:event", args=[event.pk])),
        ("the safety event list", reverse("safety:event_list")),
        ("the triage queue", reverse("safety:triage_queue")),
        ("my reports", reverse("safety:my_reports")),
        ("the safety analysis", reverse("safety:analysis")),
        ("the safety CSV export", reverse("safety:export_csv")),
        ("the safety API's events", f"{api}/events"),
        ("the safety API's event", f"{api}/events/{event.pk}"),
        ("the safety API's triage queue", f"{api}/triage-queue"),
        ("the de-identified export (PSO)", f"{api}/export"),
        ("the audit trail", reverse("platform:audit")),
        ("the audit trail of the case", reverse("platform:audit") + f"?object_pk={case.pk}"),
        ("the audit API", "/api/v1/audit"),
        ("the RCA people search", reverse("safety:investigation_people", args=[event.pk]) + "?q=osei"),
        ("the home page and its notifications", reverse("home")),
        ("the actions", reverse("actions:list")),
        ("the peer review counts", reverse("medstaff:peer_review_counts")),
        ("the peer review counts API", "/api/v1/medstaff/peer-review/counts"),
    ]


def _text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_no_role_sees_peer_review_content_outside_the_case(client, reviewed, make_user):
    event, case = reviewed["event"], reviewed["case"]
    people = {role: make_user(role, "", username=f"as-{role.value}") for role in Role}
    people["the practitioner"] = reviewed["doctor"]
    opened = {}
    for role, person in people.items():
        client.force_login(person)
        for label, url in _pages(event, case):
            response = client.get(url)
            assert response.status_code in (200, 302, 403, 404), f"{label} as {role}: {response.status_code}"
            text = _text(response)
            for marker in MARKERS:
                assert marker not in text, f"{label} shows peer review content to {role}"
        # The case itself: its readers only, and the marker is there for them.
        response = client.get(reverse("medstaff:peer_review_case", args=[case.pk]))
        api = client.get(f"/api/v1/medstaff/peer-review/cases/{case.pk}")
        opened[role] = (response.status_code, api.status_code)
        if role in READERS:
            assert SUMMARY in _text(response) and NARRATIVE in _text(response) and WORDS in _text(response)
            assert api.json()["summary"] == f"{SUMMARY} no prophylaxis"
        else:
            assert not any(marker in _text(response) + _text(api) for marker in MARKERS)
    assert {role for role, codes in opened.items() if codes == (200, 200)} == READERS
    assert all(codes == (403, 403) for role, codes in opened.items() if role not in READERS)


def test_the_event_shows_the_referral_and_the_day_only(client, reviewed):
    client.force_login(reviewed["pso"])
    page = _text(client.get(reverse("safety:event", args=[reviewed["event"].pk])))
    case = reviewed["case"]
    assert f"Referred to medical staff peer review on {timezone.localdate():%Y-%m-%d} ({case.reference})" in page
    for leaked in ("Osei", "level 3", "Decided", "the-reviewer"):
        assert leaked not in page


def test_every_read_of_a_case_is_audited_and_the_trail_masks_its_words(client, reviewed):
    case, office = reviewed["case"], reviewed["office"]
    reads = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(case.pk),
                                    content_type__model="peerreviewcase")
    before = reads.count()
    client.force_login(office)
    client.get(reverse("medstaff:peer_review_case", args=[case.pk]))
    client.get(f"/api/v1/medstaff/peer-review/cases/{case.pk}/reviews")
    assert [(entry.actor, entry.additional_data) for entry in reads.order_by("pk")[before:]] == [
        (office, {"reason": "reading the case"}), (office, {"reason": "reading the reviews"})]
    client.force_login(reviewed["pso"])
    assert client.get(reverse("medstaff:peer_review_case", args=[case.pk])).status_code == 403
    assert not reads.filter(actor=reviewed["pso"]).exists()  # a refusal opened nothing
    # The trail records that the words changed, never what they say.
    entries = LogEntry.objects.filter(content_type__app_label="medstaff")
    assert entries.filter(content_type__model__in=["peerreviewcase", "peerreview"]).exists()
    assert not [entry.pk for entry in entries if any(marker in str(entry.changes) for marker in MARKERS)]
    created = entries.get(content_type__model="peerreviewcase", action=LogEntry.Action.CREATE, object_pk=str(case.pk))
    assert created.changes["summary"][1] == "********"
    assert PeerReviewCase.objects.get().summary.startswith(SUMMARY)
