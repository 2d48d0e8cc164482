"""Training and competencies: requirements by job role and unit, completions imported from the
learning system's CSV export, compliance per unit, requirement and person, and each unit's
monthly compliance sent to the measures library as the measure "training-compliance".
docs/medstaff.md.

Readings (written down so that the pages, the API, the measure and the tests agree):
- a requirement applies to a person of the roster when their job role is one of its job roles
  (compared without regard to case) and their unit is its unit or below it (a requirement with no
  unit: the whole organisation), from the day the person is known (`known_since`);
- a completion is current on a day D when it was completed on or before D and D is before its
  expiry: the `expires_on` the file gave, else the completion plus the requirement's renewal in
  months, else never (a requirement never renewed);
- compliance = (person, requirement) pairs with a current completion ÷ pairs required, on a day;
  a unit's compliance is that of the people of the unit and of the units below it;
- the measure's count of a unit and month: the pairs of the people placed in that unit itself,
  on the month's last day (the measures library adds units up the tree itself).
"""

from __future__ import annotations

import calendar
import csv
import io
import re
import secrets
import time as clock
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from andon.analytics.kpi import periods
from andon.compliance.services import unit_code
from andon.measures import services as measures
from andon.platform import audit, concurrency, inputs, permissions
from andon.platform.jobs import JobFailed, job_task
from andon.platform.models import Organisation, Unit

from .models import RequirementKind, TrainingCompletion, TrainingImport, TrainingPerson, TrainingRequirement

__all__ = [
    "access_requirement", "compliance_by_requirement", "compliance_by_unit", "compliance_summary", "create_requirement",
    "edit_requirement", "import_completions", "monthly_counts", "people_of_unit", "record_month",
    "set_requirement_active", "visible_requirements",
]

VIEW, MANAGE = "medstaff.view_training", "medstaff.manage_training"
MEASURE_KEY = "training-compliance"
MEASURE_SOURCE = "Training compliance (learning system)"  # one source: a re-send replaces its own counts
CODE_MAX, TITLE_MAX, ROLE_MAX, NAME_MAX, ROLES_MAX = 64, 200, 64, 200, 30
RENEWAL_MAX = 240  # months: twenty years
SOON_DAYS = 60  # "expires soon": within two months, time to book a renewal
MEASURE_MONTHS_BACK = 24  # an import writes at most the counts of the measures' 24 months
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
PROBLEMS_SHOWN = 1000
REQUIRED_COLUMNS = ("employee_id", "name", "unit", "job_role", "course_code", "completed_on")
COLUMNS = REQUIRED_COLUMNS + ("expires_on",)
STASH_HOURS = 24
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
# Control characters (NUL, escapes, bidirectional overrides) have no place in a code or a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def add_months(day: date, months: int) -> date:
    """The same day `months` later (31 January + 1 month is 28 or 29 February)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_end(month: date) -> date:
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def _plain(value, name: str, limit: int, errors: dict, *, required: bool = True) -> str:
    """A code or name: stripped, at most `limit` characters, no control characters."""
    text = (value or "").strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        errors[name] = f"{inputs.shown(value)} is not text"
    elif required and not text:
        errors[name] = "required"
    elif len(text) > limit:
        errors[name] = f"at most {limit} characters ({len(text):,} given)"
    elif _CONTROL.search(text):
        errors[name] = f"{inputs.shown(text)} holds a control character"
    return text


# --- requirements ---------------------------------------------------------------------------------

def visible_requirements(user, capability: str = VIEW):
    """Requirements of the organisations where the user holds `capability` anywhere."""
    organisations = permissions.units_where(user, capability).values("facility__organisation_id")
    return TrainingRequirement.objects.filter(organisation__in=organisations).select_related("unit__facility")


def access_requirement(user, requirement_id, capability: str = MANAGE) -> TrainingRequirement:
    """The requirement, if the user may `capability` it (over its unit, or its organisation when
    it has none): Http404 when there is none, PermissionDenied when they may not."""
    return permissions.fetch_checked(user, capability, TrainingRequirement.objects.select_related(
        "unit__facility", "organisation"), pk=requirement_id)


def training_units(user, capability: str = MANAGE):
    return permissions.units_where(user, capability).select_related("facility").order_by("facility__name", "path")


def _checked_requirement(organisation, values: dict, exclude=None) -> dict:
    """The requirement's fields cleaned, or ValidationError naming each wrong one."""
    errors = {}
    clean = {
        "course_code": _plain(values.get("course_code"), "course_code", CODE_MAX, errors),
        "title": _plain(values.get("title"), "title", TITLE_MAX, errors),
    }
    kind = values.get("kind") or RequirementKind.TRAINING
    if kind not in RequirementKind.values:
        errors["kind"] = f"{inputs.shown(kind)} is not one of {', '.join(RequirementKind.values)}"
    clean["kind"] = kind
    roles, seen = [], set()
    given = values.get("job_roles")
    if not isinstance(given, list | tuple):
        errors["job_roles"] = "give the job roles as a list"
        given = []
    for role in given:
        role_errors = {}
        text = _plain(role, "job_roles", ROLE_MAX, role_errors)
        if role_errors:
            errors["job_roles"] = f"job role {inputs.shown(role)}: {role_errors['job_roles']}"
        elif text.casefold() not in seen:
            seen.add(text.casefold())
            roles.append(text)
    if not roles and "job_roles" not in errors:
        errors["job_roles"] = "name at least one job role, as the learning system writes it (e.g. RN, Physician)"
    elif len(roles) > ROLES_MAX:
        errors["job_roles"] = f"at most {ROLES_MAX} job roles"
    clean["job_roles"] = roles
    unit = values.get("unit")
    if unit is not None and unit.facility.organisation_id != organisation.pk:
        errors["unit"] = f"{unit.name} is not a unit of {organisation.name}"
    clean["unit"] = unit
    renewal = values.get("renewal_months")
    if renewal is not None and (isinstance(renewal, bool) or not isinstance(renewal, int)
                                or not 1 <= renewal <= RENEWAL_MAX):
        errors["renewal_months"] = f"{inputs.shown(renewal)}: a whole number of months from 1 to {RENEWAL_MAX}, or none"
    clean["renewal_months"] = renewal
    if "course_code" not in errors and TrainingRequirement.objects.filter(
            organisation=organisation, course_code__iexact=clean["course_code"]).exclude(
            pk=getattr(exclude, "pk", None)).exists():
        errors["course_code"] = f"{clean['course_code']} is already required (one requirement per course)"
    if errors:
        raise ValidationError(errors)
    return clean


