"""Clinical audits: results per criterion against the target (Wilson), overall compliance, the
re-audit comparison (Newcombe, Fisher), the cycle, findings into actions, results into the
measures library, the pages and the PDF report. Numbers are checked against values worked by hand
(DOMAIN.md §7 and §10) or exact fractions written here."""

import io
import math
from datetime import date, timedelta
from fractions import Fraction

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from andon.analytics import stats
from andon.improvement import services as improvement
from andon.improvement.models import Answer, Audit, AuditCase, AuditStage, AuditTool, CaseAnswer, Criterion
from andon.platform.models import Unit, User
from andon.platform.roles import Role
from tests.conftest import TODAY



# --- test data: tools, audits and answers made through the ORM --------------------------------------
# (the data entry service is another subject's; these tests read the tables it fills)

def make_tool(creator, unit, *targets, measure=None, reference="AT-T1"):
    tool = AuditTool.objects.create(reference=reference, title="Hand hygiene at the bedside", measure=measure,
                                    organisation=unit.facility.organisation, unit=unit, created_by=creator)
    for number, target in enumerate(targets, start=1):
        Criterion.objects.create(tool=tool, number=number, text=f"Standard {number}", target=target)
    return tool


def make_audit(tool, lead, unit, *, reference="AUD-T-001", previous=None, stage=AuditStage.ANALYSE,
               period_end=None, **fields):
    period_end = period_end or TODAY
    return Audit.objects.create(
        reference=reference, tool=tool, previous=previous, title="Hand hygiene, 4 West",
        organisation=unit.facility.organisation, facility=unit.facility, unit=unit,
        period_start=period_end - timedelta(days=27), period_end=period_end, lead=lead, stage=stage,
        planned_on=period_end - timedelta(days=30), created_by=lead, **fields)


def answer_cases(audit, answers_by_case, auditor=None):
    """answers_by_case: one string per case, a letter per criterion (m met, n not met, a not
    applicable, - unanswered)."""
    auditor = auditor or audit.lead
    criteria = list(audit.tool.criteria.order_by("number"))
    start = audit.cases.count()
    codes = {"m": Answer.MET, "n": Answer.NOT_MET, "a": Answer.NOT_APPLICABLE}
    for position, letters in enumerate(answers_by_case, start=start + 1):
        case = AuditCase.objects.create(audit=audit, case_ref=f"case-{position}", position=position, added_by=auditor)
        CaseAnswer.objects.bulk_create([CaseAnswer(case=case, criterion=criterion, answer=codes[letter], auditor=auditor)
                                        for criterion, letter in zip(criteria, letters, strict=True) if letter != "-"])


def cases(met, not_met, not_applicable=0):
    """One criterion's answers: `met` cases met, then not met, then not applicable."""
    return ["m"] * met + ["n"] * not_met + ["a"] * not_applicable


@pytest.fixture
def ward(hospital):
    return hospital.unit("rgh/4w")


@pytest.fixture
def auditor(make_user):
    return make_user(Role.CLINICAL_AUDITOR, "", username="auditor")


# --- compliance per criterion against its target --------------------------------------------------

def test_compliance_per_criterion_is_met_of_applicable_with_the_wilson_interval(ward, auditor):
    """17 met, 3 not met, 5 not applicable: 17/20, Wilson 95 % 0.6396–0.9476 (worked by hand:
    (p + z²/2n ± z√(p(1−p)/n + z²/4n²)) / (1 + z²/n), z = 1.959964)."""
    tool = make_tool(auditor, ward, 90)
    audit = make_audit(tool, auditor, ward)
    answer_cases(audit, cases(17, 3, 5))
    result = improvement.audit_results(audit).of(1)
    assert (result.met, result.not_met, result.not_applicable, result.n) == (17, 3, 5, 20)
    assert result.compliance == pytest.approx(0.85)
    z, p, n = 1.959964, 0.85, 20
    centre, spread = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert result.low == pytest.approx((centre - spread) / (1 + z * z / n), abs=1e-5)
    assert (round(result.low, 4), round(result.high, 4)) == (0.6396, 0.9476)
    assert result.reading == "cannot_tell"  # 90 % lies inside 64 %–95 %


