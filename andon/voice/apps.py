from django.apps import AppConfig


class VoiceConfig(AppConfig):
    name = "andon.voice"
    label = "voice"
    verbose_name = "Patient voice"

    def ready(self):
        # Each subject connects its own registries (audit, history, navigation, work, sweeps,
        # demo) from its `connect()`, so the subjects stay apart. The order is the demo's: the
        # surveys before their comments, the grievances before their clock and letters.
        from . import board, clock, comments, committee, grievances, letters, rules, scores, surveys  # noqa: F401

        for subject in (surveys, scores, comments, grievances, clock, letters, committee, board):
            subject.connect()
        from . import attention  # what the module proposes to committees (platform/reporting.py)
        attention.register()
