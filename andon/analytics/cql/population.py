"""Patients for measure evaluation, one at a time, from the FHIR store.

Each resource belongs to the patient its compartment reference names (`subject`, `patient`,
`beneficiary`, or the Patient itself). The store is read in passes, each over a bucket of
patients (a hash of the patient id) sorted by patient and fetched in batches, so memory holds
one bucket's sort and the patient being assembled, never the population: the bucket count
grows with the store (about BUCKET_BYTES of records each).

Resources outside any patient's compartment (Medication, Location, Organization,
Practitioner) are shared by many patients. A patient gets those their own records reference
(`"reference": "Medication/…"`, and what those reference in turn), as a test case's bundle
holds them: a measure's `[Medication]` retrieve then sees the patient's medications, not the
hospital's formulary. Their text is read once (a dict by `Type/id`); each is parsed when a
patient first needs it, and kept in a bounded cache.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from functools import lru_cache

import duckdb

from . import fhir_model
from .evaluator import PatientData

BATCH = 2000  # rows fetched at a time
BUCKET_BYTES = 128 * 2**20  # the records one sorted pass holds, about
SHARED_TYPES = ("Medication", "Location", "Organization", "Practitioner", "PractitionerRole")
_SHARED_REFERENCE = re.compile(r'"reference"\s*:\s*"(?:[^"]*/)?((?:' + "|".join(SHARED_TYPES) + r')/[^"/]+)"')

_PATIENT_OF = """
CASE WHEN type = 'Patient' THEN id ELSE regexp_extract(coalesce(
    json_extract_string(resource, '$.subject.reference'),
    json_extract_string(resource, '$.patient.reference'),
    json_extract_string(resource, '$.beneficiary.reference')), '(^|/)Patient/([^/]+)$', 2) END
"""


def count_patients(connection: duckdb.DuckDBPyConnection) -> int:
    return connection.execute("SELECT count(*) FROM resources WHERE type = 'Patient'").fetchall()[0][0]


def shared_texts(connection: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The shared resources' JSON by `Type/id`."""
    placeholders = ", ".join("?" for _ in SHARED_TYPES)
    rows = connection.execute(f"SELECT type, id, resource FROM resources WHERE type IN ({placeholders})",
                              list(SHARED_TYPES)).fetchall()
    return {f"{kind}/{key}": text for kind, key, text in rows}


def patients(connection: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, PatientData]]:
    """(patient id, their data) for every Patient in the store: pass by pass over buckets of
    patients (a hash of the id), each bucket sorted by patient, so that one sort holds about
    BUCKET_BYTES of records whatever the size of the population."""
    shared = Shared(shared_texts(connection))
    placeholders = ", ".join("?" for _ in SHARED_TYPES)
    buckets = bucket_count(connection)
    for bucket in range(buckets):
        result = connection.execute(
            f"SELECT patient, resource FROM (SELECT {_PATIENT_OF} AS patient, type, resource FROM resources "
            f"WHERE type NOT IN ({placeholders})) WHERE patient <> '' AND hash(patient) % ? = ? "
            "ORDER BY patient, type = 'Patient' DESC",
            [*SHARED_TYPES, buckets, bucket],
        )
        yield from _assembled(result, shared)


def patient(connection: duckdb.DuckDBPyConnection, patient_id: str) -> PatientData | None:
    """One patient's data, as `patients` gives it, or None when the store has no such Patient.
    Scans the store once (resources are not indexed by patient), parsing only the resources whose
    text names `Patient/<id>`, as a compartment reference must: for one explanation, not for a
    population."""
    shared = Shared(shared_texts(connection))  # first: a query on the connection ends the pending result
    placeholders = ", ".join("?" for _ in SHARED_TYPES)
    result = connection.execute(
        f"SELECT patient, resource FROM (SELECT {_PATIENT_OF} AS patient, type, resource FROM resources "
        f"WHERE type NOT IN ({placeholders}) AND (type = 'Patient' AND id = ? OR contains(resource, ?))) "
        "WHERE patient = ? ORDER BY type = 'Patient' DESC",
        [*SHARED_TYPES, patient_id, f"Patient/{patient_id}", patient_id],
    )
    found = list(_assembled(result, shared))
    return found[0][1] if found else None


def bucket_count(connection: duckdb.DuckDBPyConnection) -> int:
    total = connection.execute("SELECT coalesce(sum(strlen(resource)), 0) FROM resources").fetchall()[0][0]
    return max(1, math.ceil(total / BUCKET_BYTES))


def _assembled(result, shared: Shared) -> Iterator[tuple[str, PatientData]]:
    """Patients from rows sorted by patient, a patient complete when the next one begins."""
    current, texts = None, []
    while True:
        rows = result.fetchmany(BATCH)
        for patient, text in rows:
            if patient != current:
                if current is not None and texts:
                    yield from _complete(current, texts, shared)
                current, texts = patient, []
            texts.append(text)
        if not rows:
            break
    if current is not None and texts:
        yield from _complete(current, texts, shared)


class Shared:
    """The shared resources, parsed on first use (at most `CACHED` kept parsed)."""

    CACHED = 20_000

    def __init__(self, texts: dict[str, str]):
        self.texts = texts
        self.node = lru_cache(maxsize=self.CACHED)(self._parse)

    def _parse(self, key: str):
        return fhir_model.resource(json.loads(self.texts[key]))

    def referenced(self, texts: list[str]) -> list:
        """The shared resources these texts reference, and those they reference in turn."""
        found, pending = {}, [key for text in texts for key in _SHARED_REFERENCE.findall(text)]
        while pending:
            key = pending.pop()
            if key in found or key not in self.texts:
                continue  # a reference to a resource the store lacks resolves to nothing
            found[key] = self.node(key)
            pending.extend(_SHARED_REFERENCE.findall(self.texts[key]))
        return list(found.values())


def _complete(patient: str, texts: list[str], shared: Shared) -> Iterator[tuple[str, PatientData]]:
    resources = [json.loads(text) for text in texts]
    if resources[0].get("resourceType") != "Patient":
        return  # resources of a patient the store has no Patient for: not in any population
    data = PatientData.from_resources(resources)
    for node in shared.referenced(texts):
        data.by_type.setdefault(node.fhir_type, []).append(node)
    yield patient, data
