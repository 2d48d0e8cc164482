"""Survey data: question sets (content), saved column mappings, and the import of the vendor's
file of returned surveys (one row per survey). docs/voice.md.

Readings (so that the pages, the API, the scores and the tests agree):
- a question set is a versioned content document (content/survey-question-sets/): questions with
  their answer codes and top box, composites, comment questions, and the measure each item feeds;
- a mapping names each file column as one field: survey_id, discharge_date, unit, service_line,
  comment or comment:<comment question key>, a stratum (age_band, sex, race, ethnicity, payer) or
  q:<question key>;
- an import checks every row first; while any row is wrong nothing is stored and the report lists
  the problems as (row, field, reason); a survey id already stored is counted "already imported"
  and left alone, so a file imported twice imports nothing twice;
- responses are bulk data: the import record is audited (who, file, sha256, counts), the rows
  themselves are not entered one by one in the audit trail;
- the score cells (scores.py) and the measures fed from them are updated in the import's
  transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from andon.analytics.kpi.aggregate import DIMENSIONS
from andon.measures import services as measures
from andon.platform import audit, content, history, inputs, navigation, permissions
from andon.platform.jobs import JobFailed, job_task, start_job
from andon.platform.models import Unit

from .models import SurveyComment, SurveyImport, SurveyMapping, SurveyResponse

__all__ = [
    "FIELDS", "SurveyImportReport", "access_import", "access_mapping", "create_mapping", "import_survey_file",
    "question_set", "question_sets", "queue_survey_import", "read_header", "save_mapping", "suggest_columns",
    "visible_imports",
]

VIEW, IMPORT, CONFIGURE = "voice.view_surveys", "voice.import_surveys", "voice.configure_surveys"
KIND = "survey-question-sets"
DEFAULT_SET = "hcahps"
BASE_FIELDS = ("survey_id", "discharge_date", "unit", "service_line", "comment")
FIELDS = BASE_FIELDS + DIMENSIONS  # and q:<question>, comment:<comment question>
PROBLEMS_SHOWN = 200
BATCH = 2000
MAX_BYTES = 400 * 1024 * 1024
CELL_MAX = 8000  # a comment's longest; any other cell is at most 80 characters
NAME_MAX = 120
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


# --- question sets (content) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    key: str
    text: str
    answers: dict  # code -> words
    top: frozenset
    measure: str = ""


@dataclass(frozen=True)
class Composite:
    key: str
    title: str
    questions: tuple
    measure: str = ""


@dataclass(frozen=True)
class QuestionSet:
    key: str
    version: str
    title: str
    questions: dict  # key -> Question, in the file's order
    composites: tuple
    comment_questions: dict  # key -> text


def _where_text(mapping, name, where, *, limit=400) -> str:
    value = mapping.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        raise content.ContentError(f"{where}.{name}: required text")
    text = str(value).strip()
    if len(text) > limit or _CONTROL.search(text):
        raise content.ContentError(f"{where}.{name}: at most {limit} characters of plain text")
    return text


def _key(mapping, where) -> str:
    key = _where_text(mapping, "key", where, limit=60)
    if not _KEY.match(key):
        raise content.ContentError(f"{where}.key: {inputs.shown(key)} must be lower-case letters, digits and _")
    return key


def parse_question_set(data, source: str) -> QuestionSet:
    """A question-set document checked; a ContentError names the file and the field."""
    if not isinstance(data, dict):
        raise content.ContentError(f"{source}: expected a mapping")
    key, version, title = _key(data, source), _where_text(data, "version", source, limit=20), _where_text(data, "title", source)
    scales = data.get("scales") or {}
    if not isinstance(scales, dict):
        raise content.ContentError(f"{source}.scales: expected a mapping")
    questions = {}
    for i, item in enumerate(_items(data, "questions", source)):
        where = f"{source}.questions[{i}]"
        q_key = _key(item, where)
        if q_key in questions:
            raise content.ContentError(f"{where}.key: {q_key} is listed twice")
        scale = scales.get(item.get("scale")) if "scale" in item else item
        if not isinstance(scale, dict):
            raise content.ContentError(f"{where}.scale: {inputs.shown(item.get('scale'))} is not one of the scales")
        answers = scale.get("answers")
        if not isinstance(answers, dict) or not answers:
            raise content.ContentError(f"{where}.answers: give the answer codes and their words")
        answers = {str(code).strip(): str(words) for code, words in answers.items()}
        top = scale.get("top")
        if not isinstance(top, list) or not top or any(str(code) not in answers for code in top):
            raise content.ContentError(f"{where}.top: the top-box codes must be among the answer codes {', '.join(answers)}")
        measure = str(item.get("measure") or "")
        questions[q_key] = Question(q_key, _where_text(item, "text", where), answers, frozenset(map(str, top)), measure)
    if not questions:
        raise content.ContentError(f"{source}.questions: at least one question")
    composites = []
    for i, item in enumerate(_items(data, "composites", source)):
        where = f"{source}.composites[{i}]"
        keys = item.get("questions")
        if not isinstance(keys, list) or not keys or any(k not in questions for k in keys):
            raise content.ContentError(f"{where}.questions: name questions of this set ({inputs.shown(keys)})")
        composites.append(Composite(_key(item, where), _where_text(item, "title", where), tuple(keys),
                                    str(item.get("measure") or "")))
    comments = {}
    for i, item in enumerate(_items(data, "comment_questions", source)):
        where = f"{source}.comment_questions[{i}]"
        comments[_key(item, where)] = _where_text(item, "text", where)
    return QuestionSet(key, version, title, questions, tuple(composites), comments)


def _items(data, name, source) -> list:
    items = data.get(name) or []
    if not isinstance(items, list) or any(not isinstance(item, dict) for item in items):
        raise content.ContentError(f"{source}.{name}: expected a list of mappings")
    return items


def load_question_set(data, source: str) -> None:
    parsed = parse_question_set(data, source)
    content.store_document(KIND, parsed.key, parsed.version, parsed.title, data)


def question_set(key: str = DEFAULT_SET) -> QuestionSet:
    """The current version of a question set; ValidationError when none is loaded."""
    found = content.current_document_key(KIND, key)
    if found is None:
        raise ValidationError({"question_set": f"no question set {inputs.shown(key)} is loaded (andon load-content)"})
    document = content.document_by_key(found)
    return parse_question_set(document.document, f"{KIND}/{key}")


def question_sets() -> list[QuestionSet]:
    from andon.platform.models import ContentDocument

    keys = ContentDocument.objects.filter(kind=KIND).values_list("key", flat=True).distinct().order_by("key")
    return [question_set(key) for key in keys]


# --- mappings -------------------------------------------------------------------------------------

def _field_ok(name: str, questions: QuestionSet) -> bool:
    if name in FIELDS:
        return True
    kind, _, key = name.partition(":")
    return (kind == "q" and key in questions.questions) or (kind == "comment" and key in questions.comment_questions)


def _checked_mapping(name, question_set_key, columns, exclude=None) -> tuple[str, dict]:
    errors = {}
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > NAME_MAX or _CONTROL.search(name):
        errors["name"] = f"a name of 1 to {NAME_MAX} characters of plain text"
    elif SurveyMapping.objects.filter(name=name).exclude(pk=getattr(exclude, "pk", None)).exists():
        errors["name"] = f"{name} is the name of another mapping"
    try:
        questions = question_set(question_set_key)
    except ValidationError as problem:
        raise ValidationError({**errors, **problem.message_dict}) from None
    clean, used = {}, {}
    if not isinstance(columns, dict):
        columns = {}
        errors["columns"] = "give the columns as file column -> field"
    for column, target in columns.items():
        if not isinstance(column, str) or not column.strip() or len(column) > 200 or _CONTROL.search(column):
            errors["columns"] = f"column {inputs.shown(column)}: a column name of plain text"
            continue
        if not target:
            continue
        if not isinstance(target, str) or not _field_ok(target, questions):
            errors["columns"] = f"column {column}: {inputs.shown(target)} is not a field or question of {questions.key}"
        elif target in used and not target.startswith("comment"):
            errors["columns"] = f"columns {used[target]} and {column} are both mapped to {target}"
        else:
            used[target] = column
            clean[column.strip()] = target
    missing = [f for f in ("survey_id", "discharge_date", "unit") if f not in used]
    if missing and "columns" not in errors:
        errors["columns"] = f"map a column to each of {', '.join(missing)}"
    if not any(t.startswith("q:") for t in used) and "columns" not in errors:
        errors["columns"] = "map at least one column to a question"
    if errors:
        raise ValidationError(errors)
    return name, clean


def access_mapping(user, mapping_id, capability: str = CONFIGURE) -> SurveyMapping:
    permissions.check(user, capability)
    return permissions.fetch_checked(user, capability, SurveyMapping, pk=mapping_id)


@audit.changes_by_user
def create_mapping(user, *, name: str, columns: dict, question_set_key: str = DEFAULT_SET) -> SurveyMapping:
    """A saved mapping of a vendor file's columns (file column -> field)."""
    permissions.check(user, CONFIGURE)
    name, clean = _checked_mapping(name, question_set_key, columns)
    with transaction.atomic():
        return SurveyMapping.objects.create(name=name, question_set=question_set_key, columns=clean, created_by=user)


