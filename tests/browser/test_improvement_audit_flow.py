"""A clinical audit's whole journey in real Chromium (issue 18): auditor.mia, on a phone, answers
the ten cases of the demo's hand-hygiene re-audit by tapping, "Save and next" from one to the next,
and her home page no longer lists the audit as work; then, as the audit's lead at a desk, she moves
it to analyse, reads the compliance per criterion with its Wilson interval and the comparison with
the audit before it (the numbers checked against the stats computed here from the answers she
gave), moves it to act, and sees this month's overall compliance arrive on the hand-hygiene
measure's chart for 4 West. The rows behind the pages are checked too."""

import re

from django.utils import timezone
from playwright.sync_api import expect

from andon.analytics import stats

from .test_compliance_flow import DESKTOP, _page
from .test_signin import expect_home, main_nav, sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
TITLE = "Hand hygiene, 4 West: re-audit"
WORK = f"Audit to collect: {TITLE}"
# The ten cases' answers, criterion by criterion (m met, n not met, a not applicable).
ANSWERS = ["mmmmm", "mmmma", "mmnmm", "mmmmm", "ammmm", "mmmmm", "mmmnm", "mmmmm", "mmamm", "mmmmm"]
CODES = {"m": "met", "n": "not_met", "a": "na"}
NOTE = (2, 2, "Gloves on, no hand rub after")  # case, criterion, note


def _percent(share: float) -> str:
    return f"{share * 100:.1f} %"


def _points(difference) -> str:
    return (f"{difference.difference * 100:+.1f} points ({difference.low * 100:+.1f} to "
            f"{difference.high * 100:+.1f})")


def _counts(columns: list[str]) -> tuple[int, int]:
    """(met, applicable) of one criterion's answers."""
    return columns.count("met"), sum(1 for a in columns if a != "na")


def _overall(cases: list[list[str]]) -> tuple[int, int]:
    """(cases meeting every applicable criterion, cases with any applicable)."""
    applicable = [given for given in cases if any(a != "na" for a in given)]
    return sum("not_met" not in given for given in applicable), len(applicable)


def _verdict(difference, fisher) -> str:
    if fisher.p_value < 0.05 and difference.low > 0:
        return "Improved"
    if fisher.p_value < 0.05 and difference.high < 0:
        return "Worse"
    return "No clear change at 95 %"


def _answer_on_a_phone(browser, browser_context_args, demo, audit, criteria):
    from andon.improvement.models import CaseAnswer

    context, page, problems = _page(browser, browser_context_args, PHONE)
    try:
        sign_in(page, demo, "auditor.mia")
        expect_home(page, demo, "Mia")
        page.get_by_role("link", name=WORK).click()
        expect(page.get_by_text("10 cases left to answer.")).to_be_visible()
        cases = list(audit.cases.order_by("position"))
        page.get_by_role("link", name=f"Case 1: {cases[0].label}").click()
        for case, given in zip(cases, ANSWERS, strict=True):
            expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {case.position}: {case.label}")
            for criterion, code in zip(criteria, given, strict=True):
                page.locator(f"label[for='c{criterion.pk}-{CODES[code]}']").tap()
            if case.position == NOTE[0]:
                page.get_by_label("Note (optional)").nth(NOTE[1] - 1).fill(NOTE[2])
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
            page.get_by_role("button", name="Save and next").tap()
        # After the last case, back to her list: nothing left.
        expect(page.get_by_text("0 cases left to answer.")).to_be_visible()
        expect(page.get_by_text("To do")).to_have_count(0)
        stored = {(a.case.position, a.criterion.number): (a.answer, a.note, a.auditor.username, a.round)
                  for a in CaseAnswer.objects.filter(case__audit=audit).select_related("case", "criterion", "auditor")}
        expected = {(case, number): (CODES[code], NOTE[2] if (case, number) == NOTE[:2] else "", "auditor.mia", "first")
                    for case, given in enumerate(ANSWERS, start=1) for number, code in enumerate(given, start=1)}
        assert stored == expected
        page.goto(demo + "/")
        expect_home(page, demo, "Mia")
        expect(page.get_by_role("link", name=WORK)).to_have_count(0)
        assert problems.problems == []
    finally:
        context.close()


def _before(audit, criteria) -> tuple[dict, tuple[int, int]]:
    """The audit before: (met, applicable) per criterion number, and overall, from its rows."""
    from andon.improvement.models import CaseAnswer

    rows = {}
    for case_id, number, answer in CaseAnswer.objects.filter(case__audit=audit.previous, round="first").values_list(
            "case_id", "criterion__number", "answer"):
        rows.setdefault(case_id, {})[number] = answer
    cases = [[given[c.number] for c in criteria] for given in rows.values() if len(given) == len(criteria)]
    return {c.number: _counts([given[i] for given in cases]) for i, c in enumerate(criteria)}, _overall(cases)


