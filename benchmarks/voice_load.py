"""Patient voice under load: seed PostgreSQL with N generated grievances and M returned surveys,
serve Andon with gunicorn, and time the grievance list, the grievance dashboard and the survey
scores from a second process with concurrent signed-in users.

    .venv/bin/python benchmarks/voice_load.py [--users 20] [--seconds 20] [--grievances 200000]
        [--surveys 2000000] [--profile]

Issue 20, "What must show": 2 million survey rows and 200,000 grievances, the grievance list and
dashboard p95 under 300 ms at 20 concurrent users.

Steps, each heavy one in its own process (the machinery of benchmarks/safety_load.py):
1. `seed`: drop and recreate the database (default `andon_bench_voice`), migrate, load the demo
   hospital (people, units, the grievance categories, the HCAHPS question set), then generate in
   bulk (bulk_create in batches, seeded random) the grievances over 3 years (the module's reference
   format and clock: received_on and due_on from `clock.clock_dates`, categories through the M2M,
   the clock row with `resolved_in_time` for the resolved ones) and the surveys over 24 months
   (the score cells added up by the module's own `scores.CellCounter`, as the import does, and
   saved once, so that the scores page reads real aggregates). Each step is timed.
2. `andon serve` (gunicorn) on a free localhost port.
3. `load`: 20 users per scenario, closed loop, no think time: `/health` as the baseline; the
   grievance list (first page; overdue only; one category), the grievance dashboard and the survey
   scores, as patient relations (pr.pablo, the whole organisation) and as a unit manager
   (mgr.fatima, Medicine at Riverside General). Each answer must be 200 and hold what the services
   say it should (the first row's reference, the overdue count, the count of surveys), so an error
   page is never timed as a page.
4. The results go to stdout and to docs/benchmarks.md ("Patient voice under load").

`--profile` also times one request of each page in-process (Django's test client, no load): wall
and CPU time, queries, the slowest queries with their EXPLAIN ANALYZE, and where the CPU goes.

Times are never asserted: read the ratio of each page's p95 to the baseline's in the same run.
"""

import argparse
import json
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safety_load  # noqa: E402  (the server, the load generator and the report's machinery)

REPO = safety_load.REPO
SECTION = "## Patient voice under load"
GOAL_MS = safety_load.GOAL_MS
READERS = {"pr.pablo": "patient relations (whole organisation)",
           "mgr.fatima": "a unit manager (Medicine, Riverside General)"}
BATCH = 5000

DESCRIPTIONS = [
    "Nobody told the family that my father had been moved to another ward.",
    "My mother waited hours for pain relief overnight.",
    "I was billed twice for the same visit.",
    "The discharge was rushed and nobody explained the new tablets.",
    "A member of staff was rude to my wife at the front desk.",
    "The room was dirty when we arrived and stayed so for two days.",
    "We were turned away at visiting time without notice of the change.",
    "The call bell did not work and nobody came for a long time.",
    "My husband's meals arrived cold every evening.",
    "The curtain was left open during personal care.",
]
CHANNELS = [("letter", 20), ("email", 30), ("web_form", 15), ("phone", 25), ("in_person", 10)]
CATEGORY_WEIGHTS = {"communication": 24, "care": 20, "staff-attitude": 12, "access": 10, "discharge": 9,
                    "food-environment": 8, "billing": 7, "dignity-privacy": 5, "safety": 3, "other": 2}
STRATA = {"age_band": ["18-44", "45-64", "65-74", "75+"], "sex": ["F", "M"],
          "race": ["White", "Black", "Asian", "Other"], "ethnicity": ["Not Hispanic", "Hispanic"],
          "payer": ["Medicare", "Medicaid", "Commercial", "Self-pay"]}
TOP_CHANCE = {"frequency": 0.72, "yes_no": 0.86, "agreement": 0.52, "rating": 0.70, "recommend": 0.71}


def forward(args) -> list[str]:
    return [*safety_load.common_forward(args), "--grievances", str(args.grievances), "--surveys", str(args.surveys)]


def run_phase(args, phase: str, extra=()) -> dict:
    return safety_load.run_phase_of(__file__, args, phase, forward(args), extra)


