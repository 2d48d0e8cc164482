"""The grievance's clock (42 CFR 482.13(a)(2); DOMAIN.md §8).

A grievance is due `settings.ANDON_GRIEVANCE_DAYS` calendar days after the day it was received,
the day read in the organisation's time zone (a complaint e-mailed at 23:30 in Chicago was received
that day, not the next UTC day). At the limit without a resolution the daily sweep asks, once per
time frame, for the interim letter ("we are still working on it") with the date of the full
response. Reopening a resolved grievance starts a new time frame from the reopening day; the
earlier resolution stays in the history and in its letters."""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from andon.platform import audit, concurrency, history, notifications, permissions
from andon.platform import services as platform_services

from .models import Grievance, GrievanceClock, GrievanceStatus, Letter, LetterKind, LetterStatus

__all__ = ["clock_dates", "clock_of", "clock_section", "days_left", "due_from", "grievances_in_scope",
           "interim_letters_owed", "reopen_grievance", "time_frame_days"]

REASON_MAX = 2000


# --- the time frame ---------------------------------------------------------------------------------

def time_frame_days() -> int:
    return settings.ANDON_GRIEVANCE_DAYS


def due_from(day: date) -> date:
    """The last day of a time frame that starts on `day` (calendar days, weekends included)."""
    return day + timedelta(days=time_frame_days())


def clock_dates(received_at: datetime) -> tuple[date, date]:
    """(received_on, due_on) of a grievance received at `received_at`, in the organisation's time zone."""
    received_on = timezone.localtime(received_at).date()
    return received_on, due_from(received_on)


def days_left(grievance: Grievance, today: date) -> int | None:
    """Days from `today` to the due day: 0 on the day it is due, negative when overdue; None
    without a clock (a complaint resolved at the time)."""
    if grievance.due_on is None:
        return None
    return (grievance.due_on - today).days


def clock_of(grievance: Grievance) -> GrievanceClock:
    clock, _ = GrievanceClock.objects.get_or_create(grievance=grievance)
    return clock


def grievances_in_scope(user, capability: str, unit=None):
    """The grievances `capability` lets the user see (a unit asked for is checked; none asked for
    is the user's units, and everything only for a grant over the whole organisation)."""
    scope = permissions.scope_for(user, capability, unit=unit)
    grievances = Grievance.objects.all()
    if scope.everything and unit is None:
        return grievances
    return grievances.filter(unit__in=scope.units)


def interim_letters_owed(grievances):
    """The open grievances the sweep asked an interim letter for, whose interim letter has not been
    sent in this time frame (sending it records the promised date)."""
    return grievances.filter(status=GrievanceStatus.OPEN, clock__interim_asked_on__isnull=False,
                             clock__promised_on__isnull=True)


# --- reopening ----------------------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def reopen_grievance(user, grievance: Grievance, reason: str, version: int | None = None,
                     today: date | None = None) -> Grievance:
    """A resolved grievance opened again (the patient wrote back): status open, counted once more,
    and a new time frame from the reopening day. The earlier resolution stays in the history (the
    audit trail keeps resolved_on as it was) and in its sent letter."""
    permissions.check(user, "voice.manage_grievances", grievance)
    concurrency.lock(grievance, version)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the grievance is reopened."})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"At most {REASON_MAX:,} characters."})
    if grievance.status not in (GrievanceStatus.RESOLVED, GrievanceStatus.CLOSED):
        raise ValidationError({"status": f"Only a resolved grievance can be reopened; {grievance.reference} is "
                                         f"{grievance.get_status_display().lower()}."})
    today = today or timezone.localdate()
    clock = clock_of(grievance)
    clock.previous_resolved_on = grievance.resolved_on
    grievance.status = GrievanceStatus.OPEN
    grievance.reopened_count += 1
    grievance.resolved_on = None
    grievance.due_on = due_from(today)
    grievance.save()
    clock.reopened_on, clock.reopen_reason = today, reason
    clock.interim_asked_on = clock.promised_on = clock.resolved_in_time = None
    clock.save()
    return grievance


# --- the daily sweep: the interim letter asked for at the limit -----------------------------------------

