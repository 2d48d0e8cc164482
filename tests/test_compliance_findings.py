"""Compliance findings: raised from items not met or partly met, opening actions in the shared
tracker (the finding is the action's source), closed with a note; the list filtered by status,
risk, chapter and unit within the caller's scope; pages and API."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from andon.actions.models import Action
from andon.compliance import assessments as service
from andon.compliance import findings
from andon.compliance.models import FindingStatus
from andon.platform.roles import Role
from tests.test_compliance_assessments import URN, _assessment, _item, _judge, world  # noqa: F401

NEXT_MONTH = timezone.localdate() + timedelta(days=30)


@pytest.fixture
def not_met(world):  # noqa: F811
    assessment = _assessment(world, per_unit_units=[world.w4, world.e5])
    return _judge(world, _item(assessment, "B.1", world.w4), "not_met")


def test_a_finding_needs_an_item_not_met_or_partly_met(world):  # noqa: F811
    assessment = _assessment(world)
    met = _judge(world, _item(assessment, "A.1"), "met")
    with pytest.raises(ValidationError, match="not met or partly met"):
        findings.raise_finding_for_item(world.specialist, met, title="x", risk="low", unit=world.w4)
    partly = _judge(world, _item(assessment, "A.2"), "partly_met")
    with pytest.raises(ValidationError) as error:  # a facility-wide item names its unit
        findings.raise_finding_for_item(world.specialist, partly, title="x", risk="low")
    assert "unit" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        findings.raise_finding_for_item(world.specialist, partly, title="", risk="dire", unit=world.w4)
    assert set(error.value.message_dict) == {"title", "risk"}
    with pytest.raises(PermissionDenied):
        findings.raise_finding_for_item(world.nurse, partly, title="x", risk="low", unit=world.w4)


def test_a_finding_opens_actions_in_the_tracker_and_closes_with_a_note(world, not_met):  # noqa: F811
    finding = findings.raise_finding_for_item(world.specialist, not_met, title="Isolation signage missing",
                                              risk="moderate")
    assert (finding.unit, finding.item, finding.requirement) == (world.w4, not_met, not_met.requirement)
    action = findings.open_action_for_finding(world.specialist, finding, owner=world.specialist,
                                              title="Put up isolation signs", due_date=NEXT_MONTH,
                                              strength="weaker", measure="Weekly walk-round finds signs in place.")
    action = Action.objects.get(pk=action.pk)
    assert (action.source, action.unit, action.source_label) == (finding, world.w4,
                                                                  "Finding: Isolation signage missing")
    assert list(findings.finding_actions(finding, world.specialist)) == [action]
    with pytest.raises(ValidationError, match="how the finding was resolved"):
        findings.close_finding(world.specialist, finding, "  ")
    closed = findings.close_finding(world.specialist, finding, "Signs in place on three walk-rounds.", finding.version)
    assert (closed.status, closed.closing_note) == (FindingStatus.CLOSED, "Signs in place on three walk-rounds.")
    with pytest.raises(ValidationError, match="closed"):
        findings.open_action_for_finding(world.specialist, closed, owner=world.specialist, title="x",
                                         due_date=NEXT_MONTH, strength="weaker", measure="m")


def test_the_findings_list_filters_within_the_scope(world, not_met, make_user, hospital):  # noqa: F811
    high = findings.raise_finding_for_item(world.specialist, not_met, title="High one", risk="high")
    e5_item = _judge(world, _item(not_met.assessment, "A.1", world.e5), "partly_met")
    low = findings.raise_finding_for_item(world.specialist, e5_item, title="Low one", risk="low")
    findings.close_finding(world.specialist, low, "Done.")
    assert list(findings.visible_findings(world.specialist, status="open")) == [high]
    assert list(findings.visible_findings(world.specialist, risk="low")) == [low]
    assert list(findings.visible_findings(world.specialist, chapter_urn=f"{URN}:a")) == [low]
    ward_manager = make_user(Role.UNIT_MANAGER, "rgh/4w")
    assert list(findings.visible_findings(ward_manager)) == [high]
    assert list(findings.visible_findings(make_user(Role.UNIT_MANAGER, "lch/2a"))) == []


def test_finding_pages(world, not_met, client):  # noqa: F811
    client.force_login(world.specialist)
    form = client.get(reverse("compliance:item_finding_new", args=[not_met.pk]))
    assert form.status_code == 200 and "immediate jeopardy" in form.content.decode()
    raised = client.post(reverse("compliance:item_finding_new", args=[not_met.pk]),
                         {"title": "No hand-rub at the door", "risk": "extreme"})
    finding = not_met.findings.get()
    assert raised.status_code == 302 and raised["Location"] == reverse("compliance:finding", args=[finding.pk])
    opened = client.post(reverse("compliance:finding_action", args=[finding.pk]), {
        "title": "Fit dispensers", "owner": world.specialist.pk, "due_date": NEXT_MONTH.isoformat(),
        "strength": "stronger", "measure": "Dispensers at every door on audit."})
    action = Action.objects.get(title="Fit dispensers")
    assert opened.status_code == 302 and action.source == finding
    page = client.get(reverse("compliance:finding", args=[finding.pk])).content.decode()
    assert "Fit dispensers" in page and "Extreme risk" in page
    assessment_page = client.get(reverse("compliance:assessment", args=[not_met.assessment.pk])).content.decode()
    assert "No hand-rub at the door" in assessment_page and "Open findings: extreme 1," in assessment_page
    listed = client.get(reverse("compliance:findings"), {"risk": "extreme", "unit": world.w4.pk}).content.decode()
    assert "No hand-rub at the door" in listed
    closed = client.post(reverse("compliance:finding_close", args=[finding.pk]),
                         {"note": "Fitted and audited.", "version": finding.version})
    assert closed.status_code == 302
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CLOSED


def test_findings_api(world, not_met, client, make_user):  # noqa: F811
    client.force_login(world.specialist)
    base = "/api/v1/compliance"
    raised = client.post(f"{base}/items/{not_met.pk}/findings", {"title": "Gap", "risk": "high"},
                         content_type="application/json")
    assert raised.status_code == 201 and raised.json()["unit_id"] == world.w4.pk
    finding_id = raised.json()["id"]
    action = client.post(f"{base}/findings/{finding_id}/actions", {
        "title": "Fix the gap", "owner_id": world.specialist.pk, "due_date": NEXT_MONTH.isoformat(),
        "strength": "intermediate", "measure": "Audit shows it fixed."}, content_type="application/json")
    assert action.status_code == 201 and action.json()["source_label"] == "Finding: Gap"
    listed = client.get(f"{base}/findings", {"status": "open", "unit_id": world.w4.pk}).json()
    assert [f["id"] for f in listed["items"]] == [finding_id]
    readiness = client.get(f"{base}/assessments/{not_met.assessment.pk}/readiness").json()
    assert readiness["overall"]["open_findings"]["high"] == 1
    closed = client.post(f"{base}/findings/{finding_id}/close", {"note": "Fixed."}, content_type="application/json")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    client.force_login(make_user(Role.QUALITY_ANALYST, "lch"))
    assert client.get(f"{base}/findings/{finding_id}").status_code == 403
    assert client.get(f"{base}/findings", {"unit_id": world.w4.pk}).status_code == 403
    service.close_assessment(world.specialist, not_met.assessment)
