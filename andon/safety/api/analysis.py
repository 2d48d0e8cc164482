"""The analysis of safety events over the API: aggregates only (board members read them), with
the same filters as the analysis page, limited to the caller's scope."""

from datetime import date

from ninja import Query, Schema, Status
from pydantic import Field as PydanticField

from andon.platform.api_kit import Id, IsoDate, NamedRouter, documented
from andon.platform.permissions import requires

from .. import analysis
from .shared import taxonomy_needed

router = NamedRouter("andon_safety_api_")


class ParetoRowOut(Schema):
    label: str
    count: int
    cumulative: int
    cumulative_percent: float


class CountOut(Schema):
    label: str
    count: int


class MonthOut(Schema):
    month: str = PydanticField(description="YYYY-MM (in the organisation's time zone)")
    count: int


class FactorRowOut(ParetoRowOut):
    investigations: int


class FactorSummaryOut(Schema):
    investigations: int
    completed: int
    factors: int
    rows: list[FactorRowOut]


class FiltersOut(Schema):
    from_: date | None = PydanticField(alias="from")
    to: date | None
    facility: int | None
    unit: int | None
    described: str


class AnalysisOut(Schema):
    filters: FiltersOut
    total_reports: int
    safety_events: int
    categories: list[ParetoRowOut]
    harm: list[CountOut]
    units: list[CountOut]
    months: list[MonthOut]
    kinds: list[CountOut]
    factors: FactorSummaryOut


class WrongFilters(Exception):
    def __init__(self, problems):
        self.problems = problems


def filters_in_scope(user, capability, since, until, facility, unit) -> analysis.Filters:
    """The analysis filters, limited to the caller's scope for `capability` (as on the pages)."""
    facilities, units = analysis.filter_choices(user, capability)
    problems = []
    chosen_facility = chosen_unit = None
    if facility is not None:
        chosen_facility = facilities.filter(pk=facility).first()
        if chosen_facility is None:
            problems.append(("facility", "Not a facility in your scope."))
    if unit is not None:
        chosen_unit = units.filter(pk=unit).first()
        if chosen_unit is None:
            problems.append(("unit", "Not a unit in your scope."))
    if since and until and since > until:
        problems.append(("to", "The end comes before the start."))
    if problems:
        raise WrongFilters(problems)
    return analysis.Filters(since=since, until=until, facility=chosen_facility, unit=chosen_unit)


def wrong_filters(error: WrongFilters):
    return Status(422, {"detail": [{"loc": ["query", name], "msg": message, "type": "value_error"}
                                   for name, message in error.problems]})


# The same query parameters as the analysis page's filter form.
SINCE = Query(None, alias="from", description="First day (in the organisation's time zone), inclusive")
UNTIL = Query(None, alias="to", description="Last day (in the organisation's time zone), inclusive")
FACILITY = Query(None, description="A facility in the caller's scope")
UNIT = Query(None, description="A unit in the caller's scope (with the units below it)")


@router.get("/analysis", response=documented(AnalysisOut), by_alias=True,
            summary="Counts of safety events by category (Pareto), harm, unit, month and kind, and contributing "
                    "factors (aggregates only)")
@requires("safety.view_aggregates")
def analysis_counts(request, since: IsoDate | None = SINCE, until: IsoDate | None = UNTIL,
                    facility: Id | None = FACILITY, unit: Id | None = UNIT):
    try:
        filters = filters_in_scope(request.user, analysis.AGGREGATES, since, until, facility, unit)
    except WrongFilters as error:
        return wrong_filters(error)
    taxonomy_needed()
    found = analysis.analyse(request.user, filters)
    summary, factors = found.summary, found.factors
    return {
        "filters": {"from": filters.since, "to": filters.until,
                    "facility": filters.facility.pk if filters.facility else None,
                    "unit": filters.unit.pk if filters.unit else None, "described": analysis.describe(filters)},
        "total_reports": summary.total_reports, "safety_events": summary.safety_events,
        "categories": [_pareto_row(row) for row in summary.categories],
        "harm": [{"label": label, "count": count} for label, count in summary.harm],
        "units": [{"label": label, "count": count} for label, count in summary.units],
        "months": [{"month": f"{month:%Y-%m}", "count": count} for month, count in summary.months],
        "kinds": [{"label": label, "count": count} for label, count in summary.kinds],
        "factors": {"investigations": factors.investigations, "completed": factors.completed,
                    "factors": factors.factors,
                    "rows": [{**_pareto_row(row), "investigations": row.investigations} for row in factors.rows]},
    }


def _pareto_row(row) -> dict:
    return {"label": row.label, "count": row.count, "cumulative": row.cumulative,
            "cumulative_percent": row.cumulative_percent}
