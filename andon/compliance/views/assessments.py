"""Pages of compliance: assessments, their items, readiness, comparison, import and export, and
findings. Thin: parse, call one service, render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.actions import services as actions
from andon.platform import charts, concurrency, history, inputs, notifications, permissions
from andon.platform.concurrency import VersionField
from andon.platform.exports import streaming_csv
from andon.platform.forms import BoundedDateField, PersonField, add_errors, people_search
from andon.platform.models import Facility, Unit, User
from andon.platform.permissions import requires
from andon.platform.services import staff_of

from .. import assessments as service
from .. import findings as finding_service
from ..models import (
    AssessmentStatus, FindingRisk, FindingStatus, FrameworkVersion, Requirement, Result, WorkingStatus,
)
from ..uploads import SPREADSHEETS, check_upload


# --- forms --------------------------------------------------------------------------------------

class AssessmentForm(forms.Form):
    title = forms.CharField(max_length=200)
    version = forms.ModelChoiceField(queryset=FrameworkVersion.objects.select_related("framework"),
                                     label="Framework version")
    scope = forms.ChoiceField(
        help_text="What is assessed: the organisation, a facility or a unit with the units below it.")
    requirements = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                   label="Part of the framework",
                                   help_text="Chapter or requirement URNs, one a line; "
                                             "leave empty for every requirement.")
    per_unit_units = forms.ModelMultipleChoiceField(queryset=Unit.objects.none(), required=False,
                                                    label="Assess unit by unit",
                                                    help_text="Units of the scope to judge one by one; "
                                                              "none: the scope as a whole.")
    lead = PersonField(queryset=User.objects.none())
    due_on = BoundedDateField(required=False, label="Due on", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        units = permissions.units_where(user, "compliance.assess").filter(active=True).select_related("facility")
        facilities = Facility.objects.filter(pk__in=units.values("facility_id"))
        choices = []
        if permissions.holds_everywhere(user, "compliance.assess"):
            choices += [(f"o{o.pk}", f"{o.name} (whole organisation)") for o in
                        {f.organisation for f in facilities.select_related("organisation")}]
        choices += [(f"f{f.pk}", f"{f.name} (facility)") for f in facilities
                    if permissions.can(user, "compliance.assess", f)]
        choices += [(f"u{u.pk}", f"{u.facility.name} · {u.name}") for u in units.order_by("facility__name", "path")]
        self.fields["scope"].choices = choices
        self.fields["per_unit_units"].queryset = units
        self.fields["per_unit_units"].label_from_instance = lambda u: f"{u.facility.name} · {u.name}"
        self.fields["lead"].queryset = staff_of(facilities.values("organisation_id"))
        self.fields["lead"].widget.search_url = reverse("compliance:assessment_leads")

    def chosen_scope(self):
        from andon.platform.models import Organisation

        kind, key = self.cleaned_data["scope"][0], int(self.cleaned_data["scope"][1:])
        return {"o": Organisation, "f": Facility, "u": Unit}[kind].objects.get(pk=key)


class ItemForm(forms.Form):
    working_status = forms.ChoiceField(choices=WorkingStatus.choices, label="Working status")
    result = forms.ChoiceField(choices=Result.choices, required=False)
    not_applicable_reason = forms.CharField(required=False, max_length=2000, label="Why not applicable",
                                            widget=forms.Textarea(attrs={"rows": 2}))
    rationale = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
                                help_text="What was looked at and what it showed.")
    weight = forms.DecimalField(required=False, min_value=0, max_value=1000, decimal_places=2,
                                help_text="How much the item counts in readiness (1 unless set).")
    version = VersionField()


class FilterForm(forms.Form):
    chapter = forms.ChoiceField(required=False)
    owner = PersonField(queryset=User.objects.none(), required=False, empty_label="Anyone", others=[("none", "Nobody")])
    working_status = forms.ChoiceField(required=False, choices=[("", "Any")] + WorkingStatus.choices,
                                       label="Working status")
    result = forms.ChoiceField(required=False, choices=[("", "Any"), ("none", "Not assessed")] + [
        c for c in Result.choices if c[0]])

    def __init__(self, *args, assessment, **kwargs):
        super().__init__(*args, **kwargs)
        chapters = Requirement.objects.filter(version=assessment.version_assessed, depth=0).order_by("position")
        self.fields["chapter"].choices = [("", "Any")] + [(c.urn, str(c)) for c in chapters]
        self.fields["owner"].queryset = User.objects.filter(pk__in=assessment.items.values("owner_id"))
        self.fields["owner"].widget.search_url = reverse("compliance:assessment_owners", args=[assessment.pk])


class AssignForm(forms.Form):
    owner = PersonField(queryset=User.objects.none(), required=False,
                        empty_label="Nobody (take the items from their owner)")
    # Ticked on the rows of the page (checkboxes of this name, assessment_item_row.html), never
    # listed in the form: an assessment holds hundreds of items, and 500 options were a third of
    # the page's cost (issue 16). Any item of the assessment is accepted, one query for them all.
    items = forms.ModelMultipleChoiceField(queryset=None, widget=forms.MultipleHiddenInput,
                                           error_messages={"required": "Tick the items to assign."})

    def __init__(self, *args, assessment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].queryset = assessment.items.all()
        self.fields["owner"].queryset = staff_of([assessment.organisation_id])
        self.fields["owner"].widget.search_url = reverse("compliance:assessment_assignees", args=[assessment.pk])


class FindingForm(forms.Form):
    title = forms.CharField(max_length=200)
    risk = forms.ChoiceField(choices=[(r, finding_service.RISK_WORDS[r]) for r in FindingRisk.values],
                             widget=forms.RadioSelect, label="Risk rating")
    description = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), required=False,
                                  help_text="The unit the finding is about (the item's own unit when it has one).")

    def __init__(self, *args, item, **kwargs):
        super().__init__(*args, **kwargs)
        assessment = item.assessment
        units = Unit.objects.filter(active=True, facility__organisation=assessment.organisation)
        if assessment.unit_id:
            units = units.filter(path__startswith=assessment.unit.path)
        elif assessment.facility_id:
            units = units.filter(facility=assessment.facility)
        self.fields["unit"].queryset = units.select_related("facility")
        if item.for_unit_id or assessment.unit_id:
            del self.fields["unit"]


class ActionForm(forms.Form):
    title = forms.CharField(max_length=200)
    owner = PersonField(queryset=User.objects.none())
    due_date = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), label="Due date")
    strength = forms.ChoiceField(choices=actions.Strength.choices)
    measure = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="How you will know the action worked.")

    def __init__(self, *args, finding, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff_of([finding.unit.facility.organisation_id])
        self.fields["owner"].widget.search_url = reverse("compliance:finding_owners", args=[finding.pk])


class CloseFindingForm(forms.Form):
    note = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}), label="How it was resolved")
    version = VersionField()


class FindingFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any")] + FindingStatus.choices)
    risk = forms.ChoiceField(required=False, choices=[("", "Any")] + FindingRisk.choices)
    chapter = forms.CharField(required=False, max_length=300, label="Chapter URN")
    unit = forms.ModelChoiceField(queryset=Unit.objects.select_related("facility"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Any unit parses (one outside the grants is refused by scope_for); only the user's are offered.
        mine = permissions.units_where(user, "compliance.view").select_related("facility").order_by("facility", "path")
        self.fields["unit"].widget.choices = [("", "Any")] + [(u.pk, f"{u.facility.name} · {u.name}") for u in mine]


class ImportForm(forms.Form):
    file = forms.FileField(help_text="The assessment's CSV or XLSX export, edited.")


# --- assessments --------------------------------------------------------------------------------

@requires("compliance.view")
def assessment_list(request):
    assessments = service.visible_assessments(request.user)
    status = request.GET.get("status", "open")
    if status in AssessmentStatus.values:
        assessments = assessments.filter(status=status)
    page = Paginator(assessments, 50).get_page(request.GET.get("page"))
    rows = [(a, service.readiness(a).overall) for a in page]
    return render(request, "compliance/assessment_list.html", {
        "page": page, "rows": rows, "status": status, "may_create": permissions.can(request.user, "compliance.assess"),
        "may_compare": True})


@requires("compliance.assess")
def assessment_new(request):
    form = AssessmentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        urns = [line.strip() for line in data["requirements"].splitlines() if line.strip()]
        try:
            assessment = service.create_assessment(
                request.user, title=data["title"], version=data["version"], scope=form.chosen_scope(),
                requirements=urns, per_unit_units=list(data["per_unit_units"]), lead=data["lead"],
                due_on=data["due_on"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"The assessment has {assessment.items.count()} items.")
            return redirect("compliance:assessment", pk=assessment.pk)
    return render(request, "compliance/assessment_form.html", {"form": form}, status=400 if form.errors else 200)


@requires("compliance.assess")
def assessment_leads(request):
    """The new assessment's lead picker (htmx): staff of the organisations the user assesses in."""
    return people_search(request, AssessmentForm(user=request.user)["lead"])


