"""Meetings of a committee: planned -> held (minutes in draft) -> minutes approved (at the next
meeting), or cancelled. The agenda is the committee's standing items, "Minutes of the last
meeting" while those are not approved, and what the modules propose
(andon.platform.reporting.attention_items), picked by whoever runs the meeting. Attendance
gives the quorum; a decision needs it. A decision may open actions in the shared tracker.

Policy: a decision recorded while fewer voting members are present than the committee's quorum is
refused (the committee could not decide); so is approving the last meeting's minutes."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from andon.actions import services as actions
from andon.platform import audit, concurrency, history, pdf, permissions, reporting
from andon.platform.models import Sequence, User

from .committees import current_members, serving
from .models import (AgendaItem, AgendaKind, Attendance, Committee, Decision, Meeting, MeetingStatus,
                     MemberRole, Membership)
from .models.committees import VOTING_ROLES

TEXT_MAX = 20000
CHANGEABLE = (MeetingStatus.PLANNED, MeetingStatus.HELD)  # the agenda and the minutes change until approved


def access_meeting(user, meeting_id, capability: str = "governance.view_committee") -> Meeting:
    return permissions.fetch_checked(user, capability, Meeting.objects.select_related("committee"), pk=meeting_id)


def meetings_of(committee: Committee):
    return committee.meetings.all().order_by("-starts_at", "-pk")


def previous_meeting(meeting: Meeting) -> Meeting | None:
    """The committee's last meeting before this one that took place (cancelled ones did not)."""
    return (Meeting.objects.filter(committee_id=meeting.committee_id, starts_at__lt=meeting.starts_at)
            .exclude(status__in=(MeetingStatus.CANCELLED, MeetingStatus.PLANNED)).order_by("-starts_at", "-pk").first())


def _changeable(meeting: Meeting, field: str = "status") -> None:
    if meeting.status not in CHANGEABLE:
        raise ValidationError({field: f"{meeting.reference} is {meeting.get_status_display().lower()}: "
                                      "its record no longer changes."})


def _text(errors: dict, name: str, value, limit: int = TEXT_MAX, required: str = "") -> str:
    value = (value or "").strip()
    if required and not value:
        errors[name] = required
    elif len(value) > limit:
        errors[name] = f"At most {limit:,} characters."
    return value


# --- planning -------------------------------------------------------------------------------------------------

def _reference(committee: Committee, when: datetime) -> str:
    prefix = committee.key.upper()[:18]
    number = Sequence.next(f"governance.meeting.{committee.pk}.{when.year}")
    return f"{prefix}-{when.year}-{number:02d}"


@audit.changes_by_user
@transaction.atomic
def plan_meeting(user, committee: Committee, *, starts_at: datetime | None, period_first: date | None,
                 period_last: date | None, location: str = "") -> Meeting:
    permissions.check(user, "governance.run_meeting", committee)
    errors: dict = {}
    if starts_at is None:
        errors["starts_at"] = "Give the date and time of the meeting."
    if period_first is None:
        errors["period_first"] = "Give the first day of the period the meeting reviews."
    if period_last is None:
        errors["period_last"] = "Give the last day of the period the meeting reviews."
    elif period_first and period_last < period_first:
        errors["period_last"] = "The period ends on or after its first day."
    location = _text(errors, "location", location, 200)
    if not committee.active:
        errors["committee"] = f"{committee.name} is no longer active."
    if errors:
        raise ValidationError(errors)
    return Meeting.objects.create(committee=committee, reference=_reference(committee, starts_at),
                                  starts_at=starts_at, location=location, period_first=period_first,
                                  period_last=period_last, created_by=user)


@audit.changes_by_user
@transaction.atomic
def cancel_meeting(user, meeting: Meeting, version: int | None = None) -> Meeting:
    permissions.check(user, "governance.run_meeting", meeting)
    concurrency.lock(meeting, version)
    if meeting.status != MeetingStatus.PLANNED:
        raise ValidationError({"status": f"Only a planned meeting is cancelled; {meeting.reference} is "
                                         f"{meeting.get_status_display().lower()}."})
    meeting.status = MeetingStatus.CANCELLED
    meeting.save()
    return meeting


# --- the agenda -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proposal:
    """An attention item offered for the agenda; `key` picks it (the page and the API send keys)."""

    key: str
    source: str
    title: str
    count: int
    detail: str
    url: str
    severity: str


