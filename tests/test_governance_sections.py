"""The board quality pack's sections from safety, risk, compliance, improvement and voice (issue 21):
each registered in the platform's registry, its figures equal to what the module's own page
computes for the same period, each number printed in its HTML, a hostile title escaped, and
nothing confidential (narrative, patient, person) in it. Small data through the services."""

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from andon.compliance import assessments as compliance
from andon.compliance import board as compliance_board
from andon.compliance import evidence
from andon.compliance.models import Evidence, WorkingStatus
from andon.improvement import board as improvement_board
from andon.improvement import portfolio
from andon.improvement import services as improvement
from andon.platform import content, reporting
from andon.platform.models import Unit
from andon.platform.roles import Role
from andon.risk import board as risk_board
from andon.risk import overview
from andon.risk import services as risk_services
from andon.risk.matrix import matrix_of
from andon.risk.models import RiskMatrix, ScoreRecord
from andon.safety import analysis
from andon.safety import board as safety_board
from andon.safety.models import Investigation
from andon.voice import board as voice_board
from andon.voice import clock, scores, surveys
from andon.voice.models import ComplaintKind, Grievance, GrievanceCategory, GrievanceStatus

from .test_compliance_assessments import make_framework
from .test_safety_analysis import make_event

CONTENT = Path(__file__).resolve().parent.parent / "content"
HOSTILE = "<script>alert('pack')</script>"
ESCAPED = "&lt;script&gt;alert(&#x27;pack&#x27;)&lt;/script&gt;"
MARCH_FIRST, MARCH_LAST = date(2026, 3, 1), date(2026, 3, 31)


def march(hospital, today=date(2026, 4, 15)) -> reporting.ReportingContext:
    return reporting.ReportingContext(hospital.organisation.pk, MARCH_FIRST, MARCH_LAST, today)


def cell(number) -> str:
    """A number as the sections print it in a right-aligned table cell."""
    return f'<td class="text-end">{number}</td>'


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def assert_printable(html: str) -> None:
    """The page's CSP and the PDF take the markup as it is: no script, no inline style."""
    assert "<script" not in html and re.search(r"\sstyle=", html) is None


def test_every_module_registers_its_section_in_the_packs_order():
    registered = {key: order for key, _title, order in reporting.pack_section_keys()}
    assert {key: registered.get(key) for key in ("safety", "risk", "compliance", "improvement", "voice")} == {
        "safety": 40, "risk": 50, "compliance": 60, "improvement": 70, "voice": 80}


# --- safety -----------------------------------------------------------------------------------------

def test_safety_section_equals_the_analysis_page_and_keeps_sentinel_events_de_identified(
        hospital, safety_taxonomy, make_user, django_assert_max_num_queries):
    officer = make_user(Role.PATIENT_SAFETY_OFFICER, "")
    Unit.objects.filter(pk=hospital.unit("rgh/icu").pk).update(name=HOSTILE)
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    for _ in range(3):
        make_event(hospital, "fall", when=at, narrative="Found on the floor by the bed")
    for _ in range(2):
        make_event(hospital, "medication", unit="rgh/icu", harm="mild", when=at)
    sentinel = make_event(hospital, "fall", unit="rgh/icu", harm="severe", when=at,
                          narrative="Mr Quentin Zebedee fell down the stairs")
    sentinel.is_sentinel = True
    sentinel.person_affected = "Quentin Zebedee"
    sentinel.save()
    Investigation.objects.create(event=sentinel, started_by=officer)
    make_event(hospital, "fall", when=datetime(2026, 4, 2, 12, 0, tzinfo=UTC))  # April: not counted

    with django_assert_max_num_queries(8):  # taxonomy, units, the counts, the months, the sentinels
        section = safety_board.section(march(hospital))
    page = analysis.analyse(officer, analysis.Filters(since=MARCH_FIRST, until=MARCH_LAST))

    assert section.figures["Safety events"] == page.summary.safety_events == 6
    assert {k.removeprefix("Category: "): v for k, v in section.figures.items() if k.startswith("Category: ")} == {
        row.label: row.count for row in page.summary.categories} == {"Fall": 4, "Medication or other substance": 2}
    assert {k.removeprefix("Harm: "): v for k, v in section.figures.items() if k.startswith("Harm: ")} == dict(
        page.summary.harm)
    assert section.figures["Sentinel events"] == 1
    html = section.html
    for label, count in page.summary.harm:
        assert f"<td>{label}</td>{cell(count)}" in html
    assert "6 safety events reported for March 2026" in text_of(html)
    assert "RCA in progress" in html and "March 2026" in html
    assert_printable(html)
    assert HOSTILE not in html and ESCAPED in html  # the unit's name, in the sentinel's place
    for secret in ("Quentin", "Zebedee", "floor", sentinel.reference, officer.username):
        assert secret not in html
    assert "<svg" in html and "chart-table" in html


