"""Credentials: licences, board certifications, registrations and others of a practitioner, their
primary-source verification, renewals (a new record; the old one kept), and the daily sweep that
alerts the practitioner and the medical staff office before and on expiry, flags the privileges of
a practitioner whose licence expired, and tells the office of reappointments falling due.
docs/medstaff.md, "Practitioners and credentials"."""

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, inputs, notifications, permissions
from andon.platform.concurrency import lock

from .models import Credential, CredentialKind, Practitioner, PractitionerStatus, ReappointmentAlert

__all__ = [
    "EXPIRING_WINDOW_DAYS", "CredentialStatus", "access_credential", "add_credential", "alert_thresholds", "credential_status",
    "credentials_of", "edit_credential", "expiring_credentials", "renew_credential", "sweep_credentials",
    "sweep_reappointments",
]

STATE = re.compile(r"[A-Z]{2}")
LIMITS = {"title": 200, "number": 60, "issuer": 200, "verification_source": 200}
# What the "Expiring credentials" page and the API list: expired, and expiring within these days.
EXPIRING_WINDOW_DAYS = 90
# The office hears of a reappointment this many days before it falls due (once per due date).
REAPPOINTMENT_NOTICE_DAYS = 90


def alert_thresholds() -> list[int]:
    """Days before expiry at which the sweep alerts (ANDON_CREDENTIAL_ALERT_DAYS), largest first,
    and 0: the expiry day."""
    return sorted({days for days in settings.ANDON_CREDENTIAL_ALERT_DAYS if days > 0} | {0}, reverse=True)


# --- status -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CredentialStatus:
    code: str  # "expired", "expiring", "unverified", "current", "replaced"
    words: str
    days_left: int | None


def credential_status(credential: Credential, today: date | None = None) -> CredentialStatus:
    """A credential expires on its expiry date (from that day it is no longer in force). Expired
    and expiring (within the largest alert threshold) come before unverified."""
    today = today or timezone.localdate()
    days = (credential.expires_on - today).days if credential.expires_on else None
    if credential.replaced_by_id:
        return CredentialStatus("replaced", "renewed (replaced)", days)
    if days is not None and days <= 0:
        return CredentialStatus("expired", f"expired on {credential.expires_on:%Y-%m-%d}", days)
    if days is not None and days <= max(alert_thresholds()):
        return CredentialStatus("expiring", f"expires in {days} day{'s' if days != 1 else ''}", days)
    if credential.verified_on is None:
        return CredentialStatus("unverified", "unverified", days)
    return CredentialStatus("current", "current", days)


# --- reading ----------------------------------------------------------------------------------

def access_credential(user, credential_id, capability: str = "medstaff.view_practitioner") -> Credential:
    """The credential, if the user may `capability` its practitioner: Http404 / PermissionDenied."""
    credential = permissions.fetch_checked(user, "medstaff.view_practitioner", Credential.objects.select_related(
        "practitioner__department__facility", "practitioner__user", "verified_by"), pk=credential_id)
    if capability != "medstaff.view_practitioner":
        permissions.check(user, capability, credential.practitioner)
    return credential


def credentials_of(practitioner: Practitioner, *, with_replaced: bool = True):
    found = Credential.objects.filter(practitioner=practitioner).select_related("verified_by")
    return found if with_replaced else found.filter(replaced_by__isnull=True)


def expiring_credentials(user, today: date | None = None, days: int = EXPIRING_WINDOW_DAYS):
    """Credentials in force (not renewed) of the practitioners the user may see by role (their own
    file aside), expired or expiring within `days`, soonest first."""
    today = today or timezone.localdate()
    departments = permissions.units_where(user, "medstaff.view_practitioners")
    return (Credential.objects.filter(practitioner__department__in=departments, replaced_by__isnull=True,
                                      expires_on__lte=today + timedelta(days=days))
            .exclude(practitioner__status=PractitionerStatus.INACTIVE)
            .select_related("practitioner__department__facility").order_by("expires_on", "pk"))


