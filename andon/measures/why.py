"""Why an eCQM case is in or out: the patient behind a kept case evaluated again, with the
explanation the engine keeps (andon/analytics/cql/explain.py), over the same measurement
period as the computation that counted the case.

The kept case says what the stored result counted; the evaluation says why, from the FHIR store
as it is now. When the two disagree (the data was reloaded since), the page says so rather
than explaining a result nobody sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.conf import settings

from andon.analytics import kpi
from andon.analytics.kpi import periods as period_math
from andon.platform import audit
from andon.platform.models import Unit

from . import cases
from .models import Measure, SourceKind
from .results import patients_scope
from .services import open_store

MAX_DEPTH = 8  # definitions below this depth are left out of the page: their names stay in `uses`


class Unexplained(Exception):
    """A case that cannot be explained (not an eCQM, no data, the patient gone), and why."""


@dataclass
class Population:
    code: str
    label: str
    definition: str
    holds: bool


@dataclass
class Step:
    """A definition the evaluation reached, in the order a reader follows it down."""

    depth: int
    name: str
    value: str
    resources: list[str] = field(default_factory=list)
    more: int = 0
    evaluated: bool = True
    repeated: bool = False  # shown in full earlier on the page


@dataclass
class Why:
    case: dict
    measurement_period: tuple[str, str]
    populations: list[Population]
    steps: list[Step]
    episode: str | None
    disagreement: str = ""


def explain_case(user, measure: Measure, *, period_start: date, case_id: str, kind: str = "month",
                 unit: Unit | None = None) -> Why:
    """Why one kept case of an eCQM result is in or out of each population; audited. A case
    outside the units whose patients the user may see is not found, as one that does not exist."""
    scope = patients_scope(user, unit)
    if measure.source_kind != SourceKind.ECQM:
        raise Unexplained(f"{measure.title} is not an eCQM: its cases are the rows of its definition's SQL")
    table = cases.kept(measure.key, kind, period_start)
    found = [] if table is None else [c for c in kpi.cases_in(table, unit_keys=scope.unit_keys())
                                      if c["case_id"] == case_id]
    if not found:
        raise LookupError(f"no case {case_id!r} in {period_start:%Y-%m}")
    case = found[0]
    period = cases.measurement_period(table) or _period_of(period_start, kind)
    audit.record_read(measure, actor=user, reason=f"why case {case_id} of {period_start:%Y-%m} is in or out")
    return _evaluated(measure, case, period)


def _period_of(start: date, kind: str) -> tuple[str, str]:
    (first, end), = period_math.periods(start, start, kind)
    return first.isoformat(), date.fromordinal(end.toordinal() - 1).isoformat()


def _evaluated(measure: Measure, case: dict, period: tuple[str, str]) -> Why:
    from andon.analytics.cql import content, episodes, run
    from andon.analytics.cql.evaluator import EvaluationError
    from andon.analytics.cql.measure import MeasureError

    folders = settings.ANDON_ECQM_CONTENT
    store = open_store()
    if store is None or not folders:
        raise Unexplained("No clinical data or no eCQM content is configured to evaluate the patient again.")
    try:
        explained = run.explain_patient(store, folders, measure.definition["source"]["measure"], period, case["patient_id"],
                                        accept_ucum_misspellings=settings.ANDON_ECQM_ACCEPT_UCUM_MISSPELLINGS)
    except (content.ContentError, MeasureError, EvaluationError, ValueError, TypeError, LookupError) as error:
        raise Unexplained(f"The evaluation of Patient/{case['patient_id']} failed: {type(error).__name__}: {error}") from None
    finally:
        store.close()
    if explained is None:
        raise Unexplained(f"Patient/{case['patient_id']} is no longer in the FHIR store: it was reloaded without them.")
    definition, result = explained
    episode = case["case_id"].partition("|")[2] or None
    now = {c.episode: c for c in episodes.cases(definition, result)}.get(episode)
    return Why(case, period, _populations(definition.groups[0], result.groups[0], episode),
               _steps(result.explanation["groups"][0], definition.groups[0].criteria, definition.library.name),
               episode, _disagreement(case, now))


def _populations(group, group_result, episode: str | None) -> list[Population]:
    found = []
    for code, expression in group.criteria.items():
        if episode is None:
            holds = group_result.counts.get(code, 0) > 0
        else:
            holds = episode in group_result.members.get(code, [])
        found.append(Population(code, code.replace("-", " ").capitalize(), expression, holds))
    return found


def _steps(explanation: dict, criteria: dict[str, str], library: str) -> list[Step]:
    """The definitions under each population's criteria, depth first, each shown in full once."""
    definitions, steps, shown = explanation["definitions"], [], set()

    def visit(key: str, depth: int) -> None:
        entry = definitions.get(key, {})
        steps.append(Step(depth, key, _value_text(entry), entry.get("resources", []), entry.get("more", 0),
                          entry.get("evaluated", True), key in shown))
        if key in shown or depth >= MAX_DEPTH:
            return
        shown.add(key)
        for used in entry.get("uses", []):
            visit(used, depth + 1)

    for expression in dict.fromkeys(criteria.values()):
        visit(f"{library}.{expression}", 0)
    return steps


def _value_text(entry: dict) -> str:
    if entry.get("evaluated") is False:
        return "not evaluated (an earlier condition already decided)"
    value = entry.get("value")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if "resources" in entry or isinstance(value, int):
        return f"{value} item{'s' if value != 1 else ''}"
    return str(value)


def _disagreement(kept: dict, now) -> str:
    """What differs between the case as counted and as evaluated now, or ""."""
    if now is None:
        return ("Evaluated now, this case is not in the initial population: the data has changed since the result "
                "was computed. Recompute the measure to count it as it is now.")
    if (now.numerator, now.denominator) != (kept["numerator"], kept["denominator"]):
        return (f"Counted as numerator {kept['numerator']:g}, denominator {kept['denominator']:g}; evaluated now: "
                f"numerator {now.numerator:g}, denominator {now.denominator:g}. The data has changed since the result "
                "was computed.")
    return ""
