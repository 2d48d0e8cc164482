"""Peer review (issue 19 item 6): referral from a safety event, by hand and by trigger rules over
the clinical views; reviewers without a conflict of interest; the structured review on the
configurable scale; the committee's decision with its FPPE, action and feedback letter; the API."""

import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from pypdf import PdfReader

from andon.analytics.fhir import store as fhir_store
from andon.medstaff import peer_review, triggers
from andon.medstaff.models import (
    Fppe, PeerReview, PeerReviewAssignment, PeerReviewCase, PeerReviewStatus, ScaleKind, TriggerMiss,
)
from andon.medstaff.practitioners import create_practitioner
from andon.platform import content, sweeps
from andon.platform.models import Notification
from andon.platform.roles import Role
from andon.safety import services as safety
from tests.fuzz import examples, hostile_text

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture
def team(hospital, make_user, safety_taxonomy):
    """The office, the committee, a PSO, two peer reviewers of Medicine (one of them a practitioner
    of the same group as the practitioner reviewed), the practitioner with an account."""
    office = make_user(Role.MEDICAL_STAFF_OFFICE, "", username="office")
    people = {
        "office": office,
        "committee": make_user(Role.PEER_REVIEW_COMMITTEE, "", username="committee"),
        "pso": make_user(Role.PATIENT_SAFETY_OFFICER, "", username="pso"),
        "reviewer": make_user(Role.PEER_REVIEWER, "rgh/medicine", username="reviewer", first_name="Rita",
                              last_name="Reviewer"),
        "partner": make_user(Role.PEER_REVIEWER, "rgh/medicine", username="partner"),
        "doctor": make_user(Role.PRACTITIONER, "rgh/medicine", username="doctor"),
        "nurse": make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse"),
    }
    medicine = hospital.unit("rgh/medicine")
    people["subject"] = create_practitioner(office, department=medicine, family_name="Osei", given_name="Amara",
                                            degree="MD", npi="1234567893", fhir_id="prac-osei", group="Hospitalists",
                                            account=people["doctor"])
    create_practitioner(office, department=medicine, family_name="Partner", given_name="Pat", group="Hospitalists",
                        account=people["partner"])
    return people


def _event(team, hospital):
    event, _ = safety.submit_report(team["nurse"], safety.Report(
        kind="incident", category="vte", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(days=2), harm="moderate", details={"type": "pe"},
        narrative="Pulmonary embolism on day 4; no prophylaxis."))
    return event


def _case(team, summary="Late antibiotics in sepsis."):
    return peer_review.refer_by_hand(team["office"], practitioner=team["subject"], summary=summary,
                                     encounter_id="enc-1", occurred_on=timezone.localdate() - timedelta(days=3))


# --- referral -------------------------------------------------------------------------------------

def test_a_safety_officer_refers_from_the_event_page_which_then_shows_only_the_referral(client, team, hospital):
    event = _event(team, hospital)
    client.force_login(team["pso"])
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert reverse("medstaff:peer_review_refer_event", args=[event.pk]) in page
    form = client.get(reverse("medstaff:peer_review_refer_event", args=[event.pk])).content.decode()
    assert "Amara Osei, MD" in form
    response = client.post(reverse("medstaff:peer_review_refer_event", args=[event.pk]), {
        "practitioner": team["subject"].pk, "summary": "SECRET-SUMMARY no VTE assessment on admission"})
    assert response.status_code == 302 and response["Location"] == reverse("safety:event", args=[event.pk])
    case = PeerReviewCase.objects.get()
    year = timezone.localdate().year
    assert (case.reference, case.source, case.safety_event_id) == (f"PR-{year}-001", "safety_event", event.pk)
    assert case.referred_by == team["pso"] and case.status == PeerReviewStatus.REFERRED
    page = client.get(reverse("safety:event", args=[event.pk])).content.decode()
    assert f"Referred to medical staff peer review on {timezone.localdate():%Y-%m-%d} ({case.reference})" in page
    assert "SECRET-SUMMARY" not in page and "Osei" not in page
    # Referring opened nothing of the review to the officer.
    assert client.get(reverse("medstaff:peer_review_case", args=[case.pk])).status_code == 403
    assert peer_review.peer_review_referrals(event) == [(case.reference, timezone.localdate())]
    # The office and the committee are told a case waits, not what it holds.
    told = Notification.objects.filter(recipient=team["office"], title__contains=case.reference).get()
    assert "SECRET" not in told.title + told.body


