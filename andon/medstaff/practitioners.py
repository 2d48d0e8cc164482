"""Practitioners: who they are, their department, their link to the clinical data (the FHIR
Practitioner id and the NPI) and their appointment cycle. Credentials and their alerts are in
credentials.py. docs/medstaff.md, "Practitioners and credentials"."""

import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from andon.platform import audit, permissions
from andon.platform.concurrency import lock
from andon.platform.models import Unit

from .models import Practitioner, PractitionerStatus

__all__ = [
    "Section", "access_practitioner", "add_practitioner_section", "add_years", "appointment_words",
    "create_practitioner", "department_choices", "edit_practitioner", "find_practitioners", "import_from_store",
    "npi_is_valid", "own_practitioner", "practitioner_sections", "sections_for", "store_practitioners",
    "unlinked_store_practitioners", "visible_practitioners", "with_check_digit",
]

NPI = re.compile(r"[0-9]{10}")
# The NPI's check digit is the Luhn digit of its first nine digits prefixed with 80840, the health
# industry's issuer number (CMS, "Requirements for NPI check digit").
NPI_PREFIX = "80840"
# The credentialing cycle: reappointment at most every two years (CMS 482.22; DOMAIN.md §10).
REAPPOINTMENT_YEARS = 2
NAME_LIMIT = 100
SHORT_LIMIT = {"degree": 20, "specialty": 100, "group": 100}


