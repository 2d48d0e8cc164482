"""Focused professional practice evaluation: started automatically by a newly granted privilege
and by a concern (OPPE, a safety event, a complaint, peer review); its plan (methods, a number of
cases or a duration, a proctor), its cases, its progress and the credentials committee's decision,
which may restrict or revoke the privilege it evaluated. docs/medstaff.md, "Privileges and FPPE".

Who may: medstaff.view_fppe reads them over the department; medstaff.manage_fppe (the office, the
chair) starts one for a concern, plans and begins it; the proctor records cases (object rule
medstaff.record_fppe_case, rules.py), as may manage_fppe; medstaff.decide_fppe (the credentials
committee) decides."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.utils import timezone

from andon.platform import audit, concurrency, notifications, permissions
from andon.platform.models import Sequence

from .models import (CaseResult, Fppe, FppeCase, FppeDecision, FppeDecisionKind, FppeMethod, FppeStatus, FppeTrigger,
                     Practitioner)
from .rules import is_a_practitioner, proctors_fppes

__all__ = ["CONCERNS", "Progress", "access_fppe", "begin_fppe", "checked_plan", "decide_fppe", "plan_fppe",
           "progress_of", "record_fppe_case", "start_fppe", "visible_fppes"]

REASON_LIMIT = 4000
REFERENCE_MAX = 100
CASES_MAX = 500
DAYS_MAX = 730
# The triggers a person starts an FPPE for by hand (new_privilege is the grant's own).
CONCERNS = [(value, label) for value, label in FppeTrigger.choices if value != FppeTrigger.NEW_PRIVILEGE]


def access_fppe(user, fppe_id, capability: str = "medstaff.view_fppe_record") -> Fppe:
    """The FPPE, if the user may `capability` it: Http404 when there is none, PermissionDenied
    when they may not. Its proctor reads it (medstaff.view_fppe_record, rules.py)."""
    return permissions.fetch_checked(user, capability, Fppe.objects.select_related(
        "practitioner__department__facility", "created_by", "proctor", "source_privilege__privilege"), pk=fppe_id)


def visible_fppes(user):
    """FPPEs of the departments where the user reads them, and those they proctor; open ones first
    (in progress, then planning), then by start."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Fppe.objects.none()
    found = Fppe.objects.filter(Q(practitioner__department__in=permissions.units_where(user, "medstaff.view_fppe"))
                                | Q(proctor__user=user))
    return found.select_related("practitioner__department", "proctor").annotate(
        case_count=Count("cases"), concern_count=Count("cases", filter=Q(cases__result=CaseResult.CONCERNS)),
        open_order=Case(When(status=FppeStatus.IN_PROGRESS, then=Value(0)), When(status=FppeStatus.PLANNING,
                                                                                then=Value(1)),
                        default=Value(2), output_field=IntegerField()),
    ).order_by("open_order", "started_on", "pk")


# --- the plan -----------------------------------------------------------------------------------

def _whole(errors: dict, name: str, value, limit: int, label: str):
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            errors[name] = f"{label}: {value!r} is not a whole number."
            return None
    if not 1 <= value <= limit:
        errors[name] = f"{label} is {value}; it must be from 1 to {limit}."
        return None
    return value


def checked_plan(errors: dict, methods, cases, days, *, prefix: str = "") -> dict:
    """A plan's methods (one or more of FppeMethod), number of cases and duration in days, checked;
    problems go in `errors` under the names prefixed (the catalogue's fields are fppe_…)."""
    methods = list(dict.fromkeys(methods or []))
    unknown = [m for m in methods if m not in FppeMethod.values]
    if unknown:
        errors[f"{prefix}methods"] = f"{unknown[0]!r} is not a method: {', '.join(FppeMethod.values)}."
    return {"methods": methods,
            "cases_required": _whole(errors, f"{prefix}cases", cases, CASES_MAX, "The number of cases"),
            "duration_days": _whole(errors, f"{prefix}days", days, DAYS_MAX, "The duration in days")}


def _plan_complete(errors: dict, fppe: Fppe) -> None:
    if not fppe.methods:
        errors["methods"] = "Choose at least one method."
    if not fppe.cases_required and not fppe.duration_days:
        errors["cases_required"] = "Give a number of cases or a duration in days."
    if FppeMethod.PROCTORING in fppe.methods and fppe.proctor_id is None:
        errors["proctor"] = "Proctoring needs a proctor."