def _months_before(month: date, back: int) -> date:
    index = month.year * 12 + month.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


# --- 1. the dataset ----------------------------------------------------------------------------

def seed_grievances(count: int, seed: int, now) -> dict:
    """Grievances over the 3 years before `now`: the module's reference format and clock; most
    resolved (in or out of time), some open (a share overdue), the newest from the web form not yet
    classified; verbal complaints resolved at the time stored resolved that day, no clock."""
    from django.db import connection

    from andon.platform.models import Organisation, Sequence, Unit, User
    from andon.voice import clock
    from andon.voice.models import Grievance, GrievanceCategory, GrievanceClock

    chance = random.Random(seed)
    units = list(Unit.objects.filter(active=True).order_by("pk"))
    unit_w = [8 if unit.kind == "ward" else 3 if unit.kind == "department" else 1 for unit in units]
    categories = {c.key: c.pk for c in GrievanceCategory.objects.all()}
    cat_keys = [k for k in CATEGORY_WEIGHTS if k in categories]
    cat_w = [CATEGORY_WEIGHTS[k] for k in cat_keys]
    channels, channel_w = zip(*CHANNELS, strict=True)
    organisation = Organisation.objects.order_by("pk").first()
    pablo = User.objects.get(username="pr.pablo")
    officers = [pablo.pk, *User.objects.filter(is_demo=True, username__startswith="pr.").exclude(pk=pablo.pk)
                .values_list("pk", flat=True)]
    today = now.date()
    numbers: dict[int, int] = {}
    for name, value in Sequence.objects.filter(name__startswith="grievance-").values_list("name", "value"):
        numbers[int(name.split("-")[1])] = value
    start_pk = (Grievance.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    Through = Grievance.categories.through  # noqa: N806
    span = timedelta(days=3 * 365)
    started = time.perf_counter()
    made = links = clocks = 0
    rows, category_rows, clock_rows = [], [], []

    def flush():
        nonlocal rows, category_rows, clock_rows
        Grievance.objects.bulk_create(rows)
        Through.objects.bulk_create(category_rows)
        GrievanceClock.objects.bulk_create(clock_rows)
        rows, category_rows, clock_rows = [], [], []

    # In received order, so that the references count up through each year as the sequence would.
    ages = sorted((span * (1 - chance.random() ** 0.9) for _ in range(count)), reverse=True)
    for i, age in enumerate(ages):
        received_at = now - age
        channel = chance.choices(channels, channel_w)[0]
        at_time = channel in ("phone", "in_person") and chance.random() < 0.45
        received_on, due_on = clock.clock_dates(received_at)
        numbers[received_on.year] = numbers.get(received_on.year, 0) + 1
        pk = start_pk + i
        fields = dict(pk=pk, reference=f"G-{received_on.year}-{numbers[received_on.year]:05d}", channel=channel,
                      received_at=received_at, received_on=received_on, organisation=organisation,
                      unit_id=chance.choices(units, unit_w)[0].pk, description=chance.choice(DESCRIPTIONS),
                      contact_name="On file", contact_details="On file with patient relations")
        waited = (today - received_on).days
        resolved_in_time = None
        if at_time:
            fields.update(kind="complaint", resolved_at_time=True, status="resolved", due_on=None,
                          resolved_on=received_on, logged_by_id=chance.choice(officers))
        else:
            fields.update(kind="grievance", due_on=due_on, owner_id=chance.choice(officers),
                          logged_by_id=None if channel == "web_form" else chance.choice(officers))
            # Most are resolved; the longer ago, the likelier. A few old ones were never closed (overdue).
            if waited < 2 and channel == "web_form":
                fields.update(status="received", owner_id=None)
            elif waited < 14 and chance.random() < 0.7 or waited >= 14 and chance.random() < 0.012:
                fields["status"] = "open"
            else:
                took = min(waited, max(1, int(chance.expovariate(1 / 6))))
                resolved_on = received_on + timedelta(days=took)
                resolved_in_time = resolved_on <= due_on
                fields.update(status="closed" if waited > 120 and chance.random() < 0.5 else "resolved",
                              resolved_on=resolved_on)
            if fields["status"] != "received":
                fields["classified_at"] = received_at + timedelta(hours=chance.randint(1, 30))
        rows.append(Grievance(**fields))
        chosen = {chance.choices(cat_keys, cat_w)[0] for _ in range(1 if chance.random() < 0.8 else 2)}
        if fields["status"] != "received":
            category_rows += [Through(grievance_id=pk, grievancecategory_id=categories[k]) for k in chosen]
            links += len(chosen)
        if fields["kind"] == "grievance" and fields["status"] != "received":
            clock_rows.append(GrievanceClock(grievance_id=pk, resolved_in_time=resolved_in_time))
            clocks += 1
        made += 1
        if len(rows) == BATCH:
            flush()
    flush()
    for year, value in numbers.items():  # the sequence goes on from the last reference of each year
        Sequence.objects.update_or_create(name=f"grievance-{year}", defaults={"value": value})
    with connection.cursor() as cursor:
        for model in (Grievance, GrievanceClock, Through):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    elapsed = time.perf_counter() - started
    return {"grievances": made, "category_links": links, "clocks": clocks, "grievances_s": elapsed,
            "grievances_rows_per_s": made / elapsed if elapsed else 0}


def seed_surveys(count: int, seed: int, today: date) -> dict:
    """Returned HCAHPS surveys over the 24 completed months before today, on the wards, with the
    strata and service line coded; the score cells counted by the module's own CellCounter (what
    the import adds up) and saved once."""
    from django.db import transaction

    from andon.platform.models import Unit, User
    from andon.voice import scores, surveys
    from andon.voice.demo_surveys import _question_scales
    from andon.voice.models import SurveyImport, SurveyResponse

    chance = random.Random(seed + 1)
    questions = surveys.question_set("hcahps")
    scale_of = _question_scales()
    wards = list(Unit.objects.filter(active=True, kind="ward").select_related("parent").order_by("pk"))
    leans = {ward.pk: chance.uniform(-0.08, 0.08) for ward in wards}
    lines = {ward.pk: (ward.parent.name if ward.parent else "Medicine") for ward in wards}
    keys = list(questions.questions)
    codes = {k: list(questions.questions[k].answers) for k in keys}
    tops = {k: sorted(questions.questions[k].top) for k in keys}
    lows = {k: [c for c in codes[k] if c not in questions.questions[k].top][-3:] for k in keys}
    this_month = today.replace(day=1)
    months = [_months_before(this_month, back) for back in range(24, 0, -1)]
    record = SurveyImport.objects.create(
        question_set=questions.key, question_set_version=questions.version, filename="benchmark-seed.csv",
        sha256="0" * 64, imported_by=User.objects.get(username="px.priya"), rows_read=count, rows_imported=count)
    counter = scores.CellCounter(questions)
    started = time.perf_counter()
    batch = []
    for i in range(count):
        month = months[i * len(months) // count]
        ward = chance.choice(wards)
        top_chance = {scale: p + leans[ward.pk] for scale, p in TOP_CHANCE.items()}
        answers = {}
        for key in keys:
            if chance.random() < 0.04:
                continue  # skipped
            answers[key] = (chance.choice(tops[key]) if chance.random() < top_chance[scale_of[key]]
                            else chance.choice(lows[key]))
        day = month + timedelta(days=chance.randrange(28))
        response = SurveyResponse(
            survey_import=record, question_set=questions.key, survey_id=f"BV{i:08d}", discharge_date=day,
            month=month, unit_id=ward.pk, service_line=lines[ward.pk], answers=answers,
            **{name: chance.choice(values) for name, values in STRATA.items()})
        counter.add(response)
        batch.append(response)
        if len(batch) == BATCH:
            SurveyResponse.objects.bulk_create(batch)
            batch = []
    SurveyResponse.objects.bulk_create(batch)
    inserted = time.perf_counter()
    with transaction.atomic():  # the cells are read under a lock (select_for_update), as in the import
        counter.save()
    saved = time.perf_counter()
    return {"surveys": count, "survey_cells": len(counter.counts), "survey_wards": len(wards),
            "survey_first": months[0].isoformat(), "survey_last": months[-1].isoformat(),
            "surveys_s": inserted - started, "surveys_rows_per_s": count / (inserted - started) if count else 0,
            "cells_s": saved - inserted}


def _expected(username: str) -> dict:
    """What each page must hold for this reader, asked of the services the views call."""
    from django.utils import timezone

    from andon.platform.models import User
    from andon.voice import clock, grievances, scores
    from andon.voice.models import GrievanceCategory

    user = User.objects.get(username=username)
    category = GrievanceCategory.objects.get(key="communication")
    today = timezone.localdate()
    first, last = _months_before(today.replace(day=1), 12), _months_before(today.replace(day=1), 1)

    def first_ref(**filters):
        found = grievances.find_grievances(user, **filters).first()
        return f">{found.reference}</a>" if found else "No complaints"

    figures = clock.dashboard_figures(user)
    table = scores.score_table(user, first=first, last=last)
    return {
        "list": first_ref(), "overdue": first_ref(overdue=True), "category": first_ref(category=category.pk),
        "category_pk": category.pk,
        "in_scope": grievances.visible_grievances(user).count(),
        "dashboard": f'data-figure="overdue">{figures.overdue}</div>', "overdue_count": figures.overdue,
        "open_count": figures.by_status.get("Open", 0),
        "scores": f'<span id="survey-count">{table.surveys}</span>', "survey_count": table.surveys,
    }


def phase_seed(args) -> dict:
    safety_load.recreate_database(args)
    safety_load.django_setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from andon.platform import demo
    from andon.voice.models import Grievance, SurveyResponse, SurveyScoreCell

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    migrated = time.perf_counter()
    demo.load_demo_hospital()  # people, units, categories, the question set, the demo's own surveys
    loaded = time.perf_counter()
    print(f"  migrate {migrated - started:.1f} s, demo {loaded - migrated:.1f} s", file=sys.stderr, flush=True)
    out = seed_grievances(args.grievances, args.seed, timezone.now())
    print(f"  grievances {out['grievances_s']:.1f} s", file=sys.stderr, flush=True)
    out.update(seed_surveys(args.surveys, args.seed, timezone.localdate()))
    seeded = time.perf_counter()
    with connection.cursor() as cursor:  # as autovacuum would, soon after a bulk load
        cursor.execute("VACUUM ANALYZE")
    analysed = time.perf_counter()
    return {
        **out, "total_grievances": Grievance.objects.count(), "total_surveys": SurveyResponse.objects.count(),
        "total_cells": SurveyScoreCell.objects.count(),
        "statuses": dict(Grievance.objects.order_by().values_list("status").annotate(n=Count("pk"))),
        "expected": {name: _expected(name) for name in READERS},
        "migrate_s": migrated - started, "demo_s": loaded - migrated, "seed_s": seeded - loaded,
        "vacuum_s": analysed - seeded, "postgres": connection.cursor().connection.info.server_version,
    }


# --- 3. the load ---------------------------------------------------------------------------------

def scenario_pages(seeded: dict, reader: str) -> dict:
    """name -> page(chance) -> (path, what the answer must hold)."""
    e = seeded["expected"][reader]
    return {
        "grievance list, first page": lambda chance: ("/voice/grievances/", e["list"]),
        "grievance list, overdue only": lambda chance: ("/voice/grievances/?overdue=on", e["overdue"]),
        "grievance list, one category": lambda chance: (f"/voice/grievances/?category={e['category_pk']}",
                                                        e["category"]),
        "grievance dashboard": lambda chance: ("/voice/grievances/dashboard/", e["dashboard"]),
        "survey scores (last 12 months)": lambda chance: ("/voice/surveys/scores/", e["scores"]),
    }


def phase_load(args) -> dict:
    seeded = json.loads(args.seeded)
    t0 = time.perf_counter()
    browsers = {}
    for network, reader in enumerate(READERS, start=1):
        browsers[reader] = [safety_load.Browser(args.port, f"127.0.{network}.{10 + i}") for i in range(args.users)]
        for browser in browsers[reader]:
            browser.sign_in(reader)
    sign_in_s = time.perf_counter() - t0
    first = next(iter(READERS))
    health = safety_load.checked_get(lambda chance: ("/health", ""))
    scenarios = [("baseline: /health", browsers[first], health)]
    for reader in READERS:
        who = reader.split(".")[1].capitalize()
        scenarios += [(f"{name} ({who})", browsers[reader], safety_load.checked_get(page))
                      for name, page in scenario_pages(seeded, reader).items()]
    scenarios += [("baseline again: /health", browsers[first], health)]
    if args.only:
        wanted = args.only.split(",")
        scenarios = [s for s in scenarios if s[0].startswith("baseline") or any(w in s[0] for w in wanted)]
    return {"results": safety_load.run_scenarios(scenarios, args.seconds, width=46), "sign_in_s": sign_in_s}


# --- profiling (optional, in-process) ----------------------------------------------------------

def phase_profile(args) -> dict:
    """One request of each page per reader (after a first one), five times: status, whether it
    holds what it should, wall and CPU time, queries, the slowest with EXPLAIN ANALYZE; then one
    request under cProfile."""
    safety_load.django_setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from andon.platform.models import User

    seeded = json.loads(args.seeded)
    out = {}
    for reader in READERS:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username=reader))
        for name, page in scenario_pages(seeded, reader).items():
            path, must_hold = page(random.Random(args.seed))
            client.get(path)
            walls, cpus = [], []
            for _ in range(5):
                with CaptureQueriesContext(connection) as captured:
                    began, began_cpu = time.perf_counter(), time.process_time()
                    response = client.get(path)
                    cpus.append((time.process_time() - began_cpu) * 1000)
                    walls.append((time.perf_counter() - began) * 1000)
            slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))[:2]
            plans = []
            with connection.cursor() as cursor:
                for query in slowest:
                    if query["sql"].lstrip().upper().startswith("SELECT"):
                        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                        plans.append([row[0] for row in cursor.fetchall()][:25])
            out[f"{name} ({reader})"] = {
                "path": path, "status": response.status_code, "holds": must_hold.encode() in response.content,
                "wall_ms": sorted(round(t, 1) for t in walls), "cpu_ms": sorted(round(t, 1) for t in cpus),
                "queries": len(captured),
                "db_ms": round(sum(float(q["time"]) for q in captured.captured_queries) * 1000, 1),
                "bytes": len(response.content), "slowest": [(q["time"], q["sql"][:400]) for q in slowest],
                "plans": plans, "cprofile": safety_load.where_the_cpu_goes(client, path)}
    return out


