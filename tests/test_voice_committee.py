"""The grievance committee: escalation with a reason, the decision recorded once, actions opened in
the shared tracker with the grievance as their source; and the grievance measures fed from the
grievances against counts worked out by hand."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from andon.actions import services as actions
from andon.platform.roles import Role
from andon.voice import services
from andon.voice.models import Escalation, Grievance, GrievanceClock, GrievanceStatus


def grievance_in(hospital, unit, reference, received_on, resolved_on=None, **fields):
    received_at = datetime(received_on.year, received_on.month, received_on.day, 10,
                           tzinfo=ZoneInfo("America/Chicago"))
    status = GrievanceStatus.RESOLVED if resolved_on else GrievanceStatus.OPEN
    return Grievance.objects.create(
        organisation=hospital.organisation, reference=reference, channel="letter", received_at=received_at,
        received_on=received_on, due_on=services.due_from(received_on), resolved_on=resolved_on,
        description="A complaint.", status=status, unit=hospital.unit(unit) if unit else None, **fields)


@pytest.fixture
def people(make_user):
    return {"officer": make_user(Role.PATIENT_RELATIONS), "committee": make_user(Role.GRIEVANCE_COMMITTEE),
            "manager": make_user(Role.UNIT_MANAGER, "rgh/medicine")}


def test_escalation_decision_and_action(hospital, people):
    grievance = grievance_in(hospital, "rgh/4w", "G-2026-00001", timezone.localdate() - timedelta(days=3))
    with pytest.raises(ValidationError):
        services.escalate_grievance(people["officer"], grievance, " ")
    with pytest.raises(PermissionDenied):
        services.escalate_grievance(people["manager"], grievance, "Serious")
    escalation = services.escalate_grievance(people["officer"], grievance, "The family asks for a review.")
    with pytest.raises(ValidationError, match="already waiting"):
        services.escalate_grievance(people["officer"], grievance, "Again")
    assert list(services.committee_queue(people["committee"])) == [escalation]

    with pytest.raises(PermissionDenied):
        services.decide_escalation(people["officer"], escalation, "upheld", "Findings")
    with pytest.raises(ValidationError) as refused:
        services.decide_escalation(people["committee"], escalation, "maybe", "")
    assert set(refused.value.message_dict) == {"decision", "findings"}
    services.decide_escalation(people["committee"], escalation, "partly_upheld",
                               "Discharge teaching was missed; billing was correct.", version=escalation.version)
    escalation.refresh_from_db()
    assert escalation.decision == "partly_upheld" and escalation.decided_by == people["committee"]
    assert list(services.committee_queue(people["committee"])) == []
    with pytest.raises(ValidationError, match="already decided"):
        services.decide_escalation(people["committee"], escalation, "upheld", "Again")

    action = services.open_committee_action(
        people["committee"], escalation, title="Teach back at every discharge", owner=people["manager"],
        due_date=timezone.localdate() + timedelta(days=30), measure="Audit of 20 discharges a month")
    assert action.source == grievance and "G-2026-00001" in action.source_label
    assert list(actions.actions_for_source(grievance)) == [action]


def test_an_action_needs_the_decision_first(hospital, people):
    grievance = grievance_in(hospital, "rgh/4w", "G-2026-00001", timezone.localdate())
    escalation = services.escalate_grievance(people["officer"], grievance, "Review please.")
    with pytest.raises(ValidationError, match="decision"):
        services.open_committee_action(people["committee"], escalation, title="x", owner=people["manager"],
                                       due_date=timezone.localdate() + timedelta(days=30), measure="m")
    assert Escalation.objects.get().decision == ""


def test_the_action_owner_is_found_by_a_search_of_those_who_may_manage_actions_there(hospital, people, make_user,
                                                                                     client, sign_in_with_mfa):
    from django.urls import reverse

    grievance = grievance_in(hospital, "rgh/4w", "G-2026-00001", timezone.localdate())
    escalation = services.escalate_grievance(people["officer"], grievance, "Review please.")
    services.decide_escalation(people["committee"], escalation, "upheld", "Findings.")
    make_user(Role.UNIT_MANAGER, "lch/2a", first_name="Fiona", last_name="Lakeside")  # another hospital's ward
    make_user(Role.STAFF_REPORTER, "rgh/4w", first_name="Fiona", last_name="Nurse")  # may not manage actions
    people["manager"].first_name = "Fiona"
    people["manager"].save()
    sign_in_with_mfa(people["committee"])
    found = client.get(reverse("voice:escalation_action_owners", args=[escalation.pk]), {"q": "fiona"},
                       HTTP_HX_REQUEST="true")
    assert found.status_code == 200
    page = found.content.decode()
    assert f'value="{people["manager"].pk}"' in page and "Lakeside" not in page and "Nurse" not in page
    escalation_page = client.get(reverse("voice:escalation", args=[escalation.pk])).content.decode()
    assert "<select" not in escalation_page.split('name="owner"')[0][-400:]  # a search, never a list of the staff


def test_grievance_counts_against_hand_counts(hospital):
    w4, icu = "rgh/4w", "rgh/icu"
    # January: 4W receives 3 grievances, ICU 1; a complaint resolved at the time is not counted.
    grievance_in(hospital, w4, "G-1", date(2026, 1, 2), resolved_on=date(2026, 1, 5))    # 3 days, in time
    grievance_in(hospital, w4, "G-2", date(2026, 1, 20), resolved_on=date(2026, 1, 30))  # 10 days, late (due 27th)
    grievance_in(hospital, w4, "G-3", date(2026, 1, 28))  # due 4 Feb, open
    grievance_in(hospital, icu, "G-4", date(2026, 1, 15), resolved_on=date(2026, 2, 3))  # 19 days, resolved Feb
    grievance_in(hospital, w4, "C-1", date(2026, 1, 3), kind="complaint")
    counts = services.grievance_counts(date(2026, 1, 1), date(2026, 2, 1),
                                       [hospital.unit(w4), hospital.unit(icu)])
    u4, ui = hospital.unit(w4).pk, hospital.unit(icu).pk
    jan, feb = date(2026, 1, 1), date(2026, 2, 1)
    assert counts["grievance-rate"] == {(u4, jan): (3, None), (ui, jan): (1, None)}
    # Due in January: G-1 (due 9 Jan, resolved 5th), G-2 (due 27th, resolved 30th), G-4 (due 22nd, resolved 3 Feb).
    # Due in February: G-3 (4 Feb, open).
    assert counts["grievance-resolved-in-time"] == {(u4, jan): (1, 2), (ui, jan): (0, 1), (u4, feb): (0, 1)}
    assert counts["grievance-days-to-resolution"] == {(u4, jan): (13, 2), (ui, feb): (19, 1)}


def test_the_dashboard_figures(hospital, people):
    today = date(2026, 3, 10)
    grievance_in(hospital, "rgh/4w", "G-1", date(2026, 3, 1))  # due 8 Mar: overdue
    grievance_in(hospital, "rgh/4w", "G-2", date(2026, 3, 5))  # due 12 Mar: due soon
    grievance_in(hospital, "lch/2a", "G-3", date(2026, 3, 9))  # due 16 Mar: due soon
    late = grievance_in(hospital, "rgh/4w", "G-4", date(2026, 1, 2), resolved_on=date(2026, 1, 20))
    GrievanceClock.objects.create(grievance=late, resolved_in_time=False)
    early = grievance_in(hospital, "rgh/4w", "G-5", date(2026, 1, 2), resolved_on=date(2026, 1, 5))
    GrievanceClock.objects.create(grievance=early, resolved_in_time=True)
    GrievanceClock.objects.create(grievance=Grievance.objects.get(reference="G-1"), interim_asked_on=today)

    figures = services.dashboard_figures(people["officer"], today=today)
    assert (figures.overdue, figures.due_soon, figures.interim_owed) == (1, 2, 1)
    assert figures.by_status["Open"] == 3 and figures.by_status["Resolved"] == 2
    assert dict(figures.by_unit) == {"4 West": 2, "2A": 1} or sum(n for _, n in figures.by_unit) == 3
    months = {month: (resolved, in_time) for month, resolved, in_time in figures.in_time_by_month}
    assert len(months) == 12 and months[date(2026, 1, 1)] == (2, 1) and months[date(2026, 3, 1)] == (0, 0)

    manager = services.dashboard_figures(people["manager"], today=today)  # rgh/medicine: not Lakeside's 2A
    assert manager.due_soon == 1 and manager.overdue == 1


def test_the_demo_loader(hospital, make_user):
    from andon.actions.models import Action
    from andon.voice import demo_letters
    from andon.voice.models import Letter

    demo_letters.load()  # nobody and no grievances: nothing
    assert not Letter.objects.exists()
    make_user(Role.PATIENT_RELATIONS, username="pr.pablo", first_name="Pablo", last_name="Reyes")
    make_user(Role.GRIEVANCE_COMMITTEE, username="gc.grace")
    make_user(Role.UNIT_MANAGER, "rgh/medicine", username="mgr.fatima")
    demo_letters.load()  # no grievances: nothing
    assert not Letter.objects.exists()
    today = timezone.localdate()
    for n in range(3):
        grievance_in(hospital, "rgh/4w", f"G-{n}", today - timedelta(days=5 - n))
    demo_letters.load()
    demo_letters.load()  # nothing twice
    assert Letter.objects.filter(grievance__reference="G-0", kind="interim", status="sent").count() == 1
    resolved = Grievance.objects.get(reference="G-1")
    assert resolved.status == GrievanceStatus.RESOLVED and resolved.letters.get().approved_by.username == "pr.pablo"
    escalation = Escalation.objects.get(grievance__reference="G-2")
    assert escalation.decision == "partly_upheld"
    assert Action.objects.get().owner.username == "mgr.fatima"


def test_feeding_the_measures(hospital, people):
    from pathlib import Path

    from andon.measures.models import ManualCount, Measure, MeasureResult
    from andon.platform import content

    content.load_content([Path(__file__).resolve().parent.parent / "content" / "measures"])
    census = Measure.objects.get(key="inpatient-days")
    jan, feb = date(2026, 1, 1), date(2026, 2, 1)
    w4, icu = hospital.unit("rgh/4w"), hospital.unit("rgh/icu")
    for unit, month, days in ((w4, jan, 800), (w4, feb, 750), (icu, jan, 200)):
        MeasureResult.objects.create(measure=census, definition_version="1", data_load="test", period_kind="month",
                                     period_start=month, period_end=date(month.year, month.month + 1, 1),
                                     unit=unit, cases=days, numerator=days, denominator=1, value=days)
    grievance_in(hospital, "rgh/4w", "G-1", date(2026, 1, 2), resolved_on=date(2026, 1, 5))
    grievance_in(hospital, "rgh/4w", "G-2", date(2026, 1, 20), resolved_on=date(2026, 1, 30))
    grievance_in(hospital, "rgh/icu", "G-3", date(2026, 1, 15), resolved_on=date(2026, 2, 3))
    grievance_in(hospital, "lch/2a", "G-4", date(2026, 1, 15))  # no inpatient days: named, no rate

    with pytest.raises(PermissionDenied):
        services.feed_grievance_measures(people["manager"], jan, feb)
    outcome = services.feed_grievance_measures(people["officer"], jan, feb)

    def counts(key):
        return {(c.unit_id, c.month): (c.numerator, c.denominator)
                for c in ManualCount.objects.filter(measure__key=key)}
    # Rate: 2 grievances over 800 days in 4W in January, none over 750 in February, 1 over 200 in the ICU.
    assert counts("grievance-rate") == {(w4.pk, jan): (2, 800), (w4.pk, feb): (0, 750), (icu.pk, jan): (1, 200)}
    rate = MeasureResult.objects.get(measure__key="grievance-rate", period_kind="month", period_start=jan, unit=w4,
                                     stratum="")
    assert rate.value == pytest.approx(2 / 800 * 1000)
    assert counts("grievance-days-to-resolution")[(w4.pk, jan)] == (13, 2)  # 3 + 10 days
    assert any("2A" in problem and "inpatient days" in problem for problem in outcome["problems"])
    assert outcome["counts"] == sum(len(counts(key)) for key in services.GRIEVANCE_MEASURES)
