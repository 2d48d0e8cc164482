"""Pages of compliance: tracers. The list, planning (with requirement and people pickers), the
surveyor's checklist built for a phone (each answer, photo and finding saved in place with htmx),
completion, the report and its PDF. Thin: parse, call a service, render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, inputs, notifications, permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, PersonField, add_errors, people_search
from andon.platform.models import Unit, User
from andon.platform.pdf import render_template_pdf
from andon.platform.permissions import requires

from .. import tracers
from ..models import Answer, FindingRisk, FrameworkVersion, Requirement, TracerKind, TracerStatus
from ..uploads import serve

PATH_HELP = ("A description of the path, such as “Admitted via ED to 4 West, transferred to ICU”. Never a patient's "
             "name, record number or date of birth: the tracer follows a path, not a person.")


# --- forms --------------------------------------------------------------------------------------

class PlanForm(forms.Form):
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=TracerKind.choices, widget=forms.RadioSelect, initial=TracerKind.SYSTEM)
    topic = forms.CharField(max_length=200, required=False, help_text="e.g. Medication management, Infection control")
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), help_text="Where the tracer is run; it decides who "
                                                                          "sees it.")
    planned_on = BoundedDateField(label="Planned for", widget=forms.DateInput(attrs={"type": "date"}))
    patient_path = forms.CharField(label="Path followed", max_length=200, required=False, help_text=PATH_HELP)
    version = forms.ModelChoiceField(label="Framework version", required=False,
                                     queryset=FrameworkVersion.objects.select_related("framework"))
    requirements = forms.ModelMultipleChoiceField(queryset=Requirement.objects.all(), required=False)
    surveyor = PersonField(label="Surveyor for the day", queryset=User.objects.none(),
                           help_text="Any member of staff: they fill the checklist on their phone.")
    extra_questions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                      help_text="One question a line, asked after the requirements.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = (permissions.units_where(user, "compliance.plan_tracers").filter(active=True)
                                        .select_related("facility").order_by("facility__name", "path"))
        self.fields["unit"].label_from_instance = lambda unit: f"{unit.facility.name} · {unit.name}"
        self.fields["version"].queryset = (FrameworkVersion.objects.select_related("framework")
                                           .order_by("framework__name", "-is_current", "-loaded_at"))
        self.fields["surveyor"].queryset = tracers.possible_surveyors(user)
        self.fields["surveyor"].widget.search_url = reverse("compliance:tracer_people")


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(choices=[(a.value, a.label) for a in Answer if a.value])
    observation = forms.CharField(required=False, max_length=tracers.TEXT_MAX)
    version = VersionField()


class PhotoForm(forms.Form):
    photo = forms.FileField()


class FindingForm(forms.Form):
    title = forms.CharField(max_length=200)
    risk = forms.ChoiceField(choices=FindingRisk.choices)
    description = forms.CharField(required=False, max_length=tracers.TEXT_MAX)


class QuestionForm(forms.Form):
    question = forms.CharField(max_length=tracers.QUESTION_MAX)
    version = VersionField()


class CompleteForm(forms.Form):
    summary = forms.CharField(max_length=tracers.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 5}),
                              help_text="What went well, what did not, and what the unit should know.")
    version = VersionField()


class ReopenForm(forms.Form):
    reason = forms.CharField(max_length=2000, label="What needs correcting")
    version = VersionField()


def _htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- list and planning --------------------------------------------------------------------------

STATUS_TABS = [("", "All"), *TracerStatus.choices, ("mine", "Mine to survey")]


@requires("compliance.use_tracers")
def tracer_list(request):
    shown = request.GET.get("status", "")
    found = tracers.visible_tracers(request.user)
    if shown == "mine":
        found = found.filter(surveyor=request.user)
    elif shown in TracerStatus.values:
        found = found.filter(status=shown)
    else:
        shown = ""
    page = Paginator(found.order_by("-planned_on", "-pk"), 50).get_page(request.GET.get("page"))
    return render(request, "compliance/tracer_list.html", {
        "page": page, "tabs": STATUS_TABS, "shown": shown,
        "may_plan": permissions.units_where(request.user, "compliance.plan_tracers").exists(),
    })


@requires("compliance.plan_tracers")
def tracer_plan(request):
    form = PlanForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                tracer = tracers.plan_tracer(
                    request.user, title=data["title"], kind=data["kind"], topic=data["topic"], unit=data["unit"],
                    surveyor=data["surveyor"], planned_on=data["planned_on"], patient_path=data["patient_path"],
                    requirements=list(data["requirements"]), version=data["version"],
                    extra_questions=data["extra_questions"])
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"The tracer is planned with {tracer.items.count()} questions; "
                                          f"{tracer.surveyor.get_full_name() or tracer.surveyor.username} is told.")
                return redirect("compliance:tracer", pk=tracer.pk)
    chosen = list(form["requirements"].value() or []) if form.is_bound else []
    return render(request, "compliance/tracer_plan.html", {
        "form": form, "path_help": PATH_HELP,
        "chosen": Requirement.objects.filter(pk__in=[int(pk) for pk in chosen if str(pk).isdigit()])
        .order_by("position"),
    }, status=status)


@requires("compliance.plan_tracers")
def tracer_requirements(request):
    """The requirement picker's matches (htmx): checkboxes of chapters and requirements."""
    try:
        version_id = inputs.record_id(request.GET.get("version", ""))
    except inputs.InputError:
        version_id = None
    version = FrameworkVersion.objects.filter(pk=version_id).first() if version_id else None
    query = request.GET.get("q", "")[:100]
    return render(request, "compliance/tracer_requirements.html", {
        "version": version, "query": query,
        "matches": tracers.requirements_to_trace(version, query) if version else [],
    })


