"""SQL-on-FHIR ViewDefinitions on Spark.

The store on Spark (`store`: a folder or an object-store URL, written by `andon fhir load` on
Spark or by `andon fhir parquet`) holds each resource's `id`, `patient` key and JSON text
(`resource`), partitioned by type and ordered by patient within it. A version also holds
its resources as typed columns by type (`typed`): a view of the form those serve (`sof.typed`:
member paths) reads its type's columns, compiled over the same structure as on DuckDB; any other
view reads the JSON text as a VARIANT. Either way the view's DuckDB SQL (`fhir.sof`) is turned
into Spark SQL (`dialect`).

The resources and typed columns a view reads are those last shown in the Spark session
(`show_resources`, `register`): temporary views, one store version at a time per session, and
the structures of the typed columns shown, kept by session beside them.
"""

from __future__ import annotations

import re
import weakref

import pyarrow as pa

from ..fhir.columnar import TypedTable
from ..fhir.sof import Limits, ViewError, compile_view
from ..fhir.sof.compile import typed_plan
from ..fhir.sof.typed import typed_select
from . import dialect, typed

RESOURCES = "resources"  # the name the compiled SQL reads
_TYPED_VIEW = "andon_typed_{}"  # a type's typed columns, numbered: type names may differ by case only
# Spark session -> {type: its typed columns as shown there}: Spark's catalog knows the temporary
# views, not the structures a view compiles over. Gone with the session.
_shown: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def register(spark, store: str) -> None:
    """Make the store's resources (its newest complete version) the `resources` the compiled
    views read, and its typed columns theirs (temporary views); `StoreError` when it has none."""
    path = _current(spark, store)
    show_resources(spark.read.parquet(path), typed.read(spark, str(store), path))


def show_resources(frame, typed_columns: dict[str, typed.Typed] | None = None) -> None:
    """Make a frame of a store version's rows the `resources` the compiled views read, and
    `typed_columns` (type -> typed.Typed, of the same version) the columns views of their types read."""
    spark = frame.sparkSession
    hide_typed(spark)
    shown = _shown.setdefault(spark, {})
    frame.selectExpr("type", "id", "patient", "parse_json(resource) AS resource").createOrReplaceTempView(RESOURCES)
    for number, (resource_type, columns) in enumerate(sorted((typed_columns or {}).items())):
        name = _TYPED_VIEW.format(number)
        columns.frame.createOrReplaceTempView(name)
        shown[resource_type] = TypedTable(name, columns.structure)


def read_resources(spark, store: str):
    """The store's newest complete version as a DataFrame (JSON text in `resource`)."""
    return spark.read.parquet(_current(spark, store))


def _current(spark, store: str) -> str:
    from . import store as spark_store

    path = spark_store.current(spark, str(store))
    if path is None:
        raise spark_store.StoreError(f"no FHIR store at {store} (load data with `andon fhir load`, "
                                     "or write one with `andon fhir parquet`)")
    return path


def shown_typed(spark) -> list[str]:
    """The types whose typed columns views read now in the session."""
    return sorted(_shown.get(spark, {}))


def hide_typed(spark) -> None:
    """Forget the typed columns shown: views read the JSON text until others are shown."""
    for shown in _shown.pop(spark, {}).values():
        spark.catalog.dropTempView(shown.table)


def register_resources(spark, resources: list[dict], typed_columns: bool = False) -> None:
    """Given resources (dicts) as `resources`, for tests and notebooks, as `register` shows a
    store; with `typed_columns`, their typed columns too (computed, not written)."""
    import json

    rows = [(r["resourceType"], str(r.get("id", i)), None, json.dumps(r, allow_nan=False)) for i, r in enumerate(resources)]
    frame = spark.createDataFrame(rows, "type string, id string, patient string, resource string").coalesce(1)
    found = typed.structures_of([(row[0], row[3]) for row in rows]) if typed_columns else None
    show_resources(frame, typed.shred(frame, found) if typed_columns else None)


