"""Risk pages: one risk: its page, raising (also from an RCA's root cause), re-scoring,
escalation, controls and links."""

from django.shortcuts import render
from django.urls import path

from andon.platform import history
from andon.platform.permissions import requires

from .. import register as service


@requires("risk.use_register")
def risk_page(request, pk):
    """A risk as its owner and the risk manager read it: the statement, the three scores with
    their bands, where it is managed and whether it asks to go higher, its controls."""
    risk = service.access_risk(request.user, pk)
    matrix = service.matrix_of(risk.organisation)
    return render(request, "risk/risk_detail.html", {
        "risk": risk, "asks_escalation": service.asks_escalation(risk, matrix),
        "tolerance": matrix.tolerance(risk.level), "scores": _scores(risk, matrix),
        "controls": risk.controls.filter(retired_at=None).select_related("owner"),
        "history": history.history_of(risk),
    })


def _scores(risk, matrix) -> list[dict]:
    rows = []
    for name, label in (("inherent", "Inherent (before controls)"), ("current", "Current"), ("target", "Target")):
        c, lk, score = (getattr(risk, f"{name}_{part}") for part in ("consequence", "likelihood", "score"))
        band = matrix.band(score)
        rows.append({"label": label, "consequence": f"{c} {matrix.consequence_label(c)}",
                     "likelihood": f"{lk} {matrix.likelihood_label(lk)}", "score": score, "band": band.name,
                     "colour": band.colour})
    return rows


urlpatterns = [
    path("risk/risks/<int:pk>/", risk_page, name="risk"),
]
