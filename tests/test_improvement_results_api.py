"""The improvement API of audit results and the cycle: the values the results page shows (Wilson,
Newcombe, Fisher worked by hand in test_improvement_results.py), the cycle's moves and refusals
(the field named, nothing stored), findings into actions, the count sent to the measure, and the
report PDF as the page serves it."""

import io
from datetime import timedelta

import pytest
from django.urls import reverse

from andon.actions.models import Action
from andon.improvement import services as improvement
from andon.improvement.models import Audit, AuditStage
from andon.platform.roles import Role
from tests.test_improvement_results import TODAY, answer_cases, cases, make_audit, make_tool

BASE = "/api/v1/improvement/audits"


@pytest.fixture
def ward(hospital):
    return hospital.unit("rgh/4w")


@pytest.fixture
def auditor(make_user, client):
    lead = make_user(Role.CLINICAL_AUDITOR, "", username="auditor")
    client.force_login(lead)
    return lead


def _post(client, url, body=None):
    return client.post(url, body or {}, content_type="application/json")


def _fields(response):
    """The fields a 422 names."""
    assert response.status_code == 422, response.content
    return {tuple(problem["loc"])[-1] for problem in response.json()["detail"]}


def _re_audited(auditor, ward, before_met, after_met, after_na=0):
    tool = make_tool(auditor, ward, 90)
    before = make_audit(tool, auditor, ward, stage=AuditStage.CLOSED, period_end=TODAY - timedelta(days=120))
    answer_cases(before, cases(before_met, 20 - before_met))
    after = make_audit(tool, auditor, ward, reference="AUD-T-002", previous=before)
    answer_cases(after, cases(after_met, 20 - after_met, after_na))
    return before, after


# --- results and the comparison -------------------------------------------------------------------

def test_results_per_criterion_and_overall_are_the_pages(client, ward, auditor):
    """17 of 20 met, 5 not applicable, target 90 %: Wilson 95 % 0.6396–0.9476, cannot tell."""
    tool = make_tool(auditor, ward, 90, 50)
    audit = make_audit(tool, auditor, ward)
    answer_cases(audit, [first + second for first, second in zip(cases(17, 3, 5), ["m"] * 20 + ["n"] * 5,
                                                                  strict=True)])
    body = client.get(f"{BASE}/{audit.pk}/results").json()
    first, second = body["criteria"]
    assert (first["number"], first["n"], first["met"], first["not_met"], first["not_applicable"],
            first["unanswered"]) == (1, 20, 17, 3, 5, 0)
    assert first["compliance"] == pytest.approx(0.85)
    assert (round(first["wilson_low"], 4), round(first["wilson_high"], 4)) == (0.6396, 0.9476)
    assert (first["target"], first["reading"], first["short_of_target"]) == (0.9, "cannot_tell", True)
    assert first["reading_words"] == "Cannot tell: the target lies within the interval"
    assert (second["met"], second["n"], second["target"], second["reading"]) == (20, 25, 0.5, "meets")
    shown = improvement.audit_results(audit)
    assert (second["wilson_low"], second["wilson_high"]) == pytest.approx((shown.of(2).low, shown.of(2).high))
    # Overall: 17 cases met both criteria of the 25 with one applicable.
    overall = body["overall"]
    assert (overall["met_all"], overall["applicable"], overall["complete"], overall["cases"]) == (17, 25, 25, 25)
    assert (overall["wilson_low"], overall["wilson_high"]) == pytest.approx((shown.overall.low, shown.overall.high))
    assert (body["reference"], body["stage"], body["answered"], body["sampled"], body["confidence"]) == (
        "AUD-T-001", "analyse", 25, 25, 0.95)