def _filtered_items(assessment, form):
    items = service.items_of(assessment).order_by("requirement__position", "for_unit__name")
    if not form.is_valid():
        return items
    data = form.cleaned_data
    if data["chapter"]:
        items = items.filter(requirement__chapter__urn=data["chapter"])
    if data["owner"] == "none":
        items = items.filter(owner=None)
    elif data["owner"]:
        items = items.filter(owner=data["owner"])
    if data["working_status"]:
        items = items.filter(working_status=data["working_status"])
    if data["result"]:
        items = items.filter(result="" if data["result"] == "none" else data["result"])
    return items


def _charts(assessment, scored):
    bars = charts.bar_chart([(line.label, line.percent or 0) for line in scored.by_chapter],
                            title="Readiness by chapter", y_label="% met (weighted)",
                            desc="; ".join(f"{line.label}: {_pct(line)}" for line in scored.by_chapter))
    points = service.trend(assessment)
    percents = {"Readiness %": [round(v * 100, 1) for _, v in points]}
    line = charts.line_chart([d.isoformat() for d, _ in points], percents,
                             title="Readiness over time", y_label="% met (weighted)",
                             desc=", ".join(f"{d:%Y-%m-%d} {v * 100:.1f}%" for d, v in points) or "No points yet")
    return bars, line