@audit.changes_by_user
def create_requirement(user, *, organisation: Organisation, course_code: str, title: str,
                       kind: str = RequirementKind.TRAINING, job_roles: list[str], unit: Unit | None = None,
                       renewal_months: int | None = None) -> TrainingRequirement:
    """A course or competency required of `job_roles` in `unit` (and below it; none: the whole
    organisation), renewed every `renewal_months` (none: never)."""
    permissions.check(user, MANAGE, unit or organisation)
    clean = _checked_requirement(organisation, {
        "course_code": course_code, "title": title, "kind": kind, "job_roles": job_roles, "unit": unit,
        "renewal_months": renewal_months})
    with transaction.atomic():
        return TrainingRequirement.objects.create(organisation=organisation, created_by=user, **clean)


@audit.changes_by_user
def edit_requirement(user, requirement: TrainingRequirement, version: int | None, *, course_code: str, title: str,
                     kind: str, job_roles: list[str], unit: Unit | None,
                     renewal_months: int | None) -> TrainingRequirement:
    """Change a requirement; the new unit must be one the user manages training of, as the old."""
    permissions.check(user, MANAGE, requirement)
    permissions.check(user, MANAGE, unit or requirement.organisation)
    with transaction.atomic():
        concurrency.lock(requirement, version)
        clean = _checked_requirement(requirement.organisation, {
            "course_code": course_code, "title": title, "kind": kind, "job_roles": job_roles, "unit": unit,
            "renewal_months": renewal_months}, exclude=requirement)
        for name, value in clean.items():
            setattr(requirement, name, value)
        requirement.save()
    return requirement


@audit.changes_by_user
def set_requirement_active(user, requirement: TrainingRequirement, version: int | None,
                           active: bool) -> TrainingRequirement:
    """Retire a requirement (it no longer counts; its completions are kept) or bring it back."""
    permissions.check(user, MANAGE, requirement)
    with transaction.atomic():
        concurrency.lock(requirement, version)
        if requirement.active != active:
            requirement.active = active
            requirement.save()
    return requirement