def test_a_referral_by_hand_is_numbered_and_a_bad_one_is_refused_by_field(client, team):
    client.force_login(team["office"])
    response = client.post(reverse("medstaff:peer_review_refer"), {"practitioner": team["subject"].pk, "summary": " "})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        peer_review.refer_by_hand(team["office"], practitioner=team["subject"], summary="x", occurred_on=tomorrow)
    assert f"{tomorrow} is in the future" in str(refused.value)
    assert not PeerReviewCase.objects.exists()
    response = client.post(reverse("medstaff:peer_review_refer"), {
        "practitioner": team["subject"].pk, "summary": "Unplanned return to ICU", "encounter_id": "enc-9",
        "occurred_on": "2026-01-05"})
    case = PeerReviewCase.objects.get()
    assert response["Location"] == reverse("medstaff:peer_review_case", args=[case.pk])
    assert (case.source, case.encounter_id, case.occurred_on) == ("manual", "enc-9", date(2026, 1, 5))
    with pytest.raises(PermissionDenied):  # a nurse holds no refer_peer_review
        peer_review.refer_by_hand(team["nurse"], practitioner=team["subject"], summary="x")


# --- trigger rules --------------------------------------------------------------------------------

def _resource(kind, id_, **fields):
    return {"resourceType": kind, "id": id_, **fields}


def _stay(id_, patient, start, end, *, npi=None, practitioner=None, disposition=None):
    who = {"reference": f"Practitioner/{practitioner}"} if practitioner else {
        "reference": f"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|{npi}"}
    stay = _resource("Encounter", id_, status="finished", subject={"reference": f"Patient/{patient}"},
                     **{"class": {"code": "IMP"}}, period={"start": start, "end": end},
                     participant=[{"type": [{"coding": [{"code": "PPRF"}]}], "individual": who}])
    if disposition:
        stay["hospitalization"] = {"dischargeDisposition": {"coding": [{"code": disposition}]}}
    return stay


@pytest.fixture
def small_store(settings, tmp_path):
    """Made-up: a return to theatre (enc-rt, two procedures four days apart; by NPI), a death at
    60 (enc-d), a death at 90 (too old: not unexpected) and a death under palliative care, a
    readmission 26 hours after discharge (index enc-r1), and one 5 days after (not within 72
    hours); enc-u names a practitioner Andon does not know."""
    today = timezone.localdate()
    day = lambda n, hour=10: f"{today - timedelta(days=n)}T{hour:02d}:00:00+00:00"  # noqa: E731
    resources = [
        _resource("Patient", "p1", birthDate="1960-01-01"),
        _resource("Patient", "p2", birthDate=f"{today.year - 60}-01-01"),
        _resource("Patient", "p3", birthDate="1930-01-01"), _resource("Patient", "p4", birthDate="1990-01-01"),
        _resource("Patient", "p5", birthDate="1980-01-01"), _resource("Patient", "p6", birthDate="1970-01-01"),
        _stay("enc-rt", "p1", day(6), day(1), npi="1234567893"),
        _resource("Procedure", "pr1", status="completed", subject={"reference": "Patient/p1"},
                  encounter={"reference": "Encounter/enc-rt"}, code={"coding": [{"code": "80146002"}]},
                  performedDateTime=day(5)),
        _resource("Procedure", "pr2", status="completed", subject={"reference": "Patient/p1"},
                  encounter={"reference": "Encounter/enc-rt"}, code={"coding": [{"code": "80146002"}]},
                  performedDateTime=day(1)),
        _stay("enc-d", "p2", day(4), day(2), practitioner="prac-osei", disposition="exp"),
        _stay("enc-old", "p3", day(4), day(2), practitioner="prac-osei", disposition="exp"),
        _stay("enc-pall", "p4", day(4), day(2), practitioner="prac-osei", disposition="exp"),
        _resource("Procedure", "pr3", status="completed", subject={"reference": "Patient/p4"},
                  encounter={"reference": "Encounter/enc-pall"}, code={"coding": [{"code": "103735009"}]},
                  performedDateTime=day(3)),
        _stay("enc-r1", "p5", day(6), day(5, 8), practitioner="prac-osei"),
        _stay("enc-r2", "p5", day(4), day(3), practitioner="prac-osei"),  # 26 hours after
        _stay("enc-u", "p6", day(20), day(19), npi="9999999999"),
        _stay("enc-u2", "p6", day(15), day(14), npi="9999999999"),  # 5 days later: no
        _stay("enc-u3", "p6", day(13, 20), day(12), npi="9999999999"),  # 34 hours after enc-u2
    ]
    path = tmp_path / "fhir.duckdb"
    connection = fhir_store.connect(path)
    for resource in resources:
        connection.execute("INSERT INTO resources (type, id, resource) VALUES (?, ?, ?)",
                           [resource["resourceType"], resource["id"], json.dumps(resource)])
    connection.close()
    settings.ANDON_FHIR_STORE = path
    content.load_content([CONTENT / "peer-review-triggers"])
    return path


