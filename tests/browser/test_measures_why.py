"""Why an eCQM episode is in or out, in real Chromium: the quality analyst opens the patients
behind a month of VTE prophylaxis (CMS108, over the CMS test patients), picks an episode that
missed the numerator and reads which populations it is in and the definitions behind them."""

import re
from datetime import date

from playwright.sync_api import Page, expect

from ..test_measures import ECQM, ecqm_test_cases_store
from .test_signin import expect_home, sign_in


def test_the_analyst_sees_why_an_episode_missed_the_numerator(page: Page, demo, settings, tmp_path):
    from auditlog.models import LogEntry

    from andon.measures import services
    from andon.measures.models import MeasureResult

    settings.ANDON_FHIR_STORE, cases = ecqm_test_cases_store(tmp_path, "CMS108VTEProphylaxisFHIR")
    settings.ANDON_ECQM_CONTENT = [ECQM]
    first, last = (date.fromisoformat(p[:10]) for p in cases[0].period)
    assert services.compute_measures(["vte-prophylaxis"], first=first, last=last, jobs=1)[0].error == ""
    month = max(MeasureResult.objects.filter(measure__key="vte-prophylaxis", unit=None, stratum=""),
                key=lambda r: r.denominator - r.numerator).period_start

    sign_in(page, demo, "analyst.jo")
    expect_home(page, demo, "Jo")
    page.goto(f"{demo}/measures/m/vte-prophylaxis/cases/?period={month:%Y-%m}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Patients behind {month:%B %Y}")
    missed = page.locator("#cases-table tbody tr").filter(  # the numerator and denominator columns
        has=page.locator("td:nth-child(8)", has_text=re.compile(r"^0$"))).filter(
        has=page.locator("td:nth-child(9)", has_text=re.compile(r"^1$"))).first
    case_id = missed.get_attribute("data-case")
    missed.get_by_role("link", name="Why?").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Why case {case_id} is in or out")
    def held(population: str):
        row = page.locator("#why-populations tbody tr").filter(
            has=page.locator("td:first-child", has_text=re.compile(f"^{population}$")))
        return row.locator("td").nth(2)

    expect(held("Initial population")).to_have_text(re.compile(r"^\s*in$"))
    expect(held("Denominator")).to_have_text(re.compile(r"^\s*in$"))
    expect(held("Numerator")).to_have_text(re.compile(r"^\s*not in$"))
    episode = case_id.partition("|")[2]
    expect(page.locator("#why-definitions mark", has_text=episode).first).to_be_visible()
    expect(page.locator("#why-definitions li.why-depth-1").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "why.png"), full_page=True)
    reasons = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).values_list("additional_data", flat=True)
    assert {"reason": f"why case {case_id} of {month:%Y-%m} is in or out"} in list(reasons)
