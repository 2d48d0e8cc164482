"""The Django admin site, for administrators only, and only after a two-factor sign-in."""

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login

from .security import session_passed_mfa


class AndonAdminSite(admin.AdminSite):
    site_header = "Andon administration"
    site_title = "Andon administration"
    index_title = "Organisation, people and settings"

    def has_permission(self, request):
        return super().has_permission(request) and session_passed_mfa(request)

    def login(self, request, extra_context=None):
        # One sign-in page for the whole app (allauth's), with its throttling and two-factor step.
        return redirect_to_login(request.GET.get("next", self.index_url()))

    def index_url(self):
        return "/admin/"
