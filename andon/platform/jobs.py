"""Background jobs: a django-tasks task plus a `Job` row that people can watch.

A module writes its long work as

    @job_task
    def rebuild_results(job, measure_id):
        for i, item in enumerate(items):
            ...
            job.progress(i + 1, len(items), "Rebuilding results")
        return {"rows": n}

and starts it with `start_job(rebuild_results, "Rebuild results", user, measure_id)`.
`andon worker` (django-tasks-db's db_worker) runs it; the job page shows progress and errors.

A job is leased to the worker process that runs it: the worker names itself on the row
("host:pid:start") and a thread beside the job writes a heartbeat (and the progress) every
ANDON_JOB_HEARTBEAT_SECONDS. A job whose worker is gone (its process ended, as `andon serve`
sees at once, or it has been silent for ANDON_JOB_LEASE_SECONDS and is not a live process on
this machine) is given up on: queued again while it has attempts left, else failed, the reason
kept on the row for the job page. A worker that was given up on finds out at its next heartbeat
or progress and stops; its late writes change nothing.
"""

import logging
import threading
import time
import traceback
from contextlib import contextmanager
from datetime import timedelta
from functools import cache, wraps

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task, task_backends

from .models import Job
from .processes import alive_here, worker_identity

logger = logging.getLogger(__name__)

# Writing progress on every item would make a tight loop database-bound.
_PROGRESS_INTERVAL_SECONDS = 0.5


class JobFailed(Exception):
    """Raise with a message written for the requester; it is shown on the job page as is."""


class LeaseLost(Exception):
    """The job was given up on (its worker was taken for dead) and is no longer this worker's."""


@cache
def _me() -> str:
    return worker_identity()


# --- a running job ----------------------------------------------------------------------------

class JobHandle:
    """What a running job uses to report progress. The progress is written by the heartbeat
    thread, on its own connection, so it shows while the job is inside a long transaction."""

    def __init__(self, job: Job):
        self.job = job
        self.lost = False
        self.committed = False
        self._changed = False
        self._lock = threading.Lock()

    @property
    def id(self) -> int:
        return self.job.pk

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        if self.lost:
            raise LeaseLost(f"job {self.id} was given up on")
        with self._lock:
            self.job.progress_done = done
            if total is not None:
                self.job.progress_total = total
            if message:
                self.job.message = message[:500]
            self._changed = True

    def requester(self):
        """The account that asked for the job, for a job that acts as that person; JobFailed if
        it is gone or deactivated (its permissions are checked again as it works)."""
        user = self.job.requested_by
        if user is None or not user.is_active:
            raise JobFailed("The account that asked for this job is no longer active; nothing was done.")
        return user

    def commit_result(self, result: dict) -> None:
        """Record success inside the job's own transaction, with its work: a worker that stops
        after the commit leaves a finished job (never run twice), one that stops before leaves
        nothing done. Raises LeaseLost (rolling the work back) if the job is no longer ours."""
        if not self.mine().update(status=Job.Status.SUCCEEDED, result=result, finished_at=timezone.now(),
                                  **self._progress_fields(finished=True)):
            self.lost = True
            raise LeaseLost(f"job {self.id} was given up on")
        self.committed = True

    def mine(self):
        """The job's row while it is still leased to this attempt of this worker."""
        return Job.objects.filter(pk=self.job.pk, worker=self.job.worker, attempts=self.job.attempts)

    def _progress_fields(self, finished=False) -> dict:
        with self._lock:
            self._changed = False
            if finished and self.job.progress_total:
                self.job.progress_done = self.job.progress_total
            return {"progress_done": self.job.progress_done, "progress_total": self.job.progress_total,
                    "message": self.job.message}

    def beat(self, heartbeat: bool) -> None:
        """Write the progress if it changed, and the heartbeat if asked; notice a lost lease."""
        fields = self._progress_fields() if self._changed else {}
        if heartbeat:
            fields["heartbeat_at"] = timezone.now()
        if not fields:
            return
        try:
            updated = self.mine().update(**fields)
        except DatabaseError:
            self._changed = self._changed or "message" in fields  # written next time
            raise
        # Not ours any more, unless the row is not there to see: a job run at once inside the
        # transaction that queued it (an immediate task backend) is not visible from here.
        self.lost = not updated and Job.objects.filter(pk=self.job.pk).exists()

    def finish(self, status: str, **fields) -> None:
        fields.update(status=status, finished_at=timezone.now(),
                      **self._progress_fields(finished=status == Job.Status.SUCCEEDED))
        if not self.mine().update(**fields):
            logger.warning("Job %s finished after it was given up on; its outcome is not recorded", self.id)


