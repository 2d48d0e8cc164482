"""Complaints and grievances: the rule, logging by staff, the public form and its receipt,
triage (classify), links to safety events, the lists and the record's sections.
DOMAIN.md §8 (42 CFR 482.13(a)(2)): a written complaint is always a grievance; a verbal one is a
grievance unless the staff present resolved it at the time."""

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from andon.platform import audit, content, history, inputs, navigation, permissions
from andon.platform import services as platform
from andon.platform.concurrency import lock
from andon.platform.models import Organisation, Sequence, Unit

from .models.grievances import (
    WRITTEN_CHANNELS,
    Channel,
    ComplaintKind,
    Grievance,
    GrievanceCategory,
    GrievanceStatus,
)

__all__ = [
    "CATEGORY_KIND", "Classification", "GrievanceSection", "Intake", "PublicComplaint", "access_grievance",
    "add_follow_dates", "add_grievance_section", "category_choices", "classify", "find_grievances",
    "follow_view", "grievance_for_receipt", "kind_for", "link_event", "linked_events", "log_complaint", "mark_unresolved",
    "open_event_for", "public_units", "rule_words", "sections_for", "submit_public_complaint", "visible_grievances",
]

CATEGORY_KIND = "grievance-categories"
DESCRIPTION_MAX = 8000
SHORT_MAX = {"patient_identifier": 64, "patient_name": 200, "encounter_reference": 64, "contact_name": 200,
             "contact_details": 400, "relationship": 60, "people_involved": 400}
RULE_TEXT = ("A written complaint (letter, e-mail, web form) is always a grievance. A verbal complaint (phone, in "
             "person) stays a complaint only when the staff present resolved it at the time; otherwise it is a "
             "grievance.")
# Control characters other than tab and line breaks: a NUL breaks PostgreSQL, the others hide text.
_HOSTILE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- the rule ---------------------------------------------------------------------------------

def kind_for(channel: str, resolved_at_time: bool) -> str:
    """Complaint or grievance (42 CFR 482.13(a)(2); CMS interpretive guidance)."""
    if channel in WRITTEN_CHANNELS:
        return ComplaintKind.GRIEVANCE
    return ComplaintKind.COMPLAINT if resolved_at_time else ComplaintKind.GRIEVANCE


def rule_words(channel: str, resolved_at_time: bool) -> str:
    """Why this one is what it is, in a sentence for the form and the record."""
    label = Channel(channel).label if channel in Channel.values else channel
    if channel in WRITTEN_CHANNELS:
        return f"A written complaint is always a grievance ({label.lower()})."
    if resolved_at_time:
        return f"A verbal complaint ({label.lower()}) resolved at the time by the staff present stays a complaint."
    return f"A verbal complaint ({label.lower()}) not resolved at the time is a grievance."


def _clock(grievance: Grievance) -> None:
    """Received on the organisation's day of `received_at`; due ANDON_GRIEVANCE_DAYS calendar days later."""
    grievance.received_on = timezone.localtime(grievance.received_at).date()
    if grievance.kind == ComplaintKind.GRIEVANCE:
        grievance.due_on = grievance.received_on + timedelta(days=settings.ANDON_GRIEVANCE_DAYS)
        grievance.resolved_on = None
    else:  # resolved at the time: stored resolved that day, no clock
        grievance.due_on = None
        grievance.resolved_on = grievance.received_on


def _next_reference(day: date) -> str:
    return f"G-{day.year}-{Sequence.next(f'grievance-{day.year}'):05d}"


# --- checking what people send ---------------------------------------------------------------

def _text(errors: dict, name: str, value, limit: int, *, required: str = "") -> str:
    text = (value or "").strip()
    if _HOSTILE.search(text):
        errors[name] = "Remove the control characters (such as NUL) from this text."
    elif len(text) > limit:
        errors[name] = f"At most {limit:,} characters ({len(text):,} given)."
    elif required and not text:
        errors[name] = required
    return text


