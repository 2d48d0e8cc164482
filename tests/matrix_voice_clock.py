"""The permission matrix's rows of the grievance clock, letters, committee and dashboard
(andon/voice/clock.py, letters.py, committee.py): grievances are read by patient relations, the
grievance committee, unit managers (their units), the CQO and the CMO; patient relations write
and send the letters, reopen and escalate; approvers (patient relations, the committee, the CQO)
approve; the committee decides and opens actions."""

from datetime import date, timedelta

from django.utils import timezone

from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case, ScopeCase

READERS = frozenset({Role.PATIENT_RELATIONS, Role.GRIEVANCE_COMMITTEE, Role.UNIT_MANAGER, Role.CQO, Role.CMO})
RELATIONS = frozenset({Role.PATIENT_RELATIONS})
APPROVERS = frozenset({Role.PATIENT_RELATIONS, Role.GRIEVANCE_COMMITTEE, Role.CQO})
COMMITTEE = frozenset({Role.GRIEVANCE_COMMITTEE})
BASE = "/api/v1/voice"


def _grievance(status="open"):
    from andon.platform.models import Unit
    from andon.voice.models import Grievance

    ward = Unit.objects.get(facility__code="rgh", code="4w")
    received = timezone.now() - timedelta(days=2)
    today = timezone.localdate()
    return Grievance.objects.create(
        organisation=ward.facility.organisation, reference="G-MATRIX-1", channel="letter", received_at=received,
        received_on=today - timedelta(days=2), due_on=today + timedelta(days=5), description="Matrix grievance.",
        status=status, unit=ward, contact_name="A Patient", resolved_on=today if status == "resolved" else None)


def _letter(other, status="draft"):
    from andon.voice.models import Letter

    grievance = _grievance()
    return Letter.objects.create(
        grievance=grievance, kind="resolution", status=status, body="Dear A Patient,", created_by=other,
        contact_person="Patient Relations", investigation_steps="Interviews", results="Apology given",
        completed_on=timezone.localdate(), approved_by=other if status != "draft" else None,
        approved_at=timezone.now() if status != "draft" else None)


def _escalation(other, decided=False):
    from andon.voice.models import Escalation

    return Escalation.objects.create(grievance=_grievance(), reason="Review please", escalated_by=other,
                                     decision="upheld" if decided else "", findings="Found" if decided else "",
                                     decided_by=other if decided else None,
                                     decided_at=timezone.now() if decided else None)


def a_grievance(user, other):
    return [_grievance().pk], {}


def a_resolved_grievance(user, other):
    return [_grievance("resolved").pk], {"reason": "The patient wrote back."}


def a_grievance_to_escalate(user, other):
    return [_grievance().pk], {"reason": "The family asks for a review."}


def a_draft(user, other):
    return [_letter(other).pk], {}


def an_approved_letter(user, other):
    return [_letter(other, "approved").pk], {}


def an_approved_letter_to_send(user, other):
    letter = _letter(other, "approved")
    return [letter.pk], {"via": "post", "sent_on": timezone.localdate().isoformat(), "version": letter.version}


def an_escalation(user, other):
    return [_escalation(other).pk], {}


def a_decided_escalation(user, other):
    return [_escalation(other, decided=True).pk], {
        "title": "Teach back at discharge", "owner": user.pk,
        "due_date": (timezone.localdate() + timedelta(days=30)).isoformat(), "measure": "Audit 20 discharges"}


PAGES = {
    "voice:grievance_letters": Case(READERS, setup=a_grievance),
    "voice:letter_new": Case(RELATIONS, method="post", setup=a_grievance, data={"kind": "interim"}),
    "voice:grievance_reopen": Case(RELATIONS, method="post", setup=a_resolved_grievance),
    "voice:grievance_escalate": Case(RELATIONS, method="post", setup=a_grievance_to_escalate),
    "voice:letters": Case(APPROVERS),
    "voice:letter": Case(READERS, setup=a_draft),
    "voice:letter_approve": Case(APPROVERS, method="post", setup=a_draft),
    "voice:letter_send": Case(RELATIONS, method="post", setup=an_approved_letter_to_send),
    "voice:letter_redraft": Case(RELATIONS, method="post", setup=an_approved_letter),
    "voice:letter_pdf": Case(READERS, setup=a_draft),
    "voice:grievance_dashboard": Case(READERS),
    "voice:grievance_measures_feed": Case(RELATIONS, method="post"),
    "voice:committee": Case(COMMITTEE),
    "voice:escalation": Case(READERS, setup=an_escalation),
    "voice:escalation_action": Case(COMMITTEE, method="post", setup=a_decided_escalation),
    # the action form's owner picker (a people search of the escalation's page)
    "voice:escalation_action_owners": Case(COMMITTEE, setup=lambda user, other: ([_escalation(other, decided=True).pk],
                                                                                  {"q": "matrix"})),
}


