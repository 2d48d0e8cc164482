"""Credentials of a practitioner: licences, board certifications, registrations (DEA, state
controlled substances) and others, with their expiry and primary-source verification. A renewal is
a new record; the one it replaces is kept, pointing to it. DOMAIN.md §10 (credentialing)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned

__all__ = ["Credential", "CredentialKind", "ReappointmentAlert"]


class CredentialKind(models.TextChoices):
    LICENCE = "licence", "Licence"
    BOARD_CERTIFICATION = "board_certification", "Board certification"
    REGISTRATION = "registration", "Registration (DEA, controlled substances)"
    OTHER = "other", "Other"


class Credential(Versioned):
    practitioner = models.ForeignKey("medstaff.Practitioner", on_delete=models.PROTECT, related_name="credentials")
    kind = models.CharField(max_length=20, choices=CredentialKind.choices)
    title = models.CharField(max_length=200, help_text="Medical licence, DEA registration, Board certification in "
                                                       "internal medicine…")
    number = models.CharField(max_length=60)
    issuer = models.CharField(max_length=200, help_text="The board, agency or body that issued it")
    state = models.CharField(max_length=2, blank=True, help_text="For a state licence or registration: TX, KS…")
    issued_on = models.DateField(null=True, blank=True)
    # None: it does not expire (some lifetime certifications); the sweep never alerts on it.
    expires_on = models.DateField(null=True, blank=True)
    # Primary-source verification: checked with the issuer itself (the board's site, the NPDB).
    verified_on = models.DateField(null=True, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    verification_source = models.CharField(max_length=200, blank=True, help_text="Where it was verified")
    # A renewal is a new record; the old one is kept and points to it (None: in force).
    replaced_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="renews")
    # The daily sweep's last alert: the threshold (days before expiry; 0 the expiry day) it was
    # sent at, so each threshold is alerted once and a second run the same day does nothing.
    alerted_at_days = models.IntegerField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "expires_on", "pk"]
        indexes = [models.Index(fields=["expires_on"], name="medstaff_credential_expiry")]

    @property
    def unit(self):
        """The policy's scope: the practitioner's department."""
        return self.practitioner.department

    def __str__(self):
        return f"{self.title} {self.number}"


class ReappointmentAlert(models.Model):
    """The office was told that a practitioner's reappointment falls due (once per due date)."""

    practitioner = models.ForeignKey("medstaff.Practitioner", on_delete=models.CASCADE, related_name="+")
    due_on = models.DateField()
    sent_on = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practitioner", "due_on"],
                                               name="medstaff_reappointment_alert_once")]
