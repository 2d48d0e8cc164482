"""Clinical audit against explicit criteria: an audit tool (its criteria, each a standard with
its target, exceptions and guidance), audits that apply it (one cycle each: plan → collect →
analyse → act → re-audit) to a sample of cases drawn at random from a cohort (seed kept) or
entered by hand, and the auditors' answers per case and criterion, a share of cases answered a
second time by another auditor for agreement (Cohen's kappa)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Facility, Organisation, Unit


class AuditTool(Versioned):
    """What is audited and against which standards; many audits (cycles) apply it."""

    reference = models.CharField(max_length=20, unique=True, help_text="AT-007: given when it is made")
    title = models.CharField(max_length=200)
    topic = models.TextField(max_length=2000, blank=True, help_text="Why it is audited; the population it covers")
    standard_source = models.CharField(max_length=300, blank=True,
                                       help_text="Where the standards come from (guideline, policy, regulation)")
    # The library's measure the results flow into (a measure entered by hand or CSV), if any.
    measure = models.ForeignKey("measures.Measure", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return f"{self.reference} {self.title}"


class Criterion(models.Model):
    """One explicit standard: what is expected, the share of cases expected to meet it, the
    exceptions that take a case out of this criterion, and guidance for the auditor."""

    tool = models.ForeignKey(AuditTool, on_delete=models.CASCADE, related_name="criteria")
    number = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=500, help_text="The standard: what is expected of every case")
    target = models.DecimalField(max_digits=5, decimal_places=2, help_text="Expected compliance, 0 to 100 %")
    exceptions = models.TextField(max_length=2000, blank=True,
                                  help_text="Cases these apply to are not applicable for this criterion")
    guidance = models.TextField(max_length=4000, blank=True, help_text="How the auditor decides, where to look")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["tool", "number"]
        constraints = [
            models.UniqueConstraint(fields=["tool", "number"], name="improvement_criterion_number"),
            models.CheckConstraint(condition=models.Q(target__gte=0, target__lte=100),
                                   name="improvement_criterion_target_percent"),
        ]

    def __str__(self):
        return f"{self.number}. {self.text}"


class AuditStage(models.TextChoices):
    """The audit cycle, in order; a re-audit is the next audit of the same tool."""

    PLAN = "plan", "Plan"
    COLLECT = "collect", "Collect"
    ANALYSE = "analyse", "Analyse"
    ACT = "act", "Act"
    CLOSED = "closed", "Closed"


class CohortKind(models.TextChoices):
    VIEW = "view", "A clinical view of the FHIR store"
    ECQM = "ecqm", "An eCQM population"
    LIST = "list", "A list of cases"
    MANUAL = "manual", "Cases entered by hand"


class Audit(Versioned):
    """One round of an audit tool over a period and place: its sample, its answers, its cycle."""

    reference = models.CharField(max_length=20, unique=True, help_text="AUD-2026-012: given when it is planned")
    tool = models.ForeignKey(AuditTool, on_delete=models.PROTECT, related_name="audits")
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="re_audits",
                                 help_text="The audit this one re-audits")
    title = models.CharField(max_length=200)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField(help_text="First day of the care audited")
    period_end = models.DateField(help_text="Last day of the care audited")
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    auditors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    stage = models.CharField(max_length=8, choices=AuditStage.choices, default=AuditStage.PLAN)
    # The cycle's dates, each set when the stage is reached.
    planned_on = models.DateField()
    collect_from = models.DateField(null=True, blank=True)
    analyse_from = models.DateField(null=True, blank=True)
    act_from = models.DateField(null=True, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    re_audit_due = models.DateField(null=True, blank=True)
    # Why the cycle left its usual path (cycle.py): analysed before every sampled case was
    # answered ("analyse with 8 of 10 cases": the count and the lead's reason), or reopened
    # from act back to analyse.
    analysed_cases = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="Cases answered when analysed with part of the sample")
    partial_reason = models.CharField(max_length=1000, blank=True,
                                      help_text="Why the audit was analysed before every sampled case was answered")
    reopen_reason = models.CharField(max_length=1000, blank=True, help_text="Why analysis was reopened from act")
    # When the audit's overall compliance was last sent to its tool's measure (results.py).
    sent_to_measure_at = models.DateTimeField(null=True, blank=True)
    # The sample: its size from stats.sample_size (expected compliance, margin, confidence and the
    # cohort's size for the finite population correction), the cohort it is drawn from and the
    # seed of the draw, so that the same draw can be made again.
    cohort_kind = models.CharField(max_length=8, choices=CohortKind.choices, default=CohortKind.MANUAL)
    cohort_source = models.CharField(max_length=300, blank=True,
                                     help_text="The view or eCQM population the cohort is read from")
    cohort_size = models.PositiveIntegerField(null=True, blank=True, help_text="Cases in the cohort on the day drawn")
    expected = models.DecimalField(max_digits=5, decimal_places=2, default=50,
                                   help_text="Expected compliance (%) for the sample size")
    margin = models.DecimalField(max_digits=5, decimal_places=2, default=10, help_text="± percentage points")
    confidence = models.DecimalField(max_digits=4, decimal_places=1, default=95)
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    # SHA-256 of the cohort's sorted references as drawn: the same draw can be shown to be made
    # again from the same cohort (sampling.check_draw), without keeping every reference of it.
    cohort_digest = models.CharField(max_length=64, blank=True)
    drawn_at = models.DateTimeField(null=True, blank=True)
    drawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    double_share = models.DecimalField(max_digits=5, decimal_places=2, default=10,
                                       help_text="Share of cases (%) audited again by a second auditor")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-planned_on", "reference"]

    def __str__(self):
        return f"{self.reference} {self.title}"


class AuditCase(models.Model):
    """A case of the sample: drawn from the cohort (its place in the draw) or entered by hand."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="cases")
    case_ref = models.CharField(max_length=200, help_text="The encounter or patient reference, or the list's label")
    label = models.CharField(max_length=200, blank=True, help_text="What the auditor sees to find the record")
    position = models.PositiveIntegerField(help_text="Order in the draw (or of entry)")
    drawn = models.BooleanField(default=False, help_text="Drawn at random from the cohort")
    auditor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", help_text="Who audits the case (first round), given at collection")
    second_auditor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+", help_text="Set for the cases audited twice")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["audit", "position"]
        constraints = [models.UniqueConstraint(fields=["audit", "case_ref"], name="improvement_case_once")]

    def __str__(self):
        return self.label or self.case_ref


class Answer(models.TextChoices):
    MET = "met", "Met"
    NOT_MET = "not_met", "Not met"
    NOT_APPLICABLE = "na", "Not applicable"


class AuditRound(models.TextChoices):
    FIRST = "first", "First audit"
    SECOND = "second", "Second audit (agreement)"


class CaseAnswer(models.Model):
    """An auditor's answer for one criterion of one case, in the first audit or the second."""

    case = models.ForeignKey(AuditCase, on_delete=models.CASCADE, related_name="answers")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="+")
    round = models.CharField(max_length=6, choices=AuditRound.choices, default=AuditRound.FIRST)
    answer = models.CharField(max_length=8, choices=Answer.choices)
    note = models.CharField(max_length=1000, blank=True)
    auditor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "criterion", "round"], name="improvement_answer_once")]
