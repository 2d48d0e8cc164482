"""The measures module's background jobs."""

from datetime import date

from andon.platform.jobs import JobFailed, job_task

from . import services


@job_task
def compute_measures(job, keys, kind: str, first: str, last: str):
    """Compute measures (all active ones when `keys` is None) over a range of periods."""
    try:
        done = services.compute_measures(keys, kind=kind, first=date.fromisoformat(first), last=date.fromisoformat(last),
                                         job=job, progress=job.progress)
    except services.ValidationError as error:
        raise JobFailed("; ".join(error.messages)) from None
    return {"measures": [{"measure": d.measure, "cells": d.cells, "error": d.error,
                          **{k: v for k, v in d.counts.items() if k != "first_errors"}} for d in done]}
