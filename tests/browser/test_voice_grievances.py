"""A family member's complaint, from the public form to a classified grievance (issue 20), in real
Chromium: at a phone's size a daughter files a complaint without an account and gets a receipt
code, then follows it with the code; pr.pablo (patient relations) finds it on his home page and in
the received list, reports a safety event from it in one step (it alleges harm), classifies it as
a grievance and sees the days left on its clock."""

import re

from playwright.sync_api import expect

from .conftest import watch
from .test_signin import main_nav, sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
CODE = re.compile(r"[0-9A-F]{4}(?:-[0-9A-F]{4}){3}")
WHAT = "My mother fell trying to reach the bathroom at night; the call bell was out of reach."


def _page(browser, context_args, extra):
    context = browser.new_context(**{**context_args, **extra})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page, watch(page)


def _choose(select, text):
    select.select_option(select.locator("option", has_text=text).first.get_attribute("value"))


def test_a_family_member_complains_and_patient_relations_classifies_it(browser, browser_context_args, demo):
    from andon.voice.models.grievances import Grievance

    contexts, watchers = [], []
    try:
        # --- 1. A daughter files a complaint on her phone, without an account -------------------
        phone, family, family_watch = _page(browser, browser_context_args, PHONE)
        contexts.append(phone)
        watchers.append(("family member", family_watch))
        family.goto(demo + "/")
        link = main_nav(family).get_by_role("link", name="Make a complaint", exact=True)
        if not link.is_visible():  # the phone's menu is folded
            family.get_by_role("button", name=re.compile("menu", re.I)).first.click()
        link.click()
        expect(family.get_by_role("heading", level=1)).to_have_text("Make a complaint")
        family.get_by_label("What happened?").fill(WHAT)
        _choose(family.get_by_label("Where did it happen?"), "4 West Medical")
        family.get_by_label("The patient's name").fill("Margaret Doe")
        family.get_by_label("Your name").fill("Helen Doe")
        family.get_by_label("You are the patient's…").fill("Daughter")
        family.get_by_label("How should we answer you?").fill("helen.doe@example.org")
        family.get_by_role("button", name="Send the complaint").click()
        expect(family.get_by_role("heading", level=1)).to_have_text("Thank you: your complaint is received")
        code = CODE.search(family.locator("#receipt-code").inner_text()).group(0)
        grievance = Grievance.objects.get(description=WHAT)
        assert grievance.status == "received" and grievance.logged_by is None

        # --- 2. She follows it with the code: the status and the day, nothing else ---------------
        family.locator("main").get_by_role("link", name="Follow a complaint").click()
        family.get_by_label("Your receipt code").fill(code.lower())
        family.get_by_role("button", name="Look it up").click()
        card = family.get_by_role("region", name="Your complaint")
        expect(card).to_contain_text("Received: patient relations will read it soon.")
        expect(card).not_to_contain_text("Margaret")

        # --- 3. Patient relations: the home page's work, the received list, the record -----------
        desk, pablo, pablo_watch = _page(browser, browser_context_args, DESKTOP)
        contexts.append(desk)
        watchers.append(("patient relations", pablo_watch))
        sign_in(pablo, demo, "pr.pablo")
        expect(pablo.locator("main")).to_contain_text("from the web form to classify")
        main_nav(pablo).get_by_role("link", name="Complaints and grievances").click()
        pablo.get_by_label("Status").select_option(label="Received")
        pablo.get_by_role("button", name="Filter").click()
        pablo.get_by_role("link", name=grievance.reference).click()
        expect(pablo.get_by_role("heading", level=1)).to_contain_text(grievance.reference)
        expect(pablo.locator("main")).to_contain_text("A written complaint is always a grievance")

        # It alleges harm: classifying it first is refused, with the reason.
        pablo.get_by_role("link", name="Classify").click()
        pablo.get_by_label("Safety (alleges harm)").check()
        _choose(pablo.get_by_label("Unit concerned"), "4 West Medical")
        pablo.get_by_role("button", name="Save and open").click()
        expect(pablo.locator("main")).to_contain_text("alleges harm: link a safety event or open one")

        # --- 4. Report the safety event in one step, then classify ---------------------------------
        pablo.get_by_role("link", name=grievance.reference).click()
        pablo.get_by_role("link", name="Report a safety event from it").click()
        pablo.get_by_label("Kind").select_option(label="Incident (reached the patient)")
        pablo.get_by_label("Category").select_option(label="Other")
        pablo.get_by_label("Harm").select_option(label="Unknown")
        pablo.get_by_role("button", name="Report and link the event").click()
        expect(pablo.locator("#events-heading + ul")).to_contain_text("(your report)")
        pablo.get_by_role("link", name="Classify").click()
        pablo.get_by_label("Safety (alleges harm)").check()
        pablo.get_by_label("Care and treatment").check()
        _choose(pablo.get_by_label("Unit concerned"), "4 West Medical")
        pablo.get_by_label("I handle it (owner: me)").check()
        pablo.get_by_role("button", name="Save and open").click()
        expect(pablo.get_by_role("heading", level=1)).to_contain_text("Open")
        expect(pablo.locator("#days-left")).to_contain_text("7 days left")
        grievance.refresh_from_db()
        assert grievance.status == "open" and grievance.owner.username == "pr.pablo"
        assert grievance.safety_events.count() == 1
    finally:
        for context in contexts:
            context.close()
    # The refused classification (400, the harm rule) is the one answer the browser may report.
    problems = [f"{who}: {problem}" for who, watcher in watchers for problem in watcher.problems
                if not ("status of 400" in problem and "/classify/" in problem)]
    assert not problems, "The browser reported problems:\n" + "\n".join(problems)
