"""The safety module's door: reporting, triage, the workflow, feedback to the reporter and
conduct concerns. Pages, the API and other modules change safety records only through here.
"""

import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, concurrency, inputs, permissions
from andon.platform.models import Unit
from andon.platform import notifications
from andon.platform.notifications import notify

from . import sac, taxonomy
from .models import (
    KINDS_WITH_HARM,
    NARRATIVE_MAX,
    SAFETY_KINDS,
    SEVERE_HARMS,
    Attachment,
    ConductConcern,
    Deescalation,
    Escalation,
    HeldFile,
    Investigation,
    Kind,
    PersonAffected,
    ReferenceCounter,
    ReportDraft,
    ReporterMessage,
    ReporterQuestion,
    Review,
    ReviewWaiver,
    RootCause,
    SafetyEvent,
    Source,
    Status,
    Transition,
    hash_receipt,
)
from andon.platform.scrub import without_metadata

# Plain words for the reporter about each step (DOMAIN.md §9: feedback without the analysis).
REPORTER_STATUS_TEXT = {
    Status.TRIAGE: "A patient safety officer is reading your report.",
    Status.REVIEW: "Your report is being reviewed, with the unit or with similar reports.",
    Status.INVESTIGATION: "Your report is being investigated in depth (a root cause analysis).",
    Status.ACTION_PLANNING: "The review is done; actions to prevent a repeat are being planned.",
    Status.CLOSED: "The review of your report is complete.",
}
# Said instead when leadership waived the review (services.waive_review): no review was done.
REPORTER_ACTIONS_WITHOUT_REVIEW = "Actions to prevent a repeat are being planned."
# What the reporter reads of each step on their own report: plain words, none of the analysis.
REPORTER_STATUS = {
    Status.SUBMITTED: "Received",
    Status.TRIAGE: "Being read by the patient safety team",
    Status.REVIEW: "Under review",
    Status.INVESTIGATION: "Under in-depth review",
    Status.ACTION_PLANNING: "Actions being planned",
    Status.CLOSED: "Review complete",
}
CLOCK_SKEW = timedelta(minutes=10)


@dataclass
class Report:
    """What a reporter sends. `details` are the category's own answers (from the taxonomy)."""

    kind: str
    category: str
    unit_id: int | None
    occurred_at: datetime | None
    narrative: str
    harm: str = ""
    details: dict | None = None
    immediate_action: str = ""
    anonymous: bool = False
    share_identity: bool = False
    person_affected: str = ""
    patient_identifier: str = ""  # the patient's MRN or encounter, as the reporter knows it
    witnesses: str = ""
    location_detail: str = ""


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    size: int
    file: object  # a Django File


def check_report(report: Report, uploads=(), tax=None) -> tuple[dict, dict]:
    """Every problem with a report at once: ({field: message}, cleaned details)."""
    errors: dict[str, str] = {}
    if report.kind not in Kind.values:
        errors["kind"] = "Choose what kind of report this is."
    tax = tax or taxonomy.current()
    if tax.category(report.category) is None:
        errors["category"] = "Choose a category."
    if not report.unit_id or not Unit.objects.filter(pk=report.unit_id, active=True).exists():
        errors["unit"] = "Choose the unit where it happened."
    if report.occurred_at is None:
        errors["occurred_at"] = "Say when it happened."
    elif report.occurred_at > timezone.now() + CLOCK_SKEW:
        errors["occurred_at"] = "The time is in the future."
    narrative = (report.narrative or "").strip()
    if not narrative:
        errors["narrative"] = "Say what happened."
    elif len(narrative) > NARRATIVE_MAX:
        errors["narrative"] = f"At most {NARRATIVE_MAX:,} characters ({len(narrative):,} given)."
    if len(report.immediate_action or "") > 2000:
        errors["immediate_action"] = "At most 2,000 characters."
    harm_codes = [h["code"] for h in tax.harm_scale]
    if report.kind in KINDS_WITH_HARM:
        if report.harm not in harm_codes:
            errors["harm"] = "An incident reached the patient: choose the harm (or Unknown)."
    elif report.harm:
        errors["harm"] = "Only incidents (that reached the patient) have harm."
    errors.update(_check_people_and_place(report))
    if report.anonymous and report.share_identity:
        errors["share_identity"] = "An anonymous report cannot also share the reporter's name."
    details, detail_errors = ({}, {})
    if "category" not in errors:
        details, detail_errors = tax.clean_details(report.category, report.details or {})
    errors.update({f"details.{field}": message for field, message in detail_errors.items()})
    errors.update(_check_uploads(uploads))
    return errors, details


def _check_people_and_place(report: Report) -> dict:
    errors = {}
    if report.person_affected and report.person_affected not in PersonAffected.values:
        errors["person_affected"] = f"Choose who was affected ({', '.join(PersonAffected.values)})."
    identifier = (report.patient_identifier or "").strip()
    if len(identifier) > 64:
        errors["patient_identifier"] = f"At most 64 characters ({len(identifier)} given)."
    elif identifier and report.person_affected not in ("", PersonAffected.PATIENT):
        errors["patient_identifier"] = "An MRN or encounter is given only when the person affected is a patient."
    if len(report.witnesses or "") > 1000:
        errors["witnesses"] = f"At most 1,000 characters ({len(report.witnesses):,} given)."
    if len(report.location_detail or "") > 200:
        errors["location_detail"] = f"At most 200 characters ({len(report.location_detail)} given)."
    return errors


def person_affected_of(report: Report) -> str:
    """Who was affected: as given; an incident (it reached the patient) or a report naming a
    patient's record is about a patient when the reporter did not say."""
    if report.person_affected:
        return report.person_affected
    if report.kind in KINDS_WITH_HARM or (report.patient_identifier or "").strip():
        return PersonAffected.PATIENT
    return ""


def link_patient(event: SafetyEvent) -> str:
    """Look the event's MRN or encounter up in the FHIR store (through the measures module, which
    owns it) and keep the patient's and encounter's ids; "found", "not found" or "unavailable"
    (the store could not be read). The typed value is kept whatever the answer."""
    from andon.measures import services as measures

    event.patient_fhir_id = event.encounter_fhir_id = ""
    if not event.patient_identifier:
        return ""
    try:
        found = measures.find_patient(event.patient_identifier)
    except LookupError:
        return "unavailable"
    if found is None:
        return "not found"
    event.patient_fhir_id, event.encounter_fhir_id = found.patient_id[:64], found.encounter_id[:64]
    return "found"


def patient_of(event: SafetyEvent):
    """The identity (name, MRN, birth date) of the patient the event is linked to, read from the
    FHIR store; for pages that may show the event to those who see its analysis, never for the
    reporter's pages or the aggregates. None when not linked or no longer in the store."""
    from andon.measures import services as measures

    if not event.patient_fhir_id:
        return None
    try:
        return measures.patient_identity(event.patient_fhir_id)
    except LookupError:
        return None


def _check_uploads(uploads) -> dict:
    errors = {}
    if len(uploads) > 5:
        errors["attachments"] = "At most 5 attachments."
    for upload in uploads:
        if upload.size > settings.ANDON_ATTACHMENT_MAX_BYTES:
            limit = settings.ANDON_ATTACHMENT_MAX_BYTES // (1024 * 1024)
            errors["attachments"] = f"{upload.name}: larger than {limit} MB."
        elif upload.content_type not in settings.ANDON_ATTACHMENT_TYPES:
            errors["attachments"] = f"{upload.name}: only {', '.join(settings.ANDON_ATTACHMENT_TYPES)} files."
    return errors


