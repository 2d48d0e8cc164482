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
from andon.platform.models import User

from . import taxonomy
from .models import (
    ContributingFactor,
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
        raise ValidationError({"investigation": "The investigation is complete; reopen the event to change it."})


@audit.changes_by_user
def add_team_member(user, investigation: Investigation, person: User, part: str) -> TeamMember:
    permissions.check(user, "safety.investigate", investigation)
    if part not in TeamMember.Part.values:
        raise ValidationError({"part": "Choose the member's part."})
    if not person.is_active:
        raise ValidationError({"person": "Choose an active member of staff."})
    member, _ = TeamMember.objects.update_or_create(investigation=investigation, person=person, defaults={"part": part})
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
    return TimelineEntry.objects.create(investigation=investigation, at=at, fact=_text(fact, "fact", 2000))


@audit.changes_by_user
@transaction.atomic
def add_why_chain(user, investigation: Investigation, problem: str, whys: list[str]) -> WhyChain:
    _editable(user, investigation)
    answers = [w.strip() for w in whys if w and w.strip()]
    if not answers:
        raise ValidationError({"whys": "Give at least one answer to “why?”."})
    if len(answers) > MAX_WHYS:
        raise ValidationError({"whys": f"At most {MAX_WHYS} whys."})
    if any(len(w) > 500 for w in answers):
        raise ValidationError({"whys": "Each answer at most 500 characters."})
    return WhyChain.objects.create(investigation=investigation, problem=_text(problem, "problem", 1000), whys=answers)


@audit.changes_by_user
@transaction.atomic
def add_factor(user, investigation: Investigation, category: str, description: str) -> ContributingFactor:
    _editable(user, investigation)
    bones = {c["code"] for c in taxonomy.version(investigation.event.taxonomy_version).factor_categories}
    if category not in bones:
        raise ValidationError({"category": f"Choose one of: {', '.join(sorted(bones))}."})
    return ContributingFactor.objects.create(investigation=investigation, category=category,
                                             description=_text(description, "description", 1000))


@audit.changes_by_user
@transaction.atomic
def add_root_cause(user, investigation: Investigation, statement: str) -> RootCause:
    _editable(user, investigation)
    return RootCause.objects.create(investigation=investigation, statement=_text(statement, "statement", 2000))


@audit.changes_by_user
@transaction.atomic
def link_related(user, investigation: Investigation, other: SafetyEvent) -> None:
    _editable(user, investigation)
    if other.pk == investigation.event_id:
        raise ValidationError({"related": "An event is not related to itself."})
    permissions.check(user, "safety.view_event", other)
    investigation.related_events.add(other)


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


def fishbone(investigation: Investigation) -> list[dict]:
    """[{code, label, factors: [description, …]}] for every bone, in the taxonomy's order."""
    bones = taxonomy.version(investigation.event.taxonomy_version).factor_categories
    by_bone = {}
    for factor in investigation.factors.all():
        by_bone.setdefault(factor.category, []).append(factor.description)
    return [{"code": b["code"], "label": b["label"], "factors": by_bone.get(b["code"], [])} for b in bones]
