"""Measures for the demo hospital, computed for real: a made-up EHR population (andon/analytics/
fhir/synthetic.py) loaded into the FHIR store with its wards mapped to units, the CMS eCQMs'
made-up test patients (content/ecqm/tests) replayed in its months on its wards, hand-hygiene and
infection counts entered by the quality analyst, and every measure computed over the last 24
months. Two stories are put in the data: readmissions rise over the last eight months, and
hand-hygiene compliance improves after ward champions started 8 months ago. Loaded once."""

import json
import random
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.test.utils import override_settings
from django.utils import timezone

from andon.analytics.fhir import ingest, store, synthetic
from andon.analytics.kpi import periods as period_math
from andon.platform.models import Unit, User

from . import compute, services
from .models import Measure, MeasureResult, SourceKind

DEMO_PATIENTS = 3000
# EHR location id -> demo unit
WARDS = {"rgh-4w": "rgh/4w", "rgh-5e": "rgh/5e", "rgh-6n": "rgh/6n", "rgh-icu": "rgh/icu", "lch-2a": "lch/2a"}
EMERGENCY = ("rgh-ed", "rgh/ed")
LABOUR = ("rgh-labour", "rgh/labour")
MONTHS = 24
# The wards' practitioners (ids syn-2026-prac-<location>-<n>: the medical staff module's demo
# practitioners are made from them), drawn apart from the patients, whose data stays the same.
# One Medicine hospitalist attends most of 4 West's stays that end in a readmission: the outlier
# the demo's OPPE funnel plot shows (issue 19).
PRACTITIONERS_PER_WARD = 10
OUTLIER = "syn-2026-prac-rgh-4w-0"
SPECIALTIES = {"rgh-5e": ("207RC0000X", "Cardiovascular Disease"), "rgh-6n": ("208600000X", "Surgery"),
               "rgh-icu": ("207RC0200X", "Critical Care Medicine")}
# eCQM test patients replayed a month, per measure; the shares drawn of the cases meeting the
# numerator, missing it, and outside the denominator (excluded); the wards their stays are put on
ECQM_CASES_A_MONTH = 8
ECQM_MIX = {"CMS108VTEProphylaxisFHIR": (85, 10, 5), "CMS71FHIRSTKAnticoagAFFlutter": (85, 10, 5),
            "CMS334FHIRPCCesareanBirth": (25, 65, 10), "CMS816HHHypoFHIR": (5, 95, 0),
            "CMS871HHHyperFHIR": (15, 80, 5)}
# Inpatients of the other measures' cases get VTE prophylaxis as most would (a heparin dose, RxNorm
# 855288 as in the CMS108 cases, the day they come in): else CMS108 would count every one as missed.
VTE_PROPHYLAXIS = 0.85
ECQM_WARDS = {"CMS334FHIRPCCesareanBirth": [LABOUR[0]], "CMS71FHIRSTKAnticoagAFFlutter": ["rgh-4w", "rgh-5e", "lch-2a"]}


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
    for location, unit in [*WARDS.items(), EMERGENCY, LABOUR]:
        services.map_unit(analyst, "location", location, _unit(unit))
    _enter_counts(analyst, first)
    measures = list(Measure.objects.filter(active=True))
    ecqms = [m.key for m in measures if m.source_kind == SourceKind.ECQM]
    services.compute_measures([m.key for m in measures if m.key not in ecqms], first=first, last=last, jobs=1)
    _compute_ecqms(ecqms, first, last)
    services.annotate(people["cqo.olivia"], Measure.objects.get(key="hand-hygiene"), on=_month(first, 16),
                      text="Hand-hygiene champions on every ward", kind="qi_change", rebase=True)


