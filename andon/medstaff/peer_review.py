"""Peer review: cases referred from a safety event, from trigger rules over the clinical data or by
hand; reviewers without a conflict of interest; a structured review on a configurable scale; the
committee's decision and the feedback letter. Confidential: docs/medstaff.md.

Peer review records are protected by the state peer-review statutes, apart from patient safety
work product and from HR (DOMAIN.md §9, §10): a case is read by the peer review committee, the
medical staff office and its assigned reviewers (rules.py), every read is audited, and what the
review says is masked in the audit trail. The safety event a case came from learns only that a
case was referred and when (`peer_review_referrals`)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from andon.platform import audit, concurrency, demo, navigation, notifications, permissions, services as platform
from andon.platform.models import Sequence

from .models import (
    PeerReview, PeerReviewAssignment, PeerReviewCase, PeerReviewSource, PeerReviewStatus, Practitioner,
    PractitionerStatus, ScaleKind, ScaleLevel,
)

__all__ = [
    "DEFAULT_SCALE", "access_case", "aggregates", "assign_reviewers", "conflict_of", "decide_case", "declare_conflict",
    "feedback_letter_pdf", "levels_of", "peer_review_referrals", "practitioners_to_refer", "refer_by_hand",
    "refer_case", "refer_from_event", "reviewers_offered", "save_level", "submit_review", "visible_cases",
]

SUMMARY_LIMIT = 4000
NARRATIVE_LIMIT = 8000
NOTE_LIMIT = 2000
# DOMAIN.md §10: "would most experienced, competent peers have handled the case the same way";
# the system's contribution is scored on levels of its own. The office edits both (⚠︎).
DEFAULT_SCALE = {
    ScaleKind.CARE: [
        ("1", "Most experienced, competent peers would have handled the case the same way"),
        ("2", "Most peers would have handled it the same way in most respects, with minor differences"),
        ("3", "Most peers would have handled the case differently"),
    ],
    ScaleKind.SYSTEM: [
        ("none", "No system issue contributed"),
        ("minor", "A system issue contributed in a minor way"),
        ("major", "A system issue contributed significantly"),
    ],
}


# --- the scale ------------------------------------------------------------------------------------

def ensure_scale(organisation) -> None:
    """The default levels for an organisation that has none of a kind yet."""
    for kind, levels in DEFAULT_SCALE.items():
        if not ScaleLevel.objects.filter(organisation=organisation, kind=kind).exists():
            ScaleLevel.objects.bulk_create([
                ScaleLevel(organisation=organisation, kind=kind, code=code, label=label, position=position)
                for position, (code, label) in enumerate(levels, start=1)])


def levels_of(organisation, kind: str, *, active_only: bool = True) -> list[ScaleLevel]:
    ensure_scale(organisation)
    found = ScaleLevel.objects.filter(organisation=organisation, kind=kind)
    return list(found.filter(active=True) if active_only else found)


@audit.changes_by_user
def save_level(user, organisation, *, kind: str, code: str, label: str, description: str = "", position: int = 0,
               active: bool = True) -> ScaleLevel:
    """Add a level to the scale or change one (found by its kind and code). A level decided cases
    used is kept: retire it (active false) rather than lose what old decisions meant."""
    permissions.check(user, "medstaff.configure_peer_review", organisation)
    code, label = (code or "").strip(), (label or "").strip()
    errors = {}
    if kind not in ScaleKind.values:
        errors["kind"] = f"{kind!r} is not one of {', '.join(ScaleKind.values)}"
    if not code or len(code) > 20:
        errors["code"] = "write the level's code (at most 20 characters), such as 1, 2 or 3"
    if not label or len(label) > 200:
        errors["label"] = "write what the level means (at most 200 characters)"
    if len(description or "") > 2000:
        errors["description"] = "keep the description within 2000 characters"
    if not 0 <= int(position) <= 999:
        errors["position"] = "the position is from 0 to 999"
    if errors:
        raise ValidationError(errors)
    ensure_scale(organisation)
    with transaction.atomic():
        level, _ = ScaleLevel.objects.update_or_create(
            organisation=organisation, kind=kind, code=code,
            defaults={"label": label, "description": description or "", "position": position, "active": active})
    return level


def _level(organisation, kind: str, code: str, field: str) -> ScaleLevel:
    levels = levels_of(organisation, kind)
    for level in levels:
        if level.code == code:
            return level
    raise ValidationError({field: f"{code!r} is not a level of the scale ({', '.join(lv.code for lv in levels)})"})


# --- reading --------------------------------------------------------------------------------------

def _cases():
    return PeerReviewCase.objects.select_related("practitioner__department__facility", "referred_by")


def access_case(user, case_id, capability: str = "medstaff.view_peer_case", *, reason: str = "reading the case"):
    """The case, if the user may `capability` it, its reading recorded in the audit trail:
    Http404 when there is none, PermissionDenied when they may not."""
    case = permissions.fetch_checked(user, capability, _cases(), pk=case_id)
    audit.record_read(case, actor=user, reason=reason)
    return case


def visible_cases(user):
    """The cases the user may read: every case of the departments where they read peer review,
    and those they are assigned to review."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return PeerReviewCase.objects.none()
    departments = permissions.units_where(user, "medstaff.view_peer_review")
    assigned = PeerReviewAssignment.objects.filter(reviewer=user, conflict_declared_at__isnull=True)
    return _cases().filter(Q(practitioner__department__in=departments) | Q(pk__in=assigned.values("case_id")))


