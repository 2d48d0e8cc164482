"""The risk API: FMEA and HFMEA: the register of proactive assessments by year, an assessment with
its process, failure modes, causes, scoring and actions, and the FMEA settings. The same services
and policy as the pages."""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from ninja import Schema, Status
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform.api_kit import Body, Flag, Id, IsoDate, NamedRouter, Pages, Version, documented, refused
from andon.platform.concurrency import Stale
from andon.platform.models import Facility, Organisation, Unit, User
from andon.platform.permissions import requires

from .. import fmea as service

router = NamedRouter("andon_risk_api_")

Stage = Literal["initial", "after", "revised"]
Text = Annotated[str, PydanticField(max_length=4000)]
Scale = Annotated[list[Annotated[str, PydanticField(max_length=300)]], PydanticField(min_length=10, max_length=10)]
Span = Annotated[list[Annotated[int, PydanticField(ge=1, le=10)]], PydanticField(min_length=2, max_length=2)]


# --- answers ------------------------------------------------------------------------------------

class RiskAssessmentOut(Schema):
    id: int
    reference: str
    title: str
    scope: str
    method: str
    priority_method: str
    rpn_threshold: int | None
    severity_threshold: int | None
    organisation_id: int
    facility_id: int | None
    unit_id: int | None
    leader_id: int
    team_ids: list[int]
    status: str
    year: int
    started_on: date
    completed_on: date | None
    version: int

    @staticmethod
    def resolve_team_ids(assessment):
        return sorted(person.pk for person in assessment.team.all())


class RiskDecisionOut(Schema):
    question: str
    answer: bool


class RiskCauseScoringOut(Schema):
    stage: str
    severity: int | None
    occurrence: int | None
    detection: int | None
    rpn: int | None
    priority: str
    hazard_severity: int | None
    hazard_probability: int | None
    hazard_score: int | None
    decision: list[RiskDecisionOut] = PydanticField(description="HFMEA: each question of the tree reached, answered")
    act: bool
    act_reason: str
    by_id: int
    at: datetime
    note: str

    @staticmethod
    def resolve_decision(scoring):
        return [{"question": question, "answer": answer} for question, answer in scoring.decision]


class RiskCauseOut(Schema):
    id: int
    position: int
    description: str
    current_controls: str
    severity: int | None
    occurrence: int | None
    detection: int | None
    rpn: int | None
    priority: str = PydanticField(description="Action Priority H, M or L, when the assessment uses it")
    hazard_severity: int | None
    hazard_probability: int | None
    hazard_score: int | None
    single_point_weakness: bool | None
    effective_control: bool | None
    obvious: bool | None
    outcome_measure: str
    act: bool | None = PydanticField(description="Acted on; null until scored")
    act_reason: str
    before: RiskCauseScoringOut | None = PydanticField(description="The first scoring before actions")
    after: RiskCauseScoringOut | None = PydanticField(description="The latest scoring after actions")
    scorings: list[RiskCauseScoringOut]
    action_ids: list[int] = PydanticField(description="Its actions in the shared tracker")
    version: int

    @staticmethod
    def resolve_before(cause):
        return service.scores_before_after(cause)[0]

    @staticmethod
    def resolve_after(cause):
        return service.scores_before_after(cause)[1]

    @staticmethod
    def resolve_scorings(cause):
        return list(cause.scorings.all())

    @staticmethod
    def resolve_action_ids(cause):
        tracked = getattr(cause, "tracked_actions", None)  # read with the worksheet
        return [action.pk for action in (service.cause_actions(cause) if tracked is None else tracked)]


class RiskFailureModeOut(Schema):
    id: int
    position: int
    description: str
    effect: str
    causes: list[RiskCauseOut]


class RiskStepOut(Schema):
    id: int
    label: str = PydanticField(description="1, 2, 2.1 (FMEA) or 1, 2, 2a (HFMEA)")
    parent_id: int | None
    position: int
    text: str
    failure_modes: list[RiskFailureModeOut]


