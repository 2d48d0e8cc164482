"""Clinical audits: results. Compliance per criterion with its Wilson interval read against the
criterion's target, the overall compliance of the cases, the re-audit's comparison with the audit
before it (Newcombe's interval for the difference, Fisher's exact test), findings that open actions
in the shared tracker, and the overall compliance sent to the tool's measure.

Readings (docs/improvement.md, DOMAIN.md §7 Wilson interval, §10 comparing two proportions):
- compliance of a criterion = met / (met + not met), first-round answers only; "not applicable"
  (the criterion's exceptions) leaves the case out of that criterion;
- against the target T: the 95 % Wilson interval wholly at or above T "meets the target", wholly
  below it "below the target", T inside it "cannot tell" (more cases would decide); a target of
  100 % is met only when every applicable case met it (no interval lies above 100 %), in the
  manner of the assurance icon of "Making Data Count" (§10);
- overall compliance = cases meeting every criterion applicable to them / cases with at least one
  applicable criterion, over the cases answered for every criterion (a case answered in part
  counts in its criteria, not overall);
- a re-audit improved (or got worse) when Newcombe's 95 % interval for p₂ − p₁ lies wholly above
  (below) 0 and Fisher's exact two-sided p is under 0.05; otherwise "no clear change at 95 %".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from andon.actions import services as actions
from andon.analytics import stats
from andon.measures import services as measures
from andon.platform import audit, permissions
from andon.platform.services import staff_of

from .models import Answer, Audit, AuditRound, AuditStage, CaseAnswer, Criterion

__all__ = [
    "AuditResults", "Comparison", "CriterionComparison", "CriterionResult", "Overall", "READINGS", "VERDICTS",
    "audit_actions", "audit_results", "compare_with_previous", "finding_owners", "percent", "raise_finding",
    "send_to_measure", "target_words",
]

CONFIDENCE = 0.95
SIGNIFICANCE = 0.05
SMALL_EXPECTED = 5  # an expected cell under this: the chi-squared approximation would not hold
READINGS = {
    "meets": "Meets the target",
    "below": "Below the target",
    "cannot_tell": "Cannot tell: the target lies within the interval",
    "no_cases": "No applicable cases",
}
VERDICTS = {"improved": "Improved", "worse": "Worse", "no_change": "No clear change at 95 %",
            "no_cases": "Cannot compare: no applicable cases in one of the audits"}


def percent(share: float | None, places: int = 1) -> str:
    """A share (0.85) as the pages write it: "85 %", "64.0 %"; a dash for none."""
    if share is None:
        return "–"
    return f"{share * 100:.{places}f} %" if places else f"{share * 100:.0f} %"


def target_words(criterion: Criterion) -> str:
    return f"{float(criterion.target):g} %"


# --- compliance per criterion ---------------------------------------------------------------------

@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    met: int
    not_met: int
    not_applicable: int
    unanswered: int
    low: float | None  # the Wilson interval of met / (met + not met); None without applicable cases
    high: float | None

    @property
    def n(self) -> int:
        return self.met + self.not_met

    @property
    def compliance(self) -> float | None:
        return self.met / self.n if self.n else None

    @property
    def target(self) -> float:
        return float(self.criterion.target) / 100

    @property
    def shown(self) -> str:
        return percent(self.compliance)

    @property
    def interval_shown(self) -> str:
        return "–" if self.low is None else f"{percent(self.low)} to {percent(self.high)}"

    @property
    def reading(self) -> str:
        return _reading(self.met, self.n, self.low, self.high, self.target)

    @property
    def reading_words(self) -> str:
        return READINGS[self.reading]

    @property
    def short_of_target(self) -> bool:
        """Its compliance is under the target (clearly or not): a finding may be raised."""
        return self.compliance is not None and self.compliance < self.target


def _reading(met: int, n: int, low, high, target: float) -> str:
    if not n:
        return "no_cases"
    if target >= 1:
        return "meets" if met == n else "below"
    if low >= target:
        return "meets"
    return "below" if high < target else "cannot_tell"


@dataclass(frozen=True)
class Overall:
    """Cases meeting every criterion applicable to them, of the complete cases with any."""

    met_all: int
    applicable: int
    complete: int  # cases answered for every criterion
    cases: int  # cases in the sample
    low: float | None
    high: float | None

    @property
    def compliance(self) -> float | None:
        return self.met_all / self.applicable if self.applicable else None

    @property
    def shown(self) -> str:
        return percent(self.compliance)

    @property
    def interval_shown(self) -> str:
        return "–" if self.low is None else f"{percent(self.low)} to {percent(self.high)}"


@dataclass(frozen=True)
class AuditResults:
    audit: Audit
    criteria: list[CriterionResult]
    overall: Overall

    def of(self, number: int) -> CriterionResult | None:
        return next((r for r in self.criteria if r.criterion.number == number), None)


def _interval(met: int, n: int):
    return stats.wilson(met, n, CONFIDENCE) if n else (None, None)


def audit_results(audit: Audit) -> AuditResults:
    """The audit's results from its first-round answers (the caller has checked view_audit)."""
    answers = defaultdict(dict)  # case -> criterion -> answer
    for case_id, criterion_id, answer in CaseAnswer.objects.filter(
            case__audit=audit, round=AuditRound.FIRST).values_list("case_id", "criterion_id", "answer"):
        answers[case_id][criterion_id] = answer
    answered = {criterion_id for given in answers.values() for criterion_id in given}
    criteria = [c for c in audit.tool.criteria.order_by("number") if c.active or c.pk in answered]
    case_ids = list(audit.cases.values_list("pk", flat=True))
    rows = [_criterion_result(criterion, [answers[case].get(criterion.pk) for case in case_ids])
            for criterion in criteria]
    return AuditResults(audit, rows, _overall(case_ids, answers, criteria))


