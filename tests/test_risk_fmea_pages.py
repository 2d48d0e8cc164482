"""FMEA and HFMEA pages and API: the register by year (and its line when this year has none
completed), starting an assessment with searched people, the numbered flow and the worksheet,
scoring on the page (the reason a row is acted on, before → after the actions, the HFMEA tree),
the team, completing and reopening, the settings form, and the API's bodies and refusals."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.actions.models import Action
from andon.platform import services as platform
from andon.platform.roles import Role
from andon.risk import services
from andon.risk.models import Assessment, AssessmentStatus, CauseScoring, FailureCause, FmeaSettings, Method
from tests.test_risk_scoring import _table

NEXT_MONTH = timezone.localdate() + timedelta(days=30)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def team(hospital, make_user):
    class Team:
        analyst = make_user(Role.QUALITY_ANALYST, "", username="quinn", first_name="Quinn", last_name="Analyst")
        manager = make_user(Role.RISK_MANAGER, "", username="rita", first_name="Rita", last_name="Manager")
        pharmacist = make_user(Role.UNIT_MANAGER, "rgh/pharmacy", username="phil", first_name="Phil",
                               last_name="Pharmacist", job_title="Lead pharmacist")
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nina", first_name="Nina", last_name="Nurse")
        outsider = make_user(Role.UNIT_MANAGER, "rgh/5e", username="eve")
        executive = make_user(Role.CQO, "", username="cora")
        pharmacy = hospital.unit("rgh/pharmacy")
        organisation = hospital.organisation
    return Team


def _start(people, method=Method.FMEA, **overrides):
    fields = {"title": "High-alert medication dispensing", "method": method, "leader": people.analyst,
              "unit": people.pharmacy, "team": [people.pharmacist]}
    return services.start_assessment(people.analyst, **(fields | overrides))


def _cause(team, assessment, step_text="Verify the order"):
    step = services.add_step(team.pharmacist, assessment, step_text)
    mode = services.add_failure_mode(team.pharmacist, step, "Wrong concentration selected", "Ten-fold overdose")
    return services.add_cause(team.pharmacist, mode, "Look-alike vials side by side", "Second check by a technician")


def _page(client, assessment):
    response = client.get(reverse("risk:fmea_assessment", args=[assessment.pk]))
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
    assert '<label class="form-label small mb-1" for="id_leader-q">Leader</label>' in page
    assert 'value="{}" checked'.format(team.analyst.pk) in page  # the leader starts as the one starting it
    people = reverse("risk:fmea_people")
    found = client.get(people, {"q": "pharm", "name": "team", "picker": "id_team", "multiple": "1"}).content.decode()
    assert "Phil Pharmacist" in found and "Lead pharmacist" in found and 'type="checkbox" name="team"' in found
    # Who was ticked stays ticked through the next search, and is not offered twice.
    kept = client.get(people, {"q": "phil", "name": "team", "picker": "id_team", "multiple": "1",
                               "team": [team.pharmacist.pk]}).content.decode()
    assert kept.count(f'value="{team.pharmacist.pk}"') == 1 and "checked" in kept
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
    hfmea = _start(team, Method.HFMEA)
    step = services.add_step(team.analyst, hfmea, "Dispense")
    services.add_step(team.analyst, hfmea, "Pick the vial", parent=step)
    assert '<span class="visually-hidden">Step </span>1a</a> Pick the vial' in _page(client, hfmea)


def test_scoring_a_cause_over_the_threshold_on_the_page_shows_why_in_place(client, team):
    fmea = _start(team)
    cause = _cause(team, fmea)
    client.force_login(team.pharmacist)
    page = _page(client, fmea)
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


def test_a_score_out_of_range_on_the_page_is_refused_beside_its_field_and_nothing_is_stored(client, team):
    fmea = _start(team)
    cause = _cause(team, fmea)
    client.force_login(team.pharmacist)
    response = _score(client, fmea, cause, severity=11, occurrence=4, detection=5, stage="initial")
    page = response.content.decode()
    assert response.status_code == 200  # htmx swaps the worksheet with the error in place
    assert "Select a valid choice. 11 is not one of the available choices." in page
    assert f'<details open><summary class="btn btn-sm btn-outline-primary">Score' in page
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
    page = _page(client, fmea)
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
    page = _page(client, hfmea)
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
    assert '<label class="form-label small mb-1" for="id_c{}-action-measure">Outcome measure</label>'.format(
        cause.pk) in page
    other = services.add_cause(team.pharmacist, cause.mode, "Vials restocked by agency staff")
    page = _score(client, hfmea, other, severity=1, probability=2, single_point_weakness="no",
                  stage="initial").content.decode()
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
    found = client.get(reverse("risk:fmea_assessment_people", args=[fmea.pk]),
                       {"q": "nina", "name": "team-person", "picker": "id_team-person"}).content.decode()
    assert "Nina Nurse" in found and 'type="radio" name="team-person"' in found
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
    changes = [entry.changes_dict.get("team", {}).get("operation") for entry in LogEntry.objects.filter(
        object_pk=str(fmea.pk), content_type__model="assessment").order_by("pk") if "team" in (entry.changes_dict or {})]
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
    assert (saved.rpn_threshold, saved.scales["severity"][0], saved.scales["severity"][9]) == (125, "No effect", "Death")
    assert saved.action_priority == _table()
    page = _page(client, _cause(team, _start(team)).mode.step.assessment)
    assert "<option value=\"10\">10 · Death</option>" in page
    stale = client.post(reverse("risk:fmea_settings"), _settings_post(_table(), version="1", rpn_threshold="90"))
    assert stale.status_code == 409 and FmeaSettings.objects.get().rpn_threshold == 125
    client.force_login(team.analyst)
    assert client.get(reverse("risk:fmea_settings")).status_code == 403
