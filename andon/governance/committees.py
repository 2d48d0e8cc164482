"""Committees: terms of reference, quorum, the committee each reports to, members with their role
and term (chair, secretary, member, attendee), and the standing items of every agenda.

Who may: governance.manage_committees (the CQO, administrators) creates and changes committees;
reading one is the object rule governance.view_committee (rules.py): its members, or
governance.view_committees for a committee that is not confidential."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from andon.platform import audit, concurrency, history, permissions
from andon.platform.models import Organisation, User

from .models import Committee, MemberRole, Membership, StandingItem
from .models.committees import VOTING_ROLES

__all__ = ["access_committee", "add_member", "add_standing_item", "current_members", "end_membership",
           "my_committees", "remove_standing_item", "save_committee", "visible_committees"]

TEXT_MAX = 20000


def serving(today: date | None = None) -> Q:
    """Memberships whose term covers `today` (a filter on Membership)."""
    today = today or timezone.localdate()
    return Q(started_on__lte=today) & (Q(ended_on__isnull=True) | Q(ended_on__gte=today))


def current_members(committee: Committee, today: date | None = None):
    return (Membership.objects.filter(serving(today), committee=committee).select_related("user")
            .order_by("role", "user__last_name", "user__first_name"))


def voting_members(committee: Committee, today: date | None = None):
    return current_members(committee, today).filter(role__in=VOTING_ROLES)


def my_committees(user):
    """The committees the user sits on today, with the role (Membership rows)."""
    return (Membership.objects.filter(serving(), user=user, committee__active=True).select_related("committee")
            .order_by("committee__name"))


def visible_committees(user):
    """Every committee the user may read: the ones they sit on, and (governance.view_committees)
    every committee of their organisations that is not confidential."""
    mine = Membership.objects.filter(serving(), user=user).values("committee_id")
    visible = Q(pk__in=mine)
    organisations = [o for o in Organisation.objects.all() if permissions.can(user, "governance.view_committees", o)]
    if organisations:
        visible |= Q(organisation__in=organisations, confidential=False)
    return Committee.objects.filter(visible).select_related("reports_to").order_by("name")


def access_committee(user, committee_id, capability: str = "governance.view_committee") -> Committee:
    return permissions.fetch_checked(user, capability, Committee.objects.select_related("organisation", "reports_to"),
                                     pk=committee_id)


# --- changing committees ----------------------------------------------------------------------------------------

def _clean(errors: dict, committee: Committee, fields: dict) -> dict:
    name = " ".join((fields.get("name") or "").split())
    if not name:
        errors["name"] = "Give the committee a name."
    elif len(name) > 200:
        errors["name"] = "At most 200 characters."
    key = slugify(fields.get("key") or name)[:60]
    if key and Committee.objects.filter(key=key).exclude(pk=committee.pk).exists():
        errors["key"] = f"Another committee has the key {key!r}."
    terms = (fields.get("terms_of_reference") or "").strip()
    if len(terms) > TEXT_MAX:
        errors["terms_of_reference"] = f"At most {TEXT_MAX:,} characters."
    quorum = fields.get("quorum")
    if not isinstance(quorum, int) or not 1 <= quorum <= 100:
        errors["quorum"] = "The quorum is a number of voting members from 1 to 100."
    reports_to = fields.get("reports_to")
    if reports_to is not None:
        if reports_to.organisation_id != committee.organisation_id:
            errors["reports_to"] = "A committee reports to a committee of its own organisation."
        elif _reaches(reports_to, committee):
            errors["reports_to"] = f"{reports_to.name} reports (directly or not) to this committee: a loop."
    return {"name": name, "key": key, "terms_of_reference": terms, "quorum": quorum, "reports_to": reports_to,
            "meets_every": (fields.get("meets_every") or "").strip()[:60],
            "confidential": bool(fields.get("confidential")), "active": bool(fields.get("active", True))}


def _reaches(start: Committee, target: Committee) -> bool:
    """Whether following the reporting line up from `start` comes to `target` (itself included)."""
    seen, current = set(), start
    while current is not None and current.pk not in seen:
        if current.pk == target.pk:
            return True
        seen.add(current.pk)
        current = current.reports_to
    return False


@audit.changes_by_user
@transaction.atomic
def save_committee(user, committee: Committee | None = None, *, organisation: Organisation | None = None,
                   version: int | None = None, **fields) -> Committee:
    """Create a committee (in `organisation`) or change one; `fields` are the model's (name, key,
    terms_of_reference, quorum, reports_to, meets_every, confidential, active)."""
    if committee is None:
        if organisation is None:
            raise ValidationError({"organisation": "Choose the organisation of the committee."})
        committee = Committee(organisation=organisation)
    else:
        concurrency.lock(committee, version)
    permissions.check(user, "governance.manage_committees", committee.organisation)
    errors: dict = {}
    cleaned = _clean(errors, committee, fields)
    if errors:
        raise ValidationError(errors)
    for name, value in cleaned.items():
        setattr(committee, name, value)
    committee.save()
    return committee


@audit.changes_by_user
@transaction.atomic
def add_member(user, committee: Committee, person: User | None, role: str, started_on: date | None = None,
               ended_on: date | None = None) -> Membership:
    permissions.check(user, "governance.manage_committees", committee.organisation)
    errors: dict = {}
    started_on = started_on or timezone.localdate()
    if person is None or not person.is_active:
        errors["user"] = "Choose an active person."
    if role not in MemberRole.values:
        errors["role"] = f"Choose one of: {', '.join(MemberRole.values)}."
    if ended_on and ended_on < started_on:
        errors["ended_on"] = "The term ends after it starts."
    if not errors and Membership.objects.filter(serving(started_on), committee=committee, user=person).exists():
        errors["user"] = f"{person} already sits on {committee.name} on {started_on:%Y-%m-%d}: end that term first."
    if not errors and role in (MemberRole.CHAIR, MemberRole.SECRETARY):
        holder = current_members(committee, started_on).filter(role=role).first()
        if holder:
            errors["role"] = f"{holder.user} is the {MemberRole(role).label.lower()}: end that term first."
    if errors:
        raise ValidationError(errors)
    return Membership.objects.create(committee=committee, user=person, role=role, started_on=started_on,
                                     ended_on=ended_on)


@audit.changes_by_user
@transaction.atomic
def end_membership(user, membership: Membership, ended_on: date | None = None) -> Membership:
    permissions.check(user, "governance.manage_committees", membership.committee.organisation)
    ended_on = ended_on or timezone.localdate()
    if ended_on < membership.started_on:
        raise ValidationError({"ended_on": f"The term started on {membership.started_on:%Y-%m-%d}."})
    membership.ended_on = ended_on
    membership.save(update_fields=["ended_on"])
    return membership


@audit.changes_by_user
@transaction.atomic
def add_standing_item(user, committee: Committee, title: str) -> StandingItem:
    permissions.check(user, "governance.manage_committees", committee.organisation)
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise ValidationError({"title": "Give the standing item a title (at most 200 characters)."})
    last = committee.standing_items.order_by("-position").values_list("position", flat=True).first() or 0
    return StandingItem.objects.create(committee=committee, title=title, position=last + 1)


@audit.changes_by_user
@transaction.atomic
def remove_standing_item(user, item: StandingItem) -> None:
    permissions.check(user, "governance.manage_committees", item.committee.organisation)
    item.delete()


def connect() -> None:
    """Registries of this subject, from ready()."""
    from andon.platform import demo, navigation

    from . import demo_committees

    audit.register(Committee, exclude_fields=["version"])
    audit.register(Membership)
    audit.register(StandingItem)
    history.register(Committee, labels={"reports_to": "Reports to"}, hidden={"version"})
    for entry in (navigation.NavEntry("My committees", "governance:my_committees", "governance.view_own_committees",
                                      "people", "account"),
                  navigation.NavEntry("Committees", "governance:committees", "governance.use_committees", "diagram-2")):
        if entry not in navigation.ENTRIES:  # ready() may run twice (tests)
            navigation.add(entry)
    if demo_committees.load not in demo.DEMO_LOADERS:
        demo.register_demo_loader(demo_committees.load)
