"""Session lifetime and the two-factor requirement."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect

from . import security

_SESSION_STARTED = "andon_session_started"


class SessionLifetimeMiddleware:
    """Ends a session after an absolute lifetime, however active it was.

    The idle timeout is Django's own (SESSION_COOKIE_AGE with SESSION_SAVE_EVERY_REQUEST).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            started = request.session.setdefault(_SESSION_STARTED, time.time())
            if time.time() - started > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)


class RequireMFAMiddleware:
    """Sends people whose role requires two-factor, and who have not set it up, to set it up.

    Only the sign-in, sign-out and two-factor pages, static files and the health check stay
    reachable until they do. API calls with a token are not sessions and are not affected.
    """

    OPEN_PREFIXES = ("/accounts/", "/static/", "/health")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(self.OPEN_PREFIXES)
            and security.mfa_required(user)
            and not security.mfa_enabled(user)
        ):
            return redirect("mfa_activate_totp")
        return self.get_response(request)
