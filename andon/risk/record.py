"""Risk: one risk as its page and the API read it. Where a risk may be raised and who may own
it there, its score history drawn as a trend, a control or link opened by its id, and its
actions in the shared tracker (andon/actions: the tracker owns them, the risk is their source)."""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone

from andon.actions import services as actions
from andon.platform import charts, inputs, permissions
from andon.platform.models import Facility, Organisation, Unit

from .models import Control, RiskLink, RiskStatus
from .scoring import Matrix

__all__ = [
    "access_control", "access_link", "open_action_for_risk", "owners_at", "place_code", "place_from_code",
    "places_to_raise", "risk_actions", "score_history", "trend_chart",
]

_PLACE_MODELS = {"o": Organisation, "f": Facility, "u": Unit}


# --- where a risk sits, and who may own it there ---------------------------------------------------

def place_code(unit=None, facility=None, organisation=None) -> str:
    """A place as forms and pickers name it: u<id>, f<id> or o<id>."""
    if unit is not None:
        return f"u{unit.pk}"
    return f"f{facility.pk}" if facility is not None else f"o{organisation.pk}" if organisation is not None else ""


def place_from_code(code) -> dict:
    """{"unit", "facility", "organisation"} (as raise_risk takes them) of a place code; a code that
    names no place is a ValidationError on `unit`, the field raise_risk names for the place."""
    text = str(code or "").strip()
    pk = inputs.record_id(text[1:]) if text[:1] in _PLACE_MODELS else None
    found = _PLACE_MODELS[text[0]].objects.filter(pk=pk).first() if pk else None
    if found is None:
        raise ValidationError({"unit": "Choose where the risk sits: a unit, a facility or the organisation."})
    kind = {"o": "organisation", "f": "facility", "u": "unit"}[text[0]]
    return {"unit": None, "facility": None, "organisation": None, kind: found}


def places_to_raise(user) -> list[tuple[str, str]]:
    """[(code, label)] of the places where `user` may raise a risk: their organisations (a grant
    over the whole of one), facilities, then units by facility and tree."""
    units = permissions.units_where(user, "risk.raise").filter(active=True).select_related("facility__organisation")
    facilities = Facility.objects.filter(pk__in=units.values("facility_id")).select_related("organisation")
    organisations = {facility.organisation for facility in facilities}
    return ([(place_code(organisation=o), f"{o.name} (whole organisation)") for o in organisations
             if permissions.can(user, "risk.raise", o)]
            + [(place_code(facility=f), f"{f.name} (facility)") for f in facilities
               if permissions.can(user, "risk.raise", f)]
            + [(place_code(unit=u), f"{u.facility.name} · {u.name}") for u in units.order_by("facility__name", "path")])


def owners_at(user, place):
    """People who may read risks at `place` (a unit, facility or organisation): whom raise_risk
    takes as a risk's owner there, and so whom the raise form's owner picker offers. Asked by
    someone who may read or raise risks there (PermissionDenied otherwise: the picker does not
    list another place's staff)."""
    if not (permissions.can(user, "risk.view", place) or permissions.can(user, "risk.raise", place)):
        permissions.check(user, "risk.view", place)
    return permissions.people_who("risk.view", place)


# --- the trend ----------------------------------------------------------------------------------

def score_history(risk):
    """Every score record of the risk, oldest first, with who made it."""
    return risk.scores.select_related("by").order_by("at", "pk")


def trend_chart(risk, records, matrix: Matrix) -> charts.Chart:
    """The current score over time, each point in the colour of its band, with each band's lowest
    score as a reference line: where the risk stands against the bands, and when it moved."""
    points = [_trend_point(record, matrix) for record in records]
    references = [charts.Reference(f"band-{index}", band.low, f"{band.name} from {band.low}", colour=band.colour)
                  for index, band in enumerate(matrix.bands) if index]
    first, last = (records[0], records[-1]) if records else (None, None)
    desc = (f"{len(records)} score records from {_day(first.at)} to {_day(last.at)}; the current score is now "
            f"{last.current_score} ({last.current_band})." if records else "No score records yet.")
    return charts.control_chart(points, title=f"Current score of {risk.reference} over time", desc=desc,
                                y_label="Current score", references=references, integer=True)


def _trend_point(record, matrix: Matrix) -> charts.PeriodPoint:
    band = _band_colour(matrix, record.current_band, record.current_score)
    words = f"{_day(record.at)}: {record.current_score} ({record.current_band}), {record.get_reason_display().lower()}"
    return charts.PeriodPoint(label=_day(record.at), value=record.current_score, tip=words,
                              note=record.current_band, colour=band)


def _band_colour(matrix: Matrix, name: str, score: int) -> str:
    # A record keeps the band in force when it was made; a band since renamed is coloured as the
    # band its score falls in now.
    try:
        return matrix.band_named(name).colour
    except ValueError:
        return matrix.band(score).colour


def _day(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d}"


# --- a control or link by its id -------------------------------------------------------------

_RISK_RELATED = ("risk__unit__facility", "risk__facility", "risk__organisation", "risk__owner")


def _of_a_risk(user, queryset, pk, capability: str):
    found = get_object_or_404(queryset.select_related(*_RISK_RELATED), pk=pk)
    permissions.check(user, "risk.view_risk", found.risk)
    if capability != "risk.view_risk":
        permissions.check(user, capability, found.risk)
    return found


def access_control(user, control_id, capability: str = "risk.edit_risk") -> Control:
    """A control of a risk the user may see and `capability` (Http404, PermissionDenied)."""
    return _of_a_risk(user, Control.objects.select_related("owner"), control_id, capability)


def access_link(user, link_id, capability: str = "risk.edit_risk") -> RiskLink:
    """A link of a risk the user may see and `capability` (Http404, PermissionDenied)."""
    return _of_a_risk(user, RiskLink.objects.all(), link_id, capability)


# --- actions in the shared tracker --------------------------------------------------------------

def risk_actions(risk, user):
    """The risk's actions that `user` may see."""
    return actions.actions_for_source(risk, user).order_by("due_date", "pk")


def open_action_for_risk(user, risk, *, owner, title: str, due_date, strength: str, measure: str,
                         description: str = "", unit: Unit | None = None):
    """An action in the shared tracker with the risk as its source (its owner or the risk
    manager, who also manage actions there). In the risk's unit; a risk of a facility or of the
    organisation names the unit that will act, within its place."""
    permissions.check(user, "risk.edit_risk", risk)
    if risk.status != RiskStatus.OPEN:
        raise ValidationError({"status": f"{risk.reference} is closed: its work is done."})
    unit = risk.unit or unit
    if unit is None:
        raise ValidationError({"unit": "The risk sits in no unit: choose the unit that will act."})
    elsewhere = risk.facility_id and unit.facility_id != risk.facility_id
    if unit.facility.organisation_id != risk.organisation_id or elsewhere:
        raise ValidationError({"unit": f"{unit} is outside {risk.facility or risk.organisation}, where the risk sits."})
    return actions.create_action(user, source=risk, source_label=f"Risk {risk.reference}: {risk.title}"[:200],
                                 unit=unit, owner=owner, title=title, description=description, due_date=due_date,
                                 strength=strength, measure=measure)
