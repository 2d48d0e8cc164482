"""Practitioners and their credentials over the API: the list (scoped, filtered), one file, create
and edit; a practitioner's credentials, adding one and renewing one; the expiring credentials. The
same services and policy as the pages; a change of a versioned record takes its `version` (409
when stale)."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import permissions
from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import services as service
from ..models import CredentialKind, PractitionerStatus

router = NamedRouter("andon_medstaff_api_practitioners_")

Short = Annotated[str, PydanticField(max_length=100)]


class PractitionerIn(Body):
    department_id: Id
    given_name: Annotated[str, PydanticField(min_length=1, max_length=100)]
    family_name: Annotated[str, PydanticField(min_length=1, max_length=100)]
    degree: Annotated[str, PydanticField(max_length=20)] = ""
    npi: Annotated[str, PydanticField(max_length=10, description="Ten digits, the last the check digit")] = ""
    fhir_id: Annotated[str, PydanticField(max_length=64, description="The FHIR Practitioner's id")] = ""
    specialty: Short = ""
    group: Short = ""
    status: Literal[tuple(PractitionerStatus.values)] = "active"
    appointed_on: IsoDate | None = None
    reappointment_due: IsoDate | None = PydanticField(None, description="Empty: two years after the appointment")


class PractitionerEditIn(PractitionerIn):
    version: Version = None


class PractitionerOut(Schema):
    id: int
    name: str
    given_name: str
    family_name: str
    degree: str
    npi: str
    fhir_id: str
    department_id: int
    specialty: str
    group: str
    status: str
    appointed_on: date | None
    reappointment_due: date | None
    licence_expired_on: date | None
    user_id: int | None
    version: int


class CredentialIn(Body):
    kind: Literal[tuple(CredentialKind.values)]
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    number: Annotated[str, PydanticField(min_length=1, max_length=60)]
    issuer: Annotated[str, PydanticField(min_length=1, max_length=200)]
    state: Annotated[str, PydanticField(max_length=2)] = ""
    issued_on: IsoDate | None = None
    expires_on: IsoDate | None = None
    verified_on: IsoDate | None = PydanticField(None, description="Primary-source verification (by the caller)")
    verification_source: Annotated[str, PydanticField(max_length=200)] = ""


class RenewalIn(Body):
    number: Annotated[str, PydanticField(max_length=60, description="Empty: the same number")] = ""
    issued_on: IsoDate | None = None
    expires_on: IsoDate
    verified_on: IsoDate | None = None
    verification_source: Annotated[str, PydanticField(max_length=200)] = ""
    version: Version = None


class CredentialOut(Schema):
    id: int
    practitioner_id: int
    kind: str
    title: str
    number: str
    issuer: str
    state: str
    issued_on: date | None
    expires_on: date | None
    verified_on: date | None
    verified_by_id: int | None
    verification_source: str
    replaced_by_id: int | None
    status: str = PydanticField(description="current, expiring, expired, unverified or replaced")
    status_words: str
    days_left: int | None
    created_at: datetime
    version: int

    @staticmethod
    def resolve_status(credential):
        return service.credential_status(credential).code

    @staticmethod
    def resolve_status_words(credential):
        return service.credential_status(credential).words

    @staticmethod
    def resolve_days_left(credential):
        return service.credential_status(credential).days_left


def _department(pk: int) -> Unit:
    found = Unit.objects.select_related("facility__organisation").filter(pk=pk).first()
    if found is None:
        raise ValidationError({"department_id": f"There is no unit {pk}."})
    return found


@router.get("/practitioners", response=documented(list[PractitionerOut]),
            summary="The practitioners the caller may see (a department and the units below it, a name or NPI, a "
                    "specialty, a status)")
@requires("medstaff.view_practitioners")
@paginate(Pages)
def list_practitioners(request, unit_id: Id | None = None, q: Short = "", specialty: Short = "",
                       status: Literal[tuple(PractitionerStatus.values)] | None = None):
    department = None
    if unit_id is not None:
        department = Unit.objects.filter(pk=unit_id).first()
        if department is None:
            return service.find_practitioners(request.user).none()
        permissions.scope_for(request.user, "medstaff.view_practitioners", unit=department)
    return service.find_practitioners(request.user, q=q, department=department, specialty=specialty,
                                      status=status or "")


@router.post("/practitioners", response=documented(PractitionerOut, 201), summary="Make a practitioner's file")
@requires("medstaff.manage_practitioners")
def create_practitioner(request, payload: PractitionerIn):
    try:
        values = payload.model_dump(exclude={"department_id"})
        made = service.create_practitioner(request.user, department=_department(payload.department_id), **values)
    except ValidationError as error:
        return refused(error)
    return Status(201, made)


@router.get("/practitioners/{practitioner_id}", response=documented(PractitionerOut, not_found=True),
            summary="One practitioner's file (the department's readers, or the practitioner themself)")
@requires("platform.view_home")
def get_practitioner(request, practitioner_id: Id):
    return service.access_practitioner(request.user, practitioner_id)


@router.post("/practitioners/{practitioner_id}", response=documented(PractitionerOut, not_found=True, versioned=True),
             summary="Change a practitioner's file")
@requires("medstaff.manage_practitioners")
def edit_practitioner(request, practitioner_id: Id, payload: PractitionerEditIn):
    practitioner = service.access_practitioner(request.user, practitioner_id, "medstaff.manage_practitioners")
    try:
        values = payload.model_dump(exclude={"department_id", "version"})
        return service.edit_practitioner(request.user, practitioner, ver=payload.version,
                                         department=_department(payload.department_id), **values)
    except ValidationError as error:
        return refused(error)


@router.get("/practitioners/{practitioner_id}/credentials", response=documented(list[CredentialOut], not_found=True),
            summary="A practitioner's credentials, renewed ones included")
@requires("platform.view_home")
def list_credentials(request, practitioner_id: Id):
    return list(service.credentials_of(service.access_practitioner(request.user, practitioner_id)))


@router.post("/practitioners/{practitioner_id}/credentials", response=documented(CredentialOut, 201, not_found=True),
             summary="Record a credential of the practitioner")
@requires("medstaff.manage_practitioners")
def add_credential(request, practitioner_id: Id, payload: CredentialIn):
    practitioner = service.access_practitioner(request.user, practitioner_id, "medstaff.manage_practitioners")
    try:
        return Status(201, service.add_credential(request.user, practitioner, **payload.model_dump()))
    except ValidationError as error:
        return refused(error)


@router.post("/credentials/{credential_id}/renewal", response=documented(CredentialOut, 201, not_found=True,
                                                                         versioned=True),
             summary="Record the renewal of a credential: a new record, the old one kept")
@requires("medstaff.manage_practitioners")
def renew_credential(request, credential_id: Id, payload: RenewalIn):
    credential = service.access_credential(request.user, credential_id, "medstaff.manage_practitioners")
    try:
        return Status(201, service.renew_credential(request.user, credential, ver=payload.version,
                                                    **payload.model_dump(exclude={"version"})))
    except ValidationError as error:
        return refused(error)


@router.get("/credentials/expiring", response=documented(list[CredentialOut]),
            summary="Credentials in force that have expired or expire within 90 days, soonest first")
@requires("medstaff.view_practitioners")
@paginate(Pages)
def expiring_credentials(request):
    return service.expiring_credentials(request.user)