# --- compliance -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class PairStatus:
    """One (person, requirement) pair on a day."""

    person: TrainingPerson
    requirement: TrainingRequirement
    completed_on: date | None  # the latest completion on or before the day
    expires_on: date | None  # of the current completion (None: never, or no current one)
    current: bool

    def expires_within(self, on: date, days: int = SOON_DAYS) -> bool:
        return self.current and self.expires_on is not None and self.expires_on <= on + timedelta(days=days)

    @property
    def state(self) -> str:
        if self.current:
            return "current"
        return "expired" if self.completed_on else "missing"


def applies(requirement: TrainingRequirement, person: TrainingPerson, on: date, roles: set | None = None) -> bool:
    """Whether `requirement` is required of `person` on `on`; `roles`: its job roles case-folded."""
    if not requirement.active or person.known_since > on or requirement.organisation_id != person.organisation_id:
        return False
    roles = roles if roles is not None else {role.casefold() for role in requirement.job_roles}
    if person.job_role.casefold() not in roles:
        return False
    return requirement.unit_id is None or person.unit.path.startswith(requirement.unit.path)


@dataclass(frozen=True)
class Done:
    """A completion, as much of it as compliance reads."""

    completed_on: date
    expires_on: date | None


def expiry(completion: Done | TrainingCompletion, requirement: TrainingRequirement) -> date | None:
    if completion.expires_on is not None:
        return completion.expires_on
    return add_months(completion.completed_on, requirement.renewal_months) if requirement.renewal_months else None


@dataclass
class Records:
    """The people placed in some units, the active requirements of their organisations, and their
    completions of those requirements' courses up to a day: read once, then counted on any day up
    to it (a month after month)."""

    persons: list
    requirements: list
    done: dict  # (organisation id, employee id, course code case-folded) -> [Done]


def records_in(units, until: date) -> Records:
    persons = list(TrainingPerson.objects.filter(unit__in=units).select_related("unit__facility"))
    organisations = {p.organisation_id for p in persons}
    requirements = list(TrainingRequirement.objects.filter(organisation__in=organisations, active=True)
                        .select_related("unit"))
    done = defaultdict(list)
    found = TrainingCompletion.objects.filter(
        organisation__in=organisations, course_code__in={r.course_code for r in requirements}, completed_on__lte=until,
        employee_id__in=TrainingPerson.objects.filter(unit__in=units).values("employee_id"))
    for organisation, employee, course, completed_on, expires_on in found.values_list(
            "organisation_id", "employee_id", "course_code", "completed_on", "expires_on").iterator(chunk_size=5000):
        done[(organisation, employee, course.casefold())].append(Done(completed_on, expires_on))
    return Records(persons, requirements, done)


def pair_statuses(records: Records, on: date) -> list[PairStatus]:
    """Every pair required on `on` among the records' people and requirements, with whether a
    completion is current then."""
    found = []
    roles = {r.pk: {role.casefold() for role in r.job_roles} for r in records.requirements}
    for person in records.persons:
        for requirement in records.requirements:
            if not applies(requirement, person, on, roles[requirement.pk]):
                continue
            done = [c for c in records.done.get((person.organisation_id, person.employee_id,
                                                  requirement.course_code.casefold()), ()) if c.completed_on <= on]
            ends = [expiry(c, requirement) for c in done]
            current = [end for end in ends if end is None or on < end]
            latest = max((c.completed_on for c in done), default=None)
            until = None if not current or None in current else max(current)
            found.append(PairStatus(person, requirement, latest, until, bool(current)))
    return found


def _statuses_in(units, on: date) -> list[PairStatus]:
    """The pairs of the people placed in `units` (a queryset) on `on`."""
    return pair_statuses(records_in(units, on), on)


@dataclass
class Share:
    """Pairs compliant of pairs required, with those expiring soon."""

    label: str
    required: int = 0
    compliant: int = 0
    expiring: int = 0
    unit: Unit | None = None
    requirement: TrainingRequirement | None = None
    depth: int = 0

    @property
    def share(self) -> float | None:
        return self.compliant / self.required if self.required else None

    @property
    def shown(self) -> str:
        return "–" if self.share is None else f"{self.share * 100:.1f} %"

    @property
    def missing(self) -> int:
        return self.required - self.compliant


