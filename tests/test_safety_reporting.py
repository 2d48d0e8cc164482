"""The reporter's pages: the report form, its errors, drafts, anonymous receipts, the reporter's
own reports and feedback, conduct concerns and the category fields swapped in with htmx."""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from andon.platform.roles import Role
from andon.safety import services
from andon.safety.models import Attachment, ConductConcern, ReportDraft, SafetyEvent

LOCAL = "%Y-%m-%dT%H:%M"


@pytest.fixture
def nurse(make_user):
    return make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.ana", first_name="Ana", last_name="Alvarez")


@pytest.fixture
def signed_in(client, nurse, safety_taxonomy):
    client.force_login(nurse)
    return client


def fall_post(hospital, **overrides):
    data = {
        "kind": "incident", "unit": str(hospital.unit("rgh/4w").pk),
        "occurred_at": timezone.localtime(timezone.now() - timedelta(hours=2)).strftime(LOCAL),
        "narrative": "Patient found on the floor beside the bed at 03:10.", "category": "fall", "harm": "mild",
        "details.injury_level": "minor", "details.assisted": "no", "immediate_action": "Checked by the doctor.",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _nothing_stored():
    return not SafetyEvent.objects.exists() and not Attachment.objects.exists()


# --- the form -----------------------------------------------------------------------------------

def test_the_form_offers_the_minimal_fields_first_with_labels_and_defaults(signed_in, hospital):
    page = signed_in.get(reverse("safety:report")).content.decode()
    order = [page.index(marker) for marker in ('name="kind"', 'name="unit"', 'name="occurred_at"',
                                               'name="narrative"', 'name="category"', 'name="harm"',
                                               'name="immediate_action"', 'name="attachments"', 'name="anonymous"')]
    assert order == sorted(order)
    assert f'<option value="{hospital.unit("rgh/4w").pk}" selected>' in page  # the nurse's own ward
    assert page.count("<optgroup") >= 2  # units grouped by facility
    assert "Minimal symptoms or loss of function" in page  # harm levels carry their definitions
    assert "Concern about a colleague's conduct?" in page
    assert 'src="/static/safety/report.js"' in page
    assert "<script>" not in page and "style=" not in page and " onclick=" not in page
    assert 'type="datetime-local"' in page and timezone.localtime().strftime("%Y-%m-%dT") in page


def test_a_nurse_reports_a_fall_and_lands_on_her_report(signed_in, hospital, nurse):
    response = signed_in.post(reverse("safety:report"), fall_post(hospital))
    event = SafetyEvent.objects.get()
    # Answered in place, as an anonymous report is (no redirect): the reference and the way to the report.
    sent = response.content.decode()
    my_report = reverse("safety:my_report", args=[event.pk])
    assert response.status_code == 200 and f"your report {event.reference} is sent" in sent and f'href="{my_report}"' in sent
    assert event.reporter == nurse and event.kind == "incident" and event.harm == "mild"
    assert event.details == {"injury_level": "minor", "assisted": False}
    page = signed_in.get(my_report).content.decode()
    assert event.reference in page and "Patient found on the floor beside the bed" in page
    assert "Fall" in page and "Mild harm" in page and "Minor (bruise, abrasion, dressing or ice)" in page
    listing = signed_in.get(reverse("safety:my_reports")).content.decode()
    assert event.reference in listing and "Fall" in listing


@pytest.mark.parametrize(("overrides", "field_message"), [
    ({"kind": None}, "Choose what kind of report this is."),
    ({"unit": None}, "Choose the unit where it happened."),
    ({"occurred_at": None}, "Say when it happened."),
    ({"narrative": "   "}, "Say what happened."),
    ({"harm": None}, "An incident reached the patient: choose the harm"),
    ({"kind": "near_miss"}, "Only incidents (that reached the patient) have harm."),
    ({"category": "teleportation"}, "teleportation is not one of the available choices"),
    ({"details.injury_level": "catastrophic"}, "is not one of none, minor, moderate, major, death"),
    ({"details.assisted": "maybe"}, "answer yes or no"),
    ({"details.injury_level": None}, "required"),
    ({"occurred_at": (timezone.now() + timedelta(days=2)).strftime(LOCAL)}, "The time is in the future."),
    ({"narrative": "x" * 10_001}, "At most 10,000 characters"),
    ({"occurred_at": "yesterday-ish"}, "Enter the date and time"),
    ({"unit": "999999"}, "Select a valid choice"),
])
def test_every_error_re_renders_the_form_and_stores_nothing(signed_in, hospital, overrides, field_message):
    data = fall_post(hospital, **overrides)
    data["immediate_action"] = "Kept what I typed"
    response = signed_in.post(reverse("safety:report"), data)
    page = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in page and "The report was not sent" in page
    assert field_message in page
    assert "Kept what I typed" in page  # what was typed is kept
    assert _nothing_stored()


def test_several_errors_are_all_shown_at_once(signed_in, hospital):
    data = fall_post(hospital, kind=None, narrative="", unit=None)
    page = signed_in.post(reverse("safety:report"), data).content.decode()
    for message in ("Choose what kind", "Say what happened.", "Choose the unit where it happened."):
        assert page.count(message) == 2  # in the summary and next to the field
    assert _nothing_stored()


def _upload(name, content_type, size):
    return SimpleUploadedFile(name, b"0" * size, content_type=content_type)


def test_an_oversized_attachment_is_refused_and_nothing_is_stored(signed_in, hospital, settings):
    settings.ANDON_ATTACHMENT_MAX_BYTES = 100
    data = fall_post(hospital, attachments=[_upload("big.png", "image/png", 500)])
    response = signed_in.post(reverse("safety:report"), data)
    assert response.status_code == 400 and "big.png: larger than" in response.content.decode()
    assert _nothing_stored()


def test_a_wrong_attachment_type_is_refused_and_nothing_is_stored(signed_in, hospital):
    data = fall_post(hospital, attachments=[_upload("macro.docm", "application/vnd.ms-word.document.macroEnabled.12", 10)])
    response = signed_in.post(reverse("safety:report"), data)
    assert response.status_code == 400 and "macro.docm: only" in response.content.decode()
    assert _nothing_stored()


def test_more_than_five_attachments_are_refused(signed_in, hospital):
    files = [_upload(f"p{i}.png", "image/png", 10) for i in range(6)]
    response = signed_in.post(reverse("safety:report"), fall_post(hospital, attachments=files))
    assert response.status_code == 400 and "At most 5 attachments." in response.content.decode()
    assert _nothing_stored()


def test_a_script_in_the_narrative_is_shown_as_text(signed_in, hospital):
    narrative = '<script>alert("x")</script> & <b>bold</b>'
    signed_in.post(reverse("safety:report"), fall_post(hospital, narrative=narrative))
    page = signed_in.get(reverse("safety:my_report", args=[SafetyEvent.objects.get().pk])).content.decode()
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    # and on the re-rendered form too
    page = signed_in.post(reverse("safety:report"), fall_post(hospital, narrative=narrative, kind=None)).content.decode()
    assert "<script>alert" not in page


# --- drafts -----------------------------------------------------------------------------------

def test_a_draft_is_saved_restored_and_deleted_on_submit(signed_in, hospital, nurse):
    data = fall_post(hospital, narrative="Half-written: patient on the floor", harm=None, save_draft="1")
    response = signed_in.post(reverse("safety:report"), data)
    page = response.content.decode()
    assert response.status_code == 200 and "Draft saved at" in page
    assert not SafetyEvent.objects.exists()
    draft = ReportDraft.objects.get(author=nurse)
    assert draft.data["narrative"] == "Half-written: patient on the floor"
    assert draft.data["details"] == {"injury_level": "minor", "assisted": "no"}

    # Saving again reuses the one draft.
    signed_in.post(reverse("safety:report"), {**data, "narrative": "Patient on the floor, seen by the doctor"})
    assert ReportDraft.objects.filter(author=nurse).count() == 1

    page = signed_in.get(reverse("safety:report")).content.decode()
    assert "Patient on the floor, seen by the doctor" in page and "draft from" in page
    assert 'value="minor" selected' in page or 'value="minor" checked' in page
    assert "Patient on the floor, seen by the doctor" not in signed_in.get(reverse("safety:report") + "?new=1").content.decode()

    response = signed_in.post(reverse("safety:report"), fall_post(hospital))
    assert response.status_code == 200 and SafetyEvent.objects.get().reference in response.content.decode()
    assert not ReportDraft.objects.filter(author=nurse).exists()


def test_autosave_returns_a_status_fragment(signed_in, nurse):
    response = signed_in.post(reverse("safety:save_draft"), {"narrative": "typed so far", "details.stage": "2"})
    assert response.status_code == 200 and "Draft saved at" in response.content.decode()
    assert "<html" not in response.content.decode()
    draft = ReportDraft.objects.get(author=nurse)
    assert draft.data["narrative"] == "typed so far" and draft.data["details"] == {"stage": "2"}
    assert signed_in.get(reverse("safety:save_draft")).status_code == 405


# --- anonymous reports and receipts -------------------------------------------------------------

def test_an_anonymous_report_shows_its_receipt_once_and_the_receipt_shows_feedback(signed_in, hospital, client, nurse):
    services.save_draft(nurse, {"narrative": "draft"})
    data = fall_post(hospital, anonymous="on", share_identity="on")
    response = signed_in.post(reverse("safety:report"), data)
    page = response.content.decode()
    event = SafetyEvent.objects.get()
    assert response.status_code == 200  # rendered, not redirected
    assert event.reporter is None and event.is_anonymous and not event.reporter_shares_identity
    assert event.reference in page and reverse("safety:receipt") in page
    receipt = _code_in(page)
    assert services.hash_receipt(receipt) == event.receipt_hash
    assert "no-store" in response["Cache-Control"]
    assert not ReportDraft.objects.exists()
    session = signed_in.session
    assert receipt not in str(dict(session.items())) and event.reference not in str(dict(session.items()))
    assert "_messages" not in session
    # The anonymous report is not among the nurse's named reports.
    assert event.reference not in signed_in.get(reverse("safety:my_reports")).content.decode()

    services.tell_reporter(event, "Thank you. The bed alarms on 4 West are being replaced.")
    signed_in.logout()
    page = client.post(reverse("safety:receipt"), {"code": receipt.lower()}).content.decode()
    assert "The bed alarms on 4 West are being replaced." in page and event.reference in page
    assert "Patient found on the floor" in page


def _code_in(page: str) -> str:
    import re

    match = re.search(r"\b([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4})\b", page)
    assert match, "no receipt code on the page"
    return match.group(1)


def test_a_wrong_receipt_code_shows_nothing(client, hospital, nurse, safety_taxonomy):
    services.submit_report(nurse, services.Report(
        kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=1), narrative="Secret narrative", anonymous=True))
    assert client.get(reverse("safety:receipt")).status_code == 200
    response = client.post(reverse("safety:receipt"), {"code": "AAAA-BBBB-CCCC-DDDD"})
    page = response.content.decode()
    assert response.status_code == 200 and "No report matches this code" in page
    assert "Secret narrative" not in page and "EV-" not in page
    assert "No report matches this code" in client.post(reverse("safety:receipt"), {"code": ""}).content.decode()


