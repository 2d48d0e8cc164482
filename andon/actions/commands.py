"""Actions: the daily sweep (the owners' reminders) for schedulers."""

from andon.platform.sweeps import add_sweep_command


def register(parser) -> None:
    add_sweep_command(parser, "actions", "remind the owners of actions overdue or due within a week (at most "
                                         "once a week per action; run each morning)")
