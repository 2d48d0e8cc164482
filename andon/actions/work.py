"""The actions module's lines on the home page's "my work" list."""

from django.urls import reverse
from django.utils import timezone

from andon.platform.services import WorkItem

from . import services
from .rules import owns_actions

LIMIT = 20


def actions_work(user) -> list[WorkItem]:
    items = _own_actions(user) if owns_actions(user) else []  # the navigation reads that fact anyway
    for action in services.awaiting_decision(user).select_related("unit")[:LIMIT]:
        items.append(WorkItem(f"Action awaiting your decision: {action.title}",
                              reverse("actions:detail", args=[action.pk]), "review",
                              f"{action.get_strength_display()} action, {action.unit.name}"))
    return items


def _own_actions(user) -> list[WorkItem]:
    """Every open action the person owns: overdue ones as alerts, then the rest by due date (those
    due within two weeks first, being the nearest), so an owner is never told "Nothing due"."""
    today = timezone.localdate()
    items = []
    for action in services.open_actions_of(user)[:LIMIT]:
        url = reverse("actions:detail", args=[action.pk])
        if action.due_date < today:
            days = (today - action.due_date).days
            items.append(WorkItem(f"Action overdue: {action.title}", url, "alert",
                                  f"Was due {action.due_date:%Y-%m-%d} ({days} day{'s' if days != 1 else ''} ago)"))
        else:
            soon = action.due_date <= today + services.DUE_SOON
            items.append(WorkItem(f"Action due {action.due_date:%Y-%m-%d}: {action.title}", url, "due",
                                  action.get_status_display() + ("" if soon else " · not due for two weeks or more")))
    return items
