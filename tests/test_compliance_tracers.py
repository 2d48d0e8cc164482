"""Mock-survey tracers (issue 16): planned from requirements, filled by the surveyor for the day on a
phone, with photos stripped of their metadata, findings that open actions, completion and the report."""

import io
import struct
from datetime import timedelta
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from andon.actions.models import Action
from andon.compliance import services
from andon.compliance.models import (
    Finding, Framework, FrameworkVersion, Requirement, Tracer, TracerItem, TracerPhoto, TracerStatus,
)
from andon.platform.concurrency import Stale
from andon.platform.models import Notification
from andon.platform.roles import Role


def make_framework():
    """A small framework version: chapter 482.25 with an assessable requirement and a grouping node
    (not assessable) holding one more; chapter 482.42 with one requirement."""
    framework = Framework.objects.create(urn="urn:test:cop", name="Test CoP", kind="regulation")
    version = FrameworkVersion.objects.create(framework=framework, version="2025-01", is_current=True)
    position = iter(range(1, 100))

    def node(code, title, parent=None, assessable=True, summary=""):
        requirement = Requirement.objects.create(
            version=version, urn=f"urn:test:cop:{code}", parent=parent, chapter=parent.chapter if parent else None,
            depth=(parent.depth + 1) if parent else 0, position=next(position), citation=code, title=title,
            summary=summary, assessable=assessable)
        if parent is None:
            requirement.chapter = requirement
            requirement.save()
        return requirement

    pharmacy = node("482.25", "Pharmaceutical services", assessable=False)
    delivery = node("482.25(a)", "Delivery of drugs", pharmacy, summary="Drugs are  controlled and distributed.")
    group = node("482.25(b)", "Drugs and biologicals", pharmacy, assessable=False)
    storage = node("482.25(b)(2)", "Storage", group, summary="Drugs are stored as required.")
    infection = node("482.42", "Infection prevention", assessable=False)
    hygiene = node("482.42(a)", "Surveillance", infection)
    return {"version": version, "pharmacy": pharmacy, "delivery": delivery, "group": group, "storage": storage,
            "infection": infection, "hygiene": hygiene}


@pytest.fixture
def world(hospital, make_user):
    return {
        "cop": make_framework(),
        "ward": hospital.unit("rgh/4w"),
        "specialist": make_user(Role.COMPLIANCE_SPECIALIST, "rgh", first_name="Lee", last_name="Chen"),
        "nurse": make_user(Role.STAFF_REPORTER, "rgh/pharmacy", first_name="Dev", last_name="Patel"),
        "other_nurse": make_user(Role.STAFF_REPORTER, "rgh/4w"),
        "manager": make_user(Role.UNIT_MANAGER, "rgh/medicine"),
    }


def plan(world, surveyor=None, **overrides):
    fields = dict(title="Medication management, 4 West", kind="system", topic="Medication management",
                  unit=world["ward"], surveyor=surveyor or world["nurse"],
                  planned_on=timezone.localdate() + timedelta(days=2),
                  requirements=[world["cop"]["pharmacy"]], extra_questions=["Is the medication room locked?"])
    fields.update(overrides)
    return services.plan_tracer(world["specialist"], **fields)


def items_of(tracer):
    return list(tracer.items.order_by("position"))


def jpeg_with_exif() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(picture, "JPEG")
    data = picture.getvalue()
    payload = b"Exif\x00\x00GPS 41.8781N 87.6298W Pixel 8 serial 12345"
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


# --- planning -----------------------------------------------------------------------------------

