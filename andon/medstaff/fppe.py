"""Focused professional practice evaluation: started automatically by a newly granted privilege
and by a concern (OPPE, a safety event, a complaint, peer review); its plan, cases and the
committee's conclusion. docs/medstaff.md, "FPPE"."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from andon.platform import audit, notifications, permissions
from andon.platform.models import Sequence

from .models import Fppe, FppeTrigger, Practitioner

__all__ = ["access_fppe", "start_fppe"]

REASON_LIMIT = 4000


def access_fppe(user, fppe_id, capability: str = "medstaff.view_fppe") -> Fppe:
    """The FPPE, if the user may `capability` it: Http404 when there is none, PermissionDenied
    when they may not."""
    return permissions.fetch_checked(user, capability, Fppe.objects.select_related(
        "practitioner__department__facility", "created_by"), pk=fppe_id)


@audit.changes_by_user
def start_fppe(user, practitioner: Practitioner, *, trigger: str, reason: str, source_reference: str = "",
               source_url: str = "", check: bool = True) -> Fppe:
    """A new FPPE of the practitioner, in planning, and the medical staff office told of it.

    `check=False` is for a service that has already checked its own capability and starts the FPPE
    as a consequence of it (granting a privilege starts one whoever records the grant)."""
    if check:
        permissions.check(user, "medstaff.manage_fppe", practitioner)
    reason = (reason or "").strip()
    if trigger not in FppeTrigger.values:
        raise ValidationError({"trigger": f"{trigger!r} is not one of {', '.join(FppeTrigger.values)}"})
    if not reason:
        raise ValidationError({"reason": "say why the FPPE is started"})
    if len(reason) > REASON_LIMIT:
        raise ValidationError({"reason": f"keep the reason within {REASON_LIMIT} characters"})
    today = timezone.localdate()
    with transaction.atomic():
        number = Sequence.next(f"FPPE-{today.year}")
        fppe = Fppe.objects.create(reference=f"FPPE-{today.year}-{number:03d}", practitioner=practitioner,
                                   trigger=trigger, reason=reason, source_reference=source_reference[:200],
                                   source_url=source_url[:300], started_on=today, created_by=user)
        office = permissions.people_who("medstaff.manage_fppe", practitioner.department)
        notifications.notify(office, f"FPPE started: {practitioner}", body=f"{FppeTrigger(trigger).label}: {reason}",
                             email=False)
    return fppe


def connect() -> None:
    """Registries of the FPPE (audit), from ready()."""
    audit.register(Fppe, exclude_fields=["version"])
