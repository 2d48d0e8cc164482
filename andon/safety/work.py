"""The safety module's lines on the home page."""

from django.urls import reverse

from andon.platform import permissions
from andon.platform.services import WorkItem

from . import services
from .models import Status


def safety_work(user) -> list[WorkItem]:
    items = []
    if permissions.can(user, "safety.triage"):
        queue = services.triage_queue(user)
        waiting = queue.filter(status=Status.SUBMITTED).count()
        if waiting:
            items.append(WorkItem(f"{waiting} new safety report{'s' if waiting != 1 else ''} to triage",
                                  reverse("safety:triage_queue"), "review"))
        for event in services.overdue_rcas(services.events_visible_to(user))[:20]:
            items.append(WorkItem(f"RCA overdue: {event.reference}", reverse("safety:event", args=[event.pk]), "alert",
                                  f"start due {event.rca_start_due:%Y-%m-%d}, complete due {event.rca_complete_due:%Y-%m-%d}"))
    if permissions.can(user, "safety.receive_escalations"):
        seen = set()
        for alert in services.unread_escalations(user)[:20]:
            if alert.event_id in seen:
                continue
            seen.add(alert.event_id)
            items.append(WorkItem(services.ESCALATION_TITLE.format(reference=alert.event.reference),
                                  reverse("safety:event", args=[alert.event_id]), "alert",
                                  f"{alert.reason}. {services.ESCALATION_BODY}"))
    # Feedback to the reporter is a notification ("Feedback on your report …", services.tell_reporter):
    # the platform lists it once per report until the reporter reads the report.
    return items