def test_planning_from_a_chapter_gives_one_question_per_assessable_requirement_plus_extras(
        world, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tracer = plan(world)
    items = items_of(tracer)
    assert [(i.position, i.requirement) for i in items] == [
        (1, world["cop"]["delivery"]), (2, world["cop"]["storage"]), (3, None)]
    assert items[0].question == "482.25(a) Delivery of drugs: Drugs are controlled and distributed."
    assert items[2].question == "Is the medication room locked?"
    assert tracer.status == TracerStatus.PLANNED and tracer.created_by == world["specialist"]
    # The surveyor is e-mailed only: their home page lists "Tracer to survey" until it is completed.
    told = [message for message in mailoutbox if message.to == [world["nurse"].email]]
    assert [message.subject for message in told] == [
        f"[Andon] You are the surveyor for a tracer on {tracer.planned_on:%Y-%m-%d}: Medication management, 4 West"]
    assert reverse("compliance:tracer_checklist", args=[tracer.pk]) in told[0].body
    assert not Notification.objects.filter(recipient=world["nurse"]).exists()


def test_the_surveyor_has_the_tracer_once_on_the_home_page(world):
    from andon.platform.services import work_for

    tracer = plan(world)
    assert [item.title for item in work_for(world["nurse"]) if "tracer" in item.title.lower()] == [
        f"Tracer to survey on {tracer.planned_on:%Y-%m-%d}: Medication management, 4 West"]


def test_planning_by_urn_with_reworded_questions(world):
    cop = world["cop"]
    tracer = plan(world, requirements=["urn:test:cop:482.42(a)", "urn:test:cop:482.25(a)"], version=cop["version"],
                  extra_questions=[], questions={cop["hygiene"].pk: "Are isolation signs on the doors?"})
    assert [(i.requirement, i.question) for i in items_of(tracer)] == [
        (cop["delivery"], "482.25(a) Delivery of drugs: Drugs are controlled and distributed."),
        (cop["hygiene"], "Are isolation signs on the doors?")]


def test_planning_refuses_bad_input_and_stores_nothing(world):
    with pytest.raises(ValidationError) as refused:
        plan(world, kind="patient", patient_path="")
    assert "patient_path" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        plan(world, kind="patient", patient_path="MRN 00123456 via ED to 4 West")
    assert "record or account number" in refused.value.message_dict["patient_path"][0]
    with pytest.raises(ValidationError) as refused:
        plan(world, requirements=["urn:test:cop:nope"], version=world["cop"]["version"])
    assert "urn:test:cop:nope" in refused.value.message_dict["requirements"][0]
    with pytest.raises(ValidationError) as refused:
        plan(world, requirements=[], extra_questions=[])
    assert "requirements" in refused.value.message_dict
    assert Tracer.objects.count() == 0 and TracerItem.objects.count() == 0
    with pytest.raises(PermissionDenied):
        services.plan_tracer(world["manager"], title="x", kind="system", unit=world["ward"], surveyor=world["nurse"],
                             planned_on=timezone.localdate(), extra_questions=["q"])


# --- filling ------------------------------------------------------------------------------------

def test_only_the_surveyor_or_a_compliance_specialist_answers(world):
    tracer = plan(world)
    first, second, third = items_of(tracer)
    for outsider in (world["other_nurse"], world["manager"]):
        with pytest.raises(PermissionDenied):
            services.answer_item(outsider, first, None, "yes")
    services.answer_item(world["nurse"], first, first.version, "yes", "Checked the MAR.")  # a staff reporter
    services.answer_item(world["specialist"], second, None, "na")
    first.refresh_from_db()
    tracer.refresh_from_db()
    assert (first.answer, first.observation, tracer.status) == ("yes", "Checked the MAR.", TracerStatus.IN_PROGRESS)
    # The nurse surveys this tracer only: another one is not theirs.
    others = plan(world, surveyor=world["other_nurse"])
    with pytest.raises(PermissionDenied):
        services.answer_item(world["nurse"], items_of(others)[0], None, "yes")


def test_a_no_needs_an_observation_and_a_stale_answer_is_refused(world):
    tracer = plan(world)
    item = items_of(tracer)[0]
    with pytest.raises(ValidationError) as refused:
        services.answer_item(world["nurse"], item, item.version, "no", "  ")
    assert refused.value.message_dict["observation"] == ["Say what you saw: a “No” needs an observation."]
    item.refresh_from_db()
    assert item.answer == "" and item.version == 1
    services.answer_item(world["specialist"], item, 1, "no", "Insulin pens undated.")
    with pytest.raises(Stale) as stale:
        services.answer_item(world["nurse"], item, 1, "yes")
    assert "changed by Lee Chen" in stale.value.page_message
    item.refresh_from_db()
    assert item.answer == "no"


def test_photos_are_checked_by_their_first_bytes_and_lose_their_metadata(world, client):
    tracer = plan(world)
    item = items_of(tracer)[0]
    with pytest.raises(ValidationError) as refused:
        services.add_photo(world["nurse"], item, SimpleUploadedFile("fridge.jpg", b"<html>not a photo</html>"))
    assert refused.value.message_dict["photo"] == ["fridge.jpg does not hold what its name says (JPEG)."]
    assert TracerPhoto.objects.count() == 0
    photo = services.add_photo(world["nurse"], item, SimpleUploadedFile("fridge.jpg", jpeg_with_exif()))
    stored = photo.file.read()
    assert b"Exif" not in stored and b"41.8781N" not in stored and stored.startswith(b"\xff\xd8")
    assert Image.open(io.BytesIO(stored)).size == (4, 4)
    client.force_login(world["manager"])  # a reader of compliance in the unit
    response = client.get(reverse("compliance:tracer_photo", args=[tracer.pk, photo.pk]))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == stored
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(photo.pk),
                                   actor=world["manager"]).count() == 1
    client.force_login(world["other_nurse"])
    assert client.get(reverse("compliance:tracer_photo", args=[tracer.pk, photo.pk])).status_code == 403