def test_the_trigger_rules_refer_each_case_once_and_keep_the_unknown_practitioners(team, small_store):
    today = timezone.localdate()
    found = {rule["key"]: sorted((f.encounter_id, f.practitioner_reference) for f in triggers.run_rule(
        rule, today - timedelta(days=30), today)) for rule in triggers.current_rules()}
    npi_reference = "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|"
    assert found == {
        "return-to-theatre": [("enc-rt", npi_reference + "1234567893")],
        "unexpected-death": [("enc-d", "Practitioner/prac-osei")],
        "readmission-72-hours": [("enc-r1", "Practitioner/prac-osei"), ("enc-u2", npi_reference + "9999999999")],
    }
    assert "peer review triggers" in sweeps.sweeps_of("medstaff")  # the daily sweep runs them
    counts = triggers.run_triggers(today, days=30)
    assert counts == {"referred": 3, "missed": 1, "known": 0, "failed rules": 0}
    cases = {(c.trigger_rule, c.encounter_id, c.practitioner_id, c.source) for c in PeerReviewCase.objects.all()}
    subject = team["subject"].pk
    assert cases == {("return-to-theatre", "enc-rt", subject, "trigger"),
                     ("unexpected-death", "enc-d", subject, "trigger"),
                     ("readmission-72-hours", "enc-r1", subject, "trigger")}
    miss = TriggerMiss.objects.get()
    assert (miss.trigger_rule, miss.encounter_id, miss.practitioner_reference) == (
        "readmission-72-hours", "enc-u2", npi_reference + "9999999999")
    # The sweep again the next day: nothing more.
    assert triggers.run_triggers(today, days=30) == {"referred": 0, "missed": 0, "known": 4, "failed rules": 0}
    assert PeerReviewCase.objects.count() == 3
    referrer = PeerReviewCase.objects.first().referred_by
    assert (referrer.username, referrer.is_active, referrer.has_usable_password()) == ("peer-review-triggers", False,
                                                                                       False)


def test_a_rule_that_cannot_be_used_is_refused_naming_the_file_and_field(team, small_store):
    base = {"key": "bad", "version": "1", "title": "Bad", "description": "d"}
    problems = {
        "DELETE FROM encounter": "sql: the SQL must be exactly one SELECT statement",
        "SELECT 1; SELECT 2": "sql: the SQL must be exactly one SELECT statement",
        "SELECT * FROM resources": "sql: the SQL reads resources, which are not views",
        "SELECT id FROM encounter WHERE period_start > $cutoff": "sql: $cutoff is not a declared parameter",
    }
    for sql, message in problems.items():
        with pytest.raises(content.ContentError) as refused:
            triggers.load_rule_file({**base, "sql": sql}, "content/peer-review-triggers/bad.yaml")
        assert str(refused.value).startswith(f"content/peer-review-triggers/bad.yaml: {message}")
    with pytest.raises(content.ContentError, match="bad.yaml: key: 'Bad Key' is not lowercase"):
        triggers.load_rule_file({**base, "key": "Bad Key", "sql": "SELECT 1 FROM encounter"}, "bad.yaml")
    rule = triggers.check_rule({**base, "sql": "SELECT id AS encounter_id FROM encounter"}, "bad.yaml")
    with pytest.raises(triggers.TriggerError, match="bad: the SQL returns no column patient_id, practitioner_id"):
        triggers.run_rule(rule, date(2026, 1, 1), date(2026, 2, 1))


# --- assignment -----------------------------------------------------------------------------------

