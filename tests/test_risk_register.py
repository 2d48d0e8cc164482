"""The risk register's services: raising a risk with its three scores, re-scoring (every score
kept), re-banding when the matrix changes (history kept), escalation by level and tolerance,
controls, the heat map's counts, the board assurance framework, and bad input refused with
nothing stored."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from andon.platform.roles import Role
from andon.risk import services
from andon.risk.models import Escalation, Level, MatrixRevision, Risk, ScoreReason, ScoreRecord
from andon.risk.scoring import Matrix

NEXT_MONTH = timezone.localdate() + timedelta(days=30)
FALLS = {"title": "Falls on 4 West at night", "cause": "Because of one nurse for 14 beds at night",
         "event": "there is a risk that confused patients get up unaided", "effect": "which would lead to a fall with harm",
         "category": "clinical"}


@pytest.fixture
def world(hospital, make_user):
    class World:
        manager = make_user(Role.RISK_MANAGER, "", username="rita")
        cqo = make_user(Role.CQO, "", username="olivia")
        ward_manager = make_user(Role.UNIT_MANAGER, "rgh/4w", username="wanda")
        other_manager = make_user(Role.UNIT_MANAGER, "rgh/5e", username="eve")
        board = make_user(Role.BOARD_MEMBER, "", username="bob")
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="ana")
        w4, e5, medicine = hospital.unit("rgh/4w"), hospital.unit("rgh/5e"), hospital.unit("rgh/medicine")
        organisation = hospital.organisation
    return World


def _raise(world, user=None, scores=None, **overrides):
    fields = {**FALLS, "owner": world.ward_manager, "unit": world.w4, "review_on": NEXT_MONTH,
              "scores": scores or {"inherent": (4, 4), "current": (4, 2), "target": (4, 1)}}
    return services.raise_risk(user or world.ward_manager, **(fields | overrides))


def test_a_risk_is_raised_with_its_scores_bands_and_first_record(world):
    risk = _raise(world)
    assert risk.reference == "R-00001" and _raise(world).reference == "R-00002"
    assert (risk.inherent_score, risk.inherent_band) == (16, "Extreme")
    assert (risk.current_score, risk.current_band) == (8, "High")
    assert (risk.target_score, risk.target_band) == (4, "Moderate")
    assert (risk.level, risk.organisation, risk.facility, risk.unit) == (Level.UNIT, world.organisation,
                                                                          world.w4.facility, world.w4)
    record = ScoreRecord.objects.get(risk=risk)
    assert (record.reason, record.current_score, record.current_band, record.by) == (
        ScoreReason.RAISED, 8, "High", world.ward_manager)
    department = _raise(world, user=world.manager, owner=world.manager, unit=world.medicine)
    assert department.level == Level.DEPARTMENT


def test_bad_input_is_refused_naming_each_field_and_nothing_is_stored(world):
    with pytest.raises(ValidationError) as error:
        _raise(world, title="  ", category="weather", review_on=timezone.localdate() - timedelta(days=1),
               scores={"inherent": (6, 3), "current": (2, 2), "target": (1, "often")})
    assert set(error.value.message_dict) == {"title", "category", "review_on", "inherent_consequence",
                                             "target_likelihood"}
    assert "Consequence 6 is out of range" in error.value.message_dict["inherent_consequence"][0]
    with pytest.raises(ValidationError, match="controls do not raise a risk"):
        _raise(world, scores={"inherent": (2, 2), "current": (3, 3), "target": (1, 1)})
    with pytest.raises(ValidationError, match="above the current score"):
        _raise(world, scores={"inherent": (3, 3), "current": (2, 2), "target": (3, 2)})
    with pytest.raises(ValidationError, match="holds no role that reads risks"):
        _raise(world, owner=world.nurse)
    with pytest.raises(PermissionDenied):
        _raise(world, user=world.other_manager)
    assert not Risk.objects.exists() and not ScoreRecord.objects.exists()


def test_every_rescore_is_kept_as_the_risks_trend(world):
    risk = _raise(world)
    risk = services.rescore(world.ward_manager, risk, {"inherent": (4, 4), "current": (4, 3), "target": (4, 1)},
                            review_on=NEXT_MONTH, note="Two falls last month", ver=risk.version)
    risk = services.rescore(world.ward_manager, risk, {"inherent": (4, 4), "current": (4, 3), "target": (4, 1)},
                            review_on=NEXT_MONTH + timedelta(days=30), ver=risk.version)
    trend = list(ScoreRecord.objects.filter(risk=risk).values_list("reason", "current_score", "current_band"))
    assert trend == [(ScoreReason.RAISED, 8, "High"), (ScoreReason.RESCORED, 12, "High"),
                     (ScoreReason.REVIEWED, 12, "High")]
    with pytest.raises(PermissionDenied):
        services.rescore(world.other_manager, risk, {"inherent": (4, 4), "current": (4, 3), "target": (4, 1)},
                         review_on=NEXT_MONTH)
    with pytest.raises(ValidationError, match="changed"):  # a stale version is refused
        services.rescore(world.ward_manager, risk, {"inherent": (4, 4), "current": (1, 1), "target": (1, 1)},
                         review_on=NEXT_MONTH, ver=risk.version - 1)


def test_changing_the_bands_rebands_every_risk_and_keeps_its_history(world):
    six = _raise(world, scores={"inherent": (3, 3), "current": (3, 2), "target": (1, 1)})
    nine = _raise(world, scores={"inherent": (3, 3), "current": (3, 3), "target": (1, 2)})
    config = Matrix().to_config()
    config["bands"] = [{"name": "Low", "low": 1, "high": 4}, {"name": "Moderate", "low": 5, "high": 9},
                       {"name": "High", "low": 10, "high": 15}, {"name": "Extreme", "low": 16, "high": 25}]
    with pytest.raises(PermissionDenied):
        services.change_matrix(world.ward_manager, world.organisation, config, "Board appetite")
    with pytest.raises(ValidationError, match="Say why"):
        services.change_matrix(world.manager, world.organisation, config, " ")
    revision = services.change_matrix(world.manager, world.organisation, config, "Board's new appetite")
    assert (revision.number, revision.rebanded) == (2, 2)
    six.refresh_from_db(), nine.refresh_from_db()
    assert (six.inherent_band, six.current_band, six.target_band) == ("Moderate", "Moderate", "Low")
    assert (nine.inherent_band, nine.current_band, nine.target_band) == ("Moderate", "Moderate", "Low")
    history = list(ScoreRecord.objects.filter(risk=nine).values_list("reason", "matrix_revision", "current_band"))
    assert history == [(ScoreReason.RAISED, 1, "High"), (ScoreReason.REBANDED, 2, "Moderate")]
    unmoved = _raise(world, scores={"inherent": (4, 4), "current": (1, 1), "target": (1, 1)})
    services.change_matrix(world.manager, world.organisation, config | {"tolerances": {"unit": 9}}, "Unit appetite")
    assert ScoreRecord.objects.filter(risk=unmoved).count() == 1  # only a moved band is a new record
    assert list(MatrixRevision.objects.values_list("number", flat=True)) == [3, 2, 1]


def test_a_matrix_change_is_checked_and_a_shrinking_scale_must_fit_the_scores(world):
    _raise(world)  # consequence 4
    config = Matrix().to_config()
    config["consequences"] = config["consequences"][:3]
    config["bands"] = [{"name": "Low", "low": 1, "high": 15}]
    with pytest.raises(ValidationError, match="scored above consequence 3"):
        services.change_matrix(world.manager, world.organisation, config, "Smaller")
    with pytest.raises(ValidationError) as error:
        services.change_matrix(world.manager, world.organisation, {"bands": [{"name": "Low", "low": 1, "high": 3}]},
                               "Broken")
    assert "No band covers a score of 4" in error.value.message_dict["bands"][0]
    assert Risk.objects.get().current_band == "High" and MatrixRevision.objects.count() == 1


def test_escalation_is_asked_above_tolerance_and_recorded_with_who_and_why(world):
    risk = _raise(world)  # current 8 at unit level: the unit tolerates 6
    assert services.asks_escalation(risk)
    with pytest.raises(ValidationError, match="Say why"):
        services.escalate(world.manager, risk, Level.DEPARTMENT, "")
    with pytest.raises(PermissionDenied):
        services.escalate(world.ward_manager, risk, Level.DEPARTMENT, "Beyond the ward")
    services.escalate(world.manager, risk, Level.DEPARTMENT, "Beyond the ward's control: staffing")
    risk.refresh_from_db()
    assert risk.level == Level.DEPARTMENT and not services.asks_escalation(risk)
    with pytest.raises(PermissionDenied):  # the board assurance framework is the risk manager's and leadership's
        services.escalate(world.ward_manager, risk, Level.BOARD, "Strategic")
    services.escalate(world.cqo, risk, Level.BOARD, "Staffing across the system")
    services.escalate(world.cqo, risk, Level.FACILITY, "Board: managed by the facility")
    moves = list(Escalation.objects.filter(risk=risk).order_by("at", "pk").values_list(
        "from_level", "to_level", "by__username", "reason", "score_then"))
    assert moves == [("unit", "department", "rita", "Beyond the ward's control: staffing", 8),
                     ("department", "board", "olivia", "Staffing across the system", 8),
                     ("board", "facility", "olivia", "Board: managed by the facility", 8)]
    with pytest.raises(ValidationError, match="already managed"):
        services.escalate(world.cqo, risk, Level.FACILITY, "again")


def test_the_heat_map_counts_and_filters_and_the_register_filters(world):
    _raise(world)
    _raise(world, scores={"inherent": (4, 4), "current": (4, 2), "target": (2, 2)})
    _raise(world, unit=world.e5, owner=world.other_manager, user=world.other_manager, category="operational",
           scores={"inherent": (5, 5), "current": (5, 4), "target": (3, 2)})
    visible = services.visible_risks(world.manager)
    assert services.heat_map_counts(visible) == {(4, 2): 2, (5, 4): 1}
    assert services.heat_map_counts(visible, "target") == {(4, 1): 1, (2, 2): 1, (3, 2): 1}
    ward = services.register_filter(visible, unit=world.w4)
    assert services.heat_map_counts(ward) == {(4, 2): 2}
    assert services.register_filter(visible, band="extreme").count() == 1
    assert services.register_filter(visible, category="operational").get().unit == world.e5
    assert services.heat_map_counts(services.visible_risks(world.ward_manager)) == {(4, 2): 2}
    with pytest.raises(ValidationError):
        services.register_filter(visible, category="weather")


def test_the_board_sees_the_board_assurance_framework_only(world):
    risk = _raise(world)
    services.add_control(world.ward_manager, risk, description="Bed rails check each shift", effect="partly",
                         assurance_source="Monthly ward audit", assurance_level="first",
                         control_gap="Not done at weekends", assurance_gap="No second-line audit")
    assert list(services.visible_risks(world.board)) == []
    services.escalate(world.cqo, risk, Level.BOARD, "System-wide staffing")
    framework = list(services.board_framework(world.board))
    assert framework == [risk]
    control = framework[0].controls.get()
    assert (control.assurance_level, control.control_gap, control.assurance_gap) == (
        "first", "Not done at weekends", "No second-line audit")
    with pytest.raises(ValidationError, match="cannot be in the future"):
        services.add_control(world.manager, risk, description="x", last_tested_on=NEXT_MONTH)
    with pytest.raises(PermissionDenied):
        services.add_control(world.board, risk, description="x")