def test_the_comparison_with_the_previous_audit(client, ward, auditor):
    """12/20 → 18/20: +0.30, Newcombe 0.0294 to 0.5253, Fisher p 0.0648: no clear change."""
    before, after = _re_audited(auditor, ward, 12, 18)
    body = client.get(f"{BASE}/{after.pk}/comparison").json()
    assert (body["previous_id"], body["previous_reference"]) == (before.pk, "AUD-T-001")
    row = body["criteria"][0]
    assert (row["number"], row["met_before"], row["n_before"], row["met_after"], row["n_after"]) == (1, 12, 20, 18, 20)
    assert (row["p1"], row["p2"], row["difference"]) == (pytest.approx(0.6), pytest.approx(0.9), pytest.approx(0.3))
    assert (round(row["newcombe_low"], 4), round(row["newcombe_high"], 4), round(row["fisher_p"], 4)) == (
        0.0294, 0.5253, 0.0648)
    assert (row["verdict"], row["verdict_words"]) == ("no_change", "No clear change at 95 %")
    assert "every expected count is 5 or more" in row["test_words"] and "0.065" in row["verdict_note"]
    assert (body["overall"]["number"], body["overall"]["met_before"], body["overall"]["met_after"]) == (0, 12, 18)
    # The audit before re-audits none: nothing to compare.
    assert client.get(f"{BASE}/{before.pk}/comparison").json() == {
        "previous_id": None, "previous_reference": None, "criteria": [], "overall": None}


# --- the cycle ------------------------------------------------------------------------------------

def test_the_stage_moves_on_with_its_version_and_stale_or_bad_moves_are_refused(client, ward, auditor):
    audit = make_audit(make_tool(auditor, ward, 90), auditor, ward)
    answer_cases(audit, cases(6, 4))
    assert _fields(_post(client, f"{BASE}/{audit.pk}/stage", {"stage": "closed"})) == {"stage"}
    assert _fields(_post(client, f"{BASE}/{audit.pk}/stage", {"stage": "act", "extra": 1})) == {"extra"}
    moved = _post(client, f"{BASE}/{audit.pk}/stage", {"stage": "act", "version": audit.version})
    assert moved.status_code == 200
    assert (moved.json()["audit"]["stage"], moved.json()["audit"]["act_from"], moved.json()["note"]) == (
        "act", TODAY.isoformat(), "")
    stale = _post(client, f"{BASE}/{audit.pk}/stage", {"stage": "closed", "version": audit.version})
    assert stale.status_code == 409 and "read it again" in stale.json()["detail"]
    # Back to analyse: the lead, with a reason.
    assert _fields(_post(client, f"{BASE}/{audit.pk}/stage", {"stage": "analyse"})) == {"reason"}
    audit.refresh_from_db()
    assert audit.stage == "act"
    back = _post(client, f"{BASE}/{audit.pk}/stage", {"stage": "analyse", "reason": "Two cases were misread"}).json()
    assert (back["audit"]["stage"], back["audit"]["act_from"], back["audit"]["reopen_reason"]) == (
        "analyse", None, "Two cases were misread")


def test_analysing_part_of_the_sample_takes_the_count_and_a_reason(client, ward, auditor):
    audit = make_audit(make_tool(auditor, ward, 90), auditor, ward, stage=AuditStage.COLLECT, sample_size=10)
    answer_cases(audit, cases(6, 2))
    url = f"{BASE}/{audit.pk}/stage"
    assert _fields(_post(client, url, {"stage": "analyse"})) == {"with_cases"}
    assert _fields(_post(client, url, {"stage": "analyse", "with_cases": 7, "reason": "Ward closed"})) == {"with_cases"}
    assert _fields(_post(client, url, {"stage": "analyse", "with_cases": 8})) == {"reason"}
    assert _fields(_post(client, url, {"stage": "analyse", "with_cases": -1})) == {"with_cases"}
    audit.refresh_from_db()
    assert (audit.stage, audit.analysed_cases) == ("collect", None)
    moved = _post(client, url, {"stage": "analyse", "with_cases": 8, "reason": "Ward closed"}).json()["audit"]
    assert (moved["stage"], moved["analysed_cases"], moved["partial_reason"]) == ("analyse", 8, "Ward closed")


def test_the_re_audit_is_planned_once_over_a_later_period(client, ward, auditor):
    audit = make_audit(make_tool(auditor, ward, 90), auditor, ward, stage=AuditStage.ACT)
    url = f"{BASE}/{audit.pk}/re-audit"
    early = (audit.period_end - timedelta(days=1)).isoformat()
    assert _fields(_post(client, url, {"period_start": early})) == {"period_start"}
    assert _fields(_post(client, url, {"period_start": "2026-13-01"})) == {"period_start"}
    assert Audit.objects.count() == 1
    planned = _post(client, url)
    assert planned.status_code == 201
    again = planned.json()
    assert (again["previous_id"], again["stage"], again["tool_id"], again["period_start"]) == (
        audit.pk, "plan", audit.tool_id, (audit.period_end + timedelta(days=1)).isoformat())
    assert _fields(_post(client, url)) == {"previous"}
    assert Audit.objects.count() == 2


