"""Assessments: a scope (the whole organisation, a facility or units) judged against a framework
version or a chosen part of it. Each requirement is an item with an owner, a working status kept
apart from its result, a rationale and a reviewer's sign-off. Findings come from items not met or
partly met (and from tracers) and open actions in the shared tracker."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Facility, Organisation, Unit

from .frameworks import FrameworkVersion, Requirement


class AssessmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Assessment(Versioned):
    title = models.CharField(max_length=200)
    version_assessed = models.ForeignKey(FrameworkVersion, on_delete=models.PROTECT, related_name="assessments")
    # The scope: one of organisation, facility, unit (the unit with its children).
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.OPEN)
    due_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title


class WorkingStatus(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    IN_REVIEW = "in_review", "In review"
    DONE = "done", "Done"


class Result(models.TextChoices):
    NOT_ASSESSED = "", "Not assessed"
    MET = "met", "Met"
    PARTLY_MET = "partly_met", "Partly met"
    NOT_MET = "not_met", "Not met"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class AssessmentItem(Versioned):
    """One requirement of the assessment, for the whole scope or for one unit of it."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="items")
    requirement = models.ForeignKey(Requirement, on_delete=models.PROTECT, related_name="assessment_items")
    # For one unit of the scope; none: for the whole scope. (`unit` below is the permission scope.)
    for_unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    working_status = models.CharField(max_length=12, choices=WorkingStatus.choices, default=WorkingStatus.NOT_STARTED)
    result = models.CharField(max_length=15, choices=Result.choices, default=Result.NOT_ASSESSED, blank=True)
    not_applicable_reason = models.TextField(blank=True)
    rationale = models.TextField(blank=True)
    weight = models.DecimalField(max_digits=6, decimal_places=2, default=1)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["assessment", "requirement__position", "for_unit"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "requirement", "for_unit"], name="compliance_item_once"),
            models.UniqueConstraint(fields=["assessment", "requirement"], condition=models.Q(for_unit=None),
                                    name="compliance_item_once_for_scope"),
        ]

    def __str__(self):
        return f"{self.requirement} ({self.assessment})"

    # The permission scope (permissions.scope_of): the item's unit, else the assessment's scope.
    @property
    def unit(self):
        return self.for_unit or self.assessment.unit

    @property
    def facility(self):
        return self.assessment.facility

    @property
    def organisation(self):
        return self.assessment.organisation


class ReadinessSnapshot(models.Model):
    """Readiness as it stood on a day, kept so each assessment has a trend."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="snapshots")
    taken_on = models.DateField()
    score = models.DecimalField(max_digits=6, decimal_places=4, help_text="Weighted share met, 0 to 1")
    detail = models.JSONField(default=dict, help_text="By chapter and by unit, and the counts behind them")

    class Meta:
        ordering = ["assessment", "taken_on"]
        constraints = [models.UniqueConstraint(fields=["assessment", "taken_on"], name="compliance_snapshot_daily")]


class FindingRisk(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"
    EXTREME = "extreme", "Extreme"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Finding(Versioned):
    requirement = models.ForeignKey(Requirement, on_delete=models.PROTECT, related_name="findings")
    item = models.ForeignKey(AssessmentItem, null=True, blank=True, on_delete=models.PROTECT, related_name="findings")
    tracer = models.ForeignKey("compliance.Tracer", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="findings")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    risk = models.CharField(max_length=10, choices=FindingRisk.choices)
    status = models.CharField(max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]

    def __str__(self):
        return self.title
