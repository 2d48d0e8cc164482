"""Survey scores (issue 20 item 2): top-box shares and composites against values worked by hand
from a ten-survey file, the unit roll-up, service lines and strata, the minimum-count warning,
the aggregate cells against a rebuild from the responses, and the measures fed from them."""

from datetime import date
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from andon.measures.models import ManualCount, Measure
from andon.platform import content
from andon.platform.roles import Role
from andon.voice import scores, surveys
from andon.voice.models import SurveyScoreCell

CONTENT = Path(__file__).resolve().parent.parent / "content"

# Ten returned surveys, hand-made. Nurse questions (frequency scale, top box 4 = "Always"),
# recommend (4 = "Definitely yes"), overall rating (9 or 10). A blank answer is a skipped question.
HAND_FILE = """\
id,discharged,ward,line,sex,nc,nl,ne,rec,rating,remarks
S01,2026-03-02,rgh/4w,Medicine,F,4,4,4,4,10,
S02,2026-03-05,rgh/4w,Medicine,M,4,3,4,4,9,
S03,2026-03-09,rgh/4w,Medicine,F,3,3,,3,8,Slow call bell
S04,2026-03-12,rgh/4w,Medicine,F,4,4,2,4,,
S05,2026-03-20,rgh/5e,Cardiology,M,4,4,4,,7,
S06,2026-03-25,rgh/5e,Cardiology,M,2,3,3,2,6,
S07,2026-03-28,rgh/6n,Surgery,F,4,4,4,4,10,
S08,2026-04-02,rgh/4w,Medicine,M,4,4,3,4,9,
S09,2026-04-10,rgh/6n,Surgery,F,1,2,2,1,3,
S10,2026-04-15,rgh/6n,Surgery,M,4,,4,3,10,
"""
HAND_COLUMNS = {"id": "survey_id", "discharged": "discharge_date", "ward": "unit", "line": "service_line",
                "sex": "sex", "nc": "q:nurse_courtesy", "nl": "q:nurse_listen", "ne": "q:nurse_explain",
                "rec": "q:recommend", "rating": "q:overall_rating", "remarks": "comment"}
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)


@pytest.fixture
def library(db):
    content.load_content([CONTENT / "measures", CONTENT / "survey-question-sets"])


@pytest.fixture
def lead(make_user, library):
    return make_user(Role.PATIENT_EXPERIENCE_LEAD, "", username="lead")


@pytest.fixture
def imported(lead):
    mapping = surveys.create_mapping(lead, name="Hand file", columns=HAND_COLUMNS)
    report = surveys.import_survey_file(lead, mapping, HAND_FILE, "hand.csv")
    assert report.ok, report.problems
    return report


def row(table, key):
    return next(r for r in [*table.composites, *table.questions, *(q for c in table.composites for q in c.questions)]
                if r.key == key)


def test_top_box_and_composite_against_hand_worked_values(lead, imported, settings):
    settings.ANDON_SURVEY_MIN_COUNT = 5
    table = scores.score_table(lead, first=MARCH, last=APRIL)
    assert table.surveys == 10
    # nurse_courtesy: 4,4,3,4,4,2,4,4,1,4 -> 7 "Always" of 10 answers
    assert (row(table, "nurse_courtesy").top, row(table, "nurse_courtesy").valid) == (7, 10)
    # nurse_listen: S10 skipped -> 5 of 9; nurse_explain: S03 skipped -> 5 of 9
    assert (row(table, "nurse_listen").top, row(table, "nurse_listen").valid) == (5, 9)
    assert (row(table, "nurse_explain").top, row(table, "nurse_explain").valid) == (5, 9)
    # composite = mean of the three shares (0.7 + 5/9 + 5/9) / 3 = 0.6037..., n = the 10 surveys
    nurses = row(table, "nurse_communication")
    assert nurses.share == pytest.approx((0.7 + 5 / 9 + 5 / 9) / 3)
    assert nurses.percent == 60.4 and nurses.n == 10 and not nurses.warning
    # recommend: S05 skipped; "Definitely yes" on S01 S02 S04 S07 S08 -> 5 of 9
    assert row(table, "recommend").share == pytest.approx(5 / 9)
    # overall rating: S04 skipped; 9 or 10 on S01 S02 S07 S08 S10 -> 5 of 9
    assert (row(table, "overall_rating").top, row(table, "overall_rating").valid) == (5, 9)
    # questions not in the file have no share rather than 0 %
    assert row(table, "clean").share is None and row(table, "clean").valid == 0
    assert row(table, "doctor_communication").share is None


