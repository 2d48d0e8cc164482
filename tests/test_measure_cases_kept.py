"""The cases kept for the drill-down are written a period at a time (measures.cases.Keeper, fed
by kpi.aggregate) and take the place of the kept ones only when the computation succeeds."""

from datetime import date

import pyarrow as pa
import pytest

from andon.measures import cases

JAN, FEB, MAR = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)
SPANS = [(JAN, FEB), (FEB, MAR), (MAR, date(2026, 4, 1))]


def _cases(start: date, ids: list[str]) -> pa.Table:
    return pa.table({"case_id": ids, "period_start": pa.array([start] * len(ids), pa.date32())})


def _kept() -> dict:
    return {start: (table["case_id"].to_pylist() if (table := cases.kept("falls", "month", start)) else None)
            for start, _ in SPANS}


@pytest.fixture(autouse=True)
def cases_dir(settings, tmp_path):
    settings.ANDON_CASES_DIR = str(tmp_path / "measure-cases")
    return tmp_path / "measure-cases"


def test_a_computation_s_cases_replace_the_kept_ones_period_by_period(cases_dir):
    assert cases.keep("falls", "month", pa.concat_tables([_cases(JAN, ["a"]), _cases(MAR, ["b", "c"])]), SPANS) == 3
    assert _kept() == {JAN: ["a"], FEB: None, MAR: ["b", "c"]}
    keeper = cases.Keeper("falls", "month", SPANS, measured=lambda start: (start, date(2026, 12, 31)))
    keeper.add(FEB, _cases(FEB, ["d"]))
    keeper.add(MAR, _cases(MAR, []))
    assert _kept() == {JAN: ["a"], FEB: None, MAR: ["b", "c"]}  # nothing changes before it is done
    assert keeper.done() == 1
    assert _kept() == {JAN: None, FEB: ["d"], MAR: None}  # periods without cases lose their old ones
    assert cases.measurement_period(cases.kept("falls", "month", FEB)) == ("2026-02-01", "2026-12-31")
    assert [p.name for p in cases_dir.joinpath("falls").iterdir()] == ["month"]  # no staging left


def test_a_computation_that_fails_keeps_the_old_cases(cases_dir):
    cases.keep("falls", "month", _cases(JAN, ["a"]), SPANS)
    keeper = cases.Keeper("falls", "month", SPANS)
    keeper.add(JAN, _cases(JAN, ["new"]))
    keeper.add(FEB, _cases(FEB, ["new too"]))
    keeper.discard()  # what compute.from_sql does when the aggregation fails part-way
    assert _kept() == {JAN: ["a"], FEB: None, MAR: None}
    assert [p.name for p in cases_dir.joinpath("falls").iterdir()] == ["month"]


def test_a_period_given_in_parts_is_kept_whole_in_their_order(cases_dir):
    keeper = cases.Keeper("falls", "month", SPANS, measured=lambda start: (start, date(2026, 12, 31)))
    keeper.add(JAN, _cases(JAN, ["a", "b"]))
    keeper.add(JAN, _cases(JAN, []))
    keeper.add(JAN, _cases(JAN, ["c"]))
    keeper.add(FEB, _cases(FEB, ["d"]))
    keeper.add(FEB, _cases(FEB, ["e", "f"]))
    assert keeper.done() == 6
    assert _kept() == {JAN: ["a", "b", "c"], FEB: ["d", "e", "f"], MAR: None}
    assert cases.measurement_period(cases.kept("falls", "month", JAN)) == ("2026-01-01", "2026-12-31")