def _load_population(first: date) -> None:
    options = synthetic.Options(DEMO_PATIENTS, first, MONTHS, list(WARDS), EMERGENCY[0], seed=2026,
                                readmission_rate=0.10, readmission_rise=0.25, rise_months=8,
                                practitioners_per_ward=PRACTITIONERS_PER_WARD, emergency_practitioners=8,
                                specialties=SPECIALTIES, outliers={OUTLIER: 40})
    with tempfile.TemporaryDirectory(prefix="andon-demo-fhir-") as folder:
        synthetic.write_ndjson(options, Path(folder) / "ehr")
        write_ecqm_patients(settings.SHIPPED_ECQM_CONTENT / "tests", first, Path(folder) / "ecqm")
        _load(settings.ANDON_FHIR_STORE, Path(folder))


def _load(path: Path, folder: Path) -> None:
    connection = store.connect(path)
    try:
        ingest.load_paths(connection, [folder], progress=False)
    finally:
        connection.close()


def _compute_ecqms(keys: list[str], first: date, last: date) -> None:
    """The eCQMs' results and their cases for the drill-down: the engine's output is read from
    the shipped file made beforehand (ECQM_RESULTS, written by scripts/demo_ecqm.py) when it
    holds them all, else evaluated; the cells and cases are then made from the demo's store as
    for any eCQM."""
    evaluations = restore_ecqm_evaluations(keys, first) or evaluate_ecqms(keys, first, last)
    services.compute_measures(keys, first=first, last=last, jobs=1, ecqm_evaluations=evaluations)


def evaluate_ecqms(keys: list[str], first: date, last: date) -> dict:
    """Evaluate the eCQMs over a store of the eCQM patients alone (the same patients as in the
    demo's store, made again from the seed): the made-up EHR population has none of the data the
    eCQMs read (no encounter types, diagnoses, medications or observations: tests/test_demo.py
    checks that it gives no case), so the cases are the same, in a fraction of the time the
    engine would take over its 3,000 patients more. By measure key, the engine's output
    (compute.ecqm_cases), every eCQM evaluated in one pass over the store
    (compute.ecqm_cases_together)."""
    last_day = period_math.periods(first, last, "month")[-1][1] - timedelta(days=1)
    names = {m.key: m.definition["source"]["measure"] for m in Measure.objects.filter(key__in=keys)}
    with tempfile.TemporaryDirectory(prefix="andon-demo-ecqm-") as folder:
        write_ecqm_patients(settings.SHIPPED_ECQM_CONTENT / "tests", first, Path(folder) / "ecqm")
        path = Path(folder) / "ecqm.duckdb"
        _load(path, Path(folder) / "ecqm")
        with override_settings(ANDON_FHIR_STORE=path):
            ehr = services.open_store()
            try:
                found = compute.ecqm_cases_together(ehr, settings.ANDON_ECQM_CONTENT, sorted(set(names.values())),
                                                    "month", first, last_day, jobs=1)
            finally:
                ehr.close()
    evaluations = {}
    for key in keys:
        result = found[names[key]]
        if isinstance(result, compute.ComputeError):
            raise result
        evaluations[key] = tuple(result[:4])  # (table, evaluated, errors, measured) as ecqm_cases gives
    return evaluations


# The engine's output for the demo's eCQMs, made by scripts/demo_ecqm.py (the engine takes about
# half a minute over the demo's eCQM patients, and every browser test loads the demo): each case
# by month of the demo's window (0: its first), so it is placed in the window of the day the
# demo loads, where its patient's replayed stay lies.
ECQM_RESULTS = Path(__file__).with_name("demo_ecqm_results.json")
EVALUATION_FORMAT = "andon-demo-ecqm-evaluations/1"


def snapshot_ecqm_evaluations(evaluations: dict, first: date) -> dict:
    def offset(day: date) -> int:
        return (day.year - first.year) * 12 + day.month - first.month

    found = {}
    for key, (table, evaluated, errors, measured) in sorted(evaluations.items()):
        if errors:
            raise ValueError(f"{key}: {len(errors)} patients could not be evaluated: {errors[:3]}")
        rows = [[r["patient_id"], r["episode"], r["numerator"], r["denominator"], r["value"],
                 offset(date.fromisoformat(r["period_at"]))] for r in table.to_pylist()]
        found[key] = {"evaluated": evaluated, "measured": [[offset(a), offset(b) + 1] for a, b in measured],
                      "rows": rows}
    versions = {m.key: m.version for m in Measure.objects.filter(key__in=list(evaluations))}
    return {"format": EVALUATION_FORMAT, "measures": versions, "computed_for": first.isoformat(), "evaluations": found}


