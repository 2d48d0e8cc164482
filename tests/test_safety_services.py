"""Safety events through their services: the SAC matrix, RCA deadlines, the workflow, the
taxonomy's validation and who may read what."""

from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from andon.platform import permissions
from andon.platform.models import Notification
from andon.platform.roles import Role
from andon.safety import rca, sac, services
from andon.safety.models import Review, SafetyEvent, Status, Transition


def fall(hospital, **overrides) -> services.Report:
    fields = dict(kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
                  occurred_at=timezone.now() - timedelta(hours=2), narrative="Patient found on the floor by the bed.",
                  harm="mild", details={"injury_level": "minor", "assisted": "no"})
    fields.update(overrides)
    return services.Report(**fields)


def triage_as(severity, probability, *, sentinel=False, review=Review.RCA, category="fall", harm="mild"):
    return services.Triage(category=category, harm=harm, sac_severity=severity, sac_probability=probability,
                           sentinel=sentinel, review=review, reason="Triage meeting")


# --- SAC matrix (DOMAIN.md §2) -------------------------------------------------------------------

EXPECTED_MATRIX = [  # probability, catastrophic, major, moderate, minor
    ("frequent", 3, 3, 2, 1),
    ("occasional", 3, 2, 1, 1),
    ("uncommon", 3, 2, 1, 1),
    ("remote", 3, 2, 1, 1),
]


@pytest.mark.parametrize(("probability", "catastrophic", "major", "moderate", "minor"), EXPECTED_MATRIX)
def test_sac_matrix_cells(probability, catastrophic, major, moderate, minor):
    assert [sac.score(s, probability) for s in ("catastrophic", "major", "moderate", "minor")] == [
        catastrophic, major, moderate, minor]


def test_sac_refuses_unknown_terms_and_knows_what_requires_an_rca():
    with pytest.raises(ValueError, match="severity"):
        sac.score("terrible", "remote")
    with pytest.raises(ValueError, match="probability"):
        sac.score("minor", "never")
    assert sac.requires_rca(3, False) and sac.requires_rca(1, True)
    assert not sac.requires_rca(2, False) and not sac.requires_rca(None, False)


# --- deadlines ---------------------------------------------------------------------------------

def test_rca_deadlines_in_calendar_and_business_days(settings):
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday
    assert services.rca_deadlines(start) == (start + timedelta(hours=72), start + timedelta(days=45))
    settings.ANDON_RCA_BUSINESS_DAYS = True
    settings.ANDON_RCA_COMPLETE_DAYS = 5
    assert services.rca_deadlines(start)[1] == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # next Friday
    settings.ANDON_RCA_START_HOURS = 24
    assert services.rca_deadlines(start)[0] == start + timedelta(hours=24)


# --- reporting ----------------------------------------------------------------------------------

def test_a_named_report_is_stored_with_its_taxonomy_version_and_officers_are_told(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="nurse")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh")
    other_officer = make_user(Role.PATIENT_SAFETY_OFFICER, "lch")
    event, receipt = services.submit_report(nurse, fall(hospital))
    assert receipt == ""
    assert event.reference == f"EV-{event.reported_at:%Y}-000001"  # the first of the year
    assert (event.reporter, event.status, event.taxonomy_version) == (nurse, Status.SUBMITTED, "2026.1")
    assert event.details == {"injury_level": "minor", "assisted": False}
    told = Notification.objects.filter(title__contains=event.reference)
    assert [n.recipient for n in told] == [officer]
    assert "floor" not in told.get().body  # the notification says what to open, not what happened
    assert not Notification.objects.filter(recipient=other_officer).exists()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"kind": "rumour"}, "kind"),
    ({"category": "weather"}, "category"),
    ({"unit_id": None}, "unit"),
    ({"occurred_at": None}, "occurred_at"),
    ({"narrative": "   "}, "narrative"),
    ({"narrative": "x" * 10_001}, "narrative"),
    ({"harm": ""}, "harm"),
    ({"kind": "near_miss", "harm": "mild"}, "harm"),
    ({"details": {"injury_level": "catastrophic"}}, "details.injury_level"),
    ({"details": {"injury_level": "minor", "assisted": "maybe"}}, "details.assisted"),
    ({"details": {"injury_level": "minor", "shoe_size": 9}}, "details.shoe_size"),
    ({"details": {}}, "details.injury_level"),
    ({"anonymous": True, "share_identity": True}, "share_identity"),
])
def test_bad_reports_name_the_field_and_store_nothing(hospital, make_user, safety_taxonomy, overrides, field):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    if overrides.get("occurred_at", 0) is None or "occurred_at" not in overrides:
        pass
    with pytest.raises(ValidationError) as refused:
        services.submit_report(nurse, fall(hospital, **overrides))
    assert field in refused.value.message_dict
    assert not SafetyEvent.objects.exists()


