"""Risk: the register's exchange with spreadsheets. The register exports to CSV or XLSX (every
cell spreadsheet-safe: platform/exports.py) and an edited export, or a sheet of new risks, imports
back:

- a row without a reference raises a risk (`raise_risk`, with its rules: the owner reads risks
  where it sits, the review date is ahead, the scores fit the matrix and fall from inherent to
  target);
- a row with a reference updates that risk's title, statement and category, its review date, and
  its three scores: a change of score is kept in its trend as an "imported" ScoreRecord; a row
  that changes nothing leaves the risk alone. An import does not move a risk, change its owner,
  escalate or close it (those say who and why on the risk's page): `level`, `status` and
  `controls` are read-only columns, and a changed place or owner is a problem of the row.

Every row is checked, and the report names each problem by row (the header is row 1), column and
reason; with any problem nothing is stored (one transaction, rolled back). docs/risk.md."""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponse
from django.utils import timezone

from andon.platform import audit, inputs, permissions
from andon.platform.concurrency import lock
from andon.platform.exports import spreadsheet_safe, streaming_csv
from andon.platform.models import Facility, Organisation, Unit, User

from .matrix import SCORES, matrix_of, matrix_row, record_scores, scored
from .models import Category, Risk, RiskStatus, ScoreReason
from .register import _clean_review_on, _clean_texts, raise_risk, visible_risks
from .scoring import ScoringError

__all__ = ["EXPORT_COLUMNS", "ImportProblem", "ImportResult", "download", "export_rows", "export_xlsx",
           "import_register", "read_table"]

SCORE_PARTS = ("consequence", "likelihood", "score", "band")
EXPORT_COLUMNS = ["reference", "title", "cause", "event", "effect", "category", "facility", "unit", "owner", "level",
                  *[f"{name}_{part}" for name in SCORES for part in SCORE_PARTS], "review_on", "status", "controls"]
REQUIRED_COLUMNS = ("title", "cause", "event", "effect", "category", "facility", "unit", "owner",
                    *[f"{name}_{part}" for name in SCORES for part in ("consequence", "likelihood")], "review_on")
TEXTS = ("title", "cause", "event", "effect")
MAX_BYTES = 5 * 1024 * 1024
# Columns of a sheet read: the export's and as many more, which the header's check names as unknown;
# a cell in column XFD does not make every row 16,384 cells wide.
MAX_COLUMNS = 2 * len(EXPORT_COLUMNS)
KINDS = {"csv": lambda head: b"\x00" not in head, "xlsx": lambda head: head.startswith(b"PK\x03\x04")}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- export ---------------------------------------------------------------------------------------

def export_rows(user, status: str = RiskStatus.OPEN):
    """The risks the user may see (open, closed, or all with status ""), one dict a row, by reference."""
    if status and status not in RiskStatus.values:
        raise ValidationError({"status": f"{status!r} is not a status; choose open, closed or all."})
    risks = visible_risks(user).filter(**({"status": status} if status else {}))
    risks = (risks.select_related("owner", "facility", "unit").order_by("reference")
             .annotate(live_controls=Count("controls", filter=Q(controls__retired_at=None))))
    return (_export_row(risk) for risk in risks.iterator(chunk_size=1000))


def _export_row(risk: Risk) -> dict:
    row = {"reference": risk.reference, "category": risk.category, "owner": risk.owner.username,
           "facility": risk.facility.code if risk.facility else "", "unit": risk.unit.code if risk.unit else "",
           "level": risk.level, "review_on": risk.review_on.isoformat(), "status": risk.status,
           "controls": risk.live_controls}
    row.update({name: getattr(risk, name) for name in TEXTS})
    row.update({f"{name}_{part}": getattr(risk, f"{name}_{part}") for name in SCORES for part in SCORE_PARTS})
    return row


