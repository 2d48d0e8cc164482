"""Evaluate a measure over the FHIR store: `andon ecqm run MEASURE --period A..B --out report.json`.

Patients' records stream from the store (`population.patient_records`, JSON text) in batches to
one worker process per core, each with the measure content loaded once, which parses and
evaluates them; at most two batches per worker are in flight, so memory is bounded by those
batches and the largest patient, not the population.
The result is a summary MeasureReport (report.py): each group's population counts, score,
observations and strata, and the supplemental data.

`run_cases_together` evaluates several measures (each over its periods) in one pass: the store
is read once, and each patient is evaluated for every measure in turn, the measures sharing the
patient's retrieves, FHIRHelpers conversions and, within a period, the results of the
definitions and functions of the libraries they have in common (PatientData.shared).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

from . import content, episodes, population, temporal
from .check import measurement_period
from .evaluator import EvaluationError
from .measure import MeasureDefinition, MeasureError, SubjectResult, evaluate_subject
from .report import WARNINGS_EXTENSION, Totals, summary_report
from .ucum_spelling import Accepted

PATIENTS_PER_BATCH = 200


class Evaluator:
    """The content of a measure, loaded once per process, and the evaluation of patients.
    `accept_ucum_misspellings`: quantities with system http(s)://ucum.org are read as UCUM and
    counted, where published FHIRHelpers rejects them (ucum_spelling.py)."""

    def __init__(self, folders, measure: str, period: tuple[str, str], now: str, accept_ucum_misspellings: bool = False):
        self.libraries = content.load_libraries(folders)
        self.valuesets = content.load_valuesets(folders)
        measures = content.load_measures(folders)
        if measure not in measures:
            raise MeasureError(f"no Measure named {measure} in {', '.join(map(str, folders))}")
        self.definition = MeasureDefinition.from_resource(measures[measure], self.libraries)
        self.parameters = {"Measurement Period": measurement_period(*period)}
        self.now = temporal.DateTime.parse(now)
        self.accept_ucum_misspellings = accept_ucum_misspellings
        self.parser = population.Parser()
        # the measures of a period share their definitions' results for a patient (the key says all
        # they depend on besides the patient: content, parameters, Now()), unless a value set
        # is missing (each evaluation must then say which it used: SubjectResult.missing_valuesets)
        complete = all(v["id"] in self.valuesets for library in _with_includes(self.libraries, self.definition.library)
                       for v in library.valuesets.values())
        self.shared_as = (tuple(map(str, folders)), tuple(period), now) if complete else None
        # what a worker process builds its own Evaluator from (run.py spawns, so nothing is shared)
        self.initargs = (list(folders), measure, period, now, accept_ucum_misspellings)

    def batch(self, patients) -> tuple[Totals, list[str], Accepted]:
        """The patients' (id and records: population.patient_records) results added up, the
        errors (patient: why), and the quantities read as UCUM though misspelled."""
        totals = Totals.of(self.definition)
        errors, accepted = self._evaluate_each(patients, totals.add)
        return totals, errors, accepted

    def cases(self, patients) -> tuple[list[episodes.Case], list[str], Accepted]:
        """The patients' (id and records) cases (episodes.py), the errors, and the quantities
        read as UCUM."""
        found = []
        errors, accepted = self._evaluate_each(patients, lambda result: found.extend(episodes.cases(self.definition, result)))
        return found, errors, accepted

    def _evaluate_each(self, patients, take) -> tuple[list[str], Accepted]:
        """Each patient's result to `take`; the errors (patient: why) and misspelled UCUM found."""
        errors, accepted = [], Accepted()
        for patient_id, records in patients:
            self.evaluate(patient_id, self.parser.patient(records), take, errors, accepted)
        return errors, accepted

    def evaluate(self, patient_id: str, data, take, errors: list[str], accepted: Accepted) -> None:
        """One patient's result to `take`, or why not to `errors`; misspelled UCUM to `accepted`."""
        try:
            result = evaluate_subject(self.definition, self.libraries, data, self.valuesets, self.parameters, self.now,
                                      explained=False,  # a summary needs no explanation
                                      accept_ucum_misspellings=self.accept_ucum_misspellings, shared_as=self.shared_as)
        except (EvaluationError, ValueError, TypeError, LookupError) as error:
            errors.append(f"Patient/{patient_id}: {type(error).__name__}: {error}")
            return
        take(result)
        accepted.add(result.misspelled_ucum)

    def explained(self, data) -> SubjectResult:
        """One subject's result with why each population holds or not (explain.py)."""
        return evaluate_subject(self.definition, self.libraries, data, self.valuesets, self.parameters, self.now,
                                accept_ucum_misspellings=self.accept_ucum_misspellings)


