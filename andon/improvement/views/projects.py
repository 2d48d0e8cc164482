"""QI project pages: chartering and editing a project, its page (the charter, the measure's control
chart with the aim line and progress, the driver diagram edited in place, the PDSA cycles), a PDSA
cycle's page with its stages, and the portfolio. Thin: parse, call one service, render."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from andon.platform import charts, concurrency, history, inputs, permissions
from andon.platform.forms import people_search
from andon.platform.permissions import requires

from .. import services as service
from ..models import DriverKind, PdsaCycle
from .project_forms import (
    PEOPLE, ActForm, CharterForm, DoForm, DriverForm, FilterForm, MoveForm, PlanForm, RemoveForm, RenameForm,
    RequiredForm, SettingsForm, StatusForm, StudyForm, add_errors, charter_initial,
)


def _saved(request, form, record, act, done: str, again, to: str):
    """Run `act(cleaned data)` for a valid form: a message and a redirect to `to`; else the page
    again (`again(form, status)`) with the refusal on the form (409 when the record moved on)."""
    if not form.is_valid():
        return again(form, 400)
    try:
        act(form.cleaned_data)
    except ValidationError as error:
        status = concurrency.refused_on_page(request, form, error, record, add_errors) if record else 400
        if not record:
            add_errors(form, error)
        return again(form, status)
    messages.success(request, done)
    return redirect(to)


# --- chartering ---------------------------------------------------------------------------------

def _charter_form(request, data=None, project=None):
    organisation = project.organisation if project else service.organisation_for(request.user)
    places = service.places_to_charter(request.user)
    if project is not None and service.place_code(project) not in dict(places):
        places = [(service.place_code(project), str(project.unit or project.facility or project.organisation)), *places]
    key = (data or request.GET).get("measure") or (project.measure.key if project else "")
    url = reverse("improvement:project_edit", args=[project.pk]) if project else reverse("improvement:charter")
    return CharterForm(data, places=places, organisation=organisation, hint=service.baseline_hint(key), page_url=url,
                       initial=charter_initial(project) if project else {})


@requires("improvement.charter")
def charter(request):
    """A new project: its charter, with the chosen measure's current level offered as the baseline."""
    form = _charter_form(request, request.POST or None)

    def again(form, status):
        return render(request, "improvement/project_charter.html", {"form": form, "project": None}, status=status)

    if request.method != "POST":
        return again(form, 200)
    if form.is_valid():
        try:
            project = service.charter_project(request.user, **form.values())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"{project.reference} is chartered.")
            return redirect("improvement:project", pk=project.pk)
    return again(form, 400)


@requires("improvement.use_projects")
def project_people(request, field):
    """The charter's people pickers (htmx): the organisation's staff, as the form accepts them."""
    if field not in PEOPLE:
        raise Http404("No such field.")
    return people_search(request, _charter_form(request)[field])


@requires("improvement.use_projects")
def edit(request, pk):
    project = service.access_project(request.user, pk, "improvement.work_on_project")
    form = _charter_form(request, request.POST or None, project)

    def again(form, status):
        return render(request, "improvement/project_charter.html", {"form": form, "project": project}, status=status)

    if request.method != "POST":
        return again(form, 200)
    return _saved(request, form, project, lambda data: service.edit_project(
        request.user, project, ver=data["version"], **form.values()), f"{project.reference} is changed.", again,
        reverse("improvement:project", args=[project.pk]))


@require_POST
@requires("improvement.use_projects")
def status(request, pk):
    project = service.access_project(request.user, pk, "improvement.work_on_project")
    form = StatusForm(request.POST)
    return _saved(request, form, project, lambda data: service.set_status(
        request.user, project, data["status"], data["version"]), "The status is changed.",
        lambda form, code: _project_page(request, project, code, status_form=form),
        reverse("improvement:project", args=[project.pk]))


# --- the project's page -------------------------------------------------------------------------

