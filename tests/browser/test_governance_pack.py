"""The board quality pack in real Chromium (issue 21): the CQO opens last month's drafted pack
(the demo's version 1), writes two narratives, approves and publishes it; a board member, told by
a notification, reads it and downloads the PDF, whose download is audited and whose text holds
the narratives."""

import io

from auditlog.models import LogEntry
from playwright.sync_api import expect
from pypdf import PdfReader

from andon.governance.models import PackStatus, PackVersion
from andon.platform.models import User

from .test_signin import expect_home, sign_in, sign_out


def test_the_cqo_approves_the_drafted_pack_and_a_board_member_downloads_it(demo, page):
    version = PackVersion.objects.get(number=1, status=PackStatus.DRAFT)
    month = f"{version.pack.month:%B %Y}"

    sign_in(page, demo, "cqo.olivia")
    expect_home(page, demo, "Olivia")
    page.goto(f"{demo}/governance/packs/")
    page.get_by_role("link", name=month).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Board quality pack, {month}")
    expect(page.locator("[data-pack-status]")).to_have_text("Draft")
    expect(page.get_by_role("heading", name="At a glance: the six domains")).to_be_visible()

    page.get_by_role("textbox", name="Narrative for At a glance: the six domains").fill("Most measures show common cause variation.")
    page.locator("[data-save-narrative='measures.glance']").click()
    expect(page.get_by_role("textbox", name="Narrative for At a glance: the six domains")).to_have_value(
        "Most measures show common cause variation.")
    page.get_by_role("textbox", name="Narrative for Equity gaps").fill("No gap above the threshold this month.")
    page.locator("[data-save-narrative='measures.equity']").click()
    expect(page.get_by_role("textbox", name="Narrative for Equity gaps")).to_have_value("No gap above the threshold this month.")

    # Approval prints and stores the PDF (a page per listed measure of the demo: many seconds).
    page.get_by_role("button", name="Approve the pack").click(no_wait_after=True)
    expect(page.locator("[data-pack-status]")).to_have_text("Approved", timeout=120_000)
    page.get_by_role("button", name="Publish to the board").click()
    expect(page.locator("[data-pack-status]")).to_have_text("Published")
    sign_out(page, demo)

    sign_in(page, demo, "board.rosa")
    expect_home(page, demo, "Rosa")
    page.get_by_role("link", name=f"The board quality pack for {month} is published").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Board quality pack, {month}")
    expect(page.locator("[data-narrative='measures.glance']")).to_contain_text("common cause variation")
    expect(page.locator("textarea")).to_have_count(0)  # the board reads; it writes nothing
    with page.expect_download() as download_info:
        page.locator("[data-download=pack-pdf]").click()
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(
        download_info.value.path().read_bytes())).pages).split())
    assert f"Board quality pack, {month}" in text and "No gap above the threshold this month." in text
    rosa = User.objects.get(username="board.rosa")
    read = LogEntry.objects.get(action=LogEntry.Action.ACCESS, actor=rosa, object_pk=str(version.pk))
    assert read.additional_data == {"reason": "download board pack PDF"}
