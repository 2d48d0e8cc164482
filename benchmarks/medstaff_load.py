"""OPPE under load: seed PostgreSQL with the demo hospital (its OPPE profile for Medicine at
Riverside General, computed from the demo's clinical data), serve Andon with gunicorn, and time
the department's OPPE page and a practitioner's OPPE page from a second process with concurrent
signed-in users.

    .venv/bin/python benchmarks/medstaff_load.py [--users 20] [--seconds 20] [--reader chair.victor]
        [--profile]

The dataset is the demo's (issue 19, "What must show": the OPPE page p95 under 300 ms at 20
concurrent users): the made-up EHR population in the FHIR store, every measure computed over 24
months by unit and by practitioner, the practitioners made from the store's, and the Medicine
profile (30-day readmission, length of stay, in-hospital mortality over six months) on which one
4 West hospitalist is an outlier on readmission (andon/medstaff/demo_oppe.py).

Steps, each heavy one in its own process (the load benchmark's machinery, benchmarks/safety_load.py):
1. `seed`: drop and recreate the database (default `andon_bench_medstaff`), migrate, and load the
   demo hospital with a fresh FHIR store and measure cases in the benchmark's data directory
   (the demo's clinical data is laid out on the 24 months before today).
2. `andon serve` (gunicorn) on a free localhost port.
3. `load`: 20 users per scenario, closed loop, no think time, all the reader (the chair of
   Medicine by default, or the medical staff office): `/health` as the baseline, Medicine's OPPE
   page, and a random Medicine practitioner's OPPE page. Each answer must be 200 and hold what it
   should (the outlier's name in the department's outlier line; the practitioner's name in the
   heading), so an error page is never timed as a page.
4. The results go to stdout and to docs/benchmarks.md ("OPPE under load").

`--profile` also times one request of each page in-process (Django's test client, no load): wall
and CPU time, its queries, its size, the slowest queries and where the CPU goes (cProfile).

Times are never asserted: read the ratio of each page's p95 to the baseline's in the same run.
"""

import argparse
import json
import os
import random
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safety_load  # noqa: E402  (the server, the load generator and the report's machinery)

REPO = safety_load.REPO
SECTION = "## OPPE under load"
GOAL_MS = safety_load.GOAL_MS
READERS = {"chair.victor": "the chair of Medicine", "mso.quinn": "the medical staff office"}
OUTLIER = "syn-2026-prac-rgh-4w-0"  # the demo's readmission outlier (andon/measures/demo.py)
MEDICINE = ("rgh", "medicine")


def forward(args) -> list[str]:
    return ["--reader", args.reader, *safety_load.common_forward(args)]


def run_phase(args, phase: str, extra=()) -> dict:
    return safety_load.run_phase_of(__file__, args, phase, forward(args), extra)


def clinical_data_paths(data_dir: Path) -> dict[str, Path]:
    """The FHIR store and the measures' kept cases, inside the benchmark's own data directory
    (set in the environment, so the seed, the profile and the server all read the same)."""
    return {"ANDON_FHIR_STORE": data_dir / "fhir.duckdb", "ANDON_CASES_DIR": data_dir / "measure-cases"}


# --- 1. the dataset ----------------------------------------------------------------------------

def _store_counts() -> dict[str, int]:
    from django.conf import settings

    from andon.analytics.fhir import store

    connection = store.connect(settings.ANDON_FHIR_STORE, read_only=True)
    try:
        rows = connection.execute("SELECT type, count(*) FROM resources GROUP BY type ORDER BY type").fetchall()
    finally:
        connection.close()
    return dict(rows)


def _expected(reader) -> dict:
    """What the pages must hold, checked here first through the services the views call, so
    that a seed without the demo's outlier stops before anything is timed."""
    from django.utils.html import escape

    from andon.medstaff import services as medstaff
    from andon.medstaff.models import Practitioner
    from andon.platform.models import Unit
    from andon.platform.permissions import can

    medicine = Unit.objects.get(facility__code=MEDICINE[0], code=MEDICINE[1])
    profile = medstaff.access_oppe_profile(reader, medicine.pk)
    evaluation = medstaff.evaluate_department(reader, profile)
    readmission = next(i for i in evaluation.indicators if i.measure.key == "readmission-30-day")
    outliers = [row.practitioner for row in readmission.outliers]
    if [p.fhir_id for p in outliers] != [OUTLIER]:
        raise SystemExit(f"the demo's readmission outliers are {[p.fhir_id for p in outliers]}, not [{OUTLIER!r}]")
    members = [p for p in Practitioner.objects.filter(department__path__startswith=medicine.path).order_by("pk")
               if can(reader, "medstaff.view_practitioner_oppe", p)]
    return {
        "unit": medicine.pk, "period_months": profile.period_months,
        "first": evaluation.first.isoformat(), "last": evaluation.last.isoformat(),
        "indicators": [i.measure.key for i in evaluation.indicators],
        "department_cases": {i.measure.key: i.department.cases for i in evaluation.indicators},
        "outlier_line": "Outlier (outside the 99.8% limits, worse): " + escape(outliers[0].name),
        "outlier_pk": outliers[0].pk,
        # the practitioner page's heading: "OPPE: <name> <span …>"
        "practitioners": [[p.pk, f"OPPE: {escape(p.name)} <span"] for p in members],
        "linked": sum(1 for p in members if p.fhir_id),
        "in_evaluation": len(evaluation.practitioners),
    }


