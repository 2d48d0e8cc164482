"""Patients' free-text comments from the returned surveys, tagged by theme. Themes are data (the
patient experience lead keeps the list); a comment that describes harm can raise a safety event,
which the comment then points to."""

from django.db import models

__all__ = ["CommentTheme", "SurveyComment"]


class CommentTheme(models.Model):
    key = models.SlugField(max_length=60, unique=True)
    label = models.CharField(max_length=120)
    description = models.CharField(max_length=400, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]

    def __str__(self):
        return self.label


class SurveyComment(models.Model):
    response = models.ForeignKey("voice.SurveyResponse", on_delete=models.PROTECT, related_name="comments")
    unit = models.ForeignKey("platform.Unit", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="The first day of the discharge month (the response's)")
    question = models.CharField(max_length=60, blank=True, help_text="The comment question's key; blank: general")
    text = models.TextField(max_length=8000)
    themes = models.ManyToManyField(CommentTheme, blank=True, related_name="comments")
    # The safety event raised from it (safety.services), shown as a link; the event's side names no comment.
    safety_event = models.ForeignKey("safety.SafetyEvent", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")

    class Meta:
        ordering = ["-month", "-pk"]
        indexes = [models.Index(fields=["unit", "month"], name="voice_comment_unit_month")]
        # The whole organisation's comments by month (the patient experience lead's search); the
        # words' GIN index on PostgreSQL is written in migration 0002_comments (not a model index:
        # SQLite has no GIN).
        indexes += [models.Index(fields=["month"], name="voice_comment_month")]

    def __str__(self):
        return self.text[:60]
