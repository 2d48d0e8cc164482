"""FMEA and HFMEA services: steps numbered and lettered, failure modes and causes, the RPN
against the assessment's thresholds with the reason a row is acted on, the Action Priority from
the organisation's table, the HFMEA decision tree recorded per cause, actions in the shared
tracker, and the RPN before and after the actions."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from andon.actions.models import Action
from andon.platform.roles import Role
from andon.risk import fmea as fmea_service
from andon.risk import services
from andon.risk.models import AssessmentStatus, CauseScoring, FailureCause, Method, ScoringStage
from tests.test_risk_scoring import _table

NEXT_MONTH = timezone.localdate() + timedelta(days=30)


@pytest.fixture
def team(hospital, make_user):
    class Team:
        analyst = make_user(Role.QUALITY_ANALYST, "", username="quinn")
        manager = make_user(Role.RISK_MANAGER, "", username="rita")
        pharmacist = make_user(Role.UNIT_MANAGER, "rgh/pharmacy", username="phil")
        outsider = make_user(Role.UNIT_MANAGER, "rgh/5e", username="eve")
        pharmacy = hospital.unit("rgh/pharmacy")
        organisation = hospital.organisation
    return Team


def _start(team, method=Method.FMEA, **overrides):
    fields = {"title": "High-alert medication dispensing", "method": method, "leader": team.analyst,
              "unit": team.pharmacy, "team": [team.pharmacist]}
    return services.start_assessment(team.analyst, **(fields | overrides))


def _cause(team, assessment):
    step = services.add_step(team.pharmacist, assessment, "Verify the order")
    mode = services.add_failure_mode(team.pharmacist, step, "Wrong concentration selected", "Ten-fold overdose")
    return services.add_cause(team.pharmacist, mode, "Look-alike vials side by side", "Second check by a technician")


def test_steps_are_numbered_and_sub_steps_numbered_or_lettered_by_method(team):
    fmea = _start(team)
    one = services.add_step(team.analyst, fmea, "Receive the order")
    two = services.add_step(team.analyst, fmea, "Verify the order")
    sub = [services.add_step(team.analyst, fmea, f"Check {x}", parent=two) for x in ("dose", "route")]
    assert [services.step_label(s) for s in (one, two, *sub)] == ["1", "2", "2.1", "2.2"]
    hfmea = _start(team, Method.HFMEA)
    step = services.add_step(team.analyst, hfmea, "Dispense")
    lettered = [services.add_step(team.analyst, hfmea, f"Sub {i}", parent=step) for i in range(3)]
    assert [services.step_label(s) for s in lettered] == ["1a", "1b", "1c"]
    assert fmea_service._letters(27) == "aa"
    with pytest.raises(ValidationError, match="one level down"):
        services.add_step(team.analyst, hfmea, "Too deep", parent=lettered[0])
    assert (fmea.reference, hfmea.reference) == (f"FMEA-{fmea.year}-001", f"HFMEA-{hfmea.year}-001")


def test_an_fmea_row_over_the_threshold_is_acted_on_and_its_rpn_falls_after_the_action(team):
    cause = _cause(team, _start(team))
    cause = services.score_cause(team.pharmacist, cause, severity=8, occurrence=4, detection=5)
    assert (cause.rpn, cause.act, cause.act_reason) == (160, True, "RPN 160 ≥ 100")
    action = services.cause_action(team.analyst, cause, title="Separate the concentrations in the store",
                                   owner=team.pharmacist, due_date=NEXT_MONTH, strength="stronger",
                                   measure="No look-alike vials adjacent at the monthly check")
    assert Action.objects.get(pk=action.pk).source == cause
    cause = services.score_cause(team.pharmacist, cause, severity=8, occurrence=2, detection=3,
                                 stage=ScoringStage.AFTER_ACTIONS, ver=cause.version)
    before, after = services.scores_before_after(cause)
    assert (before.rpn, after.rpn, after.act, after.act_reason) == (160, 48, False, "RPN 48 below the thresholds")
    assert cause.mode.step.assessment.status == AssessmentStatus.ACTING


def test_severity_overrides_the_rpn_and_thresholds_are_the_assessments(team):
    cause = _cause(team, _start(team))
    cause = services.score_cause(team.pharmacist, cause, severity=9, occurrence=1, detection=2)
    assert (cause.rpn, cause.act, cause.act_reason) == (18, True, "severity 9 ≥ 9, whatever the RPN")
    services.change_fmea_settings(team.manager, team.organisation, rpn_threshold=125, severity_threshold=None)
    stricter = _cause(team, _start(team))  # a new assessment starts with the new thresholds
    stricter = services.score_cause(team.pharmacist, stricter, severity=9, occurrence=3, detection=4)
    assert (stricter.rpn, stricter.act) == (108, False)
    cause = services.score_cause(team.pharmacist, cause, severity=9, occurrence=1, detection=2, ver=cause.version)
    assert cause.act  # the first assessment keeps the thresholds it started with


@pytest.mark.parametrize("values, field", [
    ({"severity": 11, "occurrence": 1, "detection": 1}, "severity"),
    ({"severity": 5, "occurrence": 0, "detection": 1}, "occurrence"),
    ({"severity": 5, "occurrence": 2, "detection": "low"}, "detection"),
])
def test_a_score_out_of_range_is_refused_and_nothing_is_stored(team, values, field):
    cause = _cause(team, _start(team))
    with pytest.raises(ValidationError) as error:
        services.score_cause(team.pharmacist, cause, **values)
    assert field in error.value.message_dict
    cause.refresh_from_db()
    assert cause.rpn is None and not CauseScoring.objects.exists()


def test_action_priority_comes_from_the_organisations_table(team):
    with pytest.raises(ValidationError, match="Action Priority table is empty"):
        _start(team, priority_method="ap")
    with pytest.raises(ValidationError, match="no row covers"):
        services.change_fmea_settings(team.manager, team.organisation, rpn_threshold=100, severity_threshold=9,
                                      action_priority_rows=_table()[:-1])
    services.change_fmea_settings(team.manager, team.organisation, rpn_threshold=100, severity_threshold=9,
                                  action_priority_rows=_table())
    cause = _cause(team, _start(team, priority_method="ap"))
    cause = services.score_cause(team.pharmacist, cause, severity=7, occurrence=2, detection=2)
    assert (cause.priority, cause.act, cause.act_reason) == ("M", True, "Action Priority Medium")
    cause = services.score_cause(team.pharmacist, cause, severity=4, occurrence=9, detection=9, ver=cause.version)
    assert (cause.priority, cause.act) == ("L", False)


def test_the_hfmea_decision_tree_is_recorded_per_cause(team):
    cause = _cause(team, _start(team, Method.HFMEA))
    with pytest.raises(ValidationError, match="not an RPN"):
        services.score_cause(team.pharmacist, cause, severity=5, occurrence=5, detection=5)
    with pytest.raises(ValidationError) as error:
        services.score_hazard(team.pharmacist, cause, severity=3, probability=3, single_point_weakness=False,
                              effective_control=None, obvious=None)
    assert "effective_control" in error.value.message_dict
    cause = services.score_hazard(team.pharmacist, cause, severity=3, probability=3, single_point_weakness=False,
                                  effective_control=False, obvious=False)
    assert (cause.hazard_score, cause.act) == (9, True)
    assert cause.act_reason.startswith("Proceed: Is the hazard score 8 or more: yes")
    scoring = CauseScoring.objects.get(cause=cause)
    assert [answer for _q, answer in scoring.decision] == [True, False, False, False]
    with pytest.raises(ValidationError, match="outcome measure"):
        services.cause_action(team.analyst, cause, title="Tall-man lettering", owner=team.pharmacist,
                              due_date=NEXT_MONTH, strength="intermediate", measure=" ")
    services.cause_action(team.analyst, cause, title="Tall-man lettering", owner=team.pharmacist,
                          due_date=NEXT_MONTH, strength="intermediate", measure="Selection errors per 1,000 doses")
    assert FailureCause.objects.get(pk=cause.pk).outcome_measure == "Selection errors per 1,000 doses"
    low = services.score_hazard(team.pharmacist, _cause(team, cause.mode.step.assessment), severity=1, probability=2,
                                single_point_weakness=False, effective_control=None, obvious=None)
    assert (low.act, low.act_reason.split(":")[0]) == (False, "Stop")
    with pytest.raises(ValidationError, match="not acted on"):
        services.cause_action(team.analyst, low, title="x", owner=team.pharmacist, due_date=NEXT_MONTH,
                              strength="weaker", measure="m")


def test_the_reason_a_row_is_acted_on_and_its_outcome_measure_are_kept_whole(team):
    """Every question of the decision tree in words runs past 300 characters: the row and its
    scoring keep the reason whole, and the row its outcome measure as long as the action's."""
    cause = _cause(team, _start(team, Method.HFMEA))
    cause = services.score_hazard(team.pharmacist, cause, severity=4, probability=1, single_point_weakness=True,
                                  effective_control=False, obvious=False)
    whole = ("Proceed: Is the hazard score 8 or more: no; Is it a single-point weakness (its failure alone causes "
             "the system to fail or an adverse event): yes; Does an effective control measure already exist for "
             "this hazard: no; Is the hazard so obvious and readily detectable that a control measure is not "
             "needed: no")
    assert len(whole) > 300
    assert FailureCause.objects.get(pk=cause.pk).act_reason == whole
    assert CauseScoring.objects.get(cause=cause).act_reason == whole
    measure = "Selection errors per 1,000 doses, counted from the dispensing log each week. " * 25
    assert 1500 < len(measure.strip()) <= 2000
    action = services.cause_action(team.analyst, cause, title="Tall-man lettering", owner=team.pharmacist,
                                   due_date=NEXT_MONTH, strength="intermediate", measure=measure)
    assert FailureCause.objects.get(pk=cause.pk).outcome_measure == measure.strip()
    assert Action.objects.get(pk=action.pk).measure == measure.strip()


def test_only_the_team_and_leads_work_on_an_assessment(team):
    fmea = _start(team)
    with pytest.raises(PermissionDenied):
        services.add_step(team.outsider, fmea, "Sneak a step")
    with pytest.raises(PermissionDenied):
        services.start_assessment(team.outsider, title="x", method=Method.FMEA, leader=team.outsider,
                                  unit=team.pharmacy)
    assert list(services.visible_assessments(team.outsider)) == []
    assert list(services.visible_assessments(team.pharmacist)) == [fmea]
    years = services.assessments_by_year(team.manager)
    assert [(y["year"], y["started"], y["completed"]) for y in years] == [(fmea.year, 1, 0)]