def proposals(user, meeting: Meeting) -> tuple[list[Proposal], list[str]]:
    """What the modules propose for the meeting's period, less what its agenda has already. For a
    confidential committee only the title and count are kept (its agenda travels further than its
    minutes)."""
    permissions.check(user, "governance.run_meeting", meeting)
    context = reporting.ReportingContext(meeting.committee.organisation_id, meeting.period_first,
                                         meeting.period_last, timezone.localdate())
    items, problems = reporting.attention_items(context)
    taken = set(meeting.agenda.filter(kind=AgendaKind.PROPOSED).values_list("source", "title"))
    confidential = meeting.committee.confidential
    offered = []
    for item in items:
        if (item.source, item.title[:300]) in taken:
            continue
        offered.append(Proposal(f"{item.source}|{item.title}", item.source, item.title[:300], item.count,
                                "" if confidential else item.detail[:2000], "" if confidential else item.url[:400],
                                item.severity))
    return offered, problems


def _next_position(meeting: Meeting) -> int:
    return (meeting.agenda.order_by("-position").values_list("position", flat=True).first() or 0) + 1


@audit.changes_by_user
@transaction.atomic
def build_agenda(user, meeting: Meeting, version: int | None = None) -> list[AgendaItem]:
    """Adds what every agenda has and this one lacks: the minutes of the last meeting (while not
    approved) first, then the committee's standing items. Building twice adds nothing twice."""
    permissions.check(user, "governance.run_meeting", meeting)
    concurrency.lock(meeting, version)
    _changeable(meeting)
    present = set(meeting.agenda.values_list("kind", "title"))
    last = previous_meeting(meeting)
    wanted = []
    if last and last.status == MeetingStatus.HELD:
        wanted.append((AgendaKind.MINUTES, f"Minutes of the last meeting ({last.reference})"))
    wanted += [(AgendaKind.STANDING, s.title) for s in meeting.committee.standing_items.all()]
    position = _next_position(meeting)
    for kind, title in wanted:
        if (kind, title) not in present:
            AgendaItem.objects.create(meeting=meeting, kind=kind, title=title, position=position)
            position += 1
    meeting.save()  # the version moves: the agenda changed
    return list(meeting.agenda.all())


@audit.changes_by_user
@transaction.atomic
def add_proposals(user, meeting: Meeting, keys: list[str]) -> list[AgendaItem]:
    """Adds the proposals picked (by key), as the modules propose them now."""
    offered, _ = proposals(user, meeting)
    _changeable(meeting, "keys")
    by_key = {p.key: p for p in offered}
    unknown = [k for k in keys if k not in by_key]
    if not keys or unknown:
        raise ValidationError({"keys": "Pick proposals offered for this meeting"
                                       + (f" ({', '.join(unknown)} is not)." if unknown else ".")})
    position, added = _next_position(meeting), []
    for key in dict.fromkeys(keys):
        p = by_key[key]
        added.append(AgendaItem.objects.create(meeting=meeting, kind=AgendaKind.PROPOSED, title=p.title,
                                               source=p.source, count=p.count, detail=p.detail, url=p.url,
                                               position=position))
        position += 1
    return added


@audit.changes_by_user
@transaction.atomic
def add_item(user, meeting: Meeting, title: str, presenter: User | None = None) -> AgendaItem:
    permissions.check(user, "governance.run_meeting", meeting)
    _changeable(meeting, "title")
    errors: dict = {}
    title = _text(errors, "title", " ".join((title or "").split()), 300, "Give the item a title.")
    if errors:
        raise ValidationError(errors)
    return AgendaItem.objects.create(meeting=meeting, kind=AgendaKind.ADDED, title=title, presenter=presenter,
                                     position=_next_position(meeting))


@audit.changes_by_user
@transaction.atomic
def remove_item(user, item: AgendaItem) -> None:
    permissions.check(user, "governance.run_meeting", item.meeting)
    _changeable(item.meeting, "item")
    if Decision.objects.filter(agenda_item=item).exists():
        raise ValidationError({"item": f"A decision was recorded on “{item.title}”: the item stays."})
    item.delete()


@audit.changes_by_user
@transaction.atomic
def move_item(user, item: AgendaItem, up: bool) -> None:
    """Swaps the item with its neighbour above (or below); positions are renumbered 1..n first."""
    permissions.check(user, "governance.run_meeting", item.meeting)
    _changeable(item.meeting, "item")
    items = list(item.meeting.agenda.all())
    index = next(i for i, other in enumerate(items) if other.pk == item.pk)
    neighbour = index - 1 if up else index + 1
    if 0 <= neighbour < len(items):
        items[index], items[neighbour] = items[neighbour], items[index]
    for position, each in enumerate(items, 1):
        if each.position != position:
            each.position = position
            each.save(update_fields=["position"])


