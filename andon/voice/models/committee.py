"""The grievance committee: a grievance escalated by patient relations (with the reason), the
committee's review and decision with its findings; the actions it opens live in the shared
tracker (actions.services, with the escalation's grievance as their source)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["Decision", "Escalation"]


class Decision(models.TextChoices):
    UPHELD = "upheld", "Upheld"
    PARTLY_UPHELD = "partly_upheld", "Partly upheld"
    NOT_UPHELD = "not_upheld", "Not upheld"


class Escalation(Versioned):
    grievance = models.ForeignKey("voice.Grievance", on_delete=models.PROTECT, related_name="escalations")
    reason = models.TextField(max_length=4000)
    escalated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    escalated_at = models.DateTimeField(default=timezone.now)
    review = models.TextField(max_length=8000, blank=True, help_text="What the committee reviewed")
    decision = models.CharField(max_length=14, choices=Decision.choices, blank=True)
    findings = models.TextField(max_length=8000, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["escalated_at", "pk"]
        indexes = [models.Index(fields=["decision", "escalated_at"], name="voice_escalation_queue")]

    @property
    def unit(self):  # the policy's scope: the grievance's
        return self.grievance.unit

    @property
    def organisation(self):
        return self.grievance.organisation

    def __str__(self):
        return f"Escalation of {self.grievance}"