def _checked_proctor(errors: dict, fppe: Fppe, proctor) -> None:
    if proctor is None:
        return
    if proctor.pk == fppe.practitioner_id:
        errors["proctor"] = f"{proctor} is the practitioner evaluated: the proctor must be someone else."
    elif proctor.organisation_id != fppe.practitioner.organisation_id:
        errors["proctor"] = f"{proctor} is not on the medical staff of {fppe.practitioner}'s organisation."
    elif proctor.user_id is None:
        errors["proctor"] = f"{proctor} has no Andon account: a proctor records the cases from their own."
    elif not is_a_practitioner(proctor.user):
        errors["proctor"] = (f"{proctor}'s account does not hold the Practitioner role: ask an administrator to "
                             "grant it, so that they find the FPPE in their menu.")


@audit.changes_by_user
def start_fppe(user, practitioner: Practitioner, *, trigger: str, reason: str, source_reference: str = "",
               source_url: str = "", check: bool = True, source_privilege=None, methods=(), cases_required=None,
               duration_days=None) -> Fppe:
    """A new FPPE of the practitioner, in planning (its plan pre-filled when given: a new
    privilege's comes from the catalogue), and the medical staff office told of it.

    `check=False` is for a service that has already checked its own capability and starts the FPPE
    as a consequence of it (granting a privilege starts one whoever records the grant)."""
    if check:
        permissions.check(user, "medstaff.manage_fppe", practitioner)
    reason = (reason or "").strip()
    errors: dict = {}
    if trigger not in FppeTrigger.values:
        errors["trigger"] = f"{trigger!r} is not one of {', '.join(FppeTrigger.values)}"
    if not reason:
        errors["reason"] = "say why the FPPE is started"
    if len(reason) > REASON_LIMIT:
        errors["reason"] = f"keep the reason within {REASON_LIMIT} characters"
    plan = checked_plan(errors, methods, cases_required, duration_days)
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    with transaction.atomic():
        number = Sequence.next(f"FPPE-{today.year}")
        fppe = Fppe.objects.create(reference=f"FPPE-{today.year}-{number:03d}", practitioner=practitioner,
                                   trigger=trigger, reason=reason, source_reference=source_reference[:200],
                                   source_url=source_url[:300], started_on=today, created_by=user,
                                   source_privilege=source_privilege, **plan)
        office = permissions.people_who("medstaff.manage_fppe", practitioner.department)
        notifications.notify(office, f"FPPE started: {practitioner}", body=f"{FppeTrigger(trigger).label}: {reason}",
                             url=_url(fppe), email=False)
    return fppe


def _url(fppe) -> str:
    from django.urls import reverse

    return reverse("medstaff:fppe", args=[fppe.pk])


@audit.changes_by_user
def plan_fppe(user, fppe: Fppe, version=None, *, methods, cases_required=None, duration_days=None,
              proctor: Practitioner | None = None) -> Fppe:
    """The plan of an FPPE not yet concluded: methods, cases or duration, proctor."""
    permissions.check(user, "medstaff.manage_fppe", fppe)
    with transaction.atomic():
        concurrency.lock(fppe, version)
        if fppe.status == FppeStatus.CONCLUDED:
            raise ValidationError(f"{fppe.reference} is concluded: its plan is kept as it was.")
        errors: dict = {}
        plan = checked_plan(errors, methods, cases_required, duration_days)
        _checked_proctor(errors, fppe, proctor)
        for name, value in plan.items():
            setattr(fppe, name, value)
        fppe.proctor = proctor
        _plan_complete(errors, fppe)
        if errors:
            raise ValidationError(errors)
        fppe.save()
    if proctor is not None and proctor.user_id:
        notifications.notify([proctor.user], f"You proctor {fppe.reference} ({fppe.practitioner})", url=_url(fppe),
                             email=False)
    return fppe


@audit.changes_by_user
def begin_fppe(user, fppe: Fppe, version=None) -> Fppe:
    """Planning → in progress: cases are recorded from today; the duration counts from today."""
    permissions.check(user, "medstaff.manage_fppe", fppe)
    with transaction.atomic():
        concurrency.lock(fppe, version)
        if fppe.status != FppeStatus.PLANNING:
            raise ValidationError(f"{fppe.reference} is {fppe.get_status_display().lower()}: it began already.")
        errors: dict = {}
        _plan_complete(errors, fppe)
        if errors:
            raise ValidationError(errors)
        fppe.status, fppe.begun_on = FppeStatus.IN_PROGRESS, timezone.localdate()
        fppe.save(update_fields=["status", "begun_on"])
    return fppe