def peer_review_referrals(event) -> list[tuple[str, date]]:
    """What a safety event may show of peer review: that a case was referred from it, its reference
    and the day; nothing of the case (not the practitioner, not the summary, not the outcome)."""
    return [(reference, timezone.localtime(at).date()) for reference, at in PeerReviewCase.objects.filter(
        safety_event=event).order_by("referred_at", "pk").values_list("reference", "referred_at")]


def aggregates(user) -> list[dict]:
    """Counts of cases by department and outcome over the departments where the user may read the
    aggregates: no names, no case. [{"department", "outcome", "cases"}]."""
    units = permissions.units_where(user, "medstaff.view_peer_review_aggregates")
    rows = (PeerReviewCase.objects.filter(practitioner__department__in=units)
            .values("practitioner__department__name", "outcome", "status")
            .annotate(cases=Count("pk")).order_by("practitioner__department__name", "outcome", "status"))
    return [{"department": row["practitioner__department__name"], "outcome": row["outcome"] or "not decided",
             "status": PeerReviewStatus(row["status"]).label, "cases": row["cases"]} for row in rows]


# --- referral -------------------------------------------------------------------------------------

def practitioners_to_refer(organisation):
    """The practitioners a case may be about: the organisation's, not inactive."""
    return Practitioner.objects.filter(organisation=organisation).exclude(status=PractitionerStatus.INACTIVE)


def _clean_summary(summary: str) -> str:
    summary = (summary or "").strip()
    if not summary:
        raise ValidationError({"summary": "write why the case is referred: the facts, not a judgement"})
    if len(summary) > SUMMARY_LIMIT:
        raise ValidationError({"summary": f"keep the summary within {SUMMARY_LIMIT} characters"})
    return summary