class RiskAssessmentDetailOut(RiskAssessmentOut):
    steps: list[RiskStepOut] = PydanticField(description="In order: each step, then its sub-steps")

    @staticmethod
    def resolve_steps(assessment):
        return _steps(assessment)


class RiskAssessmentYearOut(Schema):
    year: int
    started: int
    completed: int
    assessment_ids: list[int]


class RiskCauseActionOut(Schema):
    id: int
    title: str
    source_label: str
    unit_id: int
    owner_id: int
    due_date: date
    strength: str
    measure: str
    status: str


class RiskPriorityRowOut(Schema):
    severity: list[int]
    occurrence: list[int]
    detection: list[int]
    priority: str


class RiskFmeaSettingsOut(Schema):
    organisation_id: int
    rpn_threshold: int | None
    severity_threshold: int | None
    scales: dict[str, list[str]] = PydanticField(description="severity, occurrence, detection: ten words each, 1 first")
    action_priority: list[RiskPriorityRowOut]
    updated_by_id: int | None
    updated_at: datetime
    version: int


# --- requests -----------------------------------------------------------------------------------

class RiskAssessmentIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    scope: Text = ""
    method: Literal["fmea", "hfmea"]
    priority_method: Literal["rpn", "ap"] = "rpn"
    organisation_id: Id | None = None
    facility_id: Id | None = None
    unit_id: Id | None = None
    leader_id: Id
    team_ids: list[Id] = PydanticField(default_factory=list, max_length=100)


class RiskStepIn(Body):
    text: Annotated[str, PydanticField(min_length=1, max_length=300)]
    parent_id: Id | None = PydanticField(None, description="A step of the assessment: the new step is its sub-step")


class RiskFailureModeIn(Body):
    description: Annotated[str, PydanticField(min_length=1, max_length=500)]
    effect: Annotated[str, PydanticField(max_length=2000)] = ""


class RiskCauseIn(Body):
    description: Annotated[str, PydanticField(min_length=1, max_length=500)]
    current_controls: Annotated[str, PydanticField(max_length=2000)] = ""


class RiskCauseScoreIn(Body):
    severity: int = PydanticField(description="1–10; out of range: 400 naming it")
    occurrence: int = PydanticField(description="1–10")
    detection: int = PydanticField(description="1–10, scored inversely: 10 = unlikely to be caught")
    stage: Stage = "initial"
    note: Annotated[str, PydanticField(max_length=2000)] = ""
    version: Version = None


class RiskHazardScoreIn(Body):
    severity: int = PydanticField(description="1 Minor to 4 Catastrophic; out of range: 400 naming it")
    probability: int = PydanticField(description="1 Remote to 4 Frequent")
    single_point_weakness: Flag | None = None
    effective_control: Flag | None = PydanticField(None, description="Asked unless the tree stopped before it")
    obvious: Flag | None = None
    stage: Stage = "initial"
    note: Annotated[str, PydanticField(max_length=2000)] = ""
    version: Version = None


class RiskCauseActionIn(Body):
    title: Annotated[str, PydanticField(min_length=1, max_length=200)]
    owner_id: Id
    due_date: IsoDate
    strength: Literal["stronger", "intermediate", "weaker"]
    measure: Annotated[str, PydanticField(min_length=1, max_length=2000)] = PydanticField(
        description="How the action's effect is measured (an HFMEA's outcome measure)")
    description: Text = ""
    unit_id: Id | None = PydanticField(None, description="For an assessment placed in no unit")


class RiskTeamMemberIn(Body):
    person_id: Id


class RiskAssessmentVersionIn(Body):
    version: Version = None


class RiskFmeaScalesIn(Body):
    severity: Scale
    occurrence: Scale
    detection: Scale


class RiskPriorityRowIn(Body):
    severity: Span
    occurrence: Span
    detection: Span
    priority: Literal["H", "M", "L"]


