"""The sparkline: a word-sized line of a series (a dashboard tile's last months), no axes, the
last point marked; its <title> and <desc> say what it shows in words, so a screen reader (or a
printout) reads the trend the drawing gives."""

from __future__ import annotations

from dataclasses import dataclass

from . import theme
from .figure import Chart, Table
from .scales import format_number
from .svg import Canvas, document, element, polyline

CANVAS = Canvas(240, 40, left=4, right=8, top=6, bottom=6)


@dataclass(frozen=True)
class SparkPoint:
    label: str  # the period, as a reader names it ("Mar 2025")
    value: float | None  # None: no value that period (the line breaks there)


def sparkline(points: list[SparkPoint], *, title: str, desc: str, status: str = "common") -> Chart:
    """The values as one line over the width (gaps where a value is missing), the last value a
    dot coloured by `status` (a key of theme.STATUS: the latest verdict)."""
    values = [p.value for p in points if p.value is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1
    step = CANVAS.plot_width / max(1, len(points) - 1)

    def at(index: int, value: float) -> tuple[float, float]:
        return (CANVAS.plot_left + index * step,
                CANVAS.plot_bottom - (value - low) / (high - low) * CANVAS.plot_height)

    body, run = [], []
    for index, point in enumerate(points):
        if point.value is None:
            if len(run) > 1:
                body.append(polyline(run, stroke=theme.SERIES, stroke_width=1.5, class_="spark-line"))
            run = []
            continue
        run.append(at(index, point.value))
    if len(run) > 1:
        body.append(polyline(run, stroke=theme.SERIES, stroke_width=1.5, class_="spark-line"))
    last = next(((i, p) for i, p in reversed(list(enumerate(points))) if p.value is not None), None)
    if last is not None:
        x, y = at(last[0], last[1].value)
        body.append(element("circle", tip=f"{last[1].label}: {format_number(last[1].value)}", class_=f"spark-last {status}",
                            cx=x, cy=y, r=3, fill=theme.STATUS.get(status, theme.SERIES)))
    rows = tuple((p.label, "–" if p.value is None else format_number(p.value)) for p in points)
    return Chart("sparkline", title, desc, document(CANVAS, "sparkline", title, desc, body),
                 Table(title, ("Period", "Value"), rows))
