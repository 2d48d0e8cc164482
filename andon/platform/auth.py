"""Sign-in rules that the libraries leave to the project."""

from urllib.parse import urlsplit, urlunsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.auth_backends import AuthenticationBackend
from django.conf import settings
from django.contrib.auth import get_user_model


def may_sign_in(user) -> bool:
    """Inactive accounts never; demo accounts only while the demo setting is on."""
    return user.is_active and (not user.is_demo or settings.DEMO)


class AndonAuthBackend(AuthenticationBackend):
    """allauth's backend, so that the sign-in form's "username or e-mail" works both ways
    (Django's ModelBackend knows usernames only), with Andon's rules of who may sign in."""

    def user_can_authenticate(self, user):
        return may_sign_in(user)

    def get_user(self, user_id):
        """The signed-in user of a request, read with whether they have set up two-factor: the
        check on every page (platform.middleware) then costs no query of its own."""
        from .security import signed_in_user

        user = signed_in_user(user_id)
        # A session made during the demo stops working once the demo setting is off.
        return user if user is not None and may_sign_in(user) else None


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Accounts are created by administrators (`andon createuser`, the admin site).
        return False

    def authenticate(self, request, **credentials):
        """allauth keeps a user whose password matched but whom the backend refused (to show its
        "account inactive" page) and signs them in anyway: Andon's refusal (an inactive account,
        a demo account outside demo mode) must stand, as the same error as a wrong password."""
        user = super().authenticate(request, **credentials)
        if user is not None and not may_sign_in(user):
            self.authentication_failed(request, **credentials)
            return None
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Every link in allauth's e-mail (the password reset's above all) and the site's name
        come from the configured ANDON_BASE_URL, never from the request's Host header and port:
        a forged header must not make Andon mail a reset link to someone else's server."""
        context = {key: on_base_url(value) if key.endswith("_url") and isinstance(value, str) else value
                   for key, value in context.items()}
        domain = urlsplit(settings.ANDON_BASE_URL).netloc
        context.setdefault("current_site", SiteOfBaseUrl(domain))
        super().send_mail(template_prefix, email, context)

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


class SiteOfBaseUrl:
    """What allauth's e-mail templates read of "the site" (`name`, `domain`)."""

    def __init__(self, domain: str):
        self.name = self.domain = domain


def on_base_url(url: str) -> str:
    """`url`'s path, query and fragment on the configured base URL's scheme, host and port."""
    base, link = urlsplit(settings.ANDON_BASE_URL), urlsplit(url)
    path = base.path.rstrip("/") + link.path
    return urlunsplit((base.scheme, base.netloc, path, link.query, link.fragment))


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
