"""FMEA and HFMEA pages and API: the register by year (and its line when this year has none
completed), starting an assessment with searched people, the numbered flow and the worksheet,
scoring on the page (the reason a row is acted on, before → after the actions, the HFMEA tree),
the team, completing and reopening, the settings form, and the API's bodies and refusals."""

import json
import re
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.actions.models import Action
from andon.platform import services as platform
from andon.platform.models import Organisation, User
from andon.platform.roles import Role
from andon.risk import services
from andon.risk.models import Assessment, AssessmentStatus, CauseScoring, FailureCause, FmeaSettings, Method
from tests.test_risk_fmea import team as fmea_team  # noqa: F401  (a fixture)
from tests.test_risk_scoring import _table

NEXT_MONTH = timezone.localdate() + timedelta(days=30)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def team(fmea_team, make_user):
    """The FMEA services' team, named (the people picker searches names), with a nurse (no role
    that reads assessments) and an executive (reads them, leads none)."""
    for person, first, last in ((fmea_team.analyst, "Quinn", "Analyst"), (fmea_team.manager, "Rita", "Manager"),
                                (fmea_team.pharmacist, "Phil", "Pharmacist")):
        person.first_name, person.last_name = first, last
        person.save()
    fmea_team.pharmacist.job_title = "Lead pharmacist"
    fmea_team.pharmacist.save()
    fmea_team.nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nina", first_name="Nina", last_name="Nurse")
    fmea_team.executive = make_user(Role.CQO, "", username="cora")
    return fmea_team


def _start(people, method=Method.FMEA, **overrides):
    fields = {"title": "High-alert medication dispensing", "method": method, "leader": people.analyst,
              "unit": people.pharmacy, "team": [people.pharmacist]}
    return services.start_assessment(people.analyst, **(fields | overrides))


def _cause(team, assessment, step_text="Verify the order"):
    step = services.add_step(team.pharmacist, assessment, step_text)
    mode = services.add_failure_mode(team.pharmacist, step, "Wrong concentration selected", "Ten-fold overdose")
    return services.add_cause(team.pharmacist, mode, "Look-alike vials side by side", "Second check by a technician")


def _page(client, assessment, form=""):
    """The assessment's page (with one of the worksheet's forms open: `form`, its prefix)."""
    response = client.get(reverse("risk:fmea_assessment", args=[assessment.pk]), {"form": form} if form else {})
    assert response.status_code == 200
    return response.content.decode()


def _score(client, assessment, cause, **fields):
    data = {f"c{cause.pk}-score-{name}": value for name, value in fields.items()}
    return client.post(reverse("risk:fmea_score", args=[assessment.pk, cause.pk]), data, headers=HTMX)


# --- the register ----------------------------------------------------------------------------------

def test_the_register_counts_started_and_completed_by_year_and_says_when_none_is_completed(client, team):
    this_year = timezone.localdate().year
    open_one = _start(team)
    last_year = _start(team, title="Blood transfusion", started_on=timezone.localdate().replace(
        year=this_year - 1, month=6, day=1))
    Assessment.objects.filter(pk=last_year.pk).update(status=AssessmentStatus.COMPLETED,
                                                      completed_on=last_year.started_on)
    client.force_login(team.manager)
    page = client.get(reverse("risk:fmea_register")).content.decode()
    assert f"No proactive risk assessment has been completed in {this_year} yet." in page
    assert "Accreditors expect at least one proactive risk assessment of a high-risk process a year." in page
    assert f'<th scope="row"><a href="#year-{this_year}">{this_year}</a></th><td class="text-end">1</td>' \
           f'<td class="text-end">0</td>' in page
    assert f'<a href="#year-{this_year - 1}">{this_year - 1}</a></th><td class="text-end">1</td>' \
           f'<td class="text-end">1</td>' in page
    assert open_one.reference in page and reverse("risk:fmea_start") in page and reverse("risk:fmea_settings") in page
    Assessment.objects.filter(pk=open_one.pk).update(status=AssessmentStatus.COMPLETED)
    assert "has been completed in" not in client.get(reverse("risk:fmea_register")).content.decode()
    # A nurse reads no assessments until she is on a team; then hers alone, and no start button.
    client.force_login(team.nurse)
    assert client.get(reverse("risk:fmea_register")).status_code == 403
    open_one.team.add(team.nurse)
    page = client.get(reverse("risk:fmea_register")).content.decode()
    assert open_one.reference in page and last_year.reference not in page
    assert reverse("risk:fmea_start") not in page


# --- starting an assessment: people found by searching, never listed -----------------------------