@audit.changes_by_user
def save_mapping(user, mapping: SurveyMapping, *, name: str, columns: dict) -> SurveyMapping:
    permissions.check(user, CONFIGURE)
    with transaction.atomic():
        mapping = SurveyMapping.objects.select_for_update().get(pk=mapping.pk)
        mapping.name, mapping.columns = _checked_mapping(name, mapping.question_set, columns, exclude=mapping)
        mapping.save()
    return mapping


def read_header(text: str) -> list[str]:
    """The column names of a CSV file's first line; InputError when there is none."""
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), None)
    except csv.Error as problem:
        raise inputs.InputError(f"line 1 is not valid CSV: {problem}") from None
    header = [c.strip() for c in header or [] if c.strip()]
    if not header:
        raise inputs.InputError("line 1 names no columns")
    return header


def _simple(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def suggest_columns(header: list[str], questions: QuestionSet) -> dict:
    """The obvious field of each column: same name as a field or question key once case, spaces
    and punctuation are ignored (Discharge Date -> discharge_date, Q_RECOMMEND -> q:recommend)."""
    names = {_simple(f): f for f in FIELDS}
    names |= {_simple(k): f"q:{k}" for k in questions.questions}
    names |= {_simple(f"q{k}"): f"q:{k}" for k in questions.questions}
    names |= {_simple(k): f"comment:{k}" for k in questions.comment_questions if _simple(k) not in names}
    names |= {"surveyid": "survey_id", "id": "survey_id", "dischargedate": "discharge_date", "dischdate": "discharge_date",
              "ward": "unit", "unitcode": "unit", "serviceline": "service_line", "gender": "sex", "ageband": "age_band",
              "agegroup": "age_band", "insurance": "payer", "comments": "comment"}
    suggested, taken = {}, set()
    for column in header:
        target = names.get(_simple(column), "")
        if target and (target not in taken or target.startswith("comment")):
            suggested[column] = target
            taken.add(target)
    return suggested


# --- the import -----------------------------------------------------------------------------------

@dataclass
class SurveyImportReport:
    filename: str = ""
    rows_read: int = 0
    rows_imported: int = 0
    rows_already_imported: int = 0
    comments: int = 0
    problems: list = field(default_factory=list)  # (row, field, reason), the first PROBLEMS_SHOWN
    more_problems: int = 0
    survey_import: SurveyImport | None = None
    measures_fed: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, row: int, column: str, reason: str) -> None:
        if len(self.problems) < PROBLEMS_SHOWN:
            self.problems.append((row, column, reason))
        else:
            self.more_problems += 1

    def as_dict(self) -> dict:
        return {"filename": self.filename, "rows_read": self.rows_read, "rows_imported": self.rows_imported,
                "rows_already_imported": self.rows_already_imported, "comments": self.comments,
                "problems": [{"row": r, "field": f, "reason": why} for r, f, why in self.problems],
                "more_problems": self.more_problems,
                "import_id": self.survey_import.pk if self.survey_import else None,
                "measures_fed": self.measures_fed}


