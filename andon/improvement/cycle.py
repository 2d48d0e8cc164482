"""Clinical audits: the cycle. plan → collect → analyse → act → closed, one stage forward at a
time, each stage's date kept when it is reached; the audit's lead may take an audit in act back
to analyse, with a reason. Analysis waits for every sampled case to be answered unless the lead
analyses with the cases there are ("analyse with 8 of 10 cases"), the count and the reason kept.
Reaching act sends the overall compliance to the tool's measure (results.send_to_measure) when
it has one; closing sets the re-audit due (ANDON_RE_AUDIT_MONTHS later), and `plan_re_audit`
makes the next audit of the same tool, re-auditing this one with the same sample parameters."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from andon.platform import audit, concurrency, permissions

from . import results
from .audits import audit_reference
from .models import Audit, AuditRound, AuditStage, CaseAnswer

__all__ = ["ORDER", "Advanced", "advance", "cases_answered", "plan_re_audit", "re_audit_due_after"]

ORDER = [AuditStage.PLAN, AuditStage.COLLECT, AuditStage.ANALYSE, AuditStage.ACT, AuditStage.CLOSED]
DATE_OF = {AuditStage.COLLECT: "collect_from", AuditStage.ANALYSE: "analyse_from", AuditStage.ACT: "act_from",
           AuditStage.CLOSED: "closed_on"}
REASON_MAX = 1000


@dataclass(frozen=True)
class Advanced:
    audit: Audit
    note: str = ""  # what else happened (the measure's count), in words


def cases_answered(audit_record: Audit) -> tuple[int, int]:
    """(cases answered for every active criterion in the first audit, cases sampled): the sample's
    size when it is larger than the cases entered so far."""
    criteria = set(audit_record.tool.criteria.filter(active=True).values_list("pk", flat=True))
    given: dict[int, set] = {}
    for case_id, criterion_id in CaseAnswer.objects.filter(case__audit=audit_record, round=AuditRound.FIRST,
                                                           criterion_id__in=criteria).values_list("case_id",
                                                                                                  "criterion_id"):
        given.setdefault(case_id, set()).add(criterion_id)
    cases = audit_record.cases.count()
    done = sum(1 for answered in given.values() if answered >= criteria) if criteria else 0
    return done, max(cases, audit_record.sample_size or 0)


def re_audit_due_after(closed: date, months: int | None = None) -> date:
    """`months` (ANDON_RE_AUDIT_MONTHS) after `closed`, on the same day or the month's last."""
    months = settings.ANDON_RE_AUDIT_MONTHS if months is None else months
    month = closed.month - 1 + months
    year, month = closed.year + month // 12, month % 12 + 1
    return date(year, month, min(closed.day, calendar.monthrange(year, month)[1]))


@audit.changes_by_user
@transaction.atomic
def advance(user, audit_record: Audit, stage: str, *, reason: str = "", with_cases: int | None = None,
            version: int | None = None) -> Advanced:
    """Move the audit to `stage`: the next one, or back from act to analyse (its lead, with a
    reason). `with_cases`: the lead analyses with this many answered cases of the sample (the
    number they saw, with `reason`)."""
    permissions.check(user, "improvement.run_audit", audit_record)
    concurrency.lock(audit_record, version)
    if stage not in AuditStage.values:
        raise ValidationError({"stage": f"{stage!r} is not a stage; choose one of {', '.join(AuditStage.values)}."})
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"At most {REASON_MAX:,} characters."})
    here, there = ORDER.index(audit_record.stage), ORDER.index(stage)
    today = timezone.localdate()
    if (audit_record.stage, stage) == (AuditStage.ACT, AuditStage.ANALYSE):
        return Advanced(_reopen(user, audit_record, reason))
    if there != here + 1:
        raise ValidationError({"stage": f"{audit_record.reference} is at {audit_record.get_stage_display()}: it moves on "
                                        f"to {ORDER[here + 1].label if here + 1 < len(ORDER) else 'nothing'} only."})
    _check_ready(audit_record, stage, reason, with_cases)
    audit_record.stage = stage
    setattr(audit_record, DATE_OF[stage], today)
    if stage == AuditStage.CLOSED:
        audit_record.re_audit_due = re_audit_due_after(today)
    audit_record.save()
    note = _send_on_act(user, audit_record) if stage == AuditStage.ACT else ""
    return Advanced(audit_record, note)