def grievance_id(user, other, hospital):
    return {"grievance_id": _grievance().pk}


def resolved_grievance_id(user, other, hospital):
    return {"grievance_id": _grievance("resolved").pk}


def draft_id(user, other, hospital):
    return {"letter_id": _letter(other).pk}


def approved_id(user, other, hospital):
    return {"letter_id": _letter(other, "approved").pk}


def escalation_id(user, other, hospital):
    return {"escalation_id": _escalation(other).pk}


def decided_escalation_id(user, other, hospital):
    return {"escalation_id": _escalation(other, decided=True).pk}


def action_body(hospital):
    from andon.platform.models import User

    owner = User.objects.get(username=f"matrix-{Role.GRIEVANCE_COMMITTEE.value}")
    return {"title": "Teach back", "owner_id": owner.pk, "measure": "Audit",
            "due_date": (date.today() + timedelta(days=30)).isoformat()}


API = {
    ("GET", BASE + "/grievances/{grievance_id}/clock"): ApiCase(READERS, setup=grievance_id),
    ("POST", BASE + "/grievances/{grievance_id}/reopen"): ApiCase(RELATIONS, setup=resolved_grievance_id,
                                                                  body={"reason": "Wrote back"}),
    ("GET", BASE + "/grievances/{grievance_id}/letters"): ApiCase(READERS, setup=grievance_id),
    ("POST", BASE + "/grievances/{grievance_id}/letters"): ApiCase(RELATIONS, setup=grievance_id,
                                                                   body={"kind": "interim"}),
    ("PATCH", BASE + "/letters/{letter_id}"): ApiCase(RELATIONS, setup=draft_id, body={"results": "Apology"}),
    ("POST", BASE + "/letters/{letter_id}/approve"): ApiCase(APPROVERS, setup=draft_id),
    ("POST", BASE + "/letters/{letter_id}/send"): ApiCase(RELATIONS, setup=approved_id, body={"via": "post"}),
    ("GET", BASE + "/letters/{letter_id}/pdf"): ApiCase(READERS, setup=draft_id),
    ("GET", BASE + "/grievance-dashboard"): ApiCase(READERS),
    ("POST", BASE + "/grievances/{grievance_id}/escalate"): ApiCase(RELATIONS, setup=grievance_id,
                                                                    body={"reason": "Review"}),
    ("GET", BASE + "/committee"): ApiCase(COMMITTEE),
    ("POST", BASE + "/committee/{escalation_id}/decision"): ApiCase(
        COMMITTEE, setup=escalation_id, body={"decision": "upheld", "findings": "Found"}),
    ("POST", BASE + "/committee/{escalation_id}/actions"): ApiCase(COMMITTEE, setup=decided_escalation_id,
                                                                   body=action_body),
}

SCOPE_CELLS = {
    "voice:grievance_dashboard, left out": ScopeCase("cmo@lch", "/voice/grievances/dashboard/", shows=("name",)),
    "voice:grievance_dashboard, unit outside": ScopeCase("cmo@lch", "/voice/grievances/dashboard/?unit={rgh/4w}",
                                                         (403,)),
    "GET /voice/grievance-dashboard, left out": ScopeCase("cmo@lch", "/api/v1/voice/grievance-dashboard",
                                                          api=True),
    "GET /voice/grievance-dashboard, unit_id outside": ScopeCase(
        "cmo@lch", "/api/v1/voice/grievance-dashboard?unit_id={rgh/4w}", (403,), api=True),
}
