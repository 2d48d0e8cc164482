"""The medical staff module's daily sweep (credential alerts, reappointments falling due), kept in
the platform's registry of daily sweeps (platform/sweeps.py) under "medstaff". Each subject
registers its part from its `connect()`; `andon medstaff sweep` runs them all."""

from functools import partial

from andon.platform import sweeps

register_sweep = partial(sweeps.register_sweep, "medstaff")  # register_sweep(name, sweep)
run_sweeps = partial(sweeps.run_sweeps, "medstaff")  # run_sweeps(today) -> {name: records acted on}
