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
import shutil
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
    keeper = Keeper(measure_key, kind, spans, measured)
    for start, _end in spans:
        keeper.add(start, table.filter(pc.equal(table["period_start"], pa.scalar(start, pa.date32()))))
    return keeper.done()


class Keeper:
    """A computation's cases of one measure, a period at a time (`add`, as `kpi.aggregate`
    hands them over, a large period in several parts, in order), written beside the kept ones
    and put in their place only when the computation is `done`: a measure that fails keeps its
    old cases with its old cells. Every period of `spans` without cases loses its old file then."""

    def __init__(self, measure_key: str, kind: str, spans, measured=None):
        self.target = folder(measure_key, kind)
        self.staging = self.target.parent / f".{kind}.{os.getpid()}.partial"
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        self.spans, self.measured, self.rows = spans, measured, 0
        self._writing: tuple[date, pq.ParquetWriter] | None = None  # the period being written

    def add(self, start: date, rows: pa.Table) -> None:
        """`rows`: cases of the period beginning `start`, added to those given for it before."""
        if rows.num_rows == 0:
            return
        if self.measured is not None:
            first, last = self.measured(start)
            rows = rows.replace_schema_metadata({MEASUREMENT_PERIOD: f"{first.isoformat()}..{last.isoformat()}".encode()})
        if self._writing is None or self._writing[0] != start:
            self._close()
            self._writing = (start, pq.ParquetWriter(self.staging / f"{start.isoformat()}.parquet", rows.schema))
        self._writing[1].write_table(rows)
        self.rows += rows.num_rows

    def done(self) -> int:
        """The periods' files in place of the kept ones; the rows kept."""
        self._close()
        self.target.mkdir(parents=True, exist_ok=True)
        for start, _end in self.spans:
            name = f"{start.isoformat()}.parquet"
            if (self.staging / name).exists():
                (self.staging / name).replace(self.target / name)
            else:
                (self.target / name).unlink(missing_ok=True)
        self.discard()
        return self.rows

    def discard(self) -> None:
        self._close()
        shutil.rmtree(self.staging, ignore_errors=True)

    def _close(self) -> None:
        if self._writing is not None:
            self._writing[1].close()
            self._writing = None


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
