"""Grievance letters in real Chromium (issue 20, the second half of the journey): a grievance
received 7 days ago reaches its limit; the day's sweep asks for the interim letter and pr.pablo
sees it on his home page and on the grievance; he sends the interim letter, drafts the resolution
letter with the four elements of 42 CFR 482.13(a)(2)(iii), approves and sends it, downloads the
PDF (its text read back) and the grievance shows resolved."""

import io
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from andon.platform import sweeps
from andon.platform.models import Unit
from andon.voice import services
from andon.voice.models import Grievance, GrievanceStatus

from .test_signin import expect_home, sign_in


def _grievance_received_a_week_ago() -> Grievance:
    ward = Unit.objects.get(facility__code="rgh", code="4w")
    received = timezone.now() - timedelta(days=7)
    received_on, due_on = services.clock_dates(received)
    return Grievance.objects.create(
        organisation=ward.facility.organisation, reference="G-2026-90001", channel="web_form", received_at=received,
        received_on=received_on, due_on=due_on, status=GrievanceStatus.OPEN, unit=ward,
        description="My mother waited 40 minutes for the call bell at night.", contact_name="Elena Ruiz",
        contact_details="elena.ruiz@example.org", relationship="Daughter")


def test_the_interim_and_resolution_letters(demo, page):
    grievance = _grievance_received_a_week_ago()
    today = timezone.localdate()
    assert services.days_left(grievance, today) == 0
    assert sweeps.run_sweeps("voice", today)["interim letters"] >= 1  # day 7: asked for

    sign_in(page, demo, "pr.pablo")
    expect_home(page, demo, "Pablo")
    expect(page.get_by_text("interim letter", exact=False).first).to_be_visible()

    page.goto(f"{demo}/voice/grievances/{grievance.pk}/letters/")
    expect(page.locator("[data-reminder=interim]")).to_contain_text("send the interim letter")
    expect(page.locator("[data-section=clock]")).to_contain_text("Due today")

    # The interim letter: the date of the full response, approved, sent.
    page.get_by_label("Kind").select_option("interim")
    page.get_by_role("button", name="Draft the letter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Interim letter (we are still working on it)")
    promised = today + timedelta(days=14)
    page.get_by_label("Date of the full response").fill(promised.isoformat())
    page.get_by_role("button", name="Save the draft").click()
    page.get_by_role("button", name="Approve the letter").click()
    expect(page.locator("[data-letter-status]")).to_have_text("Approved")
    page.get_by_label("Sent by").select_option("email")
    page.get_by_role("button", name="Record as sent").click()
    expect(page.locator("[data-section=clock]")).to_contain_text(f"{promised:%Y-%m-%d} (interim letter)")
    expect(page.locator("[data-reminder=interim]")).to_have_count(0)

    # The resolution letter: the four elements are asked for before approval.
    page.get_by_label("Kind").select_option("resolution")
    page.get_by_role("button", name="Draft the letter").click()
    expect(page.get_by_text("Describe the steps taken to investigate the grievance.")).to_be_visible()
    page.get_by_label("Steps taken to investigate").fill("We read the call bell log and spoke with the night nurses.")
    page.get_by_label("Results").fill("Upheld: the bell was answered late; night rounds are now hourly.")
    page.get_by_label("Date of completion").fill(today.isoformat())
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Before approval")).to_have_count(0)
    page.get_by_role("button", name="Approve the letter").click()
    expect(page.locator("[data-letter-status]")).to_have_text("Approved")
    letter_url = page.url

    with page.expect_download() as download_info:
        page.locator("[data-download=letter-pdf]").click()
    pdf_text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(
        download_info.value.path().read_bytes())).pages).split())
    for words in ("Hospital contact person", "Pablo", "Steps taken to investigate", "call bell log",
                  "Results of the grievance process", "night rounds are now hourly", "Date of completion",
                  f"{today:%Y-%m-%d}", "G-2026-90001"):
        assert words in pdf_text

    page.goto(letter_url)
    page.get_by_label("Sent by").select_option("post")
    page.get_by_role("button", name="Record as sent").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("G-2026-90001")
    expect(page.locator("[data-section=clock] dt", has_text="Resolved")).to_be_visible()
    expect(page.locator("[data-section=clock]")).to_contain_text(f"Resolved{today:%Y-%m-%d}")
    grievance.refresh_from_db()
    assert grievance.status == GrievanceStatus.RESOLVED and grievance.resolved_on == today
