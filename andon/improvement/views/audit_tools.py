"""Pages of clinical audits: tools and their criteria, planning an audit, the audit's page (its plan
with the sample size worked, the draw, its cases and the agreement between auditors), and the
start of collection. Thin: parse, call a service, render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, PeopleField, PersonField, add_errors, people_search
from andon.platform.models import User
from andon.platform.permissions import requires

from .. import audits, entry, sampling
from ..models import AuditStage, CohortKind

LIST_BYTES_MAX = 2_000_000


def _place_code(record) -> str:
    """The place choice (audits.place_choices) a tool or audit sits in."""
    if record.unit_id:
        return f"u{record.unit_id}"
    return f"f{record.facility_id}" if record.facility_id else f"o{record.organisation_id}"


# --- forms --------------------------------------------------------------------------------------

class ToolForm(forms.Form):
    title = forms.CharField(max_length=audits.TITLE_MAX)
    place = forms.ChoiceField(help_text="Where the tool is used; it decides who sees it.")
    topic = forms.CharField(required=False, max_length=audits.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                            help_text="Why it is audited and the population it covers.")
    standard_source = forms.CharField(label="Source of the standards", required=False, max_length=audits.SOURCE_MAX,
                                      help_text="The guideline, policy or regulation the criteria come from.")
    measure = forms.ChoiceField(label="Measure its results feed", required=False,
                                help_text="A measure of the library entered by hand or CSV.")
    version = VersionField()

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].choices = audits.place_choices(user)
        self.fields["measure"].choices = [("", "None")] + [(m.key, m.title) for m in audits.feedable_measures()]


class CriterionForm(forms.Form):
    number = forms.IntegerField(required=False, min_value=1, max_value=999, help_text="Left empty: the next number.")
    text = forms.CharField(label="Standard", max_length=audits.CRITERION_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="What every case is expected to show.")
    target = forms.CharField(label="Target (%)", max_length=20, help_text="Expected compliance, 0 to 100 %.")
    exceptions = forms.CharField(required=False, max_length=audits.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                                 help_text="Cases these apply to are not applicable for this criterion.")
    guidance = forms.CharField(required=False, max_length=audits.GUIDANCE_MAX, widget=forms.Textarea(attrs={"rows": 2}),
                               help_text="How the auditor decides, and where to look.")


class PlanForm(forms.Form):
    title = forms.CharField(max_length=audits.TITLE_MAX)
    place = forms.ChoiceField(help_text="Whose care is audited.")
    period_start = BoundedDateField(label="Care from", widget=forms.DateInput(attrs={"type": "date"}))
    period_end = BoundedDateField(label="Care to", widget=forms.DateInput(attrs={"type": "date"}))
    lead = PersonField(label="Audit lead", queryset=User.objects.none(), help_text="Runs the sample and the cycle.")
    auditors = PeopleField(queryset=User.objects.none(), help_text="They enter the cases, on their phones.")
    cohort_kind = forms.ChoiceField(label="Cases from", choices=CohortKind.choices, widget=forms.RadioSelect,
                                    initial=CohortKind.LIST)
    cohort_source = forms.CharField(label="eCQM", required=False, max_length=audits.SOURCE_MAX,
                                    help_text="For an eCQM population: the measure's key in the library.")
    expected = forms.CharField(label="Expected compliance (%)", initial="50", max_length=20,
                               help_text="50 % when unknown: the largest sample.")
    margin = forms.CharField(label="Margin (± points)", initial="10", max_length=20)
    confidence = forms.CharField(label="Confidence (%)", initial="95", max_length=20)
    double_share = forms.CharField(label="Cases audited twice (%)", initial="10", max_length=20,
                                   help_text="For the agreement between auditors (Cohen's kappa).")

    def __init__(self, *args, user, tool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["place"].choices = audits.place_choices(user)
        for name in ("lead", "auditors"):
            self.fields[name].queryset = audits.possible_auditors(user)
            self.fields[name].widget.search_url = reverse("improvement:audit_plan_people", args=[tool.pk])


class DrawForm(forms.Form):
    references = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}),
                                 help_text="One reference a line (a tab may separate a label the auditor sees).")
    upload = forms.FileField(required=False, label="…or a text file of them")


class CaseForm(forms.Form):
    case_ref = forms.CharField(label="Reference", max_length=sampling.REFERENCE_MAX)
    label = forms.CharField(required=False, max_length=sampling.REFERENCE_MAX,
                            help_text="What the auditor sees to find the record.")


# --- tools --------------------------------------------------------------------------------------

@requires("improvement.view")
def tool_list(request):
    page = Paginator(audits.visible_tools(request.user).order_by("title", "pk"), 50).get_page(request.GET.get("page"))
    return render(request, "improvement/audit_tool_list.html", {
        "page": page, "may_design": permissions.units_where(request.user, "improvement.manage_audits").exists()})


def _tool_saved(request, form, tool=None):
    data = form.cleaned_data
    place = audits.place_from_code(data["place"])
    values = {"title": data["title"], "topic": data["topic"], "standard_source": data["standard_source"],
              "measure": data["measure"] or None}
    if tool is None:
        return audits.create_tool(request.user, place=place, **values)
    return audits.edit_tool(request.user, tool, data["version"], place=place, **values)


@requires("improvement.manage_audits")
def tool_new(request):
    return _tool_form(request, None)


@requires("improvement.manage_audits")
def tool_edit(request, pk):
    return _tool_form(request, audits.access_tool(request.user, pk, "improvement.manage_audits"))


def _tool_form(request, tool):
    initial = {} if tool is None else {
        "title": tool.title, "topic": tool.topic, "standard_source": tool.standard_source, "version": tool.version,
        "measure": tool.measure.key if tool.measure_id else "",
        "place": _place_code(tool)}
    form = ToolForm(request.POST or None, user=request.user, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                saved = _tool_saved(request, form, tool)
            except ValidationError as error:
                if tool is None:
                    add_errors(form, error)
                else:
                    tool.refresh_from_db()
                    status = concurrency.refused_on_page(request, form, error, tool, add_errors)
            else:
                messages.success(request, f"{saved.reference} is saved.")
                return redirect("improvement:audit_tool", pk=saved.pk)
    return render(request, "improvement/audit_tool_form.html", {"form": form, "tool": tool}, status=status)


@requires("improvement.view")
def tool_detail(request, pk):
    tool = audits.access_tool(request.user, pk)
    may_design = permissions.can(request.user, "improvement.manage_audits", tool)
    return render(request, "improvement/audit_tool_detail.html", {
        "tool": tool, "criteria": tool.criteria.order_by("-active", "number"), "may_design": may_design,
        "criterion_form": CriterionForm(prefix="new") if may_design else None,
        "audits": audits.visible_audits(request.user).filter(tool=tool).order_by("-planned_on", "-pk")[:50],
        "history": history.history_of(tool) if may_design else [],
    })


@require_POST
@requires("improvement.manage_audits")
def criterion_add(request, pk):
    tool = audits.access_tool(request.user, pk, "improvement.manage_audits")
    form = CriterionForm(request.POST, prefix="new")
    if form.is_valid():
        data = form.cleaned_data
        try:
            added = audits.add_criterion(request.user, tool, text=data["text"], target=data["target"],
                                         exceptions=data["exceptions"], guidance=data["guidance"],
                                         number=data["number"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Criterion {added.number} is added.")
            return redirect("improvement:audit_tool", pk=pk)
    return render(request, "improvement/audit_tool_detail.html", {
        "tool": tool, "criteria": tool.criteria.order_by("-active", "number"), "may_design": True,
        "criterion_form": form, "audits": [], "history": []}, status=400)


@requires("improvement.manage_audits")
def criterion_edit(request, pk, criterion_pk):
    criterion = audits.access_criterion(request.user, pk, criterion_pk)
    form = CriterionForm(request.POST or None, initial={
        "number": criterion.number, "text": criterion.text, "target": criterion.target,
        "exceptions": criterion.exceptions, "guidance": criterion.guidance})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                audits.edit_criterion(request.user, criterion, text=data["text"], target=data["target"],
                                      exceptions=data["exceptions"], guidance=data["guidance"], number=data["number"])
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"Criterion {criterion.number} is saved.")
                return redirect("improvement:audit_tool", pk=pk)
    return render(request, "improvement/audit_tool_criterion.html", {
        "tool": criterion.tool, "criterion": criterion, "form": form}, status=status)


@require_POST
@requires("improvement.manage_audits")
def criterion_retire(request, pk, criterion_pk):
    criterion = audits.access_criterion(request.user, pk, criterion_pk)
    number = criterion.number
    try:
        kept = audits.retire_criterion(request.user, criterion)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Criterion {number} is retired (kept with its answers)." if kept
                         else f"Criterion {number} is removed (it was never answered).")
    return redirect("improvement:audit_tool", pk=pk)


# --- planning -----------------------------------------------------------------------------------

@requires("improvement.manage_audits")
def audit_plan(request, pk):
    tool = audits.access_tool(request.user, pk)
    initial = {"place": _place_code(tool), "lead": request.user.pk, "title": tool.title}
    form = PlanForm(request.POST or None, user=request.user, tool=tool, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                planned = audits.plan_audit(
                    request.user, tool, title=data["title"], place=audits.place_from_code(data["place"]),
                    period_start=data["period_start"], period_end=data["period_end"], lead=data["lead"],
                    auditors=list(data["auditors"]), cohort_kind=data["cohort_kind"],
                    cohort_source=data["cohort_source"], expected=data["expected"], margin=data["margin"],
                    confidence=data["confidence"], double_share=data["double_share"])
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"{planned.reference} is planned: {planned.sample_size} cases.")
                return redirect("improvement:audit", pk=planned.pk)
    return render(request, "improvement/audit_plan_form.html", {"form": form, "tool": tool}, status=status)


@requires("improvement.manage_audits")
def audit_plan_people(request, pk):
    """The lead and auditor pickers' matches (htmx): active staff of the planner's organisations."""
    tool = audits.access_tool(request.user, pk)
    form = PlanForm(user=request.user, tool=tool)
    return people_search(request, form[request.GET.get("name") if request.GET.get("name") in ("lead", "auditors")
                                       else "auditors"])


# --- the audit ----------------------------------------------------------------------------------

STAGE_TABS = [("", "All"), *AuditStage.choices]


@requires("improvement.use_audits")
def audit_list(request):
    shown = request.GET.get("stage", "")
    found = audits.visible_audits(request.user)
    if shown in AuditStage.values:
        found = found.filter(stage=shown)
    else:
        shown = ""
    page = Paginator(found.order_by("-planned_on", "-pk"), 50).get_page(request.GET.get("page"))
    return render(request, "improvement/audit_plan_list.html", {
        "page": page, "tabs": STAGE_TABS, "shown": shown,
        "may_view_tools": permissions.can(request.user, "improvement.view"),
        "may_design": permissions.units_where(request.user, "improvement.manage_audits").exists()})


@requires("improvement.use_audits")
def audit_detail(request, pk):
    found = audits.access_audit(request.user, pk)
    user = request.user
    may_run = permissions.can(user, "improvement.run_audit", found)
    working = audits.sample_working(found.expected, found.margin, found.confidence, found.cohort_size)
    return render(request, "improvement/audit_plan_detail.html", {
        "audit": found, "working": working, "may_run": may_run,
        "may_answer": permissions.can(user, "improvement.answer_audit", found),
        "may_read_cases": permissions.can(user, "improvement.read_audit_cases", found),
        "auditors": found.auditors.order_by("last_name", "first_name"),
        "agreement": entry.agreement(user, found) if found.stage != AuditStage.PLAN else None,
        "draw_form": DrawForm() if may_run and found.stage == AuditStage.PLAN else None,
        "case_form": CaseForm(prefix="case") if may_run and found.stage in (AuditStage.PLAN, AuditStage.COLLECT) else None,
        "case_count": found.cases.count(),
        "history": history.history_of(found) if may_run else [],
    })


def _list_text(form) -> str:
    upload = form.cleaned_data.get("upload")
    if upload is None:
        return form.cleaned_data.get("references") or ""
    if upload.size > LIST_BYTES_MAX:
        raise ValidationError({"upload": f"The file is over {LIST_BYTES_MAX // 1_000_000} MB."})
    from andon.platform import inputs

    try:
        return inputs.utf8_text(upload.read())
    except inputs.InputError as problem:
        raise ValidationError({"upload": str(problem)}) from None


@require_POST
@requires("improvement.use_audits")
def audit_draw(request, pk):
    found = audits.access_audit(request.user, pk, "improvement.run_audit")
    form = DrawForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            drawn = sampling.draw_sample(request.user, found, text=_list_text(form))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            found.refresh_from_db()
            messages.success(request, f"{len(drawn)} cases drawn from a cohort of {found.cohort_size} "
                                      f"(seed {found.seed}).")
    return redirect("improvement:audit", pk=pk)


@require_POST
@requires("improvement.use_audits")
def audit_case_add(request, pk):
    found = audits.access_audit(request.user, pk, "improvement.run_audit")
    form = CaseForm(request.POST, prefix="case")
    if form.is_valid():
        try:
            case = sampling.add_case(request.user, found, case_ref=form.cleaned_data["case_ref"],
                                     label=form.cleaned_data["label"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Case {case.case_ref} is case {case.position}.")
    else:
        messages.error(request, "Give the case's reference (at most 200 characters).")
    return redirect("improvement:audit", pk=pk)


@requires("improvement.use_audits")
def audit_cases(request, pk):
    """The audit's cases (they name patients): reading them is recorded."""
    found = audits.access_audit(request.user, pk, "improvement.read_audit_cases")
    return render(request, "improvement/audit_plan_cases.html", {
        "audit": found, "cases": sampling.read_cases(request.user, found)})


