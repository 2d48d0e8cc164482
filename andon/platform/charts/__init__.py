"""Andon's chart kit: every chart of every module, in pages and in PDF reports.

Each chart kind returns a `Chart`: its SVG (role="img", a <title> and <desc> named by
aria-labelledby, presentation attributes only, so the pages' CSP lets it in) and the same
numbers as a `Table` for screen readers and print. Django-free: plain data in, markup out.
See docs/platform.md, "Charts".
"""

from .bars import bar_chart, line_chart, pareto_chart
from .control import Marker, PeriodPoint, Reference, StepLine, control_chart
from .driver import DriverNode, driver_diagram
from .figure import Chart, Table
from .fishbone import fishbone_diagram
from .heatmap import heat_map
from .intervals import IntervalRow, interval_chart
from .scales import BandScale, LinearScale, format_number, nice_ticks
from .scatter import Curve, ScatterPoint, scatter_chart
from .spark import SparkPoint, sparkline

__all__ = [
    "BandScale", "Chart", "Curve", "DriverNode", "IntervalRow", "LinearScale", "Marker", "PeriodPoint", "Reference",
    "ScatterPoint", "StepLine", "SparkPoint", "Table", "bar_chart", "control_chart", "driver_diagram",
    "fishbone_diagram", "format_number", "heat_map", "interval_chart", "line_chart",
    "nice_ticks", "pareto_chart", "scatter_chart", "sparkline",
]
