"""Pages of FPPE: the list (open ones first, with progress), starting one for a concern, the FPPE's
page (plan, progress, cases, decisions) and its forms. Thin: parse, call a service, render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, add_errors
from andon.platform.permissions import requires
from andon.platform.roles import Role

from .. import fppe as fppes
from ..models import CaseResult, FppeDecisionKind, FppeMethod, FppeStatus, GrantedPrivilege, Practitioner
from ..practitioners import access_practitioner
from .privileges import DATE, chosen_practitioner, practitioner_search


class ConcernForm(forms.Form):
    trigger = forms.ChoiceField(label="Started by", choices=fppes.CONCERNS, widget=forms.RadioSelect)
    reason = forms.CharField(max_length=fppes.REASON_LIMIT, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="The concern, in words: what was found and where.")
    source_reference = forms.CharField(label="Reference of the source", required=False, max_length=200,
                                       help_text="PR-2026-004, E-00042, an OPPE indicator and period…")


class PlanForm(forms.Form):
    methods = forms.MultipleChoiceField(choices=FppeMethod.choices, widget=forms.CheckboxSelectMultiple)
    cases_required = forms.IntegerField(label="Number of cases", required=False, min_value=1, max_value=fppes.CASES_MAX)
    duration_days = forms.IntegerField(label="Duration (days)", required=False, min_value=1, max_value=fppes.DAYS_MAX)
    proctor = forms.ModelChoiceField(queryset=Practitioner.objects.none(), required=False,
                                     help_text="Another practitioner of the department whose account holds the "
                                               "Practitioner role: they record the cases.")
    version = VersionField()

    def __init__(self, *args, fppe, **kwargs):
        super().__init__(*args, **kwargs)
        # A department's medical staff (tens of people), never the hospital's staff list.
        self.fields["proctor"].queryset = Practitioner.objects.filter(
            department=fppe.practitioner.department, user__role_grants__role=Role.PRACTITIONER).exclude(
            pk=fppe.practitioner_id).distinct()


class CaseForm(forms.Form):
    case_date = BoundedDateField(label="Date", widget=DATE)
    case_reference = forms.CharField(label="Case reference", max_length=fppes.REFERENCE_MAX,
                                     help_text="The encounter, MRN or procedure reviewed.")
    result = forms.ChoiceField(choices=CaseResult.choices, widget=forms.RadioSelect)
    notes = forms.CharField(required=False, max_length=fppes.REASON_LIMIT, widget=forms.Textarea(attrs={"rows": 2}))


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=FppeDecisionKind.choices, widget=forms.RadioSelect)
    reason = forms.CharField(max_length=fppes.REASON_LIMIT, widget=forms.Textarea(attrs={"rows": 2}))
    decided_on = BoundedDateField(label="Date of the decision", widget=DATE)
    grants = forms.ModelMultipleChoiceField(label="Privileges restricted or revoked", required=False,
                                            queryset=GrantedPrivilege.objects.none(),
                                            widget=forms.CheckboxSelectMultiple,
                                            help_text="Left empty: the privilege the FPPE evaluates.")
    more_cases = forms.IntegerField(label="Extension: more cases", required=False, min_value=1,
                                    max_value=fppes.CASES_MAX)
    more_days = forms.IntegerField(label="Extension: more days", required=False, min_value=1, max_value=fppes.DAYS_MAX)
    version = VersionField()

    def __init__(self, *args, fppe, **kwargs):
        super().__init__(*args, **kwargs)
        from ..privileges import HELD

        self.fields["grants"].queryset = fppe.practitioner.granted_privileges.filter(status__in=HELD).select_related(
            "privilege")
        self.fields["grants"].label_from_instance = lambda grant: grant.privilege.name


@requires("medstaff.use_fppe")
def fppe_list(request):
    page = Paginator(fppes.visible_fppes(request.user), 50).get_page(request.GET.get("page"))
    rows = [(fppe, fppes.progress_of(fppe)) for fppe in page]
    return render(request, "medstaff/fppe_list.html", {
        "page": page, "rows": rows,
        "may_start": permissions.units_where(request.user, "medstaff.manage_fppe").exists()})


@requires("medstaff.manage_fppe")
def fppe_new(request):
    """Without a practitioner: a search for one; with ?practitioner=<id>: the form of a concern."""
    chosen = chosen_practitioner(request)
    if chosen is None:
        words, matches = practitioner_search(request, "medstaff.manage_fppe")
        return render(request, "medstaff/fppe_new.html", {"words": " ".join(words), "matches": matches})
    practitioner = access_practitioner(request.user, chosen, "medstaff.manage_fppe")
    form = ConcernForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                started = fppes.start_fppe(request.user, practitioner, trigger=data["trigger"], reason=data["reason"],
                                           source_reference=data["source_reference"])
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"{started.reference} is started: write its plan.")
                return redirect("medstaff:fppe", pk=started.pk)
    return render(request, "medstaff/fppe_new.html", {"practitioner": practitioner, "form": form}, status=status)


def _fppe_page(request, fppe, *, case_form=None, decision_form=None, status=200):
    user = request.user
    may_record = fppe.status == FppeStatus.IN_PROGRESS and permissions.can(user, "medstaff.record_fppe_case", fppe)
    may_decide = fppe.status == FppeStatus.IN_PROGRESS and permissions.can(user, "medstaff.decide_fppe", fppe)
    may_manage = permissions.can(user, "medstaff.manage_fppe", fppe)
    return render(request, "medstaff/fppe_detail.html", {
        "fppe": fppe, "progress": fppes.progress_of(fppe), "cases": fppe.cases.select_related("recorded_by"),
        "decisions": fppe.decisions.select_related("decided_by"), "may_manage": may_manage,
        "method_labels": [FppeMethod(m).label for m in fppe.methods],
        "case_form": (case_form or CaseForm(initial={"case_date": timezone.localdate()})) if may_record else None,
        "decision_form": (decision_form or DecisionForm(fppe=fppe, initial={
            "version": fppe.version, "decided_on": timezone.localdate()})) if may_decide else None,
        "history": history.history_of(fppe) if may_manage else []}, status=status)


@requires("medstaff.use_fppe")
def fppe_detail(request, pk):
    return _fppe_page(request, fppes.access_fppe(request.user, pk))


@requires("medstaff.manage_fppe")
def fppe_plan(request, pk):
    fppe = fppes.access_fppe(request.user, pk, "medstaff.manage_fppe")
    form = PlanForm(request.POST or None, fppe=fppe, initial={
        "methods": fppe.methods, "cases_required": fppe.cases_required, "duration_days": fppe.duration_days,
        "proctor": fppe.proctor_id, "version": fppe.version})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                fppes.plan_fppe(request.user, fppe, data["version"], methods=data["methods"],
                                cases_required=data["cases_required"], duration_days=data["duration_days"],
                                proctor=data["proctor"])
            except ValidationError as error:
                fppe.refresh_from_db()
                status = concurrency.refused_on_page(request, form, error, fppe, add_errors)
            else:
                messages.success(request, f"The plan of {fppe.reference} is saved.")
                return redirect("medstaff:fppe", pk=pk)
    return render(request, "medstaff/fppe_plan.html", {"fppe": fppe, "form": form}, status=status)


@require_POST
@requires("medstaff.manage_fppe")
def fppe_begin(request, pk):
    fppe = fppes.access_fppe(request.user, pk, "medstaff.manage_fppe")
    try:
        fppes.begin_fppe(request.user, fppe, request.POST.get("version") or None)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{fppe.reference} is in progress from today.")
    return redirect("medstaff:fppe", pk=pk)


@require_POST
@requires("medstaff.use_fppe")
def fppe_case(request, pk):
    fppe = fppes.access_fppe(request.user, pk, "medstaff.record_fppe_case")
    form = CaseForm(request.POST)
    if form.is_valid():
        try:
            recorded = fppes.record_fppe_case(request.user, fppe, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Case {recorded.case_reference} is recorded.")
            return redirect("medstaff:fppe", pk=pk)
    return _fppe_page(request, fppe, case_form=form, status=400)


@require_POST
@requires("medstaff.decide_fppe")
def fppe_decide(request, pk):
    fppe = fppes.access_fppe(request.user, pk, "medstaff.decide_fppe")
    form = DecisionForm(request.POST, fppe=fppe)
    if form.is_valid():
        data = form.cleaned_data
        try:
            fppes.decide_fppe(request.user, fppe, data["version"], decision=data["decision"], reason=data["reason"],
                              decided_on=data["decided_on"], grants=list(data["grants"]),
                              more_cases=data["more_cases"], more_days=data["more_days"])
        except ValidationError as error:
            fppe.refresh_from_db()
            status = concurrency.refused_on_page(request, form, error, fppe, add_errors)
            return _fppe_page(request, fppe, decision_form=form, status=status)
        messages.success(request, f"The committee's decision on {fppe.reference} is recorded.")
        return redirect(reverse("medstaff:fppe", args=[pk]))
    return _fppe_page(request, fppe, decision_form=form, status=400)


urlpatterns = [
    path("medstaff/fppe/", fppe_list, name="fppes"),
    path("medstaff/fppe/new/", fppe_new, name="fppe_new"),
    path("medstaff/fppe/<int:pk>/", fppe_detail, name="fppe"),
    path("medstaff/fppe/<int:pk>/plan/", fppe_plan, name="fppe_plan"),
    path("medstaff/fppe/<int:pk>/begin/", fppe_begin, name="fppe_begin"),
    path("medstaff/fppe/<int:pk>/cases/", fppe_case, name="fppe_case"),
    path("medstaff/fppe/<int:pk>/decision/", fppe_decide, name="fppe_decide"),
]
