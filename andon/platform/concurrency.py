"""Optimistic concurrency: a change sent from a form (or an API body) read at an older version of
a record is refused, never applied over the newer one.

A record that takes part is `Versioned`: every save adds one to its `version`. Pages carry the
version they showed in a hidden `VersionField`; API bodies carry it as `version`. The service
reads the row again with `lock(record, version)` inside its transaction, which takes the row lock
(select_for_update, so two changes of one record run one after the other on PostgreSQL) and
compares the version. A mismatch raises `Stale`: a ValidationError, so the services' callers
that catch refusals catch it too; pages answer it with `refused_on_page` (409, the record as it
now is, the person's entries kept) and the API with 409 (`api_kit.refused`). Its message names
who changed the record and when (from the audit trail), so the person knows what to look at.

A caller that sends no version (a script written before versions existed, a service called from
another module with a row it has just read) is not checked: the lock and the service's own checks
of the state still apply.
"""

from auditlog.models import LogEntry
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from . import audit


class Versioned(models.Model):
    """A record whose changes are counted, so that a form read at an older count can be told."""

    version = models.PositiveIntegerField(default=1, editable=False,
                                          help_text="Counts the record's changes (optimistic concurrency)")

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            self.version += 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
        super().save(*args, **kwargs)


class Stale(ValidationError):
    """The record changed since the version the caller read."""

    def __init__(self, record, seen: int):
        self.record, self.seen = record, seen
        self.by, self.at = last_change(record)
        self.page_message = (f"{self.what} was {self.changed} since you opened it. The page now shows it as it is: "
                             "check it, then send your entries again if they still apply.")
        self.api_message = (f"{self.what} was {self.changed} since you read it (version {seen}; it is now "
                            f"version {record.version}): read it again and resend with the current version.")
        # Not tied to a field: the version is hidden, so the message goes above the form.
        super().__init__(self.page_message, code="stale")

    @property
    def what(self) -> str:
        return f"{self.record._meta.verbose_name.capitalize()} “{self.record}”"

    @property
    def changed(self) -> str:
        who = (self.by.get_full_name() or self.by.username) if self.by else "someone else"
        when = f" at {timezone.localtime(self.at):%Y-%m-%d %H:%M}" if self.at else ""
        return f"changed by {who}{when}"


def last_change(record):
    """(who, when) of the record's latest change in the audit trail, or (None, None)."""
    entry = audit.entries_for(record).filter(action=LogEntry.Action.UPDATE).order_by("-timestamp", "-pk").first()
    return (entry.actor, entry.timestamp) if entry else (None, None)


def check(record, seen) -> None:
    """Refuse with `Stale` unless `seen` (the version the caller read; None: not given) is current."""
    if seen in (None, ""):
        return
    if not isinstance(seen, int):
        try:
            seen = int(seen)
        except (TypeError, ValueError):
            raise ValidationError({"version": "The form's version is not a number: reload the page."}) from None
    if seen != record.version:
        raise Stale(record, seen)


def lock(record, seen=None):
    """Bring `record` up to date from its row, locked for the rest of the caller's transaction,
    and refuse with `Stale` unless `seen` is its version.

    The caller's own object is refreshed (not a copy returned), so what the service then
    changes and saves is the row as it is now: a copy read before someone else's change would
    write their fields back as they were."""
    record.refresh_from_db(from_queryset=type(record)._default_manager.select_for_update())
    check(record, seen)
    return record


class VersionField(forms.IntegerField):
    """The version a page showed, sent back with the form (hidden)."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, min_value=1, **kwargs)


def refused_on_page(request, form, error: ValidationError, record, add_errors) -> int:
    """Show a service's refusal of a page's form; returns the status to answer with.

    A `Stale` refusal is said above the page, since the form may no longer be offered (the
    record has moved on); the page shows the record as it now is, the form keeps the person's
    entries and carries the current version, so sending it again is a decision taken knowing
    the change: 409. Any other refusal goes on the form with `add_errors(form, error)`: 400."""
    if not isinstance(error, Stale):
        add_errors(form, error)
        return 400
    messages.error(request, error.page_message)
    data = form.data.copy()
    data[form.add_prefix("version")] = str(record.version)
    form.data = data
    return 409
