"""QI projects over the API: the charter (list, read, charter, edit, status), the driver diagram's
nodes, PDSA cycles and their stages, a project's progress and the portfolio. The same services and
policy as the pages; changes of a versioned record take its `version` (409 when stale); removals
are POSTs to `/removal`, as elsewhere in the API."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Flag, Id, IsoDate, NamedRouter, Number, Pages, Version, documented, refused
from andon.platform.models import Unit, User
from andon.platform.permissions import requires

from .. import services as service
from ..models import Benefit, DriverKind, PdsaCycle, PdsaDecision, ProjectStatus
from ..models.projects import Domain

router = NamedRouter("andon_improvement_api_projects_")

Title = Annotated[str, PydanticField(min_length=1, max_length=200)]
Text = Annotated[str, PydanticField(max_length=4000)]
StatusName = Literal[tuple(ProjectStatus.values)]


class ProjectIn(Body):
    title: Title
    problem: Text
    high_risk: Flag = False
    high_volume: Flag = False
    problem_prone: Flag = False
    rationale: Text = ""
    domain: Literal[tuple(Domain.values)]
    measure_key: Annotated[str, PydanticField(min_length=1, max_length=100, description="The library measure's key")]
    aim: Annotated[str, PydanticField(min_length=1, max_length=500)]
    baseline: Number
    target: Number
    aim_date: IsoDate
    place: Annotated[str, PydanticField(min_length=2, max_length=21, description="u<unit id>, f<facility id> or "
                                                                                 "o<organisation id>")]
    scope_unit_ids: list[Id] = PydanticField(default_factory=list, max_length=200)
    sponsor_id: Id
    lead_id: Id
    team_ids: list[Id] = PydanticField(default_factory=list, max_length=200)
    status: StatusName = "proposed"
    year: Annotated[int, PydanticField(ge=2000, le=2199)]
    benefit: Literal[tuple(Benefit.values)] = "harm_events"
    unit_cost: Annotated[Decimal, PydanticField(ge=0, lt=10**10, decimal_places=2)] | None = None


class ProjectEditIn(ProjectIn):
    version: Version = None


class ProjectOut(Schema):
    id: int
    reference: str
    title: str
    problem: str
    high_risk: bool
    high_volume: bool
    problem_prone: bool
    rationale: str
    domain: str
    measure_key: str
    aim: str
    baseline: float
    target: float
    aim_date: date
    organisation_id: int
    facility_id: int | None
    unit_id: int | None
    scope_unit_ids: list[int]
    sponsor_id: int
    lead_id: int
    team_ids: list[int]
    status: str
    year: int
    started_on: date
    completed_on: date | None
    benefit: str
    unit_cost: Decimal | None
    created_at: datetime
    version: int

    @staticmethod
    def resolve_measure_key(project):
        return project.measure.key

    @staticmethod
    def resolve_scope_unit_ids(project):
        return list(project.scope_units.values_list("pk", flat=True))

    @staticmethod
    def resolve_team_ids(project):
        return list(project.team.values_list("pk", flat=True))


class ProjectStatusIn(Body):
    status: StatusName
    version: Version = None


class DriverIn(Body):
    kind: Literal[tuple(DriverKind.values)]
    text: Annotated[str, PydanticField(min_length=1, max_length=300)]
    parent_id: Id | None = PydanticField(None, description="The node it hangs under (none for a primary driver)")


class DriverRenameIn(Body):
    text: Annotated[str, PydanticField(min_length=1, max_length=300)]


class DriverMoveIn(Body):
    direction: Literal["up", "down"]


class DriverOut(Schema):
    id: int
    project_id: int
    parent_id: int | None
    kind: str
    text: str
    position: int


class CyclePlanIn(Body):
    title: Title
    plan: Text
    prediction: Annotated[str, PydanticField(max_length=2000)]
    planned_start: IsoDate
    planned_end: IsoDate
    number: Annotated[int, PydanticField(ge=1, le=999)] | None = None


class CycleDoIn(Body):
    started_on: IsoDate
    do_notes: Text = ""
    version: Version = None


class CycleStudyIn(Body):
    ended_on: IsoDate
    study: Text
    version: Version = None


class CycleActIn(Body):
    decision: Literal[tuple(PdsaDecision.values)]
    decided_on: IsoDate
    act_notes: Annotated[str, PydanticField(max_length=2000)] = ""
    rebase: Flag = PydanticField(False, description="An adopted change starts new limits on the chart at its date")
    version: Version = None


class RemovalIn(Body):
    version: Version = None


class CycleOut(Schema):
    id: int
    change_id: int
    number: int
    title: str
    stage: str
    plan: str
    prediction: str
    planned_start: date
    planned_end: date
    started_on: date | None
    do_notes: str
    ended_on: date | None
    study: str
    decision: str
    act_notes: str
    decided_on: date | None
    rebase: bool
    start_annotation_id: int | None
    decision_annotation_id: int | None
    version: int


class ProgressOut(Schema):
    place: str = PydanticField(description="Whose chart: the project's unit, or the whole organisation")
    since: date | None = PydanticField(description="The last adopted change's decision day")
    verdict: str | None = PydanticField(description="The SPC verdict since then (measures' code)")
    verdict_words: str
    current: float | None = PydanticField(description="The level since the change, in the measure's unit")
    met: bool | None
    days_left: int
    periods_since: int
    avoided: float | None = PydanticField(description="Harm events or excess days avoided since the change")
    cost_avoided: Decimal | None
    currency: str
    cost_reason: str


class PortfolioRowOut(Schema):
    id: int
    reference: str
    title: str
    status: str
    domain: str
    unit_id: int | None
    verdict_words: str
    met: bool | None
    cost_avoided: Decimal | None
    cost_reason: str


class PortfolioOut(Schema):
    organisation_id: int
    year: int
    year_count: int
    required: int | None = PydanticField(description="The number the governing body asked for, if recorded")
    decided_by: str
    by_status: dict[str, int]
    by_reason: dict[str, int]
    by_unit: dict[str, int]
    by_domain: dict[str, int]
    currency: str
    projects: list[PortfolioRowOut]


# --- helpers ------------------------------------------------------------------------------------

def _people(ids, field: str):
    found = list(User.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise ValidationError({field: "One of the people named is not a user."})
    return found


def _person(pk, field: str):
    found = User.objects.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: f"There is no user {pk}."})
    return found


def _charter_values(payload: ProjectIn) -> dict:
    values = payload.model_dump(exclude={"scope_unit_ids", "sponsor_id", "lead_id", "team_ids", "version"})
    units = list(Unit.objects.filter(pk__in=payload.scope_unit_ids))
    if len(units) != len(set(payload.scope_unit_ids)):
        raise ValidationError({"scope_unit_ids": "One of the units named is not a unit."})
    return {**values, "scope_units": units, "team": _people(payload.team_ids, "team_ids"),
            "sponsor": _person(payload.sponsor_id, "sponsor_id"), "lead": _person(payload.lead_id, "lead_id")}


# --- projects -----------------------------------------------------------------------------------

@router.get("/projects", response=documented(list[ProjectOut]), summary="The QI projects the caller may see")
@requires("improvement.use_projects")
@paginate(Pages)
def list_projects(request):
    return service.visible_projects(request.user).select_related("measure").order_by("-year", "reference")


@router.post("/projects", response=documented(ProjectOut, 201),
             summary="Charter a project: its problem, rationale and a SMART aim on a measure of the library")
@requires("improvement.charter")
def charter_project(request, payload: ProjectIn):
    try:
        project = service.charter_project(request.user, **_charter_values(payload))
    except ValidationError as error:
        return refused(error)
    return Status(201, project)


@router.get("/projects/{project_id}", response=documented(ProjectOut, not_found=True), summary="One project's charter")
@requires("improvement.use_projects")
def get_project(request, project_id: Id):
    return service.access_project(request.user, project_id)


@router.post("/projects/{project_id}", response=documented(ProjectOut, not_found=True, versioned=True),
             summary="Change the charter (the year, part of the reference, stays)")
@requires("improvement.use_projects")
def edit_project(request, project_id: Id, payload: ProjectEditIn):
    project = service.access_project(request.user, project_id, "improvement.work_on_project")
    try:
        return service.edit_project(request.user, project, ver=payload.version, **_charter_values(payload))
    except ValidationError as error:
        return refused(error)


@router.post("/projects/{project_id}/status", response=documented(ProjectOut, not_found=True, versioned=True),
             summary="Move the project to a status (completing it keeps the day)")
@requires("improvement.use_projects")
def set_project_status(request, project_id: Id, payload: ProjectStatusIn):
    project = service.access_project(request.user, project_id, "improvement.work_on_project")
    try:
        return service.set_status(request.user, project, payload.status, payload.version)
    except ValidationError as error:
        return refused(error)


@router.get("/projects/{project_id}/progress", response=documented(ProgressOut, not_found=True),
            summary="Progress from the measure's chart: the SPC verdict since the last adopted change, the level "
                    "against the aim, days left, the cost of poor quality avoided")
@requires("improvement.use_projects")
def project_progress(request, project_id: Id):
    found = service.progress(service.access_project(request.user, project_id))
    cost = found.cost
    return {"place": found.place, "since": found.since, "verdict": found.verdict_code, "verdict_words": found.verdict,
            "current": found.current, "met": found.met, "days_left": found.days_left,
            "periods_since": found.periods_since, "avoided": cost.avoided, "cost_avoided": cost.amount,
            "currency": cost.currency, "cost_reason": cost.reason}


# --- the driver diagram -------------------------------------------------------------------------

@router.get("/projects/{project_id}/drivers", response=documented(list[DriverOut], not_found=True),
            summary="The driver diagram's nodes, in order")
@requires("improvement.use_projects")
def list_drivers(request, project_id: Id):
    return list(service.access_project(request.user, project_id).drivers.order_by("parent_id", "position", "pk"))


@router.post("/projects/{project_id}/drivers", response=documented(DriverOut, 201, not_found=True),
             summary="Add a node: a primary driver, a secondary under a primary, a change idea under either")
@requires("improvement.use_projects")
def add_driver(request, project_id: Id, payload: DriverIn):
    project = service.access_project(request.user, project_id, "improvement.work_on_project")
    try:
        parent = service.access_driver(request.user, payload.parent_id) if payload.parent_id else None
        return Status(201, service.add_driver(request.user, project, kind=payload.kind, text=payload.text,
                                              parent=parent))
    except ValidationError as error:
        return refused(error)


@router.post("/drivers/{driver_id}", response=documented(DriverOut, not_found=True), summary="Rename a node")
@requires("improvement.use_projects")
def rename_driver(request, driver_id: Id, payload: DriverRenameIn):
    driver = service.access_driver(request.user, driver_id)
    try:
        return service.rename_driver(request.user, driver, payload.text)
    except ValidationError as error:
        return refused(error)


@router.post("/drivers/{driver_id}/move", response=documented(DriverOut, not_found=True),
             summary="Move a node up or down among its siblings")
@requires("improvement.use_projects")
def move_driver(request, driver_id: Id, payload: DriverMoveIn):
    driver = service.access_driver(request.user, driver_id)
    try:
        return service.move_driver(request.user, driver, payload.direction)
    except ValidationError as error:
        return refused(error)


@router.post("/drivers/{driver_id}/removal", response=documented(list[DriverOut], not_found=True),
             summary="Remove a node and those under it (refused while a change idea among them has PDSA cycles); "
                     "answers the nodes that remain")
@requires("improvement.use_projects")
def remove_driver(request, driver_id: Id):
    driver = service.access_driver(request.user, driver_id)
    project = driver.project
    try:
        service.remove_driver(request.user, driver)
    except ValidationError as error:
        return refused(error)
    return list(project.drivers.order_by("parent_id", "position", "pk"))


# --- PDSA cycles --------------------------------------------------------------------------------

@router.get("/projects/{project_id}/cycles", response=documented(list[CycleOut], not_found=True),
            summary="The project's PDSA cycles, by change idea and number")
@requires("improvement.use_projects")
def list_cycles(request, project_id: Id):
    project = service.access_project(request.user, project_id)
    return list(PdsaCycle.objects.filter(change__project=project).order_by("change", "number"))


@router.post("/drivers/{driver_id}/cycles", response=documented(CycleOut, 201, not_found=True),
             summary="Plan a PDSA cycle of a change idea, with its prediction")
@requires("improvement.use_projects")
def plan_cycle(request, driver_id: Id, payload: CyclePlanIn):
    change = service.access_driver(request.user, driver_id)
    try:
        return Status(201, service.plan_cycle(request.user, change, **payload.model_dump()))
    except ValidationError as error:
        return refused(error)


@router.get("/cycles/{cycle_id}", response=documented(CycleOut, not_found=True), summary="One PDSA cycle")
@requires("improvement.use_projects")
def get_cycle(request, cycle_id: Id):
    return service.access_cycle(request.user, cycle_id)


def _stage(request, cycle_id, act):
    cycle = service.access_cycle(request.user, cycle_id, "improvement.work_on_project")
    try:
        return act(cycle)
    except ValidationError as error:
        return refused(error)


@router.post("/cycles/{cycle_id}/do", response=documented(CycleOut, not_found=True, versioned=True),
             summary="Do: the day the test started (a mark on the measure's chart) and what was observed")
@requires("improvement.use_projects")
def do_cycle(request, cycle_id: Id, payload: CycleDoIn):
    return _stage(request, cycle_id, lambda cycle: service.start_cycle(
        request.user, cycle, started_on=payload.started_on, do_notes=payload.do_notes, ver=payload.version))


@router.post("/cycles/{cycle_id}/study", response=documented(CycleOut, not_found=True, versioned=True),
             summary="Study: the day the test ended and what happened against the prediction")
@requires("improvement.use_projects")
def study_cycle(request, cycle_id: Id, payload: CycleStudyIn):
    return _stage(request, cycle_id, lambda cycle: service.study_cycle(
        request.user, cycle, ended_on=payload.ended_on, study=payload.study, ver=payload.version))


@router.post("/cycles/{cycle_id}/act", response=documented(CycleOut, not_found=True, versioned=True),
             summary="Act: adopt, adapt or abandon (a mark on the chart; an adopted change may rebase its limits)")
@requires("improvement.use_projects")
def act_on_cycle(request, cycle_id: Id, payload: CycleActIn):
    return _stage(request, cycle_id, lambda cycle: service.act_on_cycle(
        request.user, cycle, decision=payload.decision, decided_on=payload.decided_on, act_notes=payload.act_notes,
        rebase=payload.rebase, ver=payload.version))


@router.post("/cycles/{cycle_id}/removal", response=documented(list[CycleOut], not_found=True, versioned=True),
             summary="Remove a cycle recorded by mistake, with its marks on the chart; answers the project's cycles "
                     "that remain")
@requires("improvement.use_projects")
def remove_cycle(request, cycle_id: Id, payload: RemovalIn):
    def act(cycle):
        project = cycle.change.project
        service.remove_cycle(request.user, cycle, payload.version)
        return list(PdsaCycle.objects.filter(change__project=project).order_by("change", "number"))

    return _stage(request, cycle_id, act)


# --- the portfolio ------------------------------------------------------------------------------

@router.get("/portfolio", response=documented(PortfolioOut),
            summary="The organisation's projects by status, reason, unit and domain, the year's count against the "
                    "governing body's number, and each project's cost of poor quality avoided")
@requires("improvement.use_projects")
def get_portfolio(request, status: StatusName | None = None, domain: Literal[tuple(Domain.values)] | None = None,
                  year: Annotated[int, PydanticField(ge=2000, le=2199)] | None = None):
    found = service.portfolio(request.user, {"status": status, "domain": domain, "year": year})
    required, settings = found["required"], found["settings"]
    return {"organisation_id": found["organisation"].pk, "year": found["year"], "year_count": found["year_count"],
            "required": required.count if required else None, "decided_by": required.decided_by if required else "",
            "by_status": dict(found["by_status"]), "by_reason": dict(found["by_reason"]),
            "by_unit": dict(found["by_unit"]), "by_domain": dict(found["by_domain"]),
            "currency": settings.currency if settings else "USD",
            "projects": [{"id": row["project"].pk, "reference": row["project"].reference, "title": row["project"].title,
                          "status": row["project"].status, "domain": row["project"].domain,
                          "unit_id": row["project"].unit_id, "verdict_words": row["progress"].verdict,
                          "met": row["progress"].met, "cost_avoided": row["progress"].cost.amount,
                          "cost_reason": row["progress"].cost.reason} for row in found["rows"]]}
