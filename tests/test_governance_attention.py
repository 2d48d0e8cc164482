"""What each module proposes to committees (issue 21): every attention source read for a period
over a few rows built here, asserting the exact items (titles, counts, links), that rows outside
the period or of another organisation are not counted, and that nothing confidential (an event's
narrative, a complainant's words, a practitioner's name) reaches a title or a detail."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from andon.actions import services as actions
from andon.actions.models import Action, Strength
from andon.compliance import assessments as compliance
from andon.compliance.models import Assessment, AssessmentStatus, Evidence, WorkingStatus
from andon.measures.models import Measure, MeasureResult
from andon.platform.models import Facility, Organisation, Unit
from andon.platform.reporting import AttentionItem, ReportingContext, attention_items, attention_sources
from andon.platform.roles import Role
from andon.risk import services as risk
from andon.safety import services as safety
from andon.safety.models import SafetyEvent
from andon.voice import services as voice
from andon.voice.models.grievances import Channel
from tests.test_compliance_assessments import make_framework
from tests.test_medstaff_oppe import medicine, population  # noqa: F401  (the OPPE fixtures: an outlier on readmission)

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def read(source, organisation, first=MARCH[0], last=MARCH[1], today=date(2026, 4, 10)) -> list[AttentionItem]:
    """The items of one source, read through the registry as governance reads them."""
    items, problems = attention_items(ReportingContext(organisation.pk, first, last, today))
    assert problems == []
    return [item for item in items if item.source == source]


def words(items) -> str:
    return " ".join(f"{item.title} {item.detail}" for item in items)


def another_unit() -> Unit:
    other = Organisation.objects.create(name="Elsewhere Health")
    clinic = Facility.objects.create(organisation=other, name="Elsewhere Clinic", code="ec")
    return Unit.objects.create(facility=clinic, name="Ward X", code="x", kind="ward")


def test_every_module_registers_its_sources():
    """Each module's sources, in the module's order (other modules may add theirs around them)."""
    keys = [key for key, _label in attention_sources()]
    for module_keys in (["measures.special_cause", "measures.failing_assurance"],
                        ["safety.sentinel_events", "safety.overdue_rcas"], ["actions.overdue", "actions.high_strength"],
                        ["risk.above_tolerance"], ["compliance.readiness_gaps", "compliance.expired_evidence"],
                        ["voice.grievances_overdue"], ["medstaff.oppe_outliers"]):
        assert [key for key in keys if key in module_keys] == module_keys


# --- measures ---------------------------------------------------------------------------------------

def _measure(key, title, improvement, target, values) -> Measure:
    """A continuous measure (an XmR chart) with the organisation's monthly values from January 2025."""
    measure = Measure.objects.create(key=key, version="1", title=title, domain="safe", improvement=improvement,
                                     scoring="continuous", unit_label="%" if target else "days", target=target,
                                     source_kind="manual", definition={})
    start = date(2025, 1, 1)
    for value in values:
        following = (start + timedelta(days=32)).replace(day=1)
        MeasureResult.objects.create(measure=measure, definition_version="1", data_load="test", period_kind="month",
                                     period_start=start, period_end=following, cases=10, numerator=value * 10,
                                     denominator=10, value=value)
        start = following
    return measure


def test_measures_with_a_special_cause_of_concern_and_failing_their_target(hospital):
    # 14 steady months from January 2025, then March 2026 three times as long (lower is better): a point above the limits
    waits = _measure("theatre-wait", "Days to theatre", "decrease", None, [10, 11, 10, 9, 10, 11, 10, 9, 10, 11,
                                                                            10, 9, 10, 11] + [30])
    # hand hygiene around 70% against a target of 90%: its limits never reach the target
    hygiene = _measure("hygiene", "Hand hygiene", "increase", 90, [70, 71, 69, 70, 72, 70, 71, 69, 70, 71, 70, 70,
                                                                   71, 69, 70])
    _measure("steady", "Steady measure", "decrease", None, [5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5])
    org = hospital.organisation
    assert read("measures.special_cause", org) == [AttentionItem(
        "measures.special_cause", "Days to theatre: special cause of concern in March 2026", 1,
        "A point outside the process limits; 1 of the months of March 2026 flagged.",
        reverse("measures:measure", args=[waits.key]), "concern")]
    assert read("measures.failing_assurance", org) == [AttentionItem(
        "measures.failing_assurance", "Hand hygiene: will consistently miss its target (90 %)", 1,
        "As its process limits stood in March 2026.", reverse("measures:measure", args=[hygiene.key]), "concern")]
    # February: the spike is after the period, so the latest point read is February's, common cause
    february = (date(2026, 2, 1), date(2026, 2, 28))
    assert read("measures.special_cause", org, *february) == []
    # a period with no results: no verdict to report
    assert read("measures.failing_assurance", org, date(2026, 6, 1), date(2026, 6, 30)) == []