def _reopen(user, audit_record: Audit, reason: str) -> Audit:
    if user.pk != audit_record.lead_id:
        raise ValidationError({"stage": f"Only the audit's lead ({audit_record.lead}) takes it back to analyse."})
    if not reason:
        raise ValidationError({"reason": "Say why the analysis is reopened."})
    audit_record.stage = AuditStage.ANALYSE
    audit_record.act_from = None
    audit_record.reopen_reason = reason
    audit_record.save()
    return audit_record


def _check_ready(audit_record: Audit, stage: str, reason: str, with_cases: int | None) -> None:
    if stage == AuditStage.COLLECT and not audit_record.tool.criteria.filter(active=True).exists():
        raise ValidationError({"stage": f"{audit_record.tool} has no criteria yet: add them before collecting."})
    if stage == AuditStage.ANALYSE:
        _check_answered(audit_record, reason, with_cases)


def _check_answered(audit_record: Audit, reason: str, with_cases: int | None) -> None:
    done, sampled = cases_answered(audit_record)
    if not done:
        raise ValidationError({"stage": "No case is answered yet: there is nothing to analyse."})
    if done == sampled:
        audit_record.analysed_cases, audit_record.partial_reason = None, ""
        return
    if with_cases is None:
        raise ValidationError({"with_cases": f"{done} of {sampled} sampled cases are answered: answer the rest, or "
                                             f"analyse with {done} of {sampled} and say why."})
    if with_cases != done:
        raise ValidationError({"with_cases": f"{done} of {sampled} cases are answered now, not {with_cases}: "
                                             "look again and confirm the number."})
    if not reason:
        raise ValidationError({"reason": f"Say why the audit is analysed with {done} of {sampled} cases."})
    audit_record.analysed_cases, audit_record.partial_reason = done, reason


def _send_on_act(user, audit_record: Audit) -> str:
    """Send the results to the tool's measure on reaching act; a refusal (no unit, a count entered
    by hand for the month) is said, and the cycle moves on all the same."""
    if audit_record.tool.measure_id is None:
        return ""
    try:
        with transaction.atomic():
            _count, replaced = results.send_to_measure(user, audit_record)
    except ValidationError as problem:
        return f"The results were not sent to {audit_record.tool.measure.title}: {' '.join(problem.messages)}"
    return (f"The overall compliance {'replaced its earlier count in' if replaced else 'was sent to'} "
            f"{audit_record.tool.measure.title}.")


# --- the re-audit ---------------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def plan_re_audit(user, audit_record: Audit, *, period_start: date | None = None,
                  period_end: date | None = None) -> Audit:
    """The next audit of the same tool, re-auditing this one (in act or closed): the same place,
    lead, auditors, cohort and sample parameters (the sample itself is drawn afresh), over a period
    as long as this one's, by default starting the day after this one's period or when acting began."""
    permissions.check(user, "improvement.run_audit", audit_record)
    if audit_record.stage not in (AuditStage.ACT, AuditStage.CLOSED):
        raise ValidationError({"stage": f"{audit_record.reference} is at {audit_record.get_stage_display()}: a re-audit "
                                        "is planned once its findings are acted on."})
    later = audit_record.re_audits.order_by("pk").first()
    if later is not None:
        raise ValidationError({"previous": f"{audit_record.reference} is re-audited already by {later.reference}."})
    start, end = _re_audit_period(audit_record, period_start, period_end)
    today = timezone.localdate()
    copied = {name: getattr(audit_record, name) for name in (
        "tool", "organisation", "facility", "unit", "lead", "cohort_kind", "cohort_source", "expected", "margin",
        "confidence", "double_share")}
    again = Audit.objects.create(reference=audit_reference(today), previous=audit_record, title=audit_record.title,
                                 period_start=start, period_end=end, planned_on=today, created_by=user, **copied)
    again.auditors.set(audit_record.auditors.all())
    return again


def _re_audit_period(audit_record: Audit, start: date | None, end: date | None) -> tuple[date, date]:
    length = audit_record.period_end - audit_record.period_start
    if start is None:
        start = max(audit_record.period_end + timedelta(days=1), audit_record.act_from or date.min)
    end = end or start + length
    if end < start:
        raise ValidationError({"period_end": f"The period ends ({end}) before it starts ({start})."})
    if start <= audit_record.period_end:
        raise ValidationError({"period_start": f"A re-audit looks at care after {audit_record.reference}'s period "
                                               f"(it ended {audit_record.period_end})."})
    return start, end
