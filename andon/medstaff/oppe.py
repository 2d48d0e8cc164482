"""Ongoing professional practice evaluation (OPPE, DOMAIN.md §8): a department's profile of
indicators from the measures library, each practitioner's value over the evaluation period
against the department's on a funnel plot, their own SPC chart and cases, counts of safety
events and peer review outcomes, volume; the reviewer's decision (continue, FPPE, other).
docs/medstaff.md.

The indicators are measures computed by practitioner (andon/analytics/kpi/attribution.py: a
case's responsible practitioner); the measures library computes them so because this module
tells it which it needs (`connect()`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from andon.analytics.kpi import periods as period_math
from andon.measures import services as measures
from andon.platform import audit, navigation, permissions
from andon.platform.models import Unit

from .fppe import start_fppe
from .practitioners import add_practitioner_section
from .models import (
    FppeTrigger,
    OppeDecision,
    OppeDecisionKind,
    OppeIndicator,
    OppeProfile,
    PeerReviewCase,
    PeerReviewSource,
    Practitioner,
)

__all__ = ["OPPE_PERIODIC_MONTHS", "access_oppe_practitioner", "access_oppe_profile", "configure_oppe", "decide_oppe",
           "evaluate_department", "oppe_period", "oppe_profiles", "practitioner_oppe"]

DEFAULT_MONTHS = 6
MAX_MONTHS = 24
# The Joint Commission's FAQ: an evaluation every twelve months or less often is periodic, not
# ongoing (DOMAIN.md §8): the page warns.
OPPE_PERIODIC_MONTHS = 12
REASON_LIMIT = 4000


# --- profiles -------------------------------------------------------------------------------------

def oppe_profiles(user):
    """The profiles of departments where the user may read OPPE."""
    return OppeProfile.objects.filter(department__in=permissions.units_where(user, "medstaff.view_oppe")).select_related(
        "department__facility").prefetch_related("indicators")


def access_oppe_profile(user, department_id, capability: str = "medstaff.view_oppe") -> OppeProfile:
    return permissions.fetch_checked(user, capability, OppeProfile.objects.select_related("department__facility"),
                                     department_id=department_id)


def _indicator_rows(indicators) -> list[dict]:
    """Checked indicator rows: each a measure of the library whose cases name encounters."""
    rows, errors = [], []
    keys = [str((row or {}).get("measure_key", "")).strip() for row in indicators]
    known = measures.measures_by_keys(keys)
    for number, (row, key) in enumerate(zip(indicators, keys, strict=True), start=1):
        where = f"indicator {number}"
        measure = known.get(key)
        if measure is None:
            errors.append(f"{where}: no active measure {key!r} in the library")
            continue
        if not measures.attributable(measure):
            errors.append(f"{where}: {measure.title} is counted from {measure.get_source_kind_display().lower()}, "
                          "whose cases name no practitioner")
            continue
        minimum, target = row.get("minimum_cases"), row.get("target")
        if minimum is not None and (not isinstance(minimum, int) or isinstance(minimum, bool) or not 1 <= minimum <= 10_000):
            errors.append(f"{where}: the minimum count must be a whole number from 1 to 10,000")
            continue
        if target is not None and (isinstance(target, bool) or not isinstance(target, int | float) or target != target):
            errors.append(f"{where}: the target must be a number")
            continue
        rows.append({"measure_key": key, "minimum_cases": minimum, "target": target})
    if len(set(keys)) != len(keys):
        errors.append("a measure is listed twice")
    if not indicators:
        errors.append("list at least one indicator")
    if errors:
        raise ValidationError({"indicators": errors})
    return rows


@audit.changes_by_user
def configure_oppe(user, department: Unit, *, period_months: int = DEFAULT_MONTHS, indicators: list[dict]) -> OppeProfile:
    """The department's OPPE profile (made or replaced): the evaluation period in months and the
    indicators, each {"measure_key", "minimum_cases" (None: ANDON_OPPE_MIN_CASES), "target"}."""
    permissions.check(user, "medstaff.configure_oppe", department)
    if isinstance(period_months, bool) or not isinstance(period_months, int) or not 1 <= period_months <= MAX_MONTHS:
        raise ValidationError({"period_months": f"the period is a whole number of months from 1 to {MAX_MONTHS}"})
    rows = _indicator_rows(list(indicators or []))
    with transaction.atomic():
        profile, _made = OppeProfile.objects.select_for_update().get_or_create(
            department=department, defaults={"period_months": period_months, "updated_by": user})
        profile.period_months, profile.updated_by, profile.updated_at = period_months, user, timezone.now()
        profile.save()
        profile.indicators.all().delete()
        OppeIndicator.objects.bulk_create(OppeIndicator(profile=profile, position=n, **row) for n, row in enumerate(rows))
    return profile


def indicator_keys() -> set[str]:
    """The measures every profile uses: the measures library computes them by practitioner."""
    return set(OppeIndicator.objects.values_list("measure_key", flat=True))


def oppe_period(profile: OppeProfile, today: date | None = None) -> tuple[date, date]:
    """The evaluation period: the profile's months ending with the last complete month (first
    day, last day)."""
    today = today or timezone.localdate()
    last_month = period_math.start_of(date.fromordinal(period_math.start_of(today, "month").toordinal() - 1), "month")
    first = last_month
    for _ in range(profile.period_months - 1):
        first = period_math.start_of(date.fromordinal(first.toordinal() - 1), "month")
    return first, date.fromordinal(period_math.next_start(last_month, "month").toordinal() - 1)


def _members(profile: OppeProfile):
    """The practitioners of the profile's department: of it or of a unit below it (a ward)."""
    return Practitioner.objects.filter(department__path__startswith=profile.department.path)


