"""Compliance: findings. A requirement not met or partly met (in an assessment or on a tracer)
raises a finding with a risk rating; a finding opens actions in the shared tracker and stays open
until it is closed with a note. Readiness counts open findings (assessments.py).

Assessments and tracers both raise findings through `raise_finding`.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from andon.actions import services as actions
from andon.platform import audit, permissions
from andon.platform.concurrency import lock

from .models import AssessmentStatus, Finding, FindingRisk, FindingStatus, Result

__all__ = ["RISK_WORDS", "access_finding", "close_finding", "finding_actions", "findings_of_assessment",
           "open_action_for_finding", "raise_finding", "raise_finding_for_item", "visible_findings"]

# What each rating means, shown beside the choice (a survey's citation read against harm).
RISK_WORDS = {
    FindingRisk.LOW: "Low: a gap in records or process with no likely harm; fix in the ordinary course.",
    FindingRisk.MODERATE: "Moderate: could lead to harm or a standard-level citation if it persists.",
    FindingRisk.HIGH: "High: likely harm or a condition-level citation; act within weeks. "
                      "The item does not count as met until the finding is closed.",
    FindingRisk.EXTREME: "Extreme: immediate jeopardy to patients; act now. "
                         "The item does not count as met until the finding is closed.",
}


def access_finding(user, finding_id, capability: str = "compliance.view") -> Finding:
    return permissions.fetch_checked(
        user, capability, Finding.objects.select_related("requirement__version__framework", "unit", "raised_by"),
        pk=finding_id)


@audit.changes_by_user
@transaction.atomic
def raise_finding(user, *, requirement, unit, title: str, risk: str, description: str = "", item=None,
                  tracer=None) -> Finding:
    """A finding against a requirement in a unit. From an assessment item (`item`) the raiser
    assesses (compliance.raise_findings); from a tracer, its surveyor (compliance.fill_tracer)."""
    if tracer is not None:
        permissions.check(user, "compliance.fill_tracer", tracer)
    else:
        permissions.check(user, "compliance.raise_findings", unit)
    errors = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = "Say what was found in a few words."
    elif len(title) > 200:
        errors["title"] = f"The title is {len(title)} characters long; keep it to 200."
    if risk not in FindingRisk.values:
        errors["risk"] = f"{risk!r} is not a risk rating; choose one of {', '.join(FindingRisk.labels)}."
    if item is not None and item.requirement_id != requirement.pk:
        errors["item"] = "The assessment item is about another requirement."
    if errors:
        raise ValidationError(errors)
    return Finding.objects.create(requirement=requirement, unit=unit, title=title, description=description.strip(),
                                  risk=risk, item=item, tracer=tracer, raised_by=user)


def raise_finding_for_item(user, item, *, title: str, risk: str, description: str = "", unit=None) -> Finding:
    """A finding from an assessment item judged not met or partly met. Its unit is the item's;
    an item for a whole facility or organisation names the unit the finding is about."""
    if item.result not in (Result.NOT_MET, Result.PARTLY_MET):
        raise ValidationError({"item": "A finding is raised from an item judged not met or partly met."})
    if item.assessment.status != AssessmentStatus.OPEN:
        raise ValidationError({"item": "The assessment is closed."})
    unit = item.unit or unit
    if unit is None:
        raise ValidationError({"unit": "Choose the unit the finding is about."})
    if not _in_assessment_scope(unit, item.assessment):
        raise ValidationError({"unit": f"{unit} is outside the scope of {item.assessment}."})
    return raise_finding(user, requirement=item.requirement, unit=unit, title=title, risk=risk,
                         description=description or "", item=item)


def _in_assessment_scope(unit, assessment) -> bool:
    if assessment.unit_id:
        return unit.path.startswith(assessment.unit.path)
    if assessment.facility_id:
        return unit.facility_id == assessment.facility_id
    return unit.facility.organisation_id == assessment.organisation_id


def visible_findings(user, *, status: str = "", risk: str = "", chapter_urn: str = "", units=None):
    """Findings in units where the user sees compliance (`units`: a narrower scope), filtered."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Finding.objects.none()
    found = Finding.objects.filter(unit__in=permissions.units_where(user, "compliance.view")).select_related(
        "requirement__chapter", "unit__facility", "item__assessment", "raised_by")
    if units is not None:
        found = found.filter(unit__in=units)
    if status:
        found = found.filter(status=status)
    if risk:
        found = found.filter(risk=risk)
    if chapter_urn:
        found = found.filter(requirement__chapter__urn=chapter_urn)
    return found


def findings_of_assessment(assessment):
    return Finding.objects.filter(item__assessment=assessment).select_related(
        "requirement", "unit", "item", "raised_by").order_by("status", "-raised_at")


def open_action_for_finding(user, finding: Finding, *, owner, title: str, due_date, strength: str,
                            measure: str, description: str = ""):
    """An action in the shared tracker with the finding as its source."""
    if finding.status != FindingStatus.OPEN:
        raise ValidationError({"finding": "The finding is closed: reopen work on a new finding."})
    return actions.create_action(user, source=finding, source_label=f"Finding: {finding.title}"[:200],
                                 unit=finding.unit, owner=owner, title=title, description=description,
                                 due_date=due_date, strength=strength, measure=measure)


def finding_actions(finding: Finding, user=None):
    return actions.actions_for_source(finding, user)


@audit.changes_by_user
@transaction.atomic
def close_finding(user, finding: Finding, note: str, version: int | None = None) -> Finding:
    permissions.check(user, "compliance.raise_findings", finding.unit)
    finding = lock(finding, version)
    if finding.status == FindingStatus.CLOSED:
        raise ValidationError({"status": "The finding is already closed."})
    if not (note or "").strip():
        raise ValidationError({"note": "Say how the finding was resolved."})
    finding.status = FindingStatus.CLOSED
    finding.closed_at = timezone.now()
    finding.closing_note = note.strip()
    finding.save()
    return finding
