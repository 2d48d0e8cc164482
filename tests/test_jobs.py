"""Background jobs: queued through django-tasks, run by the database worker, watched on the
job page with progress and errors."""

import csv

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.urls import reverse

from andon.platform.jobs import JobFailed, job_task, start_job
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
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)


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