def profile_for(practitioner: Practitioner) -> OppeProfile | None:
    """The profile of the practitioner's department, or of the nearest unit above it that has one."""
    above = [int(part) for part in practitioner.department.path.strip("/").split("/") if part]
    profiles = {p.department_id: p for p in OppeProfile.objects.filter(department_id__in=above)}
    return next((profiles[pk] for pk in reversed(above) if pk in profiles), None)


# --- evaluation -----------------------------------------------------------------------------------

@dataclass
class Row:
    """One practitioner's value of one indicator."""

    practitioner: Practitioner
    value: object  # measures' PractitionerValue (cases, value, too_few, shown)
    outlier: str = ""  # "worse" / "better": beyond the 99.8 % limits; "" within, or not plotted
    alert: bool = False  # beyond the 95 % limits (on either side)


@dataclass
class Indicator:
    indicator: OppeIndicator
    measure: object
    minimum: int
    rows: list[Row]
    department: object  # PractitionerValue of the department's practitioners together
    funnel: object = None  # the kit's Chart, None when the scoring has no funnel or nobody has enough cases
    too_few: list[Row] = field(default_factory=list)  # listed apart, never plotted

    @property
    def outliers(self) -> list[Row]:
        return [row for row in self.rows if row.outlier == "worse"]


@dataclass
class Evaluation:
    profile: OppeProfile
    first: date
    last: date
    practitioners: list[Practitioner]
    indicators: list[Indicator]
    safety_events: Counter
    peer_review_outcomes: dict[int, Counter]
    volume: dict[int, int]

    @property
    def periodic_warning(self) -> str:
        if self.profile.period_months < OPPE_PERIODIC_MONTHS:
            return ""
        return (f"The evaluation period is {self.profile.period_months} months: an evaluation every twelve months or "
                "less often is periodic, not ongoing (Joint Commission OPPE FAQ). Consider six months or less.")


def _side(measure, point, centre) -> str:
    if point is None or point.outside != "alarm" or centre is None or point.value is None:
        return ""
    higher = point.value > centre
    worse = higher if measure.improvement == "decrease" else not higher
    return "worse" if worse else "better"


def _indicator(indicator: OppeIndicator, measure, practitioners: list[Practitioner], first: date, last: date) -> Indicator:
    minimum = indicator.minimum_cases or measures.practitioner_minimum()
    by_key = {p.fhir_id: p for p in practitioners if p.fhir_id}
    values = {v.key: v for v in measures.practitioner_results(measure, first, last, list(by_key), minimum=minimum)}
    labels = {key: p.name for key, p in by_key.items()}
    chart, points, centre = measures.practitioner_funnel(measure, list(values.values()), labels,
                                                         f"{measure.title}: practitioners against the department")
    rows, too_few = [], []
    for key, practitioner in by_key.items():
        value = values.get(key)
        if value is None:
            continue
        point = points.get(key)
        row = Row(practitioner, value, _side(measure, point, centre), bool(point and point.outside))
        (too_few if value.too_few else rows).append(row)
    pooled = measures.practitioners_pooled(measure, values.values(), "department")
    return Indicator(indicator, measure, minimum, rows, pooled, chart, too_few)