def _criterion_result(criterion: Criterion, given: list) -> CriterionResult:
    met, not_met = given.count(Answer.MET), given.count(Answer.NOT_MET)
    return CriterionResult(criterion, met, not_met, given.count(Answer.NOT_APPLICABLE), given.count(None),
                           *_interval(met, met + not_met))


def _overall(case_ids, answers, criteria) -> Overall:
    complete = [answers[case] for case in case_ids if all(c.pk in answers[case] for c in criteria)] if criteria else []
    applicable = [given for given in complete if any(a != Answer.NOT_APPLICABLE for a in given.values())]
    met_all = sum(Answer.NOT_MET not in given.values() for given in applicable)
    return Overall(met_all, len(applicable), len(complete), len(case_ids), *_interval(met_all, len(applicable)))


# --- the re-audit against the audit before it -----------------------------------------------------

@dataclass(frozen=True)
class CriterionComparison:
    number: int  # 0 for the overall compliance
    text: str
    before: CriterionResult | None
    after: CriterionResult | None
    counts_before: tuple[int, int]  # (met, applicable)
    counts_after: tuple[int, int]
    difference: stats.ProportionDifference | None
    fisher: stats.FisherExact | None
    smallest_expected: float | None

    @property
    def verdict(self) -> str:
        if self.difference is None:
            return "no_cases"
        significant = self.fisher.p_value < SIGNIFICANCE
        if self.difference.low > 0 and significant:
            return "improved"
        if self.difference.high < 0 and significant:
            return "worse"
        return "no_change"

    @property
    def verdict_words(self) -> str:
        return VERDICTS[self.verdict]

    @property
    def difference_shown(self) -> str:
        """p₂ − p₁ in percentage points with its interval: "+30.0 points (2.9 to 52.5)"."""
        if self.difference is None:
            return "–"
        d = self.difference
        return f"{d.difference * 100:+.1f} points ({d.low * 100:+.1f} to {d.high * 100:+.1f})"

    @property
    def verdict_note(self) -> str:
        """Why there is no clear change when the interval and the test part ways."""
        if self.verdict != "no_change":
            return ""
        if self.difference.low > 0 or self.difference.high < 0:
            return (f"The interval leaves out no change, but Fisher's exact p = {self.fisher.p_value:.3f} is not under "
                    f"{SIGNIFICANCE}: both must agree.")
        if self.fisher.p_value < SIGNIFICANCE:
            return (f"Fisher's exact p = {self.fisher.p_value:.3f}, but the interval includes no change: both must "
                    "agree.")
        return "The interval includes no change."

    @property
    def test_words(self) -> str:
        """Which test gave the p value, in words."""
        if self.fisher is None:
            return ""
        if self.smallest_expected < SMALL_EXPECTED:
            return (f"Fisher's exact test (an expected count of {self.smallest_expected:.1f} is under "
                    f"{SMALL_EXPECTED}: a chi-squared test would not hold)")
        return "Fisher's exact test (exact at any size; every expected count is 5 or more)"


@dataclass(frozen=True)
class Comparison:
    previous: Audit
    criteria: list[CriterionComparison]
    overall: CriterionComparison


def compare_with_previous(audit: Audit, results: AuditResults | None = None) -> Comparison | None:
    """Each criterion (matched by number) and the overall compliance against the audit this one
    re-audits; None when it re-audits none."""
    if audit.previous_id is None:
        return None
    results = results or audit_results(audit)
    before = audit_results(audit.previous)
    numbers = sorted({r.criterion.number for r in before.criteria} | {r.criterion.number for r in results.criteria})
    rows = []
    for number in numbers:
        old, new = before.of(number), results.of(number)
        text = (new or old).criterion.text
        rows.append(_compare(number, text, old, new, (old.met, old.n) if old else (0, 0),
                             (new.met, new.n) if new else (0, 0)))
    overall = _compare(0, "Overall: cases meeting every applicable criterion", None, None,
                       (before.overall.met_all, before.overall.applicable),
                       (results.overall.met_all, results.overall.applicable))
    return Comparison(audit.previous, rows, overall)