def _places(errors: dict, unit_id, other_unit_ids) -> tuple[Unit | None, list[Unit]]:
    """The unit concerned and the others involved, active units all; a problem goes in `errors`."""
    unit = None
    if unit_id:
        unit = Unit.objects.filter(pk=unit_id, active=True).select_related("facility__organisation").first()
        if unit is None:
            errors["unit"] = "Choose the unit from the list."
    wanted = {int(i) for i in other_unit_ids or ()}
    others = list(Unit.objects.filter(pk__in=wanted, active=True))
    if len(others) != len(wanted):
        errors["other_units"] = "Choose units from the list."
    return unit, others


def _save_with_links(grievance: Grievance, categories, others) -> Grievance:
    grievance.save()
    grievance.categories.set(categories)
    grievance.other_units.set(others)
    return grievance


def _categories(errors: dict, ids) -> list[GrievanceCategory]:
    wanted = {int(i) for i in ids or ()}
    found = list(GrievanceCategory.objects.filter(pk__in=wanted, active=True))
    if len(found) != len(wanted):
        errors["categories"] = "Choose categories from the list."
    return found


def category_choices():
    return GrievanceCategory.objects.filter(active=True).order_by("label")


def public_units():
    """The units the public form offers, by their public names."""
    return (Unit.objects.filter(active=True).select_related("facility")
            .order_by("facility__name", "name"))


def _organisation(unit: Unit | None) -> Organisation:
    return unit.facility.organisation if unit else Organisation.objects.order_by("pk").first()


# --- logging by staff ------------------------------------------------------------------------

@dataclass
class Intake:
    """A complaint as staff log it."""

    channel: str
    received_at: datetime | None
    description: str
    unit_id: int | None = None
    other_unit_ids: list = field(default_factory=list)
    category_ids: list = field(default_factory=list)
    people_involved: str = ""
    patient_identifier: str = ""
    patient_name: str = ""
    encounter_reference: str = ""
    contact_name: str = ""
    relationship: str = ""
    contact_details: str = ""
    resolved_at_time: bool = False


def _checked_intake(intake: Intake) -> tuple[Grievance, list, list]:
    errors: dict[str, str] = {}
    grievance = Grievance(channel=intake.channel)
    if intake.channel not in Channel.values:
        errors["channel"] = f"Choose how it came in ({', '.join(Channel.values)})."
    if intake.received_at is None:
        errors["received_at"] = "Say when it was received."
    else:
        try:
            grievance.received_at = inputs.moment(intake.received_at)
        except inputs.InputError as problem:
            errors["received_at"] = str(problem)
        else:
            if grievance.received_at > timezone.now() + timedelta(minutes=5):
                errors["received_at"] = "The time received is in the future."
    if intake.resolved_at_time and intake.channel in WRITTEN_CHANNELS:
        errors["resolved_at_time"] = "A written complaint is always a grievance: only a verbal one is resolved at the time."
    grievance.description = _text(errors, "description", intake.description, DESCRIPTION_MAX,
                                  required="Say what the complaint is about.")
    for name, limit in SHORT_MAX.items():
        setattr(grievance, name, _text(errors, name, getattr(intake, name), limit))
    categories = _categories(errors, intake.category_ids)
    unit, others = _places(errors, intake.unit_id, intake.other_unit_ids)
    if errors:
        raise ValidationError(errors)
    grievance.unit = unit
    grievance.resolved_at_time = bool(intake.resolved_at_time)
    grievance.kind = kind_for(intake.channel, grievance.resolved_at_time)
    return grievance, categories, others