def test_a_conflict_of_interest_is_refused_with_its_reason_and_nothing_changes(client, team, make_user):
    case = _case(team)
    office = team["office"]
    assert [p.username for p in peer_review.reviewers_offered(case)] == ["committee", "reviewer"]
    for reviewer, reason in ((team["partner"], "is of the same group as the practitioner under review (Hospitalists)"),
                             (office, "is not a peer reviewer of Medicine")):
        with pytest.raises(ValidationError) as refused:
            peer_review.assign_reviewers(office, case, [reviewer])
        assert reason in str(refused.value)
    both = make_user((Role.PEER_REVIEWER, ""), (Role.MEDICAL_STAFF_OFFICE, ""), username="both")
    own = peer_review.refer_by_hand(both, practitioner=team["subject"], summary="Referred by a reviewer")
    with pytest.raises(ValidationError, match="both referred the case"):
        peer_review.assign_reviewers(office, own, [both])
    doctor_reviewer = team["doctor"]
    from andon.platform import services

    services.grant_role(doctor_reviewer, Role.PEER_REVIEWER, case.practitioner.department)
    with pytest.raises(ValidationError, match="doctor is the practitioner under review"):
        peer_review.assign_reviewers(office, case, [doctor_reviewer])
    assert not PeerReviewAssignment.objects.exists()
    # On the page: the conflicted are not offered, and say why.
    client.force_login(office)
    page = client.get(reverse("medstaff:peer_review_case", args=[case.pk])).content.decode()
    assert "partner is of the same group" in page
    response = client.post(reverse("medstaff:peer_review_assign", args=[case.pk]),
                           {"reviewers": [team["partner"].pk], "version": case.version})
    assert response.status_code == 400
    assert "conflict of interest: partner is of the same group" in response.content.decode()
    client.post(reverse("medstaff:peer_review_assign", args=[case.pk]),
                {"reviewers": [team["reviewer"].pk], "version": case.version})
    case.refresh_from_db()
    assert case.status == PeerReviewStatus.ASSIGNED and case.assignments.get().reviewer == team["reviewer"]


def test_a_reviewer_declares_a_conflict_and_loses_the_case(client, team):
    case = _case(team)
    peer_review.assign_reviewers(team["office"], case, [team["reviewer"]])
    client.force_login(team["reviewer"])
    assert client.get(reverse("medstaff:peer_review_case", args=[case.pk])).status_code == 200
    client.post(reverse("medstaff:peer_review_conflict", args=[case.pk]), {"note": "I trained with her"})
    assert case.assignments.get().conflict_declared_at is not None
    assert client.get(reverse("medstaff:peer_review_case", args=[case.pk])).status_code == 403
    with pytest.raises(ValidationError, match="Rita Reviewer declared a conflict of interest with this case"):
        peer_review.assign_reviewers(team["office"], case, [team["reviewer"]])


# --- review, decision, letter ---------------------------------------------------------------------

def test_review_decision_fppe_and_the_letter_without_reviewer_names(client, team):
    case = _case(team, summary="Sepsis <script>alert(1)</script> recognised late")
    peer_review.assign_reviewers(team["office"], case, [team["reviewer"]])
    client.force_login(team["reviewer"])
    page = client.get(reverse("medstaff:peer_review_case", args=[case.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    response = client.post(reverse("medstaff:peer_review_review", args=[case.pk]), {
        "care_level": "7", "system_level": "none", "narrative": "x", "documentation_issue": "on"})
    body = response.content.decode()
    assert response.status_code == 400 and "Select a valid choice. 7 is not one of the available choices." in body
    assert not PeerReview.objects.exists()
    with pytest.raises(ValidationError) as refused:
        peer_review.submit_review(team["reviewer"], case, care_level="2", system_level="none", narrative="n",
                                  documentation_issue=True)
    assert refused.value.message_dict == {"documentation_note": ["say what the issue was"]}
    response = client.post(reverse("medstaff:peer_review_review", args=[case.pk]), {
        "care_level": "2", "system_level": "minor", "narrative": "Most would have repeated the lactate.",
        "communication_issue": "on", "communication_note": "Handover omitted the lactate."})
    assert response.status_code == 302
    review = PeerReview.objects.get()
    assert (review.care_level, review.system_level, review.communication_issue) == ("2", "minor", True)
    case.refresh_from_db()
    assert case.status == PeerReviewStatus.REVIEWED
    # The reviewer may not decide.
    assert client.post(reverse("medstaff:peer_review_decide", args=[case.pk]), {}).status_code == 403

    client.force_login(team["committee"])
    response = client.post(reverse("medstaff:peer_review_decide", args=[case.pk]), {
        "version": case.version, "outcome": "2", "system_level": "minor", "start_fppe": "on",
        "committee_note": "Care acceptable with minor differences: repeat lactate at two hours."})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.outcome, case.decided_on) == (PeerReviewStatus.DECIDED, "2", timezone.localdate())
    fppe = Fppe.objects.get()
    assert (fppe.trigger, fppe.practitioner, fppe.source_reference, case.fppe_reference) == (
        "peer_review", team["subject"], case.reference, fppe.reference)
    told = Notification.objects.get(recipient=team["doctor"])
    assert told.url == reverse("medstaff:peer_review_letter", args=[case.pk])
    # The practitioner reads their letter; it states the outcome and the committee's words only.
    client.force_login(team["doctor"])
    response = client.get(told.url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.content)).pages)
    assert f"Peer review feedback: {case.reference}" in text
    assert "level 2: Most peers would have handled it the same way in most respects, with minor differences" in text
    assert "repeat lactate at two hours" in text and fppe.reference in text
    assert "Rita" not in text and "Reviewer" not in text and "reviewer" not in text.replace("peer review", "")
    assert client.get(reverse("medstaff:peer_review_case", args=[case.pk])).status_code == 403