def _today(on):
    return on or timezone.localdate()


def compliance_by_unit(user, *, unit: Unit | None = None, on: date | None = None,
                       statuses: list | None = None) -> tuple[permissions.Scope, list]:
    """Each unit of the user's scope (`unit` and those below it, or every unit where the user
    views training) with the compliance of its people and of the units below it, on `on`
    (`statuses`: the scope's pairs on `on`, when the caller has them already)."""
    on = _today(on)
    scope = permissions.scope_for(user, VIEW, unit=unit)
    units = list(scope.units.select_related("facility").order_by("facility__name", "path"))
    by_unit = defaultdict(list)
    for status in _statuses_in(scope.units, on) if statuses is None else statuses:
        by_unit[status.person.unit.path].append(status)
    rows = []
    for each in units:
        row = Share(each.name, unit=each, depth=each.depth)
        for path, found in by_unit.items():
            if path.startswith(each.path):
                _add(row, found, on)
        rows.append(row)
    return scope, rows


def _add(row: Share, statuses, on: date) -> None:
    for status in statuses:
        row.required += 1
        row.compliant += status.current
        row.expiring += status.expires_within(on)


def compliance_by_requirement(user, *, unit: Unit | None = None, on: date | None = None,
                              statuses: list | None = None) -> list[Share]:
    """Each active requirement with the compliance of the pairs of the user's scope, the least
    compliant first."""
    on = _today(on)
    scope = permissions.scope_for(user, VIEW, unit=unit)
    rows = {}
    for status in _statuses_in(scope.units, on) if statuses is None else statuses:
        requirement = status.requirement
        row = rows.setdefault(requirement.pk, Share(requirement.title, requirement=requirement))
        _add(row, [status], on)
    return sorted(rows.values(), key=lambda row: (row.share if row.share is not None else 2, row.label))


def compliance_summary(user, *, unit: Unit | None = None, on: date | None = None):
    """(scope, by unit, by requirement) from one reading of the scope's records."""
    on = _today(on)
    statuses = _statuses_in(permissions.scope_for(user, VIEW, unit=unit).units, on)
    scope, by_unit = compliance_by_unit(user, unit=unit, on=on, statuses=statuses)
    return scope, by_unit, compliance_by_requirement(user, unit=unit, on=on, statuses=statuses)


@dataclass
class PersonRow:
    person: TrainingPerson
    statuses: list

    @property
    def missing(self) -> list[PairStatus]:
        return [s for s in self.statuses if not s.current]

    def expiring(self, on: date) -> list[PairStatus]:
        return [s for s in self.statuses if s.expires_within(on)]


def people_of_unit(user, unit: Unit, on: date | None = None) -> list[PersonRow]:
    """The people of `unit` and the units below it, each with their required pairs, those missing
    or expired first."""
    on = _today(on)
    scope = permissions.scope_for(user, VIEW, unit=unit)
    rows = {}
    for person in TrainingPerson.objects.filter(unit__in=scope.units).select_related("unit__facility"):
        rows[person.pk] = PersonRow(person, [])
    for status in _statuses_in(scope.units, on):
        rows[status.person.pk].statuses.append(status)
    return sorted(rows.values(), key=lambda row: (-len(row.missing), row.person.name, row.person.employee_id))


PEOPLE_COLUMNS = ["employee_id", "name", "unit", "job_role", "required", "missing", "expiring"]


def people_csv_rows(people: list[PersonRow], on: date):
    """A unit's people for the CSV download (platform.exports defuses formulas in every cell)."""
    for row in people:
        yield {"employee_id": row.person.employee_id, "name": row.person.name, "unit": unit_code(row.person.unit),
               "job_role": row.person.job_role, "required": len(row.statuses),
               "missing": "; ".join(f"{s.requirement.course_code} ({s.state})" for s in row.missing),
               "expiring": "; ".join(f"{s.requirement.course_code} {s.expires_on.isoformat()}"
                                     for s in row.expiring(on))}


# --- the measure ------------------------------------------------------------------------------------

def monthly_counts(organisation: Organisation, month: date, records: Records | None = None) -> dict:
    """Unit -> (pairs compliant, pairs required) on the month's last day, for the people placed in
    each unit itself (not those below it); units with nothing required are left out. `records`
    read once serve many months."""
    last = month_end(month)
    if records is None:
        records = records_in(Unit.objects.filter(facility__organisation=organisation), last)
    counts = {}
    for status in pair_statuses(records, last):
        unit = status.person.unit
        compliant, required = counts.get(unit, (0, 0))
        counts[unit] = (compliant + status.current, required + 1)
    return counts