def _compare(number, text, old, new, first, second) -> CriterionComparison:
    (x1, n1), (x2, n2) = first, second
    if not n1 or not n2:
        return CriterionComparison(number, text, old, new, first, second, None, None, None)
    difference = stats.proportion_difference(x1, n1, x2, n2, CONFIDENCE)
    # Rows: re-audit, audit; columns: met, not met.
    fisher = stats.fisher_exact(x2, n2 - x2, x1, n1 - x1)
    total, met = n1 + n2, x1 + x2
    smallest = min(row * column / total for row in (n1, n2) for column in (met, total - met))
    return CriterionComparison(number, text, old, new, first, second, difference, fisher, smallest)


# --- findings: actions in the shared tracker ------------------------------------------------------

FINDING_STAGES = (AuditStage.ANALYSE, AuditStage.ACT)


@audit.changes_by_user
@transaction.atomic
def raise_finding(user, audit_record: Audit, criterion: Criterion, *, owner, title: str, due_date: date,
                  strength: str, measure: str, description: str = "", unit=None):
    """An action in the shared tracker for a criterion short of its target, with the audit as its
    source and the criterion in its title (the audit's lead or an audit manager, who also manage
    actions of the unit). In the audit's unit; an audit of a hospital or of the organisation names
    the unit that will act, within its place."""
    permissions.check(user, "improvement.run_audit", audit_record)
    if audit_record.stage not in FINDING_STAGES:
        raise ValidationError({"stage": f"{audit_record.reference} is at {audit_record.get_stage_display()}: findings "
                                        "are raised from its results, in analyse or act."})
    if criterion.tool_id != audit_record.tool_id:
        raise ValidationError({"criterion": f"Criterion {criterion.number} is not a criterion of {audit_record.tool}."})
    result = audit_results(audit_record).of(criterion.number)
    if result is None or not result.short_of_target:
        raise ValidationError({"criterion": f"Criterion {criterion.number} is not below its target of "
                                            f"{target_words(criterion)}: no finding to raise."})
    unit = _acting_unit(audit_record, unit)
    heading = f"Criterion {criterion.number}: {(title or criterion.text).strip()}"
    return actions.create_action(
        user, source=audit_record, source_label=f"Audit {audit_record.reference}: {audit_record.title}"[:200],
        unit=unit, owner=owner, title=heading[:200], due_date=due_date, strength=strength, measure=measure,
        description=description or f"{result.met} of {result.n} applicable cases met \"{criterion.text}\" "
                                   f"({percent(result.compliance, 0)}; target {target_words(criterion)}).")


def _acting_unit(audit_record: Audit, unit):
    if audit_record.unit_id:
        return audit_record.unit
    if unit is None:
        raise ValidationError({"unit": "The audit sits in no unit: choose the unit that will act."})
    outside = (unit.facility.organisation_id != audit_record.organisation_id
               or (audit_record.facility_id and unit.facility_id != audit_record.facility_id))
    if outside:
        raise ValidationError({"unit": f"{unit} is outside {audit_record.facility or audit_record.organisation}, "
                                       "where the audit was done."})
    return unit


def finding_owners(audit_record: Audit):
    """Whom a finding's action may have as owner: the active staff of the audit's organisation
    (whom the action tracker takes)."""
    return staff_of([audit_record.organisation_id])


def audit_actions(user, audit_record: Audit):
    """The actions raised from the audit that `user` may see, with their status."""
    return actions.actions_for_source(audit_record, user).order_by("due_date", "pk")


# --- results into the measures library ------------------------------------------------------------

SENT_STAGES = (AuditStage.ANALYSE, AuditStage.ACT, AuditStage.CLOSED)


@audit.changes_by_user
@transaction.atomic
def send_to_measure(user, audit_record: Audit):
    """The audit's overall compliance as its tool's measure's count for the audit's unit and the
    month of its period's end: numerator the cases meeting every applicable criterion, denominator
    the cases with at least one (for hand hygiene, each case an observed opportunity: actions ÷
    opportunities). Sent again, it replaces its own count. Returns (count, replaced)."""
    permissions.check(user, "improvement.run_audit", audit_record)
    measure = audit_record.tool.measure
    problems = {}
    if measure is None:
        problems["measure"] = f"{audit_record.tool} flows into no measure: set the tool's measure first."
    if audit_record.stage not in SENT_STAGES:
        problems["stage"] = f"{audit_record.reference} is at {audit_record.get_stage_display()}: results are sent once analysed."
    if audit_record.unit_id is None:
        problems["unit"] = "The audit sits in no unit: a measure's counts are kept by unit."
    overall = audit_results(audit_record).overall
    if not overall.applicable:
        problems["count"] = "No case is answered for every criterion with one applicable: nothing to send."
    if problems:
        raise ValidationError(problems)
    count, replaced = measures.enter_count_from(
        user, measure, audit_record.unit, audit_record.period_end, overall.met_all, overall.applicable,
        source=f"Audit {audit_record.reference}")
    audit_record.sent_to_measure_at = timezone.now()
    audit_record.save(update_fields=["sent_to_measure_at"])
    return count, replaced
