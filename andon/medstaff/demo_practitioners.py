"""The demo hospital's practitioners: those of the demo's clinical data (the FHIR store's
Practitioner resources, each in the department above the ward its PractitionerRole works on), made
up ones when the store has none, and always Dr Yusuf Demir (the hospitalist who signs in as
dr.yusuf). Each has a current, verified state licence; one Medicine practitioner's licence expires
in 45 days and another's board certification has expired, so the office has something to act on."""

from datetime import date, timedelta

from django.utils import timezone

from andon.analytics.kpi.workspace import reference_key
from andon.platform.models import Unit, User

from .models import Credential, CredentialKind, Practitioner
from .practitioners import REAPPOINTMENT_YEARS, add_years, npi_is_valid, store_practitioners, with_check_digit

MEDICINE = "rgh/medicine"
STATE = "TX"
YUSUF = ("Yusuf", "Demir", "MD", "Hospital medicine", MEDICINE)
# Made up (given, family, degree, specialty, department) for a store without practitioners.
MADE_UP = [
    YUSUF,
    ("Amelia", "Hart", "MD", "Internal medicine", MEDICINE),
    ("Kwame", "Mensah", "MD", "Cardiology", MEDICINE),
    ("Sofia", "Lindqvist", "DO", "Hospital medicine", MEDICINE),
    ("Daniel", "Okoro", "MD", "General surgery", "rgh/surgery"),
    ("Priya", "Raman", "MD", "Anesthesiology", "rgh/surgery"),
    ("Marta", "Kowalski", "MD", "Emergency medicine", "rgh/ed"),
    ("Tomas", "Herrera", "MD", "Critical care medicine", "rgh/critical-care"),
    ("Grace", "Ellison", "MD", "Obstetrics and gynecology", "rgh/womens"),
    ("Hugo", "Brandt", "MD", "Internal medicine", "lch/medicine"),
]


def _unit(path: str) -> Unit:
    facility, code = path.split("/")
    return Unit.objects.select_related("facility__organisation").get(facility__code=facility, code=code)


def _departments_of_locations() -> dict[str, Unit]:
    """EHR location key -> the department above the unit it is mapped to (the unit itself when
    nothing is above it), from the measures module's mapping."""
    from andon.measures import services as measures

    mapped = {reference_key(kind, external_id): int(unit_id) for kind, external_id, unit_id in measures.unit_map()
              if kind == "location"}
    units = Unit.objects.select_related("parent__facility__organisation", "facility__organisation").in_bulk(
        set(mapped.values()))
    return {key: (units[pk].parent or units[pk]) for key, pk in mapped.items() if pk in units}


def _staff_of_the_store() -> list:
    """The store's practitioners who work here: those with a role or a valid NPI (the eCQM test
    patients' practitioners, replayed into the demo's data, have neither: "Dr Evil", NPI 123456)."""
    try:
        found = store_practitioners()
    except LookupError:
        return []
    return [p for p in found if p.role_id or npi_is_valid(p.npi)]


def _from_store(today: date, office, medicine: Unit) -> list[Practitioner]:
    departments, seen = _departments_of_locations(), set()
    made = []
    for number, practitioner in enumerate(_staff_of_the_store()):
        department = departments.get(practitioner.location) or medicine
        npi = practitioner.npi if npi_is_valid(practitioner.npi) and practitioner.npi not in seen else ""
        seen.add(npi)
        made.append(Practitioner(
            organisation=department.facility.organisation, department=department,
            family_name=practitioner.family[:100] or practitioner.id, given_name=practitioner.given[:100] or "-",
            degree=practitioner.suffix[:20], npi=npi, fhir_id=practitioner.id,
            specialty=practitioner.specialty[:100], appointed_on=_appointed(today, number), created_by=office))
    return made


def _appointed(today: date, number: int) -> date:
    # Appointments spread over the last two years, so reappointments fall due over the next two
    # (the first practitioner's within the office's notice).
    return today - timedelta(days=(700 - 37 * number) % 700 + 5)


def _made_up(rows, today: date, office, start: int) -> list[Practitioner]:
    made = []
    for number, (given, family, degree, specialty, path) in enumerate(rows, start):
        department = _unit(path)
        made.append(Practitioner(
            organisation=department.facility.organisation, department=department, family_name=family,
            given_name=given, degree=degree, npi=with_check_digit(f"19{number:07d}"), specialty=specialty,
            appointed_on=_appointed(today, number), created_by=office))
    return made


def _licence(practitioner: Practitioner, office, today: date, expires_on: date) -> Credential:
    return Credential(practitioner=practitioner, kind=CredentialKind.LICENCE, title="Medical licence",
                      number=f"{STATE}-{practitioner.npi or practitioner.pk:0>10}"[:60],
                      issuer="Texas Medical Board", state=STATE, issued_on=add_years(expires_on, -2),
                      expires_on=expires_on, verified_on=today - timedelta(days=30), verified_by=office,
                      verification_source="Texas Medical Board licence look-up", created_by=office)


def _board_certification(practitioner: Practitioner, office, today: date, expires_on: date) -> Credential:
    return Credential(practitioner=practitioner, kind=CredentialKind.BOARD_CERTIFICATION,
                      title=f"Board certification in {(practitioner.specialty or 'internal medicine').lower()}",
                      number=f"ABIM-{practitioner.pk:06d}", issuer="American Board of Internal Medicine",
                      issued_on=add_years(expires_on, -10), expires_on=expires_on,
                      verified_on=add_years(expires_on, -10) + timedelta(days=20), verified_by=office,
                      verification_source="ABIM certification look-up", created_by=office)


def load() -> None:
    office = User.objects.filter(username="mso.quinn", is_demo=True).first()
    if office is None or Practitioner.objects.exists():
        return
    today, medicine = timezone.localdate(), _unit(MEDICINE)
    practitioners = _from_store(today, office, medicine)
    yusuf = next((p for p in practitioners if (p.given_name, p.family_name) == YUSUF[:2]), None)
    if not practitioners:
        practitioners = _made_up(MADE_UP, today, office, 1)
    elif yusuf is None:
        practitioners += _made_up([YUSUF], today, office, 1)
    in_medicine = [p for p in practitioners if p.department == medicine and (p.given_name, p.family_name) != YUSUF[:2]]
    if len(in_medicine) < 2:  # the expiring licence and the expired certification need two of them
        extra = _made_up(MADE_UP[1:3 - len(in_medicine)], today, office, len(practitioners) + 1)
        practitioners += extra
        in_medicine += extra
    for practitioner in practitioners:
        practitioner.reappointment_due = add_years(practitioner.appointed_on, REAPPOINTMENT_YEARS)
        if (practitioner.given_name, practitioner.family_name) == YUSUF[:2]:
            practitioner.user = User.objects.filter(username="dr.yusuf").first()
            practitioner.group, practitioner.degree = "Riverside Hospitalists", practitioner.degree or "MD"
            practitioner.specialty = practitioner.specialty or YUSUF[3]
    Practitioner.objects.bulk_create(practitioners)
    saved = list(Practitioner.objects.order_by("pk"))
    expiring, lapsed = sorted((p.pk for p in saved if p.department_id == medicine.pk and p.user is None))[:2]
    credentials = []
    for number, practitioner in enumerate(saved):
        licence_days = 45 if practitioner.pk == expiring else 200 + (53 * number) % 500
        credentials.append(_licence(practitioner, office, today, today + timedelta(days=licence_days)))
        if practitioner.pk == lapsed:
            credentials.append(_board_certification(practitioner, office, today, today - timedelta(days=12)))
    Credential.objects.bulk_create(credentials)
