"""The measure library at scale: every built-in measure over 24 months × every unit × five
equity strata, on generated populations of 10,000 and 100,000 patients, and the dashboard's
response time with those results in the database.

    .venv/bin/python benchmarks/measures.py [--sizes 10000,100000] [--spark] [--no-doc] [--results FILE]

1. Population (per size): made-up EHR patients (andon/analytics/fhir/synthetic.py: stays at
   five wards, emergency visits, coverage) and, for a tenth of the patients, copies of the CMS
   eCQM test patients under fresh ids (so the eCQMs have episodes), loaded into a fresh FHIR
   store.
2. Application (per size): a fresh SQLite database with the demo organisation, the library,
   the wards mapped to units, safety events (falls, medication events, pressure injuries) and
   monthly counts for the measures counted by hand.
3. Floor: what any computation of the library must do at least, in the same run: read the
   views its SQL uses from the store once, and stream every patient out of the store once per
   eCQM.
4. Compute: `services.compute_measures` for all measures (the eCQMs all in one pass over the
   patients, with a worker per core), in its own process: time and peak RSS, cells stored, the
   eCQMs' pass, time per measure (an eCQM's: making its cells from the pass's cases).
5. Dashboard: signed in as the CQO, the dashboard page 30 times (after 3 warm-ups) against the
   home page as the baseline: median and p95.

6. With `--spark`: the same computation on Spark local[2] (ANDON_ANALYTICS_ENGINE=spark) over the
   Parquet store of the same data (written first, in a process of its own), after the DuckDB
   computation: time, peak RSS and the JVM's,
   and its cells compared with DuckDB's (identical, differing in a sum's last digits, differing).

Figures go to docs/benchmarks.md ("Measures library"; with --spark also "Measures library on
Spark"). Times are never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_kit  # noqa: E402
import fhir_views as views  # the child runner (peak RSS) and the doc writer

REPO = views.REPO
WORK = REPO / "var" / "bench" / "measures"
SECTION = "## Measures library"
CONTENT = REPO.parent / "shared" / "conformance" / "ecqm-qicore-2024"
ECQMS = ("CMS108VTEProphylaxisFHIR", "CMS816HHHypoFHIR", "CMS871HHHyperFHIR", "CMS334FHIRPCCesareanBirth",
         "CMS71FHIRSTKAnticoagAFFlutter", "CMSFHIR529HybridHospitalWideReadmission")
FIRST, MONTHS = date(2025, 1, 1), 24  # the eCQM test patients' episodes fall in 2026
LAST = date(2026, 12, 31)
WARDS = {"rgh-4w": "rgh/4w", "rgh-5e": "rgh/5e", "rgh-6n": "rgh/6n", "rgh-icu": "rgh/icu", "lch-2a": "lch/2a"}
EMERGENCY = ("rgh-ed", "rgh/ed")
ECQM_SHARE = 0.1
REQUESTS, WARM_UP = 30, 3


def folder(size: int) -> Path:
    return WORK / f"p{size}"


def _django(size: int) -> None:
    os.environ["ANDON_DATA_DIR"] = str(folder(size) / "app")
    os.environ["ANDON_FHIR_STORE"] = str(folder(size) / "fhir.duckdb")
    os.environ["ANDON_ECQM_CONTENT"] = str(CONTENT)
    os.environ.pop("DATABASE_URL", None)  # SQLite in the data directory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "andon.settings")
    import django

    django.setup()


# --- 1. population --------------------------------------------------------------------------------

def phase_generate(args: dict) -> dict:
    from andon.analytics.cql import content
    from andon.analytics.fhir import ingest, store, synthetic

    size = args["size"]
    ndjson = folder(size) / "ndjson"
    ndjson.mkdir(parents=True, exist_ok=True)
    for stale in ndjson.glob("*.ndjson"):
        stale.unlink()
    replicas = int(size * ECQM_SHARE)
    options = synthetic.Options(size - replicas, FIRST, MONTHS, list(WARDS), EMERGENCY[0], seed=7,
                                readmission_rate=0.12, readmission_rise=0.08)
    counts = synthetic.write_ndjson(options, ndjson / "synthetic")
    cases = [c for m in ECQMS for c in content.load_cases([CONTENT], m)]
    with (ndjson / "ecqm.ndjson").open("w") as out:
        for copy in range(replicas):
            case = cases[copy % len(cases)]
            resources = [r for r in case.resources if r.get("resourceType") != "MeasureReport" and r.get("id")]
            ids = {f"{r['resourceType']}/{r['id']}": f"{r['resourceType']}/x{copy}-{r['id']}" for r in resources}
            for resource in resources:
                renamed = content.rename_references(resource, ids)
                renamed["id"] = f"x{copy}-{resource['id']}"
                out.write(json.dumps(renamed) + "\n")
    path = folder(size) / "fhir.duckdb"
    for stale in (path, Path(str(path) + ".wal")):
        stale.unlink(missing_ok=True)
    connection = store.connect(path)
    began = time.perf_counter()
    summary = ingest.load_paths(connection, [ndjson], progress=False)
    connection.close()
    return {"synthetic": counts, "replicas": replicas, "resources": summary.total.added,
            "load_s": time.perf_counter() - began}


# --- 2. application ---------------------------------------------------------------------------------

def phase_prepare(args: dict) -> dict:
    import random
    import shutil

    size = args["size"]
    shutil.rmtree(folder(size) / "app", ignore_errors=True)
    _django(size)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from andon.measures import services
    from andon.measures.models import ManualCount, Measure
    from andon.platform import content
    from andon.platform import services as platform
    from andon.platform.demo import ORGANISATION_FILE
    from andon.platform.models import Unit
    from andon.platform.roles import Role
    from andon.safety.models import SafetyEvent

    organisation = content.load_organisation(content.read_file(ORGANISATION_FILE), str(ORGANISATION_FILE))
    content.load_content([REPO / "content"])
    analyst = platform.create_user("analyst", password=None)
    platform.grant_role(analyst, Role.QUALITY_ANALYST, organisation)
    cqo = platform.create_user("cqo", password=None)
    platform.grant_role(cqo, Role.CQO, organisation)
    platform.set_mfa_required(Role.CQO, False)  # signed in by the test client: never past a TOTP step
    units = {path: Unit.objects.get(facility__code=path.split("/")[0], code=path.split("/")[1])
             for path in [*WARDS.values(), EMERGENCY[1]]}
    for location, path in [*WARDS.items(), EMERGENCY]:
        services.map_unit(analyst, "location", location, units[path])
    chance = random.Random(11)
    events = []
    start = datetime.combine(FIRST, datetime.min.time(), UTC)
    details = {"fall": lambda: {"injury_level": chance.choice(["none", "none", "minor", "moderate", "major"])},
               "medication": lambda: {"ncc_merp": chance.choice("ABCDEFGHI"), "process_stage": "administering"},
               "pressure_injury": lambda: {"stage": chance.choice(["1", "2", "3", "unstageable"]),
                                           "present_on_admission": chance.random() < 0.3}}
    for _ in range(size // 20):
        category = chance.choice(list(details))
        when = start + timedelta(minutes=chance.randint(0, 730 * 1440))
        events.append(SafetyEvent(kind="incident", category=category, taxonomy_version="2026.1",
                                  unit=units[chance.choice(list(WARDS.values()))], occurred_at=when, reported_at=when,
                                  narrative="Benchmark event", harm="none", details=details[category]()))
    SafetyEvent.objects.bulk_create(events, batch_size=2000)
    counts = []
    for measure in Measure.objects.filter(source_kind="manual"):
        for offset in range(MONTHS):
            month = date(FIRST.year + (FIRST.month - 1 + offset) // 12, (FIRST.month - 1 + offset) % 12 + 1, 1)
            for path in WARDS.values():
                denominator = chance.randint(100, 300)
                counts.append(ManualCount(measure=measure, unit=units[path], month=month, entered_by=analyst,
                                          numerator=chance.randint(0, denominator // (10 if measure.multiplier > 100 else 1)),
                                          denominator=denominator, source="Benchmark"))
    ManualCount.objects.bulk_create(counts)
    return {"events": len(events), "counts": len(counts), "measures": Measure.objects.count()}


# --- 3. floor ---------------------------------------------------------------------------------------

def phase_floor(args: dict) -> dict:
    _django(args["size"])
    from andon.analytics import kpi
    from andon.analytics.cql import population
    from andon.measures import definitions, services
    from andon.measures.models import Measure

    store = services.open_store()
    sqls = [m.definition["source"]["sql"] for m in Measure.objects.filter(source_kind="sql")] + ["SELECT * FROM encounter"]
    began = time.perf_counter()
    workspace = kpi.Workspace.for_sql(store, kpi.load_view_definitions(definitions.views_folder()), sqls)
    views_s = time.perf_counter() - began
    workspace.close()
    began = time.perf_counter()
    patients = sum(1 for _ in population.patients(store))
    read_s = time.perf_counter() - began
    store.close()
    ecqms = Measure.objects.filter(source_kind="ecqm").count()
    return {"views_s": views_s, "patients": patients, "read_s": read_s, "ecqms": ecqms, "s": views_s + ecqms * read_s}


# --- 4. compute -------------------------------------------------------------------------------------

def phase_compute(args: dict) -> dict:
    _django(args["size"])
    from andon.measures import services
    from andon.measures.models import MeasureResult

    marks = [time.perf_counter()]
    names = []

    def progress(done, total, title):
        marks.append(time.perf_counter())
        names.append(title)

    one_pass = _timed_ecqm_pass()
    began = time.perf_counter()
    done = services.compute_measures(None, first=FIRST, last=LAST, progress=progress)
    seconds = time.perf_counter() - began
    per_measure = {d.measure: round(b - a, 2) for d, a, b in zip(done, marks[:-1], marks[1:], strict=True)}
    if done and one_pass:  # the eCQMs' pass runs before the first measure's cells: not that measure's time
        per_measure[done[0].measure] = round(per_measure[done[0].measure] - sum(one_pass), 2)
    return {"s": seconds, "ecqm_pass_s": sum(one_pass), "cells": MeasureResult.objects.count(), "per_measure": per_measure,
            "errors": {d.measure: d.error for d in done if d.error},
            "ecqm_errors": sum(d.counts.get("errors", 0) for d in done)}


def _timed_ecqm_pass() -> list[float]:
    """The seconds of each one-pass evaluation of the eCQMs (compute.ecqm_cases_together), as
    the computation makes them."""
    from andon.measures import compute

    seconds, together = [], compute.ecqm_cases_together

    def timed(*args, **options):
        began = time.perf_counter()
        try:
            return together(*args, **options)
        finally:
            seconds.append(time.perf_counter() - began)

    compute.ecqm_cases_together = timed
    return seconds


# --- 6. on Spark (--spark) ---------------------------------------------------------------------------

SPARK_SECTION = "## Measures library on Spark"


def phase_export(args: dict) -> dict:
    """The Parquet store Spark reads (`andon fhir parquet`), written from the DuckDB store in a
    process of its own: its memory is DuckDB's, not the computation's on Spark."""
    _django(args["size"])
    import shutil

    from django.conf import settings

    from andon.analytics.fhir import columnar, store

    parquet = folder(args["size"]) / "parquet"
    shutil.rmtree(parquet, ignore_errors=True)
    began = time.perf_counter()
    connection = store.connect(settings.ANDON_FHIR_STORE)
    columnar.export_parquet(connection, parquet)
    connection.close()
    return {"s": time.perf_counter() - began}


def phase_spark(args: dict) -> dict:
    """The same computation on Spark local[2] over the Parquet store of the same data (phase
    export), after the DuckDB computation (phase compute): time, peak memory, and its cells
    against DuckDB's."""
    os.environ["ANDON_SPARK_CONF"] = f"spark.driver.memory={args.get('memory', '4g')}"
    _django(args["size"])
    import spark_scale
    from django.conf import settings

    from andon.analytics.spark import session
    from andon.measures import services

    parquet = folder(args["size"]) / "parquet"
    compared = args.get("compare", True)
    on_duckdb = _stored_cells() if compared else []
    settings.ANDON_ANALYTICS_ENGINE, settings.ANDON_SPARK_STORE = "spark", str(parquet)
    spark = session.spark()  # started before the clock: a cluster's session outlives a computation
    one_pass = _timed_ecqm_pass()
    began = time.perf_counter()
    done = services.compute_measures(None, first=FIRST, last=LAST)
    seconds = time.perf_counter() - began
    found = {"s": seconds, "ecqm_pass_s": sum(one_pass), "jvm_mb": spark_scale._jvm_peak_mb(spark),
             "errors": {d.measure: d.error for d in done if d.error}}
    if not compared:
        return {**found, "cells": len(_stored_cells()), "identical": None, "last_digits": None, "differ": None}
    # the measures DuckDB could not compute keep older results: no comparison for them
    left_out = set(args.get("failed_on_duckdb", ()))
    identical, last_digits, differ = _compared([row for row in on_duckdb if row[0] not in left_out],
                                               [row for row in _stored_cells() if row[0] not in left_out])
    return {**found, "not_compared": sorted(left_out), "cells": len(on_duckdb),
            "identical": identical, "last_digits": last_digits, "differ": differ}


