"""Focused professional practice evaluation (FPPE): a time-limited, data-based evaluation of one
practitioner, started by every newly granted privilege and by a concern (an OPPE outlier, a safety
event, a complaint, a peer review). DOMAIN.md §8."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["Fppe", "FppeCase", "FppeDecision", "FppeDecisionKind", "FppeMethod", "FppeStatus", "FppeTrigger",
           "CaseResult"]


class FppeTrigger(models.TextChoices):
    NEW_PRIVILEGE = "new_privilege", "New privilege"
    OPPE = "oppe", "OPPE outlier"
    SAFETY_EVENT = "safety_event", "Safety event"
    COMPLAINT = "complaint", "Complaint"
    PEER_REVIEW = "peer_review", "Peer review"
    OTHER = "other", "Other concern"


class FppeStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    IN_PROGRESS = "in_progress", "In progress"
    CONCLUDED = "concluded", "Concluded"


class FppeMethod(models.TextChoices):
    CHART_REVIEW = "chart_review", "Chart review"
    PROCTORING = "proctoring", "Proctoring"
    DIRECT_OBSERVATION = "direct_observation", "Direct observation"
    OUTCOME_DATA = "outcome_data", "Outcome data"


class FppeDecisionKind(models.TextChoices):
    CONFIRMED = "confirmed", "Privileges confirmed"
    EXTENDED = "extended", "FPPE extended"
    RESTRICTED = "restricted", "Privileges restricted"
    REVOKED = "revoked", "Privileges revoked"


class CaseResult(models.TextChoices):
    MET = "met", "Met expectations"
    CONCERNS = "concerns", "Concerns"


class Fppe(Versioned):
    reference = models.CharField(max_length=20, unique=True, help_text="FPPE-2026-004: given when it starts")
    practitioner = models.ForeignKey("medstaff.Practitioner", on_delete=models.PROTECT, related_name="fppes")
    trigger = models.CharField(max_length=15, choices=FppeTrigger.choices)
    reason = models.TextField(max_length=4000, help_text="Why it was started, in words")
    # What started it, as people quote it (a privilege's name, PR-2026-004, E-00042, an OPPE
    # indicator and period) and where to read it, for those who may.
    source_reference = models.CharField(max_length=200, blank=True)
    source_url = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=12, choices=FppeStatus.choices, default=FppeStatus.PLANNING)
    started_on = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The privilege whose grant started it (trigger new_privilege): a decision to restrict or
    # revoke changes that grant.
    source_privilege = models.ForeignKey("medstaff.GrantedPrivilege", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="fppes")
    # The plan: one or more methods, a number of cases or a duration (or both), and a proctor.
    methods = models.JSONField(default=list, blank=True)
    cases_required = models.PositiveIntegerField("Number of cases", null=True, blank=True)
    duration_days = models.PositiveIntegerField("Duration (days)", null=True, blank=True)
    # Another practitioner, who records the cases from their own account (rules.py).
    proctor = models.ForeignKey("medstaff.Practitioner", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="proctored_fppes")
    begun_on = models.DateField("Evaluation began", null=True, blank=True)
    concluded_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-started_on", "-pk"]

    @property
    def unit(self):
        """The policy's scope: the practitioner's department."""
        return self.practitioner.department

    def __str__(self):
        return f"{self.reference} {self.practitioner}"


class FppeCase(models.Model):
    """One case evaluated under the plan: its date, where to find it, whether it met expectations."""

    fppe = models.ForeignKey(Fppe, on_delete=models.CASCADE, related_name="cases")
    case_date = models.DateField()
    case_reference = models.CharField(max_length=100, help_text="The encounter, MRN or procedure reviewed")
    result = models.CharField(max_length=10, choices=CaseResult.choices)
    notes = models.TextField(max_length=4000, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case_date", "pk"]

    @property
    def unit(self):
        return self.fppe.unit


class FppeDecision(models.Model):
    """The credentials committee's decision on an FPPE: extended keeps it open, the others end it."""

    fppe = models.ForeignKey(Fppe, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=12, choices=FppeDecisionKind.choices)
    reason = models.TextField(max_length=4000)
    decided_on = models.DateField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["decided_on", "pk"]

    @property
    def unit(self):
        return self.fppe.unit
