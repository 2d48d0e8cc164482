"""Risk: the daily sweep (review reminders, key risk indicators) for schedulers."""

from andon.platform.sweeps import add_sweep_command


def register(parser) -> None:
    add_sweep_command(parser, "risk", "do the day's risk work: owners told of reviews due or overdue, risks "
                                      "flagged by their key risk indicators (run once a day)")
