"""The platform's door: what other modules, pages, the API and the command line call to change
people, grants, tokens and settings. Each function does one change, validated and audited."""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from . import permissions, precompiled
from .models import AccessToken, Facility, Job, Organisation, RoleGrant, RoleSetting, Unit, User, hash_token
from .roles import Role


@transaction.atomic
def create_user(
    username: str,
    *,
    email: str = "",
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    job_title: str = "",
    is_admin_site_staff: bool = False,
    is_demo: bool = False,
    check_password: bool = True,
    password_hash: str | None = None,
) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": f"A user named {username!r} already exists."})
    user = User(
        username=username, email=email, first_name=first_name, last_name=last_name,
        job_title=job_title, is_staff=is_admin_site_staff, is_superuser=is_admin_site_staff,
        is_demo=is_demo,
    )
    if password:
        if check_password:
            validate_password(password, user)
        user.set_password(password)
    elif password_hash:  # already hashed by make_password (the demo's one shared password)
        user.password = password_hash
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


def grant_role(user: User, role: Role | str, scope: Organisation | Facility | Unit) -> RoleGrant:
    """Grant a role over an organisation, a facility, or a unit and its children."""
    role = Role(role)
    if isinstance(scope, Unit):
        fields = {"organisation": scope.facility.organisation, "facility": scope.facility, "unit": scope}
    elif isinstance(scope, Facility):
        fields = {"organisation": scope.organisation, "facility": scope, "unit": None}
    elif isinstance(scope, Organisation):
        fields = {"organisation": scope, "facility": None, "unit": None}
    else:
        raise TypeError(f"a role is granted over an organisation, facility or unit, not {scope!r}")
    grant, _ = RoleGrant.objects.get_or_create(user=user, role=role, **fields)
    permissions.forget_grants(user)
    return grant


def revoke_role(grant: RoleGrant) -> None:
    user = grant.user
    grant.delete()
    permissions.forget_grants(user)


def set_mfa_required(role: Role | str, required: bool) -> RoleSetting:
    setting, _ = RoleSetting.objects.get_or_create(role=Role(role))
    if setting.mfa_required != required:
        setting.mfa_required = required
        setting.save()
    return setting


