"""The actions module's door: pages, the API and other modules (RCA, audits, risks, FMEA) create
and change actions only through here. Every function asks the policy first and validates, and
every change is written to the audit trail with the person who made it.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, concurrency, permissions
from andon.platform.models import RoleGrant, Unit, User
from andon.platform.notifications import notify

from .models import OPEN_STATUSES, Action, Approval, Effectiveness, Status, Strength

TITLE_MAX = 200
TEXT_MAX = {"description": 4000, "measure": 2000, "source_label": 200}
DUE_SOON = timedelta(days=14)

# status -> statuses it may move to. Cancelling and reinstating are decisions about the plan,
# for those who manage actions; the owner moves their own action along the rest.
TRANSITIONS = {
    Status.PLANNED: {Status.IN_PROGRESS, Status.DONE, Status.CANCELLED},
    Status.IN_PROGRESS: {Status.PLANNED, Status.DONE, Status.CANCELLED},
    Status.DONE: {Status.IN_PROGRESS},
    Status.CANCELLED: {Status.PLANNED},
}
# Changing what an action is (not who does it or by when) sends it back for a decision:
# leadership approved a particular action.
SUBSTANCE = ("title", "description", "strength", "measure", "unit")
EDITABLE = ("title", "description", "source_label", "unit", "owner", "due_date", "strength", "measure")


# --- attribution --------------------------------------------------------------------------------

# --- validation ---------------------------------------------------------------------------------

def _clean_text(errors: dict, fields: dict) -> None:
    if "title" in fields:
        title = (fields["title"] or "").strip()
        if not title:
            errors["title"] = "Give the action a title."
        elif len(title) > TITLE_MAX:
            errors["title"] = f"At most {TITLE_MAX} characters."
        fields["title"] = title
    for name, limit in TEXT_MAX.items():
        if name in fields:
            fields[name] = (fields[name] or "").strip()
            if len(fields[name]) > limit:
                errors[name] = f"At most {limit:,} characters."
    if "measure" in fields and not fields["measure"]:
        errors["measure"] = "Say how you will know whether the action worked (a process or outcome measure)."


def _clean_choice(errors: dict, fields: dict, name: str, choices) -> None:
    if name in fields:
        try:
            fields[name] = choices(fields[name])
        except ValueError:
            errors[name] = f"Choose one of: {', '.join(choices.values)}."


def _clean_owner(errors: dict, owner, unit) -> None:
    if not isinstance(owner, User):
        errors["owner"] = "Choose the one person responsible."
    elif not owner.is_active:
        errors["owner"] = "The owner must be an active user."
    elif isinstance(unit, Unit) and not RoleGrant.objects.filter(
        user=owner, organisation_id=unit.facility.organisation_id
    ).exists():
        errors["owner"] = "The owner must be a member of staff of the unit's organisation."


def earliest_due_date(current: date | None = None) -> date:
    """The first day a due date may be set to: today, or an overdue action's own date (kept while
    other fields change). Date pickers start there; `_clean_due_date` refuses earlier days."""
    today = timezone.localdate()
    return current if current is not None and current < today else today


def _clean_due_date(errors: dict, due_date, today: date) -> None:
    if not isinstance(due_date, date):
        errors["due_date"] = "Give the date by which the action is to be done."
    elif due_date < today:
        errors["due_date"] = f"The due date {due_date:%Y-%m-%d} is in the past: choose today or a later day."


# --- reading ------------------------------------------------------------------------------------

def visible_actions(user):
    """Actions the user may see: those they own, and those in units where they hold actions.view."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Action.objects.none()
    units = permissions.units_where(user, "actions.view")
    return Action.objects.filter(Q(owner=user) | Q(unit__in=units)).select_related(
        "unit__facility", "owner", "approved_by")


def access_action(user, action_id, capability: str = "actions.view_action") -> Action:
    """The action, if the user may see it and `capability` it: Http404 when there is none,
    PermissionDenied when they may not. Seeing comes first, as on the action's page: one who
    may not see an action is refused whatever else their roles allow."""
    action = permissions.fetch_checked(user, "actions.view_action", Action.objects.select_related(
        "unit__facility", "owner", "approved_by", "created_by", "source_type"), pk=action_id)
    if capability != "actions.view_action":
        permissions.check(user, capability, action)
    return action


def open_action(user, action: Action) -> Action:
    permissions.check(user, "actions.view_action", action)
    return action


def actions_for_source(obj, user=None):
    """The actions that came from a record (an RCA, an audit finding); only those the user may
    see when `user` is given. Without a user the caller has checked access to `obj` itself."""
    queryset = visible_actions(user) if user is not None else Action.objects.select_related("unit", "owner")
    return queryset.filter(source_type=ContentType.objects.get_for_model(obj), source_id=obj.pk)


