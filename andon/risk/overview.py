"""Risk: the register read as a whole, for its pages and API. The list's rows with whether each
asks escalation (the matrix read once, not per row), the heat map's cells in the colours of the
organisation's bands with a link to the risks each counts, the board assurance framework's
summary line, and the matrix's revisions. DOMAIN.md §5; the services it reads are register.py's.

A register is an organisation's: its matrix gives the bands, the tolerances and the scales, so
the rows read here are that organisation's risks the user may see."""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import Q

from andon.platform import charts, permissions
from andon.platform.models import Organisation, Unit

from .matrix import matrix_row
from .models import ControlEffect, MatrixRevision, Risk, RiskStatus
from .register import asks_escalation, heat_maps_counts, register_filter, visible_risks
from .scoring import LEVELS, Band, Matrix, ScoringError

WHICH = {"current": "Current score", "target": "Target score", "inherent": "Inherent score (before controls)"}


def organisation_for(user, capability: str | None = None) -> Organisation | None:
    """The organisation whose register (and matrix) the user works in: the first of their grants'
    (where they hold `capability` over it, when one is named)."""
    ids = sorted({grant.organisation_id for grant in permissions.active_grants(user)})
    for organisation in Organisation.objects.filter(pk__in=ids).order_by("pk"):
        if capability is None or permissions.can(user, capability, organisation):
            return organisation
    if capability is None:  # an owner whose roles have gone still reads the risks they own
        return Organisation.objects.filter(pk__in=Risk.objects.filter(owner=user).values("organisation_id")).first()
    return None


def scope_capability(user) -> str:
    """What a unit filter is checked against: risk.view, or for those who read the board
    assurance framework only (board members), risk.view_board."""
    return "risk.view" if permissions.can(user, "risk.view") else "risk.view_board"


def checked_unit(user, unit: Unit | None) -> Unit | None:
    """The unit asked for, refused (PermissionDenied: 403) outside the user's grants."""
    if unit is not None:
        permissions.scope_for(user, scope_capability(user), unit=unit)
    return unit


def in_cell(risks, matrix: Matrix, which: str, consequence=None, likelihood=None):
    """Risks whose `which` score sits in one cell (or row, or column) of the matrix; a value off
    the matrix's scales is a ValidationError naming it."""
    errors = {}
    for name, value, top in (("consequence", consequence, matrix.size[0]), ("likelihood", likelihood, matrix.size[1])):
        if value is not None and not (isinstance(value, int) and 1 <= value <= top):
            errors[name] = f"{name.capitalize()} {value} is not on the matrix: its scale runs from 1 to {top}."
    if which not in WHICH:
        errors["which"] = f"{which!r} is not a score; choose current, target or inherent."
    if errors:
        raise ValidationError(errors)
    if consequence is not None:
        risks = risks.filter(**{f"{which}_consequence": consequence})
    if likelihood is not None:
        risks = risks.filter(**{f"{which}_likelihood": likelihood})
    return risks


def above_tolerance(matrix: Matrix) -> Q:
    """Risks whose current score is above what their level tolerates on `matrix` (the rule of
    `asks_escalation`, in SQL)."""
    above = Q(pk__in=[])
    for level in LEVELS:
        ceiling = matrix.tolerance(level)
        if ceiling is not None:
            above |= Q(level=level, current_score__gt=ceiling)
    return above


def asking_escalation(risks, matrix: Matrix):
    """Open risks of one organisation that ask to be escalated."""
    return risks.filter(above_tolerance(matrix), status=RiskStatus.OPEN)


def register(user, organisation, matrix: Matrix, *, unit: Unit | None = None, consequence: int | None = None,
             likelihood: int | None = None, asking: bool = False, **filters):
    """The register as the user may see it, filtered (register_filter's category, level, band,
    status and which; a heat map cell; asking escalation), highest current score first, with
    what each row shows read in the same query."""
    if filters.get("band"):
        try:
            matrix.band_named(filters["band"])
        except ScoringError as error:
            raise ValidationError({"band": error.message}) from None
    risks = register_filter(visible_risks(user, organisation), unit=checked_unit(user, unit), **filters)
    risks = in_cell(risks, matrix, filters.get("which", "current"), consequence, likelihood)
    if asking:
        risks = asking_escalation(risks, matrix)
    return risks.select_related("owner", "unit__facility", "facility").order_by("-current_score", "reference")


@dataclass(frozen=True)
class Row:
    """A risk of the register's list with its bands and whether it asks escalation."""

    risk: Risk
    current: Band
    target: Band
    asks_escalation: bool
    review_overdue: bool


def rows(risks, matrix: Matrix, today: date) -> list[Row]:
    return [Row(risk, matrix.band(risk.current_score), matrix.band(risk.target_score), asks_escalation(risk, matrix),
                risk.status == RiskStatus.OPEN and risk.review_on < today) for risk in risks]


def place_of(risk: Risk) -> str:
    if risk.unit_id:
        return str(risk.unit)
    return risk.facility.name if risk.facility_id else "Whole organisation"


