"""Clinical audit data entry in real Chromium at a phone's size (issue 18): auditor.mia opens the
demo's re-audit from her home page, answers a case criterion by criterion with the large choices,
saves and is taken to her next case; the answers are stored, and nothing is wider than the screen."""

from playwright.sync_api import expect

from andon.improvement.models import Audit, CaseAnswer

from .conftest import watch
from .test_signin import expect_home, sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_an_auditor_answers_a_case_on_a_phone(demo, browser):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems = watch(page)
    sign_in(page, demo, "auditor.mia")
    expect_home(page, demo, "Mia")
    audit = Audit.objects.get(title="Hand hygiene, 4 West: re-audit")
    criteria = list(audit.tool.criteria.filter(active=True).order_by("number"))
    first, second = audit.cases.order_by("position")[:2]
    page.get_by_role("link", name="Audit to collect: Hand hygiene, 4 West: re-audit").click()
    expect(page.get_by_text("10 cases left to answer.")).to_be_visible()
    page.get_by_role("link", name=f"Case 1: {first.label}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case 1: {first.label}")
    answers = ["met", "met", "not_met", "met", "na"]
    for criterion, answer in zip(criteria, answers, strict=True):
        page.locator(f"label[for='c{criterion.pk}-{answer}']").click()
    page.get_by_label("Note (optional)").nth(2).fill("Gloves on, no hand rub after")
    page.locator("details", has_text="Guidance").first.locator("summary").click()
    expect(page.get_by_text(criteria[0].guidance)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
    page.get_by_role("button", name="Save and next").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case 2: {second.label}")
    stored = {a.criterion.number: (a.answer, a.note, a.auditor.username)
              for a in CaseAnswer.objects.filter(case=first).select_related("criterion", "auditor")}
    assert stored == {1: ("met", "", "auditor.mia"), 2: ("met", "", "auditor.mia"),
                      3: ("not_met", "Gloves on, no hand rub after", "auditor.mia"),
                      4: ("met", "", "auditor.mia"), 5: ("na", "", "auditor.mia")}
    assert problems.problems == []
    context.close()
