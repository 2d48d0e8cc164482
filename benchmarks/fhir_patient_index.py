"""One patient's resources in a FHIR store of a million: a seek on the stored patient key
(issue 22: under 50 ms), against the full scan Andon made before the key, measured in the same run
on the same data; and what the key costs the ingest.

    .venv/bin/python benchmarks/fhir_patient_index.py [--scale 140] [--lookups 200] [--no-doc]

Steps, each in its own process (benchmarks/fhir_views.py's runner):

1. Data: the Synthea 10-patient export ×`--scale` with fresh ids (fhir_views.py's generator and
   files, var/bench/fhir/ndjson/: 1,002,400 resources at ×140).
2. Ingest into a fresh store, alternately by Andon as it was before the key (`--baseline`, the
   andon/ package of that commit, exported to a temporary folder) and by this tree:
   `--ingests` times each, median.
3. Upgrade: a copy of the store made before the key, opened for writing (adds and fills in the
   column, builds the index).
4. Lookups on the keyed store, read-only: `population.patient` for `--lookups` patients (a fixed
   sample by hash of the id), median, 95th percentile and largest; the same on a new connection
   each time (as a page opens one); the plan of the seek (EXPLAIN ANALYZE says Index Scan).
5. Baseline: `population.patient` on the store made before the key, read-only (it cannot be
   upgraded, so it scans the store as Andon did before), for the first `--scans` patients of
   the same sample; their resources are compared with the seek's.

The figures go to stdout and to docs/benchmarks.md ("FHIR: one patient by the patient key").
Times are never asserted.
"""

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kit  # its command line, start and end
import fhir_views as views  # the generator, child runner and doc writer

SECTION = "## FHIR: one patient by the patient key"
WORK = views.REPO / "var" / "bench" / "fhir-patient-index"
BASELINE = "f5f4fd8"  # the last commit before the patient key
GOAL_MS = 50.0


# --- phases (each in its own process) -------------------------------------------------------------

def phase_ingest(args: dict) -> dict:
    summary, seconds, closing = views.load_fresh_store(Path(args["path"]), [views.WORK / "ndjson"])
    return {"s": seconds, "close_s": closing, "added": summary.total.added,
            "store_bytes": Path(args["path"]).stat().st_size}


def phase_upgrade(args: dict) -> dict:
    from andon.analytics.fhir import store

    began = time.perf_counter()
    connection = store.connect(args["path"])
    seconds = time.perf_counter() - began
    keyed = store.has_patient_key(connection)
    connection.close()
    return {"s": seconds, "keyed": keyed, "store_bytes": Path(args["path"]).stat().st_size}


def sample(connection, count: int) -> list[str]:
    """`count` Patient ids, the same in every store made from the same files."""
    return [row[0] for row in connection.execute(
        "SELECT id FROM resources WHERE type = 'Patient' ORDER BY hash(id), id LIMIT ?", [count]).fetchall()]


def resources_of(data) -> list[str]:
    return sorted(f"{kind}/{node.value['id']}" for kind, nodes in data.by_type.items() for node in nodes)


def digest(keys: list[str]) -> str:
    return hashlib.md5("\n".join(keys).encode()).hexdigest()


def phase_lookups(args: dict) -> dict:
    from andon.analytics.cql import population
    from andon.analytics.fhir import store

    connection = store.connect(args["path"], read_only=True)
    ids = sample(connection, args["lookups"])
    warm, sizes, digests = [], [], {}
    for patient_id in ids:
        began = time.perf_counter()
        data = population.patient(connection, patient_id)
        warm.append(time.perf_counter() - began)
        keys = resources_of(data)
        sizes.append(len(keys))
        digests[patient_id] = digest(keys)
    plan = connection.execute("EXPLAIN ANALYZE SELECT id FROM resources WHERE patient = ?", [ids[0]]).fetchall()[0][1]
    connection.close()
    cold = []
    for patient_id in ids[:args["cold"]]:
        began = time.perf_counter()
        connection = store.connect(args["path"], read_only=True)
        population.patient(connection, patient_id)
        connection.close()
        cold.append(time.perf_counter() - began)
    return {"warm_ms": [t * 1000 for t in warm], "cold_ms": [t * 1000 for t in cold], "sizes": sizes,
            "digests": digests, "index_scan": "Index Scan" in plan, "keyed": True}


