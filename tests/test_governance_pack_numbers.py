"""Every number the board pack prints for the measures equals the dashboard's cells for the same
month and place (the whole organisation), worked out here from the counts entered, and the
stored cells read directly: one PDF, its text extracted with pypdf."""

import io
import math
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from andon.governance import packs
from andon.measures import services as measures
from andon.measures.charts import format_value
from andon.measures.models import Measure, MeasureResult
from andon.platform import content
from andon.platform.roles import Role

LIBRARY = Path(__file__).resolve().parent.parent / "content" / "measures"
MONTHS = [date(2026, m, 1) for m in range(1, 7)]
# (ward, ICU) numerator and denominator per month: hand hygiene (observations), CLABSI (line days)
HYGIENE = [((18, 20), (9, 12)), ((15, 20), (10, 12)), ((19, 22), (8, 10)), ((16, 20), (11, 12)),
           ((17, 21), (9, 11)), ((20, 22), (12, 13))]
CLABSI = [((1, 310), (0, 120)), ((0, 300), (1, 118)), ((2, 320), (0, 125)), ((0, 290), (0, 110)),
          ((1, 305), (1, 122)), ((0, 298), (2, 119))]


@pytest.fixture
def counted(hospital, make_user, tmp_path, settings):
    folder = tmp_path / "measures"
    folder.mkdir()
    for key in ("hand-hygiene", "clabsi"):
        shutil.copy(LIBRARY / f"{key}.yaml", folder)
    content.load_content([folder])
    settings.ANDON_BOARD_KEY_MEASURES = ["hand-hygiene", "clabsi"]
    lead = make_user(Role.QUALITY_ANALYST)
    ward, icu = hospital.unit("rgh/4w"), hospital.unit("rgh/icu")
    for key, table in (("hand-hygiene", HYGIENE), ("clabsi", CLABSI)):
        counts = [(unit, month, n, d) for month, pair in zip(MONTHS, table, strict=True)
                  for unit, (n, d) in zip((ward, icu), pair, strict=True)]
        measures.enter_counts_from(lead, Measure.objects.get(key=key), counts, source="Board pack test")
    return hospital


def _p_chart(table, month_index):
    """The p-chart of the organisation's months (the wards added up): value, mean, limits of one month."""
    totals = [(a[0] + b[0], a[1] + b[1]) for a, b in table]
    mean = sum(n for n, _ in totals) / sum(d for _, d in totals)
    n, d = totals[month_index]
    spread = 3 * math.sqrt(mean * (1 - mean) / d)
    return n / d * 100, mean * 100, max(0.0, mean - spread) * 100, min(1.0, mean + spread) * 100


def _u_chart(table, month_index, per=1000):
    totals = [(a[0] + b[0], a[1] + b[1]) for a, b in table]
    mean = sum(n for n, _ in totals) / sum(d for _, d in totals)
    n, d = totals[month_index]
    spread = 3 * math.sqrt(mean / d)
    return n / d * per, mean * per, max(0.0, mean - spread) * per, (mean + spread) * per


def _flat(text: str) -> str:
    """The page's words on one line (a cell's words wrapped over lines joined again)."""
    return re.sub(r"\s+", " ", text.replace("-\n", "-"))


CHART_ROW = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun) 26 (\S+) (\S+) (\S+) (\S+) (?:Common|Special)")


def test_every_measure_number_in_the_pdf_equals_the_dashboard_cells(counted, make_user):
    cqo = make_user(Role.CQO)
    june = MONTHS[-1]
    version = packs.approve(cqo, packs.draft(cqo, counted.organisation, june, today=date(2026, 7, 8)))
    pages = [_flat(page.extract_text()) for page in PdfReader(io.BytesIO(packs.pdf_for(cqo, version))).pages]
    glance = next(p for p in pages if "At a glance" in p)

    for key, table, chart in (("hand-hygiene", HYGIENE, _p_chart), ("clabsi", CLABSI, _u_chart)):
        measure = Measure.objects.get(key=key)
        cells = {r.period_start: r.value for r in MeasureResult.objects.filter(
            measure=measure, period_kind="month", unit=None, stratum="")}
        value, mean, low, high = chart(table, 5)
        assert cells[june] == pytest.approx(value)  # the dashboard's cell is the counts' arithmetic
        # At a glance: the month's value beside the measure's name, then its target.
        shown = re.search(re.escape(measure.title) + r" (\S+) " + re.escape(measure.unit_label) + r" (\S+) ", glance)
        target = format_value(measure.target) if measure.target is not None else "–"
        assert shown.groups() == (format_value(cells[june]), target)
        # The measure's page: the month's value, mean and limits, then the chart's table, every number of it.
        page = next(p for p in pages if p.startswith(measure.title))
        assert f"{format_value(cells[june])} {measure.unit_label} in June 2026 (mean {format_value(mean)}" in page
        assert f"limits {format_value(low)} to {format_value(high)})" in page
        rows = CHART_ROW.findall(page)
        assert [r[0] for r in rows] == ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
        for index, (month, (_name, printed, upper, lower, centre)) in enumerate(zip(MONTHS, rows, strict=True)):
            value, mean, low, high = chart(table, index)
            assert cells[month] == pytest.approx(value)
            assert (printed, upper, lower, centre) == tuple(format_value(v) for v in (value, high, low, mean))
        # What the pack keeps to compare next month is the same number.
        figures = next(s["figures"] for s in version.sections if s["key"] == f"measure:{key}")
        assert figures[measure.title] == pytest.approx(cells[june])