@requires("compliance.plan_tracers")
def tracer_people(request):
    """The surveyor picker's matches (htmx): active staff of the organisations the planner plans in."""
    return people_search(request, PlanForm(user=request.user)["surveyor"])


# --- the tracer, its checklist and report -------------------------------------------------------

def _report_context(request, tracer):
    user = request.user
    return {
        "tracer": tracer, "lines": tracers.tracer_report(user, tracer), "progress": tracers.tracer_progress(tracer),
        "may_fill": permissions.can(user, "compliance.fill_tracer", tracer),
        "may_plan": permissions.can(user, "compliance.plan_tracers", tracer),
        "reopen_form": ReopenForm(initial={"version": tracer.version}),
        "history": history.history_of(tracer) if permissions.can(user, "compliance.plan_tracers", tracer) else [],
    }


@requires("compliance.use_tracers")
def tracer_detail(request, pk):
    tracer = tracers.access_tracer(request.user, pk)
    notifications.mark_read(request.user, request.path)
    return render(request, "compliance/tracer_detail.html", _report_context(request, tracer))


@requires("compliance.use_tracers")
def tracer_checklist(request, pk):
    """The surveyor's page, built for a phone: every question with big answer buttons."""
    tracer = tracers.access_tracer(request.user, pk, "compliance.fill_tracer")
    notifications.mark_read(request.user, request.path)
    return render(request, "compliance/tracer_checklist.html", {
        "tracer": tracer, "progress": tracers.tracer_progress(tracer),
        "cards": [_card(tracer, line) for line in tracers.tracer_report(request.user, tracer)],
        "risks": FindingRisk.choices,
    })


def _card(tracer, line, **forms_and_notes) -> dict:
    return {"tracer": tracer, "item": line.item, "photos": line.photos, "findings": line.findings,
            "open": tracer.status != TracerStatus.COMPLETED, **forms_and_notes}


def _card_answer(request, tracer, item, status=200, **forms_and_notes):
    """After an answer, photo or finding: the item's card alone (htmx swaps it in place, with the
    progress), or, without htmx, the checklist at that item (or its errors, with `status`)."""
    if _htmx(request) or status != 200:
        tracer.refresh_from_db()
        line = next(line for line in tracers.tracer_report(request.user, tracer) if line.item.pk == item.pk)
        return render(request, "compliance/tracer_card_answer.html", {
            "card": _card(tracer, line, **forms_and_notes), "progress": tracers.tracer_progress(tracer),
            "risks": FindingRisk.choices, "tracer": tracer,
        }, status=200 if _htmx(request) else status)
    return redirect(f"{reverse('compliance:tracer_checklist', args=[tracer.pk])}#item-{item.pk}")


