"""Compliance in real Chromium (issue 16): the compliance specialist assesses CoP 482.21, marks
requirements, attaches a policy and a measure as evidence, records a finding that opens an
action and sees readiness move; a nurse on a phone reads and signs a newly published policy and
it leaves her home page; a unit manager, surveyor for the day, fills the tracer planned for her on
her phone (answers, a photo, a wrong photo removed, a finding) and completes it, with nothing wider
than the screen."""

import io
import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from .conftest import watch
from .test_signin import expect_home, main_nav, sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
COP = "urn:andon:framework:cms-cop-482"
QAPI = COP + ":482.21"


def _page(browser, context_args, extra):
    context = browser.new_context(**{**context_args, **extra})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page, watch(page)


def _choose(select, pattern):
    """Select the option whose text matches `pattern` (Playwright's labels are exact strings)."""
    select.select_option(select.locator("option", has_text=pattern).first.get_attribute("value"))


def _pick(page, label, words: str, person, within=None):
    """Find someone with a people picker's search (the page lists no one else) and tick them;
    `within` a part of the page when another form there has a picker of the same label."""
    part = within or page
    with page.expect_response(lambda response: "q=" in response.url):
        part.get_by_label(label).fill(words)
    part.locator("[data-people-picker]", has=page.get_by_label(label)).get_by_role("radio", name=person).first.check()


def _open_item(page, citation: str):
    page.get_by_role("link", name=citation, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(citation)


def _record(page, result: str, rationale: str):
    work = page.get_by_role("region", name="Record the work")
    work.get_by_label("Working status").select_option(label="Done")
    work.get_by_label("Result").select_option(label=result)
    work.get_by_label("Rationale").fill(rationale)
    work.get_by_role("button", name="Save").click()


def _add_evidence(page, kind: str, title: str, choose):
    panel = page.locator("#item-evidence")
    panel.get_by_role("link", name="Add new evidence for this requirement").click()
    page.get_by_role("link", name=kind, exact=True).click()
    page.get_by_label("Title").fill(title)
    _pick(page, "Owner", "chen", re.compile(r"Lee Chen"))
    page.get_by_label("Review or expiry date").fill((timezone.localdate() + timedelta(days=180)).isoformat())
    choose(page)
    page.get_by_role("button", name="Add the evidence").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)


