"""FHIR ingest memory on a 5 GB export: Andon's peak RSS stays bounded (issue: a 5 GB export
loads within 2 GB of RSS), with DuckDB's bare `read_ndjson_objects` count of the same files as
the floor measured in the same run.

    .venv/bin/python benchmarks/fhir_ingest_memory.py [--gb 5] [--no-doc]

The export is the Synthea 10-patient one replicated with fresh ids and consistent references
(the generator of benchmarks/fhir_views.py), written to var/bench/fhir-5gb/ndjson/ and reused
while the size and seed are the same. The ingest runs in its own process into a fresh store
file; its peak RSS is that process's `ru_maxrss`. The largest single file (DocumentReference,
about 38 % of the bytes) is what a per-file transaction has to hold bounded.
"""

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fhir_views as views  # the generator, child runner and doc writer

WORK = views.REPO / "var" / "bench" / "fhir-5gb"
SECTION = "## FHIR ingest memory (5 GB export)"
RSS_GOAL_MB = 2048
BYTES_PER_REPLICA = 10.46e6  # the shared export, without log.ndjson


def phase_floor(args: dict) -> dict:
    import duckdb

    began = time.perf_counter()
    rows = duckdb.sql(f"SELECT count(*) FROM read_ndjson_objects('{WORK / 'ndjson'}/*.ndjson')").fetchall()[0][0]
    return {"s": time.perf_counter() - began, "rows": rows}


def phase_ingest(args: dict) -> dict:
    path = WORK / "store.duckdb"
    summary, seconds, _ = views.load_fresh_store(path, [WORK / "ndjson"])
    total = summary.total
    return {"s": seconds, "added": total.added, "quarantined": total.quarantined, "store_bytes": path.stat().st_size}


PHASES = {"floor": phase_floor, "ingest": phase_ingest}


def report(manifest: dict, floor: dict, ingest: dict) -> str:
    gb = manifest["total_bytes"] / 1e9
    largest = max(manifest["bytes"].items(), key=lambda item: item[1])
    lines = [
        SECTION, "",
        (f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/fhir_ingest_memory.py`. Data: the Synthea "
         f"10-patient export ×{manifest['scale']} with fresh ids: **{manifest['total_resources']:,} resources, "
         f"{gb:.2f} GB** ({manifest['total_bytes'] / 2**30:.2f} GiB) in {len(manifest['bytes'])} NDJSON files; the largest, "
         f"{largest[0]}, {largest[1] / 1e9:.2f} GB. Each step in its own process; peak RSS = its `ru_maxrss`."), "",
        "| step | time | MB/s | peak RSS |", "|---|---:|---:|---:|",
    ]
    mb = manifest["total_bytes"] / 1e6
    if floor.get("s"):
        lines.append(f"| floor: `read_ndjson_objects` count of all files | {floor['s']:.1f} s | {mb / floor['s']:,.0f} | "
                     f"{floor['rss_mb']:,.0f} MB |")
    if ingest.get("s"):
        lines.append(f"| **Andon ingest** (fresh store) | {ingest['s']:.0f} s | {mb / ingest['s']:,.1f} | "
                     f"**{ingest['rss_mb']:,.0f} MB** |")
        met = "met" if ingest["rss_mb"] <= RSS_GOAL_MB else "**not met**"
        lines += ["", (f"Ingest: {ingest['added']:,} added, {ingest['quarantined']:,} quarantined; store file "
                       f"{ingest['store_bytes'] / 1e9:.2f} GB. Goal (a 5 GB export within {RSS_GOAL_MB:,} MB of RSS): {met}.")]
    else:
        lines += ["", f"Ingest failed: {ingest.get('error')}"]
    lines += ["", ("How to run: `.venv/bin/python benchmarks/fhir_ingest_memory.py` (about 4 minutes on 2 cores once the "
                   "files exist; generating them takes about 2 minutes and 5 GB of disk, plus about 3.5 GB for the store).")]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=5.0, help="size of the export in GB (10^9 bytes), at least")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    views.add_phase_arguments(parser, PHASES)
    cli = parser.parse_args(argv)
    views.WORK = WORK  # the generator writes under this benchmark's own folder
    if views.ran_phase(cli, PHASES):
        return 0
    scale = int(cli.gb * 1e9 / BYTES_PER_REPLICA) + 1
    print(f"Data: Synthea 10 ×{scale} …", file=sys.stderr, flush=True)
    manifest = views.generate(scale, cli.seed)
    script = Path(__file__).resolve()
    floor = views.run_step(sys.executable, "floor", {}, 900, script=script)
    print(f"  floor {floor.get('s', 0):.1f} s; ingest …", file=sys.stderr, flush=True)
    ingest = views.run_step(sys.executable, "ingest", {}, 7200, script=script)
    text = report(manifest, floor, ingest)
    print(text)
    if not cli.no_doc:
        views.write_doc(text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
