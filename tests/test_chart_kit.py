"""The chart kit (andon/platform/charts): scales and their round ticks, and every chart kind's
accessible markup (role, title, desc, a table), escaping of hostile text, and no inline style."""

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from andon.platform import charts
from andon.platform.charts import BandScale, LinearScale, format_number, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & \'q\''


# --- scales ---------------------------------------------------------------------------------------

def test_nice_ticks_are_round_steps_covering_the_range():
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(3.2, 47.9) == [0, 10, 20, 30, 40, 50]
    assert nice_ticks(0.013, 0.087) == [0, 0.02, 0.04, 0.06, 0.08, 0.1]
    assert nice_ticks(-7, 12) == [-10, -5, 0, 5, 10, 15]


def test_nice_ticks_keep_domain_edges_that_fall_on_a_tick_and_widen_an_empty_range():
    assert nice_ticks(20, 40)[0] == 20 and nice_ticks(20, 40)[-1] == 40
    assert nice_ticks(5, 5) == [5, 5.2, 5.4, 5.6, 5.8, 6]  # one value: still an axis
    assert nice_ticks(5, 1)[0] <= 5 <= nice_ticks(5, 1)[-1]


@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6))
def test_nice_ticks_always_cover_evenly(low, width):
    high = low + width
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low + 1e-9 and ticks[-1] >= high - 1e-9
    steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(ticks) <= 12 and max(steps) - min(steps) <= max(steps) * 1e-6


def test_a_linear_scale_maps_its_ends_and_ignores_missing_values():
    scale = LinearScale.covering([12.0, None, 38.0], 300, 40, zero="never")
    assert scale.ticks == (10, 20, 30, 40)
    assert scale(10) == 300 and scale(40) == 40 and scale(25) == pytest.approx(170)
    assert LinearScale.covering([None, None], 100, 0).ticks[0] == 0


def test_zero_is_kept_near_the_data_and_left_out_far_from_it():
    assert LinearScale.covering([10, 40], 0, 1).low == 0  # lowest value within 0.6 × the range of 0
    assert LinearScale.covering([20, 40], 0, 1).low == 20
    assert LinearScale.covering([90, 95], 0, 1).low == 90  # a small change far from 0 is not flattened
    assert LinearScale.covering([90, 95], 0, 1, zero="always").low == 0
    assert LinearScale.covering([-5, 5], 0, 1).low == -6  # negative data: fitted


def test_a_band_scale_centres_its_slots_and_thins_its_labels():
    band = BandScale(4, 0, 400)
    assert band.step == 100 and band.left(1) == 100 and band.centre(3) == 350
    assert BandScale(24, 0, 1).label_every() == 2 and BandScale(6, 0, 1).label_every() == 1


def test_numbers_read_as_people_write_them():
    assert [format_number(v) for v in (0, 0.5, 12.345, 99.999, 1234.5, -3.1)] == ["0", "0.5", "12.35", "100", "1,234", "-3.1"]


# --- every chart kind -----------------------------------------------------------------------------

def every_kind(label=""):
    """One chart of each kind, with `label` in its title and in every text it draws."""
    title = f"Chart {label}"
    return [
        charts.control_chart([charts.PeriodPoint(f"Jan {label}", 4.0, tip=f"tip {label}", note=label),
                              charts.PeriodPoint("Feb", None), charts.PeriodPoint("Mar", 6.0, "concern")],
                             title=title, desc=f"desc {label}", y_label=f"per {label}",
                             lines=[charts.StepLine("mean", (5.0, 5.0, 5.0), label=f"Mean {label}")],
                             references=[charts.Reference("target", 3, f"target {label}")],
                             markers=[charts.Marker(1, label, f"marker {label}")]),
        charts.scatter_chart([charts.ScatterPoint(label, 100, 4.0, "alarm", tip=label)], title=title,
                             desc=f"desc {label}", x_label=f"x {label}", y_label=f"y {label}",
                             curves=[charts.Curve("limit", ((1.0, 2.0), (100.0, 5.0)))], centre=4.5),
        charts.bar_chart([(label, 3), ("other", 1)], title=title, desc=f"desc {label}", y_label=f"y {label}"),
        charts.line_chart([label, "b"], {f"series {label}": [1.0, None]}, title=title, desc=f"desc {label}",
                          y_label="y"),
        charts.pareto_chart([_Row(label, 3, 75.0), _Row("other", 1, 100.0)], title=title, desc=f"desc {label}",
                            noun="events"),
        charts.heat_map([label, "Low"], ["Rare", label], {(label, "Rare"): 1, ("Low", label): 9}, title=title,
                        desc=f"desc {label}", row_label="Likelihood", column_label="Consequence"),
        charts.fishbone_diagram(label, [(label, [f"factor {label}"]), ("Rules", [])], title=title),
        charts.interval_chart([charts.IntervalRow(label, 85.0, 64.0, 94.8, 90.0, tip=f"tip {label}"),
                               charts.IntervalRow("No cases", None, None, None, 80.0)], title=title,
                              desc=f"desc {label}", x_label=f"Compliance {label}"),
    ]


