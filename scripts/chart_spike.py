"""The measurement behind docs/platform.md "Charts": the same SPC chart drawn by the chart kit
and, where Altair and vl-convert-python are installed (not Andon dependencies: use a throwaway
virtualenv, `pip install altair vl-convert-python`), as a Vega-Lite spec rendered to SVG.

    ANDON_DATA_DIR=var/test .venv/bin/python scripts/chart_spike.py

Prints the median time per chart, the SVG's size, and what matters for the pages' CSP and for
screen readers (style attributes, <title>/<desc>, role="img").
"""

import os
import re
import statistics
import time
from datetime import date
from types import SimpleNamespace

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "andon.settings")
import django  # noqa: E402

django.setup()

from andon.measures import charts  # noqa: E402
from andon.measures.models import Measure  # noqa: E402

NUMERATORS = [40, 42, 38, 45, 41, 39, 44, 40, 43, 41, 42, 40, 44, 46, 47, 45, 49, 50, 52, 55, 58, 60, 62, 66]
STARTS = [date(2024 + i // 12, i % 12 + 1, 1) for i in range(24)]
MEASURE = Measure(key="r", title="30-day readmissions", improvement="decrease", scoring="proportion", unit_label="%",
                  multiplier=100, target=25, definition={})
NOTES = [SimpleNamespace(date=STARTS[16], text="Discharge phone calls", rebase=True)]


def kit_svg() -> str:
    view = charts.spc_view(MEASURE, [(s, n, 200, n / 2) for s, n in zip(STARTS, NUMERATORS, strict=True)], [STARTS[16]])
    return charts.spc_svg(MEASURE, view, NOTES)


def vega_lite_svg() -> str:
    """The same chart as Vega-Lite layers: values, points coloured by verdict, limits and mean
    as step lines per rebased segment, the target and the annotation."""
    import altair as alt
    import vl_convert

    view = charts.spc_view(MEASURE, [(s, n, 200, n / 2) for s, n in zip(STARTS, NUMERATORS, strict=True)], [STARTS[16]])
    rows = [{"month": p.period_start.isoformat(), "value": p.value, "mean": p.mean, "upl": p.upl, "lpl": p.lpl,
             "segment": int(p.period_start >= STARTS[16]), "verdict": p.special_cause,
             "tip": charts.point_title(MEASURE, p)} for p in view.points]
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("month:T", title=None, axis=alt.Axis(format="%b %y")))
    layers = [base.mark_line(color="#4a5568").encode(y=alt.Y("value:Q", title="%")),
              base.mark_circle(size=60, opacity=1).encode(y="value:Q", color=alt.Color("verdict:N", legend=None),
                                                           tooltip=["tip:N"])]
    layers += [base.mark_line(interpolate="step-after", color="#a0aec0").encode(y=f"{name}:Q", detail="segment:N")
               for name in ("upl", "lpl", "mean")]
    target = alt.Chart(alt.Data(values=[{"t": 25}])).mark_rule(color="#2f855a", strokeDash=[2, 3]).encode(y="t:Q")
    note = alt.Chart(alt.Data(values=[{"m": STARTS[16].isoformat(), "text": "Discharge phone calls"}]))
    layers += [target, note.mark_rule(color="#805ad5").encode(x="m:T"),
               note.mark_text(align="left", dx=3, dy=-150).encode(x="m:T", text="text:N")]
    spec = alt.layer(*layers).properties(width=780, height=250, title="30-day readmissions: p chart").to_dict()
    return vl_convert.vegalite_to_svg(spec)


def measure(name: str, draw, times: int) -> None:
    draw()  # the first call pays for imports and warm-up
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        svg = draw()
        spent.append(time.perf_counter() - start)
    named = 'role="img"' in svg
    print(f"{name}: median {statistics.median(spent) * 1000:.1f} ms per chart, {len(svg.encode()):,} bytes; "
          f"style attributes {len(re.findall(r' style=', svg))}, <title> {svg.count('<title')}, "
          f"<desc> {svg.count('<desc')}, role=img {named}")


if __name__ == "__main__":
    measure("chart kit", kit_svg, 50)
    try:
        import altair  # noqa: F401
    except ImportError:
        print("Vega-Lite: altair and vl-convert-python are not installed here")
    else:
        measure("Vega-Lite (Altair + vl-convert)", vega_lite_svg, 10)
