"""Background jobs: queued through django-tasks, run by the database worker, watched on the
job page with progress and errors."""

import csv
import time
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from andon.platform.jobs import JobFailed, LeaseLost, _claim, job_task, recover_lost_jobs, start_job
from andon.platform.processes import worker_identity
from andon.platform.models import Job
from andon.platform.roles import Role

# The worker commits and checks its connections as in production, so these tests run with
# real transactions rather than inside one rolled-back test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@job_task
def count_to(job, n):
    for i in range(1, n + 1):
        job.progress(i, n, f"Counted {i}")
    return {"counted": n}


@job_task
def refuse(job):
    job.progress(1, 3, "Reading the file")
    raise JobFailed("Line 7: the date 2026-02-30 does not exist.")


@job_task
def crash(job):
    return {}["missing"]


def run_worker():
    """What `andon worker --batch` does: run every queued job, then return."""
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)


def test_a_job_runs_to_completion_with_progress(make_user):
    user = make_user(Role.QUALITY_ANALYST, "")
    job = start_job(count_to, "Count to five", user, 5)
    assert job.status == Job.Status.QUEUED and job.task_result_id
    run_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert (job.progress_done, job.progress_total, job.percent) == (5, 5, 100)
    assert job.message == "Counted 5" and job.result == {"counted": 5}
    assert job.started_at <= job.finished_at


def test_a_job_that_refuses_its_input_shows_the_reason(client, make_user):
    user = make_user(Role.QUALITY_ANALYST, "")
    job = start_job(refuse, "Import", user)
    run_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error == "Line 7: the date 2026-02-30 does not exist."
    client.force_login(user)
    page = client.get(reverse("platform:job", args=[job.pk])).content.decode()
    assert "The job failed." in page and "Line 7: the date 2026-02-30 does not exist." in page


def test_an_unexpected_error_shows_the_requester_a_message_and_admins_the_traceback(client, make_user):
    user, admin = make_user(Role.QUALITY_ANALYST, ""), make_user(Role.ADMINISTRATOR, "")
    job = start_job(crash, "Crashes", user)
    run_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "KeyError" in job.error and "KeyError: 'missing'" in job.traceback
    client.force_login(user)
    assert "Traceback" not in client.get(reverse("platform:job", args=[job.pk])).content.decode()
    client.force_login(admin)
    assert "Traceback" in client.get(reverse("platform:job", args=[job.pk])).content.decode()


