"""Schedules (platform.schedules): the worker starts each registered task when its cron spec
says, once per slot however long it was down and however many workers run, retries a failing run
as configured, and starts the tasks that follow a FHIR load."""

import threading
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from andon import cli
from andon.platform import schedules, sweeps
from andon.platform.models import Job, Schedule, ScheduleRun
from andon.platform.roles import Role

# The worker commits as in production (as tests/test_jobs.py).
pytestmark = pytest.mark.django_db(transaction=True)

UTC = dt_timezone.utc
RAN: list[str] = []       # the slots the test task ran, as the worker saw them
FLAKY: dict[str, int] = {}  # slot -> attempts made of the flaky task


def note_slot(slot):
    RAN.append(slot.isoformat())
    return {"slot": slot.isoformat()}


def fail_twice(slot):
    FLAKY[slot.isoformat()] = FLAKY.get(slot.isoformat(), 0) + 1
    if FLAKY[slot.isoformat()] <= 2:
        raise RuntimeError("the store was busy")
    return {"attempts": FLAKY[slot.isoformat()]}


SWEPT: list = []


def count_sweep(today):
    SWEPT.append(today)
    return 1


schedules.register_scheduled_task("tests.note_slot", "Note the slot", note_slot, default_spec="0 2 * * *")
schedules.register_scheduled_task("tests.fail_twice", "Fail twice", fail_twice, default_spec="30 1 * * *", retries=2)
schedules.listen("fhir_load", "tests.note_slot")
sweeps.register_sweep("schedtests", "count", count_sweep)


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run_worker():
    call_command("db_worker", batch=True, startup_delay=False, verbosity=0)


@pytest.fixture(autouse=True)
def seeded(settings):
    settings.TIME_ZONE = "UTC"
    RAN.clear(), FLAKY.clear(), SWEPT.clear()
    schedules.ensure_schedules(at("2026-12-01T00:00"))


def schedule(key):
    return Schedule.objects.get(task_key=key)


def test_every_registered_task_is_seeded_with_its_default_timing():
    rows = {s.task_key: s for s in Schedule.objects.all()}
    assert rows["measures.recompute"].spec == "0 2 * * *" and rows["measures.recompute"].after_fhir_load
    assert rows["platform.morning_reminders"].spec == "0 7 * * *"
    assert not rows["platform.morning_reminders"].after_fhir_load
    assert rows["tests.fail_twice"].retries == 2 and rows["tests.note_slot"].enabled


def test_a_slot_missed_for_three_days_runs_once_for_the_latest_slot():
    Schedule.objects.filter(task_key="tests.note_slot").update(last_slot=at("2026-12-01T02:00"))
    started = schedules.tick(at("2026-12-04T09:15"))  # the worker was down since the 1st
    mine = [run for run in started if run.schedule.task_key == "tests.note_slot"]
    assert [run.slot for run in mine] == [at("2026-12-04T02:00")]
    assert schedules.tick(at("2026-12-04T09:45")) == []  # nothing new due
    run_worker()
    assert RAN == ["2026-12-04T02:00:00+00:00"]
    job = Job.objects.get(pk=mine[0].job_id)
    assert job.status == Job.Status.SUCCEEDED and job.result == {"slot": "2026-12-04T02:00:00+00:00"}
    row = schedule("tests.note_slot")
    assert row.last_slot == at("2026-12-04T02:00") and row.next_slot == at("2026-12-05T02:00")


def test_each_slot_runs_when_due_and_a_disabled_schedule_does_not():
    assert [r.slot for r in schedules.tick(at("2026-12-01T02:00")) if r.schedule.task_key == "tests.note_slot"] \
        == [at("2026-12-01T02:00")]
    Schedule.objects.filter(task_key="tests.note_slot").update(enabled=False)
    schedules.tick(at("2026-12-02T02:00"))
    assert ScheduleRun.objects.filter(schedule__task_key="tests.note_slot").count() == 1


