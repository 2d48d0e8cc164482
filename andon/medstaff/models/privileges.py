"""Delineated privileges: the catalogue of each department (core and special privileges with their
criteria and the FPPE plan each starts), a practitioner's request and its dated steps (department
chair → credentials committee → medical executive committee → board), and the privileges granted.
DOMAIN.md §8 and §10."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Unit

__all__ = ["GrantedPrivilege", "GrantStatus", "Privilege", "PrivilegeKind", "PrivilegeRequest", "PrivilegeStep",
           "RequestStage", "StepOutcome"]


class PrivilegeKind(models.TextChoices):
    CORE = "core", "Core"
    SPECIAL = "special", "Special"


class Privilege(Versioned):
    """One privilege of a department's catalogue (a Unit). Retired, never deleted: granted ones
    keep pointing at it."""

    department = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=PrivilegeKind.choices, default=PrivilegeKind.CORE)
    description = models.TextField(max_length=2000, blank=True)
    # The criteria a practitioner must meet to be granted it.
    education = models.TextField(max_length=2000, blank=True)
    training = models.TextField(max_length=2000, blank=True)
    volume = models.TextField("Volume", max_length=2000, blank=True, help_text="Cases a year or in the last two years")
    certification = models.TextField(max_length=2000, blank=True)
    active = models.BooleanField(default=True)
    # The FPPE a grant of it starts, pre-filled: its methods and number of cases or days.
    fppe_methods = models.JSONField("FPPE methods", default=list, blank=True)
    fppe_cases = models.PositiveIntegerField("FPPE cases", null=True, blank=True)
    fppe_days = models.PositiveIntegerField("FPPE days", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["department__name", "kind", "name", "pk"]
        constraints = [models.UniqueConstraint(fields=["department", "name"], name="medstaff_privilege_name_once")]

    @property
    def unit(self):
        return self.department

    @property
    def fppe_method_labels(self) -> list[str]:
        from .fppe import FppeMethod

        return [FppeMethod(m).label for m in self.fppe_methods if m in FppeMethod.values]

    def __str__(self):
        return self.name


class RequestStage(models.TextChoices):
    CHAIR = "chair", "Department chair"
    CREDENTIALS = "credentials", "Credentials committee"
    MEC = "mec", "Medical executive committee"
    BOARD = "board", "Board"
    GRANTED = "granted", "Granted"
    DENIED = "denied", "Denied"


class StepOutcome(models.TextChoices):
    RECOMMEND = "recommend", "Recommended"
    APPROVE = "approve", "Approved"
    DENY = "deny", "Denied"
    DEFER = "defer", "Deferred"


class PrivilegeRequest(Versioned):
    reference = models.CharField(max_length=20, unique=True, help_text="PRQ-2026-004")
    practitioner = models.ForeignKey("medstaff.Practitioner", on_delete=models.PROTECT,
                                     related_name="privilege_requests")
    privileges = models.ManyToManyField(Privilege, related_name="+")
    stage = models.CharField(max_length=12, choices=RequestStage.choices, default=RequestStage.CHAIR)
    note = models.TextField(max_length=4000, blank=True)
    requested_on = models.DateField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-requested_on", "-pk"]

    @property
    def unit(self):
        return self.practitioner.department

    @property
    def is_open(self) -> bool:
        return self.stage not in (RequestStage.GRANTED, RequestStage.DENIED)

    def __str__(self):
        return self.reference


class PrivilegeStep(models.Model):
    """One decision recorded on a request: its step, outcome, the meeting's date, who recorded it."""

    request = models.ForeignKey(PrivilegeRequest, on_delete=models.CASCADE, related_name="steps")
    step = models.CharField(max_length=12, choices=RequestStage.choices[:4])
    outcome = models.CharField(max_length=10, choices=StepOutcome.choices)
    met_on = models.DateField("Meeting date")
    note = models.TextField(max_length=4000, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["met_on", "recorded_at", "pk"]

    @property
    def unit(self):
        return self.request.unit


class GrantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESTRICTED = "restricted", "Restricted"  # by an FPPE's decision: exercised under its conditions
    SUSPENDED = "suspended", "Suspended"
    RELINQUISHED = "relinquished", "Relinquished"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class GrantedPrivilege(Versioned):
    practitioner = models.ForeignKey("medstaff.Practitioner", on_delete=models.PROTECT,
                                     related_name="granted_privileges")
    privilege = models.ForeignKey(Privilege, on_delete=models.PROTECT, related_name="grants")
    request = models.ForeignKey(PrivilegeRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    granted_from = models.DateField()
    granted_until = models.DateField()
    status = models.CharField(max_length=12, choices=GrantStatus.choices, default=GrantStatus.ACTIVE)
    status_reason = models.TextField(max_length=4000, blank=True)
    status_changed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["practitioner__family_name", "privilege__name", "pk"]
        constraints = [models.UniqueConstraint(
            fields=["practitioner", "privilege"], condition=models.Q(status__in=["active", "restricted", "suspended"]),
            name="medstaff_privilege_held_once")]

    @property
    def unit(self):
        return self.practitioner.department

    @property
    def licence_flag(self) -> str:
        """"Licence expired on …" while the practitioner's licence has expired and this privilege
        is still held; else empty."""
        expired = self.practitioner.licence_expired_on
        if expired and self.status in (GrantStatus.ACTIVE, GrantStatus.RESTRICTED):
            return f"Licence expired on {expired:%Y-%m-%d}"
        return ""

    def __str__(self):
        return f"{self.privilege} ({self.practitioner})"
