"""The KPI workspace on Spark: a measure's SQL and its aggregation (kpi.aggregate) run by Spark.

The views a computation reads are computed by Spark from one version of the store (`store.
Opened`) and cached; the unit map and the units' tree are small tables beside them. The KPI
layer writes DuckDB's SQL, which is turned into Spark's (`dialect`, with DOUBLE division) and
run with its `$name` parameters bound as Spark's named parameters. Every table is a Spark
temporary view of a cached DataFrame, so that the cases a measure's cells, counts and kept
cases all read are computed once; only what the KPI layer asks for comes back to the driver.

Spark's temporary views belong to the session: one workspace at a time per Spark session (a
computation holds one from start to end). A measure's SQL reads nothing but these tables:
`kpi.referenced_views` refuses any other name, and the session does not run SQL on files
(`spark.sql.runSQLOnFiles` false, session.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import pyarrow as pa

from ..kpi.workspace import KpiError, Workspace
from . import dialect, session, typed, views


class SparkWorkspace(Workspace):
    """kpi.Workspace on Spark: `store` is a store version opened for the computation (store.open_current)."""

    def __init__(self, store, definitions, views_needed, unit_map=(), unit_tree=(), attribution: bool = False):
        if store is None:
            raise KpiError("a workspace on Spark needs a store")
        self.spark = store.spark
        super().__init__(store, definitions, views_needed, unit_map, unit_tree, attribution)

    def _open(self) -> None:
        self._frames: dict[str, object] = {}

    def _load_views(self, store, names: list[str]) -> None:
        types = {self.definitions[name].get("resource") for name in names}
        views.show_resources(self.spark.read.parquet(store.version),
                             typed.read(self.spark, store.folder, store.version, types))
        for name in names:
            query = views.spark_sql(self.spark, self.definitions[name])
            with self.errors(cannot=f"the view {name} cannot be computed"):
                self._keep(name, self.spark.sql(query))
            self.loaded.add(name)

    def _seal(self) -> None:
        """Nothing to close: the tables are all the SQL can name (see the module's docstring)."""

    def rows(self, query: str, parameters: dict | None = None) -> list[tuple]:
        with self.errors():
            return [tuple(row) for row in self._frame(query, parameters).collect()]

    def columns(self, query: str) -> list[str]:
        with self.errors(cannot="the SQL cannot run"):
            return self._frame(query).columns

    def arrow(self, query: str) -> pa.Table:
        with self.errors():
            return self._frame(query).toArrow()

    def create_table(self, name: str, query: str, parameters: dict | None = None) -> None:
        with self.errors():
            self._keep(name, self._frame(query, parameters))

    def create_table_in_steps(self, steps: list[tuple[str, str, dict | None]]) -> None:
        """The steps as one query (a WITH clause of the steps before the last): Spark's joins
        spill whatever their number, and each table kept is a job of its own."""
        *before, (name, last, parameters) = steps
        if before:
            last = "WITH " + ",\n".join(f'"{step}" AS ({query})' for step, query, _ in before) + "\n" + last
        every = {key: value for *_, given in steps for key, value in (given or {}).items()}
        self.create_table(name, last, every)

    def drop_table(self, name: str) -> None:
        frame = self._frames.pop(name, None)
        if frame is not None:
            session.release(frame)
            self.spark.catalog.dropTempView(name)

    def add_table(self, name: str, table) -> None:
        """`table`: an Arrow table, or a Spark DataFrame (an eCQM's cases, made on the executors:
        spark.ecqm.run_cases_together), kept as it is computed, never brought to the driver."""
        self._check_added_name(name)
        if isinstance(table, pa.Table):
            table = self.spark.createDataFrame(table, schema=_spark_schema(table.schema))
        self._keep(name, table)

    @contextmanager
    def errors(self, cannot: str = "the SQL failed on the data") -> Iterator[None]:
        """Spark's errors on a measure's SQL as KpiError (as DuckDB's are), and SQL that cannot be
        written for Spark (dialect.DialectError) too."""
        try:
            yield
        except dialect.DialectError as error:
            raise KpiError(f"{cannot} on Spark: {error}") from None
        except Exception as error:  # pyspark's errors (AnalysisException, SparkRuntimeException, …)
            if not _is_spark_error(error):
                raise
            raise KpiError(f"{cannot}: {_spark_message(error)}") from None

    def close(self) -> None:
        for name in list(self._frames):
            self.drop_table(name)
        self.spark.catalog.dropTempView(views.RESOURCES)
        views.hide_typed(self.spark)

    def _frame(self, query: str, parameters: dict | None = None):
        return self.spark.sql(_spark_sql(query), args=parameters or None)

    def _keep(self, name: str, frame) -> None:
        """`frame` computed now and kept as the table `name` (replacing one of that name)."""
        self.drop_table(name)
        frame = frame.localCheckpoint(eager=True)
        frame.createOrReplaceTempView(name)
        self._frames[name] = frame


@lru_cache(maxsize=256)
def _spark_sql(query: str) -> str:
    """The KPI layer's DuckDB SQL in Spark's (remembered: each measure asks the same few texts)."""
    return dialect.spark_sql(query, double_division=True)


def _spark_schema(schema: pa.Schema) -> str:
    """A DDL schema for an Arrow table's columns (strings, numbers and dates: what the KPI layer
    adds), so that an empty table keeps its columns' types."""
    types = {pa.string(): "STRING", pa.large_string(): "STRING", pa.float64(): "DOUBLE", pa.int64(): "BIGINT",
             pa.int32(): "INT", pa.bool_(): "BOOLEAN", pa.date32(): "DATE"}
    missing = [field.name for field in schema if field.type not in types]
    if missing:
        raise KpiError(f"cannot add columns of type {schema.field(missing[0]).type} to a workspace on Spark ({missing[0]})")
    return ", ".join(f"`{field.name}` {types[field.type]}" for field in schema)


def _is_spark_error(error: Exception) -> bool:
    return any(kind.__module__.startswith(("pyspark", "py4j")) for kind in type(error).__mro__)


_SQLSTATE = re.compile(r"\s*SQLSTATE: \w+.*$", re.S)


def _spark_message(error: Exception) -> str:
    """Spark's message, its first line without the SQLSTATE and the plan Spark appends. For a
    failure inside the JVM (a job aborted, a result past the driver's limit), py4j's own first
    line names only the call ("An error occurred while calling o604.getResult."), and Spark's
    exception often only wraps the cause ("Exception thrown in awaitResult:"): the root cause's."""
    text = (_java_message(error) or str(error)).strip()
    return _SQLSTATE.sub("", text.splitlines()[0]) if text else type(error).__name__


def _java_message(error: Exception) -> str | None:
    java = getattr(error, "java_exception", None)  # py4j's Py4JJavaError
    if java is None:
        return None
    try:
        while java.getCause() is not None:
            java = java.getCause()
        return str(java.toString())
    except Exception:  # the JVM gone (killed for its memory): py4j's own text then
        return None
