"""QI projects: the charter (42 CFR 482.21(d): its rationale and a SMART aim on a measure of the
library), its status, and its driver diagram (aim → primary drivers → secondary drivers → change
ideas). PDSA cycles are in pdsa.py, progress and the portfolio in portfolio.py; this file is the
subject's door (its `__all__` names theirs too). docs/improvement.md, "QI projects"."""

import math
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from andon.measures import services as measures
from andon.platform import audit, inputs, permissions
from andon.platform.concurrency import lock
from andon.platform.models import Facility, Organisation, Sequence, Unit
from andon.platform.services import staff_of

from .models import Driver, DriverKind, Project, ProjectStatus
from .models.projects import Benefit, Domain
from .pdsa import *  # noqa: F401,F403 (the subject's door names the cycles' services too)
from .pdsa import __all__ as _pdsa_names
from .portfolio import *  # noqa: F401,F403
from .portfolio import __all__ as _portfolio_names

__all__ = [
    "access_driver", "access_project", "add_driver", "baseline_hint", "charter_project", "drivers_of", "edit_project",
    "measures_to_choose", "move_driver", "place_code", "place_from_code", "places_to_charter", "remove_driver",
    "rename_driver", "set_status", "staff_of", "visible_projects", *_pdsa_names, *_portfolio_names,
]

TEXT_LIMITS = {"title": 200, "problem": 4000, "rationale": 4000, "aim": 500}
REQUIRED_TEXTS = ("title", "problem", "aim")
DRIVER_TEXT = 300
# What each kind of node hangs under: primary drivers under the aim, secondary drivers under a
# primary one, change ideas under a secondary driver or straight under a primary one.
PARENTS = {DriverKind.PRIMARY: (), DriverKind.SECONDARY: (DriverKind.PRIMARY,),
           DriverKind.CHANGE: (DriverKind.SECONDARY, DriverKind.PRIMARY)}


# --- reading ------------------------------------------------------------------------------------

def visible_projects(user):
    """Projects the user may open: improvement.view over their place, and those they sponsor,
    lead or work on."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Project.objects.none()
    mine = Q(lead=user) | Q(sponsor=user) | Q(team=user)
    ids = Project.objects.filter(permissions.placed_where(user, "improvement.view") | mine).values("pk")
    return Project.objects.filter(pk__in=ids)


def access_project(user, project_id, capability: str = "improvement.view_project") -> Project:
    """The project, if the user may see it and `capability` it: Http404 when there is none,
    PermissionDenied when they may not."""
    project = permissions.fetch_checked(user, "improvement.view_project", Project.objects.select_related(
        "measure", "organisation", "facility", "unit__facility", "sponsor", "lead"), pk=project_id)
    if capability != "improvement.view_project":
        permissions.check(user, capability, project)
    return project


def access_driver(user, driver_id, capability: str = "improvement.work_on_project") -> Driver:
    """A node of a driver diagram, seen through its project (the rules take the project): Http404
    when there is none, PermissionDenied unless the user may see the project and `capability` it."""
    driver = get_object_or_404(Driver.objects.select_related("project__measure", "project__unit"), pk=driver_id)
    permissions.check(user, "improvement.view_project", driver.project)
    permissions.check(user, capability, driver.project)
    return driver


def measures_to_choose() -> list[tuple[str, str]]:
    """[(key, title)] of the library's measures, by domain and title: a project's aim is on one,
    chosen by its title (its key is in no page)."""
    return [(measure.key, measure.title) for measure in measures.listed_measures()]


def baseline_hint(measure_key: str) -> str:
    """Words offering the measure's current level (the centre line of its organisation-wide chart
    at the latest period) as the charter's baseline; "" for no measure or no results."""
    measure = measures.listed_measures().filter(key=str(measure_key or "")[:100]).first() if measure_key else None
    if measure is None:
        return ""
    drawn = measures.chart_for(measure)
    last = next((p for p in reversed(drawn.points) if p[3] is not None and p[4] is not None), None)
    if last is None:
        return f"{measure.title} has no results yet: give the baseline you measured."
    return (f"{measure.title} now: mean {last[4]:.3g} {measure.unit_label} ({drawn.place}, {last[0]:%b %Y}). "
            "In the measure's unit.")