def visible_imports(user):
    permissions.check(user, VIEW)
    return SurveyImport.objects.select_related("imported_by", "mapping")


def access_import(user, import_id, capability: str = VIEW) -> SurveyImport:
    permissions.check(user, capability)
    return permissions.fetch_checked(user, capability, SurveyImport.objects.select_related("imported_by", "mapping"),
                                     pk=import_id)


class _Units:
    """A unit cell read as facility/unit codes (rgh/4w) or the vendor's unit code through the
    measures library's unit mapping (kind location); checked against the importer's grants."""

    def __init__(self, user):
        units = {u.pk: u for u in Unit.objects.select_related("facility")}
        self.by_code = {f"{u.facility.code}/{u.code}".lower(): u for u in units.values()}
        for kind, external_id, unit_id in measures.unit_map():
            if kind == "location":
                self.by_code.setdefault(external_id.strip().lower(), units.get(int(unit_id)))
        self.allowed = set(permissions.units_where(user, IMPORT).values_list("pk", flat=True))

    def find(self, code: str):
        unit = self.by_code.get(code.strip().lower())
        if unit is None:
            return None, f"{inputs.shown(code)} is not a unit (write facility/unit codes, e.g. rgh/4w, or a mapped unit code)"
        if unit.pk not in self.allowed:
            return None, f"you may not import surveys of {unit.name}"
        return unit, ""