@require_POST
@requires("compliance.use_tracers")
def tracer_answer(request, pk, item_pk):
    item = tracers.access_tracer_item(request.user, pk, item_pk)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        return _card_answer(request, item.tracer, item, 400, answer_form=form)
    data = form.cleaned_data
    try:
        tracers.answer_item(request.user, item, data["version"], data["answer"], data["observation"])
    except concurrency.Stale as stale:
        # Said on the card, which now shows the answer as it is (and its current version).
        return _card_answer(request, item.tracer, item, 409, stale=stale.page_message)
    except ValidationError as error:
        add_errors(form, error)
        return _card_answer(request, item.tracer, item, 400, answer_form=form)
    return _card_answer(request, item.tracer, item, saved="Saved.")


@require_POST
@requires("compliance.use_tracers")
def tracer_photo_upload(request, pk, item_pk):
    item = tracers.access_tracer_item(request.user, pk, item_pk)
    form = PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        return _card_answer(request, item.tracer, item, 400, photo_form=form)
    try:
        tracers.add_photo(request.user, item, form.cleaned_data["photo"])
    except ValidationError as error:
        add_errors(form, error)
        return _card_answer(request, item.tracer, item, 400, photo_form=form)
    return _card_answer(request, item.tracer, item, saved="Photo added.")


@require_POST
@requires("compliance.use_tracers")
def tracer_photo_remove(request, pk, photo_pk):
    """Take a photo off its question (the card confirms first); the card comes back without it."""
    photo = tracers.access_tracer_photo(request.user, pk, photo_pk, "compliance.fill_tracer")
    item = photo.item
    try:
        tracers.remove_photo(request.user, photo)
    except ValidationError as error:
        return _card_answer(request, item.tracer, item, 400, refused=" ".join(error.messages))
    return _card_answer(request, item.tracer, item, saved=f"Photo {photo.name} removed.")


@require_POST
@requires("compliance.use_tracers")
def tracer_finding(request, pk, item_pk):
    item = tracers.access_tracer_item(request.user, pk, item_pk)
    form = FindingForm(request.POST)
    if not form.is_valid():
        return _card_answer(request, item.tracer, item, 400, finding_form=form)
    data = form.cleaned_data
    try:
        tracers.raise_tracer_finding(request.user, item, data["title"], data["risk"], data["description"])
    except ValidationError as error:
        add_errors(form, error)
        return _card_answer(request, item.tracer, item, 400, finding_form=form)
    return _card_answer(request, item.tracer, item, saved="Finding raised.")


