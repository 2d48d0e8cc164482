"""The demo hospital's QI project (made up): reducing falls on 4 West, on the library's falls
measure, led by the improvement advisor (qi.uma) and sponsored by the chief quality officer, with
its driver diagram and one PDSA cycle under way (started, past its planned end, not yet studied:
the lead's home page asks for the study). Made through the services, as people would."""

from datetime import timedelta

from django.utils import timezone

from andon.measures import services as measures
from andon.platform.models import Unit, User

from . import pdsa, projects
from .models import DriverKind, Project

DIAGRAM = [
    ("Patients at risk are known to every shift", [
        ("Risk assessed on admission and each day", ["Falls risk score in the admission bundle"]),
        ("Risk visible at the bedside", ["Falls-risk sign over the bed"]),
    ]),
    ("Patients at risk are not left to get up alone", [
        ("Regular offers of help", ["Hourly rounding at night (toilet, pain, position, possessions)"]),
    ]),
]


def load_demo_project() -> None:
    people = {u.username: u for u in User.objects.filter(is_demo=True, username__in=["qi.uma", "cqo.olivia",
                                                                                      "mgr.fatima"])}
    if Project.objects.exists() or len(people) < 3 or measures.latest_verdict("falls") is None:
        return
    uma, ward = people["qi.uma"], Unit.objects.get(facility__code="rgh", code="4w")
    falls = measures.listed_measures().get(key="falls")
    today = timezone.localdate()
    levels = [p[3] for p in measures.chart_for(falls, unit=ward).points if p[3] is not None]
    baseline = round(sum(levels) / len(levels), 2) if levels else 4.0
    project = projects.charter_project(
        uma, place=projects.place_code(unit=ward), sponsor=people["cqo.olivia"], lead=uma, team=[people["mgr.fatima"]],
        scope_units=[ward], title="Fewer falls on 4 West at night",
        problem=f"4 West reports {baseline:g} falls per 1,000 patient days, most of them at night, in confused "
                "older patients getting up alone.",
        high_risk=True, high_volume=True, problem_prone=False,
        rationale="Falls with harm lengthen stays and were three of the ward's five serious incidents last year.",
        domain="safe", measure_key="falls", aim=f"Reduce falls on 4 West by a fifth, from {baseline:g} to "
                                                f"{round(baseline * 0.8, 2):g} per 1,000 patient days, within a year.",
        baseline=baseline, target=round(baseline * 0.8, 2), aim_date=today + timedelta(days=300),
        started_on=today - timedelta(days=60), year=today.year, status="active")
    change = None
    for primary, secondaries in DIAGRAM:
        node = projects.add_driver(uma, project, kind=DriverKind.PRIMARY, text=primary)
        for secondary, ideas in secondaries:
            below = projects.add_driver(uma, project, kind=DriverKind.SECONDARY, text=secondary, parent=node)
            for idea in ideas:
                change = projects.add_driver(uma, project, kind=DriverKind.CHANGE, text=idea, parent=below)
    cycle = pdsa.plan_cycle(uma, change, title="Hourly rounding on nights, one bay", plan=(
        "Night nurses on bay 2 offer toilet, check pain, position and possessions every hour for two weeks."),
        prediction="No falls in bay 2 in the two weeks; rounding recorded for at least 9 of 10 hours.",
        planned_start=today - timedelta(days=30), planned_end=today - timedelta(days=16))
    pdsa.start_cycle(uma, cycle, started_on=today - timedelta(days=30),
                     do_notes="Rounding sheet on the bay door; the night sister checks it at 04:00.")
