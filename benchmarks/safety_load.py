"""Safety events under load: seed PostgreSQL with N generated events, serve Andon with gunicorn,
and time the safety pages from a second process with concurrent signed-in users.

    .venv/bin/python benchmarks/safety_load.py [--events 200000] [--users 20] [--seconds 20]

Steps (each heavy step in its own process, so the timings do not share a Python interpreter):

1. `seed`: drop and recreate the database (default `andon_bench` on 127.0.0.1:5432, user
   postgres), migrate, load the demo hospital and the shipped content (ANDON_DEMO=1), then
   bulk-insert N events from a deterministic generator; reports rows/s.
2. `andon serve` (gunicorn, --workers) on a free localhost port.
3. `load`: a separate process signs users in through /accounts/login/ and runs each scenario
   for a fixed time with `--users` threads (closed loop, no think time: every user sends its
   next request as soon as the previous answer arrives): the trivial pages (/health and the
   reporter's home page) as the baseline, then submit, triage queue, event page and analysis.
4. The results go to stdout and to docs/benchmarks.md ("Safety events under load").

`--profile` also counts the queries of one request of each page and EXPLAIN ANALYZEs the
analysis queries (in-process, no load), and prints them.

Times are never asserted: the machine is noisy. Read the ratio of each page's p95 to the
baseline's p95 measured in the same run.
"""

import argparse
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
SECTION = "## Safety events under load"
GOAL_MS = 300.0
DEMO_PASSWORD = "andon-demo-2026"
OFFICER, REPORTER = "pso.hana", "nurse.ana"


# --- environment ---------------------------------------------------------------------------------

def bench_env(args) -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": f"postgres://{args.db_user}@{args.db_host}:{args.db_port}/{args.db_name}",
        "ANDON_DATA_DIR": str(args.data_dir),
        "ANDON_DEMO": "1",
        "ANDON_DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "andon.settings",
        "SECRET_KEY": "benchmark-only-secret-key-not-for-production-0123456789",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "TQDM_DISABLE": "1",  # the demo loader's progress bars
        "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    return env