# --- safety -----------------------------------------------------------------------------------------

NARRATIVE = "Mrs Example was found on the floor beside bed 12"


def _event(unit, when, *, sentinel=False, **fields) -> SafetyEvent:
    event = SafetyEvent(kind="incident", category="fall", taxonomy_version="2026.1", unit=unit, occurred_at=when,
                        reported_at=when, narrative=NARRATIVE, harm="severe", details={"injury_level": "major"},
                        is_sentinel=sentinel)
    safety.assign_reference(event)
    event.save()
    if fields:
        SafetyEvent.objects.filter(pk=event.pk).update(**fields)
    return event


def test_sentinel_events_of_the_period_are_counted_without_their_narrative(hospital, safety_taxonomy):
    ward = hospital.unit("rgh/4w")
    _event(ward, datetime(2026, 3, 2, 12, tzinfo=UTC), sentinel=True)
    _event(hospital.unit("lch/2a"), datetime(2026, 3, 30, 12, tzinfo=UTC), sentinel=True)
    _event(ward, datetime(2026, 2, 27, 12, tzinfo=UTC), sentinel=True)  # before the period
    _event(ward, datetime(2026, 3, 10, 12, tzinfo=UTC))  # not sentinel
    _event(another_unit(), datetime(2026, 3, 10, 12, tzinfo=UTC), sentinel=True)  # another organisation's
    items = read("safety.sentinel_events", hospital.organisation)
    assert items == [AttentionItem("safety.sentinel_events", "2 sentinel events reported in March 2026", 2,
                                   "Each needs a comprehensive systematic analysis and an action plan.",
                                   reverse("safety:event_list"), "concern")]
    assert "floor" not in words(items) and "EV-" not in words(items)
    assert read("safety.sentinel_events", hospital.organisation, date(2026, 1, 1), date(2026, 1, 31)) == []


def test_overdue_rcas_are_those_past_their_deadline_today(hospital, safety_taxonomy):
    ward, reported = hospital.unit("rgh/4w"), datetime(2026, 3, 2, 12, tzinfo=UTC)
    late = datetime(2026, 4, 1, 12, tzinfo=UTC)
    _event(ward, reported, status="investigation", rca_start_due=late, rca_complete_due=late)  # not started
    _event(ward, reported, status="investigation", rca_started_at=reported, rca_start_due=late,
           rca_complete_due=late)  # started, not finished
    _event(ward, reported, status="investigation", rca_start_due=datetime(2026, 4, 20, tzinfo=UTC),
           rca_complete_due=datetime(2026, 5, 1, tzinfo=UTC))  # not yet due
    _event(ward, reported, status="closed", rca_start_due=late, rca_complete_due=late)  # finished
    items = read("safety.overdue_rcas", hospital.organisation)
    assert items == [AttentionItem("safety.overdue_rcas", "2 root cause analyses overdue", 2,
                                   "Not started or not finished by the deadline, as of 10 Apr 2026.",
                                   reverse("safety:event_list") + "?overdue=on", "concern")]
    assert read("safety.overdue_rcas", hospital.organisation, today=date(2026, 3, 31)) == []


# --- actions ----------------------------------------------------------------------------------------

