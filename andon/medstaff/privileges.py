"""Delineated privileges: each department's catalogue (core and special privileges, their criteria
and the FPPE plan a grant starts), a practitioner's request taken through its steps in order
(department chair → credentials committee → medical executive committee → board, each dated with
the meeting's day and recorded with who and a note), and the privileges the board's approval
grants. A new privilege starts an FPPE (fppe.start_fppe). An expired licence flags the
practitioner's privileges and stops new grants. docs/medstaff.md, "Privileges and FPPE".

Who may: medstaff.manage_privilege_catalogue keeps the catalogue; medstaff.request_privileges
enters requests; the chair step is medstaff.recommend_privileges over the practitioner's department,
the credentials committee's medstaff.review_privileges, and the office records the MEC's and the
board's decisions (medstaff.record_privilege_decisions), as it does a change of a grant's status."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from andon.platform import audit, concurrency, notifications, permissions
from andon.platform.models import Sequence, Unit

from .fppe import checked_plan, start_fppe
from .models import (FppeTrigger, GrantedPrivilege, GrantStatus, Practitioner, Privilege, PrivilegeKind,
                     PrivilegeRequest, PrivilegeStep, RequestStage, StepOutcome)
from .practitioners import REAPPOINTMENT_YEARS, add_practitioner_section, add_years

__all__ = [
    "STEPS", "access_granted_privilege", "access_privilege", "access_privilege_request", "catalogue_of",
    "create_privilege", "edit_privilege", "expire_privileges", "granted_privileges_of", "privilege_values",
    "record_step",
    "request_privileges", "requestable_privileges", "retire_privilege", "set_grant_status", "step_capability",
    "visible_granted_privileges", "visible_privilege_requests", "visible_privileges",
]

NAME_MAX = 200
TEXT_MAX = 2000
NOTE_MAX = 4000
# The steps in order, the capability each needs and the word for going forward.
STEPS = [
    (RequestStage.CHAIR, "medstaff.recommend_privileges", StepOutcome.RECOMMEND),
    (RequestStage.CREDENTIALS, "medstaff.review_privileges", StepOutcome.RECOMMEND),
    (RequestStage.MEC, "medstaff.record_privilege_decisions", StepOutcome.RECOMMEND),
    (RequestStage.BOARD, "medstaff.record_privilege_decisions", StepOutcome.APPROVE),
]
_STEP = {stage: (capability, forward) for stage, capability, forward in STEPS}
_NEXT = {STEPS[i][0]: STEPS[i + 1][0] for i in range(len(STEPS) - 1)}
HELD = (GrantStatus.ACTIVE, GrantStatus.RESTRICTED, GrantStatus.SUSPENDED)
# Statuses the office sets by hand (restricted and revoked also come from an FPPE's decision).
SETTABLE = (GrantStatus.ACTIVE, GrantStatus.RESTRICTED, GrantStatus.SUSPENDED, GrantStatus.RELINQUISHED,
            GrantStatus.REVOKED, GrantStatus.EXPIRED)


def step_capability(stage: str) -> str:
    return _STEP[stage][0]


# --- reading ------------------------------------------------------------------------------------

def _signed_in(user) -> bool:
    return getattr(user, "is_authenticated", False) and user.is_active


def visible_privileges(user, capability: str = "medstaff.view_practitioners"):
    """The catalogue of the departments where the user may `capability`."""
    if not _signed_in(user):
        return Privilege.objects.none()
    return Privilege.objects.filter(department__in=permissions.units_where(user, capability)).select_related(
        "department__facility")


def catalogue_of(department: Unit, *, active_only: bool = True):
    found = Privilege.objects.filter(department=department)
    return found.filter(active=True) if active_only else found


def visible_privilege_requests(user):
    """Requests of practitioners whose file the user reads (which every step's role does)."""
    if not _signed_in(user):
        return PrivilegeRequest.objects.none()
    return PrivilegeRequest.objects.filter(practitioner__department__in=permissions.units_where(
        user, "medstaff.view_practitioners")).select_related("practitioner__department")


def visible_granted_privileges(user):
    if not _signed_in(user):
        return GrantedPrivilege.objects.none()
    return GrantedPrivilege.objects.filter(
        Q(practitioner__department__in=permissions.units_where(user, "medstaff.view_practitioners"))
        | Q(practitioner__user=user)).select_related("practitioner__department", "privilege")


def granted_privileges_of(practitioner: Practitioner):
    return practitioner.granted_privileges.select_related("privilege", "practitioner").order_by(
        "privilege__kind", "privilege__name", "-granted_from")


def access_privilege(user, privilege_id, capability: str = "medstaff.view_practitioners") -> Privilege:
    return permissions.fetch_checked(user, capability, Privilege.objects.select_related("department__facility"),
                                     pk=privilege_id)


def access_privilege_request(user, request_id, capability: str = "medstaff.view_practitioners") -> PrivilegeRequest:
    """The request, if the user may `capability` over the practitioner's department (every role
    that records a step reads the files of the department: the chair, the committee, the office)."""
    return permissions.fetch_checked(user, capability, PrivilegeRequest.objects.select_related(
        "practitioner__department__facility", "requested_by"), pk=request_id)


def access_granted_privilege(user, grant_id, capability: str = "medstaff.view_practitioners") -> GrantedPrivilege:
    return permissions.fetch_checked(user, capability, GrantedPrivilege.objects.select_related(
        "practitioner__department__facility", "privilege"), pk=grant_id)


# --- the catalogue ------------------------------------------------------------------------------

def _text(errors: dict, name: str, value, limit: int, required: str = "") -> str:
    text = (value or "").strip() if isinstance(value, str | type(None)) else None
    if text is None:
        errors[name] = "Write it as text."
        return ""
    if required and not text:
        errors[name] = required
    elif len(text) > limit:
        errors[name] = f"It is {len(text):,} characters long; keep it to {limit:,}."
    return text


def _privilege_fields(errors: dict, *, name, kind, description, education, training, volume, certification,
                      fppe_methods, fppe_cases, fppe_days) -> dict:
    if kind not in PrivilegeKind.values:
        errors["kind"] = f"{kind!r} is not a kind of privilege: core or special."
    plan = checked_plan(errors, fppe_methods, fppe_cases, fppe_days, prefix="fppe_")
    return {"name": _text(errors, "name", name, NAME_MAX, "Name the privilege."), "kind": kind,
            "description": _text(errors, "description", description, TEXT_MAX),
            "education": _text(errors, "education", education, TEXT_MAX),
            "training": _text(errors, "training", training, TEXT_MAX),
            "volume": _text(errors, "volume", volume, TEXT_MAX),
            "certification": _text(errors, "certification", certification, TEXT_MAX),
            "fppe_methods": plan["methods"], "fppe_cases": plan["cases_required"], "fppe_days": plan["duration_days"]}


def _name_taken(errors: dict, department, name: str, exclude=None) -> None:
    if name and Privilege.objects.filter(department=department, name__iexact=name).exclude(
            pk=getattr(exclude, "pk", None)).exists():
        errors["name"] = f"{department.name} already has a privilege named {name!r}."


@audit.changes_by_user
def create_privilege(user, department: Unit, *, name: str, kind: str = PrivilegeKind.CORE, description: str = "",
                     education: str = "", training: str = "", volume: str = "", certification: str = "",
                     fppe_methods=(), fppe_cases=None, fppe_days=None) -> Privilege:
    """A privilege of the department's catalogue, with its criteria and the FPPE a grant starts."""
    permissions.check(user, "medstaff.manage_privilege_catalogue", department)
    errors: dict = {}
    values = _privilege_fields(errors, name=name, kind=kind, description=description, education=education,
                               training=training, volume=volume, certification=certification,
                               fppe_methods=fppe_methods, fppe_cases=fppe_cases, fppe_days=fppe_days)
    _name_taken(errors, department, values["name"])
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        return Privilege.objects.create(department=department, created_by=user, **values)


@audit.changes_by_user
def edit_privilege(user, privilege: Privilege, version=None, **fields) -> Privilege:
    """The privilege's name, kind, criteria and default FPPE plan (grants keep pointing at it)."""
    permissions.check(user, "medstaff.manage_privilege_catalogue", privilege)
    with transaction.atomic():
        concurrency.lock(privilege, version)
        errors: dict = {}
        values = _privilege_fields(errors, **{**privilege_values(privilege), **fields})
        _name_taken(errors, privilege.department, values["name"], exclude=privilege)
        if errors:
            raise ValidationError(errors)
        for name, value in values.items():
            setattr(privilege, name, value)
        privilege.save()
    return privilege


def privilege_values(privilege: Privilege) -> dict:
    return {"name": privilege.name, "kind": privilege.kind, "description": privilege.description,
            "education": privilege.education, "training": privilege.training, "volume": privilege.volume,
            "certification": privilege.certification, "fppe_methods": privilege.fppe_methods,
            "fppe_cases": privilege.fppe_cases, "fppe_days": privilege.fppe_days}


@audit.changes_by_user
def retire_privilege(user, privilege: Privilege, version=None) -> Privilege:
    """No longer requested; those who hold it keep it until it ends."""
    permissions.check(user, "medstaff.manage_privilege_catalogue", privilege)
    with transaction.atomic():
        concurrency.lock(privilege, version)
        if not privilege.active:
            raise ValidationError(f"{privilege.name} is retired already.")
        privilege.active = False
        privilege.save(update_fields=["active"])
    return privilege


# --- requests and their steps -------------------------------------------------------------------

def requestable_privileges(practitioner: Practitioner):
    """The active privileges of the practitioner's department they neither hold nor have asked for."""
    held = practitioner.granted_privileges.filter(status__in=HELD).values("privilege_id")
    asked = PrivilegeRequest.privileges.through.objects.filter(
        privilegerequest__practitioner=practitioner,
        privilegerequest__stage__in=[stage for stage, _, _ in STEPS]).values("privilege_id")
    return catalogue_of(practitioner.department).exclude(pk__in=held).exclude(pk__in=asked)


@audit.changes_by_user
def request_privileges(user, practitioner: Practitioner, privileges, *, note: str = "") -> PrivilegeRequest:
    """A request (PRQ-<year>-NNN) for privileges of the practitioner's department, waiting for the
    department chair's recommendation; the chairs of the department are told."""
    permissions.check(user, "medstaff.request_privileges", practitioner)
    errors: dict = {}
    note = _text(errors, "note", note, NOTE_MAX)
    privileges = list(privileges or [])
    offered = {p.pk: p for p in requestable_privileges(practitioner)}
    if not privileges:
        errors["privileges"] = "Choose at least one privilege."
    for privilege in privileges:
        if getattr(privilege, "pk", None) not in offered:
            errors["privileges"] = (f"{privilege} cannot be requested for {practitioner}: it is not an active "
                                    f"privilege of {practitioner.department.name}, or it is held or asked for already.")
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    with transaction.atomic():
        number = Sequence.next(f"PRQ-{today.year}")
        found = PrivilegeRequest.objects.create(reference=f"PRQ-{today.year}-{number:03d}", practitioner=practitioner,
                                                note=note, requested_on=today, requested_by=user)
        found.privileges.set(privileges)
        _tell(found, RequestStage.CHAIR)
    return found


def _tell(found: PrivilegeRequest, stage: str) -> None:
    """Those who record the step the request now waits at (a notification: what to open, no more)."""
    people = permissions.people_who(step_capability(stage), found)
    notifications.notify(people, f"{found.reference}: privileges of {found.practitioner} await the "
                                 f"{RequestStage(stage).label.lower()}", url=_request_url(found), email=False)


def _request_url(found) -> str:
    from django.urls import reverse

    return reverse("medstaff:privilege_request", args=[found.pk])


def _checked_day(errors: dict, met_on, found: PrivilegeRequest) -> date | None:
    if not isinstance(met_on, date):
        errors["met_on"] = "Give the meeting's date (YYYY-MM-DD)."
        return None
    if met_on > timezone.localdate():
        errors["met_on"] = f"The meeting's date {met_on:%Y-%m-%d} is in the future: record a meeting that has met."
    elif met_on < found.requested_on:
        errors["met_on"] = (f"The meeting's date {met_on:%Y-%m-%d} is before the request "
                            f"({found.requested_on:%Y-%m-%d}).")
    else:
        last = found.steps.order_by("-met_on").first()
        if last and met_on < last.met_on:
            before = RequestStage(last.step).label.lower()
            errors["met_on"] = (f"The meeting's date {met_on:%Y-%m-%d} is before the {before}'s "
                                f"({last.met_on:%Y-%m-%d}): steps follow one another.")
    return met_on


def _checked_outcome(errors: dict, step: str, outcome) -> None:
    forward = _STEP[step][1]
    allowed = (forward, StepOutcome.DENY, StepOutcome.DEFER)
    if outcome not in allowed:
        errors["outcome"] = (f"{outcome!r} is not an outcome of the {RequestStage(step).label.lower()}'s step: "
                             f"{', '.join(allowed)}.")


def _refuse_out_of_order(found: PrivilegeRequest, step: str) -> None:
    if not found.is_open:
        raise ValidationError({"step": f"{found.reference} is {found.get_stage_display().lower()}: "
                                       "its steps are over."})
    if step != found.stage:
        when = "later" if _order(step) > _order(found.stage) else "earlier and is recorded"
        raise ValidationError({"step": (f"{found.reference} waits for the {found.get_stage_display().lower()}; the "
                                        f"{RequestStage(step).label.lower()}'s step comes {when}.")})


def _order(stage: str) -> int:
    return [s for s, _, _ in STEPS].index(stage)


@audit.changes_by_user
def record_step(user, found: PrivilegeRequest, step: str, *, outcome: str, met_on, note: str = "",
                version=None) -> PrivilegeStep:
    """The decision of the step the request waits at, dated with the meeting's day (not in the
    future, not before the step before it): recommend (approve, at the board) moves it on, deny
    ends it, defer keeps it at the step. The board's approval grants the privileges, each starting
    an FPPE with the catalogue's plan."""
    if step not in _STEP:
        raise ValidationError({"step": f"{step!r} is not a step: {', '.join(_STEP)}."})
    permissions.check(user, step_capability(step), found)
    with transaction.atomic():
        concurrency.lock(found, version)
        _refuse_out_of_order(found, step)
        errors: dict = {}
        _checked_outcome(errors, step, outcome)
        met_on = _checked_day(errors, met_on, found)
        note = _text(errors, "note", note, NOTE_MAX)
        if outcome == StepOutcome.DENY and not note:
            errors["note"] = "Say why the request is denied."
        if errors:
            raise ValidationError(errors)
        recorded = PrivilegeStep.objects.create(request=found, step=step, outcome=outcome, met_on=met_on, note=note,
                                                recorded_by=user)
        if outcome == StepOutcome.DENY:
            found.stage = RequestStage.DENIED
        elif outcome == StepOutcome.APPROVE:
            _grant(user, found, met_on)
            found.stage = RequestStage.GRANTED
        elif outcome == StepOutcome.RECOMMEND:
            found.stage = _NEXT[step]
            _tell(found, found.stage)
        found.save()
    return recorded


def _grant(user, found: PrivilegeRequest, day: date) -> list[GrantedPrivilege]:
    practitioner = found.practitioner
    if practitioner.licence_expired_on:
        raise ValidationError({"practitioner": (
            f"{practitioner}'s licence expired on {practitioner.licence_expired_on:%Y-%m-%d}: no privilege is granted "
            "until a current licence is recorded.")})
    until = practitioner.reappointment_due if practitioner.reappointment_due and practitioner.reappointment_due > day \
        else add_years(day, REAPPOINTMENT_YEARS)
    granted = []
    for privilege in found.privileges.order_by("name"):
        if practitioner.granted_privileges.filter(privilege=privilege, status__in=HELD).exists():
            raise ValidationError({"privileges": f"{practitioner} holds {privilege.name} already."})
        grant = GrantedPrivilege.objects.create(practitioner=practitioner, privilege=privilege, request=found,
                                                granted_from=day, granted_until=until)
        start_fppe(user, practitioner, trigger=FppeTrigger.NEW_PRIVILEGE, check=False,
                   reason=f"New privilege: {privilege.name} (granted {day:%Y-%m-%d}, {found.reference}).",
                   source_reference=privilege.name[:200], source_privilege=grant,
                   methods=privilege.fppe_methods, cases_required=privilege.fppe_cases,
                   duration_days=privilege.fppe_days)
        granted.append(grant)
    return granted


# --- granted privileges -------------------------------------------------------------------------

@audit.changes_by_user
def set_grant_status(user, grant: GrantedPrivilege, status: str, *, reason: str, version=None,
                     check: bool = True) -> GrantedPrivilege:
    """Suspend, restore, restrict, revoke, record as relinquished or expired, with the reason.
    `check=False`: for an FPPE's decision, whose own capability was checked."""
    if check:
        permissions.check(user, "medstaff.record_privilege_decisions", grant)
    with transaction.atomic():
        concurrency.lock(grant, version)
        errors: dict = {}
        reason = _text(errors, "reason", reason, NOTE_MAX, "Say why the status changes.")
        if status not in SETTABLE:
            errors["status"] = f"{status!r} is not a status: {', '.join(SETTABLE)}."
        elif status == grant.status:
            errors["status"] = f"{grant.privilege.name} is {grant.get_status_display().lower()} already."
        elif status in HELD and grant.status not in HELD:
            errors["status"] = (f"{grant.privilege.name} was {grant.get_status_display().lower()}: a privilege that "
                                "ended is requested again, not restored.")
        elif status == GrantStatus.ACTIVE and grant.practitioner.licence_expired_on:
            errors["status"] = (f"{grant.practitioner}'s licence expired on "
                                f"{grant.practitioner.licence_expired_on:%Y-%m-%d}: it cannot be made active.")
        if errors:
            raise ValidationError(errors)
        grant.status, grant.status_reason, grant.status_changed_on = status, reason, timezone.localdate()
        grant.save()
    return grant


def expire_privileges(today: date) -> int:
    """The daily sweep: held privileges whose term ended before `today` are expired (once)."""
    ended = GrantedPrivilege.objects.filter(status__in=HELD, granted_until__lt=today)
    return ended.update(status=GrantStatus.EXPIRED, status_changed_on=today,
                        status_reason="The term of the grant ended (reappointment due).")


def connect() -> None:
    """Registries of the privileges (audit, navigation, work, sweeps, demo), from ready()."""
    from andon.platform import navigation, sweeps
    from andon.platform import services as platform_services
    from andon.platform.demo import register_demo_loader
    from andon.platform.navigation import NavEntry

    from .demo_privileges import load_demo_privileges

    for model in (Privilege, PrivilegeRequest, GrantedPrivilege):
        audit.register(model, exclude_fields=["version"])
    audit.register(PrivilegeStep)
    navigation.add(NavEntry("Privileges", "medstaff:privilege_requests", "medstaff.view_practitioners", "award"))
    platform_services.register_work_provider(privilege_work)
    sweeps.register_sweep("medstaff", "expired privileges", expire_privileges)
    add_practitioner_section(privileges_section)
    register_demo_loader(load_demo_privileges)


def privileges_section(user, practitioner: Practitioner):
    """The profile's part: the privileges held (flagged while the licence is expired), for those
    who read the practitioner's privileges."""
    from django.urls import reverse

    from .practitioners import Section

    if not permissions.can(user, "medstaff.view_practitioners", practitioner):
        return None
    held = [grant for grant in granted_privileges_of(practitioner) if grant.status in HELD]
    lines = [{"text": f"{grant.privilege.name} ({grant.get_status_display().lower()}, until {grant.granted_until:%d %b %Y})",
              "flag": grant.licence_flag} for grant in held]
    return Section("medstaff/_practitioner_links.html", {
        "key": "privileges", "title": "Privileges", "lines": lines, "empty": "No privileges held.",
        "links": [("Privileges, requests and FPPE", reverse("medstaff:practitioner_privileges", args=[practitioner.pk]))]})


def privilege_work(user) -> list:
    """The home page's lines: requests waiting at a step this person records."""
    from andon.platform.services import WorkItem

    if not _signed_in(user):
        return []
    items = []
    for stage, capability, _ in STEPS:
        if not permissions.can(user, capability):  # from the grants read already: no query
            continue
        units = permissions.units_where(user, capability)
        waiting = PrivilegeRequest.objects.filter(stage=stage, practitioner__department__in=units).select_related(
            "practitioner")[:20]
        items += [WorkItem(f"{found.reference}: {found.practitioner}'s privileges", _request_url(found), "review",
                           f"Waiting for the {RequestStage(stage).label.lower()}") for found in waiting]
    return items
