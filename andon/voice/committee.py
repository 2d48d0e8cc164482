"""The grievance committee: patient relations escalates a grievance (with the reason); the
committee (voice.decide_grievances) records its review and decision (upheld, partly upheld, not
upheld) with its findings, and opens actions in the shared tracker with the grievance as their
source (actions.services.create_action)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from andon.actions import services as actions
from andon.platform import audit, concurrency, history, permissions

from .models import Decision, Escalation, Grievance, GrievanceStatus

__all__ = ["Decision", "access_escalation", "committee_queue", "committee_section", "decide_escalation",
           "escalate_grievance", "open_committee_action"]

TEXT_MAX = 8000


def access_escalation(user, escalation_id, capability: str = "voice.view_grievances") -> Escalation:
    return permissions.fetch_checked(user, capability, Escalation.objects.select_related("grievance"),
                                     pk=escalation_id)


def committee_queue(user, decided: bool = False):
    """Escalations in the user's scope, waiting for a decision (or decided), oldest first."""
    scope = permissions.scope_for(user, "voice.decide_grievances")
    escalations = Escalation.objects.select_related("grievance", "escalated_by", "decided_by")
    escalations = escalations.exclude(decision="") if decided else escalations.filter(decision="")
    return escalations if scope.everything else escalations.filter(grievance__unit__in=scope.units)


def _text(errors: dict, name: str, value, required: str = "") -> str:
    value = (value or "").strip()
    if required and not value:
        errors[name] = required
    elif len(value) > TEXT_MAX:
        errors[name] = f"At most {TEXT_MAX:,} characters."
    return value


@audit.changes_by_user
@transaction.atomic
def escalate_grievance(user, grievance: Grievance, reason: str) -> Escalation:
    permissions.check(user, "voice.manage_grievances", grievance)
    errors: dict = {}
    reason = _text(errors, "reason", reason, "Say why the committee should review this grievance.")
    if errors:
        raise ValidationError(errors)
    if grievance.status == GrievanceStatus.CLOSED:
        raise ValidationError({"reason": f"{grievance.reference} is closed."})
    if Escalation.objects.filter(grievance=grievance, decision="").exists():
        raise ValidationError({"reason": f"{grievance.reference} is already waiting for the committee."})
    return Escalation.objects.create(grievance=grievance, reason=reason, escalated_by=user)


@audit.changes_by_user
@transaction.atomic
def decide_escalation(user, escalation: Escalation, decision, findings: str, review: str = "",
                      version: int | None = None) -> Escalation:
    permissions.check(user, "voice.decide_grievances", escalation.grievance)
    concurrency.lock(escalation, version)
    errors: dict = {}
    try:
        decision = Decision(decision)
    except ValueError:
        errors["decision"] = f"Choose one of: {', '.join(Decision.values)}."
    findings = _text(errors, "findings", findings, "Write the committee's findings.")
    review = _text(errors, "review", review)
    if escalation.decision:
        errors["decision"] = "The committee has already decided on this escalation."
    if errors:
        raise ValidationError(errors)
    escalation.decision, escalation.findings, escalation.review = decision, findings, review
    escalation.decided_by, escalation.decided_at = user, timezone.now()
    escalation.save()
    return escalation


def open_committee_action(user, escalation: Escalation, *, title: str, owner, due_date: date, measure: str,
                          strength: str = "intermediate", description: str = "", unit=None):
    """An action the committee's decision opens, in the shared tracker with the grievance as its
    source (the tracker checks actions.manage over the unit)."""
    permissions.check(user, "voice.decide_grievances", escalation.grievance)
    if not escalation.decision:
        raise ValidationError({"decision": "Record the committee's decision before opening its actions."})
    grievance = escalation.grievance
    return actions.create_action(user, source=grievance, source_label=f"Grievance committee: {grievance.reference}",
                                 unit=unit or grievance.unit, owner=owner, title=title, description=description,
                                 due_date=due_date, strength=strength, measure=measure)


def committee_section(user, grievance: Grievance) -> dict | None:
    if not permissions.can(user, "voice.view_grievances", grievance):
        return None
    return {"grievance": grievance,
            "escalations": list(Escalation.objects.filter(grievance=grievance).select_related("decided_by")),
            "actions": list(actions.actions_for_source(grievance, user)),
            "may_escalate": permissions.can(user, "voice.manage_grievances", grievance)}


def connect() -> None:
    """Registries of this subject, from ready()."""
    from andon.platform import navigation

    from andon.platform import demo

    from . import demo_letters

    audit.register(Escalation)
    if demo_letters.load not in demo.DEMO_LOADERS:  # after the intake's demo grievances (connect order)
        demo.register_demo_loader(demo_letters.load)
    entry = navigation.NavEntry("Grievance committee", "voice:committee", "voice.decide_grievances", "people")
    if entry not in navigation.ENTRIES:  # ready() may run twice (tests)
        navigation.add(entry)
    history.register(Escalation)
    from .grievances import add_grievance_section

    add_grievance_section("Grievance committee", "voice/committee_section.html", committee_section, 30)
