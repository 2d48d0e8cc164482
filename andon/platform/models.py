"""Platform records: the organisation and its units, people and their role grants,
personal access tokens and background jobs."""

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from .roles import Role


class Organisation(models.Model):
    """A health system: the top of the tree."""

    name = models.CharField(max_length=200, unique=True)
    short_name = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Facility(models.Model):
    """A hospital or site of a health system."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="facilities")
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=40, help_text="Short code, unique in the organisation")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "facilities"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="facility_code_unique"),
        ]

    def __str__(self):
        return self.name


class Unit(models.Model):
    """A ward, department or service line; units form a tree inside a facility.

    `path` is a materialised path ("/3/7/12/") kept by `save()`, so that "this unit and all its
    children" is one indexed prefix query on every database.
    """

    class Kind(models.TextChoices):
        SERVICE_LINE = "service_line", "Service line"
        DEPARTMENT = "department", "Department"
        WARD = "ward", "Ward"
        OTHER = "other", "Other"

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="units")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=40, help_text="Short code, unique in the facility")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.WARD)
    active = models.BooleanField(default=True)
    path = models.CharField(max_length=500, editable=False, db_index=True, default="")

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "code"], name="unit_code_unique"),
        ]

    def __str__(self):
        return f"{self.name} ({self.facility.code})"

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def clean(self):
        if self.parent_id is None:
            return
        if self.parent.facility_id != self.facility_id:
            raise ValidationError({"parent": "The parent unit must be in the same facility."})
        if self.pk and (self.parent_id == self.pk or f"/{self.pk}/" in self.parent.path):
            raise ValidationError({"parent": "A unit cannot sit under itself or one of its children."})

    def save(self, *args, **kwargs):
        self.clean()
        with transaction.atomic():
            old_path = self.path
            super().save(*args, **kwargs)
            # The path needs the primary key, so it is written after the insert. It is derived
            # data: written with update() so the audit trail records the parent change, not
            # the bookkeeping.
            self.path = (self.parent.path if self.parent_id else "/") + f"{self.pk}/"
            if self.path != old_path:
                Unit.objects.filter(pk=self.pk).update(path=self.path)
                if old_path:
                    self._move_descendants(old_path)

    def _move_descendants(self, old_path: str):
        for child in Unit.objects.filter(path__startswith=old_path).exclude(pk=self.pk):
            Unit.objects.filter(pk=child.pk).update(path=self.path + child.path[len(old_path):])

    def subtree(self):
        return Unit.objects.filter(path__startswith=self.path)


class User(AbstractUser):
    """A member of staff. `is_demo` accounts sign in only while the demo setting is on."""

    job_title = models.CharField(max_length=120, blank=True)
    is_demo = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["username"]

    def __str__(self):
        return self.get_full_name() or self.username


class RoleGrant(models.Model):
    """A role held over a scope: the whole organisation, one facility, or a unit and its children."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=40, choices=Role.choices)
    # The scope is the narrowest of these that is set; the wider ones are filled in from it.
    organisation = models.ForeignKey(Organisation, blank=True, on_delete=models.PROTECT)
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT)
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, help_text="Includes its children")
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "organisation", "facility", "unit"],
                name="role_grant_unique",
                nulls_distinct=False,
            ),
        ]

    def __str__(self):
        return f"{self.get_role_display()} over {self.scope_label}"

    @property
    def scope_label(self) -> str:
        if self.unit_id:
            return f"{self.unit.name} and its children"
        if self.facility_id:
            return self.facility.name
        return self.organisation.name

    def clean(self):
        if self.unit_id:
            if self.facility_id and self.facility_id != self.unit.facility_id:
                raise ValidationError({"unit": "The unit must belong to the grant's facility."})
            self.facility = self.unit.facility
        if self.facility_id:
            if self.organisation_id and self.organisation_id != self.facility.organisation_id:
                raise ValidationError({"facility": "The facility must belong to the grant's organisation."})
            self.organisation = self.facility.organisation
        if not self.organisation_id:
            raise ValidationError("Choose the scope: an organisation, a facility or a unit.")

    def save(self, *args, **kwargs):
        self.clean()
        super().save(*args, **kwargs)

    def covers(self, unit: Unit) -> bool:
        """Whether this grant's scope contains the unit."""
        if self.unit_id:
            return unit.path.startswith(self.unit.path)
        if self.facility_id:
            return unit.facility_id == self.facility_id
        return unit.facility.organisation_id == self.organisation_id


