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
