"""Finding one patient in the FHIR store by what a ward knows: a medical record number (any of the
Patient's identifiers), the Patient's id, or an encounter (its id or one of its identifiers), and
reading back who it is (name, MRN, birth date) for the pages allowed to show it.

Parameterised queries only: the typed value is never part of the SQL.
"""

import json
from dataclasses import dataclass

MAX_IDENTIFIER = 64


@dataclass(frozen=True)
class Found:
    patient_id: str
    encounter_id: str = ""  # when the value typed was an encounter's


@dataclass(frozen=True)
class Identity:
    patient_id: str
    name: str
    mrn: str
    birth_date: str


def find(connection, identifier: str) -> Found | None:
    """The patient `identifier` names, or None when the store has no one (or more than one) by it."""
    value = (identifier or "").strip()
    if not value or len(value) > MAX_IDENTIFIER:
        return None
    patients = connection.execute(
        "SELECT id FROM resources WHERE type = 'Patient' AND (id = $v OR "
        "list_contains(json_extract_string(resource, '$.identifier[*].value'), $v)) LIMIT 2", {"v": value}).fetchall()
    if len(patients) == 1:
        return Found(patients[0][0])
    if patients:
        return None  # two patients answer to it: not one patient
    encounters = connection.execute(
        "SELECT id, json_extract_string(resource, '$.subject.reference') FROM resources WHERE type = 'Encounter' AND "
        "(id = $v OR list_contains(json_extract_string(resource, '$.identifier[*].value'), $v)) LIMIT 2",
        {"v": value}).fetchall()
    if len(encounters) != 1 or not (encounters[0][1] or "").startswith("Patient/"):
        return None
    patient_id = encounters[0][1].removeprefix("Patient/")
    exists = connection.execute("SELECT count(*) FROM resources WHERE type = 'Patient' AND id = $v",
                                {"v": patient_id}).fetchone()[0]
    return Found(patient_id, encounters[0][0]) if exists else None


def identity(connection, patient_id: str) -> Identity | None:
    """Name, MRN (the identifier typed MR, else the first) and birth date of a Patient."""
    row = connection.execute("SELECT resource FROM resources WHERE type = 'Patient' AND id = $v",
                             {"v": patient_id}).fetchone()
    if row is None:
        return None
    resource = json.loads(row[0]) if isinstance(row[0], str) else row[0]
    return Identity(patient_id, _name(resource), _mrn(resource), str(resource.get("birthDate") or ""))


def _name(resource: dict) -> str:
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    official = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    if official.get("text"):
        return str(official["text"])
    given = " ".join(str(part) for part in official.get("given") or [])
    return " ".join(part for part in (given, str(official.get("family") or "")) if part)


def _mrn(resource: dict) -> str:
    identifiers = [i for i in resource.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    for item in identifiers:
        codes = [c.get("code") for c in ((item.get("type") or {}).get("coding") or []) if isinstance(c, dict)]
        if "MR" in codes:
            return str(item["value"])
    return str(identifiers[0]["value"]) if identifiers else ""
