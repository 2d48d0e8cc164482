"""Patient voice: the daily sweep (interim letters asked for, grievance measures) for schedulers."""

from andon.platform.sweeps import add_sweep_command


def register(parser) -> None:
    add_sweep_command(parser, "voice", "do the day's patient voice work: interim letters asked for at a grievance's "
                                       "limit, the grievance measures fed for last month (run once a day)")
