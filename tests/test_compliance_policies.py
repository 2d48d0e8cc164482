"""Policies under document control: the approval workflow and each of its refusals, publishing with
read-and-sign rules, signing, completion, the daily reminders, the PDF, search (on the database the
suite runs on: SQLite's FTS5 or PostgreSQL's full-text search), pages and the API."""

import io
from datetime import timedelta

import pypdf
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from andon.compliance import policies as services
from andon.compliance.models import Attestation, Decision, Policy, PolicyStatus, PolicyVersion
from andon.platform.concurrency import Stale
from andon.platform.models import Notification
from andon.platform.roles import Role
from andon.platform.services import work_for
from auditlog.models import LogEntry

pytestmark = pytest.mark.django_db

FALLS_TEXT = "Assess every patient's fall risk on admission.\n\nKeep the bed in the lowest position."


@pytest.fixture
def people(make_user):
    return {
        "lee": make_user(Role.COMPLIANCE_SPECIALIST, "", username="lee", first_name="Lee", last_name="Chen"),
        "olivia": make_user(Role.CQO, "", username="olivia", first_name="Olivia", last_name="Grant"),
        "fatima": make_user(Role.UNIT_MANAGER, "rgh/medicine", username="fatima", first_name="Fatima",
                            last_name="Hassan"),
        "ana": make_user(Role.STAFF_REPORTER, "rgh/4w", username="ana", first_name="Ana", last_name="Alvarez"),
        "ben": make_user(Role.STAFF_REPORTER, "rgh/icu", username="ben", first_name="Ben", last_name="Okafor"),
        "chloe": make_user(Role.STAFF_REPORTER, "lch/2a", username="chloe"),
        "analyst": make_user(Role.QUALITY_ANALYST, "", username="analyst"),
    }


def _policy(hospital, people, code="PC-101", title="Falls prevention", unit="rgh/medicine", text=FALLS_TEXT):
    return services.create_policy(people["lee"], organisation=hospital.organisation,
                                  unit=hospital.unit(unit) if unit else None, code=code, title=title,
                                  owner=people["fatima"], review_every_months=24, text=text)


def _approved(hospital, people, **kwargs):
    policy = _policy(hospital, people, **kwargs)
    version = policy.versions.get()
    services.submit_for_review(people["lee"], version, [people["olivia"]])
    services.decide(people["olivia"], version, True, "")
    return policy, version


def _mail_to(mailoutbox, person) -> list[str]:
    return [message.subject for message in mailoutbox if message.to == [person.email]]


def _lines(person, words: str) -> list[str]:
    """The titles of the person's home-page lines that mention `words` (work lines and unread
    notifications alike)."""
    return [item.title for item in work_for(person) if words.lower() in item.title.lower()]


def _published(hospital, people, rules=None, **kwargs):
    policy, version = _approved(hospital, people, **kwargs)
    if rules is None:
        rules = [services.RuleSpec(role=Role.STAFF_REPORTER, unit=hospital.unit("rgh/4w"), due_in_days=14)]
    services.publish(people["lee"], version, timezone.localdate(), rules)
    version.refresh_from_db()
    return policy, version


# --- the workflow -------------------------------------------------------------------------------

