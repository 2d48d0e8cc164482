"""The interval chart: one row per category (an audit's criteria), its estimate as a dot with its
confidence interval as a whisker, on a percent axis, and the row's own target as a mark across
it. Rows run down the page so that long labels read across, as in a forest plot."""

from __future__ import annotations

from dataclasses import dataclass

from . import theme
from .axes import empty_note
from .figure import Chart, Table
from .scales import BandScale, LinearScale, format_number
from .svg import Canvas, document, element, line, text

ROW_HEIGHT = 34
LABEL_CHARACTERS = 34


@dataclass(frozen=True)
class IntervalRow:
    """`value`, `low`, `high` and `target` in the axis's units (percent); None where there is none
    (a row without cases shows its label and target only). `status` picks the dot's colour from
    theme.STATUS; `tip` is the dot's hover text."""

    label: str
    value: float | None
    low: float | None
    high: float | None
    target: float | None = None
    status: str = "common"
    tip: str = ""


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"


def _row(row: IntervalRow, y: float, scale: LinearScale, half: float) -> list[str]:
    out = []
    if row.target is not None:
        x = scale(row.target)
        out.append(line(x, y - half, x, y + half, stroke=theme.TARGET, class_="target", stroke_width=2,
                        stroke_dasharray=theme.DASHED))
    if row.value is None:
        return out
    colour = theme.STATUS.get(row.status, theme.STATUS["common"])
    if row.low is not None and row.high is not None:
        out += [line(scale(row.low), y, scale(row.high), y, stroke=colour, class_="interval", stroke_width=2),
                line(scale(row.low), y - 5, scale(row.low), y + 5, stroke=colour, class_="interval"),
                line(scale(row.high), y - 5, scale(row.high), y + 5, stroke=colour, class_="interval")]
    out.append(element("circle", tip=row.tip or f"{row.label}: {format_number(row.value)}", class_="point",
                       cx=scale(row.value), cy=y, r=5, fill=colour))
    return out


def interval_chart(rows: list[IntervalRow], *, title: str, desc: str, x_label: str, low: float = 0,
                   high: float = 100, empty: str = "Nothing to show") -> Chart:
    """Rows in the order given; the axis runs from `low` to `high` (0–100 for percents)."""
    canvas = Canvas(760, 70 + ROW_HEIGHT * max(len(rows), 1), left=250, right=24, top=30, bottom=40)
    scale = LinearScale.covering([low, high], canvas.plot_left, canvas.plot_right, zero="never")
    band = BandScale(max(len(rows), 1), canvas.plot_top, canvas.plot_bottom)
    body = []
    for tick in scale.ticks:
        x = scale(tick)
        body += [line(x, canvas.plot_top, x, canvas.plot_bottom, stroke=theme.GRID),
                 text(x, canvas.plot_bottom + 16, format_number(tick), text_anchor="middle")]
    body += [line(canvas.plot_left, canvas.plot_bottom, canvas.plot_right, canvas.plot_bottom, stroke=theme.INK),
             text(canvas.plot_left + canvas.plot_width / 2, canvas.plot_bottom + 34, x_label, text_anchor="middle")]
    for index, row in enumerate(rows):
        y = band.centre(index)
        body.append(text(canvas.plot_left - 8, y + 4, _short(row.label), text_anchor="end"))
        body += _row(row, y, scale, band.step * 0.4)
    if not rows:
        body.append(empty_note(canvas, empty))
    table = Table(title, ("", x_label, "Interval", "Target"), tuple(
        (row.label, _number(row.value), "" if row.low is None else f"{format_number(row.low)}–{format_number(row.high)}",
         _number(row.target)) for row in rows))
    return Chart("interval", title, desc, document(canvas, "interval", title, desc, body, show_title=True), table)


def _number(value) -> str:
    return "" if value is None else format_number(value)