def _pct(line) -> str:
    return "not scored" if line.percent is None else f"{line.percent:.1f}%"


@requires("compliance.view")
def assessment_detail(request, pk):
    assessment = service.access_assessment(request.user, pk)
    scored = service.readiness(assessment)
    form = FilterForm(request.GET or None, assessment=assessment)
    page = Paginator(_filtered_items(assessment, form), 25).get_page(request.GET.get("page"))
    for item in page:
        item.assessment = assessment  # each row's permission check reads the assessment's scope
    by_chapter_chart, trend_chart = _charts(assessment, scored)
    return render(request, "compliance/assessment_detail.html", {
        "assessment": assessment, "readiness": scored, "form": form, "page": page,
        "rows": [_row_context(request.user, item) for item in page],
        "chapter_chart": by_chapter_chart, "trend_chart": trend_chart,
        "findings": finding_service.findings_of_assessment(assessment),
        "may_assign": _may_assign(request.user, assessment),
        "assign_form": AssignForm(assessment=assessment, prefix="assign"),
        "others": service.visible_assessments(request.user).filter(
            version_assessed__framework=assessment.version_assessed.framework).exclude(pk=assessment.pk)[:20],
    })


def _may_assign(user, assessment) -> bool:
    return assessment.status == AssessmentStatus.OPEN and permissions.can(user, "compliance.assess", assessment)


def _row_context(user, item, form=None, *, with_form=False) -> dict:
    """A row of the items table. Its edit form is drawn only when asked for (the row's Edit,
    item_row_form) or when it comes back with errors: 25 forms drawn with every page were two
    thirds of the page's cost (issue 16)."""
    may_edit = (item.assessment.status == AssessmentStatus.OPEN
                and permissions.can(user, "compliance.work_on_item", item))
    if may_edit and form is None and with_form:
        form = ItemForm(initial={"working_status": item.working_status, "result": item.result,
                                 "not_applicable_reason": item.not_applicable_reason, "rationale": item.rationale,
                                 "weight": item.weight, "version": item.version}, prefix=f"i{item.pk}")
    return {"item": item, "may_edit": may_edit, "form": form if may_edit else None,
            "may_assign": _may_assign(user, item.assessment)}


@requires("compliance.view")
def assessment_owners(request, pk):
    """The items filter's owner picker (htmx): people who own an item of the assessment."""
    assessment = service.access_assessment(request.user, pk)
    return people_search(request, FilterForm(assessment=assessment)["owner"])