# --- changing ---------------------------------------------------------------------------------

def _cleaned(errors: dict, values: dict, today: date) -> dict:
    fields = {name: (values.get(name) or "").strip() for name in (*LIMITS, "state")}
    fields["state"] = fields["state"].upper()
    for name, limit in LIMITS.items():
        if len(fields[name]) > limit:
            errors[name] = f"keep the {name.replace('_', ' ')} within {limit} characters"
    for name, words in (("title", "what it is (Medical licence, DEA registration…)"), ("number", "its number"),
                        ("issuer", "who issued it")):
        if not fields[name]:
            errors[name] = f"write {words}"
    if fields["state"] and not STATE.fullmatch(fields["state"]):
        errors["state"] = f"{fields['state']!r} is not a state: write its two letters (TX)"
    kind = values.get("kind")
    if kind not in CredentialKind.values:
        errors["kind"] = f"{kind!r} is not one of {', '.join(CredentialKind.values)}"
    elif kind == CredentialKind.LICENCE and not fields["state"]:
        errors["state"] = "a licence is a state's: write the state"
    fields["kind"] = kind
    for name in ("issued_on", "expires_on", "verified_on"):
        fields[name] = values.get(name)
        try:
            fields[name] and inputs.day(fields[name])
        except inputs.InputError as problem:
            errors[name] = str(problem)
    issued, expires, verified = fields["issued_on"], fields["expires_on"], fields["verified_on"]
    if issued and issued > today:
        errors["issued_on"] = "the issue date is in the future"
    if issued and expires and expires <= issued:
        errors["expires_on"] = "it expires after it was issued"
    if verified and verified > today:
        errors["verified_on"] = "the verification date is in the future"
    if not verified and fields["verification_source"]:
        errors["verified_on"] = "say when it was verified at that source"
    return fields


def _check_not_twice(errors: dict, practitioner: Practitioner, fields: dict, exclude=None) -> None:
    same = credentials_of(practitioner, with_replaced=False).filter(
        kind=fields["kind"], number__iexact=fields["number"], state=fields["state"]).exclude(pk=getattr(exclude, "pk", None))
    if same.exists():
        errors["number"] = f"{fields['number']} is recorded already: renew that record instead"


def _verified_by(user, fields: dict, before: Credential | None = None):
    """Whoever records a verification date is the one who verified it (kept when unchanged)."""
    if not fields["verified_on"]:
        return None
    if before is not None and before.verified_on == fields["verified_on"]:
        return before.verified_by
    return user


def _clear_licence_flag(practitioner: Practitioner, credential: Credential, today: date) -> None:
    """A current licence recorded clears the practitioner's expired-licence flag."""
    if (credential.kind == CredentialKind.LICENCE and practitioner.licence_expired_on is not None
            and credential_status(credential, today).code != "expired"):
        practitioner.licence_expired_on = None
        practitioner.save(update_fields=["licence_expired_on"])


@audit.changes_by_user
@transaction.atomic
def add_credential(user, practitioner: Practitioner, *, kind: str, title: str, number: str, issuer: str,
                   state: str = "", issued_on: date | None = None, expires_on: date | None = None,
                   verified_on: date | None = None, verification_source: str = "") -> Credential:
    permissions.check(user, "medstaff.manage_practitioners", practitioner)
    today, errors = timezone.localdate(), {}
    fields = _cleaned(errors, dict(kind=kind, title=title, number=number, issuer=issuer, state=state,
                                   issued_on=issued_on, expires_on=expires_on, verified_on=verified_on,
                                   verification_source=verification_source), today)
    if not errors:
        _check_not_twice(errors, practitioner, fields)
    if errors:
        raise ValidationError(errors)
    practitioner = lock(practitioner)
    credential = Credential.objects.create(practitioner=practitioner, verified_by=_verified_by(user, fields),
                                           created_by=user, **fields)
    _clear_licence_flag(practitioner, credential, today)
    return credential


def _in_force(credential: Credential) -> None:
    if credential.replaced_by_id:
        raise ValidationError({"credential": f"{credential} was renewed: the renewal is the record in force"})