@audit.changes_by_user
@transaction.atomic
def write_item_notes(user, item: AgendaItem, notes: str) -> AgendaItem:
    permissions.check(user, "governance.run_meeting", item.meeting)
    _changeable(item.meeting, "notes")
    errors: dict = {}
    item.notes = _text(errors, "notes", notes)
    if errors:
        raise ValidationError(errors)
    item.save(update_fields=["notes"])
    return item


# --- attendance and quorum ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Quorum:
    present: int  # voting members present
    required: int

    @property
    def met(self) -> bool:
        return self.present >= self.required


def quorum(meeting: Meeting) -> Quorum:
    present = meeting.attendance.filter(presence=Attendance.Presence.PRESENT, voting=True).count()
    return Quorum(present, meeting.committee.quorum)


@audit.changes_by_user
@transaction.atomic
def record_attendance(user, meeting: Meeting, presences: dict, version: int | None = None) -> Quorum:
    """`presences`: person -> present/apologies/absent. A member votes unless an attendee; anyone
    else is a guest (present, not voting)."""
    permissions.check(user, "governance.run_meeting", meeting)
    concurrency.lock(meeting, version)
    _changeable(meeting, "attendance")
    roles = {m.user_id: m.role for m in current_members(meeting.committee, meeting.starts_at.date())}
    problems = [f"{person}: {presence!r} is not one of {', '.join(Attendance.Presence.values)}"
                for person, presence in presences.items() if presence not in Attendance.Presence.values]
    if problems:
        raise ValidationError({"attendance": "; ".join(problems)})
    for person, presence in presences.items():
        voting = roles.get(person.pk) in VOTING_ROLES
        Attendance.objects.update_or_create(meeting=meeting, user=person,
                                            defaults={"presence": presence, "voting": voting})
    meeting.save()
    return quorum(meeting)


# --- holding it: minutes and decisions ------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def mark_held(user, meeting: Meeting, version: int | None = None) -> Meeting:
    permissions.check(user, "governance.run_meeting", meeting)
    concurrency.lock(meeting, version)
    if meeting.status != MeetingStatus.PLANNED:
        raise ValidationError({"status": f"{meeting.reference} is {meeting.get_status_display().lower()}."})
    if meeting.starts_at > timezone.now() + timedelta(hours=12):
        raise ValidationError({"status": f"{meeting.reference} is on {meeting.starts_at:%Y-%m-%d}: it has not "
                                         "taken place yet."})
    meeting.status = MeetingStatus.HELD
    meeting.save()
    return meeting


@audit.changes_by_user
@transaction.atomic
def write_minutes(user, meeting: Meeting, minutes: str, version: int | None = None) -> Meeting:
    permissions.check(user, "governance.run_meeting", meeting)
    concurrency.lock(meeting, version)
    _changeable(meeting, "minutes")
    errors: dict = {}
    meeting.minutes = _text(errors, "minutes", minutes, 50000)
    if errors:
        raise ValidationError(errors)
    meeting.save()
    return meeting


def _decisions_allowed(meeting: Meeting, field: str) -> None:
    if meeting.status != MeetingStatus.HELD:
        raise ValidationError({field: f"Decisions are recorded at a meeting that was held; {meeting.reference} is "
                                      f"{meeting.get_status_display().lower()}."})
    count = quorum(meeting)
    if not count.met:
        raise ValidationError({field: f"The quorum is not met ({count.present} voting member"
                                      f"{'s' if count.present != 1 else ''} present, {count.required} needed): "
                                      "the committee cannot decide."})


def _decision(user, meeting: Meeting, item: AgendaItem | None, text: str) -> Decision:
    number = meeting.decisions.count() + 1
    return Decision.objects.create(meeting=meeting, agenda_item=item, text=text, recorded_by=user,
                                   reference=f"{meeting.reference}/D{number}")


@audit.changes_by_user
@transaction.atomic
def record_decision(user, meeting: Meeting, text: str, item: AgendaItem | None = None) -> Decision:
    permissions.check(user, "governance.run_meeting", meeting)
    concurrency.lock(meeting)
    errors: dict = {}
    text = _text(errors, "text", text, 4000, "Write the decision.")
    if item is not None and item.meeting_id != meeting.pk:
        errors["agenda_item"] = "The item is on another meeting's agenda."
    if errors:
        raise ValidationError(errors)
    _decisions_allowed(meeting, "text")
    decision = _decision(user, meeting, item, text)
    meeting.save()
    return decision


