"""The demo hospital's training: three requirements (hand hygiene competency for every clinical
role, basic life support for nurses and physicians every 24 months, sepsis training for the nurses
of Medicine) and a made-up learning-system export for five wards, imported through the service as
the medical staff office would, so that the training compliance measure has a year of monthly
counts to chart. A fixed seed makes the demo the same each time."""

import csv
import io
import random
from datetime import timedelta

from django.utils import timezone

from andon.platform.models import Unit, User

from . import training
from .models import RequirementKind, TrainingRequirement

REQUIREMENTS = [
    ("HH-COMP", "Hand hygiene competency", RequirementKind.COMPETENCY, ["RN", "HCA", "Physician"], None, 12),
    ("BLS", "Basic life support", RequirementKind.TRAINING, ["RN", "Physician"], None, 24),
    ("SEPSIS-RN", "Sepsis recognition and the first hour", RequirementKind.TRAINING, ["RN"], "rgh/medicine", None),
]
# ward -> (people, share of people who keep their training up): the wards differ, as real ones do.
WARDS = {"rgh/4w": (9, 0.9), "rgh/5e": (7, 0.75), "rgh/icu": (8, 0.95), "rgh/6n": (7, 0.6), "lch/2a": (7, 0.8)}
MEDICINE_WARDS = {"rgh/4w", "rgh/5e"}  # the wards under rgh/medicine
ROLES = ["RN", "RN", "RN", "HCA", "Physician"]
GIVEN = ["Alex", "Sam", "Priya", "Tom", "Grace", "Omar", "Lena", "Marco", "Ines", "Kofi", "Yara", "Jun"]
FAMILY = ["Hughes", "Mensah", "Silva", "Novak", "Byrne", "Haddad", "Larsen", "Ito", "Costa", "Walsh"]
FILENAME = "demo-learning-system-export.csv"


def load_demo_training() -> None:
    office = User.objects.filter(is_demo=True, username="mso.quinn").first()
    units = {training.unit_code(u): u for u in Unit.objects.select_related("facility__organisation")
             .filter(facility__code__in={"rgh", "lch"})}
    if office is None or not set(WARDS) <= set(units) or TrainingRequirement.objects.exists():
        return
    organisation = units["rgh/4w"].facility.organisation
    for code, title, kind, roles, unit, renewal in REQUIREMENTS:
        training.create_requirement(office, organisation=organisation, course_code=code, title=title, kind=kind,
                                    job_roles=roles, unit=units[unit] if unit else None, renewal_months=renewal)
    training.import_completions(office, export(timezone.localdate()), FILENAME)


def export(today) -> bytes:
    """The learning system's export: each person's completions over the last two years; those who
    keep up renew on time, the others late or not at all (so compliance dips and recovers)."""
    chance = random.Random(19)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(training.COLUMNS)
    number = 0
    for ward, (people, keeps_up) in WARDS.items():
        for _ in range(people):
            number += 1
            role = chance.choice(ROLES)
            person = [f"E{number:04d}", f"{chance.choice(GIVEN)} {chance.choice(FAMILY)}", ward, role]
            # Most came two years ago or more; a few joined since (counted from their first course).
            days = chance.randint(700, 740) if chance.random() < 0.8 else chance.randint(60, 500)
            started = today - timedelta(days=days)
            for code, _title, _kind, roles, unit, renewal in REQUIREMENTS:
                if role not in roles or (unit and ward not in MEDICINE_WARDS):
                    continue
                for day in _completions(chance, started, today, renewal, keeps_up):
                    writer.writerow([*person, code, day.isoformat(), ""])
    return out.getvalue().encode()


def _completions(chance, started, today, renewal, keeps_up) -> list:
    """Completion days from the person's first weeks (`started`) to today, every `renewal` months
    (a few weeks early or, for those who do not keep up, some months late; now and then never
    renewed)."""
    days, day = [], started + timedelta(days=chance.randint(0, 21))
    while day <= today:
        days.append(day)
        if renewal is None or chance.random() > keeps_up + 0.1:
            break
        late = chance.randint(-30, 0) if chance.random() < keeps_up else chance.randint(20, 120)
        day = day + timedelta(days=renewal * 30 + late)
    return days
