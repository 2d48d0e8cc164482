"""Pages of training and competencies: the requirements (list, add, edit, retire), the import of
completions from the learning system, compliance by unit and requirement, a unit's people and what
they miss, and the "record this month" action that sends the counts to the measure. Thin: parse,
call a service, render."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import charts, concurrency, history, inputs, permissions
from andon.platform import services as platform
from andon.platform.concurrency import VersionField
from andon.platform.exports import streaming_csv
from andon.platform.forms import BoundedDateField, add_errors
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import training
from ..models import RequirementKind

VIEW, MANAGE = training.VIEW, training.MANAGE


class RequirementForm(forms.Form):
    course_code = forms.CharField(max_length=training.CODE_MAX, help_text="As the learning system writes it.")
    title = forms.CharField(max_length=training.TITLE_MAX)
    kind = forms.ChoiceField(choices=RequirementKind.choices)
    job_roles = forms.CharField(max_length=2000, help_text="As the learning system writes them, separated by commas "
                                                           "(e.g. RN, HCA, Physician).")
    unit = forms.ChoiceField(required=False, help_text="Required in this unit and the units below it; none: the "
                                                       "whole organisation.")
    renewal_months = forms.IntegerField(label="Renewal (months)", required=False, min_value=1,
                                        max_value=training.RENEWAL_MAX, help_text="Empty: never renewed.")
    version = VersionField()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", "The whole organisation")] + [
            (str(u.pk), f"{training.unit_code(u)} · {u.name}") for u in training.training_units(user)]


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text=(
        f"UTF-8 CSV from the learning system, at most {training.MAX_BYTES // (1024 * 1024)} MB and "
        f"{training.MAX_ROWS:,} rows. Columns: {', '.join(training.REQUIRED_COLUMNS)}; optionally expires_on."))


class MonthForm(forms.Form):
    month = forms.CharField(required=False, max_length=7, help_text="YYYY-MM; this month when empty.")


def _organisation(user):
    unit = training.training_units(user).first()
    if unit is None:
        raise Http404("you manage the training of no unit")
    return unit.facility.organisation


# --- requirements ---------------------------------------------------------------------------------

@requires(MANAGE)
def requirement_list(request):
    found = training.visible_requirements(request.user, MANAGE).order_by("-active", "title", "pk")
    return render(request, "medstaff/training_requirements.html", {"requirements": found})


@requires(MANAGE)
def requirement_new(request):
    return _requirement_form(request, None)


@requires(MANAGE)
def requirement_edit(request, pk):
    return _requirement_form(request, training.access_requirement(request.user, pk))


def _saved(request, data, requirement):
    unit = None
    if data["unit"]:
        unit = Unit.objects.select_related("facility__organisation").filter(pk=data["unit"]).first()
    values = {"course_code": data["course_code"], "title": data["title"], "kind": data["kind"],
              "job_roles": [r for r in (part.strip() for part in data["job_roles"].split(",")) if r],
              "unit": unit, "renewal_months": data["renewal_months"]}
    if requirement is None:
        organisation = unit.facility.organisation if unit else _organisation(request.user)
        return training.create_requirement(request.user, organisation=organisation, **values)
    return training.edit_requirement(request.user, requirement, data["version"], **values)


def _requirement_form(request, requirement):
    initial = {} if requirement is None else {
        "course_code": requirement.course_code, "title": requirement.title, "kind": requirement.kind,
        "job_roles": ", ".join(requirement.job_roles), "unit": str(requirement.unit_id or ""),
        "renewal_months": requirement.renewal_months, "version": requirement.version}
    form = RequirementForm(request.POST or None, user=request.user, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                saved = _saved(request, form.cleaned_data, requirement)
            except ValidationError as error:
                if requirement is None:
                    add_errors(form, error)
                else:
                    requirement.refresh_from_db()
                    status = concurrency.refused_on_page(request, form, error, requirement, add_errors)
            else:
                messages.success(request, f"{saved.course_code} {saved.title} is saved.")
                return redirect("medstaff:training_requirements")
    return render(request, "medstaff/training_requirement_form.html", {
        "form": form, "requirement": requirement,
        "history": history.history_of(requirement) if requirement else []}, status=status)


@require_POST
@requires(MANAGE)
def requirement_retire(request, pk):
    requirement = training.access_requirement(request.user, pk)
    active = request.POST.get("active") == "1"
    try:
        training.set_requirement_active(request.user, requirement, inputs.record_id(request.POST.get("version")),
                                        active)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{requirement.course_code} is {'required again' if active else 'retired'}.")
    return redirect("medstaff:training_requirements")


# --- import ---------------------------------------------------------------------------------------

@requires(MANAGE)
def import_completions(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    context = {"form": form, "columns": training.COLUMNS, "job_rows": settings.ANDON_IMPORT_JOB_ROWS,
               "imports": training.recent_imports(request.user)}
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > training.MAX_BYTES:
                    raise training.ImportFileError(
                        f"The file is larger than {training.MAX_BYTES // (1024 * 1024)} MB ({upload.size:,} bytes).")
                data = upload.read()
                if job := training.queue_import_if_large(request.user, data, upload.name):
                    return redirect("platform:job", pk=job.pk)
                outcome = training.import_completions(request.user, data, upload.name)
            except training.ImportFileError as problem:
                form.add_error("file", str(problem))
            else:
                if not outcome["problems"]:
                    messages.success(request, _imported(outcome))
                    for problem in outcome["measure_problems"]:
                        messages.warning(request, f"Not sent to the measure: {problem}")
                    return redirect("medstaff:training_import")
                context["report"] = outcome
    return render(request, "medstaff/training_import.html", context, status=status)


def _imported(outcome: dict) -> str:
    return (f"{outcome['rows']:,} rows read: {outcome['stored']:,} completions imported "
            f"({outcome['rows'] - outcome['stored']:,} imported before); {outcome['measure_counts']:,} monthly counts "
            "sent to the training compliance measure.")


# --- compliance -----------------------------------------------------------------------------------

def _asked_unit(request):
    if not request.GET.get("unit"):
        return None
    pk = inputs.record_id(request.GET["unit"])
    unit = Unit.objects.select_related("facility").filter(pk=pk).first() if pk else None
    if unit is None:
        raise Http404("no such unit")
    return unit


def _asked_day(request):
    form = forms.Form(request.GET)
    form.fields["on"] = BoundedDateField(required=False)
    return form, (form.cleaned_data.get("on") if form.is_valid() else None)


@requires(VIEW)
def compliance(request):
    unit = _asked_unit(request)
    form, on = _asked_day(request)
    on = on or timezone.localdate()
    scope, rows, by_requirement = training.compliance_summary(request.user, unit=unit, on=on)
    shown = [row for row in rows if row.required]
    chart = charts.bar_chart(
        [(row.label, round(row.share * 100, 1)) for row in shown], title=f"Training compliance by unit, {on:%Y-%m-%d}",
        desc="; ".join(f"{row.label} {row.shown}" for row in shown) or "No required training in these units.",
        y_label="% current", empty="No one on the roster has required training here")
    return render(request, "medstaff/training_compliance.html", {
        "rows": rows, "by_requirement": by_requirement,
        "on": on, "form": form, "unit": unit, "scope": scope, "chart": chart, "measure_key": training.MEASURE_KEY,
        "may_manage": permissions.can(request.user, MANAGE), "month_form": MonthForm()})


@requires(VIEW)
def unit_people(request, pk):
    unit = platform.access_unit(request.user, pk, VIEW)
    form, on = _asked_day(request)
    on = on or timezone.localdate()
    people = training.people_of_unit(request.user, unit, on)
    return render(request, "medstaff/training_unit.html", {
        "unit": unit, "people": [(row, row.missing, row.expiring(on)) for row in people], "on": on, "form": form,
        "soon_days": training.SOON_DAYS})


@requires(VIEW)
def unit_people_csv(request, pk):
    unit = platform.access_unit(request.user, pk, VIEW)
    _form, on = _asked_day(request)
    on = on or timezone.localdate()
    people = training.people_of_unit(request.user, unit, on)
    return streaming_csv(training.PEOPLE_COLUMNS, training.people_csv_rows(people, on),
                         f"training-{unit.facility.code}-{unit.code}-{on:%Y-%m-%d}.csv", count=len(people))


@require_POST
@requires(MANAGE)
def record_month(request):
    form = MonthForm(request.POST)
    month = None
    try:
        if form.is_valid() and form.cleaned_data["month"]:
            month = inputs.month(form.cleaned_data["month"])
        sent = training.record_month(request.user, _organisation(request.user), month)
    except (inputs.InputError, ValidationError) as problem:
        messages.error(request, f"Nothing recorded: {problem}")
    else:
        messages.success(request, f"{sent['counts']:,} unit counts sent to the training compliance measure.")
        for problem in sent["problems"]:
            messages.warning(request, f"Not sent: {problem}")
    return redirect("medstaff:training_compliance")


urlpatterns = [
    path("medstaff/training/", compliance, name="training_compliance"),
    path("medstaff/training/units/<int:pk>/", unit_people, name="training_unit"),
    path("medstaff/training/units/<int:pk>/people.csv", unit_people_csv, name="training_unit_csv"),
    path("medstaff/training/record-month/", record_month, name="training_record_month"),
    path("medstaff/training/requirements/", requirement_list, name="training_requirements"),
    path("medstaff/training/requirements/new/", requirement_new, name="training_requirement_new"),
    path("medstaff/training/requirements/<int:pk>/", requirement_edit, name="training_requirement_edit"),
    path("medstaff/training/requirements/<int:pk>/active/", requirement_retire, name="training_requirement_active"),
    path("medstaff/training/import/", import_completions, name="training_import"),
]
