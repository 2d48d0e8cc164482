"""Tracers: mock-survey checklists drawn from requirements, filled on a phone while following a
patient's path or a system (medication management, infection control), with observations, photos
and findings (compliance.Finding with its tracer set)."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Unit

from .frameworks import Requirement


class TracerKind(models.TextChoices):
    PATIENT = "patient", "Individual patient tracer"
    SYSTEM = "system", "System tracer"


class TracerStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class Tracer(Versioned):
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=TracerKind.choices)
    topic = models.CharField(max_length=200, blank=True, help_text="e.g. Medication management")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    surveyor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 help_text="The surveyor for the day who fills it")
    # A patient tracer follows a path, never a named patient: a label the team understands.
    patient_path = models.CharField(max_length=200, blank=True)
    planned_on = models.DateField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=TracerStatus.choices, default=TracerStatus.PLANNED)
    summary = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title


class Answer(models.TextChoices):
    UNANSWERED = "", "Not yet"
    YES = "yes", "Yes, as required"
    NO = "no", "No"
    NOT_APPLICABLE = "na", "Not applicable"


class TracerItem(Versioned):
    tracer = models.ForeignKey(Tracer, on_delete=models.CASCADE, related_name="items")
    requirement = models.ForeignKey(Requirement, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(default=0)
    question = models.CharField(max_length=500)
    answer = models.CharField(max_length=3, choices=Answer.choices, default=Answer.UNANSWERED, blank=True)
    observation = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tracer", "position"]

    def __str__(self):
        return self.question if len(self.question) <= 80 else self.question[:79] + "…"

    @property
    def unit(self):  # the permission scope is the tracer's
        return self.tracer.unit


def tracer_photo_path(instance, filename):
    return f"compliance/tracers/{secrets.token_hex(16)}"


class TracerPhoto(models.Model):
    item = models.ForeignKey(TracerItem, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to=tracer_photo_path)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    # A removed photo is shown to nobody again but kept, row and file, as retired evidence keeps
    # its files: the record of the survey stays whole, and the audit trail says who removed it.
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    def __str__(self):
        return self.name

    @property
    def unit(self):  # the permission scope is the tracer's
        return self.item.tracer.unit