# --- the reporter's own reports -----------------------------------------------------------------

def test_my_report_shows_feedback_but_no_triage_internals(signed_in, hospital, nurse, make_user):
    event, _ = services.submit_report(nurse, services.Report(
        kind="near_miss", category="medication", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=1), narrative="Insulin for the wrong bed, caught.",
        details={"ncc_merp": "B", "process_stage": "administering"}))
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "", username="officer.olga", first_name="Olga", last_name="Ortiz")
    services.triage(officer, event, services.Triage(category="medication", harm="", sac_severity="major",
                                                    sac_probability="frequent", sentinel=False, review="rca",
                                                    reason="Internal deliberation text"))
    listing = signed_in.get(reverse("safety:my_reports")).content.decode()
    assert "New feedback" in listing
    page = signed_in.get(reverse("safety:my_report", args=[event.pk])).content.decode()
    assert "investigated in depth" in page  # the service's words for the reporter
    for internal in ("Olga", "Ortiz", "officer.olga", "SAC", "Internal deliberation text", "major", "frequent"):
        assert internal not in page, internal
    assert "B: error did not reach the patient" in page
    assert "New feedback" not in signed_in.get(reverse("safety:my_reports")).content.decode()  # now read


def test_the_closing_summary_is_highlighted(signed_in, hospital, nurse):
    event, _ = services.submit_report(nurse, services.Report(
        kind="unsafe_condition", category="other", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=1), narrative="Wet floor by the sluice."))
    services.tell_reporter(event, "We fixed the leak.", closing=True)
    page = signed_in.get(reverse("safety:my_report", args=[event.pk])).content.decode()
    assert "Closing summary" in page and "We fixed the leak." in page