class RiskFmeaSettingsIn(Body):
    rpn_threshold: Annotated[int, PydanticField(ge=1, le=1000)] | None
    severity_threshold: Annotated[int, PydanticField(ge=1, le=10)] | None
    scales: RiskFmeaScalesIn | None = PydanticField(None, description="Left out: kept as they are")
    action_priority: list[RiskPriorityRowIn] | None = PydanticField(
        None, max_length=1000, description="Every S, O, D combination exactly once; [] empties it; left out: kept")
    version: Version = None


# --- helpers ------------------------------------------------------------------------------------

# Where a score's service names its field, and the name the body gives it.
SCORE_FIELDS = {"severity": "severity", "occurrence": "occurrence", "detection": "detection",
                "hazard_severity": "severity", "hazard_probability": "probability",
                "single_point_weakness": "single_point_weakness", "effective_control": "effective_control",
                "obvious": "obvious"}


def _score_refused(error: ValidationError):
    """A score out of range, or a question of the tree left unanswered: 400 naming the field;
    any other refusal as every operation answers it (422, or 409 for a stale version)."""
    if isinstance(error, Stale) or not hasattr(error, "error_dict"):
        return refused(error)
    named = [f"{SCORE_FIELDS[name]}: {message}" for name, found in error.message_dict.items() if name in SCORE_FIELDS
             for message in found]
    return Status(400, {"detail": "; ".join(named)}) if named else refused(error)


def _person(person_id, field: str):
    person = User.objects.filter(pk=person_id).first()
    if person is None:
        raise ValidationError({field: f"No person {person_id}."})
    return person


def _place(payload: RiskAssessmentIn) -> dict:
    named = [(name, model, key) for name, model, key in (
        ("unit", Unit, payload.unit_id), ("facility", Facility, payload.facility_id),
        ("organisation", Organisation, payload.organisation_id)) if key is not None]
    if len(named) != 1:
        raise ValidationError({"unit_id": "Name one of organisation_id, facility_id or unit_id."})
    name, model, key = named[0]
    place = model.objects.filter(pk=key).first()
    if place is None:
        raise ValidationError({f"{name}_id": f"No {name} {key}."})
    return {name: place}


def _steps(assessment) -> list[dict]:
    return [{"id": part["step"].pk, "label": part["label"], "parent_id": part["step"].parent_id,
             "position": part["step"].position, "text": part["step"].text,
             "failure_modes": [_mode(entry["mode"], entry["causes"]) for entry in part["modes"]]}
            for node in service.worksheet(assessment) for part in (node, *node["substeps"])]


def _mode(mode, causes) -> dict:
    return {"id": mode.pk, "position": mode.position, "description": mode.description, "effect": mode.effect,
            "causes": causes}


# --- the register and assessments ---------------------------------------------------------------

def _answered(change, status: int = 200, refuse=refused):
    """What the service call `change()` gives (with `status`), or its refusal as the API says it."""
    try:
        found = change()
    except ValidationError as error:
        return refuse(error)
    return Status(status, found)


@router.get("/assessments", response=documented(list[RiskAssessmentOut]),
            summary="Proactive risk assessments (FMEA, HFMEA) the caller may see")
@requires("risk.use_assessments")
@paginate(Pages)
def list_assessments(request, year: Annotated[int, PydanticField(ge=1900, le=2199)] | None = None,
                     status: Literal["planning", "analysing", "acting", "completed"] | None = None,
                     method: Literal["fmea", "hfmea"] | None = None):
    found = service.visible_assessments(request.user).prefetch_related("team").order_by("-year", "reference")
    for name, value in (("year", year), ("status", status), ("method", method)):
        if value is not None:
            found = found.filter(**{name: value})
    return found


@router.get("/assessments/by-year", response=documented(list[RiskAssessmentYearOut]),
            summary="The register of proactive assessments: per year, how many were started and completed")
@requires("risk.use_assessments")
def assessments_by_year(request):
    return [{"year": row["year"], "started": row["started"], "completed": row["completed"],
             "assessment_ids": [found.pk for found in row["assessments"]]}
            for row in service.assessments_by_year(request.user)]


