"""The risk module's daily sweep (review reminders to owners; key risk indicators flagging their
risks), kept in the platform's registry of daily sweeps (platform/sweeps.py) under "risk". Each
subject registers its part from its `connect()`; `andon risk sweep` runs them all."""

from functools import partial

from andon.platform import sweeps

register_sweep = partial(sweeps.register_sweep, "risk")  # register_sweep(name, sweep)
run_sweeps = partial(sweeps.run_sweeps, "risk")  # run_sweeps(today) -> {name: records acted on}
