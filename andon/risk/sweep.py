"""The risk module's daily sweep: what it does on its own each day (review reminders to owners;
key risk indicators flagging their risks). Each subject registers its part from its `connect()`;
`andon risk sweep` runs them all (cron or a systemd timer, once a day), and a second run on the
same day does nothing more."""

from collections.abc import Callable
from datetime import date

_SWEEPS: dict[str, Callable[[date], int]] = {}


def register_sweep(name: str, sweep: Callable[[date], int]) -> None:
    """`sweep(today)` does the day's work of one subject and returns how many records it acted on."""
    _SWEEPS.setdefault(name, sweep)


def run_sweeps(today: date) -> dict[str, int]:
    return {name: sweep(today) for name, sweep in _SWEEPS.items()}
