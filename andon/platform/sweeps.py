"""The daily sweeps: what a module does on its own each day (reminders and expiry e-mailed,
readiness snapshotted, risks flagged by their indicators). One registry for every module: a
module's subjects register their part from their `connect()` under the module's name, and
`andon <module> sweep` (cron or a systemd timer, once a day) runs that module's in the order they
were registered. Write a sweep so that a second run on the same day does nothing more.

Plain Python, no Django: the command line may import it before Django is set up."""

import argparse
from collections.abc import Callable
from datetime import date

Sweep = Callable[[date], int]

_SWEEPS: dict[str, dict[str, Sweep]] = {}  # module -> sweep's name -> sweep


def register_sweep(module: str, name: str, sweep: Sweep) -> None:
    """`sweep(today)` does one subject's work of the day and returns how many records it acted on.
    A name is registered once (a second `ready()`, as in tests, adds nothing)."""
    _SWEEPS.setdefault(module, {}).setdefault(name, sweep)


def run_sweeps(module: str, today: date) -> dict[str, int]:
    """Each of the module's sweeps for `today`: {name: how many records it acted on}. A module
    that registered none is a KeyError (a misspelt name, or a module whose apps are not ready)."""
    if module not in _SWEEPS:
        raise KeyError(f"No daily sweep is registered for {module!r} (registered: {', '.join(sorted(_SWEEPS))}).")
    return {name: sweep(today) for name, sweep in _SWEEPS[module].items()}


def sweep_modules() -> list[str]:
    """The modules that registered sweeps, in the order they first did."""
    return list(_SWEEPS)


def sweeps_of(module: str) -> list[str]:
    """The names of the module's sweeps, in the order they run."""
    return list(_SWEEPS.get(module, {}))


def add_sweep_command(parser, module: str, help_text: str) -> None:
    """`andon <module> sweep [--date YYYY-MM-DD]`: the module's sweeps for that day (default today
    in the organisation's time zone), one line per sweep with how many records it acted on."""
    commands = parser.add_subparsers(dest=f"{module}_command", required=True, metavar="COMMAND")
    sweep = commands.add_parser("sweep", help=help_text)
    sweep.add_argument("--date", type=_day, default=None,
                       help="the day to act as (YYYY-MM-DD; default today in the organisation's time zone)")
    sweep.set_defaults(run=lambda args: _run_command(module, args.date))


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def _run_command(module: str, day: date | None) -> int:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "andon.settings")
    django.setup()
    from django.utils import timezone

    for name, count in run_sweeps(module, day or timezone.localdate()).items():
        print(f"{name}: {count}")
    return 0
