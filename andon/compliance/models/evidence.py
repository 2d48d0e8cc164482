"""Evidence: documents (with revisions), links, policies, measures from the measures library and,
later, audit results. Each has an owner and a review or expiry date; one piece serves many
requirements through its links. Links name requirements by URN, so they hold across versions
and show through mappings."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Organisation, Unit


class EvidenceKind(models.TextChoices):
    DOCUMENT = "document", "Document"
    LINK = "link", "Link"
    POLICY = "policy", "Policy"
    MEASURE = "measure", "Measure"
    AUDIT = "audit", "Audit result"


class Evidence(Versioned):
    kind = models.CharField(max_length=10, choices=EvidenceKind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             help_text="Whose evidence it is; none for the whole organisation")
    url = models.URLField(max_length=1000, blank=True)
    policy = models.ForeignKey("compliance.Policy", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="evidence")
    # The measures module owns measures: evidence names one by its key and reads it through
    # andon.measures.services.
    measure_key = models.SlugField(max_length=100, blank=True)
    review_on = models.DateField(null=True, blank=True, help_text="Review or expiry date")
    expiry_notified_on = models.DateField(null=True, blank=True,
                                          help_text="When its owner was last told it had expired")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["review_on"])]

    def __str__(self):
        return self.title


def evidence_path(instance, filename):
    # A random name: the uploaded file's own name is kept in the row, not in the path.
    return f"compliance/evidence/{secrets.token_hex(16)}"


class EvidenceRevision(models.Model):
    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    file = models.FileField(upload_to=evidence_path)
    name = models.CharField(max_length=200, help_text="The uploaded file's name")
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    note = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["evidence", "-number"]
        constraints = [models.UniqueConstraint(fields=["evidence", "number"], name="compliance_revision_number")]


class EvidenceLink(models.Model):
    evidence = models.ForeignKey(Evidence, on_delete=models.CASCADE, related_name="links")
    requirement_urn = models.CharField(max_length=300)
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["evidence", "requirement_urn"], name="compliance_link_once")]
        indexes = [models.Index(fields=["requirement_urn"])]
