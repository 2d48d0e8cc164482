"""Unlinkability of anonymous reports: after an anonymous submission from a signed-in session,
nothing stored (any table, the audit trail) and nothing logged ties the report to its reporter.
"""

import logging
from datetime import timedelta

from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.utils import timezone

from andon.platform.models import Notification
from andon.platform.roles import Role
from andon.safety import services
from andon.safety.models import Attachment, ReportDraft, SafetyEvent

ADDRESS = "10.20.30.40"


def _rows_linked_to(event):
    """Every stored row that is about the event: rows with a foreign key to it or to its
    attachments, and audit entries about any of them."""
    attachments = list(Attachment.objects.filter(event=event))
    targets = {(SafetyEvent, event.pk)} | {(Attachment, a.pk) for a in attachments}
    linked = [event, *attachments]
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey) and field.related_model in (SafetyEvent, Attachment):
                ids = [pk for m, pk in targets if m is field.related_model]
                linked.extend(model.objects.filter(**{f"{field.name}__in": ids}))
    for model, pk in targets:
        linked.extend(LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model), object_pk=str(pk)))
    return linked


def _values(row):
    for field in row._meta.concrete_fields:
        yield field, getattr(row, field.attname)


def test_an_anonymous_report_leaves_nothing_that_ties_it_to_the_reporter(hospital, make_user, safety_taxonomy, caplog, client):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.ana", first_name="Ana", last_name="Alvarez")
    make_user(Role.PATIENT_SAFETY_OFFICER, "")
    client.force_login(nurse)
    session_key = client.session.session_key
    draft = services.save_draft(nurse, {"narrative": "Ana's first words"})
    report = services.Report(kind="near_miss", category="medication", unit_id=hospital.unit("rgh/4w").pk,
                             occurred_at=timezone.now() - timedelta(hours=1),
                             narrative="Insulin drawn up for the wrong bed; caught at the bedside check.",
                             details={"ncc_merp": "B", "process_stage": "administering"}, anonymous=True)
    photo = SimpleUploadedFile("IMG_0042.jpg", b"\xff\xd8\xff" + b"0" * 100, content_type="image/jpeg")
    caplog.set_level(logging.DEBUG)
    # As in a request: auditlog's middleware has put the signed-in user and address in context.
    with set_actor(nurse, remote_addr=ADDRESS):
        event, receipt = services.submit_report(
            nurse, report, [services.Upload(photo.name, photo.content_type, photo.size, photo)], draft=draft)

    assert len(receipt) == 19 and event.reporter is None and event.is_anonymous
    identifiers = {nurse.username, nurse.email, "Alvarez", ADDRESS, session_key, receipt}
    linked = _rows_linked_to(event)
    assert len(linked) >= 4  # the event, its attachment, and their audit entries
    for row in linked:
        for field, value in _values(row):
            if isinstance(field, models.ForeignKey) and field.related_model is type(nurse):
                assert value is None, f"{type(row).__name__}.{field.name} names a person"
            text = str(value)
            for identifier in identifiers:
                assert identifier not in text, f"{type(row).__name__}.{field.name} holds {identifier!r}"
            if isinstance(value, type(timezone.now())) and field.name != "occurred_at":
                assert (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0), (
                    f"{type(row).__name__}.{field.name} keeps the exact time of submission")
    # No audit entry at all was written by the reporter during the submission.
    assert not LogEntry.objects.filter(actor=nurse).exclude(content_type__model="user").exclude(
        content_type__model="rolegrant").exists()
    # The draft, which had the reporter's name on it, is gone; no notification went out.
    assert not ReportDraft.objects.exists()
    assert not Notification.objects.exists()
    # The stored file name is random; the uploaded name is kept only as a label.
    assert "IMG_0042" not in Attachment.objects.get(event=event).file.name
    # Nothing logged names the reporter.
    for record in caplog.records:
        message = record.getMessage()
        assert not any(identifier in message for identifier in identifiers), message


def test_the_receipt_code_finds_the_report_and_its_feedback_without_naming_a_reader(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    report = services.Report(kind="unsafe_condition", category="other", unit_id=hospital.unit("rgh/icu").pk,
                             occurred_at=timezone.now(), narrative="Oxygen cylinder stored unsecured.", anonymous=True)
    event, receipt = services.submit_report(nurse, report)
    services.tell_reporter(event, "Thank you: cylinder racks have been ordered.")
    assert services.event_for_receipt(receipt.lower()) == event
    assert services.event_for_receipt("0000-0000-0000-0000") is None
    read = LogEntry.objects.get_for_object(event).get(action=LogEntry.Action.ACCESS)
    assert read.actor is None and read.remote_addr is None
    assert [m.text for m in event.reporter_messages.all()] == ["Thank you: cylinder racks have been ordered."]
    assert officer  # the officer sees the event in the queue without a notification
    assert list(services.triage_queue(officer)) == [event]


def test_an_anonymous_report_through_the_page_is_unlinkable_too(hospital, make_user, safety_taxonomy, caplog, client):
    """The same, end to end through the report page: a real session, a real address, the
    middleware's audit context, a draft saved first."""
    from django.urls import reverse

    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.ben", first_name="Ben", last_name="Okafor")
    client.force_login(nurse)
    session_key = client.session.session_key
    client.post(reverse("safety:report"), {"save_draft": "1", "narrative": "Ben's draft"}, REMOTE_ADDR=ADDRESS)
    assert ReportDraft.objects.filter(author=nurse).exists()
    caplog.set_level(logging.DEBUG)
    response = client.post(reverse("safety:report"), {
        "kind": "near_miss", "unit": hospital.unit("rgh/4w").pk, "occurred_at": "2026-01-05T10:00",
        "narrative": "Two patients with the same surname in adjacent beds; wrong wristband printed.",
        "category": "other", "anonymous": "on",
    }, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 200
    event = SafetyEvent.objects.get()
    page = response.content.decode()
    assert event.reference in page and event.is_anonymous and event.reporter is None
    identifiers = {nurse.username, nurse.email, "Okafor", ADDRESS, session_key}
    for row in _rows_linked_to(event):
        for field, value in _values(row):
            assert not (isinstance(field, models.ForeignKey) and field.related_model is type(nurse) and value), field
            assert not any(identifier in str(value) for identifier in identifiers), f"{type(row).__name__}.{field.name}"
    assert not ReportDraft.objects.exists()
    assert "_messages" not in client.session  # nothing about the report kept in the session
    for record in caplog.records:
        assert not any(identifier in record.getMessage() for identifier in identifiers)