@transaction.atomic
def submit_report(user, report: Report, uploads=(), draft: ReportDraft | None = None, *,
                  tax=None) -> tuple[SafetyEvent, str]:
    """Store a report; returns the event and, for an anonymous report, its receipt code.

    Nothing is stored when anything is wrong (ValidationError with every problem). `tax` is the
    current taxonomy when the caller (the report page) has just read it.
    """
    permissions.check(user, "safety.report")
    tax = tax or taxonomy.current()  # one look-up: the version checked is the version stored
    event = _checked_event(report, uploads, tax)
    now = timezone.now()
    receipt = ""
    if report.anonymous:
        receipt = _store_anonymously(event, uploads, now)
    else:
        event.reporter = user
        event.reported_at = event.pses_entered_at = now
        assign_reference(event)
        with audit.acting_as(user):
            event.save()
            _attach(event, uploads, now)
            if not escalate(event):  # a severe report's alert replaces the routine one
                _notify_new_event(event)
    if draft is not None:
        ReportDraft.objects.filter(pk=draft.pk, author=user).delete()
    return event, receipt


def _checked_event(report: Report, uploads, tax) -> SafetyEvent:
    """The event a report makes, not saved yet; ValidationError with every problem."""
    errors, details = check_report(report, uploads, tax)
    if errors:
        raise ValidationError(errors)
    event = SafetyEvent(
        kind=report.kind, category=report.category, reported_category=report.category,
        taxonomy_version=tax.version,
        unit_id=report.unit_id, occurred_at=report.occurred_at, narrative=report.narrative.strip(),
        immediate_action=(report.immediate_action or "").strip(), details=details, harm=report.harm or "",
        is_anonymous=report.anonymous, reporter_shares_identity=report.share_identity,
        person_affected=person_affected_of(report), patient_identifier=(report.patient_identifier or "").strip(),
        witnesses=(report.witnesses or "").strip(), location_detail=(report.location_detail or "").strip(),
    )
    link_patient(event)
    return event


@transaction.atomic
def submit_public_report(report: Report, uploads=(), *, tax=None) -> tuple[SafetyEvent, str]:
    """An anonymous report sent without signing in (a shared workstation, staff without an
    account): the same checks as a signed-in report, always anonymous, stored exactly as
    `_store_anonymously` stores one; returns the event and its receipt code. Who may send it is
    the page's decision (open to anyone, rate-limited: views/report.py)."""
    tax = tax or taxonomy.current()
    report = Report(**{**report.__dict__, "anonymous": True, "share_identity": False})
    event = _checked_event(report, uploads, tax)
    return event, _store_anonymously(event, uploads, timezone.now())


def _store_anonymously(event: SafetyEvent, uploads, now) -> str:
    """Write an anonymous report with nothing that ties it to the session that sent it, neither
    by value nor by time or order.

    - Values: the request's user and address are in auditlog's context, so its entries are
      recorded by hand, with no actor and no address.
    - Time: every stored time keeps only the day; an exact time could be matched against
      sign-ins, server logs or the named acts around it. No notification goes out now (its time
      would be exact too); the triage queue and the officers' home pages list the report.
    - Order: the event's and attachments' ids are random (models.unordered_id), the reference
      is in no numbered series, the audit entries are held until the day is over and then
      written in a shuffled batch (audit.release_held_entries), and attachments are kept in the
      database rather than as files, whose creation time the file system keeps (HeldFile).
    """
    day = audit.start_of_day(now)
    event.reported_at = event.pses_entered_at = day
    receipt = event.issue_receipt()
    assign_reference(event)
    with disable_auditlog():
        event.save()
        attachments = _attach(event, uploads, day, held=True)
    for record in [event, *attachments]:
        audit.record_unattributed(record, LogEntry.Action.CREATE, when=day, reason="anonymous report")
    escalate(event)  # severe harm, death: alerted at once, with the reference only
    return receipt


# Anonymous references: letters and digits that cannot be misread for one another (no I, L, O, U).
_REFERENCE_SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def assign_reference(event: SafetyEvent) -> None:
    """Give a new event its reference: EV-<year>-<number> for a named or imported report, the
    year's count of them (locked, so two at once do not take one number), and EV-<year>-A-<six
    random symbols> for an anonymous report, which so takes no place among the numbered ones."""
    year = event.reported_at.year
    if event.is_anonymous:
        while True:
            reference = f"EV-{year}-A-" + "".join(secrets.choice(_REFERENCE_SYMBOLS) for _ in range(6))
            if not SafetyEvent.objects.filter(reference=reference).exists():
                break
    else:
        reference = f"EV-{year}-{_next_number(year):06d}"
    event.reference = reference


def _next_number(year: int) -> int:
    # The increment locks the year's row until the caller's transaction ends, so two reports
    # sent at once take two numbers; the first report of a year creates the row.
    with transaction.atomic(savepoint=False):
        while True:
            counter = ReferenceCounter.objects.filter(year=year)
            if counter.update(last=F("last") + 1):
                return counter.values_list("last", flat=True).get()
            if ReferenceCounter.objects.get_or_create(year=year, defaults={"last": 1})[1]:
                return 1


def _attach(event, uploads, when, held: bool = False) -> list[Attachment]:
    """Store the uploads as files or, `held` (an anonymous report's), in the database and without
    the pictures' camera data (scrub.py)."""
    attachments = []
    for upload in uploads:
        attachment = Attachment(event=event, name=upload.name[:200], content_type=upload.content_type,
                                size=upload.size, uploaded_at=when)
        if held:
            upload.file.seek(0)
            content = without_metadata(upload.file.read(), upload.content_type)
            attachment.size = len(content)
            attachment.save()
            HeldFile.objects.create(attachment=attachment, content=content)
        else:
            attachment.file = upload.file
            attachment.save()
        attachments.append(attachment)
    return attachments


def open_attachment(attachment: Attachment):
    """The attachment's bytes as an open binary file (from the database for an anonymous report's).
    Raises Http404 when the file is missing."""
    held = HeldFile.objects.filter(attachment=attachment).values_list("content", flat=True).first()
    if held is not None:
        return io.BytesIO(bytes(held))
    if not attachment.file:
        raise Http404("The file is missing.")
    return attachment.file.open("rb")


def safety_officers_for(unit: Unit):
    """People who triage events of this unit (patient safety officers whose scope covers it)."""
    return list(permissions.people_who("safety.triage", unit))


def _to_triage(event: SafetyEvent) -> str:
    return f"New safety report {event.reference} to triage"


def _notify_new_event(event: SafetyEvent) -> None:
    notify(
        safety_officers_for(event.unit), _to_triage(event),
        body="A new safety report is waiting for triage. Open Andon to read it.",
        url=reverse("safety:event", args=[event.pk]),
    )


ESCALATION_TITLE = "Urgent safety report {reference}: triage at once"
ESCALATION_BODY = ("A report of severe harm, death or a sentinel event is waiting for triage. "
                   "Open Andon to read it.")


