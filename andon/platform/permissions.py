"""The permission policy: the one place that decides who may see or change what.

Pages, API handlers and services all ask `can(user, permission, obj)` (or wrap themselves with
`requires`). Nothing else in Andon inspects roles.

Two kinds of permission live in one `rules` rule set:

- capabilities from `roles.CAPABILITIES` ("platform.view_audit"): held through a role grant;
  with an object, the grant's scope must contain the object's unit, facility or organisation;
- object rules added by modules with `add_rule` ("platform.view_job"): predicates combining
  capabilities with facts about the object (who requested a job, who reported an event).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

import rules
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404

from . import precompiled
from .models import Facility, Organisation, RoleGrant, RoleSetting, Unit, User
from .roles import CAPABILITIES, MFA_REQUIRED_BY_DEFAULT, roles_with

policy = rules.RuleSet()

_GRANTS_CACHE = "_andon_grants"


def active_grants(user) -> list[RoleGrant]:
    """The user's role grants, read once per user object (one request: the middleware fetches
    the user afresh for every request, so a revoked grant is gone by the next one).

    Each grant also says whether an administrator marked its role as needing two-factor
    (`mfa_marked`): the two-factor check of every page then needs no query of its own.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, _GRANTS_CACHE, None)
    if cached is None:
        scopes = {}
        cached = [_grant_from(row, scopes) for row in _GRANTS.rows(user.pk)]
        setattr(user, _GRANTS_CACHE, cached)
    return cached


# The grant's scopes, read with it (select_related), and the columns of each in a row of _GRANTS.
_SCOPES = (("unit", Unit), ("facility", Facility), ("organisation", Organisation))
_GRANT_COLUMNS = len(RoleGrant._meta.concrete_fields)

# What `_grants_of` reads for one person, compiled once (precompiled.py: compiling it cost more than running it).
_GRANTS = precompiled.Precompiled(RoleGrant, lambda person: _grants_of([person]).values_list(
    *precompiled.columns(RoleGrant), *(column for name, model in _SCOPES for column in precompiled.columns(model, f"{name}__")),
    "mfa_marked"))


def _grant_from(row: tuple, scopes: dict) -> RoleGrant:
    """A grant with its scopes and its two-factor mark, as `_grants_of` gives it, from a row of
    _GRANTS; `scopes` keeps the scopes made for the person's other grants (their organisation is
    mostly one), so that each is made once."""
    database = RoleGrant._default_manager.db
    grant = precompiled.instance(RoleGrant, database, row[:_GRANT_COLUMNS])
    start = _GRANT_COLUMNS
    for name, model in _SCOPES:
        end = start + len(model._meta.concrete_fields)
        key = (model, row[start])  # a model's key is its first column
        if key not in scopes:
            scopes[key] = precompiled.instance(model, database, row[start:end])
        setattr(grant, name, scopes[key])
        start = end
    grant.mfa_marked = row[start]
    return grant


def _grants_of(users):
    # An administrator's setting for the role, else the role's default (roles.py).
    setting = RoleSetting.objects.filter(role=OuterRef("role")).values("mfa_required")[:1]
    by_default = Case(When(role__in=MFA_REQUIRED_BY_DEFAULT, then=Value(True)), default=Value(False))
    return (RoleGrant.objects.filter(user__in=users).select_related("unit", "facility", "organisation")
            .annotate(mfa_marked=Coalesce(Subquery(setting), by_default)))


def forget_grants(user) -> None:
    """Drop the per-object caches after grants change within one request."""
    for cache in (_GRANTS_CACHE, _FACTS_CACHE):
        if hasattr(user, cache):
            delattr(user, cache)


_FACTS_CACHE = "_andon_facts"


def remembered(user, name: str, compute):
    """A fact about the user that a rule needs on every page (the navigation asks it too), read
    once per user object like the grants: the next request's user object reads it afresh."""
    facts = getattr(user, _FACTS_CACHE, None)
    if facts is None:
        facts = {}
        setattr(user, _FACTS_CACHE, facts)
    if name not in facts:
        facts[name] = compute()
    return facts[name]


