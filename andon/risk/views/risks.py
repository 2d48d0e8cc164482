"""Risk pages: one risk: its page, raising (also from an RCA's root cause), re-scoring,
escalation, controls, actions and links. Thin: parse, call one service, render."""

from functools import partial

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, inputs, permissions
from andon.platform.forms import add_errors as add_form_errors
from andon.platform.forms import people_search
from andon.platform.permissions import requires

from .. import services as service
from ..models import Level, RiskStatus
from .risk_forms import (
    ActionForm, CloseForm, ControlForm, EscalateForm, LinkForm, RaiseForm, RescoreForm, RetireForm, control_form,
    raise_owner_search, scores_of,
)

# raise_risk names the place by the field it would have set.
PLACE_FIELDS = {"unit": "place", "facility": "place", "organisation": "place"}
add_errors = partial(add_form_errors, renamed=PLACE_FIELDS)


# --- raising ------------------------------------------------------------------------------------

@requires("risk.raise")
def raise_page(request):
    """A new risk, with its three scores; `?root_cause=<id>` starts from an RCA's root cause (the
    form comes filled, and the risk is linked to the root cause, its analysis and event)."""
    user, places = request.user, service.places_to_raise(request.user)
    root_cause = (request.POST or request.GET).get("root_cause", "")
    draft = service.root_cause_draft(user, root_cause) if root_cause else None
    organisation = _organisation(places)
    matrix = service.matrix_of(organisation)
    form = RaiseForm(request.POST or None, matrix=matrix, places=places, organisation=organisation,
                     initial=_draft_initial(draft))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                risk = _raise(user, form, root_cause)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, f"{risk.reference} is raised.")
                return redirect("risk:risk", pk=risk.pk)
    return render(request, "risk/risk_raise.html", {"form": form, "matrix": matrix, "draft": draft}, status=status)


def _organisation(places):
    """The organisation whose matrix scores the new risk (the user's, through their first place)."""
    if not places:  # a grant with no active unit under it: nowhere to raise a risk
        raise permissions.Refused("risk.raise")
    found = service.place_from_code(places[0][0])
    return found["organisation"] or (found["facility"] or found["unit"].facility).organisation


def _draft_initial(draft) -> dict:
    if draft is None:
        return {}
    return {"title": draft["title"], "cause": draft["cause"], "root_cause": draft["root_cause"].id,
            "place": service.place_code(unit=draft["unit"])}


def _raise(user, form, root_cause):
    data = form.cleaned_data
    fields = {name: data[name] for name in ("title", "cause", "event", "effect", "category", "owner", "review_on")}
    fields.update(service.place_from_code(data["place"]), scores=form.scores())
    if root_cause:
        return service.raise_from_root_cause(user, root_cause, **fields)
    return service.raise_risk(user, **fields)


@requires("risk.raise")
def raise_owners(request):
    """The raise form's owner picker (htmx): people who may read risks at the place chosen in the
    form (whom raise_risk takes as the owner there); 403 for a place the user may neither read
    nor raise risks at."""
    try:
        found = service.place_from_code(request.GET.get("place", ""))
    except ValidationError:
        return render(request, "risk/_risk_choose_place.html")
    place = found["unit"] or found["facility"] or found["organisation"]
    return people_search(request, raise_owner_search(service.owners_at(request.user, place)))


@requires("risk.use_register")
def new_control_owners(request, pk):
    """The new control's owner picker (htmx): the staff of the risk's organisation."""
    risk = service.access_risk(request.user, pk, "risk.edit_risk")
    return people_search(request, ControlForm(risk=risk, prefix="control")["owner"])


@requires("risk.use_register")
def control_owners(request, pk):
    """A control's owner picker (htmx), in the form that edits it."""
    return people_search(request, control_form(service.access_control(request.user, pk))["owner"])


@requires("risk.use_register")
def action_owners(request, pk):
    """The owner picker of an action for the risk (htmx): the staff of the risk's organisation."""
    risk = service.access_risk(request.user, pk, "risk.edit_risk")
    return people_search(request, ActionForm(risk=risk, prefix="action")["owner"])


# --- the risk's page ----------------------------------------------------------------------------

@requires("risk.use_register")
def risk_page(request, pk):
    """A risk as its owner and the risk manager read it: the statement, the three scores with
    their bands and trend, where it is managed and whether it asks to go higher, its controls,
    actions and links, and the forms of those who may change them."""
    risk = service.access_risk(request.user, pk)
    editing = inputs.record_id(request.GET.get("control"))  # a control's Edit without JavaScript
    return render(request, "risk/risk_detail.html", _context(request, risk, editing=editing))