def test_starting_an_assessment_searches_people_and_lists_none_of_the_staff(client, team, make_user):
    for n in range(30):
        make_user(Role.STAFF_REPORTER, "rgh/4w", username=f"staff{n}", first_name="Extra", last_name=f"Person{n}")
    client.force_login(team.analyst)
    page = client.get(reverse("risk:fmea_start")).content.decode()
    assert "Person1" not in page and "Phil" not in page
    # The platform's picker: the label names the search box, which asks the FMEA's search for its field.
    people = reverse("risk:fmea_people")
    assert '<label class="form-label small mb-1" for="id_leader">Leader</label>' in page
    assert '<input type="search" name="q" form="id_team-no-form"' in page
    assert f'hx-get="{people}?name=leader"' in page and f'hx-get="{people}?name=team"' in page
    # The leader starts as the one starting it.
    assert f'name="leader" id="id_leader-chosen-{team.analyst.pk}" value="{team.analyst.pk}" checked' in page
    found = client.get(people, {"q": "pharm", "name": "team"}).content.decode()
    assert "Phil Pharmacist" in found and "Lead pharmacist" in found
    assert (f'type="checkbox" name="team" id="id_team-match-{team.pharmacist.pk}" value="{team.pharmacist.pk}">'
            in found)
    found = client.get(people, {"q": "pharm", "name": "leader"}).content.decode()
    assert f'type="radio" name="leader" id="id_leader-match-{team.pharmacist.pk}"' in found
    assert client.get(people, {"q": "pharm", "name": "title"}).status_code == 404  # no picker of that name
    assert client.get(people, {"q": "pharm"}).status_code == 404
    # Who was ticked stays ticked when the form comes back with an error.
    response = client.post(reverse("risk:fmea_start"), {
        "title": "", "method": "fmea", "priority_method": "rpn", "place": f"u{team.pharmacy.pk}",
        "leader": team.analyst.pk, "team": [team.pharmacist.pk, team.nurse.pk]})
    assert response.status_code == 400
    for person in (team.pharmacist, team.nurse):
        assert (f'type="checkbox" name="team" id="id_team-chosen-{person.pk}" value="{person.pk}" checked'
                in response.content.decode())
    assert not Assessment.objects.exists()
    response = client.post(reverse("risk:fmea_start"), {
        "title": "Insulin on the wards", "scope": "From prescription to the dose given", "method": "hfmea",
        "priority_method": "rpn", "place": f"u{team.pharmacy.pk}", "leader": team.analyst.pk,
        "team": [team.pharmacist.pk, team.nurse.pk]})
    assessment = Assessment.objects.get(title="Insulin on the wards")
    assert response["Location"] == reverse("risk:fmea_assessment", args=[assessment.pk])
    assert (assessment.method, assessment.unit, assessment.leader) == (Method.HFMEA, team.pharmacy, team.analyst)
    assert set(assessment.team.all()) == {team.pharmacist, team.nurse}


def test_the_start_form_refuses_with_the_field_named_and_starts_nothing(client, team, hospital):
    client.force_login(team.analyst)
    stranger = platform.create_user("stranger")  # no role in the organisation
    response = client.post(reverse("risk:fmea_start"), {
        "title": "", "method": "fmea", "priority_method": "ap", "place": f"u{team.pharmacy.pk}",
        "leader": stranger.pk})
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page and "Select a valid choice." in page
    response = client.post(reverse("risk:fmea_start"), {
        "title": "Chemotherapy", "method": "fmea", "priority_method": "ap", "place": f"u{team.pharmacy.pk}",
        "leader": team.analyst.pk})
    assert response.status_code == 400
    assert "The organisation&#x27;s Action Priority table is empty" in response.content.decode()
    assert not Assessment.objects.exists()


# --- the assessment page: the flow and the worksheet ------------------------------------------------

def test_the_page_draws_the_numbered_flow_and_the_worksheet_with_labels_and_rpn(client, team):
    fmea = _start(team)
    services.add_step(team.analyst, fmea, "Receive the order")
    cause = _cause(team, fmea)
    two = cause.mode.step
    services.add_step(team.analyst, fmea, "Check the dose", parent=two)
    services.score_cause(team.pharmacist, cause, severity=8, occurrence=4, detection=5)
    client.force_login(team.executive)  # reads, without working on it
    page = _page(client, fmea)
    assert page.index("Receive the order") < page.index("Verify the order") < page.index("Check the dose")
    assert f'href="#step-{two.pk}"><span class="visually-hidden">Step </span>2</a> Verify the order' in page
    assert '<span class="visually-hidden">Step </span>2.1</a> Check the dose' in page
    assert "Failure mode: Wrong concentration selected" in page and "Effect: Ten-fold overdose" in page
    assert "S 8 · O 4 · D 5 · RPN <strong>160</strong>" in page
    assert '<span class="badge text-bg-danger">Acted on</span> RPN 160 ≥ 100' in page
    assert "RPN ≥ 100 or severity ≥ 9, whatever the RPN." in page
    assert "Score<span" not in page and 'hx-post' not in page  # no forms for a reader
    assert "RPN threshold set to 100" in page and "Steps set to" not in page
    hfmea = _start(team, Method.HFMEA)
    step = services.add_step(team.analyst, hfmea, "Dispense")
    services.add_step(team.analyst, hfmea, "Pick the vial", parent=step)
    assert '<span class="visually-hidden">Step </span>1a</a> Pick the vial' in _page(client, hfmea)


