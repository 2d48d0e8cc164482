"""The daily sweeps: what a module does on its own each day (reminders and expiry e-mailed,
readiness snapshotted, risks flagged by their indicators). One registry for every module: a
module's subjects register their part from their `connect()` under the module's name, and
`andon <module> sweep` (cron or a systemd timer, once a day) runs that module's in the order they
were registered. Write a sweep so that a second run on the same day does nothing more.

Plain Python, no Django: the command line may import it before Django is set up."""

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


def sweeps_of(module: str) -> list[str]:
    """The names of the module's sweeps, in the order they run."""
    return list(_SWEEPS.get(module, {}))
