"""The Django admin site, for administrators only, and only after a two-factor sign-in."""

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.urls import reverse

from .security import session_passed_mfa


class AndonAdminSite(admin.AdminSite):
    site_header = "Andon administration"
    site_title = "Andon administration"
    index_title = "Organisation, people and settings"

    def has_permission(self, request):
        return super().has_permission(request) and session_passed_mfa(request)

    def login(self, request, extra_context=None):
        # One sign-in page for the whole app (allauth's), with its throttling and two-factor step.
        if not request.user.is_authenticated:
            return redirect_to_login(request.GET.get("next") or reverse("admin:index"))
        # Signed in, but not as staff or not with a second factor: sending them to the sign-in
        # page would loop, so say what is missing.
        response = render(request, "platform/admin_refused.html", {"is_staff": request.user.is_staff}, status=403)
        return response
