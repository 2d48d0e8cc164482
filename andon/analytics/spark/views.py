"""SQL-on-FHIR ViewDefinitions on Spark.

The store on Spark (`store`: a folder or an object-store URL, written by `andon fhir load` on
Spark or by `andon fhir parquet`) holds each resource's `id`, `patient` key and JSON text
(`resource`), partitioned by type and ordered by patient within it. Spark reads the JSON text
as a VARIANT; the view's DuckDB SQL (`fhir.sof`, compiled
without the typed-column shortcut) is turned into Spark SQL (`dialect`) and runs over it.
"""

from __future__ import annotations

import re

import pyarrow as pa

from ..fhir.sof import Limits, ViewError, compile_view
from . import dialect

RESOURCES = "resources"  # the name the compiled SQL reads


def register(spark, store: str) -> None:
    """Make the store's resources (its newest complete version) the `resources` the compiled
    views read (a temporary view); `StoreError` when it has none."""
    show_resources(read_resources(spark, store))


def show_resources(frame) -> None:
    """Make a frame of a store version's rows the `resources` the compiled views read."""
    frame.selectExpr("type", "id", "patient", "parse_json(resource) AS resource").createOrReplaceTempView(RESOURCES)


def read_resources(spark, store: str):
    """The store's newest complete version as a DataFrame (JSON text in `resource`)."""
    from . import store as spark_store

    path = spark_store.current(spark, str(store))
    if path is None:
        raise spark_store.StoreError(f"no FHIR store at {store} (load data with `andon fhir load`, "
                                     "or write one with `andon fhir parquet`)")
    return spark.read.parquet(path)


def register_resources(spark, resources: list[dict]) -> None:
    """Given resources (dicts) as `resources`, for tests and notebooks, as `register` shows a store."""
    import json

    rows = [(r["resourceType"], str(r.get("id", i)), json.dumps(r, allow_nan=False)) for i, r in enumerate(resources)]
    frame = spark.createDataFrame(rows, "type string, id string, raw string").coalesce(1)
    frame.selectExpr("type", "id", "CAST(NULL AS STRING) AS patient", "parse_json(raw) AS resource").createOrReplaceTempView(RESOURCES)


def spark_sql(view: dict, limits: Limits | None = None) -> str:
    """The view's query in Spark SQL; `ViewError` for an invalid view, as on DuckDB."""
    sql, _ = compile_view(view, limits=limits)
    return dialect.spark_sql(sql)


def run(spark, view: dict, limits: Limits | None = None) -> pa.Table:
    """The view's rows (the registered `resources`) as an Arrow table, columns in the view's
    order. `ViewError` as `fhir.sof.run`: an invalid view, or data the view cannot flatten."""
    query = spark_sql(view, limits)
    try:
        return spark.sql(query).toArrow()
    except Exception as error:  # pyspark's errors: a value met by error() or a failed cast
        raise _view_error(error) from None


_RAISED = re.compile(r"\[USER_RAISED_EXCEPTION\]\s*(.*?)(?:\s+SQLSTATE:|\n|$)", re.S)
_CAST = re.compile(r"\[(CAST_INVALID_INPUT|CAST_OVERFLOW|INVALID_VARIANT_CAST)[^\]]*\]\s*(.*?)(?:\s+SQLSTATE:|\n|$)", re.S)


def _view_error(error: Exception) -> Exception:
    """A ViewError with the message the view's SQL gave (error(…)) or Spark's cast message;
    anything else (Spark itself failing) is passed on as it is."""
    text = str(error)
    found = _RAISED.search(text)
    if found:
        return ViewError(found.group(1).strip())
    found = _CAST.search(text)
    if found:
        return ViewError(f"a value is not of the column's type: {found.group(2).strip()}")
    return error


def cli_view(view: dict, out, name) -> int:
    """`andon fhir view` on Spark (ANDON_ANALYTICS_ENGINE=spark): the store at
    ANDON_SPARK_STORE, rows printed or written to `out` (.parquet or .csv) as on DuckDB."""
    import sys

    from ..fhir.sof.engine import print_rows, write
    from . import session
    from .store import StoreError

    store = session.store_for_command()
    if store is None:
        return 2
    try:
        spark = session.spark()
        register(spark, store)
        table = run(spark, view)
    except (session.EngineError, ViewError, StoreError) as error:
        print(f"error: {name}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # pyspark's AnalysisException for a store it cannot read
        if type(error).__name__ != "AnalysisException":
            raise
        print(f"error: cannot read the store at {store}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    if out is None:
        print_rows(table.column_names, table.to_pylist())
        print(f"({table.num_rows} rows)", file=sys.stderr)
    else:
        write(table, out)
        print(f"{table.num_rows} rows written to {out}", file=sys.stderr)
    return 0
