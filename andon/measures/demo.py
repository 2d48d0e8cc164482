"""Measures for the demo hospital, computed for real: a made-up EHR population (andon/analytics/
fhir/synthetic.py) loaded into the FHIR store with its wards mapped to units, hand-hygiene and
infection counts entered by the quality analyst, and every measure computed over the last 24
months. Two stories are put in the data: readmissions rise over the last eight months, and
hand-hygiene compliance improves after ward champions started 8 months ago. Loaded once."""

import random
import tempfile
from datetime import date
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from andon.analytics.fhir import ingest, store, synthetic
from andon.platform.models import Unit, User

from . import services
from .models import Measure, MeasureResult

DEMO_PATIENTS = 3000
# EHR location id -> demo unit
WARDS = {"rgh-4w": "rgh/4w", "rgh-5e": "rgh/5e", "rgh-6n": "rgh/6n", "rgh-icu": "rgh/icu", "lch-2a": "lch/2a"}
EMERGENCY = ("rgh-ed", "rgh/ed")
MONTHS = 24


def window(today: date | None = None) -> tuple[date, date]:
    """The 24 months ending with last month: (first day, last day)."""
    today = today or timezone.localdate()
    first = date(today.year - 2, today.month, 1)
    last = date(today.year, today.month, 1).toordinal() - 1
    return first, date.fromordinal(last)


def _unit(path: str) -> Unit:
    facility, code = path.split("/")
    return Unit.objects.get(facility__code=facility, code=code)


def load_demo_measures() -> None:
    people = {u.username: u for u in User.objects.filter(is_demo=True, username__in=["analyst.jo", "cqo.olivia"])}
    if MeasureResult.objects.exists() or len(people) < 2 or not Measure.objects.exists():
        return
    first, last = window()
    if not settings.ANDON_FHIR_STORE.exists():
        _load_population(first)
    analyst = people["analyst.jo"]
    for location, unit in [*WARDS.items(), EMERGENCY]:
        services.map_unit(analyst, "location", location, _unit(unit))
    _enter_counts(analyst, first)
    services.compute_measures(None, first=first, last=last, jobs=1)
    services.annotate(people["cqo.olivia"], Measure.objects.get(key="hand-hygiene"), on=_month(first, 16),
                      text="Hand-hygiene champions on every ward", kind="qi_change", rebase=True)


def _load_population(first: date) -> None:
    options = synthetic.Options(DEMO_PATIENTS, first, MONTHS, list(WARDS), EMERGENCY[0], seed=2026,
                                readmission_rate=0.10, readmission_rise=0.25, rise_months=8)
    with tempfile.TemporaryDirectory(prefix="andon-demo-fhir-") as folder:
        synthetic.write_ndjson(options, Path(folder))
        connection = store.connect(settings.ANDON_FHIR_STORE)
        try:
            ingest.load_paths(connection, [Path(folder)], progress=False)
        finally:
            connection.close()


def _month(first: date, offset: int) -> date:
    month = first.month - 1 + offset
    return date(first.year + month // 12, month % 12 + 1, 1)


def _enter_counts(analyst, first: date) -> None:
    chance = random.Random(2026)
    manual = {m.key: m for m in Measure.objects.filter(key__in=["hand-hygiene", "clabsi", "cauti", "interpreter-use",
                                                                "hcahps-recommend"])}
    for offset in range(MONTHS):
        month = _month(first, offset)
        for path in WARDS.values():
            unit = _unit(path)
            opportunities = chance.randint(120, 200)
            compliance = 0.78 if offset < 16 else 0.91
            entries = {
                "hand-hygiene": (sum(chance.random() < compliance for _ in range(opportunities)), opportunities),
                "clabsi": (chance.choice([0, 0, 0, 1, 1, 2]), chance.randint(180, 320)),
                "cauti": (chance.choice([0, 0, 1, 1, 2]), chance.randint(220, 380)),
                "interpreter-use": _share(chance, 0.86, chance.randint(8, 20)),
                "hcahps-recommend": _share(chance, 0.72, chance.randint(25, 60)),
            }
            for key, (numerator, denominator) in entries.items():
                if key in manual:
                    services.enter_count(analyst, manual[key], unit, month, numerator, denominator, source="Demo data")


def _share(chance: random.Random, rate: float, n: int) -> tuple[int, int]:
    return sum(chance.random() < rate for _ in range(n)), n