def test_another_users_report_is_not_found(client, hospital, nurse, make_user, safety_taxonomy):
    event, _ = services.submit_report(nurse, services.Report(
        kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=1), narrative="Nurse's own report"))
    for role, scope in ((Role.STAFF_REPORTER, "rgh/4w"), (Role.UNIT_MANAGER, "rgh/4w")):
        client.force_login(make_user(role, scope))
        assert client.get(reverse("safety:my_report", args=[event.pk])).status_code == 404
        assert "Nurse&#x27;s own report" not in client.get(reverse("safety:my_reports")).content.decode()


def test_reading_my_report_is_audited(signed_in, hospital, nurse):
    from auditlog.models import LogEntry

    event, _ = services.submit_report(nurse, services.Report(
        kind="near_miss", category="other", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=1), narrative="A report"))
    signed_in.get(reverse("safety:my_report", args=[event.pk]))
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, actor=nurse).get()
    assert entry.additional_data == {"reason": "reporter read own report"}


# --- conduct concerns, category fields, missing taxonomy ---------------------------------------

def test_a_conduct_concern_goes_to_its_own_route(signed_in, hospital, nurse):
    page = signed_in.get(reverse("safety:conduct_concern")).content.decode()
    assert "medical staff office" in page and "chief medical officer" in page
    response = signed_in.post(reverse("safety:conduct_concern"), {
        "unit": str(hospital.unit("rgh/4w").pk), "about": "Dr X, registrar", "narrative": "Shouted at a patient."})
    assert response.status_code == 302
    concern = ConductConcern.objects.get()
    assert concern.raised_by == nurse and concern.about == "Dr X, registrar"
    assert not SafetyEvent.objects.exists()
    assert "was sent" in signed_in.get(response["Location"]).content.decode()


