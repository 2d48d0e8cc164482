"""Compliance: the daily sweep (reminders, expiry, readiness snapshots) for schedulers."""


def register(parser) -> None:
    commands = parser.add_subparsers(dest="compliance_command", required=True, metavar="COMMAND")
    sweep = commands.add_parser("sweep", help="do the day's compliance work: expired evidence, policy reviews, "
                                              "attestation reminders, readiness snapshots (run once a day)")
    sweep.add_argument("--date", default=None, help="the day to act as (YYYY-MM-DD; default today)")
    sweep.set_defaults(run=_run_sweep)


def _run_sweep(args) -> int:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "andon.settings")
    django.setup()
    from datetime import date

    from django.utils import timezone

    from andon.compliance.sweep import run_sweeps

    today = date.fromisoformat(args.date) if args.date else timezone.localdate()
    for name, count in run_sweeps(today).items():
        print(f"{name}: {count}")
    return 0
