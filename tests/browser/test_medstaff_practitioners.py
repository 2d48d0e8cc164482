"""Credentials in real Chromium (issue 19 item 1): the medical staff office opens "Expiring
credentials" from its menu, finds the demo's licence expiring in 45 days, opens the practitioner's
file and records the renewal; the credential leaves the list and the old record is kept. Then
Dr Demir opens his own file from "My file"."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.conftest import TODAY

from .test_compliance_flow import DESKTOP, _page
from .test_signin import expect_home, main_nav, sign_in, sign_out


def test_the_office_renews_an_expiring_licence_and_a_practitioner_reads_his_file(browser, browser_context_args,
                                                                                 demo):
    from andon.medstaff.models import Credential

    expiring = Credential.objects.select_related("practitioner").get(expires_on=TODAY + timedelta(days=45))
    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "mso.quinn")
        expect_home(page, demo, "Quinn")
        main_nav(page).get_by_role("link", name="Expiring credentials").click()
        row = page.locator("#expiring tbody tr", has_text=expiring.number)
        expect(row).to_contain_text("45")
        row.get_by_role("link", name=expiring.practitioner.name).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(expiring.practitioner.name)
        expect(page.locator("#credentials")).to_contain_text("expires in 45 days")
        page.locator("#credentials tr", has_text=expiring.number).get_by_role("link", name="Renew").click()
        page.locator("#id_expires_on").fill((TODAY + timedelta(days=45 + 730)).isoformat())
        page.locator("#id_verified_on").fill(TODAY.isoformat())
        page.locator("#id_verification_source").fill("Texas Medical Board licence look-up")
        page.get_by_role("button", name="Record the renewal").click()
        expect(page.locator(".alert-success").first).to_contain_text("The renewal is recorded.")
        expect(page.locator("#credentials tbody tr", has_text=expiring.number)).to_contain_text("current")
        main_nav(page).get_by_role("link", name="Expiring credentials").click()
        expect(page.locator("#expiring tbody tr", has_text=expiring.number)).to_have_count(0)
        expiring.refresh_from_db()
        assert expiring.replaced_by is not None and expiring.replaced_by.verified_by.username == "mso.quinn"

        sign_out(page, demo)
        sign_in(page, demo, "dr.yusuf")
        expect_home(page, demo, "Yusuf")
        main_nav(page).get_by_role("link", name="My file").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Yusuf Demir, MD")
        expect(page.locator("#appointment")).to_have_text(re.compile(r"^Reappointment (due in \d+ days|overdue)"))
        assert problems.problems == []
    finally:
        context.close()
