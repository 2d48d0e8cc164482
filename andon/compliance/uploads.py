"""Files people upload to compliance (evidence documents, policy originals, tracer photos,
framework and assessment spreadsheets): checked for size and for what they really are (the first
bytes, not the name or the browser's word), stored under a random name, served as attachments.

Each subject says which kinds it takes; a refusal names the file and why. Spreadsheets are read
into rows here (`read_csv`, `read_workbook`), bounded before they are read: an XLSX file is a ZIP
archive whose few KB can unpack to gigabytes, and a sheet can claim a million rows it does not hold.
"""

import csv
import hashlib
import io

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.http import FileResponse

from andon.platform import inputs
from andon.platform.scrub import without_metadata

# kind -> (content type, how its first bytes look)
_ZIP = b"PK\x03\x04"
KINDS = {
    "pdf": ("application/pdf", lambda head: head.startswith(b"%PDF-")),
    "png": ("image/png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    "jpeg": ("image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff")),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             lambda head: head.startswith(_ZIP)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", lambda head: head.startswith(_ZIP)),
    "text": ("text/plain", lambda head: b"\x00" not in head),
    "csv": ("text/csv", lambda head: b"\x00" not in head),
    "yaml": ("application/yaml", lambda head: b"\x00" not in head),
}
EXTENSIONS = {"pdf": "pdf", "png": "png", "jpg": "jpeg", "jpeg": "jpeg", "docx": "docx", "xlsx": "xlsx",
              "txt": "text", "csv": "csv", "yaml": "yaml", "yml": "yaml"}
DOCUMENTS = ("pdf", "docx", "xlsx", "png", "jpeg", "text")
PHOTOS = ("jpeg", "png")
SPREADSHEETS = ("csv", "xlsx")
# The rows a spreadsheet import reads at once: a standards book of thousands of requirements, an
# assessment of 500 items in 30 units. openpyxl reads about 2,500 rows a second on a busy 2-core
# machine, so a full sheet takes some 8 s of a request's 30.
MAX_ROWS = 20_000
# The widest sheet read has 13 columns (an assessment's export); cells right of this one are not
# read at all, so that a cell in column XFD cannot make every row 16,384 cells wide.
MAX_COLUMNS = 50


class Checked:
    """An upload that passed: its bytes (photos without their metadata), kind and digest."""

    def __init__(self, name: str, kind: str, content: bytes):
        self.name = name[:200]
        self.kind = kind
        self.content_type = KINDS[kind][0]
        self.content = content
        self.size = len(content)
        self.sha256 = hashlib.sha256(content).hexdigest()

    def as_file(self) -> ContentFile:
        return ContentFile(self.content, name="upload")


def check_upload(upload, kinds, *, field: str = "file", max_bytes: int | None = None) -> Checked:
    """The upload read and checked, or a ValidationError on `field` naming the file and the reason."""
    limit = max_bytes or settings.ANDON_ATTACHMENT_MAX_BYTES
    name = getattr(upload, "name", "") or "the file"
    if upload is None:
        raise ValidationError({field: "Choose a file."})
    if upload.size > limit:
        raise ValidationError({field: f"{name} is larger than {limit // (1024 * 1024)} MB."})
    kind = EXTENSIONS.get(name.rsplit(".", 1)[-1].lower() if "." in name else "")
    allowed = ", ".join(sorted({k.upper() for k in kinds}))
    if kind not in kinds:
        raise ValidationError({field: f"{name}: only {allowed} files are taken here."})
    content = upload.read()
    if not KINDS[kind][1](content[:1024]):
        raise ValidationError({field: f"{name} does not hold what its name says ({kind.upper()})."})
    if kind in PHOTOS:
        content = without_metadata(content, KINDS[kind][0])
    return Checked(name, kind, content)


class SheetError(inputs.InputError):
    """A spreadsheet that cannot be read, and where (the row counts the header as row 1)."""

    def __init__(self, reason: str, *, row: int | None = None, sheet: str = ""):
        self.reason, self.row, self.sheet = reason, row, sheet
        place = ", ".join(part for part in (f"sheet {sheet!r}" if sheet else "", f"row {row:,}" if row else "") if part)
        super().__init__(f"{place}: {reason}" if place else reason)


def _too_many_rows(sheet: str = "") -> SheetError:
    return SheetError(f"more than {MAX_ROWS:,} rows; import at most {MAX_ROWS:,} at once (split the file, or "
                      "delete what is below the table)", sheet=sheet)


def read_csv(text: str) -> list[list[str]]:
    """The rows of a CSV text (at most MAX_ROWS), or SheetError naming the row that is not CSV."""
    # newline="": the csv module reads line ends itself, a lone carriage return among them.
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            if len(rows) == MAX_ROWS:
                raise _too_many_rows()
            rows.append(row)
    except csv.Error as error:
        raise SheetError(f"not valid CSV: {error}", row=reader.line_num) from None
    return rows


def read_workbook(data: bytes) -> dict[str, list[list]]:
    """Each sheet's rows of cell values (text, numbers, dates; a formula as the value the file
    saved with it, never run), by sheet name, or SheetError saying why the file cannot be read."""
    try:
        inputs.check_zip(data, max_unpacked=settings.ANDON_XLSX_MAX_UNPACKED_BYTES)
    except inputs.InputError as error:
        raise SheetError(f"not a workbook that can be read: {error}") from None
    from openpyxl import load_workbook

    book = None
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        return {sheet.title: _sheet_rows(sheet) for sheet in book.worksheets}
    except SheetError:
        raise
    except Exception as error:  # a damaged workbook: openpyxl raises many kinds, lazily, as it reads
        raise SheetError(f"not an XLSX workbook that can be read ({type(error).__name__})") from None
    finally:
        if book is not None:
            book.close()


def _sheet_rows(sheet) -> list[list]:
    # The size a sheet declares is not trusted: openpyxl pads every row to it and fills the rows in
    # between, so "A1:XFD1048576" over one cell would be 16,384 cells times a million rows.
    sheet.reset_dimensions()
    rows = []
    for row in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
        if len(rows) == MAX_ROWS:  # a row element numbered past the limit, blank or not
            raise _too_many_rows(sheet.title)
        cells = list(row)
        while cells and cells[-1] is None:
            cells.pop()
        rows.append(cells)
    return rows


def serve(file_field, name: str, content_type: str) -> FileResponse:
    """A stored file as a download, never shown inline (an uploaded file is not our page)."""
    return FileResponse(file_field.open("rb"), as_attachment=True, filename=name, content_type=content_type)