class RoleSetting(models.Model):
    """Per-role settings an administrator controls: for now, whether two-factor is required."""

    role = models.CharField(max_length=40, choices=Role.choices, unique=True)
    mfa_required = models.BooleanField(default=False)

    def __str__(self):
        return f"{self.get_role_display()}: two-factor {'required' if self.mfa_required else 'optional'}"


def hash_token(raw: str) -> str:
    # Tokens are 256 random bits, so a fast hash cannot be brute-forced; a slow one would
    # only slow every API call.
    return hashlib.sha256(raw.encode()).hexdigest()


class AccessToken(models.Model):
    """A personal access token for integrations. Only its hash is stored."""

    PREFIX = "andon_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise it")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, user: User, name: str, expires_at=None) -> tuple["AccessToken", str]:
        """Create a token; the raw value is returned once and never stored."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, token_hash=hash_token(raw), hint=raw[: len(cls.PREFIX) + 4],
            expires_at=expires_at,
        )
        return token, raw

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Job(models.Model):
    """A background job as people see it: who asked, progress, outcome.

    The task queue's own row (django_tasks_db) holds scheduling; this row holds what the job
    page shows and survives pruning of the queue.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    task_name = models.CharField(max_length=200)
    title = models.CharField(max_length=200)
    task_result_id = models.CharField(max_length=64, blank=True, db_index=True)
    requested_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="jobs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True, help_text="What went wrong, for the requester")
    traceback = models.TextField(blank=True, help_text="Technical detail, for administrators")
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The lease: which worker process runs the job ("host:pid:start"), when it was last heard
    # from, and the attempts made, allowed and lost (platform.jobs gives up on a silent worker).
    worker = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=1)
    lost_attempts = models.JSONField(default=list, blank=True,
                                     help_text="[{attempt, at, reason}] for each attempt whose worker stopped")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.title} ({self.get_status_display()})"

    @property
    def lost(self) -> list[dict]:
        """The attempts whose worker stopped, oldest first, each with its time as a datetime."""
        return [{**entry, "at": datetime.fromisoformat(entry["at"])} for entry in self.lost_attempts]

    @property
    def silent_since(self):
        """When a running job's worker was last heard from, if that is longer ago than the lease."""
        last = self.heartbeat_at or self.started_at
        lease = timedelta(seconds=settings.ANDON_JOB_LEASE_SECONDS)
        if self.status == self.Status.RUNNING and last and last < timezone.now() - lease:
            return last
        return None

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class ContentDocument(models.Model):
    """A versioned content file (a taxonomy, a framework) as loaded by `andon load-content`.

    Modules validate their kind of document and keep it here; records that used a document
    keep its version, so a new version never changes the meaning of old records.
    """

    kind = models.CharField(max_length=40)
    key = models.SlugField(max_length=100)
    version = models.CharField(max_length=40)
    title = models.CharField(max_length=200, blank=True)
    document = models.JSONField()
    loaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "key", "-loaded_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key", "version"], name="content_document_version_unique"),
        ]

    def __str__(self):
        return f"{self.kind}/{self.key} {self.version}"


class Notification(models.Model):
    """A message to one person in the app (and by e-mail when it was sent with one)."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=4000, blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set when the person opens the page it points to (notifications.mark_read).
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self):
        return self.title


class HeldAuditEntry(models.Model):
    """An audit entry about an anonymous act (an anonymous report, a read with its receipt code),
    held until its day is over and then written to the trail in a shuffled batch
    (audit.release_held_entries).

    Written at once, its sequential id would sit between the entries of the named acts just
    before and after it (the reporter reading her own named report a minute earlier). Held, it
    carries no order: a random key, the day only, and `fields` (the trail entry's values: record
    type, id and representation, action, changes, remarks), never an actor or an address.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    day = models.DateField(db_index=True)
    fields = models.JSONField()


class Sequence(models.Model):
    """A named counter for human references (QI-2026-004), taken under a row lock so two records
    made at once never share one: `Sequence.next("QI-2026")`."""

    name = models.CharField(max_length=40, unique=True)
    value = models.PositiveIntegerField(default=0)

    @classmethod
    def next(cls, name: str) -> int:
        cls.objects.get_or_create(name=name)
        counter = cls.objects.select_for_update().get(name=name)
        counter.value += 1
        counter.save(update_fields=["value"])
        return counter.value


from .schedule_models import Schedule, ScheduleRun  # noqa: E402, F401  (the tables of platform.schedules)
