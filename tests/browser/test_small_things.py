"""Issue 15, friction 17, in a real browser: the events list and the token page fit a phone
(nothing scrolls sideways) and the list uses a desktop's width; the SAC matrix marks the cell
the officer picks; the keyboard focus ring is clearly visible."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from andon.platform.roles import Role

from .conftest import watch

PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1680, "height": 1000}}


@pytest.fixture
def officer_with_events(live_server, transactional_db, hospital, make_user, safety_taxonomy):
    from andon.safety import services as safety

    nurse = make_user(Role.STAFF_REPORTER, "rgh/4w")
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "rgh", username="pso.layout", first_name="Pat",
                        last_name="Okafor")
    for hours in (3, 5):
        safety.submit_report(nurse, safety.Report(
            kind="incident", category="fall", unit_id=hospital.unit("rgh/4w").pk,
            occurred_at=timezone.now() - timedelta(hours=hours), harm="mild",
            narrative="Patient found on the floor by the bed.", details={"injury_level": "minor", "assisted": "no"}))
    return officer


def _signed_in(browser, user, live_server, extra):
    """A browser context carrying a session of `user` that passed the second factor."""
    client = Client()
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [{"method": "mfa", "type": "totp", "at": 0}]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    context = browser.new_context(**extra)
    context.add_cookies([{"name": "sessionid", "value": session.session_key, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page, watch(page)


def _no_sideways_scroll(page):
    # Compared with the width the page was given, not innerWidth: on a mobile viewport Chromium
    # widens the layout to whatever overflows, and innerWidth grows with it.
    return page.evaluate("width => document.documentElement.scrollWidth <= width"
                         " && [...document.querySelectorAll('.table-responsive')]"
                         ".every(box => box.scrollWidth <= box.clientWidth + 1)", page.viewport_size["width"])


def test_the_events_list_fits_a_phone_and_uses_a_desktops_width(browser, live_server, officer_with_events):
    context, page, problems = _signed_in(browser, officer_with_events, live_server, PHONE)
    try:
        page.goto(live_server.url + "/safety/events/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Safety events")
        assert _no_sideways_scroll(page)
    finally:
        context.close()
    context, page, problems = _signed_in(browser, officer_with_events, live_server, DESKTOP)
    try:
        page.goto(live_server.url + "/safety/events/")
        assert page.locator("main").evaluate("main => main.getBoundingClientRect().width") > 1500
    finally:
        context.close()
    assert not problems.problems


def test_the_token_page_fits_a_phone(browser, live_server, transactional_db, make_user):
    from andon.platform.models import AccessToken

    analyst = make_user(Role.QUALITY_ANALYST, "")
    AccessToken.issue(analyst, "Nightly export to the data warehouse of the quality department")
    context, page, problems = _signed_in(browser, analyst, live_server, PHONE)
    try:
        page.goto(live_server.url + "/account/tokens/")
        page.get_by_label("Name").fill("Second token")
        page.get_by_role("button", name="Create token").click()
        expect(page.get_by_text("Copy this token now.")).to_be_visible()
        assert _no_sideways_scroll(page)
    finally:
        context.close()
    assert not problems.problems


def test_the_sac_matrix_marks_the_cell_picked_and_the_focus_ring_is_strong(browser, live_server, officer_with_events):
    from andon.safety.models import SafetyEvent

    event = SafetyEvent.objects.order_by("reported_at").first()
    context, page, problems = _signed_in(browser, officer_with_events, live_server, DESKTOP)
    try:
        page.goto(f"{live_server.url}/safety/events/{event.pk}/")
        matrix = page.locator(".sac-matrix")
        expect(matrix.locator("td.sac-chosen")).to_have_count(0)
        page.locator("input[name=sac_severity][value=major]").check()
        page.locator("input[name=sac_probability][value=occasional]").check()
        chosen = matrix.locator("td.sac-chosen")
        expect(chosen).to_have_count(1)
        expect(chosen).to_have_attribute("data-severity", "major")
        expect(chosen).to_have_attribute("data-probability", "occasional")
        expect(chosen).to_have_attribute("aria-current", "true")
        expect(chosen).to_have_text("SAC 2")
        page.locator("input[name=sac_severity][value=catastrophic]").check()
        expect(matrix.locator("td.sac-chosen")).to_have_attribute("data-severity", "catastrophic")

        # The keyboard's focus ring: 3px of #0a58ca (6.4:1 on white), not Bootstrap's faint glow.
        button = page.get_by_role("button", name="Record the triage")
        button.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        ring = button.evaluate("b => { const s = getComputedStyle(b); return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }")
        assert ring == ["solid", "3px", "rgb(10, 88, 202)"]
    finally:
        context.close()
    assert not problems.problems


def test_the_pareto_labels_are_drawn_whole_inside_the_chart(page):
    """Friction 17 (Pareto labels cut): every text of the drawing, as the browser lays it out,
    lies inside the drawing."""
    from andon.platform import charts

    class Row:
        def __init__(self, label, count, cumulative_percent):
            self.label, self.count, self.cumulative_percent = label, count, cumulative_percent

    rows = [Row("Medication or other substance", 40, 40.0), Row("Care management and handover", 30, 70.0)] + [
        Row(f"Category number {i}", 3, 70.0 + 3 * i) for i in range(1, 11)]
    chart = charts.pareto_chart(rows, title="Events by category", desc="d", noun="events")
    page.set_content(f"<!doctype html><html><body style='margin:0'>{chart.svg}</body></html>")
    outside = page.evaluate("""() => {
        const svg = document.querySelector("svg").getBoundingClientRect();
        return [...document.querySelectorAll("svg text")].map(t => [t.textContent, t.getBoundingClientRect()])
            .filter(([_, b]) => b.left < svg.left - 0.5 || b.right > svg.right + 0.5 || b.top < svg.top - 0.5
                                || b.bottom > svg.bottom + 0.5)
            .map(([text]) => text);
    }""")
    assert outside == []
