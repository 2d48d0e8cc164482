"""Two-factor facts the policy, the middleware and the admin site share."""

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.db.models import Q

from .models import RoleSetting, User
from .permissions import active_grants


def _requires_mfa():
    """Who must use two-factor: staff of the admin site and holders of roles an administrator marks."""
    marked = RoleSetting.objects.filter(mfa_required=True).values("role")
    return Q(is_staff=True) | Q(is_superuser=True) | Q(role_grants__role__in=marked)


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


def mfa_enabled(user) -> bool:
    return is_mfa_enabled(user, [Authenticator.Type.TOTP])


def session_passed_mfa(request) -> bool:
    """Whether this session's sign-in included a second factor."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)
