"""Risk reviews: the daily sweep e-mails a risk's owner when its review is due within the notice
days or overdue (once a period, by e-mail only), `andon risk sweep` runs it, and the home page
lists an owner's risks due, overdue, flagged or asking escalation, and a risk manager's risks of
others asking escalation in their scope (one counted line when there are more than a few), at no
query for people without risk roles."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from andon import cli
from andon.platform.models import Notification
from andon.platform.roles import Role
from andon.risk import reviews
from andon.risk import services
from andon.risk.models import Risk
from andon.risk.scoring import Matrix
from andon.risk.sweep import run_sweeps
from tests.conftest import TODAY

FALLS = {"cause": "one nurse for 14 beds at night", "event": "confused patients get up unaided",
         "effect": "a fall with harm", "category": "clinical"}
LOW = {"inherent": (2, 2), "current": (2, 1), "target": (1, 1)}  # 2: tolerated everywhere
HIGH = {"inherent": (4, 4), "current": (4, 3), "target": (4, 1)}  # 12: above a unit's 6


@pytest.fixture
def world(hospital, make_user, settings):
    settings.ANDON_RISK_REVIEW_NOTICE_DAYS = 14
    settings.ANDON_RISK_REMINDER_DAYS = 7

    class World:
        manager = make_user(Role.RISK_MANAGER, "", username="rita")
        lakeside_manager = make_user(Role.RISK_MANAGER, "lch", username="lars")
        wanda = make_user(Role.UNIT_MANAGER, "rgh/4w", username="wanda")
        eve = make_user(Role.UNIT_MANAGER, "rgh/5e", username="eve")
        nurse = make_user(Role.STAFF_REPORTER, "rgh/4w", username="ana")
        analyst = make_user(Role.QUALITY_ANALYST, "", username="quinn")
        w4, e5 = hospital.unit("rgh/4w"), hospital.unit("rgh/5e")
        organisation = hospital.organisation
    return World


def _raise(world, title, *, owner=None, unit=None, scores=LOW, review_in=30):
    owner = owner or world.wanda
    return services.raise_risk(world.manager, title=title, owner=owner, unit=unit or world.w4, scores=scores,
                               review_on=TODAY + timedelta(days=review_in), **FALLS)


def _overdue(risk, days):
    Risk.objects.filter(pk=risk.pk).update(review_on=TODAY - timedelta(days=days))
    risk.refresh_from_db()
    return risk


# --- the daily sweep ------------------------------------------------------------------------------

def test_the_sweep_emails_owners_of_reviews_due_or_overdue_once_a_period(world, mailoutbox,
                                                                         django_capture_on_commit_callbacks):
    soon = _raise(world, "Due in ten days", review_in=10)
    _raise(world, "Due in twenty days", review_in=20)
    late = _overdue(_raise(world, "Overdue", owner=world.eve, unit=world.e5), 3)
    closed = _overdue(_raise(world, "Closed and overdue"), 3)
    services.close_risk(world.manager, closed, "Merged into R-00001")
    with django_capture_on_commit_callbacks(execute=True):
        assert run_sweeps(TODAY)["risk reviews"] == 2
    assert sorted((mail.to[0], mail.subject) for mail in mailoutbox) == [
        ("eve@example.org", f"[Andon] Risk review overdue: {late.reference} Overdue"),
        ("wanda@example.org", f"[Andon] Risk review due {soon.review_on:%Y-%m-%d}: {soon.reference} Due in ten days"),
    ]
    overdue_mail = next(mail for mail in mailoutbox if mail.to == ["eve@example.org"])
    assert f"was due {late.review_on:%Y-%m-%d}" in overdue_mail.body
    assert overdue_mail.body.endswith(reverse("risk:risk", args=[late.pk]))
    assert not Notification.objects.exists()  # e-mail only: the home page already has the line
    with django_capture_on_commit_callbacks(execute=True):
        assert run_sweeps(TODAY)["risk reviews"] == 0  # the same day again: nothing more
        assert run_sweeps(TODAY + timedelta(days=6))["risk reviews"] == 1  # "due in twenty days" is now within 14
        assert run_sweeps(TODAY + timedelta(days=7))["risk reviews"] == 2  # a week on: the first two again
    assert len(mailoutbox) == 5


def test_a_review_clears_the_reminder_so_the_next_period_starts_afresh(world, mailoutbox):
    risk = _raise(world, "Due soon", review_in=5)
    assert run_sweeps(TODAY)["risk reviews"] == 1
    risk.refresh_from_db()
    assert risk.review_reminded_on == TODAY
    risk = services.rescore(world.wanda, risk, LOW, review_on=TODAY + timedelta(days=10), ver=risk.version)
    assert risk.review_reminded_on is None
    assert run_sweeps(TODAY + timedelta(days=1))["risk reviews"] == 1


def test_an_inactive_owner_is_not_reminded(world):
    risk = _raise(world, "Owner left", review_in=5)
    risk.owner.is_active = False
    risk.owner.save()
    assert run_sweeps(TODAY)["risk reviews"] == 0


def test_the_command_runs_the_sweep_for_a_day(world, capsys):
    _raise(world, "Due in twenty days", review_in=20)
    assert cli.main(["risk", "sweep", "--date", (TODAY + timedelta(days=7)).isoformat()]) == 0
    assert "risk reviews: 1" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["risk", "sweep", "--date", "31/12/2026"])


# --- the home page ---------------------------------------------------------------------------------

def test_an_owner_sees_each_risk_due_overdue_flagged_or_asking_escalation(world):
    due = _raise(world, "Due soon", review_in=10)
    overdue = _overdue(_raise(world, "Overdue"), 4)
    flagged = _raise(world, "Flagged")
    Risk.objects.filter(pk=flagged.pk).update(flagged_reason="Falls: special cause above the mean")
    asking = _raise(world, "Above tolerance", scores=HIGH)
    _raise(world, "Quiet")  # due in 30 days, tolerated, not flagged: no line
    _raise(world, "Someone else's", owner=world.eve, unit=world.e5, review_in=1)
    lines = {item.title: item for item in reviews.risk_work(world.wanda)}
    assert sorted(lines) == [f"Risk asks escalation: {asking.reference} Above tolerance",
                             f"Risk flagged for review: {flagged.reference} Flagged",
                             f"Risk review due: {due.reference} Due soon",
                             f"Risk review overdue: {overdue.reference} Overdue"]
    line = lines[f"Risk review overdue: {overdue.reference} Overdue"]
    assert (line.kind, line.url) == ("alert", reverse("risk:risk", args=[overdue.pk]))
    assert line.detail == f"Review overdue: was due {overdue.review_on:%Y-%m-%d} (4 days ago)"
    assert lines[f"Risk flagged for review: {flagged.reference} Flagged"].kind == "alert"
    assert lines[f"Risk review due: {due.reference} Due soon"].kind == "due"
    assert lines[f"Risk asks escalation: {asking.reference} Above tolerance"].detail == (
        "Current score 12 is above what the unit level tolerates (6): it asks to be escalated")


def test_escalation_is_asked_on_the_organisations_own_matrix(world):
    risk = _raise(world, "Above tolerance", scores=HIGH)
    assert list(reviews.asking_escalation(Risk.objects.all())) == [risk]
    config = Matrix().to_config() | {"tolerances": {"unit": 12, "department": 15, "facility": 20}}
    services.change_matrix(world.manager, world.organisation, config, "Wards keep High risks")
    assert list(reviews.asking_escalation(Risk.objects.all())) == []
    assert reviews.risk_work(world.wanda) == []


def test_a_risk_manager_sees_others_risks_asking_escalation_in_their_scope(world):
    fours = [_raise(world, f"Ward risk {n}", scores=HIGH) for n in range(2)]
    own = _raise(world, "Their own", owner=world.manager, scores=HIGH)  # on their owner lines, not twice
    _raise(world, "Tolerated")
    lines = reviews.risk_work(world.manager)
    assert [item.title for item in lines] == [f"Risk asks escalation: {risk.reference} {risk.title}"
                                              for risk in (own, *fours)]
    assert lines[1].detail.endswith("Owner: wanda")
    assert reviews.risk_work(world.lakeside_manager) == []  # Riverside's risks are outside Lakeside's scope


def test_more_than_a_few_risks_asking_escalation_are_one_counted_line(world, client):
    for n in range(reviews.FEW + 2):
        _raise(world, f"Ward risk {n}", scores=HIGH)
    _raise(world, "Tolerated")
    [line] = reviews.risk_work(world.manager)
    assert (line.title, line.url, line.kind) == ("5 risks in your scope ask escalation",
                                                 "/risk/register/?asking=on", "review")
    client.force_login(world.manager)  # the line's link is the register showing those five
    rows = client.get(line.url).context["rows"]
    assert sorted(row.risk.title for row in rows) == [f"Ward risk {n}" for n in range(reviews.FEW + 2)]


def test_people_without_risk_roles_pay_no_query_and_non_owners_one(world, django_assert_num_queries):
    _raise(world, "Due soon", review_in=1)
    with django_assert_num_queries(0):
        assert reviews.risk_work(world.nurse) == []
    with django_assert_num_queries(1):  # holds risk.view, owns no risk
        assert reviews.risk_work(world.analyst) == []


def test_the_owners_home_page_shows_the_line(client, world):
    risk = _overdue(_raise(world, "Falls on 4 West"), 2)
    client.force_login(world.wanda)
    page = client.get(reverse("home")).content.decode()
    assert f"Risk review overdue: {risk.reference} Falls on 4 West" in page
    assert reverse("risk:risk", args=[risk.pk]) in page


# --- the demo --------------------------------------------------------------------------------------

def test_the_demo_register_gives_its_people_their_lines_and_months_of_trend(demo_hospital):
    from andon.platform.models import User
    from andon.risk.models import Level, ScoreRecord

    def titles(username):
        return [item.title for item in reviews.risk_work(User.objects.get(username=username))]

    falls = Risk.objects.get(title="Falls with harm on 4 West at night")
    assert titles("mgr.fatima") == [f"Risk review due: {falls.reference} {falls.title}",
                                    "Risk flagged for review: R-00002 Medication administration errors on 5 East"]
    assert titles("mgr.george") == ["Risk review overdue: R-00005 Pressure injuries on 2A"]
    assert titles("risk.noah") == [f"Risk asks escalation: {falls.reference} {falls.title}"]
    assert titles("nurse.ana") == []
    board = services.board_framework(User.objects.get(username="board.rosa"))
    assert [(risk.title, risk.controls.count()) for risk in board] == [
        ("Nurse staffing below safe levels across Riverside", 2)]
    assert board[0].level == Level.BOARD and board[0].escalations.count() == 1
    trend = ScoreRecord.objects.filter(risk=falls)
    assert [record.current_score for record in trend] == [8, 8, 12]
    assert (timezone.now() - trend.first().at).days >= 90
    from andon.risk.models import Assessment, FailureCause

    fmea, hfmea = (Assessment.objects.get(title=t) for t in ("Dispensing high-alert medicines",
                                                             "Bedside check before a blood transfusion"))
    vials = FailureCause.objects.get(mode__step__assessment=fmea, description="Look-alike vials stored side by side")
    before, after = services.scores_before_after(vials)
    assert (before.rpn, after.rpn, vials.act_reason) == (144, 54, "severity 9 ≥ 9, whatever the RPN")
    acted = FailureCause.objects.filter(mode__step__assessment=hfmea, act=True).get()
    assert (acted.hazard_score, acted.act_reason[:8], acted.outcome_measure[:8]) == (8, "Proceed:", "Share of")