@audit.changes_by_user
@transaction.atomic
def edit_credential(user, credential: Credential, *, ver: int | None = None, kind: str, title: str, number: str,
                    issuer: str, state: str = "", issued_on: date | None = None, expires_on: date | None = None,
                    verified_on: date | None = None, verification_source: str = "") -> Credential:
    """A correction of the record in force; a new expiry date lets the sweep alert anew."""
    credential = lock(credential, ver)
    permissions.check(user, "medstaff.manage_practitioners", credential.practitioner)
    _in_force(credential)
    today, errors = timezone.localdate(), {}
    fields = _cleaned(errors, dict(kind=kind, title=title, number=number, issuer=issuer, state=state,
                                   issued_on=issued_on, expires_on=expires_on, verified_on=verified_on,
                                   verification_source=verification_source), today)
    if not errors:
        _check_not_twice(errors, credential.practitioner, fields, exclude=credential)
    if errors:
        raise ValidationError(errors)
    verified_by = _verified_by(user, fields, credential)
    if fields["expires_on"] != credential.expires_on:
        credential.alerted_at_days = None
    for name, value in {**fields, "verified_by": verified_by}.items():
        setattr(credential, name, value)
    credential.save()
    _clear_licence_flag(credential.practitioner, credential, today)
    return credential


@audit.changes_by_user
def renew_credential(user, credential: Credential, *, ver: int | None = None, number: str = "",
                     issued_on: date | None = None, expires_on: date | None = None,
                     verified_on: date | None = None, verification_source: str = "") -> Credential:
    """The renewal: a new record of the same credential (the number may change), the old one kept
    and pointing to it."""
    with transaction.atomic():
        credential = lock(credential, ver)
        permissions.check(user, "medstaff.manage_practitioners", credential.practitioner)
        _in_force(credential)
        today, errors = timezone.localdate(), {}
        values = {"kind": credential.kind, "title": credential.title, "number": number or credential.number,
                  "issuer": credential.issuer, "state": credential.state, "issued_on": issued_on,
                  "expires_on": expires_on, "verified_on": verified_on, "verification_source": verification_source}
        fields = _cleaned(errors, values, today)
        if not expires_on:
            errors["expires_on"] = "write when the renewal expires"
        elif credential.expires_on and expires_on <= credential.expires_on:
            errors["expires_on"] = f"a renewal expires after the record it renews ({credential.expires_on:%Y-%m-%d})"
        if errors:
            raise ValidationError(errors)
        renewal = Credential.objects.create(practitioner=credential.practitioner, created_by=user,
                                            verified_by=_verified_by(user, fields), **fields)
        credential.replaced_by = renewal
        credential.save(update_fields=["replaced_by"])
        _clear_licence_flag(credential.practitioner, renewal, today)
    return renewal


# --- the daily sweep ----------------------------------------------------------------------------

def _due_threshold(days_left: int, thresholds: list[int]) -> int | None:
    """The smallest threshold the credential has reached (0 once it has expired), None before the
    first."""
    reached = [threshold for threshold in thresholds if days_left <= threshold]
    return min(reached) if reached else None


def _alert_words(credential: Credential, days_left: int) -> tuple[str, str]:
    practitioner = credential.practitioner
    if days_left <= 0:
        title = f"Credential expired: {credential.title} of {practitioner}"
        body = (f"{credential.title} {credential.number} ({credential.issuer}) of {practitioner} expired on "
                f"{credential.expires_on:%Y-%m-%d}. Record the renewal in their file.")
        if credential.kind == CredentialKind.LICENCE:
            body += " Their privileges are flagged until a current licence is recorded."
        return title, body
    return (f"Credential expires in {days_left} days: {credential.title} of {practitioner}",
            f"{credential.title} {credential.number} ({credential.issuer}) of {practitioner} expires on "
            f"{credential.expires_on:%Y-%m-%d}. Record the renewal in their file once it is issued.")


