"""Practitioners: the privileged members of the medical staff (and other licensed independent
practitioners), linked to the FHIR store's Practitioner resources so that clinical data can be
attributed to them (by the resource id and, where present, the NPI)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from andon.platform.concurrency import Versioned
from andon.platform.models import Organisation, Unit

__all__ = ["Practitioner", "PractitionerStatus"]


class PractitionerStatus(models.TextChoices):
    APPLICANT = "applicant", "Applicant"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"  # left, retired, resigned: kept, never deleted


class Practitioner(Versioned):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    # The clinical department the practitioner belongs to: the scope of their file (a department
    # chair's grant over it, the medical staff office's over the organisation).
    department = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    # Their own Andon account, if they have one: they read their own file and OPPE, receive their
    # alerts, and are never assigned to review themselves.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="practitioner")
    family_name = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100)
    degree = models.CharField(max_length=20, blank=True, help_text="MD, DO, DDS, NP…")
    npi = models.CharField("NPI", max_length=10, blank=True, help_text="National Provider Identifier (10 digits)")
    fhir_id = models.CharField("FHIR Practitioner id", max_length=64, blank=True,
                               help_text="The id of the Practitioner resource in the clinical data")
    specialty = models.CharField(max_length=100, blank=True)
    # A practice group or partnership: a reviewer of the same group has a conflict of interest.
    group = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=PractitionerStatus.choices, default=PractitionerStatus.ACTIVE)
    appointed_on = models.DateField(null=True, blank=True)
    reappointment_due = models.DateField(null=True, blank=True,
                                         help_text="By default two years after the (re)appointment (CMS 482.22)")
    # Set by the credentials' daily sweep when the practitioner's licence has expired (and cleared
    # when a current licence is recorded): their privileges are flagged from that day.
    licence_expired_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["family_name", "given_name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "npi"], condition=~models.Q(npi=""),
                                    name="medstaff_practitioner_npi_once"),
            models.UniqueConstraint(fields=["organisation", "fhir_id"], condition=~models.Q(fhir_id=""),
                                    name="medstaff_practitioner_fhir_id_once"),
        ]

    @property
    def unit(self):
        """The policy's scope: the department."""
        return self.department

    @property
    def name(self) -> str:
        degree = f", {self.degree}" if self.degree else ""
        return f"{self.given_name} {self.family_name}{degree}"

    def __str__(self):
        return self.name
