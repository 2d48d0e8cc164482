"""Compliance: mock-survey tracers. A compliance specialist plans a tracer over a unit (a patient's
path or a system such as medication management), with a checklist drawn from requirements; the
surveyor for the day (any member of staff) fills it on a phone: Yes, No or N/A per question, an
observation, photos, and findings raised in place that open actions in the shared tracker.

Other modules reach this through andon.compliance.services (which re-exports `__all__`).
The object rules are in rules.py: compliance.fill_tracer (the surveyor, or a planner of the
unit), compliance.view_tracer and compliance.use_tracers.
"""

import re
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, concurrency, inputs, permissions
from andon.platform.models import RoleGrant, Unit, User
from andon.platform.notifications import email, notify

from . import findings, uploads
from .models import (
    Answer, FindingRisk, FrameworkVersion, Requirement, Tracer, TracerItem, TracerKind, TracerPhoto, TracerStatus,
)

__all__ = [
    "TracerProgress", "access_tracer", "access_tracer_item", "access_tracer_photo", "add_photo", "answer_item",
    "complete_tracer", "edit_question", "open_tracer_photo", "plan_tracer", "possible_surveyors", "question_for",
    "raise_tracer_finding", "remove_photo", "reopen_tracer", "requirements_to_trace", "shown_photos", "start_tracer",
    "tracer_progress", "tracer_report", "tracers_to_survey", "visible_tracers",
]

QUESTION_MAX = 500
TEXT_MAX = 4000
PATH_MAX = 200
PHOTOS_PER_ITEM = 10
# A path is a description of where the patient went, never who they are: a long run of digits is
# most likely a medical record or account number, so it is refused (names cannot be detected offline).
RECORD_NUMBER = re.compile(r"\d{6,}")


# --- reading ------------------------------------------------------------------------------------

def visible_tracers(user):
    """Tracers the user may see: those they survey, and those of units where they read compliance
    or plan tracers."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Tracer.objects.none()
    return (Tracer.objects.filter(Q(surveyor=user) | Q(unit__in=permissions.units_where(user, "compliance.view"))
                                  | Q(unit__in=permissions.units_where(user, "compliance.plan_tracers")))
            .select_related("unit__facility", "surveyor", "created_by")
            .annotate(item_count=Count("items", distinct=True),
                      answered_count=Count("items", filter=~Q(items__answer=Answer.UNANSWERED), distinct=True)))


def tracers_to_survey(user):
    """The user's own tracers still to fill (planned or in progress), the soonest first."""
    return (Tracer.objects.filter(surveyor=user, status__in=[TracerStatus.PLANNED, TracerStatus.IN_PROGRESS])
            .select_related("unit").order_by("planned_on", "pk"))


def access_tracer(user, tracer_id, capability: str = "compliance.view_tracer") -> Tracer:
    """The tracer, if the user may `capability` it: Http404 when there is none, PermissionDenied
    when they may not. Seeing comes first, as on the tracer's pages."""
    tracer = permissions.fetch_checked(user, "compliance.view_tracer", Tracer.objects.select_related(
        "unit__facility__organisation", "surveyor", "created_by"), pk=tracer_id)
    if capability != "compliance.view_tracer":
        permissions.check(user, capability, tracer)
    return tracer


def access_tracer_item(user, tracer_id, item_id, capability: str = "compliance.fill_tracer") -> TracerItem:
    """One question of a tracer the user may `capability` (the tracer is checked first)."""
    tracer = access_tracer(user, tracer_id, capability)
    item = get_object_or_404(TracerItem.objects.select_related("requirement"), pk=item_id, tracer=tracer)
    item.tracer = tracer
    return item


def access_tracer_photo(user, tracer_id, photo_id, capability: str = "compliance.view_tracer") -> TracerPhoto:
    """A photo of a tracer the user may `capability` (seeing it comes first); reading it is
    `open_tracer_photo` (audited). A removed photo is a 404 for everyone."""
    tracer = access_tracer(user, tracer_id, capability)
    photo = get_object_or_404(TracerPhoto.objects.select_related("item"), pk=photo_id, item__tracer=tracer)
    if photo.removed_at is not None:
        raise permissions.Missing("This photo was removed from the tracer.")
    photo.item.tracer = tracer
    return photo


