"""OPPE in real Chromium (issue 19 items 3 and 4): the chair of Medicine opens OPPE from his menu
and the Medicine profile computed from the demo's clinical data; on the 30-day readmission funnel
plot one hospitalist is outside the 99.8% limits on the worse side; his own OPPE page shows his
control chart and his cases down to the encounters, the same encounters the measures library
attributes to him; the chair decides an FPPE, which starts."""

from django.utils import timezone
from playwright.sync_api import expect

from .test_compliance_flow import DESKTOP, _page
from .test_signin import expect_home, main_nav, sign_in

OUTLIER = "syn-2026-prac-rgh-4w-0"  # made an outlier on readmission by the demo's data


def test_the_chair_finds_the_outlier_on_the_funnel_and_his_encounters_and_starts_an_fppe(browser,
                                                                                          browser_context_args, demo):
    from andon.medstaff.models import Fppe, Practitioner

    outlier = Practitioner.objects.get(fhir_id=OUTLIER)
    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "chair.victor")
        expect_home(page, demo, "Victor")
        main_nav(page).get_by_role("link", name="OPPE", exact=True).click()
        page.locator("#oppe-profiles").get_by_role("link", name="Medicine").first.click()
        readmission = page.locator("section[data-indicator='readmission-30-day']")
        expect(readmission.locator(".oppe-outliers")).to_have_text(
            f"Outlier (outside the 99.8% limits, worse): {outlier.name}")
        expect(readmission.locator("figure[data-chart='funnel'] svg")).to_be_visible()
        row = readmission.locator(f"tr[data-practitioner='{OUTLIER}']")
        expect(row).to_have_class("table-danger")
        expect(row).to_contain_text("outlier: worse, outside 99.8% limits")
        # Only he is outside the limits on the worse side.
        expect(readmission.locator("tr.table-danger")).to_have_count(1)

        row.get_by_role("link", name=outlier.name).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(outlier.name)
        own = page.locator("section", has=page.locator("h2", has_text="30-day all-cause readmission")).first
        expect(own.locator("svg[role='img']").first).to_be_visible()
        own.locator("details.oppe-cases summary").click()
        shown = own.locator("details.oppe-cases tbody tr td:first-child").all_inner_texts()
        # Each encounter shown has him as its attending in the clinical data itself (the raw JSON).
        assert shown and len(shown) == len(set(shown))
        assert _attending_in_the_store(shown) == {OUTLIER}
        assert all(encounter.startswith("Encounter/syn-2026-") and "-ip" in encounter for encounter in shown)  # stays

        decide = page.locator("#oppe-decide")
        decide.locator("select[name=decision]").select_option("fppe")
        decide.locator("textarea[name=reason]").fill("Readmissions outside the department's limits: focused review.")
        decide.get_by_role("button", name="Record the decision").click()
        expect(page.locator(".alert-success").first).to_be_visible()
        fppe = Fppe.objects.get(practitioner=outlier, trigger="oppe")
        assert fppe.started_on == timezone.localdate() and fppe.created_by.username == "chair.victor"
        assert problems.problems == []
    finally:
        context.close()


def _attending_in_the_store(encounters: list[str]) -> set[str]:
    """The practitioners the encounters' ATND participants name, read from the stored resources."""
    import json

    from django.conf import settings

    from andon.analytics.fhir import store

    connection = store.connect(settings.ANDON_FHIR_STORE, read_only=True)
    try:
        rows = connection.execute("SELECT resource FROM resources WHERE type = 'Encounter' AND list_contains($ids, id)",
                                  {"ids": [e.removeprefix("Encounter/") for e in encounters]}).fetchall()
    finally:
        connection.close()
    assert len(rows) == len(encounters)
    named = set()
    for (resource,) in rows:
        for participant in json.loads(resource).get("participant", []):
            if any(c.get("code") == "ATND" for t in participant.get("type", []) for c in t.get("coding", [])):
                named.add(participant["individual"]["reference"].removeprefix("Practitioner/"))
    return named
