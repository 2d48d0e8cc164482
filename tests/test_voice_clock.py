"""The grievance clock: calendar days in the organisation's time zone, days left, reopening, and
the daily sweep that asks once for the interim letter at the limit."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from andon.platform import sweeps
from andon.platform.roles import Role
from andon.voice import services
from andon.voice.models import Grievance, GrievanceClock, GrievanceStatus

CHICAGO = ZoneInfo("America/Chicago")


def make_grievance(hospital, received_at: datetime, unit="rgh/4w", reference="G-2026-00001", **fields):
    received_on, due_on = services.clock_dates(received_at)
    return Grievance.objects.create(
        organisation=hospital.organisation, reference=reference, channel="letter", received_at=received_at,
        received_on=received_on, due_on=due_on, description="The call bell was not answered.",
        status=GrievanceStatus.OPEN, unit=hospital.unit(unit) if unit else None, **fields)


@pytest.fixture
def chicago(settings):
    settings.TIME_ZONE = "America/Chicago"
    settings.ANDON_GRIEVANCE_DAYS = 7
    timezone.deactivate()


def test_seven_calendar_days_from_the_day_received(chicago):
    received_on, due_on = services.clock_dates(datetime(2026, 3, 6, 10, 0, tzinfo=CHICAGO))  # a Friday
    assert (received_on, due_on) == (date(2026, 3, 6), date(2026, 3, 13))  # weekends count


def test_a_late_evening_receipt_is_that_day_in_chicago_not_the_next_utc_day(chicago):
    late = datetime(2026, 3, 3, 23, 30, tzinfo=CHICAGO)  # 05:30 UTC on the 4th
    assert late.astimezone(ZoneInfo("UTC")).date() == date(2026, 3, 4)
    assert services.clock_dates(late) == (date(2026, 3, 3), date(2026, 3, 10))


def test_a_month_end_and_a_year_end(chicago):
    assert services.clock_dates(datetime(2026, 1, 28, 9, tzinfo=CHICAGO))[1] == date(2026, 2, 4)
    assert services.clock_dates(datetime(2026, 12, 29, 9, tzinfo=CHICAGO))[1] == date(2027, 1, 5)


def test_the_dst_change_neither_adds_nor_loses_a_day(chicago):
    # 8 March 2026: clocks go forward in Chicago; 1 November 2026: back.
    spring = datetime(2026, 3, 7, 23, 45, tzinfo=CHICAGO)
    autumn = datetime(2026, 10, 31, 23, 45, tzinfo=CHICAGO)
    assert services.clock_dates(spring) == (date(2026, 3, 7), date(2026, 3, 14))
    assert services.clock_dates(autumn) == (date(2026, 10, 31), date(2026, 11, 7))


def test_the_time_frame_is_configurable(chicago, settings):
    settings.ANDON_GRIEVANCE_DAYS = 5
    assert services.clock_dates(datetime(2026, 3, 6, 10, tzinfo=CHICAGO))[1] == date(2026, 3, 11)


def test_days_left_is_zero_on_the_day_due_and_negative_after(chicago, hospital):
    grievance = make_grievance(hospital, datetime(2026, 3, 2, 8, tzinfo=CHICAGO))
    assert services.days_left(grievance, date(2026, 3, 2)) == 7
    assert services.days_left(grievance, date(2026, 3, 9)) == 0
    assert services.days_left(grievance, date(2026, 3, 12)) == -3


def test_a_reopened_grievance_counts_again_from_the_reopening_day(chicago, hospital, make_user):
    officer = make_user(Role.PATIENT_RELATIONS)
    grievance = make_grievance(hospital, datetime(2026, 3, 2, 8, tzinfo=CHICAGO))
    grievance.status, grievance.resolved_on = GrievanceStatus.RESOLVED, date(2026, 3, 6)
    grievance.save()

    services.reopen_grievance(officer, grievance, "The patient wrote back: the answer missed the night staff.",
                              today=date(2026, 3, 20))

    grievance.refresh_from_db()
    assert grievance.status == GrievanceStatus.OPEN
    assert grievance.reopened_count == 1
    assert grievance.resolved_on is None
    assert grievance.received_on == date(2026, 3, 2)  # the first receipt stays
    assert grievance.due_on == date(2026, 3, 27)
    assert services.days_left(grievance, date(2026, 3, 20)) == 7
    clock = GrievanceClock.objects.get(grievance=grievance)
    assert clock.reopened_on == date(2026, 3, 20) and "night staff" in clock.reopen_reason
    assert clock.previous_resolved_on == date(2026, 3, 6)  # the earlier resolution is kept


def test_reopening_needs_a_reason_a_resolved_grievance_and_the_capability(chicago, hospital, make_user):
    officer = make_user(Role.PATIENT_RELATIONS)
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    grievance = make_grievance(hospital, datetime(2026, 3, 2, 8, tzinfo=CHICAGO))
    with pytest.raises(ValidationError, match="Only a resolved grievance"):
        services.reopen_grievance(officer, grievance, "again")
    grievance.status = GrievanceStatus.RESOLVED
    grievance.save()
    with pytest.raises(ValidationError) as refused:
        services.reopen_grievance(officer, grievance, "  ")
    assert "reason" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        services.reopen_grievance(manager, grievance, "again")
    grievance.refresh_from_db()
    assert grievance.status == GrievanceStatus.RESOLVED and grievance.reopened_count == 0


def test_the_sweep_asks_once_on_day_seven(chicago, hospital, make_user, django_capture_on_commit_callbacks):
    officer = make_user(Role.PATIENT_RELATIONS)
    other = make_user(Role.PATIENT_RELATIONS)
    owned = make_grievance(hospital, datetime(2026, 3, 2, 8, tzinfo=CHICAGO), owner=officer)
    unowned = make_grievance(hospital, datetime(2026, 3, 2, 9, tzinfo=CHICAGO), reference="G-2026-00002")
    make_grievance(hospital, datetime(2026, 3, 3, 9, tzinfo=CHICAGO), reference="G-2026-00003")  # due tomorrow
    resolved = make_grievance(hospital, datetime(2026, 3, 2, 9, tzinfo=CHICAGO), reference="G-2026-00004")
    resolved.status = GrievanceStatus.RESOLVED
    resolved.save()

    assert sweeps.run_sweeps("voice", date(2026, 3, 8))["interim letters"] == 0  # day 6
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeps.run_sweeps("voice", date(2026, 3, 9))["interim letters"] == 2  # day 7
        assert sweeps.run_sweeps("voice", date(2026, 3, 9))["interim letters"] == 0  # the second run that day
        assert sweeps.run_sweeps("voice", date(2026, 3, 10))["interim letters"] == 1  # the third, a day later

    sent = sorted((message.subject.removeprefix("[Andon] "), tuple(message.to)) for message in mail.outbox)
    assert sent == [("Interim letter needed: G-2026-00001", (officer.email,)),  # the owner alone
                    # the unowned ones: everyone who receives grievance alerts over them
                    ("Interim letter needed: G-2026-00002", (officer.email,)),
                    ("Interim letter needed: G-2026-00002", (other.email,)),
                    ("Interim letter needed: G-2026-00003", (officer.email,)),
                    ("Interim letter needed: G-2026-00003", (other.email,))]
    assert GrievanceClock.objects.get(grievance=unowned).interim_asked_on == date(2026, 3, 9)
    assert list(services.interim_letters_owed(Grievance.objects.all()).order_by("pk")) == [
        owned, unowned, Grievance.objects.get(reference="G-2026-00003")]


def test_the_sweep_does_not_ask_when_the_interim_letter_went_out_first(chicago, hospital, make_user):
    grievance = make_grievance(hospital, datetime(2026, 3, 2, 8, tzinfo=CHICAGO))
    GrievanceClock.objects.create(grievance=grievance, promised_on=date(2026, 3, 20))
    assert sweeps.run_sweeps("voice", date(2026, 3, 9))["interim letters"] == 0


def test_the_sweep_command_runs_the_voice_sweeps(chicago, hospital, capsys):
    from andon import cli

    make_grievance(hospital, datetime(2026, 3, 2, 8, tzinfo=CHICAGO))
    args = cli.build_parser().parse_args(["voice", "sweep", "--date", "2026-03-09"])
    args.run(args)
    assert "interim letters: 1" in capsys.readouterr().out
