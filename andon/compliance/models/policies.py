"""Policies and procedures under document control: versions that go draft → in review →
approved → published → retired, named approvers, a review date, links to the requirements they
answer, and read-and-sign attestations by roles and units."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Organisation, Unit


class Policy(Versioned):
    """The policy as people know it ("Falls prevention, PC-104"); its text lives in versions."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             help_text="The unit it applies to with its children; none for the organisation")
    code = models.CharField(max_length=40, help_text="The document number, e.g. PC-104")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    review_every_months = models.PositiveSmallIntegerField(default=36)
    next_review_on = models.DateField(null=True, blank=True)
    review_reminded_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # What search reads: the code, title and text of the current version (the published one, else
    # the latest), kept by the services (compliance/search.py indexes it: PostgreSQL's GIN index on
    # its tsvector, SQLite's FTS5 table).
    search_text = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["organisation", "code"], name="compliance_policy_code_once")]
        verbose_name_plural = "policies"

    def __str__(self):
        return f"{self.code} {self.title}"


class PolicyStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


def policy_file_path(instance, filename):
    return f"compliance/policies/{secrets.token_hex(16)}"


class PolicyVersion(Versioned):
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=PolicyStatus.choices, default=PolicyStatus.DRAFT)
    text = models.TextField(blank=True, help_text="The policy's text (plain paragraphs)")
    file = models.FileField(upload_to=policy_file_path, blank=True, help_text="An uploaded original, if any")
    file_name = models.CharField(max_length=200, blank=True)
    change_summary = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    effective_on = models.DateField(null=True, blank=True, help_text="The day the published version takes effect")
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="compliance_policy_version_number"),
            models.UniqueConstraint(fields=["policy"], condition=models.Q(status="published"),
                                    name="compliance_one_published_version"),
        ]

    def __str__(self):
        return f"{self.policy} v{self.number}"

    # The permission scope (permissions.scope_of) is the policy's.
    @property
    def unit(self):
        return self.policy.unit

    @property
    def organisation(self):
        return self.policy.organisation


class Decision(models.TextChoices):
    PENDING = "pending", "Awaiting decision"
    APPROVED = "approved", "Approved"
    RETURNED = "returned", "Returned for changes"


class PolicyApproval(models.Model):
    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["version", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "approver"], name="compliance_approver_once")]


class PolicyRequirement(models.Model):
    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="requirement_links")
    requirement_urn = models.CharField(max_length=300)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["policy", "requirement_urn"], name="compliance_policy_req_once")]
        indexes = [models.Index(fields=["requirement_urn"])]


class AttestationRule(models.Model):
    """Who must read and sign a published version: holders of a role (blank: everyone) in a unit
    and its children (none: the organisation), within so many days of publication."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="attestation_rules")
    role = models.CharField(max_length=40, blank=True)
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    due_in_days = models.PositiveSmallIntegerField(default=30)


class Attestation(models.Model):
    """One person's read-and-sign of one version: due when the version is published, signed once."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="attestations")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             help_text="The unit the person was asked through, for completion by unit")
    due_on = models.DateField()
    signed_at = models.DateTimeField(null=True, blank=True)
    reminded_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "person"], name="compliance_attest_once")]
        indexes = [models.Index(fields=["person", "signed_at"]), models.Index(fields=["version", "signed_at"])]