@require_POST
@requires("improvement.use_audits")
def audit_collect(request, pk):
    found = audits.access_audit(request.user, pk, "improvement.run_audit")
    try:
        sampling.start_collection(request.user, found)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{found.reference} collects: each auditor has their cases.")
    return redirect("improvement:audit", pk=pk)


urlpatterns = [
    path("improvement/audit-tools/", tool_list, name="audit_tools"),
    path("improvement/audit-tools/new/", tool_new, name="audit_tool_new"),
    path("improvement/audit-tools/<int:pk>/", tool_detail, name="audit_tool"),
    path("improvement/audit-tools/<int:pk>/edit/", tool_edit, name="audit_tool_edit"),
    path("improvement/audit-tools/<int:pk>/criteria/", criterion_add, name="audit_criterion_add"),
    path("improvement/audit-tools/<int:pk>/criteria/<int:criterion_pk>/", criterion_edit, name="audit_criterion_edit"),
    path("improvement/audit-tools/<int:pk>/criteria/<int:criterion_pk>/retire/", criterion_retire,
         name="audit_criterion_retire"),
    path("improvement/audit-tools/<int:pk>/plan/", audit_plan, name="audit_plan"),
    path("improvement/audit-tools/<int:pk>/plan/people/", audit_plan_people, name="audit_plan_people"),
    path("improvement/audits/", audit_list, name="audits"),
    path("improvement/audits/<int:pk>/", audit_detail, name="audit"),
    path("improvement/audits/<int:pk>/draw/", audit_draw, name="audit_draw"),
    path("improvement/audits/<int:pk>/cases/", audit_cases, name="audit_cases"),
    path("improvement/audits/<int:pk>/cases/add/", audit_case_add, name="audit_case_add"),
    path("improvement/audits/<int:pk>/collect/", audit_collect, name="audit_collect"),
]
