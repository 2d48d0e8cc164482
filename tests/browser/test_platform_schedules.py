"""The administrator's schedules in real Chromium: admin.tess opens Schedules from the
administration menu, sees the measures' nightly recompute, is told what is wrong with a bad
spec, moves the recompute to 03:30 on working days, and starts the morning reminders at once,
landing on its job."""

from playwright.sync_api import expect

from andon.platform.demo import DEMO_ADMIN_TOTP_SECRET
from andon.platform.models import Schedule

from .test_signin import expect_home, main_nav, sign_in, totp_code


def test_the_administrator_sets_a_schedule_and_runs_a_task_now(demo, page):
    sign_in(page, demo, "admin.tess")
    page.locator("input[name=code]").fill(totp_code(DEMO_ADMIN_TOTP_SECRET))
    page.get_by_role("button", name="Sign In").click()
    expect_home(page, demo, "Tess")

    main_nav(page).get_by_role("link", name="Schedules").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Schedules")
    table = page.get_by_role("table", name="Scheduled tasks")
    recompute = table.locator("tr", has_text="Recompute the measures")
    expect(recompute).to_contain_text("At 02:00 every day")
    expect(recompute).to_contain_text("and after each FHIR load")

    recompute.get_by_role("link", name="Edit the schedule of Recompute the measures").click()
    spec = page.get_by_label("When (cron: minute hour day-of-month month day-of-week)")
    spec.fill("30 3 * * MON-FRY")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("'30 3 * * MON-FRY': day of week must be 0-7 or SUN-SAT.")
    spec.fill("30 3 * * 1-5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Schedules")
    expect(table.locator("tr", has_text="Recompute the measures")).to_contain_text("At 03:30 on Monday through Friday")
    assert Schedule.objects.get(task_key="measures.recompute").spec == "30 3 * * 1-5"

    table.get_by_role("button", name="Run Morning reminders (every module's daily sweeps) now").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Morning reminders")
    expect(page.locator("main")).to_contain_text("Tess")
