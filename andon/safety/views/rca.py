"""The root cause analysis pages: one page per investigation, with small forms that each add
one kind of finding, and the fishbone drawn as SVG."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import audit, permissions
from andon.platform.pdf import render_template_pdf
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, BoundedDateTimeField
from andon.platform.models import User
from andon.platform.permissions import requires

from .. import fishbone, rca, services, taxonomy
from ..models import SafetyEvent, TeamMember


class FactForm(forms.Form):
    at = BoundedDateTimeField(label="When", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    fact = forms.CharField(label="What happened (a fact, not an opinion)", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The picker offers no later day (the service refuses any moment after now: a timeline holds
        # what happened); the end of today, so a page left open does not block a fact of a moment ago.
        self.fields["at"].widget.attrs["max"] = f"{timezone.localdate():%Y-%m-%d}T23:59"


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
    person = forms.ModelChoiceField(label="Person", queryset=User.objects.filter(is_active=True).order_by("last_name"),
                                    error_messages={"required": "Choose a person (search by name, role or unit)."})
    part = forms.ChoiceField(label="Part", choices=TeamMember.Part.choices)


class TeamPartForm(forms.Form):
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
        self.fields["owner"].error_messages["required"] = "Choose the owner (search by name, role or unit)."
        current = self.initial.get("due_date")
        self.fields["due_date"].widget.attrs["min"] = services.earliest_due_date(current).isoformat()


class ActionEditForm(ActionForm):
    version = VersionField()


class CompleteForm(forms.Form):
    reason = forms.CharField(label="Summary of the analysis (kept in the event's history)", max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


FORMS = {"fact": FactForm, "why": WhyForm, "factor": FactorForm, "root_cause": RootCauseForm,
         "team": TeamForm, "related": RelatedForm, "action": ActionForm}


def _bones(investigation):
    return taxonomy.version(investigation.event.taxonomy_version).factor_categories


EDIT_FORMS = {"fact": FactForm, "why": WhyForm, "factor": FactorForm, "root_cause": RootCauseForm,
              "team": TeamPartForm, "action": ActionEditForm}
# The sections of the worksheet, each swapped in place (htmx) after an add, edit or remove.
SECTIONS = ("team", "fact", "why", "root_cause", "factor", "related", "action")


def _htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _make_form(part, investigation, data=None, **kwargs):
    form = (EDIT_FORMS if kwargs.get("prefix") else FORMS)[part]
    if part == "factor":
        kwargs["bones"] = _bones(investigation)
    return form(data, **kwargs)


def _initial(part, item) -> dict:
    if part == "team":
        return {"part": item.part}
    if part == "fact":
        return {"at": timezone.localtime(item.at).replace(tzinfo=None), "fact": item.fact}
    if part == "why":
        return {"problem": item.problem, "whys": "\n".join(item.whys)}
    if part == "factor":
        return {"category": item.category, "description": item.description}
    if part == "root_cause":
        return {"statement": item.statement}
    return {"title": item.title, "owner": item.owner, "due_date": item.due_date, "strength": item.strength,
            "measure": item.measure, "version": item.version}


def _rows(investigation, part, items, may_change, bound=None):
    """(item, its edit form) for each item of a section; `bound` = (part, item id, form) of an
    edit that was refused, shown again with its errors."""
    rows = []
    for item in items:
        form = None
        if may_change and part in EDIT_FORMS:
            if bound and bound[0] == part and bound[1] == item.pk:
                form = bound[2]
            else:
                form = _make_form(part, investigation, prefix=f"edit-{part}-{item.pk}", initial=_initial(part, item))
        rows.append((item, form))
    return rows


def _context(request, investigation, forms_by_part=None, bound_edit=None):
    user, bound = request.user, forms_by_part or {}
    open_ = investigation.completed_at is None
    may_edit = permissions.can(user, "safety.edit_investigation", investigation) and open_
    may_lead = permissions.can(user, "safety.investigate", investigation)
    actions = services.actions_for_investigation(investigation)
    by_bone = {}
    for factor in investigation.factors.all():
        by_bone.setdefault(factor.category, []).append(factor)
    bones = [{"code": b["code"], "label": b["label"],
              "rows": _rows(investigation, "factor", by_bone.get(b["code"], []), may_edit, bound_edit)}
             for b in _bones(investigation)]
    history = list(rca.changes(investigation))
    is_lead = investigation.team.filter(person=user, part=TeamMember.Part.LEAD).exists()
    return {
        "investigation": investigation, "event": investigation.event,
        "may_edit": may_edit, "may_lead": may_lead, "may_team": may_lead and open_,
        "rows": {
            "team": _rows(investigation, "team", investigation.team.select_related("person").order_by("pk"),
                          may_lead and open_, bound_edit),
            "fact": _rows(investigation, "fact", investigation.timeline.all(), may_edit, bound_edit),
            "why": _rows(investigation, "why", investigation.why_chains.all(), may_edit, bound_edit),
            "root_cause": _rows(investigation, "root_cause", investigation.root_causes.all(), may_edit, bound_edit),
            "related": _rows(investigation, "related", investigation.related_events.order_by("pk"), may_edit),
            "action": _rows(investigation, "action", actions["items"], may_edit, bound_edit),
        },
        "bones": bones,
        "similar": rca.similar_events(user, investigation.event),
        "forms": {part: bound.get(part) or _make_form(part, investigation) for part in FORMS},
        "complete_form": bound.get("complete") or CompleteForm(),
        "actions": actions,
        "history": history,
        "revision": history[0].pk if history else 0,
        "may_sign": is_lead and investigation.completed_at is not None and investigation.signed_at is None,
        "may_approve": (permissions.can(user, "safety.approve_investigation", investigation)
                        and investigation.signed_at is not None and investigation.approved_at is None
                        and investigation.signed_by_id != user.pk),
    }


def _page(request, investigation, forms_by_part=None, status=200, bound_edit=None):
    return render(request, "safety/rca/investigation.html",
                  _context(request, investigation, forms_by_part, bound_edit), status=status)


def _answer(request, investigation, part, forms_by_part=None, bound_edit=None, failed=False):
    """After an add, edit or remove: the section alone (htmx swaps it in place, the history with
    it, so the page keeps its scroll position), or, without htmx, back to the page (a refusal:
    the page with the form's errors, 400)."""
    if _htmx(request):
        investigation.refresh_from_db()
        context = _context(request, investigation, forms_by_part, bound_edit)
        if failed and investigation.completed_at is not None:
            # The section offers no form any more: say the refusal above it.
            form = bound_edit[2] if bound_edit else (forms_by_part or {}).get(part)
            context["refusal"] = " ".join(form.non_field_errors()) if form is not None else ""
        return render(request, "safety/rca/_section_answer.html", {**context, "part": part})
    if failed:
        return _page(request, investigation, forms_by_part, status=400, bound_edit=bound_edit)
    return redirect(f"{reverse('safety:investigation', args=[investigation.event_id])}#rca-{part}")


def _put_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


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
    form = _make_form(part, investigation, request.POST)
    if form.is_valid():
        try:
            _add(request.user, investigation, part, form.cleaned_data)
            return _answer(request, investigation, part)
        except ValidationError as error:
            _put_errors(form, error)
    return _answer(request, investigation, part, {part: form}, failed=True)


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
@requires("safety.report")
def edit(request, pk, part, item):
    investigation = rca.access_investigation(request.user, pk)
    if part not in EDIT_FORMS:
        raise Http404("Nothing of that kind is edited in an investigation.")
    form = _make_form(part, investigation, request.POST, prefix=f"edit-{part}-{item}")
    if form.is_valid():
        try:
            _edit(request.user, investigation, part, item, form.cleaned_data)
            return _answer(request, investigation, part)
        except ValidationError as error:
            _put_errors(form, error)
    return _answer(request, investigation, part, bound_edit=(part, item, form), failed=True)


def _edit(user, investigation, part, item, data):
    if part == "team":
        rca.set_team_part(user, investigation, item, data["part"])
    elif part == "fact":
        rca.edit_fact(user, investigation, item, data["at"], data["fact"])
    elif part == "why":
        rca.edit_why_chain(user, investigation, item, data["problem"], data["whys"].splitlines())
    elif part == "factor":
        rca.edit_factor(user, investigation, item, data["category"], data["description"])
    elif part == "root_cause":
        rca.edit_root_cause(user, investigation, item, data["statement"])
    else:
        fields = {name: value for name, value in data.items() if name != "version"}
        services.edit_rca_action(user, investigation, item, data["version"], **fields)


@require_POST
@requires("safety.report")
def remove(request, pk, part, item):
    investigation = rca.access_investigation(request.user, pk)
    if part not in (*rca.REMOVABLE, "related", "action"):
        raise Http404("Nothing of that kind is removed from an investigation.")
    try:
        if part == "related":
            rca.unlink_related(request.user, investigation, item)
        elif part == "action":
            services.remove_rca_action(request.user, investigation, item)
        else:
            rca.remove_item(request.user, investigation, part, item)
    except ValidationError as error:
        if _htmx(request):
            context = {**_context(request, investigation), "part": part, "refusal": " ".join(error.messages)}
            return render(request, "safety/rca/_section_answer.html", context)
        messages.error(request, " ".join(error.messages))
    return _answer(request, investigation, part)


@requires("safety.report")
def people(request, pk):
    """The person picker's matches (htmx): radio buttons with each person's roles and units."""
    investigation = rca.access_investigation(request.user, pk)
    permissions.check(request.user, "safety.edit_investigation", investigation)
    field = request.GET.get("field", "person")
    if field not in ("person", "owner"):
        raise Http404("No such picker.")
    picker = request.GET.get("picker", field)[:60]
    query = request.GET.get("q", "")
    return render(request, "safety/rca/_people.html", {
        "matches": rca.people_to_pick(investigation, query) if query.strip() else [],
        "field_name": request.GET.get("name", field)[:80], "picker": picker, "query": query})


@require_POST
@requires("safety.report")
def sign(request, pk):
    investigation = rca.access_investigation(request.user, pk)
    try:
        rca.sign_findings(request.user, investigation)
        messages.success(request, "You signed the findings of the analysis.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("safety:investigation", pk=pk)


@require_POST
@requires("safety.approve_investigation")
def approve(request, pk):
    investigation = rca.access_investigation(request.user, pk)
    try:
        rca.approve_investigation(request.user, investigation)
        messages.success(request, "You approved the findings of the analysis.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("safety:investigation", pk=pk)


@requires("safety.report")
def report_pdf(request, pk):
    """The analysis as a PDF, with its sign-off (the read is audited as the page's)."""
    investigation = rca.access_investigation(request.user, pk)
    context = _context(request, investigation)
    event = investigation.event
    problem = f"{event.reference}: {taxonomy.version(event.taxonomy_version).category_label(event.category)}"
    context["fishbone"] = fishbone.chart(problem, rca.fishbone(investigation))
    context["category_label"] = taxonomy.version(event.taxonomy_version).category_label(event.category)
    context["printed_at"] = timezone.now()
    pdf = render_template_pdf("safety/rca/report_pdf.html", context)
    audit.record_read(event, actor=request.user, reason="exported the root cause analysis as PDF")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="rca-{event.reference}.pdf"'
    return response


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
