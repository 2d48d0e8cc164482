"""The measures module's background jobs."""

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError

from andon.platform.exports import exports_dir, write_csv
from andon.platform.jobs import JobFailed, job_task

from . import services
from .models import Measure


@job_task
def compute_measures(job, keys, kind: str, first: str, last: str):
    """Compute measures (all active ones when `keys` is None) over a range of periods. A job
    that computed none of them failed, and says why for each; one that computed some succeeded
    and lists those it could not (`problems`, shown on the job page; each measure's page says
    it too)."""
    try:
        done = services.compute_measures(keys, kind=kind, first=date.fromisoformat(first), last=date.fromisoformat(last),
                                         job=job, progress=job.progress)
    except services.ValidationError as error:
        raise JobFailed("; ".join(error.messages)) from None
    problems = [d.error for d in done if d.error]
    if problems and len(problems) == len(done):
        raise JobFailed(f"Nothing was computed. {'; '.join(problems)}")
    return {"measures": [{"measure": d.measure, "cells": d.cells, "error": d.error,
                          **{k: v for k, v in d.counts.items() if k != "first_errors"}} for d in done],
            "problems": problems}


@job_task
def import_counts(job, key: str, text: str, filename: str):
    """A large CSV of counts (services.queue_counts_import), as its requester: all or nothing."""
    try:
        report = services.import_counts_csv(job.requester(), Measure.objects.get(key=key), text, filename, progress=job.progress)
    except Measure.DoesNotExist:
        raise JobFailed(f"The measure {key} no longer exists; nothing was imported.") from None
    except (ValidationError, PermissionDenied) as error:
        raise JobFailed(f"Nothing was imported: {' '.join(getattr(error, 'messages', [str(error)]))}") from None
    if report.ok:
        job.progress(report.stored, report.stored, f"{report.stored} counts imported.")
        return {"rows": report.rows, "stored": report.stored}
    name = f"counts-import-problems-{job.id}.csv"
    write_csv(exports_dir() / name, ["line", "problem"], ({"line": line, "problem": why} for line, why in report.errors))
    job.progress(report.rows, report.rows, f"Nothing was imported: {len(report.errors)} of {report.rows} rows have "
                                           f"problems (the first on line {report.errors[0][0]}: {report.errors[0][1]}).")
    return {"file": name, "rows": len(report.errors), "stored": 0}
