"""The permission matrix's rows of complaints and grievances (andon/voice/grievances.py): read by
patient relations, the grievance committee, unit managers (their units), the CQO and the CMO;
logged by patient relations and unit managers; classified and linked by patient relations. The
public complaint form and its follow page are open to anyone."""

from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case, ScopeCase

PUBLIC = None
READERS = frozenset({Role.PATIENT_RELATIONS, Role.GRIEVANCE_COMMITTEE, Role.UNIT_MANAGER, Role.CQO, Role.CMO})
LOGGERS = frozenset({Role.PATIENT_RELATIONS, Role.UNIT_MANAGER})
MANAGERS = frozenset({Role.PATIENT_RELATIONS})
BASE = "/api/v1/voice/grievances"


def _grievance(other, resolved_at_time=False):
    from datetime import datetime, timezone

    from andon.platform.models import Unit
    from andon.voice import services

    ward = Unit.objects.get(facility__code="rgh", code="4w")
    return services.log_complaint(other, services.Intake(
        channel="phone", received_at=datetime(2026, 1, 5, 10, tzinfo=timezone.utc), description="Matrix complaint",
        unit_id=ward.pk, resolved_at_time=resolved_at_time))


def _logger():
    from andon.platform import services

    person = services.create_user("matrix-grievance-logger")
    services.grant_role(person, Role.PATIENT_RELATIONS, _organisation())
    return person


def _organisation():
    from andon.platform.models import Organisation

    return Organisation.objects.order_by("pk").first()


def a_grievance(user, other):
    return [_grievance(_logger()).pk], {}


def a_complaint(user, other):
    return [_grievance(_logger(), resolved_at_time=True).pk], {}


def an_own_event(user, other):
    """A grievance and a safety event the user reported (so any role may link it)."""
    from datetime import datetime, timezone

    from andon.platform.models import Unit
    from andon.safety import services as safety

    ward = Unit.objects.get(facility__code="rgh", code="4w")
    event, _ = safety.submit_report(user, safety.Report(
        kind="near_miss", category="other", unit_id=ward.pk, occurred_at=datetime(2026, 1, 5, 9, tzinfo=timezone.utc),
        narrative="Matrix event"))
    return [_grievance(_logger()).pk], {"reference": event.reference}


def api_grievance(user, other, hospital):
    return {"grievance_id": _grievance(_logger()).pk}


def api_grievance_and_event(user, other, hospital):
    ids, data = an_own_event(user, other)
    api_grievance_and_event.reference = data["reference"]
    return {"grievance_id": ids[0]}


def log_body(hospital):
    return {"channel": "email", "received_at": "2026-01-05T10:00:00Z", "description": "Matrix e-mail",
            "unit_id": hospital.unit("rgh/4w").pk}


def link_body(hospital):
    return {"reference": api_grievance_and_event.reference}


PAGES = {
    "voice:grievances": Case(READERS),
    "voice:grievance_log": Case(LOGGERS),
    "voice:grievance": Case(READERS, setup=a_grievance),
    "voice:grievance_classify": Case(MANAGERS, method="post", setup=a_grievance),
    "voice:grievance_unresolved": Case(MANAGERS, method="post", setup=a_complaint),
    "voice:grievance_link_event": Case(MANAGERS, method="post", setup=an_own_event),
    "voice:grievance_open_event": Case(MANAGERS, setup=a_grievance),
    "voice:public_complaint": Case(PUBLIC),
    "voice:public_follow": Case(PUBLIC),
}

API = {
    ("GET", BASE): ApiCase(READERS),
    ("GET", BASE + "/{grievance_id}"): ApiCase(READERS, setup=api_grievance),
    ("POST", BASE): ApiCase(LOGGERS, body=log_body),
    ("PUT", BASE + "/{grievance_id}/classification"): ApiCase(MANAGERS, setup=api_grievance, body={}),
    ("POST", BASE + "/{grievance_id}/events"): ApiCase(MANAGERS, setup=api_grievance_and_event, body=link_body),
    ("POST", BASE + "/{grievance_id}/events/new"): ApiCase(MANAGERS, setup=api_grievance, body={
        "kind": "near_miss", "category": "other"}),
}

SCOPE_CELLS = {
    "voice:grievances, unit outside": ScopeCase("cmo@lch", "/voice/grievances/?unit={rgh/4w}", (200,)),
    "GET /voice/grievances, left out": ScopeCase("cmo@lch", BASE, api=True),
    "GET /voice/grievances, unit_id outside": ScopeCase("cmo@lch", BASE + "?unit_id={rgh/4w}", (403,), api=True),
}
