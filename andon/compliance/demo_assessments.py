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
TITLE = "Riverside General: CoP readiness (demo)"
# (result, working status, rationale) for the first items, in framework order.
WORKED = [
    (Result.MET, WorkingStatus.DONE, "QAPI plan approved by the board in March; minutes on file."),
    (Result.MET, WorkingStatus.IN_REVIEW, "Quality indicators are tracked monthly on the measures dashboard."),
    (Result.PARTLY_MET, WorkingStatus.IN_PROGRESS, "Adverse events are tracked, but feedback to units is irregular."),
    (Result.NOT_MET, WorkingStatus.DONE, "No documented prioritisation of high-risk, problem-prone areas this year."),
    (Result.MET, WorkingStatus.DONE, "Two PIPs documented with measurable progress."),
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
    items = list(assessment.items.select_related("requirement").order_by("requirement__position"))
    assign_items(lee, items[:12], lee)
    for item, (result, status, rationale) in zip(items, WORKED, strict=False):
        item.refresh_from_db()
        update_item(lee, item, item.version, working_status=status, result=result, rationale=rationale)
    not_met = next((i for i in items[:len(WORKED)] if i.result == Result.NOT_MET), None)
    if not_met is not None:
        _finding_with_action(lee, not_met, riverside, today)
    _past_weeks(assessment, today)


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
