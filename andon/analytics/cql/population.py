"""Patients for measure evaluation, one at a time, from the FHIR store.

Each resource belongs to the patient its compartment reference names (`subject`, `patient`,
`beneficiary`, or the Patient itself): the store keeps it with each resource
(`resources.patient`, indexed; store.patient_of), so that one patient is a seek. The whole store
is read in passes, each over a bucket of patients (a hash of the patient id) sorted by patient
and fetched in batches, so memory holds one bucket's sort and the patient being assembled, never
the population: the bucket count grows with the store (about BUCKET_BYTES of records each).

Resources outside any patient's compartment (Medication, Location, Organization,
Practitioner) are shared by many patients. A patient gets those their own records reference
(`"reference": "Medication/…"`, and what those reference in turn), as a test case's bundle
holds them: a measure's `[Medication]` retrieve then sees the patient's medications, not the
hospital's formulary. Their text is read once (a dict by `Type/id`); each is parsed when a
patient first needs it, and kept in a bounded cache.

Every resource is parsed as strict JSON (`strict_json`). The loader refuses anything else, but
a store loaded before it did may hold NaN, duplicate keys or nesting deep enough to crash a
parse: such a patient comes with the reason (`PatientData.unreadable`), and evaluating them is
an error naming the resource, never a crash of the run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from functools import lru_cache

import duckdb

from .. import strict_json
from ..fhir import store
from . import fhir_model
from .evaluator import PatientData

BATCH = 2000  # rows fetched at a time
BUCKET_BYTES = 128 * 2**20  # the records one sorted pass holds, about
SHARED_TYPES = ("Medication", "Location", "Organization", "Practitioner", "PractitionerRole")
_SHARED_REFERENCE = re.compile(r'"reference"\s*:\s*"(?:[^"]*/)?((?:' + "|".join(SHARED_TYPES) + r')/[^"/]+)"')

_PATIENT_OF = store.patient_of()  # the rule the ingest keys resources by

# One patient's rows: a seek on the stored key, and the rows not keyed (NULL: written by anything
# but the ingest), whose patient is computed; row groups without a NULL key are skipped. No other
# filter on the table (such as the shared types): DuckDB then scans instead of seeking.
_ONE_PATIENT_KEYED = f"""
SELECT patient, type || '/' || id, resource FROM (
    SELECT patient, type, id, resource FROM resources WHERE patient = $id
    UNION ALL
    SELECT {_PATIENT_OF} AS patient, type, id, resource FROM resources
    WHERE patient IS NULL AND (type = 'Patient' AND id = $id OR contains(resource, $reference))
) WHERE patient = $id ORDER BY type = 'Patient' DESC
"""

# A store made before the key, opened read-only: one scan, parsing only the resources whose text
# names `Patient/<id>`, as a compartment reference must.
_ONE_PATIENT_SCANNED = f"""
SELECT patient, type || '/' || id, resource FROM (
    SELECT {_PATIENT_OF} AS patient, type, id, resource FROM resources
    WHERE (type = 'Patient' AND id = $id OR contains(resource, $reference))
) WHERE patient = $id ORDER BY type = 'Patient' DESC
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
    patient_sql = _patient_column(connection)
    shared = Shared(shared_texts(connection))
    placeholders = ", ".join("?" for _ in SHARED_TYPES)
    buckets = bucket_count(connection)
    for bucket in range(buckets):
        result = connection.execute(
            f"SELECT patient, type || '/' || id, resource FROM (SELECT {patient_sql} AS patient, type, id, resource "
            f"FROM resources WHERE type NOT IN ({placeholders})) WHERE patient <> '' AND hash(patient) % ? = ? "
            "ORDER BY patient, type = 'Patient' DESC",
            [*SHARED_TYPES, buckets, bucket],
        )
        yield from _assembled(result, shared)


def _patient_column(connection: duckdb.DuckDBPyConnection) -> str:
    """The SQL of each row's patient: the stored key (computed for a row without one), or
    computed in a store made before the key. The SQL of the passes over a million resources
    takes a quarter of the time with the stored key (docs/benchmarks.md)."""
    return f"coalesce(patient, {_PATIENT_OF})" if store.has_patient_key(connection) else _PATIENT_OF