def _date(text: str) -> date:
    text = text.strip()
    try:
        value = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        value = None
    if value is None:
        raise inputs.InputError(f"{inputs.shown(text)} is not a date written YYYY-MM-DD")
    return inputs.day(value)


def _parse_row(line, row, mapping_columns, questions, units, today):
    """(values, problems) of one CSV row: values is a dict ready for a SurveyResponse, or None."""
    problems, values, answers, comments = [], {}, {}, []
    if row.get(None):
        problems.append((line, "", f"{len(row) - 1 + len(row[None])} cells where the header names {len(row) - 1} columns"))
    for column, target in mapping_columns.items():
        cell = row.get(column) or ""
        limit = CELL_MAX if target.startswith("comment") else 80
        if len(cell) > limit:
            problems.append((line, column, f"longer than {limit:,} characters ({len(cell):,})"))
            continue
        if _CONTROL.search(cell):
            problems.append((line, column, f"{inputs.shown(cell[:40])} holds a control character"))
            continue
        cell = cell.strip()
        if target.startswith("q:"):
            question = questions.questions[target[2:]]
            if cell and cell not in question.answers:
                problems.append((line, column, f"{inputs.shown(cell)} is not an answer code of {question.key} "
                                               f"({', '.join(question.answers)}; blank: not answered)"))
            elif cell:
                answers[question.key] = cell
        elif target.startswith("comment"):
            if cell:
                comments.append((target.partition(":")[2], cell))
        elif target == "survey_id":
            if not cell:
                problems.append((line, column, "the survey id is missing"))
            values["survey_id"] = cell
        elif target == "discharge_date":
            try:
                day = _date(cell)
                if day >= date(today.year, today.month, 1):
                    raise inputs.InputError(f"{day} is not in a past month (scores are by completed discharge month)")
                values["discharge_date"], values["month"] = day, day.replace(day=1)
            except inputs.InputError as problem:
                problems.append((line, column, str(problem)))
        elif target == "unit":
            unit, problem = units.find(cell)
            if problem:
                problems.append((line, column, problem))
            values["unit"] = unit
        else:  # service line or a stratum: kept as the vendor coded it
            values[target] = cell
    return (None if problems else (values, answers, comments)), problems


def _rows(text: str, report: SurveyImportReport):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
        for row in reader:
            yield header, reader.line_num, row
    except csv.Error as problem:
        report.problem(reader.line_num, "", f"not valid CSV: {problem}")


def _check_file(mapping, text, questions, units, report, progress, total) -> None:
    """Every row checked (nothing kept but the ids seen, to find one given twice)."""
    seen: dict[str, int] = {}
    today = timezone.localdate()
    header_checked = False
    for header, line, row in _rows(text, report):
        if not header_checked:
            header_checked = True
            lacking = [c for c in mapping.columns if c not in header]
            for column in lacking:
                report.problem(1, column, f"the mapping {mapping.name} reads this column; the file has none of that name")
            if lacking:
                return
        report.rows_read += 1
        parsed, problems = _parse_row(line, row, mapping.columns, questions, units, today)
        for problem in problems:
            report.problem(*problem)
        if parsed:
            survey_id = parsed[0]["survey_id"]
            if survey_id in seen:
                column = next(c for c, t in mapping.columns.items() if t == "survey_id")
                report.problem(line, column, f"survey id {inputs.shown(survey_id)} is also on row {seen[survey_id]}")
            seen[survey_id] = line
        if report.rows_read % 1000 == 0:
            progress(report.rows_read, total, "Checking rows")
    if not header_checked and not report.problems:
        report.problem(1, "", "the file holds no surveys")


