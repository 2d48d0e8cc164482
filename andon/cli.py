"""The `andon` command line.

Platform commands run inside Django (settings from the environment). Modules add their own
subcommand groups (`andon fhir …`, `andon ecqm …`) by naming a module in MODULE_COMMANDS that
has `register(subparsers)`; a group whose module does not exist yet is simply not offered.
Analytics groups must not need Django, so Django is set up only for the commands that use it.
"""

import argparse
import getpass
import importlib
import math
import os
import sys
import threading

MODULE_COMMANDS = {
    "fhir": "andon.analytics.fhir.cli",
    "ecqm": "andon.analytics.cql.cli",
    "actions": "andon.actions.commands",
    "compliance": "andon.compliance.commands",
    "risk": "andon.risk.commands",
    "medstaff": "andon.medstaff.commands",
    "voice": "andon.voice.commands",
}


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "andon.settings")
    import django

    django.setup()


def _call(name, *args, **options):
    _django()
    from django.core.management import call_command

    call_command(name, *args, **options)


def gunicorn_command(args) -> list[str]:
    from andon.platform import access_log

    return [
        sys.executable, "-m", "gunicorn", "andon.wsgi:application",
        "--bind", f"{args.host}:{args.port}", "--workers", str(args.workers),
        "--graceful-timeout", str(math.ceil(args.stop_timeout)),
        # Its control socket is one per user (~/.gunicorn/gunicorn.ctl): a second server on the
        # machine would take it over or remove it. Andon's supervisor does the controlling.
        "--no-control-socket",
        "--access-logfile", "-", "--forwarded-allow-ips", args.forwarded_allow_ips,
        # No client address, user agent or query string, and nothing of the reporting pages:
        # with the time of a request they could tie an anonymous safety report to its sender.
        "--logger-class", "andon.platform.access_log.AccessLog", "--access-logformat", access_log.FORMAT,
    ]


def cmd_serve(args):
    """Serve the web application with gunicorn (static files through whitenoise), and with
    --with-worker a job worker, both supervised (andon/platform/supervisor.py)."""
    from andon.platform.supervisor import Supervisor

    if args.migrate:
        _call("migrate", interactive=False, verbosity=0)
    command = gunicorn_command(args)
    worker = [sys.executable, "-m", "andon.cli", "worker"] if args.with_worker else None
    return Supervisor(command, worker, stop_timeout=args.stop_timeout, on_worker_end=_give_up_jobs,
                      prepare=_django).run()


def _give_up_jobs(worker: str, reason: str) -> None:
    """The jobs that `worker`, a process that has ended, was running: failed or queued again."""
    _django()
    from django.db import connections

    from andon.platform import jobs

    try:
        jobs.recover_lost_jobs(worker=worker, reason=reason)
    finally:
        connections.close_all()  # the supervisor holds no connection while it waits


def cmd_worker(args):
    """django-tasks-db's db_worker, named after its process so that its jobs can be given up on
    when it stops, with a thread that gives up on the jobs of workers that stopped and one that
    starts the scheduled tasks when they are due (platform.schedules)."""
    _django()
    from andon.platform import jobs, processes, schedules

    watching = threading.Event()
    if args.batch:
        jobs.recover_lost_jobs()
        schedules.tick()
    else:
        threading.Thread(target=jobs.watch_for_lost_jobs, args=(watching,), name="lost-jobs", daemon=True).start()
        threading.Thread(target=schedules.keep_ticking, args=(watching,), name="schedules", daemon=True).start()
    try:
        # No reloading: it would restart the worker under a running job.
        _call("db_worker", batch=args.batch, interval=args.interval, reload=False, worker_id=processes.worker_identity())
    finally:
        watching.set()