def shown_photos(photos):
    """The photos (of an item, or any queryset of them) that were not removed."""
    if isinstance(photos, TracerItem):
        photos = photos.photos.all()
    return photos.filter(removed_at__isnull=True)


def open_tracer_photo(user, photo: TracerPhoto) -> TracerPhoto:
    """Record the viewing of a photo (taken on a ward: it may show more than it was meant to)."""
    permissions.check(user, "compliance.view_tracer", photo.item.tracer)
    audit.record_read(photo, actor=user, reason="tracer photo")
    return photo


@dataclass(frozen=True)
class TracerProgress:
    answered: int
    total: int
    yes: int
    no: int
    not_applicable: int

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 0


def tracer_progress(tracer: Tracer) -> TracerProgress:
    counts = dict(tracer.items.order_by().values_list("answer").annotate(n=Count("pk")))
    total = sum(counts.values())
    return TracerProgress(answered=total - counts.get(Answer.UNANSWERED, 0), total=total,
                          yes=counts.get(Answer.YES, 0), no=counts.get(Answer.NO, 0),
                          not_applicable=counts.get(Answer.NOT_APPLICABLE, 0))


@dataclass
class ReportLine:
    item: TracerItem
    photos: list
    findings: list = field(default_factory=list)  # [(finding, [actions the reader may see])]


def tracer_report(user, tracer: Tracer) -> list[ReportLine]:
    """The tracer's questions in order, each with its photos and the findings raised from it
    (with their actions). A finding belongs to the line of its requirement."""
    permissions.check(user, "compliance.view_tracer", tracer)
    items = list(tracer.items.select_related("requirement").prefetch_related(
        Prefetch("photos", queryset=shown_photos(TracerPhoto.objects.order_by("uploaded_at", "pk")))).order_by(
        "position", "pk"))
    lines = [ReportLine(item, list(item.photos.all())) for item in items]
    by_requirement = {line.item.requirement_id: line for line in lines if line.item.requirement_id}
    for finding in tracer.findings.select_related("requirement").order_by("raised_at", "pk"):
        line = by_requirement.get(finding.requirement_id)
        if line is not None:
            line.findings.append((finding, list(findings.finding_actions(finding, user))))
    return lines


def question_for(requirement: Requirement) -> str:
    """The question a checklist asks of a requirement: its citation, title and summary."""
    text = " ".join(part for part in (requirement.citation, requirement.title) if part)
    if requirement.summary:
        text = f"{text}: {' '.join(requirement.summary.split())}"
    return text if len(text) <= QUESTION_MAX else text[:QUESTION_MAX - 1] + "…"


def requirements_to_trace(version: FrameworkVersion, query: str = "", limit: int = 50):
    """Requirements of a version a planner may pick (chapters and assessable ones), matching
    `query` in citation, title or summary."""
    found = Requirement.objects.filter(version=version).filter(Q(depth=0) | Q(assessable=True))
    for word in " ".join((query or "").split())[:100].split():
        found = found.filter(Q(citation__icontains=word) | Q(title__icontains=word) | Q(summary__icontains=word)
                             | Q(urn__icontains=word))
    return found.order_by("position")[:limit]


def possible_surveyors(user):
    """Active staff of the organisations where `user` plans tracers: any of them may be the
    surveyor for the day."""
    organisations = permissions.units_where(user, "compliance.plan_tracers").values("facility__organisation_id")
    return User.objects.filter(is_active=True, role_grants__organisation_id__in=organisations).distinct()


def _name(person) -> str:
    return person.get_full_name() or person.username


# --- planning -----------------------------------------------------------------------------------

def _checked_text(errors: dict, name: str, value, limit: int, *, required: str = "") -> str:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        errors[name] = "Write it as text."
        return ""
    if required and not text:
        errors[name] = required
    elif len(text) > limit:
        errors[name] = f"It is {len(text):,} characters long; keep it to {limit:,}."
    return text


def _checked_surveyor(errors: dict, surveyor, unit) -> None:
    if not isinstance(surveyor, User):
        errors["surveyor"] = "Choose the surveyor for the day."
    elif not surveyor.is_active:
        errors["surveyor"] = f"{_name(surveyor)} is no longer active: choose someone else."
    elif isinstance(unit, Unit) and not RoleGrant.objects.filter(
            user=surveyor, organisation_id=unit.facility.organisation_id).exists():
        errors["surveyor"] = f"{_name(surveyor)} is not a member of staff of {unit.facility.organisation}."


