from django.contrib.admin.apps import AdminConfig


class AndonAdminConfig(AdminConfig):
    """Django's admin, with Andon's site: administrators only, after a two-factor sign-in."""

    default_site = "andon.platform.admin_site.AndonAdminSite"
