from django.apps import AppConfig


class ImprovementConfig(AppConfig):
    name = "andon.improvement"
    label = "improvement"
    verbose_name = "Improvement"

    def ready(self):
        # Each subject connects its own registries (audit, history, navigation, work, demo)
        # from its `connect()`, so the subjects stay apart.
        from . import audits, board, projects, rules  # noqa: F401

        for subject in (projects, audits, board):
            subject.connect()
