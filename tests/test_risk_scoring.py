"""Risk and FMEA scoring (andon/risk/scoring.py): the NPSA matrix and its bands as DOMAIN.md §5
prints them, a changed table, escalation tolerances, RPN thresholds, the Action Priority lookup
and every path of the VA HFMEA decision tree (§4.2)."""

import itertools

import pytest

from andon.risk import scoring
from andon.risk.scoring import Matrix, ScoringError, Thresholds, decision_tree

# DOMAIN.md §5, the 5×5 table row by row (likelihood 5 first) and its bands.
DOMAIN_TABLE = {5: [5, 10, 15, 20, 25], 4: [4, 8, 12, 16, 20], 3: [3, 6, 9, 12, 15], 2: [2, 4, 6, 8, 10],
                1: [1, 2, 3, 4, 5]}
DOMAIN_BANDS = {"Low": range(1, 4), "Moderate": range(4, 7), "High": range(8, 13), "Extreme": range(15, 26)}


def test_the_default_matrix_is_the_npsa_table_with_its_bands():
    matrix = Matrix()
    for likelihood, row in DOMAIN_TABLE.items():
        assert [matrix.score(c, likelihood) for c in range(1, 6)] == row
    for c, lk in itertools.product(range(1, 6), range(1, 6)):
        product = c * lk
        expected = next(name for name, scores in DOMAIN_BANDS.items() if product in scores)
        assert matrix.band(product).name == expected, (c, lk)
    # The gaps between bands cannot occur as products (DOMAIN.md §5).
    assert {7, 11, 13, 14}.isdisjoint(matrix.products())
    assert matrix.scores_in_band("high") == [8, 9, 10, 12]
    assert [matrix.consequence_label(v) for v in (1, 5)] == ["Negligible", "Catastrophic"]
    assert [matrix.likelihood_label(v) for v in (1, 5)] == ["Rare", "Almost certain"]


def test_a_changed_table_bands_by_its_own_ranges():
    config = Matrix().to_config()
    config["bands"] = [{"name": "Green", "low": 1, "high": 4, "colour": "#00aa00"},
                       {"name": "Amber", "low": 5, "high": 9}, {"name": "Red", "low": 10, "high": 25}]
    matrix = Matrix.from_config(config)
    assert [matrix.band(s).name for s in (4, 5, 6, 9, 10, 25)] == ["Green", "Amber", "Amber", "Amber", "Red", "Red"]
    assert Matrix.from_config(matrix.to_config()) == matrix


@pytest.mark.parametrize("bands, field, words", [
    ([{"name": "Low", "low": 1, "high": 3}, {"name": "High", "low": 5, "high": 25}], "bands", "No band covers a score of 4"),
    ([{"name": "Low", "low": 1, "high": 5}, {"name": "High", "low": 5, "high": 25}], "bands", "overlap"),
    ([{"name": "Low", "low": 1, "high": 25}, {"name": "Beyond", "low": 26, "high": 30}], "bands", "above the highest"),
    ([{"name": "Low", "low": 1, "high": 3}, {"name": "low", "low": 4, "high": 25}], "bands", "same name"),
    ([{"name": "", "low": 1, "high": 25}], "bands[1]", "needs a name"),
    ([{"name": "All", "low": 0, "high": 25}], "bands[1]", "1 ≤ low ≤ high"),
    ([{"name": "All", "low": 1, "high": 25, "colour": "red"}], "bands[1]", "colour"),
    ([{"name": "All", "low": 1, "high": 25, "shade": 1}], "bands[1]", "must have a name"),
])
def test_a_bad_band_table_is_refused_naming_the_entry(bands, field, words):
    with pytest.raises(ScoringError, match=words) as error:
        Matrix.from_config({"bands": bands})
    assert error.value.field == field