def test_a_bad_spec_is_refused_by_name_and_nothing_changes(make_user):
    admin = make_user(Role.ADMINISTRATOR, "")
    row = schedule("tests.note_slot")
    with pytest.raises(ValidationError) as refused:
        schedules.update_schedule(admin, row.pk, spec="61 * * * *", enabled=True, retries=0, after_fhir_load=True)
    assert refused.value.message_dict == {"spec": ["'61 * * * *': minute must be 0-59."]}
    with pytest.raises(ValidationError) as refused:
        schedules.update_schedule(admin, row.pk, spec="0 2 * *", enabled=True, retries=0, after_fhir_load=True)
    assert "write five fields" in refused.value.message_dict["spec"][0]
    assert schedule("tests.note_slot").spec == "0 2 * * *"
    changed = schedules.update_schedule(admin, row.pk, spec=" 15  3 * * 1-5", enabled=True, retries=1,
                                        after_fhir_load=False)
    assert (changed.spec, changed.retries, changed.updated_by) == ("15 3 * * 1-5", 1, admin)


def test_a_failing_run_is_retried_as_configured_and_the_attempts_show_on_the_job_page(client, make_user):
    run = [r for r in schedules.tick(at("2026-12-01T01:30")) if r.schedule.task_key == "tests.fail_twice"][0]
    run_worker()
    job = Job.objects.get(pk=run.job_id)
    assert FLAKY == {"2026-12-01T01:30:00+00:00": 3}
    assert (job.status, job.attempts, job.max_attempts) == (Job.Status.SUCCEEDED, 3, 3)
    assert [a["reason"] for a in job.lost_attempts] == ["It failed: The job stopped on an unexpected error "
                                                        "(RuntimeError). An administrator can see the details."] * 2
    client.force_login(make_user(Role.ADMINISTRATOR, ""))
    page = client.get(reverse("platform:job", args=[job.pk])).content.decode()
    assert "Attempt 1 of 3 stopped" in page and "Attempt 2 of 3 stopped" in page and "Succeeded" in page


def test_a_run_that_keeps_failing_fails_after_its_retries():
    Schedule.objects.filter(task_key="tests.fail_twice").update(retries=1)
    run = [r for r in schedules.tick(at("2026-12-01T01:30")) if r.schedule.task_key == "tests.fail_twice"][0]
    run_worker()
    job = Job.objects.get(pk=run.job_id)
    assert (job.status, job.attempts, len(job.lost_attempts)) == (Job.Status.FAILED, 2, 1)
    assert "RuntimeError" in job.error and "the store was busy" in job.traceback


def test_a_fhir_load_starts_the_tasks_that_follow_it_once(settings, tmp_path):
    settings.ANDON_FHIR_STORE = tmp_path / "fhir.duckdb"
    patients = tmp_path / "Patient.ndjson"
    patients.write_text('{"resourceType": "Patient", "id": "p1"}\n')
    assert schedules.fhir_loaded_at() is None
    assert cli.main(["fhir", "--store", str(settings.ANDON_FHIR_STORE), "load", "--no-progress", str(patients)]) == 0
    loaded = schedules.fhir_loaded_at()  # the marker `andon fhir load` wrote when it was done
    assert abs(loaded - timezone.now()) < timedelta(minutes=1)
    now = loaded + timedelta(seconds=20)
    Schedule.objects.update(updated_at=loaded - timedelta(hours=1), last_slot=now)  # nothing on the clock due
    started = schedules.tick(now)
    assert sorted(r.schedule.task_key for r in started) == ["measures.recompute", "tests.note_slot"]
    assert {r.trigger for r in started} == {ScheduleRun.Trigger.EVENT} and {r.slot for r in started} == {loaded}
    assert schedules.tick(now + timedelta(seconds=30)) == []  # the same load, seen again
    Schedule.objects.filter(task_key="measures.recompute").update(after_fhir_load=False)
    assert [r.schedule.task_key for r in schedules.trigger("fhir_load", loaded + timedelta(minutes=5))] \
        == ["tests.note_slot"]


