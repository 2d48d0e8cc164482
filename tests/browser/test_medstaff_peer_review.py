"""Peer review in real Chromium (issue 19 item 6): pso.hana refers a 4 West safety event to peer
review from the event's page; prc.zara, the committee's chair, assigns dr.yusuf; dr.yusuf, the
hospitalist peer reviewer, opens the case from his home page and scores it; prc.zara decides it and
the practitioner's letter is ready; pso.hana, who referred it, sees on the event only that it was
referred, and is refused the case."""

import re

from django.utils import timezone
from playwright.sync_api import expect

from andon.medstaff.models import PeerReview, PeerReviewCase, PeerReviewStatus

from .conftest import watch
from .test_signin import expect_home, sign_in

DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def _person(browser, demo, username, first_name):
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    page.set_default_timeout(10_000)
    watcher = watch(page)
    sign_in(page, demo, username)
    expect_home(page, demo, first_name)
    return context, page, watcher


def test_a_referred_event_is_scored_decided_and_refused_to_the_safety_officer(demo, browser):
    from andon.medstaff.models import Practitioner
    from andon.safety.models import SafetyEvent

    referred = set(PeerReviewCase.objects.exclude(safety_event=None).values_list("safety_event_id", flat=True))
    event = SafetyEvent.objects.filter(unit__facility__code="rgh", unit__code="4w").exclude(pk__in=referred).first()
    subject = Practitioner.objects.filter(department__facility__code="rgh", department__code="medicine",
                                          user=None).exclude(group="Riverside Hospitalists").first()
    watchers = []

    context, page, watcher = _person(browser, demo, "pso.hana", "Hana")
    watchers.append(("pso.hana", watcher))
    page.goto(f"{demo}/safety/events/{event.pk}/")
    page.locator("#main").get_by_role("link", name="Refer to peer review").click()
    page.locator("select[name=practitioner]").select_option(label=f"{subject.name} ({subject.department})")
    page.locator("textarea[name=summary]").fill("Patient on 4 West developed a pulmonary embolism on day 4; "
                                                "no VTE prophylaxis was prescribed on admission.")
    page.get_by_role("button", name="Refer").click()
    case = PeerReviewCase.objects.get(safety_event=event)
    assert (case.practitioner, case.status, case.referred_by.username) == (subject, PeerReviewStatus.REFERRED,
                                                                           "pso.hana")
    context.close()

    context, page, watcher = _person(browser, demo, "prc.zara", "Zara")
    watchers.append(("prc.zara", watcher))
    page.goto(f"{demo}/medstaff/peer-review/{case.pk}/")
    page.get_by_label(re.compile("Yusuf Demir")).check()
    page.get_by_role("button", name="Assign").click()
    case.refresh_from_db()
    assert case.status == PeerReviewStatus.ASSIGNED
    context.close()

    context, page, watcher = _person(browser, demo, "dr.yusuf", "Yusuf")
    watchers.append(("dr.yusuf", watcher))
    page.get_by_role("link", name=f"Review {case.reference}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(case.reference)
    page.get_by_label("3: Most peers would have handled the case differently").check()
    page.get_by_label("none: No system issue contributed").check()
    page.get_by_label("A documentation issue").check()
    page.locator("textarea[name=documentation_note]").fill("No VTE risk assessment recorded on admission.")
    page.locator("textarea[name=narrative]").fill("Prophylaxis was indicated on admission; most peers would "
                                                  "have assessed the risk and prescribed it.")
    page.get_by_role("button", name="Submit the review").click()
    expect(page.get_by_text("Your review is recorded.")).to_be_visible()
    review = PeerReview.objects.get(assignment__case=case)
    assert (review.care_level, review.system_level, review.documentation_issue) == ("3", "none", True)
    context.close()

    context, page, watcher = _person(browser, demo, "prc.zara", "Zara")
    watchers.append(("prc.zara", watcher))
    page.get_by_role("link", name="Peer review", exact=True).first.click()
    page.get_by_role("link", name=case.reference).click()
    expect(page.get_by_text("Prophylaxis was indicated on admission")).to_be_visible()
    decision = page.locator("form[action$='/decide/']")
    decision.get_by_label("3: Most peers would have handled the case differently").check()
    decision.get_by_label("none: No system issue contributed").check()
    decision.locator("textarea[name=committee_note]").fill("Assess VTE risk on every admission.")
    decision.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_text("The decision is recorded and the practitioner told.")).to_be_visible()
    expect(page.get_by_role("link", name="Feedback letter (PDF)")).to_be_visible()
    case.refresh_from_db()
    assert (case.status, case.outcome, case.decided_on) == (PeerReviewStatus.DECIDED, "3", timezone.localdate())
    context.close()

    context, page, watcher = _person(browser, demo, "pso.hana", "Hana")
    watchers.append(("pso.hana", watcher))
    page.goto(f"{demo}/safety/events/{case.safety_event_id}/")
    referral = page.locator("[data-peer-review-referral]")
    expect(referral).to_have_text(re.compile(rf"Referred to medical staff peer review on .* \({case.reference}\)\."))
    expect(page.get_by_text("Prophylaxis was indicated")).to_have_count(0)
    response = page.goto(f"{demo}/medstaff/peer-review/{case.pk}/")
    assert response.status == 403
    expect(page.get_by_text("A peer review case is read by the peer review committee")).to_be_visible()
    context.close()

    # The refused page is the one resource the browser may report as failing to load.
    problems = [f"{who}: {problem}" for who, w in watchers for problem in w.problems
                if not (who == "pso.hana" and "status of 403" in problem)]
    assert problems == []
