"""The platform's registry of daily sweeps (platform/sweeps.py): each module's sweeps run in the
order registered, a name is registered once, an unknown module is an error; compliance and risk
register theirs there, and `andon compliance sweep` / `andon risk sweep` run them."""

from datetime import date

import pytest

from andon import cli
from andon.platform import sweeps

DAY = date(2030, 1, 15)


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(sweeps, "_SWEEPS", {})


def test_a_modules_sweeps_run_in_the_order_registered_each_name_once(registry):
    ran = []

    def sweep(name, count):
        def run(today):
            ran.append((name, today))
            return count
        return run

    sweeps.register_sweep("wards", "beds", sweep("beds", 3))
    sweeps.register_sweep("wards", "alarms", sweep("alarms", 0))
    sweeps.register_sweep("wards", "beds", sweep("beds again", 9))  # a second ready(): nothing more
    sweeps.register_sweep("theatres", "lists", sweep("lists", 1))
    assert sweeps.run_sweeps("wards", DAY) == {"beds": 3, "alarms": 0}
    assert ran == [("beds", DAY), ("alarms", DAY)]  # the other module's sweep did not run
    assert sweeps.sweeps_of("theatres") == ["lists"] and sweeps.sweeps_of("pharmacy") == []
    with pytest.raises(KeyError, match="No daily sweep is registered for 'ward' \\(registered: theatres, wards\\)"):
        sweeps.run_sweeps("ward", DAY)


def test_compliance_and_risk_register_their_sweeps_with_the_platform():
    from andon.compliance import services as compliance
    from andon.risk import sweep as risk

    assert sorted(sweeps.sweeps_of("compliance")) == ["attestation reminders", "expired evidence",
                                                      "policy attestations for new staff", "policy reviews",
                                                      "readiness snapshots"]
    assert sorted(sweeps.sweeps_of("risk")) == ["key risk indicators", "risk reviews"]
    assert compliance.run_sweeps.func is risk.run_sweeps.func is sweeps.run_sweeps


@pytest.mark.django_db
def test_the_commands_run_their_modules_sweeps(capsys):
    assert cli.main(["compliance", "sweep", "--date", DAY.isoformat()]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{name}: 0" for name in sweeps.sweeps_of("compliance")]
    assert cli.main(["risk", "sweep", "--date", DAY.isoformat()]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{name}: 0" for name in sweeps.sweeps_of("risk")]


@pytest.mark.parametrize("module", ["compliance", "risk"])
def test_a_date_not_written_yyyy_mm_dd_is_refused_by_name_before_anything_runs(module, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(sweeps, "run_sweeps", lambda *args: ran.append(args) or {})
    with pytest.raises(SystemExit) as refused:
        cli.main([module, "sweep", "--date", "31/12/2026"])
    assert refused.value.code == 2 and not ran
    assert "argument --date: '31/12/2026' is not a date written YYYY-MM-DD" in capsys.readouterr().err