@audit.changes_by_user
@transaction.atomic
def log_complaint(user, intake: Intake) -> Grievance:
    """Store a complaint staff took (unit managers for their units only). A grievance is OPEN on
    its clock; a complaint resolved at the time is stored resolved that day."""
    permissions.check(user, "voice.log_complaints")
    grievance, categories, others = _checked_intake(intake)
    grievance.organisation = _organisation(grievance.unit)
    permissions.check(user, "voice.log_complaints", grievance)  # the unit (none: the organisation)
    _clock(grievance)
    grievance.status = (GrievanceStatus.RESOLVED if grievance.kind == ComplaintKind.COMPLAINT
                        else GrievanceStatus.OPEN)
    grievance.logged_by = user
    grievance.reference = _next_reference(grievance.received_on)
    return _save_with_links(grievance, categories, others)


@audit.changes_by_user
@transaction.atomic
def mark_unresolved(user, grievance: Grievance, version: int | None = None) -> Grievance:
    """A complaint resolved at the time came back unresolved: it becomes a grievance from today
    (its clock starts today), and who said so and when is kept."""
    permissions.check(user, "voice.manage_grievances", grievance)
    grievance = lock(grievance, version)
    if grievance.kind != ComplaintKind.COMPLAINT:
        raise ValidationError("Only a complaint resolved at the time can come back unresolved.")
    now = timezone.now()
    grievance.kind, grievance.status = ComplaintKind.GRIEVANCE, GrievanceStatus.OPEN
    grievance.converted_at, grievance.converted_by = now, user
    grievance.resolved_on = None
    grievance.due_on = timezone.localdate(now) + timedelta(days=settings.ANDON_GRIEVANCE_DAYS)
    grievance.save()
    return grievance


# --- the public form ------------------------------------------------------------------------

@dataclass
class PublicComplaint:
    """What a patient or family member types on the public form (all optional but the description
    and a way to answer, or the choice to stay anonymous)."""

    description: str
    occurred_on: date | None = None
    unit_id: int | None = None
    patient_name: str = ""
    patient_birth_date: date | None = None
    contact_name: str = ""
    relationship: str = ""
    contact_details: str = ""
    anonymous: bool = False
    category_ids: list = field(default_factory=list)


def check_public(complaint: PublicComplaint) -> tuple[Grievance, list]:
    """The grievance the form makes, not saved; ValidationError naming each field."""
    errors: dict[str, str] = {}
    grievance = Grievance(channel=Channel.WEB_FORM, kind=ComplaintKind.GRIEVANCE, status=GrievanceStatus.RECEIVED)
    grievance.description = _text(errors, "description", complaint.description, DESCRIPTION_MAX,
                                  required="Tell us what happened.")
    for name in ("patient_name", "contact_name", "relationship", "contact_details"):
        setattr(grievance, name, _text(errors, name, getattr(complaint, name), SHORT_MAX[name]))
    today = timezone.localdate()
    for name in ("occurred_on", "patient_birth_date"):
        value = getattr(complaint, name)
        if value is not None:
            if not date(1900, 1, 1) <= value <= today:
                errors[name] = "Give a date between 1900 and today."
            setattr(grievance, name, value)
    grievance.anonymous = bool(complaint.anonymous)
    if grievance.anonymous and (grievance.contact_details or grievance.contact_name):
        errors["anonymous"] = "You chose to stay anonymous: leave your name and contact details empty, or untick it."
    elif not grievance.anonymous and not grievance.contact_details:
        errors["contact_details"] = "Tell us how to answer you (address, e-mail or phone), or choose to stay anonymous."
    if complaint.unit_id:
        grievance.unit = public_units().filter(pk=complaint.unit_id).first()
        if grievance.unit is None:
            errors["unit"] = "Choose a place from the list, or \"Not sure\"."
    categories = _categories(errors, complaint.category_ids)
    if errors:
        raise ValidationError(errors)
    return grievance, categories


