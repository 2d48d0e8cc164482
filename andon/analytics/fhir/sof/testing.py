"""A fresh in-memory FHIR store holding given resources (for tests and notebooks)."""

from __future__ import annotations

import json

from .. import columnar, store


def store_with(resources: list[dict], *, typed: bool = False):
    """An in-memory store (`store.connect()`) with `resources` in its `resources` table; with
    `typed`, hashed as the ingest hashes them and with their typed tables (`fhir.columnar`)
    built, as `andon fhir load` leaves a store."""
    connection = store.connect()
    # allow_nan=False: what the loader would refuse is refused here too (ValueError)
    rows = [(r["resourceType"], str(r.get("id", i)), json.dumps(r, allow_nan=False)) for i, r in enumerate(resources)]
    if rows:
        connection.executemany("INSERT OR REPLACE INTO resources (type, id, resource) VALUES (?, ?, ?)", rows)
        store.key_patients(connection)
    if typed:
        connection.execute(f"UPDATE resources SET content_hash = {store.CONTENT_HASH.format('resource')}")
        columnar.refresh(connection)
    return connection