@requires("risk.use_register")
def control_row(request, pk):
    """A control's row with its edit form, asked for by the row's Edit (htmx); without
    JavaScript the same link opens the risk's page with that control's form."""
    control = service.access_control(request.user, pk)
    if request.headers.get("HX-Request") != "true" or control.risk.status != RiskStatus.OPEN:
        return redirect(reverse("risk:risk", args=[control.risk_id]) + f"?control={control.pk}#control-{control.pk}")
    form = control_form(control)
    form["description"].field.widget.attrs["autofocus"] = True  # the Edit link that had the focus is gone
    return render(request, "risk/_risk_control.html", {"risk": control.risk, "control": control, "form": form,
                                                       "may_edit": True})


def _context(request, risk, editing=None, **bound) -> dict:
    user, matrix = request.user, service.matrix_of(risk.organisation)
    records = list(service.score_history(risk))
    is_open = risk.status == RiskStatus.OPEN
    may_edit = is_open and permissions.can(user, "risk.edit_risk", risk)
    controls = list(risk.controls.filter(retired_at=None).select_related("owner"))
    return {
        "risk": risk, "matrix": matrix, "asks_escalation": service.asks_escalation(risk, matrix),
        "tolerance": matrix.tolerance(risk.level), "scores": _scores(risk, matrix),
        "records": records, "trend": service.trend_chart(risk, records, matrix),
        "escalations": risk.escalations.select_related("by"), "links": service.links_shown(user, risk),
        "actions": service.risk_actions(risk, user), "history": history.history_of(risk),
        "may_edit": may_edit, "may_escalate": is_open and _may_escalate(user, risk),
        "may_close": is_open and permissions.can(user, "risk.manage", risk),
        "may_act": may_edit and permissions.can(user, "actions.manage",
                                                risk.unit or risk.facility or risk.organisation),
        "rescore_form": bound.get("rescore") or RescoreForm(
            matrix=matrix, prefix="score", initial={**scores_of(risk), "review_on": risk.review_on,
                                                    "version": risk.version}),
        "escalate_form": bound.get("escalate") or EscalateForm(risk=risk, prefix="move",
                                                               initial={"version": risk.version}),
        "close_form": bound.get("close") or CloseForm(prefix="close", initial={"version": risk.version}),
        "control_form": bound.get("control") or ControlForm(risk=risk, prefix="control"),
        # A control's edit form is drawn when asked for (its Edit) or when it comes back with
        # errors, never for every control with every page (docs/platform.md, "Lists draw no form").
        "controls": [(control, bound.get(f"control-{control.pk}")
                      or (control_form(control) if may_edit and control.pk == editing else None))
                     for control in controls],
        "action_form": bound.get("action") or ActionForm(risk=risk, prefix="action"),
        "link_form": bound.get("link") or (LinkForm(prefix="link", measures=service.measures_to_link())
                                           if may_edit else None),
    }


def _may_escalate(user, risk) -> bool:
    # The service's rule: the board assurance framework is leadership's; other moves the
    # escalating roles' or the risk manager's over the risk's place.
    return (permissions.can(user, "risk.escalate", risk.organisation) or permissions.can(user, "risk.escalate", risk)
            or (risk.level != Level.BOARD and permissions.can(user, "risk.manage", risk)))


def _scores(risk, matrix) -> list[dict]:
    rows = []
    for name, label in (("inherent", "Inherent (before controls)"), ("current", "Current"), ("target", "Target")):
        c, lk, score = (getattr(risk, f"{name}_{part}") for part in ("consequence", "likelihood", "score"))
        band = matrix.band(score)
        rows.append({"label": label, "consequence": f"{c} {matrix.consequence_label(c)}",
                     "likelihood": f"{lk} {matrix.likelihood_label(lk)}", "score": score, "band": band.name,
                     "colour": band.colour})
    return rows


def _submit(request, risk, name: str, form, act, done: str, record=None, section: str = ""):
    """Check `form`, `act` on its data, and go back to the risk's section; a refusal shows the
    page with the form's errors beside its fields (400), or a stale version's message above it
    with the record as it now is (409)."""
    status = 400
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except ValidationError as error:
            status = concurrency.refused_on_page(request, form, error, record or risk, add_errors)
            risk.refresh_from_db()
        else:
            messages.success(request, done)
            return redirect(reverse("risk:risk", args=[risk.pk]) + f"#{section or name}-heading")
    return render(request, "risk/risk_detail.html", _context(request, risk, **{name: form}), status=status)


