"""Compliance's daily sweep (expired evidence turns amber and its owner is told, policies due for
review and overdue attestations are reminded, readiness is snapshotted for its trend), kept in the
platform's registry of daily sweeps (platform/sweeps.py) under "compliance". Each subject
registers its part from its `connect()`; `andon compliance sweep` runs them all."""

from functools import partial

from andon.platform import sweeps

register_sweep = partial(sweeps.register_sweep, "compliance")  # register_sweep(name, sweep)
run_sweeps = partial(sweeps.run_sweeps, "compliance")  # run_sweeps(today) -> {name: records acted on}
