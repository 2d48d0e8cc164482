"""ANDON_ECQM_ACCEPT_UCUM_MISSPELLINGS: an eCQM computed over data whose Quantity systems
misspell UCUM's fails those patients by default, as published FHIRHelpers does; with the
setting, they count, the computation says how many quantities it read so, and the case's
explanation evaluates them the same way."""

import json
from datetime import date
from pathlib import Path

import pytest

from andon.analytics.fhir import ingest, store
from andon.measures import results, services, why
from andon.measures.models import Measure
from andon.platform import content
from andon.platform.roles import Role

from .analytics.cql.test_ucum_misspellings import HYPO, SHIPPED, misspelled_hypo_cases

KEY = "severe-hypoglycemia"  # CMS816
LIBRARY = Path(__file__).resolve().parent.parent / "content" / "measures"


@pytest.fixture
def hypo_store(db, tmp_path, settings):
    content.load_content([LIBRARY])
    resources, expected = misspelled_hypo_cases()
    (tmp_path / "ndjson").mkdir()
    (tmp_path / "ndjson" / "cases.ndjson").write_text("".join(json.dumps(r) + "\n" for r in resources))
    connection = store.connect(tmp_path / "fhir.duckdb")
    ingest.load_paths(connection, [tmp_path / "ndjson"], progress=False)
    connection.close()
    settings.ANDON_FHIR_STORE = tmp_path / "fhir.duckdb"
    settings.ANDON_ECQM_CONTENT = [SHIPPED]
    return expected


def _compute():
    from andon.analytics.cql import content as ecqm_content

    start, end = (date.fromisoformat(p[:10]) for p in ecqm_content.load_cases([SHIPPED], HYPO)[0].period)
    [done] = services.compute_measures([KEY], first=start, last=end, jobs=1)
    return done, start, end


def test_misspelled_ucum_fails_its_patients_by_default(hypo_store):
    done, _, _ = _compute()
    assert done.counts["errors"] == 2 and "warnings" not in done.counts
    assert all("Invalid FHIR Quantity code: mg/dL" in error for error in done.counts["first_errors"])


def test_the_setting_counts_them_and_says_so(hypo_store, settings, make_user):
    settings.ANDON_ECQM_ACCEPT_UCUM_MISSPELLINGS = True
    done, start, end = _compute()
    assert done.error == "" and done.counts["errors"] == 0
    assert done.counts["patients"] == 3
    [warning] = done.counts["warnings"]  # an episode measure: evaluated once over the whole range
    assert warning.startswith(f"{start.isoformat()}..{end.isoformat()}: 3 quantities with system http://ucum.org or "
                              "https://ucum.org read as UCUM")
    measure = Measure.objects.get(key=KEY)
    cmo = make_user(Role.CMO)
    kept = [(month, c) for month in _months(KEY) for c in results.cases_behind(cmo, measure, period_start=month)]
    assert sum(c["numerator"] for _, c in kept) == hypo_store["numerator"] == 1
    assert len(kept) == hypo_store["denominator"] == 3
    month, numerator = next((month, c) for month, c in kept if c["numerator"])
    explained = why.explain_case(cmo, measure, period_start=month, case_id=numerator["case_id"])
    assert {p.code: p.holds for p in explained.populations}["numerator"] is True
    assert explained.disagreement == ""


def _months(key: str) -> list[date]:
    from andon.measures.models import MeasureResult

    rows = MeasureResult.objects.filter(measure__key=key, period_kind="month", unit=None, stratum="")
    return sorted({r.period_start for r in rows})
