"""Heat maps: a grid of rows × columns, each cell shaded by its value and labelled with it
(a risk matrix, events by unit and month). Shades come from theme.RAMP, light for low."""

from __future__ import annotations

from . import theme
from .figure import Chart, Table
from .scales import format_number
from .svg import Canvas, document, element, text

CELL_WIDTH, CELL_HEIGHT, ROW_LABEL_WIDTH, COLUMN_LABEL_HEIGHT = 72, 36, 180, 56


def shade(value: float, low: float, high: float) -> str:
    """The ramp's colour for `value` between `low` and `high`."""
    if high <= low:
        return theme.RAMP[0]
    step = (value - low) / (high - low) * (len(theme.RAMP) - 1)
    return theme.RAMP[max(0, min(len(theme.RAMP) - 1, round(step)))]


def heat_map(rows: list[str], columns: list[str], values: dict[tuple[str, str], float], *, title: str, desc: str,
             row_label: str, column_label: str) -> Chart:
    """`values[(row, column)]`; a missing cell is blank (no value), not zero."""
    canvas = Canvas(ROW_LABEL_WIDTH + CELL_WIDTH * max(len(columns), 1) + 16,
                    COLUMN_LABEL_HEIGHT + CELL_HEIGHT * max(len(rows), 1) + 16,
                    left=ROW_LABEL_WIDTH, right=16, top=COLUMN_LABEL_HEIGHT, bottom=16)
    present = list(values.values())
    low, high = (min(present), max(present)) if present else (0.0, 1.0)
    # The two axis titles: the columns' above their names, the rows' in the corner beside them.
    body = [text(canvas.plot_left + canvas.plot_width / 2, 18, column_label, text_anchor="middle", font_weight="bold"),
            text(canvas.plot_left - 8, canvas.plot_top - 8, row_label, text_anchor="end", font_weight="bold")]
    body += [text(canvas.plot_left + CELL_WIDTH * (j + 0.5), canvas.plot_top - 8, column, text_anchor="middle")
             for j, column in enumerate(columns)]
    for i, row in enumerate(rows):
        y = canvas.plot_top + CELL_HEIGHT * i
        body.append(text(canvas.plot_left - 8, y + CELL_HEIGHT / 2 + 4, row, text_anchor="end"))
        for j, column in enumerate(columns):
            body.extend(_cell(canvas.plot_left + CELL_WIDTH * j, y, row, column, values.get((row, column)), low, high))
    table = Table(title, (row_label, *columns),
                  tuple((row, *(_number(values.get((row, c))) for c in columns)) for row in rows))
    return Chart("heatmap", title, desc, document(canvas, "heatmap", title, desc, body), table)


def _number(value) -> str:
    return "" if value is None else format_number(value)


def _cell(x: float, y: float, row: str, column: str, value, low: float, high: float) -> list[str]:
    fill = theme.BACKGROUND if value is None else shade(value, low, high)
    ink = theme.BACKGROUND if fill in theme.RAMP[-2:] else theme.INK
    out = [element("rect", tip=f"{row}, {column}: {_number(value) or 'no value'}", class_="cell", x=x, y=y,
                   width=CELL_WIDTH, height=CELL_HEIGHT, fill=fill, stroke=theme.GRID)]
    if value is not None:
        out.append(text(x + CELL_WIDTH / 2, y + CELL_HEIGHT / 2 + 4, _number(value), fill=ink, text_anchor="middle"))
    return out
