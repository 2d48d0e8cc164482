from django.apps import AppConfig


class MedstaffConfig(AppConfig):
    name = "andon.medstaff"
    label = "medstaff"
    verbose_name = "Medical staff"

    def ready(self):
        # Each subject connects its own registries (audit, history, navigation, work, sweeps,
        # demo) from its `connect()`, so the subjects stay apart.
        from . import fppe, peer_review, practitioners, rules, training  # noqa: F401

        for subject in (practitioners, fppe, peer_review, training):
            subject.connect()