def restore_ecqm_evaluations(keys: list[str], first: date, path: Path | None = None) -> dict | None:
    """The shipped engine output placed in the demo's window; None when the file is missing or
    was made for other measures or other versions of them."""
    path = path or ECQM_RESULTS
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    versions = {m.key: m.version for m in Measure.objects.filter(key__in=keys)}
    if data.get("format") != EVALUATION_FORMAT or data.get("measures") != versions:
        return None
    restored = {}
    for key, found in data["evaluations"].items():
        columns = {"patient_id": [], "episode": [], "numerator": [], "denominator": [], "value": [], "period_at": []}
        for patient_id, episode, numerator, denominator, value, month in found["rows"]:
            for column, item in zip(columns, (patient_id, episode, numerator, denominator, value,
                                              _month(first, month).isoformat()), strict=True):
                columns[column].append(item)
        measured = [(_month(first, a), _month(first, b) - timedelta(days=1)) for a, b in found["measured"]]
        restored[key] = (compute.ecqm_case_table(columns), found["evaluated"], [], measured)
    return restored


def _month(first: date, offset: int) -> date:
    month = first.month - 1 + offset
    return date(first.year + month // 12, month % 12 + 1, 1)


def _enter_counts(analyst, first: date) -> None:
    chance = random.Random(2026)
    # hcahps-recommend (and the other HCAHPS measures) are fed by the demo's survey imports
    # (andon/voice/demo_surveys.py), as a real import feeds them.
    manual = {m.key: m for m in Measure.objects.filter(key__in=["hand-hygiene", "clabsi", "cauti", "interpreter-use"])}
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
                # drawn still (not entered), so that the other measures' demo numbers stay as they were
                "hcahps-recommend": _share(chance, 0.72, chance.randint(25, 60)),
            }
            for key, (numerator, denominator) in entries.items():
                if key in manual:
                    services.enter_count(analyst, manual[key], unit, month, numerator, denominator, source="Demo data")


def _share(chance: random.Random, rate: float, n: int) -> tuple[int, int]:
    return sum(chance.random() < rate for _ in range(n)), n


# --- the eCQMs' test patients, replayed in the demo's months -------------------------------------

DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(.*)$")
NOT_DATES = {"id", "code", "version", "system", "url", "reference", "display", "text"}


