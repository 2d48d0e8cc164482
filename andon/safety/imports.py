"""Import of historical safety events from CSV (events reported before Andon, in another system).

Columns (header row, any order): kind, category, unit (FACILITY/UNIT, e.g. rgh/4w),
occurred_at (ISO 8601 date or date and time from 1900 to 2199; without an offset it is read in
the server's time zone, settings.TIME_ZONE), narrative, harm; optional: details (a JSON object of
the category's answers, at most 10,000 characters, read by platform.inputs.load_json),
reference_external (the event's number in the old system), person_affected (patient, visitor,
staff, other or nobody), location_detail (where exactly in the unit), witnesses. A patient's MRN
or encounter is not imported (historical reports are not linked to the clinical record).

Every row is checked with the rules of reporting (`services.check_report`), plus the unit code
(a unit in the importer's scope), the date and the details' JSON. The report of problems is a
list of (row, field, reason), the header being row 1. Nothing is stored while any row has a
problem, unless the importer explicitly accepts to import only the valid rows; then those are
stored in one transaction (all or nothing).

A file of more than ANDON_IMPORT_JOB_ROWS rows is checked and stored by a background job
(`queue_if_large`), with progress, the same report (and, as a download, every problem), and the
same choice: the job records its outcome in the transaction that stores the events, so a worker
that stops half-way stores nothing and one that stops after the commit never stores twice.

An imported event has no reporter and is not anonymous (which is how it can be told apart from
a report made in Andon), reported_at = occurred_at (the old system's report time is not known),
the default status, the current taxonomy version, and `details["reference_external"]` when
given. The audit trail records each creation with the importer as the actor.
"""

import csv
import io
import re
import secrets
import time as clock
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from andon.platform import audit, inputs, permissions
from andon.platform.exports import exports_dir, write_csv

from . import analysis, services, taxonomy
from .models import KINDS_WITH_HARM, Kind, SafetyEvent, Source

CAPABILITY = "safety.import_events"
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
REQUIRED_COLUMNS = ("kind", "category", "unit", "occurred_at", "narrative", "harm")
OPTIONAL_COLUMNS = ("details", "reference_external", "person_affected", "location_detail", "witnesses")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
EXTERNAL_REFERENCE_MAX = 100
DETAILS_MAX_CHARS = 10_000
DETAILS_MAX_DEPTH = 2  # an object of answers; an answer is a text, a number or a yes/no
STASH_HOURS = 24
PROBLEMS_SHOWN = 1000  # on the page and in the API's answer; a job's download has every one
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class ImportFileError(Exception):
    """The file as a whole cannot be read (size, encoding, header, emptiness): nothing stored."""


@dataclass(frozen=True)
class Problem:
    row: int  # the header is row 1
    field: str
    reason: str


@dataclass
class Checked:
    """The outcome of checking a file: the rows that may be stored, and every problem."""

    valid: list = field(default_factory=list)  # [(row number, SafetyEvent not yet saved)]
    problems: list = field(default_factory=list)  # [Problem]
    rows: int = 0  # data rows read (blank lines not counted)

    @property
    def invalid_rows(self) -> int:
        return len({problem.row for problem in self.problems})


# --- reading the file --------------------------------------------------------------------------

def decode(data: bytes) -> str:
    if not data or not data.strip():
        raise ImportFileError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB ({len(data):,} bytes).")
    try:
        text = inputs.utf8_text(data)
    except inputs.InputError as problem:
        raise ImportFileError(f"The file is {problem}. Save the file as 'CSV UTF-8' and try again.") from None
    if not text.strip():
        raise ImportFileError("The file is empty.")
    return text


def read_rows(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(row number, cells)]) with the whole-file checks; blank lines are skipped but
    keep their number."""
    text = decode(data)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as problem:
        raise ImportFileError(f"The file is not valid CSV: {problem}.") from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise ImportFileError("Row 1: the header row is empty; the first row names the columns "
                              f"({', '.join(COLUMNS)}).")
    header = [cell.strip().lower() for cell in records[0]]
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ImportFileError(f"Row 1: column{'s' if len(duplicated) > 1 else ''} {', '.join(duplicated)} "
                              "appear more than once.")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [name or "(blank)" for name in header if name not in COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        raise ImportFileError(f"Row 1 (the header): {'; '.join(parts)}. The columns are {', '.join(REQUIRED_COLUMNS)} "
                              f"and optionally {', '.join(OPTIONAL_COLUMNS)}.")
    rows = [(number, cells) for number, cells in enumerate(records[1:], start=2) if any(c.strip() for c in cells)]
    if not rows:
        raise ImportFileError("The file has a header but no events.")
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"The file has {len(rows):,} rows of events; at most {MAX_ROWS:,} at once.")
    return header, rows


def parse_when(text: str) -> datetime:
    """An ISO 8601 date (midnight) or date and time; without an offset, in the server's zone."""
    text = text.strip()
    if not text:
        raise ValueError("Say when it happened (ISO 8601, e.g. 2025-03-14 or 2025-03-14T09:30).")
    try:
        if len(text) == 10:
            when = datetime.combine(date.fromisoformat(text), time.min)
        else:
            when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{inputs.shown(text)} is not an ISO 8601 date or date and time (e.g. 2025-03-14 or "
                         "2025-03-14T09:30).") from None
    try:  # in UTC: year 1 at +14:00 is refused here, not when the row is saved
        return inputs.moment(when)
    except inputs.InputError as problem:
        raise ValueError(f"{problem}.") from None


