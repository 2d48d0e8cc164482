"""The organisation's risk matrix: consequence and likelihood scales with their descriptors, the
bands over their products and each escalation level's tolerance (andon/risk/scoring.py checks
them). Every change is kept as a revision, and re-bands the register (ScoreRecord rows)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Organisation


class RiskMatrix(Versioned):
    organisation = models.OneToOneField(Organisation, on_delete=models.PROTECT, related_name="+")
    config = models.JSONField(help_text="consequences, likelihoods, bands and tolerances (scoring.Matrix)")
    revision = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "risk matrices"

    def __str__(self):
        return f"Risk matrix of {self.organisation} (revision {self.revision})"


class MatrixRevision(models.Model):
    """The matrix as it was from `changed_at`, who changed it and why, and how many risks moved band."""

    matrix = models.ForeignKey(RiskMatrix, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    config = models.JSONField()
    reason = models.TextField(max_length=2000, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    rebanded = models.PositiveIntegerField(default=0, help_text="Risks whose band changed with this revision")

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["matrix", "number"], name="risk_matrix_revision_unique")]