# --- where a project sits -----------------------------------------------------------------------

_PLACES = {"o": ("organisation", Organisation), "f": ("facility", Facility), "u": ("unit", Unit)}


def place_code(project=None, *, unit=None, facility=None, organisation=None) -> str:
    """A place as forms name it: u<id>, f<id> or o<id>."""
    if project is not None:
        unit, facility, organisation = project.unit, project.facility, project.organisation
    for letter, record in (("u", unit), ("f", facility), ("o", organisation)):
        if record is not None:
            return f"{letter}{record.pk}"
    return ""


def place_from_code(code) -> dict:
    """{"unit", "facility", "organisation"} of a place code (the lower ones None); a code naming no
    place is a ValidationError on `place`."""
    text = str(code or "").strip()
    kind, model = _PLACES.get(text[:1], (None, None))
    pk = inputs.record_id(text[1:]) if kind else None
    found = model.objects.filter(pk=pk).first() if pk else None
    if found is None:
        raise ValidationError({"place": "Choose where the project sits: a unit, a facility or the organisation."})
    place = {"unit": None, "facility": None, "organisation": None, kind: found}
    if place["unit"] is not None:
        place["facility"] = place["unit"].facility
    if place["facility"] is not None:
        place["organisation"] = place["facility"].organisation
    return place


def places_to_charter(user) -> list[tuple[str, str]]:
    """[(code, label)] of where the user may charter a project: their organisations (a grant over
    the whole of one), facilities, then units by facility and tree."""
    units = permissions.units_where(user, "improvement.charter").filter(active=True).select_related("facility")
    facilities = Facility.objects.filter(pk__in=units.values("facility_id")).select_related("organisation")
    organisations = {facility.organisation for facility in facilities}
    return ([(place_code(organisation=o), f"{o.name} (whole organisation)") for o in organisations
             if permissions.can(user, "improvement.charter", o)]
            + [(place_code(facility=f), f"{f.name} (facility)") for f in facilities
               if permissions.can(user, "improvement.charter", f)]
            + [(place_code(unit=u), f"{u.facility.name} · {u.name}") for u in units.order_by("facility__name", "path")])


def _within(unit: Unit, place: dict) -> bool:
    if place["unit"] is not None:
        return unit.path.startswith(place["unit"].path)
    if place["facility"] is not None:
        return unit.facility_id == place["facility"].pk
    return unit.facility.organisation_id == place["organisation"].pk


# --- the charter --------------------------------------------------------------------------------

def _clean_texts(errors: dict, values: dict) -> dict:
    cleaned = {}
    for name, limit in TEXT_LIMITS.items():
        text = (values.get(name) or "").strip()
        if name in REQUIRED_TEXTS and not text:
            errors[name] = f"The {name} is needed."
        elif len(text) > limit:
            errors[name] = f"The {name} is {len(text)} characters long; keep it to {limit}."
        cleaned[name] = text
    return cleaned


def _clean_number(errors: dict, name: str, value):
    try:
        return inputs.finite(value)
    except (inputs.InputError, TypeError) as problem:
        errors[name] = f"The {name}: {problem}" if value is not None else f"Give the {name} in the measure's unit."
        return None


def _clean_day(errors: dict, name: str, value, words: str):
    if not isinstance(value, date):
        errors[name] = f"Give {words}."
        return None
    try:
        return inputs.day(value)
    except inputs.InputError as problem:
        errors[name] = str(problem)
        return None


