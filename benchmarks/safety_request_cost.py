"""What each safety page costs in CPU, split into the shared part and the page's own work.

    .venv/bin/python benchmarks/safety_load.py --events 200000 --seconds 5 --no-doc   # seeds andon_bench
    .venv/bin/python benchmarks/safety_request_cost.py [--requests 150]

The load benchmark measures latency under 20 users; on 2 cores that latency is mostly queueing,
so it moves with every other process on the machine. This one measures what queueing is made
of: the CPU one request takes, in the Django process (`time.process_time`) and in its
PostgreSQL backend (`/proc/<pid>/stat`), both of which hold still when the machine is busy.
It calls Django's WSGI handler directly (no test client: its template signals cost CPU a real
server does not pay), signed in through the session cookie as the load benchmark's users are.

Besides the pages, two yardsticks show where the shared cost lies:
- "signed-in, empty": a page behind `requires` that answers "ok" (session, user, grants and
  two-factor checks, every middleware);
- "signed-in, layout": the same, rendering the shared layout (base.html: navigation, menus).

Ratios are to `/health` in the same run. Nothing is asserted; see docs/benchmarks.md.
"""

import argparse
import io
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def setup(args) -> None:
    import safety_load  # the same server settings as the load benchmark

    os.environ.update(safety_load.bench_env(args))
    os.environ["ALLOWED_HOSTS"] = "localhost"
    import django

    django.setup()
    _add_yardsticks()


def _add_yardsticks() -> None:
    from django.http import HttpResponse
    from django.shortcuts import render
    from django.urls import clear_url_caches, path

    from andon import urls
    from andon.platform.permissions import requires

    urls.urlpatterns[:0] = [
        path("__bench/empty", requires("safety.report")(lambda request: HttpResponse("ok"))),
        path("__bench/layout", requires("safety.report")(lambda request: render(request, "base.html"))),
    ]
    clear_url_caches()


class SignedIn:
    """A session cookie for one demo user, and a WSGI call with it."""

    def __init__(self, username: str):
        from django.contrib.auth import get_user_model
        from django.core.handlers.wsgi import WSGIHandler
        from django.test import Client

        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        self.cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
        self.app = WSGIHandler()

    def get(self, url: str) -> bytes:
        path, _, query = url.partition("?")
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "localhost",
            "SERVER_PORT": "80", "HTTP_HOST": "localhost", "HTTP_COOKIE": self.cookie, "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        }
        status = []
        body = b"".join(self.app(environ, lambda line, headers, *rest: status.append(line)))
        if not status[0].startswith("200"):
            raise SystemExit(f"{url} answered {status[0]}")
        return body


def backend_cpu_seconds() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cost(user: SignedIn, url: str, requests: int) -> tuple[float, float, int]:
    """Mean CPU ms per request in Django and in PostgreSQL, and the page's size."""
    for _ in range(3):
        body = user.get(url)
    django_before, backend_before = time.process_time(), backend_cpu_seconds()
    for _ in range(requests):
        user.get(url)
    django_ms = (time.process_time() - django_before) * 1000 / requests
    backend_ms = (backend_cpu_seconds() - backend_before) * 1000 / requests
    return django_ms, backend_ms, len(body)


def require_seeded(args) -> None:
    """The database the load benchmark seeds (`make bench` runs it first, by file name)."""
    import psycopg

    try:
        psycopg.connect(host=args.db_host, port=args.db_port, user=args.db_user, dbname=args.db_name).close()
    except psycopg.OperationalError as problem:
        raise SystemExit(f"no database {args.db_name} to measure ({problem}); seed it first with "
                         "benchmarks/safety_load.py --events 200000 --seconds 5 --no-doc") from problem


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--db-name", default="andon_bench")
    parser.add_argument("--db-host", default="127.0.0.1")
    parser.add_argument("--db-port", default="5432")
    parser.add_argument("--db-user", default="postgres")
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench")
    args = parser.parse_args(argv)
    require_seeded(args)
    setup(args)
    from andon.safety.models import SafetyEvent

    nurse, officer = SignedIn("nurse.ana"), SignedIn("pso.hana")
    some_event = SafetyEvent.objects.order_by("-pk").values_list("pk", flat=True)[500]
    pages = [
        ("/health", officer, "/health"), ("signed-in, empty", officer, "/__bench/empty"),
        ("signed-in, layout", officer, "/__bench/layout"), ("home page (reporter)", nurse, "/"),
        ("triage queue", officer, "/safety/triage/"), ("event page", officer, f"/safety/events/{some_event}/"),
        ("analysis, all events", officer, "/safety/analysis/"),
    ]
    rows = [(name, *cost(user, url, args.requests)) for name, user, url in pages]
    baseline = rows[0][1] + rows[0][2]
    print("| request | Django CPU ms | PostgreSQL CPU ms | total × /health | bytes |\n|---|---:|---:|---:|---:|")
    for name, django_ms, backend_ms, size in rows:
        print(f"| {name} | {django_ms:.2f} | {backend_ms:.2f} | {(django_ms + backend_ms) / baseline:.1f}× | {size:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