def test_a_department_adds_up_the_units_below_it(lead, imported, hospital):
    # rgh/medicine in March = 4 West S01-S04 and 5 East S05-S06
    table = scores.score_table(lead, first=MARCH, last=MARCH, unit=hospital.unit("rgh/medicine"))
    assert table.surveys == 6
    # nc 4,4,3,4,4,2 -> 4/6; nl 4,3,3,4,4,3 -> 3/6; ne 4,4,-,2,4,3 -> 3/5
    assert row(table, "nurse_communication").share == pytest.approx((4 / 6 + 3 / 6 + 3 / 5) / 3)
    assert (row(table, "recommend").top, row(table, "recommend").valid) == (3, 5)
    ward = scores.score_table(lead, first=APRIL, last=APRIL, unit=hospital.unit("rgh/4w"))
    assert ward.surveys == 1 and row(ward, "recommend").share == 1.0


def test_service_line_and_stratum_are_filters_not_crossed(lead, imported):
    women = scores.score_table(lead, first=MARCH, last=APRIL, dimension="sex", value="F")
    # S01 S03 S04 S07 S09: recommend 4,3,4,4,1 -> 3/5; nurse_courtesy 4,3,4,4,1 -> 3/5
    assert women.surveys == 5
    assert (row(women, "recommend").top, row(women, "recommend").valid) == (3, 5)
    surgery = scores.score_table(lead, first=MARCH, last=APRIL, dimension="service_line", value="Surgery")
    # S07 S09 S10: recommend 4,1,3 -> 1/3
    assert surgery.surveys == 3 and row(surgery, "recommend").share == pytest.approx(1 / 3)
    with pytest.raises(ValidationError):
        scores.score_table(lead, first=MARCH, last=APRIL, dimension="postcode", value="X")
    assert scores.breakdown_values(lead, "service_line") == ["Cardiology", "Medicine", "Surgery"]


def test_fewer_surveys_than_the_minimum_carry_a_warning(lead, imported, settings):
    settings.ANDON_SURVEY_MIN_COUNT = 30
    table = scores.score_table(lead, first=MARCH, last=APRIL)
    assert "Fewer than 30 surveys (10)" in row(table, "nurse_communication").warning
    settings.ANDON_SURVEY_MIN_COUNT = 10
    assert row(scores.score_table(lead, first=MARCH, last=APRIL), "nurse_communication").warning == ""


def test_unit_managers_see_their_units_only(make_user, lead, imported, hospital):
    manager = make_user(Role.UNIT_MANAGER, "rgh/medicine")
    table = scores.score_table(manager, first=MARCH, last=APRIL)
    assert table.surveys == 7  # S01-S06 and S08; 6 North (surgery) left out
    with pytest.raises(PermissionDenied):
        scores.score_table(manager, first=MARCH, last=APRIL, unit=hospital.unit("rgh/6n"))


def test_the_cells_equal_a_rebuild_from_the_responses(lead, imported):
    # a second file adds to the cells in its own transaction
    mapping = surveys.SurveyMapping.objects.get(name="Hand file")
    more = HAND_FILE.splitlines()[0] + "\nS11,2026-03-15,rgh/4w,Medicine,M,4,4,4,4,10,\n"
    assert surveys.import_survey_file(lead, mapping, more, "more.csv").rows_imported == 1
    incremental = set(SurveyScoreCell.objects.values_list("dimension", "month", "unit_id", "value", "question", "top",
                                                          "valid"))
    assert scores.rebuild_score_cells() == len(incremental)
    rebuilt = set(SurveyScoreCell.objects.values_list("dimension", "month", "unit_id", "value", "question", "top",
                                                      "valid"))
    assert rebuilt == incremental


def test_the_measures_hold_the_scores_counts(lead, imported, hospital):
    ward = hospital.unit("rgh/4w")
    recommend = ManualCount.objects.get(measure__key="hcahps-recommend", unit=ward, month=MARCH)
    # S01-S04: recommend 4,4,3,4 -> 3 of 4
    assert (recommend.numerator, recommend.denominator) == (3, 4)
    assert recommend.source == scores.MEASURE_SOURCE
    table = scores.score_table(lead, first=MARCH, last=MARCH, unit=ward)
    assert recommend.numerator / recommend.denominator == row(table, "recommend").share
    nurses = ManualCount.objects.get(measure__key="hcahps-nurse-communication", unit=ward, month=MARCH)
    # nc 3/4, nl 2/4, ne 2/3 -> mean 0.63889 x 4 surveys
    assert nurses.denominator == 4
    assert nurses.numerator == pytest.approx((3 / 4 + 2 / 4 + 2 / 3) / 3 * 4, abs=1e-5)
    assert nurses.numerator / nurses.denominator == pytest.approx(row(table, "nurse_communication").share, abs=1e-6)
    assert not ManualCount.objects.filter(measure__key="hcahps-cleanliness").exists()  # not in the file
    measure, chart = scores.unit_measure_chart(lead, "recommend", ward)
    assert measure.key == "hcahps-recommend" and Measure.objects.filter(key=measure.key).exists()
    assert chart is not None
