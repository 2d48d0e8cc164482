"""Root cause analysis (RCA²): starting one, its team, the timeline of facts, 5-whys chains,
contributing factors by fishbone category, root-cause statements, related and similar events,
and completing it (which moves the event to action planning). DOMAIN.md §3.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone

from andon.platform import audit, concurrency, permissions
from andon.platform import services as platform_services
from andon.platform.models import User

from . import taxonomy
from .models import (
    ContributingFactor,
    WorksheetChange,
    Investigation,
    Review,
    RootCause,
    SafetyEvent,
    Status,
    TeamMember,
    TimelineEntry,
    WhyChain,
)

SIMILAR_WINDOW = timedelta(days=180)
MAX_WHYS = 7


def _text(value: str, field: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError({field: "Required."})
    if len(text) > limit:
        raise ValidationError({field: f"At most {limit:,} characters."})
    return text


@audit.changes_by_user
@transaction.atomic
def start_investigation(user, event: SafetyEvent) -> Investigation:
    """Open the RCA of an event sent to investigation; records when it started (for the 72 h)."""
    permissions.check(user, "safety.investigate", event)
    # Locked and read again: the event may have moved since the caller read it, and two starts
    # at once must make one analysis.
    concurrency.lock(event)
    if event.status != Status.INVESTIGATION or event.review != Review.RCA:
        raise ValidationError({"event": "Only an event under investigation (RCA) has a root cause analysis."})
    investigation, created = Investigation.objects.get_or_create(event=event, defaults={"started_by": user})
    if created:
        SafetyEvent.objects.filter(pk=event.pk).update(rca_started_at=investigation.started_at)
        event.rca_started_at = investigation.started_at
        TeamMember.objects.create(investigation=investigation, person=user, part=TeamMember.Part.LEAD)
    return investigation


def open_investigation(user, event: SafetyEvent, reason: str = "read the root cause analysis") -> Investigation:
    """Check and record the read of an event's root cause analysis.

    Those who see events in the event's unit and the analysis team may read it; the reporter
    reads the feedback, not the analysis. Investigation.DoesNotExist when there is none yet
    (after the event's own check, so a stranger is refused rather than told).
    """
    from .services import open_event

    investigation = Investigation.objects.filter(event=event).select_related("event", "event__unit").first()
    if investigation is None:
        open_event(user, event, reason)
        raise Investigation.DoesNotExist("This event has no root cause analysis yet.")
    permissions.check(user, "safety.view_investigation", investigation)
    audit.record_read(event, actor=user, reason=reason)
    return investigation


def access_investigation(user, event_id) -> Investigation:
    """The RCA of an event, read as `open_investigation` reads it (checked and audited): 404
    when the event or its analysis does not exist, 403 when the user may not read it."""
    event = get_object_or_404(SafetyEvent.objects.select_related("unit", "unit__facility"), pk=event_id)
    try:
        return open_investigation(user, event)
    except Investigation.DoesNotExist:
        raise permissions.Missing("This event has no root cause analysis yet.") from None


def _editable(user, investigation: Investigation) -> None:
    """Refuse a change to an analysis that is complete, as it is now: the caller's copy may have
    been read before someone completed it, so the row is read again under its lock (the callers
    run in a transaction)."""
    permissions.check(user, "safety.edit_investigation", investigation)
    if concurrency.lock(investigation).completed_at is not None:
        raise ValidationError({"investigation": "The investigation is complete: its findings are no longer changed "
                                                "(they are what the lead signs and leadership approves)."})


def quoted(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return f"“{text if len(text) <= limit else text[:limit - 1] + '…'}”"


def _person(person) -> str:
    return person.get_full_name() or person.username


def note_change(user, investigation: Investigation, text: str) -> None:
    """The change in plain words, for the RCA page's history (the audit trail has it field by field)."""
    WorksheetChange.objects.create(investigation=investigation, by=user, text=text[:6000])


def _team_editable(user, investigation: Investigation) -> None:
    permissions.check(user, "safety.investigate", investigation)
    if concurrency.lock(investigation).completed_at is not None:
        raise ValidationError({"investigation": "The investigation is complete: its team is no longer changed."})


@audit.changes_by_user
@transaction.atomic
def add_team_member(user, investigation: Investigation, person: User, part: str) -> TeamMember:
    _team_editable(user, investigation)
    if part not in TeamMember.Part.values:
        raise ValidationError({"part": "Choose the member's part."})
    if not person.is_active:
        raise ValidationError({"person": "Choose an active member of staff."})
    member, created = TeamMember.objects.update_or_create(investigation=investigation, person=person,
                                                          defaults={"part": part})
    note_change(user, investigation, f"{_person(person)} joined the team as {member.get_part_display().lower()}."
           if created else f"{_person(person)}'s part set to {member.get_part_display().lower()}.")
    return member


def _item(investigation: Investigation, model, item_id):
    """One item of the analysis's worksheet (404 when it is not this analysis's)."""
    return get_object_or_404(model.objects.select_for_update(), investigation=investigation, pk=item_id)


@audit.changes_by_user
@transaction.atomic
def set_team_part(user, investigation: Investigation, member_id: int, part: str) -> TeamMember:
    _team_editable(user, investigation)
    member = _item(investigation, TeamMember, member_id)
    if part not in TeamMember.Part.values:
        raise ValidationError({"part": "Choose the member's part."})
    before = member.get_part_display().lower()
    if member.part == TeamMember.Part.LEAD and part != TeamMember.Part.LEAD and not investigation.team.filter(
            part=TeamMember.Part.LEAD).exclude(pk=member.pk).exists():
        raise ValidationError({"part": "The analysis needs a lead: make someone else the lead first."})
    if member.part != part:
        member.part = part
        member.save(update_fields=["part"])
        note_change(user, investigation, f"{_person(member.person)}'s part changed from {before} to "
                                    f"{member.get_part_display().lower()}.")
    return member


def _check_fact_time(at) -> None:
    from .services import CLOCK_SKEW

    if at is None:
        raise ValidationError({"at": "Say when."})
    if at > timezone.now() + CLOCK_SKEW:
        raise ValidationError({"at": f"{timezone.localtime(at):%Y-%m-%d %H:%M} is in the future: a timeline holds "
                                     "what has happened."})


@audit.changes_by_user
@transaction.atomic
def add_fact(user, investigation: Investigation, at, fact: str) -> TimelineEntry:
    _editable(user, investigation)
    _check_fact_time(at)
    entry = TimelineEntry.objects.create(investigation=investigation, at=at, fact=_text(fact, "fact", 2000))
    note_change(user, investigation, f"Timeline fact added: {timezone.localtime(at):%Y-%m-%d %H:%M} {quoted(entry.fact)}.")
    return entry


@audit.changes_by_user
@transaction.atomic
def edit_fact(user, investigation: Investigation, fact_id: int, at, fact: str) -> TimelineEntry:
    _editable(user, investigation)
    entry = _item(investigation, TimelineEntry, fact_id)
    _check_fact_time(at)
    text = _text(fact, "fact", 2000)
    before = f"{timezone.localtime(entry.at):%Y-%m-%d %H:%M} {quoted(entry.fact)}"
    if (entry.at, entry.fact) != (at, text):
        entry.at, entry.fact = at, text
        entry.save(update_fields=["at", "fact"])
        note_change(user, investigation, f"Timeline fact changed from {before} to "
                                    f"{timezone.localtime(at):%Y-%m-%d %H:%M} {quoted(text)}.")
    return entry


def _whys(whys) -> list[str]:
    answers = [w.strip() for w in whys if w and w.strip()]
    if not answers:
        raise ValidationError({"whys": "Give at least one answer to “why?”."})
    if len(answers) > MAX_WHYS:
        raise ValidationError({"whys": f"At most {MAX_WHYS} whys."})
    if any(len(w) > 500 for w in answers):
        raise ValidationError({"whys": "Each answer at most 500 characters."})
    return answers


@audit.changes_by_user
@transaction.atomic
def edit_why_chain(user, investigation: Investigation, chain_id: int, problem: str, whys: list[str]) -> WhyChain:
    _editable(user, investigation)
    chain = _item(investigation, WhyChain, chain_id)
    problem, answers = _text(problem, "problem", 1000), _whys(whys)
    if (chain.problem, chain.whys) != (problem, answers):
        before = f"{quoted(chain.problem)} ({' → '.join(chain.whys)})"
        chain.problem, chain.whys = problem, answers
        chain.save(update_fields=["problem", "whys"])
        note_change(user, investigation, f"5-whys chain changed from {before} to {quoted(problem)} "
                                    f"({' → '.join(answers)}).")
    return chain


def _bone(investigation: Investigation, category: str) -> str:
    bones = {c["code"]: c["label"] for c in taxonomy.version(investigation.event.taxonomy_version).factor_categories}
    if category not in bones:
        raise ValidationError({"category": f"Choose one of: {', '.join(sorted(bones))}."})
    return bones[category]


@audit.changes_by_user
@transaction.atomic
def edit_factor(user, investigation: Investigation, factor_id: int, category: str,
                description: str) -> ContributingFactor:
    _editable(user, investigation)
    factor = _item(investigation, ContributingFactor, factor_id)
    label = _bone(investigation, category)
    text = _text(description, "description", 1000)
    if (factor.category, factor.description) != (category, text):
        before = f"{_bone(investigation, factor.category) if factor.category else ''}: {quoted(factor.description)}"
        factor.category, factor.description = category, text
        factor.save(update_fields=["category", "description"])
        note_change(user, investigation, f"Contributing factor changed from {before} to {label}: {quoted(text)}.")
    return factor


@audit.changes_by_user
@transaction.atomic
def edit_root_cause(user, investigation: Investigation, cause_id: int, statement: str) -> RootCause:
    _editable(user, investigation)
    cause = _item(investigation, RootCause, cause_id)
    text = _text(statement, "statement", 2000)
    if cause.statement != text:
        before = cause.statement
        cause.statement = text
        cause.save(update_fields=["statement"])
        note_change(user, investigation, f"Root cause changed from {quoted(before)} to {quoted(text)}.")
    return cause


def _described(item) -> str:
    if isinstance(item, TeamMember):
        return f"{_person(item.person)} ({item.get_part_display().lower()}) left the team."
    if isinstance(item, TimelineEntry):
        return f"Timeline fact removed: {timezone.localtime(item.at):%Y-%m-%d %H:%M} {quoted(item.fact)}."
    if isinstance(item, WhyChain):
        return f"5-whys chain removed: {quoted(item.problem)} ({' → '.join(item.whys)})."
    if isinstance(item, ContributingFactor):
        return f"Contributing factor removed: {quoted(item.description)}."
    return f"Root cause removed: {quoted(item.statement)}."


REMOVABLE = {"team": TeamMember, "fact": TimelineEntry, "why": WhyChain, "factor": ContributingFactor,
             "root_cause": RootCause}


@audit.changes_by_user
@transaction.atomic
def remove_item(user, investigation: Investigation, part: str, item_id: int) -> None:
    """Remove one item of the worksheet (a team member, fact, 5-whys chain, factor or root cause):
    the audit trail keeps it as it was, and the RCA page's history says what was removed."""
    if part not in REMOVABLE:
        raise ValidationError({"part": f"Nothing of the kind {part!r} is removed from an analysis."})
    if part == "team":
        _team_editable(user, investigation)
    else:
        _editable(user, investigation)
    item = _item(investigation, REMOVABLE[part], item_id)
    if part == "team" and item.part == TeamMember.Part.LEAD and not investigation.team.filter(
            part=TeamMember.Part.LEAD).exclude(pk=item.pk).exists():
        raise ValidationError({"part": "The analysis needs a lead: make someone else the lead first."})
    note_change(user, investigation, _described(item))
    item.delete()


@audit.changes_by_user
@transaction.atomic
def unlink_related(user, investigation: Investigation, other_id: int) -> None:
    _editable(user, investigation)
    other = get_object_or_404(investigation.related_events.all(), pk=other_id)
    investigation.related_events.remove(other)
    note_change(user, investigation, f"Related event {other.reference} unlinked.")


@audit.changes_by_user
@transaction.atomic
def add_why_chain(user, investigation: Investigation, problem: str, whys: list[str]) -> WhyChain:
    _editable(user, investigation)
    answers = _whys(whys)
    chain = WhyChain.objects.create(investigation=investigation, problem=_text(problem, "problem", 1000), whys=answers)
    note_change(user, investigation, f"5-whys chain added: {quoted(chain.problem)} ({' → '.join(answers)}).")
    return chain


@audit.changes_by_user
@transaction.atomic
def add_factor(user, investigation: Investigation, category: str, description: str) -> ContributingFactor:
    _editable(user, investigation)
    label = _bone(investigation, category)
    factor = ContributingFactor.objects.create(investigation=investigation, category=category,
                                               description=_text(description, "description", 1000))
    note_change(user, investigation, f"Contributing factor added: {label}: {quoted(factor.description)}.")
    return factor


@audit.changes_by_user
@transaction.atomic
def add_root_cause(user, investigation: Investigation, statement: str) -> RootCause:
    _editable(user, investigation)
    cause = RootCause.objects.create(investigation=investigation, statement=_text(statement, "statement", 2000))
    note_change(user, investigation, f"Root cause added: {quoted(cause.statement)}.")
    return cause


@audit.changes_by_user
@transaction.atomic
def link_related(user, investigation: Investigation, other: SafetyEvent) -> None:
    _editable(user, investigation)
    if other.pk == investigation.event_id:
        raise ValidationError({"related": "An event is not related to itself."})
    permissions.check(user, "safety.view_event", other)
    investigation.related_events.add(other)
    note_change(user, investigation, f"Related event {other.reference} linked.")


def similar_events(user, event: SafetyEvent, limit: int = 10):
    """Events of the same category in the same facility within 180 days whose analysis the user
    may read (never a team member's own reports, whose triage is not theirs to read): candidates
    for an aggregated review or for linking to the RCA."""
    from .services import events_visible_to

    window = (event.occurred_at - SIMILAR_WINDOW, event.occurred_at + SIMILAR_WINDOW)
    return (events_visible_to(user).filter(category=event.category, unit__facility=event.unit.facility_id,
                                           occurred_at__range=window)
            .exclude(pk=event.pk).order_by("-occurred_at")[:limit])


@audit.changes_by_user
@transaction.atomic
def complete_investigation(user, investigation: Investigation, reason: str) -> Investigation:
    """Finish the analysis: it needs at least one root cause; the event moves to action planning."""
    from .services import move

    permissions.check(user, "safety.investigate", investigation)
    if concurrency.lock(investigation).completed_at is not None:
        raise ValidationError({"investigation": "The analysis is already complete."})
    if not investigation.root_causes.exists():
        raise ValidationError({"root_causes": "State at least one root cause before completing the analysis."})
    # Complete first: moving to action planning checks that the analysis is complete.
    investigation.completed_at = timezone.now()
    investigation.save(update_fields=["completed_at"])
    move(user, investigation.event, "plan_actions", reason)
    return investigation


@audit.changes_by_user
@transaction.atomic
def sign_findings(user, investigation: Investigation) -> Investigation:
    """The RCA lead signs the findings of the completed analysis (the first of its two sign-offs)."""
    permissions.check(user, "safety.edit_investigation", investigation)
    concurrency.lock(investigation)
    if investigation.completed_at is None:
        raise ValidationError({"investigation": "Complete the analysis before its findings are signed."})
    if not investigation.team.filter(person=user, part=TeamMember.Part.LEAD).exists():
        raise ValidationError({"investigation": "Only the lead of the analysis signs its findings."})
    if investigation.signed_at is not None:
        raise ValidationError({"investigation": f"The findings were signed on {investigation.signed_at:%Y-%m-%d} "
                                                f"by {_person(investigation.signed_by)}."})
    investigation.signed_by, investigation.signed_at = user, timezone.now()
    investigation.save(update_fields=["signed_by", "signed_at"])
    note_change(user, investigation, f"Findings signed by {_person(user)}, the lead of the analysis.")
    return investigation


@audit.changes_by_user
@transaction.atomic
def approve_investigation(user, investigation: Investigation) -> Investigation:
    """Leadership (safety.approve_investigation: CQO, CMO) approves the findings the lead signed;
    the lead who signed does not approve their own findings."""
    permissions.check(user, "safety.approve_investigation", investigation)
    concurrency.lock(investigation)
    if investigation.signed_at is None:
        raise ValidationError({"investigation": "The lead signs the findings before they are approved."})
    if investigation.approved_at is not None:
        raise ValidationError({"investigation": f"The findings were approved on {investigation.approved_at:%Y-%m-%d} "
                                                f"by {_person(investigation.approved_by)}."})
    if investigation.signed_by_id == user.pk:
        raise ValidationError({"investigation": "The lead who signed the findings does not also approve them."})
    investigation.approved_by, investigation.approved_at = user, timezone.now()
    investigation.save(update_fields=["approved_by", "approved_at"])
    note_change(user, investigation, f"Findings approved by {_person(user)}.")
    return investigation


def changes(investigation: Investigation, limit: int = 100):
    """The worksheet's history in plain words, newest first."""
    return investigation.changes.select_related("by")[:limit]


def people_to_pick(investigation: Investigation, query: str) -> list[dict]:
    """Active staff of the event's organisation matching `query` (name, username, job title, role
    or unit), each with their roles and where they hold them: {person, name, roles}."""
    organisation = investigation.event.unit.facility.organisation_id
    staff = User.objects.filter(is_active=True, role_grants__organisation_id=organisation).distinct()
    return platform_services.people_matching(staff, query)


def fishbone(investigation: Investigation) -> list[dict]:
    """[{code, label, factors: [description, …]}] for every bone, in the taxonomy's order."""
    bones = taxonomy.version(investigation.event.taxonomy_version).factor_categories
    by_bone = {}
    for factor in investigation.factors.all():
        by_bone.setdefault(factor.category, []).append(factor.description)
    return [{"code": b["code"], "label": b["label"], "factors": by_bone.get(b["code"], [])} for b in bones]