def _training_measure():
    return measures.listed_measures().filter(key=MEASURE_KEY).first()


def send_months(user, organisation: Organisation, first: date, last: date) -> dict:
    """Write the measure's counts of every unit for the months from `first` to `last`, on the
    authority of the training import or record (the caller checked `user` manages training).
    Returns {"months": n, "counts": n, "problems": [text]}: a month's count entered otherwise (by
    hand) is kept and named as a problem; a library without the measure is one problem."""
    measure = _training_measure()
    if measure is None:
        return {"months": 0, "counts": 0, "problems": [f"The measures library has no {MEASURE_KEY} measure: "
                                                       "load the library's content to chart training compliance."]}
    sent, problems, months = 0, [], periods.periods(first, last, "month")
    records = records_in(Unit.objects.filter(facility__organisation=organisation), month_end(months[-1][0]))
    for start, _end in months:
        counts = monthly_counts(organisation, start, records)
        for unit, (compliant, required) in sorted(counts.items(), key=lambda item: item[0].path):
            try:
                measures.enter_count_from(user, measure, unit, start, compliant, required, source=MEASURE_SOURCE)
            except ValidationError as refusal:
                problems.extend(f"{unit.name}, {start:%Y-%m}: {text}" for text in refusal.messages)
            else:
                sent += 1
    return {"months": len(months), "counts": sent, "problems": problems}


@audit.changes_by_user
def record_month(user, organisation: Organisation, month: date | None = None) -> dict:
    """The "record this month" action: the measure's counts of `month` (this month by default)."""
    permissions.check(user, MANAGE, organisation)
    month = (month or timezone.localdate()).replace(day=1)
    return send_months(user, organisation, month, month)


# --- import ---------------------------------------------------------------------------------------

class ImportFileError(Exception):
    """The file as a whole cannot be read (size, encoding, header, emptiness): nothing stored."""


@dataclass(frozen=True)
class Problem:
    row: int  # the header is row 1
    field: str
    reason: str


@dataclass(frozen=True)
class Row:
    number: int
    employee_id: str
    name: str
    unit: Unit
    job_role: str
    course_code: str
    completed_on: date
    expires_on: date | None


@dataclass
class Checked:
    valid: list = field(default_factory=list)  # [Row]
    problems: list = field(default_factory=list)  # [Problem]
    rows: int = 0
    organisation: Organisation | None = None

    @property
    def invalid_rows(self) -> int:
        return len({problem.row for problem in self.problems})


def read_rows(data: bytes) -> tuple[list[str], list[tuple[int, dict]]]:
    """(header, [(row number, {column: cell})]) with the whole-file checks."""
    if not data or not data.strip():
        raise ImportFileError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB ({len(data):,} bytes).")
    try:
        text = inputs.utf8_text(data)
    except inputs.InputError as problem:
        raise ImportFileError(f"The file is {problem}. Save it as 'CSV UTF-8' and try again.") from None
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as problem:
        raise ImportFileError(f"The file is not valid CSV: {problem}.") from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise ImportFileError(f"Row 1: the header row is empty; it names the columns ({', '.join(COLUMNS)}).")
    header = [cell.strip().lower() for cell in records[0]]
    twice = sorted({name for name in header if header.count(name) > 1})
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    unknown = [name or "(blank)" for name in header if name not in COLUMNS]
    if twice or missing or unknown:
        parts = [f"{label}: {', '.join(names)}" for label, names in (
            ("columns named twice", twice), ("missing columns", missing), ("unknown columns", unknown)) if names]
        raise ImportFileError(f"Row 1 (the header): {'; '.join(parts)}. The columns are {', '.join(REQUIRED_COLUMNS)} "
                              "and optionally expires_on.")
    try:
        rows = inputs.table_rows(header, records[1:])
    except inputs.InputError as problem:
        raise ImportFileError(f"The file's {problem}.") from None
    if not rows:
        raise ImportFileError("The file has a header but no completions.")
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"The file has {len(rows):,} rows; at most {MAX_ROWS:,} at once.")
    return header, [(row.pop("_row"), row) for row in rows]


