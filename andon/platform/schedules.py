"""What runs on a schedule the administrator sets in the app (nightly recomputes, the board pack's
draft, the morning reminders): the registry every module adds its tasks to from its `connect()`.

    schedules.register_scheduled_task("governance.draft_board_pack", "Draft the board quality pack",
                                      draft_pack_task, default_spec="0 6 * * *")

`fn(slot)` does the work for the slot (an aware datetime: the moment the run was due) and returns
a small JSON-able dict (what it did), as a job does; it raises `jobs.JobFailed` with the reason
when it could do nothing. The schedule's timing is the administrator's (the `Schedule` table); the
default spec seeds it.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from cronsim import CronSim, CronSimError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from . import audit, jobs, permissions, sweeps, tasks
from .schedule_models import Schedule, ScheduleRun

logger = logging.getLogger(__name__)

MAX_RETRIES = 10


@dataclass(frozen=True)
class ScheduledTask:
    key: str
    label: str
    fn: Callable
    default_spec: str
    retries: int = 0


_TASKS: dict[str, ScheduledTask] = {}
_LISTENERS: dict[str, set[str]] = {}  # event ("fhir_load") -> the keys of the tasks run after it


def register_scheduled_task(key: str, label: str, fn: Callable, *, default_spec: str, retries: int = 0) -> None:
    """A key is registered once (a second `ready()`, as in tests, adds nothing)."""
    _TASKS.setdefault(key, ScheduledTask(key, label, fn, default_spec, retries))


def scheduled_tasks() -> list[ScheduledTask]:
    return list(_TASKS.values())


def listen(event: str, key: str) -> None:
    """Also run the task `key` after each `event` (today "fhir_load"); seeds the schedule's
    `after_fhir_load`, which the administrator may then turn off."""
    _LISTENERS.setdefault(event, set()).add(key)


def task_of(key: str) -> ScheduledTask | None:
    return _TASKS.get(key)


# --- cron specs --------------------------------------------------------------------------------

_SPEC_ERRORS = {
    "Wrong number of fields": "write five fields: minute hour day-of-month month day-of-week",
    "Bad minute": "minute must be 0-59",
    "Bad hour": "hour must be 0-23",
    "Bad day-of-month": "day of month must be 1-31 (or L)",
    "Bad month": "month must be 1-12 or JAN-DEC",
    "Bad day-of-week": "day of week must be 0-7 or SUN-SAT",
}


def check_spec(spec: str) -> str:
    """The spec, stripped, or a ValidationError on `spec` saying what is wrong with it."""
    spec = " ".join((spec or "").split())
    try:
        CronSim(spec, _local(timezone.now()))
    except CronSimError as error:
        reason = _SPEC_ERRORS.get(str(error), str(error) or "not a cron expression")
        raise ValidationError({"spec": f"{spec!r}: {reason}."}) from None
    return spec


def describe(spec: str) -> str:
    """The spec in words ("At 02:00 every day"), or the spec itself if cronsim cannot say it."""
    try:
        return CronSim(spec, _local(timezone.now())).explain()
    except (CronSimError, ValueError):
        return spec


def latest_slot(spec: str, now: datetime) -> datetime:
    """The latest moment at or before `now` that the spec names (cron has minutes, not seconds)."""
    start = _local(now).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return next(CronSim(spec, start, reverse=True))


def next_slots(spec: str, now: datetime, count: int = 1) -> list[datetime]:
    """The next `count` moments after `now` that the spec names."""
    return list(islice(CronSim(spec, _local(now)), count))


def _local(moment: datetime) -> datetime:
    """Read in the organisation's time zone (settings.TIME_ZONE), so "0 2 * * *" is 02:00 there."""
    return timezone.localtime(moment)


# --- the table ---------------------------------------------------------------------------------

def ensure_schedules(now: datetime | None = None) -> None:
    """A Schedule row for every registered task that has none, with its default timing. A new
    schedule has missed nothing: its first run is its next slot."""
    now = now or timezone.now()
    known = set(Schedule.objects.values_list("task_key", flat=True))
    for task in scheduled_tasks():
        if task.key not in known:
            Schedule.objects.get_or_create(task_key=task.key, defaults={
                "spec": task.default_spec, "retries": task.retries, "last_slot": now, "updated_at": now,
                "after_fhir_load": task.key in _LISTENERS.get("fhir_load", ()),
                "next_slot": next_slots(task.default_spec, now)[0]})