def export_xlsx(rows) -> bytes:
    """The rows as a workbook: numbers stay numbers, every text is spreadsheet-safe (no formula runs)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Risks")
    sheet.append(EXPORT_COLUMNS)
    for row in rows:
        sheet.append([row[c] if isinstance(row[c], int) else spreadsheet_safe(row[c]) for c in EXPORT_COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def download(user, kind: str, status: str):
    """The export as a download: `kind` csv (streamed) or xlsx, never cached."""
    if kind not in ("csv", "xlsx"):
        raise ValidationError({"format": f"{kind!r} is not a format; choose csv or xlsx."})
    rows = export_rows(user, status)
    name = f"risk-register-{timezone.localdate():%Y-%m-%d}.{kind}"
    if kind == "csv":
        return streaming_csv(EXPORT_COLUMNS, rows, name)
    response = HttpResponse(export_xlsx(rows), content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- reading a file -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportProblem:
    row: int  # the header is row 1
    field: str
    reason: str


@dataclass
class ImportResult:
    raised: list = field(default_factory=list)  # references of the risks raised
    updated: list = field(default_factory=list)  # references of the risks changed
    unchanged: int = 0
    problems: list = field(default_factory=list)  # [ImportProblem]; any, and nothing is stored


def read_table(upload) -> list[dict]:
    """The rows of an uploaded CSV or XLSX (size, type and header checked) as dicts of text, each
    with its row number (`_row`); a ValidationError on `file` says what is wrong with the file."""
    name = getattr(upload, "name", "") or "the file"
    kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind not in KINDS:
        raise ValidationError({"file": f"{name}: only CSV and XLSX files are taken here."})
    if upload.size > MAX_BYTES:
        raise ValidationError({"file": f"{name} is larger than {MAX_BYTES // (1024 * 1024)} MB."})
    content = upload.read()
    if not KINDS[kind](content[:1024]):
        raise ValidationError({"file": f"{name} does not hold what its name says ({kind.upper()})."})
    records = _xlsx_records(name, content) if kind == "xlsx" else _csv_records(name, content)
    header = _header(name, records)
    try:
        rows = inputs.table_rows(header, records[1:])
    except inputs.InputError as problem:
        raise ValidationError({"file": f"{name}: {problem}."}) from None
    if not rows:
        raise ValidationError({"file": f"{name} has a header but no risks."})
    return rows


def _row_limit() -> int:
    return settings.ANDON_IMPORT_JOB_ROWS


def _csv_records(name: str, content: bytes) -> list[list[str]]:
    try:
        text = inputs.utf8_text(content)
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except inputs.InputError as problem:
        raise ValidationError({"file": f"{name} is {problem}. Save it as 'CSV UTF-8'."}) from None
    except csv.Error as problem:
        raise ValidationError({"file": f"{name} is not valid CSV: {problem}."}) from None
    _check_length(name, records)
    return [[_cell(value) for value in record] for record in records]


def _xlsx_records(name: str, content: bytes) -> list[list[str]]:
    """The first sheet's rows, the archive checked before anything unpacks it (a few KB can unpack
    to gigabytes) and the sheet read as the rows and columns it holds, not the size it claims."""
    from openpyxl import load_workbook

    try:
        inputs.check_zip(content, max_unpacked=settings.ANDON_XLSX_MAX_UNPACKED_BYTES)
    except inputs.InputError as problem:
        raise ValidationError({"file": f"{name} cannot be read as a workbook: {problem}."}) from None
    records, book = [], None
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # openpyxl would pad every row to a claimed A1:XFD1048576
        for values in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True):
            records.append([_cell(value) for value in values])
            _check_length(name, records)  # a sheet is read row by row: stop as soon as it is too long
    except ValidationError:
        raise
    except Exception as error:  # a damaged workbook: openpyxl raises many kinds
        raise ValidationError({"file": f"{name} cannot be read as a workbook ({type(error).__name__})."}) from None
    finally:
        if book is not None:
            book.close()
    return records


def _check_length(name: str, records: list) -> None:
    if len(records) > _row_limit() + 1:
        raise ValidationError({"file": f"{name} has more than {_row_limit():,} rows of risks; import at most "
                                       f"{_row_limit():,} at once (split the file)."})


def _cell(value) -> str:
    """A cell as text: a date as YYYY-MM-DD, a whole number without ".0", and without the quote
    an export puts before a value a spreadsheet would run as a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text[1:] if text.startswith("'") and text[1:2] in ("=", "+", "-", "@") else text


