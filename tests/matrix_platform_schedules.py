"""The permission matrix's rows of the schedules (andon/platform/schedules.py): the
administrator alone sees and sets what runs when, and starts a task at once."""

from andon.platform.roles import Role
from tests.matrix_kit import ApiCase, Case

ADMINISTRATORS = frozenset({Role.ADMINISTRATOR})
REMINDERS = "platform.morning_reminders"


def _reminders_pk():
    from andon.platform import schedules
    from andon.platform.models import Schedule

    schedules.ensure_schedules()
    return Schedule.objects.get(task_key=REMINDERS).pk


def a_schedule(user, other):
    return [_reminders_pk()], {}


def schedule_id(user, other, hospital):
    return {"schedule_id": _reminders_pk()}


PAGES = {
    "platform:schedules": Case(ADMINISTRATORS),
    "platform:schedule": Case(ADMINISTRATORS, setup=a_schedule),
    "platform:schedule_run": Case(ADMINISTRATORS, method="post", setup=a_schedule),
}

API = {
    ("GET", "/api/v1/schedules"): ApiCase(ADMINISTRATORS),
    ("PUT", "/api/v1/schedules/{schedule_id}"): ApiCase(ADMINISTRATORS, setup=schedule_id, body={
        "spec": "0 6 * * 1-5", "enabled": True, "retries": 1, "after_fhir_load": False}),
    ("POST", "/api/v1/schedules/{schedule_id}/runs"): ApiCase(ADMINISTRATORS, setup=schedule_id),
}
