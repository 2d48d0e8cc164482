"""Survey scores: top-box shares per question and composites, by month, unit, service line and
equity stratum, unadjusted (CMS adjusts published scores for patient mix and mode; an internal
dashboard shows the shares as answered and says so). docs/voice.md.

- A question's top-box share = its top-box answers ÷ its valid answers (a skipped question or a
  blank answer is not counted).
- A composite's share = the mean of its questions' top-box shares (the HCAHPS way), over the
  questions answered at least once in the selection; its n = the returned surveys behind it.
- n below settings.ANDON_SURVEY_MIN_COUNT carries a warning.
- The counts live in SurveyScoreCell (month × unit × question, and separately × service line and
  × each stratum), added to in each import's transaction: the dashboard never reads responses.
  `rebuild_score_cells()` works them out again from the responses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from andon.analytics.kpi.aggregate import DIMENSIONS
from andon.measures import services as measures
from andon.platform import inputs, permissions
from andon.platform.models import Unit

from .models import SurveyResponse, SurveyScoreCell

__all__ = ["ScoreRow", "ScoreTable", "feed_measures", "rebuild_score_cells", "score_table", "unit_measure_chart"]

VIEW = "voice.view_surveys"
BREAKDOWNS = ("service_line", *DIMENSIONS)
SURVEYS = ""  # the cell's question for the count of surveys
MEASURE_SOURCE = "Patient experience survey imports"


class CellCounter:
    """Counts of a set of responses, by cell key (dimension, month, unit id, value, question)."""

    def __init__(self, questions):
        self.questions = questions
        self.counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, response) -> None:
        groups = [("", "")] + [(name, getattr(response, name)) for name in BREAKDOWNS if getattr(response, name)]
        for dimension, value in groups:
            base = (dimension, response.month, response.unit_id, value)
            self.counts[(*base, SURVEYS)][1] += 1
            for key, code in response.answers.items():
                question = self.questions.questions.get(key)
                if question is None:
                    continue
                cell = self.counts[(*base, key)]
                cell[1] += 1
                cell[0] += code in question.top

    def touched(self) -> set[tuple[int, date]]:
        return {(unit_id, month) for dimension, month, unit_id, _v, _q in self.counts if dimension == ""}

    def save(self) -> None:
        """Add the counts to the stored cells: one read of the cells concerned (locked), then one
        upsert per batch with the new totals. (Django's bulk_update writes one CASE branch per
        cell, and PostgreSQL took 93 s of a 1,791-row import over those: benchmarks/voice_load.py.)"""
        if not self.counts:
            return
        months = {key[1] for key in self.counts}
        units = {key[2] for key in self.counts}
        stored = {(c.dimension, c.month, c.unit_id, c.value, c.question): (c.top, c.valid) for c in SurveyScoreCell.objects
                  .select_for_update().filter(question_set=self.questions.key, month__in=months, unit_id__in=units)}
        cells = []
        for key, (top, valid) in self.counts.items():
            top_before, valid_before = stored.get(key, (0, 0))
            cells.append(SurveyScoreCell(question_set=self.questions.key, dimension=key[0], month=key[1], unit_id=key[2],
                                         value=key[3], question=key[4], top=top_before + top, valid=valid_before + valid))
        SurveyScoreCell.objects.bulk_create(
            cells, batch_size=1000, update_conflicts=True, update_fields=["top", "valid"],
            unique_fields=["question_set", "dimension", "month", "unit", "value", "question"])


def rebuild_score_cells(question_set_key: str = "hcahps") -> int:
    """The cells worked out again from the stored responses (after a question set's top box was
    corrected, or to check the incremental counts); returns the cells written."""
    from .surveys import question_set

    questions = question_set(question_set_key)
    counter = CellCounter(questions)
    fields = ["month", "unit_id", "answers", *BREAKDOWNS]
    with transaction.atomic():
        for values in SurveyResponse.objects.filter(question_set=questions.key).values(*fields).iterator(chunk_size=5000):
            counter.add(_Row(values))
        SurveyScoreCell.objects.filter(question_set=questions.key).delete()
        counter.save()
    return len(counter.counts)


class _Row:
    def __init__(self, values):
        self.__dict__.update(values)


# --- the table ------------------------------------------------------------------------------------

@dataclass
class ScoreRow:
    key: str
    title: str
    kind: str  # "composite" or "question"
    top: int  # top-box answers (questions; for a composite, of all its questions)
    valid: int  # valid answers
    n: int  # returned surveys behind it (a question: its valid answers)
    share: float | None  # 0..1
    measure: str = ""
    questions: list = field(default_factory=list)  # a composite's own rows

    @property
    def percent(self) -> float | None:
        return None if self.share is None else round(self.share * 100, 1)

    @property
    def warning(self) -> str:
        minimum = settings.ANDON_SURVEY_MIN_COUNT
        if self.n < minimum:
            return f"Fewer than {minimum} surveys ({self.n}): too few to read a difference"
        return ""


@dataclass
class ScoreTable:
    question_set: str
    first: date
    last: date
    scope: str
    breakdown: str  # "" or the dimension filtered on
    value: str
    surveys: int
    composites: list
    questions: list
    minimum: int


def _months(first, last):
    first, last = inputs.month(first) if isinstance(first, str) else first, inputs.month(last) if isinstance(last, str) else last
    if first > last:
        raise ValidationError({"first": "the first month is after the last"})
    return first.replace(day=1), last.replace(day=1)


def score_table(user, *, question_set_key: str = "hcahps", first, last, unit: Unit | None = None,
                dimension: str = "", value: str = "") -> ScoreTable:
    """Scores of the discharge months from `first` to `last` (dates or YYYY-MM) in `unit` and the
    units below it (none: the user's units), for everyone or for one service line or stratum
    value (`dimension` one of service_line, age_band, sex, race, ethnicity, payer)."""
    from .surveys import question_set

    scope = permissions.scope_for(user, VIEW, unit=unit)
    first, last = _months(first, last)
    if dimension and dimension not in BREAKDOWNS:
        raise ValidationError({"dimension": f"{inputs.shown(dimension)} is not one of {', '.join(BREAKDOWNS)}"})
    if dimension and not value:
        raise ValidationError({"value": f"name the {dimension.replace('_', ' ')} to show"})
    questions = question_set(question_set_key)
    cells = SurveyScoreCell.objects.filter(question_set=questions.key, dimension=dimension, month__gte=first,
                                           month__lte=last)
    if dimension:
        cells = cells.filter(value=value)
    if not scope.everything:
        cells = cells.filter(unit__in=scope.units)
    sums = {row["question"]: (row["top"] or 0, row["valid"] or 0)
            for row in cells.values("question").annotate(top=Sum("top"), valid=Sum("valid"))}
    return _table(questions, sums, first, last, str(scope), dimension, value)


def _table(questions, sums, first, last, scope, dimension, value) -> ScoreTable:
    surveys = sums.get(SURVEYS, (0, 0))[1]
    rows = {}
    for key, question in questions.questions.items():
        top, valid = sums.get(key, (0, 0))
        rows[key] = ScoreRow(key, question.text, "question", top, valid, valid, top / valid if valid else None,
                             question.measure)
    composites = []
    for composite in questions.composites:
        parts = [rows[k] for k in composite.questions]
        shares = [p.share for p in parts if p.share is not None]
        composites.append(ScoreRow(
            composite.key, composite.title, "composite", sum(p.top for p in parts), sum(p.valid for p in parts),
            surveys if shares else 0, sum(shares) / len(shares) if shares else None, composite.measure, parts))
    in_composites = {k for c in questions.composites for k in c.questions}
    singles = [row for key, row in rows.items() if key not in in_composites]
    return ScoreTable(questions.key, first, last, scope, dimension, value, surveys, composites, singles,
                      settings.ANDON_SURVEY_MIN_COUNT)


def breakdown_values(user, dimension: str, question_set_key: str = "hcahps") -> list[str]:
    """The values of a service line or stratum found in the user's cells (for the filter)."""
    if dimension not in BREAKDOWNS:
        return []
    scope = permissions.scope_for(user, VIEW)
    cells = SurveyScoreCell.objects.filter(question_set=question_set_key, dimension=dimension, question=SURVEYS)
    if not scope.everything:
        cells = cells.filter(unit__in=scope.units)
    return list(cells.values_list("value", flat=True).distinct().order_by("value")[:200])


# --- the measures ---------------------------------------------------------------------------------

def _unit_month_counts(questions, touched):
    """(unit id, month) -> {question key: (top, valid)} for the touched unit-months, from all the
    cells (every import so far), not this import's alone."""
    months = {month for _u, month in touched}
    units = {unit for unit, _m in touched}
    found = defaultdict(dict)
    for cell in SurveyScoreCell.objects.filter(question_set=questions.key, dimension="", month__in=months,
                                               unit_id__in=units).values_list("unit_id", "month", "question", "top", "valid"):
        unit_id, month, question, top, valid = cell
        if (unit_id, month) in touched:
            found[(unit_id, month)][question] = (top, valid)
    return found


def feed_measures(user, questions, touched) -> list[str]:
    """Enter the counts of the unit-months an import touched in the measures each item names:
    a question's top-box answers over its valid answers; a composite's share × n over n (so that
    the measure's value is the composite). Returns the measures fed."""
    if not touched:
        return []
    counts = _unit_month_counts(questions, touched)
    units = {u.pk: u for u in Unit.objects.select_related("facility").filter(pk__in={unit for unit, _m in touched})}
    library = _measures_by_key(questions)
    fed = []
    for item in (*questions.questions.values(), *questions.composites):
        measure = library.get(item.measure)
        if measure is None:
            continue
        entries = []
        for (unit_id, month), sums in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            numerator, denominator = _item_counts(item, sums)
            if denominator:
                entries.append((units[unit_id], month, numerator, denominator))
        if entries:
            measures.enter_counts_from(user, measure, entries, source=MEASURE_SOURCE)
            fed.append(measure.key)
    return fed


def _measures_by_key(questions) -> dict:
    keys = [item.measure for item in (*questions.questions.values(), *questions.composites) if item.measure]
    return {m.key: m for m in measures.Measure.objects.filter(active=True, key__in=keys)}


def _item_counts(item, sums) -> tuple[float, int]:
    if hasattr(item, "questions"):
        shares = [sums[k][0] / sums[k][1] for k in item.questions if sums.get(k, (0, 0))[1]]
        n = sums.get(SURVEYS, (0, 0))[1]
        return (round(sum(shares) / len(shares) * n, 6), n) if shares and n else (0, 0)
    return sums.get(item.key, (0, 0))


def unit_measure_chart(user, item_key: str, unit: Unit, question_set_key: str = "hcahps"):
    """(measure, chart) of a question's or composite's measure for a unit (checked), or
    ValidationError when the item feeds no measure."""
    from .surveys import question_set

    permissions.check(user, VIEW, unit)
    questions = question_set(question_set_key)
    item = questions.questions.get(item_key) or next((c for c in questions.composites if c.key == item_key), None)
    if item is None or not item.measure:
        raise ValidationError({"item": f"{inputs.shown(item_key)} feeds no measure of the library"})
    measure = _measures_by_key(questions).get(item.measure)
    if measure is None:
        raise ValidationError({"item": f"the measure {item.measure} is not loaded"})
    return measure, measures.chart_for(measure, unit=unit)


def connect() -> None:
    """Registries of this subject, from ready()."""