def test_the_whole_workflow_from_draft_to_retired(hospital, people, mailoutbox, django_capture_on_commit_callbacks):
    policy = _policy(hospital, people)
    draft = policy.versions.get()
    assert (draft.number, draft.status, draft.text) == (1, PolicyStatus.DRAFT, FALLS_TEXT)

    services.edit_draft(people["fatima"], draft, draft.version, text=FALLS_TEXT + "\n\nCall bell in reach.",
                        change_summary="Call bell")  # the owner edits
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_for_review(people["lee"], draft, [people["olivia"], people["fatima"]])
    assert draft.status == PolicyStatus.IN_REVIEW
    # E-mail only: the approver's home page has the decision as a line of its own.
    assert _mail_to(mailoutbox, people["olivia"]) == ["[Andon] Policy awaiting your approval: PC-101 v1"]
    assert not Notification.objects.filter(recipient=people["olivia"]).exists()

    services.decide(people["olivia"], draft, True, "Good")
    assert draft.status == PolicyStatus.IN_REVIEW  # one approver of two
    services.decide(people["fatima"], draft, True, "")
    assert draft.status == PolicyStatus.APPROVED and draft.approved_at is not None

    services.publish(people["lee"], draft, timezone.localdate(), [])
    policy.refresh_from_db()
    assert draft.status == PolicyStatus.PUBLISHED and draft.published_by == people["lee"]
    assert policy.next_review_on == services._add_months(timezone.localdate(), 24)

    second = services.new_version(people["fatima"], policy)
    assert (second.number, second.status, second.text) == (2, PolicyStatus.DRAFT, draft.text)
    services.edit_draft(people["fatima"], second, None, text="Version two.", change_summary="Rewritten")
    services.submit_for_review(people["fatima"], second, [people["olivia"]])
    services.decide(people["olivia"], second, True, "")
    services.publish(people["lee"], second, timezone.localdate(), [])
    draft.refresh_from_db()
    assert draft.status == PolicyStatus.RETIRED and draft.retired_at is not None  # the previous one retires
    assert services.current_version(policy) == second

    services.retire(people["lee"], policy, "Merged into PC-100")
    assert set(policy.versions.values_list("status", flat=True)) == {PolicyStatus.RETIRED}
    # Every change and every approval is in the audit trail, with its actor.
    decisions = LogEntry.objects.filter(content_type__model="policyapproval", action=LogEntry.Action.UPDATE)
    assert {entry.actor for entry in decisions} == {people["olivia"], people["fatima"]}


def test_returning_needs_a_comment_and_sends_the_version_back_to_draft(hospital, people):
    policy = _policy(hospital, people)
    version = policy.versions.get()
    services.submit_for_review(people["lee"], version, [people["olivia"]])
    with pytest.raises(ValidationError) as refused:
        services.decide(people["olivia"], version, False, "  ")
    assert "Say what must change" in str(refused.value)
    services.decide(people["olivia"], version, False, "Add the post-fall huddle.")
    assert version.status == PolicyStatus.DRAFT
    approval = version.approvals.get()
    assert (approval.decision, approval.comment) == (Decision.RETURNED, "Add the post-fall huddle.")
    assert Notification.objects.filter(recipient=people["fatima"], title__contains="returned").exists()
    # Submitting again asks afresh.
    services.submit_for_review(people["lee"], version, [people["olivia"]])
    assert list(version.approvals.values_list("decision", flat=True)) == [Decision.PENDING]


def test_the_author_cannot_approve_their_own_version(hospital, people):
    version = _policy(hospital, people).versions.get()
    with pytest.raises(ValidationError) as refused:
        services.submit_for_review(people["lee"], version, [people["lee"]])
    assert "wrote this version" in str(refused.value)
    assert version.status == PolicyStatus.DRAFT and not version.approvals.exists()


def test_approvers_must_hold_the_capability_over_the_policy(hospital, people, make_user):
    version = _policy(hospital, people).versions.get()
    lakeside_manager = make_user(Role.UNIT_MANAGER, "lch/2a")
    for wrong in (people["ana"], lakeside_manager):
        with pytest.raises(ValidationError, match="may not approve"):
            services.submit_for_review(people["lee"], version, [wrong])
    with pytest.raises(ValidationError, match="at least one approver"):
        services.submit_for_review(people["lee"], version, [])


def test_only_a_named_approver_with_a_pending_decision_decides(hospital, people, make_user):
    version = _policy(hospital, people).versions.get()
    services.submit_for_review(people["lee"], version, [people["olivia"]])
    other_cqo = make_user(Role.CQO, "")
    with pytest.raises(PermissionDenied):
        services.decide(other_cqo, version, True, "")
    services.decide(people["olivia"], version, True, "")
    with pytest.raises(ValidationError, match="not in review"):
        services.decide(people["olivia"], version, True, "")