# --- 4. the report -------------------------------------------------------------------------------

def report_markdown(args, seeded: dict, load: dict, facts: dict) -> str:
    results = load["results"]
    statuses = seeded["statuses"]
    pablo, fatima = seeded["expected"]["pr.pablo"], seeded["expected"]["mgr.fatima"]
    lines = [
        SECTION, "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/voice_load.py`. Machine: {facts['nproc']} "
        f"cores ({facts['cpu'] or 'unknown CPU'}), {facts['memory']} memory, PostgreSQL "
        f"{seeded['postgres'] // 10000}.{seeded['postgres'] % 10000} on the same machine, Python {facts['python']}.",
        "",
        f"- Dataset: {seeded['total_grievances']:,} complaints and grievances ({seeded['grievances']:,} generated over "
        f"3 years, seed {args.seed}; by status: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(statuses.items(), key=lambda kv: -kv[1]))
        + f"; {seeded['category_links']:,} category links, {seeded['clocks']:,} clock rows) and "
        f"{seeded['total_surveys']:,} returned HCAHPS surveys ({seeded['surveys']:,} generated over the 24 months "
        f"{seeded['survey_first'][:7]} to {seeded['survey_last'][:7]} on {seeded['survey_wards']} wards, each with "
        f"the 5 strata and a service line; {seeded['total_cells']:,} score cells), demo hospital (2 facilities).",
        f"- Seeding (bulk_create, batches of {BATCH:,}): grievances {seeded['grievances_s']:.1f} s "
        f"({seeded['grievances_rows_per_s']:,.0f} rows/s, with their category links and clock rows); surveys "
        f"{seeded['surveys_s']:.1f} s ({seeded['surveys_rows_per_s']:,.0f} rows/s, with the score cells counted by "
        f"the module's `CellCounter`), the cells saved {seeded['cells_s']:.1f} s; migrate {seeded['migrate_s']:.1f} s, "
        f"demo hospital {seeded['demo_s']:.1f} s, VACUUM ANALYZE {seeded['vacuum_s']:.1f} s.",
        f"- Readers: pr.pablo, {READERS['pr.pablo']}: {pablo['in_scope']:,} grievances in scope, "
        f"{pablo['open_count']:,} open, {pablo['overdue_count']:,} overdue, {pablo['survey_count']:,} surveys in the "
        f"last 12 months; mgr.fatima, {READERS['mgr.fatima']}: {fatima['in_scope']:,} grievances, "
        f"{fatima['open_count']:,} open, {fatima['overdue_count']:,} overdue, {fatima['survey_count']:,} surveys.",
        f"- Server: `andon serve`, gunicorn, {args.workers} sync workers, DEBUG off. Load: a second process, "
        f"{args.users} concurrent signed-in users per scenario, closed loop with no think time, {args.seconds:g} s per "
        "scenario after a short warm-up. Each answer must be 200 and hold what the services say: the list's first "
        "reference (soonest due first), the dashboard's overdue figure, the scores' count of surveys.",
        "- Baseline: `/health`. Ratio = the page's p95 / the baseline's p95 in the same run.",
        f"- Load average of the machine before the run: {facts['load']}.",
        *_reduced(args),
        "",
    ]
    lines += safety_load.results_table(results, args.users)
    lines += [
        "", "How to run (PostgreSQL on 127.0.0.1:5432, user postgres, trust; the database `andon_bench_voice` is "
        "dropped and recreated):",
        "", "```sh",
        ".venv/bin/python benchmarks/voice_load.py                      # 200,000 grievances, 2 million surveys, 20 users",
        ".venv/bin/python benchmarks/voice_load.py --grievances 20000 --surveys 100000 --seconds 5 --no-doc  # a quick look",
        ".venv/bin/python benchmarks/voice_load.py --reuse --profile --no-doc   # + each page's cost, in-process",
        "```", ""]
    return "\n".join(lines)