def escalation_recipients(event: SafetyEvent):
    """Who is alerted at once about a severe report: the patient safety officers whose grant
    covers the event's unit, and the CQO and CMO of the organisation or its facility."""
    return list(permissions.people_who("safety.receive_escalations", event.unit))


def escalate(event: SafetyEvent) -> list[Escalation]:
    """Alert at once, in the app and by e-mail, everyone `escalation_recipients` names about a
    report of severe harm, death or a sentinel event, and record who was alerted, when and how
    (`Escalation`, shown on the event page). Once per event: a report escalated at submission is
    not escalated again when triage confirms it; one that triage finds severe is escalated then.

    The alert names the event's reference only (no unit, no narrative, no reporter), the same for
    named and anonymous reports. An anonymous report's rows are written as its other records are
    (random ids, the day only, audit entries held; see _store_anonymously); the e-mail itself
    leaves at once: a mail server's log knows when, which docs/safety.md says.
    Returns the rows written (none when the event is not severe or was escalated before)."""
    if not event.is_severe or not event.is_safety_event or event.source != Source.REPORT:
        return []
    if Escalation.objects.filter(event=event).exists():
        return []
    now = timezone.now()
    at = audit.start_of_day(now) if event.is_anonymous else now
    title = ESCALATION_TITLE.format(reference=event.reference)
    url = reverse("safety:event", args=[event.pk])
    reason = event.severity_label
    rows = []
    for person in escalation_recipients(event):
        rows.append(Escalation(event=event, person=person, channel=Escalation.Channel.IN_APP, at=at, reason=reason))
        if notifications.send_email(person, title, body=ESCALATION_BODY, url=url):
            rows.append(Escalation(event=event, person=person, channel=Escalation.Channel.EMAIL, at=at, reason=reason))
    if event.is_anonymous:
        with disable_auditlog():
            for row in rows:
                row.save()
        for row in rows:
            audit.record_unattributed(row, LogEntry.Action.CREATE, when=at, reason="alert about an anonymous report")
    else:
        for row in rows:
            row.save()
    return rows


def local_reviews_for(user):
    """Events whose triage asked for a local review by the unit, under review in the units where
    the user reviews locally (unit managers) and with no findings recorded yet, the oldest first."""
    units = list(permissions.units_where(user, "safety.review_locally").values_list("pk", flat=True))
    # findings recorded before the triage in force do not count (findings_current)
    unanswered = Q(review_findings="") | Q(review_findings_at__lt=F("triaged_at"))
    return (SafetyEvent.objects.filter(unanswered, unit__in=units, status=Status.REVIEW, review=Review.LOCAL)
            .select_related("unit").only("reference", "unit__name").order_by("reported_at", "pk"))


def open_investigations_of(user):
    """The RCAs not yet complete whose team the user is on (a team member works on the analysis
    without being a safety officer: the home page is where they find it)."""
    return (Investigation.objects.filter(team__person=user, completed_at=None)
            .select_related("event").only("event__reference", "event__rca_complete_due").order_by("started_at"))


def unread_escalations(user):
    """The in-app alerts the person has not opened yet, newest first, with their events."""
    return (Escalation.objects.filter(person=user, channel=Escalation.Channel.IN_APP, read_at=None)
            .select_related("event").order_by("-at"))


# --- drafts ------------------------------------------------------------------------------------

def save_draft(user, data: dict, draft: ReportDraft | None = None) -> ReportDraft:
    permissions.check(user, "safety.report")
    if draft is not None and draft.author_id != user.pk:
        raise permissions.PermissionDenied("a draft belongs to its author")
    allowed = {"kind", "category", "unit", "occurred_at", "narrative", "harm", "immediate_action",
               "anonymous", "share_identity", "details", "person_affected", "patient_identifier", "witnesses",
               "location_detail"}
    clean = {key: value for key, value in data.items() if key in allowed}
    if len(str(clean)) > 4 * NARRATIVE_MAX:
        raise ValidationError({"narrative": "The draft is too long."})
    if draft is None:
        return ReportDraft.objects.create(author=user, data=clean)
    draft.data = clean
    draft.save(update_fields=["data", "updated_at"])
    return draft


def delete_draft(user, draft_id) -> bool:
    """Delete one of the person's own drafts (not audited, like drafts themselves); False when
    they have no such draft."""
    permissions.check(user, "safety.report")
    return bool(ReportDraft.objects.filter(pk=draft_id, author=user).delete()[0])


# --- reading ----------------------------------------------------------------------------------

def events_visible_to(user, own: bool = False):
    """Events whose analysis (triage, SAC, sentinel flag, RCA) the user may read: those in the
    units where they hold safety.view_events. `own=True` adds their own reports, for the
    reporter's pages only, which show feedback and none of the analysis: a reporter (on an RCA
    team, or a manager who reported outside their units) reads no triage through a list."""
    # A list of ids, not a subquery: see triage_queue.
    visible = Q(unit__in=list(permissions.units_where(user, "safety.view_events").values_list("pk", flat=True)))
    if own:
        visible |= Q(reporter=user)
    return SafetyEvent.objects.filter(visible).select_related("unit", "unit__facility")


def events_for_measure(*, category: str, kinds, harms=(), details=None, stratify_by: str = "",
                       since: datetime, until: datetime, unit_kinds=None,
                       confirmed_only: bool = True) -> list[tuple[datetime, int, str]]:
    """(occurred_at, unit id, answer of `stratify_by`) for each safety event a measure counts:
    events of `category` and the given kinds occurring in [since, until), with a harm among
    `harms` (when given) and, for each field in `details`, an answer among its accepted values;
    of units of `unit_kinds` only (None: every unit); and with `confirmed_only`, only events
    whose category triage confirmed (before triage it is the reporter's). A category, harm or
    field the taxonomy does not have is a LookupError: a measure that counts nothing because of
    a typo would read as a perfect record. Nothing that names an event or a person leaves here:
    the measures module counts these by period and unit."""
    _check_measure_terms(category, harms, [*(details or {}), *([stratify_by] if stratify_by else [])])
    events = SafetyEvent.objects.filter(category=category, kind__in=list(kinds), occurred_at__gte=since,
                                        occurred_at__lt=until)
    if harms:
        events = events.filter(harm__in=list(harms))
    if unit_kinds is not None:
        events = events.filter(unit__kind__in=list(unit_kinds))
    if confirmed_only:
        events = events.filter(triaged_at__isnull=False)
    found = []
    for occurred_at, unit_id, answers in events.values_list("occurred_at", "unit_id", "details").iterator(chunk_size=5000):
        answers = answers or {}
        if all(_accepted(answers.get(field), accepted) for field, accepted in (details or {}).items()):
            stratum = answers.get(stratify_by) if stratify_by else ""
            found.append((occurred_at, unit_id, "Not given" if stratum in (None, "") else str(stratum)))
    return found


def _check_measure_terms(category: str, harms, fields) -> None:
    try:
        tax = taxonomy.current()
    except taxonomy.TaxonomyMissing as missing:
        raise LookupError(str(missing)) from None
    spec = tax.category(category)
    if spec is None:
        raise LookupError(f"the event taxonomy has no category {category!r}")
    unknown = sorted(set(fields) - {field["code"] for field in spec.get("fields", [])})
    unknown += sorted(set(harms) - {harm["code"] for harm in tax.harm_scale})
    if unknown:
        raise LookupError(f"{', '.join(map(repr, unknown))}: not a field of {category!r} or a harm in the event taxonomy")