@contextmanager
def _heartbeat(handle: JobHandle):
    stop = threading.Event()
    thread = threading.Thread(target=_beat, args=(handle, stop), name=f"job-{handle.id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _beat(handle: JobHandle, stop: threading.Event) -> None:
    every = settings.ANDON_JOB_HEARTBEAT_SECONDS
    last = time.monotonic()
    try:
        while not stop.wait(min(every, _PROGRESS_INTERVAL_SECONDS)) and not handle.lost:
            due = time.monotonic() - last >= every
            try:
                handle.beat(heartbeat=due)
            except DatabaseError as error:  # SQLite busy under a long write, a dropped connection
                logger.info("Job %s: heartbeat not written (%s); trying again", handle.id, error)
                connection.close()
                continue
            if due:
                last = time.monotonic()
    finally:
        connection.close()


def job_task(function=None, *, retries: int | None = None, retry_failures: bool = False, **task_options):
    """Make `function(job, *args)` a django-tasks task that keeps its Job row up to date.

    `retries`: how often a job whose worker stopped is queued again (default
    ANDON_JOB_RETRIES). A job that fails on its own (an exception, JobFailed) is retried only
    with `retry_failures` (the scheduled tasks: a nightly run that met a passing fault), while
    it has attempts left; each failed attempt is kept on the job beside the lost ones."""

    def decorate(function):
        @wraps(function)
        def run(job_id: int, *args, **kwargs):
            again = (lambda: the_task.enqueue(job_id, *args, **kwargs)) if retry_failures else None
            return _run(function, job_id, args, kwargs, again)

        run.retries = retries
        the_task = task(**task_options)(run)
        return the_task

    return decorate(function) if function is not None else decorate


def _run(function, job_id, args, kwargs, again=None):
    handle = _claim(job_id)
    if handle is None:
        return None  # not queued any more: given up on, or already run
    try:
        with _heartbeat(handle):
            result = function(handle, *args, **kwargs)
    except LeaseLost:
        raise
    except Exception as error:
        _failed(handle, error, again)
        raise
    except BaseException as stop:  # SystemExit, KeyboardInterrupt: the worker is being stopped
        _give_up(handle.job, f"The worker was stopped while the job ran ({type(stop).__name__}).")
        raise
    if not handle.committed:
        handle.finish(Job.Status.SUCCEEDED, result=result)
    return result


def _failed(handle: JobHandle, error: Exception, again) -> None:
    """Record a failed attempt: queued again if it may be retried and has attempts left, else
    the job failed (a JobFailed's message as written, else a generic one and the traceback)."""
    if isinstance(error, JobFailed):
        fields = {"error": str(error)}
    else:
        fields = {"error": f"The job stopped on an unexpected error ({type(error).__name__}). "
                           "An administrator can see the details.", "traceback": traceback.format_exc()}
    if again is not None and handle.job.attempts < handle.job.max_attempts and _retry(handle, fields["error"], again):
        return
    handle.finish(Job.Status.FAILED, **fields)


def _retry(handle: JobHandle, reason: str, again) -> bool:
    """Queue a failed attempt's job again, the failure kept with the lost attempts (the job page
    lists them). False if the job is no longer this attempt's."""
    job = handle.job
    entry = {"attempt": job.attempts, "at": timezone.now().isoformat(), "worker": job.worker,
             "reason": f"It failed: {reason}"}
    with transaction.atomic():
        if not handle.mine().update(status=Job.Status.QUEUED, worker="", heartbeat_at=None, progress_done=0,
                                    lost_attempts=[*job.lost_attempts, entry],
                                    message=f"Attempt {job.attempts} failed and the job was queued again."):
            return False
        Job.objects.filter(pk=job.pk).update(task_result_id=str(again().id))
    logger.warning("Job %s (%s): attempt %s failed (%s); queued again", job.pk, job.title, job.attempts, reason)
    return True


def _claim(job_id) -> JobHandle | None:
    now = timezone.now()
    if not Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, worker=_me(), attempts=F("attempts") + 1, started_at=now,
            heartbeat_at=now, finished_at=None, error=""):
        return None
    return JobHandle(Job.objects.get(pk=job_id))


