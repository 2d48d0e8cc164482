"""The Django admin site, for administrators only, and only after a two-factor sign-in."""

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.urls import reverse

from .permissions import can
from .security import session_passed_mfa


class AndonAdminSite(admin.AdminSite):
    site_header = "Andon administration"
    site_title = "Andon administration"
    index_title = "Organisation, people and settings"

    def has_permission(self, request):
        # Django's own check (active staff), the policy's (the administrator role), and a
        # session that passed the second factor.
        return (
            super().has_permission(request)
            and can(request.user, "platform.use_admin_site")
            and session_passed_mfa(request)
        )

    def login(self, request, extra_context=None):
        # One sign-in page for the whole app (allauth's), with its throttling and two-factor step.
        if not request.user.is_authenticated:
            return redirect_to_login(request.GET.get("next") or reverse("admin:index"))
        # Signed in, but not as staff or not with a second factor: sending them to the sign-in
        # page would loop, so say what is missing.
        may_administer = request.user.is_staff and can(request.user, "platform.use_admin_site")
        return render(request, "platform/admin_refused.html", {"may_administer": may_administer}, status=403)