def _day(text: str, name: str, errors: dict) -> date | None:
    """A cell written YYYY-MM-DD, from 1900 to 2199; else the row's problem under `name`."""
    text = (text or "").strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text, re.ASCII):
        errors[name] = f"{inputs.shown(text)} is not a date as YYYY-MM-DD" if text else "required (YYYY-MM-DD)"
        return None
    try:
        return inputs.day(date.fromisoformat(text))
    except ValueError as problem:  # 2024-02-30, or a year out of range (InputError is a ValueError)
        errors[name] = str(problem) if isinstance(problem, inputs.InputError) else f"{text} is not a date"
        return None


def check_file(user, data: bytes, progress=None) -> Checked:
    """Read and check every row; `progress(done, total)` after each. ImportFileError for a file
    that cannot be read at all."""
    permissions.check(user, MANAGE)
    _, rows = read_rows(data)
    units = {unit_code(u).casefold(): u for u in training_units(user)}
    courses = defaultdict(dict)  # course code (case folded) -> {organisation id: the code as written}
    for requirement in TrainingRequirement.objects.filter(
            organisation__in={u.facility.organisation_id for u in units.values()}):
        courses[requirement.course_code.casefold()][requirement.organisation_id] = requirement.course_code
    checked = Checked(rows=len(rows))
    for done, (number, cells) in enumerate(rows, start=1):
        if progress:
            progress(done, len(rows))
        errors = {}
        row = _checked_row(number, cells, units, courses, checked, errors)
        if errors:
            checked.problems.extend(Problem(number, name, reason) for name, reason in errors.items())
        else:
            checked.valid.append(row)
    return checked


def _checked_row(number: int, cells: dict, units: dict, courses: dict, checked: Checked, errors: dict) -> Row | None:
    """One row read into a Row, or its problems put in `errors` (field -> reason)."""
    employee_id = _plain(cells.get("employee_id"), "employee_id", CODE_MAX, errors)
    name = _plain(cells.get("name"), "name", NAME_MAX, errors)
    job_role = _plain(cells.get("job_role"), "job_role", ROLE_MAX, errors)
    unit = _row_unit(cells.get("unit"), units, checked, errors)
    course = _row_course(cells.get("course_code"), unit, courses, errors)
    completed = _day(cells.get("completed_on"), "completed_on", errors)
    if completed is not None and completed > timezone.localdate():
        errors["completed_on"] = f"{completed.isoformat()} is after today"
    expires = _day(cells["expires_on"], "expires_on", errors) if (cells.get("expires_on") or "").strip() else None
    if expires is not None and completed is not None and expires <= completed:
        errors["expires_on"] = f"{expires.isoformat()} is not after the completion ({completed.isoformat()})"
    return None if errors else Row(number, employee_id, name, unit, job_role, course, completed, expires)


def _row_unit(value, units: dict, checked: Checked, errors: dict) -> Unit | None:
    """The row's unit: one whose training the importer manages, in the organisation of the file's
    first rows (one file, one organisation)."""
    code = _plain(value, "unit", 100, errors)
    if "unit" in errors:
        return None
    unit = units.get(code.casefold())
    if unit is None:
        errors["unit"] = f"{inputs.shown(code)} is not a unit whose training you manage (facility/unit, e.g. rgh/4w)"
        return None
    checked.organisation = checked.organisation or unit.facility.organisation
    if unit.facility.organisation_id != checked.organisation.pk:
        errors["unit"] = f"{code} is not in {checked.organisation.name}, the organisation of the file's first rows"
        return None
    return unit


def _row_course(value, unit, courses: dict, errors: dict) -> str:
    """The course code as its requirement writes it (the file's case may differ)."""
    code = _plain(value, "course_code", CODE_MAX, errors)
    if "course_code" in errors:
        return code
    known = [written for organisation, written in courses.get(code.casefold(), {}).items()
             if unit is None or organisation == unit.facility.organisation_id]
    if not known:
        errors["course_code"] = f"{inputs.shown(code)} is not the course of any requirement"
        return code
    return known[0]


