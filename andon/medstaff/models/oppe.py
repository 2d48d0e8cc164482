"""OPPE: a department's profile (its indicators from the measures library, each with its minimum
count and optional target; the evaluation period) and the reviewer's decision on a practitioner's
evaluation (continue, FPPE, other; with a reason and a date). DOMAIN.md §8."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Unit

__all__ = ["OppeDecision", "OppeDecisionKind", "OppeIndicator", "OppeProfile"]


class OppeProfile(Versioned):
    department = models.OneToOneField(Unit, on_delete=models.PROTECT, related_name="+")
    # Months evaluated, ending with the last complete month ⚠︎: six by default; twelve or more is
    # periodic, not ongoing (the Joint Commission's FAQ): the page warns.
    period_months = models.PositiveSmallIntegerField(default=6)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["department__path"]

    @property
    def unit(self):
        return self.department

    def __str__(self):
        return f"OPPE profile of {self.department}"


class OppeIndicator(models.Model):
    profile = models.ForeignKey(OppeProfile, on_delete=models.CASCADE, related_name="indicators")
    position = models.PositiveSmallIntegerField(default=0)
    measure_key = models.CharField(max_length=80, help_text="A measure of the library, by key")
    # Fewer cases than this in the period: "too few cases (n)" ⚠︎; empty: ANDON_OPPE_MIN_CASES.
    minimum_cases = models.PositiveIntegerField(null=True, blank=True)
    target = models.FloatField(null=True, blank=True, help_text="In the measure's unit")

    class Meta:
        ordering = ["profile", "position", "pk"]
        constraints = [models.UniqueConstraint(fields=["profile", "measure_key"], name="medstaff_oppe_indicator_once")]

    @property
    def unit(self):
        return self.profile.department

    def __str__(self):
        return self.measure_key


class OppeDecisionKind(models.TextChoices):
    CONTINUE = "continue", "Continue privileges (no concern)"
    FPPE = "fppe", "Start a focused evaluation (FPPE)"
    OTHER = "other", "Other action"


class OppeDecision(models.Model):
    practitioner = models.ForeignKey("medstaff.Practitioner", on_delete=models.PROTECT, related_name="oppe_decisions")
    period_start = models.DateField()
    period_end = models.DateField()
    decision = models.CharField(max_length=10, choices=OppeDecisionKind.choices)
    reason = models.TextField(max_length=4000)
    decided_on = models.DateField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    fppe = models.ForeignKey("medstaff.Fppe", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-decided_on", "-pk"]

    @property
    def unit(self):
        return self.practitioner.department

    def __str__(self):
        return f"OPPE {self.period_start:%Y-%m}–{self.period_end:%Y-%m} of {self.practitioner}: {self.decision}"
