"""Medical staff: the daily sweep (credential alerts, reappointments due) for schedulers."""

from andon.platform.sweeps import add_sweep_command


def register(parser) -> None:
    add_sweep_command(parser, "medstaff", "do the day's medical staff work: practitioners and the office told of "
                                          "credentials expiring or expired (an expired licence flags the "
                                          "privileges), reappointments falling due (run once a day)")