def _with_includes(libraries, library) -> list:
    """The library and every library it includes, directly or not."""
    found, todo = {}, [library]
    while todo:
        current = todo.pop()
        if current.key not in found:
            found[current.key] = current
            todo += [libraries.included(current, alias) for alias in current.includes]
    return list(found.values())


class Evaluators:
    """Several evaluations over the same patients, each a measure over a period (`runs`), in one
    pass: each patient is read once and evaluated for every run in turn, the runs sharing what
    the patient's evaluations keep (PatientData.shared: retrieves, FHIRHelpers conversions, and
    the definitions' and functions' results of the runs of one period) and the content (read
    once per process by content.py)."""

    def __init__(self, folders, runs: list[tuple[str, tuple[str, str]]], now: str, accept_ucum_misspellings: bool = False):
        self.runs = [(measure, tuple(period)) for measure, period in runs]
        self.evaluators = [Evaluator(folders, measure, period, now, accept_ucum_misspellings)
                           for measure, period in self.runs]
        self.parser = population.Parser()
        self.initargs = (list(folders), self.runs, now, accept_ucum_misspellings)

    def cases(self, patients) -> list[tuple[list[episodes.Case], list[str], Accepted]]:
        """For each run, in order: the patients' (id and records) cases, the errors and the
        quantities read as UCUM."""
        found = [([], [], Accepted()) for _ in self.evaluators]
        for patient_id, records in patients:
            data = self.parser.patient(records)
            for evaluator, (cases, errors, accepted) in zip(self.evaluators, found, strict=True):
                take = _cases_into(cases, evaluator.definition)
                evaluator.evaluate(patient_id, data, take, errors, accepted)
        return found


def _cases_into(cases: list, definition: MeasureDefinition):
    return lambda result: cases.extend(episodes.cases(definition, result))


_WORKER: Evaluator | Evaluators | None = None


def _start(folders, measure, period, now, accept_ucum_misspellings) -> None:
    global _WORKER
    _WORKER = Evaluator(folders, measure, period, now, accept_ucum_misspellings)
    _spare_the_content()


def _start_runs(folders, runs, now, accept_ucum_misspellings) -> None:
    global _WORKER
    _WORKER = Evaluators(folders, runs, now, accept_ucum_misspellings)
    _spare_the_content()


def _spare_the_content() -> None:
    """A worker's content (ELM trees, value sets: millions of objects) lives as long as the
    worker: out of the garbage collector's reach, each full collection no longer walks it again
    (docs/benchmarks.md, "CMS eCQM evaluation")."""
    gc.collect()
    gc.freeze()


def _evaluate(patients):
    return _WORKER.batch(patients)


def _evaluate_cases(patients):
    return _WORKER.cases(patients)


def batches(stream, size: int):
    """`stream`'s items in lists of `size` (the last shorter)."""
    batch = []
    for item in stream:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_measure(connection, folders, measure: str, period: tuple[str, str], jobs: int | None = None,
                progress=None, now: str | None = None, accept_ucum_misspellings: bool = False) -> dict:
    """The summary MeasureReport of `measure` over every patient of the store.
    `accept_ucum_misspellings`: see Evaluator; the report then says how many quantities were so read."""
    now = now or now_text()
    evaluator = Evaluator(folders, measure, period, now, accept_ucum_misspellings)  # checks the content before any work
    totals = Totals.of(evaluator.definition)
    errors: list[str] = []
    accepted = Accepted()
    evaluated = _over_patients(connection, evaluator.batch, _evaluate, (_start, evaluator.initargs), jobs,
                               _absorbing(totals.merge, errors, accepted), progress)
    return summary_report(evaluator.definition, totals, period, now, evaluated, errors, accepted)