def _kit_nodes(tree):
    return [charts.DriverNode(item["node"].kind, item["node"].text, tuple(_kit_nodes(item["children"])))
            for item in tree]


def _flat(tree, depth=0):
    for item in tree:
        yield item["node"], depth
        yield from _flat(item["children"], depth + 1)


def _project_page(request, project, code=200, **forms):
    user = request.user
    tree = service.drivers_of(project)
    nodes = list(_flat(tree))
    cycles = {}
    for cycle in PdsaCycle.objects.filter(change__project=project).order_by("change", "number"):
        cycles.setdefault(cycle.change_id, []).append(cycle)
    chosen = inputs.record_id(request.GET.get("node"))
    context = {
        "project": project, "progress": service.progress(project),
        "diagram": charts.driver_diagram(project.aim, _kit_nodes(tree), title=f"{project.reference}: driver diagram"),
        "nodes": [(node, depth, cycles.get(node.pk, [])) for node, depth in nodes],
        "may_work": permissions.can(user, "improvement.work_on_project", project),
        "status_form": forms.get("status_form") or StatusForm(initial={"status": project.status,
                                                                      "version": project.version}),
        "driver_form": forms.get("driver_form") or DriverForm(initial={"kind": DriverKind.PRIMARY}),
        "chosen": next((node for node, _ in nodes if node.pk == chosen), None),
        "node_form": forms.get("node_form"),
        "history": history.history_of(project),
        "team": list(project.team.all()), "scope_units": list(project.scope_units.all()),
        "reasons": [words for name, words in service.REASONS.items() if getattr(project, name)],
    }
    return render(request, "improvement/project_detail.html", context, status=code)


@requires("improvement.use_projects")
def project(request, pk):
    return _project_page(request, service.access_project(request.user, pk))


# --- the driver diagram -------------------------------------------------------------------------

@require_POST
@requires("improvement.use_projects")
def driver_add(request, pk):
    project = service.access_project(request.user, pk, "improvement.work_on_project")
    form = DriverForm(request.POST)

    def act(data):
        parent = service.access_driver(request.user, data["parent"]) if data.get("parent") else None
        service.add_driver(request.user, project, kind=data["kind"], text=data["text"], parent=parent)

    return _saved(request, form, None, act, "The diagram is changed.",
                  lambda form, code: _project_page(request, project, code, driver_form=form),
                  reverse("improvement:project", args=[project.pk]) + "#diagram")


@requires("improvement.use_projects")
def driver_form(request, pk):
    """A node's forms (rename, move, remove, add under it), asked for by its Edit (htmx); without
    JavaScript the same link opens the project's page with them."""
    driver = service.access_driver(request.user, pk)
    if request.headers.get("HX-Request") != "true":
        return redirect(reverse("improvement:project", args=[driver.project_id]) + f"?node={driver.pk}#node-{driver.pk}")
    return render(request, "improvement/_project_node_form.html", {"node": driver, "project": driver.project})


def _node_action(request, pk, form_class, act, done):
    driver = service.access_driver(request.user, pk)
    form = form_class(request.POST)
    return _saved(request, form, None, lambda data: act(driver, data), done,
                  lambda form, code: _project_page(request, driver.project, code, node_form=form),
                  reverse("improvement:project", args=[driver.project_id]) + "#diagram")


@require_POST
@requires("improvement.use_projects")
def driver_rename(request, pk):
    return _node_action(request, pk, RenameForm, lambda driver, data: service.rename_driver(
        request.user, driver, data["text"]), "The node is renamed.")


@require_POST
@requires("improvement.use_projects")
def driver_move(request, pk):
    return _node_action(request, pk, MoveForm, lambda driver, data: service.move_driver(
        request.user, driver, data["direction"]), "The node is moved.")


@require_POST
@requires("improvement.use_projects")
def driver_remove(request, pk):
    return _node_action(request, pk, RemoveForm, lambda driver, data: service.remove_driver(
        request.user, driver), "The node is removed.")


