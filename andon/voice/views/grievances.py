"""Pages of complaints and grievances for staff: the list, logging a complaint, the record with
its sections, classifying, and links to safety events. Thin: parse, ask grievances.py, render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from andon.platform import concurrency, history, inputs, permissions
from andon.platform.forms import BoundedDateField, BoundedDateTimeField, add_errors
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import grievances as service
from ..models.grievances import Channel, ComplaintKind, GrievanceStatus

PAGE_SIZE = 25


def _unit_choices(user, capability):
    units = permissions.units_where(user, capability).filter(active=True).select_related("facility")
    return [("", "—")] + [(u.pk, f"{u.facility.name} · {u.name}") for u in units.order_by("facility__name", "name")]


def _category_choices():
    return [(c.pk, c.label) for c in service.category_choices()]


class _Involved(forms.Form):
    """What logging and classifying both ask: the unit, others involved, people, the patient."""

    categories = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    unit = forms.ChoiceField(required=False, label="Unit concerned")
    other_units = forms.MultipleChoiceField(required=False, label="Other units involved")
    people_involved = forms.CharField(required=False, max_length=400, label="Staff involved, as told")
    patient_identifier = forms.CharField(required=False, max_length=64, label="Patient MRN or identifier")
    patient_name = forms.CharField(required=False, max_length=200)
    encounter_reference = forms.CharField(required=False, max_length=64, label="Encounter")

    def offer(self, units) -> None:
        self.fields["unit"].choices = units
        self.fields["other_units"].choices = units[1:]
        self.fields["categories"].choices = _category_choices()


class LogForm(_Involved):
    channel = forms.ChoiceField(choices=Channel.choices, label="How it came in")
    received_at = BoundedDateTimeField(label="Received at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    resolved_at_time = forms.BooleanField(required=False, label="Resolved at the time by the staff present (verbal only)")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=service.DESCRIPTION_MAX)
    contact_name = forms.CharField(required=False, max_length=200, label="Complainant's name")
    relationship = forms.CharField(required=False, max_length=60, label="Relationship to the patient")
    contact_details = forms.CharField(required=False, max_length=400, label="How to answer them")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer(_unit_choices(user, "voice.log_complaints"))
        self.order_fields(["channel", "received_at", "resolved_at_time", "description"])


class ClassifyForm(_Involved):
    version = concurrency.VersionField()
    i_own_it = forms.BooleanField(required=False, label="I handle it (owner: me)")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer([("", "—")] + [(u.pk, f"{u.facility.name} · {u.name}") for u in Unit.objects.filter(
            active=True).select_related("facility").order_by("facility__name", "name")])


class FilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *GrievanceStatus.choices])
    kind = forms.ChoiceField(required=False, choices=[("", "Complaints and grievances"), *ComplaintKind.choices])
    category = forms.ChoiceField(required=False)
    unit = forms.ChoiceField(required=False)
    received_from = BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    received_to = BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    overdue = forms.BooleanField(required=False, label="Overdue only")
    q = forms.CharField(required=False, max_length=200, label="Words or reference")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "Any category"), *_category_choices()]
        self.fields["unit"].choices = [("", "All my units"), *_unit_choices(user, "voice.view_grievances")[1:]]


# --- the list ---------------------------------------------------------------------------------

@requires("voice.view_grievances")
@require_GET
def grievance_list(request):
    form = FilterForm(request.GET or None, user=request.user)
    clean = form.cleaned_data if form.is_valid() else {}
    unit = None
    if clean.get("unit"):
        unit = Unit.objects.filter(pk=inputs.record_id(clean["unit"])).first()
    found = service.find_grievances(
        request.user, status=clean.get("status", ""), kind=clean.get("kind", ""),
        category=inputs.record_id(clean.get("category")), unit=unit, received_from=clean.get("received_from"),
        received_to=clean.get("received_to"), overdue=bool(clean.get("overdue")), words=clean.get("q", ""))
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "voice/grievances.html", {"form": form, "page": page, "today": timezone.localdate()})


# --- logging --------------------------------------------------------------------------------

def _ids(values) -> list[int]:
    return [pk for pk in (inputs.record_id(v) for v in values or ()) if pk]


@requires("voice.log_complaints")
@require_http_methods(["GET", "POST"])
def grievance_log(request):
    user = request.user
    if request.method == "GET":
        now = timezone.localtime().replace(second=0, microsecond=0, tzinfo=None)
        form = LogForm(initial={"received_at": now}, user=user)
        return render(request, "voice/grievance_log.html", {"form": form, "rule": service.RULE_TEXT})
    form = LogForm(request.POST, user=user)
    if form.is_valid():
        clean = form.cleaned_data
        intake = service.Intake(
            channel=clean["channel"], received_at=clean["received_at"], description=clean["description"],
            unit_id=inputs.record_id(clean.get("unit")), other_unit_ids=_ids(clean.get("other_units")),
            category_ids=_ids(clean.get("categories")), resolved_at_time=clean.get("resolved_at_time", False),
            **{name: clean.get(name, "") for name in service.SHORT_MAX})
        try:
            grievance = service.log_complaint(user, intake)
        except ValidationError as problem:
            add_errors(form, problem, {"other_units": "other_units"})
        else:
            messages.success(request, f"{grievance.reference} is logged: "
                                      f"{service.rule_words(grievance.channel, grievance.resolved_at_time)}")
            return redirect("voice:grievance", pk=grievance.pk)
    return render(request, "voice/grievance_log.html", {"form": form, "rule": service.RULE_TEXT}, status=400)


# --- the record -------------------------------------------------------------------------------

def _access(request, pk, capability="voice.view_grievances"):
    grievance_id = inputs.record_id(str(pk))
    if grievance_id is None:
        raise Http404
    return service.access_grievance(request.user, grievance_id, capability)


def _record_context(request, grievance) -> dict:
    today = timezone.localdate()
    days_left = (grievance.due_on - today).days if grievance.due_on and grievance.resolved_on is None else None
    return {
        "g": grievance, "rule": service.rule_words(grievance.channel, grievance.resolved_at_time),
        "categories": list(grievance.categories.all()), "other_units": list(grievance.other_units.all()),
        "events": service.linked_events(request.user, grievance), "days_left": days_left,
        "days_overdue": -days_left if days_left is not None and days_left < 0 else None,
        "sections": service.sections_for(request.user, grievance), "history": history.history_of(grievance),
        "may_manage": permissions.can(request.user, "voice.manage_grievances", grievance),
        "may_report": permissions.can(request.user, "safety.report"),
    }


@requires("voice.view_grievances")
@require_GET
def grievance(request, pk):
    record = _access(request, pk)
    return render(request, "voice/grievance.html", _record_context(request, record))


def _classify_initial(grievance) -> dict:
    return {"version": grievance.version, "categories": [c.pk for c in grievance.categories.all()],
            "unit": grievance.unit_id or "", "other_units": [u.pk for u in grievance.other_units.all()],
            "people_involved": grievance.people_involved, "patient_identifier": grievance.patient_identifier,
            "patient_name": grievance.patient_name, "encounter_reference": grievance.encounter_reference,
            "i_own_it": grievance.owner_id is not None}


@requires("voice.manage_grievances")
@require_http_methods(["GET", "POST"])
def grievance_classify(request, pk):
    record = _access(request, pk, "voice.manage_grievances")
    context = {"g": record, "rule": service.rule_words(record.channel, record.resolved_at_time),
               "events": service.linked_events(request.user, record)}
    if request.method == "GET":
        form = ClassifyForm(initial=_classify_initial(record), user=request.user)
        return render(request, "voice/grievance_classify.html", {**context, "form": form})
    form = ClassifyForm(request.POST, user=request.user)
    status = 400
    if form.is_valid():
        clean = form.cleaned_data
        change = service.Classification(
            category_ids=_ids(clean.get("categories")), unit_id=inputs.record_id(clean.get("unit")),
            other_unit_ids=_ids(clean.get("other_units")),
            owner_id=request.user.pk if clean.get("i_own_it") else None,
            **{name: clean.get(name, "") for name in ("people_involved", "patient_identifier", "patient_name",
                                                      "encounter_reference")})
        try:
            service.classify(request.user, record, change, clean.get("version"))
        except ValidationError as problem:
            status = concurrency.refused_on_page(request, form, problem, record, add_errors)
        else:
            messages.success(request, f"{record.reference} is classified and open.")
            return redirect("voice:grievance", pk=record.pk)
    return render(request, "voice/grievance_classify.html", {**context, "form": form}, status=status)


@requires("voice.manage_grievances")
@require_POST
def grievance_unresolved(request, pk):
    record = _access(request, pk, "voice.manage_grievances")
    try:
        service.mark_unresolved(request.user, record, inputs.record_id(request.POST.get("version")))
    except ValidationError as problem:
        messages.error(request, getattr(problem, "page_message", None) or " ".join(problem.messages))
    else:
        messages.success(request, f"{record.reference} came back unresolved: it is now a grievance on the clock.")
    return redirect("voice:grievance", pk=record.pk)


# --- safety events ----------------------------------------------------------------------------

@requires("voice.manage_grievances")
@require_POST
def grievance_link_event(request, pk):
    record = _access(request, pk, "voice.manage_grievances")
    try:
        event = service.link_event(request.user, record, request.POST.get("reference", "")[:60])
    except ValidationError as problem:
        messages.error(request, " ".join(problem.messages))
    else:
        messages.success(request, f"Safety event {event.reference} is linked.")
    return redirect("voice:grievance", pk=record.pk)


class OpenEventForm(forms.Form):
    kind = forms.ChoiceField(choices=[("incident", "Incident (reached the patient)"),
                                      ("near_miss", "Near miss (did not reach the patient)"),
                                      ("unsafe_condition", "Unsafe condition")])
    category = forms.ChoiceField()
    harm = forms.ChoiceField(required=False, help_text="For an incident: the harm, as far as is known")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from andon.safety import services as safety

        tax = safety.taxonomy.current()
        # Categories with questions of their own are reported on the safety form, then linked.
        self.fields["category"].choices = [(c["code"], c["label"]) for c in tax.categories
                                           if not any(f.get("required") for f in c.get("fields", []))]
        self.fields["harm"].choices = [("", "—")] + [(h["code"], h["label"]) for h in tax.harm_scale]


@requires("voice.manage_grievances")
@require_http_methods(["GET", "POST"])
def grievance_open_event(request, pk):
    record = _access(request, pk, "voice.manage_grievances")
    permissions.check(request.user, "safety.report")
    form = OpenEventForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                event = service.open_event_for(request.user, record, kind=form.cleaned_data["kind"],
                                               category=form.cleaned_data["category"],
                                               harm=form.cleaned_data.get("harm", ""))
            except ValidationError as problem:
                add_errors(form, problem)
            else:
                messages.success(request, f"Safety event {event.reference} is reported and linked.")
                return redirect("voice:grievance", pk=record.pk)
    return render(request, "voice/grievance_open_event.html", {"g": record, "form": form}, status=status)


urlpatterns = [
    path("voice/grievances/", grievance_list, name="grievances"),
    path("voice/grievances/log/", grievance_log, name="grievance_log"),
    path("voice/grievances/<int:pk>/", grievance, name="grievance"),
    path("voice/grievances/<int:pk>/classify/", grievance_classify, name="grievance_classify"),
    path("voice/grievances/<int:pk>/unresolved/", grievance_unresolved, name="grievance_unresolved"),
    path("voice/grievances/<int:pk>/link-event/", grievance_link_event, name="grievance_link_event"),
    path("voice/grievances/<int:pk>/open-event/", grievance_open_event, name="grievance_open_event"),
]