# The rows of one patient, by the index, and by the stored column without it: DuckDB seeks only
# when the indexed column is the table's only filter, so a filter that every row passes turns the
# seek into a scan of the (dictionary-compressed) patient column.
SEEK = "SELECT type, id, resource FROM resources WHERE patient = ?"
COLUMN_SCAN = "SELECT type, id, resource FROM resources WHERE patient = ? AND type <> ''"


def phase_rows(args: dict) -> dict:
    """The rows alone (no parsing): seek and column scan, on one connection with the patient's
    rows read once before (warm: which goes first alternates) and on a new connection each (cold,
    the two alternated)."""
    from andon.analytics.fhir import store

    connection = store.connect(args["path"], read_only=True)
    ids = sample(connection, args["lookups"])
    warm = {"seek": [], "column_scan": []}
    for number, patient_id in enumerate(ids):
        connection.execute(SEEK, [patient_id]).fetchall()
        both = (("seek", SEEK), ("column_scan", COLUMN_SCAN))
        for name, sql in both if number % 2 == 0 else reversed(both):
            began = time.perf_counter()
            connection.execute(sql, [patient_id]).fetchall()
            warm[name].append((time.perf_counter() - began) * 1000)
    connection.close()
    cold = {"seek": [], "column_scan": []}
    for number, patient_id in enumerate(ids[:2 * args["cold"]]):
        name, sql = ("seek", SEEK) if number % 2 == 0 else ("column_scan", COLUMN_SCAN)
        connection = store.connect(args["path"], read_only=True)
        began = time.perf_counter()
        connection.execute(sql, [patient_id]).fetchall()
        cold[name].append((time.perf_counter() - began) * 1000)
        connection.close()
    return {"warm_ms": warm, "cold_ms": cold}


def phase_stream(args: dict) -> dict:
    """The SQL of `population.patients` (every bucket's rows fetched, none parsed), grouping by
    the stored key and by the key computed from each resource (as before the key)."""
    from andon.analytics.cql import population
    from andon.analytics.fhir import store

    connection = store.connect(args["path"], read_only=True)
    buckets = population.bucket_count(connection)
    placeholders = ", ".join("?" for _ in population.SHARED_TYPES)
    seconds = {}
    for name, patient_sql in (("stored", population._patient_column(connection)), ("computed", population._PATIENT_OF)):
        sql = (f"SELECT patient, type || '/' || id, resource FROM (SELECT {patient_sql} AS patient, type, id, resource "
               f"FROM resources WHERE type NOT IN ({placeholders})) WHERE patient <> '' AND hash(patient) % ? = ? "
               "ORDER BY patient, type = 'Patient' DESC")
        began = time.perf_counter()
        for bucket in range(buckets):
            result = connection.execute(sql, [*population.SHARED_TYPES, buckets, bucket])
            while result.fetchmany(population.BATCH):
                pass
        seconds[name] = time.perf_counter() - began
    connection.close()
    return {"s": seconds, "buckets": buckets}


def phase_scans(args: dict) -> dict:
    from andon.analytics.cql import population
    from andon.analytics.fhir import store

    connection = store.connect(args["path"], read_only=True)
    keyed = store.has_patient_key(connection)
    times, digests = [], {}
    for patient_id in sample(connection, args["scans"]):
        began = time.perf_counter()
        data = population.patient(connection, patient_id)
        times.append(time.perf_counter() - began)
        digests[patient_id] = digest(resources_of(data))
    connection.close()
    return {"ms": [t * 1000 for t in times], "digests": digests, "keyed": keyed}


PHASES = {"ingest": phase_ingest, "upgrade": phase_upgrade, "lookups": phase_lookups, "rows": phase_rows,
          "stream": phase_stream, "scans": phase_scans}


# --- the run ------------------------------------------------------------------------------------