@pytest.mark.parametrize(("met", "not_met", "target", "reading"), [
    (18, 2, 65, "meets"),       # 69.9 %–97.2 % (DOMAIN §7) wholly above 65 %
    (18, 2, 69.8, "meets"),     # the low end, 69.897 %, is above 69.8 %
    (18, 2, 69.9, "cannot_tell"),  # ... and just under 69.9 %
    (18, 2, 70, "cannot_tell"),
    (18, 2, 97.3, "below"),     # wholly below 97.3 %
    (20, 0, 100, "meets"),      # a 100 % target is met only by every case
    (19, 1, 100, "below"),
    (0, 0, 90, "no_cases"),
])
def test_the_reading_against_the_target(ward, auditor, met, not_met, target, reading):
    tool = make_tool(auditor, ward, target)
    audit = make_audit(tool, auditor, ward)
    answer_cases(audit, cases(met, not_met, 2))
    result = improvement.audit_results(audit).of(1)
    assert result.reading == reading
    assert result.reading_words == improvement.READINGS[reading]


def test_overall_counts_complete_cases_meeting_every_applicable_criterion(ward, auditor):
    tool = make_tool(auditor, ward, 90, 90, 90)
    audit = make_audit(tool, auditor, ward)
    # met all; one not met; n/a everywhere (no applicable criterion); met with a n/a; answered in part
    answer_cases(audit, ["mmm", "mnm", "aaa", "mam", "mm-"])
    results = improvement.audit_results(audit)
    overall = results.overall
    assert (overall.met_all, overall.applicable, overall.complete, overall.cases) == (2, 3, 4, 5)
    assert (overall.low, overall.high) == pytest.approx(stats.wilson(2, 3))
    # The case answered in part still counts in the criteria it answered.
    assert [(r.met, r.not_met, r.unanswered) for r in results.criteria] == [(4, 0, 0), (2, 1, 0), (3, 0, 1)]


def test_only_first_round_answers_count(ward, auditor, make_user):
    from andon.improvement.models import AuditRound

    tool = make_tool(auditor, ward, 90)
    audit = make_audit(tool, auditor, ward)
    answer_cases(audit, ["m", "m"])
    second = make_user(Role.CLINICAL_AUDITOR, "")
    for case in audit.cases.all():
        CaseAnswer.objects.create(case=case, criterion=tool.criteria.get(), round=AuditRound.SECOND,
                                  answer=Answer.NOT_MET, auditor=second)
    assert (improvement.audit_results(audit).of(1).met, improvement.audit_results(audit).of(1).n) == (2, 2)


# --- the re-audit comparison ---------------------------------------------------------------------

def _fisher_by_hand(a, b, c, d):
    """Two-sided Fisher p in exact fractions: the tables with the same margins no more likely."""
    row1, row2, col1 = a + b, c + d, a + c
    def probability(k):
        return Fraction(math.comb(row1, k) * math.comb(row2, col1 - k), math.comb(row1 + row2, col1))
    observed = probability(a)
    return sum(p for k in range(max(0, col1 - row2), min(row1, col1) + 1) if (p := probability(k)) <= observed)


def test_a_re_audit_compares_each_criterion_with_the_audit_before(ward, auditor):
    """12/20 → 18/20: difference 0.30; Newcombe from the two Wilson intervals (12/20: 0.3866–0.7812,
    18/20: 0.6990–0.9721) 0.0294 to 0.5253; Fisher's exact p (two-sided) 0.0648, the sum of
    C(20,k)·C(20,30−k)/C(40,30) over k = 10, 11, 12, 18, 19, 20."""
    tool = make_tool(auditor, ward, 90)
    before = make_audit(tool, auditor, ward, stage=AuditStage.CLOSED, period_end=TODAY - timedelta(days=120))
    answer_cases(before, cases(12, 8))
    after = make_audit(tool, auditor, ward, reference="AUD-T-002", previous=before)
    answer_cases(after, cases(18, 2))
    comparison = improvement.compare_with_previous(after)
    row = comparison.criteria[0]
    assert (row.difference.p1, row.difference.p2) == (pytest.approx(0.6), pytest.approx(0.9))
    low = 0.3 - math.sqrt((0.9 - 0.6989664) ** 2 + (0.7811935 - 0.6) ** 2)
    high = 0.3 + math.sqrt((0.9721335 - 0.9) ** 2 + (0.6 - 0.3865815) ** 2)
    assert (row.difference.low, row.difference.high) == (pytest.approx(low, abs=1e-6), pytest.approx(high, abs=1e-6))
    assert (round(row.difference.low, 4), round(row.difference.high, 4)) == (0.0294, 0.5253)
    exact = _fisher_by_hand(18, 2, 12, 8)
    assert row.fisher.p_value == pytest.approx(float(exact), rel=1e-9)
    assert round(float(exact), 4) == 0.0648
    # Expected "not met" cells are 5 (10 × 20 / 40): not under 5, and said so.
    assert row.smallest_expected == 5 and "every expected count is 5 or more" in row.test_words
    # The interval excludes 0 but Fisher's p is above 0.05: no clear change, and the page says why.
    assert row.verdict == "no_change"
    assert "0.065" in row.verdict_note


