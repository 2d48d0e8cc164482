"""Axes: tick labels, gridlines and axis titles, the same on every chart."""

from __future__ import annotations

from collections.abc import Callable

from . import theme
from .scales import BandScale, LinearScale, format_number
from .svg import Canvas, line, rotated_text, text


def value_axis(canvas: Canvas, scale: LinearScale, label: str, *, side: str = "left", grid: bool = True,
               tick_text: Callable[[float], str] = format_number) -> list[str]:
    """A vertical axis: a label per tick (with a gridline across the plot when `grid`), and
    the axis title turned along it. `side` "right" is the second axis of a two-axis chart."""
    out = []
    for tick in scale.ticks:
        y = scale(tick)
        if grid:
            out.append(line(canvas.plot_left, y, canvas.plot_right, y, stroke=theme.GRID))
        if side == "left":
            out.append(text(canvas.plot_left - 6, y + 4, tick_text(tick), text_anchor="end"))
        else:
            out.append(text(canvas.plot_right + 6, y + 4, tick_text(tick), text_anchor="start"))
    if side == "left":
        out.append(rotated_text(14, canvas.middle, label, -90, text_anchor="middle"))
    else:
        out.append(rotated_text(canvas.width - 12, canvas.middle, label, 90, text_anchor="middle"))
    return out


def number_axis(canvas: Canvas, scale: LinearScale, label: str) -> list[str]:
    """A horizontal axis of numbers (a funnel plot's volume): tick labels and the title below."""
    below = canvas.plot_bottom + 16
    out = [text(scale(tick), below, format_number(tick), text_anchor="middle") for tick in scale.ticks]
    out.append(text(canvas.plot_left + canvas.plot_width / 2, below + 20, label, text_anchor="middle"))
    return out


def category_axis(canvas: Canvas, band: BandScale, labels: list[str], *, slanted: bool = False) -> list[str]:
    """Category or period labels under their slots; every n-th where there are many, or all of
    them slanted (long category names)."""
    below = canvas.plot_bottom + (12 if slanted else 16)
    if slanted:
        return [rotated_text(band.centre(i), below, label, -40, text_anchor="end") for i, label in enumerate(labels)]
    every = band.label_every()
    return [text(band.centre(i), below, label, text_anchor="middle")
            for i, label in enumerate(labels) if i % every == 0]


def frame_lines(canvas: Canvas, *, right: bool = False) -> list[str]:
    """The plot's left and bottom edges (and the right one for a second axis)."""
    out = [line(canvas.plot_left, canvas.plot_top, canvas.plot_left, canvas.plot_bottom, stroke=theme.INK),
           line(canvas.plot_left, canvas.plot_bottom, canvas.plot_right, canvas.plot_bottom, stroke=theme.INK)]
    if right:
        out.append(line(canvas.plot_right, canvas.plot_top, canvas.plot_right, canvas.plot_bottom, stroke=theme.INK))
    return out


def reference_line(canvas: Canvas, y: float, label: str, *, colour: str, name: str, dash: str = theme.DOTTED) -> list[str]:
    """A horizontal line across the plot (a target, the 80 % of a Pareto), labelled at its right end."""
    return [line(canvas.plot_left, y, canvas.plot_right, y, stroke=colour, class_=name, stroke_width=1.5,
                 stroke_dasharray=dash),
            text(canvas.plot_right - 4, y - 4, label, fill=colour, text_anchor="end")]


def empty_note(canvas: Canvas, message: str) -> str:
    """What the plot says when there is nothing to draw."""
    return text(canvas.plot_left + canvas.plot_width / 2, canvas.middle, message, fill=theme.MUTED,
                text_anchor="middle")