def phase_seed(args) -> dict:
    for path in clinical_data_paths(args.data_dir).values():  # the demo lays its data out from today
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    safety_load.recreate_database(args)
    safety_load.django_setup()
    from django.core.management import call_command
    from django.db import connection

    from andon.measures.models import MeasureResult
    from andon.platform import demo
    from andon.platform.models import User

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    migrated = time.perf_counter()
    demo.load_demo_hospital()  # also the measures' clinical data and results, and the OPPE profile
    loaded = time.perf_counter()
    with connection.cursor() as cursor:  # as autovacuum would, soon after a bulk load
        cursor.execute("VACUUM ANALYZE")
    analysed = time.perf_counter()
    return {
        **_expected(User.objects.get(username=args.reader)), "reader": args.reader,
        "store": _store_counts(), "results": MeasureResult.objects.count(),
        "practitioner_results": MeasureResult.objects.filter(stratum="practitioner").count(),
        "migrate_s": migrated - started, "demo_s": loaded - migrated, "vacuum_s": analysed - loaded,
        "postgres": connection.cursor().connection.info.server_version,
    }


# --- 3. the load ---------------------------------------------------------------------------------

def scenario_pages(seeded: dict) -> dict:
    """name -> make(chance) -> (path, what the answer must hold)."""
    practitioners = seeded["practitioners"]

    def practitioner_page(chance):
        pk, heading = chance.choice(practitioners)
        return f"/medstaff/oppe/practitioner/{pk}/", heading

    return {
        "Medicine's OPPE page": lambda chance: (f"/medstaff/oppe/department/{seeded['unit']}/",
                                                seeded["outlier_line"]),
        "a practitioner's OPPE page (random)": practitioner_page,
    }


def phase_load(args) -> dict:
    seeded = json.loads(args.seeded)
    port = args.port

    t0 = time.perf_counter()
    readers = [safety_load.Browser(port, f"127.0.1.{10 + i}") for i in range(args.users)]
    for browser in readers:
        browser.sign_in(args.reader)
    sign_in_s = time.perf_counter() - t0

    get = safety_load.checked_get  # 200 and holding what it should, or an error

    health = get(lambda chance: ("/health", ""))
    scenarios = [("baseline: /health", health)]
    scenarios += [(name, get(page)) for name, page in scenario_pages(seeded).items()]
    scenarios += [("baseline again: /health", health)]
    scenarios = [(name, readers, make) for name, make in scenarios]
    return {"results": safety_load.run_scenarios(scenarios, args.seconds), "sign_in_s": sign_in_s}


# --- profiling (optional, in-process) ----------------------------------------------------------

def phase_profile(args) -> dict:
    """One request of each page as the reader (after a first one), five times: status, whether
    it holds what it should, wall and CPU time, queries, size and the slowest queries; then one
    request under cProfile."""
    safety_load.django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from andon.platform.models import User

    seeded = json.loads(args.seeded)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=args.reader))
    pages = {"/health": lambda chance: ("/health", ""), **scenario_pages(seeded),
             "the outlier's OPPE page": lambda chance: (f"/medstaff/oppe/practitioner/{seeded['outlier_pk']}/",
                                                        seeded["outlier_line"].rsplit(": ", 1)[1])}
    chance = random.Random(args.seed)
    out = {}
    for name, page in pages.items():
        path, must_hold = page(chance)
        client.get(path)
        walls, cpus = [], []
        for _ in range(5):
            with CaptureQueriesContext(connection) as captured:
                began, began_cpu = time.perf_counter(), time.process_time()
                response = client.get(path)
                cpus.append((time.process_time() - began_cpu) * 1000)
                walls.append((time.perf_counter() - began) * 1000)
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
        out[name] = {"path": path, "status": response.status_code, "holds": must_hold.encode() in response.content,
                     "wall_ms": sorted(round(t, 1) for t in walls), "cpu_ms": sorted(round(t, 1) for t in cpus),
                     "queries": len(captured), "db_ms": round(sum(float(q["time"]) for q in captured.captured_queries)
                                                              * 1000, 1),
                     "bytes": len(response.content), "slowest": [(q["time"], q["sql"][:300]) for q in slowest],
                     "cprofile": safety_load.where_the_cpu_goes(client, path) if name != "/health" else []}
    return out


# --- 4. the report -------------------------------------------------------------------------------