@audit.changes_by_user
def record_fppe_case(user, fppe: Fppe, *, case_date, case_reference: str, result: str, notes: str = "") -> FppeCase:
    """One case evaluated: by the proctor or those who manage FPPE over the department."""
    permissions.check(user, "medstaff.record_fppe_case", fppe)
    errors: dict = {}
    case_reference = (case_reference or "").strip() if isinstance(case_reference, str) else ""
    notes = (notes or "").strip() if isinstance(notes, str) else ""
    if not case_reference:
        errors["case_reference"] = "Give the case's reference: the encounter, MRN or procedure."
    elif len(case_reference) > REFERENCE_MAX:
        errors["case_reference"] = f"Keep the case's reference to {REFERENCE_MAX} characters."
    if result not in CaseResult.values:
        errors["result"] = f"{result!r} is not a result: {', '.join(CaseResult.values)}."
    if len(notes) > REASON_LIMIT:
        errors["notes"] = f"Keep the notes to {REASON_LIMIT:,} characters."
    if not isinstance(case_date, date):
        errors["case_date"] = "Give the case's date (YYYY-MM-DD)."
    elif case_date > timezone.localdate():
        errors["case_date"] = f"The case's date {case_date:%Y-%m-%d} is in the future."
    with transaction.atomic():
        concurrency.lock(fppe)
        if fppe.status != FppeStatus.IN_PROGRESS:
            raise ValidationError(f"{fppe.reference} is {fppe.get_status_display().lower()}: cases are recorded "
                                  "while it is in progress.")
        if not errors and case_date < fppe.begun_on - timedelta(days=365):
            errors["case_date"] = f"The case's date {case_date:%Y-%m-%d} is more than a year before the FPPE began."
        if errors:
            raise ValidationError(errors)
        return FppeCase.objects.create(fppe=fppe, case_date=case_date, case_reference=case_reference, result=result,
                                       notes=notes, recorded_by=user)


@dataclass(frozen=True)
class Progress:
    cases: int
    concerns: int
    cases_required: int | None
    ends_on: date | None
    days_left: int | None

    @property
    def complete(self) -> bool:
        cases_done = self.cases_required is None or self.cases >= self.cases_required
        time_done = self.days_left is None or self.days_left <= 0
        return cases_done and time_done

    @property
    def percent(self) -> int:
        if self.cases_required:
            return min(100, round(100 * self.cases / self.cases_required))
        return 0

    @property
    def words(self) -> str:
        parts = [f"{self.cases} of {self.cases_required} cases" if self.cases_required else f"{self.cases} cases"]
        if self.days_left is not None:
            parts.append(f"{self.days_left} days left" if self.days_left > 0 else "its period has ended")
        return ", ".join(parts)


def progress_of(fppe: Fppe, today: date | None = None) -> Progress:
    """n of N cases (and how many raised concerns) and the days left of its duration."""
    today = today or timezone.localdate()
    if hasattr(fppe, "case_count"):  # counted with the list (visible_fppes): no query per row
        counts = {"n": fppe.case_count, "concerns": fppe.concern_count}
    else:
        counts = fppe.cases.aggregate(n=Count("pk"), concerns=Count("pk", filter=Q(result=CaseResult.CONCERNS)))
    ends_on = fppe.begun_on + timedelta(days=fppe.duration_days) if fppe.begun_on and fppe.duration_days else None
    return Progress(counts["n"], counts["concerns"], fppe.cases_required, ends_on,
                    (ends_on - today).days if ends_on else None)


