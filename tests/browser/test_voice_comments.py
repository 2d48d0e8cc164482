"""Patients' comments in real Chromium (issue 20 item 3): the unit manager of Medicine opens Patient
comments from her menu, searches for a fall, tags the comment with "Safety and harm" in its row
(htmx), raises a safety event from it and lands on the event's page with the patient's words there;
the comment then links to the event. The survey import is another subject's: the comments are made
with the ORM here."""

from datetime import date

from playwright.sync_api import expect

from .test_compliance_flow import DESKTOP, _page
from .test_signin import expect_home, main_nav, sign_in

HARM = "My father fell getting to the toilet at night because nobody answered the call bell for forty minutes."


def _comments():
    from andon.platform.models import Unit
    from andon.platform.models import User
    from andon.voice.models import SurveyComment, SurveyImport, SurveyResponse

    ward = Unit.objects.get(facility__code="rgh", code="4w")
    survey_import = SurveyImport.objects.create(question_set="hcahps", question_set_version="1",
                                                filename="browser.csv", sha256="b" * 64,
                                                imported_by=User.objects.get(username="px.priya"))
    made = []
    for n, text in enumerate([HARM, "The food was cold but the nurses were lovely.",
                              "<script>alert('x')</script> the toilet was dirty"], 1):
        response = SurveyResponse.objects.create(survey_import=survey_import, question_set="hcahps",
                                                 survey_id=f"BROWSER-{n}", discharge_date=date(2026, 2, 9),
                                                 month=date(2026, 2, 1), unit=ward)
        made.append(SurveyComment.objects.create(response=response, unit=ward, month=date(2026, 2, 1), text=text))
    return made


def test_a_unit_manager_searches_tags_and_raises_a_safety_event_from_a_comment(browser, browser_context_args, demo):
    from andon.safety.models import SafetyEvent
    from andon.voice.models import SurveyComment

    harm, _, _ = _comments()
    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "mgr.fatima")
        expect_home(page, demo, "Fatima")
        main_nav(page).get_by_role("link", name="Patient comments").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Patient comments")
        page.locator("input[name=q]").fill("toilet NIGHT")
        page.get_by_role("button", name="Search").click()
        rows = page.locator("table[aria-label=Comments] tbody tr")
        expect(rows).to_have_count(1)
        row = page.locator(f"#comment-{harm.pk}")
        expect(row.locator("mark")).to_have_text(["toilet", "night"])

        row.get_by_role("link", name=f"Tag comment {harm.pk}").click()
        row = page.locator(f"#comment-{harm.pk}")
        row.get_by_label("Safety and harm").check()
        row.get_by_role("button", name="Save themes").click()
        expect(page.locator(f"#comment-{harm.pk} .badge")).to_have_text(["Safety and harm"])  # the row, saved
        assert list(SurveyComment.objects.get(pk=harm.pk).themes.values_list("key", flat=True)) == ["safety-harm"]

        # A script in a patient's words is only text.
        page.locator("input[name=q]").fill("dirty")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("table[aria-label=Comments] tbody")).to_contain_text("<script>alert('x')</script>")

        page.goto(f"{demo}/voice/comments/{harm.pk}/")
        page.get_by_role("link", name="Raise a safety event").click()
        expect(page.locator("textarea[name=narrative]")).to_have_value(HARM)
        expect(page.locator("input[name=occurred_on]")).to_have_value("2026-02-01")
        page.locator("input[name=occurred_on]").fill("2026-02-08")
        page.locator("select[name=harm]").select_option("mild")
        page.get_by_role("button", name="Raise the safety event").click()

        event = SafetyEvent.objects.get(narrative=HARM)
        expect(page).to_have_url(f"{demo}/safety/events/{event.pk}/")
        expect(page.locator("main")).to_contain_text(HARM)
        assert (event.unit.code, event.harm, event.category) == ("4w", "mild", "other")

        page.goto(f"{demo}/voice/comments/{harm.pk}/")
        expect(page.get_by_role("link", name=f"safety event {event.reference}")).to_be_visible()
        expect(page.get_by_role("link", name="Raise a safety event")).to_have_count(0)
    finally:
        context.close()
    assert problems.problems == []
