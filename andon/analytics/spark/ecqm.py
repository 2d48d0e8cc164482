"""eCQMs on Spark: patients distributed over the cluster, each evaluated by the existing engine.

The store's resources (`views.RESOURCES`) are grouped by patient (a shuffle on the patient
key); each Spark task evaluates its patients with `cql.run.Evaluator`, made once per Python
worker from the content folders, a batch of patients at a time (as the worker processes on one
server do: a worker holds one batch's records, never its partition's), and returns its partial
totals (population counts, strata, observations, supplemental data), errors and UCUM warnings.
The driver merges them (`report.Totals.merge`, the same merge as on one server) into the
summary MeasureReport that `cql.run.run_measure` gives. The measure library's cases are not
brought to the driver at all: they stay a DataFrame on the executors (`run_cases_together`).

A patient's records are as on DuckDB (`cql.population`): the Patient first, their own resources,
then the shared ones (Medication, Location, Organization, Practitioner, PractitionerRole)
their records reference, read from a broadcast of all the shared resources' texts.

The content folders must be readable at the same path by every executor (a shared file system,
or the same image on every node); in local mode they are.
"""

from __future__ import annotations

from ..cql import population
from ..cql.measure import MeasureDefinition, SubjectResult
from ..cql.report import Totals, summary_report
from ..cql.run import PATIENTS_PER_BATCH, Evaluator, Evaluators, batches, now_text
from ..cql.ucum_spelling import Accepted
from .store import Opened
from .views import RESOURCES, read_resources

_EVALUATORS: dict[str, Evaluator | Evaluators] = {}  # per Python worker: the content loaded once


def _evaluator(kind, initargs: tuple):
    """The worker's Evaluator (or Evaluators) for `initargs`, made on first use."""
    key = repr((kind.__name__, initargs))
    if key not in _EVALUATORS:
        _EVALUATORS.clear()  # one run's content at a time in a worker
        _EVALUATORS[key] = kind(*initargs)
    return _EVALUATORS[key]


def patient_records(spark, store: str | None = None):
    """(patient id, records) of every patient, as an RDD: the records as `population.
    patient_records` gives them (`Type/id`, JSON text), the Patient first and the shared
    resources they reference last. `store`: a store folder (`views.register`), else the
    registered `resources`."""
    frame = _resources(spark, store)
    shared_types = ", ".join(f"'{t}'" for t in population.SHARED_TYPES)  # fixed names: no quoting needed
    shared = {f"{t}/{i}": text for t, i, text in
              frame.where(f"type IN ({shared_types})").select("type", "id", "resource").collect()}
    texts = spark.sparkContext.broadcast(shared)
    # grouped by Spark SQL (the shuffle in the JVM), not by the RDD's groupByKey (each row through
    # Python twice more): at 1 million resources 6-9 s against 16-20 s on local[2]
    grouped = (frame.where(f"coalesce(patient, '') <> '' AND type NOT IN ({shared_types})")
               .selectExpr("patient", "struct(concat(type, '/', id) AS key, resource) AS record")
               .groupBy("patient").agg({"record": "collect_list"}))

    def assembled(row):
        patient_id, rows = row
        records = _patient_first([(key, text) for key, text in rows])
        if records is None:
            return []  # no Patient: in no population, as on DuckDB
        return [(patient_id, records + population.Shared(texts.value).referenced(records))]

    return grouped.rdd.flatMap(assembled)


def _resources(spark, store):
    """The store's resources (a store folder, or a version opened for a computation: `store.
    Opened`; else the registered `resources`), the JSON as text."""
    if isinstance(store, Opened):
        frame = spark.read.parquet(store.version)
    else:
        frame = read_resources(spark, store) if store else spark.table(RESOURCES)
    return frame.selectExpr("type", "id", "patient", "CAST(resource AS STRING) AS resource")


def _patient_first(records) -> list | None:
    """A patient's own records, the Patient first; None when there is no Patient among them."""
    records = sorted(records, key=lambda record: (not record[0].startswith("Patient/"), record[0]))
    return records if records and records[0][0].startswith("Patient/") else None


def run_measure(spark, folders, measure: str, period: tuple[str, str], store: str | None = None,
                now: str | None = None, accept_ucum_misspellings: bool = False) -> dict:
    """The summary MeasureReport of `measure` over every patient of the store, evaluated on
    Spark: the same report as `cql.run.run_measure` on DuckDB (errors sorted by patient)."""
    now = now or now_text()
    evaluator = Evaluator(folders, measure, period, now, accept_ucum_misspellings)  # checks the content first
    initargs = evaluator.initargs

    def evaluate(patients):  # the partition's patients a batch at a time: a worker holds one batch
        worker = _evaluator(Evaluator, initargs)
        totals, errors, accepted, count = Totals.of(worker.definition), [], Accepted(), 0
        for batch in batches(patients, PATIENTS_PER_BATCH):
            part, failed, misspelled = worker.batch(batch)
            totals.merge(part)
            errors.extend(failed)
            accepted.merge(misspelled)
            count += len(batch)
        return [(totals, errors, accepted, count)] if count else []

    totals, errors, accepted, evaluated = Totals.of(evaluator.definition), [], Accepted(), 0
    for part, failed, misspelled, count in patient_records(spark, store).mapPartitions(evaluate).collect():
        totals.merge(part)
        errors.extend(failed)
        accepted.merge(misspelled)
        evaluated += count
    return summary_report(evaluator.definition, totals, period, now, evaluated, sorted(errors), accepted)