# --- PDSA cycles --------------------------------------------------------------------------------

@requires("improvement.use_projects")
def cycle_new(request, pk):
    change = service.access_driver(request.user, pk)
    form = PlanForm(request.POST or None)

    def again(form, status):
        return render(request, "improvement/project_cycle.html", {"change": change, "project": change.project,
                                                                  "cycle": None, "plan_form": form}, status=status)

    if request.method != "POST":
        return again(form, 200)
    if form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("version", None)
        try:
            cycle = service.plan_cycle(request.user, change, **data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"PDSA {cycle.number} is planned.")
            return redirect("improvement:cycle", pk=cycle.pk)
    return again(form, 400)


def _cycle_page(request, cycle, code=200, **forms):
    values = {name: getattr(cycle, name) for name in (
        "title", "plan", "prediction", "planned_start", "planned_end", "number", "started_on", "do_notes",
        "ended_on", "study", "decision", "decided_on", "act_notes", "rebase", "version")}
    project = cycle.change.project
    return render(request, "improvement/project_cycle.html", {
        "cycle": cycle, "change": cycle.change, "project": project,
        "may_work": permissions.can(request.user, "improvement.work_on_project", project),
        "plan_form": forms.get("plan_form") or PlanForm(initial=values),
        "do_form": forms.get("do_form") or DoForm(initial=values),
        "study_form": forms.get("study_form") or StudyForm(initial=values),
        "act_form": forms.get("act_form") or ActForm(initial=values),
        "remove_form": RemoveForm(initial=values), "history": history.history_of(cycle),
    }, status=code)


@requires("improvement.use_projects")
def cycle(request, pk):
    return _cycle_page(request, service.access_cycle(request.user, pk))


def _stage(request, pk, form_class, name, act, done):
    found = service.access_cycle(request.user, pk, "improvement.work_on_project")
    form = form_class(request.POST)
    return _saved(request, form, found, lambda data: act(found, data), done,
                  lambda form, code: _cycle_page(request, found, code, **{name: form}),
                  reverse("improvement:cycle", args=[found.pk]))


@require_POST
@requires("improvement.use_projects")
def cycle_plan(request, pk):
    return _stage(request, pk, PlanForm, "plan_form", lambda c, data: service.edit_cycle(
        request.user, c, ver=data["version"], **{k: v for k, v in data.items() if k not in ("version", "number")}),
        "The plan is changed.")


@require_POST
@requires("improvement.use_projects")
def cycle_do(request, pk):
    return _stage(request, pk, DoForm, "do_form", lambda c, data: service.start_cycle(
        request.user, c, started_on=data["started_on"], do_notes=data["do_notes"], ver=data["version"]),
        "The Do is recorded: its start is on the chart.")


@require_POST
@requires("improvement.use_projects")
def cycle_study(request, pk):
    return _stage(request, pk, StudyForm, "study_form", lambda c, data: service.study_cycle(
        request.user, c, ended_on=data["ended_on"], study=data["study"], ver=data["version"]),
        "The Study is recorded.")


@require_POST
@requires("improvement.use_projects")
def cycle_act(request, pk):
    return _stage(request, pk, ActForm, "act_form", lambda c, data: service.act_on_cycle(
        request.user, c, decision=data["decision"], decided_on=data["decided_on"], act_notes=data["act_notes"],
        rebase=data["rebase"], ver=data["version"]), "The decision is recorded: it is on the chart.")


@require_POST
@requires("improvement.use_projects")
def cycle_remove(request, pk):
    found = service.access_cycle(request.user, pk, "improvement.work_on_project")
    form = RemoveForm(request.POST)
    return _saved(request, form, found, lambda data: service.remove_cycle(request.user, found, data["version"]),
                  f"PDSA {found.number} is removed, with its marks on the chart.",
                  lambda form, code: _cycle_page(request, found, code),
                  reverse("improvement:project", args=[found.change.project_id]))


# --- the portfolio ------------------------------------------------------------------------------