def test_publishing_needs_an_approved_version_and_document_control(hospital, people):
    version = _policy(hospital, people).versions.get()
    with pytest.raises(ValidationError, match="only an approved version"):
        services.publish(people["lee"], version, timezone.localdate(), [])
    services.submit_for_review(people["lee"], version, [people["olivia"]])
    services.decide(people["olivia"], version, True, "")
    with pytest.raises(PermissionDenied):
        services.publish(people["olivia"], version, timezone.localdate(), [])  # the CQO approves, not publishes
    assert version.status == PolicyStatus.APPROVED


def test_a_published_version_cannot_be_edited_and_others_may_not_edit_drafts(hospital, people):
    policy, version = _published(hospital, people, rules=[])
    with pytest.raises(ValidationError, match="only a draft can be changed"):
        services.edit_draft(people["lee"], version, None, text="Changed in place")
    draft = services.new_version(people["lee"], policy)
    with pytest.raises(PermissionDenied):
        services.edit_draft(people["ana"], draft, None, text="Not mine")
    version.refresh_from_db()
    assert version.text == FALLS_TEXT


def test_a_stale_version_is_refused(hospital, people):
    version = _policy(hospital, people).versions.get()
    seen = version.version
    services.edit_draft(people["fatima"], version, seen, text="First edit")
    with pytest.raises(Stale):
        services.edit_draft(people["lee"], version, seen, text="Second edit from an old page")
    version.refresh_from_db()
    assert version.text == "First edit"


def test_bad_input_names_the_field_and_stores_nothing(hospital, people):
    with pytest.raises(ValidationError) as refused:
        services.create_policy(people["lee"], organisation=hospital.organisation, unit=None, code="PC 1 <x>",
                               title="", owner=people["fatima"], review_every_months=0, text="x",
                               requirement_urns=["urn:nowhere"])
    assert set(refused.value.message_dict) == {"code", "title", "review_every_months", "requirement_urns"}
    assert not Policy.objects.exists()
    _policy(hospital, people)
    with pytest.raises(ValidationError, match="already has a policy"):
        _policy(hospital, people, code="pc-101")


def test_authoring_is_refused_outside_the_grant(hospital, people):
    with pytest.raises(PermissionDenied):
        services.create_policy(people["fatima"], organisation=hospital.organisation, unit=hospital.unit("lch/2a"),
                               code="X-1", title="Not hers", owner=people["fatima"], text="")


# --- read and sign ------------------------------------------------------------------------------

def test_publishing_asks_the_people_of_the_rule_and_no_one_else(hospital, people, make_user, mailoutbox,
                                                                 django_capture_on_commit_callbacks):
    ward_manager = make_user(Role.UNIT_MANAGER, "rgh/4w")
    with django_capture_on_commit_callbacks(execute=True):
        policy, version = _published(hospital, people, rules=[
            services.RuleSpec(role=Role.STAFF_REPORTER, unit=hospital.unit("rgh/4w"), due_in_days=14),
            services.RuleSpec(role="", unit=hospital.unit("rgh/4w"), due_in_days=30)])
    asked = {a.person.username: a for a in version.attestations.select_related("person", "unit")}
    # The nurse of 4 West (by both rules: the earlier due date), its manager (any role), and the
    # manager of Medicine above it; not the ICU nurse, Lakeside's nurse or organisation-wide roles.
    assert set(asked) == {"ana", ward_manager.username, "fatima"}
    assert asked["ana"].due_on == timezone.localdate() + timedelta(days=14)
    assert asked["ana"].unit == hospital.unit("rgh/4w")
    # E-mail only: the home page lists "Read and sign" until they sign.
    assert _mail_to(mailoutbox, people["ana"]) == ["[Andon] Please read and sign: PC-101 Falls prevention"]
    assert _mail_to(mailoutbox, people["ben"]) == []
    assert not Notification.objects.filter(recipient=people["ana"]).exists()


def test_someone_asked_to_read_and_sign_has_it_once_on_the_home_page(hospital, people):
    _published(hospital, people)
    assert _lines(people["ana"], "read and sign") == ["Read and sign: PC-101 Falls prevention"]


