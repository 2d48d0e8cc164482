"""Unlinkability of anonymous reports: after an anonymous submission from a signed-in session,
nothing stored (any table, the audit trail) and nothing logged ties the report to its reporter.
"""

import io
import logging
import re
from datetime import timedelta
from pathlib import Path

from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.utils import timezone
from PIL.PngImagePlugin import PngInfo

from andon.platform import audit
from andon.platform.models import HeldAuditEntry, Notification
from andon.platform.roles import Role
from andon.safety import analysis, services
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
        content_type = ContentType.objects.get_for_model(model)
        linked.extend(LogEntry.objects.filter(content_type=content_type, object_pk=str(pk)))
        linked.extend(entry for entry in HeldAuditEntry.objects.all()
                      if (entry.fields["content_type_id"], entry.fields["object_pk"]) == (content_type.pk, str(pk)))
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
    assert len(linked) >= 5  # the event, its attachment and its bytes, and their audit entries (held)
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
    audit.release_held_entries(now=timezone.now() + timedelta(days=1))  # the day is over
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


# --- ids, order, logs and files: what an administrator of the system sees besides the values ----

def _photo(name):
    return SimpleUploadedFile(name, b"\xff\xd8\xff" + name.encode() * 20, content_type="image/jpeg")


def _report(hospital, anonymous, *photos):
    report = services.Report(kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
                             occurred_at=timezone.now() - timedelta(hours=1), narrative="Wrong bed.", anonymous=anonymous)
    return report, [services.Upload(p.name, p.content_type, p.size, p) for p in photos]


def test_an_anonymous_report_takes_no_place_among_named_ones(hospital, make_user, safety_taxonomy, settings, tmp_path):
    """A named report, the nurse reading it, her anonymous report and its receipt read, a named report:
    nothing in ids, references, the audit trail's sequence, list order or the files on disk puts
    the anonymous one between the two named ones."""
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}}}
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    first, _ = services.submit_report(nurse, *_report(hospital, False, _photo("a.jpg")))
    services.open_event(nurse, first, reason="reporter read own report")
    generation = analysis._generation()
    with set_actor(nurse, remote_addr=ADDRESS):
        hidden, receipt = services.submit_report(nurse, *_report(hospital, True, _photo("x.jpg")))
    # Nor the cache, a file whose time would be the time it was sent (counted when kept analyses expire).
    assert analysis._generation() == generation
    services.event_for_receipt(receipt)
    second, _ = services.submit_report(nurse, *_report(hospital, False, _photo("b.jpg")))
    named_entries = set(LogEntry.objects.values_list("pk", flat=True))

    # References: the named series runs on without a gap; the anonymous one is in no series.
    year = first.reported_at.year
    assert (first.reference, second.reference) == (f"EV-{year}-000001", f"EV-{year}-000002")
    assert re.fullmatch(rf"EV-{year}-A-[0-9A-Z]{{6}}", hidden.reference)
    # Ids (in every URL) are drawn at random, for named and anonymous records alike: nothing
    # sequential to read a position from (two ids within a million of each other: odds 1e-10).
    attachments = [Attachment.objects.get(event=e) for e in (first, hidden, second)]
    for records in ([first, hidden, second], attachments):
        ids = sorted(record.pk for record in records)
        assert all(later - earlier > 10**6 for earlier, later in zip(ids, ids[1:])), ids
    # The trail: nothing about the anonymous report enters the sequence the day it is sent...
    about_hidden = [(ContentType.objects.get_for_model(r), str(r.pk)) for r in (hidden, attachments[1])]
    def entries():
        return [e for e in LogEntry.objects.all() if (e.content_type, e.object_pk) in about_hidden]
    assert entries() == []
    assert audit.release_held_entries() == 0  # not before the day is over
    # ...and enters it after the day, in a batch written after every entry of that day.
    tomorrow = timezone.now() + timedelta(days=1)
    assert audit.release_held_entries(now=tomorrow) == 3
    released = entries()
    assert sorted(e.action for e in released) == [LogEntry.Action.CREATE, LogEntry.Action.CREATE, LogEntry.Action.ACCESS]
    assert min(e.pk for e in released) > max(named_entries)
    for entry in released:
        assert entry.actor is None and entry.remote_addr is None and entry.cid is None
        assert entry.timestamp == hidden.reported_at  # the day only
    assert audit.release_held_entries(now=tomorrow) == 0  # released once
    # Lists: the anonymous report sorts by its day, not by when it was sent.
    assert list(services.events_visible_to(officer)) == [second, first, hidden]
    assert list(services.triage_queue(officer)) == [hidden, first, second]
    # Files: the anonymous report's photo is not a file on disk (the file system keeps the time
    # a file was made, which no program can set back); it is served from the database.
    assert not attachments[1].file
    assert sorted(p.name for p in (tmp_path / "safety").iterdir()) == sorted(
        Path(a.file.name).name for a in (attachments[0], attachments[2]))
    with services.open_attachment(attachments[1]) as stored:
        assert stored.read() == b"\xff\xd8\xff" + b"x.jpg" * 20