@pytest.fixture
def two_photos(world, settings, tmp_path):
    """A planned tracer whose first question has two photos taken by the surveyor:
    (tracer, item, first.jpg, second.jpg)."""
    settings.MEDIA_ROOT = tmp_path
    tracer = plan(world)
    item = items_of(tracer)[0]
    return tracer, item, *(services.add_photo(world["nurse"], item, SimpleUploadedFile(name, jpeg_with_exif()))
                           for name in ("first.jpg", "second.jpg"))


def test_a_photo_is_removed_while_the_tracer_is_open_and_kept_for_the_record(world, client, two_photos):
    tracer, item, wrong, kept = two_photos
    for outsider in (world["other_nurse"], world["manager"]):  # a reader of compliance does not fill it
        with pytest.raises(PermissionDenied):
            services.remove_photo(outsider, wrong)
    services.remove_photo(world["nurse"], wrong)
    wrong.refresh_from_db()
    assert (wrong.removed_by, wrong.removed_at is not None) == (world["nurse"], True)
    # Kept, row and file, and in the audit trail with who removed it; shown to nobody again.
    assert Path(wrong.file.path).read_bytes().startswith(b"\xff\xd8")
    entry = LogEntry.objects.get(content_type__model="tracerphoto", object_pk=str(wrong.pk),
                                 action=LogEntry.Action.UPDATE)
    assert entry.actor == world["nurse"] and "removed_at" in entry.changes_dict
    assert [line.photos for line in services.tracer_report(world["manager"], tracer)][0] == [kept]
    client.force_login(world["manager"])
    assert client.get(reverse("compliance:tracer_photo", args=[tracer.pk, wrong.pk])).status_code == 404
    # A removed photo no longer counts towards the question's limit.
    assert services.shown_photos(item).count() == 1
    services.answer_item(world["nurse"], items_of(tracer)[0], None, "yes")
    for other in items_of(tracer)[1:]:
        services.answer_item(world["nurse"], other, None, "na")
    services.complete_tracer(world["nurse"], tracer, "Done.")
    with pytest.raises(ValidationError, match="completed"):
        services.remove_photo(world["nurse"], kept)
    kept.refresh_from_db()
    assert kept.removed_at is None


def test_removing_a_photo_on_the_checklist_and_through_the_api(world, client, two_photos):
    from django.test import Client

    from andon.platform.models import AccessToken

    tracer, item, first, second = two_photos
    url = reverse("compliance:tracer_photo_remove", args=[tracer.pk, first.pk])
    checklist = Client(enforce_csrf_checks=True)
    checklist.force_login(world["nurse"])
    page = checklist.get(reverse("compliance:tracer_checklist", args=[tracer.pk])).content.decode()
    assert f'hx-post="{url}"' in page and 'hx-confirm="Remove the photo first.jpg from question 1?' in page
    assert checklist.post(url, HTTP_HX_REQUEST="true").status_code == 403  # no CSRF token
    client.force_login(world["nurse"])
    card = client.post(url, HTTP_HX_REQUEST="true")
    html = card.content.decode()
    assert card.status_code == 200 and "Photo first.jpg removed." in html
    assert "second.jpg" in html and reverse("compliance:tracer_photo", args=[tracer.pk, first.pk]) not in html
    assert client.post(url).status_code == 404  # already removed
    # The surveyor (a staff reporter) removes the other through the API; the list no longer has them.
    _, token = AccessToken.issue(world["nurse"], "t")
    headers = {"Authorization": f"Bearer {token}"}
    removed = client.post(f"/api/v1/compliance/tracers/{tracer.pk}/photos/{second.pk}/removal", headers=headers)
    assert removed.status_code == 200 and removed.json()["removed_by_id"] == world["nurse"].pk
    listed = client.get(f"/api/v1/compliance/tracers/{tracer.pk}/items/{item.pk}/photos", headers=headers)
    assert listed.json() == []
    items = client.get(f"/api/v1/compliance/tracers/{tracer.pk}/items", headers=headers).json()
    assert items[0]["photos"] == 0


