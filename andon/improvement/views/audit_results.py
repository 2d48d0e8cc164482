"""Pages of clinical audits: results. The results page (compliance per criterion with its interval
against the target, the chart, the re-audit comparison, the cycle with its dates and buttons, the
findings and their actions, the tool's measure), a finding's form, and the PDF report. Thin: parse,
call a service, render."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.actions import services as actions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, PersonField, people_search
from andon.platform.forms import add_errors as _add_errors
from andon.platform.models import Unit, User
from andon.platform.permissions import requires

from .. import audits, cycle, report, results
from ..models import AuditStage


# --- forms --------------------------------------------------------------------------------------

class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=AuditStage.choices)
    reason = forms.CharField(required=False, max_length=cycle.REASON_MAX, widget=forms.Textarea(attrs={"rows": 2}))
    with_cases = forms.IntegerField(required=False, min_value=0, label="Analyse with this many cases")
    version = VersionField()


class FindingForm(forms.Form):
    title = forms.CharField(max_length=150, label="What will be done",
                            help_text="The action's title; the criterion's number goes before it.")
    owner = PersonField(queryset=User.objects.none(), label="Owner", help_text="One person responsible.")
    due_date = BoundedDateField(widget=forms.DateInput(attrs={"type": "date"}), label="Due date")
    strength = forms.ChoiceField(choices=actions.Strength.choices, help_text="Stronger actions change the system (RCA²).")
    measure = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                              help_text="How you will know it worked: the re-audit, for one.")
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), label="Unit that acts",
                                  help_text="The audit sits in no unit: the action belongs to one.")

    def __init__(self, *args, audit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["due_date"].widget.attrs["min"] = timezone.localdate().isoformat()
        self.fields["owner"].queryset = results.finding_owners(audit)
        self.fields["owner"].widget.search_url = reverse("improvement:audit_finding_owners", args=[audit.pk])
        if audit.unit_id:
            del self.fields["unit"]
            return
        units = Unit.objects.filter(active=True, facility__organisation_id=audit.organisation_id)
        if audit.facility_id:
            units = units.filter(facility_id=audit.facility_id)
        self.fields["unit"].queryset = units.select_related("facility").order_by("facility__name", "path")


# --- pages ----------------------------------------------------------------------------------------

@requires("improvement.use_audits")
def audit_results(request, pk):
    audit = audits.access_audit(request.user, pk)
    return render(request, "improvement/audit_results.html", report.results_context(request.user, audit))


@require_POST
@requires("improvement.use_audits")
def audit_stage(request, pk):
    audit = audits.access_audit(request.user, pk, "improvement.run_audit")
    form = StageForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a stage.")
        return redirect("improvement:audit_results", pk=pk)
    data = form.cleaned_data
    try:
        moved = cycle.advance(request.user, audit, data["stage"], reason=data["reason"],
                              with_cases=data["with_cases"], version=data["version"])
    except ValidationError as error:
        audit.refresh_from_db()
        return render(request, "improvement/audit_results.html", report.results_context(
            request.user, audit, stage_errors=error.messages, stage_form=form), status=409 if hasattr(error, "by") else 400)
    messages.success(request, f"{moved.audit.reference} is at {moved.audit.get_stage_display()}. {moved.note}".strip())
    return redirect("improvement:audit_results", pk=pk)


@require_POST
@requires("improvement.use_audits")
def audit_re_audit(request, pk):
    audit = audits.access_audit(request.user, pk, "improvement.run_audit")
    try:
        again = cycle.plan_re_audit(request.user, audit)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("improvement:audit_results", pk=pk)
    messages.success(request, f"{again.reference} is planned: it re-audits {audit.reference} "
                              f"({again.period_start:%Y-%m-%d} to {again.period_end:%Y-%m-%d}).")
    return redirect("improvement:audit_results", pk=again.pk)


@require_POST
@requires("improvement.use_audits")
def audit_send(request, pk):
    audit = audits.access_audit(request.user, pk, "improvement.run_audit")
    try:
        count, replaced = results.send_to_measure(request.user, audit)
    except ValidationError as error:
        messages.error(request, "Not sent: " + " ".join(error.messages))
    else:
        messages.success(request, f"{count.numerator:g} of {count.denominator:g} cases "
                                  f"{'replaced the audit’s earlier count in' if replaced else 'sent to'} "
                                  f"{audit.tool.measure.title} for {audit.unit.name}, {count.month:%B %Y}.")
    return redirect("improvement:audit_results", pk=pk)


def _criterion(audit, criterion_pk):
    criterion = audit.tool.criteria.filter(pk=criterion_pk).first()
    if criterion is None:
        raise Http404("no such criterion in this audit's tool")
    return criterion


@requires("improvement.use_audits")
def audit_finding(request, pk, criterion_pk):
    audit = audits.access_audit(request.user, pk, "improvement.run_audit")
    criterion = _criterion(audit, criterion_pk)
    form = FindingForm(request.POST or None, audit=audit, initial={"title": criterion.text[:150]})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                action = results.raise_finding(request.user, audit, criterion, **form.cleaned_data)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, f"The action “{action.title}” is in the tracker.")
                return redirect(f"{reverse('improvement:audit_results', args=[pk])}#findings")
    return render(request, "improvement/audit_results_finding.html", {
        "audit": audit, "criterion": criterion, "form": form,
        "result": results.audit_results(audit).of(criterion.number)}, status=status)


@requires("improvement.use_audits")
def audit_finding_owners(request, pk):
    """The finding form's owner picker (htmx): the staff of the audit's organisation."""
    audit = audits.access_audit(request.user, pk, "improvement.run_audit")
    return people_search(request, FindingForm(audit=audit)["owner"])


@requires("improvement.use_audits")
def audit_report(request, pk):
    audit = audits.access_audit(request.user, pk)
    response = HttpResponse(report.report_pdf(request.user, audit), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.report_filename(audit)}"'
    return response


urlpatterns = [
    path("improvement/audits/<int:pk>/results/", audit_results, name="audit_results"),
    path("improvement/audits/<int:pk>/results/stage/", audit_stage, name="audit_stage"),
    path("improvement/audits/<int:pk>/results/re-audit/", audit_re_audit, name="audit_re_audit"),
    path("improvement/audits/<int:pk>/results/measure/", audit_send, name="audit_send"),
    path("improvement/audits/<int:pk>/results/criteria/<int:criterion_pk>/finding/", audit_finding,
         name="audit_finding"),
    path("improvement/audits/<int:pk>/results/finding-owners/", audit_finding_owners, name="audit_finding_owners"),
    path("improvement/audits/<int:pk>/report.pdf", audit_report, name="audit_report"),
]
