"""Committees and meetings in real Chromium (issue 21): the quality committee's secretary
(analyst.jo) finds the meeting to prepare on her home page, builds the agenda with the standing
items, the last meeting's minutes and an item the modules propose, records the attendance (the
quorum met), holds the meeting, records a decision that opens an action for mgr.fatima, and the
action shows on mgr.fatima's home page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from andon.governance.models import Meeting, MeetingStatus
from andon.platform import reporting
from andon.platform.models import Unit, User

from tests.test_governance_meetings import started_earlier_today

from .test_signin import expect_home, sign_in, sign_out


@pytest.fixture
def falls_proposed():
    """An attention source of the test's own (the live server runs in this process)."""
    saved = dict(reporting._ATTENTION)
    reporting.register_attention_source("test.falls", "Falls", lambda context: [
        reporting.AttentionItem("test.falls", "2 falls with harm on Medicine", 2, detail="Both at night")])
    yield
    reporting._ATTENTION.clear()
    reporting._ATTENTION.update(saved)


def test_the_secretary_builds_the_agenda_and_a_decision_opens_an_action(demo, page, falls_proposed):
    meeting = Meeting.objects.get(committee__key="qpsc", status=MeetingStatus.PLANNED)
    # The meeting is today (the demo plans it a few days ahead): it began earlier today.
    Meeting.objects.filter(pk=meeting.pk).update(starts_at=started_earlier_today())
    people = {u.username: u for u in User.objects.filter(username__in=[
        "cqo.olivia", "analyst.jo", "pso.hana", "cmo.peter", "mgr.fatima", "risk.noah"])}

    sign_in(page, demo, "analyst.jo")
    expect_home(page, demo, "Jo")
    page.get_by_role("link", name="Agenda to build: Quality and Patient Safety Committee").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Quality and Patient Safety Committee")

    page.get_by_role("button", name="Add the standing items and the last meeting's minutes").click()
    agenda = page.locator("[data-agenda-item]")
    expect(agenda.first).to_contain_text("Minutes of the last meeting")
    expect(agenda).to_have_count(6)  # the minutes and five standing items
    page.get_by_label("2 falls with harm on Medicine").check()
    page.get_by_role("button", name="Add the chosen items to the agenda").click()
    expect(page.locator("[data-agenda-item=proposed]")).to_contain_text("2 falls with harm on Medicine")

    page.get_by_role("button", name="Mark the meeting as held").click()
    expect(page.locator("[data-status]")).to_have_text("Held (minutes in draft)")
    for username in ("cqo.olivia", "analyst.jo", "pso.hana", "cmo.peter", "mgr.fatima"):
        page.locator(f"select[name=presence-{people[username].pk}]").select_option("present")
    page.locator(f"select[name=presence-{people['risk.noah'].pk}]").select_option("apologies")
    page.get_by_role("button", name="Record the attendance").click()
    expect(page.locator("[data-quorum-met]")).to_contain_text("5 voting members present; the quorum is 4: met.")

    page.get_by_role("textbox", name="Decision (required)").fill("Medicine adopts the falls bundle on every night shift.")
    page.get_by_label("On the item").select_option(label="2 falls with harm on Medicine")
    page.get_by_role("button", name="Record the decision").click()
    decision = page.locator("[data-decision]").last
    expect(decision).to_contain_text("Medicine adopts the falls bundle")
    decision.get_by_role("link", name="Open an action from this decision").click()

    medicine = Unit.objects.get(facility__code="rgh", code="medicine")
    due = timezone.localdate() + timedelta(days=45)
    form = page.locator("form#action")
    form.get_by_role("textbox", name=re.compile("^Title")).fill("Falls bundle on Medicine night shifts")
    form.get_by_role("combobox", name=re.compile("^Unit")).select_option(str(medicine.pk))
    form.get_by_role("combobox", name=re.compile("^Owner")).select_option(str(people["mgr.fatima"].pk))
    form.get_by_label(re.compile("^Due date")).fill(due.isoformat())
    form.get_by_role("radio").first.check()
    form.get_by_role("textbox", name=re.compile("^Measure")).fill("Falls with harm per 1,000 bed days on Medicine, monthly, for six months")
    form.get_by_role("button", name="Open the action").click()
    expect(page.get_by_text("The action is in the tracker for")).to_be_visible()
    expect(page.locator("[data-decision]").last).to_contain_text("Falls bundle on Medicine night shifts")

    sign_out(page, demo)
    sign_in(page, demo, "mgr.fatima")
    expect_home(page, demo, "Fatima")
    expect(page.get_by_role("link", name=f"Action due {due:%Y-%m-%d}: Falls bundle on Medicine night shifts")) \
        .to_be_visible()