def _clean_aim(errors: dict, measure, baseline, target) -> None:
    """The target is a change from the baseline in the measure's better direction, and a value the
    measure can take (a proportion within 0 and its multiplier)."""
    if measure is None or baseline is None or target is None:
        return
    if target == baseline:
        errors["target"] = "The target is the baseline: an aim is a change."
    elif measure.improvement == "decrease" and target > baseline:
        errors["target"] = f"Lower is better for {measure.title}: the target must be below the baseline ({baseline:g})."
    elif measure.improvement == "increase" and target < baseline:
        errors["target"] = f"Higher is better for {measure.title}: the target must be above the baseline ({baseline:g})."
    for name, value in (("baseline", baseline), ("target", target)):
        if value < 0 or (measure.scoring == "proportion" and value > measure.multiplier):
            top = f" to {measure.multiplier:g}" if measure.scoring == "proportion" else ""
            errors.setdefault(name, f"{value:g} is not a value of {measure.title} (0{top} {measure.unit_label}).")


def _clean_people(errors: dict, sponsor, lead, team, organisation) -> None:
    staff = set(staff_of([organisation.pk]).values_list("pk", flat=True)) if organisation else set()
    for name, person in (("sponsor", sponsor), ("lead", lead)):
        if person is None or person.pk not in staff:
            errors[name] = f"Choose the project's {name}: an active member of the organisation's staff."
    strangers = [p for p in team if p.pk not in staff]
    if strangers:
        errors["team"] = f"{strangers[0].get_full_name() or strangers[0].username} is not on the organisation's staff."


def _cleaned_charter(errors: dict, values: dict) -> dict:
    """The charter's fields checked together: every problem is named by its field."""
    cleaned = _clean_texts(errors, values)
    flags = {name: bool(values.get(name)) for name in ("high_risk", "high_volume", "problem_prone")}
    if not any(flags.values()):
        errors["high_risk"] = "Say why this project: high-risk, high-volume or problem-prone (one or more)."
    if values.get("domain") not in Domain.values:
        errors["domain"] = f"Choose one of the six aims: {', '.join(Domain.labels)}."
    key = str(values.get("measure_key") or "").strip()[:100]
    measure = measures.listed_measures().filter(key=key).first() if key else None
    if measure is None:
        errors["measure"] = "Choose the measure of the library the aim is on."
    baseline = _clean_number(errors, "baseline", values.get("baseline"))
    target = _clean_number(errors, "target", values.get("target"))
    _clean_aim(errors, measure, baseline, target)
    started_on = _clean_day(errors, "started_on", values.get("started_on") or timezone.localdate(), "the start date")
    aim_date = _clean_day(errors, "aim_date", values.get("aim_date"), "the date the aim is to be met by")
    if aim_date and started_on and aim_date <= started_on:
        errors["aim_date"] = f"The aim's date must come after the project starts ({started_on:%Y-%m-%d})."
    year = values.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2199:
        errors["year"] = "Give the QAPI year the project counts for (2000 to 2199)."
    if values.get("status", ProjectStatus.PROPOSED) not in ProjectStatus.values:
        errors["status"] = f"Choose one of: {', '.join(ProjectStatus.labels)}."
    if values.get("benefit", Benefit.HARM_EVENTS) not in Benefit.values:
        errors["benefit"] = f"Choose one of: {', '.join(Benefit.labels)}."
    unit_cost = values.get("unit_cost")
    if unit_cost is not None and (not math.isfinite(float(unit_cost)) or not 0 <= float(unit_cost) < 10**10):
        errors["unit_cost"] = "Give the cost of one event or day as a positive amount (or leave it empty)."
    return {**cleaned, **flags, "domain": values.get("domain"), "measure": measure, "baseline": baseline,
            "target": target, "aim_date": aim_date, "started_on": started_on, "year": year,
            "status": values.get("status", ProjectStatus.PROPOSED), "benefit": values.get("benefit", Benefit.HARM_EVENTS),
            "unit_cost": unit_cost}


def _check_place(errors: dict, place: dict, scope_units) -> None:
    outside = [u for u in scope_units if not _within(u, place)]
    if outside:
        errors["scope_units"] = f"{outside[0].name} is outside where the project sits."


