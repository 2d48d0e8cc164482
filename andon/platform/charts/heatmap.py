"""Heat maps: a grid of rows × columns, each cell shaded by its value and labelled with it
(a risk matrix, events by unit and month). Shades come from theme.RAMP, light for low, unless
the caller colours the cells itself (a risk matrix's cells take the colour of their band), and a
cell may link to the records it counts."""

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
             row_label: str, column_label: str, fills: dict[tuple[str, str], str] | None = None,
             links: dict[tuple[str, str], str] | None = None, cell_width: int = CELL_WIDTH) -> Chart:
    """`values[(row, column)]`; a missing cell is blank (no value), not zero. `fills` colours a
    cell (#rrggbb) instead of the ramp; `links` makes a cell a link (an address, escaped here)."""
    canvas = Canvas(ROW_LABEL_WIDTH + cell_width * max(len(columns), 1) + 16,
                    COLUMN_LABEL_HEIGHT + CELL_HEIGHT * max(len(rows), 1) + 16,
                    left=ROW_LABEL_WIDTH, right=16, top=COLUMN_LABEL_HEIGHT, bottom=16)
    fills, links = fills or {}, links or {}
    present = list(values.values())
    low, high = (min(present), max(present)) if present else (0.0, 1.0)
    # The two axis titles: the columns' above their names, the rows' in the corner beside them.
    body = [text(canvas.plot_left + canvas.plot_width / 2, 18, column_label, text_anchor="middle", font_weight="bold"),
            text(canvas.plot_left - 8, canvas.plot_top - 8, row_label, text_anchor="end", font_weight="bold")]
    body += [text(canvas.plot_left + cell_width * (j + 0.5), canvas.plot_top - 8, column, text_anchor="middle")
             for j, column in enumerate(columns)]
    for i, row in enumerate(rows):
        y = canvas.plot_top + CELL_HEIGHT * i
        body.append(text(canvas.plot_left - 8, y + CELL_HEIGHT / 2 + 4, row, text_anchor="end"))
        for j, column in enumerate(columns):
            value = values.get((row, column))
            fill = fills.get((row, column)) or (theme.BACKGROUND if value is None else shade(value, low, high))
            body.append(_cell(canvas.plot_left + cell_width * j, y, cell_width, f"{row}, {column}", value, fill,
                              links.get((row, column))))
    table = Table(title, (row_label, *columns),
                  tuple((row, *(_number(values.get((row, c))) for c in columns)) for row in rows))
    return Chart("heatmap", title, desc, document(canvas, "heatmap", title, desc, body), table)


def _number(value) -> str:
    return "" if value is None else format_number(value)


def _cell(x: float, y: float, width: float, name: str, value, fill: str, link: str | None) -> str:
    tip = f"{name}: {_number(value) or 'no value'}"
    marks = [element("rect", tip=None if link else tip, class_="cell", x=x, y=y, width=width, height=CELL_HEIGHT,
                     fill=fill, stroke=theme.GRID)]
    if value is not None:
        marks.append(text(x + width / 2, y + CELL_HEIGHT / 2 + 4, _number(value), fill=readable_ink(fill),
                          text_anchor="middle"))
    # A linked cell is one focusable link named by its tip; an unlinked one is its marks alone.
    return element("a", tip=tip, children=marks, href=link, class_="cell-link") if link else "".join(marks)


def readable_ink(fill: str) -> str:
    """The kit's ink or white, whichever stands out more on `fill` (#rrggbb; the WCAG contrast
    ratio), so a count stays legible on any band colour an organisation picks."""
    try:
        ground = _luminance(fill)
    except ValueError:
        return theme.INK
    white_on_it = (_luminance(theme.BACKGROUND) + 0.05) / (ground + 0.05)
    ink_on_it = (ground + 0.05) / (_luminance(theme.INK) + 0.05)
    return theme.BACKGROUND if white_on_it > ink_on_it else theme.INK


def _luminance(colour: str) -> float:
    if len(colour) != 7 or not colour.startswith("#"):
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
