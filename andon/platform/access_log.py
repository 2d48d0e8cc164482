"""The access log of `andon serve`: gunicorn's, through `AccessLog`, in `FORMAT`.

It names no client, user agent or query string, and leaves out the requests of views marked
`@unlogged`: the pages where people write and follow safety reports. Those are left out whoever
sends them, named or anonymous: matched against the exact times of named reports, the time of
any logged report would give away which ones were anonymous, and when.

(A proxy in front of Andon keeps its own log: docs/safety.md says what it must leave out.)
"""

from functools import wraps

from gunicorn.glogging import Logger

# Time, method, path without its query string, protocol, status, bytes, duration.
FORMAT = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
# Set in the request's WSGI environ, which gunicorn hands to the logger after the response.
UNLOGGED = "andon.unlogged"


def unlogged(view):
    """Keep the requests to this view out of the server's access log."""

    @wraps(view)
    def run(request, *args, **kwargs):
        request.META[UNLOGGED] = True
        return view(request, *args, **kwargs)

    return run


class AccessLog(Logger):
    """gunicorn's logger, silent for the requests of `@unlogged` views."""

    def access(self, resp, req, environ, request_time):
        if not environ.get(UNLOGGED):
            super().access(resp, req, environ, request_time)
