"""`andon serve`: gunicorn and (with --with-worker) a job worker, run as children that live and
die with the server.

- SIGTERM or SIGINT stops both: gunicorn finishes its requests and the worker its job within the
  stop timeout; a worker still busy then is told to stop again, which interrupts its job (given
  up on: failed, or queued again while it has attempts left), and whatever is left is killed.
- A worker that ends on its own is started again, at once the first time and after a pause that
  grows while it keeps ending soon after its start; the job it ran is given up on at once.
- Each child runs in a session of its own (a terminal's Ctrl+C reaches only the supervisor, which
  stops them in order) and asks Linux to stop it if the supervisor itself is killed, so that no
  orphan keeps the port.

No Django here: the children start first, then `prepare` (given by the command line) sets
Django up while they boot, so that `on_worker_end` can give up on a job the moment its worker
ends, before a new worker (and its own watch for lost jobs) starts.
"""

import ctypes
import os
import signal
import subprocess
import sys
import time

from collections.abc import Callable

from .processes import worker_identity

POLL_SECONDS = 0.1
SETTLED_SECONDS = 30  # a worker that ran this long before ending is restarted at once
MAX_PAUSE_SECONDS = 30
LAST_WORDS_SECONDS = 5  # after the second stop signal, for the worker to record its job's end


def how_it_ended(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


class Supervisor:
    def __init__(self, server_command: list[str], worker_command: list[str] | None, stop_timeout: float,
                 on_worker_end: Callable[[str, str], None] = lambda worker, reason: None,
                 prepare: Callable[[], None] = lambda: None):
        """`on_worker_end(worker identity, reason)` gives up on the jobs of a worker that ended."""
        self.server_command, self.worker_command = server_command, worker_command
        self.stop_timeout, self.on_worker_end, self.prepare = stop_timeout, on_worker_end, prepare
        self.server = self.worker = None
        self.worker_id = ""
        self.worker_started = self.restart_at = 0.0
        self.quick_ends = 0
        self.stopping = False
        self.hurry = False

    def run(self) -> int:
        previous = {number: signal.signal(number, self._on_signal) for number in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.server = _spawn(self.server_command)
            if self.worker_command:
                self._start_worker()
                self.prepare()
            while not self.stopping:
                if (code := self.server.poll()) is not None:
                    _say(f"the web server {how_it_ended(code)}; stopping")
                    return code if code >= 0 else 128 - code
                self._watch_worker()
                time.sleep(POLL_SECONDS)
            return 0
        finally:
            self._stop_children()
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _on_signal(self, number, frame):
        self.hurry = self.stopping  # a second signal: do not wait any longer
        self.stopping = True

    # --- the worker ----------------------------------------------------------------------

    def _start_worker(self):
        self.worker = _spawn(self.worker_command)
        self.worker_id = worker_identity(self.worker.pid)
        self.worker_started = time.monotonic()

    def _watch_worker(self):
        if not self.worker_command:
            return
        if self.worker is None:
            if time.monotonic() >= self.restart_at:
                self._start_worker()
            return
        code = self.worker.poll()
        if code is None:
            return
        ended = how_it_ended(code)
        quick = time.monotonic() - self.worker_started < SETTLED_SECONDS
        self.quick_ends = self.quick_ends + 1 if quick else 0
        pause = min(MAX_PAUSE_SECONDS, 2 ** self.quick_ends - 1) if self.quick_ends > 1 else 0
        _say(f"the job worker (pid {self.worker.pid}) {ended}; starting it again" + (f" in {pause} s" if pause else ""))
        self._give_up(self.worker_id, f"The worker running the job {ended} before the job finished.")
        self.worker, self.restart_at = None, time.monotonic() + pause
        if not pause:
            self._start_worker()

    def _give_up(self, worker: str, reason: str):
        try:
            self.on_worker_end(worker, reason)
        except Exception as error:  # noqa: BLE001 - the workers' own watch finds the job later
            _say(f"could not record the end of the worker's job ({error})")

    # --- stopping ---------------------------------------------------------------------------

    def _stop_children(self):
        children = [child for child in (self.server, self.worker) if child is not None]
        for child in children:
            _signal(child, signal.SIGTERM)
        self._wait(children, self.stop_timeout)
        if self.worker is not None and self.worker.poll() is None:
            _signal(self.worker, signal.SIGTERM)  # the second: db_worker stops the job it runs
            self._wait([self.worker], LAST_WORDS_SECONDS)
        for child in children:
            _signal(child, signal.SIGKILL, group=True)  # what is left, with its own children
            child.wait()
        if self.worker is not None and self.worker.returncode != 0:  # 0: it finished its job and stopped
            self._give_up(self.worker_id, f"The server was stopped while the job ran; its worker "
                                          f"{how_it_ended(self.worker.returncode)}.")

    def _wait(self, children, seconds):
        deadline = time.monotonic() + seconds
        while any(child.poll() is None for child in children) and time.monotonic() < deadline and not self.hurry:
            time.sleep(POLL_SECONDS)


def _spawn(command: list[str]) -> subprocess.Popen:
    parent = os.getpid()

    def die_with_parent():
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return  # not Linux: the supervisor's own signal handling is all there is
        if os.getppid() != parent:  # the supervisor died before the request was made
            os._exit(1)

    return subprocess.Popen(command, start_new_session=True, preexec_fn=die_with_parent)


def _signal(child: subprocess.Popen, number: int, group: bool = False):
    try:
        if group:
            os.killpg(child.pid, number)  # its own session: the group is the child's pid
        elif child.poll() is None:
            child.send_signal(number)
    except (ProcessLookupError, PermissionError):
        pass


def _say(message: str):
    print(f"andon serve: {message}", file=sys.stderr, flush=True)
