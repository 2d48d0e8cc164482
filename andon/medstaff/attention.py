"""What the medical staff's OPPE tells a committee (issue 21): how many practitioners are outliers,
never who. Peer review is confidential (DOMAIN.md §8): the names stay with the medical staff
committee, on the OPPE pages its members may open.

- "medstaff.oppe_outliers": practitioners worse than their department beyond the 99.8% limits on
  at least one indicator, each counted once, over every department's evaluation period ending
  with the period's last complete month (oppe.oppe_period read as of the day after the period).
  Read through OPPE's own evaluation of an indicator, without a user: the count is
  organisation-wide and names no one.
"""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse

from andon.measures import services as measures
from andon.platform.reporting import AttentionItem, ReportingContext, register_attention_source

from . import oppe
from .models import OppeProfile


def _outliers(profile: OppeProfile, as_of) -> set[int]:
    """The practitioners of the department worse than it on any indicator, in its evaluation period as of `as_of`."""
    first, last = oppe.oppe_period(profile, as_of)
    practitioners = list(oppe._members(profile).exclude(status="inactive"))
    indicators = list(profile.indicators.all())
    known = measures.measures_by_keys(i.measure_key for i in indicators)
    flagged = set()
    for indicator in indicators:
        if indicator.measure_key in known:
            evaluated = oppe._indicator(indicator, known[indicator.measure_key], practitioners, first, last)
            flagged.update(row.practitioner.pk for row in evaluated.outliers)
    return flagged


def oppe_outliers(context: ReportingContext) -> list[AttentionItem]:
    profiles = OppeProfile.objects.filter(department__facility__organisation_id=context.organisation_id) \
        .select_related("department").prefetch_related("indicators")
    as_of = context.last + timedelta(days=1)
    ending = as_of.replace(day=1) - timedelta(days=1)  # the last complete month before `as_of`
    flagged = set()
    for profile in profiles:
        flagged |= _outliers(profile, as_of)
    if not flagged:
        return []
    count = len(flagged)
    return [AttentionItem("medstaff.oppe_outliers",
                          f"{count} practitioner{'s' if count != 1 else ''} flagged by OPPE", count,
                          f"Worse than their department beyond the 99.8% limits on at least one indicator, in the "
                          f"evaluation periods ending {ending:%B %Y}. Who they are stays with the medical "
                          "staff committee.", reverse("medstaff:oppe"), "attention")]


def register() -> None:
    register_attention_source("medstaff.oppe_outliers", "OPPE outliers", oppe_outliers)