def issue_token(user: User, name: str, expires_at=None) -> tuple[AccessToken, str]:
    permissions.check(user, "platform.manage_own_tokens")
    if not name.strip():
        raise ValidationError({"name": "Give the token a name that says what it is for."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry date must be in the future."})
    return AccessToken.issue(user, name.strip()[:100], expires_at)


def revoke_token(user: User, token: AccessToken) -> None:
    if token.user_id != user.pk:
        raise permissions.PermissionDenied("a token can be revoked only by its owner")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


TOKEN_USE_PRECISION = timedelta(minutes=1)


# A token with its user, by its hash, compiled once (precompiled.py): every API call reads it.
_TOKEN = precompiled.Precompiled(AccessToken, lambda token_hash: AccessToken.objects.filter(token_hash=token_hash)
                                 .values_list(*precompiled.columns(AccessToken), *precompiled.columns(User, "user__")),
                                 marker=precompiled.TEXT_MARKER)


def _token_of_hash(token_hash: str) -> AccessToken | None:
    found = _TOKEN.rows(token_hash)
    if not found:
        return None
    database, width = AccessToken._default_manager.db, len(AccessToken._meta.concrete_fields)
    token = precompiled.instance(AccessToken, database, found[0][:width])
    token.user = precompiled.instance(User, database, found[0][width:])
    return token


def user_for_token(raw: str) -> User | None:
    """The active user behind a raw token, or None; marks the token used."""
    if not raw or not raw.startswith(AccessToken.PREFIX):
        return None
    token = _token_of_hash(hash_token(raw))
    if token is None or not token.is_active:
        return None
    from .auth import may_sign_in

    if not may_sign_in(token.user):
        return None
    # Written with update(): the time of use is bookkeeping, not a change worth an audit entry.
    # The tokens page shows it to the minute, so it is written at most once a minute rather than
    # on every call an integration makes.
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_PRECISION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def organisation_trees(user) -> list[dict]:
    """The organisations a user belongs to, each with its facilities and their unit trees:
    [{"organisation": o, "facilities": [{"facility": f, "units": [{"unit": u, "children": [...]}]}]}]"""
    organisation_ids = {grant.organisation_id for grant in permissions.active_grants(user)}
    trees = []
    for organisation in Organisation.objects.filter(pk__in=organisation_ids):
        facilities = []
        for facility in organisation.facilities.all():
            facilities.append({"facility": facility, "units": unit_tree(facility.units.filter(active=True))})
        trees.append({"organisation": organisation, "facilities": facilities})
    return trees


PICKER_LIMIT = 20  # matches a people picker shows: type more to narrow


def staff_of(organisations):
    """Active people with a role in one of the organisations (ids, records or a query of either):
    whom a team, an owner or an auditor may be picked from, and whom the action tracker takes."""
    return (User.objects.filter(is_active=True, role_grants__organisation__in=organisations).distinct()
            .order_by("last_name", "username"))


def people_matching(people, query: str, limit: int = PICKER_LIMIT) -> list[dict]:
    """Those of `people` (the users a picker may offer) with every word of `query` in their name,
    username or job title, or in a role they hold or its unit, in name order, each with their
    roles and where they hold them: [{person, name, roles}]."""
    matching = User.objects.filter(is_active=True)
    for word in " ".join((query or "").split())[:100].split():
        roles = [role.value for role in Role if word.lower() in role.label.lower()]
        matching = matching.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word)
                                   | Q(username__icontains=word) | Q(job_title__icontains=word)
                                   | Q(role_grants__unit__name__icontains=word) | Q(role_grants__role__in=roles))
    grants = RoleGrant.objects.select_related("unit", "facility", "organisation").order_by("role")
    # Matched apart from `people`, whose own joins (and distinct) then stay as the caller wrote them.
    found = (people.filter(pk__in=matching.values("pk")).order_by("last_name", "first_name", "username")
             .prefetch_related(Prefetch("role_grants", queryset=grants))[:limit])
    return [{"person": person, "name": person.get_full_name() or person.username,
             "roles": "; ".join(f"{grant.get_role_display()}, {grant.unit.name if grant.unit_id else grant.scope_label}"
                                for grant in person.role_grants.all())}
            for person in found]


def units_of(organisation_ids):
    return Unit.objects.filter(facility__organisation_id__in=organisation_ids, active=True).select_related("facility")


def unit_tree(units) -> list[dict]:
    """Nest units (any queryset) by parent; a unit whose parent is not in the set is a root."""
    nodes = {unit.pk: {"unit": unit, "children": []} for unit in units.order_by("path")}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node["unit"].parent_id)
        (parent["children"] if parent else roots).append(node)
    for node in nodes.values():
        node["children"].sort(key=lambda child: child["unit"].name)
    roots.sort(key=lambda root: root["unit"].name)
    return roots


def access_job(user, job_id, capability: str = "platform.view_job", *, succeeded=False) -> Job:
    """A job the user may see (its requester, or those who see all jobs); with `succeeded`, only a
    job that finished well (the download). Http404 when there is none, PermissionDenied else."""
    jobs = Job.objects.select_related("requested_by")
    if succeeded:
        jobs = jobs.filter(status=Job.Status.SUCCEEDED)
    return permissions.fetch_checked(user, capability, jobs, pk=job_id)


def access_unit(user, unit_id, capability: str) -> Unit:
    """A unit, if the user holds `capability` over it (Http404 when there is none)."""
    return permissions.fetch_checked(user, capability, Unit.objects.select_related("facility"), pk=unit_id)


def visible_jobs(user):
    jobs = Job.objects.select_related("requested_by")
    if permissions.can(user, "platform.view_all_jobs"):
        return jobs
    return jobs.filter(requested_by=user)


@dataclass(frozen=True)
class WorkItem:
    """One line of a person's "my work" list on the home page."""

    title: str
    url: str
    kind: str  # "due", "review" or "alert"
    detail: str = ""


# Modules add a function user -> list[WorkItem] here (from their AppConfig.ready).
WORK_PROVIDERS = []


def register_work_provider(provider) -> None:
    WORK_PROVIDERS.append(provider)


def work_for(user) -> list[WorkItem]:
    items = []
    for provider in WORK_PROVIDERS:
        items.extend(provider(user))
    return items
