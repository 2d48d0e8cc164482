"""A QI project in real Chromium (issue 18): the improvement lead charters a project on the falls
measure (the people picked by searching), builds its driver diagram in the page (a primary driver,
a secondary under it, a change idea under that, each node's forms fetched on demand), records two
PDSA cycles of the change idea (the first adapted, the second adopted with new limits) and sees
both on the measure's control chart: the marks of their starts and decisions, and the mean stepping
at the adopted change's date. The rows behind the page are checked too."""

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.conftest import TODAY

from .test_compliance_flow import DESKTOP, _choose, _page, _pick
from .test_signin import expect_home, main_nav, sign_in

TITLE = "Fewer night falls on 4 West"
CYCLES = [  # title, start, end, decision day (days back), decision, rebase
    ("Rounding on bay 2", 200, 180, 175, "Adapt", False),
    ("Rounding on every bay", 160, 130, 120, "Adopt", True),
]


def _day(days_back: int) -> str:
    return (TODAY - timedelta(days=days_back)).isoformat()


def _node_forms(page, text: str):
    """Open a node's forms with its Edit link (htmx fetches them) and return them."""
    node = page.locator("#driver-nodes > li", has_text=text).first
    node.get_by_role("link", name=re.compile(r"^Edit")).click()
    forms = node.locator(".card")
    expect(forms.get_by_role("button", name="Rename")).to_be_visible()
    # Type only once htmx has settled the forms in: it moves the focus to their `autofocus` field
    # (Rename's Text) 20 ms after the swap, and a fill caught between its focus and its typing put
    # the text into Rename's field, so that "Add" posted an empty text (400) in loaded full runs.
    # htmx takes `htmx-added` off the new content in the same step as it focuses.
    expect(page.locator(".htmx-added, .htmx-settling")).to_have_count(0)
    return forms


def _record_cycle(page, title, start, end, decided, decision, rebase):
    page.get_by_role("link", name=re.compile("^Plan a PDSA cycle")).first.click()
    page.locator("#id_title").fill(title)
    page.locator("#id_plan").fill("Night nurses offer toilet, pain relief and a hand every hour.")
    page.locator("#id_prediction").fill("Falls on nights halve over the month.")
    page.locator("#id_planned_start").fill(_day(start))
    page.locator("#id_planned_end").fill(_day(end))
    page.get_by_role("button", name="Plan the cycle").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    page.locator("#id_started_on").fill(_day(start))
    page.get_by_role("button", name="Record the Do").click()
    expect(page.locator(".alert-success").first).to_contain_text("start is on the chart")
    page.locator("#id_ended_on").fill(_day(end))
    page.locator("#id_study").fill("Fewer falls on the bays that rounded.")
    page.get_by_role("button", name="Record the Study").click()
    _choose(page.locator("#id_decision"), decision)
    page.locator("#id_decided_on").fill(_day(decided))
    if rebase:
        page.locator("#id_rebase").check()
    page.get_by_role("button", name="Record the decision").click()
    expect(page.locator(".alert-success").first).to_contain_text("decision is recorded")
    page.get_by_role("link", name=re.compile(r"^QI-")).first.click()


def _mean_levels(page) -> set[str]:
    """The distinct heights of the chart's mean line (a step where the limits are rebased)."""
    path = page.locator('[data-chart="project-measure"] svg path.mean').get_attribute("d")
    return {y for y in re.findall(r"[ML][\d.]+,([\d.]+)", path)}