def overdue(queryset, today: date | None = None):
    """Open actions (planned or in progress) whose due date has passed."""
    today = today or timezone.localdate()
    return queryset.filter(status__in=OPEN_STATUSES, due_date__lt=today)


def due_soon(queryset, today: date | None = None, within: timedelta = DUE_SOON):
    """Open actions due from today up to `within` days ahead."""
    today = today or timezone.localdate()
    return queryset.filter(status__in=OPEN_STATUSES, due_date__gte=today, due_date__lte=today + within)


def open_actions_of(user):
    """The user's own open actions (planned or in progress), the earliest due first."""
    return Action.objects.filter(owner=user, status__in=OPEN_STATUSES).order_by("due_date", "pk")


def awaiting_decision(user):
    """Actions awaiting a decision that the user may take (approve or reject)."""
    units = permissions.units_where(user, "actions.approve")
    return Action.objects.filter(unit__in=units, approval=Approval.PENDING).exclude(status=Status.CANCELLED)


@dataclass(frozen=True)
class StrengthShare:
    """Counts per strength, and the share of stronger and intermediate actions (RCA² reports it
    per RCA); `share` is None when there are no actions."""

    stronger: int
    intermediate: int
    weaker: int

    @property
    def total(self) -> int:
        return self.stronger + self.intermediate + self.weaker

    @property
    def share(self) -> float | None:
        return (self.stronger + self.intermediate) / self.total if self.total else None

    def as_dict(self) -> dict:
        return {"stronger": self.stronger, "intermediate": self.intermediate, "weaker": self.weaker,
                "total": self.total, "share": self.share}


def strength_share(actions) -> StrengthShare:
    """Counts the actions given (a queryset or a list); filter out cancelled ones first if they
    should not count."""
    counts = {strength: 0 for strength in Strength}
    if isinstance(actions, QuerySet):
        for row in actions.order_by().values("strength").annotate(n=Count("pk")):
            counts[Strength(row["strength"])] += row["n"]
    else:
        for action in actions:
            counts[Strength(action.strength)] += 1
    return StrengthShare(counts[Strength.STRONGER], counts[Strength.INTERMEDIATE], counts[Strength.WEAKER])


# --- changing -----------------------------------------------------------------------------------

@transaction.atomic
def create_action(user, *, source=None, source_label: str = "", unit, owner, title: str, description: str = "",
                  due_date, strength, measure: str) -> Action:
    if not isinstance(unit, Unit):
        raise ValidationError({"unit": "Choose the unit the action applies to."})
    permissions.check(user, "actions.manage", unit)
    fields = {"title": title, "description": description, "source_label": source_label,
              "strength": strength, "measure": measure}
    errors: dict = {}
    _clean_text(errors, fields)
    _clean_choice(errors, fields, "strength", Strength)
    _clean_owner(errors, owner, unit)
    _clean_due_date(errors, due_date, timezone.localdate())
    if not unit.active:
        errors["unit"] = "The unit is no longer active."
    if source is not None and getattr(source, "pk", None) is None:
        errors["source"] = "The source must be a saved record."
    if errors:
        raise ValidationError(errors)
    action = Action(unit=unit, owner=owner, due_date=due_date, created_by=user, **fields)
    if source is not None:
        action.source_type = ContentType.objects.get_for_model(source)
        action.source_id = source.pk
        action.source_label = action.source_label or str(source)[:200]
    with audit.acting_as(user):
        action.save()
    if owner.pk != user.pk:
        notify([owner], f"Action assigned to you: {action.title}",
               body=f"Due {action.due_date:%Y-%m-%d}. {action.source_label}".strip(),
               url=reverse("actions:detail", args=[action.pk]))
    return action


@transaction.atomic
def update_action(user, action: Action, version: int | None = None, **fields) -> Action:
    """Change what the action is, who owns it or when it is due. Changing its substance (title,
    description, strength, measure, unit) after a decision sends it back for a decision.

    Every change of an action takes the `version` its form or API body read: made on an older
    one it is refused (concurrency.Stale), and it is always made on the row as it is now."""
    permissions.check(user, "actions.manage", action)
    concurrency.lock(action, version)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    errors: dict = {}
    _clean_text(errors, fields)
    _clean_choice(errors, fields, "strength", Strength)
    unit = fields.get("unit", action.unit)
    if "unit" in fields:
        if not isinstance(unit, Unit):
            errors["unit"] = "Choose the unit the action applies to."
        elif unit.pk != action.unit_id:
            if not unit.active:
                errors["unit"] = "The unit is no longer active."
            elif not permissions.can(user, "actions.manage", unit):
                errors["unit"] = "You cannot move actions to that unit."
    if "owner" in fields or "unit" in fields:
        _clean_owner(errors, fields.get("owner", action.owner), unit)
    if "due_date" in fields and fields["due_date"] != action.due_date:
        _clean_due_date(errors, fields["due_date"], timezone.localdate())
    if errors:
        raise ValidationError(errors)
    changed = {name: value for name, value in fields.items() if getattr(action, name) != value}
    if not changed:
        return action
    for name, value in changed.items():
        setattr(action, name, value)
    if action.approval != Approval.PENDING and set(changed) & set(SUBSTANCE):
        action.approval, action.approval_reason, action.approved_by, action.approved_at = Approval.PENDING, "", None, None
    with audit.acting_as(user):
        action.save()
    return action