def ask_for_interim_letters(today: date) -> int:
    """Open grievances at (or past) their limit, not yet asked in this time frame and with no
    interim letter sent: their owner (else everyone who receives grievance alerts over them) is
    asked once for the interim letter. Returns how many grievances were asked for; a second run
    the same day asks for none."""
    due = (Grievance.objects.filter(status=GrievanceStatus.OPEN, due_on__lte=today)
           .exclude(clock__interim_asked_on__isnull=False).exclude(clock__promised_on__isnull=False)
           .select_related("owner", "unit", "organisation").order_by("pk"))
    asked = 0
    with transaction.atomic():
        for grievance in due:
            _ask(grievance, today)
            asked += 1
    return asked


def _ask(grievance: Grievance, today: date) -> None:
    clock = clock_of(grievance)
    clock.interim_asked_on = today
    clock.save(update_fields=["interim_asked_on"])
    owner = grievance.owner
    people = [owner] if owner is not None and owner.is_active else list(
        permissions.people_who("voice.receive_grievance_alerts", grievance))
    left = days_left(grievance, today)
    when = "today" if left == 0 else f"{-left} day{'s' if left != -1 else ''} ago"
    # The home page carries the same work line, so an e-mail alone (no in-app notification).
    notifications.email(people, f"Interim letter needed: {grievance.reference}",
                        body=f"The time frame of {grievance.reference} ended {when} without a resolution. Send the "
                             "patient the interim letter with the date of the full response.",
                        url=_grievance_url(grievance))


def _grievance_url(grievance: Grievance) -> str:
    try:
        return reverse("voice:grievance", args=[grievance.pk])
    except NoReverseMatch:  # the record page's name is the intake's
        return reverse("voice:grievance_letters", args=[grievance.pk])


# --- the home page: due today, overdue, interim letters owed --------------------------------------------

def clock_work(user) -> list:
    if not permissions.can(user, "voice.manage_grievances"):
        return []
    today = timezone.localdate()
    mine = grievances_in_scope(user, "voice.manage_grievances").filter(status=GrievanceStatus.OPEN)
    items = []
    owed = interim_letters_owed(mine).count()
    if owed:
        items.append(platform_services.WorkItem(
            f"{owed} interim letter{'s' if owed != 1 else ''} owed", reverse("voice:grievance_dashboard"), "alert",
            "Grievances past their time frame without a resolution: send the interim letter."))
    overdue = mine.filter(due_on__lt=today).count()
    due_today = mine.filter(due_on=today).count()
    if overdue or due_today:
        items.append(platform_services.WorkItem(
            f"Grievances due today: {due_today}, overdue: {overdue}", reverse("voice:grievance_dashboard"), "due",
            "Resolve them with the resolution letter, or send the interim letter."))
    return items


# --- the record page's section --------------------------------------------------------------------------

def clock_section(user, grievance: Grievance) -> dict | None:
    if grievance.due_on is None or not permissions.can(user, "voice.view_grievances", grievance):
        return None
    today = timezone.localdate()
    clock = GrievanceClock.objects.filter(grievance=grievance).first()
    left = days_left(grievance, today)
    return {
        "grievance": grievance, "clock": clock, "today": today, "days_left": left,
        "overdue_by": -left if left is not None and left < 0 else 0,
        "is_open": grievance.status == GrievanceStatus.OPEN,
        "interim_owed": bool(clock and clock.interim_asked_on and not clock.promised_on
                             and grievance.status == GrievanceStatus.OPEN),
        "may_reopen": grievance.status in (GrievanceStatus.RESOLVED, GrievanceStatus.CLOSED)
        and permissions.can(user, "voice.manage_grievances", grievance),
        "sent_letters": Letter.objects.filter(grievance=grievance, status=LetterStatus.SENT,
                                              kind=LetterKind.RESOLUTION).count(),
    }


def connect() -> None:
    """Registries of this subject, from ready()."""
    from .sweep import register_sweep

    audit.register(GrievanceClock)
    history.register(GrievanceClock, labels={"interim_asked_on": "Interim letter asked for on"})
    platform_services.register_work_provider(clock_work)
    register_sweep("interim letters", ask_for_interim_letters)
    try:
        from .grievances import add_grievance_section
    except ImportError:  # the intake's registry arrives with its branch
        return
    add_grievance_section("The clock", "voice/clock_section.html", clock_section, 10)
