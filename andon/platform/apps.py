from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "andon.platform"
    label = "platform"
    verbose_name = "Platform"

    def ready(self):
        from . import audit, models, schedules, services, work

        audit.protect_trail()
        audit.register(models.Organisation)
        audit.register(models.Facility)
        audit.register(models.Unit, exclude_fields=["path"])
        audit.register(
            models.User,
            include_fields=["username", "first_name", "last_name", "email", "job_title", "password",
                            "is_active", "is_staff", "is_superuser", "is_demo"],
            mask_fields=["password"],
        )
        audit.register(models.RoleGrant)
        audit.register(models.RoleSetting)
        audit.register(models.ContentDocument, exclude_fields=["document"])
        audit.register(models.AccessToken, exclude_fields=["token_hash", "last_used_at"])
        services.register_work_provider(work.platform_work)
        audit.register(models.Schedule, exclude_fields=["last_slot", "next_slot"])
        schedules.connect()