def _portfolio_page(request, code=200, **forms):
    user = request.user
    organisation = service.organisation_for(user)
    # Its own ids: the governing body's form on the same page has a year too.
    filters = FilterForm(request.GET or None, organisation=organisation, auto_id="filter_%s")
    found = service.portfolio(user, filters.filters())
    settings = service.portfolio_settings(organisation)
    may_configure = permissions.can(user, "improvement.configure", organisation)
    required = found["required"]
    return render(request, "improvement/portfolio.html", {
        **found, "filters": filters, "may_configure": may_configure,
        "may_charter": permissions.can(user, "improvement.charter"),
        "required_form": forms.get("required_form") or RequiredForm(initial={
            "year": found["year"], "count": required.count if required else None,
            "decided_by": required.decided_by if required else ""}),
        "settings_form": forms.get("settings_form") or SettingsForm(initial={
            "cost_per_harm_event": settings.cost_per_harm_event, "cost_per_excess_day": settings.cost_per_excess_day,
            "currency": settings.currency, "version": settings.version if settings.pk else None}),
    }, status=code)


@requires("improvement.use_projects")
def portfolio(request):
    return _portfolio_page(request)


@require_POST
@requires("improvement.configure")
def portfolio_required(request):
    form = RequiredForm(request.POST)
    organisation = service.organisation_for(request.user)
    return _saved(request, form, None, lambda data: service.set_projects_required(
        request.user, organisation, **data), "The number of projects asked for is recorded.",
        lambda form, code: _portfolio_page(request, code, required_form=form), reverse("improvement:portfolio"))


@require_POST
@requires("improvement.configure")
def portfolio_settings(request):
    form = SettingsForm(request.POST)
    organisation = service.organisation_for(request.user)
    record = service.portfolio_settings(organisation)
    return _saved(request, form, record if record.pk else None, lambda data: service.set_portfolio_settings(
        request.user, organisation, cost_per_harm_event=data["cost_per_harm_event"],
        cost_per_excess_day=data["cost_per_excess_day"], currency=data["currency"], ver=data["version"]),
        "The unit costs are saved.", lambda form, code: _portfolio_page(request, code, settings_form=form),
        reverse("improvement:portfolio"))


urlpatterns = [
    path("improvement/", portfolio, name="portfolio"),
    path("improvement/portfolio/required/", portfolio_required, name="portfolio_required"),
    path("improvement/portfolio/settings/", portfolio_settings, name="portfolio_settings"),
    path("improvement/projects/new/", charter, name="charter"),
    path("improvement/projects/people/<str:field>/", project_people, name="project_people"),
    path("improvement/projects/<int:pk>/", project, name="project"),
    path("improvement/projects/<int:pk>/edit/", edit, name="project_edit"),
    path("improvement/projects/<int:pk>/status/", status, name="project_status"),
    path("improvement/projects/<int:pk>/drivers/", driver_add, name="driver_add"),
    path("improvement/drivers/<int:pk>/", driver_form, name="driver_form"),
    path("improvement/drivers/<int:pk>/rename/", driver_rename, name="driver_rename"),
    path("improvement/drivers/<int:pk>/move/", driver_move, name="driver_move"),
    path("improvement/drivers/<int:pk>/remove/", driver_remove, name="driver_remove"),
    path("improvement/drivers/<int:pk>/cycles/new/", cycle_new, name="cycle_new"),
    path("improvement/cycles/<int:pk>/", cycle, name="cycle"),
    path("improvement/cycles/<int:pk>/plan/", cycle_plan, name="cycle_plan"),
    path("improvement/cycles/<int:pk>/do/", cycle_do, name="cycle_do"),
    path("improvement/cycles/<int:pk>/study/", cycle_study, name="cycle_study"),
    path("improvement/cycles/<int:pk>/act/", cycle_act, name="cycle_act"),
    path("improvement/cycles/<int:pk>/remove/", cycle_remove, name="cycle_remove"),
]
