"""The event list and the triage queue at 200,000 events: how long a page takes to read, by
search, order and page depth, and what counting the list would cost (issue 15, item 8).

    .venv/bin/python benchmarks/safety_event_list.py --db sqlite [--events 200000]
    .venv/bin/python benchmarks/safety_event_list.py --db postgres [--events 200000]

Seeds a fresh database (SQLite file under var/bench-list/, or PostgreSQL database
`andon_bench_list` on 127.0.0.1:5432, user postgres, dropped and recreated) with the demo
organisation, the shipped taxonomy and N events from the load benchmark's generator, then
requests each page in-process (Django's test client, an officer over the whole organisation)
five times and prints the median and the slowest, with the time of `count(*)` over the same
filtered query (what a numbered pager would add to every page). Nothing is asserted.
`--reuse` measures again on the database a previous run seeded (seeding takes about 6 minutes).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

PAGES = [
    ("first page, newest reported", {}),
    ("page 100 (events 4,951-5,000)", {"page": "100"}),
    ("page 2,000 (events 99,951-100,000)", {"page": "2000"}),
    ("sorted by occurrence, first page", {"sort": "-occurred"}),
    ("sorted by harm, first page", {"sort": "harm"}),
    ("filter: harm death", {"harm": "death"}),
    ("filter: one unit (4 West)", {"unit": "{unit_4w}"}),
    ("search: reference", {"q": "{reference}"}),
    ("search: narrative words", {"q": "bathroom"}),
    ("search: words found nowhere", {"q": "xylophone"}),
]


def setup_env(args):
    os.environ.update({
        "ANDON_DATA_DIR": str(REPO / "var" / "bench-list"),
        "DJANGO_SETTINGS_MODULE": "andon.settings",
        "SECRET_KEY": "benchmark-only-secret-key-not-for-production-0123456789",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "ANDON_DEBUG": "0", "ALLOWED_HOSTS": "testserver",
    })
    (REPO / "var" / "bench-list").mkdir(parents=True, exist_ok=True)
    if args.db == "postgres" and args.reuse:
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.db_name}"
    elif args.reuse:
        os.environ["DATABASE_URL"] = f"sqlite:///{REPO / 'var' / 'bench-list' / 'events.sqlite3'}"
    elif args.db == "postgres":
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
            db.execute(f'CREATE DATABASE "{args.db_name}"')
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.db_name}"
    else:
        path = REPO / "var" / "bench-list" / "events.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"


def reused() -> dict:
    from andon.platform.models import Unit, User
    from andon.safety.models import SafetyEvent

    return {"seconds": 0, "officer": User.objects.get(username="pso.bench"),
            "unit_4w": Unit.objects.get(facility__code="rgh", code="4w").pk,
            "reference": SafetyEvent.objects.order_by("pk").values_list("reference", flat=True)[1234]}


def seed(args) -> dict:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    import safety_load
    from andon.platform import content, services
    from andon.platform.models import Organisation, Unit
    from andon.platform.roles import Role
    from andon.safety import taxonomy
    from andon.safety.models import SafetyEvent

    call_command("migrate", interactive=False, verbosity=0)
    organisation_file = REPO / "andon" / "platform" / "demo" / "organisation.yaml"
    content.load_organisation(content.read_file(organisation_file), str(organisation_file))
    content.load_content([REPO / "content" / "taxonomies"])
    tax = taxonomy.current()
    officer = services.create_user("pso.bench", email="pso.bench@example.org", password=None, check_password=False)
    services.grant_role(officer, Role.PATIENT_SAFETY_OFFICER, Organisation.objects.get())
    services.set_mfa_required(Role.PATIENT_SAFETY_OFFICER, False)  # signed in by the test client
    reporter = services.create_user("nurse.bench", email="", password=None, check_password=False)
    units = list(Unit.objects.filter(active=True).order_by("pk"))
    started = time.perf_counter()
    batch = []
    for event in safety_load.generate_events(args.events, 20260301, units, [reporter], officer, tax, 1,
                                             timezone.now()):
        batch.append(event)
        if len(batch) == 5000:
            SafetyEvent.objects.bulk_create(batch)
            batch = []
    if batch:
        SafetyEvent.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE safety_safetyevent" if connection.vendor == "postgresql" else "ANALYZE")
    return {"seconds": time.perf_counter() - started, "officer": officer,
            "unit_4w": Unit.objects.get(facility__code="rgh", code="4w").pk,
            "reference": SafetyEvent.objects.order_by("pk").values_list("reference", flat=True)[1234]}


def timed(call, repeat=5):
    call()  # warm: caches of the process
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--db-name", default="andon_bench_list")
    parser.add_argument("--reuse", action="store_true", help="measure the database seeded by an earlier run")
    args = parser.parse_args()
    setup_env(args)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from andon.safety import services
    from andon.safety.models import SafetyEvent
    from andon.safety.officer_forms import EventFilterForm
    from andon.safety import taxonomy
    from andon.platform import permissions

    seeded = reused() if args.reuse else seed(args)
    client = Client()
    client.force_login(seeded["officer"])
    url = reverse("safety:event_list")
    print(f"{connection.vendor}: {SafetyEvent.objects.count():,} "
          f"events, seeded in {seeded['seconds']:.0f} s")
    print("| Page | median ms | slowest ms | count(*) of the same list, ms |")
    print("|---|---:|---:|---:|")
    units = permissions.units_where(seeded["officer"], "safety.view_events")
    for label, query in PAGES:
        query = {key: value.format(**seeded) for key, value in query.items()}

        def page():
            response = client.get(url, query)
            assert response.status_code == 200, response.status_code

        form = EventFilterForm(query, taxonomy=taxonomy.current(), units=units)
        listed = form.apply(services.events_visible_to(seeded["officer"]))
        page_ms, slowest = timed(page)
        count_ms, _ = timed(lambda: listed.count())
        print(f"| {label} | {page_ms:.0f} | {slowest:.0f} | {count_ms:.0f} |")
    queue = reverse("safety:triage_queue")
    for label, query in [("triage queue, first page", {}), ("triage queue, harm sort", {"sort": "harm"}),
                         ("triage queue, waiting > 7 days", {"age": "7"}), ("triage queue, SAC not scored", {"sac": "none"}),
                         ("triage queue, one unit", {"unit": str(seeded["unit_4w"])})]:
        page_ms, slowest = timed(lambda: client.get(queue, query))
        print(f"| {label} | {page_ms:.0f} | {slowest:.0f} | (counted: the queue pages by number) |")


if __name__ == "__main__":
    main()