def _accepted(answer, accepted) -> bool:
    # Booleans stay booleans (a yes/no field); codes compare as text (YAML may read "2" as 2).
    if isinstance(answer, bool) or any(isinstance(value, bool) for value in accepted):
        return any(answer is value for value in accepted)
    return answer is not None and str(answer) in {str(value) for value in accepted}


# --- opening one record: fetch and check in one call, for pages and API alike ------------------

EVENT_RELATED = ("unit", "unit__facility", "reporter", "triaged_by")


def access_event(user, event_id, capability: str = "safety.view_event") -> SafetyEvent:
    """The event, if the user may `capability` it: Http404 when there is none, PermissionDenied
    when they may not (404 and 403 on pages and API). Reads are recorded by `open_event`."""
    return permissions.fetch_checked(user, capability, SafetyEvent.objects.select_related(*EVENT_RELATED), pk=event_id)


def access_own_report(user, event_id) -> SafetyEvent:
    """One of the user's own reports; someone else's is not found (not refused), so the My
    reports page and API do not tell which events exist."""
    own = SafetyEvent.objects.filter(reporter=user).select_related(*EVENT_RELATED)
    return permissions.fetch_checked(user, "safety.view_event", own, pk=event_id)


def access_attachment(user, event_id, attachment_id) -> Attachment:
    """A file of an event the user may see (the event is checked first, as a page of it)."""
    return get_object_or_404(Attachment, pk=attachment_id, event=access_event(user, event_id))


def open_event(user, event: SafetyEvent, reason: str = "viewed") -> SafetyEvent:
    """Check and record the read of a confidential event (every read is audited)."""
    permissions.check(user, "safety.view_event", event)
    audit.record_read(event, actor=user, reason=reason)
    return event


def notifications_read(user, event: SafetyEvent, escalations=None) -> None:
    """The person has opened the event (or, as its reporter, their report): the notifications
    and in-app alerts pointing to it are read, and its lines on their home page clear.
    `escalations`: the event's alerts when the caller has read them (nothing to write when none
    is the person's unread one)."""
    notifications.mark_read(user, *(reverse(name, args=[event.pk]) for name in ("safety:event", "safety:my_report")))
    if escalations is None or any(e.person_id == user.pk and e.read_at is None for e in escalations):
        Escalation.objects.filter(event=event, person=user, read_at=None).update(read_at=timezone.now())


def reporter_view(event) -> dict:
    """What the reporter may read: their report and the feedback; no triage internals."""
    tax = taxonomy.version_or_current(event.taxonomy_version)
    category = tax.category(event.category) if tax else None
    details = []
    for spec in (category or {}).get("fields", []):
        if spec["code"] in event.details:
            value = event.details[spec["code"]]
            if spec["type"] == "boolean":
                shown = "Yes" if value else "No"
            elif spec["type"] == "choice":
                shown = tax.choice_label(event.category, spec["code"], value)
            else:
                shown = str(value)
            details.append((spec["label"], shown))
    return {
        "event": event,
        "kind_label": Kind(event.kind).label if event.kind in Kind.values else event.kind,
        "category_label": tax.category_label(event.category) if tax else event.category,
        "harm_label": tax.harm_label(event.harm) if (tax and event.harm) else "",
        "details": details,
        "status_label": REPORTER_STATUS.get(event.status, event.get_status_display()),
        "feedback": list(event.reporter_messages.all()),
        "questions": list(event.questions.all()) if event.is_anonymous else [],
        # Who and where, as reported; the patient's identifier only on the reporter's own named
        # report (an anonymous report's pages never show a patient's identity).
        "person_affected_label": event.get_person_affected_display() if event.person_affected else "",
        "patient_identifier": "" if event.is_anonymous else event.patient_identifier,
        "attachment_names": [a.name for a in event.attachments.all()],
    }


def event_for_receipt(code: str) -> SafetyEvent | None:
    """The anonymous reporter's way back to their report; the read is audited without a reader."""
    event = SafetyEvent.objects.filter(receipt_hash=hash_receipt(code or ""), is_anonymous=True).first()
    if event is not None:  # held, dated to the day: see _store_anonymously
        audit.record_unattributed(event, LogEntry.Action.ACCESS, reason="read with the receipt code")
    return event


# --- questions to the anonymous reporter, answered with the receipt code ------------------------

QUESTION_MAX, ANSWER_MAX = 2000, 4000


@audit.changes_by_user
@transaction.atomic
def ask_reporter(user, event: SafetyEvent, text: str) -> ReporterQuestion:
    """A question from the patient safety team to the anonymous reporter of `event`, who reads it
    and answers on the receipt page. A named reporter is asked directly, not through here."""
    permissions.check(user, "safety.ask_reporter", event)
    text = (text or "").strip()
    errors = {}
    if not event.is_anonymous or not event.receipt_hash:
        errors["text"] = (f"{event} was not reported anonymously: ask its reporter directly "
                          "(questions here reach anonymous reporters through their receipt code).")
    elif not text:
        errors["text"] = "Write the question."
    elif len(text) > QUESTION_MAX:
        errors["text"] = f"At most {QUESTION_MAX:,} characters ({len(text):,} given)."
    if errors:
        raise ValidationError(errors)
    return ReporterQuestion.objects.create(event=event, text=text, asked_by=user)


@transaction.atomic
def answer_question(event: SafetyEvent, question_id, text: str) -> ReporterQuestion:
    """The anonymous reporter's answer to a question on their report (the caller found `event`
    with its receipt code). Stored like the report itself: no actor, no address, only the day,
    and its audit entry held until the day is over (see _store_anonymously); no notification
    (its time would be exact), the event page shows it."""
    text = (text or "").strip()
    pk = inputs.record_id(question_id)
    question = ReporterQuestion.objects.select_for_update().filter(event=event, pk=pk).first() if pk else None
    errors = {}
    if question is None:
        errors["answer"] = "This question is not about the report of this code."
    elif question.answer:
        errors["answer"] = "This question is answered already."
    elif not text:
        errors["answer"] = "Write your answer."
    elif len(text) > ANSWER_MAX:
        errors["answer"] = f"At most {ANSWER_MAX:,} characters ({len(text):,} given)."
    if errors:
        raise ValidationError(errors)
    day = audit.start_of_day()
    question.answer, question.answered_on = text, day
    with disable_auditlog():
        question.save(update_fields=["answer", "answered_on"])
    audit.record_unattributed(question, LogEntry.Action.UPDATE, when=day, reason="answered with the receipt code")
    return question


def triage_queue(user):
    # Excellent-care reports are recognition, not safety events: they go to unit managers.
    # A list of ids, not a subquery: PostgreSQL misplans the subquery on the tiny unit table
    # (benchmark at 200,000 events: first page 81 ms -> 15 ms).
    # The same conditions as the partial index safety_event_waiting (models.py).
    # Severe harm, death and sentinel events first (marked on the page), then oldest first.
    units = list(permissions.units_where(user, "safety.triage").values_list("pk", flat=True))
    return (SafetyEvent.objects.filter(unit__in=units, status__in=[Status.SUBMITTED, Status.TRIAGE],
                                       kind__in=sorted(SAFETY_KINDS), source=Source.REPORT)
            .select_related("unit", "unit__facility")
            .annotate(urgent=Case(When(SEVERE, then=Value(0)), default=Value(1), output_field=IntegerField()))
            .order_by("urgent", "reported_at", "pk"))