def spark_sql(spark, view: dict, limits: Limits | None = None) -> str:
    """The view's query in Spark SQL, over its type's typed columns when they are shown in the
    session and the view is of the form they serve, else over the JSON text; `ViewError` for an
    invalid view, as on DuckDB."""
    sql, _ = compile_view(view, limits=limits, bound_levels=True)  # an invalid view is refused either way
    plan = typed_plan(view)
    columns = _shown.get(spark, {}).get(view.get("resource")) if plan is not None else None
    select = typed_select(plan, columns, view["resource"], one_generator=True) if columns else None
    return dialect.spark_sql(select if select is not None else sql)


def run(spark, view: dict, limits: Limits | None = None) -> pa.Table:
    """The view's rows (the registered `resources`) as an Arrow table, columns in the view's
    order. `ViewError` as `fhir.sof.run`: an invalid view, or data the view cannot flatten."""
    query = spark_sql(spark, view, limits)
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
    ANDON_SPARK_STORE, rows printed a partition at a time, or written by Spark's executors to
    `out` (`write_rows`): the driver never holds them all, whatever their number."""
    import sys

    from . import session
    from .store import StoreError

    store = session.store_for_command()
    if store is None:
        return 2
    try:
        spark = session.spark()
        register(spark, store)
        frame = spark.sql(spark_sql(spark, view))
        rows = _printed(frame) if out is None else write_rows(frame, str(out))
    except (session.EngineError, ViewError, StoreError) as error:
        print(f"error: {name}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # pyspark's: AnalysisException for a store it cannot read, a view's error(…)
        if type(error).__name__ == "AnalysisException":
            print(f"error: cannot read the store at {store}: {str(error).splitlines()[0]}", file=sys.stderr)
            return 2
        if not isinstance(found := _view_error(error), ViewError):
            raise
        print(f"error: {name}: {found}", file=sys.stderr)
        return 2
    print(f"({rows} rows)" if out is None else f"{rows} rows written to {out}", file=sys.stderr)
    return 0


def _printed(frame) -> int:
    """The frame's rows printed as on DuckDB (`print_rows`), a partition at a time; the rows."""
    from ..fhir.sof.engine import print_rows

    counted = 0

    def rows():
        nonlocal counted
        for row in frame.toLocalIterator():
            counted += 1
            yield row.asDict()

    print_rows(frame.columns, rows())
    return counted


def write_rows(frame, out: str) -> int:
    """The view's rows written by Spark to `out` (a local path or an object-store URL): a
    folder of Parquet files for .parquet, of CSV files with a header for .csv (lists as JSON
    arrays, as on DuckDB), one per task, as Spark writes a table; the rows written. They are
    written to a hidden folder beside `out` and put in its place once complete: a view that
    fails part-way leaves an older `out` as it was."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    from . import store

    leaf = out.rstrip("/").rpartition("/")[2]
    suffix = leaf.rpartition(".")[2].lower() if "." in leaf else ""
    if suffix not in ("parquet", "csv"):
        raise ViewError(f"{out}: the output must end in .parquet or .csv")
    staged = f"{out.rstrip('/')[:-len(leaf)]}.{leaf}.partial-{store.new_version()}"
    written = Observation("written")
    observed = frame.observe(written, F.count(F.lit(1)).alias("rows"))
    try:
        if suffix == "parquet":
            observed.write.parquet(staged)
        else:
            # quotes in a value doubled (RFC 4180, as DuckDB's file), not Spark's backslash
            _csv_ready(observed).write.options(header=True, escape='"').csv(staged)
        store.put_in_place(frame.sparkSession, staged, out)
    finally:
        store.remove(frame.sparkSession, staged)
    return written.get["rows"]


def _csv_ready(frame):
    """CSV has no lists: they are written as JSON arrays (text), as on DuckDB."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    return frame.select([F.to_json(F.col(f"`{f.name}`")).alias(f.name) if isinstance(f.dataType, ArrayType)
                         else F.col(f"`{f.name}`") for f in frame.schema.fields])
