"""The RCA worksheet edits in place (issue 15, friction 11): every item is edited and removed with
its history (audited, and in plain words on the page), in place with htmx (the section comes
back, not a redirect), people are picked by a search that shows role and unit, a completed
analysis is not changed, and the finished analysis exports as a PDF with its sign-off."""

import io
from datetime import timedelta

import pypdf
import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.actions.models import Action
from andon.actions.models import Status as ActionStatus
from andon.platform.roles import Role
from andon.safety import rca, services
from andon.safety.models import (
    ContributingFactor,
    Review,
    RootCause,
    TeamMember,
    TimelineEntry,
    WhyChain,
    WorksheetChange,
)

HX = {"HX-Request": "true"}


@pytest.fixture
def people(hospital, make_user, safety_taxonomy):
    class People:
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse.jo")
        lead = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.rgh", first_name="Pat", last_name="Okafor")
        expert = make_user(Role.STAFF_REPORTER, "rgh/icu", username="expert", first_name="Sam", last_name="Lindqvist",
                           job_title="ICU charge nurse")
        cqo = make_user(Role.CQO, "", username="cqo", first_name="Dana", last_name="Ortiz")

    return People


@pytest.fixture
def investigation(hospital, people):
    event, _ = services.submit_report(people.nurse, services.Report(
        kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
        occurred_at=timezone.now() - timedelta(hours=5), narrative="Fall at night; hip fracture.", harm="severe",
        details={"injury_level": "major"}))
    event = services.triage(people.lead, event, services.Triage(
        category="fall", harm="severe", sac_severity="catastrophic", sac_probability="occasional", sentinel=True,
        review=Review.RCA, reason="Sentinel"))
    return rca.start_investigation(people.lead, event)


def url(name, investigation, *args):
    return reverse(f"safety:{name}", args=[investigation.event_id, *args])


def history(investigation) -> list[str]:
    return list(WorksheetChange.objects.filter(investigation=investigation).order_by("pk").values_list("text", flat=True))


def entries(model, pk, action):
    return LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model), object_pk=str(pk),
                                   action=action)


def test_a_root_cause_is_added_edited_and_removed_in_place_with_its_history(client, people, investigation):
    client.force_login(people.lead)
    added = client.post(url("add_to_investigation", investigation, "root_cause"),
                        {"statement": "Alarm fatigue led staff to silence bed alarms."}, headers=HX)
    assert added.status_code == 200
    fragment = added.content.decode()
    assert not fragment.lstrip().startswith("<!doctype")  # the section, not the page
    assert 'id="rca-root_cause"' in fragment and "Alarm fatigue led staff to silence bed alarms." in fragment
    assert 'id="rca-history"' in fragment and 'hx-swap-oob="true"' in fragment  # the history comes along
    cause = RootCause.objects.get()

    edited = client.post(url("edit_in_investigation", investigation, "root_cause", cause.pk),
                         {f"edit-root_cause-{cause.pk}-statement": "Bed alarms default to off after a bed move."},
                         headers=HX)
    assert edited.status_code == 200
    assert "Bed alarms default to off after a bed move." in edited.content.decode()
    cause.refresh_from_db()
    assert cause.statement == "Bed alarms default to off after a bed move."
    update = entries(RootCause, cause.pk, LogEntry.Action.UPDATE).get()
    assert update.actor == people.lead and update.changes_dict["statement"] == [
        "Alarm fatigue led staff to silence bed alarms.", "Bed alarms default to off after a bed move."]

    refused = client.post(url("edit_in_investigation", investigation, "root_cause", cause.pk),
                          {f"edit-root_cause-{cause.pk}-statement": "  "}, headers=HX)
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    assert RootCause.objects.get().statement == "Bed alarms default to off after a bed move."

    removed = client.post(url("remove_from_investigation", investigation, "root_cause", cause.pk), headers=HX)
    assert removed.status_code == 200 and "None stated yet." in removed.content.decode()
    assert not RootCause.objects.exists()
    assert entries(RootCause, cause.pk, LogEntry.Action.DELETE).get().actor == people.lead
    assert history(investigation) == [
        "Root cause added: “Alarm fatigue led staff to silence bed alarms.”.",
        "Root cause changed from “Alarm fatigue led staff to silence bed alarms.” to "
        "“Bed alarms default to off after a bed move.”.",
        "Root cause removed: “Bed alarms default to off after a bed move.”.",
    ]
    page = client.get(url("investigation", investigation)).content.decode()
    assert "Root cause removed: “Bed alarms default to off after a bed move.”." in page