def test_a_conduct_concern_with_errors_is_shown_again(signed_in, hospital):
    response = signed_in.post(reverse("safety:conduct_concern"), {"unit": "", "about": "", "narrative": "typed"})
    page = response.content.decode()
    assert response.status_code == 400 and "Choose the unit." in page and "Say who the concern is about." in page
    assert "typed" in page and not ConductConcern.objects.exists()


def test_category_fields_are_rendered_from_the_taxonomy(signed_in):
    page = signed_in.get(reverse("safety:category_fields"), {"category": "medication"}).content.decode()
    assert 'name="details.ncc_merp"' in page and 'name="details.process_stage"' in page
    assert 'name="details.medication"' in page and "D: needed monitoring" in page
    assert 'for="id_details_ncc_merp"' in page
    fall = signed_in.get(reverse("safety:category_fields"), {"category": "fall"}).content.decode()
    assert fall.count('name="details.assisted"') == 2  # yes / no radios
    assert signed_in.get(reverse("safety:category_fields"), {"category": "nope"}).content.decode().strip() == ""


def test_without_a_taxonomy_the_page_says_what_to_do(client, nurse):
    client.force_login(nurse)
    response = client.get(reverse("safety:report"))
    assert response.status_code == 503 and "andon load-content" in response.content.decode()


