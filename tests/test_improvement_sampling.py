"""Clinical audits: the sample size with its working, the cohort and the reproducible draw, cases
entered by hand, and the start of collection (auditors and double-audit cases given out)."""

import math
import random

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError

from andon.improvement import services
from andon.improvement.models import Audit, AuditCase, AuditStage
from tests.improvement_audit_helpers import make_audit, make_tool, person, references

pytestmark = pytest.mark.usefixtures("demo_for_the_module")  # one restore of the demo for the module


@pytest.fixture
def mia(demo_hospital):
    return person("auditor.mia")


@pytest.fixture
def jo(demo_hospital):
    return person("analyst.jo")


def test_the_sample_size_is_worked_by_hand_with_the_finite_population_correction():
    # 50 % expected, ±10 points, 95 %: z = 1.959964, n0 = z² × 0.25 / 0.01 = 96.04 → 97;
    # N = 200: n = 96.04 / (1 + 95.04 / 200) = 96.04 / 1.4752 = 65.10 → 66.
    working = services.sample_working(50, 10, 95, 200)
    assert round(working.z, 4) == 1.9600
    assert round(working.n0_exact, 2) == 96.04
    assert (working.n0, working.n) == (97, 66)
    # 80 % ± 15 at 95 %, N = 65: n0 = 3.8415 × 0.16 / 0.0225 = 27.32 → 28; n = 27.32 / 1.4049 = 19.4 → 20.
    assert (services.sample_working(80, 15, 95).n, services.sample_working(80, 15, 95, 65).n) == (28, 20)


def test_the_draw_is_reproducible_from_its_seed_and_without_replacement(mia, jo):
    tool = make_tool(mia)
    audit = make_audit(mia, tool, auditors=[mia, jo])
    assert audit.reference.startswith("AUD-") and audit.sample_size == 97  # before the cohort is known
    cases = services.draw_sample(mia, audit, text=references(200))
    audit.refresh_from_db()
    assert (audit.cohort_size, audit.sample_size, len(cases)) == (200, 66, 66)
    assert 0 <= audit.seed < 2 ** 63 and audit.drawn_by == mia and len(audit.cohort_digest) == 64
    drawn = list(audit.cases.order_by("position").values_list("case_ref", flat=True))
    assert len(set(drawn)) == 66 and set(drawn) <= {f"ENC-{n:04d}" for n in range(1, 201)}
    # The same cohort, read in any order, and the stored seed give the same cases in the same order.
    cohort = services.parse_list("\n".join(reversed(references(200).splitlines())))
    assert [c.reference for c in services.choose(cohort, 66, audit.seed)] == drawn
    assert services.check_draw(audit, cohort)
    # Worked independently: the standard library's sample over the sorted references.
    assert random.Random(audit.seed).sample(sorted(f"ENC-{n:04d}" for n in range(1, 201)), 66) == drawn
    assert [c.reference for c in services.choose(cohort, 66, audit.seed + 1)] != drawn
    # Another cohort (one case more on the day) is not the cohort the sample was drawn from.
    assert not services.check_draw(audit, services.parse_list(references(201)))


def test_a_sample_at_least_the_cohort_takes_every_case_and_is_drawn_once(mia, jo):
    audit = make_audit(mia, make_tool(mia), auditors=[mia, jo])
    services.draw_sample(mia, audit, text=references(12), seed=5)
    audit.refresh_from_db()
    # n0 = 97 with N = 12: n = 96.04 / (1 + 95.04 / 12) = 10.8 → 11 of 12.
    assert (audit.cohort_size, audit.sample_size, audit.cases.count()) == (12, 11, 11)
    with pytest.raises(ValidationError, match="a sample is drawn once"):
        services.draw_sample(mia, audit, text=references(12))
    assert audit.cases.count() == 11
    small = make_audit(mia, make_tool(mia, title="Other"), auditors=[mia], double_share=0, expected=90, margin=5)
    services.draw_sample(mia, small, text=references(3))
    assert sorted(small.cases.values_list("case_ref", flat=True)) == ["ENC-0001", "ENC-0002", "ENC-0003"]