@transaction.atomic
def submit_public_complaint(complaint: PublicComplaint) -> tuple[Grievance, str]:
    """Store a web-form complaint (a grievance: written) and return it with its receipt code.
    Nothing about the sender is kept beyond what they typed: no user, address or session, and the
    time only to the day (received_at is the start of the organisation's day); the audit entry is
    unattributed and held (audit.record_unattributed). Its clock starts the day received."""
    from andon.safety import services as safety
    from auditlog.context import disable_auditlog
    from auditlog.models import LogEntry

    grievance, categories = check_public(complaint)
    today = timezone.localdate()
    grievance.received_at = timezone.make_aware(datetime.combine(today, datetime.min.time()))
    grievance.organisation = _organisation(grievance.unit)
    _clock(grievance)
    receipt = "-".join(secrets.token_hex(2).upper() for _ in range(4))  # as safety's receipts
    grievance.receipt_hash = safety.hash_receipt(receipt)
    grievance.reference = _next_reference(today)
    with disable_auditlog():
        grievance.save()
        grievance.categories.set(categories)
    audit.record_unattributed(grievance, LogEntry.Action.CREATE, reason="public complaint form")
    return grievance, receipt


# Letters and other dates the complainant may see on the follow page: fn(grievance) -> [(words, day)].
_follow_dates: list = []


def add_follow_dates(fn) -> None:
    if fn not in _follow_dates:
        _follow_dates.append(fn)


FOLLOW_STATUS = {
    GrievanceStatus.RECEIVED: "Received: patient relations will read it soon.",
    GrievanceStatus.OPEN: "Being looked into by patient relations.",
    GrievanceStatus.RESOLVED: "Resolved: a written answer has been sent.",
    GrievanceStatus.CLOSED: "Closed.",
}


def grievance_for_receipt(code: str) -> Grievance | None:
    """The web-form complaint of a receipt code (a wrong code is simply None); the read is
    audited without a reader."""
    from andon.safety import services as safety
    from auditlog.models import LogEntry

    code = (code or "").strip()
    if not code or len(code) > 64 or _HOSTILE.search(code):
        code = ""
    found = Grievance.objects.filter(receipt_hash=safety.hash_receipt(code), channel=Channel.WEB_FORM).first()
    if found is not None and code:
        audit.record_unattributed(found, LogEntry.Action.ACCESS, reason="read with the receipt code")
        return found
    return None


def follow_view(grievance: Grievance) -> dict:
    """All the follow page shows: the status in words, the day received, the dates of letters."""
    dates = [item for fn in _follow_dates for item in fn(grievance)]
    return {"status": FOLLOW_STATUS[grievance.status], "received_on": grievance.received_on, "dates": dates}


# --- reading -------------------------------------------------------------------------------

def visible_grievances(user, capability: str = "voice.view_grievances"):
    scope = permissions.scope_for(user, capability)
    found = Grievance.objects.all()
    return found if scope.everything else found.filter(unit__in=scope.units)


def access_grievance(user, grievance_id, capability: str = "voice.view_grievances") -> Grievance:
    return permissions.fetch_checked(
        user, capability, Grievance.objects.select_related("unit__facility", "owner", "logged_by", "converted_by"),
        pk=grievance_id)


def find_grievances(user, *, status: str = "", kind: str = "", category: int | None = None,
                    unit: Unit | None = None, received_from: date | None = None, received_to: date | None = None,
                    overdue: bool = False, words: str = ""):
    """The grievances the user may see, filtered, soonest due first (resolved ones, with no due
    date, last)."""
    scope = permissions.scope_for(user, "voice.view_grievances", unit=unit)
    found = Grievance.objects.all()
    if not scope.everything or unit is not None:
        found = found.filter(unit__in=scope.units)
    if status:
        found = found.filter(status=status)
    if kind:
        found = found.filter(kind=kind)
    if category:
        found = found.filter(categories=category)
    if received_from:
        found = found.filter(received_on__gte=received_from)
    if received_to:
        found = found.filter(received_on__lte=received_to)
    if overdue:
        found = found.filter(due_on__lt=timezone.localdate(), resolved_on__isnull=True,
                             status__in=[GrievanceStatus.RECEIVED, GrievanceStatus.OPEN])
    for word in words.split()[:8]:
        found = found.filter(Q(reference__iexact=word) | Q(description__icontains=word))
    return (found.select_related("unit__facility", "owner")
            .order_by(models_nulls_last("due_on"), "pk"))


