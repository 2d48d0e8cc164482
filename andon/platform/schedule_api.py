"""The schedules over the API (administrators): list them, change one's timing, run one now."""

from datetime import datetime
from typing import Annotated

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from pydantic import Field as PydanticField

from . import schedules
from .api_kit import Body, Flag, Id, JobOut, NamedRouter, documented, refused
from .permissions import requires

router = NamedRouter("andon_platform_api_schedules_")


class ScheduleOut(Schema):
    id: int
    task_key: str
    label: str
    spec: str
    in_words: str
    after_fhir_load: bool
    enabled: bool
    retries: int
    last_slot: datetime | None
    next_slot: datetime | None
    last_job_id: int | None = PydanticField(
        description="The job of the latest run (on schedule, after a load, or run now)")

    @staticmethod
    def resolve_label(schedule):
        return schedule.task.label

    @staticmethod
    def resolve_last_job_id(schedule):
        run = getattr(schedule, "latest_run", None)
        return run.job_id if run else None


class ScheduleIn(Body):
    spec: Annotated[str, PydanticField(min_length=1, max_length=100, description="A cron expression: minute hour "
                                                                                 "day-of-month month day-of-week")]
    enabled: Flag
    retries: Annotated[int, PydanticField(ge=0, le=schedules.MAX_RETRIES)]
    after_fhir_load: Flag


@router.get("/schedules", response=documented(list[ScheduleOut]), summary="The scheduled tasks and their timing")
@requires("platform.manage_schedules")
def schedule_list(request):
    return schedules.schedules_for(request.user)


@router.put("/schedules/{schedule_id}", response=documented(ScheduleOut, not_found=True),
            summary="Change when a scheduled task runs")
@requires("platform.manage_schedules")
def schedule_update(request, schedule_id: Id, payload: ScheduleIn):
    try:
        schedules.update_schedule(request.user, schedule_id, **payload.model_dump())
    except ValidationError as error:
        return refused(error)
    return schedules.schedule_for(request.user, schedule_id)


@router.post("/schedules/{schedule_id}/runs", response=documented(JobOut, 202, not_found=True),
             summary="Run a scheduled task now (its job)")
@requires("platform.manage_schedules")
def schedule_run(request, schedule_id: Id):
    try:
        run = schedules.run_now(request.user, schedule_id)
    except ValidationError as error:
        return refused(error)
    return Status(202, run.job)