# Severe harm, death or a sentinel event (SafetyEvent.is_severe, as a query).
SEVERE = Q(harm__in=SEVERE_HARMS) | Q(is_sentinel=True)


# --- triage and workflow ------------------------------------------------------------------------

@dataclass
class Triage:
    category: str
    harm: str
    sac_severity: str
    sac_probability: str
    sentinel: bool
    review: str
    reason: str


def rca_deadlines(start: datetime) -> tuple[datetime, datetime]:
    """When an RCA must start and be complete, counted from the decision to do one."""
    start_due = start + timedelta(hours=settings.ANDON_RCA_START_HOURS)
    days = settings.ANDON_RCA_COMPLETE_DAYS
    if not settings.ANDON_RCA_BUSINESS_DAYS:
        return start_due, start + timedelta(days=days)
    complete = start
    while days:
        complete += timedelta(days=1)
        if complete.weekday() < 5:
            days -= 1
    return start_due, complete


# Triage decides while a report waits for it; afterwards it is reopened first.
TRIAGE_STATUSES = (Status.SUBMITTED, Status.TRIAGE)
DEESCALATE_STEP = "“Lower the SAC or sentinel flag”"


def rca_begun(event: SafetyEvent) -> bool:
    """Whether the event's root cause analysis has begun (it has an investigation)."""
    return event.rca_started_at is not None or Investigation.objects.filter(event_id=event.pk).exists()


def lowers(event: SafetyEvent, score: int | None, sentinel: bool) -> bool:
    """Whether a new SAC and sentinel flag lower a SAC 3 or clear the flag of this event."""
    return (event.sac_score == 3 and score is not None and score < 3) or (event.is_sentinel and not sentinel)


def may_be_lowered(event: SafetyEvent) -> bool:
    """Whether lowering the event is the de-escalation step's (not triage's): a SAC 3 or sentinel
    event whose RCA is under way or has begun."""
    return (event.sac_score == 3 or event.is_sentinel) and (event.status == Status.INVESTIGATION or rca_begun(event))


def _status_words(event: SafetyEvent) -> str:
    label = event.get_status_display()
    return label[:1].lower() + label[1:]


def _check_triage_state(event: SafetyEvent, score, decision: Triage) -> dict:
    """The event's own state may refuse a triage whatever its answers: only a report waiting
    for triage is triaged, and once its RCA has begun, lowering it and ending its RCA deadlines
    is the de-escalation step's, with its own reason and capability."""
    if event.status not in TRIAGE_STATUSES:
        return {"status": f"{event} is {_status_words(event)}: it is not triaged again (reopen it to do so). "
                          f"To lower its SAC or clear the sentinel flag, use {DEESCALATE_STEP}."}
    if not rca_begun(event):
        return {}
    ends_deadlines = decision.review != Review.RCA and event.rca_complete_due is not None
    if lowers(event, score, decision.sentinel) or ends_deadlines:
        return {"sac": f"The root cause analysis of {event} has begun: lowering its SAC 3 or sentinel flag, or "
                       f"ending its RCA deadlines, is done with {DEESCALATE_STEP} (with a reason), not by triage."}
    return {}


@audit.changes_by_user
@transaction.atomic
def triage(user, event: SafetyEvent, decision: Triage, version: int | None = None) -> SafetyEvent:
    """Confirm category and harm, score the SAC, flag a sentinel event and choose the review.

    `version` is the event's version the officer decided on (None: not checked); a triage made
    on an older one is refused (concurrency.Stale), so one officer's decision never silently
    replaces another's."""
    permissions.check(user, "safety.triage", event)
    event = concurrency.lock(event, version)
    errors = {}
    tax = taxonomy.current()
    if tax.category(decision.category) is None:
        errors["category"] = "Choose a category."
    if event.kind in KINDS_WITH_HARM and decision.harm not in [h["code"] for h in tax.harm_scale]:
        errors["harm"] = "Confirm the harm."
    score = None
    if not decision.sac_severity or not decision.sac_probability:
        errors["sac"] = "Choose the severity and the probability."
    else:
        try:
            score = sac.score(decision.sac_severity, decision.sac_probability)
        except ValueError as problem:
            errors["sac"] = str(problem)
    if decision.review not in Review.values:
        errors["review"] = "Choose the review."
    elif sac.requires_rca(score, decision.sentinel) and decision.review != Review.RCA:
        errors["review"] = "A SAC 3 or sentinel event requires a root cause analysis."
    reason = decision.reason.strip()
    if not reason:
        errors["reason"] = "Say why (it is kept in the event's history)."
    elif len(reason) > 2000:
        errors["reason"] = f"At most 2,000 characters ({len(reason):,} given)."
    errors.update(_check_triage_state(event, score, decision))
    if errors:
        raise ValidationError(errors)
    if event.status == Status.SUBMITTED:
        _move(event, user, "start_triage", "Triage started.")
        # The other officers' "to triage" notifications are done with.
        notifications.settle(reverse("safety:event", args=[event.pk]), _to_triage(event))
    now = timezone.now()
    event.category = decision.category
    event.harm = decision.harm if event.kind in KINDS_WITH_HARM else ""
    event.sac_scheme, event.sac_severity, event.sac_probability = sac.SCHEME, decision.sac_severity, decision.sac_probability
    event.sac_score, event.is_sentinel, event.review = score, decision.sentinel, decision.review
    event.triaged_by, event.triaged_at, event.triage_reason = user, now, reason
    if decision.review == Review.RCA:
        event.rca_start_due, event.rca_complete_due = rca_deadlines(now)
    else:  # a re-triage after reopening may drop an earlier RCA decision not yet begun
        event.rca_start_due = event.rca_complete_due = None
    event.save()
    escalate(event)  # triage found severe harm, death or a sentinel event not escalated yet
    if decision.review in (Review.LOCAL, Review.AGGREGATED):
        _move(event, user, "send_to_review", reason)
    elif decision.review == Review.RCA:
        _move(event, user, "send_to_investigation", reason)
    return event