def run_phase(args, phase: str, extra=()) -> dict:
    """Run this script in a child process for one phase; it prints one JSON line last."""
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, *forward(args), *extra]
    done = subprocess.run(command, env=bench_env(args), cwd=REPO, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed ({done.returncode})")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def forward(args) -> list[str]:
    return ["--events", str(args.events), "--users", str(args.users), "--seconds", str(args.seconds),
            "--workers", str(args.workers), "--db-name", args.db_name, "--db-host", args.db_host,
            "--db-port", str(args.db_port), "--db-user", args.db_user, "--data-dir", str(args.data_dir),
            "--seed", str(args.seed)]


def django_setup():
    import django

    django.setup()


# --- 1. the database and the generator --------------------------------------------------------

def recreate_database(args) -> None:
    import psycopg

    with psycopg.connect(host=args.db_host, port=args.db_port, user=args.db_user, dbname="postgres",
                         autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{args.db_name}"')


NARRATIVES = {
    "medication": ["Wrong dose of {drug} drawn up; noticed at the bedside check.",
                   "{drug} given an hour late after the round was interrupted.",
                   "Two patients with similar names; {drug} nearly given to the wrong one."],
    "fall": ["Patient found on the floor beside the bed at night; call bell out of reach.",
             "Patient slipped in the bathroom while walking unaided.",
             "Patient fell while transferring from the chair to the bed."],
    "hai": ["Positive blood culture on day 5 after a central line was placed.",
            "Wound redness and discharge at the surgical site on day 3."],
    "device": ["Infusion pump alarm silenced and not reset; occlusion missed for an hour.",
               "Monitor lead disconnected; the alarm did not sound at the station."],
    "surgery_anaesthesia": ["Site marking missing when the patient arrived in theatre.",
                            "Swab count discrepancy at closure; found on the x-ray."],
    "blood": ["Sample tube labelled at the desk rather than at the bedside.",
              "Platelets issued for the wrong patient; stopped at the bedside check."],
    "perinatal": ["Delay in escalating an abnormal trace on the labour ward.",
                  "Neonate's identification band missing after transfer."],
    "pressure_injury": ["Pressure injury on the sacrum found at the morning skin check.",
                        "Heel pressure injury found; repositioning chart incomplete."],
    "vte": ["Prophylaxis not prescribed after admission; DVT diagnosed on day 6.",
            "Pulmonary embolism after surgery; risk assessment not documented."],
    "other": ["Wet floor in the corridor outside the ward without a sign.",
              "Fire door propped open overnight.", "Patient discharged without the discharge letter."],
}
DRUGS = ["enoxaparin", "insulin", "morphine", "gentamicin", "warfarin", "paracetamol", "vancomycin", "heparin"]
KINDS = [("incident", 45), ("near_miss", 28), ("unsafe_condition", 12), ("good_catch", 9), ("excellent_care", 6)]
CATEGORIES = [("medication", 30), ("fall", 20), ("other", 12), ("pressure_injury", 8), ("device", 8), ("hai", 6),
              ("vte", 5), ("surgery_anaesthesia", 4), ("blood", 4), ("perinatal", 3)]
HARMS = [("none", 44), ("mild", 30), ("moderate", 14), ("severe", 5), ("death", 1), ("unknown", 6)]


def _weighted(pairs):
    values, weights = zip(*pairs, strict=True)
    return list(values), list(weights)


def generate_events(count: int, seed: int, units: list, reporters: list, officer, tax, start_pk: int, now):
    """Yield unsaved SafetyEvent objects: a realistic mix over the 3 years before `now`."""
    from andon.safety import sac, services
    from andon.safety.models import Review, SafetyEvent, Source, Status

    chance = random.Random(seed)
    kinds, kind_w = _weighted(KINDS)
    categories, category_w = _weighted(CATEGORIES)
    harms, harm_w = _weighted(HARMS)
    # Wards report most; service lines and departments less.
    unit_w = [8 if unit.kind == "ward" else 4 if unit.kind == "department" else 1 for unit in units]
    severities, probabilities = list(sac.SEVERITIES), list(sac.PROBABILITIES)
    span = timedelta(days=3 * 365)
    specs = {c["code"]: c for c in tax.categories}
    for i in range(count):
        # Slightly more reports in recent months (reporting culture improves).
        age = span * (1 - chance.random() ** 0.85)
        occurred = now - age
        kind = chance.choices(kinds, kind_w)[0]
        category = chance.choices(categories, category_w)[0]
        details = {}
        for field in specs[category]["fields"]:
            if not field.get("required") and chance.random() < 0.3:
                continue
            if field["type"] == "choice":
                details[field["code"]] = chance.choice(field["choices"])["code"]
            elif field["type"] == "boolean":
                details[field["code"]] = chance.random() < 0.5
            elif field["type"] == "integer":
                details[field["code"]] = chance.randint(0, 10)
            else:
                details[field["code"]] = chance.choice(DRUGS if category == "medication" else
                                                       ["Volumetric infusion pump", "Bed rail", "ECG monitor"])
        clean, problems = tax.clean_details(category, details)
        assert not problems and clean == details, (category, details, problems)
        imported = age > timedelta(days=730) and chance.random() < 0.08
        anonymous = not imported and chance.random() < 0.08
        reported = min(now, occurred + timedelta(minutes=chance.randint(5, 72 * 60)))
        if anonymous:
            reported = reported.replace(hour=0, minute=0, second=0, microsecond=0)
        pk = start_pk + i
        fields = dict(
            pk=pk, reference=f"EV-{reported:%Y}-{pk:06d}", source=Source.IMPORT if imported else Source.REPORT,
            kind=kind, category=category, reported_category=category, taxonomy_version=tax.version,
            unit=chance.choices(units, unit_w)[0], occurred_at=occurred, reported_at=reported,
            narrative=chance.choice(NARRATIVES[category]).format(drug=chance.choice(DRUGS)),
            details=details, harm=chance.choices(harms, harm_w)[0] if kind == "incident" else "",
            reporter=None if (anonymous or imported) else chance.choice(reporters),
            is_anonymous=anonymous, reporter_shares_identity=not anonymous and not imported and chance.random() < 0.2,
            pses_entered_at=reported,
        )
        if imported:
            fields["details"] = {**details, "reference_external": f"OLD-{pk}"}
        _workflow(fields, chance, now - reported, officer, severities, probabilities, Review, Status, sac, services)
        event = SafetyEvent(**fields)  # the status is protected (FSM): set only when built
        if anonymous:
            event.issue_receipt()
        yield event


def _workflow(event: dict, chance, waited: timedelta, officer, severities, probabilities, Review, Status, sac,
              services):
    """Where the event is now: older events are mostly closed; the newest wait for triage."""
    days = waited.days
    imported = event["source"] == "import"
    if event["kind"] == "excellent_care" or imported:
        status = Status.CLOSED if (days > 30 or imported) else Status.SUBMITTED
    elif days < 3:
        status = chance.choices([Status.SUBMITTED, Status.TRIAGE, Status.REVIEW], [70, 20, 10])[0]
    elif days < 30:
        status = chance.choices([Status.SUBMITTED, Status.TRIAGE, Status.REVIEW, Status.INVESTIGATION,
                                 Status.CLOSED], [6, 8, 40, 6, 40])[0]
    elif days < 120:
        status = chance.choices([Status.REVIEW, Status.INVESTIGATION, Status.ACTION_PLANNING, Status.CLOSED],
                                [10, 4, 8, 78])[0]
    else:
        status = chance.choices([Status.ACTION_PLANNING, Status.CLOSED, Status.TRIAGE], [1, 98.9, 0.1])[0]
    event["status"] = status
    if status == Status.SUBMITTED:
        return
    if not imported and event["kind"] != "excellent_care":
        triaged = event["reported_at"] + timedelta(hours=chance.randint(2, 60))
        severity, probability = chance.choice(severities), chance.choice(probabilities)
        score = sac.score(severity, probability)
        sentinel = event["harm"] in ("death", "severe") and chance.random() < 0.3
        if status == Status.INVESTIGATION or sac.requires_rca(score, sentinel):
            review = Review.RCA
        elif status == Status.TRIAGE:
            review = ""
        else:
            review = chance.choice([Review.NONE, Review.LOCAL, Review.AGGREGATED])
        event.update(sac_scheme=sac.SCHEME, sac_severity=severity, sac_probability=probability, sac_score=score,
                     is_sentinel=sentinel, review=review, first_feedback_at=triaged)
        if status != Status.TRIAGE:
            event.update(triaged_by=officer, triaged_at=triaged)
        if review == Review.RCA and status != Status.TRIAGE:
            event["rca_start_due"], event["rca_complete_due"] = services.rca_deadlines(triaged)
            event["rca_started_at"] = triaged + timedelta(hours=chance.randint(4, 60))
        if chance.random() < 0.05:  # triage re-categorised it
            event["category"] = chance.choice([c for c, _ in CATEGORIES])
    if status == Status.CLOSED:
        event["closed_at"] = event["reported_at"] + timedelta(days=chance.randint(3, 60))
        event["closing_summary"] = "Thank you for reporting. The team reviewed the event and changed the process."


def phase_seed(args) -> dict:
    recreate_database(args)
    django_setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from andon.platform import demo
    from andon.platform.models import Unit, User
    from andon.safety import taxonomy
    from andon.safety.models import SafetyEvent

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    migrated = time.perf_counter()
    demo.load_demo_hospital()  # also loads content/ (the taxonomy) and the 24 demo events
    loaded = time.perf_counter()

    tax = taxonomy.current()
    units = list(Unit.objects.filter(active=True).order_by("pk"))
    reporters = list(User.objects.filter(is_demo=True).order_by("pk"))
    officer = User.objects.get(username=OFFICER)
    start_pk = (SafetyEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    batch, inserted, batch_size = [], 0, 5000
    seed_start = time.perf_counter()
    for event in generate_events(args.events, args.seed, units, reporters, officer, tax, start_pk, timezone.now()):
        batch.append(event)
        if len(batch) == batch_size:
            SafetyEvent.objects.bulk_create(batch)
            inserted += len(batch)
            batch = []
    if batch:
        SafetyEvent.objects.bulk_create(batch)
        inserted += len(batch)
    with connection.cursor() as cursor:
        table = SafetyEvent._meta.db_table
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    seeded = time.perf_counter()
    with connection.cursor() as cursor:  # as autovacuum would, soon after a bulk load
        cursor.execute(f"VACUUM ANALYZE {SafetyEvent._meta.db_table}")
    analysed = time.perf_counter()
    pks = SafetyEvent.objects.order_by("pk").values_list("pk", flat=True)
    return {
        "events": inserted, "total_events": SafetyEvent.objects.count(),
        "queue": SafetyEvent.objects.filter(status__in=["submitted", "triage"], source="report")
        .exclude(kind="excellent_care").count(),
        "first_pk": pks.first(), "last_pk": pks.last(),
        "unit_4w": Unit.objects.get(facility__code="rgh", code="4w").pk,
        "migrate_s": migrated - started, "demo_s": loaded - migrated,
        "seed_s": seeded - seed_start, "rows_per_s": inserted / (seeded - seed_start),
        "vacuum_s": analysed - seeded, "postgres": connection.cursor().connection.info.server_version,
    }


# --- 2. the server -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(args, port: int):
    log = open(args.data_dir / "gunicorn.log", "w")  # noqa: SIM115 (closed with the server)
    command = [sys.executable, "-m", "andon.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(args.workers)]
    server = subprocess.Popen(command, env=bench_env(args), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server, log
        except OSError:
            time.sleep(0.3)
    stop_server(server, log)
    raise SystemExit("the server did not answer /health within 60 s (see var/bench/gunicorn.log)")


def stop_server(server, log) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)
    log.close()


# --- 3. the load generator (second process) ----------------------------------------------------

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """One signed-in user: cookies, and a connection that reopens when gunicorn closes it."""

    def __init__(self, port: int, source: str = "127.0.0.1"):
        self.port = port
        self.cookies: dict[str, str] = {}
        # Each user from its own loopback address, as from its own workstation (sign-in rate
        # limits are per address: allauth allows 30 sign-ins a minute from one).
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
        return response.status, data

    def token(self, path: str) -> str:
        status, page = self.request("GET", path)
        found = TOKEN.search(page.decode())
        if status != 200 or not found:
            raise RuntimeError(f"no CSRF token on {path} ({status})")
        return found.group(1)

    def sign_in(self, username: str) -> None:
        token = self.token("/accounts/login/")
        status, _ = self.request("POST", "/accounts/login/",
                                 {"csrfmiddlewaretoken": token, "login": username, "password": DEMO_PASSWORD})
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"sign-in of {username} failed ({status})")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = p / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def run_scenario(name: str, browsers: list, make_request, seconds: float) -> dict:
    """Every browser in its own thread sends requests back to back for `seconds`."""
    latencies, errors, lock = [], [], threading.Lock()
    start_gate = threading.Barrier(len(browsers) + 1)
    deadline_box = {}

    def user(index, browser):
        chance = random.Random(index)
        start_gate.wait()
        mine, bad = [], []
        while time.perf_counter() < deadline_box["deadline"]:
            began = time.perf_counter()
            try:
                ok, what = make_request(browser, chance)
            except Exception as problem:  # noqa: BLE001 (a failed request is a result)
                ok, what = False, repr(problem)
            elapsed = (time.perf_counter() - began) * 1000
            mine.append(elapsed)
            if not ok:
                bad.append(what)
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=user, args=(i, b)) for i, b in enumerate(browsers)]
    for thread in threads:
        thread.start()
    deadline_box["deadline"] = time.perf_counter() + seconds
    began = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {
        "scenario": name, "requests": len(latencies), "errors": len(errors),
        "error_sample": sorted(set(errors))[:3],
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": _percentile(latencies, 95), "p99": _percentile(latencies, 99),
        "max": max(latencies, default=float("nan")), "rps": len(latencies) / wall,
    }


def phase_load(args) -> dict:
    seeded = json.loads(args.seeded)
    port = args.port
    first, last = seeded["first_pk"], seeded["last_pk"]
    year_ago = date.today() - timedelta(days=365)

    def signed_in(username, network):
        browsers = [Browser(port, f"127.0.{network}.{10 + i}") for i in range(args.users)]
        for browser in browsers:
            browser.sign_in(username)
        return browsers

    t0 = time.perf_counter()
    officers, reporters = signed_in(OFFICER, 1), signed_in(REPORTER, 2)
    sign_in_s = time.perf_counter() - t0
    report_tokens = {id(b): b.token("/safety/report/?new=1") for b in reporters}

    def get(path, expect=200):
        def make(browser, chance):
            status, _ = browser.request("GET", path(chance) if callable(path) else path)
            return status == expect, f"{status}"
        return make

    def submit(browser, chance):
        occurred = (datetime.now(UTC) - timedelta(hours=chance.randint(1, 48))).strftime("%Y-%m-%dT%H:%M")
        status, body = browser.request("POST", "/safety/report/", {
            "csrfmiddlewaretoken": report_tokens[id(browser)], "kind": "incident", "category": "fall",
            "unit": str(seeded["unit_4w"]), "occurred_at": occurred, "harm": "mild",
            "narrative": "Patient found on the floor beside the bed; call bell out of reach (benchmark).",
            "immediate_action": "Checked for injury, informed the doctor.",
            "details.injury_level": "minor", "details.assisted": "no", "details.risk_assessed": "yes",
        })
        return status == 302, f"{status}"

    scenarios = [
        ("baseline: /health", officers, get("/health")),
        ("baseline: home page (reporter)", reporters, get("/")),
        ("submit a report (POST)", reporters, submit),
        ("triage queue", officers, get("/safety/triage/")),
        ("event page (random event)", officers, get(lambda chance: f"/safety/events/{chance.randint(first, last)}/")),
        ("analysis, all events", officers, get("/safety/analysis/")),
        ("analysis, last 12 months", officers, get(f"/safety/analysis/?from={year_ago.isoformat()}")),
        ("baseline again: /health", officers, get("/health")),
    ]
    if args.only:
        wanted = args.only.split(",")
        scenarios = [s for s in scenarios if s[0].startswith("baseline") or any(w in s[0] for w in wanted)]
    results = []
    for name, browsers, make in scenarios:
        # A short warm-up, not counted: every worker has imported its views and templates.
        run_scenario(name, browsers, make, min(2.0, args.seconds / 5))
        results.append(run_scenario(name, browsers, make, args.seconds))
        print(f"  {name:<34} p50 {results[-1]['p50']:7.1f} ms  p95 {results[-1]['p95']:7.1f} ms  "
              f"{results[-1]['rps']:6.1f} req/s  errors {results[-1]['errors']}", file=sys.stderr, flush=True)
    return {"results": results, "sign_in_s": sign_in_s}


# --- profiling (optional, in-process) ----------------------------------------------------------

def phase_profile(args) -> dict:
    django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from andon.platform.models import User
    from andon.safety import analysis, taxonomy
    from andon.safety.models import SafetyEvent

    officer = User.objects.get(username=OFFICER)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(officer)
    some = SafetyEvent.objects.order_by("pk").values_list("pk", flat=True)[1000]
    pages = {"home": "/", "triage queue": "/safety/triage/", "event page": f"/safety/events/{some}/",
             "analysis": "/safety/analysis/"}
    out = {}
    for name, path in pages.items():
        client.get(path)
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            status = client.get(path).status_code
            elapsed = (time.perf_counter() - began) * 1000
        slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:3]
        out[name] = {"status": status, "ms": round(elapsed, 1), "queries": len(captured),
                     "slowest": [(q["time"], q["sql"][:300]) for q in slowest]}
    # EXPLAIN ANALYZE of what the analysis page asks, one queryset at a time.
    events = analysis.events_in_scope(officer)
    tax = taxonomy.current()
    began = time.perf_counter()
    analysis.summarise(events, tax)
    out["summarise_ms"] = round((time.perf_counter() - began) * 1000, 1)
    with CaptureQueriesContext(connection) as captured:
        analysis.summarise(events, tax)
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan = [row[0] for row in cursor.fetchall()]
            plans.append({"sql": query["sql"][:400], "plan": plan})
    out["summarise_queries"] = len(captured)
    out["plans"] = plans
    return out