def test_specialist_assesses_qapi_with_evidence_and_a_finding(browser, browser_context_args, demo):
    from andon.actions.models import Action
    from andon.compliance import services
    from andon.compliance.models import Assessment, Evidence, Finding

    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "compliance.lee")
        expect_home(page, demo, "Lee")
        main_nav(page).get_by_role("link", name="Assessments", exact=True).click()
        page.get_by_role("link", name="New assessment").click()
        page.get_by_label("Title").fill("QAPI mock survey")
        _choose(page.get_by_label("Framework version"), re.compile(r"^CMS Conditions of Participation"))
        _choose(page.get_by_label("Scope"), re.compile(r"whole organisation"))
        page.get_by_label("Part of the framework").fill(QAPI)
        _pick(page, "Lead", "lee compliance", re.compile(r"Lee Chen"))
        page.get_by_role("button", name="Create the assessment").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("QAPI mock survey")
        assessment = Assessment.objects.get(title="QAPI mock survey")
        items = list(assessment.items.select_related("requirement"))
        assert {i.requirement.urn.rsplit(":", 1)[1] for i in items} >= {"482.21(a)", "482.21(b)"}
        # The condition's standards, no item for the condition: its readiness is theirs rolled up.
        assert all(i.requirement.urn.startswith(QAPI + "(") for i in items)
        expect(page.get_by_role("region", name="Readiness").locator("p.display-6")).to_have_text("0.0%")

        # Every item of the page to Olivia with one tick (issue 16: the rows are ticked, no list of
        # every item); then one row worked in place: Edit fetches its form, Save swaps the row back.
        page.get_by_label("Tick every item on this page").check()
        page.locator("summary", has_text="Assign items").click()
        assign = page.locator("#assign-items")
        _pick(page, re.compile(r"^Owner"), "olivia", re.compile(r"Olivia Grant"), within=assign)
        assign.get_by_role("button", name="Assign the ticked items").click()
        expect(page.locator("main")).to_contain_text(f"{len(items)} items assigned.")
        assert assessment.items.filter(owner__username="cqo.olivia").count() == len(items)
        row = page.locator("tr", has=page.get_by_role("link", name="42 CFR 482.21(c)", exact=True))
        row.get_by_role("link", name="Edit 42 CFR 482.21(c)").click()
        expect(row.get_by_label("Working status")).to_be_focused()
        row.get_by_label("Working status").select_option(label="In progress")
        row.get_by_role("button", name="Save").click()
        expect(row.locator("form")).to_have_count(0)
        expect(row).to_contain_text("Olivia Grant")
        expect(row).to_contain_text("In progress")
        assert assessment.items.get(requirement__urn=QAPI + "(c)").working_status == "in_progress"

        # 482.21(a) met, with a policy and a measure as its evidence.
        _open_item(page, "42 CFR 482.21(a)")
        _record(page, "Met", "The QAPI plan covers every service; indicators include adverse events.")
        expect(page.locator("dl")).to_contain_text("Met")
        _add_evidence(page, "Policy", "Falls prevention policy",
                      lambda p: _choose(p.get_by_label("Policy"), re.compile(r"PC-101")))
        item_a = next(i for i in items if i.requirement.urn.endswith("(a)"))
        page.goto(demo + reverse("compliance:item", args=[item_a.pk]))
        _add_evidence(page, "Measure", "Falls per 1,000 patient days",
                      lambda p: _choose(p.get_by_label("Measure"), re.compile(r"Falls per 1,000")))
        requirement_a = next(i.requirement for i in items if i.requirement.urn.endswith("(a)"))
        linked = Evidence.objects.filter(links__requirement_urn=requirement_a.urn, owner__username="compliance.lee",
                                         title__in=["Falls prevention policy", "Falls per 1,000 patient days"])
        assert sorted(linked.values_list("kind", "policy__code", "measure_key")) == [
            ("measure", None, "falls"), ("policy", "PC-101", "")]
        page.goto(f"{demo}/compliance/assessments/{assessment.pk}/")
        _open_item(page, "42 CFR 482.21(a)")
        panel = page.locator("#item-evidence")
        expect(panel).to_contain_text("Falls prevention policy")
        expect(panel).to_contain_text("Falls per 1,000 patient days")
        expect(panel).to_contain_text("Current evidence")

        # 482.21(b) not met: a finding, and an action in the shared tracker.
        page.goto(f"{demo}/compliance/assessments/{assessment.pk}/")
        _open_item(page, "42 CFR 482.21(b)")
        _record(page, "Not met", "Data collection frequency is not set by the governing body.")
        page.get_by_role("link", name="Raise a finding").click()
        page.get_by_label("Title").fill("No board-approved data collection schedule")
        page.get_by_role("radio", name=re.compile(r"^High")).check()
        _choose(page.get_by_label("Unit"), re.compile(r"Medicine"))  # a finding for the organisation names a unit
        page.get_by_role("button", name="Raise the finding").click()
        finding = Finding.objects.get(title="No board-approved data collection schedule")
        expect(page.get_by_role("heading", level=1)).to_contain_text(finding.title)
        page.get_by_label("Title").fill("Board to approve the QAPI data schedule")
        _pick(page, "Owner", "olivia", re.compile(r"Olivia Grant"))
        page.get_by_label("Due date").fill((timezone.localdate() + timedelta(days=30)).isoformat())
        page.get_by_label("Strength").select_option(label="Intermediate")
        page.get_by_label("Measure").fill("Schedule approved in the board minutes.")
        page.get_by_role("button", name="Open the action").click()
        expect(page.locator("main")).to_contain_text("Board to approve the QAPI data schedule")
        action = Action.objects.get(title="Board to approve the QAPI data schedule")
        assert action.source_id == finding.pk and action.owner.username == "cqo.olivia"

        # Readiness moved: one of the chapter's items met, the rest not (not assessed counts as 0).
        page.goto(f"{demo}/compliance/assessments/{assessment.pk}/")
        expected = 100 * 1 / len(items)
        expect(page.get_by_role("region", name="Readiness").locator("p.display-6")).to_have_text(f"{expected:.1f}%")
        assert float(services.readiness(assessment).overall.percent) == round(expected, 2)
        expect(page.get_by_role("region", name="Readiness")).to_contain_text("high 1")
        assert problems.problems == []
    finally:
        context.close()


