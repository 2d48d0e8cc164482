"""Peer review cases: a practitioner's care in one case, referred from a safety event, from a
trigger rule over the clinical data or by hand, reviewed by peers and decided by the peer review
committee. Confidential under the state peer-review statutes, apart from patient safety work
product and from HR (DOMAIN.md §9, §10): nothing here is linked from the safety module's side."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["PeerReviewCase", "PeerReviewSource", "PeerReviewStatus"]


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