def test_completion_names_unanswered_questions_then_tells_the_specialists(world):
    tracer = plan(world)
    first, second, third = items_of(tracer)
    services.answer_item(world["nurse"], first, None, "yes")
    with pytest.raises(ValidationError) as refused:
        services.complete_tracer(world["nurse"], tracer, "All good.")
    assert refused.value.message_dict["items"] == [
        "2 questions are not answered: 2. 482.25(b)(2) Storage: Drugs are stored as required.; "
        "3. Is the medication room locked?."]
    services.answer_item(world["nurse"], second, None, "na")
    services.answer_item(world["nurse"], third, None, "no", "Door propped open.")
    services.complete_tracer(world["nurse"], tracer, "Storage fine; the door was open.")
    tracer.refresh_from_db()
    assert tracer.status == TracerStatus.COMPLETED and tracer.summary == "Storage fine; the door was open."
    told = Notification.objects.get(recipient=world["specialist"], title__startswith="Tracer completed")
    assert told.body == "4 West Medical: 1 yes, 1 no, 1 N/A; 0 findings."
    with pytest.raises(ValidationError):
        services.answer_item(world["nurse"], first, None, "no", "late change")
    with pytest.raises(PermissionDenied):
        services.reopen_tracer(world["nurse"], tracer, "fix")
    services.reopen_tracer(world["specialist"], tracer, "Question 1 needs the observation.")
    tracer.refresh_from_db()
    assert tracer.status == TracerStatus.IN_PROGRESS and tracer.completed_at is None


def test_a_finding_from_an_item_carries_tracer_requirement_and_unit_and_opens_an_action(world):
    tracer = plan(world)
    first, _, extra = items_of(tracer)
    with pytest.raises(ValidationError):
        services.raise_tracer_finding(world["nurse"], first, "Pens undated", "moderate")  # not answered "No"
    services.answer_item(world["nurse"], first, None, "no", "Two insulin pens without an opened-on date.")
    finding = services.raise_tracer_finding(world["nurse"], first, "Pens undated", "moderate")
    finding = Finding.objects.get(pk=finding.pk)
    assert (finding.tracer, finding.requirement, finding.unit, finding.raised_by) == (
        tracer, world["cop"]["delivery"], world["ward"], world["nurse"])
    assert finding.description == "Two insulin pens without an opened-on date."
    action = services.open_action_for_finding(
        world["specialist"], finding, owner=world["manager"], title="Date pens when opened",
        due_date=timezone.localdate() + timedelta(days=30), strength="intermediate", measure="Weekly fridge audit")
    assert Action.objects.get(pk=action.pk).source_id == finding.pk
    services.answer_item(world["nurse"], extra, None, "no", "Door open.")
    with pytest.raises(ValidationError) as refused:
        services.raise_tracer_finding(world["nurse"], extra, "Door open", "low")
    assert "not drawn from a requirement" in refused.value.messages[0]


# --- pages, PDF and API -------------------------------------------------------------------------