# --- risk -------------------------------------------------------------------------------------------

def _raise(manager, hospital, title, current, **more):
    return risk_services.raise_risk(
        manager, title=title, cause="Because of a cause", event="there is a risk that", effect="which would lead to",
        category="clinical", owner=manager, unit=hospital.unit("rgh/4w"),
        review_on=timezone.localdate() + timedelta(days=30),
        scores={"inherent": (5, 5), "current": current, "target": (1, 1)}, **more)


def test_risk_section_equals_the_heat_map_page_and_puts_risks_above_tolerance_first(
        hospital, make_user, django_assert_max_num_queries):
    manager = make_user(Role.RISK_MANAGER, "", username="rita", job_title="Head of risk")
    organisation = hospital.organisation
    scores_given = [(2, 2), (4, 4), (3, 2), (5, 4), (2, 3), (4, 5), (1, 2)]
    risks = [_raise(manager, hospital, f"Risk {i}", current) for i, current in enumerate(scores_given)]
    hostile = _raise(manager, hospital, HOSTILE, (3, 3))
    closed = _raise(manager, hospital, "Closed one", (5, 5))
    risk_services.close_risk(manager, closed, "Gone")
    # Risk 0 stood at 4 before the period; re-scored since to 6.
    ScoreRecord.objects.filter(risk=risks[0]).update(at=datetime(2026, 2, 1, tzinfo=UTC))
    risk_services.rescore(manager, risks[0], {"inherent": (5, 5), "current": (2, 3), "target": (1, 1)},
                          review_on=timezone.localdate() + timedelta(days=30))
    context = reporting.ReportingContext(organisation.pk, MARCH_FIRST, MARCH_LAST, timezone.localdate())

    with django_assert_max_num_queries(7):  # a fixed number, whatever the register holds (no query per risk)
        section = risk_board.section(context)
    matrix = matrix_of(organisation)
    page_risks = overview.register(manager, organisation, matrix)
    cells = overview.heat_maps(page_risks, matrix)["current"]
    assert section.figures["Open risks"] == sum(c.count for c in cells) == 8
    assert {k.removeprefix("Band: "): v for k, v in section.figures.items() if k.startswith("Band: ")} == {
        band.name: n for band, n in overview.band_totals(matrix, cells)}
    asking = sorted(page_risks, key=lambda r: (not risk_services.asks_escalation(r, matrix), -r.current_score,
                                               r.reference))
    assert section.figures["Above tolerance"] == sum(risk_services.asks_escalation(r, matrix) for r in page_risks)
    assert [k.removeprefix("Top risk ") for k in section.figures if k.startswith("Top risk ")] == [
        r.reference for r in asking[:5]]
    html = section.html
    for risk in asking[:5]:
        assert f"{risk.reference} " in html and cell(risk.current_score) in html
    assert "Head of risk" in html and "rita" not in html
    assert "Up from 4" in html and "Trend: since 1 March 2026" in html  # risk 0: 4 before March, 6 now
    assert_printable(html)
    assert HOSTILE not in html and ESCAPED in html and hostile.reference in html
    assert "Because of a cause" not in html and closed.reference not in html


# --- compliance ---------------------------------------------------------------------------------------

def test_compliance_section_equals_the_readiness_page_and_counts_expired_evidence(hospital, make_user):
    specialist = make_user(Role.COMPLIANCE_SPECIALIST, "", username="lee")
    version = make_framework()
    assessment = compliance.create_assessment(specialist, title=HOSTILE, version=version,
                                              scope=hospital.facility("rgh"), lead=specialist,
                                              due_on=date(2027, 1, 31))
    for citation, result in (("A.1", "met"), ("A.2", "partly_met"), ("B.1", "not_met")):
        item = assessment.items.get(requirement__citation=citation, for_unit=None)
        compliance.update_item(specialist, item, item.version, working_status=WorkingStatus.IN_PROGRESS,
                               result=result, rationale="Looked at the minutes.")
    today = timezone.localdate()
    for title, citation in (("Fire drill log", "A.1"), ("Infection audit", "B.1")):
        found = evidence.add_evidence(specialist, kind="link", title=title, owner=specialist,
                                      organisation=hospital.organisation, url="https://example.org/doc",
                                      review_on=today + timedelta(days=200))
        evidence.link(specialist, found, [version.requirements.get(citation=citation).urn])
    Evidence.objects.filter(title="Fire drill log").update(review_on=today - timedelta(days=3))

    section = compliance_board.section(march(hospital, today=today))
    page = compliance.readiness(assessment).overall
    key = f"{HOSTILE}: "
    assert section.figures[key + "readiness %"] == round(page.percent, 1)
    assert (section.figures[key + "met"], section.figures[key + "gaps"]) == (
        page.counts["met"], page.counts["partly_met"] + page.counts["not_met"]) == (1, 2)
    expired = Evidence.objects.filter(retired_at=None, review_on__lt=today).count()
    assert section.figures["Evidence expired"] == expired == 1
    assert section.figures[key + "requirements with expired evidence"] == 1  # A.1's; B.1's is current
    html = section.html
    assert f"{page.percent:.1f}%" in html and cell(1) in html
    assert "1 item of evidence expired" in text_of(html)
    assert_printable(html)
    assert HOSTILE not in html and ESCAPED in html
    assert "Looked at the minutes" not in html and "example.org" not in html


