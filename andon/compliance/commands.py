"""Compliance: the daily sweep (reminders, expiry, readiness snapshots) for schedulers."""

from andon.platform.sweeps import add_sweep_command


def register(parser) -> None:
    add_sweep_command(parser, "compliance", "do the day's compliance work: expired evidence, policy reviews, "
                                            "attestation reminders, readiness snapshots (run once a day)")
