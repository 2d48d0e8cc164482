"""Evaluate a measure over the FHIR store: `andon ecqm run MEASURE --period A..B --out report.json`.

Patients stream from the store (`population.patients`) in batches to one worker process per
core, each with the measure content loaded once; at most two batches per worker are in
flight, so memory is bounded by those batches and the largest patient, not the population.
The result is a summary MeasureReport (DEQM style) with each group's population counts and
its measure score.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from . import content, population, temporal
from .check import measurement_period
from .evaluator import EvaluationError
from .measure import (
    POPULATION_SYSTEM,
    MeasureDefinition,
    MeasureError,
    evaluate_subject,
)

PATIENTS_PER_BATCH = 200


class Evaluator:
    """The content of a measure, loaded once per process, and the evaluation of patients."""

    def __init__(self, folders, measure: str, period: tuple[str, str], now: str):
        self.libraries = content.load_libraries(folders)
        self.valuesets = content.load_valuesets(folders)
        measures = content.load_measures(folders)
        if measure not in measures:
            raise MeasureError(f"no Measure named {measure} in {', '.join(map(str, folders))}")
        self.definition = MeasureDefinition.from_resource(measures[measure], self.libraries)
        self.parameters = {"Measurement Period": measurement_period(*period)}
        self.now = temporal.DateTime.parse(now)

    def batch(self, patients) -> tuple[list[Counter], list[str]]:
        """Population counts per group over the patients, and the errors (patient: why)."""
        totals = [Counter() for _ in self.definition.groups]
        errors = []
        for patient_id, data in patients:
            try:
                result = evaluate_subject(self.definition, self.libraries, data, self.valuesets, self.parameters, self.now)
            except (EvaluationError, ValueError, TypeError, LookupError) as error:
                errors.append(f"Patient/{patient_id}: {type(error).__name__}: {error}")
                continue
            for total, group in zip(totals, result.groups):
                total.update(group.counts)
                total.update(group.memberships)
        return totals, errors


_WORKER: Evaluator | None = None


def _start(folders, measure, period, now) -> None:
    global _WORKER
    _WORKER = Evaluator(folders, measure, period, now)


def _evaluate(patients):
    return _WORKER.batch(patients)


def _batches(stream, size: int):
    batch = []
    for item in stream:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_measure(connection, folders, measure: str, period: tuple[str, str], jobs: int | None = None,
                progress=None, now: str | None = None) -> dict:
    """The summary MeasureReport of `measure` over every patient of the store."""
    now = now or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    evaluator = Evaluator(folders, measure, period, now)  # checks the content before any work
    jobs = jobs or os.cpu_count() or 1
    totals = [Counter() for _ in evaluator.definition.groups]
    errors: list[str] = []
    evaluated = 0

    def take(result, size):
        nonlocal evaluated
        counts, failed = result
        for total, group in zip(totals, counts):
            total.update(group)
        errors.extend(failed)
        evaluated += size
        if progress is not None:
            progress(size)

    stream = _batches(population.patients(connection), PATIENTS_PER_BATCH)
    if jobs == 1:
        for batch in stream:
            take(evaluator.batch(batch), len(batch))
    else:
        with ProcessPoolExecutor(jobs, initializer=_start, initargs=(list(folders), measure, period, now)) as pool:
            pending = {}
            for batch in stream:
                pending[pool.submit(_evaluate, batch)] = len(batch)
                while len(pending) >= 2 * jobs:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        take(future.result(), pending.pop(future))
            for future in list(pending):
                take(future.result(), pending.pop(future))
    return summary_report(evaluator.definition, totals, period, now, evaluated, errors)


def measure_score(counts: Counter, scoring: str):
    """Proportion and ratio: numerator membership ÷ denominator membership (measure.memberships:
    each side less its exclusions, a proportion's denominator less its exceptions); None when the
    divisor is 0 or for other scorings."""
    if scoring not in ("proportion", "ratio"):
        return None
    divisor = counts["denominator-membership"]
    return None if divisor <= 0 else Decimal(counts["numerator-membership"]) / Decimal(divisor)


def summary_report(definition: MeasureDefinition, totals: list[Counter], period, now: str, evaluated: int, errors) -> dict:
    groups = []
    for group, counts in zip(definition.groups, totals):
        entry = {"id": group.key, "population": [
            {"code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}, "count": counts[code]}
            for code in group.criteria
        ]}
        score = measure_score(counts, group.scoring)
        if score is not None:
            entry["measureScore"] = {"value": float(round(score, 6))}
        groups.append(entry)
    report = {
        "resourceType": "MeasureReport", "status": "complete", "type": "summary", "measure": definition.url,
        "date": now, "period": {"start": period[0], "end": period[1]}, "group": groups,
        "extension": [{"url": "https://andon.dev/fhir/patients-evaluated", "valueInteger": evaluated}],
    }
    if errors:
        report["status"] = "error"
        report["extension"].append({"url": "https://andon.dev/fhir/evaluation-errors", "valueString": "\n".join(errors[:100])})
    return report


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
    from tqdm import tqdm

    from ..fhir import store

    try:
        period = parse_period(args.period)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not Path(args.store).exists():
        print(f"error: no FHIR store at {args.store} (load data with `andon fhir load`)", file=sys.stderr)
        return 2
    connection = store.connect(args.store, read_only=True)
    try:
        with tqdm(total=population.count_patients(connection), unit="patient", disable=args.no_progress,
                  file=sys.stderr) as bar:
            report = run_measure(connection, args.content, args.measure, period, args.jobs, progress=bar.update)
    except (content.ContentError, MeasureError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        connection.close()
    Path(args.out).write_text(json.dumps(report, indent=1))
    evaluated = report["extension"][0]["valueInteger"]
    print(f"{evaluated} patients evaluated; report written to {args.out}", file=sys.stderr)
    return 0 if report["status"] == "complete" else 1
