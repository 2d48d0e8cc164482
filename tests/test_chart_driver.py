"""The chart kit's driver diagram (issue 18): its text escaped and wrapped, its columns, boxes and
connectors, its accessible title, description and table."""

import re
from xml.etree import ElementTree

from andon.platform import charts
from andon.platform.charts import DriverNode

SVG = "{http://www.w3.org/2000/svg}"


def _diagram():
    change = DriverNode("change", "Hourly rounding at night <with> a checklist & sign-off on the bay door every hour")
    alarm = DriverNode("change", "Bed alarms")
    primaries = [
        DriverNode("primary", "Risk known", (DriverNode("secondary", "Assessed daily", (change,)),)),
        DriverNode("primary", "Help offered", (alarm,)),
        DriverNode("primary", "Staff trained"),
    ]
    return charts.driver_diagram("Falls from 5 to 4 per 1,000 patient days", primaries, title="Falls: driver diagram")


def test_the_diagram_is_valid_escaped_svg_with_its_columns_and_nodes():
    chart = _diagram()
    root = ElementTree.fromstring(str(chart.svg))  # escaped: the < and & of a node parse
    assert root.get("role") == "img" and root.find(f"{SVG}title").text == "Falls: driver diagram"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[:4] == ["Aim", "Primary drivers", "Secondary drivers", "Change ideas"]
    nodes = [r for r in root.iter(f"{SVG}rect") if "driver-node" in (r.get("class") or "")]
    assert [n.get("class").split()[1] for n in nodes] == ["aim", "primary", "secondary", "change", "primary", "change",
                                                          "primary"]
    long = next(n for n in nodes if "Hourly" in n.find(f"{SVG}title").text)
    assert long.find(f"{SVG}title").text.endswith("every hour")  # the whole text in its tip
    start = texts.index("Hourly rounding at night")  # wrapped at 28 characters, four lines at most
    assert texts[start:start + 4] == ["Hourly rounding at night", "<with> a checklist & sign-",
                                      "off on the bay door every", "hour"]
    assert "<with>" in "".join(texts) and "&lt;with&gt;" in chart.svg
    # one connector per node, each from the right edge of its parent's column to its own box
    links = [p for p in root.iter(f"{SVG}polyline") if p.get("class") == "driver-link"]
    assert len(links) == 6
    xs = {int(n.get("x")) for n in nodes}
    assert sorted(xs) == [16, 252, 488, 724]  # four columns
    alarm_box = next(n for n in nodes if n.find(f"{SVG}title").text == "Bed alarms")
    alarm_link = links[4]
    points = [tuple(map(float, pair.split(","))) for pair in alarm_link.get("points").split()]
    assert points[0][0] == 16 + 236 + 200 and points[-1][0] == float(alarm_box.get("x")) == 724  # primary → change


def test_the_description_and_table_say_the_same():
    chart = _diagram()
    assert chart.desc == ("Aim: Falls from 5 to 4 per 1,000 patient days. 3 primary drivers, 1 secondary drivers, "
                          "2 change ideas.")
    assert chart.table.headers == ("Primary driver", "Secondary driver", "Change idea")
    assert chart.table.rows == (
        ("Risk known", "Assessed daily", "Hourly rounding at night <with> a checklist & sign-off on the bay door every hour"),
        ("Help offered", "—", "Bed alarms"),
        ("Staff trained", "—", "—"),
    )
    assert "&lt;with&gt; a checklist &amp; sign-off" in chart.table_html


def test_an_empty_diagram_says_so_and_rows_grow_with_leaves():
    empty = charts.driver_diagram("Aim", [])
    assert "No drivers yet." in empty.svg and empty.table.rows == ()
    height = lambda chart: int(re.search(r'height="(\d+)"', chart.svg).group(1))  # noqa: E731
    assert height(_diagram()) > height(empty)