def run_cases_together(spark, folders, runs: list[tuple[str, tuple[str, str]]], store: str | None = None,
                       now: str | None = None, accept_ucum_misspellings: bool = False) -> list[tuple]:
    """Every patient's cases for each run (a measure over a period), the store read once, on
    Spark: for each run, in order, (cases, patients evaluated, errors, warnings), as
    `cql.run.run_cases_together` gives them (errors sorted), but the cases a DataFrame (CASES:
    the case's fields and `period_at`, the run's first day) held by the executors, not a list on
    the driver: a health system's cases are more than one process holds. Only the counts, errors
    and warnings come to the driver. The cases are checkpointed once for all the runs; `store`,
    when a version opened for a computation (`store.Opened`), holds them until it is closed."""
    from pyspark import StorageLevel

    now = now or now_text()
    group = Evaluators(folders, runs, now, accept_ucum_misspellings)  # checks every run's content first
    initargs = group.initargs
    starts = [period[0] for _, period in group.runs]

    def evaluate(patients):  # a batch at a time, each batch's cases kept by Spark as they come
        worker = _evaluator(Evaluators, initargs)
        for batch in batches(patients, PATIENTS_PER_BATCH):
            yield worker.cases(batch), len(batch)

    def case_rows(evaluated):
        results, _ = evaluated
        return [(run, case.patient_id, case.episode, _number(case.numerator), _number(case.denominator),
                 _number(case.value), starts[run]) for run, (cases, _, _) in enumerate(results) for case in cases]

    evaluations = patient_records(spark, store).mapPartitions(evaluate).persist(StorageLevel.MEMORY_AND_DISK)
    try:  # counted first (the evaluation, kept), then the cases read from the kept evaluation
        found = [([], Accepted()) for _ in group.runs]
        evaluated = 0
        for count, results in evaluations.map(lambda pair: (pair[1], [r[1:] for r in pair[0]])).collect():
            evaluated += count
            for (errors, accepted), (failed, misspelled) in zip(found, results, strict=True):
                errors.extend(failed)
                accepted.merge(misspelled)
        cases = spark.createDataFrame(evaluations.flatMap(case_rows), CASES).localCheckpoint(eager=True)
    finally:
        evaluations.unpersist()
    if isinstance(store, Opened):
        store.hold(cases)
    return [(cases.where(cases.run == run).drop("run"), evaluated, sorted(errors),
             [accepted.warning()] if accepted.warning() else []) for run, (errors, accepted) in enumerate(found)]


CASES = ("run INT, patient_id STRING, episode STRING, numerator DOUBLE, denominator DOUBLE, value DOUBLE, "
         "period_at STRING")


def _number(value) -> float | None:
    return None if value is None else float(value)


def explain_patient(spark, folders, measure: str, period: tuple[str, str], patient_id: str, store: str | None = None,
                    now: str | None = None, accept_ucum_misspellings: bool = False) -> tuple[MeasureDefinition, SubjectResult] | None:
    """One patient evaluated with the explanation kept (as `cql.run.explain_patient`), their
    records read from the Spark store on the driver; None when the store has no such patient."""
    evaluator = Evaluator(folders, measure, period, now or now_text(), accept_ucum_misspellings)
    frame = _resources(spark, store)
    own = _patient_first([(f"{t}/{i}", text) for t, i, text in frame.where(
        (frame.patient == patient_id) & ~frame.type.isin(*population.SHARED_TYPES)).select("type", "id", "resource").collect()])
    if own is None:
        return None
    shared = _StoredShared(frame).referenced(own)
    return evaluator.definition, evaluator.explained(evaluator.parser.patient(own + shared))


class _StoredShared(population.Shared):
    """The shared resources one patient references, read from the Spark store when first
    referenced (as `population.StoredShared` reads them from DuckDB)."""

    def __init__(self, frame):
        super().__init__({})
        self.frame = frame
        self.asked: set[str] = set()

    def fetch(self, keys: list[str]) -> None:
        wanted = set(keys) - self.asked
        if not wanted:
            return
        self.asked |= wanted
        pairs = [key.split("/", 1) for key in wanted]
        frame = self.frame
        rows = frame.where(frame.type.isin(*{t for t, _ in pairs}) & frame.id.isin(*{i for _, i in pairs})) \
            .select("type", "id", "resource").collect()
        self.texts.update({f"{t}/{i}": text for t, i, text in rows if f"{t}/{i}" in wanted})
