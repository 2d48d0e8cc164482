"""Grievance letters: the interim letter's promised date, the resolution letter's four elements
(42 CFR 482.13(a)(2)(iii)) required before approval, approval recorded and final, sending resolves
the grievance (within the time frame or not), and the PDF read back."""

import io
from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from pypdf import PdfReader

from andon.platform.roles import Role
from andon.voice import services
from andon.voice.models import Grievance, GrievanceClock, GrievanceStatus, Letter, LetterStatus


@pytest.fixture
def people(make_user):
    return {"officer": make_user(Role.PATIENT_RELATIONS, first_name="Pablo", last_name="Reyes"),
            "committee": make_user(Role.GRIEVANCE_COMMITTEE),
            "manager": make_user(Role.UNIT_MANAGER, "rgh/medicine")}


@pytest.fixture
def grievance(hospital):
    received = timezone.now() - timedelta(days=3)
    received_on, due_on = services.clock_dates(received)
    return Grievance.objects.create(
        organisation=hospital.organisation, reference="G-2026-00042", channel="email", received_at=received,
        received_on=received_on, due_on=due_on, description="Nobody told us about the discharge.",
        status=GrievanceStatus.OPEN, unit=hospital.unit("rgh/4w"), contact_name="Maria O'Neill",
        contact_details="12 Elm Street, Springfield")


FOUR = {"contact_person": "Pablo Reyes, Patient Relations, 555-0100",
        "investigation_steps": "We interviewed the night nurses and read the discharge record.",
        "results": "The discharge plan was not explained; the ward now uses a discharge checklist.",
        "completed_on": date(2026, 3, 9)}


def test_the_draft_is_written_from_the_record_and_the_template(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "resolution")
    assert letter.status == LetterStatus.DRAFT
    assert letter.addressee == "Maria O'Neill" and letter.address == "12 Elm Street, Springfield"
    assert "Dear Maria O'Neill," in letter.body  # the text is not HTML-escaped
    assert "G-2026-00042" in letter.body
    assert letter.contact_person == "Pablo Reyes, Patient Relations"


def test_the_four_elements_are_required_before_approval(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "resolution")
    services.edit_letter(people["officer"], letter, letter.version, contact_person="  ")
    with pytest.raises(ValidationError) as refused:
        services.approve_letter(people["officer"], letter)
    assert set(refused.value.message_dict) == {"contact_person", "investigation_steps", "results", "completed_on"}
    letter.refresh_from_db()
    assert letter.status == LetterStatus.DRAFT and letter.approved_by is None


def test_approval_records_who_and_when_and_then_the_letter_is_not_edited(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "resolution")
    services.edit_letter(people["officer"], letter, letter.version, **FOUR)
    services.approve_letter(people["committee"], letter, letter.version)
    letter.refresh_from_db()
    assert letter.status == LetterStatus.APPROVED and letter.approved_by == people["committee"]
    assert letter.approved_at is not None
    with pytest.raises(ValidationError, match="no longer edited"):
        services.edit_letter(people["officer"], letter, letter.version, results="Something else")
    copy = services.redraft_letter(people["officer"], letter)
    letter.refresh_from_db()
    assert letter.status == LetterStatus.REPLACED and copy.replaces == letter
    assert copy.status == LetterStatus.DRAFT and copy.results == FOUR["results"]


def test_a_stale_version_is_refused(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "interim")
    seen = letter.version
    services.edit_letter(people["officer"], letter, seen, promised_on=date.today() + timedelta(days=14))
    with pytest.raises(ValidationError):
        services.edit_letter(people["officer"], Letter.objects.get(pk=letter.pk), seen, body="Other words")


def test_bad_dates_are_refused_by_field(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "resolution")
    with pytest.raises(ValidationError) as refused:
        services.edit_letter(people["officer"], letter, completed_on="9 March")
    assert "completed_on" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.edit_letter(people["officer"], letter, completed_on="0001-01-01")
    assert "completed_on" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.edit_letter(people["officer"], letter, status="sent")
    letter.refresh_from_db()
    assert letter.completed_on is None and letter.status == LetterStatus.DRAFT


