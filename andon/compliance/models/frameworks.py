"""Frameworks as data: a framework, its versions, their requirements (a tree of any depth) and
mappings between two frameworks' requirements.

A requirement's URN is stable across versions: assessments, evidence and policies point at a
requirement of one version, and a new version is compared with the old one by URN (what was
added, removed or changed). Mappings are between URNs, so they hold for every version.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class FrameworkKind(models.TextChoices):
    REGULATION = "regulation", "Regulation"
    ACCREDITATION = "accreditation", "Accreditation standards"
    INTERNAL = "internal", "Organisation's own standards"


class Framework(models.Model):
    urn = models.CharField(max_length=200, unique=True, help_text="Stable name, e.g. urn:andon:framework:cms-cop-482")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=FrameworkKind.choices)
    publisher = models.CharField(max_length=200, blank=True)
    source_url = models.URLField(max_length=500, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def current(self) -> "FrameworkVersion | None":
        return self.versions.filter(is_current=True).first()


class FrameworkVersion(models.Model):
    """One loaded version of a framework. Loading a new version makes it current and keeps the
    old one (and every assessment made against it)."""

    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=50, help_text="As the publisher names it, e.g. 2024-10-01")
    effective_on = models.DateField(null=True, blank=True)
    is_current = models.BooleanField(default=False)
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_name = models.CharField(max_length=300, blank=True, help_text="The file it was loaded from")
    sha256 = models.CharField(max_length=64, blank=True)
    loaded_at = models.DateTimeField(default=timezone.now)
    loaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")

    class Meta:
        ordering = ["framework", "-loaded_at"]
        constraints = [models.UniqueConstraint(fields=["framework", "version"], name="compliance_one_version_name")]

    def __str__(self):
        return f"{self.framework.name} ({self.version})"


class Change(models.TextChoices):
    """How a requirement differs from the same URN in the previous version."""

    NEW = "new", "New"
    CHANGED = "changed", "Changed"
    UNCHANGED = "unchanged", "Unchanged"


class Requirement(models.Model):
    """A node of a framework version's tree: a chapter (depth 0), a standard, an element of
    performance, to any depth. Only assessable nodes are judged met or not."""

    version = models.ForeignKey(FrameworkVersion, on_delete=models.CASCADE, related_name="requirements")
    urn = models.CharField(max_length=300)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    chapter = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                help_text="The top-level node above it (itself for a chapter)")
    depth = models.PositiveSmallIntegerField(default=0)
    position = models.PositiveIntegerField(default=0, help_text="Order in the framework, depth-first")
    citation = models.CharField(max_length=100, blank=True, help_text="e.g. 42 CFR 482.21(a)")
    title = models.CharField(max_length=300)
    summary = models.TextField(blank=True)
    guidance = models.TextField(blank=True)
    evidence_hints = models.JSONField(default=list, blank=True)
    assessable = models.BooleanField(default=True)
    change = models.CharField(max_length=10, choices=Change.choices, default=Change.NEW)

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "urn"], name="compliance_urn_once_per_version")]
        indexes = [models.Index(fields=["urn"])]

    def __str__(self):
        return f"{self.citation} {self.title}".strip()


class MappingRelation(models.TextChoices):
    EQUAL = "equal", "Equivalent"
    SUBSET = "subset", "Covers part of"
    SUPERSET = "superset", "Covers all of and more"
    INTERSECT = "intersect", "Overlaps"


class RequirementMapping(models.Model):
    """Evidence for `source_urn` shows against `target_urn` (and the reverse for `equal`)."""

    source_urn = models.CharField(max_length=300)
    target_urn = models.CharField(max_length=300)
    relation = models.CharField(max_length=10, choices=MappingRelation.choices, default=MappingRelation.EQUAL)
    note = models.TextField(blank=True)
    source_name = models.CharField(max_length=300, blank=True, help_text="The file it was loaded from")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source_urn", "target_urn"], name="compliance_mapping_once")]
        indexes = [models.Index(fields=["target_urn"])]

    def __str__(self):
        return f"{self.source_urn} → {self.target_urn} ({self.get_relation_display()})"
