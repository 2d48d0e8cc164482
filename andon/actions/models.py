"""An action: one corrective or preventive step with one responsible person, a due date, a
strength on the RCA² action hierarchy, a measure, leadership's decision and an effectiveness check.

Change actions only through `andon.actions.services`.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned


class Strength(models.TextChoices):
    """The RCA² action hierarchy (DOMAIN.md §3, from the VA NCPS)."""

    STRONGER = "stronger", "Stronger"
    INTERMEDIATE = "intermediate", "Intermediate"
    WEAKER = "weaker", "Weaker"


STRENGTH_HELP = {
    Strength.STRONGER: "System change, not reliant on memory or vigilance: architectural or physical changes; "
    "new devices with usability testing before purchase; forcing functions and interlocks; simplifying the "
    "process and removing unnecessary steps; standardising equipment or process; tangible leadership involvement.",
    Strength.INTERMEDIATE: "Redundancy; more staffing or less workload; software enhancements; eliminating "
    "distractions; checklists and cognitive aids; eliminating look-alike and sound-alike items; read-back; "
    "enhanced documentation and communication.",
    Strength.WEAKER: "Reliant on memory or vigilance: double checks; warnings and labels; a new procedure, memo "
    "or policy; training; additional study or analysis.",
}


class Status(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (Status.PLANNED, Status.IN_PROGRESS)


class Approval(models.TextChoices):
    PENDING = "pending", "Awaiting decision"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Effectiveness(models.TextChoices):
    NOT_CHECKED = "not_checked", "Not checked yet"
    EFFECTIVE = "effective", "Effective"
    PARTLY_EFFECTIVE = "partly_effective", "Partly effective"
    NOT_EFFECTIVE = "not_effective", "Not effective"


class Action(Versioned):
    """Pages and API bodies carry the `version` they read: a change made on an older one is
    refused (platform/concurrency.py), so two people editing one action cannot overwrite each
    other."""

    title = models.CharField(max_length=200)
    description = models.TextField(max_length=4000, blank=True)
    # What the action came from (an RCA, an audit finding, a risk): any record, or none.
    source_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    source_label = models.CharField(max_length=200, blank=True, help_text="How the source is shown, e.g. “RCA for EV-2026-000123”")
    unit = models.ForeignKey("platform.Unit", on_delete=models.PROTECT, related_name="actions",
                             help_text="Where the action applies; decides who sees and manages it")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_actions",
                              help_text="The one person responsible (not a committee)")
    due_date = models.DateField(help_text="When the action is to be completed")
    reminded_on = models.DateField(null=True, blank=True, editable=False,
                                   help_text="The last morning the owner was reminded of it (actions/reminders.py)")
    strength = models.CharField(max_length=20, choices=Strength.choices)
    measure = models.TextField(max_length=2000, help_text="The measure that will show whether it worked: what is "
                               "measured, how, the expected result and when")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLANNED)
    approval = models.CharField(max_length=20, choices=Approval.choices, default=Approval.PENDING)
    approval_reason = models.TextField(max_length=2000, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="decided_actions", help_text="Who approved or rejected it")
    approved_at = models.DateTimeField(null=True, blank=True)
    effectiveness_check_date = models.DateField(null=True, blank=True)
    effectiveness_result = models.CharField(max_length=20, choices=Effectiveness.choices, default=Effectiveness.NOT_CHECKED)
    effectiveness_note = models.TextField(max_length=2000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_actions")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "pk"]
        indexes = [
            models.Index(fields=["source_type", "source_id"], name="action_source"),
            models.Index(fields=["owner", "status"], name="action_owner_status"),
            models.Index(fields=["status", "due_date"], name="action_status_due"),
        ]

    # A note explaining a change (why an action was cancelled), kept with the change's audit entry.
    audit_note = ""

    def __str__(self):
        return self.title

    def get_additional_data(self):
        """Called by auditlog when it writes an entry for this action."""
        return {"note": self.audit_note} if self.audit_note else None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_overdue(self, today=None) -> bool:
        return self.is_open and self.due_date < (today or timezone.localdate())

    @property
    def strength_help(self) -> str:
        return STRENGTH_HELP.get(self.strength, "")