def test_scoring_a_cause_over_the_threshold_on_the_page_shows_why_in_place(client, team):
    fmea = _start(team)
    cause = _cause(team, fmea)
    client.force_login(team.pharmacist)
    page = _page(client, fmea)
    score = reverse("risk:fmea_assessment", args=[fmea.pk]) + f"?form=c{cause.pk}-score"
    assert f'<a class="btn btn-sm btn-outline-primary" href="{score}#slot-c{cause.pk}-score" hx-get="{score}"' in page
    assert f'for="id_c{cause.pk}-score-severity"' not in page  # the form is fetched when asked for
    page = client.get(score, headers=HTMX).content.decode()
    assert page.strip().startswith(f'<div id="slot-c{cause.pk}-score">') and page.count("<form") == 1
    assert f'<label class="form-label small mb-1" for="id_c{cause.pk}-score-severity">Severity (1–10)</label>' in page
    assert "Scored inversely: 10 means the failure is unlikely to be caught" in page
    response = _score(client, fmea, cause, severity=8, occurrence=4, detection=5, stage="initial",
                      version=cause.version)
    assert response.status_code == 200 and response.content.decode().strip().startswith('<div id="fmea-worksheet">')
    assert '<span class="badge text-bg-danger">Acted on</span> RPN 160 ≥ 100' in response.content.decode()
    cause.refresh_from_db()
    assert (cause.rpn, cause.act, cause.act_reason) == (160, True, "RPN 160 ≥ 100")
    response = _score(client, fmea, cause, severity=9, occurrence=1, detection=2, stage="revised",
                      version=cause.version)
    assert "Acted on</span> severity 9 ≥ 9, whatever the RPN" in response.content.decode()
    # Sent again from the page as it was: refused on the form, which now carries the current version.
    page = _score(client, fmea, cause, severity=2, occurrence=1, detection=2, stage="revised",
                  version=cause.version).content.decode()
    assert page.count("was changed by Phil Pharmacist") == 1
    assert f'name="c{cause.pk}-score-version" value="{cause.version + 1}"' in page
    cause.refresh_from_db()
    assert (cause.severity, cause.scorings.count()) == (9, 2)


def test_a_score_out_of_range_on_the_page_is_refused_beside_its_field_and_nothing_is_stored(client, team):
    fmea = _start(team)
    cause = _cause(team, fmea)
    client.force_login(team.pharmacist)
    response = _score(client, fmea, cause, severity=11, occurrence=4, detection=5, stage="initial")
    page = response.content.decode()
    assert response.status_code == 200  # htmx swaps the worksheet with the error in place
    assert "Select a valid choice. 11 is not one of the available choices." in page
    assert f'<div id="slot-c{cause.pk}-score">\n<form' in page  # open, with the error
    response = client.post(reverse("risk:fmea_score", args=[fmea.pk, cause.pk]), {
        f"c{cause.pk}-score-severity": "5", f"c{cause.pk}-score-occurrence": "", f"c{cause.pk}-score-detection": "5",
        f"c{cause.pk}-score-stage": "initial"})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    cause.refresh_from_db()
    assert cause.rpn is None and not CauseScoring.objects.exists()


