"""Safety events in and out as CSV: the de-identified export of the events in scope (audited) and
the import of historical events, every row checked."""

from django.core.exceptions import ValidationError
from ninja import File, Form, Schema, Status, UploadedFile
from pydantic import Field as PydanticField

from andon.platform.api_kit import Id, IsoDate, JobOut, NamedRouter, documented, refused
from andon.platform.exports import streaming_csv
from andon.platform.permissions import requires

from .. import analysis, imports
from .analysis import FACILITY, SINCE, UNIT, UNTIL, WrongFilters, filters_in_scope, wrong_filters
from .shared import taxonomy_needed

router = NamedRouter("andon_safety_api_")

class ImportProblemOut(Schema):
    row: int = PydanticField(description="The row of the file; the header is row 1")
    field: str
    reason: str


class ImportOut(Schema):
    rows: int = PydanticField(description="Rows of events checked")
    stored: int
    invalid_rows: int
    problem_count: int
    problems: list[ImportProblemOut] = PydanticField(description=f"The first {imports.PROBLEMS_SHOWN:,} problems")


CSV_RESPONSE = {"responses": {200: {
    "description": "De-identified CSV (no reporter), one event a row; formulas defused",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}}}


@router.get("/export", response={code: out for code, out in documented(None).items() if code != 200},  # the refusals
            openapi_extra=CSV_RESPONSE, summary="De-identified CSV of the events in scope (the export is audited)")
@requires("safety.export_events")
def export_events(request, since: IsoDate | None = SINCE, until: IsoDate | None = UNTIL,
                  facility: Id | None = FACILITY, unit: Id | None = UNIT):
    # As the page's export: the filters in the export scope, record_export, spreadsheet-safe cells.
    try:
        filters = filters_in_scope(request.user, analysis.EXPORT, since, until, facility, unit)
    except WrongFilters as error:
        return wrong_filters(error)
    tax = taxonomy_needed()
    count, ids = analysis.record_export(request.user, filters)
    return streaming_csv(analysis.EXPORT_COLUMNS, analysis.export_rows(ids, tax), analysis.export_filename(),
                         count=count)


@router.post("/imports", response={**documented(ImportOut), 202: JobOut},
             summary="Import historical events from CSV: every row is checked; nothing is stored from a file with "
                     "problems unless accept_valid is true (then only its valid rows). A file of more than "
                     "ANDON_IMPORT_JOB_ROWS rows is imported by a background job (202): its result, at "
                     "/api/jobs/{id}, has the same fields")
@requires("safety.import_events")
def import_events(request, file: File[UploadedFile], accept_valid: Form[bool] = False):
    try:
        if file.size > imports.MAX_BYTES:
            raise imports.ImportFileError(
                f"The file is larger than {imports.MAX_BYTES // (1024 * 1024)} MB ({file.size:,} bytes).")
        taxonomy_needed()
        data = file.read()
        if job := imports.queue_if_large(request.user, data, file.name or "the file", accept_valid=accept_valid):
            return Status(202, job)
        outcome = imports.import_file(request.user, data, accept_valid=accept_valid)
    except imports.ImportFileError as problem:
        return refused(ValidationError({"file": str(problem)}))
    return imports.report(outcome.checked, stored=len(outcome.stored))
