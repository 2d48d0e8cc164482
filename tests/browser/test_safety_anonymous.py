"""An anonymous report without signing in, and the two-way questions through its receipt code
(issue 15, item 9), in real Chromium: someone at a shared workstation reports from the sign-in
page's link without an account and gets a receipt code; a patient safety officer asks a question
on the event; the reporter enters the code, reads the question and answers it; the officer reads
the answer on the event page."""

import re

from playwright.sync_api import expect

from .conftest import watch
from .test_signin import main_nav, sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
CODE = re.compile(r"[0-9A-F]{4}(?:-[0-9A-F]{4}){3}")
QUESTION = "Which cupboard were the two vials in, and were they labelled?"
ANSWER = "The drug cupboard in the clean utility room, second shelf; both labels faced the wall."


def _page(browser, context_args, extra):
    context = browser.new_context(**{**context_args, **extra})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page, watch(page)


def test_anonymous_report_without_sign_in_gets_a_question_and_answers_it(browser, browser_context_args, demo):
    from andon.safety.models import ReporterQuestion, SafetyEvent

    contexts, watchers = [], []
    try:
        # --- 1. Someone without an account reports from a shared workstation (a phone here) ------
        phone, someone, someone_watch = _page(browser, browser_context_args, PHONE)
        contexts.append(phone)
        watchers.append(("anonymous reporter", someone_watch))
        someone.goto(demo + "/")
        expect(someone.get_by_role("heading", level=1)).to_have_text("Sign in to Andon")
        link = main_nav(someone).get_by_role("link", name="Report an event anonymously", exact=True)
        expect(link).to_be_visible()  # in the bar, one tap away, without opening a menu
        link.click()
        expect(someone.get_by_role("heading", level=1)).to_have_text("Report a safety event anonymously")
        someone.get_by_role("radio", name="Near miss (did not reach the patient)").check()
        unit = someone.get_by_label("Unit where it happened")
        unit.select_option(unit.locator("option", has_text=re.compile(r"^\W*4 West Medical$")).get_attribute("value"))
        someone.get_by_label("Category").select_option(label="Other")
        someone.get_by_label("What happened?").fill("Two vials of potassium chloride were stored beside the saline.")
        someone.get_by_label("Where exactly? (optional)").fill("Clean utility room")
        someone.get_by_role("button", name="Send report").click()
        expect(someone.get_by_role("heading", level=1)).to_have_text("Thank you: your anonymous report is sent")
        code = CODE.search(someone.locator("code.token-value").inner_text()).group(0)
        event = SafetyEvent.objects.get(is_anonymous=True, narrative__startswith="Two vials of potassium")
        assert event.reporter is None and event.location_detail == "Clean utility room"

        # --- 2. The patient safety officer asks a question on the event page ---------------------
        desk, officer, officer_watch = _page(browser, browser_context_args, DESKTOP)
        contexts.append(desk)
        watchers.append(("officer", officer_watch))
        sign_in(officer, demo, "pso.hana")
        expect(officer.get_by_role("heading", level=1)).to_contain_text("Good to see you")
        officer.goto(f"{demo}/safety/events/{event.pk}/")
        expect(officer.get_by_role("heading", level=1)).to_have_text(event.reference)
        officer.get_by_label("Question to the reporter").fill(QUESTION)
        officer.get_by_role("button", name="Ask the reporter").click()
        expect(officer.get_by_role("status").first).to_contain_text("The question is sent")
        questions = officer.locator("#questions")
        expect(questions).to_contain_text(QUESTION)
        expect(questions).to_contain_text("Not answered yet.")

        # --- 3. The reporter enters the code, reads the question and answers it -----------------
        someone.goto(demo + "/safety/receipt/")
        someone.get_by_label("Receipt code").fill(code.lower())
        someone.get_by_role("button", name="Show my report").click()
        asked = someone.locator("#questions")
        expect(asked).to_contain_text(QUESTION)
        expect(asked).not_to_contain_text("Hana")  # who asked is not the reporter's to know
        someone.get_by_label("Your answer").fill(ANSWER)
        someone.get_by_role("button", name="Send my answer").click()
        expect(someone.get_by_role("status").first).to_contain_text("your answer is sent")
        expect(someone.locator("#questions")).to_contain_text(ANSWER)
        expect(someone.get_by_role("button", name="Send my answer")).to_have_count(0)
        assert ReporterQuestion.objects.get(event=event).answer == ANSWER

        # --- 4. The officer reads the answer --------------------------------------------------------
        officer.reload()
        expect(officer.locator("#questions .reporter-answer")).to_have_text(ANSWER)
    finally:
        for context in contexts:
            context.close()
    problems = [f"{who}: {problem}" for who, watcher in watchers for problem in watcher.problems]
    assert not problems, "The browser reported problems:\n" + "\n".join(problems)
