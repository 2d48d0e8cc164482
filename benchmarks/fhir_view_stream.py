"""A view streamed over millions of Encounters: peak memory whatever the row count (issue 22:
a 5 GB NDJSON file loaded under 2 GB of RSS; a view's rows streamed to the output under 1 GB).

    .venv/bin/python benchmarks/fhir_view_stream.py [--encounters 3300000] [--no-doc]

The data: the Synthea 10-patient export's Encounters replicated with fresh ids (every UUID
replaced, so references stay consistent within a replica) into one Encounter NDJSON file
under var/bench/fhir-stream/, reused while the count and seed are the same. Each step runs in
its own process (benchmarks/fhir_views.py's runner); peak RSS is that process's `ru_maxrss`:

1. floor: DuckDB's `read_ndjson_objects` counting the file's lines;
2. the ingest of the file into a fresh store (the typed tables kept in step as it loads);
3. `andon fhir view` of the 7-column encounter view PEERS.md uses (`encounter_peers`) to
   Parquet: the typed columns, streamed batch by batch;
4. the same view compiled over the JSON text, streamed the same way (the path every view
   took before the typed tables).
"""

import argparse
import hashlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fhir_views as views  # the runner, the view and the doc writer

WORK = views.REPO / "var" / "bench" / "fhir-stream"
FILE = WORK / "Encounter.ndjson"
SECTION = "## FHIR: a view streamed over millions of Encounters"
LOAD_GOAL_MB, VIEW_GOAL_MB = 2048, 1024


def generate(encounters: int, seed: int) -> dict:
    manifest_path = WORK / "manifest.json"
    if manifest_path.exists() and FILE.exists():
        manifest = json.loads(manifest_path.read_text())
        if (manifest["encounters"], manifest["seed"]) == (encounters, seed):
            return manifest
    WORK.mkdir(parents=True, exist_ok=True)
    source = next(p for p in views.source_files() if p.name.startswith("Encounter."))
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    templates = [views.UUID.split(line) for line in lines]
    began, written, replica = time.perf_counter(), 0, 0
    partial = FILE.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as out:
        while written < encounters:
            chunk = []
            for parts in templates[: encounters - written]:
                pieces = parts[:]
                for i in range(1, len(pieces), 2):
                    h = hashlib.md5(f"{seed}:{replica}:{pieces[i]}".encode()).hexdigest()
                    pieces[i] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
                chunk.append("".join(pieces))
            out.write("\n".join(chunk) + "\n")
            written += len(chunk)
            replica += 1
    partial.replace(FILE)
    manifest = {"encounters": written, "seed": seed, "bytes": FILE.stat().st_size,
                "generated_s": round(time.perf_counter() - began, 1)}
    manifest_path.write_text(json.dumps(manifest))
    return manifest


def phase_floor(args: dict) -> dict:
    import duckdb

    began = time.perf_counter()
    rows = duckdb.sql(f"SELECT count(*) FROM read_ndjson_objects('{FILE}')").fetchall()[0][0]
    return {"s": time.perf_counter() - began, "rows": rows}


def phase_ingest(args: dict) -> dict:
    summary, seconds, _ = views.load_fresh_store(WORK / "store.duckdb", [FILE])
    return {"s": seconds, "added": summary.total.added, "typed": summary.typed,
            "store_bytes": (WORK / "store.duckdb").stat().st_size}


def phase_view(args: dict) -> dict:
    """`andon fhir view` to Parquet (typed), or the JSON-text compilation streamed alike."""
    import pyarrow.parquet as pq

    from andon.analytics.fhir import store
    from andon.analytics.fhir.sof import compile_view, engine
    from andon.cli import main

    out = WORK / f"rows-{args['how']}.parquet"
    view_file = WORK / "view.json"
    view_file.write_text(json.dumps(views.ENCOUNTER_PEERS))
    began = time.perf_counter()
    if args["how"] == "columns":
        code = main(["fhir", "--store", str(WORK / "store.duckdb"), "view", str(view_file), "--out", str(out)])
        if code != 0:
            raise SystemExit(code)
    else:
        connection = store.connect(WORK / "store.duckdb", read_only=True, memory_limit=store.READ_MEMORY_LIMIT)  # as the command
        sql, _ = compile_view(views.ENCOUNTER_PEERS, engine.sample_shape(connection, "Encounter"))
        reader = connection.sql(sql).to_arrow_reader(engine.STREAM_ROWS)
        engine.write_stream(reader.schema, reader, out)
    seconds = time.perf_counter() - began
    return {"s": seconds, "rows": pq.ParquetFile(out).metadata.num_rows}