def test_an_approver_has_the_decision_once_on_the_home_page(hospital, people):
    version = _policy(hospital, people).versions.get()
    services.submit_for_review(people["lee"], version, [people["olivia"]])
    assert _lines(people["olivia"], "PC-101") == ["Policy awaiting your decision: PC-101 v1"]


def test_a_rule_outside_the_policy_is_refused(hospital, people):
    policy, version = _approved(hospital, people)
    with pytest.raises(ValidationError, match="outside Medicine"):
        services.publish(people["lee"], version, None, [services.RuleSpec(unit=hospital.unit("lch/2a"))])
    assert version.status == PolicyStatus.APPROVED and not version.attestations.exists()


def test_signing_is_the_persons_own_idempotent_and_leaves_the_home_page(client, hospital, people):
    policy, version = _published(hospital, people)
    client.force_login(people["ana"])
    home = client.get(reverse("home"))
    assert "Read and sign: PC-101 Falls prevention" in home.content.decode()

    first = services.sign(people["ana"], version)
    signed_at = first.signed_at
    assert signed_at is not None
    again = services.sign(people["ana"], version)  # a second tap
    assert again.signed_at == signed_at
    assert LogEntry.objects.filter(content_type__model="attestation", action=LogEntry.Action.UPDATE,
                                   actor=people["ana"]).count() == 1
    with pytest.raises(ValidationError, match="not asked"):
        services.sign(people["ben"], version)
    assert "Read and sign: PC-101" not in client.get(reverse("home")).content.decode()


