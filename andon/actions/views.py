"""Action pages: list, create, detail (status, decision, effectiveness), edit. Thin: parse, ask, render."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from andon.platform import concurrency, history, notifications, permissions
from andon.platform.permissions import requires

from . import services
from .forms import ActionForm, DecisionForm, EffectivenessForm, FilterForm, StatusForm, add_errors
from .models import OPEN_STATUSES, Status


@requires("actions.use")
def action_list(request):
    today = timezone.localdate()
    form = FilterForm(request.GET or None)
    actions = services.visible_actions(request.user)
    if form.is_valid():
        data = form.cleaned_data
        if data["status"] == "open":
            actions = actions.filter(status__in=OPEN_STATUSES)
        elif data["status"]:
            actions = actions.filter(status=data["status"])
        if data["strength"]:
            actions = actions.filter(strength=data["strength"])
        if data["overdue"]:
            actions = services.overdue(actions, today)
        if data["mine"]:
            actions = actions.filter(owner=request.user)
    page = Paginator(actions.order_by("due_date", "pk"), 50).get_page(request.GET.get("page"))
    return render(request, "actions/list.html", {
        "form": form, "page": page, "today": today,
        "may_create": permissions.units_where(request.user, "actions.manage").exists(),
    })


@requires("actions.manage")
def action_new(request):
    form = ActionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            action = services.create_action(request.user, **form.service_fields())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, "The action is recorded and awaits a decision.")
            return redirect("actions:detail", pk=action.pk)
    return render(request, "actions/form.html", {"form": form, "action": None})


@requires("actions.use")
def action_detail(request, pk):
    action = services.access_action(request.user, pk)
    notifications.mark_read(request.user, request.path)  # "Action assigned to you" is read
    return render(request, "actions/detail.html", _detail_context(request, action))


def _detail_context(request, action, **forms):
    user = request.user
    may_set_status = permissions.can(user, "actions.set_status", action)
    may_manage = permissions.can(user, "actions.manage", action)
    version = {"version": action.version}  # each form carries the version it was read at
    status_form = forms.get("status_form") or StatusForm(action=action, may_govern=may_manage, initial=version)
    return {
        "action": action,
        "today": timezone.localdate(),
        "is_overdue": action.is_overdue(),
        "may_edit": may_manage,
        "may_set_status": may_set_status and bool(status_form.fields["status"].choices),
        "may_decide": permissions.can(user, "actions.approve", action) and action.status != Status.CANCELLED,
        "may_record_effectiveness": may_manage and action.status == Status.DONE,
        "status_form": status_form,
        "decision_form": forms.get("decision_form") or DecisionForm(initial=version),
        "effectiveness_form": forms.get("effectiveness_form") or EffectivenessForm(
            initial={"checked_on": timezone.localdate(), **version}),
        "history": history.history_of(action) if permissions.can(user, "actions.view", action) else [],
    }


@requires("actions.manage")
def action_edit(request, pk):
    action = services.access_action(request.user, pk, "actions.manage")
    initial = {name: getattr(action, name) for name in ("title", "description", "unit", "owner", "due_date", "strength",
                                                        "measure", "version")}
    form = ActionForm(request.POST or None, user=request.user, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.update_action(request.user, action, form.cleaned_data["version"], **form.service_fields())
        except ValidationError as error:
            status = _refused(request, form, error, action)
        else:
            messages.success(request, "The action is saved.")
            return redirect("actions:detail", pk=action.pk)
    return render(request, "actions/form.html", {"form": form, "action": action}, status=status)


def _refused(request, form, error, action) -> int:
    """Show a service's refusal; the status to answer with (409: changed since the page was read)."""
    action.refresh_from_db()
    return concurrency.refused_on_page(request, form, error, action, add_errors)


@require_POST
@requires("actions.use")
def action_status(request, pk):
    action = services.access_action(request.user, pk, "actions.set_status")
    form = StatusForm(request.POST, action=action, may_govern=permissions.can(request.user, "actions.manage", action))
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.set_status(request.user, action, data["status"], data["note"], data["version"])
        except ValidationError as error:
            status = _refused(request, form, error, action)
        else:
            messages.success(request, f"The action is now {action.get_status_display().lower()}.")
            return redirect("actions:detail", pk=action.pk)
    return render(request, "actions/detail.html", _detail_context(request, action, status_form=form), status=status)


@require_POST
@requires("actions.approve")
def action_decision(request, pk):
    action = services.access_action(request.user, pk, "actions.approve")
    form = DecisionForm(request.POST)
    status = 400
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approved"
        try:
            services.decide(request.user, action, approve, form.cleaned_data["reason"], form.cleaned_data["version"])
        except ValidationError as error:
            status = _refused(request, form, error, action)
        else:
            messages.success(request, "The action is approved." if approve else "The action is rejected.")
            return redirect("actions:detail", pk=action.pk)
    return render(request, "actions/detail.html", _detail_context(request, action, decision_form=form), status=status)


@require_POST
@requires("actions.manage")
def action_effectiveness(request, pk):
    action = services.access_action(request.user, pk, "actions.manage")
    form = EffectivenessForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.record_effectiveness(request.user, action, data["result"], data["note"], data["checked_on"],
                                          data["version"])
        except ValidationError as error:
            status = _refused(request, form, error, action)
        else:
            messages.success(request, "The effectiveness check is recorded.")
            return redirect("actions:detail", pk=action.pk)
    return render(request, "actions/detail.html", _detail_context(request, action, effectiveness_form=form),
                  status=status)