# --- improvement --------------------------------------------------------------------------------------

def test_improvement_section_equals_the_portfolio_page_for_the_year(hospital, make_user,
                                                                   django_assert_max_num_queries):
    content.load_content([CONTENT / "measures"])
    lead = make_user(Role.IMPROVEMENT_LEAD, "", username="uma")
    sponsor = make_user(Role.CQO, "", username="olivia")
    ward = hospital.unit("rgh/4w")
    values = dict(place=improvement.place_code(unit=ward), sponsor=sponsor, lead=lead, team=[], scope_units=[ward],
                  problem="Mrs Ada Quill fell twice", high_risk=True, high_volume=False, problem_prone=False,
                  rationale="Harm", domain="safe", measure_key="falls", aim="From 5 to 4", baseline=5.0, target=4.0,
                  aim_date=date(2027, 6, 30), year=2026)
    for title, status, domain in ((HOSTILE, "active", "safe"), ("Sepsis bundle", "active", "effective"),
                                  ("Hand hygiene", "stopped", "safe")):
        improvement.charter_project(lead, **(values | {"title": title, "status": status, "domain": domain}))
    improvement.charter_project(lead, **(values | {"title": "Next year", "status": "proposed", "year": 2027}))

    with django_assert_max_num_queries(2):  # the projects with their units, and the number asked for
        section = improvement_board.section(march(hospital))
    page = portfolio.portfolio(lead, {"year": 2026}, with_costs=False)
    assert section.figures["Projects"] == len(page["rows"]) == 3
    assert section.figures["Projects counting for the year"] == page["year_count"] == 2
    assert {k.removeprefix("Status: "): v for k, v in section.figures.items() if k.startswith("Status: ")} == dict(
        page["by_status"]) == {"Active": 2, "Stopped": 1}
    assert {k.removeprefix("Domain: "): v for k, v in section.figures.items() if k.startswith("Domain: ")} == dict(
        page["by_domain"])
    html = section.html
    assert "<td>Active</td>" + cell(2) in html and "<td>Stopped</td>" + cell(1) in html
    assert "3 projects for 2026; 2 count for the year" in text_of(html)
    assert_printable(html)
    assert HOSTILE not in html and ESCAPED in html
    assert "Ada Quill" not in html and "Next year" not in html


# --- voice --------------------------------------------------------------------------------------------

SURVEYS = """\
id,discharged,ward,nc,nl,ne,rec,rating,remarks
S01,2026-03-02,rgh/4w,4,4,4,4,10,Nurse Olga Vantablack was rude
S02,2026-03-05,rgh/4w,4,3,4,4,9,
S03,2026-03-09,rgh/5e,3,3,,3,8,
S04,2026-03-12,lch/2a,4,4,2,4,,
S05,2026-04-02,rgh/4w,1,1,1,1,1,
"""
SURVEY_COLUMNS = {"id": "survey_id", "discharged": "discharge_date", "ward": "unit", "nc": "q:nurse_courtesy",
                  "nl": "q:nurse_listen", "ne": "q:nurse_explain", "rec": "q:recommend",
                  "rating": "q:overall_rating", "remarks": "comment"}


def _grievance(hospital, reference, received_on, due_on, *, resolved_on=None, kind=ComplaintKind.GRIEVANCE,
               status=GrievanceStatus.OPEN, categories=()):
    grievance = Grievance.objects.create(
        organisation=hospital.organisation, reference=reference, kind=kind, channel="letter",
        received_at=datetime.combine(received_on, datetime.min.time(), tzinfo=UTC).replace(hour=12),
        received_on=received_on, due_on=due_on, resolved_on=resolved_on, status=status,
        description="The call bell rang for an hour", patient_name="Horace Pinkerton-Wylde",
        unit=hospital.unit("rgh/4w"))
    grievance.categories.set(categories)
    return grievance


