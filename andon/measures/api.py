"""The measures API: the library, stored results, a measure's SPC chart as data, annotations,
counts, the FHIR MeasureReport export and computations.

Registered in andon/api/api.py as `api.add_router("/", router)`; its shared pieces come from
andon.platform.api_kit, never from andon.api (which sits above it).
"""

from datetime import date
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import inputs
from andon.platform import services as platform_services
from andon.platform.api_kit import Body, Count, Id, IsoDate, MappedQuery, Pages, documented, refused
from andon.platform.models import Organisation, Unit
from andon.platform.permissions import requires

from . import definitions, exchange, results, services

router = Router(tags=["measures"])

PeriodKind = Literal["month", "week", "quarter"]
Stratum = Literal["age_band", "sex", "race", "ethnicity", "payer"]


class MeasureOut(Schema):
    key: str
    version: str
    title: str
    description: str
    domain: str
    improvement: str
    scoring: str
    unit_label: str
    multiplier: int
    target: float | None
    owner_role: str
    source_kind: str
    listed: bool
    method: list[str] = PydanticField(description="How it is counted, in words (as the measure page says it)")
    compute_error: str = PydanticField(description="Why the latest computation could not compute it; empty when it could")

    @staticmethod
    def resolve_method(measure) -> list[str]:
        return definitions.counting_method(measure.definition, measure.scoring)


class ResultOut(Schema):
    period_kind: str
    period_start: date
    period_end: date
    unit_id: int | None
    stratum: str
    stratum_value: str
    cases: int
    numerator: float
    denominator: float
    value: float | None
    definition_version: str
    data_load: str


class PointOut(Schema):
    period_start: date
    value: float | None
    mean: float | None
    lpl: float | None
    upl: float | None
    special_cause: str
    rule: str | None
    numerator: float | None
    denominator: float | None


class AnnotationOut(Schema):
    id: int
    date: date
    kind: str
    text: str
    rebase: bool
    created_by: str

    @staticmethod
    def resolve_created_by(note):
        return str(note.created_by)


class ChartOut(Schema):
    kind: str
    target: float | None
    variation: str | None
    assurance: str | None
    rebased_at: list[date]
    points: list[PointOut]
    annotations: list[AnnotationOut]


class AnnotationIn(Body):
    date: IsoDate
    kind: Literal["action", "qi_change", "note"] = "action"
    text: Annotated[str, PydanticField(min_length=1, max_length=500)]
    rebase: bool = False


class CountIn(Body):
    unit_id: Id
    month: Annotated[str, PydanticField(pattern=r"^\d{4}-\d{2}$")]
    numerator: Count
    denominator: Count


class ManualCountOut(Schema):
    unit_id: int
    month: date
    numerator: float
    denominator: float


class ComputeIn(Body):
    measures: list[Annotated[str, PydanticField(max_length=100)]] | None = None
    kind: PeriodKind = "month"
    first: IsoDate
    last: IsoDate


class ComputationJobOut(Schema):
    id: int
    title: str
    status: str


def _unit(request, unit_id: int | None) -> Unit | None:
    if unit_id is None:
        return None
    return platform_services.access_unit(request.user, unit_id, "measures.view")


@router.get("/measures", response=documented(list[MeasureOut]), summary="The measure library")
@requires("measures.view")
def list_measures(request):
    return list(services.listed_measures())


# Before /measures/{key}: the first URL pattern that matches a path answers it.
@router.post("/measures/computations", response=documented(ComputationJobOut, 202), summary="Queue the computation of measures")
@requires("measures.manage")
def start_computation(request, payload: ComputeIn):
    if payload.last < payload.first:
        return refused(ValidationError({"last": "The range ends before it starts."}))
    try:
        job = services.start_computation(request.user, payload.measures, kind=payload.kind, first=payload.first,
                                         last=payload.last)
    except ValidationError as error:
        return refused(error)
    return Status(202, job)


@router.get("/measures/{key}", response=documented(MeasureOut, not_found=True), summary="One measure's definition")
@requires("measures.view")
def get_measure(request, key: str):
    return services.access_measure(request.user, key)


@router.get("/measures/{key}/results", response=documented(list[ResultOut], not_found=True),
            summary="Stored results: the organisation's and those of the units the caller may see")
@requires("measures.view")
@paginate(Pages)
def list_results(request, key: str, kind: PeriodKind = "month", first: IsoDate | None = None, last: IsoDate | None = None):
    rows = services.result_rows(services.access_measure(request.user, key), kind=kind, first=first, last=last, units=services.visible_units(request.user))
    return MappedQuery(rows, lambda row: row)


@router.get("/measures/{key}/chart", response=documented(ChartOut, not_found=True),
            summary="The SPC chart as data: points with limits, special causes and rules, assurance, annotations")
@requires("measures.view")
def get_chart(request, key: str, unit_id: Id | None = None, stratum: Stratum | None = None,
              value: Annotated[str, PydanticField(max_length=200)] = ""):
    measure = services.access_measure(request.user, key)
    view, notes = results.chart(measure, unit=_unit(request, unit_id), stratum=stratum or "", value=value if stratum else "")
    return {"kind": view.kind, "target": view.target, "variation": view.variation, "assurance": view.assurance,
            "rebased_at": view.rebased_at, "points": view.points, "annotations": notes}


@router.get("/measures/{key}/measure-report", response=documented(dict, not_found=True),
            summary="Results as a FHIR Bundle of summary MeasureReports, one per period, stratified by unit")
@requires("measures.view")
def measure_report(request, key: str, share: bool = False):
    """`share=true`: fit to leave the quality department, small cells marked masked (data-absent-reason)."""
    measure = services.access_measure(request.user, key)
    organisation = Organisation.objects.order_by("pk").values_list("name", flat=True).first() or "Andon"
    rows, hidden = services.export_cells(request.user, measure, for_sharing=share)
    return exchange.report_bundle(measure, rows, organisation, hidden)


@router.post("/measures/{key}/annotations", response=documented(AnnotationOut, 201, not_found=True),
             summary="Annotate the chart with an action or QI change (optionally rebasing the limits)")
@requires("measures.annotate")
def add_annotation(request, key: str, payload: AnnotationIn):
    measure = services.access_measure(request.user, key, "measures.annotate")
    try:
        note = services.annotate(request.user, measure, on=payload.date, text=payload.text, kind=payload.kind,
                                 rebase=payload.rebase)
    except ValidationError as error:
        return refused(error)
    return Status(201, note)


@router.post("/measures/{key}/counts", response=documented(ManualCountOut, 201, not_found=True),
             summary="Enter (or correct) one unit's counts for a month")
@requires("measures.view")
def enter_count(request, key: str, payload: CountIn):
    measure = services.access_measure(request.user, key)
    unit = Unit.objects.filter(pk=payload.unit_id).first()
    if unit is None:
        return refused(ValidationError({"unit_id": "No such unit."}))
    try:
        month = inputs.month(payload.month)
    except inputs.InputError as problem:
        return refused(ValidationError({"month": f"{problem}."}))
    try:
        count = services.enter_count(request.user, measure, unit, month, payload.numerator,
                                     payload.denominator, source="Entered through the API")
    except ValidationError as error:
        return refused(error)
    return Status(201, count)
