"""Statistical process control: control charts and run charts with their special-cause rules
(pure Python; see shared/docs/DOMAIN.md §7). Every chart returns a `ChartResult` whose points
carry their value, centre (`mean`), limits, near limits, verdict (`special_cause`) and the rule
that decided it, and an assurance verdict against a target."""

from .attribute import c_chart, p_chart, u_chart
from .chart import ChartResult, Point
from .rare import g_chart, t_chart
from .runs import RunChartResult, run_chart
from .xmr import xmr

__all__ = ["ChartResult", "Point", "RunChartResult", "c_chart", "g_chart", "p_chart", "run_chart", "t_chart", "u_chart", "xmr"]
