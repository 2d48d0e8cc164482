"""The morning's reminders of actions: each owner of open actions that are overdue or due within
the week is sent one notification listing them (not one per action), and each action is reminded
of at most once a week, its day kept on the action, so the morning schedule (or
`andon actions sweep`) may run any number of times a day and remind once."""

from collections import defaultdict
from datetime import date, timedelta

from django.db.models import Q
from django.urls import reverse

from andon.platform import sweeps
from andon.platform.notifications import notify

from .models import OPEN_STATUSES, Action

DUE_WITHIN = timedelta(days=7)
REMIND_EVERY = timedelta(days=7)
LISTED = 10  # actions named in one notification; the rest are counted


def actions_to_remind(today: date):
    """Open actions due by a week from today whose owner was not reminded of them in the last week."""
    not_lately = Q(reminded_on__isnull=True) | Q(reminded_on__lte=today - REMIND_EVERY)
    return (Action.objects.filter(not_lately, status__in=OPEN_STATUSES, due_date__lte=today + DUE_WITHIN)
            .select_related("owner").order_by("owner_id", "due_date", "pk"))


def remind_owners(today: date) -> int:
    """One notification per owner; returns how many actions were reminded of."""
    by_owner = defaultdict(list)
    for action in actions_to_remind(today):
        by_owner[action.owner].append(action)
    for owner, actions in by_owner.items():
        notify([owner], _title(actions, today), body=_body(actions, today), url=reverse("actions:list") + "?mine=on")
    reminded = [action.pk for actions in by_owner.values() for action in actions]
    # A reminder is not a change of the action: no new version, no entry in its history.
    Action.objects.filter(pk__in=reminded).update(reminded_on=today)
    return len(reminded)


def _title(actions, today: date) -> str:
    late = sum(action.due_date < today for action in actions)
    soon = len(actions) - late
    parts = [f"{late} overdue"] * bool(late) + [f"{soon} due within a week"] * bool(soon)
    return f"Your actions: {' and '.join(parts)}"


def _body(actions, today: date) -> str:
    lines = [f"{'Overdue' if a.due_date < today else 'Due'} {a.due_date:%Y-%m-%d}: {a.title}" for a in actions[:LISTED]]
    if len(actions) > LISTED:
        lines.append(f"and {len(actions) - LISTED} more")
    return "\n".join(lines)


def connect() -> None:
    sweeps.register_sweep("actions", "action reminders", remind_owners)
