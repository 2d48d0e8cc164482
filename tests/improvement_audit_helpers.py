"""Records the clinical-audit tests share (made through the services, on the demo hospital)."""

from datetime import date

from andon.improvement import services
from andon.platform.models import Unit, User


def person(username: str) -> User:
    return User.objects.get(username=username)


def ward() -> Unit:
    return Unit.objects.select_related("facility__organisation").get(facility__code="rgh", code="4w")


def ward_place() -> dict:
    unit = ward()
    return {"unit": unit, "facility": unit.facility, "organisation": unit.facility.organisation}


def make_tool(user, criteria=3, title="Falls risk assessment"):
    tool = services.create_tool(user, title=title, place=ward_place(), topic="Falls", standard_source="NICE CG161")
    for number in range(1, criteria + 1):
        services.add_criterion(user, tool, text=f"Standard {number} is met.", target=90, guidance=f"Look {number}")
    return tool


def make_audit(user, tool, *, auditors, cohort_kind="list", double_share=10, **sample):
    values = {"expected": 50, "margin": 10, "confidence": 95} | sample
    return services.plan_audit(user, tool, title="Falls audit", place=ward_place(), period_start=date(2026, 1, 1),
                               period_end=date(2026, 3, 31), lead=user, auditors=auditors, cohort_kind=cohort_kind,
                               double_share=double_share, **values)


def references(count: int, prefix: str = "ENC") -> str:
    return "\n".join(f"{prefix}-{n:04d}" for n in range(1, count + 1))
