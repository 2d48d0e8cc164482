"""The demo hospital's assessment: Riverside General against the CMS Conditions of Participation
(when the CoP is loaded), part worked by the compliance specialist, one finding with an action,
and weekly readiness points over the past weeks so the trend has a shape. Made-up records."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from andon.platform.models import Facility, User

from .assessments import assign_items, create_assessment, readiness, update_item
from .findings import open_action_for_finding, raise_finding_for_item
from .models import Assessment, Framework, ReadinessSnapshot, Result, WorkingStatus

COP_URN = "urn:andon:framework:cms-cop-482"
QAPI = f"{COP_URN}:482.21"
TITLE = "Riverside General: CoP readiness (demo)"
# The specialist has started with QAPI: (standard, result, working status, rationale). The standards
# are named, not taken as "the first items": the framework's order starts with 482.11.
WORKED = [
    ("(a)", Result.MET, WorkingStatus.IN_REVIEW, "Quality indicators, adverse events included, tracked monthly."),
    ("(b)", Result.PARTLY_MET, WorkingStatus.IN_PROGRESS, "Data reviewed monthly; feedback to units is irregular."),
    ("(c)", Result.NOT_MET, WorkingStatus.DONE, "High-risk, problem-prone areas not prioritised this year."),
    ("(d)", Result.MET, WorkingStatus.DONE, "Two PIPs documented with measurable progress."),
    ("(e)", Result.MET, WorkingStatus.DONE, "QAPI plan approved by the board in March; minutes on file."),
]


def load() -> None:
    framework = Framework.objects.filter(urn=COP_URN).first()
    version = framework.current if framework else None
    lee = User.objects.filter(username="compliance.lee").first()
    riverside = Facility.objects.filter(code="rgh").first()
    if version is None or lee is None or riverside is None or Assessment.objects.filter(title=TITLE).exists():
        return  # the CoP is not loaded (or the demo already has its assessment)
    today = timezone.localdate()
    assessment = create_assessment(lee, title=TITLE, version=version, scope=riverside, lead=lee,
                                   due_on=today + timedelta(days=60))
    _work_on_qapi(lee, assessment, riverside, today)
    _past_weeks(assessment, today)


def _work_on_qapi(lee, assessment, riverside, today) -> None:
    qapi = {item.requirement.urn: item for item in assessment.items.select_related("requirement")
            .filter(requirement__chapter__urn=QAPI)}
    assign_items(lee, list(qapi.values()), lee)
    for standard, result, status, rationale in WORKED:
        item = qapi.get(QAPI + standard)
        if item is None:
            continue  # a CoP version without this standard
        item.refresh_from_db()
        update_item(lee, item, item.version, working_status=status, result=result, rationale=rationale)
        if result == Result.NOT_MET:
            _finding_with_action(lee, item, riverside, today)


def _finding_with_action(lee, item, riverside, today) -> None:
    unit = riverside.units.filter(code="4w").first()
    finding = raise_finding_for_item(lee, item, title="Priorities for high-risk areas not set", risk="high",
                                     description="The QAPI committee has not ranked high-risk, high-volume or "
                                                 "problem-prone areas for this year.", unit=unit)
    open_action_for_finding(lee, finding, owner=lee, title="Rank QAPI priorities at the next committee",
                            due_date=today + timedelta(days=30), strength="intermediate",
                            measure="Ranked list approved and minuted by the QAPI committee.")


def _past_weeks(assessment, today) -> None:
    """Readiness points for the six weeks before today, climbing to today's score (made up)."""
    now = readiness(assessment).overall.score or Decimal(0)
    for weeks in range(6, 0, -1):
        score = max(Decimal(0), now - Decimal("0.015") * weeks).quantize(Decimal("0.0001"))
        ReadinessSnapshot.objects.update_or_create(assessment=assessment, taken_on=today - timedelta(weeks=weeks),
                                                   defaults={"score": score, "detail": {"demo": True}})
