"""Analysis of safety events (aggregates only), the Pareto chart, the de-identified CSV export
and the import of historical events. Thin: parse, ask `analysis` / `imports`, render.

The analysis page and the chart show counts and labels only, never a narrative, a reference or
anything that names an event or a person: board members see them.
"""


from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from andon.platform import inputs
from andon.platform import services as platform_services
from andon.platform.exports import streaming_csv
from andon.platform.forms import BoundedDateField
from andon.platform.permissions import can, requires

from .. import analysis as counting
from .. import imports, taxonomy

PARETO_DIMENSIONS = {  # dimension: (title, what the bars count)
    "category": ("Safety events by category", "events"),
    "factors": ("Contributing factors in root cause analyses", "factors"),
}


class FilterForm(forms.Form):
    """From and to (inclusive days in the organisation's time zone), facility and unit, limited to the viewer's scope."""

    def __init__(self, data, *, user, capability):
        super().__init__(data)
        facilities, units = counting.filter_choices(user, capability)
        date_widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["from"] = BoundedDateField(required=False, label="From", widget=date_widget)
        self.fields["to"] = BoundedDateField(required=False, label="To", widget=date_widget)
        self.fields["facility"] = forms.ModelChoiceField(facilities, required=False, empty_label="All facilities")
        self.fields["unit"] = forms.ModelChoiceField(units, required=False, empty_label="All units")
        self.fields["unit"].label_from_instance = lambda unit: f"{unit.facility.code}/{unit.code} · {unit.name}"
        self._offer(list(units))

    def _offer(self, units):
        """Both lists drawn from one read of the units (each with its facility): a model choice
        field reads its queryset again when drawn, one query per list. The querysets still
        check what is sent."""
        facility, unit = self.fields["facility"], self.fields["unit"]
        facilities = sorted({u.facility_id: u.facility for u in units}.values(), key=lambda f: f.code)
        facility.widget.choices = [("", facility.empty_label), *((f.pk, facility.label_from_instance(f))
                                                                for f in facilities)]
        unit.widget.choices = [("", unit.empty_label), *((u.pk, unit.label_from_instance(u)) for u in units)]

    def clean(self):
        data = super().clean()
        if data.get("from") and data.get("to") and data["from"] > data["to"]:
            self.add_error("to", "The end comes before the start.")
        return data

    def filters(self) -> counting.Filters:
        data = self.cleaned_data
        return counting.Filters(since=data.get("from"), until=data.get("to"), facility=data.get("facility"),
                                unit=data.get("unit"))


def _filters(request, capability):
    """(form, Filters or None when the query string is wrong)."""
    form = FilterForm(request.GET or None, user=request.user, capability=capability)
    if not form.is_bound:
        return form, counting.Filters()
    return form, (form.filters() if form.is_valid() else None)


@requires("safety.view_aggregates")
def analysis(request):
    form, filters = _filters(request, counting.AGGREGATES)
    context = {"form": form, "summary": None}
    if filters is not None:
        found = counting.analyse(request.user, filters)
        query = urlencode(filters.as_query())
        context.update({
            "summary": found.summary,
            "factors": found.factors,
            "described": counting.describe(filters),
            "chart_url": reverse("safety:pareto_svg", args=["category"]) + (f"?{query}" if query else ""),
            "factor_chart_url": reverse("safety:pareto_svg", args=["factors"]) + (f"?{query}" if query else ""),
            "export_url": reverse("safety:export_csv") + (f"?{query}" if query else ""),
            "may_export": can(request.user, counting.EXPORT),
            "may_import": can(request.user, imports.CAPABILITY),
        })
    return render(request, "safety/analysis/index.html", context)


