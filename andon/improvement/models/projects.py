"""QI projects (42 CFR 482.21(d)): a charter with its rationale and a SMART aim on a measure of
the library, a driver diagram (aim → primary drivers → secondary drivers → change ideas) and PDSA
cycles on its change ideas, whose dates sit on the measure's control chart as annotations; and
the organisation's portfolio settings (how many projects a year the governing body asks for, the
unit cost that turns avoided harm into money)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.measures.services import Domain  # the IOM six aims, as the measures library classes them
from andon.platform.concurrency import Versioned
from andon.platform.models import Facility, Organisation, Unit


class ProjectStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    SUSTAINING = "sustaining", "Sustaining"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class Benefit(models.TextChoices):
    """What a project's avoided cost of poor quality is counted in."""

    HARM_EVENTS = "harm_events", "Harm events avoided"
    EXCESS_DAYS = "excess_days", "Excess bed days avoided"


class Project(Versioned):
    reference = models.CharField(max_length=20, unique=True, help_text="QI-2026-004: given when it is chartered")
    title = models.CharField(max_length=200)
    problem = models.TextField(max_length=4000, help_text="What is wrong now, with its numbers")
    # Why this project (CoP 482.21(c)(1)): high-risk, high-volume or problem-prone; one or more.
    high_risk = models.BooleanField(default=False)
    high_volume = models.BooleanField(default=False)
    problem_prone = models.BooleanField(default=False)
    rationale = models.TextField(max_length=4000, blank=True, help_text="Why it was chosen, in words")
    domain = models.CharField(max_length=20, choices=Domain.choices)
    # The SMART aim: a measure of the library, from its baseline to its target by a date.
    measure = models.ForeignKey("measures.Measure", on_delete=models.PROTECT, related_name="+")
    aim = models.CharField(max_length=500, help_text="The aim in words: what, how much, by when, for whom")
    baseline = models.FloatField(help_text="In the measure's unit")
    target = models.FloatField(help_text="In the measure's unit")
    aim_date = models.DateField(help_text="By when the target is to be reached")
    # Where the project sits (the policy's scope) and the units it covers.
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    scope_units = models.ManyToManyField(Unit, blank=True, related_name="+")
    sponsor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    status = models.CharField(max_length=12, choices=ProjectStatus.choices, default=ProjectStatus.PROPOSED)
    year = models.PositiveSmallIntegerField(help_text="The QAPI year the project counts for")
    started_on = models.DateField()
    completed_on = models.DateField(null=True, blank=True)
    # The cost of poor quality it avoids: counted in harm events or excess days, each at the
    # organisation's unit cost (PortfolioSettings) unless the project states its own.
    benefit = models.CharField(max_length=12, choices=Benefit.choices, default=Benefit.HARM_EVENTS)
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True,
                                    help_text="Cost of one harm event or excess day; empty: the organisation's")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-year", "reference"]
        indexes = [models.Index(fields=["year", "status"], name="improvement_project_by_year")]

    def __str__(self):
        return f"{self.reference} {self.title}"


class DriverKind(models.TextChoices):
    PRIMARY = "primary", "Primary driver"
    SECONDARY = "secondary", "Secondary driver"
    CHANGE = "change", "Change idea"


class Driver(models.Model):
    """A node of the driver diagram: a primary driver (under the aim), a secondary driver (under a
    primary) or a change idea (under a secondary driver, or a primary one)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="drivers")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    kind = models.CharField(max_length=10, choices=DriverKind.choices)
    text = models.CharField(max_length=300)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self):
        return self.text


class PdsaDecision(models.TextChoices):
    ADOPT = "adopt", "Adopt"
    ADAPT = "adapt", "Adapt"
    ABANDON = "abandon", "Abandon"


class PdsaStage(models.TextChoices):
    PLAN = "plan", "Plan"
    DO = "do", "Do"
    STUDY = "study", "Study"
    ACT = "act", "Act"


class PdsaCycle(Versioned):
    """One test of a change idea: plan (with a prediction), do, study (what happened against the
    prediction), act (adopt, adapt or abandon). Its start and its decision are annotations on the
    project measure's chart; adopting can rebase the chart's limits at the decision's date."""

    change = models.ForeignKey(Driver, on_delete=models.PROTECT, related_name="cycles")
    number = models.PositiveSmallIntegerField(help_text="1, 2, 3 … within its change idea")
    title = models.CharField(max_length=200)
    stage = models.CharField(max_length=6, choices=PdsaStage.choices, default=PdsaStage.PLAN)
    plan = models.TextField(max_length=4000, help_text="What will be tried, by whom, where, when")
    prediction = models.TextField(max_length=2000, help_text="What we expect to happen, in numbers where we can")
    planned_start = models.DateField()
    planned_end = models.DateField()
    started_on = models.DateField(null=True, blank=True)
    do_notes = models.TextField(max_length=4000, blank=True, help_text="What was done, and what was observed")
    ended_on = models.DateField(null=True, blank=True)
    study = models.TextField(max_length=4000, blank=True, help_text="What happened against the prediction")
    decision = models.CharField(max_length=8, choices=PdsaDecision.choices, blank=True)
    act_notes = models.TextField(max_length=2000, blank=True, help_text="What happens next")
    decided_on = models.DateField(null=True, blank=True)
    rebase = models.BooleanField(default=False, help_text="An adopted change starts new limits on the chart")
    # The annotations this cycle put on the measure's chart (measures module's records).
    start_annotation = models.ForeignKey("measures.Annotation", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+")
    decision_annotation = models.ForeignKey("measures.Annotation", null=True, blank=True,
                                            on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["change", "number"]
        constraints = [models.UniqueConstraint(fields=["change", "number"], name="improvement_pdsa_number")]

    def __str__(self):
        return f"PDSA {self.number}: {self.title}"


class PortfolioSettings(Versioned):
    """What the governing body sets for the organisation's QAPI programme: the unit costs of poor
    quality the portfolio counts in (⚠︎ each organisation's own figures)."""

    organisation = models.OneToOneField(Organisation, on_delete=models.PROTECT, related_name="+")
    cost_per_harm_event = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    cost_per_excess_day = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "portfolio settings"


class ProjectsRequired(models.Model):
    """The number of QI projects a year the governing body asks for (CoP 482.21(d)(2))."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    count = models.PositiveSmallIntegerField()
    decided_by = models.CharField(max_length=200, blank=True, help_text="The body and meeting that set it")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "year"], name="improvement_projects_required")]
