"""The audit trail in plain words, for the history shown on a record's page.

`describe(entries)` turns audit entries into lines a person reads: who, when, what happened,
and one sentence per changed field ("Owner set to Dana Ortiz", "Status changed from Planned to
In progress", "Unit set to Ward 4B", "Due date cleared"). Fields are named by their label,
people by their name, units and other records by their name, choices by their label; never a
raw id, a field name or an empty sign.

The records an entry names are read in one query per kind of record for the whole list (people
once, units once), never one per row. Modules add what the model cannot say itself from their
AppConfig.ready: `history.register(Model, labels={...}, values={field: value -> words},
hidden={...})`.
"""

from collections import defaultdict
from dataclasses import dataclass, field as dataclass_field
from datetime import date, datetime

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models

NONE = "(none)"
# Bookkeeping that says nothing to a reader: the record's own key, its last-saved time.
ALWAYS_HIDDEN = {"id", "updated_at"}
_TEXT_SHOWN = 160  # characters of a long text quoted in a sentence


@dataclass
class ModelWords:
    labels: dict[str, str] = dataclass_field(default_factory=dict)
    values: dict = dataclass_field(default_factory=dict)
    hidden: set[str] = dataclass_field(default_factory=set)


_WORDS: dict[type, ModelWords] = {}


def register(model, *, labels=None, values=None, hidden=()) -> None:
    """How the history names `model`'s fields (`labels`), words a field's stored value
    (`values`: field name -> callable(value) -> str, for codes the model has no choices for),
    and which fields it leaves out (`hidden`)."""
    words = _WORDS.setdefault(model, ModelWords())
    words.labels.update(labels or {})
    words.values.update(values or {})
    words.hidden.update(hidden)


def person_name(user) -> str:
    return (user.get_full_name() or user.username) if user else "system"


@dataclass
class Line:
    """One entry of a history, in words."""

    entry: LogEntry
    when: datetime
    who: str
    what: str
    changes: list[str]
    note: str = ""


_ACTIONS = {
    LogEntry.Action.CREATE: "Created",
    LogEntry.Action.UPDATE: "Changed",
    LogEntry.Action.DELETE: "Deleted",
    LogEntry.Action.ACCESS: "Opened",
}


def describe(entries, *, leave_out=()) -> list[Line]:
    """Lines for `entries` (an iterable of LogEntry with actor and content type read); fields
    named in `leave_out` are not told (a page that shows them otherwise)."""
    entries = list(entries)
    named = _named_records(entries)
    lines = []
    for entry in entries:
        model = entry.content_type.model_class() if entry.content_type_id else None
        changes = [] if entry.action == LogEntry.Action.ACCESS else _sentences(entry, model, named, set(leave_out))
        extra = entry.additional_data or {}
        note = str(extra.get("note") or extra.get("reason") or "")
        lines.append(Line(entry=entry, when=entry.timestamp, who=person_name(entry.actor),
                          what=_ACTIONS.get(entry.action, str(entry.get_action_display())),
                          changes=changes, note=note))
    return lines


def _fields(model):
    return {f.name: f for f in model._meta.concrete_fields} if model else {}


def _changes(entry) -> dict:
    changes = entry.changes_dict or {}
    return changes if isinstance(changes, dict) else {}


def _named_records(entries) -> dict:
    """(model, pk as str) -> words, for every record a foreign key in `entries` points at:
    one query per kind of record."""
    wanted: dict[type, set] = defaultdict(set)
    for entry in entries:
        model = entry.content_type.model_class() if entry.content_type_id else None
        fields = _fields(model)
        for name, values in _changes(entry).items():
            field = fields.get(name)
            if field is None or not field.is_relation or not isinstance(values, (list, tuple)):
                continue
            for value in values[:2]:
                if not _empty(value):
                    wanted[field.related_model].add(str(value))
    named = {}
    for model, pks in wanted.items():
        if model is ContentType:
            for pk in pks:
                try:
                    named[(model, pk)] = str(ContentType.objects.get_for_id(int(pk)).name).capitalize()
                except (ValueError, ContentType.DoesNotExist):
                    continue
            continue
        keys = []
        for pk in pks:
            try:
                keys.append(model._meta.pk.to_python(pk))
            except Exception:  # noqa: BLE001 - a key of another type (an old entry) is shown as removed
                continue
        for pk, record in model._default_manager.in_bulk(keys).items():
            named[(model, str(pk))] = person_name(record) if _is_user(model) else str(record)
    return named


def _is_user(model) -> bool:
    from django.contrib.auth import get_user_model

    return model is get_user_model()


def _empty(value) -> bool:
    return value is None or value == "" or value == "None" or value == [] or value == {}


def _label(model, name: str, field) -> str:
    words = _WORDS.get(model)
    if words and name in words.labels:
        return words.labels[name]
    if field is not None:
        return str(field.verbose_name)[:1].upper() + str(field.verbose_name)[1:]
    return name.replace("_", " ").capitalize()


def _value(model, name: str, field, value, named) -> str:
    if _empty(value):
        return NONE
    words = _WORDS.get(model)
    if words and name in words.values:
        return str(words.values[name](value))
    if field is None:
        return str(value)
    if field.is_relation:
        return named.get((field.related_model, str(value)), "a removed record")
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return "yes" if value in (True, "True", "true", 1, "1") else "no"
    if isinstance(field, models.DateTimeField):
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    if isinstance(field, models.DateField):
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
        return f"{day:%Y-%m-%d}"
    if isinstance(field, models.JSONField):
        return "new answers"
    text = str(value)
    if isinstance(field, models.TextField) or len(text) > 60:
        text = text if len(text) <= _TEXT_SHOWN else text[:_TEXT_SHOWN - 1] + "…"
        return f"“{text}”"
    return text


def _sentences(entry, model, named, leave_out) -> list[str]:
    fields = _fields(model)
    words = _WORDS.get(model)
    hidden = ALWAYS_HIDDEN | leave_out | (words.hidden if words else set())
    sentences = []
    for name, values in _changes(entry).items():
        if name in hidden or not isinstance(values, (list, tuple)) or len(values) != 2:
            continue
        field = fields.get(name)
        label = _label(model, name, field)
        old, new = values
        # A masked value (a password hash) or a document of answers: that it changed, no more.
        if isinstance(field, models.JSONField) or "********" in (old, new):
            sentences.append(f"{label} {'set' if entry.action == LogEntry.Action.CREATE else 'changed'}")
            continue
        if _empty(old) and _empty(new):
            continue
        if entry.action == LogEntry.Action.DELETE:
            continue
        if _empty(old):
            sentences.append(f"{label} set to {_value(model, name, field, new, named)}")
        elif _empty(new):
            sentences.append(f"{label} cleared (was {_value(model, name, field, old, named)})")
        else:
            sentences.append(f"{label} changed from {_value(model, name, field, old, named)} "
                             f"to {_value(model, name, field, new, named)}")
    return sentences


def history_of(instance, *, limit: int = 50, actions=None, leave_out=()) -> list[Line]:
    """The latest `limit` entries of `instance`'s history, newest first, in words; `actions`
    (LogEntry.Action values) keeps only those kinds of entry, and entries left with no change
    to tell (every field changed is in `leave_out`) are dropped."""
    from . import audit

    entries = audit.entries_for(instance).order_by("-timestamp", "-pk")
    if actions is not None:
        entries = entries.filter(action__in=list(actions))
    lines = describe(entries[:limit], leave_out=leave_out)
    if leave_out:
        lines = [line for line in lines if line.changes or line.entry.action != LogEntry.Action.UPDATE]
    return lines
