"""The safety loop end to end, in real Chromium (issue 3): a nurse reports a fall at a
phone-sized viewport; a patient safety officer triages it as SAC 3; an RCA with a fishbone and
two actions is recorded, edited in place (no reload) and signed off, and exported as a PDF (issue 15);
the event closes, saying why its actions are still open; the nurse reads the feedback."""

import io
import re
import time
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest
from django.utils import dateformat, timezone
from playwright.sync_api import Page, expect

from .conftest import watch
from .test_signin import expect_home, main_nav, sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
REFERENCE = re.compile(r"EV-\d{4}-\d{6}")
ROOT_CAUSE = ("Bed alarms and call bells are not on the night round checklist, so patients at risk of falling "
              "are left without an alarm or a way to call for help, which made an unassisted fall more likely.")

NARRATIVE = ("Patient found on the floor beside the bed at 03:10, bed rails down, call bell out of reach. "
             "Laceration to the forehead needing sutures.")
CLOSING_SUMMARY = ("Thank you for reporting this fall. We looked at how night-time checks, bed alarms and "
                   "call bells work on the ward. Bed alarms are now switched on for every patient at risk of "
                   "falling, and call bells are checked at each hourly round.")


def _yesterday() -> str:
    return (timezone.localdate() - timedelta(days=1)).isoformat()


def _local(moment) -> str:
    """A datetime as the pages show it (`|date:"Y-m-d H:i"` in the site's time zone)."""
    return dateformat.format(timezone.localtime(moment), "Y-m-d H:i")


def _new_page(browser, context_args: dict, extra: dict):
    context = browser.new_context(**{**context_args, **extra})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page, watch(page)


def _post_from_page(page: Page, path: str) -> None:
    """Submit an empty POST form to `path` from inside the page (with the page's CSRF token),
    as a button there would. Only used where the app offers no button (see `gaps`)."""
    with page.expect_navigation():
        page.locator("body").evaluate(
            """(body, path) => {
                 const token = JSON.parse(body.getAttribute("hx-headers"))["X-CSRFToken"];
                 const form = document.createElement("form");
                 form.method = "post";
                 form.action = path;
                 const input = document.createElement("input");
                 input.type = "hidden"; input.name = "csrfmiddlewaretoken"; input.value = token;
                 form.appendChild(input);
                 body.appendChild(form);
                 form.submit();
               }""",
            path,
        )


def _dd(region, term: str):
    """The description of a term in a definition list."""
    return region.locator(f"dt:text-is('{term}') + dd")


def _form(page: Page, button: str):
    """One of the RCA page's small forms, found by its submit button."""
    return page.locator("form").filter(has=page.get_by_role("button", name=button, exact=True))



def open_phone_menu(page):
    """Open the collapsed navigation and wait until it has finished opening: a click during
    Bootstrap's slide-down, on a machine under load, can land where a link was a moment ago."""
    toggler = page.get_by_role("button", name="Show navigation")
    toggler.click()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))