@requires("safety.view_aggregates")
def pareto_svg(request, dimension):
    if dimension not in PARETO_DIMENSIONS:
        raise Http404("no such chart")
    _, filters = _filters(request, counting.AGGREGATES)
    if filters is None:
        return HttpResponseBadRequest("Wrong filters.", content_type="text/plain")
    heading, noun = PARETO_DIMENSIONS[dimension]
    rows = counting.analyse(request.user, filters).pareto(dimension)
    title = f"{heading} ({counting.describe(filters)})"
    response = HttpResponse(counting.pareto_svg(rows, title, noun=noun), content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


@requires("safety.export_events")
def export_csv(request):
    _, filters = _filters(request, counting.EXPORT)
    if filters is None:
        return HttpResponseBadRequest("Wrong filters.", content_type="text/plain")
    count, ids = counting.record_export(request.user, filters)
    return streaming_csv(counting.EXPORT_COLUMNS, counting.export_rows(ids, taxonomy.current()),
                         counting.export_filename(), count=count)


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text=(
        f"UTF-8 CSV, at most {imports.MAX_BYTES // (1024 * 1024)} MB and {imports.MAX_ROWS:,} events. Columns: "
        f"{', '.join(imports.REQUIRED_COLUMNS)}; optionally {', '.join(imports.OPTIONAL_COLUMNS)}."))


@requires("safety.import_events")
def import_events(request):
    if request.method != "POST":
        if request.GET.get("job"):
            return _import_job(request, request.GET["job"])
        return _import_page(request, ImportForm())
    if request.POST.get("token"):
        return _accept(request)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _import_page(request, form)
    upload = form.cleaned_data["file"]
    try:
        if upload.size > imports.MAX_BYTES:
            raise imports.ImportFileError(
                f"The file is larger than {imports.MAX_BYTES // (1024 * 1024)} MB ({upload.size:,} bytes).")
        data = upload.read()
        if job := imports.queue_if_large(request.user, data, upload.name):
            return _watch(job)
        outcome = imports.import_file(request.user, data)
    except imports.ImportFileError as problem:
        form.add_error("file", str(problem))
        return _import_page(request, form)
    if outcome.checked.problems:
        return _import_page(request, ImportForm(), checked=outcome.checked, token=imports.stash(request.user, data),
                            name=upload.name)
    messages.success(request, f"Imported {len(outcome.stored)} historical events.")
    return redirect("safety:import_events")


def _accept(request):
    token = request.POST["token"]
    try:
        data = imports.unstash(request.user, token)
        if request.POST.get("accept_valid") != "1":
            imports.discard(request.user, token)
            messages.info(request, "Nothing was imported.")
            return redirect("safety:import_events")
        if job := imports.queue_if_large(request.user, data, request.POST.get("name", "the file")[:200],
                                         accept_valid=True, token=token):
            return _watch(job)
        outcome = imports.import_file(request.user, data, accept_valid=True)
    except imports.ImportFileError as problem:
        return _import_page(request, ImportForm(), error=str(problem))
    imports.discard(request.user, token)
    messages.success(request, _imported(len(outcome.stored), outcome.checked.invalid_rows))
    return redirect("safety:import_events")


def _imported(stored: int, skipped: int) -> str:
    return (f"Imported {stored} historical events; {skipped} row{'s' if skipped != 1 else ''} with problems "
            "left out.")


def _watch(job):
    return redirect(f"{reverse('safety:import_events')}?{urlencode({'job': job.pk})}")


def _import_job(request, job_id):
    """A large import, running as a job: its progress, then its report (the page polls)."""
    pk = inputs.record_id(job_id)
    if pk is None:
        raise Http404("no such job")
    job = platform_services.access_job(request.user, pk)
    if job.task_name != "import_events":
        raise Http404("not an import")
    result = job.result or {}
    context = {"job": job, "result": result, "mine": job.requested_by_id == request.user.pk,
               "imported": _imported(result.get("stored", 0), result.get("invalid_rows", 0)),
               "more_problems": max(0, result.get("problem_count", 0) - len(result.get("problems", [])))}
    if request.htmx:
        return render(request, "safety/analysis/_import_job.html", context)
    return _import_page(request, ImportForm(), job_context=context)


def _import_page(request, form, checked=None, token="", name="", error="", job_context=None):
    context = {"form": form, "checked": checked, "token": token, "name": name, "error": error,
               "columns": imports.COLUMNS, "max_rows": imports.MAX_ROWS, "job_rows": settings.ANDON_IMPORT_JOB_ROWS,
               "watching": job_context}
    if checked is not None:
        context.update({"report": imports.report(checked), "problems": checked.problems[:imports.PROBLEMS_SHOWN],
                        "more_problems": max(0, len(checked.problems) - imports.PROBLEMS_SHOWN)})
    return render(request, "safety/analysis/import.html", context)
