"""Patients for measure evaluation, one at a time, from the FHIR store.

Each resource belongs to the patient its compartment reference names (`subject`, `patient`,
`beneficiary`, or the Patient itself). The store is read sorted by that patient, in batches,
so memory holds one batch and the patient being assembled, never the population (DuckDB's
sort spills to disk when it must). Resources outside any patient's compartment (Medication,
Location, Organization, Practitioner) are shared: read once and given to every patient, since
a measure may retrieve them (`[Medication]`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb

from .evaluator import PatientData

BATCH = 2000  # rows fetched at a time
SHARED_TYPES = ("Medication", "Location", "Organization", "Practitioner", "PractitionerRole")

_PATIENT_OF = """
CASE WHEN type = 'Patient' THEN id ELSE regexp_extract(coalesce(
    json_extract_string(resource, '$.subject.reference'),
    json_extract_string(resource, '$.patient.reference'),
    json_extract_string(resource, '$.beneficiary.reference')), '(^|/)Patient/([^/]+)$', 2) END
"""


def count_patients(connection: duckdb.DuckDBPyConnection) -> int:
    return connection.execute("SELECT count(*) FROM resources WHERE type = 'Patient'").fetchall()[0][0]


def shared_resources(connection: duckdb.DuckDBPyConnection) -> list[dict]:
    placeholders = ", ".join("?" for _ in SHARED_TYPES)
    rows = connection.execute(f"SELECT resource FROM resources WHERE type IN ({placeholders})", list(SHARED_TYPES)).fetchall()
    return [json.loads(text) for (text,) in rows]


def patients(connection: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, PatientData]]:
    """(patient id, their data) for every Patient in the store, in patient id order."""
    shared = PatientData.from_resources(shared_resources(connection)).by_type  # wrapped once
    placeholders = ", ".join("?" for _ in SHARED_TYPES)
    result = connection.execute(
        f"SELECT patient, resource FROM (SELECT {_PATIENT_OF} AS patient, type, resource FROM resources "
        f"WHERE type NOT IN ({placeholders})) WHERE patient <> '' ORDER BY patient, type = 'Patient' DESC",
        list(SHARED_TYPES),
    )
    current, resources = None, []
    while True:
        rows = result.fetchmany(BATCH)
        for patient, text in rows:
            if patient != current:
                if current is not None and resources:
                    yield from _complete(current, resources, shared)
                current, resources = patient, []
            resources.append(json.loads(text))
        if not rows:
            break
    if current is not None and resources:
        yield from _complete(current, resources, shared)


def _complete(patient: str, resources: list[dict], shared: dict) -> Iterator[tuple[str, PatientData]]:
    if resources[0].get("resourceType") != "Patient":
        return  # resources of a patient the store has no Patient for: not in any population
    data = PatientData.from_resources(resources)
    for resource_type, nodes in shared.items():
        data.by_type.setdefault(resource_type, []).extend(nodes)
    yield patient, data