def test_only_patient_relations_write_and_only_approvers_approve(people, grievance):
    with pytest.raises(PermissionDenied):
        services.draft_letter(people["manager"], grievance, "interim")
    letter = services.draft_letter(people["officer"], grievance, "interim")
    with pytest.raises(PermissionDenied):
        services.approve_letter(people["manager"], letter)


def test_the_interim_letter_sets_the_promised_date(people, grievance):
    promised = timezone.localdate() + timedelta(days=21)
    letter = services.draft_letter(people["officer"], grievance, "interim")
    with pytest.raises(ValidationError) as refused:
        services.approve_letter(people["officer"], letter)
    assert "promised_on" in refused.value.message_dict
    services.edit_letter(people["officer"], letter, promised_on=promised)
    services.approve_letter(people["officer"], letter)
    services.send_letter(people["officer"], letter, "post")
    assert GrievanceClock.objects.get(grievance=grievance).promised_on == promised
    grievance.refresh_from_db()
    assert grievance.status == GrievanceStatus.OPEN


def test_sending_is_only_of_an_approved_letter(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "resolution")
    with pytest.raises(ValidationError, match="approved"):
        services.send_letter(people["officer"], letter, "post")


def test_sending_the_resolution_letter_resolves_the_grievance(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "resolution")
    services.edit_letter(people["officer"], letter, **FOUR)
    services.approve_letter(people["officer"], letter)
    sent_on = grievance.due_on + timedelta(days=2)  # two days late
    services.send_letter(people["officer"], letter, "email", sent_on)
    grievance.refresh_from_db()
    assert grievance.status == GrievanceStatus.RESOLVED and grievance.resolved_on == sent_on
    assert GrievanceClock.objects.get(grievance=grievance).resolved_in_time is False
    letter.refresh_from_db()
    assert (letter.status, letter.sent_via, letter.sent_by) == (LetterStatus.SENT, "email", people["officer"])
    with pytest.raises(ValidationError, match="reopen"):
        services.draft_letter(people["officer"], grievance, "resolution")


def test_resolved_on_the_due_day_is_within_the_time_frame(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "resolution")
    services.edit_letter(people["officer"], letter, **FOUR)
    services.approve_letter(people["officer"], letter)
    services.send_letter(people["officer"], letter, "post", grievance.due_on)
    assert GrievanceClock.objects.get(grievance=grievance).resolved_in_time is True


def test_the_pdf_holds_the_four_elements(people, grievance):
    letter = services.draft_letter(people["officer"], grievance, "resolution")
    services.edit_letter(people["officer"], letter, **FOUR)
    services.approve_letter(people["officer"], letter)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(
        services.letter_pdf(people["officer"], letter))).pages)
    text = " ".join(text.split())
    for words in ("Hospital contact person", FOUR["contact_person"], "Steps taken to investigate",
                  "interviewed the night nurses", "Results", "discharge checklist", "Date of completion",
                  "2026-03-09", "G-2026-00042"):
        assert words in text
    assert "DRAFT" not in text


def test_the_letters_pages(client, people, grievance):
    client.force_login(people["officer"])
    page = client.get(f"/voice/grievances/{grievance.pk}/letters/")
    assert page.status_code == 200 and b"days left" in page.content.lower()
    response = client.post(f"/voice/grievances/{grievance.pk}/letters/new/", {"kind": "resolution"})
    letter = Letter.objects.get(grievance=grievance)
    assert response.status_code == 302 and response["Location"] == f"/voice/letters/{letter.pk}/"
    page = client.get(f"/voice/letters/{letter.pk}/")
    assert b"Describe the steps taken to investigate" in page.content
    pdf = client.get(f"/voice/letters/{letter.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf"
    client.force_login(people["manager"])
    assert client.post(f"/voice/letters/{letter.pk}/approve/").status_code == 403