# Facts about a person that anyone may hold whatever their roles (owning an action, being on an
# FMEA team, surveying a tracer for the day): the menu asks them of everyone without the role on
# every page. Each module names its own (`person_fact`); the first one a request asks reads them
# all, in one query (asked one by one they were four or five queries of every such page).
_PERSON_FACTS: dict = {}


def person_fact(name: str, rows_of: Callable[[OuterRef], QuerySet]) -> Callable[[User], bool]:
    """Registers a fact: `rows_of(person)` gives the rows that make it true, `person` being the
    user's id as an outer reference (OuterRef). Returns `fact(user) -> bool`. The facts' query is
    compiled once (precompiled.py), so `rows_of` may read nothing but the person: not today's date."""
    if name in _PERSON_FACTS:
        raise ValueError(f"the person fact {name!r} is named twice")
    _PERSON_FACTS[name] = rows_of

    def fact(user) -> bool:
        return _person_facts(user)[name]

    fact.__name__ = name
    return fact


def _person_facts(user) -> dict[str, bool]:
    def read():
        names = tuple(_PERSON_FACTS)
        found = _FACTS.rows(user.pk, key=names)
        return dict(zip(names, found[0], strict=True)) if found else dict.fromkeys(names, False)

    return remembered(user, "person_facts", read)


def _facts_of(person_id):
    person = OuterRef("pk")
    return User.objects.filter(pk=person_id).values_list(*(Exists(rows_of(person)) for rows_of in _PERSON_FACTS.values()))


# Every fact in one query, compiled once for the facts registered (precompiled.py).
_FACTS = precompiled.Precompiled(User, _facts_of)


def scope_of(obj):
    """The unit, facility or organisation an object sits in (or None for unscoped objects)."""
    if obj is None or isinstance(obj, Unit | Facility | Organisation):
        return obj
    for attribute in ("unit", "facility", "organisation"):
        scope = getattr(obj, attribute, None)
        if scope is not None:
            return scope
    return None


def grant_covers(grant: RoleGrant, scope) -> bool:
    if scope is None:
        return True
    if isinstance(scope, Unit):
        return grant.covers(scope)
    if isinstance(scope, Facility):
        if grant.unit_id:
            return False
        return grant.facility_id == scope.pk if grant.facility_id else grant.organisation_id == scope.organisation_id
    if isinstance(scope, Organisation):
        return grant.facility_id is None and grant.organisation_id == scope.pk
    raise TypeError(f"cannot scope a permission to {type(scope).__name__}")


def holds(capability: str):
    """A predicate: the user holds `capability` through a grant whose scope covers the object."""
    roles = roles_with(capability)

    @rules.predicate(name=f"holds:{capability}")
    def predicate(user, obj=None):
        scope = scope_of(obj)
        return any(g.role in roles and grant_covers(g, scope) for g in active_grants(user))

    return predicate


for _capability in CAPABILITIES:
    policy.add_rule(_capability, holds(_capability))


def add_rule(name: str, predicate) -> None:
    """Modules register object rules here (at import of their `rules.py`)."""
    policy.add_rule(name, predicate)


class _Anywhere:
    """No object given: whether the user holds a permission anywhere (the door of a page)."""

    def __repr__(self):
        return "ANYWHERE"


ANYWHERE = _Anywhere()
EVERYTHING = None  # check(user, capability, EVERYTHING): over the whole organisation (see `can`)


def can(user, permission: str, obj=ANYWHERE) -> bool:
    """Whether the user may: without `obj`, anywhere (a page's door); with an object, over its
    scope. `None` is not "no object": a scope left out (`can(user, "…", unit)` with no unit asked
    for) asks for everything, which only a grant over the whole organisation covers."""
    if not policy.rule_exists(permission):
        raise KeyError(f"unknown permission {permission!r}")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if obj is ANYWHERE:
        return policy.test_rule(permission, user)
    if obj is None:
        if permission not in CAPABILITIES:
            raise TypeError(f"{permission!r} is decided on an object, not on None")
        return holds_everywhere(user, permission)
    return policy.test_rule(permission, user, obj)


class Refused(PermissionDenied):
    """A refusal that knows the permission it refused, so the 403 page can say what and why."""

    def __init__(self, permission: str, where: str = ""):
        self.permission = permission
        super().__init__(f"not permitted: {permission}" + (f" in {where}" if where else ""))


