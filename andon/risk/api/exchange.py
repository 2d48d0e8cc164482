"""The risk API: the register's export to CSV/XLSX and its import back, with a report by row, field and reason."""

from typing import Literal

from django.core.exceptions import ValidationError
from ninja import File, Schema, Status, UploadedFile

from andon.platform.api_kit import NamedRouter, documented, refused
from andon.platform.permissions import requires

from .. import exchange as service
from ..models import RiskStatus

router = NamedRouter("andon_risk_api_")

REGISTER_FILE = {"responses": {200: {
    "description": "One row per risk (the columns of docs/risk.md); formulas defused",
    "content": {"text/csv": {"schema": {"type": "string"}},
                service.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}}}


class RiskImportOut(Schema):
    raised: list[str]
    updated: list[str]
    unchanged: int


@router.get("/export", response={code: out for code, out in documented(None).items() if code != 200},
            openapi_extra=REGISTER_FILE, summary="The register (the risks you may see) as CSV or XLSX, to edit and "
                                                 "import back")
@requires("risk.manage")
def export_register(request, format: Literal["csv", "xlsx"] = "csv",
                    status: Literal["open", "closed", "all"] = "open"):
    return service.download(request.user, format, "" if status == "all" else RiskStatus(status))


@router.post("/import", response=documented(RiskImportOut),
             summary="Raise and update risks from a CSV or XLSX: every row checked first; with any problem nothing "
                     "is stored (the problems by row, column and reason, with status 422)")
@requires("risk.manage")
def import_register(request, file: File[UploadedFile]):
    try:
        result = service.import_register(request.user, file)
    except ValidationError as error:
        return refused(error)
    if result.problems:
        return Status(422, {"detail": [{"loc": ["file", f"row {p.row}", p.field], "msg": p.reason,
                                        "type": "value_error"} for p in result.problems]})
    return {"raised": result.raised, "updated": result.updated, "unchanged": result.unchanged}