@router.post("/assessments", response=documented(RiskAssessmentOut, 201),
             summary="Start an assessment of a process (its leader and team from the organisation's staff)")
@requires("risk.lead_fmea")
def start_assessment(request, payload: RiskAssessmentIn):
    def start():
        team = list(User.objects.filter(pk__in=payload.team_ids))
        if len(team) != len(set(payload.team_ids)):
            raise ValidationError({"team_ids": "One of the people does not exist."})
        return service.start_assessment(
            request.user, title=payload.title, method=payload.method, scope=payload.scope,
            priority_method=payload.priority_method, leader=_person(payload.leader_id, "leader_id"), team=team,
            **_place(payload))

    return _answered(start, 201)


@router.get("/assessments/{assessment_id}", response=documented(RiskAssessmentDetailOut, not_found=True),
            summary="One assessment with its steps, failure modes, causes, scores (before and after the "
                    "actions) and actions")
@requires("risk.use_assessments")
def get_assessment(request, assessment_id: Id):
    return service.access_assessment(request.user, assessment_id)


@router.post("/assessments/{assessment_id}/steps", response=documented(RiskStepOut, 201, not_found=True),
             summary="Add a step to the process, or a sub-step under one of its steps")
@requires("risk.use_assessments")
def add_step(request, assessment_id: Id, payload: RiskStepIn):
    assessment = service.access_assessment(request.user, assessment_id, "risk.work_on_assessment")

    def add():
        parent = assessment.steps.filter(pk=payload.parent_id).first() if payload.parent_id else None
        if payload.parent_id and parent is None:
            raise ValidationError({"parent_id": f"The assessment has no step {payload.parent_id}."})
        step = service.add_step(request.user, assessment, payload.text, parent=parent)
        return {"id": step.pk, "label": service.step_label(step), "parent_id": step.parent_id,
                "position": step.position, "text": step.text, "failure_modes": []}

    return _answered(add, 201)


@router.post("/steps/{step_id}/failure-modes", response=documented(RiskFailureModeOut, 201, not_found=True),
             summary="Add a failure mode (how the step could fail) and its effect")
@requires("risk.use_assessments")
def add_failure_mode(request, step_id: Id, payload: RiskFailureModeIn):
    step = service.access_step(request.user, step_id, "risk.work_on_assessment")
    return _answered(lambda: _mode(service.add_failure_mode(request.user, step, payload.description, payload.effect),
                                   []), 201)


@router.post("/failure-modes/{mode_id}/causes", response=documented(RiskCauseOut, 201, not_found=True),
             summary="Add a cause of a failure mode, with the controls in place now")
@requires("risk.use_assessments")
def add_cause(request, mode_id: Id, payload: RiskCauseIn):
    mode = service.access_failure_mode(request.user, mode_id, "risk.work_on_assessment")
    return _answered(lambda: service.add_cause(request.user, mode, payload.description, payload.current_controls), 201)


@router.post("/causes/{cause_id}/scores", response=documented(RiskCauseOut, not_found=True, versioned=True),
             summary="Score an FMEA row: severity, occurrence and detection (1–10); the answer says whether it "
                     "is acted on and why (a score out of range: 400 naming it)")
@requires("risk.use_assessments")
def score_cause(request, cause_id: Id, payload: RiskCauseScoreIn):
    cause = service.access_cause(request.user, cause_id, "risk.work_on_assessment")
    return _answered(lambda: service.score_cause(
        request.user, cause, severity=payload.severity, occurrence=payload.occurrence, detection=payload.detection,
        stage=payload.stage, note=payload.note, ver=payload.version), refuse=_score_refused)


@router.post("/causes/{cause_id}/hazard-scores", response=documented(RiskCauseOut, not_found=True, versioned=True),
             summary="Score an HFMEA row: severity and probability (1–4) and the decision tree's answers; the "
                     "answer says Proceed or Stop (a score out of range or a question reached unanswered: 400)")
