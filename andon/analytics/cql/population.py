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

Records = list[tuple[str, str]]  # (`Type/id`, JSON text) of stored resources

BATCH = 2000  # rows fetched at a time
BUCKET_BYTES = 128 * 2**20  # the records one sorted pass holds, about
SHARED_TYPES = ("Medication", "Location", "Organization", "Practitioner", "PractitionerRole")
_SHARED_REFERENCE = re.compile(r'"reference"\s*:\s*"(?:[^"]*/)?((?:' + "|".join(SHARED_TYPES) + r')/[^"/]+)(?:/_history/[^"/]+)?"')

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
    """(patient id, their data) for every Patient in the store: `records`, each patient parsed."""
    parser = Parser()
    for patient_id, records in patient_records(connection):
        yield patient_id, parser.patient(records)


def patient_records(connection: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, Records]]:
    """(patient id, their records) for every Patient in the store, unparsed: the patient's own
    (`Type/id`, JSON text) pairs, the Patient first, then the shared ones they reference. Pass by
    pass over buckets of patients (a hash of the id), each bucket sorted by patient, so that one
    sort holds about BUCKET_BYTES of records whatever the size of the population. Text is what
    run.py hands its worker processes: pickling it costs a fraction of pickling parsed
    resources, and each worker parses its own patients."""
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
    if not store.has_patient_key(connection):
        return _PATIENT_OF
    if store.keys_current(connection):
        return f"coalesce(patient, {_PATIENT_OF})"
    # keyed before versioned references were read, and not opened for writing since
    return f"CASE WHEN coalesce(patient, '') = '' THEN {_PATIENT_OF} ELSE patient END"


def patient(connection: duckdb.DuckDBPyConnection, patient_id: str) -> PatientData | None:
    """One patient's data, as `patients` gives it, or None when the store has no such Patient:
    for one explanation, not for a population. A seek on the stored patient key, or, in a store
    made (or keyed) before it could be and opened read-only since, a scan of the store."""
    keyed = store.keys_current(connection)  # else a scan: rows keyed '' may be the patient's
    rows = connection.execute(_ONE_PATIENT_KEYED if keyed else _ONE_PATIENT_SCANNED,
                              {"id": patient_id, "reference": f"Patient/{patient_id}"}).fetchall()
    own = [(key, text) for _, key, text in rows if key.split("/", 1)[0] not in SHARED_TYPES]
    if not own or not own[0][0].startswith("Patient/"):
        return None
    return Parser().patient(own + StoredShared(connection).referenced(own))


def bucket_count(connection: duckdb.DuckDBPyConnection) -> int:
    total = connection.execute("SELECT coalesce(sum(strlen(resource)), 0) FROM resources").fetchall()[0][0]
    return max(1, math.ceil(total / BUCKET_BYTES))


def _assembled(result, shared: Shared) -> Iterator[tuple[str, Records]]:
    """Patients' records from rows sorted by patient, a patient complete when the next one begins."""
    current, records = None, []
    while True:
        rows = result.fetchmany(BATCH)
        for patient, key, text in rows:
            if patient != current:
                if current is not None:
                    yield from _complete(current, records, shared)
                current, records = patient, []
            records.append((key, text))
        if not rows:
            break
    if current is not None:
        yield from _complete(current, records, shared)


def _complete(patient: str, records: Records, shared: Shared) -> Iterator[tuple[str, Records]]:
    if records and records[0][0].startswith("Patient/"):  # else no Patient: not in any population
        yield patient, records + shared.referenced(records)


def parsed(key: str, text: str, unreadable: list[str]):
    """A stored resource's JSON, or None with the reason added to `unreadable`."""
    try:
        return strict_json.loads(text)
    except strict_json.JSONError as error:
        unreadable.append(f"{key} in the FHIR store is not strict JSON ({error}): load it again")
        return None


class Shared:
    """The shared resources' texts by `Type/id`, and which of them a patient's records reference."""

    def __init__(self, texts: dict[str, str]):
        self.texts = texts

    def referenced(self, records: Records) -> Records:
        """The shared records these records reference, and those they reference in turn; a
        reference to a resource the store lacks resolves to nothing."""
        found, pending = {}, [key for _, text in records for key in _SHARED_REFERENCE.findall(text)]
        while pending:
            self.fetch(pending)
            key = pending.pop()
            if key in found or key not in self.texts:
                continue
            found[key] = self.texts[key]
            pending.extend(_SHARED_REFERENCE.findall(found[key]))
        return list(found.items())

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


class Parser:
    """Patients' records parsed into their data. The shared resources, which many patients
    reference, are parsed once (at most `CACHED` kept parsed): one Parser serves one run over a
    store, whose shared resources do not change during it."""

    CACHED = 20_000

    def __init__(self):
        self.shared_node = lru_cache(maxsize=self.CACHED)(self._parse_shared)

    def patient(self, records: Records) -> PatientData:
        """The data of one patient's records (`patient_records`: their own, then the shared);
        the records that cannot be read are left out, and why is in `unreadable`."""
        unreadable: list[str] = []
        own, nodes = [], []
        for key, text in records:
            if key.split("/", 1)[0] in SHARED_TYPES:
                node = self.shared_node(key, text)
                (unreadable if isinstance(node, str) else nodes).append(node)
            elif (data := parsed(key, text, unreadable)) is not None:
                own.append(data)
        data = PatientData.from_resources(own)
        for node in nodes:
            data.by_type.setdefault(node.fhir_type, []).append(node)
        data.unreadable = unreadable
        return data

    @staticmethod
    def _parse_shared(key: str, text: str):
        """The resource's node, or the reason it cannot be read (a str)."""
        unreadable: list[str] = []
        data = parsed(key, text, unreadable)
        return unreadable[0] if data is None else fhir_model.resource(data)