def _recipients(practitioner: Practitioner) -> list:
    office = list(permissions.people_who("medstaff.receive_credential_alerts", practitioner.department))
    if practitioner.user is not None and practitioner.user not in office:
        office.append(practitioner.user)
    return office


def sweep_credentials(today: date) -> int:
    """Alert each credential in force at each threshold it reaches (once), and on its expiry day;
    an expired licence flags the practitioner. Returns how many credentials were alerted."""
    thresholds = alert_thresholds()
    candidates = (Credential.objects.filter(replaced_by__isnull=True, expires_on__isnull=False,
                                            expires_on__lte=today + timedelta(days=thresholds[0]))
                  .exclude(practitioner__status=PractitionerStatus.INACTIVE)
                  .filter(Q(alerted_at_days__isnull=True) | Q(alerted_at_days__gt=0))
                  .select_related("practitioner__department__facility", "practitioner__user").order_by("pk"))
    alerted = 0
    with transaction.atomic():
        for credential in candidates:
            days_left = (credential.expires_on - today).days
            due = _due_threshold(days_left, thresholds)
            if due is None or (credential.alerted_at_days is not None and due >= credential.alerted_at_days):
                continue
            practitioner = credential.practitioner
            title, body = _alert_words(credential, days_left)
            notifications.notify(_recipients(practitioner), title, body=body,
                                 url=reverse("medstaff:practitioner", args=[practitioner.pk]))
            Credential.objects.filter(pk=credential.pk).update(alerted_at_days=due)
            if due == 0 and credential.kind == CredentialKind.LICENCE and practitioner.licence_expired_on is None:
                practitioner.licence_expired_on = credential.expires_on
                practitioner.save(update_fields=["licence_expired_on"])
            alerted += 1
    return alerted


def sweep_reappointments(today: date) -> int:
    """Tell the office, once per due date, of each active practitioner whose reappointment falls
    due within REAPPOINTMENT_NOTICE_DAYS (or is overdue and was never told)."""
    told = ReappointmentAlert.objects.filter(practitioner=OuterRef("pk"), due_on=OuterRef("reappointment_due"))
    due = (Practitioner.objects.filter(status=PractitionerStatus.ACTIVE, reappointment_due__isnull=False,
                                       reappointment_due__lte=today + timedelta(days=REAPPOINTMENT_NOTICE_DAYS))
           .exclude(Exists(told)).select_related("department__facility").order_by("pk"))
    count = 0
    with transaction.atomic():
        for practitioner in due:
            try:
                with transaction.atomic():
                    ReappointmentAlert.objects.create(practitioner=practitioner, due_on=practitioner.reappointment_due,
                                                      sent_on=today)
            except IntegrityError:  # a sweep running at the same moment has told the office
                continue
            days = (practitioner.reappointment_due - today).days
            when = f"in {days} days" if days > 0 else ("today" if days == 0 else f"{-days} days ago")
            notifications.notify(
                permissions.people_who("medstaff.receive_credential_alerts", practitioner.department),
                f"Reappointment due {when}: {practitioner}",
                body=f"The reappointment of {practitioner} falls due on {practitioner.reappointment_due:%Y-%m-%d}.",
                url=reverse("medstaff:practitioner", args=[practitioner.pk]))
            count += 1
    return count


def connect() -> None:
    """Registries of the credentials (audit, navigation, the daily sweep, the demo), from ready()."""
    from andon.platform import demo, navigation

    from . import demo_practitioners
    from .sweep import register_sweep

    audit.register(Credential, exclude_fields=["version", "alerted_at_days"])
    entry = navigation.NavEntry("Expiring credentials", "medstaff:expiring", "medstaff.view_practitioners",
                                "calendar-x")
    if entry not in navigation.ENTRIES:
        navigation.add(entry)
    register_sweep("credential alerts", sweep_credentials)
    register_sweep("reappointments due", sweep_reappointments)
    if demo_practitioners.load not in demo.DEMO_LOADERS:
        demo.register_demo_loader(demo_practitioners.load)