@audit.changes_by_user
@transaction.atomic
def deescalate(user, event: SafetyEvent, *, sac_severity: str, sac_probability: str, sentinel: bool, reason: str,
               version: int | None = None) -> SafetyEvent:
    """Lower a SAC 3 or clear the sentinel flag of an event whose RCA is under way or has begun.

    Triage cannot do this (it refuses), so that stopping the RCA clock is a decision of its own:
    by those with safety.deescalate, with a reason, kept as a `Deescalation` (shown on the event
    page) and in the audit trail. The RCA deadlines are removed here, and only when the new
    score no longer requires an RCA; the analysis itself goes on to its end."""
    permissions.check(user, "safety.deescalate", event)
    event = concurrency.lock(event, version)
    errors = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "Say why (it is kept in the event's history and the audit trail)."
    elif len(reason) > 2000:
        errors["reason"] = f"At most 2,000 characters ({len(reason):,} given)."
    score = None
    try:
        score = sac.score(sac_severity, sac_probability)
    except ValueError as problem:
        errors["sac"] = str(problem)
    if not may_be_lowered(event):
        errors["event"] = (f"{event} is not a SAC 3 or sentinel event whose root cause analysis is under way: "
                           "triage decides its SAC.")
    elif score is not None and ((event.sac_score or 0) < score or (sentinel and not event.is_sentinel)):
        errors["sac"] = "This step only lowers: it cannot raise the SAC or set the sentinel flag."
    elif score is not None and not lowers(event, score, sentinel):
        errors["sac"] = "This neither lowers the SAC 3 nor clears the sentinel flag: there is nothing to record."
    if errors:
        raise ValidationError(errors)
    removed = not sac.requires_rca(score, sentinel) and bool(event.rca_start_due or event.rca_complete_due)
    Deescalation.objects.create(
        event=event, by=user, reason=reason, sac_before=event.sac_score, sentinel_before=event.is_sentinel,
        sac_after=score, sentinel_after=sentinel, severity_after=sac_severity, probability_after=sac_probability,
        rca_start_due_before=event.rca_start_due, rca_complete_due_before=event.rca_complete_due,
        deadlines_removed=removed)
    event.sac_severity, event.sac_probability, event.sac_score, event.is_sentinel = (
        sac_severity, sac_probability, score, sentinel)
    if removed:
        event.rca_start_due = event.rca_complete_due = None
    event.save()
    notify([person for person in safety_officers_for(event.unit) if person.pk != user.pk],
           f"{event.reference} was lowered to SAC {score}", body="Open Andon to read the reason.",
           url=reverse("safety:event", args=[event.pk]))
    return event


STEP_NAMES = {"start_triage": "start triage on", "send_to_review": "send to review",
              "send_to_investigation": "send to investigation", "plan_actions": "plan actions for",
              "close": "close", "reopen": "reopen"}
MOVES = {
    "plan_actions": "safety.manage_workflow",
    "close": "safety.manage_workflow",
    "reopen": "safety.manage_workflow",
    "start_triage": "safety.triage",
}
# Steps that end the review: the review the triage required must be done (or waived) first.
AFTER_REVIEW = ("plan_actions", "close")
REVIEWS_WITH_FINDINGS = (Review.LOCAL, Review.AGGREGATED)


def current_waiver(event: SafetyEvent) -> ReviewWaiver | None:
    """The waiver of the review the event's current triage chose, if leadership gave one after
    that triage (a new triage asks again)."""
    waivers = event.review_waivers.filter(review=event.review)
    if event.triaged_at is not None:
        waivers = waivers.filter(at__gte=event.triaged_at)
    return waivers.select_related("by").order_by("-at", "-pk").first()


def findings_current(event: SafetyEvent) -> bool:
    """Whether the review's findings were recorded for the triage in force (as a waiver: findings
    recorded before a new triage do not answer the review it asks for)."""
    if not event.review_findings.strip():
        return False
    return event.triaged_at is None or (event.review_findings_at is not None
                                        and event.review_findings_at >= event.triaged_at)


def review_outstanding(event: SafetyEvent, *, waived: bool = True) -> str:
    """What the review the triage required still lacks, in a sentence ("" when it is done, or,
    with `waived`, waived). An RCA (SAC 3, sentinel, or chosen) is done when the investigation is
    complete with at least one root cause; a local or aggregated review when its findings are
    recorded."""
    if event.review == Review.RCA:
        investigation = Investigation.objects.filter(event_id=event.pk).first()
        if investigation is None:
            missing = "its root cause analysis has not been started"
        elif investigation.completed_at is None or not investigation.root_causes.exists():
            missing = "its root cause analysis is not complete (with at least one root cause)"
        else:
            return ""
    elif event.review in REVIEWS_WITH_FINDINGS and not findings_current(event):
        missing = f"the findings of its {event.get_review_display().lower()} are not recorded"
    else:
        return ""
    if waived and current_waiver(event) is not None:
        return ""
    return f"The triage of {event} requires a review and {missing}."


def open_actions_of(event: SafetyEvent) -> list:
    """The actions planned for the event (from its RCA) that are still open."""
    from andon.actions import services as actions

    investigation = Investigation.objects.filter(event_id=event.pk).first()
    if investigation is None:
        return []
    return list(actions.actions_for_source(investigation).filter(status__in=["planned", "in_progress"])
                .order_by("due_date", "pk"))


@audit.changes_by_user
@transaction.atomic
def move(user, event: SafetyEvent, action: str, reason: str, closing_summary: str = "",
         version: int | None = None, open_actions_reason: str = "") -> SafetyEvent:
    """Move an event along the workflow (plan actions, close, reopen), with who and why; made
    on an older `version` than the event's, refused.

    Planning actions and closing need the review the triage required done (or waived by
    leadership: `waive_review`); closing while actions are still open needs
    `open_actions_reason`, which is kept with the event."""
    if action not in MOVES:
        raise ValidationError({"action": f"unknown step {action!r}"})
    permissions.check(user, MOVES[action], event)
    event = concurrency.lock(event, version)
    errors = {}
    if not reason.strip():
        errors["reason"] = "Say why (it is kept in the event's history)."
    if action == "close" and not closing_summary.strip():
        errors["closing_summary"] = "Write the closing summary for the reporter."
    if action in AFTER_REVIEW and _can_proceed(getattr(event, action)):
        outstanding = review_outstanding(event)
        if outstanding:
            errors["review"] = (f"{outstanding} Complete it first, or ask the CQO or CMO to waive it "
                                "(with the reason).")
    open_reason = (open_actions_reason or "").strip()
    if len(open_reason) > 2000:
        errors["open_actions_reason"] = f"At most 2,000 characters ({len(open_reason):,} given)."
    still_open = open_actions_of(event) if action == "close" else []
    if still_open and not open_reason:
        titles = "; ".join(f"“{item.title}” ({item.get_status_display().lower()})" for item in still_open)
        errors["open_actions_reason"] = (f"{len(still_open)} action{'s are' if len(still_open) > 1 else ' is'} still "
                                         f"open: {titles}. Say why the event closes with "
                                         f"{'them' if len(still_open) > 1 else 'it'} open, or finish or cancel "
                                         f"{'them' if len(still_open) > 1 else 'it'} first.")
    if errors:
        raise ValidationError(errors)
    if action == "close":
        event.closing_summary = closing_summary.strip()
        event.open_actions_reason = open_reason if still_open else ""
    _move(event, user, action, reason)
    if action == "close":
        tell_reporter(event, event.closing_summary, closing=True)
    return event


def _move(event: SafetyEvent, user, action: str, reason: str) -> None:
    step = getattr(event, action)
    if not _can_proceed(step):
        raise ValidationError({"action": f"You cannot {STEP_NAMES[action]} an event that is "
                                         f"{event.get_status_display().lower()}."})
    if action in AFTER_REVIEW and review_outstanding(event):  # every caller, not only `move`
        raise ValidationError({"review": review_outstanding(event)})
    source = event.status
    step()
    event.save()
    Transition.objects.create(event=event, source=source, target=event.status, by=user, reason=reason.strip()[:2000])
    if event.status == Status.ACTION_PLANNING and review_outstanding(event, waived=False):
        tell_reporter(event, REPORTER_ACTIONS_WITHOUT_REVIEW)
    elif event.status != Status.CLOSED:
        tell_reporter(event, REPORTER_STATUS_TEXT[event.status])


def _can_proceed(step) -> bool:
    from django_fsm import can_proceed

    return can_proceed(step)


