"""The grievance's clock (42 CFR 482.13(a)(2); DOMAIN.md §8).

A grievance is due `settings.ANDON_GRIEVANCE_DAYS` calendar days after the day it was received,
the day read in the organisation's time zone (a complaint e-mailed at 23:30 in Chicago was received
that day, not the next UTC day). At the limit without a resolution the daily sweep asks, once per
time frame, for the interim letter ("we are still working on it") with the date of the full
response. Reopening a resolved grievance starts a new time frame from the reopening day; the
earlier resolution stays in the history and in its letters."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import TruncMonth
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from andon.measures import services as measures
from andon.platform import audit, concurrency, history, navigation, notifications, permissions
from andon.platform import services as platform_services

from .models import ComplaintKind, Grievance, GrievanceClock, GrievanceStatus

__all__ = ["GRIEVANCE_MEASURES", "DashboardFigures", "feed_grievance_measures", "month_start", "grievance_counts", "clock_dates", "clock_of", "clock_section", "dashboard_figures", "days_left",
           "due_from", "grievances_in_scope",
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


# --- the dashboard's figures ---------------------------------------------------------------------------------

@dataclass
class DashboardFigures:
    by_status: dict[str, int]
    overdue: int
    due_soon: int
    interim_owed: int
    by_category: list[tuple[str, int]]
    by_unit: list[tuple[str, int]]
    in_time_by_month: list[tuple[date, int, int]]  # (month, resolved, of them within the time frame)

    def as_dict(self) -> dict:
        return {"by_status": self.by_status, "overdue": self.overdue, "due_in_7_days": self.due_soon,
                "interim_letters_owed": self.interim_owed,
                "open_by_category": [{"category": label, "open": count} for label, count in self.by_category],
                "open_by_unit": [{"unit": label, "open": count} for label, count in self.by_unit],
                "resolved_in_time_by_month": [{"month": month.isoformat(), "resolved": resolved, "in_time": in_time}
                                              for month, resolved, in_time in self.in_time_by_month]}


def month_start(day: date, back: int = 0) -> date:
    month = day.year * 12 + day.month - 1 - back
    return date(month // 12, month % 12 + 1, 1)


def dashboard_figures(user, unit=None, today: date | None = None) -> DashboardFigures:
    """The grievance dashboard's figures over the user's scope (or a unit of it), each one
    aggregate query over indexed columns: no row is read into Python."""
    today = today or timezone.localdate()
    grievances = grievances_in_scope(user, "voice.view_grievances", unit=unit)
    open_ones = grievances.filter(status=GrievanceStatus.OPEN)
    by_status = dict(grievances.order_by().values_list("status").annotate(n=Count("pk")))
    labels = dict(GrievanceStatus.choices)
    first = month_start(today, 11)
    months = (grievances.filter(resolved_on__gte=first, clock__resolved_in_time__isnull=False).order_by()
              .annotate(month=TruncMonth("resolved_on")).values("month")
              .annotate(resolved=Count("pk"), in_time=Count("pk", filter=Q(clock__resolved_in_time=True))))
    found = {row["month"]: (row["resolved"], row["in_time"]) for row in months}
    series = []
    for back in range(11, -1, -1):
        month = month_start(today, back)
        series.append((month, *found.get(month, (0, 0))))
    return DashboardFigures(
        by_status={labels[key]: by_status.get(key, 0) for key in GrievanceStatus.values},
        overdue=open_ones.filter(due_on__lt=today).count(),
        due_soon=open_ones.filter(due_on__gte=today, due_on__lte=today + timedelta(days=7)).count(),
        interim_owed=interim_letters_owed(grievances).count(),
        by_category=[(label or "Not classified", n) for label, n in open_ones.order_by().values_list(
            "categories__label").annotate(n=Count("pk")).order_by("-n", "categories__label")[:15]],
        by_unit=[(label or "No unit", n) for label, n in open_ones.order_by().values_list(
            "unit__name").annotate(n=Count("pk")).order_by("-n", "unit__name")[:15]],
        in_time_by_month=series)


# --- the grievance measures -------------------------------------------------------------------------------------

GRIEVANCE_MEASURES = ("grievance-rate", "grievance-resolved-in-time", "grievance-days-to-resolution")
MEASURE_SOURCE = "Patient voice: grievances"


def _months(first: date, last: date) -> list[date]:
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = month_start(month, -1)
    return months


def grievance_counts(first: date, last: date, units) -> dict[str, dict]:
    """The three measures' counts for the months from `first` to `last` and the grievances placed in
    `units`: {measure key: {(unit id, month): (numerator, denominator)}}. Grievances only
    (complaints resolved at the time are not counted); the rate's denominator is filled by the caller."""
    end = month_start(last, -1)
    grievances = Grievance.objects.filter(kind=ComplaintKind.GRIEVANCE, unit__in=units).order_by()
    received = (grievances.filter(received_on__gte=first, received_on__lt=end)
                .annotate(month=TruncMonth("received_on")).values_list("unit_id", "month").annotate(n=Count("pk")))
    due = (grievances.filter(due_on__gte=first, due_on__lt=end).annotate(month=TruncMonth("due_on"))
           .values_list("unit_id", "month")
           .annotate(n=Count("pk"), in_time=Count("pk", filter=Q(resolved_on__lte=F("due_on")))))
    days: dict = {}
    for unit_id, received_on, resolved_on in grievances.filter(
            resolved_on__gte=first, resolved_on__lt=end, received_on__isnull=False).values_list(
            "unit_id", "received_on", "resolved_on").iterator(chunk_size=5000):
        total, count = days.get((unit_id, month_start(resolved_on)), (0, 0))
        days[(unit_id, month_start(resolved_on))] = (total + (resolved_on - received_on).days, count + 1)
    return {
        "grievance-rate": {(unit_id, _as_date(month)): (n, None) for unit_id, month, n in received},
        "grievance-resolved-in-time": {(unit_id, _as_date(month)): (in_time, n) for unit_id, month, n, in_time in due},
        "grievance-days-to-resolution": days,
    }