@transaction.atomic
def store(user, checked: Checked, filename: str) -> tuple[TrainingImport, dict]:
    """Store the checked rows (all valid): completions not imported before, the roster from the
    rows (each employee's latest completion in the file gives their name, unit and job role), and
    the measure's counts of the ended months the new completions change (at most the last
    MEASURE_MONTHS_BACK). Returns the import and what was sent to the measure."""
    permissions.check(user, MANAGE, checked.organisation)
    allowed = set(training_units(user).values_list("pk", flat=True))
    if any(row.unit.pk not in allowed for row in checked.valid):  # the scope as it is now, not as checked
        raise PermissionDenied(f"not permitted: {MANAGE} in every unit of the file")
    organisation = checked.organisation
    batch = TrainingImport.objects.create(organisation=organisation, filename=filename[:200], rows=checked.rows,
                                          imported_by=user)
    new = _new_completions(organisation, checked.valid, batch)
    TrainingCompletion.objects.bulk_create(new, batch_size=2000)
    people = _update_roster(organisation, checked.valid, batch)
    batch.stored, batch.people = len(new), people
    batch.save(update_fields=["stored", "people"])
    # The months that have ended (a month's count is of its last day), from the first one the new
    # completions change; the month under way is recorded by hand ("record this month").
    this_month = timezone.localdate().replace(day=1)
    first = max(min((c.completed_on for c in new), default=this_month).replace(day=1),
                add_months(this_month, -MEASURE_MONTHS_BACK))
    last = add_months(this_month, -1)
    if first > last:
        return batch, {"months": 0, "counts": 0, "problems": []}
    return batch, send_months(user, organisation, first, last)


def _new_completions(organisation, rows, batch) -> list[TrainingCompletion]:
    """The rows' completions not stored already (nor twice in the file)."""
    seen = set()
    for employees in _chunks(sorted({row.employee_id for row in rows})):
        seen |= set(TrainingCompletion.objects.filter(organisation=organisation, employee_id__in=employees)
                    .values_list("employee_id", "course_code", "completed_on"))
    new = []
    for row in rows:
        key = (row.employee_id, row.course_code, row.completed_on)
        if key not in seen:
            seen.add(key)
            new.append(TrainingCompletion(organisation=organisation, employee_id=row.employee_id,
                                          course_code=row.course_code, completed_on=row.completed_on,
                                          expires_on=row.expires_on, imported=batch))
    return new


def _update_roster(organisation, rows, batch) -> int:
    """Each employee of the file placed as their latest completion in it says (ties: the later
    row); a person first named now is known from their earliest completion. `last_import` is the
    import that last changed the person."""
    latest, earliest = {}, {}
    for row in rows:
        if row.employee_id not in latest or row.completed_on >= latest[row.employee_id].completed_on:
            latest[row.employee_id] = row
        earliest[row.employee_id] = min(earliest.get(row.employee_id, row.completed_on), row.completed_on)
    known = {}
    for employees in _chunks(sorted(latest)):
        known |= {p.employee_id: p for p in TrainingPerson.objects.filter(organisation=organisation,
                                                                          employee_id__in=employees)}
    new, changed = [], []
    for employee_id, row in latest.items():
        person = known.get(employee_id)
        since = min(person.known_since, earliest[employee_id]) if person else earliest[employee_id]
        if person is None:
            new.append(TrainingPerson(organisation=organisation, employee_id=employee_id, name=row.name, unit=row.unit,
                                      job_role=row.job_role, known_since=since, last_import=batch))
        elif (person.name, person.unit_id, person.job_role, person.known_since) != (
                row.name, row.unit.pk, row.job_role, since):
            person.name, person.unit, person.job_role, person.known_since = row.name, row.unit, row.job_role, since
            person.last_import = batch
            changed.append(person)
    TrainingPerson.objects.bulk_update(changed, ["name", "unit", "job_role", "known_since", "last_import"],
                                       batch_size=500)
    TrainingPerson.objects.bulk_create(new, batch_size=1000)
    return len(latest)