# --- shared by the load benchmarks (compliance, risk, medstaff, voice) ------------------------------

def run_phase_of(script: str, args, phase: str, forwarded: list[str], extra=()) -> dict:
    """Run `script` in a child process for one phase with the benchmark's environment; the phase
    prints one JSON line last."""
    command = [sys.executable, str(Path(script).resolve()), "--phase", phase, *forwarded, *extra]
    done = subprocess.run(command, env=bench_env(args), cwd=REPO, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed ({done.returncode})")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def run_scenarios(scenarios, seconds: float, width: int = 38) -> list[dict]:
    """Each (name, browsers, make) after a short warm-up (not counted), one after the other; a
    line per scenario on stderr."""
    results = []
    for name, browsers, make in scenarios:
        run_scenario(name, browsers, make, min(2.0, seconds / 5))  # warm-up: every worker has its views
        results.append(run_scenario(name, browsers, make, seconds))
        row = results[-1]
        print(f"  {name:<{width}} p50 {row['p50']:7.1f} ms  p95 {row['p95']:7.1f} ms  {row['rps']:6.1f} req/s  "
              f"errors {row['errors']}", file=sys.stderr, flush=True)
    return results


def checked_get(page):
    """A scenario's request: page(chance) -> (path, what the answer must hold); ok only for a 200
    holding it, so that an error page is never timed as the page."""
    def make(browser, chance):
        path, must_hold = page(chance)
        status, body = browser.request("GET", path)
        ok = status == 200 and must_hold.encode() in body
        return ok, f"{status}" if status != 200 else f"{path} lacks {must_hold!r}"
    return make


def load_average() -> str:
    return " / ".join(f"{n:.1f}" for n in os.getloadavg()) + " (1, 5, 15 min)"


def results_table(results: list[dict], users: int, goal_ms: float = GOAL_MS,
                  errors_label: str = "status codes, missing content or exceptions") -> list[str]:
    """The results table (ratio to the first row, the baseline), the goal line and the errors."""
    baseline = results[0]
    lines = ["| Scenario | Requests | p50 ms | p95 ms | p99 ms | max ms | req/s | errors | p95 / baseline | "
             f"p95 < {goal_ms:.0f} ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for row in results:
        ratio = row["p95"] / baseline["p95"] if baseline["p95"] else float("nan")
        met = "yes" if row["p95"] < goal_ms else "**no**"
        lines.append(f"| {row['scenario']} | {row['requests']:,} | {row['p50']:.0f} | {row['p95']:.0f} | "
                     f"{row['p99']:.0f} | {row['max']:.0f} | {row['rps']:.1f} | {row['errors']} | {ratio:.1f}× | "
                     f"{met} |")
    pages = [row for row in results if not row["scenario"].startswith("baseline")]
    missed = [row["scenario"] for row in pages if row["p95"] >= goal_ms]
    lines += ["", (f"Goal (p95 under {goal_ms:.0f} ms for each page at {users} users): "
                   + ("**met** for every page." if not missed else f"**not met** for: {', '.join(missed)}."))]
    errors = [f"{row['scenario']}: {', '.join(row['error_sample'])}" for row in results if row["errors"]]
    if errors:
        lines += ["", f"Errors ({errors_label}, a sample): " + "; ".join(errors) + "."]
    return lines


def add_common_arguments(parser, *, db_name: str, data_dir: str, seed: int, seed_help: str | None = None) -> None:
    """The options every load benchmark takes."""
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (2 cores: 4)")
    parser.add_argument("--seed", type=int, default=seed, help=seed_help)
    parser.add_argument("--db-name", default=db_name)
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", type=int, default=5432)
    parser.add_argument("--db-user", default="postgres")
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / data_dir)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database of the last run")
    parser.add_argument("--phase", choices=["seed", "load", "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seeded", help=argparse.SUPPRESS)


def common_forward(args) -> list[str]:
    return ["--users", str(args.users), "--seconds", str(args.seconds), "--workers", str(args.workers),
            "--db-name", args.db_name, "--db-host", args.db_host, "--db-port", str(args.db_port),
            "--db-user", args.db_user, "--data-dir", str(args.data_dir), "--seed", str(args.seed)]


def serve_and_load(args, run_load) -> dict:
    """Start the server on a free port, run `run_load(port)` (the load phase), stop the server."""
    shutil.rmtree(args.data_dir / "cache", ignore_errors=True)  # sign-in rate-limit counters of an earlier run
    port = free_port()
    server, log = start_server(args, port)
    try:
        return run_load(port)
    finally:
        stop_server(server, log)


def profile_serve_report(args, seeded: dict, began: float, run_phase, report_markdown, section: str,
                         load_extra=()) -> int:
    """The end of a load benchmark's main(): the in-process profile when asked, the server and the
    load phase, the report to stdout and (unless --no-doc) to its section of docs/benchmarks.md."""
    if getattr(args, "profile", False):
        print(json.dumps(run_phase(args, "profile", ["--seeded", json.dumps(seeded)]), indent=1))
    facts = {**machine_facts(), "load": load_average()}
    load = serve_and_load(args, lambda port: run_phase(
        args, "load", ["--port", str(port), "--seeded", json.dumps(seeded), *load_extra]))
    text = report_markdown(args, seeded, load, facts)
    print(text)
    if not args.no_doc:
        write_doc(text, section)
    print(f"Total {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return 0


def where_the_cpu_goes(client, path: str, top: int = 12) -> list[str]:
    """The functions of one request with the most cumulative time (cProfile), ours and the
    libraries' that matter (templates, charts, DuckDB, the database driver)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    client.get(path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(r"andon/|django/template/base|duckdb|psycopg/cursor", top)
    lines = [line.strip() for line in out.getvalue().splitlines() if line.strip()]
    start = next((n for n, line in enumerate(lines) if line.startswith("ncalls")), len(lines))
    return lines[start:start + top + 1]


# --- 4. the report -------------------------------------------------------------------------------

def machine_facts() -> dict:
    memory = ""
    try:
        kib = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    cpu = ""
    try:
        cpu = next(line for line in open("/proc/cpuinfo") if line.startswith("model name")).split(":", 1)[1].strip()
    except (OSError, StopIteration):
        pass
    return {"nproc": os.cpu_count(), "memory": memory, "cpu": cpu, "python": platform.python_version()}


def report_markdown(args, seeded: dict, load: dict, facts: dict) -> str:
    results = load["results"]
    lines = [
        SECTION, "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/safety_load.py`. "
        f"Machine: {facts['nproc']} cores ({facts['cpu'] or 'unknown CPU'}), {facts['memory']} memory, "
        f"PostgreSQL {seeded['postgres'] // 10000}.{seeded['postgres'] % 10000} on the same machine, Python "
        f"{facts['python']}.",
        "",
        f"- Dataset: {seeded['total_events']:,} safety events ({seeded['events']:,} generated over 3 years, "
        f"seed {args.seed}; {seeded['queue']:,} waiting in the triage queue), demo hospital (2 facilities).",
        f"- Seeding: {seeded['seed_s']:.1f} s, {seeded['rows_per_s']:,.0f} rows/s (bulk_create, batches of 5,000); "
        f"migrate {seeded['migrate_s']:.1f} s, demo hospital {seeded['demo_s']:.1f} s, VACUUM ANALYZE "
        f"{seeded['vacuum_s']:.1f} s.",
        f"- Server: `andon serve`, gunicorn, {args.workers} sync workers, DEBUG off.",
        f"- Load: a second process, {args.users} concurrent signed-in users (threads), closed loop with no think "
        f"time, {args.seconds:g} s per scenario after a short warm-up. Officer pages as {OFFICER} (whole "
        f"organisation); the form and the home page as {REPORTER}.",
        "- Baseline: `/health` (a public view, one `SELECT 1`; the session is still read, and saved once a minute). "
        "Ratio = the page's p95 / the baseline's p95 in the same run.",
        "",
    ]
    lines += results_table(results, args.users, errors_label="status codes or exceptions")
    lines += [
        "",
        "How to run (about 5 minutes at 200,000 events; PostgreSQL on 127.0.0.1:5432, user postgres, trust):",
        "",
        "```sh",
        "make bench                       # every benchmark, default sizes",
        ".venv/bin/python benchmarks/safety_load.py --events 200000 --users 20 --seconds 20",
        ".venv/bin/python benchmarks/safety_load.py --events 20000 --seconds 5 --no-doc   # a quick look",
        ".venv/bin/python benchmarks/safety_load.py --profile --no-doc   # + query counts and EXPLAIN ANALYZE",
        "```",
        "",
        "The database `andon_bench` is dropped and recreated; the server's files and log are in `var/bench/`. "
        "Figures move by 10–20 % between runs on a shared machine: compare ratios, not milliseconds.",
        "",
    ]
    return "\n".join(lines)


def write_doc(text: str, section: str = SECTION) -> None:
    """Replace the section in docs/benchmarks.md (or create the file), keeping the notes that
    follow under `### ` headings that the benchmark does not write."""
    SECTION = section  # noqa: N806 (the heading this benchmark owns)
    if DOC.exists():
        current = DOC.read_text()
    else:
        current = "# Benchmarks\n\nMeasured, never asserted: see each section for how to run it.\n\n"
    start = current.find(SECTION)
    if start == -1:
        DOC.write_text(current.rstrip() + "\n\n" + text)
        return
    end = current.find("\n## ", start + len(SECTION))
    # Hand-written notes under the section live in "### " subsections after the marker.
    notes = current.find("\n<!-- notes -->", start)
    stop = notes if notes != -1 and (end == -1 or notes < end) else end
    DOC.write_text(current[:start] + text.rstrip() + "\n" + (current[stop:] if stop != -1 else ""))


# --- main ----------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (2 cores: 4)")
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--db-name", default="andon_bench")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", type=int, default=5432)
    parser.add_argument("--db-user", default="postgres")
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--profile", action="store_true", help="also count queries and EXPLAIN the analysis")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database of the last run")
    parser.add_argument("--only", default="", help="comma-separated scenario name parts (baselines always run)")
    parser.add_argument("--phase", choices=["seed", "load", "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seeded", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)

    if args.phase:
        phase = {"seed": phase_seed, "load": phase_load, "profile": phase_profile}[args.phase]
        print(json.dumps(phase(args), default=str))
        return 0

    began = time.perf_counter()
    saved = args.data_dir / "seeded.json"
    if args.reuse and saved.exists():
        seeded = json.loads(saved.read_text())
        print(f"Reusing {seeded['total_events']:,} events in {args.db_name}.", file=sys.stderr)
    else:
        print(f"Seeding {args.events:,} events into {args.db_name} …", file=sys.stderr, flush=True)
        seeded = run_phase(args, "seed")
        saved.write_text(json.dumps(seeded))
        print(f"  {seeded['events']:,} events in {seeded['seed_s']:.1f} s ({seeded['rows_per_s']:,.0f} rows/s); "
              f"migrate {seeded['migrate_s']:.1f} s, demo {seeded['demo_s']:.1f} s, vacuum {seeded['vacuum_s']:.1f} s",
              file=sys.stderr)
    if args.profile:
        profiled = run_phase(args, "profile")
        print(json.dumps(profiled, indent=1))
    shutil.rmtree(args.data_dir / "cache", ignore_errors=True)  # sign-in rate-limit counters of an earlier run
    port = free_port()
    server, log = start_server(args, port)
    try:
        print(f"Serving on 127.0.0.1:{port} with {args.workers} workers; {args.users} users, "
              f"{args.seconds:g} s per scenario …", file=sys.stderr, flush=True)
        load = run_phase(args, "load", ["--port", str(port), "--seeded", json.dumps(seeded),
                                        *(["--only", args.only] if args.only else [])])
    finally:
        stop_server(server, log)
    text = report_markdown(args, seeded, load, machine_facts())
    print(text)
    if not args.no_doc:
        write_doc(text)
        print(f"Written to {DOC.relative_to(REPO)}", file=sys.stderr)
    print(f"Total {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