def _header(name: str, records: list) -> list[str]:
    if not records or not any(records[0]):
        raise ValidationError({"file": f"{name} is empty: its first row names the columns "
                                       f"({', '.join(EXPORT_COLUMNS)})."})
    header = [cell.lower() for cell in records[0]]
    while header and not header[-1]:  # empty cells after the last column (a trailing comma, a formatted column)
        header.pop()
    problems = []
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    unknown = [column or "(blank)" for column in header if column not in EXPORT_COLUMNS]
    twice = sorted({column for column in header if header.count(column) > 1})
    for words, columns in (("lacks the column", missing), ("has the unknown column", unknown),
                           ("has more than once the column", twice)):
        if columns:
            problems.append(f"{words}{'s' if len(columns) > 1 else ''} {', '.join(columns)}")
    if problems:
        raise ValidationError({"file": f"{name}: row 1 {'; '.join(problems)}. The columns are those of the "
                                       f"export: {', '.join(EXPORT_COLUMNS)}."})
    return header


# --- checking a row -------------------------------------------------------------------------------

@dataclass
class Row:
    """A row read and checked as far as it can be before the services see it."""

    number: int
    problems: dict = field(default_factory=dict)  # column -> reason
    risk: Risk | None = None
    place: dict = field(default_factory=dict)  # unit / facility / organisation
    owner: User | None = None
    values: dict = field(default_factory=dict)  # texts, category, review_on, scores


class Lookups:
    """What rows name, read once for the whole file: units and facilities by code, people by
    username, the risks by reference the user may change, each organisation's matrix."""

    def __init__(self, user, rows: list[dict]):
        self.facilities = {f.code: f for f in Facility.objects.select_related("organisation")}
        organisations = list(Organisation.objects.all()[:2])
        # A row naming no facility is placed in the organisation, when there is only one.
        self.organisation = organisations[0] if len(organisations) == 1 else None
        self.units = {(u.facility.code, u.code): u for u in Unit.objects.select_related("facility__organisation")}
        names = {row.get("owner", "") for row in rows} - {""}
        self.people = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
        references = {row.get("reference", "") for row in rows} - {""}
        self.risks = {r.reference: r for r in visible_risks(user).filter(reference__in=references)
                      .select_related("owner", "organisation", "facility", "unit__facility")}
        self.matrices = {}

    def matrix(self, organisation):
        if organisation.pk not in self.matrices:
            self.matrices[organisation.pk] = matrix_of(organisation)
        return self.matrices[organisation.pk]


def check_row(user, raw: dict, lookups: Lookups, seen: set) -> Row:
    row = Row(raw["_row"])
    _check_reference(user, row, raw.get("reference", ""), lookups, seen)
    _check_place(row, raw.get("facility", ""), raw.get("unit", ""), lookups)
    _check_owner(row, raw.get("owner", ""), lookups)
    row.values["category"] = _category(row, raw.get("category", ""))
    row.values.update({name: raw.get(name, "") for name in TEXTS})
    row.values["review_on"] = _review_on(row, raw.get("review_on", ""))
    row.values["scores"] = _scores(row, raw, lookups)
    return row


