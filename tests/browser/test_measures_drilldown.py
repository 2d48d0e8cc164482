"""The analyst's chart review in real Chromium (issue 15): from a measure's chart to the patients
behind a month, sorted by a column, filtered to the numerator and to one patient, and exported
to CSV (the download's header and rows checked)."""

import csv
import io
import re

from playwright.sync_api import Page, expect

from andon.measures.views import CASES_CSV

from .test_signin import expect_home, main_nav, sign_in


def ages(page: Page) -> list[int]:
    return [int(text) for text in page.locator("#cases-table tbody tr td:nth-child(3)").all_inner_texts()]


def test_analyst_sorts_filters_and_exports_the_patients_behind_a_month(page: Page, demo):
    sign_in(page, demo, "analyst.jo")
    expect_home(page, demo, "Jo")
    main_nav(page).get_by_role("link", name="Measures").click()
    page.locator("a.measure-tile[data-measure='readmission-30-day']").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("30-day all-cause readmission (crude)")

    # 1. The patients behind the latest month: names and MRNs read from the FHIR store.
    page.locator("#results-table a", has_text="patients").last.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Patients behind")
    rows = page.locator("#cases-table tbody tr")
    expect(rows.first).to_be_visible()
    expect(rows.first.locator("td").nth(1)).to_have_text(re.compile(r"^MRN\d+$"))
    total = int(re.match(r"(\d+) cases?", page.locator("#case-count").inner_text()).group(1))
    assert total > 0

    # 2. Sorted by age: ascending, then descending on a second click; the heading says which.
    page.locator("#cases-table thead a[data-sort='age']").click()
    expect(page.locator("#cases-table thead th[aria-sort='ascending']")).to_contain_text("Age")
    ascending = ages(page)
    assert ascending == sorted(ascending) and len(ascending) == min(50, total)
    page.locator("#cases-table thead a[data-sort='age']").click()
    expect(page.locator("#cases-table thead th[aria-sort='descending']")).to_contain_text("Age")
    descending = ages(page)
    assert descending == sorted(descending, reverse=True) and descending[0] >= ascending[-1]

    # 3. Filtered to the readmitted patients (the numerator), then to one patient by MRN.
    page.get_by_label("Counted in").select_option("numerator")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#case-count")).to_be_visible()
    readmitted = int(re.match(r"(\d+) cases?", page.locator("#case-count").inner_text()).group(1))
    assert 0 < readmitted < total
    assert set(page.locator("#cases-table tbody tr td:nth-child(8)").all_inner_texts()) == {"1"}
    assert ages(page) == sorted(ages(page), reverse=True)  # the sort is kept
    mrn = rows.first.locator("td").nth(1).inner_text()
    page.get_by_label("Name or MRN contains").fill(mrn.lower())
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#cases-table tbody tr td:nth-child(2)").first).to_have_text(mrn)
    shown = page.locator("#cases-table tbody tr td:nth-child(2)").all_inner_texts()
    assert set(shown) == {mrn}

    # 4. Exported as CSV: the same patients, the same order, every column named.
    with page.expect_download() as download_info:
        page.locator("#export-cases").click()
    download = download_info.value
    assert re.fullmatch(r"readmission-30-day-patients-\d{4}-\d{2}\.csv", download.suggested_filename)
    text = open(download.path(), encoding="utf-8").read()
    exported = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0].split(",") == CASES_CSV
    assert [r["mrn"] for r in exported] == shown and {r["numerator"] for r in exported} == {"1.0"}
    names = page.locator("#cases-table tbody tr td:nth-child(1)").all_inner_texts()
    assert [r["name"] for r in exported] == names

    # 5. On a phone the page does not scroll sideways (the table scrolls within its box), nor
    # does the dashboard with its filters and sparklines.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#cases-table")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    page.goto(demo + "/measures/")
    expect(page.locator("a.measure-tile svg.sparkline").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