def tick(now: datetime | None = None) -> list[ScheduleRun]:
    """Start what is due at `now`: for each enabled schedule, the latest slot at or before `now`
    after the last one run. Slots missed while no worker ran collapse into that one (it runs
    once). Two workers ticking at once start a slot once: see `_claim`."""
    now = now or timezone.now()
    ensure_schedules(now)
    loaded = fhir_loaded_at()
    started = trigger("fhir_load", loaded) if loaded and loaded <= now else []
    for schedule in Schedule.objects.filter(enabled=True, task_key__in=list(_TASKS)):
        slot = latest_slot(schedule.spec, now)
        if schedule.last_slot is None or slot > schedule.last_slot:
            run = _claim(schedule, slot, ScheduleRun.Trigger.CLOCK)
            started += [run] if run else []
        following = next_slots(schedule.spec, now)[0]
        if schedule.next_slot != following:
            Schedule.objects.filter(pk=schedule.pk).update(next_slot=following)
    return started


def trigger(event: str, at: datetime | None = None) -> list[ScheduleRun]:
    """Start the enabled tasks that run after `event` ("fhir_load") that happened `at` (default
    now), once per schedule and event: a second call for the same moment starts nothing."""
    if event != "fhir_load":
        raise ValueError(f"Unknown event {event!r}")
    at = (at or timezone.now()).replace(microsecond=0)
    ensure_schedules(at)
    # A load from before the schedule was set (created or last saved) is not followed.
    due = Schedule.objects.filter(enabled=True, after_fhir_load=True, task_key__in=list(_TASKS), updated_at__lte=at)
    return [run for schedule in due
            if not schedule.runs.filter(trigger=ScheduleRun.Trigger.EVENT, slot__gte=at).exists()
            and (run := _claim(schedule, at, ScheduleRun.Trigger.EVENT))]


def fhir_loaded_at() -> datetime | None:
    """When `andon fhir load` last finished (the marker it writes beside the store), or None.
    On Spark (ANDON_ANALYTICS_ENGINE=spark), when the Spark store's newest version was begun:
    it is read only once complete."""
    from andon.analytics.fhir.ingest import loaded_marker

    if settings.ANDON_ANALYTICS_ENGINE.strip().lower() == "spark":
        return _spark_store_loaded_at()
    try:
        return datetime.fromisoformat(loaded_marker(settings.ANDON_FHIR_STORE).read_text().strip())
    except (OSError, ValueError):
        return None


def _spark_store_loaded_at() -> datetime | None:
    """The Spark store's newest version's time; None (no load to run after) when the store or
    Spark cannot be read, which the computation itself then reports."""
    from andon.analytics.spark import session
    from andon.analytics.spark import store as spark_store

    if not settings.ANDON_SPARK_STORE:
        return None
    try:
        return spark_store.completed_at(session.spark(), settings.ANDON_SPARK_STORE)
    except session.EngineError:
        return None


def _claim(schedule: Schedule, slot: datetime, trigger: str, user=None) -> ScheduleRun | None:
    """Claim the slot and start its job in one transaction. The unique (schedule, slot) makes a
    second worker's claim of the same slot an IntegrityError (on PostgreSQL it waits for the
    first to commit): it is not this worker's, and nothing of it is kept. None then."""
    task = _TASKS[schedule.task_key]
    try:
        with transaction.atomic():
            run = ScheduleRun.objects.create(schedule=schedule, slot=slot, trigger=trigger)
            title = f"{task.label} ({timezone.localtime(slot):%Y-%m-%d %H:%M}, {run.get_trigger_display().lower()})"
            run.job = jobs.queue_job(tasks.run_scheduled_task, title[:200], user, task.key, slot.isoformat(),
                                     max_attempts=1 + schedule.retries)
            run.save(update_fields=["job"])
            if trigger == ScheduleRun.Trigger.CLOCK:
                earlier = Q(last_slot=None) | Q(last_slot__lt=slot)
                Schedule.objects.filter(earlier, pk=schedule.pk).update(last_slot=slot)
    except IntegrityError:
        logger.info("Slot %s of %s was claimed by another worker", slot, schedule.task_key)
        return None
    return run


def run_scheduled(key: str, slot: datetime) -> dict:
    """What the slot's job does (platform.tasks.run_scheduled_task): the task's fn(slot)."""
    task = _TASKS.get(key)
    if task is None:
        raise jobs.JobFailed(f"No scheduled task {key!r} is registered any more; nothing was done.")
    return task.fn(slot) or {}


