"""Results out and peers' results in.

- `report_bundle`: a FHIR R4 Bundle of summary MeasureReports (DEQM style), one per period,
  each with the organisation's populations and score, a stratifier per kind of unit (ward,
  department, service line: a unit's cell holds the units' below it, so kinds are kept apart)
  and one per equity stratum.
- `csv_rows`: every stored cell as a flat row.
- `read_peer_reports`: summary MeasureReports from peer hospitals (one, or a Bundle of them),
  checked field by field; errors say which entry and which field.
- `small_cells`: for exports that leave the quality department (peers, the public), the cells
  to hide: any count of people or events from 1 to the threshold less one, and then the
  complementary cells that would let a hidden one be worked out by subtraction from its total.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone

from andon.platform import inputs

from .models import Improvement, Measure, MeasureResult, Scoring, SourceKind

POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
ANDON_MEASURE = "urn:andon:measure:"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
CSV_COLUMNS = ["measure", "version", "period_kind", "period_start", "period_end", "unit", "stratum", "stratum_value",
               "cases", "numerator", "denominator", "value", "unit_of_measure", "data_load", "computed_at", "suppressed"]


def canonical(measure: Measure) -> str:
    """How reports name the measure: the CMS Measure's name for an eCQM, else Andon's key."""
    if measure.source_kind == SourceKind.ECQM:
        return f"https://madie.cms.gov/Measure/{measure.definition['source']['measure']}"
    return f"{ANDON_MEASURE}{measure.key}"


def _populations(measure: Measure, row: MeasureResult) -> list[dict]:
    if measure.scoring == Scoring.CONTINUOUS:
        counts = [("measure-population", row.cases)]
    elif measure.scoring == Scoring.COUNT:
        counts = [("initial-population", row.numerator)]
    else:
        counts = [("numerator", row.numerator), ("denominator", row.denominator)]
    return [{"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": round(count)} for code, count in counts]


def _score(measure: Measure, row: MeasureResult) -> dict:
    if row.value is None:
        return {}
    return {"measureScore": {"value": round(row.value, 6), "unit": measure.unit_label}}


def _counted(measure: Measure, row: MeasureResult | None, hidden: set[int]) -> dict:
    """A group's or stratum's populations and score, or the mark that they are withheld."""
    if row is None:
        return {"population": []}
    if row.pk in hidden:
        return {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}
    return {"population": _populations(measure, row), **_score(measure, row)}


def _report(measure: Measure, start: date, end: date, rows: list[MeasureResult], organisation: str,
            hidden: set[int]) -> dict:
    whole = next((r for r in rows if r.unit_id is None and not r.stratum), None)
    group = _counted(measure, whole, hidden)
    stratifiers = defaultdict(list)
    for row in rows:
        if row.unit_id is not None and not row.stratum:  # one stratifier per kind of unit: wards, departments…
            stratifiers[row.unit.get_kind_display().lower()].append(
                {"value": {"text": f"{row.unit.facility.code}/{row.unit.code}"}, **_counted(measure, row, hidden)})
        elif row.unit_id is None and row.stratum:
            stratifiers[row.stratum].append({"value": {"text": row.stratum_value}, **_counted(measure, row, hidden)})
    group["stratifier"] = [{"code": [{"text": name}], "stratum": strata} for name, strata in stratifiers.items()]
    report = {
        "resourceType": "MeasureReport", "status": "complete", "type": "summary", "measure": canonical(measure),
        "date": timezone.now().isoformat(timespec="seconds"), "reporter": {"display": organisation},
        "period": {"start": start.isoformat(), "end": date.fromordinal(end.toordinal() - 1).isoformat()},
        "group": [group],
        "extension": [{"url": "urn:andon:definition-version", "valueString": measure.version},
                      {"url": "urn:andon:data-load", "valueString": whole.data_load if whole else ""}],
    }
    if measure.improvement != Improvement.NEUTRAL:
        report["improvementNotation"] = {"coding": [{"system": IMPROVEMENT, "code": measure.improvement}]}
    return report


def report_bundle(measure: Measure, rows, organisation: str, hidden: set[int] = frozenset()) -> dict:
    """A Bundle of one summary MeasureReport per period of `rows` (MeasureResult of one kind);
    the cells in `hidden` (small_cells) are marked masked, without counts or score."""
    periods: dict[tuple, list[MeasureResult]] = defaultdict(list)
    for row in rows:
        periods[(row.period_start, row.period_end)].append(row)
    entries = [{"resource": _report(measure, start, end, cells, organisation, hidden)}
               for (start, end), cells in sorted(periods.items())]
    return {"resourceType": "Bundle", "type": "collection", "timestamp": timezone.now().isoformat(timespec="seconds"),
            "entry": entries}


def csv_rows(measure: Measure, rows, hidden: set[int] = frozenset()):
    """Every cell as a flat row; the cells in `hidden` (small_cells) without their counts and value."""
    for row in rows:
        masked = row.pk in hidden
        yield {"measure": measure.key, "version": row.definition_version, "period_kind": row.period_kind,
               "period_start": row.period_start.isoformat(), "period_end": row.period_end.isoformat(),
               "unit": f"{row.unit.facility.code}/{row.unit.code}" if row.unit_id else "", "stratum": row.stratum,
               "stratum_value": row.stratum_value, "cases": "" if masked else row.cases,
               "numerator": "" if masked else row.numerator, "denominator": "" if masked else row.denominator,
               "value": "" if masked or row.value is None else row.value,
               "unit_of_measure": measure.unit_label, "data_load": row.data_load,
               "computed_at": row.computed_at.isoformat(timespec="seconds"), "suppressed": "yes" if masked else ""}


# --- small-cell suppression ---------------------------------------------------------------------

def _people_counts(measure: Measure, row: MeasureResult) -> list[float]:
    """The counts of a cell that number patients or events (a continuous measure's numerator is
    a sum of values, a rate's denominator an exposure such as patient days)."""
    counts = [row.cases]
    if measure.scoring != Scoring.CONTINUOUS:
        counts.append(row.numerator)
    if measure.scoring == Scoring.PROPORTION:
        counts.append(row.denominator)
    return counts


def _is_small(measure: Measure, row: MeasureResult, threshold: int) -> bool:
    return any(0 < (count or 0) < threshold for count in _people_counts(measure, row))


def _sibling_groups(rows: list[MeasureResult]) -> list[list[MeasureResult]]:
    """Cells that add up to a published total: a unit's (or the organisation's) strata of one
    dimension in a period, and the cells of units under the same unit (or at the top) of one
    stratum value in a period."""
    groups: dict[tuple, list[MeasureResult]] = defaultdict(list)
    for row in rows:
        if row.stratum:
            groups[("strata", row.period_kind, row.period_start, row.unit_id, row.stratum)].append(row)
        if row.unit_id is not None:
            groups[("units", row.period_kind, row.period_start, row.unit.parent_id, row.stratum,
                    row.stratum_value)].append(row)
    return [members for members in groups.values() if len(members) > 1]


def small_cells(measure: Measure, rows, threshold: int) -> set[int]:
    """The primary keys of the cells to hide from an export: those with a count of 1 to
    `threshold` - 1 (0 or less: none), then, wherever a total's parts have exactly one hidden,
    the smallest other part too, until no hidden cell can be worked out by subtraction."""
    rows = list(rows)
    if threshold <= 1:
        return set()
    hidden = {row.pk for row in rows if _is_small(measure, row, threshold)}
    groups = _sibling_groups(rows)
    changed = True
    while changed:
        changed = False
        for members in groups:
            shown = [row for row in members if row.pk not in hidden]
            if len(members) - len(shown) == 1 and shown:
                hidden.add(min(shown, key=lambda row: (row.cases, row.pk)).pk)
                changed = True
    return hidden


COMPARE_COLUMNS = ["measure", "compared", "label", "first_month", "last_month", "numerator", "denominator", "value",
                   "low", "high", "unit_of_measure", "suppressed"]


def comparison_rows(measure: Measure, rows, window, compared: str, threshold: int = 0):
    """A comparison (results.compare: each stratum value or unit over the window) as flat rows.
    With a `threshold` (an export to share), a row counting 1 to threshold - 1 patients or events
    is withheld, and, the rows adding up to one total, the smallest other too when only one is
    (small_cells, the rule of the results' exports)."""
    from types import SimpleNamespace

    cells = [SimpleNamespace(pk=i, period_kind="window", period_start=window[0] if window else None, unit_id=None,
                             stratum=compared, stratum_value=row.label,
                             cases=row.denominator if measure.scoring in (Scoring.PROPORTION, Scoring.CONTINUOUS)
                             else row.numerator, numerator=row.numerator, denominator=row.denominator)
             for i, row in enumerate(rows)]
    hidden = small_cells(measure, cells, threshold) if threshold else set()
    for i, row in enumerate(rows):
        masked = i in hidden
        yield {"measure": measure.key, "compared": compared, "label": row.label,
               "first_month": f"{window[0]:%Y-%m}" if window else "", "last_month": f"{window[1]:%Y-%m}" if window else "",
               "numerator": "" if masked else row.numerator, "denominator": "" if masked else row.denominator,
               "value": "" if masked or row.value is None else row.value,
               "low": "" if masked or row.low is None else row.low, "high": "" if masked or row.high is None else row.high,
               "unit_of_measure": measure.unit_label, "suppressed": "yes" if masked else ""}


# --- peers' reports in --------------------------------------------------------------------------

class PeerReportError(ValueError):
    pass


@dataclass
class PeerRow:
    peer: str
    period_start: date
    period_end: date
    numerator: float | None
    denominator: float | None
    value: float | None


@dataclass
class PeerReading:
    rows: list[PeerRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    withheld: int = 0  # periods the peer withheld as small cells (data-absent-reason masked)


MAX_CHARS = 5 * 1024 * 1024  # as the upload form's limit
MAX_DEPTH = 32  # a Bundle of reports with stratifiers is 12 deep
MAX_REPORTS = 5000  # four centuries of monthly reports


def read_peer_reports(text: str, measure: Measure) -> PeerReading:
    """Summary MeasureReports of `measure` from peers (a MeasureReport or a Bundle of them).
    Every part is checked for its type before it is used, numbers for being finite and in range,
    and each error names the report and the field (`entry 3.group[0].population[1].count`)."""
    reading = PeerReading()
    try:
        data = inputs.load_json(text, max_bytes=MAX_CHARS, max_depth=MAX_DEPTH)
    except inputs.InputError as error:
        reading.errors.append(f"the file: {error}")
        return reading
    try:
        reports = _reports(data)
    except PeerReportError as error:
        reading.errors.append(str(error))
        return reading
    for where, report in reports:
        try:
            row = _peer_row(report, measure, where)
        except PeerReportError as error:
            reading.errors.append(str(error))
            continue
        if row is None:
            reading.withheld += 1
        else:
            reading.rows.append(row)
    return reading


def _reports(data) -> list[tuple[str, object]]:
    if not isinstance(data, dict):
        raise PeerReportError("expected a MeasureReport or a Bundle of them")
    if data.get("resourceType") != "Bundle":
        return [("the report", data)]
    entries = _list(data.get("entry"), "entry")
    if not entries:
        raise PeerReportError("the Bundle has no entries")
    if len(entries) > MAX_REPORTS:
        raise PeerReportError(f"entry: {len(entries):,} reports; at most {MAX_REPORTS:,} in one file")
    return [(f"entry {i + 1}", entry.get("resource") if isinstance(entry, dict) else entry)
            for i, entry in enumerate(entries)]


# Each reads one part of a report and says where it is when it is not what it should be.

def _object(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PeerReportError(f"{where}: expected an object")
    return value


def _list(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PeerReportError(f"{where}: expected a list")
    return value


def _text(value, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PeerReportError(f"{where}: expected a text")
    return value


def _date(value, where: str) -> date:
    if not isinstance(value, str):
        raise PeerReportError(f"{where}: expected a date (YYYY-MM-DD)")
    try:
        return inputs.day(date.fromisoformat(value[:10]))
    except inputs.InputError as error:
        raise PeerReportError(f"{where}: {error}") from None
    except ValueError:
        raise PeerReportError(f"{where}: expected a date (YYYY-MM-DD)") from None


def _number(value, where: str, *, low: float = -inputs.NUMBER_LIMIT, whole: bool = False) -> float:
    try:
        number = inputs.finite(value, low=low)
    except inputs.InputError as error:
        raise PeerReportError(f"{where}: {error}") from None
    if whole and not number.is_integer():
        raise PeerReportError(f"{where}: {number:g} is not a whole number")
    return number


def _masked(group: dict) -> bool:
    extensions = group.get("extension")
    return isinstance(extensions, list) and any(
        isinstance(e, dict) and e.get("url") == DATA_ABSENT and e.get("valueCode") == "masked" for e in extensions)


def _counts(group: dict, where: str) -> dict[str, float]:
    """The group's populations: {code: count}; counts are whole numbers of people or events."""
    counts = {}
    for i, population in enumerate(_list(group.get("population"), f"{where}.population")):
        here = f"{where}.population[{i}]"
        population = _object(population, here)
        coding = _list(_object(population.get("code"), f"{here}.code").get("coding"), f"{here}.code.coding")
        codes = [_text(_object(c, f"{here}.code.coding[{j}]").get("code"), f"{here}.code.coding[{j}].code")
                 for j, c in enumerate(coding)]
        if codes and population.get("count") is not None:
            counts[codes[0]] = _number(population["count"], f"{here}.count", low=0, whole=True)
    return counts


def _peer_row(report, measure: Measure, where: str) -> PeerRow | None:
    """The report's organisation-wide result; None when the peer withheld it as a small cell."""
    if not isinstance(report, dict) or report.get("resourceType") != "MeasureReport":
        raise PeerReportError(f"{where}: not a MeasureReport")
    if report.get("type") != "summary":
        raise PeerReportError(f"{where}.type: only summary reports can be compared "
                              f"(found {inputs.shown(report.get('type'))})")
    if report.get("measure") != canonical(measure):
        raise PeerReportError(f"{where}.measure: {inputs.shown(report.get('measure'))} is not {canonical(measure)}")
    peer = _text(_object(report.get("reporter"), f"{where}.reporter").get("display"), f"{where}.reporter.display")
    if not peer.strip():
        raise PeerReportError(f"{where}.reporter.display: name the peer hospital")
    period = _object(report.get("period"), f"{where}.period")
    start, end = _date(period.get("start"), f"{where}.period.start"), _date(period.get("end"), f"{where}.period.end")
    if end < start:
        raise PeerReportError(f"{where}.period: ends before it starts")
    groups = _list(report.get("group"), f"{where}.group")
    if not groups:
        raise PeerReportError(f"{where}.group: missing")
    if not isinstance(groups[0], dict):
        raise PeerReportError(f"{where}.group[0]: expected an object")
    group = groups[0]
    if _masked(group) and not group.get("population") and "measureScore" not in group:
        return None
    counts = _counts(group, f"{where}.group[0]")
    score = _object(group.get("measureScore"), f"{where}.group[0].measureScore").get("value")
    if score is not None:
        score = _number(score, f"{where}.group[0].measureScore.value")
    numerator, denominator = counts.get("numerator"), counts.get("denominator")
    if score is None and numerator is not None and denominator:
        score = _number(numerator / denominator * measure.multiplier, f"{where}.group[0] (numerator / denominator)")
    if score is None:
        raise PeerReportError(f"{where}.group[0]: needs a measureScore or numerator and denominator counts")
    if numerator is not None and denominator is not None and measure.scoring == Scoring.PROPORTION and numerator > denominator:
        raise PeerReportError(f"{where}.group[0]: the numerator is larger than the denominator")
    return PeerRow(peer.strip()[:200], start, end, numerator, denominator, score)
