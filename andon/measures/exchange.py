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

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.utils import timezone

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


def read_peer_reports(text: str, measure: Measure) -> PeerReading:
    """Summary MeasureReports of `measure` from peers (a MeasureReport or a Bundle of them)."""
    reading = PeerReading()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        reading.errors.append(f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}")
        return reading
    if not isinstance(data, dict):
        reading.errors.append("expected a MeasureReport or a Bundle of them")
        return reading
    if data.get("resourceType") == "Bundle":
        reports = [(f"entry {i + 1}", (e or {}).get("resource")) for i, e in enumerate(data.get("entry") or [])]
    else:
        reports = [("the report", data)]
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
    if not reports:
        reading.errors.append("the Bundle has no entries")
    return reading


def _masked(group: dict) -> bool:
    return any(isinstance(e, dict) and e.get("url") == DATA_ABSENT and e.get("valueCode") == "masked"
               for e in group.get("extension") or [])


def _peer_row(report, measure: Measure, where: str) -> PeerRow | None:
    """The report's organisation-wide result; None when the peer withheld it as a small cell."""
    if not isinstance(report, dict) or report.get("resourceType") != "MeasureReport":
        raise PeerReportError(f"{where}: not a MeasureReport")
    if report.get("type") != "summary":
        raise PeerReportError(f"{where}.type: only summary reports can be compared (found {report.get('type')!r})")
    if report.get("measure") != canonical(measure):
        raise PeerReportError(f"{where}.measure: {report.get('measure')!r} is not {canonical(measure)}")
    peer = ((report.get("reporter") or {}).get("display") or "").strip()
    if not peer:
        raise PeerReportError(f"{where}.reporter.display: name the peer hospital")
    try:
        start = date.fromisoformat(str((report.get("period") or {}).get("start"))[:10])
        end = date.fromisoformat(str((report.get("period") or {}).get("end"))[:10])
    except ValueError:
        raise PeerReportError(f"{where}.period: start and end must be dates (YYYY-MM-DD)") from None
    if end < start:
        raise PeerReportError(f"{where}.period: ends before it starts")
    groups = report.get("group") or []
    if not groups or not isinstance(groups[0], dict):
        raise PeerReportError(f"{where}.group: missing")
    if _masked(groups[0]) and not groups[0].get("population") and "measureScore" not in groups[0]:
        return None
    counts = {}
    for population in groups[0].get("population") or []:
        codes = [c.get("code") for c in ((population or {}).get("code") or {}).get("coding") or []]
        count = (population or {}).get("count")
        if codes and isinstance(count, int | float) and not isinstance(count, bool) and count >= 0:
            counts[codes[0]] = float(count)
    score = (groups[0].get("measureScore") or {}).get("value")
    numerator, denominator = counts.get("numerator"), counts.get("denominator")
    if score is None and numerator is not None and denominator:
        score = numerator / denominator * measure.multiplier
    if not isinstance(score, int | float) or isinstance(score, bool):
        raise PeerReportError(f"{where}.group[0]: needs a measureScore or numerator and denominator counts")
    if numerator is not None and denominator is not None and measure.scoring == Scoring.PROPORTION and numerator > denominator:
        raise PeerReportError(f"{where}.group[0]: the numerator is larger than the denominator")
    return PeerRow(peer[:200], start, end, numerator, denominator, float(score))