@audit.changes_by_user
def import_survey_file(user, mapping: SurveyMapping, text: str, filename: str, progress=None) -> SurveyImportReport:
    """Import the returned surveys of a vendor's CSV file through `mapping`. Every row is checked
    first; while any is wrong nothing is stored and the report lists (row, field, reason). Then, in
    one transaction: the import record, the new responses and their comments in batches (a survey
    id already stored is counted as already imported), the score cells, and the measures fed."""
    from . import scores

    permissions.check(user, IMPORT)
    progress = progress or (lambda done, total, message: None)
    filename = (filename or "survey file")[:200]
    report = SurveyImportReport(filename=filename)
    if not isinstance(text, str) or "\x00" in text:
        report.problem(1, "", "not text: the file holds a NUL character")
        return report
    if len(text) > MAX_BYTES:
        report.problem(1, "", f"larger than {MAX_BYTES // (1024 * 1024)} MB; import it in parts")
        return report
    questions = question_set(mapping.question_set)
    units = _Units(user)
    total = max(text.count("\n"), 1)
    _check_file(mapping, text, questions, units, report, progress, total)
    if report.problems:
        report.rows_imported = 0
        return report
    with transaction.atomic():
        record = SurveyImport.objects.create(
            question_set=questions.key, question_set_version=questions.version, mapping=mapping, filename=filename,
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), imported_by=user, rows_read=report.rows_read)
        counter = scores.CellCounter(questions)
        batch = []
        for _header, line, row in _rows(text, report):
            batch.append(_parse_row(line, row, mapping.columns, questions, units, timezone.localdate())[0])
            if len(batch) >= BATCH:
                _store_batch(record, questions, batch, counter, report)
                progress(report.rows_imported + report.rows_already_imported, report.rows_read, "Storing surveys")
                batch = []
        _store_batch(record, questions, batch, counter, report)
        record.rows_imported, record.rows_already_imported = report.rows_imported, report.rows_already_imported
        record.save(update_fields=["rows_imported", "rows_already_imported"])
        counter.save()
        report.measures_fed = scores.feed_measures(user, questions, counter.touched())
    report.survey_import = record
    return report


def _store_batch(record, questions, batch, counter, report) -> None:
    """One batch: one query for the ids already stored, one insert of the new responses, one of
    their comments; the counts added to the cells."""
    if not batch:
        return
    ids = [values["survey_id"] for values, _a, _c in batch]
    stored = set(SurveyResponse.objects.filter(question_set=questions.key, survey_id__in=ids)
                 .values_list("survey_id", flat=True))
    new = []
    for values, answers, comments in batch:
        if values["survey_id"] in stored:
            report.rows_already_imported += 1
            continue
        response = SurveyResponse(survey_import=record, question_set=questions.key, answers=answers, **values)
        new.append((response, comments))
        counter.add(response)
    SurveyResponse.objects.bulk_create([response for response, _ in new])
    if not all(response.pk for response, _ in new):  # a database that returns no ids (never PG/SQLite 3.35+)
        by_id = dict(SurveyResponse.objects.filter(question_set=questions.key, survey_id__in=[r.survey_id for r, _ in new])
                     .values_list("survey_id", "pk"))
        for response, _ in new:
            response.pk = by_id[response.survey_id]
    notes = [SurveyComment(response=response, unit=response.unit, month=response.month, question=key, text=text)
             for response, comments in new for key, text in comments]
    SurveyComment.objects.bulk_create(notes)
    report.rows_imported += len(new)
    report.comments += len(notes)


def queue_survey_import(user, mapping: SurveyMapping, text: str, filename: str):
    """A file of more than ANDON_IMPORT_JOB_ROWS lines is imported by a background job: the Job,
    or None for a file small enough to import at once. Running the job again is safe: the import
    stores in one transaction, and ids already stored are not stored twice."""
    permissions.check(user, IMPORT)
    if text.count("\n") - 1 <= settings.ANDON_IMPORT_JOB_ROWS:
        return None
    return start_job(import_surveys_job, f"Import of surveys from {filename}"[:200], user, mapping.pk, text, filename)


@job_task
def import_surveys_job(job, mapping_id, text, filename):
    user = job.job.requested_by
    mapping = SurveyMapping.objects.get(pk=mapping_id)
    report = import_survey_file(user, mapping, text, filename, progress=job.progress)
    if not report.ok:
        shown = "; ".join(f"row {r}, {f or 'file'}: {why}" for r, f, why in report.problems[:20])
        more = len(report.problems) - 20 + report.more_problems
        raise JobFailed(f"Nothing was imported. {shown}" + (f"; and {more} more problems" if more > 0 else ""))
    return {"import_id": report.survey_import.pk, "rows_imported": report.rows_imported,
            "rows_already_imported": report.rows_already_imported}


def connect() -> None:
    """Registries of this subject, from ready()."""
    content.register_loader(KIND, load_question_set)
    audit.register(SurveyMapping)
    audit.register(SurveyImport)
    history.register(SurveyMapping, labels={"columns": "Columns"})
    navigation.add(navigation.NavEntry("Surveys", "voice:surveys", VIEW, "clipboard-data"))
    from .demo_surveys import load_demo_surveys
    from andon.platform.demo import register_demo_loader

    register_demo_loader(load_demo_surveys)
