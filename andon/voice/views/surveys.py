"""Pages of survey data and scores: the surveys' home (imports and mappings), the import of a
vendor file, a mapping made from an uploaded file's header, an import's record, the scores
dashboard and a unit's top-box control chart. Thin: parse, call a service, render."""

import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone

from andon.platform import inputs, permissions
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import scores, surveys
from ..models import SurveyMapping

VIEW, IMPORT, CONFIGURE = surveys.VIEW, surveys.IMPORT, surveys.CONFIGURE
UPLOAD_MAX = 50 * 1024 * 1024  # a page's upload; bigger files go through the API or in parts


class UploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8 CSV, one row per returned survey, a header row first.")


class ImportForm(UploadForm):
    mapping = forms.ModelChoiceField(queryset=SurveyMapping.objects.all(), empty_label=None,
                                     help_text="How the file's columns are read.")


def _read_upload(form) -> str:
    upload = form.cleaned_data["file"]
    if upload.size > UPLOAD_MAX:
        raise inputs.InputError(f"the file is larger than {UPLOAD_MAX // (1024 * 1024)} MB ({upload.size:,} bytes)")
    return inputs.utf8_text(upload.read())


@requires(VIEW)
def home(request):
    page = Paginator(surveys.visible_imports(request.user), 25).get_page(request.GET.get("page"))
    return render(request, "voice/survey_home.html", {
        "page": page, "mappings": SurveyMapping.objects.all()[:100],
        "may_import": permissions.can(request.user, IMPORT), "may_configure": permissions.can(request.user, CONFIGURE)})


