"""Made-up FHIR R4 patients for the demo and the benchmarks (never real data): patients with
US Core race and ethnicity, their coverage, inpatient stays at the given locations (some
ending in death, transfer or self-discharge; some readmitted within 30 days) and emergency
visits, over a window of months. Deterministic for a seed.

`readmission_rise` raises the chance of a readmission in the last `rise_months` of the window,
so that the demo's charts show a special cause where one was put.

With `practitioners_per_ward`, each inpatient location gets its hospitalists (Practitioner with
an NPI, PractitionerRole at the ward) and every stay its attending (an ATND participant), every
emergency visit its primary performer (PPRF) from `emergency_practitioners`. Every choice about
practitioners is drawn from a stream of its own (per patient), after the stay's outcome is
known, so that patients, stays, dates and outcomes are exactly those made without them; an
`outliers` practitioner is chosen `weight` times as often for the stays that were followed by a
readmission — more readmissions (and, as those stays run longer, longer stays), for the same stays.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    practitioners_per_ward: int = 0  # hospitalists per inpatient location (0: no practitioners)
    emergency_practitioners: int = 0
    specialties: dict[str, tuple[str, str]] = field(default_factory=dict)  # location -> NUCC (code, display)
    outliers: dict[str, float] = field(default_factory=dict)  # practitioner id -> weight on poor-outcome stays


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


NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NUCC = "http://nucc.org/provider-taxonomy"
HOSPITALIST = ("208M00000X", "Hospitalist")
EMERGENCY_MEDICINE = ("207P00000X", "Emergency Medicine")
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def npi_check_digit(first_nine: str) -> int:
    """The NPI's check digit: Luhn over the nine digits prefixed by 80840 (the card issuer
    prefix of US health identifiers, CMS NPI standard)."""
    total = 0
    for position, digit in enumerate(reversed("80840" + first_nine)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def npi(first_nine: str) -> str:
    return first_nine + str(npi_check_digit(first_nine))


def practitioner_id(options: Options, location: str, number: int) -> str:
    return f"syn-{options.seed}-prac-{location}-{number}"


def staff(options: Options) -> dict[str, list[str]]:
    """The practitioner ids of each location (inpatient wards, then the emergency department)."""
    found = {location: [practitioner_id(options, location, n) for n in range(options.practitioners_per_ward)]
             for location in options.inpatient_locations}
    found[options.emergency_location] = [practitioner_id(options, options.emergency_location, n)
                                         for n in range(options.emergency_practitioners)]
    return {location: ids for location, ids in found.items() if ids}


def _practitioners(options: Options) -> Iterator[dict]:
    """Each practitioner (made-up name and NPI, from their id alone) and their role at the location."""
    number = 0
    for location, ids in staff(options).items():
        default = EMERGENCY_MEDICINE if location == options.emergency_location else HOSPITALIST
        code, display = options.specialties.get(location, default)
        for prac in ids:
            namer = random.Random(prac)
            gender = namer.choice(["female", "male"])
            number += 1  # nine digits starting with 1 (an individual's NPI), unique in the population
            yield {"resourceType": "Practitioner", "id": prac, "active": True, "gender": gender,
                   "identifier": [{"system": NPI_SYSTEM, "value": npi(f"1{options.seed % 1000:03d}{number:05d}")}],
                   "name": [{"use": "official", "family": namer.choice(FAMILY), "given": [namer.choice(GIVEN[gender])],
                             "prefix": ["Dr."]}]}
            yield {"resourceType": "PractitionerRole", "id": f"{prac}-role", "active": True,
                   "practitioner": {"reference": f"Practitioner/{prac}"},
                   "location": [{"reference": f"Location/{location}"}],
                   "specialty": [{"coding": [{"system": NUCC, "code": code, "display": display}], "text": display}]}


def _participant(role: str, prac: str, encounter_resource: dict) -> dict:
    display = {"ATND": "attender", "PPRF": "primary performer"}[role]
    return {"type": [{"coding": [{"system": PARTICIPATION, "code": role, "display": display}]}],
            "period": dict(encounter_resource["period"]), "individual": {"reference": f"Practitioner/{prac}"}}


def _attend(stays: list[dict], options: Options, team: dict[str, list[str]], chooser: random.Random) -> None:
    """Give each stay its attending among its ward's practitioners, once the stays are made: a
    stay followed by a readmission is an outlier's `weight` times as often."""
    for number, stay in enumerate(stays):
        ids = team.get(stay["location"][0]["location"]["reference"].removeprefix("Location/"))
        if not ids:
            continue
        poor = number + 1 < len(stays)  # readmitted: the next stay is the readmission
        weights = [options.outliers.get(prac, 1.0) if poor else 1.0 for prac in ids]
        stay["participant"] = [_participant("ATND", chooser.choices(ids, weights=weights)[0], stay)]


def resources(options: Options) -> Iterator[dict]:
    """Every resource of the population, patient by patient (the practitioners first)."""
    team = staff(options)
    yield from _practitioners(options)
    chance = random.Random(options.seed)
    end_day = _end(options)
    span = (end_day - options.first).days
    window_start = datetime.combine(options.first, datetime.min.time(), UTC)
    for number in range(options.patients):
        pid = f"syn-{options.seed}-{number}"
        yield patient(pid, chance, end_day)
        yield coverage(pid, chance, options.first)
        chooser = random.Random(f"{options.seed}-prac-{pid}")  # never the population's stream
        if chance.random() < 0.45:
            stays = _stays(pid, chance, options, options.first, end_day)
            _attend(stays, options, team, chooser)
            yield from stays
        for visit in range(chance.choice([0, 0, 0, 1, 1, 2])):
            arrived = window_start + timedelta(minutes=chance.randint(0, span * 1440))
            left = arrived + timedelta(minutes=max(20, int(chance.lognormvariate(5.4, 0.5))))
            visit_resource = encounter(f"{pid}-ed{visit}", pid, "EMER", arrived, left, options.emergency_location)
            if team.get(options.emergency_location):
                visit_resource["participant"] = [_participant("PPRF", chooser.choice(team[options.emergency_location]),
                                                              visit_resource)]
            yield visit_resource


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