def _chunks(items: list, size: int = 500):
    """`items` in lists of `size`: an IN list of each stays well inside every database's limit of
    parameters."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def recent_imports(user, count: int = 10):
    """The latest imports of the organisations where the user manages training."""
    organisations = training_units(user).values("facility__organisation_id")
    return TrainingImport.objects.filter(organisation__in=organisations).select_related("imported_by")[:count]


def report(checked: Checked, stored: int = 0, sent: dict | None = None) -> dict:
    """What the importer is shown, as plain data (a job's result is JSON)."""
    sent = sent or {}
    return {"rows": checked.rows, "valid": len(checked.valid), "invalid_rows": checked.invalid_rows,
            "stored": stored, "problem_count": len(checked.problems),
            "problems": [asdict(problem) for problem in checked.problems[:PROBLEMS_SHOWN]],
            "measure_counts": sent.get("counts", 0), "measure_problems": sent.get("problems", [])[:PROBLEMS_SHOWN]}


def import_completions(user, data: bytes, filename: str) -> dict:
    """Check the file and, when every row is right, store it: the report (rows, stored, problems by
    row and field). A file with any problem stores nothing. ImportFileError for an unreadable file."""
    checked = check_file(user, data)
    if checked.problems:
        return report(checked)
    with audit.acting_as(user):
        batch, sent = store(user, checked, filename)
    return report(checked, batch.stored, sent)


# --- large files: a background job ---------------------------------------------------------------

def queue_import_if_large(user, data: bytes, filename: str):
    """The Job importing a file of more than ANDON_IMPORT_JOB_ROWS rows, or None for a file small
    enough to import at once. An unreadable file raises ImportFileError here, before anything is
    queued."""
    from andon.platform.jobs import start_job

    permissions.check(user, MANAGE)
    _, rows = read_rows(data)
    if len(rows) <= settings.ANDON_IMPORT_JOB_ROWS:
        return None
    return start_job(import_completions_job, f"Import of training completions from {filename}"[:200], user,
                     _stash(user, data), filename[:200])


@job_task
def import_completions_job(job, token: str, filename: str):
    """A large file's import, as its requester: checked, then stored with the job's outcome in one
    transaction (a worker that stops before the commit stores nothing; after it, the job is done
    and never run again). Every problem is in a CSV to download (formulas defused)."""
    user = job.requester()
    try:
        checked = check_file(user, _unstash(user, token), progress=lambda done, total: job.progress(
            done, total, f"Checked {done:,} of {total:,} rows"))
    except ImportFileError as problem:
        raise JobFailed(str(problem)) from None
    except PermissionDenied:
        raise JobFailed("You may no longer manage training; nothing was imported.") from None
    if checked.problems:  # nothing stored: the reasons, in the job's message
        _discard(user, token)
        raise JobFailed(f"{checked.invalid_rows:,} of {checked.rows:,} rows have problems; nothing was imported. "
                        + "; ".join(f"Row {p.row}, {p.field}: {p.reason}" for p in checked.problems[:10])
                        + (" …" if len(checked.problems) > 10 else ""))
    with transaction.atomic(), audit.acting_as(user):
        batch, sent = store(user, checked, filename)
        result = {**report(checked, batch.stored, sent), "name": filename}
        job.commit_result(result)
    _discard(user, token)
    return result


def _stash_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _stash_path(user, token: str) -> Path:
    if not _TOKEN.match(token or ""):
        raise ImportFileError("The uploaded file is no longer available: upload it again.")
    return _stash_dir() / f"training-{user.pk}-{token}.csv"


def _stash(user, data: bytes) -> str:
    """Keep an uploaded file for its job (under the data dir, named for the importer)."""
    cutoff = clock.time() - STASH_HOURS * 3600
    for old in _stash_dir().glob("training-*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    _stash_path(user, token).write_bytes(data)
    return token


def _unstash(user, token: str) -> bytes:
    try:
        return _stash_path(user, token).read_bytes()
    except FileNotFoundError:
        raise ImportFileError("The uploaded file is no longer available: upload it again.") from None


def _discard(user, token: str) -> None:
    _stash_path(user, token).unlink(missing_ok=True)


def connect() -> None:
    """Registries of training (audit trail, history, navigation, demo), from ready()."""
    from andon.platform import demo, history, navigation

    from . import demo_training

    audit.register(TrainingRequirement, exclude_fields=["version"])
    audit.register(TrainingImport)
    history.register(TrainingRequirement, labels={"renewal_months": "Renewal (months)", "job_roles": "Job roles"})
    navigation.add(navigation.NavEntry("Training compliance", "medstaff:training_compliance", VIEW, "ui-checks"))
    navigation.add(navigation.NavEntry("Training requirements", "medstaff:training_requirements", MANAGE,
                                       "mortarboard"))
    demo.register_demo_loader(demo_training.load_demo_training)
