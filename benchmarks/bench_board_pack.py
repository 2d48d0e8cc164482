"""The board quality pack: time to draft it (every registered section read for the month) and to
print its PDF, for 20 measures × 24 months × the demo hospital's units, with peak memory, against
baselines measured in the same run: the dashboard's reading of the whole measure library for the
same 24 months (`measures.results.dashboard`, what one page of the dashboard costs), and one
control chart printed alone.

    .venv/bin/python benchmarks/bench_board_pack.py [--database-url postgres://…] [--no-doc]

One process: a fresh data directory (var/bench-board-pack/, SQLite unless --database-url names
another database, which is then migrated as it is) and the demo hospital as `andon demo` loads it
(untimed, about a minute): measures computed over 24 months from its made-up EHR, and every other
module's records, so that each registered section of the pack has something to show. The first 20
listed measures with cells are the pack's key measures (a page each). The pack reads stored cells,
never the EHR. Each step runs 3 times; the medians are reported. Peak memory: tracemalloc's peak
over one more draft and its PDF (not timed) (Python's allocations), and the process's ru_maxrss at the end.
The figures go to stdout and to docs/benchmarks.md ("Board quality pack"). Times are never
asserted: read them against the baselines of the same run.
"""

import argparse
import os
import resource
import shutil
import statistics
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]  # this checkout, not an installed one
SECTION = "## Board quality pack"
MEASURES, MONTHS, RUNS = 20, 24, 3