def test_voice_section_equals_the_scores_page_and_the_grievance_figures(hospital, make_user, settings):
    settings.ANDON_SURVEY_MIN_COUNT = 3
    content.load_content([CONTENT / "measures", CONTENT / "survey-question-sets"])
    lead = make_user(Role.PATIENT_EXPERIENCE_LEAD, "", username="lead")
    relations = make_user(Role.PATIENT_RELATIONS, "", username="rel")
    mapping = surveys.create_mapping(lead, name="Small file", columns=SURVEY_COLUMNS)
    assert surveys.import_survey_file(lead, mapping, SURVEYS, "small.csv").ok
    care = GrievanceCategory.objects.create(key="care", label=HOSTILE)
    billing = GrievanceCategory.objects.create(key="billing", label="Billing")
    _grievance(hospital, "G-2026-00001", date(2026, 3, 2), date(2026, 3, 9), resolved_on=date(2026, 3, 8),
               status=GrievanceStatus.RESOLVED, categories=[care])
    _grievance(hospital, "G-2026-00002", date(2026, 3, 10), date(2026, 3, 17), resolved_on=date(2026, 3, 20),
               status=GrievanceStatus.RESOLVED, categories=[care, billing])
    _grievance(hospital, "G-2026-00003", date(2026, 3, 28), date(2026, 4, 4), categories=[care])
    _grievance(hospital, "G-2026-00004", date(2026, 3, 5), None, kind=ComplaintKind.COMPLAINT,
               status=GrievanceStatus.RESOLVED, categories=[billing])
    _grievance(hospital, "G-2026-00005", date(2026, 2, 10), date(2026, 2, 17), resolved_on=date(2026, 2, 12),
               status=GrievanceStatus.RESOLVED, categories=[billing])
    context = march(hospital)

    section = voice_board.section(context)
    page = scores.score_table(lead, first=MARCH_FIRST, last=MARCH_LAST)
    shown = [row for row in [*page.composites, *page.questions] if row.share is not None]
    assert section.figures["Surveys returned"] == page.surveys == 4
    assert {k.removeprefix("Top box: "): v for k, v in section.figures.items() if k.startswith("Top box: ")} == {
        row.title: row.percent for row in shown}
    recommend = next(row for row in shown if row.key == "recommend")
    assert recommend.percent == 75.0  # 4, 4, 3, 4: three "Definitely yes" of four
    assert (section.figures["Grievances received"], section.figures["Grievances due"],
            section.figures["Grievances resolved within the time frame"]) == (3, 2, 1)
    dashboard = clock.dashboard_figures(relations, today=context.today)
    assert section.figures["Grievances open past the time frame"] == dashboard.overdue == 1
    assert section.figures[f"Theme: {HOSTILE}"] == 3 and section.figures["Theme: Billing"] == 2
    html = section.html
    assert "75.0%" in html and cell(3) in html and cell(2) in html and cell(1) in html
    assert_printable(html)
    assert HOSTILE not in html and ESCAPED in html
    for secret in ("Horace", "Pinkerton", "call bell", "Vantablack", "G-2026-0000"):
        assert secret not in html


def test_voice_section_warns_below_the_minimum_count(hospital, make_user, settings):
    settings.ANDON_SURVEY_MIN_COUNT = 30
    content.load_content([CONTENT / "measures", CONTENT / "survey-question-sets"])
    lead = make_user(Role.PATIENT_EXPERIENCE_LEAD, "", username="lead")
    mapping = surveys.create_mapping(lead, name="Small file", columns=SURVEY_COLUMNS)
    assert surveys.import_survey_file(lead, mapping, SURVEYS, "small.csv").ok
    html = voice_board.section(march(hospital)).html
    assert "Fewer than 30 surveys (4): too few to read a difference" in html


def test_a_month_with_nothing_leaves_the_optional_sections_out(hospital):
    context = march(hospital)
    assert improvement_board.section(context) is None
    assert compliance_board.section(context) is None
    assert voice_board.section(context) is None
    assert risk_board.section(context) is None and not RiskMatrix.objects.exists()
    assert safety_board.section(context) is None  # no taxonomy loaded yet: no event can exist
    content.load_content([CONTENT / "taxonomies"])
    section = safety_board.section(context)
    assert (section.figures["Safety events"], section.figures["Sentinel events"]) == (0, 0)  # news too
    assert "No sentinel events for March 2026." in section.html