def test_without_htmx_an_edit_goes_back_to_the_page(client, people, investigation):
    fact = rca.add_fact(people.lead, investigation, timezone.now() - timedelta(hours=4), "Bed alarm was off.")
    client.force_login(people.lead)
    at = timezone.localtime(fact.at).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url("edit_in_investigation", investigation, "fact", fact.pk),
                           {f"edit-fact-{fact.pk}-at": at, f"edit-fact-{fact.pk}-fact": "Bed alarm was switched off."})
    assert response.status_code == 302 and response["Location"].endswith("#rca-fact")
    assert TimelineEntry.objects.get().fact == "Bed alarm was switched off."


def test_every_kind_of_item_is_edited_and_removed(people, investigation):
    lead = people.lead
    member = rca.add_team_member(lead, investigation, people.expert, TeamMember.Part.MEMBER)
    rca.set_team_part(lead, investigation, member.pk, TeamMember.Part.EXPERT)
    fact = rca.add_fact(lead, investigation, timezone.now() - timedelta(hours=4), "Alarm off.")
    rca.edit_fact(lead, investigation, fact.pk, fact.at, "Alarm switched off at 02:10.")
    chain = rca.add_why_chain(lead, investigation, "Why off?", ["Fatigue"])
    rca.edit_why_chain(lead, investigation, chain.pk, "Why was it off?", ["Fatigue", "False alarms"])
    factor = rca.add_factor(lead, investigation, "environment", "Alarm off")
    rca.edit_factor(lead, investigation, factor.pk, "training", "Alarm defaults to off")
    action = services.add_rca_action(lead, investigation, title="Alarm default on", owner=people.expert,
                                     due_date=timezone.localdate() + timedelta(days=30), strength="stronger",
                                     measure="Weekly audit")
    services.edit_rca_action(lead, investigation, action.pk, action.version,
                             due_date=timezone.localdate() + timedelta(days=20))
    assert (TeamMember.objects.get(pk=member.pk).part, WhyChain.objects.get().whys,
            ContributingFactor.objects.get().category) == ("expert", ["Fatigue", "False alarms"], "training")
    for part, pk in (("team", member.pk), ("fact", fact.pk), ("why", chain.pk), ("factor", factor.pk)):
        rca.remove_item(lead, investigation, part, pk)
    services.remove_rca_action(lead, investigation, action.pk)
    assert not (TeamMember.objects.filter(pk=member.pk).exists() or TimelineEntry.objects.exists()
                or WhyChain.objects.exists() or ContributingFactor.objects.exists())
    assert Action.objects.get().status == ActionStatus.CANCELLED  # actions are cancelled, never deleted
    words = history(investigation)
    assert "Sam Lindqvist's part changed from member to subject-matter expert." in words
    assert "Sam Lindqvist (subject-matter expert) left the team." in words
    due = timezone.localdate()
    assert (f"Action “Alarm default on” changed: due date from {due + timedelta(days=30):%Y-%m-%d} to "
            f"{due + timedelta(days=20):%Y-%m-%d}.") in words
    assert "Action removed (cancelled in the action tracker): “Alarm default on”." in words
    with pytest.raises(ValidationError, match="needs a lead"):
        rca.remove_item(lead, investigation, "team", investigation.team.get(part="lead").pk)


def test_a_completed_analysis_is_not_changed(client, people, investigation):
    cause = rca.add_root_cause(people.lead, investigation, "Alarm fatigue.")
    rca.complete_investigation(people.lead, investigation, "Signed off")
    with pytest.raises(ValidationError, match="complete"):
        rca.edit_root_cause(people.lead, investigation, cause.pk, "Something else")
    with pytest.raises(ValidationError, match="complete"):
        rca.remove_item(people.lead, investigation, "root_cause", cause.pk)
    with pytest.raises(ValidationError, match="complete"):
        rca.add_team_member(people.lead, investigation, people.expert, TeamMember.Part.EXPERT)
    client.force_login(people.lead)
    response = client.post(url("edit_in_investigation", investigation, "root_cause", cause.pk),
                           {f"edit-root_cause-{cause.pk}-statement": "Something else"}, headers=HX)
    assert "The investigation is complete" in response.content.decode()
    assert RootCause.objects.get().statement == "Alarm fatigue."
    page = client.get(url("investigation", investigation)).content.decode()
    assert url("edit_in_investigation", investigation, "root_cause", cause.pk) not in page


