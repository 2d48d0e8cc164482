"""The public complaint form: no account, a receipt code shown once (hashed at rest), a follow
page that shows only the status and dates, hostile input refused or escaped, floods answered with
429 storing nothing, and nothing about the sender stored (the row and the audit trail)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from andon.platform import audit, content
from andon.platform.models import HeldAuditEntry
from andon.voice import services
from andon.voice.models.grievances import Channel, ComplaintKind, Grievance, GrievanceStatus

CATEGORIES = Path(__file__).resolve().parent.parent / "content" / "grievance-categories"
FORM, FOLLOW = "/complaints/new", "/complaints/follow"
AGENT = "Mozilla/5.0 (iPhone; Tester-Agent-7731)"
ADDRESS = "203.0.113.77"


@pytest.fixture
def form_ready(hospital):
    content.load_content([CATEGORIES])
    return hospital


def _post(client, **fields):
    data = {"description": "My mother waited four hours for pain relief.", "contact_name": "Rosa Diaz",
            "relationship": "Daughter", "contact_details": "rosa@example.org", **fields}
    return client.post(FORM, data, HTTP_USER_AGENT=AGENT, REMOTE_ADDR=ADDRESS)


def _receipt(response) -> str:
    return re.search(r'id="receipt-code">([0-9A-F-]+)<', response.content.decode()).group(1)


def test_the_form_answers_with_a_receipt_and_stores_a_received_grievance(form_ready, client):
    assert client.get(FORM).status_code == 200
    ward = form_ready.unit("rgh/4w")
    response = _post(client, unit=str(ward.pk), occurred_on="2026-11-30", patient_birth_date="1941-05-02")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    code = _receipt(response)
    g = Grievance.objects.get()
    assert (g.channel, g.kind, g.status, g.unit) == (Channel.WEB_FORM, ComplaintKind.GRIEVANCE,
                                                     GrievanceStatus.RECEIVED, ward)
    today = timezone.localdate()
    assert (g.received_on, g.due_on) == (today, today + timedelta(days=7))
    assert g.receipt_hash and code not in g.receipt_hash and g.receipt_hash == services_hash(code)
    assert g.logged_by is None and g.contact_details == "rosa@example.org"
    assert str(g.patient_birth_date) == "1941-05-02"


def services_hash(code):
    from andon.safety import services as safety

    return safety.hash_receipt(code)


def test_nothing_about_the_sender_is_stored(form_ready, client):
    _post(client)
    g = Grievance.objects.get()
    row = " ".join(str(v) for v in Grievance.objects.filter(pk=g.pk).values().get().values())
    assert ADDRESS not in row and "Tester-Agent" not in row
    local = timezone.localtime(g.received_at)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)  # the day only
    assert not LogEntry.objects.filter(object_pk=str(g.pk), content_type__model="grievance").exists()
    held = HeldAuditEntry.objects.get()
    assert held.fields.get("actor_id") is None and held.fields.get("remote_addr") is None and held.fields["additional_data"]["unattributed"]
    audit.release_held_entries(timezone.now() + timedelta(days=1))
    entry = LogEntry.objects.get(object_pk=str(g.pk), content_type__model="grievance")
    assert entry.actor is None and not entry.remote_addr
    assert ADDRESS not in str(entry.changes) and "Tester-Agent" not in str(entry.changes)


def test_the_follow_page_shows_only_status_and_dates(form_ready, client):
    code = _receipt(_post(client, description="Secret details of my complaint", patient_name="Hidden Name"))
    page = client.post(FOLLOW, {"code": code.lower()}, REMOTE_ADDR=ADDRESS).content.decode()
    assert "Received: patient relations will read it soon." in page
    assert timezone.localdate().isoformat() in page
    for private in ("Secret details", "Hidden Name", "Rosa Diaz", "rosa@example.org", "G-20"):
        assert private not in page


def test_another_persons_code_never_shows_their_complaint(form_ready, client):
    mine = _receipt(_post(client, description="Mine: the food"))
    _post(client, description="Theirs: the noise")
    Grievance.objects.filter(description__startswith="Theirs").update(status=GrievanceStatus.OPEN)
    page = client.post(FOLLOW, {"code": mine}).content.decode()
    assert "read it soon" in page and "Being looked into" not in page
    for wrong in ("AAAA-BBBB-CCCC-DDDD", "", "x" * 500, "<script>"):
        answer = client.post(FOLLOW, {"code": wrong}).content.decode()
        assert "No complaint was found with that code" in answer and "Being looked into" not in answer
        assert "<script>" not in answer
    assert client.post(FOLLOW, {"code": "\x00"}).status_code == 400  # refused before any lookup


@pytest.mark.parametrize(("fields", "words"), [
    ({"description": ""}, "This field is required"),
    ({"description": "x" * 8001}, "at most 8000"),
    ({"description": "bad\x00text"}, "contains a NUL character"),
    ({"contact_details": "", "contact_name": ""}, "how to answer you"),
    ({"anonymous": "on"}, "stay anonymous"),
    ({"unit": "999999999"}, "Select a valid choice"),
    ({"occurred_on": "2150-01-01"}, "between 1900 and today"),
])
def test_bad_input_gets_a_clear_error_and_stores_nothing(form_ready, client, fields, words):
    response = _post(client, **fields)
    assert response.status_code == 400
    assert words.lower() in response.content.decode().lower()
    assert not Grievance.objects.exists() and not HeldAuditEntry.objects.exists()


def test_script_is_stored_as_typed_and_escaped_on_every_page(form_ready, client, make_user):
    from andon.platform.roles import Role

    script = "<script>alert('x')</script>"
    _post(client, description=f"Look {script}", contact_name=script)
    g = Grievance.objects.get()
    staff = make_user(Role.PATIENT_RELATIONS, "")
    client.force_login(staff)
    for url in (f"/voice/grievances/{g.pk}/", f"/voice/grievances/{g.pk}/classify/", "/voice/grievances/"):
        page = client.get(url).content.decode()
        assert script not in page
    assert "&lt;script&gt;" in client.get(f"/voice/grievances/{g.pk}/").content.decode()


def test_anonymous_without_a_way_to_answer_is_accepted(form_ready, client):
    response = _post(client, contact_name="", contact_details="", relationship="", anonymous="on")
    assert response.status_code == 200 and Grievance.objects.get().anonymous


def test_a_flood_is_answered_429_and_stores_nothing(form_ready, client, settings):
    settings.ANDON_PUBLIC_COMPLAINTS_PER_ADDRESS = 2
    assert _post(client).status_code == 200
    assert _post(client).status_code == 200
    refused = _post(client, description="The third one")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "was not stored" in refused.content.decode()
    assert not Grievance.objects.filter(description="The third one").exists()
    assert Grievance.objects.count() == 2


def test_follow_lookups_are_rate_limited(form_ready, client, settings):
    settings.ANDON_RECEIPT_LOOKUPS_PER_ADDRESS = 1
    assert client.post(FOLLOW, {"code": "AAAA-BBBB-CCCC-DDDD"}).status_code == 200
    refused = client.post(FOLLOW, {"code": "AAAA-BBBB-CCCC-DDDD"})
    assert refused.status_code == 429 and refused["Retry-After"]


def test_a_submission_from_the_service_is_checked_the_same_way(form_ready):
    with pytest.raises(Exception) as refused:
        services.submit_public_complaint(services.PublicComplaint(description="x\x00", contact_details="a"))
    assert "control characters" in str(refused.value)
    assert not Grievance.objects.exists()
