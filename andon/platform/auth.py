"""Sign-in rules that the libraries leave to the project."""

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib.auth.backends import ModelBackend


def may_sign_in(user) -> bool:
    """Inactive accounts never; demo accounts only while the demo setting is on."""
    return user.is_active and (not user.is_demo or settings.DEMO)


class AndonAuthBackend(ModelBackend):
    def user_can_authenticate(self, user):
        return may_sign_in(user)

    def get_user(self, user_id):
        # A session made during the demo stops working once the demo setting is off.
        user = super().get_user(user_id)
        return user if user is not None and may_sign_in(user) else None


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Accounts are created by administrators (`andon createuser`, the admin site).
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """allauth (65.22 and later) asks a person to sign in again before adding a second factor.
        Someone whose role requires two-factor and who has none yet, and who has no password or
        factor to sign in again with, would meet a refusal with no way forward (allauth answers
        403 when no way to reauthenticate exists). There is nothing more such a session could
        prove, so their first set-up goes ahead; everyone else reauthenticates as allauth asks."""
        required = super().is_reauthentication_required(app=app, **kwargs)
        user = getattr(self.request, "user", None)
        if not required or app != "allauth.mfa" or user is None or not user.is_authenticated:
            return required
        from . import security

        first_forced_set_up = security.mfa_required(user) and not security.mfa_enabled(user)
        return not (first_forced_set_up and not self.get_reauthentication_methods(user))


def axes_username(request, credentials=None) -> str:
    """The name a sign-in attempt was for, as django-axes counts failures.

    allauth passes `username` or `email` in the credentials, while the form field is `login`;
    lower-cased so that "Nurse.Ana" and "nurse.ana" share one counter.
    """
    credentials = credentials or {}
    typed = credentials.get("username") or credentials.get("email")
    if not typed and request is not None:
        typed = getattr(request, "POST", {}).get("login")
    return (typed or "").strip().lower()