def run_cases(connection, folders, measure: str, period: tuple[str, str], jobs: int | None = None,
              progress=None, now: str | None = None, accept_ucum_misspellings: bool = False,
              warnings: list[str] | None = None) -> tuple[list[episodes.Case], int, list[str]]:
    """Every patient's cases of `measure` (episodes.py): (cases, patients evaluated, errors).
    `accept_ucum_misspellings`: see Evaluator; what it accepted is said in `warnings`, if given."""
    now = now or now_text()
    evaluator = Evaluator(folders, measure, period, now, accept_ucum_misspellings)
    found: list[episodes.Case] = []
    errors: list[str] = []
    accepted = Accepted()
    evaluated = _over_patients(connection, evaluator.cases, _evaluate_cases, (_start, evaluator.initargs), jobs,
                               _absorbing(found.extend, errors, accepted), progress)
    if warnings is not None and accepted.warning():
        warnings.append(accepted.warning())
    return found, evaluated, errors


def run_cases_together(connection, folders, runs: list[tuple[str, tuple[str, str]]], jobs: int | None = None,
                       progress=None, now: str | None = None, accept_ucum_misspellings: bool = False) -> list[tuple]:
    """Every patient's cases for each run (a measure over a period), the store read once: for
    each run, in order, (cases, patients evaluated, errors, warnings), as run_cases gives them
    for that run alone. `progress` is told of each batch of patients once, whatever the runs."""
    now = now or now_text()
    group = Evaluators(folders, runs, now, accept_ucum_misspellings)  # checks every run's content first
    found = [([], [], Accepted()) for _ in group.runs]

    def take(results):
        for (cases, errors, accepted), (more, failed, misspelled) in zip(found, results, strict=True):
            cases.extend(more)
            errors.extend(failed)
            accepted.merge(misspelled)

    # Evaluators.cases in the workers too: _evaluate_cases asks whatever the worker holds
    evaluated = _over_patients(connection, group.cases, _evaluate_cases, (_start_runs, group.initargs), jobs, take,
                               progress)
    return [(cases, evaluated, errors, [accepted.warning()] if accepted.warning() else [])
            for cases, errors, accepted in found]


def explain_patient(connection, folders, measure: str, period: tuple[str, str], patient_id: str,
                    now: str | None = None, accept_ucum_misspellings: bool = False) -> tuple[MeasureDefinition, SubjectResult] | None:
    """One patient of the store evaluated with the explanation kept, or None when the store has
    no such patient: what a page shows to say why a case is in or out."""
    evaluator = Evaluator(folders, measure, period, now or now_text(), accept_ucum_misspellings)
    data = population.patient(connection, patient_id)
    if data is None:
        return None
    return evaluator.definition, evaluator.explained(data)


def now_text() -> str:
    """Now, as the instant a report is dated and Now() in CQL gives."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _absorbing(take, errors: list, accepted: Accepted):
    """What takes one Evaluator's batch result: its value to `take`, its errors to `errors`, the
    quantities it read as UCUM though misspelled to `accepted`."""

    def absorb(result):
        value, failed, misspelled = result
        take(value)
        errors.extend(failed)
        accepted.merge(misspelled)

    return absorb


def _over_patients(connection, local, remote, start: tuple, jobs, take, progress) -> int:
    """Evaluate every patient of the store in batches: with `local(batch)` here when one job,
    else with `remote(batch)` in worker processes each set up by `start` (initializer, initargs);
    each batch's result goes to `take`. Returns the patients evaluated."""
    jobs = jobs or os.cpu_count() or 1
    evaluated = 0

    def absorb(result, size):
        nonlocal evaluated
        take(result)
        evaluated += size
        if progress is not None:
            progress(size)

    stream = batches(population.patient_records(connection), PATIENTS_PER_BATCH)
    if jobs == 1:
        for batch in stream:
            absorb(local(batch), len(batch))
        return evaluated
    initializer, initargs = start
    # spawned, not forked: the parent holds a DuckDB connection whose threads a fork would copy
    # mid-flight (a lock held there never frees), and a fork would also share the parent's pages
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=initializer,
                             initargs=initargs) as pool:
        pending = {}
        for batch in stream:
            pending[pool.submit(remote, batch)] = len(batch)
            while len(pending) >= 2 * jobs:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    absorb(future.result(), pending.pop(future))
        for future in list(pending):
            absorb(future.result(), pending.pop(future))
    return evaluated