def test_the_phone_checklist_saves_answers_in_place(world, client):
    tracer = plan(world)
    first = items_of(tracer)[0]
    client.force_login(world["nurse"])
    page = client.get(reverse("compliance:tracer_checklist", args=[tracer.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'accept="image/*" capture="environment"' in html and "Answered 0 of 3" in html
    url = reverse("compliance:tracer_answer", args=[tracer.pk, first.pk])
    answered = client.post(url, {"answer": "yes", "observation": "", "version": first.version}, HTTP_HX_REQUEST="true")
    assert answered.status_code == 200 and "Answered 1 of 3" in answered.content.decode()
    stale = client.post(url, {"answer": "no", "observation": "x", "version": first.version}, HTTP_HX_REQUEST="true")
    assert "changed by Dev Patel" in stale.content.decode()
    first.refresh_from_db()
    assert first.answer == "yes"
    client.force_login(world["other_nurse"])
    assert client.get(reverse("compliance:tracer_checklist", args=[tracer.pk])).status_code == 403
    home = client.get(reverse("home"))
    assert "Tracer to survey" not in home.content.decode()
    client.force_login(world["nurse"])
    assert "Tracer to survey on" in client.get(reverse("home")).content.decode()


def test_the_pdf_report_has_the_answers(world, client):
    from pypdf import PdfReader

    tracer = plan(world)
    first, second, third = items_of(tracer)
    services.answer_item(world["nurse"], first, None, "no", "Two insulin pens undated.")
    services.answer_item(world["nurse"], second, None, "yes")
    services.answer_item(world["nurse"], third, None, "na")
    services.raise_tracer_finding(world["nurse"], first, "Pens undated", "high")
    client.force_login(world["manager"])
    response = client.get(reverse("compliance:tracer_pdf", args=[tracer.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Answered 3 of 3: 1 yes, 1 no, 1 not applicable." in text
    assert "Two insulin pens undated." in text and "Pens undated" in text and "High risk" in text


def test_the_api_plans_answers_and_completes(world, client):
    from andon.platform.models import AccessToken

    cop = world["cop"]
    _, token = AccessToken.issue(world["specialist"], "t")
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/compliance/tracers", {
        "title": "Infection control", "kind": "system", "unit_id": world["ward"].pk, "surveyor_id": world["nurse"].pk,
        "planned_on": timezone.localdate().isoformat(), "requirement_ids": [cop["infection"].pk]},
        content_type="application/json", headers=headers)
    assert created.status_code == 201, created.content
    tracer_id = created.json()["id"]
    items = client.get(f"/api/v1/compliance/tracers/{tracer_id}/items", headers=headers).json()
    assert [i["requirement_urn"] for i in items] == ["urn:test:cop:482.42(a)"]
    path = f"/api/v1/compliance/tracers/{tracer_id}/items/{items[0]['id']}/answer"
    refused = client.post(path, {"answer": "no"}, content_type="application/json", headers=headers)
    assert refused.status_code == 422 and "observation" in refused.content.decode()
    ok = client.post(path, {"answer": "yes", "version": 1}, content_type="application/json", headers=headers)
    assert ok.status_code == 200 and ok.json()["answer"] == "yes"
    stale = client.post(path, {"answer": "na", "version": 1}, content_type="application/json", headers=headers)
    assert stale.status_code == 409
    done = client.post(f"/api/v1/compliance/tracers/{tracer_id}/complete", {"summary": "Fine."},
                       content_type="application/json", headers=headers)
    assert done.status_code == 200 and done.json()["status"] == "completed" and done.json()["answered"] == 1


def test_the_surveyor_picker_searches_the_staff_the_plan_accepts(world, client, make_user):
    stranger = make_user()  # no role in the organisation
    client.force_login(world["specialist"])
    nurse = world["nurse"]
    html = client.get(reverse("compliance:tracer_people"), {"q": "patel pharmacy"}).content.decode()
    assert f'name="surveyor" id="id_surveyor-match-{nurse.pk}" value="{nurse.pk}">' in html
    assert "Staff reporter, Pharmacy" in html
    assert "No one matches" in client.get(reverse("compliance:tracer_people"), {"q": stranger.username}).content.decode()
    refused = client.post(reverse("compliance:tracer_plan"), {"surveyor": stranger.pk})
    assert refused.status_code == 400 and refused.context["form"].errors["surveyor"] == [
        "Select a valid choice. That choice is not one of the available choices."]
    chosen = client.post(reverse("compliance:tracer_plan"), {"surveyor": nurse.pk}).content.decode()
    assert f'id="id_surveyor-chosen-{nurse.pk}" value="{nurse.pk}" checked' in chosen  # kept while the rest is fixed
