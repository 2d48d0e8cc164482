"""The grievance dashboard: open grievances by status, overdue, due in the next 7 days, interim
letters owed, by category and by unit, and the share resolved within the time frame over the last
12 months. Every figure is one aggregate query (clock.dashboard_figures); nothing is cached."""

from django import forms
from django.http import Http404
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import charts, inputs, permissions
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import services


def _unit(request):
    """The unit asked for in the query (checked against the grants by scope_for), or None."""
    text = request.GET.get("unit", "")
    if not text:
        return None
    unit = Unit.objects.filter(pk=inputs.record_id(text)).first() if inputs.record_id(text) else None
    if unit is None:
        raise Http404("No such unit.")
    return unit


class UnitForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False, empty_label="All my units",
                                  widget=forms.Select(attrs={"class": "form-select"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = permissions.units_where(user, "voice.view_grievances").order_by("name")


@requires("voice.view_grievances")
def grievance_dashboard(request):
    unit = _unit(request)
    figures = services.dashboard_figures(request.user, unit=unit)
    months = [(f"{month:%b %Y}", round(100 * in_time / resolved, 1) if resolved else None)
              for month, resolved, in_time in figures.in_time_by_month]
    share = charts.line_chart(
        [label for label, _ in months], {"Resolved within the time frame (%)": [value for _, value in months]},
        title="Resolved within the time frame, last 12 months",
        desc="; ".join(f"{label}: {'none resolved' if value is None else f'{value}%'}" for label, value in months),
        y_label="% of grievances resolved")
    by_category = charts.bar_chart(figures.by_category, title="Open grievances by category",
                                   desc=", ".join(f"{label} {n}" for label, n in figures.by_category) or "None open.",
                                   y_label="Open grievances", empty="No open grievances")
    by_unit = charts.bar_chart(figures.by_unit, title="Open grievances by unit",
                               desc=", ".join(f"{label} {n}" for label, n in figures.by_unit) or "None open.",
                               y_label="Open grievances", empty="No open grievances")
    return render(request, "voice/dashboard_grievances.html", {
        "figures": figures, "share_chart": share, "category_chart": by_category, "unit_chart": by_unit,
        "unit_form": UnitForm(initial={"unit": unit}, user=request.user), "unit": unit,
        "measures": services.GRIEVANCE_MEASURES,
        "may_feed": permissions.can(request.user, "voice.manage_grievances"),
    })


@requires("voice.manage_grievances")
@require_POST
def grievance_measures_feed(request):
    today = timezone.localdate()
    outcome = services.feed_grievance_measures(request.user, services.month_start(today, 12), today)
    messages.success(request, f"{outcome['counts']} counts entered in the grievance measures.")
    for problem in outcome["problems"][:10]:
        messages.warning(request, problem)
    return redirect("voice:grievance_dashboard")


urlpatterns = [
    path("voice/grievances/dashboard/", grievance_dashboard, name="grievance_dashboard"),
    path("voice/grievances/measures/", grievance_measures_feed, name="grievance_measures_feed"),
]
