"""OPPE over the API: the profiles, configuring one, a department's evaluation, a practitioner's
OPPE and the reviewer's decision; under the same policy and services as the pages."""

from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.http import Http404
from ninja import Schema, Status
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Id, IsoDate, NamedRouter, Number, documented, refused
from andon.platform.models import Unit
from andon.platform.permissions import check, requires

from .. import oppe

router = NamedRouter("andon_medstaff_api_oppe_")


class IndicatorIn(Body):
    measure_key: Annotated[str, PydanticField(min_length=1, max_length=80)]
    minimum_cases: Annotated[int, PydanticField(ge=1, le=10_000)] | None = PydanticField(
        None, description="Fewer cases: too few cases; null: ANDON_OPPE_MIN_CASES")
    target: Number | None = None


class ProfileIn(Body):
    period_months: Annotated[int, PydanticField(ge=1, le=oppe.MAX_MONTHS)] = oppe.DEFAULT_MONTHS
    indicators: list[IndicatorIn] = PydanticField(min_length=1, max_length=40)


class IndicatorOut(Schema):
    measure_key: str
    minimum_cases: int | None
    target: float | None


class ProfileOut(Schema):
    department_id: int
    department: str
    period_months: int
    periodic_warning: bool = PydanticField(description="Twelve months or more: periodic, not ongoing")
    indicators: list[IndicatorOut]


class ValueOut(Schema):
    cases: int
    numerator: float
    denominator: float
    value: float | None = PydanticField(description="null when there are too few cases (or no value)")
    too_few: bool
    shown: str = PydanticField(description='As the pages show it: the value, or "too few cases (n)"')


class PractitionerValueOut(ValueOut):
    practitioner_id: int
    practitioner: str
    outlier: Literal["worse", "better", ""] = PydanticField(description="Outside the 99.8 % funnel limits")


class EvaluatedIndicatorOut(Schema):
    measure_key: str
    title: str
    minimum_cases: int
    department: ValueOut
    practitioners: list[PractitionerValueOut]


class EvaluationOut(Schema):
    department_id: int
    first: IsoDate
    last: IsoDate
    periodic_warning: str
    indicators: list[EvaluatedIndicatorOut]


class OppeCaseOut(Schema):
    case_id: str
    patient_id: str | None
    encounter_id: str | None
    at: str | None
    numerator: float | None
    value: float | None


class OwnIndicatorOut(Schema):
    measure_key: str
    title: str
    minimum_cases: int
    own: ValueOut
    department: ValueOut
    cases: list[OppeCaseOut] | None = PydanticField(description="null: the reader may not see patient-level data")


class OppeDecisionOut(Schema):
    id: int
    period_start: IsoDate
    period_end: IsoDate
    decision: str
    reason: str
    decided_on: IsoDate
    fppe_reference: str | None


class PractitionerOppeOut(Schema):
    practitioner_id: int
    first: IsoDate | None
    last: IsoDate | None
    indicators: list[OwnIndicatorOut]
    decisions: list[OppeDecisionOut]


class OppeDecisionIn(Body):
    decision: Literal["continue", "fppe", "other"]
    reason: Annotated[str, PydanticField(min_length=1, max_length=oppe.REASON_LIMIT)] = PydanticField(description="Why")
    decided_on: IsoDate | None = None


def _value(value) -> dict:
    return {"cases": value.cases, "numerator": value.numerator, "denominator": value.denominator,
            "value": None if value.too_few else value.value, "too_few": value.too_few, "shown": value.shown}


def _profile(profile) -> dict:
    return {"department_id": profile.department_id, "department": str(profile.department),
            "period_months": profile.period_months, "periodic_warning": profile.period_months >= oppe.OPPE_PERIODIC_MONTHS,
            "indicators": [{"measure_key": i.measure_key, "minimum_cases": i.minimum_cases, "target": i.target}
                           for i in profile.indicators.all()]}