@requires(IMPORT)
def import_file(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    context = {"form": form, "job_rows": settings.ANDON_IMPORT_JOB_ROWS, "upload_max": UPLOAD_MAX // (1024 * 1024)}
    if request.method != "POST":
        return render(request, "voice/survey_import.html", context)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            text = _read_upload(form)
        except inputs.InputError as problem:
            form.add_error("file", str(problem))
        else:
            mapping = form.cleaned_data["mapping"]
            if job := surveys.queue_survey_import(request.user, mapping, text, upload.name):
                return redirect("platform:job", pk=job.pk)
            report = surveys.import_survey_file(request.user, mapping, text, upload.name)
            if report.ok:
                messages.success(request, f"{report.rows_imported:,} surveys imported, {report.rows_already_imported:,} "
                                          f"already imported, {report.comments:,} comments.")
                return redirect("voice:survey_import_detail", pk=report.survey_import.pk)
            context["report"] = report
    return render(request, "voice/survey_import.html", context, status=400)


@requires(VIEW)
def import_detail(request, pk):
    record = surveys.access_import(request.user, pk)
    return render(request, "voice/survey_import_detail.html", {"record": record})


# --- mappings -------------------------------------------------------------------------------------

def _column_form(header, questions, data=None, initial=None):
    """One choice per file column: the field or question it holds (or not used)."""
    choices = [("", "— not used —")] + [(f, f.replace("_", " ")) for f in surveys.FIELDS]
    choices += [(f"q:{key}", f"Question: {q.text}") for key, q in questions.questions.items()]
    choices += [(f"comment:{key}", f"Comment: {text}") for key, text in questions.comment_questions.items()]
    form = forms.Form(data)
    form.fields["name"] = forms.CharField(max_length=surveys.NAME_MAX, initial=(initial or {}).get("name", ""))
    form.fields["header"] = forms.CharField(widget=forms.HiddenInput, initial=json.dumps(header))
    for i, column in enumerate(header):
        form.fields[f"c{i}"] = forms.ChoiceField(label=column, choices=choices, required=False,
                                                 initial=(initial or {}).get("columns", {}).get(column, ""))
    return form


def _header_from_post(request) -> list[str]:
    try:
        header = inputs.load_json(request.POST.get("header") or "[]", max_bytes=100_000, max_depth=2)
    except inputs.InputError:
        header = None
    if not isinstance(header, list) or not all(isinstance(c, str) for c in header) or len(header) > 500:
        raise ValidationError({"header": "the file's columns were not sent; upload the file again"})
    return header


@requires(CONFIGURE)
def mapping_new(request):
    return _mapping_page(request, None)


@requires(CONFIGURE)
def mapping_edit(request, pk):
    return _mapping_page(request, surveys.access_mapping(request.user, pk))


def _mapping_page(request, mapping):
    questions = surveys.question_set(mapping.question_set if mapping else surveys.DEFAULT_SET)
    upload = UploadForm(request.POST if "file" in request.FILES else None, request.FILES or None)
    header = list(mapping.columns) if mapping else []
    initial = {"name": mapping.name, "columns": mapping.columns} if mapping else {}
    status = 200
    if request.method == "POST" and "file" in request.FILES:
        if upload.is_valid():
            try:
                header = surveys.read_header(_read_upload(upload))
                initial = {"name": initial.get("name", ""), "columns": surveys.suggest_columns(header, questions)
                           | {c: t for c, t in (mapping.columns if mapping else {}).items() if c in header}}
            except inputs.InputError as problem:
                upload.add_error("file", str(problem))
                status = 400
        return render(request, "voice/survey_mapping.html", {
            "mapping": mapping, "upload": upload, "form": _column_form(header, questions, initial=initial) if header else None,
            "question_set": questions}, status=status if upload.is_valid() else 400)
    form = None
    if request.method == "POST":
        try:
            header = _header_from_post(request)
            form = _column_form(header, questions, data=request.POST)
            if form.is_valid():
                columns = {column: form.cleaned_data[f"c{i}"] for i, column in enumerate(header)}
                if mapping:
                    saved = surveys.save_mapping(request.user, mapping, name=form.cleaned_data["name"], columns=columns)
                else:
                    saved = surveys.create_mapping(request.user, name=form.cleaned_data["name"], columns=columns,
                                                   question_set_key=questions.key)
                messages.success(request, f"The mapping {saved.name} is saved.")
                return redirect("voice:survey_import")
        except ValidationError as problem:
            form = form or _column_form(header, questions, data=request.POST)
            for name, errors in problem.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        status = 400
    elif header:
        form = _column_form(header, questions, initial=initial)
    return render(request, "voice/survey_mapping.html", {
        "mapping": mapping, "upload": UploadForm(), "form": form, "question_set": questions}, status=status)


# --- scores ---------------------------------------------------------------------------------------

def _default_months():
    today = timezone.localdate().replace(day=1)
    index = today.year * 12 + today.month - 1
    last, first = index - 1, index - 12
    return f"{first // 12:04d}-{first % 12 + 1:02d}", f"{last // 12:04d}-{last % 12 + 1:02d}"


class ScoresForm(forms.Form):
    first = forms.CharField(required=False, max_length=7, help_text="YYYY-MM")
    last = forms.CharField(required=False, max_length=7, help_text="YYYY-MM")
    unit = forms.ChoiceField(required=False)
    dimension = forms.ChoiceField(required=False, label="Only patients of", choices=[("", "Everyone")] + [
        (d, d.replace("_", " ").capitalize()) for d in scores.BREAKDOWNS])
    value = forms.CharField(required=False, max_length=80, label="Value")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        units = permissions.units_where(user, VIEW).select_related("facility").order_by("facility__code", "path")[:500]
        self.fields["unit"].choices = [("", "All my units")] + [
            (str(u.pk), f"{u.facility.code}/{u.code} · {u.name}") for u in units]

    def clean_first(self):
        return _month_field(self.cleaned_data["first"])

    def clean_last(self):
        return _month_field(self.cleaned_data["last"])


def _month_field(text):
    if not text:
        return None
    try:
        return inputs.month(text)
    except inputs.InputError as problem:
        raise forms.ValidationError(str(problem)) from None


def _asked_unit(pk_text):
    if not pk_text:
        return None
    unit = Unit.objects.select_related("facility").filter(pk=inputs.record_id(pk_text)).first()
    if unit is None:
        raise Http404("no such unit")
    return unit


@requires(VIEW)
def scores_page(request):
    unit = _asked_unit(request.GET.get("unit"))
    permissions.scope_for(request.user, VIEW, unit=unit)  # a unit outside the user's grants: 403, not a form error
    form = ScoresForm(request.GET or None, user=request.user)
    first, last = _default_months()
    context = {"form": form, "table": None}
    status = 200
    if not request.GET or form.is_valid():
        data = form.cleaned_data if request.GET else {}
        try:
            context["table"] = scores.score_table(
                request.user, first=data.get("first") or first, last=data.get("last") or last, unit=unit,
                dimension=data.get("dimension") or "", value=(data.get("value") or "").strip())
        except ValidationError as problem:
            form.add_error(None, " ".join(problem.messages))
            status = 400
        context["unit"] = unit
        context["values"] = scores.breakdown_values(request.user, data.get("dimension") or "service_line")
    else:
        status = 400
    return render(request, "voice/survey_scores.html", context, status=status)


@requires(VIEW)
def unit_chart(request):
    unit = _asked_unit(request.GET.get("unit"))
    if unit is None:
        raise Http404("name a unit")
    item = (request.GET.get("item") or "recommend")[:60]
    try:
        measure, drawn = scores.unit_measure_chart(request.user, item, unit)
    except ValidationError as problem:
        raise Http404(" ".join(problem.messages)) from None
    return render(request, "voice/survey_chart.html", {"measure": measure, "drawn": drawn, "unit": unit, "item": item})


urlpatterns = [
    path("voice/surveys/", home, name="surveys"),
    path("voice/surveys/import/", import_file, name="survey_import"),
    path("voice/surveys/imports/<int:pk>/", import_detail, name="survey_import_detail"),
    path("voice/surveys/mappings/new/", mapping_new, name="survey_mapping_new"),
    path("voice/surveys/mappings/<int:pk>/", mapping_edit, name="survey_mapping_edit"),
    path("voice/surveys/scores/", scores_page, name="survey_scores"),
    path("voice/surveys/chart/", unit_chart, name="survey_chart"),
]