def _check_reference(user, row: Row, reference: str, lookups: Lookups, seen: set) -> None:
    if not reference:
        return
    if reference in seen:
        row.problems["reference"] = f"{reference} is on an earlier row too: one row a risk."
    seen.add(reference)
    risk = lookups.risks.get(reference)
    if risk is None or not permissions.can(user, "risk.edit_risk", risk):
        row.problems["reference"] = (f"{reference} is not a risk you may change (leave the reference empty to "
                                     "raise a new risk).")
    elif risk.status != RiskStatus.OPEN:
        row.problems["reference"] = f"{reference} is closed: reopen it to change it."
    else:
        row.risk = risk


def _check_place(row: Row, facility_code: str, unit_code: str, lookups: Lookups) -> None:
    facility = lookups.facilities.get(facility_code)
    if facility_code and facility is None:
        row.problems["facility"] = f"{facility_code!r} is not a facility code ({', '.join(sorted(lookups.facilities))})."
        return
    if unit_code and facility is None:
        row.problems["facility"] = f"Give the facility of unit {unit_code!r}."
        return
    unit = lookups.units.get((facility_code, unit_code))
    if unit_code and unit is None:
        row.problems["unit"] = f"{unit_code!r} is not a unit of {facility.name} ({facility.code})."
        return
    row.place = {"unit": unit} if unit else {"facility": facility} if facility else {
        "organisation": lookups.organisation}
    code = f"{facility_code}/{unit_code}" if unit_code else facility_code
    if row.risk and code != _place_code(row.risk):
        row.problems["unit"] = (f"{row.risk.reference} sits in {_place_code(row.risk) or 'the whole organisation'}; "
                                "an import does not move a risk: keep its facility and unit as exported.")


def _place_code(risk: Risk) -> str:
    """How the file names a risk's place: "rgh/4w", "rgh", or "" for the whole organisation."""
    if risk.unit:
        return f"{risk.unit.facility.code}/{risk.unit.code}"
    return risk.facility.code if risk.facility else ""


def _check_owner(row: Row, username: str, lookups: Lookups) -> None:
    row.owner = lookups.people.get(username)
    if row.owner is None:
        row.problems["owner"] = (f"{username!r} is not the username of an active member of staff." if username
                                 else "Name the owner by their username.")
    elif row.risk and row.owner.pk != row.risk.owner_id:
        row.problems["owner"] = (f"{row.risk.reference} is owned by {row.risk.owner.username}; an import does not "
                                 "change a risk's owner.")


def _category(row: Row, text: str) -> str:
    wanted = text.strip().casefold()
    for code, label in Category.choices:
        if wanted in (code, label.casefold()):
            return code
    row.problems["category"] = f"{text!r} is not a category; choose one of {', '.join(Category.labels)}."
    return text


def _review_on(row: Row, text: str) -> date | None:
    if not ISO_DATE.fullmatch(text):
        row.problems["review_on"] = (f"{text!r} is not a date: write it as YYYY-MM-DD." if text
                                     else "Give the date of the next review (YYYY-MM-DD).")
        return None
    try:
        return inputs.day(date.fromisoformat(text))
    except inputs.InputError as problem:
        row.problems["review_on"] = f"{problem}."
    except ValueError:
        row.problems["review_on"] = f"{text!r} is not a day of the calendar."
    return None


def _scores(row: Row, raw: dict, lookups: Lookups) -> dict:
    """{"inherent": (c, l), …} from the row; the score and band columns, when given, must agree
    with consequence × likelihood on the matrix."""
    organisation = row.risk.organisation if row.risk else _organisation(row.place)
    matrix = lookups.matrix(organisation) if organisation else None
    scores = {}
    for name in SCORES:
        pair = tuple(_whole(row, raw, f"{name}_{part}") for part in ("consequence", "likelihood"))
        if None in pair:
            continue
        scores[name] = pair
        if matrix is not None:
            _check_score_columns(row, raw, matrix, name, pair)
    return scores


def _organisation(place: dict):
    if "unit" in place:
        return place["unit"].facility.organisation
    if "facility" in place:
        return place["facility"].organisation
    return place.get("organisation")


