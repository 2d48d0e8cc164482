"""`andon serve --with-worker` as real processes on a free port, with a data directory and SQLite
of their own: a worker killed in the middle of a job is started again and the job given up on
(queued again, here), and SIGTERM stops every child, records the running job's end and frees
the port. Linux only: the tests read /proc to find the server's children."""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from andon.platform.jobs import start_job
from tests.job_tasks import wait_for_gate

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
copies_the_test_database = pytest.mark.django_db  # which must then exist

ROOT = Path(__file__).resolve().parent.parent


def _env(data_dir: Path) -> dict:
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "CACHE_URL")}
    env.update(ANDON_DATA_DIR=str(data_dir), ANDON_JOB_HEARTBEAT_SECONDS="0.2", ANDON_JOB_LEASE_SECONDS="1")
    return env


@pytest.fixture(scope="module")
def template(tmp_path_factory, django_db_setup, django_db_blocker):
    """A data directory whose database is a copy of the (migrated) test database with one job
    queued: migrating a new file would take seconds."""
    if connection.vendor != "sqlite":
        pytest.skip("the served processes use SQLite of their own: they run once, in the SQLite run")
    folder = tmp_path_factory.mktemp("served") / "template"
    folder.mkdir()
    with django_db_blocker.unblock():
        job = start_job(wait_for_gate, "Wait for the gate", None, "gate")
        try:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM INTO %s", [str(folder / "andon.sqlite3")])
        finally:
            DBTaskResult.objects.filter(id=job.task_result_id).delete()
            job.delete()
    return folder


def wait_for(found, what, timeout=30.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := found():
            return value
        assert process is None or process.poll() is None, f"andon serve ended while waiting for {what}"
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout} s for {what}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def descendants(pid: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


class Served:
    def __init__(self, folder: Path, port: int, process: subprocess.Popen):
        self.folder, self.port, self.process = folder, port, process

    def job(self) -> dict:
        with sqlite3.connect(self.folder / "andon.sqlite3") as db:
            db.row_factory = sqlite3.Row
            return dict(db.execute("SELECT * FROM platform_job").fetchone())

    def wait_for(self, found, what):
        return wait_for(found, what, process=self.process)

    def running_job(self, attempt: int) -> dict:
        job = self.job()
        return job if job["status"] == "running" and job["attempts"] == attempt else None

    def listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True


@pytest.fixture
def serve(template, tmp_path):
    started = []

    def start(*, attempts: int) -> Served:
        folder = tmp_path / "data"
        shutil.copytree(template, folder)
        with sqlite3.connect(folder / "andon.sqlite3") as db:
            db.execute("UPDATE platform_job SET max_attempts = ?", (attempts,))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = (tmp_path / "serve.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "andon.cli", "serve", "--port", str(port), "--workers", "1", "--with-worker",
             "--stop-timeout", "1"], env=_env(folder), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        started.append((Served(folder, port, process), log))
        return started[-1][0]

    yield start
    for served, log in started:  # a test that failed half-way leaves nothing running
        (served.folder / "gate").touch()
        children = descendants(served.process.pid)
        served.process.terminate()
        try:
            served.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            for pid in [served.process.pid, *children]:
                os.kill(pid, signal.SIGKILL)
        log.close()
        print((tmp_path / "serve.log").read_text()[-3000:])


@copies_the_test_database
def test_a_killed_worker_is_started_again_and_its_job_queued_again_with_the_reason(serve):
    served = serve(attempts=2)
    job = served.wait_for(lambda: served.running_job(1), "the worker to take the job")
    worker = int(job["worker"].split(":")[1])
    assert worker in descendants(served.process.pid)

    os.kill(worker, signal.SIGKILL)
    job = served.wait_for(lambda: served.running_job(2), "a new worker to take the job again")
    again = int(job["worker"].split(":")[1])
    assert again != worker and again in descendants(served.process.pid) and not alive(worker)
    assert [(lost["attempt"], lost["reason"]) for lost in json.loads(job["lost_attempts"])] == [
        (1, "The worker running the job was killed by SIGKILL before the job finished.")]

    (served.folder / "gate").touch()
    job = wait_for(lambda: (job := served.job())["status"] == "succeeded" and job, "the job to finish")
    assert (job["attempts"], job["error"], json.loads(job["result"])) == (2, "", {"gate": "gate"})


@copies_the_test_database
def test_sigterm_stops_every_child_records_the_job_and_frees_the_port(serve):
    served = serve(attempts=1)
    served.wait_for(lambda: served.running_job(1) and served.listening(), "the job to run and the port to listen")
    children = descendants(served.process.pid)
    assert len(children) >= 3  # gunicorn, its worker and the job worker (with their own children, if any)

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=20) == 0
    assert [pid for pid in children if alive(pid)] == []
    job = served.job()
    assert (job["status"], job["error"]) == ("failed", "The worker was stopped while the job ran (SystemExit).")
    assert job["finished_at"] and job["worker"] == ""
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        again.bind(("127.0.0.1", served.port))  # no "address in use"


def test_sigint_stops_a_server_without_a_worker_and_its_children():
    """The supervisor alone (no Django): a stand-in server that starts a child of its own."""
    server = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    supervise = ("import sys; from andon.platform.supervisor import Supervisor; "
                 f"sys.exit(Supervisor([sys.executable, '-c', {server!r}], None, stop_timeout=1).run())")
    process = subprocess.Popen([sys.executable, "-c", supervise], cwd=ROOT)
    children = wait_for(lambda: len(found := descendants(process.pid)) >= 2 and found, "the server and its child",
                        process=process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert [pid for pid in children if alive(pid)] == []
