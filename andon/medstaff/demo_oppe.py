"""The demo's OPPE: a Medicine profile (30-day readmission, length of stay, in-hospital
mortality) over the demo's clinical data, whose made-up stays give one 4 West hospitalist
(syn-2026-prac-rgh-4w-0) most of the stays followed by a readmission, so that they show as an
outlier on the funnel plot. Runs after the measures' demo (the store and its results) and after
the practitioners' demo, which makes the Practitioner records from the store's Practitioner
resources; the indicators are then computed again, by practitioner."""

from datetime import date

from django.utils import timezone

from andon.analytics.kpi import periods as period_math
from andon.measures import services as measures
from andon.platform.models import Unit, User

from . import oppe
from .models import OppeProfile

INDICATORS = [
    {"measure_key": "readmission-30-day", "minimum_cases": 10, "target": 12.0},
    {"measure_key": "average-length-of-stay", "minimum_cases": 10},
    {"measure_key": "in-hospital-mortality", "minimum_cases": 10},
]
MONTHS = 24  # as the measures' demo computes


def load_demo_oppe() -> None:
    office = User.objects.filter(username="mso.quinn", is_demo=True).first()
    medicine = Unit.objects.filter(facility__code="rgh", code="medicine").first()
    if office is None or medicine is None or OppeProfile.objects.filter(department=medicine).exists():
        return
    known = measures.measures_by_keys(i["measure_key"] for i in INDICATORS)
    indicators = [i for i in INDICATORS if i["measure_key"] in known]
    if not indicators:
        return
    oppe.configure_oppe(office, medicine, indicators=indicators)
    this_month = period_math.start_of(timezone.localdate(), "month")
    first = this_month
    for _ in range(MONTHS):
        first = period_math.start_of(date.fromordinal(first.toordinal() - 1), "month")
    store = measures.open_store()
    if store is None:  # no clinical data: nothing to compute
        return
    store.close()
    measures.compute_measures([i["measure_key"] for i in indicators], first=first,
                              last=date.fromordinal(this_month.toordinal() - 1), jobs=1)
