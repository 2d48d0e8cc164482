"""Control charts (SPC) and run charts: values over periods with step lines that can change
from one period to the next (limits that vary with the denominator or start again where the
process was rebased), reference lines (a target) and markers (what was done when).

The kit knows nothing of SPC rules: the caller gives each point its colour and words.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from . import theme
from .axes import category_axis, reference_line, value_axis
from .figure import Chart, Table
from .scales import BandScale, LinearScale, format_number
from .svg import Canvas, document, element, line, polyline

CANVAS = Canvas(860, 340)
# Marker labels sit above the plot, wrapped, in as many rows as keep them apart; the top margin
# grows to hold them, so a label is never cut by the drawing's edge nor drawn over the data.
LABEL_CHARS = 28  # characters a line of a label holds
LABEL_LINES = 3  # lines of a label; a longer one ends with "…" (its whole text is in the tip and the table)
LINE_HEIGHT = 14
CHAR_WIDTH = 0.62 * theme.FONT_SIZE  # a wide average glyph: enough room for the line in any font
EDGE = 4  # the least space between a label and the drawing's edge


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
    """A vertical line at the start of period `index` (`len(points)`: after the last period),
    with a label (wrapped above the plot) and a tip, the whole text, also in the table."""

    index: int
    label: str
    tip: str


def control_chart(points: list[PeriodPoint], *, title: str, desc: str, y_label: str, lines=(), references=(),
                  markers=(), integer: bool = False) -> Chart:
    """`integer`: the values are counts, so the value axis has whole-number ticks."""
    every_value = [p.value for p in points] + [v for s in lines for v in s.values] + [r.value for r in references]
    labels, top = _place_labels(markers, BandScale(max(len(points), 1), CANVAS.plot_left, CANVAS.plot_right))
    canvas = Canvas(CANVAS.width, CANVAS.height - CANVAS.top + top, top=top)
    scale = LinearScale.covering(every_value, canvas.plot_bottom, canvas.plot_top, integer=integer)
    band = BandScale(max(len(points), 1), canvas.plot_left, canvas.plot_right)
    body = value_axis(canvas, scale, y_label)
    for step_line in lines:
        body.extend(_steps(step_line, band, scale))
    for reference in references:
        body.extend(reference_line(canvas, scale(reference.value), reference.label, colour=reference.colour,
                                   name=reference.name))
    body.extend(_values(points, band, scale))
    body.extend(category_axis(canvas, band, [p.label for p in points]))
    body.extend(_markers(labels, canvas))
    return Chart("control", title, desc, document(canvas, "control", title, desc, body),
                 _table(title, y_label, points, lines, markers))


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


@dataclass(frozen=True)
class _Label:
    marker: Marker
    x: float  # the marker's line
    lines: tuple[str, ...]
    anchor: str  # "start" (right of the line) or "end" (left of it, near the right edge)
    text_x: float
    left: float  # the text's extent
    right: float
    row: int


def _wrap(label: str) -> tuple[str, ...]:
    lines = textwrap.wrap(label, LABEL_CHARS) or [""]
    if len(lines) > LABEL_LINES:
        lines = [*lines[:LABEL_LINES - 1], lines[LABEL_LINES - 1][:LABEL_CHARS - 1].rstrip() + "…"]
    return tuple(lines)


def _place_labels(markers, band: BandScale) -> tuple[list[_Label], int]:
    """Each marker's label beside its line, turned to the left of it where the drawing's right
    edge is near, in the first row where it overlaps no other label; and the top margin that
    holds the rows."""
    placed: list[_Label] = []
    spans: list[list[tuple[float, float]]] = []
    for marker in sorted(markers, key=lambda m: m.index):
        x, lines = band.left(marker.index), _wrap(marker.label)
        width = max(len(line) for line in lines) * CHAR_WIDTH
        anchor, text_x = ("start", x + EDGE) if x + EDGE + width <= CANVAS.width - EDGE else ("end", x - EDGE)
        text_x = max(text_x, EDGE + width) if anchor == "end" else text_x
        left, right = (text_x, text_x + width) if anchor == "start" else (text_x - width, text_x)
        row = next((i for i, taken in enumerate(spans) if all(right + EDGE < a or left - EDGE > b for a, b in taken)),
                   len(spans))
        if row == len(spans):
            spans.append([])
        spans[row].append((left, right))
        placed.append(_Label(marker, x, lines, anchor, text_x, left, right, row))
    heights = [max(len(label.lines) for label in placed if label.row == row) for row in range(len(spans))]
    top = max(CANVAS.top, 8 + sum(heights) * LINE_HEIGHT + 8 * len(heights))
    return placed, top


def _markers(labels: list[_Label], canvas: Canvas) -> list[str]:
    """The lines, then the labels over a pale ground (a line passing behind a label of
    another row stays readable), each with the whole text as its tip."""
    rows = sorted({label.row for label in labels})
    heights = {row: max(len(label.lines) for label in labels if label.row == row) for row in rows}
    row_tops = {row: 8 + sum(heights[r] * LINE_HEIGHT + 8 for r in rows if r < row) for row in rows}
    lines, texts = [], []
    for label in labels:
        top = row_tops[label.row]
        lines.append(line(label.x, top + len(label.lines) * LINE_HEIGHT, label.x, canvas.plot_bottom,
                          stroke=theme.ANNOTATION, class_="annotation", stroke_width=1.5, tip=label.marker.tip))
        texts.append(element("rect", x=label.left - 2, y=top, width=label.right - label.left + 4,
                             height=len(label.lines) * LINE_HEIGHT + 2, fill=theme.BACKGROUND, fill_opacity=0.9))
        tspans = [element("tspan", text_line, x=label.text_x, y=top + (i + 1) * LINE_HEIGHT - 3)
                  for i, text_line in enumerate(label.lines)]
        texts.append(element("text", children=tspans, tip=label.marker.tip, class_="annotation-label",
                             fill=theme.ANNOTATION, text_anchor="end" if label.anchor == "end" else None))
    return lines + texts


def _table(title: str, y_label: str, points: list[PeriodPoint], lines, markers=()) -> Table:
    def cell(value):
        return "" if value is None else format_number(value)

    rows = [[p.label, cell(p.value), *(cell(s.values[i]) for s in lines), p.note] for i, p in enumerate(points)]
    headers = ("Period", y_label, *(s.label or s.name for s in lines), "Signal")
    if markers and rows:
        # each marker's whole text in the row of the period it starts (after the last: the last row)
        for row in rows:
            row.append("")
        for marker in sorted(markers, key=lambda m: m.index):
            row = rows[min(max(marker.index, 0), len(rows) - 1)]
            row[-1] = f"{row[-1]}; {marker.tip}" if row[-1] else marker.tip
        headers = (*headers, "Annotations")
    return Table(title, headers, tuple(tuple(row) for row in rows))
