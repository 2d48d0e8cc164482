"""Survey data and scores over the API: question sets, column mappings, the import of a vendor
file (the same report as the page; a big file as a background job), the imports, and the scores;
under the same policy and services as the pages."""

from datetime import date
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.http import Http404
from ninja import File, Form, Schema, Status, UploadedFile
from ninja.pagination import paginate
from pydantic import Field as PydanticField

from andon.platform import inputs
from andon.platform.api_kit import Body, Id, JobOut, NamedRouter, Pages, documented, refused
from andon.platform.models import Unit
from andon.platform.permissions import requires

from .. import scores, surveys
from ..models import SurveyMapping

router = NamedRouter("andon_voice_api_surveys_")
Month = Annotated[str, PydanticField(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]
Column = Annotated[str, PydanticField(min_length=1, max_length=200)]
Target = Annotated[str, PydanticField(max_length=80)]


class SurveyQuestionOut(Schema):
    key: str
    text: str
    answers: dict[str, str] = PydanticField(description="answer code -> words")
    top: list[str] = PydanticField(description="The top-box codes")
    measure: str


class SurveyCompositeOut(Schema):
    key: str
    title: str
    questions: list[str]
    measure: str


class SurveyQuestionSetOut(Schema):
    key: str
    version: str
    title: str
    questions: list[SurveyQuestionOut]
    composites: list[SurveyCompositeOut]
    comment_questions: dict[str, str]


class SurveyMappingOut(Schema):
    id: int
    name: str
    question_set: str
    columns: dict[str, str] = PydanticField(description="file column -> field (survey_id, discharge_date, unit, "
                                                        "service_line, comment, a stratum, q:<question key>)")


class SurveyMappingIn(Body):
    name: Annotated[str, PydanticField(min_length=1, max_length=surveys.NAME_MAX)]
    question_set: Annotated[str, PydanticField(min_length=1, max_length=60)] = surveys.DEFAULT_SET
    columns: dict[Column, Target] = PydanticField(max_length=500)


class SurveyProblemOut(Schema):
    row: int = PydanticField(description="The row of the file; the header is row 1")
    field: str = PydanticField(description="The file's column; empty: the row or the file")
    reason: str


class SurveyImportReportOut(Schema):
    filename: str
    rows_read: int
    rows_imported: int
    rows_already_imported: int
    comments: int
    problems: list[SurveyProblemOut] = PydanticField(description=f"The first {surveys.PROBLEMS_SHOWN} problems; "
                                                                 "any problem: nothing was stored")
    more_problems: int
    import_id: int | None
    measures_fed: list[str]


class SurveyImportOut(Schema):
    id: int
    filename: str
    sha256: str
    question_set: str
    question_set_version: str
    mapping_id: int | None
    imported_by: str
    imported_at: str
    rows_read: int
    rows_imported: int
    rows_already_imported: int

    @staticmethod
    def resolve_imported_by(record):
        return str(record.imported_by)

    @staticmethod
    def resolve_imported_at(record):
        return record.imported_at.isoformat()


class SurveyScoreOut(Schema):
    key: str
    title: str
    kind: str
    top: int
    valid: int
    n: int
    share: float | None = PydanticField(description="0 to 1; null: no answers")
    warning: str
    measure: str
    questions: list["SurveyScoreOut"] = []


class SurveyScoresOut(Schema):
    question_set: str
    first: date
    last: date
    scope: str
    dimension: str
    value: str
    surveys: int
    minimum: int
    adjusted: bool = PydanticField(False, description="Always false: shares as answered, not adjusted for patient mix "
                                                      "or mode")
    composites: list[SurveyScoreOut]
    questions: list[SurveyScoreOut]


def _question_set_out(found) -> dict:
    return {"key": found.key, "version": found.version, "title": found.title,
            "questions": [{"key": q.key, "text": q.text, "answers": q.answers, "top": sorted(q.top), "measure": q.measure}
                          for q in found.questions.values()],
            "composites": [{"key": c.key, "title": c.title, "questions": list(c.questions), "measure": c.measure}
                           for c in found.composites],
            "comment_questions": found.comment_questions}


@router.get("/surveys/question-sets", response=documented(list[SurveyQuestionSetOut]),
            summary="The survey question sets loaded (questions, answer codes, top box, composites)")
@requires(surveys.VIEW)
def list_question_sets(request):
    return [_question_set_out(found) for found in surveys.question_sets()]


@router.get("/surveys/mappings", response=documented(list[SurveyMappingOut]), summary="Saved column mappings")
@requires(surveys.VIEW)
@paginate(Pages)
def list_mappings(request):
    return SurveyMapping.objects.order_by("name", "pk")


@router.post("/surveys/mappings", response=documented(SurveyMappingOut, 201), summary="Save a column mapping")
@requires(surveys.CONFIGURE)
def create_mapping(request, body: SurveyMappingIn):
    try:
        found = surveys.create_mapping(request.user, name=body.name, columns=body.columns,
                                       question_set_key=body.question_set)
    except ValidationError as error:
        return refused(error)
    return Status(201, found)


@router.put("/surveys/mappings/{mapping_id}", response=documented(SurveyMappingOut, not_found=True),
            summary="Change a column mapping (its name and columns)")
@requires(surveys.CONFIGURE)
def update_mapping(request, mapping_id: Id, body: SurveyMappingIn):
    mapping = surveys.access_mapping(request.user, mapping_id)
    try:
        return surveys.save_mapping(request.user, mapping, name=body.name, columns=body.columns)
    except ValidationError as error:
        return refused(error)


@router.post("/surveys/imports", response={**documented(SurveyImportReportOut, not_found=True), 202: JobOut},
             summary="Import a vendor's CSV of returned surveys through a saved mapping: a file with any problem "
                     "stores nothing and the answer lists each by row and field (200, import_id null); surveys "
                     "imported before are counted, not imported again. A file of more than ANDON_IMPORT_JOB_ROWS "
                     "rows is imported by a background job (202)")
@requires(surveys.IMPORT)
def import_file(request, mapping_id: Form[Id], file: File[UploadedFile]):
    mapping = surveys.access_mapping(request.user, mapping_id, surveys.IMPORT)
    try:
        if file.size > surveys.MAX_BYTES:
            raise inputs.InputError(f"larger than {surveys.MAX_BYTES // (1024 * 1024)} MB")
        text = inputs.utf8_text(file.read())
    except inputs.InputError as problem:
        return refused(ValidationError({"file": str(problem)}))
    name = file.name or "survey file"
    if job := surveys.queue_survey_import(request.user, mapping, text, name):
        return Status(202, job)
    return surveys.import_survey_file(request.user, mapping, text, name).as_dict()


@router.get("/surveys/imports", response=documented(list[SurveyImportOut]), summary="Survey imports, newest first")
@requires(surveys.VIEW)
@paginate(Pages)
def list_imports(request):
    return surveys.visible_imports(request.user)


@router.get("/surveys/imports/{import_id}", response=documented(SurveyImportOut, not_found=True),
            summary="One survey import")
@requires(surveys.VIEW)
def get_import(request, import_id: Id):
    return surveys.access_import(request.user, import_id)


def _score_out(row) -> dict:
    return {"key": row.key, "title": row.title, "kind": row.kind, "top": row.top, "valid": row.valid, "n": row.n,
            "share": row.share, "warning": row.warning, "measure": row.measure,
            "questions": [_score_out(q) for q in row.questions]}


@router.get("/surveys/scores", response=documented(SurveyScoresOut, not_found=True),
            summary="Top-box scores (unadjusted) of the discharge months first..last in the caller's units (or "
                    "unit_id and below it), for everyone or one service line or stratum value")
@requires(scores.VIEW)
def get_scores(request, first: Month, last: Month, unit_id: Id | None = None,
               dimension: Literal["", "service_line", "age_band", "sex", "race", "ethnicity", "payer"] = "",
               value: Annotated[str, PydanticField(max_length=80)] = "", question_set: Annotated[str, PydanticField(
                   max_length=60)] = surveys.DEFAULT_SET):
    unit = None
    if unit_id is not None:
        unit = Unit.objects.filter(pk=unit_id).first()
        if unit is None:
            raise Http404("no such unit")
    try:
        table = scores.score_table(request.user, question_set_key=question_set, first=inputs.month(first),
                                   last=inputs.month(last), unit=unit, dimension=dimension, value=value)
    except inputs.InputError as problem:
        return refused(ValidationError({"first": str(problem)}))
    except ValidationError as error:
        return refused(error)
    return {"question_set": table.question_set, "first": table.first, "last": table.last, "scope": table.scope,
            "dimension": table.breakdown, "value": table.value, "surveys": table.surveys, "minimum": table.minimum,
            "adjusted": False, "composites": [_score_out(r) for r in table.composites],
            "questions": [_score_out(r) for r in table.questions]}
