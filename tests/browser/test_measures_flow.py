"""The CQO's loop on the quality dashboard, in real Chromium (issue 6): the dashboard shows a
measure with a special-cause signal; its chart shows the numbers and the rule on hover; the
CQO annotates the action taken and exports the FHIR MeasureReport."""

import json
import re

from playwright.sync_api import Page, expect

from .test_signin import expect_home, main_nav, sign_in


def test_cqo_sees_a_signal_opens_the_chart_annotates_and_exports(page: Page, demo):
    sign_in(page, demo, "cqo.olivia")
    expect_home(page, demo, "Olivia")
    main_nav(page).get_by_role("link", name="Measures").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Quality dashboard")
    for domain in ("Safe", "Timely", "Effective", "Efficient", "Equitable", "Patient-centred"):
        expect(page.get_by_role("heading", level=2, name=domain)).to_be_visible()

    # 1. A measure with a special cause of concern: readmissions rose (lower is better).
    tile = page.locator("a.measure-tile[data-measure='readmission-30-day']")
    expect(tile).to_have_attribute("data-variation", "special_cause_concern")
    expect(tile.get_by_role("img", name="Special cause: concern", exact=True)).to_be_visible()
    # and a sparkline of its months, its trend in words for screen readers
    expect(tile.locator("svg.sparkline desc")).to_contain_text("Latest: Special cause: concern.")
    tile.click()

    # 2. Its chart: 24 months, the signal's points coloured, the numbers and rule on hover.
    expect(page.get_by_role("heading", level=1)).to_contain_text("30-day all-cause readmission (crude)")
    chart = page.locator("figure[data-chart='spc'] svg")
    expect(chart).to_be_visible()
    expect(chart.locator("circle.point")).to_have_count(24)
    signal = chart.locator("circle.point.special_cause_concern").last
    signal.hover()
    tip = page.locator("figure[data-chart='spc'] .chart-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(re.compile(r"numerator \d+, denominator \d+; Special cause: concern: "))
    period = signal.get_attribute("data-period")
    row = page.locator("#results-table tbody tr").filter(has_text=re.compile("Special cause: concern"))
    expect(row.first).to_be_visible()

    # 3. The CQO records the action taken, on the chart.
    form = page.get_by_role("form", name="Annotate the chart")
    form.get_by_label("Date", exact=True).fill(period)
    form.get_by_label("Kind", exact=True).select_option("action")
    form.get_by_label("What was done").fill("Post-discharge phone calls within 48 hours")
    form.get_by_role("button", name="Add to the chart").click()
    expect(page.locator(".alert-success")).to_contain_text("The annotation is on the chart")
    expect(page.locator("#annotations")).to_contain_text("Post-discharge phone calls within 48 hours")
    expect(chart.locator("line.annotation")).to_have_count(1)

    # 4. And exports the results as FHIR MeasureReports.
    with page.expect_download() as download_info:
        page.locator("#export-report").click()
    bundle = json.loads(open(download_info.value.path(), encoding="utf-8").read())
    assert bundle["resourceType"] == "Bundle" and len(bundle["entry"]) == 24
    report = bundle["entry"][-1]["resource"]
    assert (report["resourceType"], report["type"], report["measure"]) == (
        "MeasureReport", "summary", "urn:andon:measure:readmission-30-day")
    counts = {p["code"]["coding"][0]["code"]: p["count"] for p in report["group"][0]["population"]}
    assert counts["denominator"] > 0 and 0 <= counts["numerator"] <= counts["denominator"]
    units = {s["code"][0]["text"]: len(s["stratum"]) for s in report["group"][0]["stratifier"]}
    # the six mapped wards; above them Critical Care (ICU) and the service lines Medicine (4W, 5E),
    # Surgery (6N), Women's and Children's (Labour and Delivery, where the demo's CMS334 births are) and
    # Lakeside's Medicine (2A)
    assert (units["ward"], units["department"], units["service line"]) == (6, 1, 4)
    assert {"age_band", "sex", "race", "ethnicity", "payer"} <= set(units)
