"""The risk API: the register's list, the heat map, the board assurance framework and the matrix
settings. The same services, filters and policy as the pages (andon/risk/views/register.py)."""

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import permissions
from andon.platform.api_kit import Body, Id, MappedQuery, NamedRouter, Pages, Version, documented, refused
from andon.platform.concurrency import Stale
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import overview
from .. import services as service
from ..models import Category, Level
from ..scoring import LEVELS, Matrix

router = NamedRouter("andon_risk_api_")

CategoryName = Literal[tuple(Category.values)]  # type: ignore[valid-type]
LevelName = Literal[tuple(Level.values)]  # type: ignore[valid-type]
WhichName = Literal["current", "target", "inherent"]
ScaleValue = Annotated[int, PydanticField(ge=1, le=10, description="A value on the matrix's scale (1 to its size)")]
BandName = Annotated[str, PydanticField(max_length=30, description="A band of the organisation's matrix")]


class RiskRegisterScoreOut(Schema):
    consequence: int
    likelihood: int
    score: int
    band: str
    colour: str = PydanticField(description="The band's colour in the organisation's matrix (#rrggbb)")


class RiskRegisterRowOut(Schema):
    id: int
    reference: str
    title: str
    category: str
    level: str
    status: str
    organisation_id: int
    facility_id: int | None
    unit_id: int | None
    place: str
    owner_id: int
    owner: str
    inherent: RiskRegisterScoreOut
    current: RiskRegisterScoreOut
    target: RiskRegisterScoreOut
    review_on: date
    review_overdue: bool
    asks_escalation: bool = PydanticField(description="The current score is above its level's tolerance")
    flagged_reason: str = PydanticField(description="Why a key risk indicator (or a person) flagged it for review")
    version: int


class RiskHeatCellOut(Schema):
    consequence: int
    likelihood: int
    score: int
    band: str
    colour: str
    count: int


class RiskHeatMapOut(Schema):
    organisation_id: int | None
    total: int
    current: list[RiskHeatCellOut] = PydanticField(description="Every cell of the matrix, highest likelihood first")
    target: list[RiskHeatCellOut]


class RiskBafControlOut(Schema):
    id: int
    description: str
    effect: str
    assurance_level: str
    assurance_source: str
    last_tested_on: date | None
    control_gap: str
    assurance_gap: str
    untested: bool


class RiskBafRiskOut(Schema):
    id: int
    reference: str
    title: str
    owner_id: int
    owner: str
    current: RiskRegisterScoreOut
    target: RiskRegisterScoreOut
    review_on: date
    has_gaps: bool = PydanticField(description="No control, or a control or assurance gap recorded")
    controls: list[RiskBafControlOut]


class RiskBafSummaryOut(Schema):
    risks: int
    with_gaps: int
    without_controls: int
    controls: int
    untested_controls: int


class RiskBafOut(Schema):
    summary: RiskBafSummaryOut
    risks: list[RiskBafRiskOut]


class RiskMatrixLevelIn(Body):
    value: Annotated[int, PydanticField(ge=-1000, le=1000)] | None = PydanticField(
        None, description="Its place on the scale, 1 to n in order (may be left out)")
    label: Annotated[str, PydanticField(max_length=200)]
    descriptor: Annotated[str, PydanticField(max_length=2000)] = ""


class RiskMatrixBandIn(Body):
    name: Annotated[str, PydanticField(max_length=100)]
    low: Annotated[int, PydanticField(ge=-1000, le=1000)]
    high: Annotated[int, PydanticField(ge=-1000, le=1000)]
    colour: Annotated[str, PydanticField(max_length=20)] = "#757575"


Ceiling = Annotated[int | None, PydanticField(None, ge=-1000, le=1000)]


class RiskMatrixTolerancesIn(Body):
    unit: Ceiling = None
    department: Ceiling = None
    facility: Ceiling = None