def models_nulls_last(name: str):
    from django.db.models import F

    return F(name).asc(nulls_last=True)


# --- triage -----------------------------------------------------------------------------------

@dataclass
class Classification:
    category_ids: list
    unit_id: int | None
    other_unit_ids: list = field(default_factory=list)
    people_involved: str = ""
    patient_identifier: str = ""
    patient_name: str = ""
    encounter_reference: str = ""
    owner_id: int | None = None


def _owner(errors: dict, owner_id, grievance):
    if not owner_id:
        return None
    owner = permissions.people_who("voice.manage_grievances", grievance).filter(pk=owner_id).first()
    if owner is None:
        errors["owner"] = "Choose someone in patient relations."
    return owner


@audit.changes_by_user
@transaction.atomic
def classify(user, grievance: Grievance, change: Classification, version: int | None = None) -> Grievance:
    """Set what patient relations decided (categories, units, people, patient, owner) and open it.
    The kind is the rule's; a category alleging harm needs a linked safety event first."""
    permissions.check(user, "voice.manage_grievances", grievance)
    grievance = lock(grievance, version)
    errors: dict[str, str] = {}
    for name in ("people_involved", "patient_identifier", "patient_name", "encounter_reference"):
        setattr(grievance, name, _text(errors, name, getattr(change, name), SHORT_MAX[name]))
    categories = _categories(errors, change.category_ids)
    unit, others = _places(errors, change.unit_id, change.other_unit_ids)
    owner = _owner(errors, change.owner_id, grievance)
    harm = [c.label for c in categories if c.alleges_harm]
    if harm and not grievance.safety_events.exists():
        errors["categories"] = (f"{', '.join(harm)} alleges harm: link a safety event or open one before the "
                                "grievance is classified.")
    if errors:
        raise ValidationError(errors)
    grievance.unit, grievance.owner = unit, owner
    if unit is not None:
        grievance.organisation = unit.facility.organisation
    grievance.kind = kind_for(grievance.channel, grievance.resolved_at_time)
    if grievance.status == GrievanceStatus.RECEIVED:
        grievance.status = GrievanceStatus.OPEN
        grievance.classified_at = timezone.now()
    return _save_with_links(grievance, categories, others)


# --- safety events ---------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def link_event(user, grievance: Grievance, reference: str):
    """Link a safety event the user may see (or reported), by its reference (R-… or an anonymous one)."""
    from andon.safety import services as safety

    permissions.check(user, "voice.manage_grievances", grievance)
    reference = (reference or "").strip()
    event = safety.events_visible_to(user, own=True).filter(reference__iexact=reference[:40]).first() if reference else None
    if event is None:  # none, or one the user may not see: the same answer
        raise ValidationError({"reference": f"No safety event {inputs.shown(reference)} that you may see or reported."})
    grievance.safety_events.add(event)
    return event


@audit.changes_by_user
@transaction.atomic
def open_event_for(user, grievance: Grievance, *, kind: str, category: str, harm: str = "", details=None):
    """Report a safety event from the grievance in one step: its text, unit and day carried over,
    the user the reporter; the event is linked. The event keeps nothing of the grievance."""
    from andon.safety import services as safety

    permissions.check(user, "voice.manage_grievances", grievance)
    permissions.check(user, "safety.report")
    if grievance.unit_id is None:
        raise ValidationError({"unit": "Set the unit the grievance concerns first: the event needs it."})
    occurred = grievance.received_at
    if grievance.occurred_on:
        occurred = timezone.make_aware(datetime.combine(grievance.occurred_on, datetime.min.time().replace(hour=12)))
        occurred = min(occurred, timezone.now())
    report = safety.Report(kind=kind, category=category, unit_id=grievance.unit_id, occurred_at=occurred,
                           narrative=f"From a patient complaint: {grievance.description}"[:safety.NARRATIVE_MAX],
                           harm=harm, details=dict(details or {}), person_affected="patient" if kind == "incident" else "",
                           patient_identifier=grievance.patient_identifier)
    event, _ = safety.submit_report(user, report)
    grievance.safety_events.add(event)
    return event