def test_pages_need_sign_in_except_the_receipt(client, safety_taxonomy, hospital):
    for name in ("safety:report", "safety:my_reports", "safety:conduct_concern"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login" in response["Location"]
    assert client.get(reverse("safety:receipt")).status_code == 200


# --- reporting is one tap away (issue 15, item 9) -------------------------------------------------

@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
def test_every_home_page_and_the_bar_offer_report_an_event_and_the_menu_my_reports(client, make_user, role,
                                                                                  safety_taxonomy):
    client.force_login(make_user(role, ""))
    page = client.get(reverse("home")).content.decode()
    report = reverse("safety:report")
    assert re.search(rf'<a class="btn btn-danger btn-lg" href="{report}" id="home-report">.*Report an event</a>', page)
    assert f'class="btn btn-danger ms-auto me-2 order-md-last ms-md-2 me-md-0 nav-action" href="{report}"' in page
    assert f'<a class="dropdown-item" href="{reverse("safety:my_reports")}">' in page


def test_a_signed_out_visitor_is_offered_the_anonymous_report(client, safety_taxonomy):
    page = client.get(reverse("account_login")).content.decode()
    assert f'href="{reverse("safety:public_report")}"' in page and "without signing in" in page
    assert f'href="{reverse("safety:receipt")}"' in page


def test_my_reports_lists_the_drafts_to_continue_or_delete(signed_in, nurse, make_user, hospital):
    services.save_draft(nurse, {"category": "fall", "narrative": "Patient found on the floor by bed 12."})
    second = services.save_draft(nurse, {"narrative": ""})
    someone = make_user(Role.STAFF_REPORTER, "rgh/4w")
    theirs = services.save_draft(someone, {"narrative": "Someone else's words"})
    page = signed_in.get(reverse("safety:my_reports")).content.decode()
    assert "Drafts not sent yet" in page
    assert "Fall · Patient found on the floor by bed 12." in page and "Nothing written yet" in page
    assert "Someone else" not in page
    for draft in ReportDraft.objects.filter(author=nurse):
        assert f'href="{reverse("safety:report")}?draft={draft.pk}"' in page
        assert f'action="{reverse("safety:delete_draft", args=[draft.pk])}"' in page
    response = signed_in.post(reverse("safety:delete_draft", args=[second.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("safety:my_reports")
    assert list(ReportDraft.objects.filter(author=nurse).values_list("data__narrative", flat=True)) == [
        "Patient found on the floor by bed 12."]
    # Someone else's draft is not deleted.
    signed_in.post(reverse("safety:delete_draft", args=[theirs.pk]))
    assert ReportDraft.objects.filter(pk=theirs.pk).exists()


def test_a_draft_number_that_is_not_a_number_is_no_draft_not_a_crash(signed_in, nurse, hospital):
    """`str.isdigit` lets through digits `int()` refuses (such as '²'): the form answered 500."""
    services.save_draft(nurse, {"narrative": "Kept words"})
    response = signed_in.get(reverse("safety:report"), {"draft": "²"})
    assert response.status_code == 200 and "Kept words" not in response.content.decode()
    response = signed_in.post(reverse("safety:report"), {"save_draft": "1", "draft": "³", "narrative": "New words"})
    assert response.status_code == 200
    assert sorted(ReportDraft.objects.filter(author=nurse).values_list("data__narrative", flat=True)) == [
        "Kept words", "New words"]
