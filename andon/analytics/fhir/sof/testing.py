"""A fresh in-memory FHIR store holding given resources (for tests and notebooks)."""

from __future__ import annotations

import json

from .. import store


def store_with(resources: list[dict]):
    """An in-memory store (`store.connect()`) with `resources` in its `resources` table."""
    connection = store.connect()
    # allow_nan=False: what the loader would refuse is refused here too (ValueError)
    rows = [(r["resourceType"], str(r.get("id", i)), json.dumps(r, allow_nan=False)) for i, r in enumerate(resources)]
    if rows:
        connection.executemany("INSERT OR REPLACE INTO resources (type, id, resource) VALUES (?, ?, ?)", rows)
        store.key_patients(connection)
    return connection
