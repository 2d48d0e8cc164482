"""The risk register in real Chromium (issue 17): the risk manager, asked onto the team of the
demo's retained-swab RCA, raises a risk in one step from its root cause (the form comes filled from
it), picks the owner by searching, scores it, links a measure of the library as its key risk
indicator and sees the measure's SPC verdict on the risk, adds a control with its assurance and
gaps, finds the risk counted on the heat map for its current and target scores and listed from
the cell, and escalates it level by level to the board assurance framework, which lists it with
its controls; the risk's page fits a phone."""

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from .test_compliance_flow import DESKTOP, PHONE, _page, _pick
from .test_signin import expect_home, main_nav, sign_in

ROOT_CAUSE = ("The swab count is not repeated when the scrub nurse changes during an operation. Nobody "
              "checks that the count was handed over.")
TITLE = "The swab count is not repeated when the scrub nurse changes during an operation"  # its first sentence
CONTROL = "Count repeated and signed at every change of scrub nurse"
SCORES = {"Inherent (before controls)": ("4", "4"), "Current (with the controls in place)": ("4", "2"),
          "Target (after the actions)": ("2", "1")}
MOVES = [("Facility", "Retained swabs would touch both hospitals' theatres: the facility's risk committee owns it."),
         ("Board assurance framework", "A never event: the board asked to see its controls and their assurance.")]


def _swab_analysis_with_a_root_cause():
    """The demo's retained-swab RCA, under way: its lead (the patient safety officer) asks the risk
    manager onto the team and states a root cause. A risk manager reads no safety record by role
    (patient safety work product): only an analysis's team does."""
    from andon.platform.models import User
    from andon.safety import rca
    from andon.safety.models import Investigation

    hana, noah = User.objects.get(username="pso.hana"), User.objects.get(username="risk.noah")
    investigation = Investigation.objects.select_related("event__unit").get(
        event__narrative__contains="retained swab", completed_at=None)
    rca.add_team_member(hana, investigation, noah, "expert")
    return investigation, rca.add_root_cause(hana, investigation, ROOT_CAUSE)


def _section(page, heading: str):
    return page.locator("section", has=page.get_by_role("heading", name=heading, exact=True))