def _unit_index(user) -> dict:
    """'facility/unit' (lower case) -> unit, for the units the importer may import into."""
    units = permissions.units_where(user, CAPABILITY).select_related("facility")
    return {f"{unit.facility.code}/{unit.code}".lower(): unit for unit in units}


# --- checking ----------------------------------------------------------------------------------

def check_file(user, data: bytes, progress=None) -> Checked:
    """Read and check every row; `progress(done, total)` after each. Raises ImportFileError for
    a file that cannot be read at all."""
    permissions.check(user, CAPABILITY)
    header, rows = read_rows(data)
    tax = taxonomy.current()
    units = _unit_index(user)
    checked = Checked(rows=len(rows))
    seen_references: dict[str, int] = {}
    known_references = set(
        SafetyEvent.objects.filter(reporter=None, is_anonymous=False, details__has_key="reference_external")
        .values_list("details__reference_external", flat=True))
    for done, (number, cells) in enumerate(rows, start=1):
        if progress:
            progress(done, len(rows))
        problems = []
        if len(cells) != len(header):
            checked.problems.append(Problem(number, "", f"{len(cells)} cells; the header has {len(header)} columns."))
            continue
        row = dict(zip(header, (cell.strip() for cell in cells), strict=True))
        unit = units.get(row["unit"].lower())
        if unit is None:
            problems.append(("unit", f"{row['unit']!r} is not a unit you may import into (FACILITY/UNIT, "
                                     "e.g. rgh/4w)." if row["unit"] else "Give the unit (FACILITY/UNIT, e.g. rgh/4w)."))
        elif not unit.active:
            problems.append(("unit", f"{row['unit']!r} is no longer an active unit."))
        occurred_at = None
        try:
            occurred_at = parse_when(row["occurred_at"])
        except ValueError as problem:
            problems.append(("occurred_at", str(problem)))
        details = {}
        if row.get("details"):
            try:
                details = inputs.load_json(row["details"], max_bytes=DETAILS_MAX_CHARS, max_depth=DETAILS_MAX_DEPTH)
            except inputs.InputError as problem:
                problems.append(("details", f"{problem}."))
                details = None
            else:
                if not isinstance(details, dict):
                    problems.append(("details", "must be a JSON object, e.g. {\"injury_level\": \"none\"}."))
                    details = None
        reference = row.get("reference_external", "")
        if reference:
            if len(reference) > EXTERNAL_REFERENCE_MAX:
                problems.append(("reference_external", f"at most {EXTERNAL_REFERENCE_MAX} characters."))
            elif reference in seen_references:
                problems.append(("reference_external", f"{reference!r} is also on row {seen_references[reference]}."))
            elif reference in known_references:
                problems.append(("reference_external", f"{reference!r} has already been imported."))
            seen_references.setdefault(reference, number)
        report = services.Report(
            kind=row["kind"], category=row["category"], unit_id=unit.pk if unit else None, occurred_at=occurred_at,
            narrative=row["narrative"], harm=row["harm"], details=details if details is not None else {},
            person_affected=row.get("person_affected", ""), location_detail=row.get("location_detail", ""),
            witnesses=row.get("witnesses", ""),
        )
        errors, clean_details = services.check_report(report, tax=tax)
        reported = {name for name, _ in problems}
        for name, message in errors.items():
            if name in reported or (name.startswith("details.") and "details" in reported):
                continue  # already explained (unit code, date format, unreadable JSON)
            problems.append((name, _in_file_words(name, message, row, tax)))
        if problems:
            checked.problems.extend(Problem(number, name, message) for name, message in problems)
            continue
        if reference:
            clean_details["reference_external"] = reference
        checked.valid.append((number, SafetyEvent(
            kind=report.kind, category=report.category, reported_category=report.category, source=Source.IMPORT,
            taxonomy_version=tax.version, unit=unit,
            occurred_at=occurred_at, reported_at=occurred_at, narrative=report.narrative.strip(),
            details=clean_details, harm=report.harm, reporter=None, is_anonymous=False,
            person_affected=services.person_affected_of(report), location_detail=report.location_detail,
            witnesses=report.witnesses,
        )))
    return checked


def _in_file_words(name: str, message: str, row: dict, tax) -> str:
    """Reporting's messages speak to a form ("Choose a category."); in a file, say what was
    given and what would do."""
    if name == "kind":
        return f"{row['kind']!r} is not a kind of report; one of {', '.join(Kind.values)}."
    if name == "category":
        return f"{row['category']!r} is not a category; one of {', '.join(c['code'] for c in tax.categories)}."
    if name == "harm" and row["harm"]:
        codes = ", ".join(level["code"] for level in tax.harm_scale)
        return f"{message} Given {row['harm']!r}" + (f"; one of {codes}." if row["kind"] in KINDS_WITH_HARM else ".")
    if name == "harm":
        return f"{message} One of {', '.join(level['code'] for level in tax.harm_scale)}."
    return message