def test_the_morning_reminders_run_every_modules_sweeps_once_a_day():
    schedules.tick(at("2026-12-02T07:00"))
    schedules.tick(at("2026-12-02T07:30"))
    run_worker()
    assert SWEPT == [datetime(2026, 12, 2).date()]
    job = ScheduleRun.objects.get(schedule__task_key="platform.morning_reminders").job
    assert job.status == Job.Status.SUCCEEDED and job.result["sweeps"]["schedtests"] == {"count": 1}
    assert job.result["day"] == "2026-12-02" and job.result["problems"] == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="two workers' claims race on PostgreSQL")
def test_two_workers_ticking_at_once_start_each_slot_once():
    Schedule.objects.exclude(task_key="tests.note_slot").update(enabled=False)
    gate, results = threading.Barrier(4), []

    def worker():
        try:
            gate.wait()
            results.append(schedules.tick(at("2026-12-03T02:00")))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(started) for started in results) == [0, 0, 0, 1]
    assert ScheduleRun.objects.filter(schedule__task_key="tests.note_slot").count() == 1
    assert Job.objects.filter(task_name__endswith="run_scheduled_task").count() == 1


def test_the_administrator_sets_the_timing_on_the_page_and_a_bad_spec_is_shown(client, make_user):
    admin = make_user(Role.ADMINISTRATOR, "")
    client.force_login(admin)
    row = schedule("tests.note_slot")
    page = client.get(reverse("platform:schedules")).content.decode()
    assert "Note the slot" in page and "At 02:00 every day" in page and "and after each FHIR load" in page
    form = {"spec": "61 * * * *", "enabled": "on", "retries": "1"}
    page = client.post(reverse("platform:schedule", args=[row.pk]), form).content.decode()
    assert "&#x27;61 * * * *&#x27;: minute must be 0-59." in page
    assert schedule("tests.note_slot").spec == "0 2 * * *"
    response = client.post(reverse("platform:schedule", args=[row.pk]), {**form, "spec": "0 6 * * 1-5"})
    assert response.status_code == 302
    saved = schedule("tests.note_slot")
    assert (saved.spec, saved.retries, saved.enabled, saved.after_fhir_load) == ("0 6 * * 1-5", 1, True, False)
    assert "At 06:00 on Monday through Friday" in client.get(reverse("platform:schedules")).content.decode()


def test_run_now_starts_the_task_as_a_job_of_the_administrator(client, make_user):
    admin = make_user(Role.ADMINISTRATOR, "")
    client.force_login(admin)
    response = client.post(reverse("platform:schedule_run", args=[schedule("tests.note_slot").pk]))
    run = ScheduleRun.objects.get(schedule__task_key="tests.note_slot")
    assert response.status_code == 302 and response["Location"] == reverse("platform:job", args=[run.job_id])
    assert run.trigger == ScheduleRun.Trigger.MANUAL and run.job.requested_by == admin
    assert schedule("tests.note_slot").last_slot == at("2026-12-01T00:00")  # the clock's slots are not moved
    run_worker()
    assert len(RAN) == 1 and Job.objects.get(pk=run.job_id).status == Job.Status.SUCCEEDED


def test_the_api_lists_changes_and_runs_schedules(client, make_user):
    client.force_login(make_user(Role.ADMINISTRATOR, ""))
    listed = {s["task_key"]: s for s in client.get("/api/v1/schedules").json()}
    assert listed["platform.morning_reminders"]["in_words"] == "At 07:00 every day"
    pk = listed["tests.note_slot"]["id"]
    bad = client.put(f"/api/v1/schedules/{pk}", {"spec": "0 25 * * *", "enabled": True, "retries": 0,
                                                 "after_fhir_load": True}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0] == {
        "loc": ["body", "spec"], "msg": "'0 25 * * *': hour must be 0-23.", "type": "value_error"}
    ok = client.put(f"/api/v1/schedules/{pk}", {"spec": "0 3 * * *", "enabled": False, "retries": 2,
                                                "after_fhir_load": True}, content_type="application/json")
    saved = ok.json()
    assert ok.status_code == 200 and (saved["spec"], saved["enabled"], saved["retries"]) == ("0 3 * * *", False, 2)
    started = client.post(f"/api/v1/schedules/{pk}/runs")
    assert started.status_code == 202 and started.json()["max_attempts"] == 3