def write_ecqm_patients(tests: Path, first: date, folder: Path, seed: int = 2026) -> int:
    """NDJSON files of the CMS test patients (content/ecqm/tests/<measure>/<case>/), each
    measure's drawn ECQM_CASES_A_MONTH times a month: every date moved so that the case's stay
    ends in that month, every id made the replay's own, the stay put on a demo ward (its first
    location, which attributes it to a unit). Returns the patients written."""
    chance = random.Random(seed)
    handles, patients = {}, 0
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for measure in sorted(p for p in tests.iterdir() if p.is_dir()) if tests.is_dir() else []:
            cases = _cases_by_outcome(measure)
            mix = ECQM_MIX.get(measure.name, (1, 1, 1))
            wards = ECQM_WARDS.get(measure.name, list(WARDS))
            for offset in range(MONTHS):
                month = _month(first, offset)
                days = (_month(first, offset + 1) - month).days
                for _ in range(ECQM_CASES_A_MONTH if cases else 0):
                    patients += 1
                    # one draw whatever the month's length: the same patients every month of any year
                    target = month + timedelta(days=int(chance.random() * days))
                    outcome = chance.choices([o for o in range(3) if cases[o]], [mix[o] for o in range(3) if cases[o]])[0]
                    prophylaxis = measure.name != "CMS108VTEProphylaxisFHIR" and chance.random() < VTE_PROPHYLAXIS
                    for resource in _replay(chance.choice(cases[outcome]), target, f"d{patients}", chance.choice(wards),
                                            prophylaxis):
                        kind = resource["resourceType"]
                        if kind not in handles:
                            handles[kind] = (folder / f"ecqm-{kind}.ndjson").open("w", encoding="utf-8")
                        handles[kind].write(json.dumps(resource, separators=(",", ":")) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    return patients


def _cases_by_outcome(measure: Path) -> list[list[Path]]:
    """The measure's test cases as [meeting the numerator, missing it, excluded or other], by
    their expected MeasureReport (first group)."""
    found = [[], [], []]
    for case in sorted(p for p in measure.iterdir() if p.is_dir()):
        counts = {}
        for report in case.glob("MeasureReport-*.json"):
            for population in json.loads(report.read_text(encoding="utf-8"))["group"][0]["population"]:
                counts[population["code"]["coding"][0]["code"]] = population.get("count", 0)
        if counts.get("numerator", 0) > 0 and not counts.get("numerator-exclusion"):
            found[0].append(case)
        elif counts.get("denominator", 0) > 0 and not (counts.get("denominator-exclusion") or
                                                       counts.get("denominator-exception")):
            found[1].append(case)
        else:
            found[2].append(case)
    return found


def _replay(case: Path, target: date, suffix: str, ward: str, prophylaxis: bool = False) -> list[dict]:
    resources, period = [], None
    for path in sorted(case.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("resourceType") == "MeasureReport":
            period = data.get("period") or {}
        else:
            resources.append(data)
    start, end = (period or {}).get("start", "")[:10], (period or {}).get("end", "")[:10]
    stays = sorted(r["period"]["end"][:10] for r in resources if r.get("resourceType") == "Encounter"
                   and (r.get("period") or {}).get("end", "")[:10] and start <= r["period"]["end"][:10] <= end)
    anchor = date.fromisoformat(stays[-1]) if stays else date.fromisoformat(start) + timedelta(days=182)
    shift = target - anchor
    ids = {f"{r['resourceType']}/{r['id']}": f"{r['resourceType']}/{r['id']}-{suffix}" for r in resources if "id" in r}
    replayed = []
    for resource in resources:
        resource = _moved(resource, shift, ids)
        if resource["resourceType"] == "Encounter" and resource.get("period", {}).get("end", "")[:10] == target.isoformat():
            resource["location"] = [{"location": {"reference": f"Location/{ward}"}}, *resource.get("location", [])]
            if prophylaxis and resource["period"].get("start"):
                replayed.append(_heparin(resource, suffix))
        replayed.append(resource)
    return replayed


def _heparin(stay: dict, suffix: str) -> dict:
    return {"resourceType": "MedicationAdministration", "id": f"vte-{suffix}",
            "meta": {"profile": ["http://hl7.org/fhir/us/qicore/StructureDefinition/qicore-medicationadministration"]},
            "status": "completed",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "855288"}]},
            "subject": stay["subject"], "context": {"reference": f"Encounter/{stay['id']}"},
            "effectivePeriod": {"start": stay["period"]["start"], "end": stay["period"]["start"]}}


def _moved(value, shift: timedelta, ids: dict, key: str = ""):
    if isinstance(value, dict):
        moved = {k: _moved(v, shift, ids, k) for k, v in value.items()}
        if "resourceType" in value and "id" in value:
            moved["id"] = ids[f"{value['resourceType']}/{value['id']}"].split("/", 1)[1]
        return moved
    if isinstance(value, list):
        return [_moved(v, shift, ids, key) for v in value]
    if isinstance(value, str):
        if key == "reference":
            return ids.get(value, value)
        match = DATE.match(value) if key not in NOT_DATES else None
        if match:
            try:
                return (date.fromisoformat(match[1]) + shift).isoformat() + match[2]
            except ValueError:
                return value
    return value
