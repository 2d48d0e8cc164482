"""The patient voice's daily sweep (the interim letter asked for at a grievance's limit; the
grievance measures fed on the first days of a month), in the platform's registry of daily sweeps
(platform/sweeps.py) under "voice". Each subject registers its part from its `connect()`;
`andon voice sweep` runs them all."""

from functools import partial

from andon.platform import sweeps

register_sweep = partial(sweeps.register_sweep, "voice")  # register_sweep(name, sweep)
run_sweeps = partial(sweeps.run_sweeps, "voice")  # run_sweeps(today) -> {name: records acted on}