def test_system_issues_become_an_action_only_for_someone_who_manages_actions(team, make_user):
    case = _case(team)
    peer_review.assign_reviewers(team["office"], case, [team["reviewer"]])
    peer_review.submit_review(team["reviewer"], case, care_level="1", system_level="major", narrative="Alert failed.")
    wanted = {"title": "Route sepsis alerts to the responsible doctor", "owner": team["office"],
              "due_date": timezone.localdate() + timedelta(days=30)}
    with pytest.raises(ValidationError, match="you may not create actions for Medicine"):
        peer_review.decide_case(team["committee"], case, outcome="1", system_level="major", committee_note="OK",
                                system_action=wanted)
    case.refresh_from_db()
    assert case.decided_on is None
    chair = make_user((Role.PEER_REVIEW_COMMITTEE, ""), (Role.CQO, ""), username="chairperson")
    owner = make_user(Role.UNIT_MANAGER, "rgh/medicine", username="owner")
    case = peer_review.decide_case(chair, case, outcome="1", system_level="major", committee_note="Care as peers would",
                                   system_action={**wanted, "owner": owner})
    from andon.actions.models import Action

    action = Action.objects.get(pk=case.action_id)
    assert (action.title, action.owner, action.source_label) == (
        wanted["title"], owner, f"Peer review {case.reference} (system issues)")


def test_the_scale_is_configurable_and_the_review_uses_it(client, team):
    organisation = team["subject"].organisation
    client.force_login(team["office"])
    response = client.post(reverse("medstaff:peer_review_scale"), {
        "kind": "care", "code": "4", "label": "Care below the standard expected", "position": 4, "active": "on"})
    assert response.status_code == 302
    assert [lv.code for lv in peer_review.levels_of(organisation, ScaleKind.CARE)] == ["1", "2", "3", "4"]
    case = _case(team)
    peer_review.assign_reviewers(team["office"], case, [team["reviewer"]])
    assert peer_review.submit_review(team["reviewer"], case, care_level="4", system_level="none",
                                     narrative="n").care_level == "4"
    with pytest.raises(ValidationError, match=r"'9' is not a level of the scale \(1, 2, 3, 4\)"):
        peer_review.submit_review(team["reviewer"], case, care_level="9", system_level="none", narrative="n")
    client.force_login(team["committee"])
    assert client.get(reverse("medstaff:peer_review_scale")).status_code == 403


# --- the API --------------------------------------------------------------------------------------

