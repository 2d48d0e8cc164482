"""Practitioners: who they are, their department, their link to the clinical data (the FHIR
Practitioner id and the NPI) and their appointment cycle. Credentials and their alerts are in
credentials.py. docs/medstaff.md, "Practitioners"."""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from andon.platform import audit, permissions
from andon.platform.models import Unit

from .models import Practitioner, PractitionerStatus

__all__ = ["access_practitioner", "add_years", "create_practitioner", "own_practitioner", "visible_practitioners"]

NPI = re.compile(r"[0-9]{10}")
# The credentialing cycle: reappointment at most every two years (CMS 482.22; DOMAIN.md §10).
REAPPOINTMENT_YEARS = 2


def add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def visible_practitioners(user, capability: str = "medstaff.view_practitioners"):
    """Practitioners whose file the user may read: `capability` over their department, and their
    own."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Practitioner.objects.none()
    return Practitioner.objects.filter(Q(department__in=permissions.units_where(user, capability)) | Q(user=user))


def own_practitioner(user) -> Practitioner | None:
    """The practitioner whose account this is, if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Practitioner.objects.filter(user=user).first()


def access_practitioner(user, practitioner_id, capability: str = "medstaff.view_practitioner") -> Practitioner:
    """The practitioner, if the user may `capability` them: Http404 when there is none,
    PermissionDenied when they may not."""
    return permissions.fetch_checked(user, capability, Practitioner.objects.select_related(
        "department__facility", "organisation", "user"), pk=practitioner_id)


def _check_identity(errors: dict, organisation, npi: str, fhir_id: str, exclude=None) -> None:
    others = Practitioner.objects.filter(organisation=organisation).exclude(pk=getattr(exclude, "pk", None))
    if npi and not NPI.fullmatch(npi):
        errors["npi"] = f"{npi!r} is not an NPI: write its ten digits"
    elif npi and others.filter(npi=npi).exists():
        errors["npi"] = f"another practitioner has the NPI {npi}"
    if fhir_id and others.filter(fhir_id=fhir_id).exists():
        errors["fhir_id"] = f"another practitioner is linked to the FHIR Practitioner {fhir_id}"


@audit.changes_by_user
def create_practitioner(user, *, department: Unit, family_name: str, given_name: str, degree: str = "",
                        npi: str = "", fhir_id: str = "", specialty: str = "", group: str = "",
                        status: str = PractitionerStatus.ACTIVE, appointed_on: date | None = None,
                        reappointment_due: date | None = None, account=None) -> Practitioner:
    """A practitioner of the department's organisation; reappointment falls due two years after
    the appointment unless a date is given."""
    permissions.check(user, "medstaff.manage_practitioners", department)
    npi, fhir_id = (npi or "").strip(), (fhir_id or "").strip()
    errors = {}
    if not (family_name or "").strip():
        errors["family_name"] = "write the practitioner's family name"
    if not (given_name or "").strip():
        errors["given_name"] = "write the practitioner's given name"
    _check_identity(errors, department.facility.organisation, npi, fhir_id)
    if account is not None and Practitioner.objects.filter(user=account).exists():
        errors["user"] = f"{account} is already linked to a practitioner"
    if errors:
        raise ValidationError(errors)
    if appointed_on and reappointment_due is None:
        reappointment_due = add_years(appointed_on, REAPPOINTMENT_YEARS)
    with transaction.atomic():
        return Practitioner.objects.create(
            organisation=department.facility.organisation, department=department, family_name=family_name.strip(),
            given_name=given_name.strip(), degree=degree.strip(), npi=npi, fhir_id=fhir_id,
            specialty=specialty.strip(), group=group.strip(), status=status, appointed_on=appointed_on,
            reappointment_due=reappointment_due, user=account, created_by=user)


def connect() -> None:
    """Registries of the practitioners (audit, history), from ready()."""
    audit.register(Practitioner, exclude_fields=["version"])
