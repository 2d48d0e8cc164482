"""The administrator's schedules pages: what runs when, its last run, editing the timing and
starting a task at once. Thin: parse, one service call, render (platform.schedules)."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import schedules
from .permissions import requires


class ScheduleForm(forms.Form):
    spec = forms.CharField(max_length=100, label="When (cron: minute hour day-of-month month day-of-week)")
    enabled = forms.BooleanField(required=False, label="Enabled")
    after_fhir_load = forms.BooleanField(required=False, label="Also run after each FHIR load")
    retries = forms.IntegerField(min_value=0, max_value=schedules.MAX_RETRIES, label="Retries after a failed attempt")


@requires("platform.manage_schedules")
def schedule_list(request):
    return render(request, "platform/schedules.html", {"schedules": schedules.schedules_for(request.user),
                                                       "time_zone": settings.TIME_ZONE})


@requires("platform.manage_schedules")
def schedule_edit(request, pk):
    schedule = schedules.schedule_for(request.user, pk)
    form = ScheduleForm(request.POST or None, initial={
        "spec": schedule.spec, "enabled": schedule.enabled, "after_fhir_load": schedule.after_fhir_load,
        "retries": schedule.retries})
    if request.method == "POST" and form.is_valid():
        try:
            schedules.update_schedule(request.user, pk, **form.cleaned_data)
        except ValidationError as error:
            for field, problems in getattr(error, "message_dict", {None: error.messages}).items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(request, f"The schedule of “{schedule.task.label}” is saved.")
            return redirect("platform:schedules")
    return render(request, "platform/schedule_edit.html", {"schedule": schedule, "form": form})


@require_POST
@requires("platform.manage_schedules")
def schedule_run(request, pk):
    try:
        run = schedules.run_now(request.user, pk)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("platform:schedules")
    messages.success(request, "The task has started. This page shows its progress.")
    return redirect("platform:job", pk=run.job_id)
