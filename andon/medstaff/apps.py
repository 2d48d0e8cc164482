from django.apps import AppConfig


class MedstaffConfig(AppConfig):
    name = "andon.medstaff"
    label = "medstaff"
    verbose_name = "Medical staff"

    def ready(self):
        # Each subject connects its own registries (audit, history, navigation, work, sweeps,
        # demo) from its `connect()`, so the subjects stay apart. The order is the demo's: the
        # practitioners first, then what hangs on them.
        from . import credentials, fppe, oppe, peer_review, practitioners, privileges, rules, training  # noqa: F401

        for subject in (practitioners, credentials, privileges, fppe, oppe, peer_review, training):
            subject.connect()
        from . import attention  # what the module proposes to committees (platform/reporting.py)
        attention.register()