def test_after_the_action_the_rescore_shows_the_rpn_before_and_after(client, team):
    fmea = _start(team)
    cause = _cause(team, fmea)
    client.force_login(team.pharmacist)
    _score(client, fmea, cause, severity=8, occurrence=4, detection=5, stage="initial")
    assert "Acted on, and no action yet." in _page(client, fmea)
    response = client.post(reverse("risk:fmea_action", args=[fmea.pk, cause.pk]), {
        f"c{cause.pk}-action-title": "Separate the concentrations in the store",
        f"c{cause.pk}-action-owner": team.pharmacist.pk, f"c{cause.pk}-action-due_date": NEXT_MONTH.isoformat(),
        f"c{cause.pk}-action-strength": "stronger",
        f"c{cause.pk}-action-measure": "No look-alike vials adjacent at the monthly check"}, headers=HTMX)
    action = Action.objects.get(title="Separate the concentrations in the store")
    assert (action.source, action.unit, action.owner) == (cause, team.pharmacy, team.pharmacist)
    assert f'<a href="{reverse("actions:detail", args=[action.pk])}">' in response.content.decode()
    cause.refresh_from_db()
    page = _page(client, fmea, f"c{cause.pk}-score")  # without JavaScript: the page with the form open
    assert f'name="c{cause.pk}-score-stage"' in page and '<option value="after" selected>' in page
    response = _score(client, fmea, cause, severity=8, occurrence=2, detection=3, stage="after",
                      version=cause.version)
    page = response.content.decode()
    assert "RPN before the actions <strong>160</strong> → after them <strong>48</strong>" in page
    assert "Not acted on</span> RPN 48 below the thresholds" in page


def test_the_hfmea_tree_is_answered_on_the_page_with_proceed_or_stop(client, team):
    hfmea = _start(team, Method.HFMEA)
    cause = _cause(team, hfmea)
    client.force_login(team.pharmacist)
    page = _page(client, hfmea, f"c{cause.pk}-score")
    assert "Is it a single-point weakness" in page and '<option value="" selected>Not reached</option>' in page
    response = _score(client, hfmea, cause, severity=3, probability=3, single_point_weakness="no",
                      effective_control="", obvious="", stage="initial")
    assert "Answer yes or no: Does an effective control measure already exist" in response.content.decode()
    response = _score(client, hfmea, cause, severity=3, probability=3, single_point_weakness="no",
                      effective_control="no", obvious="no", stage="initial")
    page = response.content.decode()
    assert "Severity 3 (Major) × probability 3 (Occasional) = hazard score <strong>9</strong>" in page
    assert "<li>Is the hazard score 8 or more? <strong>Yes</strong></li>" in page
    assert "<li>Does an effective control measure already exist for this hazard? <strong>No</strong></li>" in page
    assert '<span class="badge text-bg-danger">Proceed</span>' in page
    assert f"Add an action<span class=\"visually-hidden\"> for the cause" in page
    page = _page(client, hfmea, f"c{cause.pk}-action")
    assert f'<label class="form-label small mb-1" for="id_c{cause.pk}-action-measure">Outcome measure</label>' in page
    other = services.add_cause(team.pharmacist, cause.mode, "Vials restocked by agency staff")
    page = _score(client, hfmea, other, severity=1, probability=2, single_point_weakness="no",
                  stage="initial").content.decode()
    assert services.completion_problems(hfmea) == [
        "Step 1, “Look-alike vials side by side”: acted on (Proceed) but has no action yet."]
    assert "<li>Is it a single-point weakness (its failure alone causes the system to fail or an adverse " \
           "event)? <strong>No</strong></li>" in page
    assert '<span class="badge text-bg-secondary">Stop</span>' in page


def test_a_team_member_works_on_the_assessment_and_an_outsider_may_not(client, team):
    fmea = _start(team, team=[team.nurse])  # a nurse holds no role that reads assessments
    client.force_login(team.nurse)
    page = _page(client, fmea)
    assert 'Add a step or sub-step' in page
    client.post(reverse("risk:fmea_add", args=[fmea.pk, "step"]), {"step-text": "Receive the order"}, headers=HTMX)
    step = fmea.steps.get()
    response = client.post(reverse("risk:fmea_add", args=[fmea.pk, "mode"]) + f"?under={step.pk}",
                           {f"s{step.pk}-mode-description": "Order unreadable"}, headers=HTMX)
    assert "Failure mode: Order unreadable" in response.content.decode()
    # She picks no one (she leads nothing, and opens no actions): the staff search is not hers.
    people = reverse("risk:fmea_assessment_people", args=[fmea.pk])
    assert client.get(people, {"q": "phil", "name": "team-person"}).status_code == 403
    client.force_login(team.outsider)  # a unit manager of another ward
    assert client.get(reverse("risk:fmea_assessment", args=[fmea.pk])).status_code == 403
    response = client.post(reverse("risk:fmea_add", args=[fmea.pk, "step"]), {"step-text": "Sneak a step"})
    assert response.status_code == 403 and fmea.steps.count() == 1
    client.force_login(team.manager)  # may lead here: reads and works on any
    assert client.post(reverse("risk:fmea_add", args=[fmea.pk, "step"]), {"step-text": "Dispense"}).status_code == 302