PHASES = {"floor": phase_floor, "ingest": phase_ingest, "view": phase_view}


def report(manifest: dict, floor: dict, ingest: dict, typed: dict, plain: dict) -> str:
    mb = manifest["bytes"] / 1e6
    lines = [
        SECTION, "",
        (f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/fhir_view_stream.py`. Data: the Synthea "
         f"10-patient export's Encounters replicated with fresh ids: **{manifest['encounters']:,} Encounters, "
         f"{manifest['bytes'] / 1e9:.2f} GB** in one NDJSON file. Each step in its own process; peak RSS = its "
         "`ru_maxrss`. The view: the 7 Encounter columns PEERS.md compares (`encounter_peers`), written to Parquet."),
        "", "| step | time | rows/s or MB/s | peak RSS | goal |", "|---|---:|---:|---:|---|",
    ]

    def row(label, result, rate, goal):
        if result.get("error"):
            return f"| {label} | {result['error']} | | {result.get('rss_mb', 0):,.0f} MB | |"
        return f"| {label} | {result['s']:.1f} s | {rate} | **{result['rss_mb']:,.0f} MB** | {goal} |"

    lines.append(row("floor: `read_ndjson_objects` count of the file", floor,
                     f"{mb / floor['s']:,.0f} MB/s" if floor.get("s") else "", ""))
    met = lambda result, goal: "met" if result.get("rss_mb", 1e9) <= goal else "**not met**"  # noqa: E731
    lines.append(row("Andon ingest (fresh store, typed tables kept in step as it loads)", ingest,
                     f"{mb / ingest['s']:,.1f} MB/s" if ingest.get("s") else "",
                     f"under {LOAD_GOAL_MB:,} MB: {met(ingest, LOAD_GOAL_MB)}"))
    for label, result in (("`andon fhir view … --out rows.parquet` (typed columns, streamed)", typed),
                          ("the same view over the JSON text, streamed", plain)):
        rate = f"{result['rows'] / result['s']:,.0f} rows/s" if result.get("s") else ""
        ratio = f"; {result['s'] / floor['s']:.1f}× the floor" if result.get("s") and floor.get("s") else ""
        lines.append(row(label, result, rate + ratio, f"under {VIEW_GOAL_MB:,} MB: {met(result, VIEW_GOAL_MB)}"))
    if ingest.get("s"):
        lines += ["", (f"Ingest: {ingest['added']:,} added; store file {ingest['store_bytes'] / 1e9:.2f} GB; typed "
                       f"tables: {ingest['typed']}.")]
    lines += ["", ("How to run: `.venv/bin/python benchmarks/fhir_view_stream.py` (the file is generated once; "
                   "about 5.3 GB of disk for 3.3 million Encounters, plus the store).")]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encounters", type=int, default=3_300_000)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    views.add_phase_arguments(parser, PHASES)
    cli = parser.parse_args(argv)
    if views.ran_phase(cli, PHASES):
        return 0
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    say(f"Data: {cli.encounters:,} Encounters …")
    manifest = generate(cli.encounters, cli.seed)
    say(f"  {manifest['bytes'] / 1e9:.2f} GB")
    script = Path(__file__).resolve()
    views.warm_cache([FILE])
    floor = views.run_step(sys.executable, "floor", {}, 900, script=script)
    say(f"  floor {floor.get('s', 0):.1f} s; ingest …")
    ingest = views.run_step(sys.executable, "ingest", {}, 7200, script=script)
    say(f"  ingest {ingest.get('s', ingest.get('error'))}, RSS {ingest.get('rss_mb', 0):,.0f} MB; views …")
    typed = views.run_step(sys.executable, "view", {"how": "columns"}, 3600, script=script)
    say(f"  typed {typed.get('s', typed.get('error'))}, RSS {typed.get('rss_mb', 0):,.0f} MB")
    plain = views.run_step(sys.executable, "view", {"how": "json"}, 3600, script=script)
    text = report(manifest, floor, ingest, typed, plain)
    print(text)
    if not cli.no_doc:
        views.write_doc(text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
