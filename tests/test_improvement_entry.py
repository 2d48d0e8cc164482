"""Clinical audits: data entry (answers per case and round, the bad input refused with nothing
stored, the blind second round, edits in the audit trail) and agreement (Cohen's kappa)."""

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError

from andon.improvement import services
from andon.improvement.models import AuditStage, CaseAnswer
from tests.improvement_audit_helpers import make_audit, make_tool, person, references

pytestmark = pytest.mark.usefixtures("demo_for_the_module")  # one restore of the demo for the module


@pytest.fixture
def collecting(demo_hospital):
    """An audit of a 3-criterion tool in collection: 20 cases, 2 of them audited twice."""
    mia, jo = person("auditor.mia"), person("analyst.jo")
    tool = make_tool(mia)
    audit = make_audit(mia, tool, auditors=[mia, jo], double_share=10, expected=80, margin=15)
    services.draw_sample(mia, audit, text=references(65), seed=11)
    services.start_collection(mia, audit)
    audit.refresh_from_db()
    return audit, list(tool.criteria.order_by("number")), mia, jo


def _all(criteria, *answers, note=""):
    return [{"criterion": c.pk, "answer": a, "note": note} for c, a in zip(criteria, answers, strict=True)]


def _first_case_of(audit, user):
    return audit.cases.filter(auditor=user, second_auditor__isnull=True).order_by("position").first()


def test_an_auditor_answers_a_case_and_a_second_save_edits_it_in_the_audit_trail(collecting):
    audit, criteria, mia, jo = collecting
    case = _first_case_of(audit, mia)
    services.record_answers(mia, audit, case, _all(criteria, "met", "not_met", "na"), "first")
    stored = dict(CaseAnswer.objects.filter(case=case).values_list("criterion__number", "answer"))
    assert stored == {1: "met", 2: "not_met", 3: "na"}
    services.record_answers(mia, audit, case, _all(criteria, "met", "met", "na"), "first")
    assert CaseAnswer.objects.filter(case=case).count() == 3
    edited = CaseAnswer.objects.get(case=case, criterion=criteria[1])
    change = LogEntry.objects.get_for_object(edited).filter(action=LogEntry.Action.UPDATE).get()
    assert change.actor == mia and change.changes_dict["answer"] == ["not_met", "met"]
    todo = {(t.case.pk, t.round): t.done for t in services.cases_to_do(mia, audit)}
    assert todo[(case.pk, "first")] is True


@pytest.mark.parametrize(("answers", "field", "message"), [
    (lambda c, other: [{"criterion": other.pk, "answer": "met"}] + _all(c, "met", "met", "met"), "answers",
     "belongs to AT-"),
    (lambda c, other: [{"criterion": 987654, "answer": "met"}] + _all(c, "met", "met", "met"), "answers",
     "There is no criterion 987654."),
    (lambda c, other: _all(c, "met", "maybe", "met"), None, "'maybe' is not an answer to criterion 2"),
    (lambda c, other: _all(c, "met", "met", "met") + [{"criterion": c[0].pk, "answer": "na"}], "answers",
     "Criterion 1 is answered twice in this save."),
    (lambda c, other: _all(c[:2], "met", "met"), "answers", "Answer every criterion: 3 is not answered."),
    (lambda c, other: _all(c, "met", "met", "met", note="x" * 1001), None, "at most 1000 characters"),
])
def test_bad_answers_are_refused_by_name_and_nothing_is_stored(collecting, answers, field, message):
    audit, criteria, mia, jo = collecting
    other = make_tool(mia, criteria=1, title="Another tool").criteria.get()
    case = _first_case_of(audit, mia)
    with pytest.raises(ValidationError) as refused:
        services.record_answers(mia, audit, case, answers(criteria, other), "first")
    problems = refused.value.message_dict
    assert any(message in text for key, texts in problems.items() if field in (None, key) for text in texts), problems
    assert not CaseAnswer.objects.filter(case__audit=audit).exists()


