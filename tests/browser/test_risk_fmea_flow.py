"""An FMEA in real Chromium (issue 17): a quality analyst starts one from the menu, picks her team
by searching (the first person ticked stays ticked through the next search), draws a step, a
failure mode and a cause in place, scores it over the threshold, adds an action, re-scores it
after the action and sees the RPN fall."""

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from .test_compliance_flow import DESKTOP, _choose, _page
from .test_signin import expect_home, main_nav, sign_in


def _form(page, button: str):
    return page.locator("form", has=page.get_by_role("button", name=button))


def test_a_team_scores_a_failure_mode_acts_on_it_and_sees_the_rpn_fall(browser, browser_context_args, demo):
    from andon.actions.models import Action
    from andon.risk.models import Assessment, FailureCause

    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "analyst.jo")
        expect_home(page, demo, "Jo")
        main_nav(page).get_by_role("link", name="Proactive risk").click()
        expect(page.locator("main")).to_contain_text(
            f"No proactive risk assessment has been completed in {timezone.localdate().year} yet.")
        page.get_by_role("link", name="Start an assessment").click()
        page.get_by_label("Process studied").fill("Preparing IV potassium on the ward")
        _choose(page.get_by_label("Where the process runs"), re.compile(r"Pharmacy"))
        expect(page.get_by_role("radio", name=re.compile(r"Jo Williams"))).to_be_checked()
        team = page.get_by_label("Team", exact=True)
        team.fill("Patel")
        page.get_by_role("checkbox", name=re.compile(r"Dev Patel")).check()
        team.fill("Hassan")
        page.get_by_role("checkbox", name=re.compile(r"Fatima Hassan")).check()
        expect(page.get_by_role("checkbox", name=re.compile(r"Dev Patel"))).to_be_checked()
        page.get_by_role("button", name="Start the assessment").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Preparing IV potassium on the ward")
        assessment = Assessment.objects.get(title="Preparing IV potassium on the ward")
        assert sorted(p.username for p in assessment.team.all()) == ["mgr.fatima", "pharm.dev"]

        page.get_by_text("Add a step or sub-step").click()
        _form(page, "Add the step").get_by_label("Step").fill("Verify the order")
        page.get_by_role("button", name="Add the step").click()
        expect(page.get_by_role("heading", name="1 Verify the order")).to_be_visible()
        page.get_by_role("link", name="Add a failure mode to step 1").click()
        _form(page, "Add the failure mode").get_by_label("Failure mode").fill("Wrong concentration selected")
        page.get_by_role("button", name="Add the failure mode").click()
        page.get_by_role("link", name=re.compile(r"^Add a cause")).click()
        _form(page, "Add the cause").get_by_label("Cause").fill("Look-alike vials side by side")
        page.get_by_role("button", name="Add the cause").click()

        page.get_by_role("link", name=re.compile(r"^Score")).click()  # the form comes in place
        scores = _form(page, "Save the scores")
        for label, value in (("Severity (1–10)", "8"), ("Occurrence (1–10)", "4"), ("Detection (1–10)", "5")):
            scores.get_by_label(label).select_option(value)
        scores.get_by_role("button", name="Save the scores").click()
        expect(page.locator("#fmea-worksheet")).to_contain_text("Acted on RPN 160 ≥ 100")

        page.get_by_role("link", name=re.compile(r"^Add an action")).click()
        action = _form(page, "Add the action")
        action.get_by_label("Action").fill("Store the concentrations apart")
        action.get_by_label("Owner").fill("Patel")
        action.get_by_role("radio", name=re.compile(r"Dev Patel")).check()
        action.get_by_label("Due date").fill((timezone.localdate() + timedelta(days=30)).isoformat())
        action.get_by_label("Strength").select_option(label="Stronger")
        action.get_by_label("Measure").fill("No look-alike vials side by side at the monthly check")
        action.get_by_role("button", name="Add the action").click()
        expect(page.get_by_role("link", name="Store the concentrations apart")).to_be_visible()

        page.get_by_role("link", name=re.compile(r"^Score")).click()
        scores = _form(page, "Save the scores")
        expect(scores.get_by_label("Stage")).to_have_value("after")
        for label, value in (("Severity (1–10)", "8"), ("Occurrence (1–10)", "2"), ("Detection (1–10)", "3")):
            scores.get_by_label(label).select_option(value)
        scores.get_by_role("button", name="Save the scores").click()
        expect(page.locator("#fmea-worksheet")).to_contain_text("RPN before the actions 160 → after them 48")
        cause = FailureCause.objects.get(description="Look-alike vials side by side")
        assert (cause.rpn, cause.act) == (48, False)
        assert Action.objects.get(title="Store the concentrations apart").owner.username == "pharm.dev"
        assert problems.problems == []
    finally:
        context.close()