def parse_period(text: str) -> tuple[str, str]:
    start, sep, end = (text or "").partition("..")
    for value in (start, end):
        try:
            temporal.Date.parse(value)
        except (ValueError, TypeError):
            raise ValueError(f"--period {text!r}: expected YYYY-MM-DD..YYYY-MM-DD") from None
    if not sep or len(start) != 10 or len(end) != 10 or start > end:
        raise ValueError(f"--period {text!r}: expected YYYY-MM-DD..YYYY-MM-DD, start not after end")
    return start, end


def cli_run(args) -> int:
    try:
        period = parse_period(args.period)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.patients:
        with tempfile.TemporaryDirectory(prefix="andon-ecqm-") as folder:
            return _run_over_files(args, period, Path(folder) / "patients.duckdb")
    from ..spark import session

    chosen = session.engine_for_command()
    if chosen is None:
        return 2
    if chosen == "spark":
        return _run_on_spark(args, period)
    if not Path(args.store).exists():
        print(f"error: no FHIR store at {args.store} (load data with `andon fhir load`)", file=sys.stderr)
        return 2
    return _run_over_store(args, period, args.store)


def _run_over_files(args, period, path: Path) -> int:
    """`--patients`: the files loaded into a temporary store (bad lines quarantined and counted,
    as `andon fhir load` does), then evaluated like the store."""
    from ..fhir import ingest, store

    missing = [str(p) for p in args.patients if not Path(p).exists()]
    if missing:
        print(f"error: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    connection = store.connect(path)
    try:
        summary = ingest.load_paths(connection, args.patients)
    finally:
        connection.close()
    if summary.total.quarantined:
        print(f"warning: {summary.total.quarantined} lines were not FHIR resources and are left out", file=sys.stderr)
    return _run_over_store(args, period, path)


def _run_over_store(args, period, path) -> int:
    from tqdm import tqdm

    from ..fhir import store

    connection = store.connect(path, read_only=True, memory_limit=store.READ_MEMORY_LIMIT)
    try:
        with tqdm(total=population.count_patients(connection), unit="patient", disable=args.no_progress,
                  file=sys.stderr) as bar:
            report = run_measure(connection, args.content, args.measure, period, args.jobs, progress=bar.update,
                                 accept_ucum_misspellings=args.accept_ucum_misspellings)
    except (content.ContentError, MeasureError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        connection.close()
    return _written(report, args.out)


def _run_on_spark(args, period) -> int:
    """`andon ecqm run` with ANDON_ANALYTICS_ENGINE=spark: over the store at ANDON_SPARK_STORE."""
    from ..spark import ecqm, session
    from ..spark.store import StoreError

    spark_store = session.store_for_command()
    if spark_store is None:
        return 2
    try:
        report = ecqm.run_measure(session.spark(), args.content, args.measure, period, store=spark_store,
                                  accept_ucum_misspellings=args.accept_ucum_misspellings)
    except (content.ContentError, MeasureError, session.EngineError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return _written(report, args.out)


def _written(report: dict, out) -> int:
    """The report written to `out`; its warnings and count said; exit 1 unless complete."""
    Path(out).write_text(json.dumps(report, indent=1))
    evaluated = report["extension"][0]["valueInteger"]
    for warning in (e["valueString"] for e in report["extension"] if e["url"] == WARNINGS_EXTENSION):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{evaluated} patients evaluated; report written to {out}", file=sys.stderr)
    return 0 if report["status"] == "complete" else 1
