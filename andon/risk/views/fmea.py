"""Risk pages: FMEA and HFMEA: the register of proactive assessments by year, starting one, the
people pickers' searches, an assessment's team, completing and reopening it, and the
organisation's FMEA settings. One assessment's page and its worksheet are in views/fmea_sheet.py,
the forms in views/fmea_forms.py; every FMEA page's path is listed here. Thin: parse, call one
service, render."""

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, inputs, permissions
from andon.platform.forms import PeoplePicker, people_search
from andon.platform.permissions import requires

from .. import fmea as service
from .fmea_forms import ActionForm, PriorityRows, SettingsForm, StartForm, TeamForm, add_errors, priority_rows_initial
from .fmea_sheet import (
    assessment_context, fmea_action, fmea_add, fmea_assessment, fmea_edit, fmea_remove, fmea_score,
)

ACCREDITORS_EXPECT = "Accreditors expect at least one proactive risk assessment of a high-risk process a year."
ACTION_FORM = re.compile(r"c\d{1,18}-action")  # a cause's action form (its prefix)


# --- the register and starting an assessment --------------------------------------------------

@requires("risk.use_assessments")
def fmea_register(request):
    """The register of proactive assessments, by year: what was started and completed."""
    years = service.assessments_by_year(request.user)
    this_year = timezone.localdate().year
    completed = sum(row["completed"] for row in years if row["year"] == this_year)
    return render(request, "risk/fmea_register.html", {
        "years": years, "this_year": this_year, "none_completed": not completed,
        "accreditors_expect": ACCREDITORS_EXPECT, "may_start": permissions.can(request.user, "risk.lead_fmea"),
        "may_configure": permissions.can(request.user, "risk.configure")})


@requires("risk.lead_fmea")
def fmea_start(request):
    form = StartForm(request.POST or None, user=request.user, initial={"leader": request.user})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assessment = service.start_assessment(
                request.user, title=data["title"], method=data["method"], leader=data["leader"],
                scope=data["scope"], priority_method=data["priority_method"], team=list(data["team"]),
                **form.chosen_place())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{assessment.reference} is started: draw the process step by step.")
            return redirect("risk:fmea_assessment", pk=assessment.pk)
    return render(request, "risk/fmea_start.html", {"form": form}, status=400 if form.errors else 200)




# --- the people pickers' searches (htmx): whom the form's field accepts -------------------------

def _picker(form, name: str):
    """The people picker of `form` called `name` (the search's `?name=`); 404 for any other."""
    for field in form:
        if field.html_name == name and isinstance(field.field.widget, PeoplePicker):
            return field
    raise Http404("No such people picker.")


@requires("risk.lead_fmea")
def fmea_people(request):
    """The leader and team of an assessment being started: staff of the organisations where the
    user leads assessments."""
    return people_search(request, _picker(StartForm(user=request.user), request.GET.get("name", "")))


@requires("risk.use_assessments")
def fmea_assessment_people(request, pk):
    """A member of the team, or an action's owner: the assessment's organisation's staff, for those
    who pick them (its leaders, and who may open actions where it is placed)."""
    user = request.user
    assessment = service.access_assessment(user, pk, "risk.work_on_assessment")
    if not service.may_lead(user, assessment):
        permissions.check(user, "actions.manage", assessment.unit or permissions.ANYWHERE)
    name = request.GET.get("name", "")
    prefix = name.rpartition("-")[0]
    if prefix == "team":
        form = TeamForm(prefix=prefix, assessment=assessment)
    elif ACTION_FORM.fullmatch(prefix):
        form = ActionForm(prefix=prefix, assessment=assessment, user=user)
    else:
        raise Http404("No such people picker.")
    return people_search(request, _picker(form, name))


# --- the team, completing and reopening ---------------------------------------------------------

def _led(request, pk):
    assessment = service.access_assessment(request.user, pk)
    if not service.may_lead(request.user, assessment):
        permissions.check(request.user, "risk.lead_fmea", assessment)
    return assessment


def _leading(request, pk, change, done) -> object:
    """A change its leader (or one who leads assessments there) makes from a button: back to the
    page, saying what happened or why not."""
    assessment = _led(request, pk)
    try:
        said = done(change(assessment))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, said)
    return redirect("risk:fmea_assessment", pk=assessment.pk)


def _version(request):
    return inputs.record_id(request.POST.get("version", ""))