def test_a_list_with_repeated_references_is_refused_with_their_lines_and_nothing_is_stored(mia, jo):
    audit = make_audit(mia, make_tool(mia), auditors=[mia, jo])
    with pytest.raises(ValidationError) as refused:
        services.draw_sample(mia, audit, text="A-1\nA-2\n\nA-1\nA-3\nA-2")
    assert refused.value.message_dict["cohort"] == [
        "The list is refused: line 4 repeats 'A-1' of line 1; line 6 repeats 'A-2' of line 2."]
    audit.refresh_from_db()
    assert (audit.seed, audit.cohort_size, audit.cases.count()) == (None, None, 0)
    with pytest.raises(ValidationError, match="holds no reference"):
        services.draw_sample(mia, audit, text="\n  \n")


def test_cases_entered_by_hand_refuse_one_already_in_the_audit(mia, jo):
    audit = make_audit(mia, make_tool(mia), auditors=[mia, jo], cohort_kind="manual")
    with pytest.raises(ValidationError, match="entered by hand: there is no cohort"):
        services.draw_sample(mia, audit)
    for ref in ("MRN-1", "MRN-2", "MRN-3", "MRN-4"):
        services.add_case(mia, audit, case_ref=ref)
    with pytest.raises(ValidationError) as refused:
        services.add_case(mia, audit, case_ref="  MRN-4 ")
    assert refused.value.message_dict["case_ref"] == ["Case MRN-4 is already case 4 of this audit."]
    assert audit.cases.count() == 4


def test_reading_the_cases_needs_the_right_and_is_recorded(mia, jo):
    audit = make_audit(mia, make_tool(mia), auditors=[mia, jo])
    services.draw_sample(mia, audit, text=references(30), seed=1)
    before = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count()
    assert [c.position for c in services.read_cases(jo, audit)][:3] == [1, 2, 3]
    read = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).order_by("pk").last()
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS).count() == before + 1
    assert read.actor == jo and read.additional_data["reason"] == f"{audit.reference} case list"
    with pytest.raises(PermissionDenied):
        services.read_cases(person("board.rosa"), audit)


def test_collection_gives_out_auditors_and_the_double_audit_cases_with_the_seed(mia, jo):
    audit = make_audit(mia, make_tool(mia), auditors=[mia, jo], double_share=10)
    services.draw_sample(mia, audit, text=references(50), seed=42)
    audit.refresh_from_db()
    cases = list(audit.cases.order_by("position"))
    services.start_collection(mia, audit)
    audit.refresh_from_db()
    assert audit.stage == AuditStage.COLLECT and audit.collect_from is not None
    first = [c.auditor_id for c in AuditCase.objects.filter(audit=audit).order_by("position")]
    in_turn = sorted([mia.pk, jo.pk])  # the auditors in a stable order: by id
    assert first == [in_turn[i % 2] for i in range(len(cases))]
    doubles = AuditCase.objects.filter(audit=audit, second_auditor__isnull=False)
    assert doubles.count() == math.ceil(0.10 * len(cases))
    assert sorted(c.pk for c in doubles) == sorted(c.pk for c in random.Random(42).sample(cases, doubles.count()))
    assert all(c.second_auditor_id != c.auditor_id for c in doubles)
    with pytest.raises(ValidationError, match="at the collect stage"):
        services.start_collection(mia, audit)


def test_collection_is_refused_without_a_sample_or_a_second_auditor(mia, jo):
    audit = make_audit(mia, make_tool(mia), auditors=[mia], cohort_kind="manual", double_share=5)
    with pytest.raises(ValidationError) as refused:
        services.start_collection(mia, audit)
    assert set(refused.value.message_dict) == {"cohort"}
    services.add_case(mia, audit, case_ref="MRN-1")
    with pytest.raises(ValidationError, match="needs a second auditor"):
        services.start_collection(mia, audit)
    assert Audit.objects.get(pk=audit.pk).stage == AuditStage.PLAN


def test_a_cohort_from_the_clinical_view_is_the_encounters_of_the_period_and_place(mia, jo):
    from andon.measures import services as measures

    tool = make_tool(mia)
    audit = make_audit(mia, tool, auditors=[mia, jo], cohort_kind="view")
    audit.period_start, audit.period_end = _demo_window()
    audit.save()
    expected = measures.encounters_in(audit.period_start, audit.period_end, [str(audit.unit_id)])
    assert expected, "the demo's store has encounters on 4 West"
    cohort = services.read_cohort(audit)
    assert [c.reference for c in cohort] == sorted({row["encounter_id"] for row in expected})
    services.draw_sample(mia, audit, seed=3)
    audit.refresh_from_db()
    assert audit.cohort_size == len(cohort) and services.check_draw(audit, services.read_cohort(audit))


def _demo_window():
    from andon.measures.demo import window

    first, last = window()
    return first, last
