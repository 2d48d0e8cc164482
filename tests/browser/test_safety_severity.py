"""Severity first, in real Chromium (issue 15, item 8): a nurse reports a fall with severe harm on
her phone; the patient safety officer's triage queue shows it first, marked in words; the officer
has the in-app alert on her home page; one e-mail went to each person alerted."""

import re

from playwright.sync_api import expect

from .conftest import watch
from .test_signin import expect_home, main_nav, sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
REFERENCE = re.compile(r"EV-\d{4}-\d{6}")


def _new_page(browser, context_args: dict, extra: dict):
    context = browser.new_context(**{**context_args, **extra})
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page, watch(page)


def test_a_severe_harm_report_alerts_at_once_and_tops_the_queue(browser, browser_context_args, demo, mailoutbox):
    from andon.safety import services
    from andon.safety.models import Escalation, SafetyEvent

    contexts, watchers = [], []
    try:
        # --- The nurse reports a fall with severe harm on her phone --------------------------------
        phone, nurse, nurse_watch = _new_page(browser, browser_context_args, PHONE)
        contexts.append(phone)
        watchers.append(("nurse (phone)", nurse_watch))
        sign_in(nurse, demo, "nurse.ana")
        expect_home(nurse, demo, "Ana")
        nurse.goto(demo + "/safety/report/")
        nurse.get_by_role("radio", name="Incident (reached the patient)").check()
        unit = nurse.get_by_label("Unit where it happened")
        unit.select_option(unit.locator("option", has_text=re.compile(r"^\W*4 West Medical$")).get_attribute("value"))
        nurse.get_by_label("Category").select_option(label="Fall")
        injury = nurse.get_by_label("Injury from the fall")
        expect(injury).to_be_visible()
        nurse.get_by_role("radio", name=re.compile(r"^Severe harm")).check()
        injury.select_option(label="Major (surgery, casting, traction, fracture, neurological or internal injury)")
        nurse.get_by_label("What happened?").fill("Found on the floor at 02:40; hip fracture on the x-ray.")
        nurse.get_by_role("button", name="Send report").click()
        heading = nurse.get_by_role("heading", level=1)
        expect(heading).to_have_text(re.compile(r"^Thank you: your report EV-\d{4}-\d{6} is sent$"))
        reference = REFERENCE.search(heading.inner_text()).group(0)
        event = SafetyEvent.objects.get(reference=reference)

        # --- One e-mail to each person alerted: the officers covering 4 West, the CQO, the CMO ----
        alerted = services.escalation_recipients(event)
        assert {"pso.hana", "cqo.olivia", "cmo.peter"} <= {person.username for person in alerted}
        urgent = [m for m in mailoutbox if reference in m.subject]
        assert sorted(m.to[0] for m in urgent) == sorted(person.email for person in alerted)
        assert all(m.subject == f"[Andon] Urgent safety report {reference}: triage at once" for m in urgent)
        assert set(Escalation.objects.filter(event=event).values_list("channel", flat=True)) == {"in_app", "email"}

        # --- The officer: the alert on her home page, the report first in the queue, marked -------
        desk, pso, pso_watch = _new_page(browser, browser_context_args, DESKTOP)
        contexts.append(desk)
        watchers.append(("officer (desktop)", pso_watch))
        sign_in(pso, demo, "pso.hana")
        expect_home(pso, demo, "Hana")
        attention = pso.get_by_role("region", name="Needs attention")
        alert = attention.get_by_role("link", name=f"Urgent safety report {reference}: triage at once")
        expect(alert).to_have_count(1)
        expect(attention).to_contain_text("Severe harm.")

        main_nav(pso).get_by_role("link", name="Triage", exact=True).click()
        expect(pso.get_by_role("heading", level=1)).to_have_text("Triage queue")
        rows = pso.locator("tbody tr")
        texts = rows.all_inner_texts()
        position = next(i for i, text in enumerate(texts) if reference in text)
        # First, unless other severe reports wait longer (all of them marked too).
        assert all(re.search(r"Severe harm|Death|Sentinel event", text) for text in texts[:position + 1]), texts
        if not any(re.search(r"Severe harm|Death|Sentinel event", text) for text in texts[:position]):
            assert position == 0
        ours = rows.nth(position)
        expect(ours.locator(".severity-badge")).to_have_text("Severe harm")
        # Filter the queue by harm from the keyboard: the filters are in the address.
        pso.get_by_label("Harm", exact=True).select_option("severe")
        pso.get_by_role("button", name="Apply").press("Enter")
        expect(pso).to_have_url(re.compile(r"[?&]harm=severe"))
        # Only severe reports are left (the demo may hold others waiting longer), ours among them.
        filtered = pso.locator("tbody tr")
        expect(filtered.filter(has_text=reference)).to_have_count(1)
        assert all("Severe harm" in text for text in filtered.all_inner_texts())

        filtered.filter(has_text=reference).get_by_role("link", name=reference, exact=True).click()
        expect(pso.get_by_role("heading", level=1)).to_have_text(reference)
        alerted_region = pso.get_by_role("region", name="Who was alerted")
        expect(alerted_region).to_contain_text("Hana Kim")
        expect(alerted_region).to_contain_text("E-mail")
        # Opened: the alert leaves her home page.
        pso.goto(demo + "/")
        expect(pso.get_by_role("link", name=f"Urgent safety report {reference}: triage at once")).to_have_count(0)

        # The event list on a phone: rows stacked, nothing scrolls sideways.
        pso.set_viewport_size({"width": 390, "height": 844})
        pso.goto(demo + "/safety/events/?q=" + reference)
        expect(pso.locator("tbody tr").first).to_contain_text(reference)
        assert pso.evaluate("document.documentElement.scrollWidth") <= pso.viewport_size["width"] + 1
    finally:
        problems = [f"{who}: {problem}" for who, watcher in watchers for problem in watcher.problems]
        for context in contexts:
            context.close()
    assert not problems, "\n".join(problems)
