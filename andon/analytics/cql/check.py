"""Run measure test cases (content laid out like the CMS packages) and compare each case's
populations with its expected MeasureReport: `andon ecqm check DIR [DIR…]`.

Cases run in parallel across the machine's cores (one worker process per core, each loading
the content once); a case that fails to evaluate is a failed case with its error, never a
crash of the run.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import content, temporal
from .evaluator import EvaluationError, PatientData
from .interval import Interval
from .measure import MeasureDefinition, MeasureError, evaluate_subject

# The evaluation's Now(): fixed, so that a case gives the same result whenever it runs.
NOW = "2026-01-01T00:00:00.000Z"


@dataclass
class CaseOutcome:
    measure: str
    case: str
    passed: bool
    differences: list[str] = field(default_factory=list)  # "group 1 numerator: expected 1, got 0"
    error: str | None = None
    description: str = ""
    missing_valuesets: list[str] = field(default_factory=list)


def measurement_period(start: str, end: str) -> Interval:
    """The report's period (dates) as the Measurement Period: from the first millisecond of
    the start day to the last of the end day, in the evaluation's offset (UTC)."""
    low = temporal.DateTime.parse(f"{start}T00:00:00.000" if len(start) == 10 else start)
    high = temporal.DateTime.parse(f"{end}T23:59:59.999" if len(end) == 10 else end)
    return Interval(low, high, True, True)


class Runner:
    """The content of some folders, loaded once, and the evaluation of one case."""

    def __init__(self, folders):
        self.folders = [Path(f) for f in folders]
        self.libraries = content.load_libraries(self.folders)
        self.valuesets = content.load_valuesets(self.folders)
        self.measures = content.load_measures(self.folders)
        self._definitions: dict[str, MeasureDefinition] = {}

    def definition(self, name: str) -> MeasureDefinition:
        if name not in self._definitions:
            measure = self.measures.get(name)
            if measure is None:
                raise MeasureError(f"no Measure named {name} in {', '.join(map(str, self.folders))}")
            self._definitions[name] = MeasureDefinition.from_resource(measure, self.libraries)
        return self._definitions[name]

    def run(self, case: content.TestCase) -> CaseOutcome:
        outcome = CaseOutcome(case.measure, case.case, False, description=case.description)
        try:
            definition = self.definition(case.measure)
            start, end = case.period
            parameters = {"Measurement Period": measurement_period(start, end)}
            result = evaluate_subject(definition, self.libraries, PatientData.from_resources(case.resources),
                                      self.valuesets, parameters, now=temporal.DateTime.parse(NOW), explained=False)
        except (EvaluationError, MeasureError, ValueError, TypeError, LookupError) as error:
            outcome.error = f"{type(error).__name__}: {error}"
            return outcome
        outcome.missing_valuesets = sorted(result.missing_valuesets)
        for position, (expected, got, group) in enumerate(zip(case.expected(), result.groups, definition.groups), start=1):
            observed = got.observation_values(group)
            for code, count in expected.items():
                if code.endswith("observation"):
                    if not _observation_agrees(count, observed.get(code), got.observations.get(code, [])):
                        outcome.differences.append(f"group {position} {code}: expected {count}, got {observed.get(code)} "
                                                   f"(per member: {got.observations.get(code, [])})")
                elif got.counts.get(code) != count:
                    outcome.differences.append(f"group {position} {code}: expected {count}, got {got.counts.get(code)}")
        outcome.passed = not outcome.differences
        return outcome


def _observation_agrees(expected, aggregated, per_member: list) -> bool:
    """A test report holds one number per observation, its "count": the subject's observation
    aggregated, or, when several episodes are observed, one episode's (the reports' authoring
    tool keeps only one), so then it must be one of theirs."""
    if len(per_member) > 1:
        return any(value == expected for value in per_member)
    return aggregated == expected


_WORKER: Runner | None = None


def _start_worker(folders) -> None:
    global _WORKER
    _WORKER = Runner(folders)


def _run_in_worker(case: content.TestCase) -> CaseOutcome:
    return _WORKER.run(case)


def check(folders, measure: str | None = None, jobs: int | None = None) -> list[CaseOutcome]:
    cases = content.load_cases(folders, measure)
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(cases) < 20:
        runner = Runner(folders)
        return [runner.run(case) for case in cases]
    with ProcessPoolExecutor(jobs, initializer=_start_worker, initargs=(list(folders),)) as pool:
        return list(pool.map(_run_in_worker, cases, chunksize=16))


def summary(outcomes: list[CaseOutcome]) -> str:
    """Passed/total per measure, each failing case with what differs, and the last line
    `N passed, M failed`."""
    by_measure = defaultdict(list)
    for outcome in outcomes:
        by_measure[outcome.measure].append(outcome)
    lines = []
    for name in sorted(by_measure):
        group = by_measure[name]
        lines.append(f"{name}: {sum(o.passed for o in group)}/{len(group)}")
        for outcome in group:
            if outcome.passed:
                continue
            why = outcome.error or "; ".join(outcome.differences)
            note = f" (value sets not in the content: {', '.join(outcome.missing_valuesets)})" if outcome.missing_valuesets else ""
            lines.append(f"  FAILED {outcome.case}: {why}{note}")
    passed = sum(o.passed for o in outcomes)
    lines.append(f"{passed} passed, {len(outcomes) - passed} failed")
    return "\n".join(lines)


def cli_check(args) -> int:
    try:
        outcomes = check(args.folders, args.measure, args.jobs)
    except content.ContentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not outcomes:
        where = f" for measure {args.measure}" if args.measure else ""
        print(f"error: no test cases{where} under {', '.join(str(Path(f) / 'tests') for f in args.folders)}", file=sys.stderr)
        return 2
    print(summary(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1
