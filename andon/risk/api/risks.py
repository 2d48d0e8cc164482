"""The risk API: one risk: its page, raising (also from an RCA's root cause), re-scoring, escalation, controls and links.

The same services and policy as the pages. Changes of a record people edit take its `version`
(409 when stale); removals and retirements are POSTs to `/removal` and `/retirement`, as
elsewhere in the API."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from pydantic import Field as PydanticField
from pydantic import Strict

from andon.platform.api_kit import Body, Flag, Id, IsoDate, NamedRouter, Version, documented, refused
from andon.platform.models import Facility, Organisation, Unit, User
from andon.platform.permissions import requires

from .. import services as service
from ..models import Assurance, Category, ControlEffect, Level, RiskLink

router = NamedRouter("andon_risk_api_")

Title = Annotated[str, PydanticField(min_length=1, max_length=200)]
Text = Annotated[str, PydanticField(max_length=2000)]
LevelValue = Annotated[int, Strict(), PydanticField(ge=1, le=10, description="1 to the matrix's size")]
CategoryName = Literal[tuple(Category.values)]
LevelName = Literal[tuple(Level.values)]
EffectName = Literal[tuple(ControlEffect.values)]
AssuranceName = Literal[tuple(Assurance.values)]
KindName = Literal[RiskLink.KINDS]
StrengthName = Literal["stronger", "intermediate", "weaker"]
SCORES = ("inherent", "current", "target")


# --- schemas ------------------------------------------------------------------------------------

class RiskScorePairIn(Body):
    consequence: LevelValue
    likelihood: LevelValue


class RiskDetailScoreOut(Schema):
    consequence: int
    likelihood: int
    score: int
    band: str


class RiskMoveOut(Schema):
    id: int
    from_level: str
    to_level: str
    by_id: int
    at: datetime
    reason: str
    score_then: int


def _scores_of(record, name: str) -> dict:
    return {part: getattr(record, f"{name}_{part}") for part in ("consequence", "likelihood", "score", "band")}


class _ThreeScores(Schema):
    """The inherent, current and target scores of a risk or of one of its score records."""

    inherent: RiskDetailScoreOut
    current: RiskDetailScoreOut
    target: RiskDetailScoreOut

    @staticmethod
    def resolve_inherent(record):
        return _scores_of(record, "inherent")

    @staticmethod
    def resolve_current(record):
        return _scores_of(record, "current")

    @staticmethod
    def resolve_target(record):
        return _scores_of(record, "target")


class RiskDetailOut(_ThreeScores):
    id: int
    reference: str
    title: str
    cause: str
    event: str
    effect: str
    category: str
    owner_id: int
    organisation_id: int
    facility_id: int | None
    unit_id: int | None
    level: str
    status: str
    review_on: date
    flagged_reason: str
    flagged_at: datetime | None
    created_at: datetime
    closed_at: datetime | None
    closed_reason: str
    escalations: list[RiskMoveOut] = PydanticField(description="Moves between levels, newest first")
    version: int

    @staticmethod
    def resolve_escalations(risk):
        return list(risk.escalations.all())


class RiskRaiseIn(Body):
    title: Title
    cause: Text
    event: Text
    effect: Text
    category: CategoryName
    owner_id: Id
    unit_id: Id | None = PydanticField(None, description="Where the risk sits: a unit, or a facility_id, or an "
                                                          "organisation_id")
    facility_id: Id | None = None
    organisation_id: Id | None = None
    review_on: IsoDate
    inherent: RiskScorePairIn
    current: RiskScorePairIn
    target: RiskScorePairIn
    root_cause_id: Id | None = PydanticField(None, description="Raised from this root cause of an RCA: the risk "
                                                               "links it, its analysis and its event")


class RiskRescoreIn(Body):
    inherent: RiskScorePairIn
    current: RiskScorePairIn
    target: RiskScorePairIn
    review_on: IsoDate
    note: Text = ""
    version: Version = None


class RiskTrendRecordOut(_ThreeScores):
    at: datetime
    by_id: int | None
    reason: str
    note: str
    matrix_revision: int


class RiskMoveIn(Body):
    to_level: LevelName
    reason: Text
    version: Version = None


class RiskCloseIn(Body):
    reason: Text
    version: Version = None


class RiskControlNewIn(Body):
    description: Text
    owner_id: Id | None = None
    effect: EffectName = "not_tested"
    assurance_source: Annotated[str, PydanticField(max_length=300)] = ""
    assurance_level: AssuranceName = "none"
    last_tested_on: IsoDate | None = None
    control_gap: Text = ""
    assurance_gap: Text = ""


class RiskControlChangeIn(Body):
    """Only the fields sent change."""

    description: Text | None = None
    owner_id: Id | None = None
    effect: EffectName | None = None
    assurance_source: Annotated[str, PydanticField(max_length=300)] | None = None
    assurance_level: AssuranceName | None = None
    last_tested_on: IsoDate | None = None
    control_gap: Text | None = None
    assurance_gap: Text | None = None
    version: Version = None


class RiskControlRetireIn(Body):
    version: Version = None


class RiskControlDetailOut(Schema):
    id: int
    risk_id: int
    description: str
    owner_id: int | None
    effect: str
    assurance_source: str
    assurance_level: str
    last_tested_on: date | None
    control_gap: str
    assurance_gap: str
    created_at: datetime
    retired_at: datetime | None
    version: int


class RiskLinkNewIn(Body):
    kind: KindName
    key: Annotated[str, PydanticField(min_length=1, max_length=100,
                                      description="The record's id (an event's also by reference); a measure's key")]
    indicator: Flag = PydanticField(False, description="A measure as a key risk indicator")


class RiskLinkShownOut(Schema):
    id: int
    kind: str
    key: str
    text: str = PydanticField(description="What the caller may read of the record: a safety record they may not "
                                          "open is its reference alone")
    indicator: bool
    verdict: str | None = PydanticField(description="An indicator's latest SPC verdict (measures' code)")
    verdict_words: str | None
    linked_by_id: int
    linked_at: datetime


class RiskActionNewIn(Body):
    title: Title
    owner_id: Id
    due_date: IsoDate
    strength: StrengthName
    measure: Text
    description: Text = ""
    unit_id: Id | None = PydanticField(None, description="Only for a risk that sits in no unit: the unit that acts")


class RiskTrackerActionOut(Schema):
    id: int
    title: str
    source_label: str
    unit_id: int
    owner_id: int
    due_date: date
    status: str


# --- helpers ------------------------------------------------------------------------------------

def _found(model, pk, field: str):
    """The record named by an id of the body, or a ValidationError naming the field."""
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: f"There is no {model._meta.verbose_name} {pk}."})
    return found


def _pairs(payload) -> dict:
    return {name: (getattr(payload, name).consequence, getattr(payload, name).likelihood) for name in SCORES}


def _link_out(user, risk, link_id) -> dict:
    for row in service.links_shown(user, risk):
        if row["link"].pk == link_id:
            return _link_row(row)
    raise ValidationError({"link": "The link is gone."})  # removed at once by someone else


def _link_row(row) -> dict:
    link, verdict = row["link"], row["verdict"] or {}
    return {"id": link.pk, "kind": link.kind, "key": link.key, "text": row["text"], "indicator": link.indicator,
            "verdict": verdict.get("code"), "verdict_words": verdict.get("words"), "linked_by_id": link.linked_by_id,
            "linked_at": link.linked_at}


# --- the risk -----------------------------------------------------------------------------------

@router.post("/risks", response=documented(RiskDetailOut, 201, not_found=True),
             summary="Raise a risk with its three scores (from an RCA's root cause when root_cause_id is given)")
@requires("risk.raise")
def raise_risk(request, payload: RiskRaiseIn):
    try:
        fields = {"title": payload.title, "cause": payload.cause, "event": payload.event, "effect": payload.effect,
                  "category": payload.category, "owner": _found(User, payload.owner_id, "owner_id"),
                  "review_on": payload.review_on, "scores": _pairs(payload),
                  "unit": _found(Unit, payload.unit_id, "unit_id"),
                  "facility": _found(Facility, payload.facility_id, "facility_id"),
                  "organisation": _found(Organisation, payload.organisation_id, "organisation_id")}
        if payload.root_cause_id is not None:
            risk = service.raise_from_root_cause(request.user, payload.root_cause_id, **fields)
        else:
            risk = service.raise_risk(request.user, **fields)
    except ValidationError as error:
        return refused(error)
    return Status(201, risk)


@router.get("/risks/{risk_id}", response=documented(RiskDetailOut, not_found=True),
            summary="One risk: its statement, place, level, three scores with their bands, and its moves between "
                    "levels")
@requires("risk.use_register")
def get_risk(request, risk_id: Id):
    return service.access_risk(request.user, risk_id)


@router.get("/risks/{risk_id}/scores", response=documented(list[RiskTrendRecordOut], not_found=True),
            summary="The risk's score records, oldest first: its trend")
@requires("risk.use_register")
def list_risk_scores(request, risk_id: Id):
    return list(service.score_history(service.access_risk(request.user, risk_id)))


@router.post("/risks/{risk_id}/scores", response=documented(RiskDetailOut, not_found=True, versioned=True),
             summary="Review the risk: its three scores (unchanged is a review), the next review date and a note")
@requires("risk.use_register")
def rescore_risk(request, risk_id: Id, payload: RiskRescoreIn):
    risk = service.access_risk(request.user, risk_id, "risk.edit_risk")
    try:
        return service.rescore(request.user, risk, _pairs(payload), review_on=payload.review_on, note=payload.note,
                               ver=payload.version)
    except ValidationError as error:
        return refused(error)


@router.post("/risks/{risk_id}/escalations", response=documented(RiskMoveOut, 201, not_found=True, versioned=True),
             summary="Move the risk up or down to a level, with the reason")
@requires("risk.use_register")
def escalate_risk(request, risk_id: Id, payload: RiskMoveIn):
    risk = service.access_risk(request.user, risk_id)
    try:
        move = service.escalate(request.user, risk, payload.to_level, payload.reason, ver=payload.version)
    except ValidationError as error:
        return refused(error)
    return Status(201, move)


@router.post("/risks/{risk_id}/close", response=documented(RiskDetailOut, not_found=True, versioned=True),
             summary="Close the risk, saying why")
@requires("risk.use_register")
def close_risk(request, risk_id: Id, payload: RiskCloseIn):
    risk = service.access_risk(request.user, risk_id, "risk.manage")
    try:
        return service.close_risk(request.user, risk, payload.reason, ver=payload.version)
    except ValidationError as error:
        return refused(error)


# --- controls -----------------------------------------------------------------------------------

@router.get("/risks/{risk_id}/controls", response=documented(list[RiskControlDetailOut], not_found=True),
            summary="The risk's controls in force, with their assurance and gaps")
@requires("risk.use_register")
def list_risk_controls(request, risk_id: Id):
    return list(service.access_risk(request.user, risk_id).controls.filter(retired_at=None))


@router.post("/risks/{risk_id}/controls", response=documented(RiskControlDetailOut, 201, not_found=True),
             summary="Add a control with its effect and assurance")
@requires("risk.use_register")
def add_risk_control(request, risk_id: Id, payload: RiskControlNewIn):
    risk = service.access_risk(request.user, risk_id, "risk.edit_risk")
    try:
        values = payload.model_dump(exclude={"owner_id"})
        control = service.add_control(request.user, risk, owner=_found(User, payload.owner_id, "owner_id"), **values)
    except ValidationError as error:
        return refused(error)
    return Status(201, control)


@router.post("/controls/{control_id}", response=documented(RiskControlDetailOut, not_found=True, versioned=True),
             summary="Change a control: only the fields sent")
@requires("risk.use_register")
def update_risk_control(request, control_id: Id, payload: RiskControlChangeIn):
    control = service.access_control(request.user, control_id)
    values = payload.model_dump(exclude_unset=True, exclude={"version", "owner_id"})
    try:
        if "owner_id" in payload.model_fields_set:
            values["owner"] = _found(User, payload.owner_id, "owner_id")
        return service.update_control(request.user, control, ver=payload.version, **values)
    except ValidationError as error:
        return refused(error)


@router.post("/controls/{control_id}/retirement", response=documented(RiskControlDetailOut, not_found=True,
                                                                      versioned=True),
             summary="Retire a control (kept, no longer in force)")
@requires("risk.use_register")
def retire_risk_control(request, control_id: Id, payload: RiskControlRetireIn):
    control = service.access_control(request.user, control_id)
    try:
        return service.retire_control(request.user, control, ver=payload.version)
    except ValidationError as error:
        return refused(error)


# --- links --------------------------------------------------------------------------------------

@router.get("/risks/{risk_id}/links", response=documented(list[RiskLinkShownOut], not_found=True),
            summary="The risk's links as the caller may read them (a safety record they may not open: its reference)")
@requires("risk.use_register")
def list_risk_links(request, risk_id: Id):
    return [_link_row(row) for row in service.links_shown(request.user, service.access_risk(request.user, risk_id))]


@router.post("/risks/{risk_id}/links", response=documented(RiskLinkShownOut, 201, not_found=True),
             summary="Link the risk to a record the caller may see: a safety event, RCA or root cause, a measure "
                     "(as a key risk indicator), an FMEA or a compliance finding")
@requires("risk.use_register")
def add_risk_link(request, risk_id: Id, payload: RiskLinkNewIn):
    risk = service.access_risk(request.user, risk_id, "risk.edit_risk")
    try:
        link = service.link_record(request.user, risk, payload.kind, payload.key, indicator=payload.indicator)
        return Status(201, _link_out(request.user, risk, link.pk))
    except ValidationError as error:
        return refused(error)


@router.post("/links/{link_id}/removal", response=documented(list[RiskLinkShownOut], not_found=True),
             summary="Remove a link; answers the risk's links that remain")
@requires("risk.use_register")
def remove_risk_link(request, link_id: Id):
    link = service.access_link(request.user, link_id)
    try:
        service.unlink_record(request.user, link)
    except ValidationError as error:
        return refused(error)
    return [_link_row(row) for row in service.links_shown(request.user, link.risk)]


# --- actions ------------------------------------------------------------------------------------

@router.get("/risks/{risk_id}/actions", response=documented(list[RiskTrackerActionOut], not_found=True),
            summary="The risk's actions in the shared tracker that the caller may see")
@requires("risk.use_register")
def list_risk_actions(request, risk_id: Id):
    return list(service.risk_actions(service.access_risk(request.user, risk_id), request.user))


@router.post("/risks/{risk_id}/actions", response=documented(RiskTrackerActionOut, 201, not_found=True),
             summary="Open an action in the shared tracker with the risk as its source")
@requires("risk.use_register")
def open_risk_action(request, risk_id: Id, payload: RiskActionNewIn):
    risk = service.access_risk(request.user, risk_id, "risk.edit_risk")
    try:
        action = service.open_action_for_risk(
            request.user, risk, owner=_found(User, payload.owner_id, "owner_id"), title=payload.title,
            due_date=payload.due_date, strength=payload.strength, measure=payload.measure,
            description=payload.description, unit=_found(Unit, payload.unit_id, "unit_id"))
    except ValidationError as error:
        return refused(error)
    return Status(201, action)