def _stored_cells() -> list[tuple]:
    from andon.measures.models import MeasureResult

    return sorted(MeasureResult.objects.values_list("measure__key", "period_kind", "period_start", "unit_id", "stratum",
                                                    "stratum_value", "cases", "numerator", "denominator", "value"),
                  key=lambda row: tuple("" if v is None else str(v) for v in row))


def _compared(expected: list[tuple], found: list[tuple]) -> tuple[int, int, int]:
    """Cells identical; differing only in the last digits of a sum (relative 1e-12); differing."""
    identical = last_digits = differ = 0
    if [row[:7] for row in found] != [row[:7] for row in expected]:
        return 0, 0, max(len(found), len(expected))
    for mine, theirs in zip(found, expected, strict=True):
        if mine == theirs:
            identical += 1
        elif all(a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12))
                 for a, b in zip(mine[7:], theirs[7:], strict=True)):
            last_digits += 1
        else:
            differ += 1
    return identical, last_digits, differ


def spark_report(runs: list[dict]) -> str:
    lines = [SPARK_SECTION, "",
             f"Run on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC by `benchmarks/measures.py --spark`: the "
             "library's computation of the table above (\"Measures library\") on Spark local[2] (the same 2 cores), "
             "over the Parquet store of the same data (`andon fhir parquet`), after the computation on DuckDB; its "
             "cells compared with DuckDB's. Spark's session is started before the clock.", "",
             "| patients | resources | export to Parquet | compute on DuckDB | on Spark | Spark ÷ DuckDB | eCQMs' pass DuckDB / Spark "
             "| cells identical / last digits / differ | peak RSS DuckDB / Spark (JVM) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for found in runs:
        duck, spark = found.get("compute", {}), found.get("spark", {})
        if not spark or spark.get("error") or duck.get("error"):
            lines.append(f"| {found['size']:,} | | failed: {(spark.get('error') or found.get('export', {}).get('error') or duck.get('error') or 'not run')[:120]} "
                         "| | | | | | |")
            continue
        compared = ("not compared" if spark["identical"] is None
                    else f"{spark['identical']:,} / {spark['last_digits']:,} / {spark['differ']:,}")
        duck_s, ratio, duck_pass, duck_rss = ((f"{duck['s']:.1f} s", f"{spark['s'] / duck['s']:.1f}×",
                                               f"{duck['ecqm_pass_s']:.1f}", f"{duck['rss_mb']:,.0f}")
                                              if duck else ("not run (--spark-only)", "–", "–", "–"))
        lines.append(
            f"| {found['size']:,} | {found['generate'].get('resources', 0):,} | {found['export']['s']:.1f} s | {duck_s} | "
            f"{spark['s']:.1f} s | {ratio} | {duck_pass} / {spark['ecqm_pass_s']:.1f} s | "
            f"{compared} | {duck_rss} / {spark['rss_mb']:,.0f} MB ({spark['jvm_mb'] or 0:,.0f} MB) |")
    errors = runs[-1].get("spark", {}).get("errors")
    if errors:
        lines += ["", "Measures that could not be computed on Spark: " + "; ".join(f"{k}: {v}" for k, v in errors.items())]
    for found in runs:
        if found.get("spark", {}).get("not_compared"):
            lines += ["", f"Not compared at {found['size']:,} patients (DuckDB could not compute them): "
                      + ", ".join(found["spark"]["not_compared"]) + "."]
    return "\n".join(lines) + "\n"


# --- 5. dashboard -----------------------------------------------------------------------------------

def _timed(client, url: str) -> list[float]:
    for _ in range(WARM_UP):
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, url
    return times


def _p95(times: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def phase_dashboard(args: dict) -> dict:
    _django(args["size"])
    from django.conf import settings
    from django.test import Client

    from andon.platform.models import User

    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client()
    cqo = User.objects.get(username="cqo")
    client.force_login(cqo)
    found = {}
    for name, url in (("home", "/"), ("dashboard", "/measures/"), ("measure", "/measures/m/readmission-30-day/")):
        times = _timed(client, url)
        found[name] = {"median_ms": statistics.median(times) * 1000, "p95_ms": _p95(times) * 1000}
    return found


PHASES = {"generate": phase_generate, "prepare": phase_prepare, "floor": phase_floor, "compute": phase_compute,
          "export": phase_export, "spark": phase_spark, "dashboard": phase_dashboard}


def run(size: int, limit: float, say, spark: bool = False, floor: bool = True, spark_only: bool = False) -> dict:
    script = Path(__file__).resolve()
    found = {"size": size}
    if spark_only:  # too large to compute twice in one sitting: Spark's time and memory, no cells compared
        phases = ("generate", "prepare", "export", "spark")
    else:
        phases = ("generate", "prepare", *(["floor"] if floor else []), "compute",
                  *(["export", "spark"] if spark else []), "dashboard")
    for phase in phases:
        args = {"size": size, "failed_on_duckdb": sorted(found.get("compute", {}).get("errors") or {}),
                "compare": not spark_only}
        found[phase] = views.run_step(sys.executable, phase, args, limit, script=script)
        say(f"  {size:,} {phase}: {found[phase]}")
        if found[phase].get("error"):
            break
    return found


def report(runs: list[dict]) -> str:
    today = time.strftime("%Y-%m-%d")
    lines = [SECTION, "",
             "Run by `benchmarks/measures.py` on this 2-core machine: the whole library (SQL measures, eCQMs, event rates, "
             "counts by hand) over 24 months × every unit × five equity strata (plus each unit × stratum), on made-up "
             "patients with a tenth replaced by copies of the CMS eCQM test patients (fresh ids). **Floor**: reading the "
             "views the SQL measures use once, plus streaming every patient out of the store once per eCQM. **Dashboard**: "
             f"{REQUESTS} requests after {WARM_UP} warm-ups, signed in as the CQO, against the home page as baseline.", "",
             "| patients | resources | compute | floor | compute ÷ floor | peak RSS | cells | dashboard median / p95 | "
             "home median / p95 | measure page p95 | run |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for found in runs:
        compute, floor, board = found.get("compute", {}), found.get("floor", {}), found.get("dashboard", {})
        if compute.get("error") or not compute:
            lines.append(f"| {found['size']:,} | | failed: {compute.get('error', 'not run')[:120]} | | | | | | | | {today} |")
            continue
        floor_s, ratio = (f"{floor['s']:.1f} s", f"{compute['s'] / floor['s']:.2f}×") if floor.get("s") else ("not run", "")
        resources = found["generate"].get("resources", 0)
        lines.append(
            f"| {found['size']:,} | {resources:,} | {compute['s']:.1f} s | {floor_s} | "
            f"{ratio} | {compute['rss_mb']:,.0f} MB | {compute['cells']:,} | "
            f"{board.get('dashboard', {}).get('median_ms', 0):.0f} / {board.get('dashboard', {}).get('p95_ms', 0):.0f} ms | "
            f"{board.get('home', {}).get('median_ms', 0):.0f} / {board.get('home', {}).get('p95_ms', 0):.0f} ms | "
            f"{board.get('measure', {}).get('p95_ms', 0):.0f} ms | {today} |")
    if len(runs) >= 2 and all(r.get("compute", {}).get("s") for r in runs):
        small, large = runs[0], runs[-1]
        growth = large["compute"]["s"] / small["compute"]["s"]
        lines += ["", f"From {small['size']:,} to {large['size']:,} patients ({large['size'] / small['size']:.0f}× the "
                      f"patients) the computation took {growth:.1f}× as long."]
    ecqms = [f"{r['size']:,} patients {r['compute']['ecqm_pass_s']:.1f} s" for r in runs if r.get("compute", {}).get("ecqm_pass_s")]
    if ecqms:
        lines += ["", "The eCQMs evaluated together in one pass over the patients (part of compute): " + ", ".join(ecqms) + "."]
    slowest = sorted(runs[-1].get("compute", {}).get("per_measure", {}).items(), key=lambda kv: -kv[1])[:8]
    if slowest:
        lines += ["", f"Slowest measures at {runs[-1]['size']:,} patients: "
                  + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest) + "."]
    errors = runs[-1].get("compute", {}).get("errors")
    if errors:
        lines += ["", "Measures that could not be computed: " + "; ".join(f"{k}: {v}" for k, v in errors.items())]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--limit", type=float, default=3600, help="seconds one phase may take")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--spark", action="store_true", help="also compute on Spark local[2] (the spark extra, Java 17)")
    parser.add_argument("--no-floor", action="store_true", help="leave the floor out (at the largest sizes: its time)")
    parser.add_argument("--spark-only", action="store_true",
                        help="compute on Spark alone, DuckDB's cells not computed nor compared (a size too large to "
                             "compute twice in one sitting; its row's DuckDB columns say not run)")
    parser.add_argument("--results", type=Path, help="append each size's figures (a JSON line) to this file, "
                        "and report every size in it (sizes run apart, one table)")
    views.add_phase_arguments(parser, PHASES)
    cli = parser.parse_args(argv)
    if views.ran_phase(cli, PHASES):
        return 0
    if not CONTENT.is_dir():
        print(f"the shared eCQM content is not at {CONTENT}: skipping the measures benchmark", file=sys.stderr)
        return 0

    def say(text):
        print(text, file=sys.stderr, flush=True)

    runs = bench_kit.remembered([run(int(size), cli.limit, say, cli.spark or cli.spark_only, not cli.no_floor, cli.spark_only)
                                 for size in cli.sizes.split(",")],
                                cli.results, lambda found: found["size"])
    text = report(runs)
    print(text)
    if not cli.no_doc:
        views.write_doc(text, SECTION)
    if cli.spark or cli.spark_only:
        text = spark_report(runs)
        print(text)
        if not cli.no_doc:
            views.write_doc(text, SPARK_SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
