from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "andon.compliance"
    label = "compliance"
    verbose_name = "Compliance"

    def ready(self):
        # Each subject connects its own registries (audit, history, navigation, work, content,
        # demo, jobs) from its `connect()`, so the subjects stay apart.
        from . import assessments, board, evidence, frameworks, policies, rules, tracers  # noqa: F401

        for subject in (frameworks, assessments, evidence, policies, tracers, board):
            subject.connect()
        from . import attention  # what the module proposes to committees (platform/reporting.py)
        attention.register()