def _action(user, unit, strength, due, **fields) -> Action:
    action = actions.create_action(user, unit=unit, owner=user, title="Bed alarms on every bed", strength=strength,
                                   due_date=timezone.localdate() + timedelta(days=30), measure="Falls per month")
    Action.objects.filter(pk=action.pk).update(due_date=due, **fields)  # due dates in the past cannot be entered
    return action


def test_overdue_and_stronger_actions(hospital, make_user):
    cqo, ward = make_user(Role.CQO, ""), hospital.unit("rgh/4w")
    _action(cqo, ward, Strength.STRONGER, date(2026, 3, 15))  # overdue, due in the period
    _action(cqo, ward, Strength.STRONGER, date(2026, 3, 31))  # due on the period's last day, not yet overdue
    _action(cqo, ward, Strength.STRONGER, date(2026, 4, 20), status="in_progress")  # due after the period
    _action(cqo, ward, Strength.WEAKER, date(2026, 2, 1))  # overdue, weaker
    _action(cqo, ward, Strength.STRONGER, date(2026, 3, 1), status="done",
            completed_at=datetime(2026, 3, 20, 12, tzinfo=UTC))
    _action(cqo, ward, Strength.STRONGER, date(2026, 2, 1), status="done",
            completed_at=datetime(2026, 2, 20, 12, tzinfo=UTC))  # completed before the period
    _action(cqo, ward, Strength.STRONGER, date(2026, 2, 1), status="cancelled")
    org, today = hospital.organisation, date(2026, 3, 31)
    assert read("actions.overdue", org, today=today) == [AttentionItem(
        "actions.overdue", "2 actions overdue", 2, "Open past their due date, as of 31 Mar 2026.",
        reverse("actions:list") + "?overdue=on", "attention")]
    assert read("actions.high_strength", org, today=today) == [AttentionItem(
        "actions.high_strength", "2 stronger actions due by 31 Mar 2026 not yet done", 2,
        "1 of them overdue; 1 stronger action completed in March 2026.",
        reverse("actions:list") + "?status=open&strength=stronger", "concern")]
    assert read("actions.high_strength", org, date(2026, 1, 1), date(2026, 1, 31), today=date(2026, 1, 31)) == []


# --- risk -------------------------------------------------------------------------------------------

def test_risks_above_their_levels_tolerance(hospital, make_user):
    manager = make_user(Role.UNIT_MANAGER, "rgh/4w")
    fields = {"title": "Falls on 4 West at night", "cause": "Because of one nurse for 14 beds",
              "event": "there is a risk that patients get up unaided", "effect": "which would lead to harm",
              "category": "clinical", "owner": manager, "unit": hospital.unit("rgh/4w"),
              "review_on": timezone.localdate() + timedelta(days=30)}
    risk.raise_risk(manager, **fields, scores={"inherent": (4, 4), "current": (4, 2), "target": (4, 1)})  # 8 > 6
    risk.raise_risk(manager, **fields, scores={"inherent": (4, 4), "current": (2, 3), "target": (2, 1)})  # 6: held
    assert read("risk.above_tolerance", hospital.organisation) == [AttentionItem(
        "risk.above_tolerance", "1 risk above tolerance", 1,
        "Open risks scored above what their level tolerates (Unit: 1).", reverse("risk:register") + "?asking=on",
        "concern")]


# --- compliance -------------------------------------------------------------------------------------