def add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _luhn_digit(digits: str) -> int:
    """The Luhn check digit of `digits`: every second digit from the right doubled (its digits
    summed), the total brought up to a multiple of ten."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    """Ten digits whose last is the check digit of the first nine (with the 80840 prefix)."""
    return bool(NPI.fullmatch(npi or "")) and _luhn_digit(NPI_PREFIX + npi[:9]) == int(npi[9])


def with_check_digit(first_nine: str) -> str:
    """An NPI from its first nine digits (made-up demo practitioners)."""
    return first_nine + str(_luhn_digit(NPI_PREFIX + first_nine))


# --- reading ----------------------------------------------------------------------------------

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
    return Practitioner.objects.filter(user=user).select_related("department__facility").first()


def access_practitioner(user, practitioner_id, capability: str = "medstaff.view_practitioner") -> Practitioner:
    """The practitioner, if the user may `capability` them: Http404 when there is none,
    PermissionDenied when they may not."""
    return permissions.fetch_checked(user, capability, Practitioner.objects.select_related(
        "department__facility", "organisation", "user"), pk=practitioner_id)


def find_practitioners(user, *, q: str = "", department: Unit | None = None, specialty: str = "", status: str = ""):
    """The practitioners the user may see, filtered: every word of `q` in the name or NPI, the
    department (and the units below it), the specialty (any part of it), the status."""
    found = visible_practitioners(user)
    for word in q.split():
        found = found.filter(Q(family_name__icontains=word) | Q(given_name__icontains=word) | Q(npi__startswith=word))
    if department is not None:
        found = found.filter(department__path__startswith=department.path)
    if specialty:
        found = found.filter(specialty__icontains=specialty.strip())
    if status:
        found = found.filter(status=status)
    return found.select_related("department__facility").order_by("family_name", "given_name", "pk")


def department_choices(user, capability: str = "medstaff.manage_practitioners"):
    """Active units (wards aside) where the user holds `capability` (keeps practitioners' files)."""
    return (permissions.units_where(user, capability).filter(active=True)
            .exclude(kind=Unit.Kind.WARD).select_related("facility").order_by("facility__name", "path"))


def appointment_words(practitioner: Practitioner, today: date | None = None) -> str:
    """"Reappointment due in 40 days", "Reappointment overdue by 3 days", "… due today"."""
    due = practitioner.reappointment_due
    if due is None:
        return "No reappointment date"
    days = (due - (today or timezone.localdate())).days
    if days > 0:
        return f"Reappointment due in {days} day{'s' if days != 1 else ''} ({due:%Y-%m-%d})"
    if days == 0:
        return f"Reappointment due today ({due:%Y-%m-%d})"
    return f"Reappointment overdue by {-days} day{'s' if days != -1 else ''} (was due {due:%Y-%m-%d})"


# --- sections of the profile, added by other subjects ------------------------------------------

@dataclass(frozen=True)
class Section:
    template: str
    context: dict


# Other subjects (privileges, OPPE, FPPE) add a part of the practitioner's profile page:
# fn(user, practitioner) -> Section, or None when the user is not to see it.
practitioner_sections: list = []


def add_practitioner_section(fn) -> None:
    if fn not in practitioner_sections:
        practitioner_sections.append(fn)


def sections_for(user, practitioner: Practitioner) -> list[Section]:
    return [section for fn in practitioner_sections if (section := fn(user, practitioner)) is not None]


# --- changing ---------------------------------------------------------------------------------

def _check_identity(errors: dict, organisation, npi: str, fhir_id: str, exclude=None) -> None:
    others = Practitioner.objects.filter(organisation=organisation).exclude(pk=getattr(exclude, "pk", None))
    if npi and not NPI.fullmatch(npi):
        errors["npi"] = f"{npi!r} is not an NPI: write its ten digits"
    elif npi and not npi_is_valid(npi):
        errors["npi"] = f"{npi} is not an NPI: its check digit is wrong (mistyped?)"
    elif npi and others.filter(npi=npi).exists():
        errors["npi"] = f"another practitioner has the NPI {npi}"
    if len(fhir_id) > 64:
        errors["fhir_id"] = "a FHIR id has at most 64 characters"
    elif fhir_id and others.filter(fhir_id=fhir_id).exists():
        errors["fhir_id"] = f"another practitioner is linked to the FHIR Practitioner {fhir_id}"


def _cleaned(errors: dict, values: dict) -> dict:
    """The practitioner's words stripped and checked (names required, lengths bounded)."""
    fields = {name: (values.get(name) or "").strip() for name in ("family_name", "given_name", *SHORT_LIMIT)}
    for name, words in (("family_name", "family name"), ("given_name", "given name")):
        if not fields[name]:
            errors[name] = f"write the practitioner's {words}"
        elif len(fields[name]) > NAME_LIMIT:
            errors[name] = f"keep the {words} within {NAME_LIMIT} characters"
    for name, limit in SHORT_LIMIT.items():
        if len(fields[name]) > limit:
            errors[name] = f"keep the {name} within {limit} characters"
    status = values.get("status", PractitionerStatus.ACTIVE)
    if status not in PractitionerStatus.values:
        errors["status"] = f"{status!r} is not one of {', '.join(PractitionerStatus.values)}"
    fields["status"] = status
    appointed, due = values.get("appointed_on"), values.get("reappointment_due")
    if appointed and due and due <= appointed:
        errors["reappointment_due"] = "the reappointment falls due after the appointment"
    fields["appointed_on"] = appointed
    fields["reappointment_due"] = add_years(appointed, REAPPOINTMENT_YEARS) if appointed and not due else due
    return fields


def _checked_file(errors: dict, values: dict, organisation, exclude=None) -> dict:
    """A file's fields from the caller's values, each problem named in `errors`."""
    fields = _cleaned(errors, values)
    department = fields["department"] = values["department"]
    if department.facility.organisation_id != organisation.pk:
        errors["department"] = "choose a department of the practitioner's organisation"
    elif not department.active:
        errors["department"] = f"{department} is no longer active"
    fields["npi"], fields["fhir_id"] = (values["npi"] or "").strip(), (values["fhir_id"] or "").strip()
    _check_identity(errors, organisation, fields["npi"], fields["fhir_id"], exclude)
    return fields


@audit.changes_by_user
def create_practitioner(user, *, department: Unit, family_name: str, given_name: str, degree: str = "",
                        npi: str = "", fhir_id: str = "", specialty: str = "", group: str = "",
                        status: str = PractitionerStatus.ACTIVE, appointed_on: date | None = None,
                        reappointment_due: date | None = None, account=None) -> Practitioner:
    """A practitioner of the department's organisation; reappointment falls due two years after
    the appointment unless a date is given."""
    permissions.check(user, "medstaff.manage_practitioners", department)
    errors = {}
    fields = _checked_file(errors, dict(
        department=department, family_name=family_name, given_name=given_name, degree=degree, npi=npi, fhir_id=fhir_id,
        specialty=specialty, group=group, status=status, appointed_on=appointed_on,
        reappointment_due=reappointment_due), department.facility.organisation)
    if account is not None and Practitioner.objects.filter(user=account).exists():
        errors["user"] = f"{account} is already linked to a practitioner"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        return Practitioner.objects.create(organisation=department.facility.organisation, user=account,
                                           created_by=user, **fields)


@audit.changes_by_user
@transaction.atomic
def edit_practitioner(user, practitioner: Practitioner, *, ver: int | None = None, department: Unit,
                      family_name: str, given_name: str, degree: str = "", npi: str = "", fhir_id: str = "",
                      specialty: str = "", group: str = "", status: str = PractitionerStatus.ACTIVE,
                      appointed_on: date | None = None, reappointment_due: date | None = None) -> Practitioner:
    """The file's identity, department, link and cycle changed; moving the practitioner to another
    department needs the capability over both. An appointment date without a due date sets it two
    years on."""
    practitioner = lock(practitioner, ver)
    permissions.check(user, "medstaff.manage_practitioners", practitioner)
    if department.pk != practitioner.department_id:
        permissions.check(user, "medstaff.manage_practitioners", department)
    errors = {}
    fields = _checked_file(errors, dict(
        department=department, family_name=family_name, given_name=given_name, degree=degree, npi=npi, fhir_id=fhir_id,
        specialty=specialty, group=group, status=status, appointed_on=appointed_on,
        reappointment_due=reappointment_due), practitioner.organisation, practitioner)
    if errors:
        raise ValidationError(errors)
    for name, value in fields.items():
        setattr(practitioner, name, value)
    practitioner.save()
    return practitioner


# --- the clinical data (the FHIR store) ---------------------------------------------------------

def store_practitioners(search: str = "", *, exclude_ids=frozenset(), limit: int | None = None) -> list:
    """The FHIR store's practitioners (analytics.fhir.practitioners.StorePractitioner) whose name
    or NPI holds every word of `search`; [] when no clinical data is loaded."""
    import duckdb

    from andon.analytics.fhir import practitioners as fhir_practitioners
    from andon.measures import services as measures

    try:
        store = measures.open_store()
        if store is None:
            return []
        try:
            return fhir_practitioners.practitioners(store, search=search, exclude_ids=exclude_ids, limit=limit)
        finally:
            store.close()
    except duckdb.Error as problem:
        raise LookupError(f"the clinical data (FHIR store) could not be read: {problem}") from None


def unlinked_store_practitioners(user, search: str = "", limit: int | None = None) -> list:
    """The store's practitioners no practitioner of the user's organisation is linked to yet."""
    permissions.check(user, "medstaff.manage_practitioners")
    linked = set(Practitioner.objects.exclude(fhir_id="").values_list("fhir_id", flat=True))
    return store_practitioners(search, exclude_ids=linked, limit=limit)


@audit.changes_by_user
def import_from_store(user, fhir_ids, department: Unit) -> list[Practitioner]:
    """Practitioners made from the chosen Practitioner resources of the store, into `department`:
    their name, NPI, specialty and link. Refused whole when an id is not in the store (or linked
    already) or a resource's NPI is not a valid one."""
    permissions.check(user, "medstaff.manage_practitioners", department)
    wanted = list(dict.fromkeys(fhir_ids))
    if not wanted:
        raise ValidationError({"fhir_ids": "choose at least one practitioner of the clinical data"})
    offered = {found.id: found for found in unlinked_store_practitioners(user)}
    problems = [f"{fhir_id}: not in the clinical data, or linked already" for fhir_id in wanted
                if fhir_id not in offered]
    problems += [f"{fhir_id}: its NPI {offered[fhir_id].npi} is not a valid NPI" for fhir_id in wanted
                 if fhir_id in offered and offered[fhir_id].npi and not npi_is_valid(offered[fhir_id].npi)]
    if problems:
        raise ValidationError({"fhir_ids": problems})
    made = []
    with transaction.atomic():
        for fhir_id in wanted:
            found = offered[fhir_id]
            made.append(create_practitioner(
                user, department=department, family_name=found.family or found.id, given_name=found.given or "-",
                degree=found.suffix[:SHORT_LIMIT["degree"]], npi=found.npi, fhir_id=found.id,
                specialty=found.specialty[:SHORT_LIMIT["specialty"]]))
    return made


def connect() -> None:
    """Registries of the practitioners (audit, navigation), from ready()."""
    from andon.platform import navigation

    audit.register(Practitioner, exclude_fields=["version"])
    for entry in (
        navigation.NavEntry("Practitioners", "medstaff:practitioners", "medstaff.view_practitioners", "person-badge"),
        navigation.NavEntry("My file", "medstaff:my_file", "medstaff.view_own_file", "person-vcard"),
    ):
        if entry not in navigation.ENTRIES:
            navigation.add(entry)