def test_a_part_of_another_assessment_is_not_found_through_this_one(client, team):
    fmea, other = _start(team), _start(team)
    cause = _cause(team, other)
    client.force_login(team.analyst)
    response = _score(client, fmea, cause, severity=1, occurrence=1, detection=1, stage="initial")
    assert response.status_code == 404
    response = client.post(reverse("risk:fmea_add", args=[fmea.pk, "cause"]) + f"?under={cause.mode.pk}", {})
    assert response.status_code == 404


def test_edit_and_remove_keep_the_numbering_and_refuse_to_lose_analysis(client, team):
    fmea = _start(team)
    one = services.add_step(team.analyst, fmea, "Receive the order")
    cause = _cause(team, fmea)
    three = services.add_step(team.analyst, fmea, "Dispense")
    client.force_login(team.pharmacist)
    response = client.post(reverse("risk:fmea_remove", args=[fmea.pk, "step", cause.mode.step.pk]), headers=HTMX)
    assert "has sub-steps or failure modes: remove those first." in response.content.decode()
    client.post(reverse("risk:fmea_edit", args=[fmea.pk, "step", one.pk]), {f"s{one.pk}-edit-text": "Receive it"})
    client.post(reverse("risk:fmea_remove", args=[fmea.pk, "cause", cause.pk]))
    client.post(reverse("risk:fmea_remove", args=[fmea.pk, "mode", cause.mode.pk]))
    client.post(reverse("risk:fmea_remove", args=[fmea.pk, "step", cause.mode.step.pk]))
    three.refresh_from_db()
    assert [(s.text, services.step_label(s)) for s in fmea.steps.order_by("position")] == [
        ("Receive it", "1"), ("Dispense", "2")]
    assert LogEntry.objects.filter(action=LogEntry.Action.DELETE, object_repr="Look-alike vials side by side").exists()


def test_a_cause_with_actions_stays(team):
    cause = services.score_cause(team.pharmacist, _cause(team, _start(team)), severity=9, occurrence=2, detection=2)
    services.cause_action(team.analyst, cause, title="Tall-man lettering", owner=team.pharmacist,
                          due_date=NEXT_MONTH, strength="intermediate", measure="Selection errors")
    with pytest.raises(ValidationError, match="has actions in the tracker"):
        services.remove_cause(team.pharmacist, cause)
    assert FailureCause.objects.filter(pk=cause.pk).exists()


# --- the team, completing and reopening -------------------------------------------------------------

def test_the_leader_adds_and_removes_team_members_from_the_organisations_staff(client, team):
    fmea = _start(team, team=[])
    client.force_login(team.analyst)
    people = reverse("risk:fmea_assessment_people", args=[fmea.pk])
    assert f'hx-get="{people}?name=team-person"' in _page(client, fmea)
    found = client.get(people, {"q": "nina", "name": "team-person"}).content.decode()
    assert "Nina Nurse" in found and f'type="radio" name="team-person" id="id_team-person-match-{team.nurse.pk}"' in found
    response = client.post(reverse("risk:fmea_team", args=[fmea.pk]), {"team-person": team.nurse.pk})
    assert response.status_code == 302 and list(fmea.team.all()) == [team.nurse]
    stranger = platform.create_user("stranger")
    response = client.post(reverse("risk:fmea_team", args=[fmea.pk]), {"team-person": stranger.pk})
    assert response.status_code == 400 and "Select a valid choice." in response.content.decode()
    client.force_login(team.pharmacist)  # reads and works on it, but does not lead it
    assert client.post(reverse("risk:fmea_team", args=[fmea.pk]), {"team-person": team.outsider.pk}).status_code == 403
    client.force_login(team.analyst)
    client.post(reverse("risk:fmea_team_remove", args=[fmea.pk, team.nurse.pk]))
    assert not fmea.team.exists()
    entries = LogEntry.objects.filter(object_pk=str(fmea.pk), content_type__model="assessment").order_by("pk")
    changes = [entry.changes_dict["team"]["operation"] for entry in entries if "team" in (entry.changes_dict or {})]
    assert changes == ["add", "delete"]


