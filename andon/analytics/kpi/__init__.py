"""KPIs over the core SQL-on-FHIR views (pure Python, DuckDB): a measure's SQL gives one row per
case, and the cases are added up by period, unit and equity stratum (aggregate.py), in a
workspace holding the views it reads (workspace.py)."""

from . import attribution, periods
from .aggregate import (
                        AGE_BANDS,
                        CASE_COLUMNS,
                        DIMENSIONS,
                        PRACTITIONER,
                        Aggregation,
                        Cell,
                        age_band_labels,
                        aggregate,
                        cases_in,
                        framed_table,
)
from .periods import KINDS, PeriodError
from .workspace import KpiError, Workspace, load_view_definitions, referenced_views

__all__ = ["AGE_BANDS", "CASE_COLUMNS", "DIMENSIONS", "KINDS", "PRACTITIONER", "Aggregation", "Cell", "KpiError", "PeriodError",
           "Workspace", "age_band_labels", "aggregate", "attribution", "cases_in", "framed_table", "load_view_definitions", "periods",
           "referenced_views"]