@requires("risk.use_assessments")
def score_hazard(request, cause_id: Id, payload: RiskHazardScoreIn):
    cause = service.access_cause(request.user, cause_id, "risk.work_on_assessment")
    return _answered(lambda: service.score_hazard(
        request.user, cause, severity=payload.severity, probability=payload.probability,
        single_point_weakness=payload.single_point_weakness, effective_control=payload.effective_control,
        obvious=payload.obvious, stage=payload.stage, note=payload.note, ver=payload.version), refuse=_score_refused)


@router.post("/causes/{cause_id}/actions", response=documented(RiskCauseActionOut, 201, not_found=True),
             summary="Add an action for a row acted on, in the shared tracker")
@requires("risk.use_assessments")
def add_action(request, cause_id: Id, payload: RiskCauseActionIn):
    cause = service.access_cause(request.user, cause_id, "risk.work_on_assessment")

    def act():
        unit = None
        if payload.unit_id is not None:
            unit = Unit.objects.select_related("facility").filter(pk=payload.unit_id).first()
            if unit is None:
                raise ValidationError({"unit_id": f"No unit {payload.unit_id}."})
        return service.cause_action(
            request.user, cause, title=payload.title, owner=_person(payload.owner_id, "owner_id"),
            due_date=payload.due_date, strength=payload.strength, measure=payload.measure,
            description=payload.description, unit=unit)

    return _answered(act, 201)


@router.post("/assessments/{assessment_id}/team", response=documented(RiskAssessmentOut, not_found=True),
             summary="Add a member of the organisation's staff to the team (its leader, or one who leads "
                     "assessments there)")
@requires("risk.use_assessments")
def add_team_member(request, assessment_id: Id, payload: RiskTeamMemberIn):
    assessment = service.access_assessment(request.user, assessment_id)
    return _answered(lambda: service.add_team_member(request.user, assessment,
                                                     _person(payload.person_id, "person_id")))


@router.post("/assessments/{assessment_id}/complete",
             response=documented(RiskAssessmentOut, not_found=True, versioned=True),
             summary="Complete an assessment: every cause scored and every row acted on with an action (else "
                     "422 naming each row)")
@requires("risk.use_assessments")
def complete_assessment(request, assessment_id: Id, payload: RiskAssessmentVersionIn):
    assessment = service.access_assessment(request.user, assessment_id)
    return _answered(lambda: service.complete_assessment(request.user, assessment, payload.version))


@router.post("/assessments/{assessment_id}/reopen",
             response=documented(RiskAssessmentOut, not_found=True, versioned=True),
             summary="Reopen a completed assessment")
@requires("risk.use_assessments")
def reopen_assessment(request, assessment_id: Id, payload: RiskAssessmentVersionIn):
    assessment = service.access_assessment(request.user, assessment_id)
    return _answered(lambda: service.reopen_assessment(request.user, assessment, payload.version))


# --- settings -----------------------------------------------------------------------------------

@router.get("/fmea-settings", response=documented(RiskFmeaSettingsOut),
            summary="The organisation's FMEA settings: thresholds, scale words, Action Priority table")
@requires("risk.use_assessments")
def get_fmea_settings(request):
    return service.fmea_settings(service.organisation_for_settings(request.user))


@router.put("/fmea-settings", response=documented(RiskFmeaSettingsOut, versioned=True),
            summary="Change the organisation's FMEA settings (a table with gaps or overlaps: 422 naming the "
                    "combination); assessments already started keep their thresholds")
@requires("risk.configure")
def put_fmea_settings(request, payload: RiskFmeaSettingsIn):
    organisation = service.organisation_for_settings(request.user, "risk.configure")
    return _answered(lambda: service.change_fmea_settings(
        request.user, organisation, rpn_threshold=payload.rpn_threshold, severity_threshold=payload.severity_threshold,
        scales=payload.scales.model_dump() if payload.scales else None,
        action_priority_rows=None if payload.action_priority is None else [
            row.model_dump() for row in payload.action_priority],
        ver=payload.version))