def test_a_report_from_the_future_is_refused(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    with pytest.raises(ValidationError, match="future"):
        services.submit_report(nurse, fall(hospital, occurred_at=timezone.now() + timedelta(hours=1)))


# --- workflow -----------------------------------------------------------------------------------

def test_sac_3_requires_an_rca_with_deadlines_and_the_workflow_runs_to_closed(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    event, _ = services.submit_report(nurse, fall(hospital, harm="severe", details={"injury_level": "major"}))

    with pytest.raises(ValidationError, match="requires a root cause analysis"):
        services.triage(officer, event, triage_as("catastrophic", "remote", review=Review.LOCAL))
    with pytest.raises(ValidationError, match="requires a root cause analysis"):
        services.triage(officer, event, triage_as("minor", "remote", sentinel=True, review=Review.NONE))
    event.refresh_from_db()
    assert event.status == Status.SUBMITTED and event.sac_score is None  # a refused triage changes nothing

    before = timezone.now()
    event = services.triage(officer, event, triage_as("catastrophic", "remote"))
    assert (event.status, event.sac_score, event.sac_scheme, event.review) == (Status.INVESTIGATION, 3, "va-ncps", "rca")
    assert event.rca_start_due - event.triaged_at == timedelta(hours=72)
    assert event.rca_complete_due - event.triaged_at == timedelta(days=45)
    assert before <= event.triaged_at <= timezone.now()

    with pytest.raises(ValidationError, match="root cause analysis has not been started"):
        services.move(officer, event, "plan_actions", "RCA skipped")
    investigation = rca.start_investigation(officer, event)
    rca.add_root_cause(officer, investigation, "Alarm fatigue led staff to silence bed alarms.")
    rca.complete_investigation(officer, investigation, "RCA complete; action plan drafted")
    with pytest.raises(ValidationError, match="closing summary"):
        services.move(officer, event, "close", "Actions agreed")
    services.move(officer, event, "close", "Actions agreed", closing_summary="Thank you. Bed alarms are now standard.")
    event.refresh_from_db()
    assert event.status == Status.CLOSED and event.closed_at is not None
    services.move(officer, event, "reopen", "New information from the family")
    event.refresh_from_db()
    assert event.status == Status.TRIAGE and event.closed_at is None

    history = list(Transition.objects.filter(event=event).values_list("source", "target", "by", "reason"))
    assert history == [
        ("submitted", "triage", officer.pk, "Triage started."),
        ("triage", "investigation", officer.pk, "Triage meeting"),
        ("investigation", "action_planning", officer.pk, "RCA complete; action plan drafted"),
        ("action_planning", "closed", officer.pk, "Actions agreed"),
        ("closed", "triage", officer.pk, "New information from the family"),
    ]
    messages = list(event.reporter_messages.values_list("text", "is_closing_summary"))
    assert ("Thank you. Bed alarms are now standard.", True) in messages
    assert event.first_feedback_at is not None
    status_changes = LogEntry.objects.get_for_object(event).filter(action=LogEntry.Action.UPDATE, actor=officer)
    assert any(e.changes.get("status") == ["investigation", "action_planning"] for e in status_changes)


def test_moves_that_do_not_exist_from_a_status_are_refused(hospital, make_user, safety_taxonomy):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    event, _ = services.submit_report(make_user(Role.STAFF_REPORTER, "rgh/4w"), fall(hospital))
    with pytest.raises(ValidationError, match="cannot reopen"):
        services.move(officer, event, "reopen", "why not")
    with pytest.raises(ValidationError, match="unknown step"):
        services.move(officer, event, "delete", "tidy up")
    with pytest.raises(ValidationError, match="Say why"):
        services.move(officer, event, "close", " ", closing_summary="x")


def test_low_risk_events_can_close_at_triage_and_the_reporter_is_told(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    event, _ = services.submit_report(nurse, fall(hospital, kind="near_miss", harm=""))
    event = services.triage(officer, event, triage_as("minor", "occasional", review=Review.NONE, harm=""))
    assert event.status == Status.TRIAGE and event.sac_score == 1
    services.move(officer, event, "close", "No further review", closing_summary="Thanks: the bed rail is fixed.")
    assert Notification.objects.filter(recipient=nurse, title__contains=event.reference).count() >= 2


def test_only_officers_in_scope_may_triage(hospital, make_user, safety_taxonomy):
    event, _ = services.submit_report(make_user(Role.STAFF_REPORTER, "rgh/4w"), fall(hospital))
    for outsider in (make_user(Role.PATIENT_SAFETY_OFFICER, "lch"), make_user(Role.CQO, ""),
                     make_user(Role.UNIT_MANAGER, "rgh/medicine")):
        with pytest.raises(PermissionDenied):
            services.triage(outsider, event, triage_as("minor", "remote", review=Review.NONE))


# --- confidentiality ---------------------------------------------------------------------------

def test_who_sees_an_event_and_its_reporter(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    named, _ = services.submit_report(nurse, fall(hospital))
    shared, _ = services.submit_report(nurse, fall(hospital, share_identity=True))
    anonymous, _ = services.submit_report(nurse, fall(hospital, anonymous=True))
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    far_manager = make_user(Role.UNIT_MANAGER, "lch/2a")
    officer, cqo = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh"), make_user(Role.CQO, "")
    analyst, board = make_user(Role.QUALITY_ANALYST, ""), make_user(Role.BOARD_MEMBER, "")
    colleague = make_user(Role.STAFF_REPORTER, "rgh/4w")

    def sees(user, event):
        return permissions.can(user, "safety.view_event", event)

    def names(user, event):
        return permissions.can(user, "safety.see_reporter", event)

    assert sees(nurse, named) and names(nurse, named)
    assert not sees(nurse, anonymous)  # nothing ties the anonymous report to them, not even for them
    assert sees(manager, named) and not names(manager, named) and names(manager, shared)
    assert sees(manager, anonymous) and not names(manager, anonymous)
    assert not sees(far_manager, named)
    assert sees(officer, named) and names(officer, named) and not names(officer, anonymous)
    assert sees(cqo, named) and names(cqo, named)
    for outsider in (analyst, board, colleague):
        assert not sees(outsider, named)
    assert set(services.events_visible_to(nurse, own=True)) == {named, shared}  # for the reporter's pages
    assert list(services.events_visible_to(nurse)) == []  # the analysis of their reports is not theirs to read
    assert set(services.events_visible_to(manager)) == {named, shared, anonymous}
    assert list(services.events_visible_to(board)) == []


def test_every_read_of_an_event_is_audited(hospital, make_user, safety_taxonomy):
    event, _ = services.submit_report(make_user(Role.STAFF_REPORTER, "rgh/4w"), fall(hospital))
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    services.open_event(officer, event, reason="triage")
    read = LogEntry.objects.get_for_object(event).get(action=LogEntry.Action.ACCESS)
    assert read.actor == officer and read.additional_data == {"reason": "triage"}
    with pytest.raises(PermissionDenied):
        services.open_event(make_user(Role.BOARD_MEMBER, ""), event)
    assert LogEntry.objects.get_for_object(event).filter(action=LogEntry.Action.ACCESS).count() == 1


# --- feedback ----------------------------------------------------------------------------------

def test_feedback_share_counts_reports_old_enough_to_judge(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    now = timezone.now()
    events = [services.submit_report(nurse, fall(hospital))[0] for _ in range(4)]
    SafetyEvent.objects.filter(pk=events[0].pk).update(reported_at=now - timedelta(days=30), first_feedback_at=now - timedelta(days=20))
    SafetyEvent.objects.filter(pk=events[1].pk).update(reported_at=now - timedelta(days=30), first_feedback_at=now - timedelta(days=2))
    SafetyEvent.objects.filter(pk=events[2].pk).update(reported_at=now - timedelta(days=30), first_feedback_at=None)
    SafetyEvent.objects.filter(pk=events[3].pk).update(reported_at=now - timedelta(days=3), first_feedback_at=None)
    assert services.feedback_share(SafetyEvent.objects.all(), now=now) == (1, 3)


def test_conduct_concerns_go_their_own_way(hospital, make_user, safety_taxonomy):
    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    cmo, officer = make_user(Role.CMO, ""), make_user(Role.PATIENT_SAFETY_OFFICER, "")
    services.raise_conduct_concern(nurse, unit_id=hospital.unit("rgh/4w").pk, about="Dr X, registrar",
                                   narrative="Repeatedly skipped the surgical safety checklist.")
    assert not SafetyEvent.objects.exists()
    assert Notification.objects.filter(recipient=cmo).count() == 1
    assert not Notification.objects.filter(recipient=officer).exists()
    assert not permissions.can(officer, "safety.review_conduct_concerns")
    with pytest.raises(ValidationError) as refused:
        services.raise_conduct_concern(nurse, unit_id=None, about="", narrative="")
    assert set(refused.value.message_dict) == {"unit", "about", "narrative"}