def _checked_path(errors: dict, kind, path: str) -> str:
    path = _checked_text(errors, "patient_path", path, PATH_MAX)
    if "patient_path" in errors:
        return path
    if kind == TracerKind.PATIENT and not path:
        errors["patient_path"] = ("Describe the patient's path (e.g. “Admitted via ED to 4 West, transferred to ICU”); "
                                  "no names or record numbers.")
    elif RECORD_NUMBER.search(path):
        errors["patient_path"] = ("The path holds a long number, which looks like a record or account number: "
                                  "describe the path only, never who the patient is.")
    return path


def _resolve_requirements(errors: dict, requirements, version) -> list[Requirement]:
    """Requirement rows (or URNs of `version`) turned into the assessable requirements they stand
    for: a chapter or any grouping node stands for every assessable requirement below it."""
    rows, urns = [], []
    for given in requirements or ():
        (urns if isinstance(given, str) else rows).append(given)
    if urns:
        if not isinstance(version, FrameworkVersion):
            errors["requirements"] = "Say which framework version the URNs are of."
            return []
        found = {r.urn: r for r in Requirement.objects.filter(version=version, urn__in=urns)}
        missing = [urn for urn in urns if urn not in found]
        if missing:
            errors["requirements"] = f"Not in {version}: {', '.join(missing[:10])}."
            return []
        rows += [found[urn] for urn in urns]
    if not rows:
        return []
    versions = {row.version_id for row in rows}
    if len(versions) > 1 or (isinstance(version, FrameworkVersion) and versions != {version.pk}):
        errors["requirements"] = "Draw the checklist from one framework version."
        return []
    return _assessable_under(rows)


def _assessable_under(rows: list[Requirement]) -> list[Requirement]:
    nodes = list(Requirement.objects.filter(version_id=rows[0].version_id).order_by("position"))
    children: dict = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    chosen, stack = {}, list(rows)
    while stack:
        node = stack.pop()
        if node.assessable:
            chosen[node.pk] = node
        stack.extend(children.get(node.pk, []))
    return sorted(chosen.values(), key=lambda r: r.position)


@audit.changes_by_user
@transaction.atomic
def plan_tracer(user, *, title: str, kind: str, topic: str = "", unit, surveyor, planned_on, patient_path: str = "",
                requirements=(), version=None, extra_questions=(), questions: dict | None = None) -> Tracer:
    """A tracer over `unit` with one question per assessable requirement given (rows or URNs of
    `version`; a chapter gives every assessable requirement in it) and the extra questions.
    `questions`: {requirement id: the question to ask instead of `question_for`}. The surveyor and
    the unit's compliance specialists are told."""
    if not isinstance(unit, Unit):
        raise ValidationError({"unit": "Choose the unit the tracer is run in."})
    permissions.check(user, "compliance.plan_tracers", unit)
    errors: dict = {}
    title = _checked_text(errors, "title", title, 200, required="Give the tracer a title.")
    topic = _checked_text(errors, "topic", topic, 200)
    if kind not in TracerKind.values:
        errors["kind"] = f"{kind!r} is not a kind of tracer; choose one of {', '.join(TracerKind.values)}."
    if not unit.active:
        errors["unit"] = f"{unit.name} is no longer active."
    _checked_surveyor(errors, surveyor, unit)
    if not isinstance(planned_on, date):
        errors["planned_on"] = "Give the day the tracer is planned for."
    else:
        try:
            inputs.day(planned_on)
        except inputs.InputError as problem:
            errors["planned_on"] = str(problem)
    patient_path = _checked_path(errors, kind, patient_path)
    chosen = _resolve_requirements(errors, requirements, version)
    extras = _checked_extras(errors, extra_questions)
    prompts = _checked_prompts(errors, questions or {}, chosen)
    if not errors and not chosen and not extras:
        errors["requirements"] = "Choose requirements or a chapter, or write at least one question."
    if errors:
        raise ValidationError(errors)
    tracer = Tracer.objects.create(title=title, kind=kind, topic=topic, unit=unit, surveyor=surveyor,
                                   patient_path=patient_path, planned_on=planned_on, created_by=user)
    position = 0
    for position, requirement in enumerate(chosen, 1):
        TracerItem.objects.create(tracer=tracer, requirement=requirement, position=position,
                                  question=prompts.get(requirement.pk) or question_for(requirement))
    for offset, question in enumerate(extras, position + 1):
        TracerItem.objects.create(tracer=tracer, position=offset, question=question)
    _tell_planned(user, tracer, len(chosen) + len(extras))
    return tracer


