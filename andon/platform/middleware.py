"""Session lifetime, the two-factor requirement, and requests carrying NUL characters."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpResponseBadRequest, JsonResponse
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


class RejectNulMiddleware:
    """Refuses a request whose parameters or text body carry a NUL character (U+0000).

    No text Andon stores or searches has one, and PostgreSQL cannot hold one in a text value:
    let through, it would reach a query and fail there (a server error) instead of being
    refused as bad input. Files uploaded in a multipart form are not looked at (a file may be
    binary; the importers check their own input); the form's other fields are."""

    NUL = "\x00"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = self._where(request)
        if where is None:
            return self.get_response(request)
        message = f"The request's {where} contains a NUL character, which is not accepted."
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")

    def _where(self, request) -> str | None:
        for name, values in request.GET.lists():
            if self.NUL in name or any(self.NUL in v for v in values):
                return f"query parameter {name.replace(self.NUL, '?')!r}"
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        kind = request.content_type or ""
        if kind.startswith("multipart/") or kind == "application/x-www-form-urlencoded":
            fields = request.POST.lists()
        else:
            body = request.body
            return "body" if b"\x00" in body or b"\\u0000" in body else None
        for name, values in fields:
            if self.NUL in name or any(self.NUL in v for v in values):
                return f"form field {name.replace(self.NUL, '?')!r}"
        return None
