"""The audit trail: django-auditlog records every create, update and delete of the models
registered here, with who, when, and the before and after values of each field.

Reads of sensitive records (patient-level data, confidential safety records) are not visible
to the ORM, so the code that shows them calls `record_read` explicitly.

The trail is append-only. In the app: no page or API changes it, the admin shows it read-only,
and the guards below refuse saves of existing entries and deletes. On PostgreSQL a trigger
(migration 0002) refuses UPDATE and DELETE in the database itself.
"""

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.db.models.signals import pre_delete, pre_save


class AuditTrailIsAppendOnly(Exception):
    """Raised on any attempt to change or remove an audit record."""


def mask_secret(value) -> str:
    """Masked fields (password hashes) show that they changed, never any part of the value.
    (auditlog's default mask keeps the second half of the string.)"""
    return "********" if value else ""


def register(model, **options) -> None:
    """Put a domain model under the audit trail (call from the module's AppConfig.ready)."""
    auditlog.register(model, **options)


def record_read(instance, *, actor=None, reason: str = "") -> LogEntry:
    """Record that a sensitive record was viewed, with an optional reason.

    `actor` defaults to the signed-in user of the current request (auditlog's middleware puts
    it in context); pass it when outside a request. The entry is written whole in one insert.
    """
    fields = {"action": LogEntry.Action.ACCESS, "changes": None}
    if actor is not None:
        fields["actor"] = actor
    if reason:
        fields["additional_data"] = {"reason": reason[:500]}
    return LogEntry.objects.log_create(instance, force_log=True, **fields)


def entries_for(instance):
    return LogEntry.objects.get_for_object(instance).select_related("actor", "content_type")


def _refuse_change(sender, instance, **kwargs):
    if instance.pk is not None and not instance._state.adding:
        raise AuditTrailIsAppendOnly("audit records cannot be changed")


def _refuse_delete(sender, instance, **kwargs):
    raise AuditTrailIsAppendOnly("audit records cannot be deleted")


def protect_trail() -> None:
    pre_save.connect(_refuse_change, sender=LogEntry, dispatch_uid="andon-audit-append-only-save")
    pre_delete.connect(_refuse_delete, sender=LogEntry, dispatch_uid="andon-audit-append-only-delete")


# Stable names for the API and exports (the library's labels are translatable).
ACTION_NAMES = {
    LogEntry.Action.CREATE: "create",
    LogEntry.Action.UPDATE: "update",
    LogEntry.Action.DELETE: "delete",
    LogEntry.Action.ACCESS: "access",
}


def action_code(name: str | None) -> int | None:
    """"update" -> LogEntry.Action.UPDATE; the API names actions, the table numbers them."""
    if name is None:
        return None
    codes = {label: value for value, label in ACTION_NAMES.items()}
    return codes[name]


def search(*, action=None, model=None, actor=None, object_pk=None, since=None, until=None):
    """Audit entries matching the viewer's filters, newest first.

    `model` is "app_label.model", `actor` a username, `since`/`until` dates (inclusive).
    """
    entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp", "-pk")
    if action not in (None, ""):
        entries = entries.filter(action=int(action))
    if model:
        app_label, _, model_name = model.partition(".")
        entries = entries.filter(content_type__app_label=app_label, content_type__model=model_name)
    if actor:
        entries = entries.filter(actor__username=actor)
    if object_pk:
        entries = entries.filter(object_pk=str(object_pk))
    if since:
        entries = entries.filter(timestamp__date__gte=since)
    if until:
        entries = entries.filter(timestamp__date__lte=until)
    return entries


def audited_models() -> list[tuple[str, str]]:
    """("app_label.model", "Verbose name") for every model under the trail, for the filter menu."""
    models = auditlog.get_models()
    return sorted(
        (f"{m._meta.app_label}.{m._meta.model_name}", str(m._meta.verbose_name).capitalize()) for m in models
    )


def as_row(entry: LogEntry) -> dict:
    """A flat record of one entry, for the CSV export and the API."""
    return {
        "id": entry.pk,
        "timestamp": entry.timestamp.isoformat(),
        "actor": entry.actor.username if entry.actor else "",
        "action": ACTION_NAMES.get(entry.action, str(entry.action)),
        "record_type": f"{entry.content_type.app_label}.{entry.content_type.model}",
        "record_id": entry.object_pk,
        "record": entry.object_repr,
        "changes": entry.changes,
        "remote_addr": entry.remote_addr or "",
        "additional_data": entry.additional_data,
    }
