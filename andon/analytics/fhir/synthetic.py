"""Made-up FHIR R4 patients for the demo and the benchmarks (never real data): patients with
US Core race and ethnicity, their coverage, inpatient stays at the given locations (some
ending in death, transfer or self-discharge; some readmitted within 30 days) and emergency
visits, over a window of months. Deterministic for a seed.

`readmission_rise` raises the chance of a readmission in the last `rise_months` of the window,
so that the demo's charts show a special cause where one was put.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

OMB = "urn:oid:2.16.840.1.113883.6.238"
RACES = [("2106-3", "White", 60), ("2054-5", "Black or African American", 13), ("2028-9", "Asian", 6),
         ("1002-5", "American Indian or Alaska Native", 1), ("2076-8", "Native Hawaiian or Other Pacific Islander", 1),
         ("2131-1", "Other Race", 19)]
ETHNICITIES = [("2186-5", "Not Hispanic or Latino", 81), ("2135-2", "Hispanic or Latino", 19)]
PAYERS = [("Medicare", 38), ("Medicaid", 20), ("Acme Health Plan", 30), ("Northwind Insurance", 8), ("Self-pay", 4)]
DISPOSITIONS = [("home", 90), ("exp", 2), ("other-hcf", 6), ("aadvice", 2)]


@dataclass
class Options:
    patients: int
    first: date  # first day of the window
    months: int
    inpatient_locations: list[str]  # Location ids for stays
    emergency_location: str
    seed: int = 0
    readmission_rate: float = 0.12  # chance a stay is followed by a readmission within 30 days
    readmission_rise: float = 0.0  # added to the rate in the last rise_months
    rise_months: int = 6


def _pick(chance: random.Random, weighted):
    return chance.choices(weighted, weights=[w[-1] for w in weighted])[0]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _end(options: Options) -> date:
    month = options.first.month - 1 + options.months
    return date(options.first.year + month // 12, month % 12 + 1, 1)


FAMILY = ["Ortiz", "Nguyen", "Okafor", "Schmidt", "Kowalski", "Haddad", "Tanaka", "Murphy", "Silva", "Johansson",
          "Patel", "Cohen", "Rossi", "Dubois", "Kim", "Walker", "Novak", "Mensah", "Garcia", "O'Brien"]
GIVEN = {"female": ["Dana", "Maria", "Aisha", "Ingrid", "Mei", "Grace", "Fatima", "Olivia", "Rosa", "Hana"],
         "male": ["Lee", "Tomasz", "Kwame", "Jonas", "Ravi", "Samuel", "Omar", "Diego", "Henrik", "Kenji"]}


def _identity(pid: str, gender: str) -> dict:
    """A made-up name and medical record number, drawn from the patient id alone (not from the
    population's random stream, so the rest of the data stays as it was for a seed)."""
    namer = random.Random(pid)
    parts = pid.split("-")  # syn-<seed>-<number>
    mrn = f"MRN{parts[1]}{int(parts[2]):06d}" if len(parts) == 3 and parts[2].isdigit() else f"MRN-{pid}"
    return {"name": [{"use": "official", "family": namer.choice(FAMILY), "given": [namer.choice(GIVEN[gender])]}],
            "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR",
                                                 "display": "Medical record number"}]},
                            "system": "urn:andon:demo:mrn", "value": mrn}]}


def patient(pid: str, chance: random.Random, window_end: date) -> dict:
    race, ethnicity = _pick(chance, RACES), _pick(chance, ETHNICITIES)
    age = min(100, max(18, int(chance.gauss(62, 18))))
    born = window_end - timedelta(days=int(age * 365.25) + chance.randint(0, 364))
    gender = chance.choice(["female", "male"])
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": born.isoformat(),
            **_identity(pid, gender),
            "extension": [
                {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
                    {"url": "ombCategory", "valueCoding": {"system": OMB, "code": race[0], "display": race[1]}},
                    {"url": "text", "valueString": race[1]}]},
                {"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity", "extension": [
                    {"url": "ombCategory", "valueCoding": {"system": OMB, "code": ethnicity[0], "display": ethnicity[1]}},
                    {"url": "text", "valueString": ethnicity[1]}]}]}