def test_an_improvement_lead_charters_a_falls_project_and_sees_its_cycles_on_the_chart(browser, browser_context_args,
                                                                                      demo):
    from andon.improvement.models import Driver, PdsaCycle, Project
    from andon.measures.models import Annotation

    context, page, problems = _page(browser, browser_context_args, DESKTOP)
    try:
        sign_in(page, demo, "qi.uma")
        expect_home(page, demo, "Uma")
        main_nav(page).get_by_role("link", name="Improvement").click()
        page.get_by_role("link", name="Charter a project").click()
        page.locator("#id_title").fill(TITLE)
        page.locator("#id_problem").fill("Eleven falls on nights in the last quarter, most in confused patients.")
        page.locator("#id_high_risk").check()
        _choose(page.locator("#id_domain"), "Safe")
        with page.expect_response(lambda response: "measure=falls" in response.url):
            _choose(page.locator("#id_measure"), "Falls per 1,000 patient days")
        expect(page.locator("#baseline-hint")).to_contain_text("Falls per 1,000 patient days now: mean")
        page.locator("#id_aim").fill("Reduce falls on 4 West from 5 to 4 per 1,000 patient days.")
        page.locator("#id_baseline").fill("5")
        page.locator("#id_target").fill("4")
        page.locator("#id_aim_date").fill((TODAY + timedelta(days=180)).isoformat())
        _choose(page.locator("#id_place"), "4 West")
        _pick(page, "Sponsor", "Olivia", "Olivia Grant")
        _pick(page, "Lead", "Uma", "Uma Okafor")
        _choose(page.locator("#id_status"), "Active")
        page.get_by_role("button", name="Charter the project").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
        project = Project.objects.get(title=TITLE)
        expect(page.get_by_role("heading", level=1)).to_contain_text(project.reference)
        chart = page.locator('[data-chart="project-measure"] svg')
        expect(chart.locator("text", has_text="Aim 4")).to_have_count(1)

        page.get_by_label("New primary driver").fill("Patients at risk are not left to get up alone")
        page.get_by_role("button", name="Add the primary driver").click()
        forms = _node_forms(page, "Patients at risk are not left to get up alone")
        _choose(forms.get_by_label("Add under it"), "Secondary driver")
        forms.get_by_label("Text", exact=True).last.fill("Regular offers of help at night")
        forms.get_by_role("button", name="Add", exact=True).click()
        forms = _node_forms(page, "Regular offers of help at night")
        forms.get_by_label("Text", exact=True).last.fill("Hourly rounding")
        forms.get_by_role("button", name="Add", exact=True).click()
        diagram = page.locator('[data-chart="driver-diagram"] svg')
        for words in ("Patients at risk are not", "Regular offers of help at", "Hourly rounding"):
            expect(diagram.locator("text", has_text=words)).to_have_count(1)
        assert [(d.kind, d.parent.text if d.parent else None) for d in Driver.objects.filter(
            project=project).select_related("parent").order_by("pk")] == [
            ("primary", None), ("secondary", "Patients at risk are not left to get up alone"),
            ("change", "Regular offers of help at night")]
        before = _mean_levels(page)

        for cycle in CYCLES:
            _record_cycle(page, *cycle)
        markers = page.locator('[data-chart="project-measure"] svg line.annotation')
        for number, (title, *_rest) in enumerate(CYCLES, start=1):
            for words in ("start of", "adapted" if number == 1 else "adopted"):
                expect(markers.filter(has=page.locator("title", has_text=f"{project.reference} PDSA {number}: "
                                                                           f"{words}"))).to_have_count(1)
        after = _mean_levels(page)
        assert len(after) == len(before) + 1  # the mean steps once more: at the adopted change
        expect(page.locator("#progress")).to_contain_text("the adopted change “Rounding on every bay”")

        cycles = list(PdsaCycle.objects.filter(change__project=project).order_by("number"))
        assert [(c.number, c.stage, c.decision, c.rebase) for c in cycles] == [(1, "act", "adapt", False),
                                                                                (2, "act", "adopt", True)]
        rebased = Annotation.objects.get(pk=cycles[1].decision_annotation_id)
        assert (rebased.date, rebased.rebase, rebased.kind) == (TODAY - timedelta(days=120), True, "qi_change")
        assert Annotation.objects.filter(measure__key="falls", text__startswith=project.reference).count() == 4
        assert problems.problems == []
    finally:
        context.close()
