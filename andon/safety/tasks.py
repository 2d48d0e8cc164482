"""The safety module's background jobs."""

from django.core.exceptions import PermissionDenied

from andon.platform.jobs import JobFailed, job_task

from . import imports


@job_task
def import_events(job, token: str, name: str, accept_valid: bool):
    """Import a large CSV of historical events (imports.queue_if_large), as its requester."""
    try:
        return imports.run_as_job(job, job.requester(), token, name, accept_valid)
    except imports.ImportFileError as problem:
        raise JobFailed(str(problem)) from None
    except PermissionDenied:
        raise JobFailed("You may no longer import events into these units; nothing was imported.") from None
