"""The pages that read the clinical record, on a Spark store: DuckDB on the web server reading
the store's Parquet files (`spark.duckdb_read`), against the same readers over the DuckDB store
of the same data, measured in the same run.

    .venv/bin/python benchmarks/spark_store_pages.py [--scale 140] [--lookups 200] [--no-doc]

Steps, each in its own process (benchmarks/fhir_views.py's runner):

1. Data: the Synthea 10-patient export ×`--scale` with fresh ids (fhir_views.py's generator and
   files, var/bench/fhir/ndjson/: 1,002,400 resources at ×140), loaded into a fresh DuckDB store.
2. The Spark store's layout written from it (`andon fhir parquet`, `columnar.export_parquet`):
   the same files Spark's load writes, ordered by patient within each type.
3. On each store: one patient (`population.patient`, what "why is this case in or out" reads)
   for `--lookups` patients of a fixed sample, on an open connection and on a new connection
   each time (as a page opens one); a patient found by MRN (`patients.find`, the safety report's
   patient); every Encounter through the `encounter` view (what the places to map and an
   audit's cohort read). The patients' resources are compared between the stores.

The figures go to stdout and to docs/benchmarks.md ("The pages on a Spark store"). Times are
never asserted.
"""

import argparse
import hashlib
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kit  # its command line, start and end
import fhir_views as views  # the generator, child runner and doc writer

SECTION = "## The pages on a Spark store"
WORK = views.REPO / "var" / "bench" / "spark-store-pages"


# --- phases (each in its own process) -------------------------------------------------------------

def phase_ingest(args: dict) -> dict:
    summary, seconds, _ = views.load_fresh_store(Path(args["path"]), [views.WORK / "ndjson"])
    return {"s": seconds, "added": summary.total.added}


def phase_export(args: dict) -> dict:
    import shutil

    from andon.analytics.fhir import columnar, store

    shutil.rmtree(args["folder"], ignore_errors=True)
    connection = store.connect(args["path"], read_only=False)
    began = time.perf_counter()
    columnar.export_parquet(connection, Path(args["folder"]))
    seconds = time.perf_counter() - began
    connection.close()
    files = list((Path(args["folder"]) / "resources").rglob("*.parquet"))
    return {"s": seconds, "bytes": sum(f.stat().st_size for f in files), "files": len(files)}


def _opener(args: dict):
    """A function opening the store the phase reads: the DuckDB file, or the Spark store's folder."""
    from andon.analytics.fhir import store
    from andon.analytics.spark import duckdb_read

    if args["kind"] == "duckdb":
        return lambda: store.connect(args["path"], read_only=True, memory_limit=store.READ_MEMORY_LIMIT)
    return lambda: duckdb_read.connect(Path(args["folder"]))


def _sample(connection, count: int) -> list[str]:
    """`count` Patient ids, the same in both stores."""
    return [row[0] for row in connection.execute(
        "SELECT id FROM resources WHERE type = 'Patient' ORDER BY hash(id), id LIMIT ?", [count]).fetchall()]


def _digest(data) -> str:
    keys = sorted(f"{kind}/{node.value['id']}" for kind, nodes in data.by_type.items() for node in nodes)
    return hashlib.md5("\n".join(keys).encode()).hexdigest()


def _timed(work) -> float:
    began = time.perf_counter()
    work()
    return (time.perf_counter() - began) * 1000


def phase_read(args: dict) -> dict:
    from andon.analytics import kpi
    from andon.analytics.cql import population
    from andon.analytics.fhir import patients

    open_store = _opener(args)
    connection = open_store()
    ids = _sample(connection, args["lookups"])
    digests, warm = {}, []
    for patient_id in ids:
        began = time.perf_counter()
        data = population.patient(connection, patient_id)
        warm.append((time.perf_counter() - began) * 1000)
        digests[patient_id] = _digest(data)
    mrns = [row[0] for row in connection.execute(
        "SELECT json_extract_string(resource, '$.identifier[1].value') FROM resources WHERE type = 'Patient' "
        "AND id IN (SELECT unnest(?::VARCHAR[]))", [ids[:args["cold"]]]).fetchall()]
    found, answered = [], 0
    for mrn in mrns:
        began = time.perf_counter()
        answered += patients.find(connection, mrn) is not None
        found.append((time.perf_counter() - began) * 1000)
    definitions = kpi.load_view_definitions(views.REPO / "content" / "views")
    encounters = []
    for _ in range(3):
        began = time.perf_counter()
        workspace = kpi.Workspace(connection, definitions, ["encounter"])
        count = workspace.connection.execute("SELECT count(*) FROM encounter").fetchone()[0]
        workspace.close()
        encounters.append(time.perf_counter() - began)
    connection.close()

    def fresh(patient_id):
        opened = open_store()
        population.patient(opened, patient_id)
        opened.close()

    cold = [_timed(lambda patient_id=patient_id: fresh(patient_id)) for patient_id in ids[:args["cold"]]]
    return {"warm_ms": warm, "cold_ms": cold, "find_ms": found, "encounter_s": encounters, "encounters": count,
            "digests": digests, "found": answered}


