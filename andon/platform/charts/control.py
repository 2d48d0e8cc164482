"""Control charts (SPC) and run charts: values over periods with step lines that can change
from one period to the next (limits that vary with the denominator or start again where the
process was rebased), reference lines (a target) and markers (what was done when).

The kit knows nothing of SPC rules: the caller gives each point its colour and words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import theme
from .axes import category_axis, reference_line, value_axis
from .figure import Chart, Table
from .scales import BandScale, LinearScale, format_number
from .svg import Canvas, document, element, line, polyline, text

CANVAS = Canvas(860, 340)


@dataclass(frozen=True)
class PeriodPoint:
    label: str  # the period as the axis writes it ("Jan 25")
    value: float | None  # None: a period without data (a gap in the line, no point)
    status: str = "common"  # a class name; the point's colour unless `colour` is given
    tip: str = ""  # shown on hover, read by screen readers
    note: str = ""  # the verdict in words, for the table
    colour: str | None = None
    data: dict = field(default_factory=dict)  # data-* attributes for scripts and tests


@dataclass(frozen=True)
class StepLine:
    """A value per period (None: not drawn there), drawn as a flat step across each slot."""

    name: str  # class name
    values: tuple[float | None, ...]
    label: str = ""  # the table's column header (the name where empty)
    colour: str = theme.LIMIT
    dash: str | None = theme.DASHED


@dataclass(frozen=True)
class Reference:
    name: str
    value: float
    label: str
    colour: str = theme.TARGET


@dataclass(frozen=True)
class Marker:
    """A vertical line at the start of period `index`, with a short label and a longer tip."""

    index: int
    label: str
    tip: str


def control_chart(points: list[PeriodPoint], *, title: str, desc: str, y_label: str, lines=(), references=(),
                  markers=()) -> Chart:
    every_value = [p.value for p in points] + [v for s in lines for v in s.values] + [r.value for r in references]
    scale = LinearScale.covering(every_value, CANVAS.plot_bottom, CANVAS.plot_top)
    band = BandScale(max(len(points), 1), CANVAS.plot_left, CANVAS.plot_right)
    body = value_axis(CANVAS, scale, y_label)
    for step_line in lines:
        body.extend(_steps(step_line, band, scale))
    for reference in references:
        body.extend(reference_line(CANVAS, scale(reference.value), reference.label, colour=reference.colour,
                                   name=reference.name))
    body.extend(_values(points, band, scale))
    body.extend(category_axis(CANVAS, band, [p.label for p in points]))
    body.extend(_markers(markers, band))
    return Chart("control", title, desc, document(CANVAS, "control", title, desc, body),
                 _table(title, y_label, points, lines))


def _steps(step_line: StepLine, band: BandScale, scale: LinearScale) -> list[str]:
    path, drawing = [], False
    for index, value in enumerate(step_line.values):
        if value is None:
            drawing = False
            continue
        y = scale(value)
        path.append(f"{'L' if drawing else 'M'}{band.left(index):.1f},{y:.1f} L{band.left(index + 1):.1f},{y:.1f}")
        drawing = True
    if not path:
        return []
    return [element("path", class_=step_line.name, d=" ".join(path), fill="none", stroke=step_line.colour,
                    stroke_width=1.2, stroke_dasharray=step_line.dash)]


def _values(points: list[PeriodPoint], band: BandScale, scale: LinearScale) -> list[str]:
    placed = [(band.centre(i), scale(p.value), p) for i, p in enumerate(points) if p.value is not None]
    if not placed:
        return []
    out = [polyline([(x, y) for x, y, _ in placed], stroke=theme.SERIES, class_="values", stroke_width=1.5)]
    for x, y, point in placed:
        data = {f"data_{name}": value for name, value in point.data.items()}
        out.append(element("circle", tip=point.tip, class_=f"point {point.status}", cx=x, cy=y, r=4.5,
                           fill=point.colour or theme.STATUS.get(point.status, theme.SERIES), **data))
    return out


def _markers(markers, band: BandScale) -> list[str]:
    out = []
    for marker in markers:
        x = band.left(marker.index)
        out.append(line(x, CANVAS.plot_top - 6, x, CANVAS.plot_bottom, stroke=theme.ANNOTATION, class_="annotation",
                        stroke_width=1.5, tip=marker.tip))
        out.append(text(x + 3, CANVAS.plot_top - 10, marker.label, fill=theme.ANNOTATION))
    return out


def _table(title: str, y_label: str, points: list[PeriodPoint], lines) -> Table:
    def cell(value):
        return "" if value is None else format_number(value)

    rows = tuple((p.label, cell(p.value), *(cell(s.values[i]) for s in lines), p.note) for i, p in enumerate(points))
    return Table(title, ("Period", y_label, *(s.label or s.name for s in lines), "Signal"), rows)