def _counts(practitioners, first: date, last: date):
    """Safety events referred to peer review, and peer review outcomes decided, in the period:
    counts only (the reviews' content stays with the peer review committee)."""
    cases = PeerReviewCase.objects.filter(practitioner__in=practitioners)
    events = Counter(cases.filter(source=PeerReviewSource.SAFETY_EVENT, referred_at__date__gte=first,
                                  referred_at__date__lte=last).values_list("practitioner_id", flat=True))
    outcomes: dict[int, Counter] = {}
    for practitioner_id, outcome in cases.exclude(outcome="").filter(decided_on__gte=first, decided_on__lte=last).values_list(
            "practitioner_id", "outcome"):
        outcomes.setdefault(practitioner_id, Counter())[outcome] += 1
    return events, outcomes


def evaluate_department(user, profile: OppeProfile, today: date | None = None) -> Evaluation:
    """The department's evaluation: every practitioner of it (with a link to the clinical data)
    × indicator, the department's value, funnel plots, counts and volume."""
    permissions.check(user, "medstaff.view_oppe", profile.department)
    first, last = oppe_period(profile, today)
    practitioners = list(_members(profile).exclude(status="inactive"))
    known = measures.measures_by_keys(i.measure_key for i in profile.indicators.all())
    indicators = [_indicator(i, known[i.measure_key], practitioners, first, last)
                  for i in profile.indicators.all() if i.measure_key in known]
    events, outcomes = _counts(practitioners, first, last)
    volume = {p.pk: 0 for p in practitioners}  # the largest count of cases over the indicators
    for item in indicators:
        for row in (*item.rows, *item.too_few):
            volume[row.practitioner.pk] = max(volume[row.practitioner.pk], row.value.cases)
    return Evaluation(profile, first, last, practitioners, indicators, events, outcomes, volume)


# --- a practitioner's OPPE ------------------------------------------------------------------------

def access_oppe_practitioner(user, practitioner_id) -> Practitioner:
    """The practitioner, if the user may read their OPPE (medstaff.view_oppe over the
    department, or being them)."""
    return permissions.fetch_checked(user, "medstaff.view_practitioner_oppe",
                                     Practitioner.objects.select_related("department__facility", "user"),
                                     pk=practitioner_id)


@dataclass
class PractitionerIndicator:
    measure: object
    minimum: int
    own: object  # PractitionerValue
    department: object  # PractitionerValue
    chart: object  # the kit's Chart (24 months), or None
    cases: list[dict] | None  # None: the reader may not see patient-level data


@dataclass
class PractitionerOppe:
    practitioner: Practitioner
    profile: OppeProfile | None
    first: date | None
    last: date | None
    indicators: list[PractitionerIndicator]
    decisions: list[OppeDecision]
    may_decide: bool
    periodic_warning: str = ""


def may_see_cases(user, practitioner: Practitioner) -> bool:
    """Patient-level data: those allowed it in the measures (measures.view_patients over the
    department) and the medical staff readers (medstaff.view_oppe over it)."""
    return (permissions.can(user, "measures.view_patients", practitioner.department)
            or permissions.can(user, "medstaff.view_oppe", practitioner.department))