def refer_case(user, *, practitioner: Practitioner, source: str, summary: str, safety_event=None,
               trigger_rule: str = "", encounter_id: str = "", patient_id: str = "",
               occurred_on: date | None = None) -> PeerReviewCase:
    """A new case PR-<year>-NNN, and the people who assign reviewers told of it (not what it
    holds). The caller has checked who may refer; this is the one place a case is made."""
    summary = _clean_summary(summary)
    if not isinstance(practitioner, Practitioner):
        raise ValidationError({"practitioner": "choose the practitioner whose care is to be reviewed"})
    for field, value in (("encounter_id", encounter_id), ("patient_id", patient_id)):
        if len(value or "") > 64:
            raise ValidationError({field: "an id of at most 64 characters"})
    today = timezone.localdate()
    if occurred_on is not None and occurred_on > today:
        raise ValidationError({"occurred_on": f"{occurred_on} is in the future"})
    with transaction.atomic():
        number = Sequence.next(f"PR-{today.year}")
        case = PeerReviewCase.objects.create(
            reference=f"PR-{today.year}-{number:03d}", practitioner=practitioner, source=source,
            safety_event=safety_event, trigger_rule=trigger_rule, encounter_id=(encounter_id or "").strip(),
            patient_id=(patient_id or "").strip(), occurred_on=occurred_on, summary=summary, referred_by=user)
        office = permissions.people_who("medstaff.assign_peer_review", practitioner.department)
        notifications.notify(office, f"Peer review case referred: {case.reference}",
                             url=reverse("medstaff:peer_review_case", args=[case.pk]), email=False)
    return case


@audit.changes_by_user
def refer_from_event(user, event, *, practitioner: Practitioner, summary: str) -> PeerReviewCase:
    """Refer the care of a practitioner in a safety event, by someone who may read the event."""
    permissions.check(user, "medstaff.refer_peer_review", event)
    permissions.check(user, "safety.view_event", event)
    organisation = event.unit.facility.organisation
    if not isinstance(practitioner, Practitioner) or practitioner.organisation_id != organisation.pk:
        raise ValidationError({"practitioner": "choose a practitioner of the event's organisation"})
    return refer_case(user, practitioner=practitioner, source=PeerReviewSource.SAFETY_EVENT, summary=summary,
                      safety_event=event, encounter_id=event.encounter_fhir_id, patient_id=event.patient_fhir_id,
                      occurred_on=timezone.localtime(event.occurred_at).date())


@audit.changes_by_user
def refer_by_hand(user, *, practitioner: Practitioner, summary: str, encounter_id: str = "", patient_id: str = "",
                  occurred_on: date | None = None) -> PeerReviewCase:
    if not isinstance(practitioner, Practitioner):
        raise ValidationError({"practitioner": "choose the practitioner whose care is to be reviewed"})
    permissions.check(user, "medstaff.refer_peer_review", practitioner)
    return refer_case(user, practitioner=practitioner, source=PeerReviewSource.MANUAL, summary=summary,
                      encounter_id=encounter_id, patient_id=patient_id, occurred_on=occurred_on)


# --- assignment -----------------------------------------------------------------------------------

def conflict_of(case: PeerReviewCase, reviewer) -> str:
    """Why the reviewer may not review the case ("" when they may): the practitioner under review
    themself, a practitioner of the same practice group, or the person who referred the case
    (who has formed a view of it already: docs/medstaff.md)."""
    practitioner = case.practitioner
    if practitioner.user_id and practitioner.user_id == reviewer.pk:
        return f"{reviewer} is the practitioner under review"
    own = Practitioner.objects.filter(user=reviewer).first()
    if own is not None and practitioner.group and own.group == practitioner.group:
        return f"{reviewer} is of the same group as the practitioner under review ({practitioner.group})"
    if case.referred_by_id == reviewer.pk:
        return f"{reviewer} referred the case"
    if case.assignments.filter(reviewer=reviewer, conflict_declared_at__isnull=False).exists():
        return f"{reviewer} declared a conflict of interest with this case"
    return ""


def reviewers_offered(case: PeerReviewCase):
    """The people who may be assigned: peer reviewers of the practitioner's department without a
    conflict of interest, not assigned yet."""
    people = permissions.people_who("medstaff.be_peer_reviewer", case.practitioner.department).exclude(
        pk__in=case.assignments.values("reviewer_id")).order_by("last_name", "first_name", "username")
    return [person for person in people if not conflict_of(case, person)]