def _checked_extras(errors: dict, extra_questions) -> list[str]:
    if isinstance(extra_questions, str):
        extra_questions = extra_questions.splitlines()
    extras = [" ".join(str(q).split()) for q in extra_questions or () if str(q).strip()]
    too_long = [n for n, q in enumerate(extras, 1) if len(q) > QUESTION_MAX]
    if too_long:
        errors["extra_questions"] = (f"Question {too_long[0]} is {len(extras[too_long[0] - 1]):,} characters long; "
                                     f"keep each to {QUESTION_MAX}.")
    return extras


def _checked_prompts(errors: dict, questions: dict, chosen: list[Requirement]) -> dict:
    wanted = {r.pk for r in chosen}
    prompts = {}
    for key, text in questions.items():
        if key not in wanted:
            errors["questions"] = f"Requirement {key} is not on the checklist."
            continue
        text = " ".join(str(text or "").split())
        if len(text) > QUESTION_MAX:
            errors["questions"] = f"A question is {len(text):,} characters long; keep each to {QUESTION_MAX}."
        prompts[key] = text
    return prompts


def _tracer_url(tracer: Tracer, page: str = "compliance:tracer") -> str:
    return reverse(page, args=[tracer.pk])


def _specialists(tracer: Tracer, *leave_out):
    return [p for p in permissions.people_who("compliance.plan_tracers", tracer.unit)
            if p.pk not in {x.pk for x in leave_out}]


def _tell_planned(user, tracer: Tracer, questions: int) -> None:
    when = f"{tracer.planned_on:%Y-%m-%d}"
    if tracer.surveyor_id != user.pk:
        # E-mail only: the surveyor's home page lists "Tracer to survey" until it is completed (tracer_work).
        email([tracer.surveyor], f"You are the surveyor for a tracer on {when}: {tracer.title}",
              body=f"{tracer.get_kind_display()} in {tracer.unit.name}, {questions} questions. "
                   f"Open the checklist on your phone on the day.",
              url=_tracer_url(tracer, "compliance:tracer_checklist"))
    notify(_specialists(tracer, user, tracer.surveyor), f"Tracer planned for {when}: {tracer.title}",
           body=f"{tracer.get_kind_display()} in {tracer.unit.name}; surveyor {_name(tracer.surveyor)}.",
           url=_tracer_url(tracer))


@audit.changes_by_user
@transaction.atomic
def edit_question(user, item: TracerItem, version: int | None, question: str) -> TracerItem:
    """A planner rewords a question before the tracer starts."""
    permissions.check(user, "compliance.plan_tracers", item.tracer)
    concurrency.lock(item, version)
    if item.tracer.status != TracerStatus.PLANNED:
        raise ValidationError({"question": "The tracer has started: its questions stay as they were asked."})
    errors: dict = {}
    question = " ".join(_checked_text(errors, "question", question, QUESTION_MAX,
                                      required="Write the question.").split())
    if errors:
        raise ValidationError(errors)
    item.question = question
    item.save()
    return item


# --- filling ------------------------------------------------------------------------------------

def _still_open(tracer: Tracer, field: str = "tracer") -> None:
    if tracer.status == TracerStatus.COMPLETED:
        raise ValidationError({field: "The tracer is completed; ask its planner to reopen it for corrections."})


def _begin(tracer: Tracer) -> None:
    if tracer.status == TracerStatus.PLANNED:
        tracer.status, tracer.started_at = TracerStatus.IN_PROGRESS, timezone.now()
        tracer.save()


@audit.changes_by_user
@transaction.atomic
def start_tracer(user, tracer: Tracer, version: int | None = None) -> Tracer:
    permissions.check(user, "compliance.fill_tracer", tracer)
    concurrency.lock(tracer, version)
    if tracer.status != TracerStatus.PLANNED:
        raise ValidationError({"status": f"The tracer is {tracer.get_status_display().lower()}, not planned."})
    _begin(tracer)
    return tracer