# --- findings, the measure, the report ------------------------------------------------------------

def test_a_finding_opens_an_action_listed_with_the_audit(client, ward, auditor, make_user):
    owner = make_user(Role.UNIT_MANAGER, "rgh/4w")
    tool = make_tool(auditor, ward, 90, 50)
    audit = make_audit(tool, auditor, ward)
    answer_cases(audit, ["mm"] * 6 + ["nm"] * 4)
    first, second = tool.criteria.order_by("number")
    body = {"title": "Gel at every bedside", "owner_id": owner.pk, "due_date": (TODAY + timedelta(days=30)).isoformat(),
            "strength": "stronger", "measure": "Re-audit in six months"}
    url = f"{BASE}/{audit.pk}/criteria/{first.pk}/findings"
    assert _fields(_post(client, url, body | {"due_date": (TODAY - timedelta(days=1)).isoformat()})) == {"due_date"}
    assert _fields(_post(client, url, body | {"owner_id": 2**40})) == {"owner_id"}
    assert _fields(_post(client, url, body | {"strength": "strong"})) == {"strength"}
    assert _fields(_post(client, f"{BASE}/{audit.pk}/criteria/{second.pk}/findings", body)) == {"criterion"}
    other = make_tool(auditor, ward, 90, reference="AT-T2").criteria.get()
    assert _post(client, f"{BASE}/{audit.pk}/criteria/{other.pk}/findings", body).status_code == 404
    assert Action.objects.count() == 0
    raised = _post(client, url, body)
    assert raised.status_code == 201
    action = raised.json()
    assert (action["title"], action["owner_id"], action["unit_id"], action["status"]) == (
        "Criterion 1: Gel at every bedside", owner.pk, ward.pk, "planned")
    assert action["description"] == '6 of 10 applicable cases met "Standard 1" (60 %; target 90 %).'
    listed = client.get(f"{BASE}/{audit.pk}/actions").json()
    assert [row["id"] for row in listed] == [action["id"]]


def test_the_overall_compliance_is_sent_to_the_measure(client, ward, auditor):
    from andon.measures.models import ManualCount, Measure

    tool = make_tool(auditor, ward, 90)
    audit = make_audit(tool, auditor, ward)
    answer_cases(audit, ["m"] * 9 + ["n"] + ["a"])
    assert _fields(_post(client, f"{BASE}/{audit.pk}/measure")) == {"measure"}
    tool.measure = Measure.objects.create(key="audited-gel", version="1", title="Gel compliance", domain="safe",
                                          improvement="increase", scoring="proportion", unit_label="%",
                                          multiplier=100, source_kind="manual", definition={})
    tool.save(update_fields=["measure"])
    sent = _post(client, f"{BASE}/{audit.pk}/measure").json()
    assert sent == {"measure": "audited-gel", "unit_id": ward.pk, "month": TODAY.replace(day=1).isoformat(),
                    "numerator": 9, "denominator": 10, "replaced": False}
    answer_cases(audit, ["m"])
    again = _post(client, f"{BASE}/{audit.pk}/measure").json()
    assert (again["numerator"], again["denominator"], again["replaced"]) == (10, 11, True)
    assert ManualCount.objects.filter(measure=tool.measure, unit=ward).count() == 1
    audit.refresh_from_db()
    assert audit.sent_to_measure_at is not None


def test_the_report_is_the_pages_pdf_attachment(client, ward, auditor):
    from pypdf import PdfReader

    _before, after = _re_audited(auditor, ward, 12, 18)
    response = client.get(f"{BASE}/{after.pk}/report")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="audit-AUD-T-002.pdf"'
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages).split())
    assert "Audit report: AUD-T-002" in text and "90.0 %" in text and "69.9 % to 97.2 %" in text
    assert "+30.0 points (+2.9 to +52.5)" in text and "No clear change at 95 %" in text
    page = client.get(reverse("improvement:audit_report", args=[after.pk]))
    assert page["Content-Disposition"] == response["Content-Disposition"]
