"""The root cause analysis pages: one page per investigation, with small forms that each add
one kind of finding, and the fishbone drawn as SVG."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from andon.platform import permissions
from andon.platform.forms import BoundedDateField, BoundedDateTimeField
from andon.platform.models import User
from andon.platform.permissions import requires

from .. import fishbone, rca, services, taxonomy
from ..models import SafetyEvent, TeamMember


class FactForm(forms.Form):
    at = BoundedDateTimeField(label="When", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    fact = forms.CharField(label="What happened (a fact, not an opinion)", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class WhyForm(forms.Form):
    problem = forms.CharField(label="Problem", max_length=1000)
    whys = forms.CharField(label="Why? Why? Why? (one answer per line, up to 7)", widget=forms.Textarea(attrs={"rows": 5}))


class FactorForm(forms.Form):
    category = forms.ChoiceField(label="Category (bone)")
    description = forms.CharField(label="Contributing factor", max_length=1000)

    def __init__(self, *args, bones=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(b["code"], b["label"]) for b in bones]


class RootCauseForm(forms.Form):
    statement = forms.CharField(label="Root-cause statement (cause → effect → event)", max_length=2000,
                                widget=forms.Textarea(attrs={"rows": 3}))


class TeamForm(forms.Form):
    person = forms.ModelChoiceField(label="Person", queryset=User.objects.filter(is_active=True).order_by("last_name"))
    part = forms.ChoiceField(label="Part", choices=TeamMember.Part.choices)


class RelatedForm(forms.Form):
    reference = forms.CharField(label="Related event reference (EV-…)", max_length=20)


class ActionForm(forms.Form):
    title = forms.CharField(label="Action", max_length=200)
    owner = forms.ModelChoiceField(label="Owner (one person)", queryset=User.objects.filter(is_active=True).order_by("last_name"))
    due_date = BoundedDateField(label="Due", widget=forms.DateInput(attrs={"type": "date"}))
    strength = forms.ChoiceField(label="Strength (RCA² hierarchy)", choices=[
        ("stronger", "Stronger: system change (forcing function, standardisation, simplification)"),
        ("intermediate", "Intermediate: checklist, redundancy, software enhancement, read-back"),
        ("weaker", "Weaker: training, new policy, warning, double check"),
    ])
    measure = forms.CharField(label="The measure that will show whether it worked", max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["due_date"].widget.attrs["min"] = services.earliest_due_date().isoformat()


class CompleteForm(forms.Form):
    reason = forms.CharField(label="Summary of the analysis (kept in the event's history)", max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


FORMS = {"fact": FactForm, "why": WhyForm, "factor": FactorForm, "root_cause": RootCauseForm,
         "team": TeamForm, "related": RelatedForm, "action": ActionForm}


def _bones(investigation):
    return taxonomy.version(investigation.event.taxonomy_version).factor_categories


def _page(request, investigation, forms_by_part=None, status=200):
    bound = forms_by_part or {}
    context = {
        "investigation": investigation, "event": investigation.event,
        "may_edit": permissions.can(request.user, "safety.edit_investigation", investigation)
        and investigation.completed_at is None,
        "may_lead": permissions.can(request.user, "safety.investigate", investigation),
        "bones": rca.fishbone(investigation),
        "similar": rca.similar_events(request.user, investigation.event),
        "forms": {part: bound.get(part) or (form(bones=_bones(investigation)) if part == "factor" else form())
                  for part, form in FORMS.items()},
        "complete_form": bound.get("complete") or CompleteForm(),
        "actions": services.actions_for_investigation(investigation),
    }
    return render(request, "safety/rca/investigation.html", context, status=status)


@requires("safety.report")
def investigation(request, pk):
    return _page(request, rca.access_investigation(request.user, pk))


@require_POST
@requires("safety.investigate")
def start(request, pk):
    event = services.access_event(request.user, pk)
    services.open_event(request.user, event, reason="started the root cause analysis")
    try:
        rca.start_investigation(request.user, event)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("safety:event", pk=pk)
    return redirect("safety:investigation", pk=pk)


@require_POST
@requires("safety.report")
def add(request, pk, part):
    investigation = rca.access_investigation(request.user, pk)
    if part not in FORMS:
        raise Http404("Nothing of that kind is added to an investigation.")
    form = FORMS[part](request.POST, **({"bones": _bones(investigation)} if part == "factor" else {}))
    if form.is_valid():
        try:
            _add(request.user, investigation, part, form.cleaned_data)
            return redirect("safety:investigation", pk=pk)
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
    return _page(request, investigation, {part: form}, status=400)


def _add(user, investigation, part, data):
    if part == "fact":
        rca.add_fact(user, investigation, data["at"], data["fact"])
    elif part == "why":
        rca.add_why_chain(user, investigation, data["problem"], data["whys"].splitlines())
    elif part == "factor":
        rca.add_factor(user, investigation, data["category"], data["description"])
    elif part == "root_cause":
        rca.add_root_cause(user, investigation, data["statement"])
    elif part == "team":
        rca.add_team_member(user, investigation, data["person"], data["part"])
    elif part == "action":
        services.add_rca_action(user, investigation, **data)
    elif part == "related":
        other = SafetyEvent.objects.filter(reference=data["reference"].strip().upper()).first()
        if other is None:
            raise ValidationError({"reference": "No event has this reference."})
        rca.link_related(user, investigation, other)


@require_POST
@requires("safety.investigate")
def complete(request, pk):
    investigation = rca.access_investigation(request.user, pk)
    form = CompleteForm(request.POST)
    if form.is_valid():
        try:
            rca.complete_investigation(request.user, investigation, form.cleaned_data["reason"])
            return redirect("safety:event", pk=pk)
        except ValidationError as error:
            form.add_error(None, error.messages)
    return _page(request, investigation, {"complete": form}, status=400)


@requires("safety.report")
def fishbone_svg(request, pk):
    investigation = rca.access_investigation(request.user, pk)
    event = investigation.event
    problem = f"{event.reference}: {taxonomy.version(event.taxonomy_version).category_label(event.category)}"
    return HttpResponse(fishbone.render(problem, rca.fishbone(investigation)), content_type="image/svg+xml")