def _expect_compliance(page, criteria, now):
    table = page.locator("section[aria-labelledby='compliance-heading'] .table-responsive table")
    for row, criterion in zip(table.locator("tbody tr").all()[:len(criteria)], criteria, strict=True):
        met, n = now[criterion.number]
        low, high = stats.wilson(met, n, 0.95)
        cells = row.locator("td")
        expect(cells.nth(0)).to_have_text(f"{criterion.number}. {criterion.text}")
        expect(cells.nth(1)).to_have_text(str(n))
        expect(cells.nth(2)).to_have_text(str(met))
        expect(cells.nth(4)).to_have_text(_percent(met / n))
        expect(cells.nth(5)).to_have_text(f"{_percent(low)} to {_percent(high)}")
    met, n = now["overall"]
    low, high = stats.wilson(met, n, 0.95)
    expect(table.locator("tbody tr").last).to_contain_text(f"{_percent(met / n)}{_percent(low)} to {_percent(high)}")


def _expect_comparison(page, criteria, before, now):
    table = page.locator("section[aria-labelledby='comparison-heading'] .table-responsive table")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(criteria) + 1)
    for index, key in enumerate([c.number for c in criteria] + ["overall"]):
        (x1, n1), (x2, n2) = before[key], now[key]
        difference = stats.proportion_difference(x1, n1, x2, n2, 0.95)
        fisher = stats.fisher_exact(x2, n2 - x2, x1, n1 - x1)
        cells = rows.nth(index).locator("td")
        expect(cells.nth(1)).to_have_text(f"{x1} of {n1}")
        expect(cells.nth(2)).to_have_text(f"{x2} of {n2}")
        expect(cells.nth(3)).to_have_text(_points(difference))
        expect(cells.nth(4)).to_contain_text(f"{fisher.p_value:.3f}Fisher's exact test")
        expect(cells.nth(5)).to_contain_text(_verdict(difference, fisher))


def test_an_auditor_audits_ten_cases_on_a_phone_and_the_lead_sees_the_results_reach_the_measure(
        browser, browser_context_args, demo):
    from andon.improvement.models import Audit
    from andon.measures.models import ManualCount

    audit = Audit.objects.select_related("tool__measure", "unit", "previous", "lead").get(title=TITLE)
    assert (audit.stage, audit.cases.count(), audit.lead.username) == ("collect", 10, "auditor.mia")
    criteria = list(audit.tool.criteria.filter(active=True).order_by("number"))
    _answer_on_a_phone(browser, browser_context_args, demo, audit, criteria)

    given = [[CODES[code] for code in case] for case in ANSWERS]
    now = {c.number: _counts([case[i] for case in given]) for i, c in enumerate(criteria)}
    now["overall"] = _overall(given)
    before, before_overall = _before(audit, criteria)
    before["overall"] = before_overall
    month = timezone.localdate().replace(day=1)
    # The demo's counts stop last month: this month's point on 4 West's chart is the audit's alone.
    assert not ManualCount.objects.filter(measure=audit.tool.measure, unit=audit.unit, month=month).exists()

    # The lead is auditor.mia herself: at her desk now.
    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "auditor.mia")
        expect_home(page, demo, "Mia")
        main_nav(page).get_by_role("link", name="Audits").click()
        page.get_by_role("link", name=f"{audit.reference} {TITLE}").click()
        page.get_by_role("link", name="Results and the cycle").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"{audit.reference} {TITLE}: results")
        expect(page.locator("main")).to_contain_text("10 of 10 answered for every criterion")
        page.get_by_role("button", name="Move to Analyse").click()
        expect(page.locator(".alert-success").first).to_contain_text(f"{audit.reference} is at Analyse.")
        _expect_compliance(page, criteria, now)
        expect(page.get_by_role("heading", name=f"Against {audit.previous.reference} (the audit before)")).to_be_visible()
        _expect_comparison(page, criteria, before, now)

        page.get_by_role("button", name="Move to Act").click()
        expect(page.locator(".alert-success").first).to_contain_text(
            f"{audit.reference} is at Act. The overall compliance was sent to {audit.tool.measure.title}.")
        met, n = now["overall"]
        count = ManualCount.objects.get(measure=audit.tool.measure, unit=audit.unit, month=month)
        assert (count.numerator, count.denominator, count.source) == (met, n, f"Audit {audit.reference}")
        value = f"{met / n * 100:.1f}".rstrip("0").rstrip(".")
        last = page.locator("figure[data-chart='spc'] table tbody tr").last
        expect(last.locator("td").first).to_have_text(f"{month:%b %y}")
        expect(last.locator("td").nth(1)).to_contain_text(value)

        page.get_by_role("link", name=f"Open {audit.tool.measure.title} for {audit.unit.name}").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(audit.tool.measure.title)
        point = page.locator("#results-table tbody tr").last
        expect(point.locator("th")).to_have_text(f"{month:%b %Y}")
        expect(point.locator("td").nth(0)).to_have_text(str(met))
        expect(point.locator("td").nth(1)).to_have_text(str(n))
        expect(point.locator("td").nth(2)).to_have_text(re.compile(rf"^{re.escape(value)}"))
        assert problems.problems == []
    finally:
        context.close()