def test_re_audit_verdicts_improved_worse_and_small_counts(ward, auditor):
    tool = make_tool(auditor, ward, 90, 90)
    before = make_audit(tool, auditor, ward, stage=AuditStage.CLOSED, period_end=TODAY - timedelta(days=120))
    # criterion 1: 10/30 then 27/30 (improved); criterion 2: 9/10 then 3/10, 20 not applicable (worse, small)
    answer_cases(before, [f"{'m' if i < 10 else 'n'}{'m' if i < 9 else 'n' if i < 10 else 'a'}" for i in range(30)])
    after = make_audit(tool, auditor, ward, reference="AUD-T-002", previous=before)
    answer_cases(after, [f"{'m' if i < 27 else 'n'}{'m' if i < 3 else 'n' if i < 10 else 'a'}" for i in range(30)])
    comparison = improvement.compare_with_previous(after)
    first, second = comparison.criteria
    assert (first.before.met, first.before.n, first.after.met, first.after.n) == (10, 30, 27, 30)
    assert first.verdict == "improved" and first.verdict_words == "Improved"
    assert first.fisher.p_value == pytest.approx(float(_fisher_by_hand(27, 3, 10, 20)), rel=1e-9)
    assert (second.before.met, second.before.n, second.after.met, second.after.n) == (9, 10, 3, 10)
    assert second.verdict == "worse"
    assert second.fisher.p_value == pytest.approx(float(_fisher_by_hand(3, 7, 9, 1)), rel=1e-9)
    assert second.smallest_expected == pytest.approx(4.0) and "under 5" in second.test_words
    # Overall: 9 of 30 cases met every applicable criterion before; after, 3 met both and 17 met
    # criterion 1 with criterion 2 not applicable: 20 of 30.
    assert (comparison.overall.counts_before, comparison.overall.counts_after) == ((9, 30), (20, 30))
    assert comparison.overall.verdict == "improved"


def test_an_audit_without_a_previous_one_has_no_comparison(ward, auditor):
    audit = make_audit(make_tool(auditor, ward, 90), auditor, ward)
    assert improvement.compare_with_previous(audit) is None


# --- the cycle -------------------------------------------------------------------------------------

def test_the_cycle_moves_one_stage_forward_and_dates_each_stage(ward, auditor, settings):
    settings.ANDON_RE_AUDIT_MONTHS = 6
    audit = make_audit(make_tool(auditor, ward, 90), auditor, ward, stage=AuditStage.PLAN)
    with pytest.raises(ValidationError) as refused:
        improvement.advance(auditor, audit, "analyse")
    assert "moves on to Collect only" in str(refused.value)
    improvement.advance(auditor, audit, "collect")
    answer_cases(audit, ["m", "n"])
    improvement.advance(auditor, audit, "analyse")
    assert improvement.advance(auditor, audit, "act").note == ""  # the tool flows into no measure
    improvement.advance(auditor, audit, "closed")
    audit.refresh_from_db()
    assert (audit.stage, audit.collect_from, audit.analyse_from, audit.act_from, audit.closed_on) == (
        "closed", TODAY, TODAY, TODAY, TODAY)
    assert audit.re_audit_due == improvement.re_audit_due_after(TODAY, 6)
    with pytest.raises(ValidationError):
        improvement.advance(auditor, audit, "plan")