@audit.changes_by_user
@transaction.atomic
def answer_item(user, item: TracerItem, version: int | None, answer: str, observation: str = "") -> TracerItem:
    """The surveyor's answer to one question (Yes, No, N/A) with what they saw; a "No" needs an
    observation. Answering a planned tracer starts it."""
    tracer = item.tracer
    permissions.check(user, "compliance.fill_tracer", tracer)
    concurrency.lock(tracer)
    _still_open(tracer, "answer")
    concurrency.lock(item, version)
    errors: dict = {}
    if answer not in (Answer.YES, Answer.NO, Answer.NOT_APPLICABLE):
        errors["answer"] = f"{answer!r} is not an answer; choose Yes, No or N/A."
    observation = _checked_text(errors, "observation", observation, TEXT_MAX)
    if answer == Answer.NO and not observation and "observation" not in errors:
        errors["observation"] = "Say what you saw: a “No” needs an observation."
    if errors:
        raise ValidationError(errors)
    item.answer, item.observation, item.answered_at = answer, observation, timezone.now()
    item.save()
    _begin(tracer)
    return item


@audit.changes_by_user
@transaction.atomic
def add_photo(user, item: TracerItem, upload) -> TracerPhoto:
    """A photo for a question: JPEG or PNG by its first bytes, within the size limit, stored
    without its camera metadata (place, device) under a random name."""
    tracer = item.tracer
    permissions.check(user, "compliance.fill_tracer", tracer)
    concurrency.lock(tracer)
    _still_open(tracer, "photo")
    if shown_photos(item).count() >= PHOTOS_PER_ITEM:
        raise ValidationError({"photo": f"A question takes at most {PHOTOS_PER_ITEM} photos."})
    checked = uploads.check_upload(upload, uploads.PHOTOS, field="photo")
    photo = TracerPhoto(item=item, name=checked.name, content_type=checked.content_type, size=checked.size,
                        uploaded_by=user)
    photo.file.save("upload", checked.as_file(), save=False)
    photo.save()
    _begin(tracer)
    return photo


@audit.changes_by_user
@transaction.atomic
def remove_photo(user, photo: TracerPhoto) -> TracerPhoto:
    """Take a photo off its question (the wrong one, or one showing more than it should) while the
    tracer is open: whoever may fill the tracer, as for adding one. The photo is kept, row and file,
    and shown to nobody again; the audit trail names who removed it and when."""
    tracer = photo.item.tracer
    permissions.check(user, "compliance.fill_tracer", tracer)
    concurrency.lock(tracer)
    _still_open(tracer, "photo")
    concurrency.lock(photo)  # read again under the lock: two taps remove it once
    if photo.removed_at is not None:
        raise ValidationError({"photo": f"{photo.name} was already removed."})
    photo.removed_at, photo.removed_by = timezone.now(), user
    photo.save(update_fields=["removed_at", "removed_by"])
    return photo


@transaction.atomic
def raise_tracer_finding(user, item: TracerItem, title: str, risk: str, description: str = ""):
    """A finding from a question answered "No", against its requirement in the tracer's unit; it
    stays open until closed and opens actions in the shared tracker (findings.py)."""
    tracer = item.tracer
    permissions.check(user, "compliance.fill_tracer", tracer)
    concurrency.lock(tracer)
    item.refresh_from_db()
    _still_open(tracer, "finding")
    if item.requirement_id is None:
        raise ValidationError({"finding": "This question is not drawn from a requirement, so a finding cannot be "
                                          "raised against it: write it in the observation and the summary."})
    if item.answer != Answer.NO:
        raise ValidationError({"finding": "Answer “No” (with what you saw) before raising a finding."})
    if risk not in FindingRisk.values:
        raise ValidationError({"risk": f"{risk!r} is not a risk rating; choose one of {', '.join(FindingRisk.values)}."})
    return findings.raise_finding(user, requirement=item.requirement, unit=tracer.unit, title=title, risk=risk,
                                  description=description or item.observation, tracer=tracer)


