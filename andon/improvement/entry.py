"""Clinical audits: the auditors' answers (met, not met, not applicable per active criterion of each
case, with a note), entered one case at a time on a phone, and the agreement between the first
and second auditor over the double-audited cases (Cohen's kappa per criterion and overall).

The second round is blind: its auditor is never shown the first answers (nor may answer the
first round of a case they audit second). Saving a case again is an edit of its answers (the
audit trail keeps what changed), never a second row. (Pages in views/audit_entry.py.)"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from andon.analytics import stats
from andon.platform import audit, concurrency, permissions

from .models import Answer, Audit, AuditCase, AuditRound, AuditStage, CaseAnswer, Criterion

__all__ = [
    "Agreement", "CaseToDo", "agreement", "answers_of", "audit_work", "cases_to_do", "record_answers",
]

NOTE_MAX = 1000


# --- what an auditor has to do ------------------------------------------------------------------

@dataclass(frozen=True)
class CaseToDo:
    case: AuditCase
    round: str
    done: bool


def _active_criteria(found: Audit) -> list[Criterion]:
    return list(found.tool.criteria.filter(active=True).order_by("number"))


def cases_to_do(user, found: Audit) -> list[CaseToDo]:
    """The user's cases of the audit (first round: those given to them; second round: those they
    audit again), in order, each with whether every active criterion is answered. Cases name
    patients: the reading is recorded."""
    permissions.check(user, "improvement.answer_audit", found)
    criteria = len(_active_criteria(found))
    audit.record_read(found, actor=user, reason=f"{found.reference} cases to audit")
    mine = (found.cases.filter(Q(auditor=user) | Q(second_auditor=user)).order_by("position")
            .annotate(first=Count("answers", filter=Q(answers__round=AuditRound.FIRST, answers__criterion__active=True)),
                      second=Count("answers", filter=Q(answers__round=AuditRound.SECOND,
                                                       answers__criterion__active=True))))
    found_cases = []
    for case in mine:
        if case.auditor_id == user.pk:
            found_cases.append(CaseToDo(case, AuditRound.FIRST, case.first >= criteria))
        if case.second_auditor_id == user.pk:
            found_cases.append(CaseToDo(case, AuditRound.SECOND, case.second >= criteria))
    return found_cases


def _check_round(user, found: Audit, case: AuditCase, round_: str, field_name: str = "round") -> None:
    """Who answers which round: the second auditor alone the second round; anyone named on the
    audit the first round, except the case's second auditor (who must stay blind to it)."""
    if round_ not in AuditRound.values:
        raise ValidationError({field_name: f"{round_!r} is not a round; choose first or second."})
    if round_ == AuditRound.SECOND and case.second_auditor_id != user.pk:
        raise PermissionDenied(f"Case {case.position} is audited a second time by its second auditor only.")
    if round_ == AuditRound.FIRST and case.second_auditor_id == user.pk:
        raise PermissionDenied(f"You audit case {case.position} a second time: its first answers stay hidden "
                               "from you (the second round is blind).")


def answers_of(user, found: Audit, case: AuditCase, round_: str) -> dict[int, CaseAnswer]:
    """{criterion id: answer} of one round of a case, for whoever may answer that round, or for
    the audit's runner (lead) who reads both once entered. The second auditor never reads the first."""
    if case.audit_id != found.pk:
        raise ValidationError({"case": f"Case {case.case_ref} is not in {found.reference}."})
    if not permissions.can(user, "improvement.run_audit", found) or case.second_auditor_id == user.pk:
        permissions.check(user, "improvement.answer_audit", found)
        _check_round(user, found, case, round_)
    return {a.criterion_id: a for a in case.answers.filter(round=round_).select_related("auditor")}


# --- recording answers --------------------------------------------------------------------------

def _checked_answers(found: Audit, answers, criteria: list[Criterion]) -> tuple[dict, dict]:
    """{criterion id: (answer, note)} from [{"criterion": id, "answer": "met", "note": ""}, …], and
    the errors by field: unknown criteria, another tool's, retired ones, repeated ones, unknown
    answers, notes too long, active criteria left unanswered."""
    errors: dict[str, list[str]] = {}
    active = {c.pk: c for c in criteria}
    given: dict[int, tuple[str, str]] = {}
    for entry in answers or ():
        key = entry.get("criterion") if isinstance(entry, dict) else None
        pk = key if isinstance(key, int) and not isinstance(key, bool) else None
        if pk is None or pk not in active:
            errors.setdefault("answers", []).append(_unknown_criterion(found, key, pk))
            continue
        number = active[pk].number
        if pk in given:
            errors.setdefault("answers", []).append(f"Criterion {number} is answered twice in this save.")
            continue
        value, note = entry.get("answer"), entry.get("note") or ""
        if value not in Answer.values:
            errors.setdefault(f"criterion_{pk}", []).append(
                f"{value!r} is not an answer to criterion {number}; choose met, not_met or na.")
        if not isinstance(note, str) or len(note) > NOTE_MAX:
            errors.setdefault(f"note_{pk}", []).append(f"The note on criterion {number} is text of at most {NOTE_MAX} characters.")
            note = ""
        given[pk] = (value, " ".join(note.split()))
    missing = [c.number for c in criteria if c.pk not in given]
    if missing and not errors:
        errors["answers"] = [f"Answer every criterion: {', '.join(map(str, missing))} "
                             f"{'is' if len(missing) == 1 else 'are'} not answered."]
    return given, errors