def _whole(row: Row, raw: dict, column: str) -> int | None:
    text = raw.get(column, "")
    if text.isascii() and text.isdigit():
        return int(text)
    row.problems[column] = (f"{text!r} is not a whole number of 1 or more." if text
                            else f"Give the {column.replace('_', ' ')}.")
    return None


def _check_score_columns(row: Row, raw: dict, matrix, name: str, pair: tuple) -> None:
    try:
        product = matrix.score(pair[0], pair[1], name)
    except ScoringError as error:
        row.problems[error.field] = error.message
        return
    given = raw.get(f"{name}_score", "")
    if given and given != str(product):
        row.problems[f"{name}_score"] = f"{given!r} is not {pair[0]} × {pair[1]} = {product}."
    band = raw.get(f"{name}_band", "")
    if not band:
        return
    try:
        named = matrix.band_named(band)
    except ScoringError as error:
        row.problems[f"{name}_band"] = error.message
        return
    if named != matrix.band(product):
        row.problems[f"{name}_band"] = (f"{band!r} does not match the score {product}, which is "
                                        f"{matrix.band(product).name} on the matrix.")


# --- storing --------------------------------------------------------------------------------------

@audit.changes_by_user
@transaction.atomic
def import_register(user, upload) -> ImportResult:
    """Check every row of the file, raise and update risks through the register's rules, and
    store nothing when any row has a problem (a report by row, column and reason)."""
    permissions.check(user, "risk.manage")
    raws = read_table(upload)
    lookups, seen, result = Lookups(user, raws), set(), ImportResult()
    for raw in raws:
        row = check_row(user, raw, lookups, seen)
        if not row.problems:
            _store(user, row, result)
        result.problems += [ImportProblem(row.number, column, reason) for column, reason in row.problems.items()]
    if result.problems:
        transaction.set_rollback(True)
        result.raised, result.updated, result.unchanged = [], [], 0
    return result


def _store(user, row: Row, result: ImportResult) -> None:
    try:
        if row.risk is None:
            risk = raise_risk(user, owner=row.owner, **row.place, **row.values)
            result.raised.append(risk.reference)
        elif _update(user, row.risk, row.values):
            result.updated.append(row.risk.reference)
        else:
            result.unchanged += 1
    except ValidationError as error:
        for column, messages in error.message_dict.items():
            row.problems.setdefault(column, " ".join(messages))
    except PermissionDenied:
        if row.risk is None:
            row.problems["unit"] = f"You may not raise risks in {next(iter(row.place.values()))}."
        else:
            row.problems["reference"] = f"You may not change {row.risk.reference}."


def _update(user, risk: Risk, values: dict) -> bool:
    """The risk's texts, category, review date and scores from the row; a change of score is an
    "imported" record of its trend. Returns whether anything changed."""
    risk = lock(risk)
    permissions.check(user, "risk.edit_risk", risk)
    errors: dict = {}
    texts = _clean_texts(errors, values)
    if values["review_on"] != risk.review_on:
        _clean_review_on(errors, values["review_on"], timezone.localdate())
    try:
        scores = scored(matrix_of(risk.organisation), values["scores"])
    except ValidationError as error:
        errors.update(error.message_dict)
        scores = {}
    if errors:
        raise ValidationError(errors)
    wanted = {**texts, "category": values["category"], "review_on": values["review_on"], **scores}
    changed = {name: value for name, value in wanted.items() if getattr(risk, name) != value}
    if not changed:
        return False
    if "review_on" in changed:
        risk.review_reminded_on = None
    for name, value in changed.items():
        setattr(risk, name, value)
    risk.save()
    if set(changed) & set(scores):
        record_scores(risk, ScoreReason.IMPORTED, matrix_row(risk.organisation).revision, user,
                      note="Imported from a spreadsheet").save()
    return True
