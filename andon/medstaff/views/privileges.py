"""Pages of delineated privileges: the catalogue by department, requests and their steps, granted
privileges (flagged when the practitioner's licence has expired). Thin: parse, call a service,
render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, inputs, permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, add_errors
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import privileges as priv
from ..models import FppeMethod, GrantStatus, Privilege, PrivilegeKind, RequestStage, StepOutcome
from ..practitioners import access_practitioner, visible_practitioners

DATE = forms.DateInput(attrs={"type": "date"})


class PrivilegeForm(forms.Form):
    department = forms.ModelChoiceField(queryset=Unit.objects.none(), help_text="Whose catalogue it belongs to.")
    name = forms.CharField(max_length=priv.NAME_MAX)
    kind = forms.ChoiceField(choices=PrivilegeKind.choices, widget=forms.RadioSelect, initial=PrivilegeKind.CORE)
    description = forms.CharField(required=False, max_length=priv.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    education = forms.CharField(required=False, max_length=priv.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    training = forms.CharField(required=False, max_length=priv.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    volume = forms.CharField(required=False, max_length=priv.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="The cases a practitioner must have done, and over what time.")
    certification = forms.CharField(required=False, max_length=priv.TEXT_MAX,
                                    widget=forms.Textarea(attrs={"rows": 2}))
    fppe_methods = forms.MultipleChoiceField(label="FPPE methods", choices=FppeMethod.choices, required=False,
                                             widget=forms.CheckboxSelectMultiple,
                                             help_text="The FPPE a grant of it starts, pre-filled.")
    fppe_cases = forms.IntegerField(label="FPPE cases", required=False, min_value=1, max_value=500)
    fppe_days = forms.IntegerField(label="FPPE duration (days)", required=False, min_value=1, max_value=730)
    version = VersionField()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = permissions.units_where(
            user, "medstaff.manage_privilege_catalogue").filter(active=True).select_related("facility")
        self.fields["department"].label_from_instance = lambda unit: f"{unit.facility.name} · {unit.name}"


class RequestForm(forms.Form):
    privileges = forms.ModelMultipleChoiceField(queryset=Privilege.objects.none(),
                                                widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(required=False, max_length=priv.NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, practitioner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["privileges"].queryset = priv.requestable_privileges(practitioner)
        self.fields["privileges"].label_from_instance = lambda p: f"{p.name} ({p.get_kind_display().lower()})"


class StepForm(forms.Form):
    outcome = forms.ChoiceField(widget=forms.RadioSelect)
    met_on = BoundedDateField(label="Meeting date", widget=DATE)
    note = forms.CharField(required=False, max_length=priv.NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="Required when the request is denied.")
    version = VersionField()

    def __init__(self, *args, stage, **kwargs):
        super().__init__(*args, **kwargs)
        forward = StepOutcome.APPROVE if stage == RequestStage.BOARD else StepOutcome.RECOMMEND
        self.fields["outcome"].choices = [(forward, "Approve" if forward == StepOutcome.APPROVE else "Recommend"),
                                          (StepOutcome.DEFER, "Defer"), (StepOutcome.DENY, "Deny")]


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[(s, GrantStatus(s).label) for s in priv.SETTABLE])
    reason = forms.CharField(max_length=priv.NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    version = VersionField()


# --- the catalogue ------------------------------------------------------------------------------

@requires("medstaff.view_practitioners")
def catalogue(request):
    found = priv.visible_privileges(request.user).order_by("department__facility__name", "department__name",
                                                                  "-active", "kind", "name")
    return render(request, "medstaff/privilege_catalogue.html", {
        "privileges": found[:500],
        "may_manage": permissions.units_where(request.user, "medstaff.manage_privilege_catalogue").exists()})


@requires("medstaff.manage_privilege_catalogue")
def privilege_new(request):
    return _privilege_form(request, None)


@requires("medstaff.manage_privilege_catalogue")
def privilege_edit(request, pk):
    return _privilege_form(request, priv.access_privilege(request.user, pk,
                                                                "medstaff.manage_privilege_catalogue"))


def _privilege_form(request, privilege):
    initial = {} if privilege is None else {**priv.privilege_values(privilege), "version": privilege.version,
                                            "department": privilege.department_id}
    form = PrivilegeForm(request.POST or None, user=request.user, initial=initial)
    if privilege is not None:
        form.fields["department"].disabled = True
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k not in ("department", "version")}
            try:
                if privilege is None:
                    saved = priv.create_privilege(request.user, form.cleaned_data["department"], **data)
                else:
                    saved = priv.edit_privilege(request.user, privilege, form.cleaned_data["version"], **data)
            except ValidationError as error:
                if privilege is None:
                    add_errors(form, error)
                else:
                    privilege.refresh_from_db()
                    status = concurrency.refused_on_page(request, form, error, privilege, add_errors)
            else:
                messages.success(request, f"{saved.name} is saved in the catalogue of {saved.department.name}.")
                return redirect("medstaff:privilege_catalogue")
    return render(request, "medstaff/privilege_form.html", {"form": form, "privilege": privilege}, status=status)


@require_POST
@requires("medstaff.manage_privilege_catalogue")
def privilege_retire(request, pk):
    privilege = priv.access_privilege(request.user, pk, "medstaff.manage_privilege_catalogue")
    try:
        priv.retire_privilege(request.user, privilege, request.POST.get("version") or None)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{privilege.name} is retired: no longer requested; those who hold it keep it.")
    return redirect("medstaff:privilege_catalogue")


# --- requests -----------------------------------------------------------------------------------

REQUEST_TABS = [("open", "Open"), ("granted", "Granted"), ("denied", "Denied")]


@requires("medstaff.view_practitioners")
def request_list(request):
    shown = request.GET.get("show") if request.GET.get("show") in dict(REQUEST_TABS) else "open"
    found = priv.visible_privilege_requests(request.user).prefetch_related("privileges")
    if shown == "open":
        found = found.exclude(stage__in=[RequestStage.GRANTED, RequestStage.DENIED])
    else:
        found = found.filter(stage=shown)
    page = Paginator(found.order_by("requested_on", "pk"), 50).get_page(request.GET.get("page"))
    return render(request, "medstaff/privilege_requests.html", {
        "page": page, "tabs": REQUEST_TABS, "shown": shown,
        "may_request": permissions.units_where(request.user, "medstaff.request_privileges").exists(),
        "may_manage": permissions.units_where(request.user, "medstaff.manage_privilege_catalogue").exists()})


def chosen_practitioner(request) -> int | None:
    """The ?practitioner=<id> a page was opened for (None: not given); an id that is not one is a 404."""
    raw = request.GET.get("practitioner") or request.POST.get("practitioner") or ""
    if not raw:
        return None
    chosen = inputs.record_id(raw)
    if chosen is None:
        raise Http404("No such practitioner.")
    return chosen


def practitioner_search(request, capability):
    """Practitioners the user may `capability` whose name matches the words asked (at most 20)."""
    words = (request.GET.get("q") or "").split()[:5]
    if not words:
        return words, []
    found = visible_practitioners(request.user, capability).filter(
        department__in=permissions.units_where(request.user, capability))
    for word in words:
        found = found.filter(Q(family_name__icontains=word) | Q(given_name__icontains=word) | Q(npi=word))
    return words, list(found.select_related("department")[:20])


@requires("medstaff.request_privileges")
def request_new(request):
    """Without a practitioner: a search for one; with ?practitioner=<id>: the request's form."""
    chosen = chosen_practitioner(request)
    if chosen is None:
        words, matches = practitioner_search(request, "medstaff.request_privileges")
        return render(request, "medstaff/privilege_request_new.html", {"words": " ".join(words), "matches": matches})
    practitioner = access_practitioner(request.user, chosen, "medstaff.request_privileges")
    form = RequestForm(request.POST or None, practitioner=practitioner)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                made = priv.request_privileges(request.user, practitioner, form.cleaned_data["privileges"],
                                                     note=form.cleaned_data["note"])
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"{made.reference} waits for the department chair's recommendation.")
                return redirect("medstaff:privilege_request", pk=made.pk)
    return render(request, "medstaff/privilege_request_new.html", {
        "practitioner": practitioner, "form": form}, status=status)


