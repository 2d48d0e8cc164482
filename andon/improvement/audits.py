"""Clinical audits: tools and criteria, samples, data entry, agreement, results and the cycle.
(Services; pages in views/audits.py.)"""

from andon.platform import audit


def connect() -> None:
    """Registries of the audits (audit, history, navigation, work), from ready()."""
    from . import models

    for model in (models.AuditTool, models.Audit):
        audit.register(model, exclude_fields=["version"])
    for model in (models.Criterion, models.AuditCase, models.CaseAnswer):
        audit.register(model)