class _Row:
    def __init__(self, label, count, cumulative_percent):
        self.label, self.count, self.cumulative_percent = label, count, cumulative_percent


@pytest.mark.parametrize("chart", every_kind("A"), ids=lambda chart: chart.kind)
def test_every_kind_is_an_image_named_by_its_title_and_desc_with_a_table(chart):
    root = ET.fromstring(chart.svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    assert root.find(f"{SVG}title").get("id") == title_id and root.find(f"{SVG}title").text == "Chart A"
    assert root.find(f"{SVG}desc").get("id") == desc_id
    assert root.find(f"{SVG}desc").text == chart.desc and "A" in chart.desc
    assert chart.table.rows and chart.table.caption == "Chart A"
    table = ET.fromstring(chart.table_html)  # well-formed: a details element holding the table
    assert table.tag == "details" and table.find("table/caption").text == "Chart A"
    assert all(element.get("style") is None for element in root.iter())
    assert "andon-chart" in root.get("class").split()


@pytest.mark.parametrize("chart", every_kind(HOSTILE), ids=lambda chart: chart.kind)
def test_hostile_text_is_escaped_in_the_drawing_and_the_table(chart):
    assert "<script" not in chart.svg and "<script" not in chart.table_html
    root = ET.fromstring(chart.svg)  # still well-formed
    texts = [element.text for element in root.iter() if element.text]
    assert any(HOSTILE in text for text in texts)
    assert any(HOSTILE in (cell.text or "") for cell in ET.fromstring(chart.table_html).iter())


def test_two_charts_on_one_page_do_not_share_ids():
    first, second = every_kind("A")[0], every_kind("B")[0]
    assert ET.fromstring(first.svg).get("aria-labelledby") != ET.fromstring(second.svg).get("aria-labelledby")
    assert ET.fromstring(first.svg).get("aria-labelledby") == ET.fromstring(every_kind("A")[0].svg).get("aria-labelledby")


def test_a_template_prints_the_kits_markup_as_it_is_and_other_text_escaped(db):
    chart = every_kind("A")[2]
    page = Template("{{ chart.svg }}{{ chart.table_html }}{{ raw }}").render(Context({"chart": chart, "raw": "<b>"}))
    assert page.startswith("<svg") and "<details" in page and page.endswith("&lt;b&gt;")


def test_the_control_chart_draws_gaps_steps_references_and_markers():
    root = ET.fromstring(every_kind("A")[0].svg)
    circles = [c for c in root.iter(f"{SVG}circle") if "point" in c.get("class")]
    assert len(circles) == 2  # the period without data has no point
    assert circles[1].get("class") == "point concern" and circles[1].get("fill") == charts.theme.STATUS["concern"]
    assert any(p.get("class") == "mean" for p in root.iter(f"{SVG}path"))
    assert [line.get("class") for line in root.iter(f"{SVG}line") if line.get("class")] == ["target", "annotation"]


def test_markers_at_both_edges_keep_their_labels_whole_inside_the_drawing_and_apart():
    from andon.platform.charts import control

    words = "Falls huddle at every shift change on all medical wards"
    points = [charts.PeriodPoint(f"M{i}", float(i)) for i in range(12)]
    markers = [charts.Marker(0, "Start", "first"), charts.Marker(12, words, f"after the last: {words}"),
               charts.Marker(11, "Audit", "last period")]
    chart = charts.control_chart(points, title="T", desc="d", y_label="y", markers=markers)
    root = ET.fromstring(chart.svg)
    width = float(root.get("width"))
    boxes = []
    for label in (t for t in root.iter(f"{SVG}text") if t.get("class") == "annotation-label"):
        rows = [tspan.text for tspan in label.iter(f"{SVG}tspan")]
        x, y = float(label.find(f"{SVG}tspan").get("x")), float(label.find(f"{SVG}tspan").get("y"))
        extent = max(len(row) for row in rows) * control.CHAR_WIDTH
        left = x - extent if label.get("text-anchor") == "end" else x
        assert 0 <= left and left + extent <= width, rows  # not cut by either edge
        boxes.append((label.find(f"{SVG}title").text, " ".join(rows), left, left + extent, y))
    assert sorted(b[1] for b in boxes) == sorted(["Start", words, "Audit"])
    _, _, left_a, right_a, y_a = next(b for b in boxes if b[1] == "Audit")
    _, _, left_w, right_w, y_w = next(b for b in boxes if b[1] == words)
    assert y_a != y_w or right_a < left_w or right_w < left_a  # close markers do not overlap
    assert float(root.get("height")) > control.CANVAS.height  # the rows of labels got room above the plot
    assert chart.table.headers[-1] == "Annotations"
    assert chart.table.rows[0][-1] == "first" and chart.table.rows[-1][-1] == f"last period; after the last: {words}"


def test_a_risk_matrix_heat_map_colours_cells_by_band_links_them_and_keeps_counts_legible():
    """A risk matrix: each cell takes its band's colour (not the ramp), links to the risks it
    counts (the address escaped), and writes its count in whichever ink stands out on the band."""
    link = '/risk/register/?consequence=5&likelihood=1&x="<q>'
    chart = charts.heat_map(["2 Unlikely", "1 Rare"], ["1 Negligible", "5 Catastrophic"],
                            {("1 Rare", "5 Catastrophic"): 3, ("2 Unlikely", "1 Negligible"): 0},
                            title="Current", desc="d", row_label="Likelihood", column_label="Consequence",
                            fills={("1 Rare", "5 Catastrophic"): "#c62828", ("2 Unlikely", "1 Negligible"): "#f9a825"},
                            links={("1 Rare", "5 Catastrophic"): link}, cell_width=100)
    root = ET.fromstring(chart.svg)
    anchors = list(root.iter(f"{SVG}a"))
    assert [a.get("href") for a in anchors] == [link]  # one linked cell; the quotes and brackets escaped
    linked = anchors[0]
    assert linked.find(f"{SVG}title").text == "1 Rare, 5 Catastrophic: 3"
    assert linked.find(f"{SVG}rect").get("fill") == "#c62828" and linked.find(f"{SVG}rect").get("width") == "100"
    assert linked.find(f"{SVG}text").text == "3" and linked.find(f"{SVG}text").get("fill") == "#ffffff"
    cells = {rect.find(f"{SVG}title").text: rect for rect in root.iter(f"{SVG}rect")
             if rect.find(f"{SVG}title") is not None}
    assert cells["2 Unlikely, 1 Negligible: 0"].get("fill") == "#f9a825"  # zero is a count, drawn in its band
    assert cells["1 Rare, 1 Negligible: no value"].get("fill") == charts.theme.BACKGROUND
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("fill") == charts.theme.INK and t.text == "0"] == ["0"]
    assert chart.table.rows == (("2 Unlikely", "0", ""), ("1 Rare", "", "3"))