def _request_page(request, found, step_form=None, status=200):
    user = request.user
    may_record = found.is_open and permissions.can(user, priv.step_capability(found.stage), found)
    if may_record and step_form is None:
        step_form = StepForm(stage=found.stage, initial={"version": found.version})
    return render(request, "medstaff/privilege_request.html", {
        "found": found, "steps": found.steps.select_related("recorded_by"),
        "requested": found.privileges.order_by("kind", "name"), "step_form": step_form if may_record else None,
        "order": [(stage, RequestStage(stage).label) for stage, _, _ in priv.STEPS],
        "grants": found.practitioner.granted_privileges.filter(request=found).select_related("privilege"),
        "history": history.history_of(found)}, status=status)


@requires("medstaff.view_practitioners")
def request_detail(request, pk):
    return _request_page(request, priv.access_privilege_request(request.user, pk))


@require_POST
@requires("medstaff.view_practitioners")
def request_step(request, pk):
    found = priv.access_privilege_request(request.user, pk)
    if not found.is_open:
        messages.error(request, f"{found.reference} is {found.get_stage_display().lower()}: its steps are over.")
        return redirect("medstaff:privilege_request", pk=pk)
    stage = found.stage
    permissions.check(request.user, priv.step_capability(stage), found)
    form = StepForm(request.POST, stage=stage)
    if form.is_valid():
        data = form.cleaned_data
        try:
            priv.record_step(request.user, found, stage, outcome=data["outcome"], met_on=data["met_on"],
                                   note=data["note"], version=data["version"])
        except ValidationError as error:
            found.refresh_from_db()
            status = concurrency.refused_on_page(request, form, error, found, add_errors)
            return _request_page(request, found, form, status)
        messages.success(request, f"{found.reference}: the {RequestStage(stage).label.lower()}'s decision is recorded.")
        return redirect("medstaff:privilege_request", pk=pk)
    return _request_page(request, found, form, 400)


