"""Measures by practitioner (issue 19 item 3) in the measures library: made-up stays with their
attendings, computed by practitioner; the practitioners' cells add up to the organisation's
(unattributed counted, never dropped); the minimum count; practitioner cells stay out of the
measures' exports and the equity strata; without attribution the stored cells are the same."""

from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest

from andon.analytics.fhir import ingest, store, synthetic
from andon.analytics.kpi.attribution import UNATTRIBUTED
from andon.measures import results, services
from andon.measures.models import Measure, MeasureResult
from andon.platform import content

REPO = Path(__file__).resolve().parent.parent
FIRST, LAST = date(2025, 1, 1), date(2025, 12, 31)
OPTIONS = synthetic.Options(300, FIRST, 12, ["w1", "w2"], "ed", seed=5, practitioners_per_ward=3,
                            emergency_practitioners=2, outliers={"syn-5-prac-w1-0": 30})


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attribution")
    synthetic.write_ndjson(OPTIONS, folder / "ndjson")
    connection = store.connect(folder / "fhir.duckdb")
    ingest.load_paths(connection, [folder / "ndjson"], progress=False)
    connection.close()
    return folder / "fhir.duckdb", list(synthetic.resources(OPTIONS))


@pytest.fixture
def computed(db, population, settings, tmp_path):
    settings.ANDON_FHIR_STORE, resources = population
    settings.ANDON_CASES_DIR = tmp_path / "cases"
    content.load_content([REPO / "content" / "measures"])
    keys = ["readmission-30-day", "average-length-of-stay"]
    services.compute_measures(keys, first=FIRST, last=LAST, by_practitioner=False)
    before = sorted(MeasureResult.objects.values_list("measure__key", "period_start", "unit", "stratum", "stratum_value",
                                                      "cases", "numerator", "denominator", "value"))
    services.compute_measures(keys, first=FIRST, last=LAST, by_practitioner=True)
    return resources, before


def attendings(resources) -> dict[str, str]:
    """Plain Python: each stay's attending, from the resources as made."""
    return {r["id"]: r["participant"][0]["individual"]["reference"].split("/")[1]
            for r in resources if r["resourceType"] == "Encounter" and r["class"]["code"] == "IMP"}


def test_practitioner_cells_add_up_to_the_organisation_and_leave_the_others_as_they_were(computed):
    resources, before = computed
    rows = MeasureResult.objects.filter(measure__key="average-length-of-stay")
    practitioner_rows = rows.filter(stratum="practitioner")
    assert practitioner_rows.exists() and not practitioner_rows.exclude(unit=None).exists()
    after = sorted(MeasureResult.objects.exclude(stratum="practitioner").values_list(
        "measure__key", "period_start", "unit", "stratum", "stratum_value", "cases", "numerator", "denominator", "value"))
    assert after == before  # the existing cells, to the last digit
    whole = sum(r.cases for r in rows.filter(stratum="", unit=None))
    by_whom = Counter()
    for row in practitioner_rows:
        by_whom[row.stratum_value] += row.cases
    assert sum(by_whom.values()) == whole
    stays = attendings(resources)
    ended = {r["id"]: r["period"]["end"] for r in resources if r["resourceType"] == "Encounter" and r["id"] in stays}
    in_year = Counter(prac for eid, prac in stays.items()
                      if FIRST <= datetime.fromisoformat(ended[eid]).date() <= LAST)
    assert by_whom == in_year and UNATTRIBUTED not in by_whom


def test_the_minimum_count_shows_too_few_cases(computed, settings):
    measure = Measure.objects.get(key="readmission-30-day")
    values = {v.key: v for v in services.practitioner_results(measure, FIRST, LAST)}
    counts = sorted(v.cases for v in values.values())
    assert len(values) == 6 and counts[0] >= 1
    middle = counts[len(counts) // 2]
    settings.ANDON_OPPE_MIN_CASES = middle
    for value in services.practitioner_results(measure, FIRST, LAST):
        if value.cases < middle:
            assert value.too_few and value.shown == f"too few cases ({value.cases})"
        else:
            assert not value.too_few and value.shown == results.charts.format_value(value.value)
    # the outlier (more of the readmitted stays) has the highest rate
    rates = {v.key: v.value for v in services.practitioner_results(measure, FIRST, LAST, minimum=1)
             if v.key.startswith("syn-5-prac-w1")}
    assert max(rates, key=rates.get) == "syn-5-prac-w1-0"
    shown = services.practitioner_results(measure, FIRST, LAST)
    chart, points, centre = services.practitioner_funnel(measure, shown, {}, "Readmissions")
    plotted = {key for key in points}
    assert plotted == {k for k, v in values.items() if v.cases >= middle} and centre is not None and chart is not None


def test_a_practitioners_cases_open_down_to_their_encounters(computed):
    resources, _before = computed
    measure = Measure.objects.get(key="average-length-of-stay")
    key = "syn-5-prac-w2-1"
    found = services.practitioner_cases(measure, key, FIRST, LAST)
    stays = attendings(resources)
    assert found and {row["encounter_id"].split("/")[1] for row in found} <= {e for e, p in stays.items() if p == key}
    assert len(found) == sum(v.cases for v in services.practitioner_results(measure, FIRST, LAST, [key]))


def test_practitioner_cells_are_not_in_the_measures_exports_nor_equity_strata(computed):
    measure = Measure.objects.get(key="readmission-30-day")
    rows = services.result_rows(measure, units=[])
    assert rows.exists() and not rows.filter(stratum="practitioner").exists()
    assert "practitioner" not in results.STRATA_LABELS
