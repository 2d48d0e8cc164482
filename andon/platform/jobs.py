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
"""

import time
import traceback
from functools import wraps

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from .models import Job

# Writing progress on every item would make a tight loop database-bound.
_PROGRESS_INTERVAL_SECONDS = 0.5


class JobFailed(Exception):
    """Raise with a message written for the requester; it is shown on the job page as is."""


class JobHandle:
    """What a running job uses to report progress."""

    def __init__(self, job: Job):
        self.job = job
        self._last_write = 0.0

    @property
    def id(self) -> int:
        return self.job.pk

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        self.job.progress_done = done
        if total is not None:
            self.job.progress_total = total
        if message:
            self.job.message = message[:500]
        now = time.monotonic()
        if now - self._last_write >= _PROGRESS_INTERVAL_SECONDS or (total and done >= total):
            self._last_write = now
            Job.objects.filter(pk=self.job.pk).update(
                progress_done=self.job.progress_done,
                progress_total=self.job.progress_total,
                message=self.job.message,
            )


def job_task(function=None, **task_options):
    """Make `function(job, *args)` a django-tasks task that keeps its Job row up to date."""

    def decorate(function):
        @wraps(function)
        def run(job_id: int, *args, **kwargs):
            return _run(function, job_id, args, kwargs)

        return task(**task_options)(run)

    return decorate(function) if function is not None else decorate


def _run(function, job_id, args, kwargs):
    job = Job.objects.get(pk=job_id)
    _mark(job, status=Job.Status.RUNNING, started_at=timezone.now())
    try:
        result = function(JobHandle(job), *args, **kwargs)
    except JobFailed as failure:
        _mark(job, status=Job.Status.FAILED, error=str(failure), finished_at=timezone.now())
        raise
    except Exception as error:
        _mark(
            job,
            status=Job.Status.FAILED,
            error=f"The job stopped on an unexpected error ({type(error).__name__}). "
            "An administrator can see the details.",
            traceback=traceback.format_exc(),
            finished_at=timezone.now(),
        )
        raise
    if job.progress_total:
        job.progress_done = job.progress_total
    _mark(
        job,
        status=Job.Status.SUCCEEDED,
        result=result,
        progress_done=job.progress_done,
        finished_at=timezone.now(),
    )
    return result


def _mark(job: Job, **fields) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    Job.objects.filter(pk=job.pk).update(**fields)


def start_job(job_task_, title: str, requested_by, *args, **kwargs) -> Job:
    """Queue a job; the Job row and the queue row commit together."""
    with transaction.atomic():
        job = Job.objects.create(task_name=job_task_.name, title=title, requested_by=requested_by)
        result = job_task_.enqueue(job.pk, *args, **kwargs)
        job.task_result_id = str(result.id)
        job.save(update_fields=["task_result_id"])
    return job