def coverage(pid: str, chance: random.Random, first: date) -> dict:
    return {"resourceType": "Coverage", "id": f"{pid}-cov", "status": "active", "beneficiary": {"reference": f"Patient/{pid}"},
            "payor": [{"display": _pick(chance, PAYERS)[0]}], "period": {"start": (first - timedelta(days=400)).isoformat()}}


def encounter(eid: str, pid: str, klass: str, start: datetime, end: datetime, location: str, disposition=None) -> dict:
    resource = {"resourceType": "Encounter", "id": eid, "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
                "subject": {"reference": f"Patient/{pid}"}, "period": {"start": _stamp(start), "end": _stamp(end)},
                "location": [{"location": {"reference": f"Location/{location}"}}]}
    if disposition:
        resource["hospitalization"] = {"dischargeDisposition": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/discharge-disposition", "code": disposition}]}}
    return resource


def _stays(pid: str, chance: random.Random, options: Options, start_day: date, end_day: date) -> list[dict]:
    found = []
    span = (end_day - start_day).days
    rise_from = end_day - timedelta(days=int(options.rise_months * 30.4))
    admitted = datetime.combine(start_day, datetime.min.time(), UTC) + timedelta(minutes=chance.randint(0, span * 1440))
    number = 0
    while True:  # readmissions may fall after the window, as they would (no censoring at its end)
        length = max(0, min(30, int(chance.lognormvariate(1.2, 0.7))))
        discharged = admitted + timedelta(days=length, hours=chance.randint(1, 12))
        disposition = _pick(chance, DISPOSITIONS)[0]
        found.append(encounter(f"{pid}-ip{number}", pid, "IMP", admitted, discharged,
                               chance.choice(options.inpatient_locations), disposition))
        number += 1
        rate = options.readmission_rate + (options.readmission_rise if discharged.date() >= rise_from else 0.0)
        if disposition == "exp" or chance.random() >= rate:
            break
        admitted = discharged + timedelta(days=chance.randint(1, 30), hours=chance.randint(0, 23))
    return found


def resources(options: Options) -> Iterator[dict]:
    """Every resource of the population, patient by patient."""
    chance = random.Random(options.seed)
    end_day = _end(options)
    span = (end_day - options.first).days
    window_start = datetime.combine(options.first, datetime.min.time(), UTC)
    for number in range(options.patients):
        pid = f"syn-{options.seed}-{number}"
        yield patient(pid, chance, end_day)
        yield coverage(pid, chance, options.first)
        if chance.random() < 0.45:
            yield from _stays(pid, chance, options, options.first, end_day)
        for visit in range(chance.choice([0, 0, 0, 1, 1, 2])):
            arrived = window_start + timedelta(minutes=chance.randint(0, span * 1440))
            left = arrived + timedelta(minutes=max(20, int(chance.lognormvariate(5.4, 0.5))))
            yield encounter(f"{pid}-ed{visit}", pid, "EMER", arrived, left, options.emergency_location)


def write_ndjson(options: Options, folder: Path) -> dict[str, int]:
    """The population as one NDJSON file per resource type in `folder`; counts by type."""
    folder.mkdir(parents=True, exist_ok=True)
    handles, counts = {}, {}
    try:
        for resource in resources(options):
            kind = resource["resourceType"]
            if kind not in handles:
                handles[kind] = (folder / f"{kind}.ndjson").open("w", encoding="utf-8")
                counts[kind] = 0
            handles[kind].write(json.dumps(resource, separators=(",", ":")) + "\n")
            counts[kind] += 1
    finally:
        for handle in handles.values():
            handle.close()
    return counts
