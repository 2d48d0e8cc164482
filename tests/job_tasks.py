"""A job for tests that run a real worker process (tests/test_processes.py): it runs until a
file appears in the data directory, so that a test can stop its worker in the middle of it."""

import time
from pathlib import Path

from django.conf import settings

from andon.platform.jobs import job_task


@job_task
def wait_for_gate(job, name):
    gate = Path(settings.DATA_DIR) / name
    job.progress(0, 1, "Waiting for the gate")
    while not gate.exists():
        time.sleep(0.05)
        job.progress(0, 1)  # a job given up on stops here
    return {"gate": name}
