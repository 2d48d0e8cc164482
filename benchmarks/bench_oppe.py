"""OPPE at scale: the measures' computation WITH the practitioner dimension against the same run
WITHOUT it, on the same store: 2,000 practitioners over 100,000 made-up patients, 12 indicators,
24 months.

    .venv/bin/python benchmarks/bench_oppe.py [--patients 100000] [--runs 3] [--no-doc]

1. Population: andon/analytics/fhir/synthetic.py with five wards of 400 hospitalists each (2,000
   practitioners, an attending on every stay, NPIs resolved through the Practitioner resources),
   and emergency visits, over 24 months; loaded into a fresh FHIR store (kept for the next runs).
2. Compute, each in its own process (time and peak RSS), alternating, `--runs` times each:
   the KPI engine the measures library runs (andon/analytics/kpi: a workspace reading the views
   once, then per indicator the cells by period × unit × five equity strata and the kept cases
   for the drill-down), without attribution and with it (the attribution tables, then the
   practitioner cells and the kept cases' practitioner column). The 12 indicators are the
   library's five SQL measures in turn (length of stay, ED length of stay, in-hospital mortality,
   inpatient days, 30-day readmission), each aggregated on its own as a profile's indicator is.
   Storing the cells in the application database is not included (both runs store the same
   other cells; the practitioner cells are counted).

Medians go to docs/benchmarks.md ("OPPE: measures by practitioner"). Times are never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fhir_views as views  # the child runner (peak RSS) and the doc writer

REPO = views.REPO
WORK = REPO / "var" / "bench" / "oppe"
SECTION = "## OPPE: measures by practitioner"
FIRST, MONTHS = date(2025, 1, 1), 24
LAST = date(2026, 12, 31)
WARDS = ["rgh-4w", "rgh-5e", "rgh-6n", "rgh-icu", "lch-2a"]
PER_WARD = 400  # 5 × 400 = 2,000 practitioners
INDICATORS = 12
MEASURES = ("average-length-of-stay", "ed-length-of-stay", "in-hospital-mortality", "inpatient-days",
            "readmission-30-day")


def store_path(patients: int) -> Path:
    return WORK / f"p{patients}" / "fhir.duckdb"


def phase_generate(args: dict) -> dict:
    from andon.analytics.fhir import ingest, store, synthetic

    path = store_path(args["patients"])
    if path.exists():
        return {"reused": True}
    began = time.perf_counter()
    options = synthetic.Options(args["patients"], FIRST, MONTHS, WARDS, "rgh-ed", seed=77, practitioners_per_ward=PER_WARD,
                                emergency_practitioners=0, outliers={"syn-77-prac-rgh-4w-0": 10})
    counts = synthetic.write_ndjson(options, path.parent / "ndjson")
    made = time.perf_counter() - began
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    connection = store.connect(partial)
    ingest.load_paths(connection, [path.parent / "ndjson"], progress=False)
    connection.close()
    partial.replace(path)
    return {"counts": counts, "generate_s": made, "load_s": time.perf_counter() - began - made}


def _sqls() -> list[tuple[str, str]]:
    import yaml

    found = []
    for key in MEASURES:
        definition = yaml.safe_load((REPO / "content" / "measures" / f"{key}.yaml").read_text())
        found.append((key, definition["source"]["sql"]))
    return [found[i % len(found)] for i in range(INDICATORS)]


def phase_compute(args: dict) -> dict:
    from andon.analytics import kpi
    from andon.analytics.fhir import store

    attribution = args["practitioners"]
    connection = store.connect(store_path(args["patients"]), read_only=True)
    began = time.perf_counter()
    indicators = _sqls()
    unit_map = [("location", ward, str(n + 1)) for n, ward in enumerate(WARDS)]
    workspace = kpi.Workspace.for_sql(connection, kpi.load_view_definitions(REPO / "content" / "views"),
                                      [sql for _key, sql in indicators], unit_map, attribution=attribution)
    loaded = time.perf_counter() - began
    cells = practitioner_cells = kept = 0
    for _key, sql in indicators:
        result = kpi.aggregate(workspace, sql, first=FIRST, last=LAST, by_practitioner=attribution)
        cells += len(result.cells)
        practitioner_cells += sum(1 for c in result.cells if c.stratum == kpi.PRACTITIONER)
        kept += kpi.framed_table(workspace, sql, first=FIRST, last=LAST).num_rows
    practitioners = 0
    if attribution:
        practitioners = workspace.connection.execute(
            "SELECT count(DISTINCT practitioner_key) FROM encounter_attribution").fetchone()[0]
    workspace.close()
    connection.close()
    return {"load_s": loaded, "compute_s": time.perf_counter() - began, "cells": cells,
            "practitioner_cells": practitioner_cells, "kept_cases": kept, "practitioners": practitioners}


PHASES = {"generate": phase_generate, "compute": phase_compute}


def report(patients: int, generated: dict, runs: dict) -> str:
    def median(flag, name):
        return statistics.median(r[name] for r in runs[flag])

    without_s, with_s = median(False, "wall_s"), median(True, "wall_s")
    without_mb, with_mb = median(False, "rss_mb"), median(True, "rss_mb")
    last = runs[True][-1]
    lines = [SECTION, "",
             f"`benchmarks/bench_oppe.py`, {date.today():%Y-%m-%d}: {patients:,} made-up patients, "
             f"{last['practitioners']:,} practitioners attributed, {INDICATORS} indicators, {MONTHS} months, "
             f"median of {len(runs[True])} runs each, each run in its own process.", "",
             "| run | wall time (s) | of which loading the views (s) | peak RSS (MB) | cells | of which practitioner cells |",
             "|---|---:|---:|---:|---:|---:|"]
    for flag, label in ((False, "without the practitioner dimension"), (True, "with it")):
        lines.append(f"| {label} | {median(flag, 'wall_s'):.1f} | {median(flag, 'load_s'):.1f} | "
                     f"{median(flag, 'rss_mb'):.0f} | {runs[flag][-1]['cells']:,} | {runs[flag][-1]['practitioner_cells']:,} |")
    lines += ["", f"Ratio with/without: time {with_s / without_s:.2f}×, peak memory {with_mb / without_mb:.2f}×.",
              f"Store: {json.dumps(generated.get('counts', 'reused'))}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=float, default=1800, help="seconds one phase may take")
    parser.add_argument("--no-doc", action="store_true")
    views.add_phase_arguments(parser, PHASES)
    cli = parser.parse_args(argv)
    if views.ran_phase(cli, PHASES):
        return 0
    script = Path(__file__).resolve()
    generated = views.run_step(sys.executable, "generate", {"patients": cli.patients}, cli.limit, script=script)
    if "error" in generated:
        print(f"generating the population: {generated['error']}", file=sys.stderr)
        return 1
    runs = {False: [], True: []}
    for _ in range(cli.runs):
        for flag in (False, True):  # alternating: a slower minute of the machine falls on both
            found = views.run_step(sys.executable, "compute", {"patients": cli.patients, "practitioners": flag},
                                   cli.limit, script=script)
            if "error" in found:
                print(f"compute ({'with' if flag else 'without'}): {found['error']}", file=sys.stderr)
                return 1
            runs[flag].append(found)
            print(f"{'with' if flag else 'without'}: {found['wall_s']:.1f} s, {found['rss_mb']:.0f} MB", file=sys.stderr)
    text = report(cli.patients, generated, runs)
    print(text)
    if not cli.no_doc:
        views.write_doc(text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
