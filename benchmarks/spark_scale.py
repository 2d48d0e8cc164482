"""DuckDB against Spark local[2] on the same data: ingest and the core views, at several sizes.

    .venv/bin/python benchmarks/spark_scale.py [--scales 140] [--views encounter,condition,patient]

The data is fhir_views.py's: the Synthea 10-patient export replicated `scale` times with fresh
ids (140: 1.0 million resources, 1.46 GB of NDJSON). Each step runs in its own process
(fhir_views.run_step): peak RSS is the largest process's (`ru_maxrss` of wait4: the Python
driver or Spark's JVM, which Python starts), and for Spark the JVM's own peak (VmHWM) too.

1. DuckDB: `ingest.load_paths` into a fresh store; each view `sof.run` over it (median of
   `--repeat`); the store is then removed, so that Spark's step has its disk.
2. Spark local[2] (driver memory `--spark-memory`): `spark.ingest.load_paths` into a fresh
   store; each view `spark.views.run` over it (median of `--repeat`), the rows collected to an
   Arrow table on the driver as DuckDB's are. Row counts are compared with DuckDB's.

Figures go to stdout and to docs/benchmarks.md ("DuckDB and Spark"). Times are never
asserted; the ratio Spark ÷ DuckDB is of figures measured in the same run.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kit  # noqa: E402
import fhir_views  # noqa: E402  (the data, run_step, the doc writer)

REPO = fhir_views.REPO
WORK = REPO / "var" / "bench" / "spark"
SECTION = "## DuckDB and Spark"
VIEWS = ("encounter", "condition", "procedure", "medication_request", "patient")


def _view(name: str) -> dict:
    return json.loads((fhir_views.VIEWS_DIR / f"{name}.json").read_text())


def _fresh(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    for stale in (path, Path(str(path) + ".wal")):
        if stale.is_file():
            stale.unlink()


def _timed_views(run, args: dict) -> dict:
    """Each view of `args` run `repeat` times by `run(view)` (an Arrow table): rows, median s."""
    found = {}
    for name in args["views"]:
        times, rows = [], 0
        for _ in range(args["repeat"]):
            began = time.perf_counter()
            rows = run(_view(name)).num_rows
            times.append(time.perf_counter() - began)
        found[name] = {"rows": rows, "s": statistics.median(times)}
    return found


def phase_duckdb(args: dict) -> dict:
    from andon.analytics.fhir import sof, store

    path = WORK / "duckdb.duckdb"
    summary, seconds, _ = fhir_views.load_fresh_store(path, [fhir_views.WORK / "ndjson"])
    connection = store.connect(path, read_only=True)
    views = _timed_views(lambda view: sof.run(connection, view), args)
    connection.close()
    _fresh(path)  # the disk for Spark's step: at 20 million resources the store is 23 GB
    return {"ingest_s": seconds, "added": summary.total.added, "views": views}


def _jvm_peak_mb(spark) -> float | None:
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def phase_spark(args: dict) -> dict:
    os.environ["ANDON_SPARK_CONF"] = f"spark.driver.memory={args['memory']}"
    from andon.analytics.spark import ingest, session, views

    root = WORK / "spark-store"
    _fresh(root)
    spark = session.spark()
    began = time.perf_counter()
    summary = ingest.load_paths(spark, str(root), [fhir_views.WORK / "ndjson"])
    seconds = time.perf_counter() - began
    views.register(spark, str(root))
    found = _timed_views(lambda view: views.run(spark, view), args)
    for name, one in found.items():
        one["typed"] = "andon_typed_" in views.spark_sql(spark, _view(name))
    from_text = None
    if args.get("json_too"):  # the same views over the JSON text alone: the layout before typed columns
        views.hide_typed(spark)
        from_text = _timed_views(lambda view: views.run(spark, view), args)
    peak = _jvm_peak_mb(spark)
    spark.stop()
    return {"ingest_s": seconds, "added": summary.total.added, "views": found, "views_json": from_text, "jvm_mb": peak}


PHASES = {"duckdb": phase_duckdb, "spark": phase_spark}


def _seconds(one: dict | None) -> str:
    return f"{one['s']:.2f} s" if one else ""


def report(runs: list[dict]) -> str:
    begun = sorted(run.get("at") or datetime.now(UTC).strftime("%Y-%m-%d %H:%M") for run in runs)
    lines = [SECTION, "",
             f"Run on {begun[0]}{f' to {begun[-1]}' if len(begun) > 1 else ''} UTC (each size begun) by "
             "`benchmarks/spark_scale.py`. Machine: "
             f"{os.cpu_count()} cores, Python {platform.python_version()}; Spark in local mode, `local[2]`, "
             "on the same 2 cores (a cluster's figures are not measured here).", "",
             "Data: fhir_views.py's Synthea replicas (fresh ids). Each engine's step in its own process: ingest "
             "into a fresh store, then each view (median of the runs; rows collected into an Arrow table on the "
             "driver). Peak RSS: the largest process (DuckDB: Python; Spark: the JVM's own peak is given too).", "",
             "Spark's views read the version's typed columns where the view is of member paths (\"typed\"), "
             "else the JSON text; \"Spark, JSON text\" is the same view over the JSON text alone in the same "
             "run (`--json-too`: the layout before typed columns).", "",
             "| resources | NDJSON | step | DuckDB | Spark local[2] | Spark ÷ DuckDB | Spark, JSON text | rows equal |",
             "|---:|---:|---|---:|---:|---:|---:|:---:|"]
    for run in runs:
        duck, spark = run["duckdb"], run["spark"]
        size = f"{run['resources'] / 1e6:.2f} M | {run['bytes'] / 1e9:.2f} GB"
        if "error" in duck:
            lines.append(f"| {size} | (failed) | {duck['error']} | {spark.get('error', '')} | | | |")
            continue
        if "error" in spark:  # DuckDB's figures stand on their own
            lines.append(f"| {size} | ingest | {duck['ingest_s']:.1f} s | failed: {spark['error']} | | | |")
            lines += [f"| | | view `{name}` ({one['rows']:,} rows) | {one['s']:.2f} s | | | | |"
                      for name, one in duck["views"].items()]
            lines.append(f"| | | peak RSS | {duck['rss_mb']:.0f} MB | | | | |")
            continue
        lines.append(f"| {size} | ingest | {duck['ingest_s']:.1f} s | {spark['ingest_s']:.1f} s | "
                     f"{spark['ingest_s'] / duck['ingest_s']:.1f}× | | {'yes' if duck['added'] == spark['added'] else 'no'} |")
        for name, one in duck["views"].items():
            other, text = spark["views"][name], (spark.get("views_json") or {}).get(name)
            reads = "typed" if other.get("typed") else "JSON"
            lines.append(f"| | | view `{name}` ({one['rows']:,} rows) | {one['s']:.2f} s | {other['s']:.2f} s ({reads}) | "
                         f"{other['s'] / one['s']:.0f}× | {_seconds(text)} | "
                         f"{'yes' if one['rows'] == other['rows'] else 'no'} |")
        jvm = f", JVM peak {spark['jvm_mb']:.0f} MB" if spark.get("jvm_mb") else ""
        lines.append(f"| | | peak RSS | {duck['rss_mb']:.0f} MB | {spark['rss_mb']:.0f} MB{jvm} | | | |")
    lines += ["", "How to run: `.venv/bin/python benchmarks/spark_scale.py --scales 140,700 [--json-too] "
              "[--results var/bench/spark-results.jsonl]` (the data is generated once per scale: 1.46 GB of NDJSON "
              "per 140; with `--results`, sizes run apart are reported in one table).", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="140", help="comma-separated replicas of the 10-patient export")
    parser.add_argument("--views", default=",".join(VIEWS))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--spark-memory", default="4g", help="Spark's driver memory (local mode: all of Spark)")
    parser.add_argument("--limit", type=float, default=3600, help="seconds one step may take")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--json-too", action="store_true", help="time Spark's views over the JSON text alone too")
    parser.add_argument("--results", type=Path, help="append each size's figures (a JSON line) to this file, "
                        "and report every size in it (sizes run apart, one table)")
    fhir_views.add_phase_arguments(parser, PHASES)
    cli = parser.parse_args(argv)
    if fhir_views.ran_phase(cli, PHASES):
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    runs = []
    for scale in map(int, filter(None, cli.scales.split(","))):
        manifest = fhir_views.generate(scale, 20261124)
        args = {"views": cli.views.split(","), "repeat": cli.repeat, "memory": cli.spark_memory, "json_too": cli.json_too}
        run = {"at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
               "resources": manifest["total_resources"], "bytes": manifest["total_bytes"],
               "duckdb": fhir_views.run_step(sys.executable, "duckdb", args, cli.limit, Path(__file__).resolve()),
               "spark": fhir_views.run_step(sys.executable, "spark", args, cli.limit, Path(__file__).resolve())}
        print(json.dumps(run), flush=True)
        runs.append(run)
    text = report(bench_kit.remembered(runs, cli.results, lambda run: run["resources"]))
    print(text)
    if not cli.no_doc:
        fhir_views.write_doc(text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
