"""Which process runs a job: a worker names itself 'host:pid:start', and anyone on the same
machine can tell whether that process still runs. No Django here: `andon serve`'s supervisor
uses it before (and without) setting Django up."""

import os
import socket


def worker_identity(pid: int | None = None) -> str:
    """'host:pid:start' of a process (this one by default). The start time tells the process
    apart from a later one given the same pid. At most 64 characters (db_worker's worker id)."""
    pid = pid or os.getpid()
    return f"{socket.gethostname()[:40]}:{pid}:{process_stat(pid)[1]}"


def process_stat(pid: int) -> tuple[str, str]:
    """(state, start time in clock ticks) from Linux's /proc; ("", "") where there is none."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "", ""
    return fields[0], fields[19]  # fields 3 and 22 of proc(5)


def alive_here(identity: str) -> bool:
    """Whether `identity` names a process that runs on this machine now (not a zombie)."""
    host, _, rest = identity.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname()[:40] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user
    state, started = process_stat(int(pid))
    return state != "Z" and started == start