def cmd_migrate(args):
    _call("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    print("Database is up to date.")


def cmd_createuser(args):
    _django()
    from django.core.exceptions import ValidationError

    from andon.platform import content

    password = args.password_stdin and sys.stdin.readline().rstrip("\n")
    if not password and sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    try:
        user = content.create_user_from_cli(args.username, email=args.email, password=password or None,
                                            grants=args.role, admin=args.admin)
    except (ValidationError, LookupError) as error:
        print(f"andon createuser: {_message(error)}", file=sys.stderr)
        return 2
    print(f"Created {user.username}" + (f" with {', '.join(args.role)}" if args.role else ""))
    return 0


def cmd_demo(args):
    _django()
    from django.conf import settings

    from andon.platform import demo

    if not settings.DEMO:
        print("andon demo: refused. The demo hospital has known passwords; set ANDON_DEMO=1 "
              "(as `make demo` does) to load it, never on a real installation.", file=sys.stderr)
        return 2
    _call("migrate", interactive=False, verbosity=0)
    logins = demo.load_demo_hospital()
    demo.print_logins(logins)
    return 0


def cmd_load_content(args):
    _django()
    from andon.platform import content

    try:
        summary = content.load_content(args.paths or ["content"])
    except content.ContentError as error:
        print(f"andon load-content: {error}", file=sys.stderr)
        return 2
    for kind, count in sorted(summary.items()):
        print(f"{kind}: {count} file{'s' if count != 1 else ''} loaded")
    return 0


def cmd_compute_measures(args):
    """Compute measures over a range of periods, as the computation job does (for schedulers)."""
    from datetime import date

    _django()
    from django.core.exceptions import ValidationError
    from tqdm import tqdm

    from andon.measures import services

    try:
        first, last = date.fromisoformat(args.first), date.fromisoformat(args.last)
    except ValueError:
        print("andon compute-measures: --from and --to are dates (YYYY-MM-DD)", file=sys.stderr)
        return 2
    with tqdm(unit="measure", disable=args.quiet, file=sys.stderr) as bar:
        def progress(done, total, title):
            bar.total = total
            bar.set_postfix_str(title[:40])
            bar.update(done - bar.n)

        try:
            done = services.compute_measures(args.measure or None, kind=args.kind, first=first, last=last,
                                             progress=progress)
        except (ValidationError, ValueError) as error:
            print(f"andon compute-measures: {_message(error)}", file=sys.stderr)
            return 2
    for item in done:
        print(f"{item.measure}: {item.error or f'{item.cells} results'}")
    return 1 if any(item.error for item in done) else 0


def _message(error) -> str:
    if hasattr(error, "message_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
    if hasattr(error, "messages"):
        return " ".join(error.messages)
    return str(error)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="andon", description="Andon: hospital quality and patient safety.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the web application")
    serve.add_argument("--host", default=os.environ.get("ANDON_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("ANDON_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    serve.add_argument("--with-worker", action="store_true",
                       help="also run a background-job worker, started again if it stops")
    serve.add_argument("--stop-timeout", type=float, default=30.0, metavar="SECONDS",
                       help="on SIGTERM/SIGINT, how long requests and the running job may take to finish")
    serve.set_defaults(run=cmd_serve)

    worker = commands.add_parser("worker", help="run background jobs")
    worker.add_argument("--batch", action="store_true", help="run the queued jobs, then stop")
    worker.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    worker.set_defaults(run=cmd_worker)

    migrate = commands.add_parser("migrate", help="create or update the database tables")
    migrate.add_argument("-v", "--verbose", action="store_true")
    migrate.set_defaults(run=cmd_migrate)

    createuser = commands.add_parser("createuser", help="create a user account")
    createuser.add_argument("username")
    createuser.add_argument("--email", default="")
    createuser.add_argument("--role", action="append", default=[], metavar="ROLE[@SCOPE]",
                            help="grant a role; SCOPE is a facility code or FACILITY/UNIT code "
                                 "(default: the whole organisation). Repeatable.")
    createuser.add_argument("--admin", action="store_true",
                            help="administrator of the organisation, with access to the admin site")
    createuser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    createuser.set_defaults(run=cmd_createuser)

    demo = commands.add_parser("demo", help="load the demo hospital and print its logins (ANDON_DEMO=1 only)")
    demo.set_defaults(run=cmd_demo)

    load = commands.add_parser("load-content", help="load content files (organisation, taxonomies, measures)")
    load.add_argument("paths", nargs="*", help="content folders or files (default: ./content)")
    load.set_defaults(run=cmd_load_content)

    compute = commands.add_parser("compute-measures", help="compute measures over a range of periods")
    compute.add_argument("--from", dest="first", required=True, help="first day (YYYY-MM-DD)")
    compute.add_argument("--to", dest="last", required=True, help="last day (YYYY-MM-DD)")
    compute.add_argument("--kind", choices=["month", "week", "quarter"], default="month")
    compute.add_argument("--measure", action="append", default=[], metavar="KEY", help="only this measure (repeatable)")
    compute.add_argument("--quiet", action="store_true", help="no progress bar")
    compute.set_defaults(run=cmd_compute_measures)

    for name, module_path in MODULE_COMMANDS.items():
        try:
            module = importlib.import_module(module_path)
        except ModuleNotFoundError as missing:
            if missing.name and module_path.startswith(missing.name):
                continue  # that module has not been built yet
            raise
        module.register(commands.add_parser(name, help=module.__doc__.strip().splitlines()[0]))
    return parser


# Files the commands write (the FHIR store, view outputs) are private, as under Django (settings.py).
PRIVATE_FILES_UMASK = 0o077


def main(argv=None) -> int:
    os.umask(PRIVATE_FILES_UMASK)
    args = build_parser().parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