def keep_ticking(stop: threading.Event) -> None:
    """Run in a thread beside a worker (`andon worker`): tick every ANDON_SCHEDULE_TICK_SECONDS."""
    every = max(0.2, settings.ANDON_SCHEDULE_TICK_SECONDS)
    try:
        while True:
            try:
                tick()
            except DatabaseError as error:
                logger.warning("Could not start the scheduled tasks (%s); trying again", error)
                connection.close()
            except Exception:  # noqa: BLE001 - the thread must outlive one bad tick; logged in full
                logger.exception("The scheduled tasks' tick failed; trying again")
            if stop.wait(every):
                return
    finally:
        connection.close()


# --- the administrator's services --------------------------------------------------------------

def schedules_for(user) -> list[Schedule]:
    permissions.check(user, "platform.manage_schedules")
    ensure_schedules()
    rows = list(Schedule.objects.filter(task_key__in=list(_TASKS)).select_related("updated_by"))
    latest = {}
    for run in ScheduleRun.objects.filter(schedule__in=rows).select_related("job").order_by("schedule", "-created_at"):
        latest.setdefault(run.schedule_id, run)
    for schedule in rows:
        schedule.task = _TASKS[schedule.task_key]
        schedule.latest_run = latest.get(schedule.pk)
        schedule.in_words = describe(schedule.spec)
    return rows


def schedule_for(user, pk: int) -> Schedule:
    permissions.check(user, "platform.manage_schedules")
    schedule = _get(pk)
    schedule.task = _TASKS[schedule.task_key]
    schedule.in_words = describe(schedule.spec)
    schedule.upcoming = next_slots(schedule.spec, timezone.now(), 3)
    schedule.recent_runs = list(schedule.runs.select_related("job")[:10])
    return schedule


def _get(pk: int, lock: bool = False) -> Schedule:
    rows = Schedule.objects.select_for_update() if lock else Schedule.objects
    schedule = rows.filter(pk=pk, task_key__in=list(_TASKS)).first()
    if schedule is None:
        raise permissions.Missing("There is no such schedule.")
    return schedule


@audit.changes_by_user
def update_schedule(user, pk: int, *, spec: str, enabled: bool, retries: int, after_fhir_load: bool) -> Schedule:
    """The administrator's timing of a task. A changed spec runs from its next slot on: slots
    of the new spec before now are not "missed"."""
    permissions.check(user, "platform.manage_schedules")
    spec = check_spec(spec)
    if not 0 <= retries <= MAX_RETRIES:
        raise ValidationError({"retries": f"Retries must be a whole number from 0 to {MAX_RETRIES}."})
    now = timezone.now()
    with transaction.atomic():
        schedule = _get(pk, lock=True)
        if spec != schedule.spec or (enabled and not schedule.enabled):
            schedule.last_slot = now  # nothing before the change (or while it was off) is owed
        schedule.spec, schedule.enabled, schedule.retries = spec, enabled, retries
        schedule.after_fhir_load, schedule.updated_by, schedule.updated_at = after_fhir_load, user, now
        schedule.next_slot = next_slots(spec, now)[0]
        schedule.save()
    return schedule


@audit.changes_by_user
def run_now(user, pk: int) -> ScheduleRun:
    """Start the task at once (a manual slot: now), as the administrator who asked."""
    permissions.check(user, "platform.manage_schedules")
    schedule = _get(pk)
    run = _claim(schedule, timezone.now(), ScheduleRun.Trigger.MANUAL, user)
    if run is None:
        raise ValidationError("The task was started a moment ago; see its job.")
    return run


# --- the platform's own scheduled task ---------------------------------------------------------

REMINDERS = "platform.morning_reminders"


def morning_reminders(slot: datetime) -> dict:
    """Every module's daily sweeps for the slot's day (what `andon <module> sweep` did from
    cron). A module whose sweeps fail does not stop the others; the run fails if all did."""
    today = timezone.localtime(slot).date()
    done, problems = {}, []
    for module in sweeps.sweep_modules():
        try:
            done[module] = sweeps.run_sweeps(module, today)
        except Exception as error:  # noqa: BLE001 - one module's fault is reported, the rest go on
            logger.exception("The %s sweeps of %s failed", module, today)
            problems.append(f"{module}: {type(error).__name__}: {error}")
    if problems and not done:
        raise jobs.JobFailed(f"No module's sweeps ran for {today}. {'; '.join(problems)}")
    return {"day": today.isoformat(), "sweeps": done, "problems": problems}


def connect() -> None:
    register_scheduled_task(REMINDERS, "Morning reminders (every module's daily sweeps)", morning_reminders,
                            default_spec="0 7 * * *", retries=1)
