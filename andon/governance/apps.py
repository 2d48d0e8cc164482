from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "andon.governance"
    label = "governance"
    verbose_name = "Governance"

    def ready(self):
        # Each subject connects its own registries (audit, history, navigation, work, demo) from its
        # `connect()`, so the subjects stay apart. The committees before the packs (the demo's order).
        from . import committees, meetings, packs, rules  # noqa: F401

        for subject in (committees, meetings, packs):
            subject.connect()