def test_completing_needs_every_row_scored_and_acted_on_and_counts_for_the_year(client, team):
    fmea = _start(team)
    cause = _cause(team, fmea)
    client.force_login(team.analyst)
    assert "“Look-alike vials side by side”: not scored yet." in _page(client, fmea)
    cause = services.score_cause(team.pharmacist, cause, severity=8, occurrence=4, detection=5)
    client.post(reverse("risk:fmea_complete", args=[fmea.pk]), {"version": fmea.version})
    fmea.refresh_from_db()
    assert fmea.status == AssessmentStatus.ANALYSING  # refused: a row acted on has no action
    assert services.completion_problems(fmea) == [
        "Step 1, “Look-alike vials side by side”: acted on (RPN 160 ≥ 100) but has no action yet."]
    services.cause_action(team.analyst, cause, title="Separate the vials", owner=team.pharmacist,
                          due_date=NEXT_MONTH, strength="stronger", measure="Monthly check")
    fmea.refresh_from_db()
    assert "Complete the assessment" in _page(client, fmea)
    client.post(reverse("risk:fmea_complete", args=[fmea.pk]), {"version": fmea.version})
    fmea.refresh_from_db()
    assert (fmea.status, fmea.completed_on) == (AssessmentStatus.COMPLETED, timezone.localdate())
    years = services.assessments_by_year(team.analyst)
    assert (years[0]["started"], years[0]["completed"]) == (1, 1)
    with pytest.raises(ValidationError, match="is completed: reopen it"):
        services.add_step(team.pharmacist, fmea, "Late step")
    with pytest.raises(PermissionDenied):
        services.reopen_assessment(team.pharmacist, fmea)  # a team member, not its leader
    client.post(reverse("risk:fmea_reopen", args=[fmea.pk]), {"version": fmea.version})
    fmea.refresh_from_db()
    assert (fmea.status, fmea.completed_on) == (AssessmentStatus.ACTING, None)


# --- the settings -------------------------------------------------------------------------------

def _settings_post(table=(), **fields):
    data = {"rpn_threshold": "125", "severity_threshold": "9", "severity_1": "No effect", "severity_10": "Death",
            "ap-TOTAL_FORMS": str(len(table)), "ap-INITIAL_FORMS": "0", "ap-MIN_NUM_FORMS": "0",
            "ap-MAX_NUM_FORMS": "1000"}
    for n, row in enumerate(table):
        for scale in ("severity", "occurrence", "detection"):
            data[f"ap-{n}-{scale}_low"], data[f"ap-{n}-{scale}_high"] = row[scale]
        data[f"ap-{n}-priority"] = row["priority"]
    return data | fields


def test_the_settings_form_saves_and_shows_the_tables_gap_beside_it(client, team):
    client.force_login(team.manager)
    page = client.get(reverse("risk:fmea_settings")).content.decode()
    assert "The table is empty: assessments use the RPN until it is filled." in page
    assert '<label class="visually-hidden" for="id_detection_10">Detection 10</label>' in page
    response = client.post(reverse("risk:fmea_settings"), _settings_post(_table()[:-1], version="1"))
    assert response.status_code == 400
    assert "The Action Priority table: no row covers" in response.content.decode()
    assert FmeaSettings.objects.get().rpn_threshold == 100  # nothing stored
    response = client.post(reverse("risk:fmea_settings"), _settings_post(_table(), rpn_threshold="0"))
    assert response.status_code == 400 and "Ensure this value is greater than or equal to 1." in \
        response.content.decode()
    response = client.post(reverse("risk:fmea_settings"), _settings_post(_table(), version="1"))
    assert response.status_code == 302
    saved = FmeaSettings.objects.get()
    assert (saved.rpn_threshold, saved.scales["severity"][0], saved.scales["severity"][9]) == (
        125, "No effect", "Death")
    assert saved.action_priority == _table()
    cause = _cause(team, _start(team))
    assert "<option value=\"10\">10 · Death</option>" in _page(client, cause.mode.step.assessment, f"c{cause.pk}-score")
    stale = client.post(reverse("risk:fmea_settings"), _settings_post(_table(), version="1", rpn_threshold="90"))
    assert stale.status_code == 409 and FmeaSettings.objects.get().rpn_threshold == 125
    client.force_login(team.analyst)
    assert client.get(reverse("risk:fmea_settings")).status_code == 403


def test_every_field_of_an_hfmea_worksheet_and_its_forms_is_labelled_once(client, team):
    from tests.form_fields import Fields

    hfmea = _start(team, Method.HFMEA, unit=None, facility=team.pharmacy.facility)
    cause = services.score_hazard(team.pharmacist, _cause(team, hfmea), severity=4, probability=2,
                                  single_point_weakness=True, effective_control=False, obvious=False)
    client.force_login(team.analyst)
    for form in ("", f"c{cause.pk}-score", f"c{cause.pk}-action", f"c{cause.pk}-edit", f"m{cause.mode.pk}-cause",
                 f"s{cause.mode.step.pk}-mode"):
        page = _page(client, hfmea, form)
        fields = Fields()
        fields.feed(page)
        assert fields.unlabelled() == [] and [i for i, n in fields.ids.items() if n > 1] == [], form
    page = _page(client, hfmea, f"c{cause.pk}-action")
    assert f'id="id_c{cause.pk}-action-unit"' in page  # placed in a facility: the action's unit is asked