def months_before(today: date, count: int) -> list[date]:
    this = today.year * 12 + today.month - 1
    return [date((i) // 12, i % 12 + 1, 1) for i in range(this - count, this)]


def setup(args) -> None:
    data_dir = REPO / "var" / "bench-board-pack"
    if not args.database_url:
        shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update({"ANDON_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "andon.settings",
                       "ANDON_DEBUG": "0", "TQDM_DISABLE": "1",
                       "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"})
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def seed() -> dict:
    """The demo hospital, every module's records (`andon demo`'s loaders: measures computed from
    its made-up EHR, safety events, risks, readiness, QI projects, patient voice, committees); the
    first 20 listed measures that have cells become the pack's key measures; the CQO."""
    from django.conf import settings
    from django.db.models import Count

    from andon.measures.models import Measure, MeasureResult
    from andon.platform import demo
    from andon.platform.models import Unit, User

    os.environ["ANDON_DEMO"] = "1"
    demo.load_demo_hospital()
    with_cells = set(MeasureResult.objects.filter(period_kind="month").values_list("measure__key", flat=True))
    chosen = [m for m in Measure.objects.filter(active=True).order_by("key") if m.listed and m.key in with_cells]
    keys = [m.key for m in chosen[:MEASURES]]
    settings.ANDON_BOARD_KEY_MEASURES = keys  # a page each
    organisation = Unit.objects.select_related("facility__organisation").first().facility.organisation
    cells = MeasureResult.objects.filter(measure__key__in=keys, period_kind="month")
    return {"organisation": organisation, "cqo": User.objects.get(username="cqo.olivia"),
            "units": Unit.objects.filter(facility__organisation=organisation).count(),
            "measures": len(keys), "cells": cells.count(),
            "unit_cells": cells.aggregate(units=Count("unit", distinct=True))["units"],
            "months": months_before(date.today(), MONTHS)}


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    found = fn()
    return time.perf_counter() - started, found


def one_chart_pdf(first, last) -> bytes:
    """The floor of the PDF: one measure's control chart and its table printed alone."""
    from andon.measures import charts, results
    from andon.platform import pdf

    tile = next(t for _c, _l, tiles in results.dashboard(results.organisation_place(first, last)) for t in tiles if t.view)
    chart = charts.spc_chart(tile.measure, tile.view)
    return pdf.render_pdf(f"<!doctype html><html><body>{chart.svg}{chart.table.html}</body></html>")


def measure_all(seeded: dict) -> dict:
    from andon.governance import packs, packs_render
    from andon.measures import results

    organisation, cqo, months = seeded["organisation"], seeded["cqo"], seeded["months"]
    month = months[-1]
    first, last = months[0], packs.last_of(month)
    baseline = [timed(lambda: results.dashboard(results.organisation_place(first, last)))[0] for _ in range(RUNS)]
    one_chart = [timed(lambda: one_chart_pdf(first, last))[0] for _ in range(RUNS)]
    drafts, pdfs, sizes = [], [], []
    for _ in range(RUNS):
        took, version = timed(lambda: packs.draft(cqo, organisation, month))
        drafts.append(took)
        took, data = timed(lambda v=version: packs_render.pdf(v, packs.previous_version(v)))
        pdfs.append(took)
        sizes.append(len(data))
    # Memory in a run of its own: tracemalloc slows Python's allocations several times over.
    tracemalloc.start()
    version = packs.draft(cqo, organisation, month)
    packs_render.pdf(version, packs.previous_version(version))
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    pages = len(version.sections)
    return {"baseline": statistics.median(baseline), "one_chart": statistics.median(one_chart), "draft": statistics.median(drafts), "pdf": statistics.median(pdfs),
            "total": statistics.median(d + p for d, p in zip(drafts, pdfs, strict=True)),
            "runs": {"baseline": baseline, "one_chart": one_chart, "draft": drafts, "pdf": pdfs}, "peak_traced_mib": peak,
            "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "pdf_kib": sizes[0] / 1024,
            "sections": pages,
            "section_titles": _section_words(version.sections)}


def _section_words(sections: list[dict]) -> str:
    """"At a glance: the six domains, 20 key measures' pages, Equity gaps, …" in the pack's order."""
    words = []
    for section in sections:
        if section["key"].startswith("measure:"):
            pages = sum(s["key"].startswith("measure:") for s in sections)
            word = f"{pages} key measures' pages"
            if word not in words:
                words.append(word)
        else:
            words.append(section["title"])
    return ", ".join(words)


def report(seeded: dict, found: dict, database: str) -> str:
    runs = found["runs"]
    load = os.getloadavg()
    return f"""{SECTION}

Measured {time.strftime('%Y-%m-%d %H:%M %Z')} by `benchmarks/bench_board_pack.py` on {database}
({os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; medians of {RUNS} runs).
Data: the demo hospital as `andon demo` loads it; {seeded['measures']} key measures × {MONTHS} months, their cells in
{seeded['unit_cells']} of the organisation's {seeded['units']} units and for the whole organisation ({seeded['cells']:,} stored
monthly cells). The pack of the last month: {found['sections']} sections ({found['section_titles']}).

| Step | Median | Runs |
|---|---|---|
| Baseline: the dashboard's reading of every measure of the library for the 24 months | {found['baseline']:.2f} s | {', '.join(f'{t:.2f}' for t in runs['baseline'])} |
| Baseline: one control chart and its table printed alone (WeasyPrint) | {found['one_chart']:.2f} s | {', '.join(f'{t:.2f}' for t in runs['one_chart'])} |
| Draft the pack (every registered section read and rendered) | {found['draft']:.2f} s | {', '.join(f'{t:.2f}' for t in runs['draft'])} |
| Print its PDF (WeasyPrint, {found['pdf_kib']:.0f} KiB) | {found['pdf']:.2f} s | {', '.join(f'{t:.2f}' for t in runs['pdf'])} |
| **Draft and PDF** (goal: under 30 s) | **{found['total']:.2f} s** | |

Peak memory: {found['peak_traced_mib']:.0f} MiB of Python allocations (tracemalloc) over one more draft and its PDF (untimed);
the process's peak resident size {found['maxrss_mib']:.0f} MiB (ru_maxrss, Django and WeasyPrint loaded).

How to run: `.venv/bin/python benchmarks/bench_board_pack.py` (SQLite in `var/bench-board-pack/`, made
anew), or with `--database-url postgres://postgres@127.0.0.1:5432/<an empty database>`.
"""


def write_doc(text: str) -> None:
    import safety_load

    safety_load.write_doc(text, SECTION)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="another database than a fresh SQLite file")
    parser.add_argument("--no-doc", action="store_true", help="print the figures only")
    args = parser.parse_args(argv)
    setup(args)
    seeded = seed()
    found = measure_all(seeded)
    text = report(seeded, found, "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite")
    print(text)
    if not args.no_doc:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