def test_an_empty_pareto_says_so():
    chart = charts.pareto_chart([], title="T", desc="d", noun="factors")
    assert "No factors match the filters" in chart.svg and not chart.table.rows


def test_an_interval_chart_draws_each_rows_dot_whisker_and_target_on_the_axis():
    chart = charts.interval_chart([charts.IntervalRow("Gel at the bedside", 85.0, 64.0, 94.8, 90.0, "concern"),
                                   charts.IntervalRow("Bare below the elbows", None, None, None, 80.0)],
                                  title="Compliance", desc="d", x_label="Compliance (%)")
    root = ET.fromstring(chart.svg)
    scale = LinearScale.covering([0, 100], 250, 736, zero="never")
    dots = root.findall(f"{SVG}circle")
    assert len(dots) == 1 and float(dots[0].get("cx")) == pytest.approx(scale(85), abs=0.1)
    whiskers = [e for e in root.iter(f"{SVG}line") if e.get("class") == "interval"]
    assert {round(float(e.get("x1")), 1) for e in whiskers} >= {round(scale(64), 1), round(scale(94.8), 1)}
    targets = [e for e in root.iter(f"{SVG}line") if e.get("class") == "target"]
    assert [round(float(e.get("x1")), 1) for e in targets] == [round(scale(90), 1), round(scale(80), 1)]
    assert chart.table.rows == (("Gel at the bedside", "85", "64–94.8", "90"), ("Bare below the elbows", "", "", "80"))


