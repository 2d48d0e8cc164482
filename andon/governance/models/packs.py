"""The board's monthly quality pack: drafted by a job from the modules' sections (the same cells
the dashboard shows), narratives written, approved by the CQO, published to the board. Every
version is kept whole (its sections' markup and figures, its narratives, its PDF's digest), so a
published pack never changes when the data behind it does, and the next month's shows what
changed."""

from django.conf import settings
from django.db import models

from andon.platform.concurrency import Versioned

__all__ = ["BoardPack", "PackStatus", "PackVersion"]


class PackStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    REPLACED = "replaced", "Replaced by a later version"


class BoardPack(models.Model):
    organisation = models.ForeignKey("platform.Organisation", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="First day of the month the pack reports")

    class Meta:
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["organisation", "month"], name="governance_pack_month")]

    def __str__(self):
        return f"Board quality pack, {self.month:%B %Y}"


class PackVersion(Versioned):
    pack = models.ForeignKey(BoardPack, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=PackStatus.choices, default=PackStatus.DRAFT)
    # [{"key", "title", "html", "figures": {label: value}, "order"}]: the sections as drafted
    sections = models.JSONField(default=list)
    narratives = models.JSONField(default=dict, help_text="section or measure key -> the narrative written for it")
    problems = models.JSONField(default=list, help_text="Sections that could not be made, named")
    drafted_at = models.DateTimeField(auto_now_add=True)
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", help_text="Empty when the schedule drafted it")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    pdf_file = models.CharField(max_length=300, blank=True, help_text="Under ANDON_DATA_DIR/governance/")
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["pack", "-number"]
        constraints = [models.UniqueConstraint(fields=["pack", "number"], name="governance_pack_version_once")]

    def __str__(self):
        return f"{self.pack}, version {self.number}"

    @property
    def organisation(self):
        return self.pack.organisation
