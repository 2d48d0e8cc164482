"""Complaints and grievances (42 CFR 482.13(a)(2); DOMAIN.md §8).

A complaint is logged from a phone call, a letter, an e-mail, in person or the public web form.
The rule: a written complaint (letter, e-mail, web form) is always a grievance; a verbal one
(phone, in person) stays a complaint only when the staff present resolved it at the time, else it
is a grievance. A grievance runs on the clock (clock.py): due `ANDON_GRIEVANCE_DAYS` calendar
days after the day it was received, in the organisation's time zone."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["Channel", "ComplaintKind", "Grievance", "GrievanceCategory", "GrievanceStatus"]


class Channel(models.TextChoices):
    PHONE = "phone", "Phone call"
    IN_PERSON = "in_person", "In person"
    LETTER = "letter", "Letter"
    EMAIL = "email", "E-mail"
    WEB_FORM = "web_form", "Web form"


WRITTEN_CHANNELS = frozenset({Channel.LETTER, Channel.EMAIL, Channel.WEB_FORM})


class ComplaintKind(models.TextChoices):
    COMPLAINT = "complaint", "Complaint"
    GRIEVANCE = "grievance", "Grievance"


class GrievanceStatus(models.TextChoices):
    RECEIVED = "received", "Received"  # not yet classified (the public form's)
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"  # the resolution letter sent (or a complaint resolved at the time)
    CLOSED = "closed", "Closed"


class GrievanceCategory(models.Model):
    """Care, communication, billing, access, staff attitude, safety…: data, loaded from content."""

    key = models.SlugField(max_length=60, unique=True)
    label = models.CharField(max_length=120)
    # A grievance in this category alleges harm: it must open or link a safety event.
    alleges_harm = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]
        verbose_name_plural = "grievance categories"

    def __str__(self):
        return self.label


class Grievance(Versioned):
    reference = models.CharField(max_length=20, unique=True, help_text="G-2026-00042")
    kind = models.CharField(max_length=10, choices=ComplaintKind.choices, default=ComplaintKind.GRIEVANCE)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    received_at = models.DateTimeField(default=timezone.now)
    resolved_at_time = models.BooleanField(
        default=False, help_text="A verbal complaint the staff present resolved at the time (it stays a complaint)")
    status = models.CharField(max_length=10, choices=GrievanceStatus.choices, default=GrievanceStatus.RECEIVED)
    description = models.TextField(max_length=8000, help_text="What the patient or family told, in their words")
    categories = models.ManyToManyField(GrievanceCategory, blank=True, related_name="grievances")
    # The unit it concerns (its scope: unit managers see their units'), and others involved.
    unit = models.ForeignKey("platform.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    other_units = models.ManyToManyField("platform.Unit", blank=True, related_name="+")
    organisation = models.ForeignKey("platform.Organisation", on_delete=models.PROTECT, related_name="+")
    people_involved = models.CharField(max_length=400, blank=True, help_text="Staff named, as told")
    # The patient and encounter it concerns (the store's ids or the MRN as told).
    patient_identifier = models.CharField(max_length=64, blank=True)
    patient_name = models.CharField(max_length=200, blank=True)
    encounter_reference = models.CharField(max_length=64, blank=True)
    # Who complained and how to answer them: only what they gave.
    contact_name = models.CharField(max_length=200, blank=True)
    contact_details = models.CharField(max_length=400, blank=True, help_text="Address, e-mail or phone to answer")
    relationship = models.CharField(max_length=60, blank=True, help_text="Patient, family member, representative…")
    safety_events = models.ManyToManyField("safety.SafetyEvent", blank=True, related_name="+")
    # The public form's follow-up code, kept hashed (as the safety module's receipts).
    receipt_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # The clock (clock.py): the day received in the organisation's time zone, the day due, the
    # interim letter's promised date, the day resolved; a reopened grievance counts again.
    received_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    resolved_on = models.DateField(null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField(default=0)
    # What the public form asks beyond the record's fields: the day it happened, the patient's
    # date of birth, and whether the complainant chose to stay anonymous (no way to answer).
    occurred_on = models.DateField(null=True, blank=True)
    patient_birth_date = models.DateField(null=True, blank=True)
    anonymous = models.BooleanField(default=False)
    # A complaint resolved at the time that came back unresolved: when it became a grievance, by whom.
    converted_at = models.DateTimeField(null=True, blank=True)
    converted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    classified_at = models.DateTimeField(null=True, blank=True)
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", help_text="Empty for the public form")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", help_text="The patient relations officer handling it")

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["status", "due_on"], name="voice_grievance_due"),
                   models.Index(fields=["unit", "received_at"], name="voice_grievance_unit"),
                   models.Index(fields=["due_on", "id"], name="voice_grievance_due_order"),
                   models.Index(fields=["received_on"], name="voice_grievance_received"),
                   # the dashboard's and the measures' months of resolution
                   models.Index(fields=["resolved_on"], name="voice_grievance_resolved")]

    def __str__(self):
        return self.reference
