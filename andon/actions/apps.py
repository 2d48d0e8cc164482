from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "andon.actions"
    label = "actions"
    verbose_name = "Actions"

    def ready(self):
        from andon.platform import audit, history, services
        from andon.platform import navigation

        from . import models, rules, work  # noqa: F401  (rules: the policy's object rules)

        # The version counts changes (optimistic concurrency); the trail has the changes themselves.
        audit.register(models.Action, exclude_fields=["updated_at", "version"])
        # The history names the source by its label; the record's type and key say nothing to a reader.
        history.register(models.Action, labels={
            "source_label": "Source", "effectiveness_check_date": "Effectiveness checked on",
            "approval": "Decision", "approval_reason": "Reason for the decision", "approved_by": "Decided by",
            "approved_at": "Decided at", "measure": "Measure of success",
        }, hidden={"source_type", "source_id"})
        navigation.add(navigation.NavEntry("Actions", "actions:list", "actions.use", "check2-square"))
        services.register_work_provider(work.actions_work)
        from . import attention  # what the module proposes to committees (platform/reporting.py)
        attention.register()
        from . import reminders  # the morning's reminders to owners (platform/sweeps.py)

        reminders.connect()