def _unknown_criterion(found: Audit, key, pk) -> str:
    if pk is None:
        return f"{key!r} is not a criterion id."
    other = Criterion.objects.filter(pk=pk).select_related("tool").first()
    if other is None:
        return f"There is no criterion {pk}."
    if other.tool_id != found.tool_id:
        return (f"Criterion {pk} belongs to {other.tool.reference} {other.tool.title}, not to this audit's tool "
                f"{found.tool.reference}.")
    return f"Criterion {other.number} is retired: it is no longer asked."


@audit.changes_by_user
@transaction.atomic
def record_answers(user, found: Audit, case: AuditCase, answers, round_: str = AuditRound.FIRST) -> list[CaseAnswer]:
    """One case's answers for one round, every active criterion at once, in one transaction,
    during collection; a second save of the same case and round edits its answers."""
    permissions.check(user, "improvement.answer_audit", found)
    concurrency.lock(found)  # the stage is read under the lock: no answer slips past its end
    if found.stage != AuditStage.COLLECT:
        raise ValidationError({"stage": f"Answers are entered while {found.reference} collects; it is at the "
                                        f"{found.get_stage_display().lower()} stage."})
    if not isinstance(case, AuditCase) or case.audit_id != found.pk:
        raise ValidationError({"case": f"Case {getattr(case, 'case_ref', case)} is not in {found.reference}."})
    _check_round(user, found, case, round_)
    given, errors = _checked_answers(found, answers, _active_criteria(found))
    if errors:
        raise ValidationError(errors)
    existing = {a.criterion_id: a for a in case.answers.filter(round=round_)}
    saved, now = [], timezone.now()
    for pk, (value, note) in given.items():
        row = existing.get(pk)
        if row is None:
            row = CaseAnswer.objects.create(case=case, criterion_id=pk, round=round_, answer=value, note=note,
                                            auditor=user, answered_at=now)
        elif (row.answer, row.note) != (value, note):  # an edit: the trail keeps the old answer
            row.answer, row.note, row.auditor, row.answered_at = value, note, user, now
            row.save()
        saved.append(row)
    return saved


# --- agreement ----------------------------------------------------------------------------------

@dataclass
class CriterionAgreement:
    criterion: Criterion
    result: stats.Agreement | None  # None: no case answered in both rounds yet


@dataclass
class Agreement:
    """Cohen's kappa over the double-audited cases: per criterion, overall (every case and
    criterion pair), the cases compared, and (for the audit's runner) where the auditors differ."""

    cases: int
    per_criterion: list[CriterionAgreement]
    overall: stats.Agreement | None
    disagreements: list[dict] = field(default_factory=list)


def agreement(user, found: Audit) -> Agreement:
    """The agreement between the two rounds; the disagreements (which show both answers) only to
    those who run the audit."""
    permissions.check(user, "improvement.view_audit", found)
    rows = (CaseAnswer.objects.filter(case__audit=found, case__second_auditor__isnull=False)
            .select_related("criterion", "case").order_by("case__position", "criterion__number"))
    rounds: dict[tuple[int, int], dict[str, CaseAnswer]] = {}
    for row in rows:
        rounds.setdefault((row.case_id, row.criterion_id), {})[row.round] = row
    pairs = {key: found_rounds for key, found_rounds in rounds.items() if len(found_rounds) == 2}
    criteria = list(found.tool.criteria.order_by("number"))
    per = []
    for criterion in criteria:
        mine = [(r[AuditRound.FIRST].answer, r[AuditRound.SECOND].answer) for (case, pk), r in pairs.items()
                if pk == criterion.pk]
        if mine or criterion.active:
            per.append(CriterionAgreement(criterion, stats.cohen_kappa(mine) if mine else None))
    every = [(r[AuditRound.FIRST].answer, r[AuditRound.SECOND].answer) for r in pairs.values()]
    result = Agreement(len({case for case, _ in pairs}), per, stats.cohen_kappa(every) if every else None)
    if permissions.can(user, "improvement.run_audit", found):
        result.disagreements = [
            {"case": r[AuditRound.FIRST].case, "criterion": r[AuditRound.FIRST].criterion,
             "first": r[AuditRound.FIRST], "second": r[AuditRound.SECOND]}
            for r in pairs.values() if r[AuditRound.FIRST].answer != r[AuditRound.SECOND].answer]
    return result


# --- the home page ------------------------------------------------------------------------------

def audit_work(user) -> list:
    """An auditor's lines: each audit in collection with cases left for them to answer."""
    from andon.platform.services import WorkItem

    from .rules import named_on_an_audit

    if not named_on_an_audit(user):
        return []
    lines = []
    for found in (Audit.objects.filter(stage=AuditStage.COLLECT).filter(
            Q(cases__auditor=user) | Q(cases__second_auditor=user)).distinct().select_related("tool")[:20]):
        criteria = found.tool.criteria.filter(active=True).count()
        left = _cases_left(user, found, criteria)
        if left:
            lines.append(WorkItem(f"Audit to collect: {found.title}", reverse("improvement:audit_entry", args=[found.pk]),
                                  "due", f"{found.reference} · {left} case{'s' if left != 1 else ''} left to answer"))
    return lines


def _cases_left(user, found: Audit, criteria: int) -> int:
    left = 0
    for field_name, round_ in (("auditor", AuditRound.FIRST), ("second_auditor", AuditRound.SECOND)):
        answered = (found.cases.filter(**{field_name: user})
                    .annotate(n=Count("answers", filter=Q(answers__round=round_, answers__criterion__active=True))))
        left += sum(1 for case in answered if case.n < criteria)
    return left