class RiskMatrixConfigIn(Body):
    consequences: Annotated[list[RiskMatrixLevelIn], PydanticField(max_length=20)]
    likelihoods: Annotated[list[RiskMatrixLevelIn], PydanticField(max_length=20)]
    bands: Annotated[list[RiskMatrixBandIn], PydanticField(max_length=20)]
    tolerances: RiskMatrixTolerancesIn = PydanticField(
        description="The highest current score each level keeps; null: no ceiling (the board has none)")


class RiskMatrixChangeIn(Body):
    config: RiskMatrixConfigIn
    reason: Annotated[str, PydanticField(max_length=2000)]
    version: Version = None


class RiskMatrixLevelOut(Schema):
    value: int
    label: str
    descriptor: str


class RiskMatrixBandOut(Schema):
    name: str
    low: int
    high: int
    colour: str


class RiskMatrixTolerancesOut(Schema):
    unit: int | None
    department: int | None
    facility: int | None


class RiskMatrixConfigOut(Schema):
    consequences: list[RiskMatrixLevelOut]
    likelihoods: list[RiskMatrixLevelOut]
    bands: list[RiskMatrixBandOut]
    tolerances: RiskMatrixTolerancesOut


class RiskMatrixRevisionOut(Schema):
    number: int
    changed_at: datetime
    changed_by_id: int | None
    reason: str
    rebanded: int


class RiskMatrixOut(Schema):
    organisation_id: int
    revision: int
    version: int = PydanticField(description="Send it back with a change: a stale one is refused with 409")
    config: RiskMatrixConfigOut
    revisions: list[RiskMatrixRevisionOut]


class RiskMatrixErrorOut(Schema):
    detail: str
    field: str | None = PydanticField(None, description="The entry at fault: bands[2], consequences[1], tolerances…")


# --- reading -------------------------------------------------------------------------------------

def _score(risk, name: str, matrix: Matrix) -> dict:
    score = getattr(risk, f"{name}_score")
    band = matrix.band(score)
    return {"consequence": getattr(risk, f"{name}_consequence"), "likelihood": getattr(risk, f"{name}_likelihood"),
            "score": score, "band": band.name, "colour": band.colour}


def _register_row(matrix: Matrix, today: date):
    def row(risk) -> dict:
        return {**{name: getattr(risk, name) for name in (
                    "id", "reference", "title", "category", "level", "status", "organisation_id", "facility_id",
                    "unit_id", "owner_id", "review_on", "flagged_reason", "version")},
                "place": overview.place_of(risk), "owner": str(risk.owner),
                **{name: _score(risk, name, matrix) for name in ("inherent", "current", "target")},
                "review_overdue": risk.status == "open" and risk.review_on < today,
                "asks_escalation": service.asks_escalation(risk, matrix)}

    return row


def _organisation_and_matrix(user):
    organisation = overview.organisation_for(user)
    return organisation, service.matrix_of(organisation) if organisation else Matrix()


def _unit(unit_id):
    return get_object_or_404(Unit.objects.select_related("facility"), pk=unit_id) if unit_id else None


def _read(user, matrix, organisation, **filters):
    """The register filtered as asked; a filter the matrix does not know (a band, a cell off its
    scales) is a 400 that names it."""
    try:
        return overview.register(user, organisation, matrix, **filters)
    except ValidationError as error:
        raise HttpError(400, " ".join(f"{field}: {message}" for field, messages in _by_field(error).items()
                                      for message in messages)) from None


def _by_field(error: ValidationError) -> dict:
    return error.message_dict if hasattr(error, "error_dict") else {None: error.messages}


@router.get("/register", response=documented(list[RiskRegisterRowOut], not_found=True),
            summary="The register: risks the caller may see, highest current score first, filtered (a unit_id "
                    "outside the caller's scope: 403; no such unit: 404; a band or cell the matrix lacks: 400)")
