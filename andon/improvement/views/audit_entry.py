"""Pages of clinical audits: data entry on a phone. The auditor's cases to do, then one case at a
time: each active criterion as three large choices (Met, Not met, Not applicable) with a note and
the criterion's guidance a tap away, "Save and next". Works without JavaScript. Thin."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from andon.platform import notifications
from andon.platform.permissions import requires

from .. import audits, entry
from ..models import Answer, AuditCase, AuditRound, AuditStage


@requires("improvement.use_audits")
def entry_list(request, pk):
    """The auditor's cases of one audit, those left to answer first."""
    found = audits.access_audit(request.user, pk, "improvement.answer_audit")
    notifications.mark_read(request.user, request.path)
    todo = entry.cases_to_do(request.user, found)
    return render(request, "improvement/audit_entry_list.html", {
        "audit": found, "todo": sorted(todo, key=lambda t: (t.done, t.case.position, t.round)),
        "left": sum(1 for t in todo if not t.done), "collecting": found.stage == AuditStage.COLLECT})


def _rows(found, answers: dict, posted=None) -> list[dict]:
    """Each active criterion with the answer shown: the one posted (after a refusal) or stored."""
    rows = []
    for criterion in found.tool.criteria.filter(active=True).order_by("number"):
        if posted is not None:
            chosen, note = posted.get(f"c{criterion.pk}", ""), posted.get(f"n{criterion.pk}", "")
        else:
            stored = answers.get(criterion.pk)
            chosen, note = (stored.answer, stored.note) if stored else ("", "")
        rows.append({"criterion": criterion, "chosen": chosen, "note": note})
    return rows


def _next_case(request, found, case, round_) -> str:
    """The next of the auditor's cases still to answer after this one, else their list."""
    todo = [t for t in entry.cases_to_do(request.user, found) if not t.done and (t.case.pk, t.round) != (case.pk, round_)]
    later = [t for t in todo if t.case.position > case.position] or todo
    if later:
        return reverse("improvement:audit_entry_case", args=[found.pk, later[0].case.pk]) + f"?round={later[0].round}"
    return reverse("improvement:audit_entry", args=[found.pk])


@requires("improvement.use_audits")
def entry_case(request, pk, case_pk):
    found = audits.access_audit(request.user, pk, "improvement.answer_audit")
    case = get_object_or_404(AuditCase, pk=case_pk, audit=found)
    round_ = (request.POST if request.method == "POST" else request.GET).get("round") or AuditRound.FIRST
    if round_ not in AuditRound.values:
        round_ = AuditRound.FIRST
    stored = entry.answers_of(request.user, found, case, round_)  # the blind round is refused here (403)
    problems, status, posted = {}, 200, None
    if request.method == "POST":
        posted = request.POST
        answers = [{"criterion": row["criterion"].pk, "answer": posted.get(f"c{row['criterion'].pk}", ""),
                    "note": posted.get(f"n{row['criterion'].pk}", "")} for row in _rows(found, stored)
                   if posted.get(f"c{row['criterion'].pk}")]
        try:
            entry.record_answers(request.user, found, case, answers, round_)
        except ValidationError as error:
            problems, status = error.message_dict, 400
        else:
            messages.success(request, f"Case {case.position} is saved.")
            return redirect(_next_case(request, found, case, round_))
    return render(request, "improvement/audit_entry_case.html", {
        "audit": found, "case": case, "round": round_, "rows": _rows(found, stored, posted),
        "choices": Answer.choices, "problems": problems, "open": found.stage == AuditStage.COLLECT,
        "problem_list": [text for texts in problems.values() for text in texts],
    }, status=status)


urlpatterns = [
    path("improvement/audits/<int:pk>/entry/", entry_list, name="audit_entry"),
    path("improvement/audits/<int:pk>/entry/<int:case_pk>/", entry_case, name="audit_entry_case"),
]