def test_fall_reported_on_a_phone_triaged_investigated_closed_and_fed_back(browser, browser_context_args, demo):
    from andon.safety.models import SafetyEvent

    gaps: list[str] = []  # missing ways through the pages, worked around so the rest still runs
    contexts, watchers = [], []
    try:
        # --- 1. The nurse reports a fall on her phone ---------------------------------------------
        phone_context, nurse, nurse_watch = _new_page(browser, browser_context_args, PHONE)
        contexts.append(phone_context)
        watchers.append(("nurse (phone)", nurse_watch))
        sign_in(nurse, demo, "nurse.ana")
        expect_home(nurse, demo, "Ana")

        toggler = nurse.get_by_role("button", name="Show navigation")
        expect(toggler).to_be_visible()
        # Reporting is one tap away (issue 15, item 9): in the bar, outside the collapsed menu,
        # and on the home page.
        expect(nurse.locator("#home-report")).to_be_visible()
        report_button = main_nav(nurse).get_by_role("link", name="Report an event", exact=True)
        expect(report_button).to_be_visible()
        report_button.click()

        expect(nurse).to_have_url(demo + "/safety/report/")
        expect(nurse.get_by_role("heading", level=1)).to_have_text("Report a safety event")
        started = time.perf_counter()

        nurse.get_by_role("radio", name="Incident (reached the patient)").check()
        unit = nurse.get_by_label("Unit where it happened")
        unit_value = unit.locator("option", has_text=re.compile(r"^\W*4 West Medical$")).get_attribute("value")
        unit.select_option(unit_value)
        nurse.get_by_label("Category").select_option(label="Fall")
        injury = nurse.get_by_label("Injury from the fall")  # the category's fields, loaded with htmx
        expect(injury).to_be_visible()
        expect(nurse.locator("#category-fields")).to_contain_text("Fall: details")
        harm = nurse.get_by_role("radio", name=re.compile(r"^Moderate harm"))
        expect(harm).to_be_visible()  # harm is asked for incidents only
        harm.check()
        injury.select_option(label="Moderate (sutures, splinting, muscle or joint strain)")
        nurse.get_by_label("What happened?").fill(NARRATIVE)
        nurse.get_by_role("button", name="Send report").click()

        # Answered in place, as an anonymous report is; the report's own page is one link away.
        expect(nurse.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Thank you: your report EV-\d{4}-\d{6} is sent$"))
        nurse.get_by_role("link", name="Follow your report").click()
        expect(nurse).to_have_url(re.compile(re.escape(demo) + r"/safety/my-reports/\d+/$"))
        heading = nurse.get_by_role("heading", level=1)
        expect(heading).to_have_text(re.compile(r"^Your report EV-\d{4}-\d{6}$"))
        reporting_seconds = time.perf_counter() - started
        print(f"\nReporting a fall on a phone took {reporting_seconds:.1f} s from opening the form to the receipt.")
        reference = REFERENCE.search(heading.inner_text()).group(0)
        body = nurse.locator("main")
        expect(body).to_contain_text("Received")
        expect(body).to_contain_text("Moderate harm")
        expect(body).to_contain_text("Moderate (sutures, splinting, muscle or joint strain)")
        expect(body).to_contain_text("4 West Medical (")
        expect(nurse.locator(".narrative")).to_have_text(NARRATIVE)
        event = SafetyEvent.objects.get(reference=reference)
        assert (event.kind, event.category, event.harm) == ("incident", "fall", "moderate")
        assert event.details["injury_level"] == "moderate"

        # --- 2. The patient safety officer triages it as SAC 3 --------------------------------------
        desk_context, pso, pso_watch = _new_page(browser, browser_context_args, DESKTOP)
        contexts.append(desk_context)
        watchers.append(("officer (desktop)", pso_watch))
        sign_in(pso, demo, "pso.hana")
        expect_home(pso, demo, "Hana")
        main_nav(pso).get_by_role("link", name="Triage", exact=True).click()
        expect(pso.get_by_role("heading", level=1)).to_have_text("Triage queue")
        row = pso.get_by_role("row").filter(has=pso.get_by_role("link", name=reference, exact=True))
        expect(row).to_contain_text("4 West Medical")
        expect(row).to_contain_text("Fall")
        expect(row).to_contain_text("Moderate harm")
        expect(row).to_contain_text("Submitted")
        row.get_by_role("link", name=reference, exact=True).click()

        expect(pso).to_have_url(f"{demo}/safety/events/{event.pk}/")
        expect(pso.get_by_role("heading", level=1)).to_have_text(reference)
        expect(pso.locator("[data-reporter]")).to_have_text("Ana Alvarez")
        triage = pso.get_by_role("region", name="Triage", exact=True)
        expect(triage.get_by_label("Category")).to_have_value("fall")
        expect(triage.get_by_role("radio", name=re.compile(r"^Moderate harm"))).to_be_checked()
        triage.get_by_role("radio", name=re.compile(r"^Catastrophic:")).check()
        triage.get_by_role("radio", name=re.compile(r"^Occasional:")).check()
        triage.get_by_role("radio", name="Root cause analysis (RCA²)").check()
        triage.get_by_label("Reason").fill("Fall with injury needing sutures; bed alarm not set. SAC 3: RCA required.")
        triage.get_by_role("button", name="Record the triage").click()

        expect(pso).to_have_url(f"{demo}/safety/events/{event.pk}/")
        expect(pso.get_by_role("status")).to_contain_text("The triage is recorded.")
        result = pso.get_by_role("region", name="Triage result")
        expect(_dd(result, "SAC")).to_have_text("SAC 3 (VA NCPS Safety Assessment Code: 3 is the highest risk)")
        expect(_dd(result, "Severity")).to_have_text(re.compile(r"^Catastrophic: "))
        expect(_dd(result, "Probability")).to_have_text("Occasional: several times in 1 to 2 years")
        expect(_dd(result, "Review")).to_have_text("Root cause analysis (RCA²)")
        expect(_dd(result, "Sentinel event")).to_have_text("No")
        expect(_dd(result, "Triaged")).to_have_text(re.compile(r" by Hana Kim$"))
        event.refresh_from_db()
        assert event.sac_score == 3 and event.status == "investigation"
        assert event.rca_start_due - event.triaged_at == timedelta(hours=72)
        expect(_dd(result, "RCA start due")).to_have_text(_local(event.rca_start_due))
        expect(_dd(result, "RCA complete due")).to_have_text(_local(event.rca_complete_due))
        expect(pso.locator("h1 + .badge")).to_have_text("Under investigation (RCA)")

        # Start the RCA: a button on the event page (or the RCA page) would do it.
        start = pso.get_by_role("button", name=re.compile(r"start.*(rca|root cause)", re.I))
        if start.count():
            start.first.click()
        else:
            gaps.append("The event page has no button to start the RCA (POST safety:start_investigation); "
                        "no template posts to it.")
            _post_from_page(pso, f"/safety/events/{event.pk}/rca/start/")
        rca_url = f"{demo}/safety/events/{event.pk}/rca/"
        expect(pso).to_have_url(rca_url)
        expect(pso.get_by_role("heading", level=1)).to_have_text(f"Root cause analysis of {reference}")
        expect(pso.get_by_role("region", name="Team")).to_contain_text("Hana Kim · Lead")
        event.refresh_from_db()
        assert event.rca_started_at is not None

        # A fact, a 5-whys chain, two contributing factors on two bones, a root cause.
        fact = _form(pso, "Add fact")
        fact.get_by_label("When").fill(f"{_yesterday()}T03:10")  # a fixed hour today may not have come yet
        fact.get_by_label("What happened").fill("Patient found on the floor beside the bed; bed alarm off.")
        fact.get_by_role("button", name="Add fact").click()
        expect(pso.get_by_role("region", name="Timeline of facts")).to_contain_text(
            "Patient found on the floor beside the bed; bed alarm off.")

        why = _form(pso, "Add chain")
        why.get_by_label("Problem").fill("The patient fell getting out of bed at night")
        why.get_by_label("Why? Why? Why?").fill(
            "She got up alone to go to the toilet\nThe call bell was out of reach\n"
            "Nobody checks the call bell at the night round\nThe round checklist has no call-bell line")
        why.get_by_role("button", name="Add chain").click()
        whys = pso.get_by_role("region", name="5 whys")
        expect(whys).to_contain_text("The patient fell getting out of bed at night")
        expect(whys.locator("ol li")).to_have_text([
            "Why? She got up alone to go to the toilet", "Why? The call bell was out of reach",
            "Why? Nobody checks the call bell at the night round", "Why? The round checklist has no call-bell line"])

        factors = pso.get_by_role("region", name="Contributing factors")
        for bone, description in (("Environment and equipment", "Bed alarm switched off and not checked"),
                                  ("Rules, policies and procedures", "Night round checklist omits the call bell")):
            form = _form(pso, "Add factor")
            form.get_by_label("Category (bone)").select_option(label=bone)
            form.get_by_label("Contributing factor").fill(description)
            form.get_by_role("button", name="Add factor").click()
            expect(_dd(factors, bone).locator("[data-rca-item]")).to_contain_text(description)
        expect(_dd(factors, "Human factors: fatigue and scheduling")).to_have_text("none found")

        cause = _form(pso, "Add root cause")
        cause.get_by_label("Root-cause statement").fill(
            "The night round checklist has no call-bell or bed-alarm check, so patients at risk of falling "
            "are left without a way to call for help, which increased the likelihood of an unassisted fall.")
        cause.get_by_role("button", name="Add root cause").click()
        expect(pso.get_by_role("region", name="Root causes").locator("ol li")).to_have_text(
            [re.compile(r"^The night round checklist has no call-bell or bed-alarm check")])

        # The worksheet edits in place (issue 15): edit the root cause, add a fact and remove it,
        # and the page is never reloaded (a mark left on the window survives).
        pso.evaluate("window.andonMark = 'not reloaded'")
        causes = pso.get_by_role("region", name="Root causes")
        causes.locator("summary", has_text="Edit this root cause").click()
        edit = causes.locator("form").filter(has=pso.get_by_role("button", name="Save", exact=True))
        edit.get_by_label("Root-cause statement").fill(ROOT_CAUSE)
        edit.get_by_role("button", name="Save", exact=True).click()
        expect(causes.locator("[data-root-cause]")).to_have_count(1)
        expect(causes.locator("[data-root-cause]").first).to_contain_text(ROOT_CAUSE)
        timeline = pso.get_by_role("region", name="Timeline of facts")
        fact = _form(pso, "Add fact")
        fact.get_by_label("When").fill(f"{_yesterday()}T03:20")
        fact.get_by_label("What happened").fill("Entered twice by mistake.")
        fact.get_by_role("button", name="Add fact").click()
        expect(timeline.locator("[data-rca-item]")).to_have_count(2)
        pso.once("dialog", lambda dialog: dialog.accept())  # "Remove this fact?"
        timeline.locator("[data-rca-item]", has_text="Entered twice by mistake.").get_by_role(
            "button", name="Remove this fact").click()
        expect(timeline.locator("[data-rca-item]")).to_have_count(1)
        expect(timeline).not_to_contain_text("Entered twice by mistake.")
        changes = pso.get_by_role("region", name="History of the worksheet")
        expect(changes).to_contain_text("Root cause changed from “The night round checklist has no call-bell")
        expect(changes).to_contain_text("Timeline fact removed:")
        assert pso.evaluate("window.andonMark") == "not reloaded", "the RCA page reloaded"

        fishbone = factors.get_by_role("img", name="Fishbone diagram of the contributing factors listed below")
        expect(fishbone).to_be_visible()
        width = 0
        for _ in range(50):
            width = fishbone.evaluate("img => img.complete ? img.naturalWidth : 0")
            if width:
                break
            pso.wait_for_timeout(100)
        assert width > 0, "the fishbone image did not load"

        # Two actions from the RCA: one stronger, one intermediate.
        due = (timezone.localdate() + timedelta(days=30)).isoformat()
        for title, strength, measure in (
            ("Bed alarms on for every patient at risk of falling", "stronger",
             "Share of at-risk patients with the alarm on at the night audit"),
            ("Add the call bell to the hourly round checklist", "intermediate",
             "Call bell within reach at each spot check"),
        ):
            form = _form(pso, "Add action")
            form.get_by_label("Action", exact=True).fill(title)
            form.get_by_label("Search owner (one person) by name, role or unit").fill("Hassan")
            form.get_by_role("radio", name=re.compile(r"^Fatima Hassan")).check()
            form.get_by_label("Due").fill(due)
            form.get_by_label("Strength (RCA² hierarchy)").select_option(strength)
            form.get_by_label("The measure that will show whether it worked").fill(measure)
            form.get_by_role("button", name="Add action").click()
            expect(pso.get_by_role("region", name="Actions")).to_contain_text(f"{title} · ")
        actions = pso.get_by_role("region", name="Actions")
        expect(actions).to_contain_text("Stronger or intermediate: 100% of 2 actions")
        expect(actions.locator("[data-rca-item]")).to_have_text([
            re.compile(rf"^Bed alarms on for every patient at risk of falling · Stronger · Fatima Hassan · due {due} · "
                       r"Planned\b"),
            re.compile(rf"^Add the call bell to the hourly round checklist · Intermediate · Fatima Hassan · due {due} · "
                       r"Planned\b"),
        ])

        pso.get_by_label("Summary of the analysis").fill(
            "Missing night-time call-bell and bed-alarm checks; two system actions agreed.")
        pso.get_by_role("button", name="Complete the analysis").click()
        expect(pso).to_have_url(f"{demo}/safety/events/{event.pk}/")
        expect(pso.locator("h1 + .badge")).to_have_text("Action planning")
        to_rca = pso.locator("main").get_by_role("link", name=re.compile(r"root cause analysis|\bRCA\b", re.I))
        if not to_rca.count():
            gaps.append("The event page has no link to its root cause analysis (safety:investigation), "
                        "so the RCA page is reachable only by typing its address.")

        # Sign-off: the lead signs the findings on the RCA page, the CQO approves; the PDF holds both.
        pso.goto(rca_url)
        pso.get_by_role("button", name="Sign the findings as the lead").click()
        expect(pso.get_by_role("status")).to_contain_text("You signed the findings of the analysis.")
        from andon.platform.models import User
        from andon.safety import rca
        from andon.safety.models import Investigation

        investigation = Investigation.objects.get(event=event)
        rca.approve_investigation(User.objects.get(username="cqo.olivia"), investigation)
        pso.reload()
        signoff = pso.locator("[data-signoff]")
        investigation.refresh_from_db()
        expect(_dd(signoff, "Findings signed by the lead")).to_have_text(f"Hana Kim, {_local(investigation.signed_at)}")
        expect(_dd(signoff, "Approved")).to_have_text(f"Olivia Grant, {_local(investigation.approved_at)}")
        with pso.expect_download() as download:
            pso.get_by_role("link", name="Export as PDF").click()
        data = Path(download.value.path()).read_bytes()
        assert data.startswith(b"%PDF-")
        text = " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages).split())
        assert ROOT_CAUSE in text
        assert f"Hana Kim, {_local(investigation.signed_at)}" in text
        assert f"Olivia Grant, {_local(investigation.approved_at)}" in text
        pso.goto(f"{demo}/safety/events/{event.pk}/")

        # Close the event, with the summary the reporter reads.
        move = pso.get_by_role("region", name="Move along the workflow")
        move.get_by_label("Reason").fill("RCA complete; actions assigned and tracked.")
        move.get_by_label("Closing summary for the reporter").fill(CLOSING_SUMMARY)
        # Both actions are still planned: closing says why (issue 15).
        move.get_by_label("Why close with actions still open").fill(
            "The ward manager follows both actions up at the monthly falls meeting.")
        move.get_by_role("button", name="Close", exact=True).click()
        expect(pso).to_have_url(f"{demo}/safety/events/{event.pk}/")
        expect(pso.get_by_role("status")).to_contain_text("The event is now closed.")
        expect(pso.locator("h1 + .badge")).to_have_text("Closed")
        history = pso.get_by_role("table", name="Every move of the event, oldest first")
        expect(history.locator("tbody tr td:nth-child(2)")).to_have_text([
            "Submitted → In triage", "In triage → Under investigation (RCA)",
            "Under investigation (RCA) → Action planning", "Action planning → Closed"])

        # --- 3. The nurse reads the feedback, on her phone --------------------------------------
        nurse.goto(demo + "/")
        expect_home(nurse, demo, "Ana")
        main_nav(nurse).get_by_role("link", name="Report an event", exact=True).click()
        expect(nurse).to_have_url(demo + "/safety/report/")
        nurse.get_by_role("link", name="My reports", exact=True).click()
        expect(nurse.get_by_role("heading", level=1)).to_have_text("My reports")
        item = nurse.get_by_role("listitem").filter(has=nurse.get_by_role("link", name=reference, exact=True))
        expect(item).to_contain_text("New feedback")
        expect(item).to_contain_text("Review complete")
        expect(item).to_contain_text("Fall")
        item.get_by_role("link", name=reference, exact=True).click()

        expect(nurse).to_have_url(f"{demo}/safety/my-reports/{event.pk}/")
        expect(nurse.get_by_role("heading", level=1)).to_have_text(f"Your report {reference}")
        expect(nurse.get_by_role("region", name="Status")).to_contain_text("Review complete")
        feedback = nurse.get_by_role("region", name="Feedback from the patient safety team")
        closing = feedback.locator(".card").filter(has_text="Closing summary")
        expect(closing).to_have_count(1)
        expect(closing.locator("p.text-break")).to_have_text(CLOSING_SUMMARY)
        expect(feedback).to_contain_text("Your report is being investigated in depth (a root cause analysis).")
        # The reporter reads plain words, never the analysis.
        expect(nurse.locator("main")).not_to_contain_text("SAC")
        expect(nurse.locator("main")).not_to_contain_text("Catastrophic")
        expect(nurse.locator("main")).not_to_contain_text("night round checklist")
    finally:
        for context in contexts:
            context.close()

    problems = [f"{who}: {problem}" for who, watcher in watchers for problem in watcher.problems]
    if problems:
        pytest.fail("The browser reported problems:\n" + "\n".join(problems), pytrace=False)
    if gaps:
        pytest.fail("The flow could not be done through the pages alone:\n" + "\n".join(gaps), pytrace=False)