@audit.changes_by_user
def assign_reviewers(user, case: PeerReviewCase, reviewers, version: int | None = None) -> list[PeerReviewAssignment]:
    """Assign reviewers to a case; a conflict of interest, or someone who is not a peer reviewer
    of the department, is refused by name and nothing changes."""
    permissions.check(user, "medstaff.assign_peer_review", case)
    reviewers = list(reviewers)
    if not reviewers:
        raise ValidationError({"reviewers": "choose at least one reviewer"})
    if case.status == PeerReviewStatus.DECIDED or case.status == PeerReviewStatus.CLOSED:
        raise ValidationError({"reviewers": f"{case.reference} is decided already"})
    problems = []
    for reviewer in reviewers:
        if not permissions.can(reviewer, "medstaff.be_peer_reviewer", case):
            problems.append(f"{reviewer} is not a peer reviewer of {case.practitioner.department}")
        elif why := conflict_of(case, reviewer):
            problems.append(f"conflict of interest: {why}")
        elif case.assignments.filter(reviewer=reviewer).exists():
            problems.append(f"{reviewer} is assigned already")
    if problems:
        raise ValidationError({"reviewers": problems})
    with transaction.atomic():
        case = concurrency.lock(case, version)
        made = [PeerReviewAssignment.objects.create(case=case, reviewer=reviewer, assigned_by=user)
                for reviewer in reviewers]
        if case.status == PeerReviewStatus.REFERRED:
            case.status = PeerReviewStatus.ASSIGNED
            case.save(update_fields=["status", "version"])
        notifications.notify(reviewers, f"Peer review case to review: {case.reference}",
                             url=reverse("medstaff:peer_review_case", args=[case.pk]))
    return made


def _assignment_of(user, case) -> PeerReviewAssignment:
    found = case.assignments.filter(reviewer=user, conflict_declared_at__isnull=True).first()
    if found is None:
        raise permissions.Refused("medstaff.review_peer_case")
    return found


@audit.changes_by_user
def declare_conflict(user, case: PeerReviewCase, note: str) -> PeerReviewAssignment:
    """The reviewer withdraws from the case: a conflict of interest, in their words (kept for the
    office, masked in the trail). A review already submitted is withdrawn with them."""
    permissions.check(user, "medstaff.review_peer_case", case)
    note = (note or "").strip()
    if not note or len(note) > NOTE_LIMIT:
        raise ValidationError({"note": f"say what the conflict is (at most {NOTE_LIMIT} characters)"})
    with transaction.atomic():
        assignment = _assignment_of(user, case)
        if case.status in (PeerReviewStatus.DECIDED, PeerReviewStatus.CLOSED):
            raise ValidationError({"note": f"{case.reference} is decided already"})
        PeerReview.objects.filter(assignment=assignment).delete()
        assignment.conflict_declared_at, assignment.conflict_note = timezone.now(), note
        assignment.save(update_fields=["conflict_declared_at", "conflict_note"])
        office = permissions.people_who("medstaff.assign_peer_review", case.practitioner.department)
        notifications.notify(office, f"A reviewer declared a conflict of interest: {case.reference}",
                             url=reverse("medstaff:peer_review_case", args=[case.pk]), email=False)
    return assignment


# --- the review and the decision ------------------------------------------------------------------

