"""Proactive risk assessments of a process: the FMEA (severity × occurrence × detection, the RPN
or the AIAG-VDA Action Priority) and the VA's HFMEA (hazard score and decision tree), with the
process drawn as numbered steps and sub-steps, failure modes per step and causes per failure
mode. Each scoring of a cause is kept, so the RPN before and after the actions shows."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Facility, Organisation, Unit


class FmeaSettings(Versioned):
    """An organisation's FMEA configuration: thresholds, the words of each scale, and its Action
    Priority table (empty until filled from its licensed AIAG-VDA handbook; RPN is the default)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.PROTECT, related_name="+")
    rpn_threshold = models.PositiveSmallIntegerField(null=True, blank=True, default=100)
    severity_threshold = models.PositiveSmallIntegerField(null=True, blank=True, default=9)
    scales = models.JSONField(default=dict, blank=True,
                              help_text="severity, occurrence, detection: ten descriptions each, 1 first")
    action_priority = models.JSONField(default=list, blank=True, help_text="scoring.PriorityRule rows")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "FMEA settings"


class Method(models.TextChoices):
    FMEA = "fmea", "FMEA"
    HFMEA = "hfmea", "HFMEA (VA)"


class PriorityMethod(models.TextChoices):
    RPN = "rpn", "Risk priority number"
    ACTION_PRIORITY = "ap", "Action Priority (AIAG-VDA)"


class AssessmentStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    ANALYSING = "analysing", "Analysing"
    ACTING = "acting", "Acting"
    COMPLETED = "completed", "Completed"


class Assessment(Versioned):
    reference = models.CharField(max_length=20, unique=True, help_text="FMEA-2026-003: given when it is started")
    title = models.CharField(max_length=200, help_text="The process studied")
    scope = models.TextField(max_length=4000, blank=True, help_text="Where the process starts and ends; why it was chosen")
    method = models.CharField(max_length=6, choices=Method.choices)
    priority_method = models.CharField(max_length=3, choices=PriorityMethod.choices, default=PriorityMethod.RPN)
    # Thresholds in force for this assessment (copied from the settings when it starts; its leader may change them).
    rpn_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    severity_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.PLANNING)
    year = models.PositiveSmallIntegerField(help_text="The year it counts for in the register of proactive assessments")
    started_on = models.DateField()
    completed_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-year", "reference"]
        indexes = [models.Index(fields=["year", "status"], name="risk_fmea_by_year")]

    def __str__(self):
        return f"{self.reference} {self.title}"


class ProcessStep(models.Model):
    """A numbered step of the process, or a sub-step (parent set): "3" and "3.2" for an FMEA,
    "3" and "3b" for an HFMEA."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="steps")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="substeps")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=300)

    class Meta:
        ordering = ["assessment", "parent_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "parent", "position"], name="risk_step_position_unique"),
        ]

    def __str__(self):
        return self.text


class FailureMode(models.Model):
    step = models.ForeignKey(ProcessStep, on_delete=models.CASCADE, related_name="failure_modes")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=500, help_text="How the step could fail")
    effect = models.TextField(max_length=2000, blank=True, help_text="What the failure would lead to")

    class Meta:
        ordering = ["step", "position"]

    def __str__(self):
        return self.description


class FailureCause(Versioned):
    """A cause of a failure mode with its scores as they now stand (the latest CauseScoring)."""

    mode = models.ForeignKey(FailureMode, on_delete=models.CASCADE, related_name="causes")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=500)
    current_controls = models.TextField(max_length=2000, blank=True)
    # FMEA
    severity = models.PositiveSmallIntegerField(null=True, blank=True)
    occurrence = models.PositiveSmallIntegerField(null=True, blank=True)
    detection = models.PositiveSmallIntegerField(null=True, blank=True)
    rpn = models.PositiveSmallIntegerField(null=True, blank=True)
    priority = models.CharField(max_length=1, blank=True, help_text="Action Priority H, M or L")
    # HFMEA
    hazard_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    hazard_probability = models.PositiveSmallIntegerField(null=True, blank=True)
    hazard_score = models.PositiveSmallIntegerField(null=True, blank=True)
    single_point_weakness = models.BooleanField(null=True, blank=True)
    effective_control = models.BooleanField(null=True, blank=True)
    obvious = models.BooleanField(null=True, blank=True)
    # As long as an action's measure may be (actions.services.TEXT_MAX), kept whole.
    outcome_measure = models.TextField(max_length=2000, blank=True,
                                       help_text="HFMEA: how the action's effect is measured")
    # Both: whether the row is acted on, and why in words ("RPN 120 ≥ 100"; "Proceed: …"), whole: the
    # words of a decision tree's every question run past 300 characters.
    act = models.BooleanField(null=True, blank=True)
    act_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["mode", "position"]
        indexes = [models.Index(fields=["act"], name="risk_cause_act")]

    def __str__(self):
        return self.description


class ScoringStage(models.TextChoices):
    INITIAL = "initial", "Before actions"
    AFTER_ACTIONS = "after", "After actions"
    REVISED = "revised", "Revised"


class CauseScoring(models.Model):
    """One scoring of a cause: the trail from which "RPN before → after" is read."""

    cause = models.ForeignKey(FailureCause, on_delete=models.CASCADE, related_name="scorings")
    stage = models.CharField(max_length=8, choices=ScoringStage.choices)
    severity = models.PositiveSmallIntegerField(null=True, blank=True)
    occurrence = models.PositiveSmallIntegerField(null=True, blank=True)
    detection = models.PositiveSmallIntegerField(null=True, blank=True)
    rpn = models.PositiveSmallIntegerField(null=True, blank=True)
    priority = models.CharField(max_length=1, blank=True)
    hazard_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    hazard_probability = models.PositiveSmallIntegerField(null=True, blank=True)
    hazard_score = models.PositiveSmallIntegerField(null=True, blank=True)
    decision = models.JSONField(default=list, blank=True, help_text="HFMEA: [question, answer] pairs in order")
    act = models.BooleanField()
    act_reason = models.TextField(blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["cause", "at", "pk"]