def test_the_api_refers_assigns_reviews_decides_and_gives_the_letter(client, team, hospital):
    api = "/api/v1/medstaff/peer-review"
    client.force_login(team["pso"])
    event = _event(team, hospital)
    response = client.post(f"{api}/from-event/{event.pk}", {"practitioner_id": team["subject"].pk,
                                                             "summary": "PE without prophylaxis"},
                           content_type="application/json")
    assert response.status_code == 201 and set(response.json()) == {"reference", "referred_on"}
    case = PeerReviewCase.objects.get()
    assert client.get(f"{api}/cases/{case.pk}").status_code == 403
    assert client.get(f"{api}/cases").status_code == 403

    client.force_login(team["office"])
    response = client.post(f"{api}/cases/{case.pk}/assignments", {"reviewer_ids": [team["partner"].pk]},
                           content_type="application/json")
    assert response.status_code == 422 and "conflict of interest" in response.json()["detail"][0]["msg"]
    response = client.post(f"{api}/cases/{case.pk}/assignments", {"reviewer_ids": [team["reviewer"].pk]},
                           content_type="application/json")
    assert response.status_code == 201 and response.json()[0]["reviewer_id"] == team["reviewer"].pk

    client.force_login(team["reviewer"])
    assert [c["reference"] for c in client.get(f"{api}/cases").json()["items"]] == [case.reference]
    response = client.post(f"{api}/cases/{case.pk}/review", {"care_level": "3", "system_level": "none",
                                                             "narrative": "Prophylaxis was indicated."},
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["care_level"] == "3"

    client.force_login(team["committee"])
    response = client.post(f"{api}/cases/{case.pk}/decision", {
        "outcome": "3", "system_level": "none", "committee_note": "Prophylaxis should have been prescribed."},
        content_type="application/json")
    assert response.status_code == 200 and (response.json()["outcome"], response.json()["status"]) == ("3", "decided")
    assert client.get(f"{api}/cases/{case.pk}/reviews").json()[0]["narrative"] == "Prophylaxis was indicated."
    letter = client.get(f"{api}/cases/{case.pk}/letter")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    assert client.get(f"{api}/counts").json() == [{"department": "Medicine", "outcome": "3", "status": "Decided",
                                                   "cases": 1}]


# --- the demo -------------------------------------------------------------------------------------

def test_the_demo_has_a_decided_case_and_one_waiting_for_dr_yusuf(demo_hospital):
    cases = {case.status: case for case in PeerReviewCase.objects.select_related("practitioner", "safety_event")}
    assert set(cases) == {PeerReviewStatus.DECIDED, PeerReviewStatus.ASSIGNED}
    waiting, decided = cases[PeerReviewStatus.ASSIGNED], cases[PeerReviewStatus.DECIDED]
    assert waiting.safety_event.unit.code == "4w" and waiting.practitioner.department.code == "medicine"
    assert [a.reviewer.username for a in waiting.assignments.all()] == ["dr.yusuf"]
    assert peer_review.conflict_of(waiting, waiting.assignments.get().reviewer) == ""
    assert (decided.outcome, decided.source) == ("2", "manual")
    assert peer_review.peer_review_referrals(waiting.safety_event)[0][0] == waiting.reference


# --- hostile input --------------------------------------------------------------------------------

@hypothesis_settings(max_examples=examples(25), derandomize=True, deadline=None,
                     suppress_health_check=list(HealthCheck))
@given(summary=hostile_text(), encounter=hostile_text(), day=hostile_text(), care=hostile_text(),
       narrative=hostile_text())
def test_hostile_referrals_and_reviews_are_refused_or_stored_whole_never_a_server_error(
        client, team, summary, encounter, day, care, narrative):
    client.force_login(team["office"])
    before = PeerReviewCase.objects.count()
    response = client.post(reverse("medstaff:peer_review_refer"), {
        "practitioner": team["subject"].pk, "summary": summary, "encounter_id": encounter, "occurred_on": day})
    assert response.status_code in (302, 400)
    assert PeerReviewCase.objects.count() == before + (response.status_code == 302)
    case = PeerReviewCase.objects.order_by("-pk").first() or _case(team)
    if not case.assignments.exists():
        peer_review.assign_reviewers(team["office"], case, [team["reviewer"]])
    client.force_login(team["reviewer"])
    stored = PeerReview.objects.filter(assignment__case=case).values_list("narrative", flat=True).first()
    response = client.post(reverse("medstaff:peer_review_review", args=[case.pk]), {
        "care_level": care, "system_level": "none", "narrative": narrative})
    assert response.status_code in (302, 400)
    now = PeerReview.objects.filter(assignment__case=case).values_list("narrative", flat=True).first()
    assert now == (narrative.strip() if response.status_code == 302 else stored)