def patient(connection: duckdb.DuckDBPyConnection, patient_id: str) -> PatientData | None:
    """One patient's data, as `patients` gives it, or None when the store has no such Patient:
    for one explanation, not for a population. A seek on the stored patient key, or, in a store
    made before it and opened read-only, a scan of the store."""
    keyed = store.has_patient_key(connection)
    shared = StoredShared(connection)
    rows = connection.execute(_ONE_PATIENT_KEYED if keyed else _ONE_PATIENT_SCANNED,
                              {"id": patient_id, "reference": f"Patient/{patient_id}"}).fetchall()
    records = [(key, text) for _, key, text in rows if key.split("/", 1)[0] not in SHARED_TYPES]
    found = list(_complete(patient_id, records, shared)) if records else []
    return found[0][1] if found else None


def bucket_count(connection: duckdb.DuckDBPyConnection) -> int:
    total = connection.execute("SELECT coalesce(sum(strlen(resource)), 0) FROM resources").fetchall()[0][0]
    return max(1, math.ceil(total / BUCKET_BYTES))


def _assembled(result, shared: Shared) -> Iterator[tuple[str, PatientData]]:
    """Patients from rows sorted by patient, a patient complete when the next one begins."""
    current, records = None, []
    while True:
        rows = result.fetchmany(BATCH)
        for patient, key, text in rows:
            if patient != current:
                if current is not None and records:
                    yield from _complete(current, records, shared)
                current, records = patient, []
            records.append((key, text))
        if not rows:
            break
    if current is not None and records:
        yield from _complete(current, records, shared)


def parsed(key: str, text: str, unreadable: list[str]):
    """A stored resource's JSON, or None with the reason added to `unreadable`."""
    try:
        return strict_json.loads(text)
    except strict_json.JSONError as error:
        unreadable.append(f"{key} in the FHIR store is not strict JSON ({error}): load it again")
        return None


class Shared:
    """The shared resources, parsed on first use (at most `CACHED` kept parsed)."""

    CACHED = 20_000

    def __init__(self, texts: dict[str, str]):
        self.texts = texts
        self.node = lru_cache(maxsize=self.CACHED)(self._parse)

    def _parse(self, key: str):
        """The resource's node, or the reason it cannot be read (a str)."""
        unreadable: list[str] = []
        data = parsed(key, self.texts[key], unreadable)
        return unreadable[0] if data is None else fhir_model.resource(data)

    def referenced(self, texts: list[str], unreadable: list[str]) -> list:
        """The shared resources these texts reference, and those they reference in turn (those
        that cannot be read: their reasons added to `unreadable`)."""
        found, pending = {}, [key for text in texts for key in _SHARED_REFERENCE.findall(text)]
        while pending:
            self.fetch(pending)
            key = pending.pop()
            if key in found or key not in self.texts:
                continue  # a reference to a resource the store lacks resolves to nothing
            found[key] = self.node(key)
            pending.extend(_SHARED_REFERENCE.findall(self.texts[key]))
        unreadable.extend(node for node in found.values() if isinstance(node, str))
        return [node for node in found.values() if not isinstance(node, str)]

    def fetch(self, keys: list[str]) -> None:
        """Make sure `texts` holds those of `keys` the store has (all of them are held here)."""


class StoredShared(Shared):
    """The shared resources one patient references, read from the store when first referenced:
    reading them all (tens of thousands in a large store) would cost one patient more than
    their own records."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        super().__init__({})
        self.connection = connection
        self.asked: set[str] = set()

    def fetch(self, keys: list[str]) -> None:
        wanted = {key for key in keys if key not in self.asked}
        if not wanted:
            return
        self.asked |= wanted
        pairs = [key.split("/", 1) for key in wanted]
        # Filters on type and id, which DuckDB checks against each row group's range (the shared
        # types lie together, file by file); the exact pairs are picked here.
        rows = self.connection.execute(
            "SELECT type, id, resource FROM resources WHERE list_contains(CAST($types AS VARCHAR[]), type) "
            "AND list_contains(CAST($ids AS VARCHAR[]), id)",
            {"types": sorted({kind for kind, _ in pairs}), "ids": sorted({key for _, key in pairs})}).fetchall()
        self.texts.update({f"{kind}/{key}": text for kind, key, text in rows if f"{kind}/{key}" in wanted})


def _complete(patient: str, records: list[tuple[str, str]], shared: Shared) -> Iterator[tuple[str, PatientData]]:
    if not records[0][0].startswith("Patient/"):
        return  # resources of a patient the store has no Patient for: not in any population
    unreadable: list[str] = []
    resources = [data for key, text in records if (data := parsed(key, text, unreadable)) is not None]
    data = PatientData.from_resources(resources)
    for node in shared.referenced([text for _, text in records], unreadable):
        data.by_type.setdefault(node.fhir_type, []).append(node)
    data.unreadable = unreadable
    yield patient, data