def test_a_form_is_fetched_only_by_who_may_fill_it(client, team):
    fmea = _start(team)
    cause = _cause(team, fmea)
    url = reverse("risk:fmea_assessment", args=[fmea.pk])
    client.force_login(team.executive)  # reads, works on nothing
    assert client.get(url, {"form": f"c{cause.pk}-score"}, headers=HTMX).status_code == 404
    assert "<form" not in _page(client, fmea, f"c{cause.pk}-score").split('id="sheet-h"')[1]
    client.force_login(team.pharmacist)
    assert client.get(url, {"form": f"c{cause.pk}-action"}, headers=HTMX).status_code == 404  # not acted on
    assert client.get(url, {"form": "c1-delete"}).status_code == 404


# --- people: the organisation's staff only ----------------------------------------------------------

def _names(found: str) -> list[str]:
    return re.findall(r"<strong>([^<]+)</strong>", found)


def test_people_to_pick_are_the_organisations_active_staff_matching_every_word(client, team, make_user, hospital):
    gone = make_user(Role.STAFF_REPORTER, "rgh/4w", username="gone", first_name="Phil", last_name="Gone")
    gone.is_active = False
    gone.save()
    platform.create_user("nobody", first_name="Phil", last_name="Nobody")  # no role: not staff
    elsewhere = Organisation.objects.create(name="Another health system")
    platform.grant_role(platform.create_user("philx", first_name="Phil", last_name="Elsewhere"),
                        Role.UNIT_MANAGER, elsewhere)  # staff of another organisation
    fmea = _start(team)
    cause = services.score_cause(team.pharmacist, _cause(team, fmea), severity=9, occurrence=2, detection=2)
    client.force_login(team.analyst)
    for url, name in ((reverse("risk:fmea_people"), "team"),
                      (reverse("risk:fmea_assessment_people", args=[fmea.pk]), "team-person"),
                      (reverse("risk:fmea_assessment_people", args=[fmea.pk]), f"c{cause.pk}-action-owner")):
        found = client.get(url, {"q": "phil pharm", "name": name}).content.decode()
        assert _names(found) == ["Phil Pharmacist"]
        assert "Unit manager, Pharmacy" in found  # the role and where it is held
        assert _names(client.get(url, {"q": "phil", "name": name}).content.decode()) == ["Phil Pharmacist"]
    # The action's owner picker answers for the cause's form it was asked from, and no other form.
    people = reverse("risk:fmea_assessment_people", args=[fmea.pk])
    assert f'hx-get="{people}?name=c{cause.pk}-action-owner"' in _page(client, fmea, f"c{cause.pk}-action")
    assert client.get(people, {"q": "phil", "name": f"c{cause.pk}-score-note"}).status_code == 404
    # Whom the forms accept is whom they offer: someone of another organisation is refused.
    response = client.post(reverse("risk:fmea_team", args=[fmea.pk]), {"team-person": User.objects.get(
        username="philx").pk})
    assert response.status_code == 400 and "Select a valid choice." in response.content.decode()
    with pytest.raises(ValidationError) as error:
        _start(team, team=[platform.create_user("outside")])
    assert "team" in error.value.message_dict and list(Assessment.objects.all()) == [fmea]  # nothing more


# --- the API ------------------------------------------------------------------------------------

@pytest.fixture
def api(client):
    def call(user, method, path, body=None):
        token = platform.issue_token(user, "test")[1]
        return client.generic(method, f"/api/v1/risk{path}", json.dumps(body or {}), content_type="application/json",
                              headers={"Authorization": f"Bearer {token}"})

    return call


