"""The measure registry and its results.

- `Measure`: one quality measure as the library defines it (content/measures/*.yaml, loaded
  as versioned content documents): IOM domain, improvement direction, scoring, unit, target,
  owner and source (an eCQM, SQL over the core views, safety events over a denominator, or
  counts entered by hand or CSV). The definition of each version stays in the content store.
- `MeasureResult`: one period × unit × stratum cell, with the definition version and the data
  load it came from. Recomputing replaces a measure's cells for the periods computed.
- `ManualCount`: a numerator and denominator for one unit and month, entered or imported.
- `Annotation`: an action or QI change on a measure's chart, optionally rebasing the limits.
- `UnitMapping`: which EHR location or organisation belongs to which Andon unit.

Change these only through `andon.measures.services`.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Domain(models.TextChoices):
    """The IOM six aims (STEEEP), DOMAIN.md §8."""

    SAFE = "safe", "Safe"
    TIMELY = "timely", "Timely"
    EFFECTIVE = "effective", "Effective"
    EFFICIENT = "efficient", "Efficient"
    EQUITABLE = "equitable", "Equitable"
    PATIENT_CENTRED = "patient_centred", "Patient-centred"


class Improvement(models.TextChoices):
    INCREASE = "increase", "Higher is better"
    DECREASE = "decrease", "Lower is better"
    NEUTRAL = "neutral", "Neither"


class Scoring(models.TextChoices):
    PROPORTION = "proportion", "Proportion"
    RATIO = "ratio", "Ratio"
    RATE = "rate", "Rate per N"
    CONTINUOUS = "continuous", "Continuous"
    COUNT = "count", "Count"


class SourceKind(models.TextChoices):
    ECQM = "ecqm", "CMS eCQM"
    SQL = "sql", "SQL over the clinical views"
    EVENTS = "events", "Safety events"
    MANUAL = "manual", "Entered by hand or CSV"


class Measure(models.Model):
    key = models.SlugField(max_length=100, unique=True)
    version = models.CharField(max_length=40, help_text="The definition version results are computed with")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    domain = models.CharField(max_length=20, choices=Domain.choices)
    improvement = models.CharField(max_length=10, choices=Improvement.choices)
    scoring = models.CharField(max_length=12, choices=Scoring.choices)
    unit_label = models.CharField(max_length=60, help_text="How values read: %, per 1,000 patient days, days")
    multiplier = models.PositiveIntegerField(default=1, help_text="100 for a percentage, 1,000 per 1,000 days")
    target = models.FloatField(null=True, blank=True, help_text="In the unit shown (after the multiplier)")
    owner_role = models.CharField(max_length=120, blank=True, help_text="Who answers for the measure")
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices)
    definition = models.JSONField(help_text="The loaded definition of the current version")
    active = models.BooleanField(default=True)
    loaded_at = models.DateTimeField(default=timezone.now)
    # Why the latest computation could not compute the measure (kept results are older than it):
    # shown on the measure page; cleared when a computation succeeds.
    compute_error = models.TextField(blank=True)
    compute_error_at = models.DateTimeField(null=True, blank=True)
    compute_error_job = models.ForeignKey("platform.Job", null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="+")

    class Meta:
        ordering = ["domain", "title"]

    def __str__(self):
        return self.title

    @property
    def listed(self) -> bool:
        """Census measures (patient days) feed other measures; they are not on the dashboard."""
        return self.definition.get("listed", True)


class ResultStatus(models.TextChoices):
    FINAL = "final", "Final"
    PRELIMINARY = "preliminary", "Preliminary"


class MeasureResult(models.Model):
    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="results")
    definition_version = models.CharField(max_length=40)
    data_load = models.CharField(max_length=200, help_text="The data the cell was computed from")
    period_kind = models.CharField(max_length=10)
    period_start = models.DateField()
    period_end = models.DateField(help_text="First day after the period")
    unit = models.ForeignKey("platform.Unit", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                             help_text="Empty: the whole organisation")
    stratum = models.CharField(max_length=40, blank=True, help_text="age_band, sex, race, …; empty for all cases")
    stratum_value = models.CharField(max_length=200, blank=True)
    cases = models.PositiveIntegerField(default=0)
    numerator = models.FloatField()
    denominator = models.FloatField()
    value = models.FloatField(null=True, blank=True, help_text="In the measure's unit; empty when the denominator is 0")
    computed_at = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey("platform.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["measure", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["measure", "period_kind", "period_start", "unit", "stratum", "stratum_value"],
                                    name="measure_result_cell_unique", nulls_distinct=False),
        ]
        indexes = [models.Index(fields=["measure", "period_kind", "stratum", "unit"], name="measure_result_series")]

    def __str__(self):
        return f"{self.measure.key} {self.period_start} {self.unit_id or 'all'} {self.stratum}={self.stratum_value}"


class ManualCount(models.Model):
    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="manual_counts")
    unit = models.ForeignKey("platform.Unit", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="First day of the month")
    numerator = models.FloatField()
    denominator = models.FloatField()
    source = models.CharField(max_length=200, blank=True, help_text="Entered by hand, or the file it was imported from")
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["measure", "month", "unit"]
        constraints = [models.UniqueConstraint(fields=["measure", "unit", "month"], name="manual_count_unique")]

    def __str__(self):
        return f"{self.measure.key} {self.month:%Y-%m} {self.unit}: {self.numerator:g}/{self.denominator:g}"


class AnnotationKind(models.TextChoices):
    ACTION = "action", "Action taken"
    QI_CHANGE = "qi_change", "QI change (PDSA)"
    NOTE = "note", "Note"


class Annotation(models.Model):
    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="annotations")
    date = models.DateField()
    kind = models.CharField(max_length=12, choices=AnnotationKind.choices, default=AnnotationKind.ACTION)
    text = models.CharField(max_length=500)
    rebase = models.BooleanField(default=False, help_text="Recompute the limits from this date on")
    action = models.ForeignKey("actions.Action", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="The action (CAPA) this marks, whose effect the chart shows")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["measure", "date", "pk"]

    def __str__(self):
        return f"{self.date}: {self.text}"


class UnitMapping(models.Model):
    class Kind(models.TextChoices):
        LOCATION = "location", "Location"
        ORGANIZATION = "organization", "Organization (service provider)"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    external_id = models.CharField(max_length=500, help_text="The Location or Organization id or reference in the EHR data")
    unit = models.ForeignKey("platform.Unit", on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["kind", "external_id"]
        constraints = [models.UniqueConstraint(fields=["kind", "external_id"], name="unit_mapping_unique")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.external_id} → {self.unit}"


class PeerResult(models.Model):
    """A peer hospital's result for one of our measures and one period, from a summary
    MeasureReport they shared, to benchmark against."""

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="peer_results")
    peer = models.CharField(max_length=200, help_text="The reporting organisation, as its report names it")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day of the period, as the report gives it")
    numerator = models.FloatField(null=True, blank=True)
    denominator = models.FloatField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True, help_text="In the measure's unit")
    source = models.CharField(max_length=200, help_text="The file it was imported from")
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["measure", "peer", "period_start"]
        constraints = [models.UniqueConstraint(fields=["measure", "peer", "period_start", "period_end"],
                                               name="peer_result_unique")]

    def __str__(self):
        return f"{self.peer}: {self.measure.key} {self.period_start}–{self.period_end}"
