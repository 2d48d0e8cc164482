"""The anonymous report without signing in (issue 15, item 9): its form and checks, its rate
limits, the receipt code it gives, and the two-way questions between the patient safety team and
the anonymous reporter through that code; all without anything that links the report, or the
answers, to an address or a session."""

import logging
import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit
from andon.platform.models import HeldAuditEntry, Notification
from andon.platform.roles import Role
from andon.safety import services
from andon.safety.models import ReporterQuestion, SafetyEvent

from .test_safety_anonymity import _rows_linked_to, _values

LOCAL = "%Y-%m-%dT%H:%M"
ADDRESS = "10.99.88.77"


def _post(hospital, **overrides):
    data = {
        "kind": "near_miss", "unit": str(hospital.unit("rgh/4w").pk),
        "occurred_at": timezone.localtime(timezone.now() - timedelta(hours=2)).strftime(LOCAL),
        "narrative": "Two vials of potassium chloride stored beside the saline.", "category": "other",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _code_in(page: str) -> str:
    match = re.search(r"\b([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4})\b", page)
    assert match, "no receipt code on the page"
    return match.group(1)


@pytest.fixture
def officer(make_user):
    return make_user(Role.PATIENT_SAFETY_OFFICER, "", username="pso.pat", first_name="Pat", last_name="Quinn")


# --- the form and the report ---------------------------------------------------------------------------

def test_the_public_form_is_the_report_form_without_sign_in_drafts_or_a_name(client, hospital, safety_taxonomy):
    response = client.get(reverse("safety:public_report"))
    page = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    for name in ("kind", "unit", "occurred_at", "narrative", "category", "harm", "immediate_action", "attachments"):
        assert f'name="{name}"' in page, name
    # Every active unit of the hospital can be chosen (the person has no grant to choose from).
    assert f'<option value="{hospital.unit("rgh/4w").pk}"' in page and f'<option value="{hospital.unit("lch/ed").pk}"' in page
    # Always anonymous: no choice to name oneself, no draft (nobody to keep it for).
    assert 'name="anonymous"' not in page and 'name="share_identity"' not in page
    assert 'name="save_draft"' not in page and 'name="draft"' not in page
    assert reverse("safety:public_category_fields") in page and 'name="csrfmiddlewaretoken"' in page
    fields = client.get(reverse("safety:public_category_fields"), {"category": "fall"}).content.decode()
    assert 'name="details.injury_level"' in fields


def test_a_report_without_sign_in_is_stored_anonymously_and_gives_a_receipt_code(client, hospital, safety_taxonomy,
                                                                                officer, caplog):
    caplog.set_level(logging.DEBUG)
    response = client.post(reverse("safety:public_report"), _post(hospital), REMOTE_ADDR=ADDRESS)
    page = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    event = SafetyEvent.objects.get()
    assert event.is_anonymous and event.reporter is None and not event.reporter_shares_identity
    assert re.fullmatch(r"EV-\d{4}-A-[0-9A-Z]{6}", event.reference) and event.reference in page
    code = _code_in(page)
    assert services.hash_receipt(code) == event.receipt_hash
    assert event.reported_at == audit.start_of_day(event.reported_at)  # the day only
    assert event.narrative == "Two vials of potassium chloride stored beside the saline."
    assert not Notification.objects.exists()
    # No session was opened for the visitor: nothing server-side outlives the response.
    from django.conf import settings

    assert settings.SESSION_COOKIE_NAME not in response.cookies
    # The receipt page finds it with the code.
    found = client.post(reverse("safety:receipt"), {"code": code}).content.decode()
    assert event.reference in found and "potassium chloride" in found
    # The triage queue lists it.
    assert list(services.triage_queue(officer)) == [event]
    # Nothing stored or logged carries the address, the session or an exact time.
    for row in _rows_linked_to(event):
        for field, value in _values(row):
            assert ADDRESS not in str(value), f"{type(row).__name__}.{field.name}"
            if isinstance(value, type(timezone.now())) and field.name != "occurred_at":
                assert (value.hour, value.minute, value.second) == (0, 0, 0), f"{type(row).__name__}.{field.name}"
    assert not LogEntry.objects.filter(remote_addr=ADDRESS).exists()
    for record in caplog.records:
        assert ADDRESS not in record.getMessage()
    # The rate limiter's cache holds no address.
    assert not any(ADDRESS in str(key) or ADDRESS in str(cache.get(key)) for key in _cache_keys())


def _cache_keys():
    """The keys the rate limiter wrote (the tests' cache is a file cache: read them back by name)."""
    window = int(timezone.now().timestamp() // 3600)
    return [f"andon:ratelimit:{scope}:{window}:{part}" for scope in ("public-report", "receipt") for part in ("salt", "all")]


def test_a_public_report_with_problems_shows_them_all_and_stores_nothing(client, hospital, safety_taxonomy):
    response = client.post(reverse("safety:public_report"), _post(hospital, kind="", narrative="", unit=""))
    page = response.content.decode()
    assert response.status_code == 400 and not SafetyEvent.objects.exists()
    assert "Choose what kind of report this is." in page and "Say what happened." in page
    assert "Choose the unit where it happened." in page
    # A signed-in person's choices are ignored: the report is anonymous whatever is posted.
    client.post(reverse("safety:public_report"), _post(hospital, anonymous="", share_identity="on"))
    assert SafetyEvent.objects.get().is_anonymous and not SafetyEvent.objects.get().reporter_shares_identity


def test_the_public_report_is_csrf_protected(hospital, safety_taxonomy):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(reverse("safety:public_report"), _post(hospital)).status_code == 403
    assert not SafetyEvent.objects.exists()


# --- rate limits ------------------------------------------------------------------------------------------

def test_the_post_beyond_the_limit_per_address_is_refused_and_nothing_is_stored(client, hospital, safety_taxonomy,
                                                                               settings):
    settings.ANDON_PUBLIC_REPORTS_PER_ADDRESS = 3
    for _ in range(3):
        assert client.post(reverse("safety:public_report"), _post(hospital), REMOTE_ADDR=ADDRESS).status_code == 200
    response = client.post(reverse("safety:public_report"), _post(hospital, narrative="The fourth report."),
                           REMOTE_ADDR=ADDRESS)
    page = response.content.decode()
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "this report was not stored" in page
    assert "The fourth report." in page  # what was typed is kept on the form
    assert SafetyEvent.objects.count() == 3 and not SafetyEvent.objects.filter(narrative="The fourth report.").exists()
    # Another address is not held back by this one.
    assert client.post(reverse("safety:public_report"), _post(hospital), REMOTE_ADDR="10.1.1.1").status_code == 200
    assert SafetyEvent.objects.count() == 4


def test_the_overall_limit_holds_whatever_the_address(client, hospital, safety_taxonomy, settings):
    settings.ANDON_PUBLIC_REPORTS_OVERALL = 2
    for address in ("10.0.0.1", "10.0.0.2"):
        assert client.post(reverse("safety:public_report"), _post(hospital), REMOTE_ADDR=address).status_code == 200
    assert client.post(reverse("safety:public_report"), _post(hospital), REMOTE_ADDR="10.0.0.3").status_code == 429
    assert SafetyEvent.objects.count() == 2


def test_receipt_look_ups_are_rate_limited(client, hospital, safety_taxonomy, make_user, settings):
    settings.ANDON_RECEIPT_LOOKUPS_PER_ADDRESS = 2
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    event, code = services.submit_report(nurse, services.Report(
        kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=1), narrative="Secret narrative", anonymous=True))
    for guess in ("AAAA-BBBB-CCCC-DDDD", "AAAA-BBBB-CCCC-DDDE"):
        assert client.post(reverse("safety:receipt"), {"code": guess}, REMOTE_ADDR=ADDRESS).status_code == 200
    held = HeldAuditEntry.objects.count()
    response = client.post(reverse("safety:receipt"), {"code": code}, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 429 and "Secret narrative" not in response.content.decode()
    assert HeldAuditEntry.objects.count() == held  # nothing looked up: no read recorded


# --- questions to the anonymous reporter ------------------------------------------------------------------

def test_the_officer_asks_the_anonymous_reporter_answers_with_the_code_and_the_officer_reads_it(
        client, hospital, safety_taxonomy, officer, caplog):
    response = client.post(reverse("safety:public_report"), _post(hospital), REMOTE_ADDR=ADDRESS)
    code, event = _code_in(response.content.decode()), SafetyEvent.objects.get()

    officer_client = Client()
    officer_client.force_login(officer)
    asked = officer_client.post(reverse("safety:ask_reporter", args=[event.pk]),
                                {"ask-text": "Which cupboard were the vials in?"})
    assert asked.status_code == 302
    question = ReporterQuestion.objects.get()
    assert (question.event, question.text, question.asked_by) == (event, "Which cupboard were the vials in?", officer)
    assert LogEntry.objects.get_for_object(question).get(action=LogEntry.Action.CREATE).actor == officer

    page = client.post(reverse("safety:receipt"), {"code": code}, REMOTE_ADDR=ADDRESS).content.decode()
    assert "Which cupboard were the vials in?" in page and "Pat Quinn" not in page
    assert f'name="question" value="{question.pk}"' in page

    caplog.set_level(logging.DEBUG)
    answered = client.post(reverse("safety:receipt"), {"code": code, "question": question.pk,
                                                       "answer": "The drug cupboard in the clean utility room."},
                           REMOTE_ADDR=ADDRESS)
    assert answered.status_code == 200 and "your answer is sent" in answered.content.decode()
    question.refresh_from_db()
    assert question.answer == "The drug cupboard in the clean utility room."
    assert question.answered_on == audit.start_of_day(question.answered_on)  # the day only
    # The answer is not audited in the request's name: held, no actor, no address, dated to the day.
    assert not LogEntry.objects.get_for_object(question).filter(action=LogEntry.Action.UPDATE).exists()
    audit.release_held_entries(now=timezone.now() + timedelta(days=1))
    entry = LogEntry.objects.get_for_object(question).get(action=LogEntry.Action.UPDATE)
    assert entry.actor is None and entry.remote_addr is None and entry.cid is None
    assert (entry.timestamp.hour, entry.timestamp.minute, entry.timestamp.second) == (0, 0, 0)
    assert not Notification.objects.exists()
    for record in caplog.records:
        assert ADDRESS not in record.getMessage()

    # The officer reads the answer on the event page.
    page = officer_client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert "Which cupboard were the vials in?" in page and "The drug cupboard in the clean utility room." in page
    # An answer is given once.
    again = client.post(reverse("safety:receipt"), {"code": code, "question": question.pk, "answer": "Changed."})
    assert again.status_code == 400 and "answered already" in again.content.decode()
    question.refresh_from_db()
    assert question.answer == "The drug cupboard in the clean utility room."


def test_an_answer_needs_the_code_of_its_own_report(client, hospital, safety_taxonomy, officer, make_user):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    report = services.Report(kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
                             occurred_at=timezone.now() - timedelta(hours=1), narrative="One.", anonymous=True)
    first, first_code = services.submit_report(nurse, report)
    second, second_code = services.submit_report(nurse, report)
    question = services.ask_reporter(officer, first, "When?")
    response = client.post(reverse("safety:receipt"), {"code": second_code, "question": question.pk, "answer": "Now."})
    assert response.status_code == 400 and "not about the report of this code" in response.content.decode()
    response = client.post(reverse("safety:receipt"), {"code": "AAAA-BBBB-CCCC-DDDD", "question": question.pk,
                                                       "answer": "Now."})
    assert "No report matches this code" in response.content.decode()
    question.refresh_from_db()
    assert question.answer == "" and question.answered_on is None
    # An empty answer is refused with a message, nothing stored.
    response = client.post(reverse("safety:receipt"), {"code": first_code, "question": question.pk, "answer": " "})
    assert response.status_code == 400 and "Write your answer." in response.content.decode()
    question.refresh_from_db()
    assert question.answer == "" and question.answered_on is None


def test_questions_go_to_anonymous_reporters_only_and_need_the_capability(hospital, safety_taxonomy, officer,
                                                                           make_user):
    from django.core.exceptions import ValidationError

    from andon.platform.permissions import PermissionDenied

    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    manager = make_user(Role.UNIT_MANAGER, "rgh/4w")
    report = services.Report(kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
                             occurred_at=timezone.now() - timedelta(hours=1), narrative="One.")
    named, _ = services.submit_report(nurse, report)
    with pytest.raises(ValidationError, match="ask its reporter directly"):
        services.ask_reporter(officer, named, "When?")
    report.anonymous = True
    hidden, _ = services.submit_report(nurse, report)
    with pytest.raises(ValidationError, match="Write the question"):
        services.ask_reporter(officer, hidden, "  ")
    with pytest.raises(PermissionDenied):
        services.ask_reporter(manager, hidden, "When?")
    assert not ReporterQuestion.objects.exists()


def test_questions_and_answers_leave_nothing_that_ties_the_report_to_its_reporter(
        hospital, safety_taxonomy, officer, make_user, client):
    """The anonymity test's check of every linked row, with a question asked and answered."""
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.cy", first_name="Cy", last_name="Lindqvist")
    client.force_login(nurse)
    session_key = client.session.session_key
    response = client.post(reverse("safety:report"), {**_post(hospital), "anonymous": "on"}, REMOTE_ADDR=ADDRESS)
    code, event = _code_in(response.content.decode()), SafetyEvent.objects.get()
    question = services.ask_reporter(officer, event, "Which cupboard?")
    # The reporter answers from the same signed-in session and address.
    client.post(reverse("safety:receipt"), {"code": code, "question": question.pk, "answer": "The utility room."},
                REMOTE_ADDR=ADDRESS)
    question.refresh_from_db()
    assert question.answer == "The utility room."
    identifiers = {nurse.username, nurse.email, "Lindqvist", ADDRESS, session_key, code}
    for row in _rows_linked_to(event) + list(_held_about(question)):
        for field, value in _values(row):
            if getattr(field, "related_model", None) is type(nurse) and value is not None:
                assert row == question and field.name == "asked_by" and value == officer.pk, field
            assert not any(identifier in str(value) for identifier in identifiers), f"{type(row).__name__}.{field.name}"
    assert not LogEntry.objects.filter(actor=nurse).exclude(content_type__model__in=["user", "rolegrant"]).exists()


def _held_about(question):
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(ReporterQuestion)
    return [entry for entry in HeldAuditEntry.objects.all()
            if (entry.fields["content_type_id"], entry.fields["object_pk"]) == (content_type.pk, str(question.pk))]


def test_a_question_number_that_is_not_a_number_is_refused_not_a_crash(client, hospital, safety_taxonomy, officer,
                                                                       make_user):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    event, code = services.submit_report(nurse, services.Report(
        kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=1), narrative="One.", anonymous=True))
    services.ask_reporter(officer, event, "When?")
    for bad in ("²", "1" * 30, "-1", ""):
        response = client.post(reverse("safety:receipt"), {"code": code, "question": bad, "answer": "Now."})
        assert response.status_code == 400, bad
    assert ReporterQuestion.objects.get().answer == ""


def test_the_limiter_keeps_no_address_and_forgets_each_window(monkeypatch):
    from andon.platform import ratelimit

    limit = ratelimit.Limit("probe", per_client=2, overall=100, window=60)
    now = [6000.0]  # the start of window 100
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    assert [ratelimit.allow(limit, ADDRESS) for _ in range(3)] == [True, True, False]
    assert ratelimit.allow(limit, "10.0.0.9")  # another address has its own count
    salt = cache.get("andon:ratelimit:probe:100:salt")
    assert salt and ADDRESS not in salt and cache.get("andon:ratelimit:probe:100:all") == 4
    assert cache.get(f"andon:ratelimit:probe:100:{ADDRESS}") is None
    now[0] += 60  # the next window: counted afresh, and the last window's salt and count are gone
    assert ratelimit.allow(limit, ADDRESS)
    assert cache.get("andon:ratelimit:probe:100:salt") is None and cache.get("andon:ratelimit:probe:100:all") is None
    assert cache.get("andon:ratelimit:probe:101:salt") not in (None, salt)
    assert ratelimit.retry_after(limit) == 60