@requires("compliance.assess")
def assessment_assignees(request, pk):
    """The assign form's owner picker (htmx): staff of the assessment's organisation."""
    assessment = service.access_assessment(request.user, pk, "compliance.assess")
    return people_search(request, AssignForm(assessment=assessment, prefix="assign")["owner"])


@require_POST
@requires("compliance.assess")
def assessment_assign(request, pk):
    assessment = service.access_assessment(request.user, pk, "compliance.assess")
    form = AssignForm(request.POST, assessment=assessment, prefix="assign")
    if form.is_valid():
        try:
            count = service.assign_items(request.user, list(form.cleaned_data["items"]), form.cleaned_data["owner"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{count} item{'s' if count != 1 else ''} assigned.")
    else:  # the form is folded away on the page: say which field, and why
        messages.error(request, "Nothing was assigned. " + " ".join(
            f"{form[name].label}: {' '.join(problems)}" for name, problems in form.errors.items()))
    return redirect("compliance:assessment", pk=assessment.pk)


@require_POST
@requires("compliance.assess")
def assessment_close(request, pk):
    assessment = service.access_assessment(request.user, pk, "compliance.assess")
    try:
        service.close_assessment(request.user, assessment, inputs.record_id(request.POST.get("version", "")))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The assessment is closed; its readiness is kept as it stands.")
    return redirect("compliance:assessment", pk=assessment.pk)


@requires("compliance.view")
def assessment_export_csv(request, pk):
    assessment = service.access_assessment(request.user, pk)
    return streaming_csv(service.EXPORT_HEADER, service.assessment_export_rows(assessment),
                         f"assessment-{assessment.pk}.csv")


@requires("compliance.view")
def assessment_export_xlsx(request, pk):
    assessment = service.access_assessment(request.user, pk)
    response = HttpResponse(service.export_xlsx(assessment),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="assessment-{assessment.pk}.xlsx"'
    response["Cache-Control"] = "private, no-store"
    return response


@requires("compliance.assess")
def assessment_import(request, pk):
    assessment = service.access_assessment(request.user, pk, "compliance.assess")
    form = ImportForm(request.POST or None, request.FILES or None)
    problems, status = [], 200
    if request.method == "POST" and form.is_valid():
        try:
            changed, problems = service.import_items(request.user, assessment,
                                                     check_upload(form.cleaned_data["file"], SPREADSHEETS))
        except ValidationError as error:
            add_errors(form, error)
        else:
            if not problems:
                messages.success(request, f"{changed} item{'s' if changed != 1 else ''} changed.")
                return redirect("compliance:assessment", pk=assessment.pk)
    if form.errors or problems:
        status = 400
    return render(request, "compliance/assessment_import.html",
                  {"assessment": assessment, "form": form, "problems": problems}, status=status)


@requires("compliance.view")
def assessment_compare(request):
    before_id = inputs.record_id(request.GET.get("before", ""))
    after_id = inputs.record_id(request.GET.get("after", ""))
    if before_id is None or after_id is None:
        return render(request, "compliance/assessment_compare.html",
                      {"choices": service.visible_assessments(request.user)[:200], "comparison": None})
    before = service.access_assessment(request.user, before_id)
    after = service.access_assessment(request.user, after_id)
    try:
        comparison = service.compare_assessments(before, after)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("compliance:compare")
    return render(request, "compliance/assessment_compare.html", {"comparison": comparison, "choices": []})


# --- items --------------------------------------------------------------------------------------

@requires("compliance.assessment_work")
def my_items(request):
    items = service.my_items(request.user)
    return render(request, "compliance/assessment_my_items.html", {
        "not_done": items.exclude(working_status=WorkingStatus.DONE), "done": items.filter(
            working_status=WorkingStatus.DONE)})


@requires("compliance.assessment_work")
def item_detail(request, pk):
    item = service.access_item(request.user, pk)
    notifications.mark_read(request.user, request.path)
    return render(request, "compliance/assessment_item.html", _item_context(request, item))


def _item_context(request, item, **forms_) -> dict:
    user = request.user
    return {
        **_row_context(user, item, forms_.get("form"), with_form=True), "item": item,
        "findings": item.findings.select_related("unit").order_by("status", "-raised_at"),
        "history": history.history_of(item),
        "may_sign_off": (item.reviewed_by_id is None and item.result and item.owner_id != user.pk
                         and item.working_status in (WorkingStatus.IN_REVIEW, WorkingStatus.DONE)
                         and item.assessment.status == AssessmentStatus.OPEN
                         and permissions.can(user, "compliance.review_items", item)),
        "may_raise": (item.result in (Result.NOT_MET, Result.PARTLY_MET)
                      and item.assessment.status == AssessmentStatus.OPEN
                      and permissions.can(user, "compliance.raise_findings")),
    }


@requires("compliance.assessment_work")
def item_edit(request, pk):
    """The item's form: the page's inline edit (htmx answers with the row) or its own page."""
    item = service.access_item(request.user, pk, "compliance.work_on_item")
    inline = request.headers.get("HX-Request") == "true"
    if request.method != "POST":
        return redirect("compliance:item", pk=item.pk)
    form = ItemForm(request.POST, prefix=f"i{item.pk}")
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            service.update_item(request.user, item, data["version"], working_status=data["working_status"],
                                result=data["result"], not_applicable_reason=data["not_applicable_reason"],
                                rationale=data["rationale"], weight=data["weight"])
        except ValidationError as error:
            item.refresh_from_db()
            status = concurrency.refused_on_page(request, form, error, item, add_errors)
        else:
            if inline:
                return render(request, "compliance/assessment_item_row.html", _row_context(request.user, item))
            messages.success(request, "The item is saved.")
            return redirect("compliance:item", pk=item.pk)
    if inline:  # htmx swaps only what it is given with 200: the row with its errors
        return render(request, "compliance/assessment_item_row.html", _row_context(request.user, item, form))
    return render(request, "compliance/assessment_item.html", _item_context(request, item, form=form), status=status)


@requires("compliance.assessment_work")
def item_row_form(request, pk):
    """The row of the assessment page with its edit form, asked for by the row's Edit (htmx);
    without JavaScript that link opens the item's page, which has the same form."""
    item = service.access_item(request.user, pk, "compliance.work_on_item")
    if request.headers.get("HX-Request") != "true":
        return redirect("compliance:item", pk=item.pk)
    row = _row_context(request.user, item, with_form=True)
    if row["form"]:  # htmx focuses it: the Edit link that had the focus is gone with the old row
        row["form"]["working_status"].field.widget.attrs["autofocus"] = True
    return render(request, "compliance/assessment_item_row.html", row)


@require_POST
@requires("compliance.review_items")
def item_sign_off(request, pk):
    item = service.access_item(request.user, pk, "compliance.review_items")
    try:
        service.sign_off(request.user, item, inputs.record_id(request.POST.get("version", "")))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Signed off.")
    return redirect("compliance:item", pk=item.pk)


@requires("compliance.raise_findings")
def item_finding_new(request, pk):
    item = service.access_item(request.user, pk, "compliance.view_item")
    form = FindingForm(request.POST or None, item=item)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            finding = finding_service.raise_finding_for_item(
                request.user, item, title=data["title"], risk=data["risk"], description=data["description"],
                unit=data.get("unit"))
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "The finding is raised: open an action for it.")
            return redirect("compliance:finding", pk=finding.pk)
    return render(request, "compliance/finding_form.html", {"form": form, "item": item},
                  status=400 if form.errors else 200)


# --- findings -----------------------------------------------------------------------------------

@requires("compliance.view")
def finding_list(request):
    form = FindingFilterForm(request.GET or None, user=request.user)
    data = form.cleaned_data if form.is_valid() else {}
    unit = data.get("unit")
    scope = permissions.scope_for(request.user, "compliance.view", unit=unit) if unit else None
    found = finding_service.visible_findings(
        request.user, status=data.get("status", ""), risk=data.get("risk", ""), chapter_urn=data.get("chapter", ""),
        units=scope.units if scope else None)
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    return render(request, "compliance/finding_list.html", {"form": form, "page": page})


def _finding_context(request, finding, **forms_) -> dict:
    user = request.user
    may_act = finding.status == FindingStatus.OPEN and permissions.can(user, "compliance.raise_findings", finding.unit)
    return {
        "finding": finding, "risk_words": finding_service.RISK_WORDS.get(finding.risk, ""),
        "actions": finding_service.finding_actions(finding, user), "history": history.history_of(finding),
        "may_open_action": may_act and permissions.can(user, "actions.manage", finding.unit),
        "may_close": may_act,
        "action_form": forms_.get("action_form") or ActionForm(
            finding=finding, initial={"due_date": timezone.localdate()}),
        "close_form": forms_.get("close_form") or CloseFindingForm(initial={"version": finding.version}),
    }


@requires("compliance.view")
def finding_detail(request, pk):
    finding = finding_service.access_finding(request.user, pk)
    return render(request, "compliance/finding_detail.html", _finding_context(request, finding))


@requires("compliance.raise_findings")
def finding_owners(request, pk):
    """The action form's owner picker (htmx): staff of the finding's organisation."""
    finding = finding_service.access_finding(request.user, pk, "compliance.raise_findings")
    return people_search(request, ActionForm(finding=finding)["owner"])


@require_POST
@requires("compliance.raise_findings")
def finding_action(request, pk):
    finding = finding_service.access_finding(request.user, pk, "compliance.raise_findings")
    form = ActionForm(request.POST, finding=finding)
    if form.is_valid():
        try:
            action = finding_service.open_action_for_finding(request.user, finding, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "The action is opened in the action tracker.")
            return redirect("actions:detail", pk=action.pk)
    return render(request, "compliance/finding_detail.html", _finding_context(request, finding, action_form=form),
                  status=400)


@require_POST
@requires("compliance.raise_findings")
def finding_close(request, pk):
    finding = finding_service.access_finding(request.user, pk, "compliance.raise_findings")
    form = CloseFindingForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            finding_service.close_finding(request.user, finding, form.cleaned_data["note"],
                                          form.cleaned_data["version"])
        except ValidationError as error:
            finding.refresh_from_db()
            status = concurrency.refused_on_page(request, form, error, finding, add_errors)
        else:
            messages.success(request, "The finding is closed.")
            return redirect("compliance:finding", pk=finding.pk)
    return render(request, "compliance/finding_detail.html", _finding_context(request, finding, close_form=form),
                  status=status)


urlpatterns = [
    path("compliance/assessments/", assessment_list, name="assessments"),
    path("compliance/assessments/new/", assessment_new, name="assessment_new"),
    path("compliance/assessments/new/leads/", assessment_leads, name="assessment_leads"),
    path("compliance/assessments/compare/", assessment_compare, name="compare"),
    path("compliance/assessments/<int:pk>/", assessment_detail, name="assessment"),
    path("compliance/assessments/<int:pk>/owners/", assessment_owners, name="assessment_owners"),
    path("compliance/assessments/<int:pk>/assign/", assessment_assign, name="assessment_assign"),
    path("compliance/assessments/<int:pk>/assign/people/", assessment_assignees, name="assessment_assignees"),
    path("compliance/assessments/<int:pk>/close/", assessment_close, name="assessment_close"),
    path("compliance/assessments/<int:pk>/export.csv", assessment_export_csv, name="assessment_csv"),
    path("compliance/assessments/<int:pk>/export.xlsx", assessment_export_xlsx, name="assessment_xlsx"),
    path("compliance/assessments/<int:pk>/import/", assessment_import, name="assessment_import"),
    path("compliance/items/mine/", my_items, name="my_items"),
    path("compliance/items/<int:pk>/", item_detail, name="item"),
    path("compliance/items/<int:pk>/edit/", item_edit, name="item_edit"),
    path("compliance/items/<int:pk>/edit/row/", item_row_form, name="item_row_form"),
    path("compliance/items/<int:pk>/sign-off/", item_sign_off, name="item_sign_off"),
    path("compliance/items/<int:pk>/findings/new/", item_finding_new, name="item_finding_new"),
    path("compliance/findings/", finding_list, name="findings"),
    path("compliance/findings/<int:pk>/", finding_detail, name="finding"),
    path("compliance/findings/<int:pk>/actions/", finding_action, name="finding_action"),
    path("compliance/findings/<int:pk>/actions/owners/", finding_owners, name="finding_owners"),
    path("compliance/findings/<int:pk>/close/", finding_close, name="finding_close"),
]
