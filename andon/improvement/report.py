"""Clinical audits: what the results page and the audit report show, built once for the page, the
PDF and the API's PDF (the same report whichever door asks): the compliance chart, the cycle's
stages with their dates, the measure's chart, and the report rendered as a PDF."""

from django.utils import timezone

from andon.measures import services as measures
from andon.platform import charts, permissions
from andon.platform.pdf import render_template_pdf

from . import cycle, results
from .models import Audit, AuditStage

__all__ = ["compliance_chart", "report_filename", "report_pdf", "results_context"]

STATUS = {"meets": "improvement", "below": "concern", "cannot_tell": "common", "no_cases": "common"}


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


def _stages(audit: Audit):
    dates = {AuditStage.PLAN: audit.planned_on, **{stage: getattr(audit, name) for stage, name in cycle.DATE_OF.items()}}
    here = cycle.ORDER.index(audit.stage)
    return [{"stage": stage, "date": dates[stage], "reached": i <= here, "current": i == here}
            for i, stage in enumerate(cycle.ORDER)]


def _measure_chart(user, audit: Audit):
    measure = audit.tool.measure
    if measure is None or audit.unit is None or not permissions.can(user, "measures.view", audit.unit):
        return None
    drawn = measures.chart_for(measure, unit=audit.unit)
    return drawn.chart if drawn.points else None


def results_context(user, audit: Audit, **extra) -> dict:
    """What the results page and the report show of an audit `user` may read."""
    found = results.audit_results(audit)
    done, sampled = cycle.cases_answered(audit)
    here = cycle.ORDER.index(audit.stage)
    return {
        "audit": audit, "results": found, "chart": compliance_chart(found),
        "comparison": results.compare_with_previous(audit, found), "stages": _stages(audit),
        "next_stage": cycle.ORDER[here + 1] if here + 1 < len(cycle.ORDER) else None,
        "answered": done, "sampled": sampled, "actions": results.audit_actions(user, audit),
        "may_run": permissions.can(user, "improvement.run_audit", audit),
        "is_lead": user.pk == audit.lead_id, "measure_chart": _measure_chart(user, audit),
        "re_audit": audit.re_audits.order_by("pk").first(), "finding_stages": results.FINDING_STAGES,
        "sent_stages": results.SENT_STAGES, **extra,
    }


def report_pdf(user, audit: Audit) -> bytes:
    """The audit report as a PDF, with its charts (the caller has checked view_audit)."""
    permissions.check(user, "improvement.view_audit", audit)
    return render_template_pdf("improvement/audit_report_pdf.html",
                               results_context(user, audit, printed_at=timezone.now()))


def report_filename(audit: Audit) -> str:
    return f"audit-{audit.reference}.pdf"
