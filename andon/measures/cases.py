"""The cases behind stored results, kept for the drill-down: at each computation of a SQL or
eCQM measure, every case with the cell it counts in goes to a Parquet file per period under
`$ANDON_CASES_DIR/<measure>/<period kind>/<period start>.parquet` (by default
`$ANDON_DATA_DIR/measure-cases`).

Patient-level data stays out of the application database (DESIGN.md, Storage). The drill-down
reads the same cases the stored cell was computed from, even after the FHIR store has been
reloaded; recomputing a period replaces its file.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings


def folder(measure_key: str, kind: str) -> Path:
    return Path(settings.ANDON_CASES_DIR) / measure_key / kind


MEASUREMENT_PERIOD = b"andon.measurement_period"


def keep(measure_key: str, kind: str, table: pa.Table, spans, measured=None) -> int:
    """Write each period's cases of `table` (kpi.framed_table) in place of the kept ones.
    `measured(start)`, for an eCQM, gives the measurement period (first day, last day) its cases
    were evaluated over, kept with them so that a case can be evaluated again the same way."""
    target = folder(measure_key, kind)
    target.mkdir(parents=True, exist_ok=True)
    for start, _end in spans:
        path = target / f"{start.isoformat()}.parquet"
        rows = table.filter(pc.equal(table["period_start"], pa.scalar(start, pa.date32())))
        if rows.num_rows == 0:
            path.unlink(missing_ok=True)
            continue
        if measured is not None:
            first, last = measured(start)
            rows = rows.replace_schema_metadata({MEASUREMENT_PERIOD: f"{first.isoformat()}..{last.isoformat()}".encode()})
        partial = path.with_suffix(f".{os.getpid()}.partial")
        pq.write_table(rows, partial)
        partial.replace(path)
    return table.num_rows


def kept(measure_key: str, kind: str, period_start: date) -> pa.Table | None:
    path = folder(measure_key, kind) / f"{period_start.isoformat()}.parquet"
    return pq.read_table(path) if path.exists() else None


def measurement_period(table: pa.Table) -> tuple[str, str] | None:
    """The measurement period kept with an eCQM's cases ("YYYY-MM-DD" first and last day)."""
    text = (table.schema.metadata or {}).get(MEASUREMENT_PERIOD)
    if not text:
        return None
    first, _, last = text.decode().partition("..")
    return first, last