def export_baseline(ref: str, into: Path) -> Path:
    """The andon/ package of commit `ref`, written under `into`; the folder to import it from."""
    archive = subprocess.run(["git", "-C", str(views.REPO), "archive", ref, "andon"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ingests(cli, baseline_tree: Path, say) -> tuple[list[dict], list[dict]]:
    """Alternate runs of the baseline's ingest and this tree's, each into its own store file."""
    old, new = [], []
    for _ in range(cli.ingests):
        old.append(views.run_step(sys.executable, "ingest", {"path": str(WORK / "old.duckdb")}, 3600,
                                  script=Path(__file__).resolve(), pythonpath=baseline_tree))
        new.append(views.run_step(sys.executable, "ingest", {"path": str(WORK / "new.duckdb")}, 3600,
                                  script=Path(__file__).resolve()))
        say(f"  ingest before {old[-1].get('s', 0):.1f} s, with the key {new[-1].get('s', 0):.1f} s "
            f"{old[-1].get('error', '')}{new[-1].get('error', '')}")
    return old, new


def figures(values: list[float]) -> str:
    """Median, 95th percentile and largest, in ms: three cells of a table."""
    return f"{statistics.median(values):,.1f} ms | {percentile(values, 0.95):,.1f} ms | {max(values):,.1f} ms"


def report(cli, manifest, old, new, upgrade, lookups, rows, stream, scans, facts) -> str:
    old_s = statistics.median(r["s"] for r in old)
    new_s = statistics.median(r["s"] for r in new)
    warm, cold, scan = lookups["warm_ms"], lookups["cold_ms"], scans["ms"]
    seek, full = statistics.median(warm), statistics.median(scan)
    assert not scans["keyed"], "the baseline store has the key: it would not be scanned"
    same = sum(lookups["digests"][k] == v for k, v in scans["digests"].items())
    sizes = lookups["sizes"]
    verdict = "met" if seek < GOAL_MS else "not met"
    return "\n".join([
        SECTION, "",
        (f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/fhir_patient_index.py`. Machine: {facts['nproc']} "
         f"cores ({facts['cpu'] or 'unknown CPU'}), shared and noisy, {facts['memory']} memory, Python {facts['python']}, "
         f"DuckDB {facts['duckdb']}."),
        "",
        (f"- Data: the Synthea 10-patient export ×{manifest['scale']} with fresh ids (benchmarks/fhir_views.py's files): "
         f"**{manifest['total_resources']:,} resources**, {manifest['total_bytes'] / 1e6:,.0f} MB."),
        (f"- One patient = `population.patient` (the patient's resources, parsed, and the shared ones they reference), "
         f"as the 'why is this case in or out' page reads it; {len(warm)} patients (a fixed sample), "
         f"{statistics.median(sizes):.0f} resources each at the median, {max(sizes):,} at most."),
        "",
        "| one patient (`population.patient`) | median | 95th percentile | largest | runs |",
        "|---|---:|---:|---:|---:|",
        f"| **seek on the patient key** (open connection) | **{statistics.median(warm):.1f} ms** | {percentile(warm, 0.95):.1f} ms | {max(warm):.1f} ms | {len(warm)} |",
        f"| seek on the patient key, new connection each time (open, read, close) | {figures(cold)} | {len(cold)} |",
        f"| full scan (the store made before the key, read-only: Andon before it) | {figures(scan)} | {len(scan)} |",
        "",
        (f"Seek ÷ scan: **{full / seek:,.0f}× faster** at the median. Goal (one patient under {GOAL_MS:.0f} ms in a store "
         f"of 1 million resources): **{verdict}** on an open connection. The plan of `WHERE patient = ?` (EXPLAIN ANALYZE) "
         f"{'says Index Scan' if lookups['index_scan'] else 'does NOT say Index Scan'}. The seek and the scan gave the "
         f"same resources for {same} of {len(scans['digests'])} patients. The time grows with the patient's records "
         f"(parsing them in Python is most of it): the largest patients make the 95th percentile."),
        "",
        "| the rows alone (SQL, nothing parsed) | median | 95th percentile | largest | runs |",
        "|---|---:|---:|---:|---:|",
        f"| ART index seek, open connection, the patient's rows read before | {figures(rows['warm_ms']['seek'])} | {len(rows['warm_ms']['seek'])} |",
        f"| stored column scanned (no index), same | {figures(rows['warm_ms']['column_scan'])} | {len(rows['warm_ms']['column_scan'])} |",
        f"| ART index seek, new connection | {figures(rows['cold_ms']['seek'])} | {len(rows['cold_ms']['seek'])} |",
        f"| stored column scanned (no index), new connection | {figures(rows['cold_ms']['column_scan'])} | {len(rows['cold_ms']['column_scan'])} |",
        "",
        ("What makes the seek fast is the stored key as much as its index: DuckDB scans the dictionary-compressed "
         "patient column of a million rows in about as long as it walks the index, and reads the JSON of the "
         "matching rows only. On a new connection, most of the time is reading those rows' blocks (a patient's "
         "records lie in every row group of their types); opening the store adds the rest."),
        "",
        (f"`population.patients` (every patient, the measure engine's stream): its SQL alone, {stream['buckets']} passes "
         f"over the store, every row fetched and none parsed, takes {views.fmt_s(stream['s']['stored'])} grouping by the "
         f"stored key against {views.fmt_s(stream['s']['computed'])} computing it from each resource as before "
         f"({stream['s']['computed'] / stream['s']['stored']:.1f}× faster)."),
        "",
        "| ingest (fresh store, all files) | median | runs | store file |",
        "|---|---:|---:|---:|",
        f"| before the key (commit {cli.baseline}) | {views.fmt_s(old_s)} | {len(old)} | {old[0]['store_bytes'] / 1e6:,.0f} MB |",
        f"| with the key (column and index) | {views.fmt_s(new_s)} | {len(new)} | {new[0]['store_bytes'] / 1e6:,.0f} MB |",
        "",
        (f"Ingest with the key ÷ before: **{new_s / old_s:.2f}×** (runs alternated: "
         f"{', '.join(views.fmt_s(r['s']) for r in old)} before; {', '.join(views.fmt_s(r['s']) for r in new)} with). "
         f"Upgrading the store made before the key (opened for writing once: column added, filled in, index built): "
         f"{views.fmt_s(upgrade['s'])}"
         + (f"; its file grows to {upgrade['store_bytes'] / 1e6:,.0f} MB (DuckDB writes the updated rows anew and "
            "does not give the file's freed blocks back; later writes reuse them)." if "store_bytes" in upgrade else ".")),
        "",
        "How to run: `.venv/bin/python benchmarks/fhir_patient_index.py` (about 10 minutes on 2 cores once "
        "benchmarks/fhir_views.py's files exist, 3 GB of disk for the stores).",
        "",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    views.add_data_arguments(parser)
    parser.add_argument("--lookups", type=int, default=200, help="patients read by the seek")
    parser.add_argument("--cold", type=int, default=30, help="of them, read again on a new connection each")
    parser.add_argument("--scans", type=int, default=10, help="of them, read by the full scan")
    parser.add_argument("--ingests", type=int, default=2, help="ingests of each kind (median)")
    parser.add_argument("--baseline", default=BASELINE, help="the commit whose ingest and reader are the baseline")
    parser.add_argument("--reuse", action="store_true", help="reuse the stores and ingest figures of the last run")
    cli = bench_kit.parsed(parser, PHASES, argv)
    if cli is None:
        return 0
    say, began, manifest = bench_kit.start(cli, WORK)
    views.warm_cache((views.WORK / "ndjson").glob("*.ndjson"))
    script = Path(__file__).resolve()
    saved = WORK / "ingests.json"
    if cli.reuse and saved.exists():
        old, new, upgrade = json.loads(saved.read_text())
        say("Reusing the stores and ingest figures of the last run")
    else:
        with tempfile.TemporaryDirectory(prefix="andon-baseline-") as folder:
            old, new = ingests(cli, export_baseline(cli.baseline, Path(folder)), say)
        shutil.copyfile(WORK / "old.duckdb", WORK / "upgraded.duckdb")
        upgrade = views.run_step(sys.executable, "upgrade", {"path": str(WORK / "upgraded.duckdb")}, 3600, script=script)
        (WORK / "upgraded.duckdb").unlink()
        saved.write_text(json.dumps([old, new, upgrade]))
        say(f"  upgrade {upgrade.get('s', 0):.1f} s {upgrade.get('error', '')}")
    keyed = {"path": str(WORK / "new.duckdb"), "lookups": cli.lookups, "cold": cli.cold}
    lookups = views.run_step(sys.executable, "lookups", keyed, 3600, script=script)
    rows = views.run_step(sys.executable, "rows", keyed, 3600, script=script)
    stream = views.run_step(sys.executable, "stream", keyed, 3600, script=script)
    scans = views.run_step(sys.executable, "scans", {"path": str(WORK / "old.duckdb"), "scans": cli.scans}, 3600,
                           script=script)
    return bench_kit.publish(
        (*old, *new, upgrade, lookups, rows, stream, scans),
        lambda: report(cli, manifest, old, new, upgrade, lookups, rows, stream, scans, views.machine_facts()),
        SECTION, cli.no_doc, say, began)


if __name__ == "__main__":
    sys.exit(main())