def _yes_no_note(errors: dict, issue: bool, note: str, field: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_LIMIT:
        errors[field] = f"keep the note within {NOTE_LIMIT} characters"
    elif issue and not note:
        errors[field] = "say what the issue was"
    return note


@audit.changes_by_user
def submit_review(user, case: PeerReviewCase, *, care_level: str, system_level: str, narrative: str,
                  documentation_issue: bool = False, documentation_note: str = "", communication_issue: bool = False,
                  communication_note: str = "") -> PeerReview:
    """The assigned reviewer's structured review (again: it replaces theirs until the decision)."""
    permissions.check(user, "medstaff.review_peer_case", case)
    organisation = case.practitioner.organisation
    errors = {}
    for field, kind, code in (("care_level", ScaleKind.CARE, care_level), ("system_level", ScaleKind.SYSTEM,
                                                                             system_level)):
        try:
            _level(organisation, kind, code, field)
        except ValidationError as error:
            errors.update(error.message_dict)
    documentation_note = _yes_no_note(errors, documentation_issue, documentation_note, "documentation_note")
    communication_note = _yes_no_note(errors, communication_issue, communication_note, "communication_note")
    narrative = (narrative or "").strip()
    if not narrative or len(narrative) > NARRATIVE_LIMIT:
        errors["narrative"] = f"write the review's narrative (at most {NARRATIVE_LIMIT} characters)"
    if case.status in (PeerReviewStatus.DECIDED, PeerReviewStatus.CLOSED):
        errors["care_level"] = f"{case.reference} is decided already"
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        assignment = _assignment_of(user, case)
        review, _ = PeerReview.objects.update_or_create(assignment=assignment, defaults=dict(
            care_level=care_level, system_level=system_level, narrative=narrative,
            documentation_issue=bool(documentation_issue), documentation_note=documentation_note,
            communication_issue=bool(communication_issue), communication_note=communication_note,
            submitted_at=timezone.now()))
        if case.status == PeerReviewStatus.ASSIGNED:
            PeerReviewCase.objects.filter(pk=case.pk).update(status=PeerReviewStatus.REVIEWED)
            case.status = PeerReviewStatus.REVIEWED
        office = permissions.people_who("medstaff.decide_peer_review", case.practitioner.department)
        notifications.notify(office, f"Peer review submitted: {case.reference}",
                             url=reverse("medstaff:peer_review_case", args=[case.pk]), email=False)
    return review


def reviews_of(case: PeerReviewCase) -> list[PeerReview]:
    return list(PeerReview.objects.filter(assignment__case=case).select_related("assignment__reviewer"))


@audit.changes_by_user
def decide_case(user, case: PeerReviewCase, *, outcome: str, system_level: str, committee_note: str,
                system_action: dict | None = None, start_fppe: bool = False, version: int | None = None):
    """The committee's decision: the final level of the practitioner's care (the case's outcome),
    the system's, its words to the practitioner; system issues to the shared action tracker and an
    FPPE when asked; the practitioner told (their letter, without reviewers' names)."""
    permissions.check(user, "medstaff.decide_peer_review", case)
    organisation = case.practitioner.organisation
    errors = {}
    for field, kind, code in (("outcome", ScaleKind.CARE, outcome), ("system_level", ScaleKind.SYSTEM, system_level)):
        try:
            _level(organisation, kind, code, field)
        except ValidationError as error:
            errors.update(error.message_dict)
    committee_note = (committee_note or "").strip()
    if not committee_note or len(committee_note) > SUMMARY_LIMIT:
        errors["committee_note"] = f"write the committee's words to the practitioner (at most {SUMMARY_LIMIT})"
    if case.status in (PeerReviewStatus.DECIDED, PeerReviewStatus.CLOSED):
        errors["outcome"] = f"{case.reference} is decided already"
    elif not PeerReview.objects.filter(assignment__case=case).exists():
        errors["outcome"] = f"{case.reference} has no review yet: a reviewer reviews it first"
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    with transaction.atomic():
        case = concurrency.lock(case, version)
        case.outcome, case.system_level, case.committee_note = outcome, system_level, committee_note
        case.decided_on, case.status, case.letter_sent_on = today, PeerReviewStatus.DECIDED, today
        if system_action:
            case.action_id = _system_action(user, case, system_action).pk
        if start_fppe:
            from .fppe import start_fppe as begin

            fppe = begin(user, case.practitioner, trigger="peer_review", source_reference=case.reference,
                         reason=f"Asked by the peer review committee on deciding {case.reference}", check=False)
            case.fppe_reference = fppe.reference
        case.save()
        if case.practitioner.user_id:
            notifications.notify([case.practitioner.user], f"Peer review feedback: {case.reference}",
                                 body="The peer review committee has decided; its letter is ready for you.",
                                 url=reverse("medstaff:peer_review_letter", args=[case.pk]))
    return case


def _system_action(user, case, wanted: dict):
    """The system issues as an action of the shared tracker, in the words the committee chose for
    it (the action's readers are not peer review's: the source is named by reference only)."""
    from andon.actions import services as actions

    if not permissions.can(user, "actions.manage", case.practitioner.department):
        raise ValidationError({"system_action": "you may not create actions for "
                                                f"{case.practitioner.department}: ask its quality lead"})
    return actions.create_action(
        user, source_label=f"Peer review {case.reference} (system issues)", unit=case.practitioner.department,
        owner=wanted["owner"], title=wanted["title"], description=wanted.get("description", ""),
        due_date=wanted["due_date"], strength=wanted.get("strength", "intermediate"),
        measure=wanted.get("measure", "") or "Recurrence reviewed at the next peer review committee")


def letter_context(case: PeerReviewCase) -> dict:
    """What the feedback letter says: the outcome in the scale's words and the committee's; no
    reviewer is named."""
    organisation = case.practitioner.organisation
    labels = {level.code: level.label for level in levels_of(organisation, ScaleKind.CARE, active_only=False)}
    system = {level.code: level.label for level in levels_of(organisation, ScaleKind.SYSTEM, active_only=False)}
    return {"case": case, "practitioner": case.practitioner, "organisation": organisation,
            "outcome_label": labels.get(case.outcome, case.outcome),
            "system_label": system.get(case.system_level, case.system_level)}


def feedback_letter_pdf(case: PeerReviewCase) -> bytes:
    from andon.platform import pdf

    if case.status not in (PeerReviewStatus.DECIDED, PeerReviewStatus.CLOSED):
        raise ValidationError({"case": f"{case.reference} is not decided yet"})
    return pdf.render_template_pdf("medstaff/peer_review_letter_pdf.html", letter_context(case))


# --- the home page and the registries -------------------------------------------------------------

def peer_review_work(user) -> list:
    """Cases to review (the reviewer's) and to assign (the office's and committee's). Asked only
    of those whose roles may hold such work, so other people's home pages cost no query."""
    work = []
    if permissions.can(user, "medstaff.be_peer_reviewer"):  # assignment asks for it
        for assignment in PeerReviewAssignment.objects.filter(
                reviewer=user, conflict_declared_at__isnull=True, review__isnull=True,
                case__status__in=[PeerReviewStatus.ASSIGNED, PeerReviewStatus.REVIEWED]).select_related("case"):
            work.append(platform.WorkItem(f"Review {assignment.case.reference}", reverse(
                "medstaff:peer_review_case", args=[assignment.case_id]), "review", "Peer review"))
    if permissions.can(user, "medstaff.assign_peer_review"):
        units = permissions.units_where(user, "medstaff.assign_peer_review")
        for case in PeerReviewCase.objects.filter(status=PeerReviewStatus.REFERRED,
                                                  practitioner__department__in=units)[:20]:
            work.append(platform.WorkItem(f"Assign reviewers to {case.reference}", reverse(
                "medstaff:peer_review_case", args=[case.pk]), "due", "Peer review"))
    return work


def connect() -> None:
    """Registries of peer review (audit, navigation, work, content, sweep, demo), from ready()."""
    from . import demo_peer_review, triggers

    # The case is confidential: the trail records that its words changed, never what they say.
    audit.register(PeerReviewCase, exclude_fields=["version"], mask_fields=["summary", "committee_note"])
    audit.register(PeerReviewAssignment, mask_fields=["conflict_note"])
    audit.register(PeerReview, mask_fields=["narrative", "documentation_note", "communication_note"])
    audit.register(ScaleLevel)
    navigation.add(navigation.NavEntry("Peer review", "medstaff:peer_review_list", "medstaff.use_peer_review",
                                       "clipboard2-pulse"))
    navigation.add(navigation.NavEntry("Refer to peer review", "medstaff:peer_review_refer",
                                       "medstaff.refer_peer_review", "send"))
    navigation.add(navigation.NavEntry("Peer review counts", "medstaff:peer_review_counts",
                                       "medstaff.view_peer_review_aggregates", "bar-chart"))
    platform.register_work_provider(peer_review_work)
    triggers.connect()
    demo.register_demo_loader(demo_peer_review.load)