def test_bad_scales_and_tolerances_are_refused():
    with pytest.raises(ScoringError, match="2 to 10 levels"):
        Matrix.from_config({"consequences": [{"label": "Only"}]})
    with pytest.raises(ScoringError, match=r"consequences\[2\] has the value 3"):
        Matrix.from_config({"consequences": [{"value": 1, "label": "a"}, {"value": 3, "label": "b"}]})
    with pytest.raises(ScoringError, match="'colour' is not a field of a level"):
        Matrix.from_config({"likelihoods": [{"label": "a"}, {"label": "b", "colour": "x"}]})
    with pytest.raises(ScoringError, match="the board has no ceiling"):
        Matrix.from_config({"tolerances": {"board": 20}})
    with pytest.raises(ScoringError, match="at least what the level below"):
        Matrix.from_config({"tolerances": {"unit": 12, "department": 6}})
    with pytest.raises(ScoringError, match="'shape' is not part"):
        Matrix.from_config({"shape": "round"})


@pytest.mark.parametrize("consequence, likelihood, field, words", [
    (0, 3, "current_consequence", "Consequence 0 is out of range"),
    (6, 3, "current_consequence", "Consequence 6 is out of range"),
    (3, 9, "current_likelihood", "Likelihood 9 is out of range"),
    ("x", 3, "current_consequence", "whole number from 1 to 5"),
    (True, 3, "current_consequence", "whole number"),
])
def test_a_score_out_of_range_is_refused(consequence, likelihood, field, words):
    with pytest.raises(ScoringError, match=words) as error:
        Matrix().score(consequence, likelihood, "current")
    assert error.value.field == field


def test_an_unknown_band_is_refused():
    with pytest.raises(ScoringError, match="'Severe' is not a band of this matrix"):
        Matrix().band_named("Severe")


def test_escalation_asks_above_each_levels_tolerance():
    matrix = Matrix()  # unit 6, department 12, facility 20, board: none
    assert [matrix.asks_escalation("unit", s) for s in (6, 8)] == [False, True]
    assert [matrix.asks_escalation("department", s) for s in (12, 15)] == [False, True]
    assert [matrix.asks_escalation("facility", s) for s in (20, 25)] == [False, True]
    assert not matrix.asks_escalation("board", 25)
    assert [matrix.lowest_level_for(s) for s in (4, 9, 16, 25)] == ["unit", "department", "facility", "board"]
    tolerant = Matrix.from_config({"tolerances": {"unit": 9, "department": None, "facility": 25}})
    assert not tolerant.asks_escalation("unit", 9) and not tolerant.asks_escalation("department", 25)
    with pytest.raises(ScoringError, match="not an escalation level"):
        matrix.tolerance("ward")


def test_rpn_and_the_thresholds_give_their_reasons():
    assert scoring.rpn(5, 4, 5) == 100 and scoring.rpn(10, 10, 10) == 1000
    default = Thresholds()
    assert default.reasons(5, 4, 5) == ["RPN 100 ≥ 100"]
    assert default.reasons(5, 4, 4) == []
    assert default.reasons(9, 1, 1) == ["severity 9 ≥ 9, whatever the RPN"]
    assert default.reasons(10, 5, 2) == ["RPN 100 ≥ 100", "severity 10 ≥ 9, whatever the RPN"]
    assert Thresholds(rpn=125, severity=None).reasons(9, 3, 4) == []
    assert Thresholds(rpn=None, severity=8).reasons(8, 1, 1) == ["severity 8 ≥ 8, whatever the RPN"]
    with pytest.raises(ScoringError, match="Set an RPN threshold"):
        Thresholds(None, None)
    with pytest.raises(ScoringError, match="out of range"):
        scoring.rpn(11, 1, 1)
    with pytest.raises(ScoringError, match="whole number"):
        scoring.rpn(5, "often", 1)