@transaction.atomic
def set_status(user, action: Action, status, note: str = "", version: int | None = None) -> Action:
    """Move an action along: planned → in progress → done; cancelling and reinstating a
    cancelled action are for those who manage actions, and need a note."""
    permissions.check(user, "actions.set_status", action)
    concurrency.lock(action, version)
    try:
        status = Status(status)
    except ValueError:
        raise ValidationError({"status": f"Choose one of: {', '.join(Status.values)}."}) from None
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationError({"note": "At most 2,000 characters."})
    if status == action.status:
        return action
    if status not in TRANSITIONS[Status(action.status)]:
        raise ValidationError({"status": f"An action that is {action.get_status_display().lower()} cannot become "
                                         f"{status.label.lower()}."})
    governs = status == Status.CANCELLED or action.status == Status.CANCELLED
    if governs:
        permissions.check(user, "actions.manage", action)
        if not note:
            raise ValidationError({"note": "Say why the action is cancelled or reinstated."})
    if status in (Status.IN_PROGRESS, Status.DONE) and action.approval == Approval.REJECTED:
        raise ValidationError({"status": "This action was rejected; change it and have it decided again, or cancel it."})
    action.status = status
    action.completed_at = timezone.now() if status == Status.DONE else None
    action.audit_note = note
    with audit.acting_as(user):
        action.save()
    action.audit_note = ""
    return action


@transaction.atomic
def decide(user, action: Action, approve: bool, reason: str = "", version: int | None = None) -> Action:
    """Leadership's decision on an action; a rejection must say why (RCA²)."""
    permissions.check(user, "actions.approve", action)
    concurrency.lock(action, version)
    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationError({"reason": "Say why the action is rejected."})
    if len(reason) > 2000:
        raise ValidationError({"reason": "At most 2,000 characters."})
    if action.status == Status.CANCELLED:
        raise ValidationError({"approval": "A cancelled action is not decided on."})
    action.approval = Approval.APPROVED if approve else Approval.REJECTED
    action.approval_reason = reason
    action.approved_by = user
    action.approved_at = timezone.now()
    with audit.acting_as(user):
        action.save()
    return action


def date_back(user, action: Action, *, created_at, approved_at, completed_at, due_date: date,
              source_label: str) -> Action:
    """Give an action loaded as history (the demo hospital's two years) the dates it had, as
    the services stamp every record with the time it is made; audited as a change by `user`.
    Not a step of the workflow: nothing else calls it."""
    permissions.check(user, "actions.manage", action)
    concurrency.lock(action)
    action.created_at, action.approved_at, action.completed_at = created_at, approved_at, completed_at
    action.due_date, action.source_label = due_date, source_label[:200]
    with audit.acting_as(user):
        action.save()
    return action


@transaction.atomic
def record_effectiveness(user, action: Action, result, note: str, checked_on: date,
                         version: int | None = None) -> Action:
    """Whether a completed action worked, judged against its measure."""
    permissions.check(user, "actions.manage", action)
    concurrency.lock(action, version)
    errors: dict = {}
    try:
        result = Effectiveness(result)
    except ValueError:
        errors["result"] = f"Choose one of: {', '.join(Effectiveness.values)}."
    else:
        if result == Effectiveness.NOT_CHECKED:
            errors["result"] = "Say whether the action was effective."
    note = (note or "").strip()
    if len(note) > 2000:
        errors["note"] = "At most 2,000 characters."
    elif not note and result in (Effectiveness.PARTLY_EFFECTIVE, Effectiveness.NOT_EFFECTIVE):
        errors["note"] = "Say what the measure showed, and what happens next."
    if not isinstance(checked_on, date):
        errors["checked_on"] = "Give the date of the check."
    elif checked_on > timezone.localdate():
        errors["checked_on"] = "The check cannot be dated in the future."
    if action.status != Status.DONE:
        errors["status"] = "Effectiveness is checked once the action is done."
    if errors:
        raise ValidationError(errors)
    action.effectiveness_result = result
    action.effectiveness_note = note
    action.effectiveness_check_date = checked_on
    with audit.acting_as(user):
        action.save()
    return action



def action_form(*args, **kwargs):
    """The tracker's own form for a new action (title, unit and owner among those the user may
    assign, due date, strength, measure), for a module's page that opens actions from its records:
    the same choices and checks as the tracker's page. Takes the form's arguments (`user=` first)."""
    from .forms import ActionForm

    return ActionForm(*args, **kwargs)