def start_job(job_task_, title: str, requested_by, *args, **kwargs) -> Job:
    """Queue a job; the Job row and the queue row commit together."""
    retries = job_task_.func.retries
    retries = settings.ANDON_JOB_RETRIES if retries is None else retries
    return queue_job(job_task_, title, requested_by, *args, max_attempts=1 + max(0, retries), **kwargs)


def queue_job(job_task_, title: str, requested_by, *args, max_attempts: int, **kwargs) -> Job:
    """start_job with the attempts given (a schedule's retries, set by the administrator)."""
    with transaction.atomic():
        job = Job.objects.create(task_name=job_task_.name, title=title, requested_by=requested_by,
                                 max_attempts=max_attempts)
        result = job_task_.enqueue(job.pk, *args, **kwargs)
        job.task_result_id = str(result.id)
        job.save(update_fields=["task_result_id"])
    return job


# --- giving up on a job whose worker stopped ---------------------------------------------------

def recover_lost_jobs(*, worker: str = "", reason: str = "") -> list[Job]:
    """Give up on the running jobs whose worker has stopped: those of `worker`, a process known
    to have ended (for `reason`), or else those whose worker has been silent for longer than the
    lease and is not a live process on this machine. Returns the jobs given up on."""
    running = Job.objects.filter(status=Job.Status.RUNNING)
    if worker:
        lost = [(job, reason) for job in running.filter(worker=worker)]
    else:
        cutoff = timezone.now() - timedelta(seconds=settings.ANDON_JOB_LEASE_SECONDS)
        silent = running.filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at=None, started_at__lt=cutoff))
        lost = [(job, _silence(job)) for job in silent if not alive_here(job.worker)]
    return [given_up for job, why in lost if (given_up := _give_up(job, why))]


def _silence(job: Job) -> str:
    last = timezone.localtime(job.heartbeat_at or job.started_at)
    who = f"Its worker ({job.worker})" if job.worker else "Its worker"
    return f"{who} stopped answering: nothing heard from it since {last:%Y-%m-%d %H:%M:%S %Z}."


def _give_up(job: Job, reason: str) -> Job | None:
    """Queue the job again while it has attempts left, else fail it; the lost attempt and its
    reason are kept. None if the job has moved on (finished, or already given up on)."""
    now = timezone.now()
    with transaction.atomic():
        job = (Job.objects.select_for_update()
               .filter(pk=job.pk, status=Job.Status.RUNNING, worker=job.worker, attempts=job.attempts).first())
        if job is None:
            return None
        _fail_task_result(job.task_result_id, reason)
        attempt = job.attempts or 1  # 0: a job left running by a worker from before the lease
        job.lost_attempts = [*job.lost_attempts, {"attempt": attempt, "at": now.isoformat(),
                                                  "worker": job.worker, "reason": reason}]
        job.worker, job.heartbeat_at = "", None
        if attempt < job.max_attempts:
            job.status, job.progress_done = Job.Status.QUEUED, 0
            job.message = f"Attempt {attempt} was lost and the job was queued again: {reason}"[:500]
            job.task_result_id = _enqueue_again(job.task_result_id)
        else:
            job.status, job.error, job.finished_at = Job.Status.FAILED, reason, now
        job.save(update_fields=["lost_attempts", "worker", "heartbeat_at", "status", "progress_done", "message",
                                "task_result_id", "error", "finished_at"])
    logger.warning("Job %s (%s): %s %s", job.pk, job.title, reason,
                   "Queued again." if job.status == Job.Status.QUEUED else "Failed.")
    return job


def _enqueue_again(task_result_id: str) -> str:
    previous = task_backends[DEFAULT_TASK_BACKEND_ALIAS].get_result(task_result_id)
    return str(previous.task.enqueue(*previous.args, **previous.kwargs).id)


def _fail_task_result(task_result_id: str, reason: str) -> None:
    """The queue's own row says "running" for ever otherwise."""
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend) and task_result_id:
        DBTaskResult.objects.filter(id=task_result_id, status="RUNNING").update(
            status="FAILED", finished_at=timezone.now(), exception_class_path=f"{__name__}.LeaseLost",
            traceback=reason)


def watch_for_lost_jobs(stop: threading.Event) -> None:
    """Run in a thread beside a worker: give up on jobs of silent workers, every half lease."""
    every = max(0.2, settings.ANDON_JOB_LEASE_SECONDS / 2)
    try:
        while True:
            try:
                recover_lost_jobs()
            except DatabaseError as error:
                logger.warning("Could not look for lost jobs (%s); trying again", error)
                connection.close()
            if stop.wait(every):
                return
    finally:
        connection.close()
