"""The cases behind a cell, ready for chart review: each kept case (framed_table) with the
patient's name, medical record number, birth date and sex and the encounter's dates, read from
the FHIR store through ViewDefinitions (SQL-on-FHIR) over only the resources the cases name;
then filtered (in the numerator, in the denominator, excluded; a text in the name or MRN),
sorted by any column and cut to one page, in DuckDB.

Plain Python and DuckDB: the page, its export and the audit entry are the measures module's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from andon.analytics.fhir.sof import compile_view

from .aggregate import DIMENSIONS
from .workspace import KpiError

# The facts a reviewer needs to find the chart: official name (else the first), the identifier
# typed MR (HL7 v2-0203), birth date and administrative sex.
PATIENT_VIEW = {
    "resourceType": "ViewDefinition", "name": "review_patient", "status": "active", "resource": "Patient",
    "select": [{"column": [
        {"name": "id", "path": "getResourceKey()", "type": "string"},
        {"name": "official_family", "path": "name.where(use = 'official').family.first()", "type": "string"},
        {"name": "official_given", "path": "name.where(use = 'official').first().given.join(' ')", "type": "string"},
        {"name": "family", "path": "name.family.first()", "type": "string"},
        {"name": "given", "path": "name.first().given.join(' ')", "type": "string"},
        {"name": "text", "path": "name.text.first()", "type": "string"},
        {"name": "mrn", "path": "identifier.where(type.coding.where(code = 'MR').exists()).value.first()",
         "type": "string"},
        {"name": "birth_date", "path": "birthDate", "type": "date"},
        {"name": "gender", "path": "gender", "type": "code"},
    ]}],
}
ENCOUNTER_VIEW = {
    "resourceType": "ViewDefinition", "name": "review_encounter", "status": "active", "resource": "Encounter",
    "select": [{"column": [
        {"name": "id", "path": "getResourceKey()", "type": "string"},
        {"name": "period_start", "path": "period.start", "type": "dateTime"},
        {"name": "period_end", "path": "period.end", "type": "dateTime"},
    ]}],
}

# column -> the SQL it sorts by (then the case id, so that pages never overlap)
SORTS = {
    "name": "lower(family), lower(given)",
    "mrn": "mrn",
    "age": "age",
    "sex": "sex",
    "unit": "lower(unit_name)",
    "admitted": "admitted",
    "discharged": "discharged",
    "at": '"at"',
    "numerator": "numerator",
    "denominator": "denominator",
    "value": '"value"',
}
# which cases: in the numerator, in the denominator, in the denominator and not the numerator,
# or excluded (in the initial population, not in the denominator: exclusions and exceptions)
COUNTED = {
    "": "TRUE",
    "numerator": "numerator <> 0",
    "denominator": "denominator <> 0",
    "not-numerator": "denominator <> 0 AND numerator = 0",
    "excluded": "denominator = 0",
}
COLUMNS = ("case_id", "patient_id", "encounter_id", "at", "unit_key", "unit_name", "numerator", "denominator", "value",
           "family", "given", "mrn", "birth_date", "age", "sex", "admitted", "discharged")


@dataclass
class Page:
    rows: list[dict]
    total: int  # cases matching the filters, all pages


def _bare(key: str | None, kind: str) -> str | None:
    """`Patient/123` -> `123` (the store's id); other references are not in the store."""
    if not key or not key.startswith(kind + "/"):
        return None
    return key[len(kind) + 1:]


def chart_facts(store: duckdb.DuckDBPyConnection | None, patient_keys: Sequence[str],
                encounter_keys: Sequence[str]) -> tuple[pa.Table, pa.Table]:
    """(patients, encounters) of the store named by the cases (`Patient/…`, `Encounter/…`), as
    the views above give them; empty tables without a store. Only those resources are read."""
    tables = []
    for view, keys, kind in ((PATIENT_VIEW, patient_keys, "Patient"), (ENCOUNTER_VIEW, encounter_keys, "Encounter")):
        ids = sorted({bare for key in keys if (bare := _bare(key, kind))})
        chosen = ("(SELECT * FROM resources WHERE type = $type AND id IN (SELECT unnest(CAST($ids AS VARCHAR[]))))"
                  " AS chosen")
        sql, columns = compile_view(view, table=chosen)
        if store is None or not ids:
            tables.append(pa.table({c.name: pa.array([], pa.string()) for c in columns}))
            continue
        try:
            tables.append(store.sql(sql, params={"type": kind, "ids": ids}).to_arrow_table())
        except duckdb.Error as error:
            raise KpiError(f"cannot read the {kind} resources: {str(error).strip().splitlines()[0]}") from None
    return tables[0], tables[1]


def case_page(kept: pa.Table, patients: pa.Table, encounters: pa.Table, *, unit_keys: Sequence[str] | None,
              unit_names: Mapping[str, str], stratum: str = "", stratum_value: str = "", counted: str = "",
              search: str = "", sort: str = "at", descending: bool = False, offset: int = 0,
              limit: int | None = 50) -> Page:
    """One page of the cases of a kept table behind a cell (all units when `unit_keys` is None, else
    those units), with the chart facts; `limit` None gives every matching case (an export).
    Age is in whole years at the date the case counts (UTC, as its age band)."""
    if stratum and stratum not in DIMENSIONS:
        raise KpiError(f"unknown stratum {stratum!r}")
    if sort not in SORTS:
        raise KpiError(f"sort: {sort!r} is not a column ({', '.join(SORTS)})")
    if counted not in COUNTED:
        raise KpiError(f"counted: {counted!r} is not one of {', '.join(c for c in COUNTED if c)}")
    conditions, parameters = [COUNTED[counted]], {}
    cell = ["TRUE"]
    if unit_keys is not None:
        parameters["units"] = list(unit_keys)
        cell.append("list_contains(CAST($units AS VARCHAR[]), unit_key)")
    if stratum:
        parameters["stratum_value"] = stratum_value
        cell.append(f"CAST({stratum} AS VARCHAR) = $stratum_value")
    if search.strip():
        parameters["search"] = search.strip().lower()
        conditions.append("(contains(lower(concat_ws(' ', given, family)), $search)"
                          " OR contains(lower(concat_ws(' ', family, given)), $search)"
                          " OR contains(lower(coalesce(mrn, '')), $search))")
    names = pa.table({"unit_key": list(unit_names), "unit_name": list(unit_names.values())},
                     schema=pa.schema([("unit_key", pa.string()), ("unit_name", pa.string())]))
    order = ", ".join(f"{part.strip()} {'DESC' if descending else 'ASC'} NULLS LAST" for part in SORTS[sort].split(","))
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        for name, table in (("kept", kept), ("patients", patients), ("encounters", encounters), ("unit_names", names)):
            connection.register(name, table)
        rows_sql = f"""
            WITH reviewed AS (
                SELECT c.case_id, c.patient_id, c.encounter_id, c."at", c.unit_key, n.unit_name, c.numerator,
                       c.denominator, c."value",
                       coalesce(p.official_family, p.family, p.text) AS family,
                       coalesce(p.official_given, p.given) AS given, p.mrn,
                       TRY_CAST(p.birth_date AS DATE) AS birth_date,
                       date_sub('year', TRY_CAST(p.birth_date AS DATE), CAST(c."at" AS DATE)) AS age,
                       coalesce(nullif(p.gender, ''), CAST(c.sex AS VARCHAR)) AS sex,
                       TRY_CAST(e.period_start AS TIMESTAMPTZ) AS admitted,
                       TRY_CAST(e.period_end AS TIMESTAMPTZ) AS discharged
                FROM (SELECT * FROM kept WHERE {" AND ".join(cell)}) AS c
                LEFT JOIN (SELECT DISTINCT ON (id) * FROM patients) AS p ON p.id = c.patient_id
                LEFT JOIN (SELECT DISTINCT ON (id) * FROM encounters) AS e ON e.id = c.encounter_id
                LEFT JOIN unit_names AS n ON n.unit_key = c.unit_key)
            SELECT {", ".join(f'"{c}"' for c in COLUMNS)} FROM reviewed WHERE {" AND ".join(conditions)}"""
        total = connection.execute(f"SELECT count(*) FROM ({rows_sql})", parameters).fetchone()[0]
        found = connection.execute(f"{rows_sql} ORDER BY {order}, case_id{page}", parameters).fetchall()
    except duckdb.Error as error:
        raise KpiError(f"cannot list the cases: {str(error).strip().splitlines()[0]}") from None
    finally:
        connection.close()
    return Page([dict(zip(COLUMNS, row, strict=True)) for row in found], total)