def linked_events(user, grievance: Grievance) -> list:
    """The linked events the user may see."""
    from andon.safety import services as safety

    visible = safety.events_visible_to(user, own=True)
    return list(visible.filter(pk__in=grievance.safety_events.values("pk")).order_by("pk"))


# --- sections of the record page, added by other subjects (the clock, letters, committee) -----

@dataclass(frozen=True)
class GrievanceSection:
    title: str
    template: str
    context_fn: object  # (user, grievance) -> dict | None (None hides it)
    order: int


_sections: list[GrievanceSection] = []


def add_grievance_section(title: str, template: str, context_fn, order: int = 50) -> None:
    if not any(s.title == title for s in _sections):
        _sections.append(GrievanceSection(title, template, context_fn, order))
        _sections.sort(key=lambda s: s.order)


def sections_for(user, grievance: Grievance) -> list[dict]:
    shown = []
    for section in _sections:
        context = section.context_fn(user, grievance)
        if context is not None:
            shown.append({"title": section.title, "template": section.template, "context": context})
    return shown


# --- home work, content, registries ---------------------------------------------------------

def _work(user) -> list:
    if not permissions.can(user, "voice.manage_grievances"):
        return []
    waiting = visible_grievances(user, "voice.manage_grievances").filter(status=GrievanceStatus.RECEIVED).count()
    if not waiting:
        return []
    return [platform.WorkItem(f"{waiting} complaint{'s' if waiting != 1 else ''} from the web form to classify",
                              "/voice/grievances/?status=received", "review")]


def load_categories(data, source: str) -> None:
    """content/grievance-categories/*.yaml: {categories: [{key, label, alleges_harm}]}."""
    rows = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise content.ContentError(f"{source}: categories: a list of categories is needed")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not re.fullmatch(r"[a-z0-9-]{1,60}", str(row.get("key", ""))):
            raise content.ContentError(f"{source}: categories[{i}].key: a slug (a-z, 0-9, -) is needed")
        label = str(row.get("label") or "").strip()
        if not label or len(label) > 120:
            raise content.ContentError(f"{source}: categories[{i}].label: 1 to 120 characters")
        GrievanceCategory.objects.update_or_create(
            key=row["key"], defaults={"label": label, "alleges_harm": bool(row.get("alleges_harm")), "active": True})


def connect() -> None:
    from . import demo_grievances

    audit.register(Grievance, exclude_fields=["version", "receipt_hash"], m2m_fields={"categories", "other_units",
                                                                                       "safety_events"})
    audit.register(GrievanceCategory)
    history.register(Grievance, hidden={"receipt_hash", "version"})
    navigation.add(navigation.NavEntry("Complaints and grievances", "voice:grievances", "voice.view_grievances",
                                       "megaphone"))
    navigation.add(navigation.NavEntry("Log a complaint", "voice:grievance_log", "voice.log_complaints",
                                       "telephone-inbound"))
    navigation.add(navigation.NavEntry("Make a complaint", "voice:public_complaint", None, "chat-left-text", "public"))
    navigation.add(navigation.NavEntry("Follow a complaint", "voice:public_follow", None, "search", "public"))
    platform.register_work_provider(_work)
    content.register_loader(CATEGORY_KIND, load_categories)
    from andon.platform import demo

    demo.register_demo_loader(demo_grievances.load_demo_grievances)