# --- storing -----------------------------------------------------------------------------------

@transaction.atomic
def store(user, checked: Checked, progress=None) -> list[SafetyEvent]:
    """Store the valid rows of a checked file, all or nothing, audited as the importer's;
    `progress(done, total)` after each."""
    permissions.check(user, CAPABILITY)
    allowed = set(permissions.units_where(user, CAPABILITY).values_list("pk", flat=True))
    stored = []
    now = timezone.now()
    with audit.acting_as(user), analysis.one_change():
        for done, (_, event) in enumerate(checked.valid, start=1):
            if event.unit_id not in allowed:  # checked against the same scope; never trust a stale list
                raise PermissionDenied("not permitted: safety.import_events in this unit")
            event.pses_entered_at = now  # it enters Andon's PSES when it is imported
            services.assign_reference(event)
            event.save()
            stored.append(event)
            if progress:
                progress(done, len(checked.valid))
    return stored


@dataclass
class Outcome:
    checked: Checked
    stored: list = field(default_factory=list)


def import_file(user, data: bytes, *, accept_valid: bool = False) -> Outcome:
    """Check the file; store it when every row is valid, or, when the importer accepts that,
    store its valid rows only. Raises ImportFileError for an unreadable file."""
    checked = check_file(user, data)
    if checked.problems and not accept_valid:
        return Outcome(checked)
    return Outcome(checked, store(user, checked))


def report(checked: Checked, stored: int = 0) -> dict:
    """What the importer is shown, as plain data (a job's result is JSON): the counts and the
    first PROBLEMS_SHOWN problems."""
    return {"rows": checked.rows, "valid": len(checked.valid), "invalid_rows": checked.invalid_rows,
            "stored": stored, "problem_count": len(checked.problems),
            "problems": [asdict(problem) for problem in checked.problems[:PROBLEMS_SHOWN]]}


# --- large files: a background job ------------------------------------------------------------

def queue_if_large(user, data: bytes, name: str, *, accept_valid: bool = False, token: str = ""):
    """Queue the import as a job when the file has more than ANDON_IMPORT_JOB_ROWS rows (checking
    and storing tens of thousands of rows takes longer than a request may): the Job, or None for
    a file small enough to import at once. A file that cannot be read at all (size, encoding,
    header, MAX_ROWS) raises ImportFileError here, before anything is queued. `token` names the
    file if it is already kept (the importer accepting its valid rows)."""
    from andon.platform.jobs import start_job

    from . import tasks

    permissions.check(user, CAPABILITY)
    _, rows = read_rows(data)
    if len(rows) <= settings.ANDON_IMPORT_JOB_ROWS:
        return None
    token = token or stash(user, data)
    title = f"{'Import of the valid rows' if accept_valid else 'Import'} of {name}"
    return start_job(tasks.import_events, title[:200], user, token, name, accept_valid)


def run_as_job(job, user, token: str, name: str, accept_valid: bool) -> dict:
    """The job's work: check the kept file and store it as `import_file` would, recording the
    outcome in the transaction that stores the events. The report is its result, every problem
    in a CSV file to download."""
    checked = check_file(user, unstash(user, token), progress=lambda done, total: job.progress(
        done, total, f"Checked {done:,} of {total:,} rows"))
    result = {**report(checked), "name": name, "token": token, "accept_valid": accept_valid}
    if checked.problems:
        result["file"] = f"safety-import-problems-{job.id}.csv"
        write_csv(exports_dir() / result["file"], ["row", "field", "reason"],
                  (asdict(problem) for problem in checked.problems))
    if checked.problems and not accept_valid:
        return result  # nothing stored: the importer decides, as on the page
    with transaction.atomic():
        stored = store(user, checked, progress=lambda done, total: job.progress(
            done, total, f"Stored {done:,} of {total:,} events"))
        result.update(stored=len(stored), token="")
        job.commit_result(result)
    discard(user, token)
    return result


# --- keeping the file between the report and the acceptance ------------------------------------

def _stash_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stash_path(user, token: str) -> Path:
    if not _TOKEN.match(token or ""):
        raise ImportFileError("The uploaded file is no longer available: upload it again.")
    return _stash_dir() / f"safety-{user.pk}-{token}.csv"


def stash(user, data: bytes) -> str:
    """Keep an uploaded file (under the data dir, with a random name bound to the importer)
    until the importer accepts its valid rows; returns the token that names it."""
    cutoff = clock.time() - STASH_HOURS * 3600
    for old in _stash_dir().glob("safety-*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    _stash_path(user, token).write_bytes(data)
    return token


def unstash(user, token: str) -> bytes:
    path = _stash_path(user, token)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError("The uploaded file is no longer available: upload it again.") from None


def discard(user, token: str) -> None:
    _stash_path(user, token).unlink(missing_ok=True)
