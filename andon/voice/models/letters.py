"""The grievance's clock and its letters (42 CFR 482.13(a)(2)(iii); DOMAIN.md §8).

`GrievanceClock` keeps what the clock learns beside the grievance (whose model is the intake's):
the day the sweep asked for the interim letter (so it asks once), the date the interim letter
promised, and whether the resolution letter went out within the time frame (for the measure).

A `Letter` is drafted from the record and a template, edited while a draft, approved by a holder
of voice.approve_letters (who and when), then sent (post or e-mail, with the day) or printed. An
approved letter is no longer edited: changing it is a new draft that replaces it."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["GrievanceClock", "Letter", "LetterKind", "LetterStatus", "SendingMethod"]


class GrievanceClock(models.Model):
    grievance = models.OneToOneField("voice.Grievance", on_delete=models.CASCADE, related_name="clock")
    interim_asked_on = models.DateField(null=True, blank=True,
                                        help_text="The day the sweep asked for the interim letter (once per time frame)")
    promised_on = models.DateField(null=True, blank=True,
                                   help_text="The date of the full response the interim letter promised")
    reopened_on = models.DateField(null=True, blank=True, help_text="The last day the grievance was reopened")
    previous_resolved_on = models.DateField(null=True, blank=True, verbose_name="resolved before reopening on")
    reopen_reason = models.TextField(max_length=2000, blank=True, verbose_name="reason for reopening")
    # Set when the resolution letter is sent: its day within the time frame or not (the measure's).
    resolved_in_time = models.BooleanField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["interim_asked_on"], name="voice_clock_asked")]

    def __str__(self):
        return f"Clock of {self.grievance_id}"


class LetterKind(models.TextChoices):
    INTERIM = "interim", "Interim letter (we are still working on it)"
    RESOLUTION = "resolution", "Resolution letter"


class LetterStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    SENT = "sent", "Sent"
    REPLACED = "replaced", "Replaced by a new draft"


class SendingMethod(models.TextChoices):
    POST = "post", "Post"
    EMAIL = "email", "E-mail"
    BY_HAND = "by_hand", "Handed over (printed)"


class Letter(Versioned):
    grievance = models.ForeignKey("voice.Grievance", on_delete=models.PROTECT, related_name="letters")
    kind = models.CharField(max_length=12, choices=LetterKind.choices)
    status = models.CharField(max_length=10, choices=LetterStatus.choices, default=LetterStatus.DRAFT)
    addressee = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=400, blank=True)
    body = models.TextField(max_length=8000, help_text="The letter's words, drafted from the template")
    # The interim letter's promise: the date of the full response.
    promised_on = models.DateField(null=True, blank=True, verbose_name="date of the full response")
    # The four elements of the resolution letter (42 CFR 482.13(a)(2)(iii)).
    contact_person = models.CharField(max_length=300, blank=True, verbose_name="hospital contact person")
    investigation_steps = models.TextField(max_length=4000, blank=True, verbose_name="steps taken to investigate")
    results = models.TextField(max_length=4000, blank=True, verbose_name="results of the grievance process")
    completed_on = models.DateField(null=True, blank=True, verbose_name="date of completion")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="replaced_by")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    sent_on = models.DateField(null=True, blank=True)
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    sent_via = models.CharField(max_length=10, choices=SendingMethod.choices, blank=True)

    class Meta:
        ordering = ["grievance", "created_at", "pk"]
        indexes = [models.Index(fields=["status", "kind"], name="voice_letter_status")]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.grievance}"