@require_POST
@requires("risk.use_register")
def rescore(request, pk):
    risk = service.access_risk(request.user, pk, "risk.edit_risk")
    form = RescoreForm(request.POST, matrix=service.matrix_of(risk.organisation), prefix="score")
    return _submit(request, risk, "rescore", form, lambda data: service.rescore(
        request.user, risk, form.scores(), review_on=data["review_on"], note=data["note"], ver=data["version"]),
        "The review is recorded: the trend shows it.", section="trend")


@require_POST
@requires("risk.use_register")
def escalate(request, pk):
    risk = service.access_risk(request.user, pk)
    form = EscalateForm(request.POST, risk=risk, prefix="move")
    return _submit(request, risk, "escalate", form, lambda data: service.escalate(
        request.user, risk, data["to_level"], data["reason"], ver=data["version"]), "The risk has moved.")


@require_POST
@requires("risk.use_register")
def close(request, pk):
    risk = service.access_risk(request.user, pk, "risk.manage")
    form = CloseForm(request.POST, prefix="close")
    return _submit(request, risk, "close", form, lambda data: service.close_risk(
        request.user, risk, data["reason"], ver=data["version"]), "The risk is closed.")


@require_POST
@requires("risk.use_register")
def add_control(request, pk):
    risk = service.access_risk(request.user, pk, "risk.edit_risk")
    form = ControlForm(request.POST, risk=risk, prefix="control")
    return _submit(request, risk, "control", form, lambda data: service.add_control(
        request.user, risk, **form.values()), "The control is added.", section="controls")


@require_POST
@requires("risk.use_register")
def edit_control(request, pk):
    control = service.access_control(request.user, pk)
    form = control_form(control, request.POST)
    return _submit(request, control.risk, f"control-{control.pk}", form, lambda data: service.update_control(
        request.user, control, ver=data["version"], **form.values()), "The control is changed.", record=control,
        section="controls")


@require_POST
@requires("risk.use_register")
def retire_control(request, pk):
    control = service.access_control(request.user, pk)
    form = RetireForm(request.POST)
    return _submit(request, control.risk, "retire", form, lambda data: service.retire_control(
        request.user, control, ver=data["version"]), "The control is retired.", record=control, section="controls")


@require_POST
@requires("risk.use_register")
def open_action(request, pk):
    risk = service.access_risk(request.user, pk, "risk.edit_risk")
    form = ActionForm(request.POST, risk=risk, prefix="action")
    return _submit(request, risk, "action", form, lambda data: service.open_action_for_risk(
        request.user, risk, **form.values()), "The action is in the tracker.", section="actions")


@require_POST
@requires("risk.use_register")
def link(request, pk):
    risk = service.access_risk(request.user, pk, "risk.edit_risk")
    form = LinkForm(request.POST, prefix="link", measures=service.measures_to_link())
    return _submit(request, risk, "link", form, lambda data: _link(request.user, risk, data), "The link is added.",
                   section="links")


def _link(user, risk, data):
    try:
        return service.link_record(user, risk, data["kind"], data["key"], indicator=data["indicator"])
    except PermissionDenied:
        raise ValidationError({"key": "You may not open that record, so you cannot link it."}) from None


@require_POST
@requires("risk.use_register")
def unlink(request, pk):
    found = service.access_link(request.user, pk)
    try:
        service.unlink_record(request.user, found)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The link is removed.")
    return redirect(reverse("risk:risk", args=[found.risk_id]) + "#links-heading")


urlpatterns = [
    path("risk/risks/new/", raise_page, name="raise"),
    path("risk/risks/new/owners/", raise_owners, name="raise_owners"),
    path("risk/risks/<int:pk>/", risk_page, name="risk"),
    path("risk/risks/<int:pk>/rescore/", rescore, name="rescore"),
    path("risk/risks/<int:pk>/escalate/", escalate, name="escalate"),
    path("risk/risks/<int:pk>/close/", close, name="close"),
    path("risk/risks/<int:pk>/controls/", add_control, name="add_control"),
    path("risk/risks/<int:pk>/controls/owners/", new_control_owners, name="new_control_owners"),
    path("risk/controls/<int:pk>/", edit_control, name="edit_control"),
    path("risk/controls/<int:pk>/form/", control_row, name="control_row"),
    path("risk/controls/<int:pk>/owners/", control_owners, name="control_owners"),
    path("risk/controls/<int:pk>/retire/", retire_control, name="retire_control"),
    path("risk/risks/<int:pk>/actions/", open_action, name="open_action"),
    path("risk/risks/<int:pk>/actions/owners/", action_owners, name="action_owners"),
    path("risk/risks/<int:pk>/links/", link, name="link"),
    path("risk/links/<int:pk>/remove/", unlink, name="unlink"),
]