def test_a_risk_manager_raises_a_risk_from_a_root_cause_and_takes_it_to_the_board(browser, browser_context_args,
                                                                                 demo):
    from andon.measures import services as measures
    from andon.risk.models import Control, Escalation, Risk, RiskLink, ScoreReason

    investigation, cause = _swab_analysis_with_a_root_cause()
    event = investigation.event
    verdict = measures.latest_verdict("readmission-30-day")
    assert verdict["code"] is not None  # the demo computed the measure: it has a verdict to show
    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "risk.noah")
        expect_home(page, demo, "Noah")
        page.get_by_role("link", name=f"Root cause analysis of {event.reference}: you are on its team").click()
        page.get_by_role("link", name="Raise a risk from this root cause").click()

        # The form comes filled from the root cause: its first sentence as the title, the cause, the place.
        expect(page.get_by_role("heading", level=1)).to_have_text("Raise a risk")
        expect(page.get_by_role("status")).to_contain_text(f"From a root cause of the analysis of {event.reference}")
        expect(page.get_by_label("Title")).to_have_value(TITLE)
        expect(page.get_by_label("Because of (the cause)")).to_have_value(ROOT_CAUSE)
        expect(page.get_by_label("Where the risk sits")).to_have_value(f"u{event.unit_id}")
        page.get_by_label("There is a risk that (the event)").fill("a swab is left inside a patient")
        page.get_by_label("Which would lead to (the effect)").fill("a return to theatre, infection and lasting harm")
        page.get_by_label("Category").select_option(label="Clinical")
        _pick(page, "Owner", "singh", re.compile(r"Peter Singh"))  # whom the search offers: readers of the place
        for group, (consequence, likelihood) in SCORES.items():
            scores = page.get_by_role("group", name=group)
            scores.get_by_label("Consequence").select_option(consequence)
            scores.get_by_label("Likelihood").select_option(likelihood)
        review_on = timezone.localdate() + timedelta(days=60)
        page.get_by_label("Next review").fill(review_on.isoformat())
        page.get_by_role("button", name="Raise the risk").click()

        expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
        risk = Risk.objects.get(title=TITLE)
        expect(page.get_by_role("heading", level=1)).to_have_text(f"{risk.reference} {TITLE}")
        expect(page.get_by_role("status").filter(has_text="is raised")).to_have_text(f"{risk.reference} is raised.")
        scores = _section(page, "Scores").get_by_role("row")
        for n, cells in enumerate((["4 Major", "4 Likely", "16", "Extreme"], ["4 Major", "2 Unlikely", "8", "High"],
                                   ["2 Minor", "1 Rare", "2", "Low"]), start=1):
            expect(scores.nth(n).get_by_role("cell")).to_have_text(cells)
        assert (risk.owner.username, risk.unit_id, risk.level, risk.category, risk.review_on) == (
            "cmo.peter", event.unit_id, "department", "clinical", review_on)
        assert (risk.inherent_score, risk.current_score, risk.target_score, risk.current_band, risk.target_band) == (
            16, 8, 2, "High", "Low")
        assert list(risk.scores.values_list("reason", "by__username", "current_score", "target_score")) == [
            (ScoreReason.RAISED, "risk.noah", 8, 2)]

        # The measure, chosen by its title from the library, as the key risk indicator.
        links = _section(page, "Links")
        links.get_by_text("Link a record").click()
        links.get_by_label("Link to").select_option(label="Measure")
        links.get_by_label("Measure", exact=True).select_option(label="30-day all-cause readmission (crude)")
        links.get_by_label("A key risk indicator (measures only)").check()
        links.get_by_role("button", name="Link", exact=True).click()
        indicator = _section(page, "Links").locator("[data-link=measure]")
        expect(indicator).to_contain_text("30-day all-cause readmission (crude)")
        expect(indicator).to_contain_text("Key risk indicator")
        expect(indicator.locator(f'[data-verdict="{verdict["code"]}"]')).to_contain_text(verdict["words"])
        linked = RiskLink.objects.filter(risk=risk).values_list("kind", "key", "indicator", "linked_by__username")
        assert sorted(linked) == [
            ("investigation", str(investigation.pk), False, "risk.noah"),
            ("measure", "readmission-30-day", True, "risk.noah"),
            ("root_cause", str(cause.pk), False, "risk.noah"),
            ("safety_event", str(event.pk), False, "risk.noah")]

        # A control with its owner (searched among the organisation's staff), assurance and gaps.
        controls = _section(page, "Controls")
        controls.get_by_text("Add a control").click()
        controls.get_by_label("The control").fill(CONTROL)
        _pick(page, "Owner", "kim", re.compile(r"Hana Kim"), within=controls)
        controls.get_by_label("Effect").select_option(label="Partly effective")
        controls.get_by_label(re.compile(r"^Assurance \(required\)")).select_option(
            label="Second line (oversight: quality, risk, compliance)")
        controls.get_by_label("Source of assurance").fill("Monthly count audit by the theatre manager")
        controls.get_by_label("Last tested").fill((timezone.localdate() - timedelta(days=7)).isoformat())
        controls.get_by_label("Control gap").fill("Not yet in the day surgery unit at Lakeside")
        controls.get_by_label("Assurance gap").fill("The audit looks at weekdays only")
        controls.get_by_role("button", name="Add the control").click()
        expect(_section(page, "Controls").locator("[data-control]")).to_contain_text(CONTROL)
        control = Control.objects.get(risk=risk)
        assert (control.owner.username, control.effect, control.assurance_level, control.control_gap) == (
            "pso.hana", "partly", "second", "Not yet in the day surgery unit at Lakeside")

        # The heat map counts it in its current cell and its target cell; the current cell lists it.
        main_nav(page).get_by_role("link", name="Risks", exact=True).click()
        page.get_by_role("navigation", name="The register").get_by_role("link", name="Heat map").click()
        current = page.locator('[data-chart="heat-current"]').get_by_role("link", name="2 Unlikely, 4 Major: 1")
        target = page.locator('[data-chart="heat-target"]').get_by_role("link", name="1 Rare, 2 Minor: 1")
        expect(target).to_have_count(1)
        current.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Risk register")
        listed = page.get_by_role("table", name="Risks of the register").locator("tbody tr")
        expect(listed).to_have_count(1)
        expect(listed.first).to_contain_text(risk.reference)
        listed.first.get_by_role("link", name=re.compile(risk.reference)).click()

        # Level by level, with a reason each time, up to the board assurance framework.
        for level, reason in MOVES:
            escalation = _section(page, "Escalation")
            escalation.get_by_label("Move to").select_option(label=level)
            escalation.get_by_label("Reason").fill(reason)
            escalation.get_by_role("button", name="Escalate or de-escalate").click()
            expect(page.get_by_text("The risk has moved.")).to_be_visible()
            expect(_section(page, "Escalation").locator("tbody tr").first).to_contain_text(reason)
        managed_at = page.locator("dt", has_text="Managed at").locator("xpath=following-sibling::dd[1]")
        expect(managed_at).to_have_text("Board assurance framework")
        assert list(Escalation.objects.filter(risk=risk).order_by("at", "pk").values_list(
            "from_level", "to_level", "by__username", "reason", "score_then")) == [
            ("department", "facility", "risk.noah", MOVES[0][1], 8), ("facility", "board", "risk.noah", MOVES[1][1], 8)]
        assert Risk.objects.get(pk=risk.pk).level == "board"

        main_nav(page).get_by_role("link", name="Risks", exact=True).click()
        tabs = page.get_by_role("navigation", name="The register")
        tabs.get_by_role("link", name="Board assurance framework").click()
        card = page.locator("section", has=page.get_by_role("heading", name=f"{risk.reference} {TITLE}"))
        expect(card).to_contain_text("Peter Singh")
        row = card.get_by_role("table", name=f"Controls of {risk.reference}").locator("tbody tr")
        expect(row).to_have_count(1)
        for words in (CONTROL, "Partly effective", "Second line", "Monthly count audit by the theatre manager",
                      "Control gap: Not yet in the day surgery unit at Lakeside",
                      "Assurance gap: The audit looks at weekdays only"):
            expect(row).to_contain_text(words)
        assert problems.problems == []
    finally:
        context.close()

    # The risk's page on a phone: nothing wider than the screen.
    context, page, problems = _page(browser, browser_context_args, PHONE)
    try:
        sign_in(page, demo, "risk.noah")
        expect_home(page, demo, "Noah")
        page.goto(f"{demo}/risk/risks/{risk.pk}/")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"{risk.reference} {TITLE}")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
        assert problems.problems == []
    finally:
        context.close()
