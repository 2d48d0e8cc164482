"""The permission policy: the one place that decides who may see or change what.

Pages, API handlers and services all ask `can(user, permission, obj)` (or wrap themselves with
`requires`). Nothing else in Andon inspects roles.

Two kinds of permission live in one `rules` rule set:

- capabilities from `roles.CAPABILITIES` ("platform.view_audit"): held through a role grant;
  with an object, the grant's scope must contain the object's unit, facility or organisation;
- object rules added by modules with `add_rule` ("platform.view_job"): predicates combining
  capabilities with facts about the object (who requested a job, who reported an event).
"""

from functools import wraps

import rules
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q

from .models import Facility, Organisation, RoleGrant, RoleSetting, Unit
from .roles import CAPABILITIES, roles_with

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
        cached = list(_grants_of([user]))
        setattr(user, _GRANTS_CACHE, cached)
    return cached


def _grants_of(users):
    marked = RoleSetting.objects.filter(role=OuterRef("role"), mfa_required=True)
    return (RoleGrant.objects.filter(user__in=users).select_related("unit", "facility")
            .annotate(mfa_marked=Exists(marked)))


def load_grants(users: list) -> list:
    """Read the grants of several people in one query (for "who may do this" lists), kept on
    each user object as `active_grants` would keep them."""
    grants: dict[int, list] = {user.pk: [] for user in users}
    for grant in _grants_of(users):
        grants[grant.user_id].append(grant)
    for user in users:
        setattr(user, _GRANTS_CACHE, grants[user.pk])
    return users


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


def can(user, permission: str, obj=None) -> bool:
    if not policy.rule_exists(permission):
        raise KeyError(f"unknown permission {permission!r}")
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return policy.test_rule(permission, user, obj)


def check(user, permission: str, obj=None) -> None:
    """Raise PermissionDenied unless the user may; for services and API handlers."""
    if not can(user, permission, obj):
        raise PermissionDenied(f"not permitted: {permission}")


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