def _table():
    # A made-up table for the test (the real one is the organisation's licensed copy): severity
    # 9–10 with occurrence ≥ 4 is High, anything else with severity ≥ 7 Medium, the rest Low.
    return [
        {"severity": [9, 10], "occurrence": [4, 10], "detection": [1, 10], "priority": "H"},
        {"severity": [9, 10], "occurrence": [1, 3], "detection": [1, 10], "priority": "M"},
        {"severity": [7, 8], "occurrence": [1, 10], "detection": [1, 10], "priority": "M"},
        {"severity": [1, 6], "occurrence": [1, 10], "detection": [1, 10], "priority": "L"},
    ]


def test_the_action_priority_table_is_looked_up_and_checked_for_gaps_and_overlaps():
    table = scoring.action_priority_table(_table())
    assert [scoring.action_priority(table, *sod) for sod in ((10, 4, 1), (9, 3, 10), (7, 1, 1), (6, 10, 10))] == \
        ["H", "M", "M", "L"]
    gap = _table()[:-1]
    with pytest.raises(ScoringError, match="no row covers S=1, O=1, D=1"):
        scoring.action_priority_table(gap)
    overlap = _table() + [{"severity": [1, 1], "occurrence": [1, 1], "detection": [1, 1], "priority": "L"}]
    with pytest.raises(ScoringError, match="2 rows cover S=1, O=1, D=1"):
        scoring.action_priority_table(overlap)
    with pytest.raises(ScoringError, match="priority must be H, M or L"):
        scoring.action_priority_table([{**_table()[0], "priority": "X"}])
    with pytest.raises(ScoringError, match=r"severity must be a range"):
        scoring.action_priority_table([{**_table()[0], "severity": [8, 11]}])


def test_hazard_scores_are_the_vas_matrix():
    # DOMAIN.md §4.2: rows probability 4..1, columns severity 4..1.
    expected = {4: [16, 12, 8, 4], 3: [12, 9, 6, 3], 2: [8, 6, 4, 2], 1: [4, 3, 2, 1]}
    for probability, row in expected.items():
        assert [scoring.hazard_score(s, probability) for s in (4, 3, 2, 1)] == row
    with pytest.raises(ScoringError, match="Severity 5 is out of range"):
        scoring.hazard_score(5, 1)


# Every path of the tree: (score, single point weakness, effective control, obvious) -> outcome
# and the questions asked, in order.
TREE_PATHS = [
    (6, False, None, None, False, 2),     # < 8, not critical: Stop after Q1a
    (6, True, True, None, False, 3),      # < 8 but a single-point weakness; a control exists: Stop
    (6, True, False, True, False, 4),     # ... no control, but obvious: Stop
    (6, True, False, False, True, 4),     # ... no control, not obvious: Proceed
    (8, False, True, None, False, 3),     # ≥ 8; a control exists: Stop
    (8, False, False, True, False, 4),    # ≥ 8; no control; obvious: Stop
    (12, False, False, False, True, 4),   # ≥ 8; no control; not obvious: Proceed
    (16, True, False, False, True, 4),    # ≥ 8 and critical: the same questions follow
]


@pytest.mark.parametrize("score, weakness, control, obvious, proceed, asked", TREE_PATHS)
def test_every_path_of_the_hfmea_decision_tree(score, weakness, control, obvious, proceed, asked):
    tree = decision_tree(score, weakness, control, obvious)
    assert tree.proceed is proceed and tree.outcome == ("Proceed" if proceed else "Stop")
    assert [q for q, _ in tree.questions] == [scoring.Q1, scoring.Q1A, scoring.Q2, scoring.Q3][:asked]
    assert tree.questions[0][1] is (score >= 8)


def test_a_question_the_path_reaches_must_be_answered():
    with pytest.raises(ScoringError, match="single-point weakness") as error:
        decision_tree(4, None, None, None)
    assert error.value.field == "single_point_weakness"
    with pytest.raises(ScoringError, match="effective control") as error:
        decision_tree(9, False, None, None)
    assert error.value.field == "effective_control"
    with pytest.raises(ScoringError, match="so obvious") as error:
        decision_tree(9, False, False, None)
    assert error.value.field == "obvious"
    assert decision_tree(4, False, None, None).outcome == "Stop"  # questions not reached may be left out
