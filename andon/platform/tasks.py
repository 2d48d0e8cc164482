"""The platform's background jobs."""

from . import audit
from .exports import exports_dir, write_csv
from .jobs import job_task

AUDIT_COLUMNS = ["id", "timestamp", "actor", "action", "record_type", "record_id", "record",
                 "changes", "remote_addr", "additional_data"]


@job_task
def export_audit_trail(job, filters: dict):
    """Write the audit entries matching `filters` to a CSV file in the data directory."""
    entries = audit.search(**filters)
    total = entries.count()
    job.progress(0, total, "Writing audit entries")

    def rows():
        for done, entry in enumerate(entries.iterator(chunk_size=2000), start=1):
            yield audit.as_row(entry)
            job.progress(done, total)

    name = f"audit-trail-{job.id}.csv"
    count = write_csv(exports_dir() / name, AUDIT_COLUMNS, rows())
    job.progress(count, count, f"Wrote {count} audit entries")
    return {"file": name, "rows": count}


@job_task(retry_failures=True)
def run_scheduled_task(job, key: str, slot: str):
    """A slot of a scheduled task (platform.schedules); a failed attempt is tried again while
    the schedule's retries last, each failure kept on the job page."""
    from datetime import datetime

    from . import schedules

    return schedules.run_scheduled(key, datetime.fromisoformat(slot))