@audit.changes_by_user
@transaction.atomic
def charter_project(user, *, place: str, sponsor, lead, team=(), scope_units=(), **values) -> Project:
    """A new project chartered at `place` (a place code; improvement.charter there), with the
    reference QI-<year>-NNN. `values`: title, problem, high_risk, high_volume, problem_prone,
    rationale, domain, measure_key, aim, baseline, target, aim_date, year, status, started_on,
    benefit, unit_cost."""
    errors: dict = {}
    try:
        where = place_from_code(place)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    permissions.check(user, "improvement.charter", where["unit"] or where["facility"] or where["organisation"])
    fields = _cleaned_charter(errors, values)
    team, scope_units = list(team), list(scope_units)
    _clean_people(errors, sponsor, lead, team, where["organisation"])
    _check_place(errors, where, scope_units)
    if errors:
        raise ValidationError(errors)
    number = Sequence.next(f"QI-{fields['year']}")
    project = Project.objects.create(reference=f"QI-{fields['year']}-{number:03d}", sponsor=sponsor, lead=lead,
                                     created_by=user, completed_on=_completed_on(fields["status"], None), **where,
                                     **fields)
    project.team.set(team)
    project.scope_units.set(scope_units)
    return project


def _completed_on(status: str, was: date | None) -> date | None:
    """A completed project keeps the day it was completed; another status has none."""
    return (was or timezone.localdate()) if status == ProjectStatus.COMPLETED else None


@audit.changes_by_user
@transaction.atomic
def edit_project(user, project: Project, *, ver: int | None = None, place: str, sponsor, lead, team=(),
                 scope_units=(), **values) -> Project:
    """The charter changed by its lead or team (or an improvement lead over its place); moving it
    elsewhere needs improvement.charter there. The status is changed here too (set_status)."""
    project = lock(project, ver)
    permissions.check(user, "improvement.work_on_project", project)
    errors: dict = {}
    where = place_from_code(place)
    if place_code(project) != place:
        permissions.check(user, "improvement.charter", where["unit"] or where["facility"] or where["organisation"])
    values.setdefault("year", project.year)
    values.setdefault("status", project.status)
    values.setdefault("started_on", project.started_on)
    fields = _cleaned_charter(errors, values)
    if fields["year"] != project.year:
        errors["year"] = f"The year is part of the reference {project.reference}: it cannot change."
    team, scope_units = list(team), list(scope_units)
    _clean_people(errors, sponsor, lead, team, where["organisation"])
    _check_place(errors, where, scope_units)
    if errors:
        raise ValidationError(errors)
    fields["completed_on"] = _completed_on(fields["status"], project.completed_on)
    for name, value in {**fields, **where, "sponsor": sponsor, "lead": lead}.items():
        setattr(project, name, value)
    project.save()
    project.team.set(team)
    project.scope_units.set(scope_units)
    return project


@audit.changes_by_user
@transaction.atomic
def set_status(user, project: Project, status: str, ver: int | None = None) -> Project:
    """Move the project along (proposed → active → sustaining → completed, or stopped); the trail
    keeps each change, and completing it keeps the day."""
    project = lock(project, ver)
    permissions.check(user, "improvement.work_on_project", project)
    if status not in ProjectStatus.values:
        raise ValidationError({"status": f"Choose one of: {', '.join(ProjectStatus.labels)}."})
    project.status = status
    project.completed_on = _completed_on(status, project.completed_on)
    project.save(update_fields=["status", "completed_on", "version"])
    return project


# --- the driver diagram -------------------------------------------------------------------------

def drivers_of(project: Project) -> list[dict]:
    """The diagram as a tree: [{"node", "children": [...]}] of the primary drivers in order."""
    nodes = list(project.drivers.order_by("position", "pk"))
    below: dict = {}
    for node in nodes:
        below.setdefault(node.parent_id, []).append(node)

    def tree(parent_id):
        return [{"node": node, "children": tree(node.pk)} for node in below.get(parent_id, [])]

    return tree(None)


