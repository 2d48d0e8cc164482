from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from . import audit
from .models import AccessToken, Facility, Job, Organisation, RoleGrant, RoleSetting, Unit, User


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "short_name"]


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "organisation"]
    list_filter = ["organisation"]


@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "facility", "parent", "active"]
    list_filter = ["facility", "kind", "active"]
    search_fields = ["name", "code"]


class RoleGrantInline(admin.TabularInline):
    model = RoleGrant
    extra = 1
    autocomplete_fields = ["unit"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "email", "job_title", "is_active", "is_demo"]
    list_filter = ["is_active", "is_staff", "is_demo", "role_grants__role"]
    readonly_fields = ["is_demo", "last_login", "date_joined"]
    fieldsets = DjangoUserAdmin.fieldsets + (("Andon", {"fields": ["job_title", "is_demo"]}),)
    inlines = [RoleGrantInline]

    def has_delete_permission(self, request, obj=None):
        # People are deactivated, never deleted: the audit trail keeps pointing at them.
        return False


@admin.register(RoleSetting)
class RoleSettingAdmin(admin.ModelAdmin):
    list_display = ["role", "mfa_required"]
    list_editable = ["mfa_required"]


@admin.register(AccessToken)
class AccessTokenAdmin(ReadOnlyAdmin):
    list_display = ["name", "user", "hint", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["title", "requested_by", "status", "created_at", "finished_at"]
    list_filter = ["status"]


class TrailAdmin(LogEntryAdmin):
    """auditlog's read-only list of the trail, with the held entries of past days written first
    (audit.release_held_entries), as on the trail's own page."""

    def changelist_view(self, request, extra_context=None):
        audit.release_held_entries()
        return super().changelist_view(request, extra_context)


admin.site.unregister(LogEntry)
admin.site.register(LogEntry, TrailAdmin)