PHASES = {"ingest": phase_ingest, "export": phase_export, "read": phase_read}


# --- the run ------------------------------------------------------------------------------------

def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def figures(values: list[float]) -> str:
    """Median, 95th percentile and largest, in ms: three cells of a table."""
    return f"{statistics.median(values):,.1f} ms | {percentile(values, 0.95):,.1f} ms | {max(values):,.1f} ms"


def report(manifest, ingest, export, duck, spark, facts) -> str:
    same = sum(duck["digests"][k] == v for k, v in spark["digests"].items())
    ratio = lambda key: statistics.median(spark[key]) / statistics.median(duck[key])
    rows = [("one patient, open connection", "warm_ms"), ("one patient, new connection each time", "cold_ms"),
            ("a patient found by MRN, open connection", "find_ms")]
    lines = [
        SECTION, "",
        (f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/spark_store_pages.py`. Machine: {facts['nproc']} "
         f"cores ({facts['cpu'] or 'unknown CPU'}), shared and noisy, {facts['memory']} memory, Python {facts['python']}, "
         f"DuckDB {facts['duckdb']}."),
        "",
        (f"- Data: the Synthea 10-patient export ×{manifest['scale']} with fresh ids: **{manifest['total_resources']:,} "
         f"resources**, loaded into a DuckDB store ({views.fmt_s(ingest['s'])}), then written as a Spark store's version "
         f"by `andon fhir parquet` ({views.fmt_s(export['s'])}; {export['files']:,} Parquet files of JSON text, "
         f"{export['bytes'] / 1e6:,.0f} MB), the layout Spark's load writes."),
        (f"- The readers are the pages' own, on the DuckDB store (the baseline) and on the Spark store read by DuckDB on "
         f"the web server (`spark.duckdb_read`): one patient is `population.patient` (the 'why is this case in or out' "
         f"page), {len(duck['warm_ms'])} patients of a fixed sample; a patient found by MRN is `patients.find` (a safety "
         f"report's patient), {len(duck['find_ms'])} of them (found: {duck['found']} on DuckDB, {spark['found']} on Spark's store)."),
        "",
        "| reader | DuckDB store: median, 95th percentile, largest | Spark store | Spark ÷ DuckDB (medians) |",
        "|---|---|---|---:|",
    ]
    for label, key in rows:
        lines.append(f"| {label} | {figures(duck[key]).replace(' | ', ', ')} | {figures(spark[key]).replace(' | ', ', ')} "
                     f"| {ratio(key):.1f}× |")
    lines += [
        (f"| every Encounter through the `encounter` view ({duck['encounters']:,}; the places to map, an audit's cohort) "
         f"| {views.fmt_s(statistics.median(duck['encounter_s']))} | {views.fmt_s(statistics.median(spark['encounter_s']))} "
         f"| {ratio('encounter_s'):.1f}× |"),
        "",
        (f"The two stores gave the same resources for {same} of {len(spark['digests'])} patients"
         f"{'' if spark['encounters'] == duck['encounters'] else ' (and a different count of Encounters!)'}."),
        "",
        "How to run: `.venv/bin/python benchmarks/spark_store_pages.py` (about 2 minutes on 2 cores once "
        "benchmarks/fhir_views.py's files exist; 2 GB of disk).",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    views.add_data_arguments(parser)
    parser.add_argument("--lookups", type=int, default=200, help="patients read on an open connection")
    parser.add_argument("--cold", type=int, default=30, help="of them, read on a new connection each, and found by MRN")
    cli = bench_kit.parsed(parser, PHASES, argv)
    if cli is None:
        return 0
    say, began, manifest = bench_kit.start(cli, WORK)
    script = Path(__file__).resolve()
    stores = {"path": str(WORK / "fhir.duckdb"), "folder": str(WORK / "spark-store")}
    ingest = views.run_step(sys.executable, "ingest", stores, 3600, script=script)
    export = views.run_step(sys.executable, "export", stores, 3600, script=script)
    reading = {**stores, "lookups": cli.lookups, "cold": cli.cold}
    duck = views.run_step(sys.executable, "read", {**reading, "kind": "duckdb"}, 3600, script=script)
    spark = views.run_step(sys.executable, "read", {**reading, "kind": "spark"}, 3600, script=script)
    return bench_kit.publish((ingest, export, duck, spark),
                         lambda: report(manifest, ingest, export, duck, spark, views.machine_facts()),
                         SECTION, cli.no_doc, say, began)


if __name__ == "__main__":
    sys.exit(main())