def _clean_driver_text(text) -> str:
    text = " ".join(str(text or "").split())
    if not text:
        raise ValidationError({"text": "Say what the driver or change idea is."})
    if len(text) > DRIVER_TEXT:
        raise ValidationError({"text": f"{len(text)} characters: keep it to {DRIVER_TEXT}."})
    return text


@audit.changes_by_user
@transaction.atomic
def add_driver(user, project: Project, *, kind: str, text: str, parent: Driver | None = None) -> Driver:
    """A node of the diagram: a primary driver under the aim, a secondary under a primary, a change
    idea under a secondary or primary driver of the same project; it goes last among its siblings."""
    permissions.check(user, "improvement.work_on_project", project)
    if kind not in DriverKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(DriverKind.labels)}."})
    text = _clean_driver_text(text)
    allowed = PARENTS[DriverKind(kind)]
    if parent is not None and parent.project_id != project.pk:
        raise ValidationError({"parent": "That node belongs to another project's diagram."})
    if not allowed and parent is not None:
        raise ValidationError({"parent": "A primary driver sits under the aim, not under another node."})
    if allowed and (parent is None or parent.kind not in allowed):
        under = " or ".join(DriverKind(k).label.lower() for k in allowed)
        raise ValidationError({"parent": f"A {DriverKind(kind).label.lower()} sits under a {under}."})
    last = project.drivers.filter(parent=parent).aggregate(last=Max("position"))["last"]
    return Driver.objects.create(project=project, parent=parent, kind=kind, text=text,
                                 position=0 if last is None else last + 1)


@audit.changes_by_user
@transaction.atomic
def rename_driver(user, driver: Driver, text: str) -> Driver:
    permissions.check(user, "improvement.work_on_project", driver.project)
    driver.text = _clean_driver_text(text)
    driver.save(update_fields=["text"])
    return driver


@audit.changes_by_user
@transaction.atomic
def remove_driver(user, driver: Driver) -> None:
    """Take a node and the nodes under it off the diagram; refused while a change idea among them
    has PDSA cycles (their record, and their marks on the chart, would be lost)."""
    permissions.check(user, "improvement.work_on_project", driver.project)
    below, layer = [driver], [driver.pk]
    while layer:
        layer = list(Driver.objects.filter(parent_id__in=layer).values_list("pk", flat=True))
        below += layer
    ids = [driver.pk, *below[1:]]
    if Driver.objects.filter(pk__in=ids, cycles__isnull=False).exists():
        raise ValidationError({"text": f"“{driver.text}” has PDSA cycles under it: remove them first."})
    for node in reversed(Driver.objects.filter(pk__in=ids).order_by("pk")):  # each removal in the trail
        node.delete()


@audit.changes_by_user
@transaction.atomic
def move_driver(user, driver: Driver, direction: str) -> Driver:
    """Move a node up or down among its siblings (the order the diagram draws them in)."""
    permissions.check(user, "improvement.work_on_project", driver.project)
    if direction not in ("up", "down"):
        raise ValidationError({"direction": "Move it up or down."})
    siblings = list(Driver.objects.select_for_update().filter(project=driver.project_id, parent=driver.parent_id)
                    .order_by("position", "pk"))
    index = next(i for i, node in enumerate(siblings) if node.pk == driver.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, node in enumerate(siblings):
        if node.position != position:
            node.position = position
            node.save(update_fields=["position"])
    driver.refresh_from_db()
    return driver


def connect() -> None:
    """Registries of the projects (audit, history, navigation, work, demo), from ready()."""
    from andon.platform import demo, navigation
    from andon.platform import services as platform_services

    from . import models
    from .demo_projects import load_demo_project
    from .portfolio import project_work

    for model in (models.Project, models.PdsaCycle, models.PortfolioSettings):
        audit.register(model, exclude_fields=["version"])
    for model in (models.Driver, models.ProjectsRequired):
        audit.register(model)
    navigation.add(navigation.NavEntry("Improvement", "improvement:portfolio", "improvement.use_projects", "graph-up-arrow"))
    platform_services.register_work_provider(project_work)
    demo.register_demo_loader(load_demo_project)