def test_nurse_reads_and_signs_a_new_policy_on_her_phone(browser, browser_context_args, demo):
    from andon.compliance import services
    from andon.compliance.models import Attestation
    from andon.platform import content
    from andon.platform.models import User
    from andon.platform.roles import Role

    lee, olivia = User.objects.get(username="compliance.lee"), User.objects.get(username="cqo.olivia")
    policy = services.create_policy(lee, organisation=content.resolve_scope(""), unit=None, code="PC-150",
                                    title="Bed alarms at night", owner=lee, review_every_months=24,
                                    text="Every patient at risk of falling has the bed alarm on at night.")
    version = policy.versions.get()
    services.submit_for_review(lee, version, [olivia])
    services.decide(olivia, version, True, "Approved.")
    services.publish(lee, version, timezone.localdate(),
                     [services.RuleSpec(role=Role.STAFF_REPORTER, unit=content.resolve_scope("rgh/4w"), due_in_days=7)])

    context, page, problems = _page(browser, browser_context_args, PHONE)
    try:
        sign_in(page, demo, "nurse.ana")
        expect_home(page, demo, "Ana")
        line = page.get_by_role("link", name=re.compile(r"Read and sign: PC-150 Bed alarms at night"))
        expect(line).to_be_visible()
        line.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Bed alarms at night")
        expect(page.locator("main")).to_contain_text("bed alarm on at night")
        page.get_by_role("button", name="I have read and understood").click()
        expect_home(page, demo, "Ana")
        expect(page.get_by_role("link", name=re.compile(r"PC-150"))).to_have_count(0)
        signed = Attestation.objects.get(version=version, person__username="nurse.ana")
        assert signed.signed_at is not None
        assert problems.problems == []
    finally:
        context.close()


NOT_RECONCILED = ("No reconciled medicine list in the transfer notes from ICU; the checklist is at "
                  "https://intranet.example.org/policies/medicines/reconciliation/transfer-from-icu-checklist-2025.pdf")
PHOTO_NAME = "PXL_20250611_093512345_transfer_notes_from_ICU_bed_12_medicine_list.png"  # no hyphen to break at


def _fits_the_screen(page) -> bool:
    """Nothing wider than the phone. Compared with the phone's width, not innerWidth: on a mobile
    viewport Chromium widens the layout to whatever overflows, and innerWidth grows with it."""
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]


def _photo() -> bytes:
    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (16, 12), (40, 90, 200)).save(picture, "PNG")
    return picture.getvalue()