def _as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


@audit.changes_by_user
def feed_grievance_measures(user, first: date, last: date, unit=None) -> dict:
    """Enter the grievance measures' counts for the months from `first` to `last` (each unit of the
    user's scope with grievances), on the authority of patient relations. The rate's denominator
    is the unit's inpatient days from the inpatient-days measure's results; a unit and month
    without them is left out and named. Returns {"counts": n, "problems": [text]}."""
    permissions.check(user, "voice.manage_grievances")
    scope = permissions.scope_for(user, "voice.manage_grievances", unit=unit)
    first, last = month_start(first), month_start(min(last, timezone.localdate()))
    library = measures.measures_by_keys([*GRIEVANCE_MEASURES, "inpatient-days"])
    missing = [key for key in GRIEVANCE_MEASURES if key not in library]
    if missing:
        return {"counts": 0, "problems": [f"The measures library has no {key} measure: load the content."
                                          for key in missing]}
    counts = grievance_counts(first, last, scope.units)
    units = {unit.pk: unit for unit in scope.units}
    problems: list[str] = []
    counts["grievance-rate"] = _with_patient_days(counts["grievance-rate"], library.get("inpatient-days"), units,
                                                  first, last, problems)
    stored = 0
    for key in GRIEVANCE_MEASURES:
        rows = [(units[unit_id], month, numerator, denominator)
                for (unit_id, month), (numerator, denominator) in sorted(counts[key].items()) if unit_id in units]
        try:
            with transaction.atomic():
                stored += measures.enter_counts_from(user, library[key], rows, source=MEASURE_SOURCE)
        except ValidationError as refusal:
            problems.extend(f"{library[key].title}: {text}" for text in refusal.messages)
    return {"counts": stored, "problems": problems}


def _with_patient_days(received: dict, census, units: dict, first: date, last: date, problems: list) -> dict:
    patient_days = {}
    if census is not None:
        for row in measures.result_rows(census, units=list(units.values()), kind="month", first=first, last=last):
            if row.unit_id and not row.stratum:
                patient_days[(row.unit_id, row.period_start)] = row.numerator
    # Every unit and month with patient days has a rate (0 when no grievance came), so the chart
    # is not drawn from the bad months alone.
    found = {key: (received.get(key, (0, None))[0], days) for key, days in patient_days.items() if days}
    for key in received.keys() - found.keys():
        if key[0] in units:
            problems.append(f"{units[key[0]].name}, {key[1]:%Y-%m}: no inpatient days in the library, so no rate.")
    return found


# --- the record page's section --------------------------------------------------------------------------

def clock_section(user, grievance: Grievance) -> dict | None:
    if grievance.due_on is None or not permissions.can(user, "voice.view_grievances", grievance):
        return None
    today = timezone.localdate()
    clock = GrievanceClock.objects.filter(grievance=grievance).first()
    left = days_left(grievance, today)
    return {"clock": {
        "grievance": grievance, "clock": clock, "today": today, "days_left": left,
        "overdue_by": -left if left is not None and left < 0 else 0,
        "is_open": grievance.status == GrievanceStatus.OPEN,
        "interim_owed": bool(clock and clock.interim_asked_on and not clock.promised_on
                             and grievance.status == GrievanceStatus.OPEN),
        "may_reopen": grievance.status in (GrievanceStatus.RESOLVED, GrievanceStatus.CLOSED)
        and permissions.can(user, "voice.manage_grievances", grievance),
    }}


def connect() -> None:
    """Registries of this subject, from ready()."""
    from .sweep import register_sweep

    audit.register(GrievanceClock)
    entry = navigation.NavEntry("Grievance dashboard", "voice:grievance_dashboard", "voice.view_grievances",
                                       "speedometer")
    if entry not in navigation.ENTRIES:  # ready() may run twice (tests)
        navigation.add(entry)
    history.register(GrievanceClock, labels={"interim_asked_on": "Interim letter asked for on"})
    platform_services.register_work_provider(clock_work)
    register_sweep("interim letters", ask_for_interim_letters)
    from .grievances import add_grievance_section

    add_grievance_section("The clock", "voice/clock_section.html", clock_section, 10)
