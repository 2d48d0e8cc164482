"""Pages of OPPE: the departments' profiles, a department's evaluation (practitioner × indicator,
funnel plots, outliers), a practitioner's OPPE (their charts, values against the department's,
cases, decisions), the reviewer's decision and the profile's configuration. Thin: parse, call a
service, render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from andon.platform.forms import BoundedDateField
from andon.platform.models import Unit
from andon.platform.permissions import can, check, requires

from .. import oppe
from ..models import OppeDecisionKind, Practitioner


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=OppeDecisionKind.choices)
    reason = forms.CharField(max_length=oppe.REASON_LIMIT, widget=forms.Textarea(attrs={"rows": 3}))
    decided_on = BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="Empty: today")


class ProfileForm(forms.Form):
    period_months = forms.IntegerField(min_value=1, max_value=oppe.MAX_MONTHS, initial=oppe.DEFAULT_MONTHS,
                                       label="Evaluation period (months)",
                                       help_text="Six by default; twelve or more is periodic, not ongoing.")
    indicators = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=4000,
                                 help_text="One a line: measure key, then optionally the minimum count and the "
                                           "target, separated by commas (readmission-30-day, 10, 12).")


def _indicator_lines(text: str) -> list[dict]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) > 3:
            raise ValidationError(f"line {number}: at most a key, a minimum and a target")
        try:
            minimum = int(parts[1]) if len(parts) > 1 and parts[1] else None
            target = float(parts[2]) if len(parts) > 2 and parts[2] else None
        except ValueError:
            raise ValidationError(f"line {number}: the minimum is a whole number and the target a number") from None
        rows.append({"measure_key": parts[0], "minimum_cases": minimum, "target": target})
    return rows


@requires("medstaff.view_oppe")
def oppe_index(request):
    profiles = list(oppe.oppe_profiles(request.user))
    configurable = [u for u in Unit.objects.filter(active=True).select_related("facility").order_by("facility__name", "path")
                    if can(request.user, "medstaff.configure_oppe", u)][:200]
    return render(request, "medstaff/oppe_index.html", {"profiles": profiles, "configurable": configurable})


@requires("medstaff.view_own_oppe")
def oppe_mine(request):
    practitioner = Practitioner.objects.filter(user=request.user).first()
    if practitioner is None:
        raise Http404("no practitioner's file is linked to your account")
    return redirect("medstaff:oppe_practitioner", pk=practitioner.pk)


@requires("medstaff.view_oppe")
def oppe_department(request, unit_id):
    profile = oppe.access_oppe_profile(request.user, unit_id)
    evaluation = oppe.evaluate_department(request.user, profile)
    return render(request, "medstaff/oppe_department.html", {"evaluation": evaluation, "profile": profile})


# The door is every signed-in person's and the practitioner is checked by the object rule (as the
# profile's): a practitioner reads their own OPPE whatever their role.
@requires("platform.view_home")
def oppe_practitioner(request, pk):
    practitioner = oppe.access_oppe_practitioner(request.user, pk)
    found = oppe.practitioner_oppe(request.user, practitioner)
    return render(request, "medstaff/oppe_practitioner.html", {"oppe": found, "practitioner": practitioner,
                                                               "form": DecisionForm() if found.may_decide else None})


@require_POST
@requires("medstaff.decide_oppe")
def oppe_decide(request, pk):
    practitioner = oppe.access_oppe_practitioner(request.user, pk)
    check(request.user, "medstaff.decide_oppe", practitioner)
    form = DecisionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            decided = oppe.decide_oppe(request.user, practitioner, decision=data["decision"], reason=data["reason"],
                                       decided_on=data["decided_on"])
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))
        else:
            messages.success(request, f"Decision recorded: {decided.get_decision_display()}"
                             + (f" ({decided.fppe.reference} started)" if decided.fppe else ""))
    else:
        messages.error(request, "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
    return redirect("medstaff:oppe_practitioner", pk=pk)


@requires("medstaff.configure_oppe")
def oppe_configure(request, unit_id):
    unit = Unit.objects.filter(pk=unit_id).select_related("facility").first()
    if unit is None:
        raise Http404("no such unit")
    check(request.user, "medstaff.configure_oppe", unit)
    profile = oppe.OppeProfile.objects.filter(department=unit).first()
    initial = {"period_months": profile.period_months, "indicators": "\n".join(
        ", ".join(str(x) for x in (i.measure_key, i.minimum_cases or "", "" if i.target is None else i.target)).rstrip(", ")
        for i in profile.indicators.all())} if profile else None
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            oppe.configure_oppe(request.user, unit, period_months=form.cleaned_data["period_months"],
                                indicators=_indicator_lines(form.cleaned_data["indicators"]))
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, f"OPPE profile of {unit} saved.")
            return redirect("medstaff:oppe_department", unit_id=unit.pk)
    return render(request, "medstaff/oppe_configure.html", {"form": form, "unit": unit, "profile": profile})


urlpatterns = [
    path("medstaff/oppe/", oppe_index, name="oppe"),
    path("medstaff/oppe/mine/", oppe_mine, name="oppe_mine"),
    path("medstaff/oppe/department/<int:unit_id>/", oppe_department, name="oppe_department"),
    path("medstaff/oppe/department/<int:unit_id>/configure/", oppe_configure, name="oppe_configure"),
    path("medstaff/oppe/practitioner/<int:pk>/", oppe_practitioner, name="oppe_practitioner"),
    path("medstaff/oppe/practitioner/<int:pk>/decide/", oppe_decide, name="oppe_decide"),
]
