from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "andon.risk"
    label = "risk"
    verbose_name = "Risk"

    def ready(self):
        # Each subject connects its own registries (audit, history, navigation, work, demo,
        # sweeps) from its `connect()`, so the subjects stay apart.
        from . import board, fmea, links, register, reviews, rules  # noqa: F401

        for subject in (register, fmea, links, reviews, board):
            subject.connect()
        from . import attention  # what the module proposes to committees (platform/reporting.py)
        attention.register()
