"""QI projects (issue 18 items 1–5) through the services, on the demo hospital: the charter and its
checks, the driver diagram, PDSA cycles and their marks on the measure's chart (moved, rebased and
taken off with the cycle), progress read from the chart, the cost of poor quality against a hand
computation, the portfolio and the lead's home page."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from andon.improvement import services as improvement
from andon.improvement.models import Driver, PdsaCycle, Project
from andon.measures.models import Annotation, Measure
from andon.platform import history
from andon.platform.models import Unit, User
from tests.conftest import TODAY

pytestmark = pytest.mark.usefixtures("demo_for_the_module")  # one restore of the demo for the module


@pytest.fixture
def people(demo_hospital):
    return {u.username: u for u in User.objects.filter(username__in=["qi.uma", "cqo.olivia", "mgr.fatima",
                                                                       "analyst.jo", "nurse.ana", "auditor.mia"])}


@pytest.fixture
def ward(demo_hospital):
    return Unit.objects.get(facility__code="rgh", code="4w")


def charter(people, ward, **changes):
    values = dict(place=improvement.place_code(unit=ward), sponsor=people["cqo.olivia"], lead=people["qi.uma"],
                  team=[people["mgr.fatima"]], scope_units=[ward], title="Fewer falls at night", problem="Falls at night",
                  high_risk=True, high_volume=False, problem_prone=False, rationale="Harm", domain="safe",
                  measure_key="falls", aim="From 5 to 4 by next year", baseline=5.0, target=4.0,
                  aim_date=TODAY + timedelta(days=200), year=TODAY.year, status="active")
    values.update(changes)
    return improvement.charter_project(people["qi.uma"], **values)


def test_a_charter_gets_its_reference_and_keeps_its_fields(people, ward):
    first = charter(people, ward)
    second = charter(people, ward, title="Second")
    numbers = sorted([first.reference, second.reference])
    assert first.reference.startswith(f"QI-{TODAY.year}-") and len({first.reference, second.reference}) == 2
    assert int(numbers[1][-3:]) == int(numbers[0][-3:]) + 1
    project = Project.objects.get(pk=first.pk)
    assert (project.measure.key, project.unit, project.facility.code, project.baseline, project.target) == (
        "falls", ward, "rgh", 5.0, 4.0)
    assert list(project.team.all()) == [people["mgr.fatima"]] and list(project.scope_units.all()) == [ward]


def test_bad_charters_name_each_field_and_store_nothing(people, ward):
    before = Project.objects.count()
    with pytest.raises(ValidationError) as refused:
        charter(people, ward, title=" ", high_risk=False, measure_key="no-such", baseline=float("nan"),
                aim_date=TODAY - timedelta(days=1), domain="castle", year=1800,
                scope_units=[Unit.objects.get(facility__code="lch", code="2a")])
    errors = refused.value.message_dict
    assert set(errors) >= {"title", "high_risk", "measure", "baseline", "aim_date", "domain", "year", "scope_units"}
    assert "2A" in errors["scope_units"][0] or "outside" in errors["scope_units"][0]
    with pytest.raises(ValidationError) as wrong_way:
        charter(people, ward, target=6.0)  # falls: lower is better
    assert "below the baseline" in wrong_way.value.message_dict["target"][0]
    assert Project.objects.count() == before


def test_chartering_needs_the_capability_where_the_project_sits(people, ward):
    with pytest.raises(PermissionDenied):
        improvement.charter_project(people["nurse.ana"], **{**_charter_values(people, ward)})


def _charter_values(people, ward):
    return dict(place=improvement.place_code(unit=ward), sponsor=people["cqo.olivia"], lead=people["qi.uma"],
                title="t", problem="p", high_risk=True, domain="safe", measure_key="falls", aim="a", baseline=5.0,
                target=4.0, aim_date=TODAY + timedelta(days=10), year=TODAY.year)


def test_edit_is_versioned_and_completing_keeps_the_day(people, ward):
    project = charter(people, ward)
    values = _charter_values(people, ward) | {"title": "Renamed", "status": "active"}
    improvement.edit_project(people["mgr.fatima"], project, ver=project.version, **values)  # a team member edits
    with pytest.raises(ValidationError) as stale:
        improvement.edit_project(people["qi.uma"], Project.objects.get(pk=project.pk), ver=1, **values)
    assert "version" in str(stale.value) or stale.value.messages
    done = improvement.set_status(people["qi.uma"], Project.objects.get(pk=project.pk), "completed")
    assert done.completed_on == TODAY
    again = improvement.set_status(people["qi.uma"], done, "active")
    assert again.completed_on is None
    said = [change for line in history.history_of(project) for change in line.changes]
    assert "Status changed from Completed to Active" in said and "Status changed from Active to Completed" in said


def diagram(people, project):
    uma = people["qi.uma"]
    primary = improvement.add_driver(uma, project, kind="primary", text="Risk known")
    secondary = improvement.add_driver(uma, project, kind="secondary", text="Assessed daily", parent=primary)
    change = improvement.add_driver(uma, project, kind="change", text="Hourly rounding", parent=secondary)
    return primary, secondary, change


def test_the_driver_diagram_keeps_its_tree_and_order(people, ward):
    project = charter(people, ward)
    uma = people["qi.uma"]
    primary, secondary, change = diagram(people, project)
    second = improvement.add_driver(uma, project, kind="primary", text="Help offered")
    direct = improvement.add_driver(uma, project, kind="change", text="Bed alarms", parent=second)
    with pytest.raises(ValidationError) as refused:
        improvement.add_driver(uma, project, kind="secondary", text="x", parent=change)
    assert "primary driver" in refused.value.message_dict["parent"][0]
    with pytest.raises(ValidationError):
        improvement.add_driver(uma, project, kind="primary", text="x", parent=primary)
    improvement.move_driver(uma, second, "up")
    tree = improvement.drivers_of(project)
    assert [t["node"].text for t in tree] == ["Help offered", "Risk known"]
    assert [c["node"].text for c in tree[0]["children"]] == ["Bed alarms"]
    assert tree[1]["children"][0]["children"][0]["node"] == change
    improvement.rename_driver(uma, direct, "Bed and chair alarms")
    improvement.remove_driver(uma, primary)
    assert list(Driver.objects.filter(project=project).values_list("text", flat=True).order_by("pk")) == [
        "Help offered", "Bed and chair alarms"]
    with pytest.raises(PermissionDenied):
        improvement.add_driver(people["nurse.ana"], project, kind="primary", text="x")


def test_pdsa_cycles_put_their_dates_on_the_chart_and_keep_them_consistent(people, ward):
    project = charter(people, ward)
    change = diagram(people, project)[2]
    fatima = people["mgr.fatima"]  # a team member without measures.annotate records the cycle
    cycle = improvement.plan_cycle(fatima, change, title="Rounding one bay", plan="p", prediction="no falls",
                                   planned_start=TODAY - timedelta(days=40), planned_end=TODAY - timedelta(days=20))
    assert cycle.number == 1 and cycle.start_annotation is None
    cycle = improvement.start_cycle(fatima, cycle, started_on=TODAY - timedelta(days=40), ver=cycle.version)
    start = Annotation.objects.get(pk=cycle.start_annotation_id)
    assert (start.date, start.kind, start.rebase) == (TODAY - timedelta(days=40), "qi_change", False)
    assert start.text == f"{project.reference} PDSA 1: start of “Rounding one bay”" and start.created_by == fatima
    with pytest.raises(ValidationError) as early:
        improvement.act_on_cycle(fatima, cycle, decision="adopt", decided_on=TODAY)
    assert "Study" in early.value.message_dict["decision"][0]
    with pytest.raises(ValidationError) as backwards:
        improvement.study_cycle(fatima, cycle, ended_on=TODAY - timedelta(days=50), study="s")
    assert "before it started" in backwards.value.message_dict["ended_on"][0]
    cycle = improvement.study_cycle(fatima, PdsaCycle.objects.get(pk=cycle.pk), ended_on=TODAY - timedelta(days=20),
                                    study="One fall instead of three")
    cycle = improvement.act_on_cycle(fatima, cycle, decision="adopt", decided_on=TODAY - timedelta(days=15),
                                     rebase=True)
    mark = Annotation.objects.get(pk=cycle.decision_annotation_id)
    assert (mark.date, mark.rebase, cycle.stage) == (TODAY - timedelta(days=15), True, "act")
    assert "adopted" in mark.text and "(new limits)" in mark.text
    # the start date corrected moves its mark; the decision changed to abandon withdraws the rebase
    cycle = improvement.edit_cycle(fatima, cycle, started_on=TODAY - timedelta(days=38))
    assert Annotation.objects.get(pk=cycle.start_annotation_id).date == TODAY - timedelta(days=38)
    with pytest.raises(ValidationError) as abandon_rebase:
        improvement.edit_cycle(fatima, cycle, decision="abandon")
    assert "adopted" in abandon_rebase.value.message_dict["rebase"][0]
    cycle = improvement.edit_cycle(fatima, PdsaCycle.objects.get(pk=cycle.pk), decision="abandon", rebase=False)
    mark.refresh_from_db()
    assert mark.rebase is False and "abandoned" in mark.text
    # numbers once per change idea; dates out of range
    with pytest.raises(ValidationError) as twice:
        improvement.plan_cycle(fatima, change, title="t", plan="p", prediction="q", planned_start=TODAY,
                               planned_end=TODAY, number=1)
    assert "PDSA 1 already" in twice.value.message_dict["number"][0]
    with pytest.raises(ValidationError) as far:
        improvement.plan_cycle(fatima, change, title="t", plan="p", prediction="q", planned_start=date(1800, 1, 1),
                               planned_end=TODAY)
    assert "planned_start" in far.value.message_dict
    ids = [cycle.start_annotation_id, cycle.decision_annotation_id]
    improvement.remove_cycle(fatima, PdsaCycle.objects.get(pk=cycle.pk))
    assert not Annotation.objects.filter(pk__in=ids).exists() and not PdsaCycle.objects.filter(pk=cycle.pk).exists()


def test_progress_reads_the_chart_since_the_adopted_change(people, ward):
    project = charter(people, ward)
    before = improvement.progress(project)
    assert "Aim 4" in before.chart.svg and before.change is None
    assert before.cost.avoided is None and "no change adopted" in before.cost.reason
    assert before.days_left == 200
    change = diagram(people, project)[2]
    uma = people["qi.uma"]
    cycle = improvement.plan_cycle(uma, change, title="Rounding", plan="p", prediction="q",
                                   planned_start=TODAY - timedelta(days=400), planned_end=TODAY - timedelta(days=300))
    cycle = improvement.start_cycle(uma, cycle, started_on=TODAY - timedelta(days=400))
    cycle = improvement.study_cycle(uma, cycle, ended_on=TODAY - timedelta(days=300), study="s")
    cycle = improvement.act_on_cycle(uma, cycle, decision="adopt", decided_on=TODAY - timedelta(days=300), rebase=True)
    after = improvement.progress(Project.objects.get(pk=project.pk))
    measure = Measure.objects.get(key="falls")
    from andon.measures import services as measures

    drawn = measures.chart_for(measure, unit=ward)
    since = [p for p in drawn.points if p[0] >= cycle.decided_on and p[3] is not None]
    assert since, "the demo has falls results in the last months"
    rate = sum(p[1] for p in since) / sum(p[2] for p in since) * 1000
    assert after.current == pytest.approx(rate) and after.periods_since == len(since)
    assert after.met is (rate <= 4.0)
    assert after.verdict in {"Special cause: improvement", "Special cause: concern", "Common cause variation"}
    # by hand: (baseline − rate since) × patient days ÷ 1,000 falls avoided, at the organisation's cost
    improvement.set_portfolio_settings(uma, project.organisation, cost_per_harm_event=Decimal("14000"),
                                       cost_per_excess_day=Decimal("2000"), currency="usd")
    costed = improvement.progress(Project.objects.get(pk=project.pk)).cost
    days = sum(p[2] for p in since)
    assert costed.volume == pytest.approx(days)
    assert costed.avoided == pytest.approx((5.0 - rate) * days / 1000)
    assert costed.amount == (Decimal(str(round((5.0 - rate) * days / 1000, 6))) * 14000).quantize(Decimal("0.01"))
    assert costed.currency == "USD"


def test_the_portfolio_counts_and_filters(people, ward):
    uma = people["qi.uma"]
    charter(people, ward, high_volume=True)
    charter(people, ward, title="Pressure", domain="effective", status="proposed")
    found = improvement.portfolio(uma, {"status": "proposed"})
    assert [row["project"].title for row in found["rows"]] == ["Pressure"]
    everything = improvement.portfolio(uma)
    statuses = dict(everything["by_status"])
    assert statuses["Proposed"] == 1 and statuses["Active"] >= 2  # the demo's project too
    required = improvement.set_projects_required(uma, everything["organisation"], year=TODAY.year, count=4,
                                                 decided_by="Board, 12 March")
    again = improvement.portfolio(uma, with_costs=False)
    assert again["required"] == required and again["year_count"] == 3
    with pytest.raises(ValidationError) as refused:
        improvement.set_projects_required(uma, everything["organisation"], year=TODAY.year, count=-1, decided_by="")
    assert set(refused.value.message_dict) == {"count", "decided_by"}
    with pytest.raises(PermissionDenied):
        improvement.set_projects_required(people["mgr.fatima"], everything["organisation"], year=TODAY.year, count=1,
                                          decided_by="x")


def test_the_lead_sees_projects_and_late_cycles_on_the_home_page(people):
    from andon.platform.services import work_for

    titles = [item.title for item in work_for(people["qi.uma"])]
    assert any("PDSA 1" in title and "not studied yet" in title for title in titles)
    assert any(title.endswith("Fewer falls on 4 West at night") for title in titles)