def _decision(decision) -> dict:
    return {"id": decision.pk, "period_start": decision.period_start, "period_end": decision.period_end,
            "decision": decision.decision, "reason": decision.reason, "decided_on": decision.decided_on,
            "fppe_reference": decision.fppe.reference if decision.fppe_id else None}


@router.get("/oppe/profiles", response=documented(list[ProfileOut]), summary="The OPPE profiles you may read")
@requires("medstaff.view_oppe")
def list_profiles(request):
    return [_profile(p) for p in oppe.oppe_profiles(request.user)]


@router.put("/oppe/profiles/{unit_id}", response=documented(ProfileOut, not_found=True),
            summary="Make or replace a department's OPPE profile")
@requires("medstaff.configure_oppe")
def put_profile(request, unit_id: Id, payload: ProfileIn):
    unit = Unit.objects.filter(pk=unit_id).first()
    if unit is None:
        raise Http404("no such unit")
    check(request.user, "medstaff.configure_oppe", unit)
    try:
        profile = oppe.configure_oppe(request.user, unit, period_months=payload.period_months,
                                      indicators=[i.model_dump() for i in payload.indicators])
    except ValidationError as error:
        return refused(error)
    return _profile(profile)


@router.get("/oppe/departments/{unit_id}", response=documented(EvaluationOut, not_found=True),
            summary="A department's evaluation: each practitioner's value of each indicator against the department's")
@requires("medstaff.view_oppe")
def get_evaluation(request, unit_id: Id):
    profile = oppe.access_oppe_profile(request.user, unit_id)
    found = oppe.evaluate_department(request.user, profile)
    indicators = []
    for item in found.indicators:
        rows = [{**_value(r.value), "practitioner_id": r.practitioner.pk, "practitioner": r.practitioner.name,
                 "outlier": r.outlier} for r in (*item.rows, *item.too_few)]
        indicators.append({"measure_key": item.measure.key, "title": item.measure.title, "minimum_cases": item.minimum,
                           "department": _value(item.department), "practitioners": rows})
    return {"department_id": profile.department_id, "first": found.first, "last": found.last,
            "periodic_warning": found.periodic_warning, "indicators": indicators}


@router.get("/oppe/practitioners/{practitioner_id}", response=documented(PractitionerOppeOut, not_found=True),
            summary="A practitioner's OPPE: their value of each indicator against the department's, their cases "
                    "for those who may see them, and the decisions")
@requires("medstaff.view_practitioner_oppe")
def get_practitioner_oppe(request, practitioner_id: Id):
    practitioner = oppe.access_oppe_practitioner(request.user, practitioner_id)
    found = oppe.practitioner_oppe(request.user, practitioner)
    indicators = [{"measure_key": i.measure.key, "title": i.measure.title, "minimum_cases": i.minimum,
                   "own": _value(i.own), "department": _value(i.department),
                   "cases": None if i.cases is None else [
                       {"case_id": c["case_id"], "patient_id": c["patient_id"], "encounter_id": c["encounter_id"],
                        "at": c["at"].isoformat() if c["at"] else None, "numerator": c["numerator"], "value": c["value"]}
                       for c in i.cases]}
                  for i in found.indicators]
    return {"practitioner_id": practitioner.pk, "first": found.first, "last": found.last, "indicators": indicators,
            "decisions": [_decision(d) for d in found.decisions]}


@router.post("/oppe/practitioners/{practitioner_id}/decisions", response=documented(OppeDecisionOut, 201, not_found=True),
             summary="Record the reviewer's decision (continue, FPPE: starts one, other)")
@requires("medstaff.decide_oppe")
def post_decision(request, practitioner_id: Id, payload: OppeDecisionIn):
    practitioner = oppe.access_oppe_practitioner(request.user, practitioner_id)
    try:
        decided = oppe.decide_oppe(request.user, practitioner, decision=payload.decision, reason=payload.reason,
                                   decided_on=payload.decided_on)
    except ValidationError as error:
        return refused(error)
    return Status(201, _decision(decided))