def test_job_page_polls_while_running_and_stops_when_done(client, make_user):
    user = make_user(Role.QUALITY_ANALYST, "")
    job = start_job(count_to, "Count", user, 3)
    client.force_login(user)
    page = client.get(reverse("platform:job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page
    run_worker()
    partial = client.get(reverse("platform:job", args=[job.pk]), headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and "hx-trigger" not in partial and "Succeeded" in partial


def test_audit_export_job_writes_the_filtered_entries_and_the_download_is_audited(client, hospital, make_user, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    admin = make_user(Role.ADMINISTRATOR, "")
    client.force_login(admin)
    response = client.post(reverse("platform:audit_export"), {"model": "platform.unit"})
    job = Job.objects.get(requested_by=admin)
    assert response["Location"] == reverse("platform:job", args=[job.pk])
    run_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.traceback
    with (tmp_path / "exports" / job.result["file"]).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = LogEntry.objects.filter(content_type__model="unit").order_by("-timestamp", "-pk")
    assert [int(row["id"]) for row in rows] == [entry.pk for entry in expected]
    assert job.result["rows"] == len(rows) == 18
    assert {row["record_type"] for row in rows} == {"platform.unit"}

    download = client.get(reverse("platform:job_download", args=[job.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).decode().splitlines()[0].startswith("id,timestamp,actor")
    read = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, content_type__model="job", object_pk=str(job.pk)).get()
    assert read.actor == admin and job.result["file"] in read.additional_data["reason"]


def test_a_job_file_cannot_be_used_to_read_other_files(client, make_user, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    (tmp_path / "secret_key").write_text("s3cret")
    user = make_user(Role.ADMINISTRATOR, "")
    job = Job.objects.create(task_name="x", title="Evil", requested_by=user, status=Job.Status.SUCCEEDED,
                             result={"file": "../secret_key"})
    client.force_login(user)
    assert client.get(reverse("platform:job_download", args=[job.pk])).status_code == 404


def test_exported_cells_cannot_run_as_spreadsheet_formulas():
    from andon.platform.exports import spreadsheet_safe

    assert spreadsheet_safe("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert spreadsheet_safe("+1") == "'+1" and spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("4 West") == "4 West" and spreadsheet_safe(None) == ""
    assert spreadsheet_safe({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'


# --- a worker that stops: heartbeat, lease and giving up -----------------------------------------

@job_task
def stopped(job):
    job.progress(1, 2, "Half-way")
    raise SystemExit(1)  # what db_worker raises in a job when told to stop a second time


@job_task
def wait_for_heartbeat(job):
    first = Job.objects.get(pk=job.id).heartbeat_at
    for _ in range(500):  # up to 5 s
        if Job.objects.get(pk=job.id).heartbeat_at != first:
            return {"beat": True}
        time.sleep(0.01)
    return {"beat": False}


def _running(user, worker, silent_for, max_attempts=1):
    """A job that a worker took (as `_claim` does) and then fell silent."""
    job = start_job(count_to, "Count", user, 2)
    then = timezone.now() - timedelta(seconds=silent_for)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, worker=worker, attempts=1, started_at=then,
                                         heartbeat_at=then, max_attempts=max_attempts)
    DBTaskResult.objects.filter(id=job.task_result_id).update(status="RUNNING", started_at=then)
    return job


def test_the_worker_writes_a_heartbeat_while_the_job_runs(make_user, settings):
    settings.ANDON_JOB_HEARTBEAT_SECONDS = 0.05
    job = start_job(wait_for_heartbeat, "Beat", make_user(Role.QUALITY_ANALYST, ""))
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.result, job.attempts, job.worker) == (Job.Status.SUCCEEDED, {"beat": True}, 1,
                                                                  worker_identity())


def test_a_job_whose_worker_fell_silent_is_failed_with_the_reason(client, make_user, settings):
    settings.ANDON_JOB_LEASE_SECONDS = 1
    user = make_user(Role.QUALITY_ANALYST, "")
    lost = _running(user, "elsewhere:4242:1", silent_for=2)
    fresh = _running(user, "elsewhere:4243:1", silent_for=0)
    here = _running(user, worker_identity(), silent_for=2)  # a live process here: busy, not gone
    legacy = _running(user, "", silent_for=2)  # left "running" by a worker from before the lease
    Job.objects.filter(pk=legacy.pk).update(attempts=0, heartbeat_at=None)

    assert sorted(job.pk for job in recover_lost_jobs()) == [lost.pk, legacy.pk]
    legacy.refresh_from_db()
    assert (legacy.status, [entry["attempt"] for entry in legacy.lost_attempts]) == (Job.Status.FAILED, [1])
    assert legacy.error.startswith("Its worker stopped answering: nothing heard from it since ")
    lost.refresh_from_db()
    assert lost.status == Job.Status.FAILED and lost.finished_at and lost.worker == ""
    assert lost.error.startswith("Its worker (elsewhere:4242:1) stopped answering: nothing heard from it since ")
    assert [(entry["attempt"], entry["worker"], entry["reason"]) for entry in lost.lost_attempts] == [
        (1, "elsewhere:4242:1", lost.error)]
    task_row = DBTaskResult.objects.get(id=lost.task_result_id)
    assert (task_row.status, task_row.traceback) == ("FAILED", lost.error)
    assert set(Job.objects.filter(pk__in=[fresh.pk, here.pk]).values_list("status", flat=True)) == {"running"}
    assert recover_lost_jobs() == []  # given up on once

    client.force_login(user)
    page = client.get(reverse("platform:job", args=[lost.pk])).content.decode()
    assert "The job failed." in page and "stopped answering" in page and "Attempt 1 of 1 stopped at" in page
    silent = client.get(reverse("platform:job", args=[here.pk])).content.decode()
    assert "Nothing has been heard from the worker running this job since" in silent


def test_a_job_with_retries_left_is_queued_again_and_run_by_the_next_worker(make_user):
    job = _running(make_user(Role.QUALITY_ANALYST, ""), "elsewhere:4242:1", silent_for=0, max_attempts=2)
    old_task = job.task_result_id
    recover_lost_jobs(worker="elsewhere:4242:1", reason="The worker running the job was killed by SIGKILL.")
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (Job.Status.QUEUED, "", 1)
    assert job.task_result_id != old_task and DBTaskResult.objects.get(id=old_task).status == "FAILED"
    assert job.message == ("Attempt 1 was lost and the job was queued again: The worker running the job was killed "
                           "by SIGKILL.")
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result, job.error) == (Job.Status.SUCCEEDED, 2, {"counted": 2}, "")
    assert len(job.lost_attempts) == 1


def test_a_worker_given_up_on_stops_and_changes_nothing(make_user):
    job = start_job(count_to, "Count", make_user(Role.QUALITY_ANALYST, ""), 2)
    handle = _claim(job.pk)
    assert _claim(job.pk) is None  # taken once
    recover_lost_jobs(worker=handle.job.worker, reason="Gone.")
    handle.beat(heartbeat=True)
    assert handle.lost
    with pytest.raises(LeaseLost):
        handle.progress(2, 2)
    with pytest.raises(LeaseLost):
        handle.commit_result({"counted": 2})
    handle.finish(Job.Status.SUCCEEDED, result={"counted": 2})
    job.refresh_from_db()
    assert (job.status, job.error, job.result) == (Job.Status.FAILED, "Gone.", None)


def test_a_job_interrupted_by_its_worker_stopping_is_not_left_running(make_user):
    job = start_job(stopped, "Stopped", make_user(Role.QUALITY_ANALYST, ""))
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.error) == (Job.Status.FAILED, "The worker was stopped while the job ran (SystemExit).")
