"""The daily sweep: what compliance does on its own each day (expired evidence turns amber and its
owner is told, policies due for review and overdue attestations are reminded, readiness is
snapshotted for its trend). Each subject registers its part from its `connect()`; a scheduler
runs them all with `andon compliance sweep` (cron or a systemd timer, once a day), and running it
twice on one day does nothing more the second time.
"""

from collections.abc import Callable
from datetime import date

_SWEEPS: list[tuple[str, Callable[[date], int]]] = []


def register_sweep(name: str, sweep: Callable[[date], int]) -> None:
    """`sweep(today)` does its day's work and returns how many records it acted on."""
    if name not in {existing for existing, _ in _SWEEPS}:
        _SWEEPS.append((name, sweep))


def run_sweeps(today: date) -> dict[str, int]:
    return {name: sweep(today) for name, sweep in _SWEEPS}