def open_decision_action(user, decision: Decision, *, unit, owner, title: str, due_date, measure: str,
                         strength: str = "intermediate", description: str = ""):
    """An action the decision opens in the shared tracker (which checks actions.manage over the
    unit); it shows on its owner's home page."""
    permissions.check(user, "governance.run_meeting", decision.meeting)
    return actions.create_action(user, source=decision, source_label=f"{decision.meeting.committee.name}: "
                                 f"decision {decision.reference}"[:200], unit=unit, owner=owner, title=title,
                                 description=description, due_date=due_date, strength=strength, measure=measure)


@audit.changes_by_user
@transaction.atomic
def approve_previous_minutes(user, meeting: Meeting, version: int | None = None) -> Meeting:
    """At `meeting` (held, quorate), the committee approves the minutes of its last meeting; the
    approval is recorded on the last meeting (by which meeting, on which day) and as a decision."""
    permissions.check(user, "governance.run_meeting", meeting)
    concurrency.lock(meeting, version)
    _decisions_allowed(meeting, "minutes_approved_at")
    last = previous_meeting(meeting)
    if last is None or last.status != MeetingStatus.HELD:
        raise ValidationError({"minutes_approved_at": f"{meeting.committee.name} has no earlier meeting whose "
                                                      "minutes await approval."})
    concurrency.lock(last)
    last.status, last.minutes_approved_at = MeetingStatus.MINUTES_APPROVED, meeting
    last.minutes_approved_on = meeting.starts_at.date()
    last.save()
    item = meeting.agenda.filter(kind=AgendaKind.MINUTES).first()
    _decision(user, meeting, item, f"The minutes of {last.reference} are approved as a true record.")
    meeting.save()
    return last


# --- reading: the page's parts, the PDF, the work list -------------------------------------------------------

def decisions_with_actions(meeting: Meeting, user) -> list[tuple[Decision, list]]:
    return [(d, list(actions.actions_for_source(d, user))) for d in meeting.decisions.select_related("agenda_item")]


def minutes_pdf(user, meeting: Meeting) -> bytes:
    """The pack of the meeting: agenda, attendance and quorum, item notes, decisions and their
    actions. Each download is in the audit trail."""
    permissions.check(user, "governance.view_committee", meeting)
    audit.record_read(meeting, actor=user, reason="download minutes PDF")
    return pdf.render_template_pdf("governance/minutes_pdf.html", {
        "meeting": meeting, "committee": meeting.committee, "agenda": list(meeting.agenda.all()),
        "attendance": list(meeting.attendance.select_related("user").order_by("user__last_name")),
        "quorum": quorum(meeting), "decisions": decisions_with_actions(meeting, None)})


def meetings_work(user) -> list:
    """Chairs' and secretaries' work: meetings within two weeks without an agenda, and held
    meetings whose minutes are to be approved."""
    from andon.platform.services import WorkItem

    today = timezone.localdate()
    runs = list(Membership.objects.filter(serving(today), user=user, role__in=(MemberRole.CHAIR, MemberRole.SECRETARY))
                .values_list("committee_id", flat=True))
    if not runs:
        return []
    items = []
    soon = Meeting.objects.filter(committee_id__in=runs, status=MeetingStatus.PLANNED, agenda__isnull=True,
                                  starts_at__date__gte=today, starts_at__date__lte=today + timedelta(days=14))
    for meeting in soon.select_related("committee").distinct():
        items.append(WorkItem(f"Agenda to build: {meeting.committee.name}, {meeting.starts_at:%Y-%m-%d}",
                              reverse("governance:meeting", args=[meeting.pk]), "due", meeting.reference))
    held = Meeting.objects.filter(committee_id__in=runs, status=MeetingStatus.HELD).select_related("committee")
    for meeting in held.distinct():
        items.append(WorkItem(f"Minutes awaiting approval: {meeting.reference}",
                              reverse("governance:meeting", args=[meeting.pk]), "review",
                              f"{meeting.committee.name}, held {meeting.starts_at:%Y-%m-%d}"))
    return items


def connect() -> None:
    """Registries of this subject, from ready()."""
    from andon.platform import services

    audit.register(Meeting, exclude_fields=["version"])
    audit.register(AgendaItem)
    audit.register(Attendance)
    audit.register(Decision)
    history.register(Meeting, labels={"minutes_approved_at": "Minutes approved at",
                                      "minutes_approved_on": "Minutes approved on"}, hidden={"version"})
    if meetings_work not in services.WORK_PROVIDERS:
        services.register_work_provider(meetings_work)
