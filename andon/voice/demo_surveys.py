"""The demo hospital's returned surveys: 24 months (the dashboard's window) of HCAHPS surveys for
five wards, made with a seeded random generator and imported through the import service itself (a
saved mapping, a CSV file, the report), so the demo is what a real import makes: responses,
comments, score cells and the HCAHPS measures of the library."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta

from django.utils import timezone

from andon.platform.models import User

from .models import SurveyImport

DEMO_MONTHS = 24
WARDS = {"rgh/4w": 0.00, "rgh/5e": 0.04, "rgh/6n": -0.05, "rgh/icu": 0.06, "lch/2a": -0.02}  # each ward's lean
SERVICE_LINES = {"rgh/4w": "Medicine", "rgh/5e": "Cardiology", "rgh/6n": "Surgery", "rgh/icu": "Critical care",
                 "lch/2a": "Medicine"}
SURVEYS_A_MONTH = (14, 26)
VENDOR_COLUMNS = {
    "Survey ID": "survey_id", "Discharge Date": "discharge_date", "Unit": "unit", "Service Line": "service_line",
    "Age Band": "age_band", "Sex": "sex", "Race": "race", "Ethnicity": "ethnicity", "Payer": "payer",
    "Comment": "comment",
}
# How likely each answer scale's top box is on an average ward (the wards lean either side).
TOP_CHANCE = {"frequency": 0.72, "yes_no": 0.86, "agreement": 0.52, "rating": 0.70, "recommend": 0.71}
COMMENTS = [
    "The nurses on nights were kind and explained everything.",
    "Waited a long time for help after pressing the call button.",
    "Room was noisy at night because of the alarms next door.",
    "Doctor took time to answer all of our questions.",
    "Discharge was rushed and nobody explained my new tablets.",
    "Food was cold most days.",
]
HARM_COMMENTS = [
    "My mother fell on the way to the bathroom at night; nobody came when she rang and she hurt her hip.",
    "I was given the wrong medicine on my second day, another patient's tablets; the nurse noticed after I took them.",
    "My IV site got red and swollen for two days before anyone looked at it.",
]
STRATA = {
    "age_band": ["18-44", "45-64", "65-74", "75+"],
    "sex": ["F", "M"],
    "race": ["White", "Black", "Asian", "Other"],
    "ethnicity": ["Not Hispanic", "Hispanic"],
    "payer": ["Medicare", "Medicaid", "Commercial", "Self-pay"],
}


def demo_file(seed: int = 2026, today: date | None = None) -> tuple[str, dict]:
    """(CSV text, mapping columns) of the demo's surveys, discharges in the 24 months before this one."""
    from .surveys import question_set

    today = today or timezone.localdate()
    questions = question_set("hcahps")
    scale_of = _question_scales()
    chance = random.Random(seed)
    header = list(VENDOR_COLUMNS) + [f"Q_{key.upper()}" for key in questions.questions]
    columns = dict(VENDOR_COLUMNS) | {f"Q_{key.upper()}": f"q:{key}" for key in questions.questions}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    this_month = today.replace(day=1)
    number = 0
    for back in range(DEMO_MONTHS, 0, -1):
        month = _months_before(this_month, back)
        days = (_months_before(this_month, back - 1) - month).days
        for ward, lean in WARDS.items():
            for _ in range(chance.randint(*SURVEYS_A_MONTH)):
                number += 1
                row = [f"RV{number:06d}", (month + timedelta(days=chance.randrange(days))).isoformat(), ward,
                       SERVICE_LINES[ward]] + [chance.choice(STRATA[s]) for s in STRATA]
                row.append(_comment(chance))
                for key, question in questions.questions.items():
                    row.append(_answer(chance, question, TOP_CHANCE[scale_of[key]] + lean))
                writer.writerow(row)
    return out.getvalue(), columns


def _question_scales() -> dict:
    """Question key -> its scale's name, read from the shipped file's document."""
    from andon.platform import content

    from .surveys import KIND

    document = content.document_by_key(content.current_document_key(KIND, "hcahps")).document
    return {q["key"]: q["scale"] for q in document["questions"]}


def _answer(chance: random.Random, question, top_chance: float) -> str:
    if chance.random() < 0.04:
        return ""  # skipped
    codes = list(question.answers)
    if chance.random() < top_chance:
        return chance.choice(sorted(question.top))
    others = [c for c in codes if c not in question.top]
    return chance.choice(others[-3:])  # mostly the answers just below the top box


def _comment(chance: random.Random) -> str:
    roll = chance.random()
    if roll < 0.012:
        return chance.choice(HARM_COMMENTS)
    if roll < 0.15:
        return chance.choice(COMMENTS)
    return ""


def _months_before(month: date, back: int) -> date:
    index = month.year * 12 + month.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def load_demo_surveys() -> None:
    from . import surveys

    lead = User.objects.filter(username="px.priya", is_demo=True).first()
    if lead is None or SurveyImport.objects.exists() or surveys.question_sets() == []:
        return
    text, columns = demo_file()
    mapping = surveys.create_mapping(lead, name="Vendor monthly file (demo)", columns=columns)
    report = surveys.import_survey_file(lead, mapping, text, "vendor-hcahps-demo.csv")
    if not report.ok:
        raise RuntimeError(f"the demo's survey file did not import: {report.problems[:5]}")
