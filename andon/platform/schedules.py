"""What runs on a schedule the administrator sets in the app (nightly recomputes, the board pack's
draft, the morning reminders): the registry every module adds its tasks to from its `connect()`.

    schedules.register_scheduled_task("governance.draft_board_pack", "Draft the board quality pack",
                                      draft_pack_task, default_spec="0 6 * * *")

`fn(slot)` does the work for the slot (an aware datetime: the moment the run was due) and returns
a small JSON-able dict (what it did), as a job does; it raises `jobs.JobFailed` with the reason
when it could do nothing. The schedule's timing is the administrator's (the `Schedule` table); the
default spec seeds it.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduledTask:
    key: str
    label: str
    fn: Callable
    default_spec: str
    retries: int = 0


_TASKS: dict[str, ScheduledTask] = {}


def register_scheduled_task(key: str, label: str, fn: Callable, *, default_spec: str, retries: int = 0) -> None:
    """A key is registered once (a second `ready()`, as in tests, adds nothing)."""
    _TASKS.setdefault(key, ScheduledTask(key, label, fn, default_spec, retries))


def scheduled_tasks() -> list[ScheduledTask]:
    return list(_TASKS.values())
