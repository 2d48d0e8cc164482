"""Pages of the grievance committee: its queue (escalations waiting for a decision, and those
decided), an escalation's page (the decision and the actions it opens), and escalating a grievance."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import concurrency, permissions
from andon.platform.forms import BoundedDateField, PersonField, add_errors, people_search
from andon.platform.models import User
from andon.platform.permissions import requires

from .. import services
from ..models import Decision, Grievance


class EscalateForm(forms.Form):
    reason = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class DecisionForm(forms.Form):
    version = concurrency.VersionField()
    decision = forms.ChoiceField(choices=Decision.choices)
    review = forms.CharField(max_length=8000, required=False, label="What the committee reviewed",
                             widget=forms.Textarea(attrs={"rows": 3}))
    findings = forms.CharField(max_length=8000, widget=forms.Textarea(attrs={"rows": 4}))


class ActionForm(forms.Form):
    title = forms.CharField(max_length=200)
    owner = PersonField(queryset=User.objects.none())
    due_date = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}))
    measure = forms.CharField(max_length=2000, label="How you will know it worked")

    def __init__(self, *args, escalation, **kwargs):
        super().__init__(*args, **kwargs)
        # Those who may manage actions over the grievance's unit: a search, as every people picker.
        self.fields["owner"].queryset = permissions.people_who("actions.manage", escalation.grievance.unit)
        self.fields["owner"].widget.search_url = reverse("voice:escalation_action_owners", args=[escalation.pk])


@requires("voice.decide_grievances")
def committee_queue(request):
    decided = request.GET.get("show") == "decided"
    escalations = services.committee_queue(request.user, decided=decided)
    order = ("-decided_at", "-pk") if decided else ("escalated_at", "pk")
    page = Paginator(escalations.order_by(*order), 50).get_page(request.GET.get("page"))
    return render(request, "voice/committee_queue.html", {"page": page, "decided": decided})


@requires("voice.manage_grievances")
@require_POST
def grievance_escalate(request, pk):
    grievance = permissions.fetch_checked(request.user, "voice.manage_grievances", Grievance, pk=pk)
    form = EscalateForm(request.POST)
    if form.is_valid():
        try:
            escalation = services.escalate_grievance(request.user, grievance, form.cleaned_data["reason"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{grievance.reference} is on the grievance committee's queue.")
            return redirect("voice:escalation", pk=escalation.pk)
    for text in [e for errors in form.errors.values() for e in errors]:
        messages.error(request, text)
    return redirect("voice:grievance_letters", pk=pk)


def _page(request, escalation, decision_form=None, action_form=None, status=200):
    user = request.user
    may_decide = permissions.can(user, "voice.decide_grievances", escalation.grievance)
    today = timezone.localdate()
    return render(request, "voice/committee_escalation.html", {
        "escalation": escalation, "grievance": escalation.grievance, "may_decide": may_decide,
        "decision_form": decision_form or DecisionForm(initial={"version": escalation.version}),
        "action_form": action_form or (ActionForm(escalation=escalation,
                                                  initial={"due_date": today + timedelta(days=30)})
                                       if may_decide and escalation.decision and escalation.grievance.unit else None),
        "actions": services.committee_section(user, escalation.grievance)["actions"],
    }, status=status)


@requires("voice.view_grievances")
def escalation(request, pk):
    found = services.access_escalation(request.user, pk)
    if request.method != "POST":
        return _page(request, found)
    permissions.check(request.user, "voice.decide_grievances", found.grievance)
    form = DecisionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.decide_escalation(request.user, found, data["decision"], data["findings"], data["review"],
                                       data["version"])
        except ValidationError as error:
            return _page(request, found, decision_form=form,
                         status=concurrency.refused_on_page(request, form, error, found, add_errors))
        messages.success(request, "The committee's decision is recorded.")
        return redirect("voice:escalation", pk=pk)
    return _page(request, found, decision_form=form, status=400)


@requires("voice.decide_grievances")
@require_POST
def escalation_action(request, pk):
    found = services.access_escalation(request.user, pk, "voice.decide_grievances")
    form = ActionForm(request.POST, escalation=found)
    if form.is_valid():
        try:
            services.open_committee_action(request.user, found, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "The action is in the tracker.")
            return redirect("voice:escalation", pk=pk)
    return _page(request, found, action_form=form, status=400)


@requires("voice.decide_grievances")
def escalation_action_owners(request, pk):
    """The action form's owner picker (htmx): people who may manage actions over the grievance's unit."""
    found = services.access_escalation(request.user, pk, "voice.decide_grievances")
    return people_search(request, ActionForm(escalation=found)["owner"])


urlpatterns = [
    path("voice/committee/", committee_queue, name="committee"),
    path("voice/committee/<int:pk>/", escalation, name="escalation"),
    path("voice/committee/<int:pk>/actions/", escalation_action, name="escalation_action"),
    path("voice/committee/<int:pk>/actions/owners/", escalation_action_owners, name="escalation_action_owners"),
    path("voice/grievances/<int:pk>/escalate/", grievance_escalate, name="grievance_escalate"),
]