# --- granted privileges -------------------------------------------------------------------------

@requires("medstaff.view_practitioners")
def granted_list(request):
    found = priv.visible_granted_privileges(request.user).filter(
        practitioner__department__in=permissions.units_where(request.user, "medstaff.view_practitioners"))
    words = (request.GET.get("q") or "").split()[:5]
    for word in words:
        found = found.filter(Q(practitioner__family_name__icontains=word) | Q(practitioner__given_name__icontains=word)
                             | Q(privilege__name__icontains=word))
    if request.GET.get("flagged"):
        found = found.filter(practitioner__licence_expired_on__isnull=False, status__in=priv.HELD)
    page = Paginator(found.order_by("practitioner__family_name", "privilege__name", "pk"), 50).get_page(
        request.GET.get("page"))
    return render(request, "medstaff/privilege_granted.html", {"page": page, "words": " ".join(words),
                                                               "flagged": bool(request.GET.get("flagged"))})


@requires("medstaff.view_practitioners")
def practitioner_privileges(request, pk):
    practitioner = access_practitioner(request.user, pk, "medstaff.view_practitioners")
    may_set = permissions.can(request.user, "medstaff.record_privilege_decisions", practitioner)
    return render(request, "medstaff/privilege_practitioner.html", {
        "practitioner": practitioner, "grants": priv.granted_privileges_of(practitioner),
        "requests": practitioner.privilege_requests.prefetch_related("privileges").order_by("-requested_on", "-pk"),
        "fppes": practitioner.fppes.order_by("-started_on", "-pk"),
        "may_request": permissions.can(request.user, "medstaff.request_privileges", practitioner),
        "status_form": StatusForm() if may_set else None})


@require_POST
@requires("medstaff.record_privilege_decisions")
def grant_status(request, pk):
    grant = priv.access_granted_privilege(request.user, pk, "medstaff.record_privilege_decisions")
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            priv.set_grant_status(request.user, grant, form.cleaned_data["status"],
                                        reason=form.cleaned_data["reason"], version=form.cleaned_data["version"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{grant.privilege.name} is {grant.get_status_display().lower()}.")
    else:
        messages.error(request, "Choose a status and say why.")
    return redirect("medstaff:practitioner_privileges", pk=grant.practitioner_id)


urlpatterns = [
    path("medstaff/privileges/", catalogue, name="privilege_catalogue"),
    path("medstaff/privileges/new/", privilege_new, name="privilege_new"),
    path("medstaff/privileges/<int:pk>/edit/", privilege_edit, name="privilege_edit"),
    path("medstaff/privileges/<int:pk>/retire/", privilege_retire, name="privilege_retire"),
    path("medstaff/privilege-requests/", request_list, name="privilege_requests"),
    path("medstaff/privilege-requests/new/", request_new, name="privilege_request_new"),
    path("medstaff/privilege-requests/<int:pk>/", request_detail, name="privilege_request"),
    path("medstaff/privilege-requests/<int:pk>/step/", request_step, name="privilege_request_step"),
    path("medstaff/granted-privileges/", granted_list, name="privileges_granted"),
    path("medstaff/granted-privileges/<int:pk>/status/", grant_status, name="privilege_grant_status"),
    path("medstaff/practitioners/<int:pk>/privileges/", practitioner_privileges, name="practitioner_privileges"),
]