@require_POST
@requires("compliance.plan_tracers")
def tracer_question(request, pk, item_pk):
    item = tracers.access_tracer_item(request.user, pk, item_pk, "compliance.plan_tracers")
    form = QuestionForm(request.POST)
    if form.is_valid():
        try:
            tracers.edit_question(request.user, item, form.cleaned_data["version"], form.cleaned_data["question"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Question {item.position} is saved.")
    else:
        messages.error(request, f"Question {item.position}: " + " ".join(
            message for problems in form.errors.values() for message in problems))
    return redirect(f"{reverse('compliance:tracer', args=[pk])}#item-{item.pk}")


@requires("compliance.use_tracers")
def tracer_photo(request, pk, photo_pk):
    photo = tracers.access_tracer_photo(request.user, pk, photo_pk)
    tracers.open_tracer_photo(request.user, photo)
    return serve(photo.file, photo.name, photo.content_type)


@require_POST
@requires("compliance.use_tracers")
def tracer_start(request, pk):
    tracer = tracers.access_tracer(request.user, pk, "compliance.fill_tracer")
    try:
        tracers.start_tracer(request.user, tracer, request.POST.get("version") or None)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("compliance:tracer_checklist", pk=pk)


@requires("compliance.use_tracers")
def tracer_complete(request, pk):
    tracer = tracers.access_tracer(request.user, pk, "compliance.fill_tracer")
    form = CompleteForm(request.POST or None, initial={"summary": tracer.summary, "version": tracer.version})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                tracers.complete_tracer(request.user, tracer, form.cleaned_data["summary"],
                                        form.cleaned_data["version"])
            except ValidationError as error:
                tracer.refresh_from_db()
                status = concurrency.refused_on_page(request, form, error, tracer, add_errors)
            else:
                messages.success(request, "The tracer is completed; the compliance specialists are told.")
                return redirect("compliance:tracer", pk=pk)
    return render(request, "compliance/tracer_complete.html", {
        "tracer": tracer, "form": form, "progress": tracers.tracer_progress(tracer),
        "unanswered": tracer.items.filter(answer=Answer.UNANSWERED).order_by("position", "pk"),
    }, status=status)


@require_POST
@requires("compliance.plan_tracers")
def tracer_reopen(request, pk):
    tracer = tracers.access_tracer(request.user, pk, "compliance.plan_tracers")
    form = ReopenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what needs correcting.")
        return redirect("compliance:tracer", pk=pk)
    try:
        tracers.reopen_tracer(request.user, tracer, form.cleaned_data["reason"], form.cleaned_data["version"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The tracer is open again for corrections; the surveyor is told.")
    return redirect("compliance:tracer", pk=pk)


@requires("compliance.use_tracers")
def tracer_pdf(request, pk):
    tracer = tracers.access_tracer(request.user, pk)
    lines = tracers.tracer_report(request.user, tracer)
    for line in lines:  # photos go in inline: the PDF fetches nothing from outside
        for photo in line.photos:
            tracers.open_tracer_photo(request.user, photo)
            photo.data_url = _data_url(photo)
    pdf = render_template_pdf("compliance/tracer_pdf.html", {
        "tracer": tracer, "lines": lines, "progress": tracers.tracer_progress(tracer)})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="tracer-{tracer.pk}.pdf"'
    return response


def _data_url(photo) -> str:
    import base64

    with photo.file.open("rb") as stream:
        return f"data:{photo.content_type};base64,{base64.b64encode(stream.read()).decode('ascii')}"


urlpatterns = [
    path("compliance/tracers/", tracer_list, name="tracers"),
    path("compliance/tracers/plan/", tracer_plan, name="tracer_plan"),
    path("compliance/tracers/plan/requirements/", tracer_requirements, name="tracer_requirements"),
    path("compliance/tracers/plan/people/", tracer_people, name="tracer_people"),
    path("compliance/tracers/<int:pk>/", tracer_detail, name="tracer"),
    path("compliance/tracers/<int:pk>/checklist/", tracer_checklist, name="tracer_checklist"),
    path("compliance/tracers/<int:pk>/start/", tracer_start, name="tracer_start"),
    path("compliance/tracers/<int:pk>/items/<int:item_pk>/answer/", tracer_answer, name="tracer_answer"),
    path("compliance/tracers/<int:pk>/items/<int:item_pk>/photos/", tracer_photo_upload, name="tracer_photo_upload"),
    path("compliance/tracers/<int:pk>/items/<int:item_pk>/finding/", tracer_finding, name="tracer_finding"),
    path("compliance/tracers/<int:pk>/items/<int:item_pk>/question/", tracer_question, name="tracer_question"),
    path("compliance/tracers/<int:pk>/photos/<int:photo_pk>/", tracer_photo, name="tracer_photo"),
    path("compliance/tracers/<int:pk>/photos/<int:photo_pk>/removal/", tracer_photo_remove, name="tracer_photo_remove"),
    path("compliance/tracers/<int:pk>/complete/", tracer_complete, name="tracer_complete"),
    path("compliance/tracers/<int:pk>/reopen/", tracer_reopen, name="tracer_reopen"),
    path("compliance/tracers/<int:pk>/report.pdf", tracer_pdf, name="tracer_pdf"),
]
