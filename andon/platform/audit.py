"""The audit trail: django-auditlog records every create, update and delete of the models
registered here, with who, when, and the before and after values of each field.

Reads of sensitive records (patient-level data, confidential safety records) are not visible
to the ORM, so the code that shows them calls `record_read` explicitly.

The trail is append-only. In the app: no page or API changes it, the admin shows it read-only,
and the guards below refuse saves of existing entries and deletes. On PostgreSQL a trigger
(migration 0002) refuses UPDATE and DELETE in the database itself.
"""

import secrets
import time
from contextlib import contextmanager
from datetime import UTC, datetime, time as clock
from functools import partial, wraps

from auditlog.context import _set_extra_data, auditlog_value
from auditlog.diff import model_instance_diff
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models.signals import pre_delete, pre_save
from django.utils import timezone
from django.utils.encoding import smart_str

from .models import HeldAuditEntry


class AuditTrailIsAppendOnly(Exception):
    """Raised on any attempt to change or remove an audit record."""


def mask_secret(value) -> str:
    """Masked fields (password hashes) show that they changed, never any part of the value.
    (auditlog's default mask keeps the second half of the string.)"""
    return "********" if value else ""


def register(model, **options) -> None:
    """Put a domain model under the audit trail (call from the module's AppConfig.ready).

    The records that point at this one (a risk's controls, a unit's children) are left out of
    its diffs: auditlog would write them as fields ("Controls set to risk.Control.None" on every
    create), and each of them has entries of its own."""
    pointing_here = [rel.name for rel in model._meta.related_objects if not rel.many_to_many]
    excluded = list(options.pop("exclude_fields", None) or [])
    options["exclude_fields"] = [*excluded, *(name for name in pointing_here if name not in excluded)]
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


@contextmanager
def acting_as(user):
    """Entries written inside name `user` as the actor, in a request or not (an API call signed
    in with a token, a background job, another module's code).

    auditlog keeps the actor in a context variable that its middleware fills for page requests;
    this puts `user` in (keeping the request's address) and restores the previous context on
    the way out, which auditlog's own set_actor does not do.
    """
    current = auditlog_value.get(None)
    duid = ("andon-acting-as", id(user), time.monotonic_ns())
    token = auditlog_value.set({**(current or {}), "actor": user, "signal_duid": duid})
    pre_save.connect(partial(_set_extra_data, signal_duid=duid), sender=LogEntry, dispatch_uid=duid, weak=False)
    try:
        yield
    finally:
        pre_save.disconnect(sender=LogEntry, dispatch_uid=duid)
        auditlog_value.reset(token)


def changes_by_user(service):
    """Decorate a service whose first argument is the acting user: its writes are audited as
    that user's, however it was called."""

    @wraps(service)
    def run(user, *args, **kwargs):
        with acting_as(user):
            return service(user, *args, **kwargs)

    return run


@contextmanager
def without_requester():
    """Audit entries written inside carry no actor, address or correlation id, even within a
    signed-in request (anonymous safety reports).

    auditlog's middleware keeps the request's actor in a context variable and fills it into
    every entry; this swaps in an empty context and restores the request's on the way out.
    """
    token = auditlog_value.set({"signal_duid": ("andon-without-requester", time.time())})
    try:
        yield
    finally:
        auditlog_value.reset(token)


def start_of_day(moment: datetime | None = None) -> datetime:
    """The first instant (UTC) of the day of `moment` (default: now): all that is kept of the
    time of an anonymous act."""
    return (moment or timezone.now()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def record_unattributed(instance, action, *, when: datetime | None = None, reason: str = "") -> HeldAuditEntry:
    """Record an anonymous act on `instance`: an entry with no actor and no address, dated to the
    day of `when` (default: now), held out of the trail until that day is over
    (`release_held_entries`), so that neither its time nor its place in the trail's sequence
    ties it to the named acts around it. It is written in the caller's transaction."""
    changes = None
    if action == LogEntry.Action.CREATE:
        changes = model_instance_diff(None, instance, use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES)
    pk = LogEntry.objects._get_pk_value(instance)
    fields = {
        "content_type_id": ContentType.objects.get_for_model(instance).pk, "object_pk": str(pk),
        "object_id": pk if isinstance(pk, int) else None, "object_repr": smart_str(instance),
        "action": action, "changes": changes,
        "additional_data": {"unattributed": True, **({"reason": reason} if reason else {})},
    }
    return HeldAuditEntry.objects.create(day=start_of_day(when).date(), fields=fields)


def release_held_entries(now: datetime | None = None) -> int:
    """Write the held entries of the days before `now`'s (default: today) to the trail, in a
    shuffled order, and return how many. Their ids then follow every entry written so far, so
    their position says only that they are older than the release; their timestamp is their day.

    The readers of the trail (`search`, the admin's list) call this first, so a whole past day is
    always complete. Within a request the entries still carry no actor or address.
    """
    today = start_of_day(now).date()
    with transaction.atomic(), without_requester():
        held = list(HeldAuditEntry.objects.select_for_update(skip_locked=True).filter(day__lt=today))
        if not held:
            return 0
        secrets.SystemRandom().shuffle(held)
        HeldAuditEntry.objects.filter(pk__in=[entry.pk for entry in held]).delete()
        # bulk_create: one insert, ids in the shuffled order, and no request context to fill in.
        LogEntry.objects.bulk_create([
            LogEntry(**entry.fields, timestamp=datetime.combine(entry.day, clock.min, UTC), actor=None,
                     remote_addr=None, remote_port=None, cid=None)
            for entry in held])
    return len(held)


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
    # A held entry is never changed either; it leaves its table only to enter the trail.
    pre_save.connect(_refuse_change, sender=HeldAuditEntry, dispatch_uid="andon-audit-held-unchanged")


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
    release_held_entries()
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
