"""Session lifetime and the two-factor requirement."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect

from . import security

_SESSION_STARTED = "andon_session_started"
_SESSION_REFRESHED = "andon_session_refreshed"


class SessionLifetimeMiddleware:
    """Ends a session after an absolute lifetime, however active it was, and keeps an active
    session alive.

    The idle timeout is Django's own expiry (SESSION_COOKIE_AGE from the last save). Rather
    than save the session on every request (a database write and commit for every page, the
    largest fixed cost of a request under load), an active session is saved again once
    ANDON_SESSION_REFRESH_SECONDS have passed since its last save: a session then ends between
    SESSION_COOKIE_AGE minus that interval and SESSION_COOKIE_AGE after the last activity.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.setdefault(_SESSION_STARTED, now)
            if now - started > settings.SESSION_ABSOLUTE_SECONDS:
                logout(request)
                return redirect(settings.LOGIN_URL)
            if now - request.session.get(_SESSION_REFRESHED, 0) >= settings.ANDON_SESSION_REFRESH_SECONDS:
                request.session[_SESSION_REFRESHED] = now  # modified: saved with a new expiry
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