def report_markdown(args, seeded: dict, load: dict, facts: dict) -> str:
    results = load["results"]
    store = seeded["store"]
    lines = [
        SECTION, "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/medstaff_load.py`. Machine: {facts['nproc']} "
        f"cores ({facts['cpu'] or 'unknown CPU'}), {facts['memory']} memory, PostgreSQL "
        f"{seeded['postgres'] // 10000}.{seeded['postgres'] % 10000} on the same machine, Python {facts['python']}.",
        "",
        f"- Dataset: the demo hospital. Its clinical data: {store.get('Patient', 0):,} patients, "
        f"{store.get('Encounter', 0):,} encounters, {store.get('Practitioner', 0):,} practitioners in the FHIR store; "
        f"{seeded['results']:,} measure results ({seeded['practitioner_results']:,} of them by practitioner, "
        "24 months). Medicine's OPPE profile at Riverside General: "
        f"{len(seeded['indicators'])} indicators ({', '.join(seeded['indicators'])}) over {seeded['period_months']} "
        f"months ({seeded['first']} to {seeded['last']}; department cases "
        f"{', '.join(f'{n:,}' for n in seeded['department_cases'].values())}), {seeded['in_evaluation']} "
        f"practitioners evaluated, one outlier on readmission.",
        f"- Seeding: migrations {seeded['migrate_s']:.1f} s; the demo hospital with its clinical data, measures and "
        f"OPPE {seeded['demo_s']:.1f} s; VACUUM ANALYZE {seeded['vacuum_s']:.1f} s.",
        f"- Server: `andon serve`, gunicorn, {args.workers} sync workers, DEBUG off. Load: a second process, "
        f"{args.users} concurrent signed-in users, closed loop with no think time, {args.seconds:g} s per scenario "
        f"after a short warm-up, all as {READERS[seeded['reader']]} ({seeded['reader']}). Medicine's page must hold "
        "the outlier line with the outlier's name; a practitioner's page (one of the "
        f"{len(seeded['practitioners'])} of Medicine, at random; {seeded['linked']} linked to the clinical data) "
        "the name in its heading. The chair and the office see the cases, so each practitioner page also reads "
        "the kept cases and records the reading in the audit log.",
        "- Baseline: `/health`. Ratio = the page's p95 / the baseline's p95 in the same run.",
        f"- Load average of the machine before the run: {facts['load']}.",
        *_reduced(args),
        "",
    ]
    lines += safety_load.results_table(results, args.users, errors_label="status codes, missing content or exceptions")
    lines += [
        "", "How to run (PostgreSQL on 127.0.0.1:5432, user postgres, trust; the database "
        "`andon_bench_medstaff` is dropped and recreated, the clinical data made again in `var/bench-medstaff/`):",
        "", "```sh",
        ".venv/bin/python benchmarks/medstaff_load.py                     # the demo's OPPE, 20 users",
        ".venv/bin/python benchmarks/medstaff_load.py --reuse --seconds 5 --no-doc   # again, same data",
        ".venv/bin/python benchmarks/medstaff_load.py --reuse --profile --no-doc     # + each page's cost, in-process",
        ".venv/bin/python benchmarks/medstaff_load.py --reuse --reader mso.quinn      # as the medical staff office",
        "```", ""]
    return "\n".join(lines)


def _reduced(args) -> list[str]:
    """A line saying so when the run is smaller than issue 19's goal."""
    smaller = [f"{name} {given:,g} (the goal: {full:,g})" for name, given, full in (
        ("users", args.users, 20), ("seconds a scenario", args.seconds, 20)) if given < full]
    if not smaller:
        return []
    return [f"- **Reduced scale**: {', '.join(smaller)}. A check that the benchmark runs, not the figures of "
            "issue 19's goal."]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    safety_load.add_common_arguments(parser, db_name="andon_bench_medstaff", data_dir="bench-medstaff", seed=20261219,
                                     seed_help="the random choice of practitioners")
    parser.add_argument("--reader", choices=sorted(READERS), default="chair.victor",
                        help="who reads the pages (both may read Medicine's OPPE and its cases)")
    parser.add_argument("--profile", action="store_true", help="also time each page in-process, with its queries")
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    # The children (phases, server) inherit these through safety_load.bench_env.
    os.environ.update({name: str(path) for name, path in clinical_data_paths(args.data_dir).items()})

    if args.phase:
        phase = {"seed": phase_seed, "load": phase_load, "profile": phase_profile}[args.phase]
        print(json.dumps(phase(args), default=str))
        return 0

    began = time.perf_counter()
    saved = args.data_dir / "seeded.json"
    if args.reuse and saved.exists():
        seeded = json.loads(saved.read_text())
        if seeded["reader"] != args.reader:  # what the pages must hold is the same; who may read is checked
            seeded = {**seeded, "reader": args.reader}
        print(f"Reusing the demo hospital in {args.db_name}.", file=sys.stderr)
    else:
        print(f"Seeding the demo hospital into {args.db_name} …", file=sys.stderr, flush=True)
        seeded = run_phase(args, "seed")
        saved.write_text(json.dumps(seeded))
        print(f"  seeded in {seeded['migrate_s'] + seeded['demo_s']:.1f} s", file=sys.stderr)
    return safety_load.profile_serve_report(args, seeded, began, run_phase, report_markdown, SECTION)


if __name__ == "__main__":
    sys.exit(main())
