"""The grievance's letters: the interim letter (we are still working on it, with the date of the
full response, which becomes the promised date) and the resolution letter, which holds the four
elements of 42 CFR 482.13(a)(2)(iii): the hospital contact person, the steps taken to
investigate, the results and the date of completion (each required before approval).

A letter is drafted from the record and the wording of `voice/letter_<kind>_text.txt`, edited
while a draft (versioned), approved by a holder of voice.approve_letters, then sent (post, e-mail
or by hand, with the day) or printed as PDF. An approved letter is not edited: a change is a new
draft that replaces it. Sending the resolution letter resolves the grievance."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from andon.platform import audit, concurrency, history, inputs, pdf, permissions

from .clock import clock_of
from .models import Grievance, GrievanceStatus, Letter, LetterKind, LetterStatus, SendingMethod

__all__ = ["EDITABLE", "FOUR_ELEMENTS", "missing_elements", "access_letter", "approve_letter", "draft_letter", "edit_letter", "letter_pdf",
           "letters_of", "letters_section", "letters_to_approve", "redraft_letter", "send_letter"]

FOUR_ELEMENTS = ("contact_person", "investigation_steps", "results", "completed_on")
EDITABLE = ("addressee", "address", "body", "promised_on", *FOUR_ELEMENTS)
TEXT_MAX = {"addressee": 200, "address": 400, "body": 8000, "contact_person": 300,
            "investigation_steps": 4000, "results": 4000}
OPEN_FOR_LETTERS = (GrievanceStatus.OPEN, GrievanceStatus.RECEIVED)


def access_letter(user, letter_id, capability: str = "voice.view_grievances") -> Letter:
    return permissions.fetch_checked(user, capability, Letter.objects.select_related("grievance"), pk=letter_id)


def letters_of(grievance: Grievance):
    return (Letter.objects.filter(grievance=grievance)
            .select_related("approved_by", "sent_by", "created_by").order_by("created_at", "pk"))


def letters_to_approve(user):
    """Drafts in the user's scope waiting for approval (the approver's work line)."""
    scope = permissions.scope_for(user, "voice.approve_letters")
    drafts = Letter.objects.filter(status=LetterStatus.DRAFT)
    return drafts if scope.everything else drafts.filter(grievance__unit__in=scope.units)


# --- drafting and editing -------------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def draft_letter(user, grievance: Grievance, kind, today: date | None = None) -> Letter:
    """A new draft from the record and the kind's wording: the addressee and address as the
    complainant gave them, the grievance's reference and day received, the signer as contact."""
    permissions.check(user, "voice.manage_grievances", grievance)
    try:
        kind = LetterKind(kind)
    except ValueError:
        raise ValidationError({"kind": f"Choose one of: {', '.join(LetterKind.values)}."}) from None
    if grievance.status not in OPEN_FOR_LETTERS:
        raise ValidationError({"kind": f"{grievance.reference} is {grievance.get_status_display().lower()}: "
                                      "reopen it before writing to the patient again."})
    today = today or timezone.localdate()
    context = {"grievance": grievance, "today": today, "signer": user.get_full_name() or user.username}
    body = render_to_string(f"voice/letter_{kind}_text.html", context).strip()
    letter = Letter(grievance=grievance, kind=kind, body=body, created_by=user,
                    addressee=grievance.contact_name or grievance.patient_name, address=grievance.contact_details)
    if kind == LetterKind.RESOLUTION:
        letter.contact_person = f"{context['signer']}, Patient Relations"
    letter.save()
    return letter


def _cleaned(letter: Letter, fields: dict) -> dict:
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    errors = {}
    for name, value in fields.items():
        if name in TEXT_MAX:
            fields[name] = value = (value or "").strip()
            if len(value) > TEXT_MAX[name]:
                errors[name] = f"At most {TEXT_MAX[name]:,} characters."
        elif value is not None:
            try:
                fields[name] = inputs.day(date.fromisoformat(value) if isinstance(value, str) else value)
            except (ValueError, TypeError) as problem:  # InputError is a ValueError
                errors[name] = str(problem) if isinstance(problem, inputs.InputError) else \
                    f"{value!r} is not a date written YYYY-MM-DD."
    if errors:
        raise ValidationError(errors)
    return fields


@audit.changes_by_user
@transaction.atomic
def edit_letter(user, letter: Letter, version: int | None = None, **fields) -> Letter:
    permissions.check(user, "voice.manage_grievances", letter.grievance)
    concurrency.lock(letter, version)
    if letter.status != LetterStatus.DRAFT:
        raise ValidationError({"status": f"This letter is {letter.get_status_display().lower()} and is no longer "
                                         "edited: start a new draft from it to change it."})
    for name, value in _cleaned(letter, dict(fields)).items():
        setattr(letter, name, value)
    letter.save()
    return letter


@audit.changes_by_user
@transaction.atomic
def redraft_letter(user, letter: Letter) -> Letter:
    """A new draft with an approved letter's words; the approved one is replaced and never sent."""
    permissions.check(user, "voice.manage_grievances", letter.grievance)
    concurrency.lock(letter)
    if letter.status != LetterStatus.APPROVED:
        raise ValidationError({"status": "Only an approved letter that has not been sent is redrafted."})
    letter.status = LetterStatus.REPLACED
    letter.save()
    copy = Letter(grievance=letter.grievance, kind=letter.kind, created_by=user, replaces=letter,
                  **{name: getattr(letter, name) for name in EDITABLE})
    copy.save()
    return copy


