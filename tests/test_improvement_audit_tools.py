"""Clinical audits: tools (AT-NNN) and their criteria (target 0–100 %, retired once answered, never
deleted), and planning an audit (AUD-<year>-NNN) with its sample size."""

from datetime import date

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError

from andon.improvement import services
from andon.improvement.models import AuditTool, CaseAnswer, Criterion
from tests.improvement_audit_helpers import make_audit, make_tool, person, references, ward_place

pytestmark = pytest.mark.usefixtures("demo_for_the_module")  # one restore of the demo for the module


@pytest.fixture
def mia(demo_hospital):
    return person("auditor.mia")


def test_a_tool_gets_a_reference_and_feeds_only_a_measure_entered_by_hand(mia):
    tool = services.create_tool(mia, title="Hand hygiene, ICU", place=ward_place(), measure="hand-hygiene")
    assert tool.reference.startswith("AT-") and tool.measure.key == "hand-hygiene"
    second = services.create_tool(mia, title="Consent", place=ward_place())
    assert int(second.reference[3:]) == int(tool.reference[3:]) + 1
    with pytest.raises(ValidationError) as refused:
        services.create_tool(mia, title="Readmissions", place=ward_place(), measure="readmission-30-day")
    assert "not a measure entered by hand or CSV" in refused.value.message_dict["measure"][0]
    assert not AuditTool.objects.filter(title="Readmissions").exists()
    with pytest.raises(PermissionDenied):
        services.create_tool(person("board.rosa"), title="Nope", place=ward_place())


@pytest.mark.parametrize(("target", "message"), [
    ("120", "Target is 120 %; it must be at least 0 and at most 100 %."),
    ("-1", "Target is -1 %; it must be at least 0 and at most 100 %."),
    ("nan", "Target: 'nan' is not a number"),
    ("ninety", "Target: 'ninety' is not a number"),
])
def test_a_target_outside_0_to_100_percent_is_refused_and_nothing_stored(mia, target, message):
    tool = make_tool(mia, criteria=0)
    with pytest.raises(ValidationError) as refused:
        services.add_criterion(mia, tool, text="Consent is recorded.", target=target)
    assert refused.value.message_dict["target"][0].startswith(message)
    assert not tool.criteria.exists()


def test_criteria_are_numbered_edited_and_an_answered_one_is_retired_never_deleted(mia):
    tool = make_tool(mia, criteria=2)
    third = services.add_criterion(mia, tool, text="A falls care plan is written.", target="87.5",
                                   exceptions="Patients at end of life", guidance="See the nursing notes")
    assert (third.number, str(third.target)) == (3, "87.50")
    with pytest.raises(ValidationError, match="already “Standard 1 is met.”"):
        services.add_criterion(mia, tool, text="Again", target=90, number=1)
    services.edit_criterion(mia, third, text="A falls care plan is written within 24 hours.", target=95)
    third.refresh_from_db()
    assert (third.text, third.target) == ("A falls care plan is written within 24 hours.", 95)
    unused = tool.criteria.get(number=1)
    assert services.retire_criterion(mia, unused) is None and not Criterion.objects.filter(pk=unused.pk).exists()
    # Answered: it stays (retired) with its answers, and its standard cannot be reworded.
    audit = make_audit(mia, tool, auditors=[mia], cohort_kind="manual", double_share=0)
    case = services.add_case(mia, audit, case_ref="MRN-1")
    services.start_collection(mia, audit)
    case.refresh_from_db()
    services.record_answers(mia, audit, case, [{"criterion": c.pk, "answer": "met"}
                                               for c in tool.criteria.filter(active=True)])
    with pytest.raises(ValidationError, match="already answered"):
        services.edit_criterion(mia, third, text="Reworded", target=95)
    retired = services.retire_criterion(mia, third)
    assert retired.active is False and CaseAnswer.objects.filter(criterion=third).count() == 1
    assert LogEntry.objects.get_for_object(third).filter(action=LogEntry.Action.UPDATE).order_by("-pk").first().changes_dict[
        "active"] == [True, False]


def test_an_audit_is_planned_with_its_sample_size_and_bad_plans_are_refused(mia):
    tool = make_tool(mia)
    audit = make_audit(mia, tool, auditors=[mia], expected=90, margin=5, confidence=95)
    # n0 = 1.96² × 0.9 × 0.1 / 0.0025 = 138.3 → 139
    assert (audit.sample_size, audit.stage) == (139, "plan")
    assert audit.reference == f"AUD-{date.today().year}-{int(audit.reference.rsplit('-', 1)[1]):03d}"
    with pytest.raises(ValidationError) as refused:
        services.plan_audit(mia, tool, title="", place=ward_place(), period_start=date(2026, 3, 1),
                            period_end=date(2026, 1, 1), lead=mia, auditors=[], expected=101, margin=0,
                            confidence=100, double_share=10)
    assert set(refused.value.message_dict) == {"title", "period_end", "auditors", "expected", "margin", "confidence"}
    empty = make_tool(mia, criteria=0, title="Empty")
    with pytest.raises(ValidationError, match="no criteria yet"):
        make_audit(mia, empty, auditors=[mia])
    services.draw_sample(mia, audit, text=references(10), seed=1)