def test_re_audit_due_is_months_later_on_the_same_day_or_the_months_last():
    assert improvement.re_audit_due_after(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert improvement.re_audit_due_after(date(2026, 3, 15), 12) == date(2027, 3, 15)


def test_analysis_waits_for_every_case_unless_the_lead_says_with_how_many_and_why(ward, auditor):
    audit = make_audit(make_tool(auditor, ward, 90, 90), auditor, ward, stage=AuditStage.COLLECT, sample_size=10)
    answer_cases(audit, ["mm"] * 7 + ["m-"])
    with pytest.raises(ValidationError) as refused:
        improvement.advance(auditor, audit, "analyse")
    assert refused.value.message_dict["with_cases"] == [
        "7 of 10 sampled cases are answered: answer the rest, or analyse with 7 of 10 and say why."]
    with pytest.raises(ValidationError) as refused:
        improvement.advance(auditor, audit, "analyse", with_cases=8, reason="Ward closed")
    assert "7 of 10 cases are answered now, not 8" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        improvement.advance(auditor, audit, "analyse", with_cases=7)
    assert "reason" in refused.value.message_dict
    audit.refresh_from_db()
    assert (audit.stage, audit.analyse_from) == ("collect", None)  # nothing stored by a refusal
    improvement.advance(auditor, audit, "analyse", with_cases=7, reason="Ward closed for refurbishment")
    audit.refresh_from_db()
    assert (audit.stage, audit.analysed_cases, audit.partial_reason) == ("analyse", 7, "Ward closed for refurbishment")


def test_only_the_lead_reopens_analysis_from_act_with_a_reason(ward, auditor, make_user):
    manager = make_user(Role.QUALITY_ANALYST, "")
    audit = make_audit(make_tool(auditor, ward, 90), auditor, ward, stage=AuditStage.ACT, act_from=TODAY)
    with pytest.raises(ValidationError, match="Only the audit's lead"):
        improvement.advance(manager, audit, "analyse", reason="Recount")
    with pytest.raises(ValidationError, match="Say why"):
        improvement.advance(auditor, audit, "analyse")
    improvement.advance(auditor, audit, "analyse", reason="Two cases were entered on the wrong criterion")
    audit.refresh_from_db()
    assert (audit.stage, audit.act_from, audit.reopen_reason) == (
        "analyse", None, "Two cases were entered on the wrong criterion")


def test_the_cycle_is_run_by_its_lead_or_audit_managers_only(ward, auditor, make_user):
    audit = make_audit(make_tool(auditor, ward, 90), auditor, ward, stage=AuditStage.PLAN)
    for outsider in (make_user(Role.IMPROVEMENT_LEAD, ""), make_user(Role.UNIT_MANAGER, "rgh/4w")):
        with pytest.raises(PermissionDenied):
            improvement.advance(outsider, audit, "collect")
    improvement.advance(make_user(Role.CQO, ""), audit, "collect")  # improvement.manage_audits


def test_a_re_audit_is_the_next_audit_of_the_tool_with_the_same_sample_parameters(ward, auditor, make_user):
    other = make_user(Role.CLINICAL_AUDITOR, "")
    audit = make_audit(make_tool(auditor, ward, 90), auditor, ward, stage=AuditStage.ANALYSE, expected=80,
                       margin=7.5, confidence=90, double_share=20, cohort_kind="list", cohort_source="Discharges")
    audit.auditors.set([other])
    with pytest.raises(ValidationError, match="once its findings are acted on"):
        improvement.plan_re_audit(auditor, audit)
    Audit.objects.filter(pk=audit.pk).update(stage=AuditStage.CLOSED, act_from=TODAY - timedelta(days=3))
    audit.refresh_from_db()
    again = improvement.plan_re_audit(auditor, audit)
    assert again.reference.startswith(f"AUD-{TODAY.year}-") and again.previous == audit and again.tool == audit.tool
    assert (again.expected, again.margin, again.confidence, again.double_share, again.cohort_kind,
            again.cohort_source, again.unit, again.lead) == (80, 7.5, 90, 20, "list", "Discharges", ward, auditor)
    assert list(again.auditors.all()) == [other]
    assert (again.stage, again.period_start, again.period_end - again.period_start) == (
        "plan", TODAY + timedelta(days=1), audit.period_end - audit.period_start)
    with pytest.raises(ValidationError, match=f"re-audited already by {again.reference}"):
        improvement.plan_re_audit(auditor, audit)


# --- findings into the shared action tracker --------------------------------------------------------

def test_a_criterion_short_of_its_target_opens_an_action_with_the_audit_as_its_source(ward, auditor, make_user):
    from andon.actions.models import Action

    owner = make_user(Role.UNIT_MANAGER, "rgh/4w")
    tool = make_tool(auditor, ward, 90, 50)
    audit = make_audit(tool, auditor, ward)
    answer_cases(audit, ["mm"] * 6 + ["nm"] * 4)
    first, second = tool.criteria.order_by("number")
    due = TODAY + timedelta(days=30)
    with pytest.raises(ValidationError) as refused:
        improvement.raise_finding(auditor, audit, second, owner=owner, title="", due_date=due, strength="stronger",
                                  measure="Re-audit")
    assert refused.value.message_dict["criterion"] == ["Criterion 2 is not below its target of 50 %: no finding to raise."]
    action = improvement.raise_finding(auditor, audit, first, owner=owner, title="Gel at every bedside",
                                       due_date=due, strength="stronger", measure="Re-audit in six months")
    assert action.title == "Criterion 1: Gel at every bedside"
    assert (action.unit, action.owner, action.source_id, action.source_label) == (
        ward, owner, audit.pk, "Audit AUD-T-001: Hand hygiene, 4 West")
    assert action.description == '6 of 10 applicable cases met "Standard 1" (60 %; target 90 %).'
    assert list(improvement.audit_actions(auditor, audit)) == [action]
    assert Action.objects.count() == 1


def test_findings_wait_for_the_results(ward, auditor, make_user):
    tool = make_tool(auditor, ward, 90)
    audit = make_audit(tool, auditor, ward, stage=AuditStage.COLLECT)
    answer_cases(audit, ["n"])
    with pytest.raises(ValidationError, match="in analyse or act"):
        improvement.raise_finding(auditor, audit, tool.criteria.get(), owner=auditor, title="x",
                                  due_date=TODAY, strength="weaker", measure="m")


# --- results into the measures library --------------------------------------------------------------

@pytest.fixture
def demo_audit(demo_hospital):
    """An audit of 4 West this month (the demo's counts end last month) on the hand-hygiene tool."""
    from andon.measures.models import Measure

    lead = User.objects.get(username="auditor.mia")
    ward = Unit.objects.get(facility__code="rgh", code="4w")
    tool = make_tool(lead, ward, 90, measure=Measure.objects.get(key="hand-hygiene"))
    audit = make_audit(tool, lead, ward, reference="AUD-T-010")
    answer_cases(audit, ["m"] * 9 + ["n"] + ["a"])
    return audit


def test_moving_to_act_sends_overall_compliance_to_the_measure_and_its_chart_shows_it(demo_audit):
    from andon.measures import services as measures
    from andon.measures.models import ManualCount, MeasureResult

    lead, measure, month = demo_audit.lead, demo_audit.tool.measure, TODAY.replace(day=1)
    moved = improvement.advance(lead, demo_audit, "act")
    assert moved.note == "The overall compliance was sent to Hand-hygiene compliance."
    count = ManualCount.objects.get(measure=measure, unit=demo_audit.unit, month=month)
    assert (count.numerator, count.denominator, count.source, count.entered_by) == (9, 10, "Audit AUD-T-010", lead)
    result = MeasureResult.objects.get(measure=measure, unit=demo_audit.unit, period_kind="month", period_start=month)
    assert result.value == pytest.approx(90.0)
    drawn = measures.chart_for(measure, unit=demo_audit.unit)
    chart = drawn.chart
    assert drawn.place == demo_audit.unit.name  # the ward's own chart, not the organisation's
    assert chart.table.rows[-1][0] == f"{month:%b %y}" and "90" in chart.table.rows[-1][1]
    # Sent again (after a correction): its own count is replaced, and it says so.
    answer_cases(demo_audit, ["m"])
    count, replaced = improvement.send_to_measure(lead, demo_audit)
    assert replaced and (count.numerator, count.denominator) == (10, 11)
    assert ManualCount.objects.filter(measure=measure, unit=demo_audit.unit, month=month).count() == 1
    assert MeasureResult.objects.get(measure=measure, unit=demo_audit.unit, period_kind="month",
                                     period_start=month).numerator == 10


def test_a_count_entered_by_hand_is_not_replaced(demo_audit):
    from andon.measures.models import ManualCount

    last_month = TODAY.replace(day=1) - timedelta(days=1)
    Audit.objects.filter(pk=demo_audit.pk).update(period_end=last_month)
    demo_audit.refresh_from_db()
    before = ManualCount.objects.get(measure=demo_audit.tool.measure, unit=demo_audit.unit, month=last_month.replace(day=1))
    with pytest.raises(ValidationError) as refused:
        improvement.send_to_measure(demo_audit.lead, demo_audit)
    assert refused.value.message_dict["count"] == [
        f"4 West Medical already has a count for {last_month:%Y-%m} (Demo data by Jo Williams); it is not replaced"]
    after = ManualCount.objects.get(pk=before.pk)
    assert (after.numerator, after.denominator, after.source) == (before.numerator, before.denominator, "Demo data")
    moved = improvement.advance(demo_audit.lead, demo_audit, "act")  # the cycle moves on and says why
    assert moved.audit.stage == "act" and moved.note.startswith("The results were not sent to Hand-hygiene compliance")


# --- pages and the PDF report ---------------------------------------------------------------------

def test_the_results_page_shows_each_criterion_the_comparison_the_cycle_and_the_actions(client, ward, auditor):
    tool = make_tool(auditor, ward, 90)
    before = make_audit(tool, auditor, ward, stage=AuditStage.CLOSED, period_end=TODAY - timedelta(days=120))
    answer_cases(before, cases(12, 8))
    after = make_audit(tool, auditor, ward, reference="AUD-T-002", previous=before)
    answer_cases(after, cases(17, 3, 5))
    client.force_login(auditor)
    page = client.get(reverse("improvement:audit_results", args=[after.pk])).content.decode()
    assert "85.0 %" in page and "64.0 % to 94.8 %" in page and "Cannot tell: the target lies within the interval" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and "AUD-T-002: compliance by criterion" in page
    assert "12 of 20" in page and "17 of 20" in page and "+25.0 points" in page  # the comparison
    assert "Move to Act" in page and "Raise a finding" in page
    detail_url, results_url = (reverse(f"improvement:{name}", args=[after.pk]) for name in ("audit", "audit_results"))
    assert f'href="{detail_url}"' in page  # the breadcrumb back to the audit
    assert f'href="{results_url}"' in client.get(detail_url).content.decode()  # and the audit links here
    response = client.post(reverse("improvement:audit_stage", args=[after.pk]), {"stage": "act", "version": after.version})
    assert response.status_code == 302
    after.refresh_from_db()
    assert (after.stage, after.act_from) == ("act", TODAY)
    refused = client.post(reverse("improvement:audit_stage", args=[after.pk]), {"stage": "closed", "version": 1})
    assert refused.status_code == 409  # the version the page showed is old
    after.refresh_from_db()
    assert after.stage == "act"


def test_a_finding_is_raised_from_its_page_and_listed_on_the_results(client, ward, auditor, make_user):
    owner = make_user(Role.UNIT_MANAGER, "rgh/4w")
    tool = make_tool(auditor, ward, 90)
    audit = make_audit(tool, auditor, ward)
    answer_cases(audit, cases(6, 4))
    client.force_login(auditor)
    url = reverse("improvement:audit_finding", args=[audit.pk, tool.criteria.get().pk])
    bad = client.post(url, {"title": "Gel", "owner": owner.pk, "due_date": (TODAY - timedelta(days=1)).isoformat(),
                            "strength": "stronger", "measure": "Re-audit"})
    assert bad.status_code == 400 and "is in the past" in bad.content.decode()
    response = client.post(url, {"title": "Gel at every bedside", "owner": owner.pk,
                                 "due_date": (TODAY + timedelta(days=30)).isoformat(), "strength": "stronger",
                                 "measure": "Re-audit"})
    assert response.status_code == 302
    page = client.get(reverse("improvement:audit_results", args=[audit.pk])).content.decode()
    assert "Criterion 1: Gel at every bedside" in page and "Planned" in page


def test_the_report_is_a_pdf_attachment_with_the_tables_and_the_chart(client, ward, auditor):
    from pypdf import PdfReader

    tool = make_tool(auditor, ward, 90)
    before = make_audit(tool, auditor, ward, stage=AuditStage.CLOSED, period_end=TODAY - timedelta(days=120))
    answer_cases(before, cases(12, 8))
    after = make_audit(tool, auditor, ward, reference="AUD-T-002", previous=before)
    answer_cases(after, cases(18, 2))
    client.force_login(auditor)
    response = client.get(reverse("improvement:audit_report", args=[after.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="audit-AUD-T-002.pdf"'
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages).split())
    assert "Audit report: AUD-T-002" in text and "90.0 %" in text and "69.9 % to 97.2 %" in text
    assert "AUD-T-002: compliance by criterion" in text  # the chart's title, drawn
    assert "+30.0 points (+2.9 to +52.5)" in text and "0.065" in text and "No clear change at 95 %" in text
