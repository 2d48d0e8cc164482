"""Survey data in real Chromium (issue 20, "what must show"): the patient experience lead opens
Surveys from her menu, maps a new vendor file's columns from its header (the obvious matches
suggested), imports the file through the mapping, reads the import's report, opens the scores
(unadjusted, said so) and 4 West's top-box control chart for "would recommend", whose last month
holds the demo's surveys and hers, counted again here from the responses themselves."""

from datetime import date, timedelta

from django.utils import timezone
from playwright.sync_api import expect

from .test_compliance_flow import DESKTOP, _page
from .test_signin import expect_home, main_nav, sign_in


def _last_month() -> date:
    this_month = timezone.localdate().replace(day=1)
    return (this_month - timedelta(days=1)).replace(day=1)


def _vendor_file(month: date) -> str:
    rows = ["Survey ID,Discharge Date,Unit,Q_RECOMMEND,Q_OVERALL_RATING,Comment"]
    answers = [("4", "10"), ("4", "9"), ("3", "8"), ("4", ""), ("", "10"), ("2", "5")]
    for i, (recommend, rating) in enumerate(answers, 1):
        rows.append(f"BR{i:03d},{month + timedelta(days=i):%Y-%m-%d},rgh/4w,{recommend},{rating},"
                    + ("Nobody told me about my new tablets" if i == 3 else ""))
    return "\n".join(rows) + "\n"


def test_the_lead_imports_a_survey_file_and_sees_the_units_control_chart(browser, browser_context_args, demo, tmp_path):
    from andon.platform.models import Unit
    from andon.voice.models import SurveyResponse

    month = _last_month()
    upload = tmp_path / "vendor-upload.csv"
    upload.write_text(_vendor_file(month))
    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "px.priya")
        expect_home(page, demo, "Priya")
        main_nav(page).get_by_role("link", name="Surveys", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Patient experience surveys")
        page.get_by_role("link", name="Import a file").click()
        page.get_by_role("link", name="Map a new file's columns").click()

        page.locator("input[name=file]").set_input_files(str(upload))
        page.get_by_role("button", name="Read its columns").click()
        columns = page.get_by_role("table", name="File columns and what they hold")
        # Suggested from the header: each column to its obvious field or question.
        expect(columns.get_by_label("Survey ID")).to_have_value("survey_id")
        expect(columns.get_by_label("Discharge Date")).to_have_value("discharge_date")
        expect(columns.get_by_label("Q_RECOMMEND")).to_have_value("q:recommend")
        expect(columns.get_by_label("Q_OVERALL_RATING")).to_have_value("q:overall_rating")
        expect(columns.get_by_label("Comment")).to_have_value("comment")
        page.locator("input[name=name]").fill("Browser vendor file")
        page.get_by_role("button", name="Save the mapping").click()
        expect(page.locator(".alert-success").first).to_contain_text("Browser vendor file")

        page.locator("input[name=file]").set_input_files(str(upload))
        page.locator("select[name=mapping]").select_option(label="Browser vendor file")
        page.get_by_role("button", name="Import").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Import of vendor-upload.csv")
        expect(page.locator("#rows-read")).to_have_text("6")
        expect(page.locator("#rows-imported")).to_have_text("6")
        expect(page.locator("#rows-already")).to_have_text("0")

        page.get_by_role("link", name="See the scores").click()
        expect(page.locator("#unadjusted")).to_contain_text("Unadjusted")
        ward = Unit.objects.get(facility__code="rgh", code="4w")
        page.locator("select[name=unit]").select_option(str(ward.pk))
        page.get_by_role("button", name="Show").click()
        scores = page.get_by_role("table", name="Scores")
        recommend = scores.locator("tr", has_text="recommend this hospital")
        expect(recommend).to_be_visible()
        recommend.get_by_role("link", name="control chart").click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("would definitely recommend")
        expect(page.locator("#unit-chart svg[role='img']")).to_be_visible()
        # Last month's point, counted independently from the stored responses of 4 West.
        answers = [r.answers.get("recommend") for r in SurveyResponse.objects.filter(unit=ward, month=month)]
        top, valid = sum(a == "4" for a in answers), sum(a is not None for a in answers)
        assert valid >= 5  # the demo's surveys and the five answers of the file
        last = page.locator("#chart-months tbody tr", has_text=f"{month:%Y-%m}")
        expect(last.locator("td").nth(1)).to_have_text(str(top))
        expect(last.locator("td").nth(2)).to_have_text(str(valid))
        expect(last.locator("td").nth(3)).to_have_text(f"{100 * top / valid:.1f}")
        expect(page.get_by_role("link", name="The measure's page")).to_have_attribute(
            "href", "/measures/m/hcahps-recommend/")
        assert problems.problems == []
    finally:
        context.close()
