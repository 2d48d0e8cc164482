"""Bar charts, line charts over categories or periods, and the Pareto chart (bars in
descending order with their cumulative percent as a line on a second axis)."""

from __future__ import annotations

import math
from typing import Protocol

from . import theme
from .axes import category_axis, empty_note, frame_lines, reference_line, value_axis
from .figure import Chart, Table
from .scales import BandScale, LinearScale, format_number
from .svg import Canvas, document, element, polyline

CANVAS = Canvas(760, 420, left=56, right=56, top=36, bottom=130)
LABEL_CHARACTERS = 22
SLANT = 40  # degrees of the category labels under the bars
# A generous average advance of a character of the chart's sans-serif font, for the room a label needs.
CHARACTER_WIDTH = theme.FONT_SIZE * 0.62


def short(label: str, most: int = LABEL_CHARACTERS) -> str:
    """A label cut to fit under a slanted slot; the full label stays in the tip and the table."""
    return label if len(label) <= most else label[: most - 1] + "…"


def _bars(band: BandScale, scale: LinearScale, labelled_values) -> list[str]:
    out = []
    for index, (label, value) in enumerate(labelled_values):
        width = band.step * 0.7
        top = scale(value)
        out.append(element("rect", tip=f"{label}: {format_number(value)}", class_="bar",
                           x=band.left(index) + (band.step - width) / 2, y=top, width=width,
                           height=scale(scale.low) - top, fill=theme.BAR))
    return out


def _dots(pairs, *, colour: str, name: str, tips) -> list[str]:
    out = [polyline(pairs, stroke=colour, class_=name, stroke_width=2)]
    out += [element("circle", tip=tip, class_="point", cx=x, cy=y, r=3.5, fill=colour)
            for (x, y), tip in zip(pairs, tips, strict=True)]
    return out


def _room_for_slanted(labels: list[str]) -> Canvas:
    """The canvas with margins wide enough for the slanted labels, which run down and to the
    left of their slot: the first ones would otherwise be cut at the drawing's left edge, and
    the longest at its bottom. The plot keeps its height; the drawing grows instead."""
    if not labels:
        return CANVAS
    across = CHARACTER_WIDTH * math.cos(math.radians(SLANT))
    down = CHARACTER_WIDTH * math.sin(math.radians(SLANT))
    left = CANVAS.left
    for _ in range(3):  # a wider margin narrows the slots a little: settle in a few rounds
        band = BandScale(len(labels), left, CANVAS.width - CANVAS.right)
        short_of = max(len(label) * across + theme.FONT_SIZE - band.centre(i) for i, label in enumerate(labels))
        if short_of <= 0:
            break
        left += math.ceil(short_of)
    bottom = max(CANVAS.bottom, math.ceil(max(len(label) for label in labels) * down + 12 + 2 * theme.FONT_SIZE))
    return Canvas(CANVAS.width, CANVAS.height - CANVAS.bottom + bottom, left=left, right=CANVAS.right,
                  top=CANVAS.top, bottom=bottom)


def _counts(values) -> bool:
    """Whether values are counts (whole numbers, as ints): their axis gets whole-number ticks."""
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, int) and not isinstance(v, bool) for v in present)


def bar_chart(rows: list[tuple[str, float]], *, title: str, desc: str, y_label: str, empty: str = "Nothing to show") -> Chart:
    """One bar per (label, value), in the order given, from zero (whole-number ticks for counts)."""
    scale = LinearScale.covering([v for _, v in rows], CANVAS.plot_bottom, CANVAS.plot_top, zero="always",
                                 integer=_counts([v for _, v in rows]))
    canvas = _room_for_slanted([short(label) for label, _ in rows])
    band = BandScale(max(len(rows), 1), canvas.plot_left, canvas.plot_right)
    body = [*value_axis(canvas, scale, y_label), *frame_lines(canvas)]
    body += _bars(band, scale, rows) if rows else [empty_note(canvas, empty)]
    body += category_axis(canvas, band, [short(label) for label, _ in rows], slanted=True)
    table = Table(title, ("", y_label), tuple((label, format_number(v)) for label, v in rows))
    return Chart("bar", title, desc, document(canvas, "bar", title, desc, body, show_title=True), table)


def line_chart(labels: list[str], series: dict[str, list[float | None]], *, title: str, desc: str,
               y_label: str) -> Chart:
    """One line per named series over the same categories or periods (None leaves a gap)."""
    every = [v for values in series.values() for v in values]
    scale = LinearScale.covering(every, CANVAS.plot_bottom, CANVAS.plot_top, integer=_counts(every))
    band = BandScale(max(len(labels), 1), CANVAS.plot_left, CANVAS.plot_right)
    body = [*value_axis(CANVAS, scale, y_label), *frame_lines(CANVAS)]
    colours = (theme.BAR, theme.ACCENT, theme.TARGET, theme.ANNOTATION, theme.SERIES)
    for number, (name, values) in enumerate(series.items()):
        present = [(i, v) for i, v in enumerate(values) if v is not None]
        body += _dots([(band.centre(i), scale(v)) for i, v in present], name="series",
                      colour=colours[number % len(colours)],
                      tips=[f"{name}, {labels[i]}: {format_number(v)}" for i, v in present])
    body += category_axis(CANVAS, band, labels)
    rows = tuple((label, *("" if vs[i] is None else format_number(vs[i]) for vs in series.values()))
                 for i, label in enumerate(labels))
    table = Table(title, ("", *series), rows)
    return Chart("line", title, desc, document(CANVAS, "line", title, desc, body, show_title=True), table)


class ParetoRow(Protocol):
    label: str
    count: int
    cumulative_percent: float


def pareto_chart(rows: list[ParetoRow], *, title: str, desc: str, noun: str) -> Chart:
    """Bars in the order given (descending), the cumulative percent as a line with points on
    the right-hand axis, and the 80 % reference line."""
    canvas = _room_for_slanted([short(row.label) for row in rows])
    # Counts: whole-number ticks (never 0.5 events).
    counts = LinearScale.covering([row.count for row in rows] + [1], canvas.plot_bottom, canvas.plot_top,
                                  zero="always", integer=True)
    percent = LinearScale((0, 20, 40, 60, 80, 100), canvas.plot_bottom, canvas.plot_top)
    band = BandScale(max(len(rows), 1), canvas.plot_left, canvas.plot_right)
    body = [*frame_lines(canvas, right=True), *value_axis(canvas, counts, f"Number of {noun}"),
            *value_axis(canvas, percent, "Cumulative percent", side="right", grid=False,
                        tick_text=lambda tick: f"{tick:.0f}%")]
    if rows:
        body += _bars(band, counts, [(row.label, row.count) for row in rows])
        body += category_axis(canvas, band, [short(row.label) for row in rows], slanted=True)
        body += _dots([(band.centre(i), percent(row.cumulative_percent)) for i, row in enumerate(rows)],
                      colour=theme.ACCENT, name="cumulative",
                      tips=[f"{row.label}: {row.cumulative_percent:.1f}% cumulative" for row in rows])
    else:
        body.append(empty_note(canvas, f"No {noun} match the filters"))
    body += reference_line(canvas, percent(80), "80%", colour=theme.MUTED, name="reference", dash=theme.DASHED)
    table = Table(title, ("", f"Number of {noun}", "Cumulative percent"),
                  tuple((row.label, str(row.count), f"{row.cumulative_percent:.1f}%") for row in rows))
    return Chart("pareto", title, desc, document(canvas, "pareto", title, desc, body, show_title=True), table)