def test_a_case_of_another_audit_or_outside_collection_is_refused(collecting):
    audit, criteria, mia, jo = collecting
    other = make_audit(mia, make_tool(mia, title="Other"), auditors=[mia], cohort_kind="manual", double_share=0)
    stranger = services.add_case(mia, other, case_ref="MRN-9")
    with pytest.raises(ValidationError, match="is not in"):
        services.record_answers(mia, audit, stranger, _all(criteria, "met", "met", "met"))
    with pytest.raises(ValidationError, match="it is at the plan stage"):
        services.record_answers(mia, other, stranger, [])
    with pytest.raises(ValidationError, match="is not a round"):
        services.record_answers(mia, audit, _first_case_of(audit, mia), _all(criteria, "met", "met", "met"), "third")
    assert not CaseAnswer.objects.filter(case__audit__in=[audit, other]).exists()
    assert audit.stage == AuditStage.COLLECT


def test_the_second_round_is_blind(collecting):
    audit, criteria, mia, jo = collecting
    double = audit.cases.filter(second_auditor__isnull=False).order_by("position").first()
    first, second = double.auditor, double.second_auditor
    services.record_answers(first, audit, double, _all(criteria, "met", "not_met", "met"), "first")
    with pytest.raises(PermissionDenied, match="blind"):
        services.answers_of(second, audit, double, "first")
    with pytest.raises(PermissionDenied, match="blind"):
        services.record_answers(second, audit, double, _all(criteria, "met", "met", "met"), "first")
    with pytest.raises(PermissionDenied, match="second auditor only"):
        services.record_answers(first, audit, double, _all(criteria, "met", "met", "met"), "second")
    assert services.answers_of(second, audit, double, "second") == {}
    services.record_answers(second, audit, double, _all(criteria, "met", "met", "met"), "second")
    assert {a.answer for a in services.answers_of(second, audit, double, "second").values()} == {"met"}
    assert CaseAnswer.objects.filter(case=double, round="first", criterion=criteria[1]).get().answer == "not_met"


def test_agreement_is_cohens_kappa_over_the_double_audited_cases(collecting):
    audit, criteria, mia, jo = collecting
    doubles = list(audit.cases.filter(second_auditor__isnull=False).order_by("position"))
    assert len(doubles) == 2
    # Case A: both say met, not met, met; case B: first met, met, na / second met, not met, na.
    for case, first, second in ((doubles[0], ("met", "not_met", "met"), ("met", "not_met", "met")),
                                (doubles[1], ("met", "met", "na"), ("met", "not_met", "na"))):
        services.record_answers(case.auditor, audit, case, _all(criteria, *first), "first")
        services.record_answers(case.second_auditor, audit, case, _all(criteria, *second), "second")
    found = services.agreement(mia, audit)
    assert found.cases == 2
    # Six (case, criterion) pairs, agreeing on 5. The first round gives met 4, not_met 1, na 1; the
    # second met 3, not_met 2, na 1.
    # po = 5/6; pe = (4·3 + 1·2 + 1·1)/36 = 15/36; κ = (5/6 − 15/36) / (1 − 15/36) = (15/36) / (21/36) = 5/7.
    assert found.overall.observed == pytest.approx(5 / 6)
    assert found.overall.kappa == pytest.approx(5 / 7)
    by_number = {row.criterion.number: row.result for row in found.per_criterion}
    assert by_number[1].kappa is None  # both met on both cases: κ undefined
    assert by_number[2].observed == pytest.approx(0.5)
    assert [(d["case"].pk, d["criterion"].number, d["first"].answer, d["second"].answer)
            for d in found.disagreements] == [(doubles[1].pk, 2, "met", "not_met")]
    # The lead sees where they differ; a reader of results does not.
    assert services.agreement(person("board.rosa"), audit).disagreements == []
