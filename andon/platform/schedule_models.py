"""What runs on a schedule (platform.schedules): the administrator's timing of each registered
task, and one row per slot claimed, whose uniqueness makes two workers run a slot once."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Schedule(models.Model):
    """The timing of one registered scheduled task (`task_key`), set by the administrator. The
    spec is a cron expression read in the organisation's time zone (settings.TIME_ZONE)."""

    task_key = models.CharField(max_length=100, unique=True)
    spec = models.CharField(max_length=100, help_text="minute hour day-of-month month day-of-week")
    after_fhir_load = models.BooleanField(default=False, help_text="Also run after each FHIR load")
    enabled = models.BooleanField(default=True)
    retries = models.PositiveSmallIntegerField(default=0, help_text="Attempts after a failed one")
    # The latest clock slot run (or given up as missed); the next one, for the page.
    last_slot = models.DateTimeField(null=True, blank=True)
    next_slot = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["task_key"]

    def __str__(self):
        return f"{self.task_key} ({self.spec})"


class ScheduleRun(models.Model):
    """A slot of a schedule that a worker claimed and started as a job. The unique (schedule,
    slot) is the claim: a second worker's insert of the same slot fails and it moves on."""

    class Trigger(models.TextChoices):
        CLOCK = "clock", "On schedule"
        EVENT = "event", "After a FHIR load"
        MANUAL = "manual", "Run now"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    slot = models.DateTimeField()
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.CLOCK)
    job = models.ForeignKey("platform.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-slot"]
        constraints = [models.UniqueConstraint(fields=["schedule", "slot"], name="schedule_run_once_per_slot")]

    def __str__(self):
        return f"{self.schedule.task_key} at {self.slot:%Y-%m-%d %H:%M}"
