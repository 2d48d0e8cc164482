"""Scatter plots with curves: the funnel plot (each unit's value against its volume, inside
limits that narrow as the volume grows), and any chart of points over a numeric x axis."""

from __future__ import annotations

from dataclasses import dataclass

from . import theme
from .axes import number_axis, value_axis
from .figure import Chart, Table
from .scales import LinearScale, format_number
from .svg import Canvas, document, element, line, polyline, text

CANVAS = Canvas(860, 340)


@dataclass(frozen=True)
class ScatterPoint:
    label: str
    x: float
    y: float
    status: str = "within"  # a class name; the colour comes from theme.STATUS
    tip: str = ""
    note: str = ""  # the verdict in words, for the table
    mark: str = ""  # a short label drawn beside the point and heading its row of the table ("3")


@dataclass(frozen=True)
class Curve:
    name: str
    pairs: tuple[tuple[float, float], ...]  # (x, y) in x order
    dash: str | None = theme.DASHED


def scatter_chart(points: list[ScatterPoint], *, title: str, desc: str, x_label: str, y_label: str, curves=(),
                  centre: float | None = None, point_class: str = "point") -> Chart:
    """Points, the curves behind them, and a horizontal centre line (the pooled value)."""
    scale_y = LinearScale.covering([p.y for p in points] + [y for c in curves for _, y in c.pairs] + [centre],
                                   CANVAS.plot_bottom, CANVAS.plot_top)
    scale_x = LinearScale.covering([p.x for p in points] + [0.0], CANVAS.plot_left, CANVAS.plot_right,
                                   zero="always")
    body = value_axis(CANVAS, scale_y, y_label)
    if centre is not None:
        body.append(line(CANVAS.plot_left, scale_y(centre), CANVAS.plot_right, scale_y(centre), stroke=theme.CENTRE,
                         class_="centre"))
    for curve in curves:
        body.append(polyline([(scale_x(x), scale_y(y)) for x, y in curve.pairs], stroke=theme.LIMIT,
                             class_=curve.name, stroke_dasharray=curve.dash))
    for p in points:
        body.append(element("circle", tip=p.tip, class_=f"{point_class} {p.status}".strip(), cx=scale_x(p.x),
                            cy=scale_y(p.y), r=5, fill=theme.STATUS.get(p.status, theme.BAR),
                            data_label=p.label))
        if p.mark:  # on a phone there is no hover: the mark ties the point to its row
            body.append(text(scale_x(p.x) + 7, scale_y(p.y) - 6, p.mark, font_size=10, class_="point-mark",
                             aria_hidden="true"))
    body.extend(number_axis(CANVAS, scale_x, x_label))
    marked = any(p.mark for p in points)
    rows = tuple(((p.mark,) if marked else ()) + (p.label, format_number(p.x), format_number(p.y), p.note)
                 for p in points)
    headers = (("#",) if marked else ()) + ("Name", x_label, y_label, "Against the limits")
    return Chart("scatter", title, desc, document(CANVAS, "scatter", title, desc, body), Table(title, headers, rows))
