"""The platform's lines on the home page's "my work" list."""

from datetime import timedelta

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from . import notifications, permissions, security
from .models import AccessToken, Job
from .services import WorkItem

_RECENT = timedelta(days=7)
_TOKEN_WARNING = timedelta(days=14)


def platform_work(user) -> list[WorkItem]:
    now = timezone.now()
    items = []
    jobs = Job.objects.filter(created_at__gte=now - _RECENT)
    if not permissions.can(user, "platform.view_all_jobs"):
        jobs = jobs.filter(requested_by=user)
    items.extend(_job_lines(user, jobs))
    expiring = AccessToken.objects.filter(
        user=user, revoked_at=None, expires_at__gt=now, expires_at__lte=now + _TOKEN_WARNING
    )
    for token in expiring:
        items.append(WorkItem(f"API token “{token.name}” expires {token.expires_at:%Y-%m-%d}", reverse("platform:tokens"), "due"))
    if permissions.can(user, "platform.manage_people"):
        items.extend(_people_without_required_mfa())
    items.extend(_unread_notifications(user))
    return items


def _job_lines(user, jobs) -> list[WorkItem]:
    """The week's failed jobs (anyone's, for those who see every job) and the person's own jobs
    still waiting or running, at most ten of each, read in one query: the home page is read
    on every visit and its query budget is shared by every module."""
    mine_in_flight = Q(requested_by=user, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    failed, in_flight = [], []
    for job in jobs.filter(Q(status=Job.Status.FAILED) | mine_in_flight)[:20]:
        (failed if job.status == Job.Status.FAILED else in_flight).append(job)
    return ([WorkItem(f"Job failed: {job.title}", reverse("platform:job", args=[job.pk]), "alert", job.error[:200])
             for job in failed[:10]]
            + [WorkItem(f"Job {job.get_status_display().lower()}: {job.title}", reverse("platform:job", args=[job.pk]),
                        "review") for job in in_flight[:10]])


def _unread_notifications(user) -> list[WorkItem]:
    """One line per page the person's unread notifications point to; it clears when they open
    that page (notifications.mark_read)."""
    items = []
    for group in notifications.unread_by_link(user):
        more = group["count"] - 1
        detail = group["body"][:200] if not more else f"{group['body'][:160]} (and {more} earlier update{'s' if more != 1 else ''})"
        items.append(WorkItem(group["title"], group["url"] or reverse("home"), "review",
                              detail))
    return items


def _people_without_required_mfa() -> list[WorkItem]:
    return [
        WorkItem(
            f"{person} has not set up two-factor sign-in, which their role requires",
            reverse("admin:platform_user_change", args=[person.pk]), "review",
        )
        for person in security.people_missing_required_mfa()[:50]
    ]