def practitioner_oppe(user, practitioner: Practitioner, today: date | None = None) -> PractitionerOppe:
    """A practitioner's OPPE: each indicator of their department's profile, their value against
    the department's, their own SPC chart over 24 months, and their cases down to the encounters
    for those who may see them (the reading audited); the decisions so far."""
    permissions.check(user, "medstaff.view_practitioner_oppe", practitioner)
    profile = profile_for(practitioner)
    decisions = list(practitioner.oppe_decisions.select_related("decided_by", "fppe"))
    may_decide = permissions.can(user, "medstaff.decide_oppe", practitioner)
    if profile is None:
        return PractitionerOppe(practitioner, None, None, None, [], decisions, may_decide)
    first, last = oppe_period(profile, today)
    colleagues = [p.fhir_id for p in _members(profile).exclude(fhir_id="")]
    known = measures.measures_by_keys(i.measure_key for i in profile.indicators.all())
    show_cases = may_see_cases(user, practitioner)
    found = []
    for indicator in profile.indicators.all():
        measure = known.get(indicator.measure_key)
        if measure is None:
            continue
        minimum = indicator.minimum_cases or measures.practitioner_minimum()
        values = measures.practitioner_results(measure, first, last, colleagues, minimum=minimum)
        own = next((v for v in values if v.key == practitioner.fhir_id), None)
        if own is None:
            own = measures.practitioners_pooled(measure, [], practitioner.fhir_id)
            own.minimum = minimum
        chart = (measures.practitioner_chart(measure, practitioner.fhir_id, f"{measure.title}, {practitioner.name}")
                 if practitioner.fhir_id else None)
        cases = None
        if show_cases and practitioner.fhir_id:
            cases = measures.practitioner_cases(measure, practitioner.fhir_id, first, last)
        department = measures.practitioners_pooled(measure, values, "department")
        found.append(PractitionerIndicator(measure, minimum, own, department, chart, cases))
    if show_cases and practitioner.fhir_id:
        audit.record_read(practitioner, actor=user, reason=f"OPPE cases {first:%Y-%m} to {last:%Y-%m}")
    result = PractitionerOppe(practitioner, profile, first, last, found, decisions, may_decide)
    if profile.period_months >= OPPE_PERIODIC_MONTHS:
        result.periodic_warning = Evaluation(profile, first, last, [], [], Counter(), {}, {}).periodic_warning
    return result


@audit.changes_by_user
def decide_oppe(user, practitioner: Practitioner, *, decision: str, reason: str, decided_on: date | None = None,
                today: date | None = None) -> OppeDecision:
    """The reviewer's decision on the practitioner's evaluation of the current period: continue,
    FPPE (which starts one, trigger "oppe") or other; with a reason and the date decided."""
    permissions.check(user, "medstaff.decide_oppe", practitioner)
    reason = (reason or "").strip()
    errors = {}
    if decision not in OppeDecisionKind.values:
        errors["decision"] = f"choose one of {', '.join(OppeDecisionKind.values)}"
    if not reason:
        errors["reason"] = "say why"
    elif len(reason) > REASON_LIMIT:
        errors["reason"] = f"keep the reason within {REASON_LIMIT} characters"
    today = today or timezone.localdate()
    decided_on = decided_on or today
    if decided_on > today:
        errors["decided_on"] = "a decision cannot be dated in the future"
    profile = profile_for(practitioner)
    if profile is None:
        errors["practitioner"] = f"{practitioner.department} has no OPPE profile"
    if errors:
        raise ValidationError(errors)
    first, last = oppe_period(profile, today)
    with transaction.atomic():
        fppe = None
        if decision == OppeDecisionKind.FPPE:
            # decide_oppe is checked above: the FPPE follows from the decision, whoever decides
            fppe = start_fppe(user, practitioner, trigger=FppeTrigger.OPPE, reason=reason,
                              source_reference=f"OPPE {first:%Y-%m} to {last:%Y-%m}", check=False)
        return OppeDecision.objects.create(practitioner=practitioner, period_start=first, period_end=last,
                                           decision=decision, reason=reason, decided_on=decided_on, decided_by=user,
                                           fppe=fppe)


def oppe_section(user, practitioner: Practitioner):
    """The profile's part: a link to the practitioner's OPPE, for those who may read it."""
    from django.urls import reverse

    from .practitioners import Section

    if not permissions.can(user, "medstaff.view_practitioner_oppe", practitioner):
        return None
    return Section("medstaff/_practitioner_links.html", {
        "key": "oppe", "title": "Ongoing professional practice evaluation", "lines": [],
        "empty": "Indicators from the clinical data, against the department's, with the reviewer's decisions.",
        "links": [("OPPE", reverse("medstaff:oppe_practitioner", args=[practitioner.pk]))]})


def connect() -> None:
    """Registries of OPPE (audit, navigation, demo, the measures computed by practitioner), from ready()."""
    from andon.platform import demo

    from .demo_oppe import load_demo_oppe

    demo.register_demo_loader(load_demo_oppe)  # after the practitioners' loader: connect() runs after theirs
    audit.register(OppeProfile, exclude_fields=["version"])
    audit.register(OppeIndicator)
    audit.register(OppeDecision)
    measures.needed_by_practitioner(indicator_keys)
    add_practitioner_section(oppe_section)
    navigation.add(navigation.NavEntry("OPPE", "medstaff:oppe", "medstaff.view_oppe", "clipboard-data"))
    navigation.add(navigation.NavEntry("My OPPE", "medstaff:oppe_mine", "medstaff.view_own_oppe", "clipboard-data"))
