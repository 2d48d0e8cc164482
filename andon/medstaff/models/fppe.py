"""Focused professional practice evaluation (FPPE): a time-limited, data-based evaluation of one
practitioner, started by every newly granted privilege and by a concern (an OPPE outlier, a safety
event, a complaint, a peer review). DOMAIN.md §8."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["Fppe", "FppeStatus", "FppeTrigger"]


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

    class Meta:
        ordering = ["-started_on", "-pk"]

    @property
    def unit(self):
        """The policy's scope: the practitioner's department."""
        return self.practitioner.department

    def __str__(self):
        return f"{self.reference} {self.practitioner}"
