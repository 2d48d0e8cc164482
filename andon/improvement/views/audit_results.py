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
from andon.measures import services as measures
from andon.platform import charts, permissions
from andon.platform.concurrency import VersionField
from andon.platform.forms import BoundedDateField, PersonField, people_search
from andon.platform.forms import add_errors as _add_errors
from andon.platform.models import Unit, User
from andon.platform.pdf import render_template_pdf
from andon.platform.permissions import requires

from .. import audits, cycle, results
from ..models import AuditStage

STATUS = {"meets": "improvement", "below": "concern", "cannot_tell": "common", "no_cases": "common"}


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


# --- what the page and the report show ------------------------------------------------------------

def compliance_chart(found: results.AuditResults) -> charts.Chart:
    """Compliance per criterion and overall, each with its 95 % interval and the target."""
    rows = [charts.IntervalRow(
        f"{r.criterion.number}. {r.criterion.text}", _pct(r.compliance), _pct(r.low), _pct(r.high),
        float(r.criterion.target), STATUS[r.reading],
        tip=f"{r.criterion.number}. {r.met} of {r.n}: {results.percent(r.compliance)} "
            f"(95 % {results.percent(r.low)}–{results.percent(r.high)}); target {results.target_words(r.criterion)}; "
            f"{r.reading_words}") for r in found.criteria]
    overall = found.overall
    rows.append(charts.IntervalRow("Overall (every applicable criterion met)", _pct(overall.compliance),
                                   _pct(overall.low), _pct(overall.high)))
    words = "; ".join(f"{r.criterion.number}: {results.percent(r.compliance)} of {r.n}, {r.reading_words.lower()}"
                      for r in found.criteria)
    return charts.interval_chart(rows, title=f"{found.audit.reference}: compliance by criterion",
                                 desc=f"Compliance with its 95 % Wilson interval and the target. {words}.",
                                 x_label="Compliance (%)", empty="No criteria")


def _pct(share):
    return None if share is None else share * 100


def _stages(audit):
    dates = {AuditStage.PLAN: audit.planned_on, **{stage: getattr(audit, name) for stage, name in cycle.DATE_OF.items()}}
    here = cycle.ORDER.index(audit.stage)
    return [{"stage": stage, "date": dates[stage], "reached": i <= here, "current": i == here}
            for i, stage in enumerate(cycle.ORDER)]


def _measure_chart(user, audit):
    measure = audit.tool.measure
    if measure is None or audit.unit is None or not permissions.can(user, "measures.view", audit.unit):
        return None
    drawn = measures.chart_for(measure, unit=audit.unit)
    return drawn.chart if drawn.points else None


def _context(request, audit, **extra):
    found = results.audit_results(audit)
    done, sampled = cycle.cases_answered(audit)
    here = cycle.ORDER.index(audit.stage)
    return {
        "audit": audit, "results": found, "chart": compliance_chart(found),
        "comparison": results.compare_with_previous(audit, found), "stages": _stages(audit),
        "next_stage": cycle.ORDER[here + 1] if here + 1 < len(cycle.ORDER) else None,
        "answered": done, "sampled": sampled, "actions": results.audit_actions(request.user, audit),
        "may_run": permissions.can(request.user, "improvement.run_audit", audit),
        "is_lead": request.user.pk == audit.lead_id, "measure_chart": _measure_chart(request.user, audit),
        "re_audit": audit.re_audits.order_by("pk").first(), "finding_stages": results.FINDING_STAGES,
        "sent_stages": results.SENT_STAGES, **extra,
    }


# --- pages ----------------------------------------------------------------------------------------

@requires("improvement.use_audits")
def audit_results(request, pk):
    audit = audits.access_audit(request.user, pk)
    return render(request, "improvement/audit_results.html", _context(request, audit))


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
        return render(request, "improvement/audit_results.html", _context(
            request, audit, stage_errors=error.messages, stage_form=form), status=409 if hasattr(error, "by") else 400)
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
    context = _context(request, audit)
    context["printed_at"] = timezone.now()
    pdf = render_template_pdf("improvement/audit_report_pdf.html", context)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="audit-{audit.reference}.pdf"'
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
