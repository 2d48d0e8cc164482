"""Two-factor facts the policy, the middleware and the admin site share."""

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.db.models import Exists, OuterRef, Q

from . import precompiled
from .models import RoleSetting, User
from .permissions import active_grants
from .roles import MFA_REQUIRED_BY_DEFAULT


def roles_requiring_mfa() -> set[str]:
    """The roles whose holders must use two-factor: each role's default (roles.py), as an
    administrator has changed it per role."""
    required = {role.value for role in MFA_REQUIRED_BY_DEFAULT}
    for role, marked in RoleSetting.objects.values_list("role", "mfa_required"):
        (required.add if marked else required.discard)(role)
    return required


def _requires_mfa():
    """Who must use two-factor: staff of the admin site and holders of roles that require it."""
    return Q(is_staff=True) | Q(is_superuser=True) | Q(role_grants__role__in=roles_requiring_mfa())


def mfa_required(user) -> bool:
    """The same rule as `_requires_mfa`, answered from the grants the policy reads anyway (one
    query per request for both); an inactive user has no active grants, so ask the database."""
    if user.is_staff or user.is_superuser:
        return True
    if not user.is_active:
        return User.objects.filter(_requires_mfa(), pk=user.pk).exists()
    return any(grant.mfa_marked for grant in active_grants(user))


def people_missing_required_mfa():
    return (
        User.objects.filter(_requires_mfa(), is_active=True)
        .exclude(authenticator__type=Authenticator.Type.TOTP)
        .distinct()
        .order_by("username")
    )


_HAS_TOTP = "_andon_has_totp"


def with_two_factor_fact(users):
    """Users read with whether each has set up an authenticator app (see `mfa_enabled`)."""
    totp = Authenticator.objects.filter(user=OuterRef("pk"), type=Authenticator.Type.TOTP)
    return users.annotate(**{_HAS_TOTP: Exists(totp)})


# The signed-in user of a request with that fact, compiled once (precompiled.py): every page reads it.
_SIGNED_IN = precompiled.Precompiled(User, lambda person: with_two_factor_fact(User._default_manager.filter(pk=person))
                                     .values_list(*precompiled.columns(User), _HAS_TOTP))


def signed_in_user(user_id) -> User | None:
    """The user of that id read with whether they have set up an authenticator app, or None."""
    found = _SIGNED_IN.rows(User._meta.pk.to_python(user_id))  # a session's text "42" as the key 42
    if not found:
        return None
    user = precompiled.instance(User, User._default_manager.db, found[0][:-1])
    setattr(user, _HAS_TOTP, found[0][-1])
    return user


def mfa_enabled(user) -> bool:
    known = getattr(user, _HAS_TOTP, None)  # read with the request's user (auth.AndonAuthBackend)
    return known if known is not None else is_mfa_enabled(user, [Authenticator.Type.TOTP])


def session_passed_mfa(request) -> bool:
    """Whether this session's sign-in included a second factor."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)