def _reduced(args) -> list[str]:
    smaller = [f"{name} {given:,.0f} (the goal: {full:,.0f})" for name, given, full in (
        ("grievances", args.grievances, 200_000), ("surveys", args.surveys, 2_000_000), ("users", args.users, 20),
        ("seconds a scenario", args.seconds, 20)) if given < full]
    if not smaller:
        return []
    return [f"- **Reduced scale**: {', '.join(smaller)}. Not the figures of issue 20's goal."]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    safety_load.add_common_arguments(parser, db_name="andon_bench_voice", data_dir="bench-voice", seed=20261203)
    parser.add_argument("--grievances", type=int, default=200_000)
    parser.add_argument("--surveys", type=int, default=2_000_000)
    parser.add_argument("--profile", action="store_true", help="also time each page in-process, with its queries")
    parser.add_argument("--only", default="", help="comma-separated scenario name parts (baselines always run)")
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
        args.grievances, args.surveys = seeded["grievances"], seeded["surveys"]
        print(f"Reusing {seeded['total_grievances']:,} grievances and {seeded['total_surveys']:,} surveys.",
              file=sys.stderr)
    else:
        print(f"Seeding {args.grievances:,} grievances and {args.surveys:,} surveys into {args.db_name} …",
              file=sys.stderr, flush=True)
        seeded = run_phase(args, "seed")
        saved.write_text(json.dumps(seeded))
        print(f"  grievances {seeded['grievances_s']:.1f} s, surveys {seeded['surveys_s']:.1f} s, cells "
              f"{seeded['cells_s']:.1f} s, vacuum {seeded['vacuum_s']:.1f} s", file=sys.stderr)
    return safety_load.profile_serve_report(args, seeded, began, run_phase, report_markdown, SECTION,
                                            ["--only", args.only] if args.only else [])


if __name__ == "__main__":
    sys.exit(main())
