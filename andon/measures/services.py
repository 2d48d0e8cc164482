"""The measures module's door: loading the library, computing results, entering counts,
annotating charts, mapping EHR places to units, and reading results for pages, the API and
exports. Changes are validated, permission-checked where a person asks, and audited.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from andon.analytics import kpi
from andon.analytics.kpi import periods as period_math
from andon.platform import audit, inputs, permissions
from andon.platform.content import store_document
from andon.platform.models import Unit

from . import compute, definitions, exchange
from .models import (
    Annotation,
    AnnotationKind,
    Domain,  # the IOM six aims, which other modules' records (QI projects) are classed by too
    ManualCount,
    Measure,
    MeasureResult,
    PeerResult,
    SourceKind,
    UnitMapping,
)

MAX_YEARS = 20  # one computation's range
REGISTRY_FIELDS = ("version", "title", "description", "domain", "improvement", "scoring", "unit_label", "multiplier",
                   "target", "owner_role")


# --- the library ------------------------------------------------------------------------------

def load_measure_file(data, source: str) -> Measure:
    """Content loader for content/measures/*.yaml: keep the version's document and bring the
    registry row up to it (a reload of the same version changes nothing)."""
    checked = definitions.check(data, source)
    store_document(definitions.KIND, checked["key"], checked["version"], checked["title"], checked)
    values = {name: checked[name] for name in REGISTRY_FIELDS}
    values.update(source_kind=checked["source"]["kind"], definition=checked)
    measure = Measure.objects.filter(key=checked["key"]).first()
    if measure is None:
        return Measure.objects.create(key=checked["key"], **values)
    if any(getattr(measure, name) != value for name, value in values.items()):
        for name, value in values.items():
            setattr(measure, name, value)
        measure.loaded_at = timezone.now()
        measure.save()
    return measure


def access_measure(user, key: str, capability: str = "measures.view") -> Measure:
    """An active measure of the library, if the user may `capability` it: Http404 when there is
    none (or it was retired), PermissionDenied when they may not."""
    return permissions.fetch_checked(user, capability, Measure, key=key, active=True)


def listed_measures():
    return Measure.objects.filter(active=True).order_by("domain", "title")


# --- computing --------------------------------------------------------------------------------

@dataclass
class Computed:
    measure: str
    cells: int = 0
    counts: dict = field(default_factory=dict)
    error: str = ""


def computation_order(measures: list[Measure]) -> list[Measure]:
    """Census measures (the denominators of event rates) before the measures that use them."""
    needed = {m.definition["source"]["denominator"]["measure"] for m in measures if m.source_kind == SourceKind.EVENTS}
    return sorted(measures, key=lambda m: (m.key not in needed, m.key))


def unit_map() -> list[tuple[str, str, str]]:
    return [(kind, external_id, str(unit_id))
            for kind, external_id, unit_id in UnitMapping.objects.values_list("kind", "external_id", "unit_id")]


def unit_tree() -> list[tuple[str, str]]:
    """(unit, unit above it) pairs: a unit's cases count in each unit above it too."""
    return [(str(unit), str(above)) for unit, line in compute.lineages().items() for above in line if above != unit]


def store_load_label(store) -> str:
    """Which load of the FHIR store results came from: files loaded and the newest load (on
    Spark, the store's version)."""
    return compute.load_label(store)


def open_store():
    """The FHIR store, read-only, as a DuckDB connection, for the pages that read the clinical
    record (a patient, the places; on Spark the Spark store's files, compute.open_reading_store);
    None when no clinical data has been loaded. Computations open theirs on the configured
    engine (compute.computation_store)."""
    return compute.open_reading_store()


def find_patient(identifier: str):
    """The patient a safety report names (an MRN, a Patient id, or an encounter's id or
    identifier), found in the FHIR store: `patients.Found` (patient and encounter ids), or None
    when it is not there (or no clinical data is loaded). Other modules link to the clinical
    record through here; they keep the ids, never the patient's identity."""
    from andon.analytics.fhir import patients

    import duckdb

    try:
        store = open_store()
        if store is None:
            return None
        try:
            return patients.find(store, identifier)
        finally:
            store.close()
    except duckdb.Error as problem:
        raise LookupError(f"the clinical record (FHIR store) could not be read: {problem}") from None


def patient_identity(patient_id: str):
    """Name, MRN and birth date of a patient of the FHIR store (`patients.Identity`), for the pages
    allowed to show them; None when the store no longer has them."""
    from andon.analytics.fhir import patients

    store = open_store() if patient_id else None
    if store is None:
        return None
    try:
        return patients.identity(store, patient_id)
    finally:
        store.close()


def compute_measures(keys=None, *, kind: str = "month", first: date, last: date, job=None, jobs=None,
                     progress=None, ecqm_evaluations: dict | None = None,
                     by_practitioner: bool | None = None) -> list[Computed]:
    """Compute the measures named by `keys` (all active ones when None) over the periods of
    `kind` from `first` to `last`, replacing their stored cells for those periods. A measure
    that cannot be computed keeps its old results and says why; the others go on.
    `ecqm_evaluations`: by measure key, an eCQM engine's output made earlier for these periods
    (compute.from_ecqm), for the demo's precomputed eCQMs. `by_practitioner`: True, every SQL or
    eCQM measure is also computed by practitioner (stratum "practitioner"); False, none; None
    (the default), those other modules need by practitioner (`needed_by_practitioner`)."""
    period_math.check_kind(kind)
    spans = period_math.periods(first, last, kind)
    measures = list(Measure.objects.filter(active=True, **({"key__in": list(keys)} if keys is not None else {})))
    if keys is not None:
        missing = sorted(set(keys) - {m.key for m in measures})
        if missing:
            raise ValidationError(f"no active measure {', '.join(missing)}")
    store = compute.computation_store()
    workspace = None
    try:
        attributed = _attributed(measures, by_practitioner)
        workspace = _workspace(store, measures, bool(attributed))
        evaluated = _evaluate_ecqms(measures, store, kind, spans, jobs, ecqm_evaluations or {})
        if evaluated:
            store = _reopened(store)
        evaluations = {**evaluated, **(ecqm_evaluations or {})}
        done = []
        for position, measure in enumerate(computation_order(measures)):
            done.append(_compute_one(measure, workspace, store, kind, spans, job, jobs,
                                     evaluations.get(measure.key), measure.key in attributed))
            if progress is not None:
                progress(position + 1, len(measures), measure.title)
        return done
    finally:
        if workspace is not None:
            workspace.close()
        if store is not None:
            store.close()


def _reopened(store):
    """The store on a fresh connection. The eCQMs' pass streams every patient through DuckDB's
    buffers, which keep what they allocated until the database closes: 220 MB at 100,000
    patients, held through the rest of the computation otherwise. (On Spark the same version
    is read on.)"""
    if compute.on_spark(store):
        return store
    store.close()
    return compute.open_duckdb_store()


def _evaluate_ecqms(measures, store, kind: str, spans, jobs, given: dict) -> dict:
    """By measure key, the engine's output for the eCQMs among `measures` not `given`, all
    evaluated in one pass over the store (compute.ecqm_cases_together). An eCQM that cannot be
    evaluated is left out: computed alone, it fails with its reason, and the others go on."""
    folders = settings.ANDON_ECQM_CONTENT
    names = {m.key: m.definition["source"]["measure"] for m in measures
             if m.source_kind == SourceKind.ECQM and m.key not in given}
    if not names or not folders or store is None:
        return {}
    first, last_day = spans[0][0], date.fromordinal(spans[-1][1].toordinal() - 1)
    found = compute.ecqm_cases_together(store, folders, sorted(set(names.values())), kind, first, last_day, jobs)
    return {key: found[name] for key, name in names.items() if not isinstance(found[name], compute.ComputeError)}


# Callables giving the keys of measures another module needs by practitioner (the medical staff
# module's OPPE indicators): registered at start-up, so measures imports none of them.
_PRACTITIONER_NEEDS: list = []


def needed_by_practitioner(keys_source) -> None:
    """Register a callable returning the keys of measures to compute by practitioner too."""
    if keys_source not in _PRACTITIONER_NEEDS:
        _PRACTITIONER_NEEDS.append(keys_source)


def _attributed(measures, by_practitioner: bool | None) -> set[str]:
    """The keys of the measures to compute by practitioner (SQL and eCQM ones: others name no encounter)."""
    if by_practitioner is False:
        return set()
    wanted = None if by_practitioner else {key for source in _PRACTITIONER_NEEDS for key in source()}
    return {m.key for m in measures if m.source_kind in (SourceKind.SQL, SourceKind.ECQM)
            and (wanted is None or m.key in wanted)}


def _workspace(store, measures, by_practitioner: bool = False) -> kpi.Workspace:
    views = kpi.load_view_definitions(definitions.views_folder())
    sqls = [m.definition["source"]["sql"] for m in measures if m.source_kind == SourceKind.SQL]
    if any(m.source_kind == SourceKind.ECQM for m in measures):
        sqls.append("SELECT * FROM encounter")
    return compute.workspace_for(store, views, sqls, unit_map(), unit_tree(), attribution=by_practitioner)


def _compute_one(measure: Measure, workspace, store, kind: str, spans, job, jobs, evaluation=None,
                 by_practitioner: bool = False) -> Computed:
    first, last = spans[0][0], spans[-1][1]
    last_day = date.fromordinal(last.toordinal() - 1)
    try:
        cells, counts, load = _cells(measure, workspace, store, kind, first, last_day, jobs, evaluation, by_practitioner)
        if not cells:
            raise compute.ComputeError(f"{measure.key}: {_nothing_found(measure, counts)}")
        _check_finite(measure, cells)
    except compute.ComputeError as error:
        _record_outcome(measure, str(error), job)
        return Computed(measure.key, error=str(error))
    replace_results(measure, kind, first, last, cells, load, job)
    _record_outcome(measure, "", job)
    return Computed(measure.key, len(cells), counts)


def _check_finite(measure: Measure, cells) -> None:
    """A sum of the EHR's values can overflow (two of 1e308): such a result is an error of the
    computation, and the stored results stay, rather than a cell no chart or sum can use."""
    for cell in cells:
        if not all(math.isfinite(number) for number in (cell.numerator, cell.denominator, cell.value or 0.0)):
            where = f"unit {cell.unit_id}" if cell.unit_id else "the organisation"
            raise compute.ComputeError(f"{measure.key}: the result for {cell.period_start:%Y-%m} ({where}) is not a "
                                       "finite number; the stored results are kept")


def _nothing_found(measure: Measure, counts: dict) -> str:
    """Why a computation found nothing to store, in the words of its source."""
    if measure.source_kind == SourceKind.MANUAL:
        return "no counts are entered for these periods"
    found = counts.get("cases", 0)
    return (f"no cases in these periods (the source gave {found}: {counts.get('outside', 0)} dated outside them, "
            f"{counts.get('undated', 0)} without a usable date)")


def _record_outcome(measure: Measure, error: str, job) -> None:
    """Keep why the measure could not be computed (or clear it), for its page to say."""
    job = getattr(job, "job", job)
    Measure.objects.filter(pk=measure.pk).update(compute_error=error, compute_error_at=timezone.now() if error else None,
                                                 compute_error_job=job if error else None)


def _cells(measure, workspace, store, kind, first, last_day, jobs, evaluation=None, by_practitioner=False):
    source = measure.source_kind
    folders = settings.ANDON_ECQM_CONTENT
    if source == SourceKind.ECQM and not folders:
        raise compute.ComputeError(f"{measure.key}: no eCQM content is configured (ANDON_ECQM_CONTENT)")
    if source in (SourceKind.SQL, SourceKind.ECQM) and store is None:
        raise compute.ComputeError(f"{measure.key}: no clinical data is loaded (andon fhir load)")
    if source == SourceKind.SQL:
        return (*compute.from_sql(measure, workspace, kind, first, last_day, by_practitioner=by_practitioner),
                store_load_label(store))
    if source == SourceKind.ECQM:
        cells, counts = compute.from_ecqm(measure, workspace, store, folders, kind, first, last_day, jobs,
                                          evaluation=evaluation, by_practitioner=by_practitioner)
        return cells, counts, store_load_label(store)
    if source == SourceKind.EVENTS:
        census_key = measure.definition["source"]["denominator"]["measure"]
        census = compute.census_of(census_key, kind, first, last_day)
        if not census:
            raise compute.ComputeError(f"{measure.key}: its denominator {census_key} has no results for these periods; "
                                       f"compute {census_key} first (it needs clinical data)")
        cells, counts = compute.from_events(measure, census, kind, first, last_day)
        return cells, counts, f"safety events as of {timezone.now():%Y-%m-%dT%H:%M:%SZ}; census {census_key}"
    cells, counts = compute.from_manual(measure, kind, first, last_day)
    newest = ManualCount.objects.filter(measure=measure).order_by("-entered_at").values_list("entered_at", flat=True).first()
    return cells, counts, f"counts entered as of {newest:%Y-%m-%dT%H:%M:%SZ}" if newest else "no counts entered"


@transaction.atomic
def replace_results(measure: Measure, kind: str, first: date, end: date, cells, data_load: str, job=None) -> int:
    """Put a computation's cells in place of the stored ones for the same periods: recomputing
    after a reload gives the same rows, never twice the rows."""
    MeasureResult.objects.filter(measure=measure, period_kind=kind, period_start__gte=first, period_start__lt=end).delete()
    units = set(Unit.objects.filter(pk__in={c.unit_id for c in cells if c.unit_id}).values_list("pk", flat=True))
    now = timezone.now()
    rows = [MeasureResult(measure=measure, definition_version=measure.version, data_load=data_load[:200],
                          period_kind=kind, period_start=c.period_start,
                          period_end=period_math.next_start(c.period_start, kind),
                          unit_id=c.unit_id if c.unit_id in units else None, stratum=c.stratum,
                          stratum_value=c.stratum_value[:200], cases=c.cases, numerator=c.numerator,
                          denominator=c.denominator, value=c.value, computed_at=now, job=getattr(job, "job", job))
            for c in cells if c.unit_id is None or c.unit_id in units]
    MeasureResult.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- counts entered by hand or CSV ------------------------------------------------------------

CSV_COLUMNS = ("unit", "month", "numerator", "denominator")
MAX_COUNT_ROWS = 50_000  # as the safety events' import


@dataclass
class ImportReport:
    """What a CSV import did: rows read, stored, and each rejected row with its line and why."""

    rows: int = 0
    stored: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _check_count(measure: Measure, numerator, denominator) -> str:
    for name, value in (("numerator", numerator), ("denominator", denominator)):
        try:  # every caller (form, file, API, another module) meets the same limits
            inputs.finite(value, low=0)
        except inputs.InputError as problem:
            return f"{name}: {problem}"
    if measure.scoring == "proportion" and numerator > denominator:
        return f"the numerator ({numerator:g}) is larger than the denominator ({denominator:g})"
    return ""


def _check_month(month: date) -> str:
    """Counts are of a month that has begun: a later month has nothing to count yet."""
    today = timezone.localdate()
    if (month.year, month.month) > (today.year, today.month):
        return f"{month:%Y-%m} has not begun: counts are entered for this month or earlier ones"
    return ""


@audit.changes_by_user
def enter_count(user, measure: Measure, unit: Unit, month: date, numerator: float, denominator: float,
                source: str = "Entered by hand") -> ManualCount:
    permissions.check(user, "measures.enter_counts", unit)
    if measure.source_kind != SourceKind.MANUAL:
        raise ValidationError(f"{measure.title} is computed from its source; counts cannot be entered")
    problem = _check_month(month) or _check_count(measure, numerator, denominator)
    if problem:
        raise ValidationError(problem)
    count, _ = ManualCount.objects.update_or_create(
        measure=measure, unit=unit, month=date(month.year, month.month, 1),
        defaults={"numerator": numerator, "denominator": denominator, "source": source[:200], "entered_by": user,
                  "entered_at": timezone.now()})
    return count


@audit.changes_by_user
@transaction.atomic
def enter_count_from(user, measure: Measure, unit: Unit, month: date, numerator: float, denominator: float, *,
                     source: str) -> tuple[ManualCount, bool]:
    """A count another module computed from its own records (an audit's overall compliance),
    entered on that module's authority: the caller has checked that `user` may act on the record
    named by `source` (for an audit, its lead or an audit manager, who need not hold
    measures.enter_counts: the count is the audit's result, not a number typed in). The same
    checks as `enter_count` otherwise. A count of the unit and month entered before from the same
    `source` is replaced (a re-send); one entered by hand or from a file is kept and refused by
    name. The month's results are computed again, so the measure's chart shows the count at once.
    Returns (count, whether it replaced the source's own)."""
    source = (source or "").strip()[:200]
    if not source:
        raise ValidationError({"source": "Name the record the count comes from."})
    if measure.source_kind != SourceKind.MANUAL:
        raise ValidationError({"measure": f"{measure.title} is computed from its source; counts cannot be entered"})
    problem = _check_month(month) or _check_count(measure, numerator, denominator)
    if problem:
        raise ValidationError({"count": problem})
    month = date(month.year, month.month, 1)
    existing = ManualCount.objects.select_for_update().filter(measure=measure, unit=unit, month=month).first()
    if existing is not None and existing.source != source:
        raise ValidationError({"count": f"{unit.name} already has a count for {month:%Y-%m} ({existing.source or 'entered'} "
                                        f"by {existing.entered_by}); it is not replaced"})
    count, created = ManualCount.objects.update_or_create(
        measure=measure, unit=unit, month=month,
        defaults={"numerator": numerator, "denominator": denominator, "source": source, "entered_by": user,
                  "entered_at": timezone.now()})
    _recompute_counted_month(measure, month)
    return count, not created


@audit.changes_by_user
@transaction.atomic
def enter_counts_from(user, measure: Measure, counts, *, source: str) -> int:
    """Many counts another module computed from its own records (a survey file's top-box answers
    for every unit and month it holds), as `enter_count_from` enters one: the same checks, a count
    of the same `source` replaced and one from elsewhere refused by name (nothing is stored then),
    and the results computed again once for the whole span rather than once per count.
    `counts` is an iterable of (unit, month, numerator, denominator); returns how many were stored."""
    source = (source or "").strip()[:200]
    if not source:
        raise ValidationError({"source": "Name the record the counts come from."})
    if measure.source_kind != SourceKind.MANUAL:
        raise ValidationError({"measure": f"{measure.title} is computed from its source; counts cannot be entered"})
    wanted = {}
    for unit, month, numerator, denominator in counts:
        month = date(month.year, month.month, 1)
        problem = _check_month(month) or _check_count(measure, numerator, denominator)
        if problem:
            raise ValidationError({"count": f"{unit.name} {month:%Y-%m}: {problem}"})
        wanted[(unit.pk, month)] = (unit, numerator, denominator)
    if not wanted:
        return 0
    months = sorted({month for _, month in wanted})
    existing = {(c.unit_id, c.month): c for c in ManualCount.objects.select_for_update().filter(
        measure=measure, month__in=months, unit_id__in={unit_pk for unit_pk, _ in wanted})}
    for key, (unit, _, _) in wanted.items():
        count = existing.get(key)
        if count is not None and count.source != source:
            raise ValidationError({"count": f"{unit.name} already has a count for {key[1]:%Y-%m} ({count.source or 'entered'} "
                                            f"by {count.entered_by}); it is not replaced"})
    now = timezone.now()
    for key, (unit, numerator, denominator) in wanted.items():  # saved one by one: each is in the audit trail
        count = existing.get(key) or ManualCount(month=key[1])
        # The caller's measure and unit objects (their facility read once), not one query each for
        # the audit entry's words about every count.
        count.measure, count.unit = measure, unit
        count.numerator, count.denominator, count.source = numerator, denominator, source
        count.entered_by, count.entered_at = user, now
        count.save()
    _recompute_counted_months(measure, months[0], months[-1])
    return len(wanted)


def _recompute_counted_month(measure: Measure, month: date) -> None:
    _recompute_counted_months(measure, month, month)


def _recompute_counted_months(measure: Measure, first: date, last: date) -> None:
    """The results of a measure counted by hand for the periods holding the months from `first`
    to `last`, from its counts: the months, and the quarters where such results are stored."""
    kinds = {"month"} | set(MeasureResult.objects.filter(measure=measure, period_kind="quarter")
                            .values_list("period_kind", flat=True).distinct())
    for kind in sorted(kinds):
        spans = period_math.periods(first, last, kind)
        cells, _counts = compute.from_manual(measure, kind, spans[0][0], spans[-1][0])
        replace_results(measure, kind, spans[0][0], spans[-1][1], cells, f"counts entered as of {timezone.now():%Y-%m-%dT%H:%M:%SZ}")


def import_counts_csv(user, measure: Measure, text: str, filename: str, progress=None) -> ImportReport:
    """Counts from a CSV file with the columns unit ("facility/unit" codes, e.g. rgh/4w), month (YYYY-MM), numerator,
    denominator. Every row is checked first; if any is wrong nothing is stored and the report
    lists each wrong row with its line number and what is wrong. `progress(done, total, message)`
    as it goes (a job's)."""
    progress = progress or (lambda done, total, message: None)
    lines = text.count("\n")
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    except csv.Error as problem:
        report.errors.append((1, f"not valid CSV: {problem}"))
        return report
    if missing:
        report.errors.append((1, f"the header must name the columns {', '.join(CSV_COLUMNS)}; missing {', '.join(missing)}"))
        return report
    units = {f"{u.facility.code}/{u.code}": u for u in Unit.objects.select_related("facility")}
    parsed, seen = [], {}
    for line, row in _csv_records(reader, report):
        report.rows += 1
        if report.rows > MAX_COUNT_ROWS:
            report.errors.append((line, f"more than {MAX_COUNT_ROWS:,} rows; import them in parts"))
            break
        progress(report.rows, max(lines - 1, report.rows), "Checking rows")
        problem, values = _parse_count_row(measure, row, units, user)
        if not problem:
            key = (values[0].pk, values[1])
            problem = f"the same unit and month as line {seen[key]}" if key in seen else ""
            seen.setdefault(key, line)
        if problem:
            report.errors.append((line, problem))
        else:
            parsed.append(values)
    if report.errors:
        return report
    with transaction.atomic():
        for done, (unit, month, numerator, denominator) in enumerate(parsed, start=1):
            enter_count(user, measure, unit, month, numerator, denominator, source=f"Imported from {filename}")
            progress(done, len(parsed), "Storing counts")
    report.stored = len(parsed)
    return report


def queue_counts_import(user, measure: Measure, text: str, filename: str):
    """A file of more than ANDON_IMPORT_JOB_ROWS lines is imported by a background job (checking
    and storing tens of thousands of counts takes longer than a request may): the Job, or None
    for a file small enough to import at once. Storing a count again changes nothing, so the job
    may be run again if its worker stops."""
    from andon.platform.jobs import start_job

    from . import tasks

    if text.count("\n") - 1 <= settings.ANDON_IMPORT_JOB_ROWS:
        return None
    permissions.check(user, "measures.enter_counts")
    return start_job(tasks.import_counts, f"Import of {measure.title} counts from {filename}"[:200], user, measure.key,
                     text, filename)


def _csv_records(reader, report: ImportReport):
    """(line, row) of a CSV file; a line the reader cannot read (a cell over the csv module's
    size limit) is the report's last error, not an exception."""
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as problem:
        report.errors.append((reader.reader.line_num, f"not valid CSV: {problem}"))  # the line it stopped on


def _parse_count_row(measure, row, units, user):
    if row.get(None):  # csv.DictReader keeps a row's cells past the header's under None
        columns = len(row) - 1
        return (f"{columns + len(row[None])} cells where the header names {columns} columns; "
                "the row's cells may have shifted"), None
    code = (row.get("unit") or "").strip()
    unit = units.get(code)
    if unit is None:
        return f"unit {inputs.shown(code)} is not a unit (write facility/unit codes, e.g. rgh/4w)", None
    if not permissions.can(user, "measures.enter_counts", unit):
        return f"you may not enter counts for {unit.name}", None
    try:
        month_start = _cell(row, "month", inputs.month)
        numerator = _cell(row, "numerator", _count)
        denominator = _cell(row, "denominator", _count)
    except inputs.InputError as problem:
        return str(problem), None
    problem = _check_month(month_start) or _check_count(measure, numerator, denominator)
    return (problem, None) if problem else ("", (unit, month_start, numerator, denominator))


def _count(text: str) -> float:
    return inputs.number(text, low=0)


def _cell(row, name: str, read):
    """A cell read by `read`; its error names the column."""
    try:
        return read(row.get(name) or "")
    except inputs.InputError as problem:
        raise inputs.InputError(f"{name}: {problem}") from None


# --- annotations and unit mappings ------------------------------------------------------------

@audit.changes_by_user
def annotate(user, measure: Measure, *, on: date, text: str, kind: str = AnnotationKind.ACTION,
             rebase: bool = False, action=None) -> Annotation:
    """Mark an action or QI change on the measure's chart; `rebase` recomputes the limits from
    it; `action`, a record of the actions module the annotator may see, links the two."""
    permissions.check(user, "measures.annotate")
    if action is not None:
        permissions.check(user, "actions.view_action", action)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Say what was done."})
    if len(text) > 500:
        raise ValidationError({"text": "At most 500 characters."})
    if kind not in AnnotationKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(AnnotationKind.values)}."})
    return Annotation.objects.create(measure=measure, date=on, text=text, kind=kind, rebase=rebase, action=action,
                                     created_by=user)


@audit.changes_by_user
def map_unit(user, kind: str, external_id: str, unit: Unit) -> UnitMapping:
    """Count an EHR place's encounters in `unit`. A mapping decides whose patients a unit's
    drill-down lists, so the user manages measures over the unit and, for a place mapped
    already, over the unit it leaves (nobody takes another hospital's patients into their scope)."""
    permissions.check(user, "measures.manage", unit)
    if kind not in UnitMapping.Kind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(UnitMapping.Kind.values)}."})
    external_id = (external_id or "").strip()
    if not external_id:
        raise ValidationError({"external_id": "Give the Location or Organization id from the EHR data."})
    with transaction.atomic():
        mapping = UnitMapping.objects.select_for_update().select_related("unit").filter(
            kind=kind, external_id=external_id).first()
        if mapping is None:
            return UnitMapping.objects.create(kind=kind, external_id=external_id, unit=unit)
        permissions.check(user, "measures.manage", mapping.unit)
        mapping.unit = unit
        mapping.save(update_fields=["unit"])
    return mapping


def mappable_units(user):
    """Active units a user may map EHR places to (map_unit)."""
    return permissions.units_where(user, "measures.manage").filter(active=True)


def places_in_store(limit: int = 500) -> list[dict]:
    """The locations and service providers the EHR's encounters name, most used first, with
    their display names and the unit each is mapped to (None: not mapped)."""
    from andon.analytics import kpi

    store = open_store()
    if store is None:
        return []
    try:
        workspace = kpi.Workspace(store, kpi.load_view_definitions(definitions.views_folder()), ["encounter"])
        rows = workspace.connection.execute(f"""
            SELECT kind, place, any_value(display) AS display, count(*) AS encounters FROM (
                SELECT 'location' AS kind, coalesce(location_id, location_reference) AS place, location_display AS display
                FROM encounter
                UNION ALL
                SELECT 'organization', coalesce(service_provider_id, service_provider_reference), service_provider_display
                FROM encounter)
            WHERE place IS NOT NULL GROUP BY kind, place ORDER BY encounters DESC, place LIMIT {int(limit)}""").fetchall()
        workspace.close()
    finally:
        store.close()
    mapped = {(m.kind, kpi.workspace.reference_key(m.kind, m.external_id)): m.unit
              for m in UnitMapping.objects.select_related("unit__facility")}
    return [{"kind": kind, "place": place, "display": display or "", "encounters": count, "unit": mapped.get((kind, place))}
            for kind, place, display, count in rows]


# --- reading, exchange ------------------------------------------------------------------------

def visible_units(user):
    """Units whose results the user may see."""
    return permissions.units_where(user, "measures.view")


def measure_for(user, key: str) -> Measure:
    permissions.check(user, "measures.view")
    return Measure.objects.get(key=key)


def result_rows(measure: Measure, *, units, kind: str = "month", first: date | None = None, last: date | None = None):
    """Stored cells of a measure, whole-organisation cells and those of `units` (the viewer's:
    `visible_units`; there is no default, as no units asked for is not every unit). Never the
    practitioners' cells: those are read on the OPPE pages of the medical staff module, by
    those who may (an individual's performance is not a measure's public result)."""
    rows = MeasureResult.objects.filter(measure=measure, period_kind=kind).exclude(stratum=kpi.PRACTITIONER)
    rows = rows.select_related("unit__facility")
    if first:
        rows = rows.filter(period_start__gte=first)
    if last:
        rows = rows.filter(period_start__lte=last)
    rows = rows.filter(Q(unit=None) | Q(unit__in=units))
    return rows.order_by("period_start", "unit__path", "stratum", "stratum_value")


def export_cells(user, measure: Measure, *, for_sharing: bool = False):
    """The cells `user` may export (result_rows) and, for an export to be shared outside the
    quality department, the small cells to hide (exchange.small_cells, under
    ANDON_SMALL_CELL_THRESHOLD), worked out over the cells exported."""
    rows = result_rows(measure, units=visible_units(user))
    hidden = exchange.small_cells(measure, rows.iterator(), settings.ANDON_SMALL_CELL_THRESHOLD) if for_sharing else set()
    return rows, hidden


@audit.changes_by_user
def import_peer_reports(user, measure: Measure, text: str, filename: str) -> exchange.PeerReading:
    """Peers' summary MeasureReports of a measure; nothing is stored if any report is wrong."""
    permissions.check(user, "measures.manage")
    reading = exchange.read_peer_reports(text, measure)
    if reading.errors:
        return reading
    with transaction.atomic():
        for row in reading.rows:
            PeerResult.objects.update_or_create(
                measure=measure, peer=row.peer, period_start=row.period_start, period_end=row.period_end,
                defaults={"numerator": row.numerator, "denominator": row.denominator, "value": row.value,
                          "source": filename[:200], "imported_by": user, "imported_at": timezone.now()})
    return reading


def start_computation(user, keys=None, *, kind: str = "month", first: date, last: date):
    """Queue the computation of measures as a background job (see tasks.compute_measures). It
    replaces the cells of every unit for its periods, so it needs the capability everywhere."""
    from andon.platform.jobs import start_job

    from . import tasks

    permissions.check(user, "measures.manage", permissions.EVERYTHING)
    if not date(1900, 1, 1) <= first <= last <= date(min(first.year + MAX_YEARS, 9999), first.month, 1):
        raise ValidationError(f"Choose a range from 1900 on, ending after it starts, of at most {MAX_YEARS} years.")
    title = f"Compute {'all measures' if keys is None else ', '.join(keys)} ({kind}, {first} to {last})"
    return start_job(tasks.compute_measures, title[:200], user, keys, kind, first.isoformat(), last.isoformat())


def latest_verdict(key: str) -> dict | None:
    """The SPC verdict of the latest point of a measure's organisation-wide chart, in the words
    the measure pages use (charts.VARIATION), for other modules that show a measure beside their
    own records (compliance evidence). None when the library has no active measure `key`."""
    from . import charts, results

    measure = Measure.objects.filter(key=key, active=True).first()
    if measure is None:
        return None
    view, _notes = results.chart(measure)
    last = view.last
    found = {"key": measure.key, "title": measure.title, "unit_label": measure.unit_label,
             "code": None, "words": "No results yet", "period_start": None, "value": None}
    if last is not None:
        found.update(code=view.variation, words=charts.VARIATION.get(view.variation, "No verdict"),
                     period_start=last.period_start, value=last.value)
    return found


# --- for modules that put their own records on a measure's chart (QI projects) -------------------

@dataclass
class MeasureChart:
    """A measure's control chart for a place, drawn, with what a module needs to read progress
    from it: each period's (start, numerator, denominator, value, mean, verdict code, verdict
    words), the measure's scoring, multiplier and direction, and the place charted."""

    chart: object  # the kit's Chart
    points: list[tuple]
    scoring: str
    multiplier: float
    improvement: str
    unit_label: str
    place: str
    rebased_at: list[date]


def chart_for(measure: Measure, *, unit: Unit | None = None, references=(), title: str | None = None) -> MeasureChart:
    """The measure's monthly SPC chart (as its own page draws it: its annotations, rebases and
    target) for `unit`, or the organisation's when `unit` is None or has no results, with further
    `references` (charts.Reference: a QI project's aim). For a module that has checked its own
    permission to show the measure beside its record (a project's team may not hold measures.view)."""
    from . import charts, results

    view, notes = results.chart(measure, unit=unit) if unit is not None else (None, None)
    place = unit.name if unit is not None else "Whole organisation"
    if view is None or view.last is None:
        view, notes = results.chart(measure)
        place = "Whole organisation"
    drawn = charts.spc_chart(measure, view, notes, title=title or f"{measure.title}, {place}: {view.kind} chart",
                             references=references)
    points = [(p.period_start, p.numerator, p.denominator, p.value, p.mean, p.special_cause,
               charts.VARIATION.get(p.special_cause, "")) for p in view.points]
    return MeasureChart(drawn, points, measure.scoring, measure.multiplier, measure.improvement, measure.unit_label,
                        place, list(view.rebased_at))


def verdict_words(code: str | None) -> str:
    """The measures pages' words for an SPC verdict code (special_cause_improvement …)."""
    from . import charts

    return charts.VARIATION.get(code, "No verdict")


def _annotation_fields(on: date, text: str, kind: str, source: str) -> tuple[date, str]:
    errors = {}
    try:
        on = inputs.day(on) if isinstance(on, date) else None
    except inputs.InputError as problem:
        errors["on"] = str(problem)
    if on is None and "on" not in errors:
        errors["on"] = "Give the date."
    source, text = (source or "").strip(), (text or "").strip()
    if not source:
        errors["source"] = "Name the record that puts the annotation on the chart."
    if not text:
        errors["text"] = "Say what was done."
    full = f"{source}: {text}"
    if len(full) > 500:
        errors["text"] = f"At most {max(0, 498 - len(source))} characters."
    if kind not in AnnotationKind.values:
        errors["kind"] = f"Choose one of: {', '.join(AnnotationKind.values)}."
    if errors:
        raise ValidationError(errors)
    return on, full


@audit.changes_by_user
def annotate_for(user, measure: Measure, *, source: str, on: date, text: str, kind: str = AnnotationKind.QI_CHANGE,
                 rebase: bool = False) -> Annotation:
    """`annotate` for a module whose own rule lets `user` mark the chart (a QI project's team
    records a PDSA cycle whatever their role, and may not hold measures.annotate): the caller has
    checked that rule. `source` (the record's reference: "QI-2026-001 PDSA 2") starts the text,
    so every reader of the chart sees whose mark it is; the trail names `user`."""
    on, full = _annotation_fields(on, text, kind, source)
    return Annotation.objects.create(measure=measure, date=on, text=full, kind=kind, rebase=rebase, created_by=user)


@audit.changes_by_user
def change_annotation_for(user, annotation_id: int, *, source: str, on: date, text: str, rebase: bool) -> Annotation:
    """Move or reword an annotation made with `annotate_for` (the caller checked its rule again):
    a PDSA cycle's date changed moves its mark, a rebase withdrawn stops new limits there."""
    annotation = Annotation.objects.select_for_update().get(pk=annotation_id)
    annotation.date, annotation.text = _annotation_fields(on, text, annotation.kind, source)
    annotation.rebase = rebase
    annotation.save(update_fields=["date", "text", "rebase"])
    return annotation


@audit.changes_by_user
def remove_annotation_for(user, annotation_id: int) -> None:
    """Take off the chart an annotation made with `annotate_for` (its record was undone)."""
    Annotation.objects.filter(pk=annotation_id).delete()


# --- cohorts for other modules (the improvement module's audit samples) ---------------------------

COHORT_LIMIT = 100_000


def encounters_in(first: date, last: date, unit_keys: list[str] | None = None) -> list[dict]:
    """The encounters of the clinical view `encounter` (FHIR store) that began from `first` to
    `last` in the given units (ids as text; their locations, else service providers, as the unit
    map places them; None: every encounter), sorted by id: {"encounter_id", "patient_id", "at",
    "unit_key"}. An audit's cohort: the caller checks who may read patients and records the
    reading. Empty when no clinical data is loaded."""
    store = open_store()
    if store is None:
        return []
    try:
        workspace = kpi.Workspace.for_sql(store, kpi.load_view_definitions(definitions.views_folder()),
                                          ["SELECT * FROM encounter"], unit_map(), unit_tree())
    finally:
        store.close()
    try:
        rows = workspace.connection.execute("""
            SELECT e.id, e.patient_id, left(e.period_start, 10), coalesce(ml.unit_key, mo.unit_key)
            FROM encounter e
            LEFT JOIN unit_map ml ON ml.kind = 'location'
                 AND ml.external_id = coalesce(e.location_id, e.location_reference)
            LEFT JOIN unit_map mo ON mo.kind = 'organization'
                 AND mo.external_id = coalesce(e.service_provider_id, e.service_provider_reference)
            WHERE TRY_CAST(left(e.period_start, 10) AS DATE) BETWEEN $first AND $last
            ORDER BY e.id LIMIT $limit""", {"first": first, "last": last, "limit": COHORT_LIMIT}).fetchall()
    finally:
        workspace.close()
    wanted = None if unit_keys is None else set(unit_keys)
    return [{"encounter_id": pk, "patient_id": patient, "at": at, "unit_key": unit} for pk, patient, at, unit in rows
            if wanted is None or unit in wanted]


def population_cases(key: str, first: date, last: date, unit_keys: list[str] | None = None) -> list[dict]:
    """The denominator cases kept for an eCQM's (or SQL measure's) monthly results whose month
    starts from `first` to `last`, in the given units (None: all), as `kpi.cases_in` gives them,
    each case once, sorted by case id. An audit's cohort: the caller checks who may read patients
    and records the reading. LookupError when the library has no such measure naming patients."""
    measure = Measure.objects.filter(key=key, active=True).first()
    if measure is None or measure.source_kind not in (SourceKind.SQL, SourceKind.ECQM):
        raise LookupError(f"{key!r} is not a measure of the library whose cases name patients")
    from . import cases

    found: dict[str, dict] = {}
    for start, _end in period_math.periods(first.replace(day=1), last, "month"):
        table = cases.kept(key, "month", start)
        if table is not None:
            for row in kpi.cases_in(table, unit_keys=unit_keys, limit=COHORT_LIMIT):
                if row["denominator"]:
                    found.setdefault(str(row["case_id"]), row)
    return [found[k] for k in sorted(found)]


# --- by practitioner (issue 19: OPPE): for the medical staff module -------------------------------

def practitioner_minimum() -> int:
    """The minimum count below which a practitioner's value is "too few cases (n)" (⚠︎ ANDON_OPPE_MIN_CASES)."""
    return settings.ANDON_OPPE_MIN_CASES


def practitioner_results(measure: Measure, first: date, last: date, keys=None, *, minimum: int | None = None):
    """Each practitioner's total (results.PractitionerValue: cases, numerator, denominator,
    value, too_few, shown) over the months from `first` to `last`; `keys` limits the
    practitioners (FHIR Practitioner ids). The caller checks its own permission."""
    from . import results

    return results.practitioner_results(measure, first, last, keys,
                                        minimum=practitioner_minimum() if minimum is None else minimum)


def practitioner_cases(measure: Measure, key: str, first: date, last: date) -> list[dict]:
    """The cases attributed to a practitioner over the months (case, patient, encounter, when,
    numerator, denominator, value). The caller checks its permission and audits the reading."""
    from . import results

    return results.practitioner_cases(measure, key, first, last)


def practitioner_chart(measure: Measure, key: str, title: str):
    """A practitioner's own monthly SPC chart (the kit's Chart), None without results."""
    from . import results

    return results.practitioner_chart(measure, key, title)


def practitioner_funnel(measure: Measure, values, labels: dict[str, str], title: str):
    """(funnel chart or None, funnel points by key, pooled value) of the practitioners with
    enough cases; `labels` names them on the chart."""
    from . import results

    return results.practitioner_funnel(measure, values, labels, title)


def practitioners_pooled(measure: Measure, values, label: str):
    """The practitioners' values added up into one (a department's), shown with the same minimum."""
    from . import results

    return results.practitioners_pooled(measure, list(values), label, practitioner_minimum())


def measures_by_keys(keys) -> dict[str, Measure]:
    """The active measures of the library with these keys, by key (for a module that lists
    measures by key and checks its own permission to show them)."""
    return {m.key: m for m in Measure.objects.filter(key__in=list(keys), active=True)}


def attributable(measure: Measure) -> bool:
    """Whether a measure's cases name encounters, so that they can be given their practitioner."""
    return measure.source_kind in (SourceKind.SQL, SourceKind.ECQM)