REVIEW_STATUSES = (Status.TRIAGE, Status.REVIEW, Status.INVESTIGATION)


@audit.changes_by_user
@transaction.atomic
def record_review_findings(user, event: SafetyEvent, findings: str, version: int | None = None) -> SafetyEvent:
    """Record what a local or aggregated review found (by the unit's manager or the officer): the
    review the triage chose is then done, and the event may move to action planning or close."""
    permissions.check(user, "safety.record_review", event)
    event = concurrency.lock(event, version)
    findings = (findings or "").strip()
    errors = {}
    if event.review not in REVIEWS_WITH_FINDINGS:
        errors["review"] = f"{event} was not sent to a local or aggregated review: there are no findings to record."
    elif event.status != Status.REVIEW:
        errors["review"] = f"{event} is {_status_words(event)}: the findings are recorded while it is under review."
    if not findings:
        errors["findings"] = "Write what the review found (it is kept with the event)."
    elif len(findings) > 4000:
        errors["findings"] = f"At most 4,000 characters ({len(findings):,} given)."
    if errors:
        raise ValidationError(errors)
    event.review_findings, event.review_findings_by, event.review_findings_at = findings, user, timezone.now()
    event.save(update_fields=["review_findings", "review_findings_by", "review_findings_at", "version"])
    return event


@audit.changes_by_user
@transaction.atomic
def waive_review(user, event: SafetyEvent, reason: str, version: int | None = None) -> ReviewWaiver:
    """Leadership (safety.waive_review: CQO, CMO) decides that the review the triage required need
    not be finished before the event moves on. Kept with who, when and why, audited, shown on the
    event page and in the API; the officers of the unit are told."""
    permissions.check(user, "safety.waive_review", event)
    event = concurrency.lock(event, version)
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "Say why the review is waived (it is kept with the event and in the audit trail)."
    elif len(reason) > 2000:
        errors["reason"] = f"At most 2,000 characters ({len(reason):,} given)."
    if event.status not in REVIEW_STATUSES:
        errors["review"] = f"{event} is {_status_words(event)}: there is no review to waive."
    elif not review_outstanding(event):
        errors["review"] = f"The review of {event} is done or already waived: there is nothing to waive."
    if errors:
        raise ValidationError(errors)
    waiver = ReviewWaiver.objects.create(event=event, review=event.review, by=user, reason=reason)
    notify([person for person in safety_officers_for(event.unit) if person.pk != user.pk],
           f"The review of {event.reference} was waived", body="Open Andon to read the reason.",
           url=reverse("safety:event", args=[event.pk]))
    return waiver


def tell_reporter(event: SafetyEvent, text: str, closing: bool = False) -> ReporterMessage:
    """Feedback to the reporter: kept with the event (read with the receipt when anonymous)
    and, for a named reporter, sent as a notification."""
    message = ReporterMessage.objects.create(event=event, text=text, is_closing_summary=closing)
    if event.first_feedback_at is None:
        event.first_feedback_at = message.created_at
        SafetyEvent.objects.filter(pk=event.pk).update(first_feedback_at=message.created_at)
    if event.reporter_id:
        notify([event.reporter], f"Feedback on your report {event.reference}", body=text,
               url=reverse("safety:my_report", args=[event.pk]))
    return message


def feedback_share(events, days: int | None = None, now=None) -> tuple[int, int]:
    """(reports with feedback within `days` of reporting, reports old enough to judge).

    A report younger than the window without feedback yet is not counted either way.
    """
    days = settings.ANDON_FEEDBACK_DAYS if days is None else days
    now = now or timezone.now()
    window = timedelta(days=days)
    judged = met = 0
    for reported_at, first in events.filter(source=Source.REPORT).values_list("reported_at", "first_feedback_at"):
        if first is not None and first - reported_at <= window:
            judged += 1
            met += 1
        elif now - reported_at > window:
            judged += 1
    return met, judged


def overdue_rcas(events, now=None):
    """Events whose RCA has not started, or not finished, by its deadline."""
    now = now or timezone.now()
    late_start = Q(rca_start_due__lt=now, rca_started_at=None, status=Status.INVESTIGATION)
    late_finish = Q(rca_complete_due__lt=now, status=Status.INVESTIGATION)
    return events.filter(late_start | late_finish)


# --- the patient safety evaluation system (PSES) boundary ---------------------------------------

@audit.changes_by_user
@transaction.atomic
def remove_from_pses(user, event: SafetyEvent, reason: str, version: int | None = None) -> SafetyEvent:
    """Take a report out of the PSES ("drop-out", DOMAIN.md §9): from now on it is not patient
    safety work product, for instance because it must serve as a state-mandated report. The
    removal keeps who, when and why, is audited, and cannot be undone."""
    permissions.check(user, "safety.manage_workflow", event)
    event = concurrency.lock(event, version)
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "Say why the report leaves the patient safety evaluation system (it is kept)."
    elif len(reason) > 2000:
        errors["reason"] = f"At most 2,000 characters ({len(reason):,} given)."
    if event.pses_removed_at is not None:
        errors["pses"] = f"The report already left the patient safety evaluation system on {event.pses_removed_at:%Y-%m-%d}."
    if errors:
        raise ValidationError(errors)
    event.pses_removed_at, event.pses_removed_by, event.pses_removal_reason = timezone.now(), user, reason
    event.save(update_fields=["pses_removed_at", "pses_removed_by", "pses_removal_reason"])
    return event


# --- just culture -----------------------------------------------------------------------------

@audit.changes_by_user
def raise_conduct_concern(user, *, unit_id, about: str, narrative: str) -> ConductConcern:
    permissions.check(user, "safety.raise_conduct_concern")
    errors = {}
    if not Unit.objects.filter(pk=unit_id or 0, active=True).exists():
        errors["unit"] = "Choose the unit."
    if not (about or "").strip():
        errors["about"] = "Say who the concern is about."
    if not (narrative or "").strip():
        errors["narrative"] = "Describe the conduct."
    elif len(narrative) > NARRATIVE_MAX:
        errors["narrative"] = f"At most {NARRATIVE_MAX:,} characters."
    if errors:
        raise ValidationError(errors)
    concern = ConductConcern.objects.create(raised_by=user, unit_id=unit_id, about=about.strip()[:200],
                                            narrative=narrative.strip())
    notify(permissions.people_who("safety.review_conduct_concerns", concern.unit),
           "A conduct concern was raised", body="A concern about an individual's conduct needs review.",
           url=reverse("safety:conduct_concerns"))
    return concern


# --- actions from an RCA (the shared action tracker) --------------------------------------------

def actions_for_investigation(investigation) -> dict:
    """The RCA's actions (not cancelled) and the share that are stronger or intermediate."""
    from andon.actions import services as actions

    items = list(actions.actions_for_source(investigation).exclude(status="cancelled").order_by("due_date", "pk"))
    share = actions.strength_share(items).share
    return {"items": items, "strong_share_percent": None if share is None else round(100 * share)}


def earliest_due_date(current=None):
    """The first day an RCA action may be due (the action tracker's rule)."""
    from andon.actions import services as actions

    return actions.earliest_due_date(current)