def test_the_report_pages_answer_named_and_anonymous_reports_alike_and_are_kept_out_of_the_access_log(
        hospital, make_user, safety_taxonomy, client):
    from django.urls import reverse
    from gunicorn.config import Config

    from andon import cli
    from andon.platform.access_log import AccessLog

    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    client.force_login(nurse)
    post = {"kind": "near_miss", "unit": hospital.unit("rgh/4w").pk, "occurred_at": "2026-01-05T10:00",
            "narrative": "Wrong wristband printed.", "category": "other"}
    named = client.post(reverse("safety:report"), post)
    anonymous = client.post(reverse("safety:report"), {**post, "anonymous": "on"})
    # The same status, page and headers: no redirect after one and not the other.
    assert named.status_code == anonymous.status_code == 200
    assert [t.name for t in named.templates][0] == [t.name for t in anonymous.templates][0]
    assert named.headers.keys() == anonymous.headers.keys() and "no-store" in named["Cache-Control"]
    listing = client.get(reverse("safety:my_reports") + "?page=1&name=secret")
    receipt = client.post(reverse("safety:receipt"), {"code": "0000-0000-0000-0000"})

    # andon serve logs through Andon's access log, which leaves out the reporting pages (named
    # and anonymous alike: by elimination against named reports' exact times, the time of any
    # logged report would give the anonymous ones away) and every query string.
    command = cli.gunicorn_command(cli.build_parser().parse_args(["serve"]))
    assert command[command.index("--logger-class") + 1] == "andon.platform.access_log.AccessLog"
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", command[command.index("--access-logformat") + 1])
    log = AccessLog(config)
    lines = []
    log.access_log.handlers = [logging.Handler()]
    log.access_log.handlers[0].emit = lambda record: lines.append(record.getMessage())

    class Response:
        status, sent, headers = "200 OK", 10, []

    for response in (named, anonymous, receipt, listing):
        environ = response.wsgi_request.META  # the WSGI environ, which gunicorn hands to its logger
        raw_uri = environ["PATH_INFO"] + (f"?{environ['QUERY_STRING']}" if environ["QUERY_STRING"] else "")
        log.access(Response(), [], {**environ, "RAW_URI": raw_uri}, timedelta(milliseconds=5))
    assert len(lines) == 1 and '"GET /safety/my-reports/ HTTP/1.1" 200' in lines[0] and "secret" not in lines[0]


def test_an_anonymous_reports_photos_are_kept_without_their_camera_data(hospital, make_user, safety_taxonomy):
    """A phone's photo carries the time it was taken, the phone and often the place (EXIF, XMP,
    comments, text chunks): the anonymous report keeps the picture, not them."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Apple", "Ana's iPhone 15", "2026:01:05 14:03:12"  # make, model, time
    jpeg, png = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(jpeg, "JPEG", exif=exif, comment=b"Ana Alvarez", quality=95)
    text = PngInfo()
    text.add_text("Author", "Ana Alvarez")
    Image.new("RGB", (8, 8), "blue").save(png, "PNG", pnginfo=text, exif=exif)
    photos = [SimpleUploadedFile("a.jpg", jpeg.getvalue() + b"trailer: Ana's phone", content_type="image/jpeg"),
              SimpleUploadedFile("b.png", png.getvalue(), content_type="image/png")]
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    event, _ = services.submit_report(nurse, *_report(hospital, True, *photos))
    for attachment in Attachment.objects.filter(event=event).order_by("name"):
        with services.open_attachment(attachment) as stored:
            kept = stored.read()
        for trace in (b"Ana", b"iPhone", b"2026:01:05", b"Exif"):
            assert trace not in kept, (attachment.name, trace)
        assert attachment.size == len(kept)
        picture = Image.open(io.BytesIO(kept))
        assert picture.size == (8, 8) and not picture.getexif() and picture.convert("RGB").getpixel((4, 4))[0 if attachment.name == "a.jpg" else 2] > 200
