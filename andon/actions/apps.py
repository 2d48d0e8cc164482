from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "andon.actions"
    label = "actions"
    verbose_name = "Actions"

    def ready(self):
        from andon.platform import audit, services
        from andon.platform import navigation

        from . import models, rules, work  # noqa: F401  (rules: the policy's object rules)

        # The version counts changes (optimistic concurrency); the trail has the changes themselves.
        audit.register(models.Action, exclude_fields=["updated_at", "version"])
        navigation.add(navigation.NavEntry("Actions", "actions:list", "actions.use", "check2-square"))
        services.register_work_provider(work.actions_work)