@audit.changes_by_user
@transaction.atomic
def complete_tracer(user, tracer: Tracer, summary: str, version: int | None = None) -> Tracer:
    """Every question answered: the tracer is completed with the surveyor's summary and the
    unit's compliance specialists are told. Unanswered questions are named in the refusal."""
    permissions.check(user, "compliance.fill_tracer", tracer)
    concurrency.lock(tracer, version)
    _still_open(tracer, "status")
    errors: dict = {}
    summary = _checked_text(errors, "summary", summary, TEXT_MAX,
                            required="Sum up what the tracer found, for the unit and the quality department.")
    unanswered = list(tracer.items.filter(answer=Answer.UNANSWERED).order_by("position", "pk"))
    if unanswered:
        named = "; ".join(f"{item.position}. {item}" for item in unanswered[:10])
        more = f" and {len(unanswered) - 10} more" if len(unanswered) > 10 else ""
        errors["items"] = f"{len(unanswered)} question{'s are' if len(unanswered) != 1 else ' is'} not answered: {named}{more}."
    if errors:
        raise ValidationError(errors)
    tracer.status, tracer.summary, tracer.completed_at = TracerStatus.COMPLETED, summary, timezone.now()
    tracer.started_at = tracer.started_at or tracer.completed_at
    tracer.save()
    progress = tracer_progress(tracer)
    notify(_specialists(tracer, user), f"Tracer completed: {tracer.title}",
           body=f"{tracer.unit.name}: {progress.yes} yes, {progress.no} no, {progress.not_applicable} N/A; "
                f"{tracer.findings.count()} findings.", url=_tracer_url(tracer))
    return tracer


@audit.changes_by_user
@transaction.atomic
def reopen_tracer(user, tracer: Tracer, reason: str, version: int | None = None) -> Tracer:
    """A planner reopens a completed tracer for corrections; the surveyor is told why."""
    permissions.check(user, "compliance.plan_tracers", tracer)
    concurrency.lock(tracer, version)
    if tracer.status != TracerStatus.COMPLETED:
        raise ValidationError({"status": "Only a completed tracer is reopened."})
    errors: dict = {}
    reason = _checked_text(errors, "reason", reason, 2000, required="Say what needs correcting.")
    if errors:
        raise ValidationError(errors)
    tracer.status, tracer.completed_at = TracerStatus.IN_PROGRESS, None
    tracer.save()
    if tracer.surveyor_id != user.pk:
        notify([tracer.surveyor], f"Tracer reopened for corrections: {tracer.title}", body=reason,
               url=_tracer_url(tracer, "compliance:tracer_checklist"))
    return tracer


def tracer_work(user) -> list:
    """The surveyor's lines on the home page: each tracer still to fill, the soonest first."""
    from andon.platform.services import WorkItem

    from .rules import surveys_tracers

    if not surveys_tracers(user):  # the menu reads that fact anyway
        return []
    today = timezone.localdate()
    lines = []
    for tracer in tracers_to_survey(user)[:20]:
        url = _tracer_url(tracer, "compliance:tracer_checklist")
        late = tracer.planned_on is not None and tracer.planned_on < today
        lines.append(WorkItem(f"Tracer to survey{f' on {tracer.planned_on:%Y-%m-%d}' if tracer.planned_on else ''}: "
                              f"{tracer.title}", url, "alert" if late else "due",
                              f"{tracer.get_kind_display()}, {tracer.unit.name} · {tracer.get_status_display()}"))
    return lines


# --- registries ---------------------------------------------------------------------------------

def connect() -> None:
    """Registries of this subject (audit, history, navigation, work, demo), from ready()."""
    from andon.platform import demo, history, navigation
    from andon.platform import services as platform

    from . import demo_tracers

    # The version counts changes (optimistic concurrency); the trail has the changes themselves.
    audit.register(Tracer, exclude_fields=["version"])
    audit.register(TracerItem, exclude_fields=["version"])
    audit.register(TracerPhoto)
    history.register(Tracer, labels={"patient_path": "Path followed", "planned_on": "Planned for"})
    history.register(TracerItem, labels={"answered_at": "Answered at"})
    navigation.add(navigation.NavEntry("Tracers", "compliance:tracers", "compliance.use_tracers", "signpost-split"))
    platform.register_work_provider(tracer_work)
    demo.register_demo_loader(demo_tracers.load_demo_tracers)
