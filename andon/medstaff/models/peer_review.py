"""Peer review cases: a practitioner's care in one case, referred from a safety event, from a
trigger rule over the clinical data or by hand, reviewed by peers and decided by the peer review
committee. Confidential under the state peer-review statutes, apart from patient safety work
product and from HR (DOMAIN.md §9, §10): nothing here is linked from the safety module's side."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["PeerReview", "PeerReviewAssignment", "PeerReviewCase", "PeerReviewSource", "PeerReviewStatus", "ScaleKind",
           "ScaleLevel", "TriggerMiss"]


class PeerReviewSource(models.TextChoices):
    SAFETY_EVENT = "safety_event", "Safety event"
    TRIGGER = "trigger", "Clinical data trigger"
    MANUAL = "manual", "Referred by hand"


class PeerReviewStatus(models.TextChoices):
    REFERRED = "referred", "Referred"
    ASSIGNED = "assigned", "Assigned"
    REVIEWED = "reviewed", "Reviewed"
    DECIDED = "decided", "Decided"
    CLOSED = "closed", "Closed"  # the feedback letter sent


class PeerReviewCase(Versioned):
    reference = models.CharField(max_length=20, unique=True, help_text="PR-2026-004: given when it is referred")
    practitioner = models.ForeignKey("medstaff.Practitioner", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=12, choices=PeerReviewSource.choices)
    # The safety event it came from: the event shows only that a review was referred (and when),
    # never anything of the review (related_name "+": no way back from the event).
    safety_event = models.ForeignKey("safety.SafetyEvent", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    trigger_rule = models.CharField(max_length=60, blank=True, help_text="The key of the rule that found it")
    encounter_id = models.CharField(max_length=64, blank=True, help_text="The FHIR Encounter reviewed")
    patient_id = models.CharField(max_length=64, blank=True, help_text="The FHIR Patient of the case")
    occurred_on = models.DateField(null=True, blank=True)
    summary = models.TextField(max_length=4000, help_text="Why the case is referred: the facts, not a judgement")
    status = models.CharField(max_length=10, choices=PeerReviewStatus.choices, default=PeerReviewStatus.REFERRED)
    # The committee's decision: a level of the scale (ScaleLevel.code) for the practitioner's care.
    outcome = models.CharField(max_length=20, blank=True)
    decided_on = models.DateField(null=True, blank=True)
    # The committee's words to the practitioner (the feedback letter), and what it started.
    committee_note = models.TextField(max_length=4000, blank=True)
    system_level = models.CharField(max_length=20, blank=True, help_text="The committee's level for the system")
    action_id = models.IntegerField(null=True, blank=True, help_text="The shared tracker's action for system issues")
    fppe_reference = models.CharField(max_length=20, blank=True)
    letter_sent_on = models.DateField(null=True, blank=True)
    referred_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    referred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-referred_at", "-pk"]
        constraints = [
            # A trigger finds a case once: the daily sweep may run again without referring it twice.
            models.UniqueConstraint(fields=["trigger_rule", "encounter_id", "practitioner"],
                                    condition=~models.Q(trigger_rule=""), name="medstaff_peer_review_trigger_once"),
        ]

    @property
    def unit(self):
        """The policy's scope: the practitioner's department."""
        return self.practitioner.department

    def __str__(self):
        return self.reference


class ScaleKind(models.TextChoices):
    CARE = "care", "The practitioner's care"
    SYSTEM = "system", "The system's contribution"


class ScaleLevel(models.Model):
    """One level of the peer review scale of an organisation (DOMAIN.md §10 ⚠︎: scales differ
    between hospitals, so the levels are data, edited by the medical staff office). The care of
    the practitioner and the system's contribution are scored apart, each on its own levels."""

    organisation = models.ForeignKey("platform.Organisation", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=6, choices=ScaleKind.choices)
    code = models.CharField(max_length=20, help_text="What the case records: 1, 2, 3…")
    label = models.CharField(max_length=200)
    description = models.TextField(max_length=2000, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "position", "code"]
        constraints = [models.UniqueConstraint(fields=["organisation", "kind", "code"],
                                               name="medstaff_scale_code_once")]

    def __str__(self):
        return f"{self.code}: {self.label}"


class PeerReviewAssignment(models.Model):
    """A reviewer asked to review a case. A reviewer who declares a conflict of interest keeps
    the row (who declared it, when, why) and loses the case."""

    case = models.ForeignKey(PeerReviewCase, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    conflict_declared_at = models.DateTimeField(null=True, blank=True)
    conflict_note = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["assigned_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["case", "reviewer"], name="medstaff_peer_reviewer_once")]

    @property
    def unit(self):
        return self.case.practitioner.department


class PeerReview(models.Model):
    """A reviewer's structured review of a case: the care and the system's contribution scored
    apart, documentation and communication issues, a narrative."""

    assignment = models.OneToOneField(PeerReviewAssignment, on_delete=models.CASCADE, related_name="review")
    care_level = models.CharField(max_length=20, help_text="A care level's code")
    system_level = models.CharField(max_length=20, help_text="A system level's code")
    documentation_issue = models.BooleanField(default=False)
    documentation_note = models.TextField(max_length=2000, blank=True)
    communication_issue = models.BooleanField(default=False)
    communication_note = models.TextField(max_length=2000, blank=True)
    narrative = models.TextField(max_length=8000)
    submitted_at = models.DateTimeField(default=timezone.now)

    @property
    def unit(self):
        return self.assignment.case.practitioner.department


class TriggerMiss(models.Model):
    """A case a trigger rule found whose practitioner matches no Practitioner record: kept for
    the office to link the practitioner (and refer the case by hand), not lost."""

    trigger_rule = models.CharField(max_length=60)
    encounter_id = models.CharField(max_length=64)
    patient_id = models.CharField(max_length=64, blank=True)
    practitioner_reference = models.CharField(max_length=200)
    occurred_on = models.DateField(null=True, blank=True)
    found_on = models.DateField()

    class Meta:
        ordering = ["-found_on", "trigger_rule", "encounter_id"]
        constraints = [models.UniqueConstraint(fields=["trigger_rule", "encounter_id", "practitioner_reference"],
                                               name="medstaff_trigger_miss_once")]
