"""The risk register: each risk with its cause → event → effect, owner, place and category, three
scores on the matrix (inherent, current, target), controls with their assurance, its escalation
level and every re-score kept (ScoreRecord), so each risk has a trend."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Facility, Organisation, Unit


class Category(models.TextChoices):
    CLINICAL = "clinical", "Clinical"
    OPERATIONAL = "operational", "Operational"
    FINANCIAL = "financial", "Financial"
    COMPLIANCE = "compliance", "Compliance"
    REPUTATION = "reputation", "Reputation"


class Level(models.TextChoices):
    """Where a risk is managed, lowest first (scoring.LEVELS)."""

    UNIT = "unit", "Unit"
    DEPARTMENT = "department", "Department"
    FACILITY = "facility", "Facility"
    BOARD = "board", "Board assurance framework"


class RiskStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Risk(Versioned):
    reference = models.CharField(max_length=20, unique=True, help_text="R-00042: given when the risk is raised")
    title = models.CharField(max_length=200)
    cause = models.TextField(max_length=2000, help_text="Because of …")
    event = models.TextField(max_length=2000, help_text="… there is a risk that …")
    effect = models.TextField(max_length=2000, help_text="… which would lead to …")
    category = models.CharField(max_length=20, choices=Category.choices)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The place whose register holds it: a unit (and its facility), a facility, or the whole
    # organisation (both empty). The policy reads the scope from these.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    level = models.CharField(max_length=12, choices=Level.choices, default=Level.UNIT)
    status = models.CharField(max_length=8, choices=RiskStatus.choices, default=RiskStatus.OPEN)
    # Scores: consequence × likelihood on the organisation's matrix, with the band in force
    # (kept here so the register filters and sorts by it; re-banded when the matrix changes).
    inherent_consequence = models.PositiveSmallIntegerField()
    inherent_likelihood = models.PositiveSmallIntegerField()
    inherent_score = models.PositiveSmallIntegerField()
    inherent_band = models.CharField(max_length=30)
    current_consequence = models.PositiveSmallIntegerField()
    current_likelihood = models.PositiveSmallIntegerField()
    current_score = models.PositiveSmallIntegerField()
    current_band = models.CharField(max_length=30)
    target_consequence = models.PositiveSmallIntegerField()
    target_likelihood = models.PositiveSmallIntegerField()
    target_score = models.PositiveSmallIntegerField()
    target_band = models.CharField(max_length=30)
    review_on = models.DateField(help_text="Next review")
    review_reminded_on = models.DateField(null=True, blank=True)
    # Set when a key risk indicator shows special cause in the wrong direction (or by hand); a
    # review clears it.
    flagged_reason = models.CharField(max_length=300, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["-current_score", "reference"]
        indexes = [
            models.Index(fields=["status", "level", "-current_score"], name="risk_register_order"),
            # An organisation's register as it opens: its open risks in the page's order, read a
            # page at a time (benchmarks/risk_load.py; 20,000 risks were joined and sorted whole).
            models.Index(fields=["organisation", "status", "-current_score", "reference"], name="risk_register_page"),
            # The heat map's cells and the register's count, read from the index alone (PostgreSQL).
            models.Index(fields=["organisation", "status"], name="risk_heat_map",
                         include=["current_consequence", "current_likelihood", "target_consequence",
                                  "target_likelihood", "unit"]),
            models.Index(fields=["review_on"], name="risk_review_on"),
            models.Index(fields=["owner", "status"], name="risk_owner"),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"


class ScoreReason(models.TextChoices):
    RAISED = "raised", "Raised"
    RESCORED = "rescored", "Re-scored"
    REVIEWED = "reviewed", "Reviewed, scores unchanged"
    REBANDED = "rebanded", "Re-banded (the matrix changed)"
    IMPORTED = "imported", "Imported"


class ScoreRecord(models.Model):
    """The three scores of a risk as they stood from `at`, with the bands then in force: the trend."""

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="scores")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=10, choices=ScoreReason.choices)
    note = models.TextField(max_length=2000, blank=True)
    matrix_revision = models.PositiveIntegerField()
    inherent_consequence = models.PositiveSmallIntegerField()
    inherent_likelihood = models.PositiveSmallIntegerField()
    inherent_score = models.PositiveSmallIntegerField()
    inherent_band = models.CharField(max_length=30)
    current_consequence = models.PositiveSmallIntegerField()
    current_likelihood = models.PositiveSmallIntegerField()
    current_score = models.PositiveSmallIntegerField()
    current_band = models.CharField(max_length=30)
    target_consequence = models.PositiveSmallIntegerField()
    target_likelihood = models.PositiveSmallIntegerField()
    target_score = models.PositiveSmallIntegerField()
    target_band = models.CharField(max_length=30)

    class Meta:
        ordering = ["risk", "at", "pk"]
        indexes = [models.Index(fields=["risk", "at"], name="risk_score_trend")]


class ControlEffect(models.TextChoices):
    EFFECTIVE = "effective", "Effective"
    PARTLY = "partly", "Partly effective"
    INEFFECTIVE = "ineffective", "Ineffective"
    NOT_TESTED = "not_tested", "Not yet tested"


class Assurance(models.TextChoices):
    """The three lines of assurance of a board assurance framework."""

    FIRST = "first", "First line (the service's own management)"
    SECOND = "second", "Second line (oversight: quality, risk, compliance)"
    THIRD = "third", "Third line (independent: internal or external audit)"
    NONE = "none", "No assurance yet"


class Control(Versioned):
    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="controls")
    description = models.TextField(max_length=2000)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    effect = models.CharField(max_length=12, choices=ControlEffect.choices, default=ControlEffect.NOT_TESTED)
    assurance_source = models.CharField(max_length=300, blank=True,
                                        help_text="Where the assurance comes from: an audit, a report, a committee")
    assurance_level = models.CharField(max_length=8, choices=Assurance.choices, default=Assurance.NONE)
    last_tested_on = models.DateField(null=True, blank=True)
    control_gap = models.TextField(max_length=2000, blank=True, help_text="Where the control is missing or does not work")
    assurance_gap = models.TextField(max_length=2000, blank=True, help_text="Where evidence that it works is missing")
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["risk", "pk"]

    def __str__(self):
        return self.description[:80]


class Escalation(models.Model):
    """A move of a risk between levels, up or down, with who and why."""

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="escalations")
    from_level = models.CharField(max_length=12, choices=Level.choices)
    to_level = models.CharField(max_length=12, choices=Level.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(max_length=2000)
    score_then = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["risk", "-at", "-pk"]


class RiskLink(models.Model):
    """A risk's link to a record of another module, named by kind and key: the other module owns
    the record and is asked through its services (whether the user may see it, its title, the
    measure's verdict). Kinds: safety_event, investigation, root_cause, measure, fmea,
    compliance_finding."""

    KINDS = ("safety_event", "investigation", "root_cause", "measure", "fmea", "compliance_finding")

    risk = models.ForeignKey(Risk, on_delete=models.CASCADE, related_name="links")
    kind = models.CharField(max_length=20)
    key = models.CharField(max_length=100, help_text="The record's id, or a measure's key")
    label = models.CharField(max_length=200, blank=True, help_text="What the linker saw, kept for the history")
    # A measure linked as a key risk indicator: its special cause in the wrong direction flags the risk.
    indicator = models.BooleanField(default=False)
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["risk", "kind", "pk"]
        constraints = [models.UniqueConstraint(fields=["risk", "kind", "key"], name="risk_link_unique")]
        indexes = [models.Index(fields=["kind", "key"], name="risk_link_target")]
