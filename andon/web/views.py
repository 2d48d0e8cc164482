"""The shell's own pages: the home page ("my work") and the health check."""

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from andon.platform import permissions, services
from andon.platform.permissions import public, requires


@requires("platform.view_home")
def home(request):
    grants = permissions.active_grants(request.user)
    items = services.work_for(request.user)
    return render(request, "web/home.html", {
        "grants": grants,
        "due": [item for item in items if item.kind == "due"],
        "review": [item for item in items if item.kind == "review"],
        "alerts": [item for item in items if item.kind == "alert"],
    })


@public
def favicon(request):
    # Browsers ask for /favicon.ico on pages that do not link an icon (the admin, the API docs).
    return redirect(static("andon/favicon.svg"), permanent=True)


@public
@never_cache
def health(request):
    """For load balancers and `make demo`: the app answers and its database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def refused(request, exception=None):
    """Every refused page (403): what was refused, why, and whom to ask, not a bare status."""
    return render(request, "403.html", {"refusal": permissions.refusal(request.user, exception)}, status=403)