def test_the_read_page_signs_in_one_tap_and_returns_home(client, hospital, people):
    policy, version = _published(hospital, people)
    client.force_login(people["ana"])
    page = client.get(reverse("compliance:attest", args=[version.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "I have read and understood" in text and "lowest position" in text
    response = client.post(reverse("compliance:attest", args=[version.pk]))
    assert response.status_code == 302 and response.url == reverse("home")
    assert Attestation.objects.get(person=people["ana"], version=version).signed_at is not None
    # Someone else's POST signs nothing of Ana's and is no signature of theirs.
    client.force_login(people["ben"])
    assert client.get(reverse("compliance:attest", args=[version.pk])).status_code == 403  # ICU: not their policy


def _more_to_sign(hospital, people, count: int) -> None:
    """`count` more published policies for Ana to read and sign, written in bulk (no audit)."""
    lee, now = people["lee"], timezone.now()
    policies = Policy.objects.bulk_create([
        Policy(organisation=hospital.organisation, code=f"PC-3{n:02}", title=f"Bulk policy {n}", owner=lee,
               review_every_months=36) for n in range(count)])
    versions = PolicyVersion.objects.bulk_create([
        PolicyVersion(policy=policy, number=1, status=PolicyStatus.PUBLISHED, created_by=lee, published_by=lee,
                      published_at=now, text="Read me. " * 200) for policy in policies])
    Attestation.objects.bulk_create([Attestation(version=version, person=people["ana"], due_on=timezone.localdate())
                                     for version in versions])


def test_the_home_page_with_pending_attestations_costs_a_bounded_number_of_queries(client, hospital, people):
    """Issue 16: the home page of someone with many policies to sign reads one page of them, with
    the policies named, not their texts (2 KB a row in the benchmark, nine tenths of what was read)."""
    for number in range(6):
        _published(hospital, people, code=f"PC-{200 + number}", title=f"Policy {number}")
    client.force_login(people["ana"])
    client.get(reverse("home"))  # warm the per-process caches
    with CaptureQueriesContext(connection) as few:
        text = client.get(reverse("home")).content.decode()
    assert text.count("Read and sign: PC-2") == 6
    _more_to_sign(hospital, people, 44)  # 50 to sign
    with CaptureQueriesContext(connection) as many:
        text = client.get(reverse("home")).content.decode()
    assert text.count("Read and sign: PC-") == services.WORK_LIMIT == 20
    assert len(many.captured_queries) == len(few.captured_queries) <= 15  # tests/test_request_cost.py's home page budget
    read = " ".join(query["sql"] for query in many.captured_queries)
    assert '"compliance_policyversion"."text"' not in read and '"compliance_policy"."search_text"' not in read


def test_completion_by_unit_and_person(hospital, people, make_user):
    second_nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    policy, version = _published(hospital, people, rules=[services.RuleSpec(unit=hospital.unit("rgh/medicine"))])
    services.sign(people["ana"], version)
    Attestation.objects.filter(person=second_nurse).update(due_on=timezone.localdate() - timedelta(days=1))
    rows = {row.label: (row.asked, row.signed, row.overdue, row.percent)
            for row in services.completion_by_unit(version.attestations.all())}
    assert rows == {"Medicine": (1, 0, 0, 0.0), "4 West Medical": (2, 1, 1, 50.0)}
    people_rows = {row.key: (row.asked, row.signed, row.overdue) for row in
                   services.completion_by_person(version.attestations.all())}
    assert people_rows[second_nurse.pk] == (1, 0, 1) and people_rows[people["ana"].pk] == (1, 1, 0)
    assert [a.person for a in services.overdue_attestations([version])] == [second_nurse]


def test_someone_joining_the_unit_later_is_asked_by_the_sweep(hospital, people, make_user, mailoutbox,
                                                              django_capture_on_commit_callbacks):
    policy, version = _published(hospital, people)
    newcomer = make_user(Role.STAFF_REPORTER, "rgh/4w")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.ask_new_people(timezone.localdate()) == 1
        assert services.ask_new_people(timezone.localdate()) == 0  # twice a day does nothing more
    assert version.attestations.filter(person=newcomer).exists()
    assert _mail_to(mailoutbox, newcomer) == ["[Andon] Please read and sign: PC-101 Falls prevention"]
    assert _lines(newcomer, "read and sign") == ["Read and sign: PC-101 Falls prevention"]


def test_overdue_reminders_go_once_per_period(hospital, people, settings, mailoutbox,
                                              django_capture_on_commit_callbacks):
    settings.ANDON_COMPLIANCE_REMINDER_DAYS = 7
    policy, version = _published(hospital, people)
    today = timezone.localdate()
    Attestation.objects.filter(version=version).update(due_on=today - timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.remind_attestations(today) == 1
        assert services.remind_attestations(today) == 0
        assert services.remind_attestations(today + timedelta(days=6)) == 0
        assert services.remind_attestations(today + timedelta(days=7)) == 1
    assert _mail_to(mailoutbox, people["ana"]) == ["[Andon] 1 policy to read and sign, overdue"] * 2
    # E-mail only: the home page already shows the overdue one, in red.
    assert [(item.title, item.kind) for item in work_for(people["ana"]) if "read and sign" in item.title.lower()] == [
        ("Read and sign: PC-101 Falls prevention", "alert")]
    services.sign(people["ana"], version)
    assert services.remind_attestations(today + timedelta(days=30)) == 0


def test_owners_hear_of_reviews_due_within_30_days_or_overdue(hospital, people, mailoutbox,
                                                              django_capture_on_commit_callbacks):
    policy, version = _published(hospital, people, rules=[])
    today = timezone.localdate()
    Policy.objects.filter(pk=policy.pk).update(next_review_on=today + timedelta(days=31))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.remind_reviews(today) == 0
        Policy.objects.filter(pk=policy.pk).update(next_review_on=today + timedelta(days=30))
        assert services.remind_reviews(today) == 1
        assert services.remind_reviews(today + timedelta(days=1)) == 0  # not again within the period
        assert services.remind_reviews(today + timedelta(days=40)) == 1
    assert _mail_to(mailoutbox, people["fatima"]) == [
        "[Andon] Policy review due: PC-101 Falls prevention", "[Andon] Policy review overdue: PC-101 Falls prevention"]
    assert not Notification.objects.filter(recipient=people["fatima"], title__startswith="Policy review").exists()


def test_an_owner_has_a_review_due_once_on_the_home_page(hospital, people):
    policy, version = _published(hospital, people, rules=[])
    Policy.objects.filter(pk=policy.pk).update(next_review_on=timezone.localdate() + timedelta(days=10))
    assert services.remind_reviews(timezone.localdate()) == 1
    assert _lines(people["fatima"], "policy review") == ["Policy review due: PC-101 Falls prevention"]


# --- the PDF ------------------------------------------------------------------------------------

def test_the_pdf_carries_code_version_and_approval_on_every_page(hospital, people):
    long_text = "\n\n".join(f"Paragraph {n}. " + "Check the patient's fall risk and record it. " * 12
                            for n in range(60))
    policy, version = _published(hospital, people, rules=[], text=long_text)
    reader = pypdf.PdfReader(io.BytesIO(services.policy_pdf(version)))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 3
    approved_on = timezone.localtime(version.approved_at).strftime("%Y-%m-%d")
    for number, text in enumerate(pages, 1):
        assert "PC-101 · Version 1" in text, f"page {number}"
        assert f"Approved by Olivia Grant on {approved_on}" in text, f"page {number}"
        assert f"Page {number} of {len(pages)}" in text
    assert "Falls prevention" in pages[0] and "Paragraph 59." in pages[-1]


def test_the_pdf_is_an_attachment_and_only_of_a_published_version(client, hospital, people):
    policy, version = _published(hospital, people, rules=[])
    client.force_login(people["ana"])
    response = client.get(reverse("compliance:policy_pdf", args=[version.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="PC-101-v1.pdf"'
    draft = services.new_version(people["lee"], policy)
    client.force_login(people["lee"])
    assert client.get(reverse("compliance:policy_pdf", args=[draft.pk])).status_code == 302


# --- search -------------------------------------------------------------------------------------

def test_search_finds_titles_codes_and_text_ranked_and_only_visible(hospital, people, db):
    _published(hospital, people, rules=[], code="PC-101", title="Falls prevention", text="Bed rails and alarms.")
    _published(hospital, people, rules=[], code="IC-201", title="Hand hygiene", unit=None,
               text="Clean hands at the five moments; falls are not covered here.")
    services.create_policy(people["lee"], organisation=hospital.organisation, unit=hospital.unit("lch/2a"),
                           code="LCH-9", title="Falls on 2A", owner=people["lee"], text="Lakeside only.")
    found = [hit.policy.code for hit in services.search_policies(people["lee"], "falls", 10)]
    assert found[-1] == "IC-201" and set(found) == {"PC-101", "IC-201", "LCH-9"}  # a title counts more than text
    assert [h.policy.code for h in services.search_policies(people["ana"], "falls", 10)] == ["PC-101", "IC-201"]
    assert [h.policy.code for h in services.search_policies(people["lee"], "IC-201", 10)] == ["IC-201"]
    hit = services.search_policies(people["lee"], "alarms", 10)[0]
    assert hit.policy.code == "PC-101" and "<mark>" in hit.snippet_html


def test_search_reads_hostile_queries_as_plain_words(hospital, people):
    _published(hospital, people, rules=[], text='Say "stop" <b>now</b> & NEAR the bed.')
    for hostile in ['"', "NEAR(", "*", "falls OR", "AND", "-", "')--", "bed*", "\x00", "(", "NOT NOT", "^", "a:b"]:
        services.search_policies(people["lee"], hostile, 10)  # never an error
    hit = services.search_policies(people["lee"], '"stop', 10)[0]
    assert hit.policy.code == "PC-101" and "<mark>" in hit.snippet_html
    assert "<b>" not in hit.snippet_html  # the policy's own text never puts markup on the page
    assert services.search_policies(people["lee"], "NEAR(", 10)[0].policy.code == "PC-101"


def test_search_follows_the_current_version(hospital, people):
    policy, version = _published(hospital, people, rules=[], text="Old wording about bedrails.")
    draft = services.new_version(people["lee"], policy)
    services.edit_draft(people["lee"], draft, None, text="New wording about sensors.")
    # The published text stays what search reads until the new version is published.
    assert services.search_policies(people["lee"], "bedrails", 5) and not services.search_policies(
        people["lee"], "sensors", 5)
    services.submit_for_review(people["lee"], draft, [people["olivia"]])
    services.decide(people["olivia"], draft, True, "")
    services.publish(people["lee"], draft, None, [])
    assert services.search_policies(people["lee"], "sensors", 5) and not services.search_policies(
        people["lee"], "bedrails", 5)


# --- pages and the API --------------------------------------------------------------------------

def test_the_library_lists_filters_and_searches(client, hospital, people):
    _published(hospital, people, rules=[])
    services.create_policy(people["lee"], organisation=hospital.organisation, unit=hospital.unit("lch/2a"),
                           code="LCH-9", title="Lakeside only", owner=people["lee"], text="")
    client.force_login(people["ana"])
    text = client.get(reverse("compliance:policies")).content.decode()
    assert "Falls prevention" in text and "Lakeside only" not in text
    assert "<td>Published v1</td>" in text  # each row's versions, paired with it by the view
    text = client.get(reverse("compliance:policies"), {"q": "lowest position"}).content.decode()
    assert "Results for" in text and "<mark>" in text
    text = client.get(reverse("compliance:policies"), {"status": "draft"}).content.decode()
    assert "No policies match" in text


def test_creating_editing_and_deciding_through_the_pages(client, hospital, people):
    client.force_login(people["lee"])
    response = client.post(reverse("compliance:policy_new"), {
        "code": "PC-300", "title": "Restraint use", "unit": hospital.unit("rgh/medicine").pk,
        "owner": people["fatima"].pk, "review_every_months": 12, "text": "Only with an order."})
    policy = Policy.objects.get(code="PC-300")
    assert response.status_code == 302
    version = policy.versions.get()
    response = client.post(reverse("compliance:policy_submit", args=[version.pk]),
                           {"approvers": [people["olivia"].pk], "version": version.version})
    assert response.status_code == 302
    client.force_login(people["olivia"])
    assert "Policy awaiting your decision: PC-300 v1" in client.get(reverse("home")).content.decode()
    response = client.post(reverse("compliance:policy_decide", args=[version.pk]), {"decision": "return", "comment": ""})
    assert response.status_code == 400 and "Say what must change" in response.content.decode()
    version.refresh_from_db()
    response = client.post(reverse("compliance:policy_decide", args=[version.pk]),
                           {"decision": "approve", "version": version.version})
    version.refresh_from_db()
    assert response.status_code == 302 and version.status == PolicyStatus.APPROVED
    client.force_login(people["lee"])
    response = client.post(reverse("compliance:policy_publish", args=[version.pk]), {
        "effective_on": timezone.localdate().isoformat(), "version": version.version,
        "rule0_ask": "on", "rule0_role": Role.STAFF_REPORTER, "rule0_unit": hospital.unit("rgh/4w").pk,
        "rule0_days": 10})
    assert response.status_code == 302
    assert list(Attestation.objects.filter(version=version).values_list("person__username", flat=True)) == ["ana"]
    page = client.get(reverse("compliance:policy", args=[policy.pk])).content.decode()
    assert "4 West Medical" in page and "0.0%" in page


def test_the_api_runs_the_workflow_and_signing(client, hospital, people):
    client.force_login(people["lee"])
    response = client.post("/api/v1/compliance/policies", {
        "unit_id": hospital.unit("rgh/medicine").pk, "code": "PC-400", "title": "Pressure injuries",
        "owner_id": people["fatima"].pk, "text": "Turn every two hours."}, content_type="application/json")
    assert response.status_code == 201, response.content
    policy_id = response.json()["id"]
    version_id = client.get(f"/api/v1/compliance/policies/{policy_id}/versions").json()[0]["id"]
    assert client.post(f"/api/v1/compliance/policy-versions/{version_id}/submit",
                       {"approver_ids": [people["olivia"].pk]}, content_type="application/json").status_code == 200
    client.force_login(people["olivia"])
    stale = client.post(f"/api/v1/compliance/policy-versions/{version_id}/decision",
                        {"approve": True, "version": 1}, content_type="application/json")
    assert stale.status_code == 409
    assert client.post(f"/api/v1/compliance/policy-versions/{version_id}/decision", {"approve": True},
                       content_type="application/json").json()["status"] == "approved"
    client.force_login(people["lee"])
    published = client.post(f"/api/v1/compliance/policy-versions/{version_id}/publish", {
        "attestation_rules": [{"role": "staff_reporter", "unit_id": hospital.unit("rgh/4w").pk, "due_in_days": 7}]},
        content_type="application/json")
    assert published.status_code == 200 and published.json()["status"] == "published"
    client.force_login(people["ana"])
    mine = client.get("/api/v1/compliance/my-attestations").json()["items"]
    assert [(a["policy_code"], a["overdue"]) for a in mine] == [("PC-400", False)]
    signed = client.post(f"/api/v1/compliance/policy-versions/{version_id}/signature")
    assert signed.status_code == 200 and signed.json()["signed_at"]
    assert client.get("/api/v1/compliance/my-attestations").json()["items"] == []
    client.force_login(people["fatima"])
    completion = client.get(f"/api/v1/compliance/policy-versions/{version_id}/completion").json()
    assert completion["by_unit"] == [{"id": hospital.unit("rgh/4w").pk, "name": "4 West Medical", "asked": 1,
                                      "signed": 1, "overdue": 0, "percent": 100.0}]
    hits = client.get("/api/v1/compliance/policies/search", {"q": "two hours"}).json()
    assert [hit["policy"]["code"] for hit in hits] == ["PC-400"]


def test_the_demo_policies_ask_nurse_ana_and_await_the_cqo(hospital, make_user):
    from andon.compliance import demo_policies

    make_user(Role.COMPLIANCE_SPECIALIST, "", username="compliance.lee")
    cqo = make_user(Role.CQO, "", username="cqo.olivia")
    make_user(Role.UNIT_MANAGER, "rgh/medicine", username="mgr.fatima")
    ana = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.ana")
    demo_policies.load()
    demo_policies.load()  # loading again adds nothing
    assert [a.version.policy.code for a in services.my_pending_attestations(ana)] == ["PC-101"]
    assert [a.version.policy.code for a in services.pending_decisions(cqo)] == ["PH-310"]
    overdue = services.reviews_due(Policy.objects.all(), timezone.localdate())
    assert list(overdue.values_list("code", flat=True)) == ["IC-201"]
    assert Policy.objects.count() == 5


def test_the_people_pickers_offer_whom_their_forms_accept(client, hospital, people):
    """The approver picker searches the policy's approvers, never its author; a person the field
    does not offer is refused on the page, which keeps the approvers chosen."""
    version = _policy(hospital, people).versions.get()
    olivia, ana = people["olivia"], people["ana"]
    client.force_login(people["lee"])

    def found(name, words, *args):
        return client.get(reverse(name, args=args), {"q": words}).content.decode()

    assert (f'type="checkbox" name="approvers" id="id_approvers-match-{olivia.pk}" value="{olivia.pk}">'
            in found("compliance:policy_approvers", "olivia", version.pk))
    assert "No one matches" in found("compliance:policy_approvers", "alvarez", version.pk)  # not an approver
    assert "No one matches" in found("compliance:policy_approvers", "lee", version.pk)  # the author
    assert f'value="{people["fatima"].pk}"' in found("compliance:policy_owners", "hassan")  # owns PC-101
    assert "No one matches" in found("compliance:policy_owners", "grant")
    assert f'value="{people["chloe"].pk}"' in found("compliance:policy_new_owners", "chloe")  # any staff

    refused = client.post(reverse("compliance:policy_submit", args=[version.pk]),
                          {"approvers": [olivia.pk, ana.pk], "version": version.version})
    html = refused.content.decode()
    assert refused.status_code == 400 and f"{ana.pk} is not one of the available choices" in html
    assert f'id="id_approvers-chosen-{olivia.pk}" value="{olivia.pk}" checked' in html and "Alvarez" not in html
    version.refresh_from_db()
    assert version.status == PolicyStatus.DRAFT and not version.approvals.exists()
