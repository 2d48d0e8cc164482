"""Risk: the daily sweep (review reminders) for schedulers."""

from datetime import date


def register(parser) -> None:
    commands = parser.add_subparsers(dest="risk_command", required=True, metavar="COMMAND")
    sweep = commands.add_parser("sweep", help="do the day's risk work: owners told of reviews due or overdue "
                                              "(run once a day)")
    sweep.add_argument("--date", type=date.fromisoformat, default=None,
                       help="the day to act as (YYYY-MM-DD; default today in the organisation's time zone)")
    sweep.set_defaults(run=_run_sweep)


def _run_sweep(args) -> int:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "andon.settings")
    django.setup()
    from django.utils import timezone

    from andon.risk.sweep import run_sweeps

    for name, count in run_sweeps(args.date or timezone.localdate()).items():
        print(f"{name}: {count}")
    return 0