def test_the_api_builds_and_scores_an_fmea_and_answers_it_nested(api, team):
    response = api(team.analyst, "POST", "/assessments", {
        "title": "Chemotherapy preparation", "method": "fmea", "unit_id": team.pharmacy.pk,
        "leader_id": team.analyst.pk, "team_ids": [team.pharmacist.pk]})
    assert response.status_code == 201, response.content
    assessment = response.json()
    assert (assessment["reference"], assessment["team_ids"]) == (f"FMEA-{assessment['year']}-001", [team.pharmacist.pk])
    step = api(team.pharmacist, "POST", f"/assessments/{assessment['id']}/steps", {"text": "Check the order"}).json()
    sub = api(team.pharmacist, "POST", f"/assessments/{assessment['id']}/steps",
              {"text": "Check the dose", "parent_id": step["id"]}).json()
    assert (step["label"], sub["label"]) == ("1", "1.1")
    mode = api(team.pharmacist, "POST", f"/steps/{sub['id']}/failure-modes",
               {"description": "Dose not checked", "effect": "Overdose"}).json()
    cause = api(team.pharmacist, "POST", f"/failure-modes/{mode['id']}/causes", {"description": "Interruptions"}).json()
    response = api(team.pharmacist, "POST", f"/causes/{cause['id']}/scores",
                   {"severity": 11, "occurrence": 4, "detection": 5})
    assert response.status_code == 400
    assert response.json()["detail"] == "severity: Severity 11 is out of range: the scale runs from 1 to 10."
    scored = api(team.pharmacist, "POST", f"/causes/{cause['id']}/scores",
                 {"severity": 8, "occurrence": 4, "detection": 5, "version": cause["version"]}).json()
    assert (scored["rpn"], scored["act"], scored["act_reason"]) == (160, True, "RPN 160 ≥ 100")
    stale = api(team.pharmacist, "POST", f"/causes/{cause['id']}/scores",
                {"severity": 8, "occurrence": 4, "detection": 5, "version": cause["version"]})
    assert stale.status_code == 409
    response = api(team.analyst, "POST", f"/causes/{cause['id']}/actions", {
        "title": "Protected preparation time", "owner_id": team.pharmacist.pk, "due_date": NEXT_MONTH.isoformat(),
        "strength": "intermediate", "measure": "Interruptions per preparation"})
    assert response.status_code == 201 and response.json()["unit_id"] == team.pharmacy.pk
    api(team.pharmacist, "POST", f"/causes/{cause['id']}/scores",
        {"severity": 8, "occurrence": 2, "detection": 3, "stage": "after"})
    detail = api(team.analyst, "GET", f"/assessments/{assessment['id']}").json()
    assert [(s["label"], s["text"]) for s in detail["steps"]] == [("1", "Check the order"), ("1.1", "Check the dose")]
    row = detail["steps"][1]["failure_modes"][0]["causes"][0]
    assert (row["before"]["rpn"], row["after"]["rpn"], len(row["scorings"])) == (160, 48, 2)
    assert row["action_ids"] == [response.json()["id"]]
    assert api(team.outsider, "GET", f"/assessments/{assessment['id']}").status_code == 403
    years = api(team.pharmacist, "GET", "/assessments/by-year").json()
    assert years == [{"year": assessment["year"], "started": 1, "completed": 0, "assessment_ids": [assessment["id"]]}]


def test_the_api_scores_the_hfmea_tree_and_names_the_question_left_unanswered(api, team):
    cause = _cause(team, _start(team, Method.HFMEA))
    response = api(team.pharmacist, "POST", f"/causes/{cause.pk}/hazard-scores",
                   {"severity": 3, "probability": 3, "single_point_weakness": False})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("effective_control: Answer yes or no: Does an effective control")
    response = api(team.pharmacist, "POST", f"/causes/{cause.pk}/hazard-scores", {"severity": 5, "probability": 3})
    assert response.json()["detail"] == "severity: Severity 5 is out of range: the scale runs from 1 to 4."
    answer = api(team.pharmacist, "POST", f"/causes/{cause.pk}/hazard-scores", {
        "severity": 3, "probability": 3, "single_point_weakness": False, "effective_control": True}).json()
    assert (answer["hazard_score"], answer["act"], [d["answer"] for d in answer["scorings"][0]["decision"]]) == (
        9, False, [True, False, True])


def test_the_api_settings_refuse_a_table_with_a_gap_and_store_nothing(api, team):
    assert api(team.analyst, "GET", "/fmea-settings").json()["rpn_threshold"] == 100
    response = api(team.manager, "PUT", "/fmea-settings", {"rpn_threshold": 125, "severity_threshold": 9,
                                                           "action_priority": _table()[:-1]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "action_priority"]
    assert "no row covers S=1, O=1, D=1" in response.json()["detail"][0]["msg"]
    assert FmeaSettings.objects.get().rpn_threshold == 100
    scales = {name: [f"{name} {n}" for n in range(1, 11)] for name in ("severity", "occurrence", "detection")}
    saved = api(team.manager, "PUT", "/fmea-settings", {"rpn_threshold": 125, "severity_threshold": None,
                                                        "scales": scales, "action_priority": _table(), "version": 1})
    assert saved.status_code == 200
    assert (saved.json()["rpn_threshold"], saved.json()["severity_threshold"]) == (125, None)
    assert saved.json()["scales"]["detection"][9] == "detection 10" and saved.json()["action_priority"] == _table()
    assert api(team.manager, "PUT", "/fmea-settings", {"rpn_threshold": 90, "severity_threshold": 9,
                                                       "version": 1}).status_code == 409
    assert api(team.analyst, "PUT", "/fmea-settings", {"rpn_threshold": 90, "severity_threshold": 9}).status_code == 403