def add_rca_action(user, investigation, *, title, owner, due_date, strength, measure, description=""):
    """An action from an RCA, in the shared tracker, scoped to the event's unit."""
    from andon.actions import services as actions

    from .rca import note_change, quoted

    permissions.check(user, "safety.edit_investigation", investigation)
    with transaction.atomic():
        action = actions.create_action(
            user, source=investigation, source_label=f"RCA for {investigation.event.reference}",
            unit=investigation.event.unit, owner=owner, title=title, description=description,
            due_date=due_date, strength=strength, measure=measure)
        note_change(user, investigation, f"Action added: {quoted(action.title)}, owner "
                                         f"{owner.get_full_name() or owner.username}, due {action.due_date:%Y-%m-%d}.")
    return action


def _rca_action(investigation, action_id):
    from andon.actions import services as actions

    return get_object_or_404(actions.actions_for_source(investigation).exclude(status="cancelled"), pk=action_id)


@audit.changes_by_user
@transaction.atomic
def edit_rca_action(user, investigation, action_id: int, version: int | None = None, **fields):
    """Change an action of the RCA in the shared tracker (its rules: a past due date refused, a
    change of substance sent back for a decision); the RCA's history says what changed."""
    from andon.actions import services as actions
    from .rca import _editable, note_change, quoted

    _editable(user, investigation)
    action = _rca_action(investigation, action_id)
    before = {name: getattr(action, name) for name in fields}
    action = actions.update_action(user, action, version, **fields)
    words = []
    for name, old in before.items():
        new = getattr(action, name)
        if old != new:
            label = {"due_date": "due date", "title": "title", "owner": "owner", "strength": "strength",
                     "measure": "measure", "description": "description"}.get(name, name)
            shown = (lambda value: f"{value:%Y-%m-%d}" if name == "due_date" else
                     (value.get_full_name() or value.username) if name == "owner" else quoted(value))
            words.append(f"{label} from {shown(old)} to {shown(new)}")
    if words:
        note_change(user, investigation, f"Action {quoted(action.title)} changed: {'; '.join(words)}.")
    return action


@audit.changes_by_user
@transaction.atomic
def remove_rca_action(user, investigation, action_id: int):
    """Take an action off the RCA: it is cancelled in the tracker (never deleted), with the note."""
    from andon.actions import services as actions
    from .rca import _editable, note_change, quoted

    _editable(user, investigation)
    action = _rca_action(investigation, action_id)
    actions.set_status(user, action, "cancelled", f"Removed from the root cause analysis of {investigation.event}.")
    note_change(user, investigation, f"Action removed (cancelled in the action tracker): {quoted(action.title)}.")
    return action


# --- safety records other modules link to (a risk's links) --------------------------------------
# Events and their analyses are patient safety work product: another module may keep a link to
# one for those who may see it, and shows everyone else its reference alone, which says nothing
# of what happened.

LINKABLE_KINDS = ("safety_event", "investigation", "root_cause")


@dataclass(frozen=True)
class Linkable:
    """A safety record as another module names it: its kind and id, and the event's reference."""

    kind: str
    key: int
    event_id: int
    reference: str


@dataclass(frozen=True)
class RootCauseSeen:
    """A root cause as a risk raised from it reads it (after the check that the reader may read
    its analysis)."""

    id: int
    statement: str
    investigation_id: int
    event_id: int
    event_reference: str
    unit: Unit


def _analysis_read(user, investigation: Investigation, reason: str) -> Investigation:
    from .rca import open_investigation

    return open_investigation(user, investigation.event, reason)


def linkable_record(user, kind: str, key) -> Linkable:
    """A safety record `user` may see, for another module to link: an event (by id or
    reference; safety.view_event), a root cause analysis or one of its root causes (by id;
    safety.view_investigation, the read audited). Http404 when there is none, PermissionDenied
    when the user may not see it."""
    if kind not in LINKABLE_KINDS:
        raise ValidationError({"kind": f"{kind!r} is not a safety record ({', '.join(LINKABLE_KINDS)})."})
    pk = inputs.record_id(key)
    if kind == "safety_event":
        lookup = {"pk": pk} if pk is not None else {"reference__iexact": str(key or "").strip()[:20]}
        event = permissions.fetch_checked(user, "safety.view_event", SafetyEvent.objects.select_related(
            *EVENT_RELATED), **lookup)
        return Linkable(kind, event.pk, event.pk, event.reference or str(event))
    if kind == "root_cause":
        investigation = _root_cause(key).investigation
    elif pk is None:
        raise Http404("No such root cause analysis.")
    else:
        investigation = get_object_or_404(Investigation.objects.select_related("event__unit__facility"), pk=pk)
    _analysis_read(user, investigation, "linked to a risk")
    event = investigation.event
    return Linkable(kind, pk, event.pk, event.reference or str(event))


def _root_cause(key):
    pk = inputs.record_id(key)
    if pk is None:
        raise Http404("No such root cause.")
    return get_object_or_404(RootCause.objects.select_related("investigation__event__unit__facility"), pk=pk)


def root_cause_for(user, root_cause_id) -> RootCauseSeen:
    """A root cause of an analysis `user` may read (the read audited), with its analysis, event
    and unit: what a risk raised from it needs. Http404 / PermissionDenied as `linkable_record`."""
    cause = _root_cause(root_cause_id)
    investigation = _analysis_read(user, cause.investigation, "raised a risk from a root cause")
    event = investigation.event
    return RootCauseSeen(cause.pk, cause.statement, investigation.pk, event.pk, event.reference or str(event),
                         event.unit)


def linked_records(user, keys) -> dict[tuple[str, int], dict]:
    """{(kind, id): {"reference", "title", "url"}} for safety records another module links to:
    the reference for everyone; the title (what happened, where and when; a root cause's
    statement) and the page only for those who may see the event or read its analysis. Records
    since removed are left out. Three queries at most, whatever the number of links."""
    wanted = {kind: {int(key) for k, key in keys if k == kind} for kind in LINKABLE_KINDS}
    events = SafetyEvent.objects.select_related("unit").in_bulk(wanted["safety_event"])
    analyses = Investigation.objects.select_related("event__unit").in_bulk(wanted["investigation"])
    causes = RootCause.objects.select_related("investigation__event__unit").in_bulk(wanted["root_cause"])
    found = {}
    for pk, event in events.items():
        may = permissions.can(user, "safety.view_event", event)
        found[("safety_event", pk)] = _shown(event, _event_title(event) if may else "",
                                             reverse("safety:event", args=[pk]) if may else "")
    for kind, records in (("investigation", analyses), ("root_cause", causes)):
        for pk, record in records.items():
            investigation = record if kind == "investigation" else record.investigation
            may = permissions.can(user, "safety.view_investigation", investigation)
            title = (f"Root cause analysis: {_event_title(investigation.event)}" if kind == "investigation"
                     else record.statement)
            found[(kind, pk)] = _shown(investigation.event, title if may else "",
                                       reverse("safety:investigation", args=[investigation.event_id]) if may else "")
    return found


def _shown(event: SafetyEvent, title: str, url: str) -> dict:
    return {"reference": event.reference or str(event), "title": title, "url": url}


def _event_title(event: SafetyEvent) -> str:
    tax = taxonomy.version_or_current(event.taxonomy_version)
    category = tax.category_label(event.category) if tax else event.category
    return f"{category} · {event.unit.name} · {timezone.localtime(event.occurred_at):%Y-%m-%d}"
