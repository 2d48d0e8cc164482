"""A new appointee's privilege in real Chromium (issue 19): the demo's request of Amara Nwosu, MD
for central venous catheter insertion goes from the chair of Medicine (chair.victor) to the
credentials committee (cred.wanda) and the office, which records the medical executive committee's
and the board's decisions (mso.quinn); the board's approval grants the privilege and its FPPE starts
with the catalogue's plan. The rows behind the pages are checked too."""

import re

from playwright.sync_api import expect

from tests.conftest import TODAY

from .test_compliance_flow import DESKTOP, _page
from .test_signin import expect_home, main_nav, sign_in


def _record_step(browser, browser_context_args, demo, username, first_name, outcome):
    context, page, watcher = _page(browser, browser_context_args, DESKTOP)
    sign_in(page, demo, username)
    expect_home(page, demo, first_name)
    main_nav(page).get_by_role("link", name="Privileges").click()
    page.get_by_role("link", name=re.compile(r"PRQ-\d{4}-\d{3} Amara Nwosu, MD")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Amara Nwosu, MD")
    page.get_by_label(outcome, exact=True).check()
    page.get_by_label("Meeting date").fill(TODAY.isoformat())
    page.get_by_label("Note").fill(f"{outcome}: criteria met.")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator(".alert-success").first).to_contain_text("decision is recorded")
    return context, page, watcher


def test_a_new_appointees_privilege_goes_to_the_board_and_starts_an_fppe(browser, browser_context_args, demo):
    from andon.medstaff.models import Fppe, GrantedPrivilege, Practitioner

    for username, first_name in (("chair.victor", "Victor"), ("cred.wanda", "Wanda")):
        context, page, watcher = _record_step(browser, browser_context_args, demo, username, first_name, "Recommend")
        assert watcher.problems == []
        context.close()
    context, page, watcher = _record_step(browser, browser_context_args, demo, "mso.quinn", "Quinn", "Recommend")
    expect(page.get_by_role("heading", level=2, name=re.compile("board's decision"))).to_be_visible()
    page.get_by_label("Approve", exact=True).check()
    page.get_by_label("Meeting date").fill(TODAY.isoformat())
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Granted")
    page.get_by_role("link", name=re.compile(r"^FPPE-\d{4}-\d{3}$")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Amara Nwosu, MD")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Planning")
    plan = page.get_by_role("region", name="Plan")
    expect(plan).to_contain_text("Proctoring, Direct observation")
    expect(plan).to_contain_text("5")
    assert watcher.problems == []
    context.close()
    amara = Practitioner.objects.get(family_name="Nwosu", given_name="Amara")
    grant = GrantedPrivilege.objects.get(practitioner=amara)
    assert (grant.privilege.name, grant.status, grant.granted_until) == (
        "Central venous catheter insertion", "active", amara.reappointment_due)
    fppe = Fppe.objects.get(source_privilege=grant)
    assert (fppe.trigger, fppe.methods, fppe.cases_required) == ("new_privilege", ["proctoring", "direct_observation"], 5)
    assert list(grant.request.steps.values_list("step", "outcome")) == [
        ("chair", "recommend"), ("credentials", "recommend"), ("mec", "recommend"), ("board", "approve")]
