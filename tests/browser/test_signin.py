"""Signing in and out in a real browser: staff at desktop and phone sizes, the administrator
with a one-time code, the skip link, and a wrong password."""

import re
import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import Page, expect

from andon.platform.demo import DEMO_ADMIN_TOTP_SECRET, DEMO_PASSWORD

SIGN_IN = re.compile(r"/accounts/login/(\?next=%2F|\?next=/)?$")
SIGN_IN_FOR_HOME = re.compile(r"/accounts/login/\?next=(%2F|/)$")


def sign_in(page: Page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """From a signed-out browser: open the site, get sent to sign-in, submit the form."""
    page.goto(base_url)
    expect(page).to_have_url(re.compile(re.escape(base_url) + SIGN_IN_FOR_HOME.pattern))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Andon")
    page.locator("input[name=login]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign In").click()


def totp_code(secret: str) -> str:
    """The current code, waiting out the last seconds of a period (allauth allows no drift)."""
    if 30 - time.time() % 30 < 3:
        time.sleep(30 - time.time() % 30 + 0.5)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def main_nav(page: Page):
    return page.get_by_role("navigation", name="Main")


def expect_home(page: Page, base_url: str, first_name: str) -> None:
    expect(page).to_have_url(base_url + "/")
    expect(page).to_have_title("My work · Andon")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Good to see you, {first_name}")
    # The page's scripts (the menu toggler among them) are deferred: a tap before they ran would be lost.
    page.wait_for_load_state("load")


def sign_out(page: Page, base_url: str) -> None:
    page.locator("#account-menu").click()
    sign_out_button = page.get_by_role("button", name="Sign out")
    expect(sign_out_button).to_be_visible()
    sign_out_button.click()
    # Signed out straight away (no confirmation page), then sent on to sign-in.
    expect(page).to_have_url(re.compile(re.escape(base_url) + SIGN_IN.pattern))
    expect(page.locator("#account-menu")).to_have_count(0)
    # And the session is really gone: the home page asks for sign-in again.
    page.goto(base_url + "/")
    expect(page).to_have_url(re.compile(re.escape(base_url) + SIGN_IN_FOR_HOME.pattern))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Andon")


def test_staff_reporter_signs_in_and_out_at_desktop_size(page: Page, demo):
    sign_in(page, demo, "nurse.ana")

    expect_home(page, demo, "Ana")
    expect(page.locator("main")).to_contain_text("Staff reporter · 4 West Medical and its children")
    nav = main_nav(page)
    expect(nav.get_by_role("link", name="Home")).to_be_visible()
    expect(nav.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Organisation")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit trail")).to_have_count(0)
    expect(page.get_by_role("button", name="Show navigation")).to_be_hidden()
    expect(page.locator("#account-menu")).to_have_text("Ana Alvarez")
    expect(page.get_by_role("note")).to_contain_text("Demo hospital")

    sign_out(page, demo)


@pytest.mark.browser_context_args(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
def test_staff_reporter_signs_in_and_out_on_a_phone(page: Page, demo):
    sign_in(page, demo, "nurse.ana")

    expect_home(page, demo, "Ana")
    nav = main_nav(page)
    toggler = page.get_by_role("button", name="Show navigation")
    expect(toggler).to_be_visible()
    expect(toggler).to_have_attribute("aria-expanded", "false")
    expect(nav.get_by_role("link", name="Organisation")).to_be_hidden()
    expect(page.locator("#account-menu")).to_be_hidden()

    toggler.click()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    # Wait until the menu has finished sliding open: a tap during the slide lands where the
    # account button was a moment ago (the longer the menu, the longer the slide).
    expect(page.locator("#main-nav")).to_have_class(re.compile(r"\bshow\b"))
    expect(nav.get_by_role("link", name="Home")).to_be_visible()
    expect(nav.get_by_role("link", name="Organisation")).to_be_visible()
    expect(nav.get_by_role("link", name="Audit trail")).to_have_count(0)
    expect(page.locator("#account-menu")).to_be_visible()

    sign_out(page, demo)


def test_administrator_signs_in_with_a_one_time_code(page: Page, demo):
    sign_in(page, demo, "admin.tess")

    expect(page).to_have_url(demo + "/accounts/2fa/authenticate/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-Factor Authentication")
    page.locator("input[name=code]").fill(totp_code(DEMO_ADMIN_TOTP_SECRET))
    page.get_by_role("button", name="Sign In").click()

    expect_home(page, demo, "Tess")
    expect(page.locator("main")).to_contain_text("Administrator")
    audit_link = main_nav(page).get_by_role("link", name="Audit trail")
    expect(audit_link).to_be_visible()

    audit_link.click()
    expect(page).to_have_url(demo + "/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    expect(audit_link).to_have_attribute("aria-current", "page")
    table = page.get_by_role("table", name="Audit entries, newest first")
    expect(table).to_be_visible()
    expect(table.get_by_role("columnheader")).to_have_text(
        ["When", "Who", "Action", "Record", "Before → after"]
    )
    # Loading the demo hospital created people and role grants: the trail shows them.
    expect(table.locator("tbody tr").first).not_to_have_text("No entries match.")
    expect(table.locator("tbody")).to_contain_text("Create")

    page.goto(demo + "/admin/")
    expect(page).to_have_url(demo + "/admin/")
    expect(page.get_by_role("banner").get_by_role("link", name="Andon administration")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisation, people and settings")
    expect(page).to_have_title(re.compile("Andon administration"))


def test_first_tab_on_sign_in_focuses_the_skip_link(page: Page, demo):
    page.goto(demo + "/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Andon")
    skip = page.get_by_role("link", name="Skip to main content")

    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # visually hidden until focused
    expect(skip).to_have_attribute("href", "#main")

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


def test_wrong_password_shows_an_error_and_stays_on_sign_in(page: Page, demo):
    sign_in(page, demo, "nurse.ana", password="not-the-password")

    expect(page).to_have_url(re.compile(re.escape(demo) + r"/accounts/login/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Andon")
    expect(page.locator("main")).to_contain_text(
        "The username and/or password you specified are not correct."
    )
    expect(page.locator("input[name=login]")).to_have_value("nurse.ana")
    expect(page.locator("#account-menu")).to_have_count(0)
    page.goto(demo + "/")
    expect(page).to_have_url(re.compile(re.escape(demo) + SIGN_IN_FOR_HOME.pattern))