def test_the_kit_imports_no_django():
    code = "import sys, andon.platform.charts; print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def _left_axis_ticks(chart) -> list[str]:
    """The tick labels of the left value axis (text anchored at its end, left of the plot)."""
    root = ET.fromstring(chart.svg)
    return [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end" and t.get("transform") is None
            and not t.get("class") and t.text and t.text.replace(".", "").replace(",", "").isdigit()]


def test_counts_never_get_fractional_ticks():
    """Friction 17: an axis of counts reads 0, 1, 2…, never 0.2 events."""
    assert nice_ticks(0, 1, integer=True) == [0, 1]
    assert nice_ticks(0, 3, integer=True) == [0, 1, 2, 3]
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1]  # a rate keeps its fine steps
    small = [
        charts.pareto_chart([_Row("Fall", 1, 100.0)], title="T", desc="d", noun="events"),
        charts.bar_chart([("Fall", 1), ("Medication", 2)], title="T", desc="d", y_label="Events"),
        charts.line_chart(["Jan", "Feb"], {"Events": [0, 1]}, title="T", desc="d", y_label="Events"),
        charts.control_chart([charts.PeriodPoint("Jan", 0), charts.PeriodPoint("Feb", 1)], title="T", desc="d",
                             y_label="Events", integer=True),
    ]
    for chart in small:
        ticks = _left_axis_ticks(chart)
        assert ticks and all("." not in tick for tick in ticks), (chart.kind, ticks)
    rates = charts.bar_chart([("A", 0.4), ("B", 0.9)], title="T", desc="d", y_label="Rate")
    assert "0.2" in _left_axis_ticks(rates)


def test_slanted_category_labels_are_not_cut_at_the_left_or_the_bottom():
    """Friction 17: the Pareto's first labels run down and left of their bar; the drawing makes
    room for them (the browser test measures the same labels as drawn)."""
    import math

    from andon.platform.charts import bars

    rows = [_Row("Medication or other substance", 40, 40.0), _Row("Care management and handover", 30, 70.0)] + [
        _Row(f"Category {i}", 3, 70.0 + 3 * i) for i in range(1, 11)]
    for chart in (charts.pareto_chart(rows, title="T", desc="d", noun="events"),
                  charts.bar_chart([(row.label, row.count) for row in rows], title="T", desc="d", y_label="Events")):
        root = ET.fromstring(chart.svg)
        height = float(root.get("height"))
        slanted = [t for t in root.iter(f"{SVG}text") if (t.get("transform") or "").startswith("rotate(-40 ")]
        assert len(slanted) == len(rows)
        for label in slanted:
            x, y = float(label.get("x")), float(label.get("y"))
            length = len(label.text) * bars.CHARACTER_WIDTH
            assert x - length * math.cos(math.radians(bars.SLANT)) >= 0, label.text
            assert y + length * math.sin(math.radians(bars.SLANT)) <= height, label.text


def test_a_sparkline_breaks_at_missing_values_marks_the_last_and_says_its_trend_in_words():
    points = [charts.SparkPoint("Jan 2025", 4.0), charts.SparkPoint("Feb 2025", 6.0), charts.SparkPoint("Mar 2025", None),
              charts.SparkPoint("Apr 2025", 5.0), charts.SparkPoint("May 2025", 9.0)]
    chart = charts.sparkline(points, title="Falls <4W>", desc="From 4 to 9 & rising.", status="concern")
    root = ET.fromstring(chart.svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("class") == "andon-chart sparkline"
    assert root.find(f"{ns}title").text == "Falls <4W>" and root.find(f"{ns}desc").text == "From 4 to 9 & rising."
    lines = [line.get("points").split() for line in root.iter(f"{ns}polyline")]
    assert [len(line) for line in lines] == [2, 2]  # March has no value: two runs, not one line through it
    top, bottom = min(float(p.split(",")[1]) for p in sum(lines, [])), max(float(p.split(",")[1]) for p in sum(lines, []))
    assert lines[1][1].endswith(f",{top:.1f}") and lines[0][0].endswith(f",{bottom:.1f}")  # 9 highest, 4 lowest
    last = next(root.iter(f"{ns}circle"))
    assert last.get("class") == "spark-last concern" and last.find(f"{ns}title").text == "May 2025: 9"
    assert chart.table.rows == (("Jan 2025", "4"), ("Feb 2025", "6"), ("Mar 2025", "–"), ("Apr 2025", "5"),
                                ("May 2025", "9"))
    assert 'style=' not in chart.svg
    empty = charts.sparkline([charts.SparkPoint("Jan 2025", None)], title="t", desc="No values.")
    assert "<polyline" not in empty.svg and "<circle" not in empty.svg