# --- approval and sending --------------------------------------------------------------------------------

def missing_elements(letter: Letter) -> dict:
    """What the letter still lacks before approval, by field."""
    missing = {}
    if not letter.body.strip():
        missing["body"] = "The letter has no text."
    if letter.kind == LetterKind.INTERIM:
        if letter.promised_on is None:
            missing["promised_on"] = "Give the date of the full response."
        elif letter.promised_on < timezone.localtime(letter.created_at).date():
            missing["promised_on"] = "The date of the full response must not be before the letter was drafted."
        return missing
    words = {"contact_person": "Name the hospital contact person.",
             "investigation_steps": "Describe the steps taken to investigate the grievance.",
             "results": "Give the results of the grievance process.",
             "completed_on": "Give the date of completion."}
    for name, say in words.items():
        value = getattr(letter, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing[name] = say
    return missing


@audit.changes_by_user
@transaction.atomic
def approve_letter(user, letter: Letter, version: int | None = None) -> Letter:
    permissions.check(user, "voice.approve_letters", letter.grievance)
    concurrency.lock(letter, version)
    if letter.status != LetterStatus.DRAFT:
        raise ValidationError({"status": f"This letter is already {letter.get_status_display().lower()}."})
    missing = missing_elements(letter)
    if missing:
        raise ValidationError(missing)
    letter.status = LetterStatus.APPROVED
    letter.approved_by, letter.approved_at = user, timezone.now()
    letter.save()
    return letter


@audit.changes_by_user
@transaction.atomic
def send_letter(user, letter: Letter, via, sent_on: date | None = None, version: int | None = None) -> Letter:
    """Record the approved letter as sent (by post, e-mail or by hand) on `sent_on`. The interim
    letter's date becomes the promised date; the resolution letter resolves the grievance on that
    day, within its time frame or not (kept for the measure)."""
    grievance = letter.grievance
    permissions.check(user, "voice.manage_grievances", grievance)
    concurrency.lock(letter, version)
    if letter.status != LetterStatus.APPROVED:
        raise ValidationError({"status": "Only an approved letter is sent: ask for its approval first."})
    try:
        via = SendingMethod(via)
    except ValueError:
        raise ValidationError({"via": f"Choose one of: {', '.join(SendingMethod.values)}."}) from None
    sent_on = inputs.day(sent_on) if sent_on is not None else timezone.localdate()
    concurrency.lock(grievance)
    if grievance.status not in OPEN_FOR_LETTERS:
        raise ValidationError({"status": f"{grievance.reference} is already {grievance.get_status_display().lower()}."})
    letter.status, letter.sent_on, letter.sent_by, letter.sent_via = LetterStatus.SENT, sent_on, user, via
    letter.save()
    clock = clock_of(grievance)
    if letter.kind == LetterKind.INTERIM:
        clock.promised_on = letter.promised_on
    else:
        grievance.status, grievance.resolved_on = GrievanceStatus.RESOLVED, sent_on
        grievance.save()
        clock.resolved_in_time = grievance.due_on is not None and sent_on <= grievance.due_on
    clock.save()
    return letter


# --- printing -----------------------------------------------------------------------------------------------

def letter_pdf(user, letter: Letter) -> bytes:
    """The letter as PDF, as it stands (a draft is marked DRAFT)."""
    permissions.check(user, "voice.view_grievances", letter.grievance)
    return pdf.render_template_pdf("voice/letter_pdf.html", {"letter": letter, "grievance": letter.grievance})


# --- the record page's section and the approver's work --------------------------------------------------------

def letters_section(user, grievance: Grievance) -> dict | None:
    if not permissions.can(user, "voice.view_grievances", grievance):
        return None
    return {"grievance": grievance, "letters": list(letters_of(grievance)),
            "may_write": grievance.status in OPEN_FOR_LETTERS and permissions.can(user, "voice.manage_grievances",
                                                                                  grievance)}


def letters_work(user) -> list:
    if not permissions.can(user, "voice.approve_letters"):
        return []
    from django.urls import reverse

    from andon.platform.services import WorkItem
    waiting = letters_to_approve(user).count()
    if not waiting:
        return []
    return [WorkItem(f"{waiting} letter{'s' if waiting != 1 else ''} to approve", reverse("voice:letters"), "review",
                     "Grievance letters drafted by patient relations, waiting for approval.")]


def letters_sent(grievance) -> list[tuple[str, object]]:
    """What the complainant's follow page may show of the letters: which were sent, and when."""
    words = {LetterKind.INTERIM: "A letter saying we are still working on it was sent",
             LetterKind.RESOLUTION: "The written answer was sent"}
    return [(words[letter.kind], letter.sent_on)
            for letter in Letter.objects.filter(grievance=grievance, status=LetterStatus.SENT).order_by("sent_on", "pk")]


def connect() -> None:
    """Registries of this subject, from ready()."""
    from andon.platform import services as platform_services

    from andon.platform import navigation

    audit.register(Letter)
    entry = navigation.NavEntry("Letters to approve", "voice:letters", "voice.approve_letters", "envelope-check")
    if entry not in navigation.ENTRIES:  # ready() may run twice (tests)
        navigation.add(entry)
    history.register(Letter)
    platform_services.register_work_provider(letters_work)
    from .grievances import add_follow_dates, add_grievance_section

    add_grievance_section("Letters", "voice/letters_section.html", letters_section, 20)
    add_follow_dates(letters_sent)