@audit.changes_by_user
def decide_fppe(user, fppe: Fppe, version=None, *, decision: str, reason: str, decided_on, grants=(),
                more_cases=None, more_days=None) -> FppeDecision:
    """The credentials committee's decision on an FPPE in progress. Privileges confirmed ends it;
    FPPE extended keeps it open with more cases or days; restricted or revoked ends it and changes
    the status of the privilege it evaluated (a concern's FPPE names the practitioner's grants)."""
    from .privileges import set_grant_status  # privileges.py imports this file

    permissions.check(user, "medstaff.decide_fppe", fppe)
    with transaction.atomic():
        concurrency.lock(fppe, version)
        if fppe.status != FppeStatus.IN_PROGRESS:
            raise ValidationError(f"{fppe.reference} is {fppe.get_status_display().lower()}: the committee decides "
                                  "an FPPE in progress.")
        errors: dict = {}
        reason = (reason or "").strip() if isinstance(reason, str) else ""
        if decision not in FppeDecisionKind.values:
            errors["decision"] = f"{decision!r} is not a decision: {', '.join(FppeDecisionKind.values)}."
        if not reason:
            errors["reason"] = "Give the committee's reason."
        elif len(reason) > REASON_LIMIT:
            errors["reason"] = f"Keep the reason to {REASON_LIMIT:,} characters."
        if not isinstance(decided_on, date):
            errors["decided_on"] = "Give the date of the decision (YYYY-MM-DD)."
        elif decided_on > timezone.localdate() or decided_on < fppe.started_on:
            errors["decided_on"] = (f"The decision's date {decided_on:%Y-%m-%d} must be from the FPPE's start "
                                    f"({fppe.started_on:%Y-%m-%d}) to today.")
        changed = _decided_grants(errors, fppe, decision, list(grants or []))
        extension = _extension(errors, fppe, decision, more_cases, more_days)
        if errors:
            raise ValidationError(errors)
        recorded = FppeDecision.objects.create(fppe=fppe, decision=decision, reason=reason, decided_on=decided_on,
                                               decided_by=user)
        for grant in changed:
            set_grant_status(user, grant, decision, reason=f"{fppe.reference}: {reason}", check=False)
        if decision == FppeDecisionKind.EXTENDED:
            fppe.cases_required, fppe.duration_days = extension
        else:
            fppe.status, fppe.concluded_on = FppeStatus.CONCLUDED, decided_on
        fppe.save()
    return recorded


def _decided_grants(errors: dict, fppe: Fppe, decision: str, grants: list) -> list:
    """The grants a restriction or revocation changes: the FPPE's own privilege, else those named."""
    if decision not in (FppeDecisionKind.RESTRICTED, FppeDecisionKind.REVOKED):
        return []
    from .privileges import HELD

    if fppe.source_privilege_id and not grants:
        grants = [fppe.source_privilege]
    if not grants:
        errors["grants"] = "Name the privileges that are restricted or revoked."
    for grant in grants:
        if grant.practitioner_id != fppe.practitioner_id or grant.status not in HELD:
            errors["grants"] = f"{grant} is not a privilege {fppe.practitioner} holds."
        elif grant.status == decision:
            errors["grants"] = f"{grant} is {grant.get_status_display().lower()} already."
    return grants


def _extension(errors: dict, fppe: Fppe, decision: str, more_cases, more_days):
    if decision != FppeDecisionKind.EXTENDED:
        return None
    more = checked_plan(errors, [], more_cases, more_days, prefix="more_")
    if not more["cases_required"] and not more["duration_days"]:
        errors["more_cases"] = "An extension adds cases or days: give how many."
    cases = (fppe.cases_required or 0) + (more["cases_required"] or 0) or None
    days = (fppe.duration_days or 0) + (more["duration_days"] or 0) or None
    return cases, days


def connect() -> None:
    """Registries of the FPPE (audit, navigation, work), from ready()."""
    from andon.platform import navigation
    from andon.platform import services as platform_services
    from andon.platform.navigation import NavEntry

    audit.register(Fppe, exclude_fields=["version"])
    audit.register(FppeCase)
    audit.register(FppeDecision)
    navigation.add(NavEntry("FPPE", "medstaff:fppes", "medstaff.use_fppe", "clipboard2-pulse"))
    platform_services.register_work_provider(fppe_work)


def fppe_work(user) -> list:
    """The home page's lines: the FPPEs in progress this person proctors."""
    from andon.platform.services import WorkItem

    if not getattr(user, "is_authenticated", False) or not proctors_fppes(user):
        return []
    proctored = Fppe.objects.filter(proctor__user=user, status=FppeStatus.IN_PROGRESS).select_related("practitioner")
    return [WorkItem(f"{fppe.reference}: record cases of {fppe.practitioner}", _url(fppe), "due",
                     progress_of(fppe).words) for fppe in proctored[:20]]