@require_POST
@requires("risk.use_assessments")
def fmea_team(request, pk):
    assessment = _led(request, pk)
    form = TeamForm(request.POST, prefix="team", assessment=assessment)
    if form.is_valid():
        try:
            service.add_team_member(request.user, assessment, form.cleaned_data["person"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{history.person_name(form.cleaned_data['person'])} joined the team.")
            return redirect("risk:fmea_assessment", pk=assessment.pk)
    return render(request, "risk/fmea_assessment.html", assessment_context(request, assessment, form), status=400)


@require_POST
@requires("risk.use_assessments")
def fmea_team_remove(request, pk, person):
    return _leading(request, pk, lambda assessment: service.remove_team_member(
        request.user, assessment, get_object_or_404(assessment.team, pk=person)),
        lambda assessment: "The team is changed.")


@require_POST
@requires("risk.use_assessments")
def fmea_complete(request, pk):
    return _leading(request, pk, lambda assessment: service.complete_assessment(
        request.user, assessment, _version(request)),
        lambda assessment: f"{assessment.reference} is completed: it counts for {assessment.year}.")


@require_POST
@requires("risk.use_assessments")
def fmea_reopen(request, pk):
    return _leading(request, pk, lambda assessment: service.reopen_assessment(
        request.user, assessment, _version(request)), lambda assessment: f"{assessment.reference} is reopened.")


# --- the organisation's FMEA settings ------------------------------------------------------------

@requires("risk.configure")
def fmea_settings_page(request):
    """The organisation's FMEA settings: thresholds, the words of each scale, and its Action
    Priority table (filled from its licensed AIAG-VDA handbook), checked for gaps and overlaps."""
    organisation = service.organisation_for_settings(request.user, "risk.configure")
    found = service.fmea_settings(organisation)
    form = SettingsForm(request.POST or None, initial=SettingsForm.initial_of(found))
    rows = PriorityRows(request.POST or None, prefix="ap", initial=priority_rows_initial(found.action_priority))
    table_errors, status = [], 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and rows.is_valid():
            try:
                service.change_fmea_settings(
                    request.user, organisation, rpn_threshold=form.cleaned_data["rpn_threshold"],
                    severity_threshold=form.cleaned_data["severity_threshold"], scales=form.scales(),
                    action_priority_rows=[row.row() for row in rows.forms
                                          if row.cleaned_data and not row.cleaned_data.get("DELETE")],
                    ver=form.cleaned_data["version"])
            except ValidationError as error:
                found.refresh_from_db()
                table_errors, rest = _table_errors(error), _without_table(error)
                status = concurrency.refused_on_page(request, form, rest, found, add_errors) if rest else 400
            else:
                messages.success(request, "The FMEA settings are saved; assessments started from now on use them.")
                return redirect("risk:fmea_settings")
    return render(request, "risk/fmea_settings.html", {
        "form": form, "rows": rows, "table_errors": table_errors, "settings": found,
        "empty_table": not found.action_priority}, status=status)


def _table_errors(error: ValidationError) -> list[str]:
    """The Action Priority table's check (`action_priority` or a row of it), shown beside it."""
    if not hasattr(error, "error_dict"):
        return []
    return [message for name, found in error.message_dict.items() if name.startswith("action_priority")
            for message in found]


def _without_table(error: ValidationError) -> ValidationError | None:
    """The rest of a refusal, for the form's fields (None when the table was all that was wrong)."""
    if isinstance(error, concurrency.Stale) or not hasattr(error, "error_dict"):
        return error
    rest = {name: found for name, found in error.message_dict.items() if not name.startswith("action_priority")}
    return ValidationError(rest) if rest else None


urlpatterns = [
    path("risk/fmea/", fmea_register, name="fmea_register"),
    path("risk/fmea/new/", fmea_start, name="fmea_start"),
    path("risk/fmea/people/", fmea_people, name="fmea_people"),
    path("risk/fmea/settings/", fmea_settings_page, name="fmea_settings"),
    path("risk/fmea/<int:pk>/", fmea_assessment, name="fmea_assessment"),
    path("risk/fmea/<int:pk>/people/", fmea_assessment_people, name="fmea_assessment_people"),
    path("risk/fmea/<int:pk>/team/", fmea_team, name="fmea_team"),
    path("risk/fmea/<int:pk>/team/<int:person>/remove/", fmea_team_remove, name="fmea_team_remove"),
    path("risk/fmea/<int:pk>/add/<slug:part>/", fmea_add, name="fmea_add"),
    path("risk/fmea/<int:pk>/<slug:part>/<int:item>/edit/", fmea_edit, name="fmea_edit"),
    path("risk/fmea/<int:pk>/<slug:part>/<int:item>/remove/", fmea_remove, name="fmea_remove"),
    path("risk/fmea/<int:pk>/causes/<int:item>/score/", fmea_score, name="fmea_score"),
    path("risk/fmea/<int:pk>/causes/<int:item>/actions/", fmea_action, name="fmea_action"),
    path("risk/fmea/<int:pk>/complete/", fmea_complete, name="fmea_complete"),
    path("risk/fmea/<int:pk>/reopen/", fmea_reopen, name="fmea_reopen"),
]
