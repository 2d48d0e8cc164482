"""The actions module's lines on the home page's "my work" list."""

from django.urls import reverse
from django.utils import timezone

from andon.platform.services import WorkItem

from . import services
from .models import Action
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
    today = timezone.localdate()
    mine = Action.objects.filter(owner=user)
    items = []
    for action in services.overdue(mine, today)[:LIMIT]:
        days = (today - action.due_date).days
        items.append(WorkItem(f"Action overdue: {action.title}", reverse("actions:detail", args=[action.pk]), "alert",
                              f"Was due {action.due_date:%Y-%m-%d} ({days} day{'s' if days != 1 else ''} ago)"))
    for action in services.due_soon(mine, today)[:LIMIT]:
        items.append(WorkItem(f"Action due {action.due_date:%Y-%m-%d}: {action.title}",
                              reverse("actions:detail", args=[action.pk]), "due", action.get_status_display()))
    return items
