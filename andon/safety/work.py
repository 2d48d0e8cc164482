"""The safety module's lines on the home page."""

from django.db.models import Count
from django.urls import reverse

from andon.platform import permissions
from andon.platform.services import WorkItem

from . import services
from .models import Status


def safety_work(user) -> list[WorkItem]:
    items = []
    if permissions.can(user, "safety.triage"):
        # New reports, and those in triage (reopened, or triaged with no further review and to be
        # closed), which the count of new ones alone left out; one query on the queue's index.
        counts = dict(services.triage_queue(user).order_by().values_list("status").annotate(n=Count("pk")))
        waiting, in_triage = counts.get(Status.SUBMITTED, 0), counts.get(Status.TRIAGE, 0)
        if waiting:
            items.append(WorkItem(f"{waiting} new safety report{'s' if waiting != 1 else ''} to triage",
                                  reverse("safety:triage_queue"), "review"))
        if in_triage:
            items.append(WorkItem(f"{in_triage} report{'s' if in_triage != 1 else ''} in triage to finish",
                                  reverse("safety:triage_queue"), "review",
                                  "Reopened, or triaged with no further review and waiting to be closed."))
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
    if permissions.can(user, "safety.review_locally"):
        for event in services.local_reviews_for(user)[:20]:
            items.append(WorkItem(f"Local review asked of your unit: {event.reference}",
                                  reverse("safety:event", args=[event.pk]), "review", event.unit.name))
    for investigation in services.open_investigations_of(user)[:20]:
        items.append(WorkItem(f"Root cause analysis of {investigation.event.reference}: you are on its team",
                              reverse("safety:investigation", args=[investigation.event_id]), "review",
                              f"Complete by {investigation.event.rca_complete_due:%Y-%m-%d}"
                              if investigation.event.rca_complete_due else ""))
    # Feedback to the reporter is a notification ("Feedback on your report …", services.tell_reporter):
    # the platform lists it once per report until the reporter reads the report.
    return items
