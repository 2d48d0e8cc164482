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


def keep(measure_key: str, kind: str, table: pa.Table, spans) -> int:
    """Write each period's cases of `table` (kpi.framed_table) in place of the kept ones."""
    target = folder(measure_key, kind)
    target.mkdir(parents=True, exist_ok=True)
    for start, _end in spans:
        path = target / f"{start.isoformat()}.parquet"
        rows = table.filter(pc.equal(table["period_start"], pa.scalar(start, pa.date32())))
        if rows.num_rows == 0:
            path.unlink(missing_ok=True)
            continue
        partial = path.with_suffix(f".{os.getpid()}.partial")
        pq.write_table(rows, partial)
        partial.replace(path)
    return table.num_rows


def kept(measure_key: str, kind: str, period_start: date) -> pa.Table | None:
    path = folder(measure_key, kind) / f"{period_start.isoformat()}.parquet"
    return pq.read_table(path) if path.exists() else None