def test_surveyor_for_the_day_fills_a_tracer_on_her_phone(browser, browser_context_args, demo):
    from andon.compliance.models import Finding, Tracer, TracerPhoto

    # The demo plans a patient tracer on 4 West for the medicine ward's manager: a question per
    # requirement of the path (482.43 stands for each of its standards) and one of its own.
    tracer = Tracer.objects.get(surveyor__username="mgr.fatima", status="planned")
    total = tracer.items.count()
    context, page, problems = _page(browser, browser_context_args, PHONE)
    try:
        sign_in(page, demo, "mgr.fatima")
        expect_home(page, demo, "Fatima")
        # Said once: the work line, and no notification about the same tracer beside it.
        line = page.get_by_role("link", name=re.compile(rf"Tracer to survey on .*: {re.escape(tracer.title)}"))
        expect(line).to_have_count(1)
        expect(page.get_by_role("link", name=re.compile(r"You are the surveyor"))).to_have_count(0)
        line.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(tracer.title)
        cards = page.locator("section.tracer-card")
        expect(cards).to_have_count(total)
        assert _fits_the_screen(page)

        def answer(number: int, choice: str, observation: str = ""):
            card = cards.nth(number - 1)
            card.get_by_text(choice, exact=True).click()  # the big button is the radio's label
            card.get_by_label(re.compile(r"^What you saw")).fill(observation)
            card.get_by_role("button", name="Save answer").click()
            expect(cards.nth(number - 1)).to_contain_text("Saved.")  # swapped in place by htmx

        answer(1, "Yes", "Handover sheet seen at the bedside.")
        answer(2, "No", NOT_RECONCILED)
        # A photo of the wrong room, removed; then the right one, named as a phone names a photo,
        # renamed: one word wider than the screen, as is the link above.
        cards.nth(1).get_by_label(re.compile(r"Add a photo")).set_input_files(
            {"name": "wrong-room.png", "mimeType": "image/png", "buffer": _photo()})
        cards.nth(1).get_by_role("button", name="Upload").click()
        expect(cards.nth(1).get_by_role("link", name="wrong-room.png")).to_be_visible()
        page.once("dialog", lambda dialog: dialog.accept())
        cards.nth(1).get_by_role("button", name="Remove wrong-room.png").click()
        expect(cards.nth(1)).to_contain_text("Photo wrong-room.png removed.")
        expect(cards.nth(1).get_by_role("link", name="wrong-room.png")).to_have_count(0)
        cards.nth(1).get_by_label(re.compile(r"Add a photo")).set_input_files(
            {"name": PHOTO_NAME, "mimeType": "image/png", "buffer": _photo()})
        cards.nth(1).get_by_role("button", name="Upload").click()
        expect(cards.nth(1)).to_contain_text("Photo added.")
        expect(cards.nth(1).get_by_role("link", name=PHOTO_NAME)).to_be_visible()
        cards.nth(1).get_by_text("Raise a finding", exact=True).click()
        cards.nth(1).get_by_label("What was found, in a few words").fill("Medicines not reconciled on transfer")
        cards.nth(1).get_by_label("Risk").select_option(label="High")
        assert _fits_the_screen(page)  # the card at its widest: photo field and finding form open
        cards.nth(1).get_by_role("button", name="Raise the finding").click()
        expect(cards.nth(1)).to_contain_text("Finding (High risk): Medicines not reconciled on transfer")
        answer(3, "N/A", "Discharged to a care home.")
        for number in range(4, total + 1):
            answer(number, "Yes")
        expect(page.locator("#tracer-progress")).to_contain_text(f"Answered {total} of {total}")
        assert _fits_the_screen(page)

        page.get_by_role("link", name=re.compile(r"Finish: summary and completion")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Complete the tracer")
        assert _fits_the_screen(page)
        page.get_by_label(re.compile(r"^Summary")).fill("Transfers from ICU lose the medicine list; the rest held.")
        page.get_by_role("button", name="Complete the tracer").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(tracer.title)
        expect(page.locator("main")).to_contain_text("The tracer is completed")
        assert _fits_the_screen(page)
        assert problems.problems == []
    finally:
        context.close()

    tracer.refresh_from_db()
    assert (tracer.status, tracer.summary) == ("completed", "Transfers from ICU lose the medicine list; the rest held.")
    items = list(tracer.items.order_by("position"))
    assert [(i.answer, i.observation) for i in items] == [
        ("yes", "Handover sheet seen at the bedside."),
        ("no", NOT_RECONCILED),
        ("na", "Discharged to a care home."), *[("yes", "")] * (total - 3)]
    removed = TracerPhoto.objects.get(item__tracer=tracer, removed_at__isnull=False)
    assert (removed.item, removed.name, removed.removed_by.username) == (items[1], "wrong-room.png", "mgr.fatima")
    photo = TracerPhoto.objects.get(item__tracer=tracer, removed_at=None)
    with photo.file.open("rb") as stored:
        content = stored.read()
    assert (photo.item, photo.name, photo.content_type, photo.uploaded_by.username) == (
        items[1], PHOTO_NAME, "image/png", "mgr.fatima")
    assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) == photo.size
    finding = Finding.objects.get(tracer=tracer)
    assert (finding.title, finding.risk, finding.requirement, finding.unit, finding.description) == (
        "Medicines not reconciled on transfer", "high", items[1].requirement, tracer.unit,
        NOT_RECONCILED)