def test_readiness_gaps_of_open_assessments_and_expired_evidence(hospital, make_user):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST, "")
    version = make_framework()
    survey = compliance.create_assessment(specialist, title="Mock survey", version=version,
                                          scope=hospital.facility("rgh"), lead=specialist)
    for citation, result in (("A.1", "met"), ("A.2", "not_met"), ("B.1", "partly_met")):
        item = survey.items.get(requirement__citation=citation)
        compliance.update_item(specialist, item, item.version, working_status=WorkingStatus.IN_PROGRESS,
                               result=result, not_applicable_reason="", rationale="Looked at the minutes.")
    closed = compliance.create_assessment(specialist, title="Last year's survey", version=version,
                                          scope=hospital.facility("rgh"), lead=specialist)
    Assessment.objects.filter(pk=closed.pk).update(status=AssessmentStatus.CLOSED)
    assert read("compliance.readiness_gaps", hospital.organisation) == [AttentionItem(
        "compliance.readiness_gaps", "Mock survey: 2 requirements not met or partly met", 2,
        "Readiness 38%; 1 not met, 1 partly met, 1 not yet assessed, 0 held back by an open high or extreme finding.",
        reverse("compliance:assessment", args=[survey.pk]), "attention")]

    def evidence(review_on, **fields):
        Evidence.objects.create(kind="link", title="Hand hygiene policy", owner=specialist, created_by=specialist,
                                organisation=fields.pop("organisation", hospital.organisation), review_on=review_on,
                                url="https://example.org/policy", **fields)

    evidence(date(2026, 4, 9))  # expired the day before
    evidence(None)  # never dated
    evidence(date(2026, 4, 10))  # due today: still current
    evidence(date(2026, 1, 1), retired_at=timezone.now())
    evidence(date(2026, 1, 1), organisation=another_unit().facility.organisation)
    assert read("compliance.expired_evidence", hospital.organisation) == [AttentionItem(
        "compliance.expired_evidence", "2 pieces of evidence expired", 2,
        "Past the review or expiry date (or never dated), as of 10 Apr 2026.",
        reverse("compliance:evidence_list") + "?state=expired", "attention")]


# --- the patient's voice ----------------------------------------------------------------------------

COMPLAINT = "Dr Example was rude to my mother on 4 West"


def test_grievances_past_their_time_frame_are_counted_without_a_word_of_them(hospital, make_user):
    relations, ward = make_user(Role.PATIENT_RELATIONS, ""), hospital.unit("rgh/4w")

    def grievance(received):
        return voice.log_complaint(relations, voice.Intake(
            channel=Channel.LETTER, received_at=received, description=COMPLAINT, unit_id=ward.pk,
            patient_name="Mary Example", contact_name="Joan Example"))

    grievance(datetime(2026, 3, 2, 12, tzinfo=UTC))  # due 9 March: overdue
    grievance(datetime(2026, 1, 12, 12, tzinfo=UTC))  # overdue since January: received before the period
    grievance(datetime(2026, 4, 8, 12, tzinfo=UTC))  # due 15 April: not yet
    resolved = grievance(datetime(2026, 3, 3, 12, tzinfo=UTC))
    type(resolved).objects.filter(pk=resolved.pk).update(status="resolved", resolved_on=date(2026, 3, 8))
    items = read("voice.grievances_overdue", hospital.organisation)
    assert items == [AttentionItem(
        "voice.grievances_overdue", "2 grievances past the time frame", 2,
        "Not resolved by their due date, as of 10 Apr 2026; 1 of them received in March 2026.",
        reverse("voice:grievances") + "?overdue=on", "concern")]
    assert "Example" not in words(items) and "G-" not in words(items)
    assert read("voice.grievances_overdue", hospital.organisation, today=date(2026, 1, 19)) == []


# --- medical staff: OPPE ----------------------------------------------------------------------------

def test_oppe_outliers_are_a_count_that_names_no_one(medicine):  # noqa: F811
    _department, _office, doctors = medicine
    this_month = timezone.localdate().replace(day=1)
    last = this_month - timedelta(days=1)
    items = read("medstaff.oppe_outliers", doctors[0].organisation, last.replace(day=1), last,
                 today=timezone.localdate())
    assert items == [AttentionItem(
        "medstaff.oppe_outliers", "1 practitioner flagged by OPPE", 1,
        "Worse than their department beyond the 99.8% limits on at least one indicator, in the evaluation periods "
        f"ending {last:%B %Y}. Who they are stays with the medical staff committee.", reverse("medstaff:oppe"),
        "attention")]
    text = words(items)
    for doctor in doctors.values():
        assert doctor.family_name not in text and doctor.fhir_id not in text
    # an evaluation ending long before the synthetic stays: nobody has cases, nobody is flagged
    assert read("medstaff.oppe_outliers", doctors[0].organisation, date(2020, 1, 1), date(2020, 1, 31)) == []