def test_the_person_picker_finds_by_name_role_or_unit_and_shows_both(client, people, investigation, make_user):
    client.force_login(people.lead)
    for query in ("lindq", "charge", "ICU"):
        found = client.get(url("investigation_people", investigation), {"q": query, "field": "person",
                                                                        "name": "person", "picker": "team-person"})
        text = found.content.decode()
        assert 'type="radio" name="person"' in text and f'value="{people.expert.pk}"' in text, query
        assert "Sam Lindqvist" in text and "Staff reporter, Intensive Care Unit" in text
    nobody = client.get(url("investigation_people", investigation), {"q": "zzz"}).content.decode()
    assert "No one matches “zzz”." in nobody
    client.force_login(people.nurse)  # the reporter is not on the team
    assert client.get(url("investigation_people", investigation), {"q": "sam"}).status_code == 403
    client.force_login(people.lead)
    added = client.post(url("add_to_investigation", investigation, "team"),
                        {"person": people.expert.pk, "part": "expert"}, headers=HX)
    assert "Sam Lindqvist · Subject-matter expert" in added.content.decode()


def test_sign_off_by_the_lead_then_an_approver_and_the_pdf_holds_it(client, people, investigation):
    rca.add_root_cause(people.lead, investigation, "Bed alarms default to off after a bed move.")
    with pytest.raises(ValidationError, match="Complete the analysis"):
        rca.sign_findings(people.lead, investigation)
    rca.complete_investigation(people.lead, investigation, "Done")
    with pytest.raises(ValidationError, match="signs the findings before"):
        rca.approve_investigation(people.cqo, investigation)
    client.force_login(people.lead)
    assert client.post(url("approve_investigation", investigation)).status_code == 403
    assert client.post(url("sign_investigation", investigation)).status_code == 302
    client.force_login(people.cqo)
    assert "Approve the findings" in client.get(url("investigation", investigation)).content.decode()
    assert client.post(url("approve_investigation", investigation)).status_code == 302
    investigation.refresh_from_db()
    assert (investigation.signed_by, investigation.approved_by) == (people.lead, people.cqo)
    page = client.get(url("investigation", investigation)).content.decode()
    assert f"Pat Okafor, {timezone.localtime(investigation.signed_at):%Y-%m-%d %H:%M}" in page
    assert f"Dana Ortiz, {timezone.localtime(investigation.approved_at):%Y-%m-%d %H:%M}" in page

    response = client.get(url("investigation_pdf", investigation))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = " ".join("\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(response.content)).pages)
                    .split())
    assert "Bed alarms default to off after a bed move." in text
    assert f"Pat Okafor, {timezone.localtime(investigation.signed_at):%Y-%m-%d %H:%M}" in text
    assert f"Dana Ortiz, {timezone.localtime(investigation.approved_at):%Y-%m-%d %H:%M}" in text


def test_the_worksheet_is_edited_and_signed_off_over_the_api(client, people, investigation):
    from andon.platform import services as platform

    def as_(user):
        return {"Authorization": f"Bearer {platform.issue_token(user, 'test')[1]}"}

    base = f"/api/v1/safety/events/{investigation.event_id}/investigation"
    lead, cqo = as_(people.lead), as_(people.cqo)
    cause = rca.add_root_cause(people.lead, investigation, "Alarm fatigue.")
    extra = rca.add_root_cause(people.lead, investigation, "Duplicate.")
    edited = client.post(f"{base}/root-causes/{cause.pk}", {"statement": "Alarms default to off."},
                         content_type="application/json", headers=lead)
    assert edited.status_code == 200
    assert [c["statement"] for c in edited.json()["root_causes"]] == ["Alarms default to off.", "Duplicate."]
    removed = client.post(f"{base}/root-causes/{extra.pk}/removal", headers=lead)
    assert [c["statement"] for c in removed.json()["root_causes"]] == ["Alarms default to off."]
    assert removed.json()["changes"][0]["text"] == "Root cause removed: “Duplicate.”."
    early = client.post(f"{base}/signature", headers=lead)
    assert early.status_code == 422 and "Complete the analysis" in str(early.json())
    rca.complete_investigation(people.lead, investigation, "Done")
    late = client.post(f"{base}/root-causes/{cause.pk}", {"statement": "Changed after completion"},
                       content_type="application/json", headers=lead)
    assert late.status_code == 422 and "complete" in str(late.json())
    assert client.post(f"{base}/signature", headers=lead).status_code == 200
    approved = client.post(f"{base}/approval", headers=cqo).json()
    assert (approved["signed_by"], approved["approved_by"]) == (str(people.lead), str(people.cqo))