# --- the heat map ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    consequence: int
    likelihood: int
    score: int
    band: Band
    count: int


def heat_map_cells(matrix: Matrix, counts: Counter) -> list[Cell]:
    """Every cell of the matrix, highest likelihood first (the matrix as DOMAIN.md §5 prints it),
    with the number of risks in it (0 included: an empty cell is a count too)."""
    consequences, likelihoods = matrix.size
    return [Cell(c, lk, c * lk, matrix.band(c * lk), counts.get((c, lk), 0))
            for lk in range(likelihoods, 0, -1) for c in range(1, consequences + 1)]


def heat_maps(risks, matrix: Matrix) -> dict[str, list[Cell]]:
    """The cells of the current and the target score, side by side (counted in one query)."""
    return {which: heat_map_cells(matrix, counts) for which, counts in heat_maps_counts(risks).items()}


def band_totals(matrix: Matrix, cells: list[Cell]) -> list[tuple[Band, int]]:
    totals = Counter()
    for cell in cells:
        totals[cell.band.name] += cell.count
    return [(band, totals[band.name]) for band in matrix.bands]


def heat_map_chart(matrix: Matrix, cells: list[Cell], which: str, link=None) -> charts.Chart:
    """The chart kit's heat map of the cells: consequence across, likelihood up, each cell in its
    band's colour; `link(consequence, likelihood)` gives the address of a cell's risks."""
    total = sum(cell.count for cell in cells)
    filled = [f"{cell.count} at consequence {_column(matrix, cell)}, likelihood {_row(matrix, cell)} ({cell.band.name})"
              for cell in sorted(cells, key=lambda cell: -cell.score) if cell.count]
    desc = f"{total} risk{'s' if total != 1 else ''} by {which} score. " + ("; ".join(filled) or "No risks.")
    return _matrix_drawing(matrix, cells, {cell: cell.count for cell in cells}, title=WHICH[which], desc=desc,
                           links={cell: link(cell.consequence, cell.likelihood) for cell in cells} if link else None)


def matrix_chart(matrix: Matrix) -> charts.Chart:
    """The matrix itself: each cell's score in its band's colour."""
    cells = heat_map_cells(matrix, Counter())
    desc = "; ".join(f"{band.name}: scores {band.low} to {band.high}" for band in matrix.bands)
    return _matrix_drawing(matrix, cells, {cell: cell.score for cell in cells}, title="Scores and their bands",
                           desc=desc)


def _column(matrix: Matrix, cell: Cell) -> str:
    return f"{cell.consequence} {matrix.consequence_label(cell.consequence)}"


def _row(matrix: Matrix, cell: Cell) -> str:
    return f"{cell.likelihood} {matrix.likelihood_label(cell.likelihood)}"


def _matrix_drawing(matrix: Matrix, cells: list[Cell], values: dict, *, title: str, desc: str, links=None):
    place = {cell: (_row(matrix, cell), _column(matrix, cell)) for cell in cells}
    rows = list(dict.fromkeys(_row(matrix, cell) for cell in cells))  # highest likelihood first
    columns = list(dict.fromkeys(_column(matrix, cell) for cell in cells))
    return charts.heat_map(rows, columns, {place[cell]: value for cell, value in values.items()}, title=title,
                           desc=desc, row_label="Likelihood", column_label="Consequence",
                           fills={place[cell]: cell.band.colour for cell in cells},
                           links={place[cell]: href for cell, href in links.items()} if links else None, cell_width=88)


# --- the board assurance framework ------------------------------------------------------------------

def live_controls(risk: Risk) -> list:
    """The risk's controls not retired, from the prefetched list (no query per risk)."""
    return [control for control in risk.controls.all() if control.retired_at is None]


def untested(control) -> bool:
    return control.last_tested_on is None or control.effect == ControlEffect.NOT_TESTED


def has_gaps(controls: list) -> bool:
    """No control at all, or a control or assurance gap recorded on one."""
    return not controls or any(control.control_gap or control.assurance_gap for control in controls)


@dataclass(frozen=True)
class FrameworkSummary:
    risks: int
    with_gaps: int
    without_controls: int
    controls: int
    untested_controls: int


def framework(risks) -> tuple[list[tuple[Risk, list]], FrameworkSummary]:
    """The board assurance framework's risks with their live controls, and its summary line."""
    found = [(risk, live_controls(risk)) for risk in risks]
    controls = [control for _, live in found for control in live]
    return found, FrameworkSummary(
        risks=len(found), with_gaps=sum(has_gaps(live) for _, live in found),
        without_controls=sum(not live for _, live in found), controls=len(controls),
        untested_controls=sum(untested(control) for control in controls))


# --- the matrix -----------------------------------------------------------------------------------

def matrix_revisions(organisation):
    """The matrix's revisions, newest first, with who made each."""
    return MatrixRevision.objects.filter(matrix=matrix_row(organisation)).select_related("changed_by")
