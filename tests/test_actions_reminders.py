"""The morning's reminders to the owners of actions (andon/actions/reminders.py): one notification
per owner listing the actions overdue or due within a week, each action at most once a week, and
nothing for actions done, far off, or reminded of lately; run through the sweeps' registry as the
morning schedule and `andon actions sweep` run it."""

from datetime import timedelta

from django.utils import timezone

from andon.actions.models import Action, Status
from andon.platform import sweeps
from andon.platform.models import Notification
from tests.test_actions import _backdate, new_action, people  # noqa: F401  (fixture)


def test_each_owner_gets_one_reminder_of_the_actions_near_or_past_due_and_not_again_that_week(hospital, people):
    today = timezone.localdate()
    ward = hospital.unit("rgh/4w")
    late = _backdate(new_action(people.pso, ward, people.nurse, title="Bed alarms on 4W"), today - timedelta(days=3))
    soon = new_action(people.pso, ward, people.nurse, title="Hourly rounding", due_date=today + timedelta(days=5))
    new_action(people.pso, ward, people.nurse, title="Far off", due_date=today + timedelta(days=40))
    done = _backdate(new_action(people.pso, ward, people.nurse, title="Done already"), today - timedelta(days=1))
    Action.objects.filter(pk=done.pk).update(status=Status.DONE)
    others = new_action(people.pso, ward, people.manager, title="Manager's own", due_date=today + timedelta(days=1))
    Notification.objects.all().delete()  # the assignment notices

    assert sweeps.run_sweeps("actions", today) == {"action reminders": 3}
    to_nurse = Notification.objects.get(recipient=people.nurse)
    assert to_nurse.title == "Your actions: 1 overdue and 1 due within a week"
    assert to_nurse.body.splitlines() == [f"Overdue {late.due_date:%Y-%m-%d}: Bed alarms on 4W",
                                          f"Due {soon.due_date:%Y-%m-%d}: Hourly rounding"]
    assert to_nurse.url == "/actions/?mine=on"
    assert Notification.objects.get(recipient=people.manager).title == "Your actions: 1 due within a week"
    assert set(Action.objects.filter(reminded_on=today).values_list("pk", flat=True)) == {late.pk, soon.pk, others.pk}
    assert Action.objects.get(pk=late.pk).version == late.version  # a reminder is not a change of the action

    assert sweeps.run_sweeps("actions", today) == {"action reminders": 0}  # twice a morning: once
    assert sweeps.run_sweeps("actions", today + timedelta(days=6)) == {"action reminders": 0}
    assert sweeps.run_sweeps("actions", today + timedelta(days=7)) == {"action reminders": 3}  # a week on, again
    assert Notification.objects.filter(recipient=people.nurse).count() == 2