def check(user, permission: str, obj=ANYWHERE) -> None:
    """Raise PermissionDenied unless the user may; for services and API handlers."""
    if not can(user, permission, obj):
        raise Refused(permission)


def holds_everywhere(user, capability: str) -> bool:
    """Whether the user holds `capability` over every organisation, through grants over each
    whole organisation: what a reading that no unit limits needs."""
    roles = roles_with(capability)
    covered = {grant.organisation_id for grant in active_grants(user)
               if grant.role in roles and not grant.facility_id and not grant.unit_id}
    return bool(covered) and not Organisation.objects.exclude(pk__in=covered).exists()


class Missing(Http404):
    """A 404 whose message is written for the person asking ("This event has no root cause
    analysis yet."): the API passes it on, where it answers a plain Http404 (whose message may
    name a model) with "Not Found". Pages show their 404 page either way."""


def fetch_checked(user, permission: str, found, **lookup):
    """The one object of `found` (a model or queryset) matching `lookup`, if the user may have
    `permission` over it: Http404 when there is none, PermissionDenied when they may not. Pages
    and API handlers turn both into the same 404 and 403, so each module's `access_<thing>`
    is this call with the module's query."""
    obj = get_object_or_404(found, **lookup)
    check(user, permission, obj)
    return obj


def units_where(user, capability: str):
    """The units over which the user holds a capability, as a queryset."""
    roles = roles_with(capability)
    condition = Q(pk__in=[])
    for grant in active_grants(user):
        if grant.role not in roles:
            continue
        if grant.unit_id:
            condition |= Q(path__startswith=grant.unit.path)
        elif grant.facility_id:
            condition |= Q(facility_id=grant.facility_id)
        else:
            condition |= Q(facility__organisation_id=grant.organisation_id)
    return Unit.objects.filter(condition)


def placed_where(user, capability: str) -> Q:
    """A filter for records placed by `organisation`, `facility` and `unit` fields (a unit, a whole
    facility with no unit, or the whole organisation with neither) that the user may have
    `capability` over: the same answer `can` gives for each, in one query."""
    roles = roles_with(capability)
    found = Q(pk__in=[])
    for grant in active_grants(user):
        if grant.role not in roles:
            continue
        if grant.unit_id:
            found |= Q(unit__path__startswith=grant.unit.path)
        elif grant.facility_id:
            found |= Q(facility_id=grant.facility_id) | Q(unit__facility_id=grant.facility_id)
        else:
            found |= Q(organisation_id=grant.organisation_id)
    return found


@dataclass(frozen=True)
class Scope:
    """What one reading for a capability covers: the unit (or facility) a request asked for,
    checked against the user's grants, or, when it asked for none, the units where the user holds
    the capability. A scope left out is never everything: only a grant over the whole
    organisation makes it so (`everything`, which also takes in records placed in no unit)."""

    capability: str
    units: QuerySet  # of Unit
    unit: Unit | None = None
    facility: Facility | None = None
    everything: bool = False

    def unit_keys(self) -> list[str] | None:
        """The units' ids as text (as kept with patient-level cases); None when nothing limits."""
        return None if self.everything else [str(pk) for pk in self.units.order_by().values_list("pk", flat=True)]

    def __str__(self):
        if self.unit is not None:
            return str(self.unit)
        if self.facility is not None:
            return f"the units you may see in {self.facility.name}"
        return "all units" if self.everything else "the units you may see"


def scope_for(user, capability: str, *, unit: Unit | None = None, facility: Facility | None = None) -> Scope:
    """Turn the optional scope of a request into what the user may read for `capability`:

    - a unit: checked (PermissionDenied outside the user's grants), with the units below it;
    - a facility: the units of it where the user holds the capability (PermissionDenied when none);
    - neither: every unit where the user holds it (`units_where`), never everything.

    Pages and the API answer PermissionDenied with 403, as every refusal. Every reading that
    takes an optional unit or facility (a page's ?unit=, an API's unit_id, an export, a job)
    asks here instead of passing an absent scope to `check`.
    """
    if unit is not None and facility is not None:
        raise ValueError("ask for a unit or a facility, not both")
    if unit is not None:
        check(user, capability, unit)
        return Scope(capability, Unit.objects.filter(path__startswith=unit.path), unit=unit)
    check(user, capability)
    units = units_where(user, capability)
    if facility is not None:
        units = units.filter(facility=facility)
        if not units.exists():
            raise Refused(capability, facility.code)
        return Scope(capability, units, facility=facility)
    return Scope(capability, units, everything=holds_everywhere(user, capability))