@requires("risk.use_register")
@paginate(Pages)
def register(request, unit_id: Id | None = None, category: CategoryName | None = None,  # type: ignore[valid-type]
             level: LevelName | None = None, band: BandName = "",  # type: ignore[valid-type]
             which: WhichName = "current", status: Literal["open", "closed", "any"] = "open",
             consequence: ScaleValue | None = None, likelihood: ScaleValue | None = None,
             asks_escalation: bool = False):
    organisation, matrix = _organisation_and_matrix(request.user)
    risks = _read(request.user, matrix, organisation, unit=_unit(unit_id), category=category or "",
                  level=level or "", band=band, which=which, status="" if status == "any" else status,
                  consequence=consequence, likelihood=likelihood, asking=asks_escalation)
    return MappedQuery(risks, _register_row(matrix, timezone.localdate()))


@router.get("/heat-map", response=documented(RiskHeatMapOut, not_found=True),
            summary="Open risks counted in each cell of the matrix, for the current and the target score")
@requires("risk.use_register")
def heat_map(request, unit_id: Id | None = None, category: CategoryName | None = None,  # type: ignore[valid-type]
             level: LevelName | None = None):  # type: ignore[valid-type]
    organisation, matrix = _organisation_and_matrix(request.user)
    risks = _read(request.user, matrix, organisation, unit=_unit(unit_id), category=category or "", level=level or "")
    maps = overview.heat_maps(risks, matrix)
    cells = {which: [{"consequence": cell.consequence, "likelihood": cell.likelihood, "score": cell.score,
                      "band": cell.band.name, "colour": cell.band.colour, "count": cell.count} for cell in found]
             for which, found in maps.items()}
    return {"organisation_id": organisation.pk if organisation else None,
            "total": sum(cell["count"] for cell in cells["current"]), **cells}


@router.get("/board-framework", response=documented(RiskBafOut),
            summary="The board assurance framework: board-level risks with their controls, assurance and gaps")
@requires("risk.use_register")
def board_framework(request):
    organisation, matrix = _organisation_and_matrix(request.user)
    risks, summary = overview.framework(service.board_framework(request.user).filter(organisation=organisation))
    return {"summary": asdict(summary), "risks": [
        {"id": risk.pk, "reference": risk.reference, "title": risk.title, "owner_id": risk.owner_id,
         "owner": str(risk.owner), "current": _score(risk, "current", matrix), "target": _score(risk, "target", matrix),
         "review_on": risk.review_on, "has_gaps": overview.has_gaps(controls),
         "controls": [{**{name: getattr(control, name) for name in (
             "id", "description", "effect", "assurance_level", "assurance_source", "last_tested_on", "control_gap",
             "assurance_gap")}, "untested": overview.untested(control)} for control in controls]}
        for risk, controls in risks]}


# --- the matrix -----------------------------------------------------------------------------------

def _matrix_out(organisation) -> dict:
    row = service.matrix_row(organisation)
    config = Matrix.from_config(row.config).to_config()
    config["tolerances"] = {level: config["tolerances"].get(level) for level in LEVELS[:-1]}
    return {"organisation_id": organisation.pk, "revision": row.revision, "version": row.version, "config": config,
            "revisions": list(overview.matrix_revisions(organisation)[:50])}


@router.get("/matrix", response=documented(RiskMatrixOut, not_found=True),
            summary="The organisation's risk matrix (scales, descriptors, bands, tolerances) and its latest revisions")
@requires("risk.use_register")
def get_matrix(request):
    organisation = overview.organisation_for(request.user)
    if organisation is None:
        raise HttpError(404, "You work in no organisation: there is no matrix to show.")
    return _matrix_out(organisation)


@router.put("/matrix", response={**documented(RiskMatrixOut, versioned=True), 400: RiskMatrixErrorOut},
            summary="Change the matrix: a new revision that re-bands every risk (a bad table: 400 naming the entry)")
@requires("risk.configure")
def change_matrix(request, payload: RiskMatrixChangeIn):
    organisation = overview.organisation_for(request.user, "risk.configure")
    permissions.check(request.user, "risk.configure", organisation)
    try:
        service.change_matrix(request.user, organisation, payload.config.model_dump(exclude_none=True),
                              payload.reason, payload.version)
    except Stale as error:
        return refused(error)
    except ValidationError as error:
        field, messages = next(iter(_by_field(error).items()))
        return Status(400, {"detail": " ".join(messages), "field": field})
    return _matrix_out(organisation)
