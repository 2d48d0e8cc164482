"""Returned patient experience surveys, imported from the vendor's file (one row per survey).

A question set (HCAHPS by default) is content: a versioned document of questions, their answer
codes, which answer is the top box, and the composites (DOMAIN.md §6, §10). A response keeps the
answers as the vendor coded them (question key -> answer code), so a score is always worked out
from what the patient answered. The vendor's survey id is unique within a question set: a file
imported twice imports nothing twice."""

from django.conf import settings
from django.db import models
from django.utils import timezone

__all__ = ["SurveyImport", "SurveyMapping", "SurveyResponse", "SurveyScoreCell"]


class SurveyMapping(models.Model):
    """A vendor file's columns named as the question set's questions and the survey's fields,
    saved so that next month's file imports with the same mapping."""

    name = models.CharField(max_length=120, unique=True)
    question_set = models.CharField(max_length=60, help_text="The question set's content key (hcahps)")
    # file column -> field ("survey_id", "discharge_date", "unit", "service_line", "comment",
    # a stratum such as "sex", or "q:<question key>")
    columns = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class SurveyImport(models.Model):
    question_set = models.CharField(max_length=60)
    question_set_version = models.CharField(max_length=20)
    mapping = models.ForeignKey(SurveyMapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    filename = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64, db_index=True)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(default=timezone.now)
    rows_read = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_already_imported = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-imported_at", "-pk"]

    def __str__(self):
        return f"{self.filename} ({self.imported_at:%Y-%m-%d})"


class SurveyResponse(models.Model):
    survey_import = models.ForeignKey(SurveyImport, on_delete=models.PROTECT, related_name="responses")
    question_set = models.CharField(max_length=60)
    survey_id = models.CharField(max_length=80, help_text="The vendor's id of the returned survey")
    discharge_date = models.DateField()
    month = models.DateField(help_text="The first day of the discharge month")
    unit = models.ForeignKey("platform.Unit", on_delete=models.PROTECT, related_name="+")
    service_line = models.CharField(max_length=80, blank=True)
    # The equity strata the measures use (kpi.DIMENSIONS), as the vendor coded them; blank: not given.
    age_band = models.CharField(max_length=20, blank=True)
    sex = models.CharField(max_length=40, blank=True)
    race = models.CharField(max_length=80, blank=True)
    ethnicity = models.CharField(max_length=80, blank=True)
    payer = models.CharField(max_length=80, blank=True)
    answers = models.JSONField(default=dict, help_text="question key -> answer code, as the vendor coded it")

    class Meta:
        ordering = ["-discharge_date", "-pk"]
        constraints = [models.UniqueConstraint(fields=["question_set", "survey_id"], name="voice_survey_once")]
        indexes = [models.Index(fields=["question_set", "month", "unit"], name="voice_survey_month_unit")]

    def __str__(self):
        return f"{self.question_set} {self.survey_id}"


class SurveyScoreCell(models.Model):
    """Counts behind the scores, kept up to date in each import's transaction so that the
    dashboard sums a few thousand cells instead of reading millions of responses.

    One cell per question set, discharge month, unit (the response's own: a department's score
    sums the units below it), dimension and its value, and question: `dimension` is "" for the
    unit's whole month, "service_line", or one equity stratum (kpi.DIMENSIONS); dimensions are
    never crossed. `question` "" counts the surveys themselves (`valid` = returned surveys,
    `top` unused), which is the n of a composite."""

    question_set = models.CharField(max_length=60)
    month = models.DateField()
    unit = models.ForeignKey("platform.Unit", on_delete=models.PROTECT, related_name="+")
    dimension = models.CharField(max_length=20, blank=True)
    value = models.CharField(max_length=80, blank=True)
    question = models.CharField(max_length=60, blank=True)
    top = models.PositiveIntegerField(default=0)
    valid = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question_set", "dimension", "month", "unit", "value", "question"],
                                               name="voice_score_cell_once")]

    def __str__(self):
        return f"{self.question_set} {self.month:%Y-%m} {self.dimension}={self.value} {self.question}: {self.top}/{self.valid}"