def _grants_covering(scope) -> Q:
    """Grants whose scope contains `scope`, in the terms of `grant_covers`: the organisation,
    the facility (or its organisation), or the unit (or its facility, organisation or a unit
    above it in the tree)."""
    if scope is None:
        return Q()
    if isinstance(scope, Organisation):
        return Q(organisation_id=scope.pk, facility__isnull=True)
    if isinstance(scope, Facility):
        return Q(unit__isnull=True) & (Q(facility_id=scope.pk) | Q(organisation_id=scope.organisation_id,
                                                                      facility__isnull=True))
    if isinstance(scope, Unit):
        ancestors = [int(pk) for pk in scope.path.strip("/").split("/") if pk]
        organisation_id = Facility.objects.filter(pk=scope.facility_id).values("organisation_id")
        return (Q(unit_id__in=ancestors) | Q(unit__isnull=True, facility_id=scope.facility_id)
                | Q(facility__isnull=True, organisation_id__in=organisation_id))
    raise TypeError(f"cannot scope a permission to {type(scope).__name__}")


def people_who(capability: str, obj=ANYWHERE):
    """Active users who hold `capability` over `obj` through a role grant: the reverse of `can`,
    for notifications and lists of people to assign (`None`, as for `can`, is everything). It
    answers for role grants only: object rules (the reporter of an event, an action's owner, an
    RCA team) are the caller's to add."""
    if capability not in CAPABILITIES:
        raise KeyError(f"not a capability held through a role: {capability!r}")
    grants = RoleGrant.objects.filter(role__in=roles_with(capability))
    people = User.objects.filter(is_active=True)
    if obj is not None:
        covering = Q() if obj is ANYWHERE else _grants_covering(scope_of(obj))
        return people.filter(pk__in=grants.filter(covering).values("user_id"))
    organisations = list(Organisation.objects.all())
    if not organisations:
        return people.none()
    for organisation in organisations:  # everything: a grant over each organisation
        people = people.filter(pk__in=grants.filter(_grants_covering(organisation)).values("user_id"))
    return people


def requires(permission: str):
    """Decorate a view: sign-in required, then the permission (without an object).

    The permission is kept on the view as `andon_permission`, so the permission-matrix test
    can find every page and see which rule guards it.
    """
    if not policy.rule_exists(permission):
        raise KeyError(f"unknown permission {permission!r}")

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            check(request.user, permission)
            return view(request, *args, **kwargs)

        guarded.andon_permission = permission
        return guarded

    return decorate


def public(view):
    """Mark a view as open to anyone (sign-in pages, health check): an explicit choice."""
    view.andon_permission = None
    return view


@rules.predicate
def is_job_requester(user, job):
    return job is not None and job.requested_by_id == user.pk


add_rule("platform.view_job", (holds("platform.view_own_jobs") & is_job_requester) | holds("platform.view_all_jobs"))


def refusal(user, exception) -> dict:
    """What a refused page tells the person: what was refused, why, and whom to ask."""
    from .roles import REFUSALS, Role, explained_capability

    permission = getattr(exception, "permission", None)
    capability = explained_capability(permission)
    what, why, whom = (REFUSALS.get(permission or "") or REFUSALS.get(capability or "")
                       or ("what your roles do not include", "", ""))
    roles = sorted(Role(role).label for role in roles_with(capability)) if capability else []
    held = {grant.role for grant in active_grants(user)} if getattr(user, "is_authenticated", False) else set()
    elsewhere = bool(capability and held & set(roles_with(capability)))
    return {
        "what": what,
        "why": why or (f"This page is for: {', '.join(roles)}." if roles else ""),
        "whom": whom or ("If you need it for your work, ask an administrator to grant you the role for the "
                         "unit where you need it."),
        "roles": roles,
        "elsewhere": elsewhere,
        "your_roles": sorted({Role(role).label for role in held if role in Role.values}),
    }
