"""The Spark session Andon runs on, from its configuration.

    ANDON_ANALYTICS_ENGINE   duckdb (default) or spark
    ANDON_SPARK_MASTER       Spark's master URL (default local[2]: this machine's two cores);
                             spark://host:7077, k8s://…, yarn on a cluster
    ANDON_SPARK_CONF         more Spark settings, "key=value" separated by ";"
                             (e.g. "spark.executor.memory=8g;spark.executor.instances=16")

Nothing here downloads: Spark's own jars come with PySpark, and no package (`spark.jars.
packages`) is asked for.
"""

from __future__ import annotations

import logging
import os
import sys

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[2]"

# Settings that make Spark behave as the DuckDB engine does, whatever the cluster's defaults.
_SETTINGS = {
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",  # as DuckDB's SET TimeZone='UTC' in the store
    "spark.sql.ansi.enabled": "true",  # a bad cast is an error, as in DuckDB, never a silent NULL
    "spark.ui.showConsoleProgress": "false",
    # a view's SQL nests a lambda per path step and per repeat level: more than Spark's 100
    # resolution rounds for the deepest views of the conformance suite
    "spark.sql.analyzer.maxIterations": "1000",
    # SQL reads tables, never files named in it (parquet.`/path`): a measure's SQL sees the
    # workspace's tables and nothing else, as on DuckDB (enable_external_access = false)
    "spark.sql.runSQLOnFiles": "false",
}
# On this machine's cores (local mode): few shuffle partitions for small data, and Spark's own
# logging quiet. A cluster keeps its own (adaptive execution sizes the partitions there).
_LOCAL_SETTINGS = {
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=ERROR",
}


class EngineError(RuntimeError):
    """Spark asked for but not available (the extra not installed, or no Java)."""


def engine(configured: str | None = None) -> str:
    """The configured analytics engine (`configured`, else ANDON_ANALYTICS_ENGINE); a clear
    error for anything but the two known."""
    configured = os.environ.get("ANDON_ANALYTICS_ENGINE", "duckdb") if configured is None else configured
    name = configured.strip().lower() or "duckdb"
    if name not in ENGINES:
        raise EngineError(f"ANDON_ANALYTICS_ENGINE is {name!r}: it must be one of {', '.join(ENGINES)}")
    return name


def engine_for_command() -> str | None:
    """The configured engine for a command, or None once the command's error is printed."""
    try:
        return engine()
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


NO_STORE = "ANDON_SPARK_STORE is not set: the folder (or object-store URL) of the Spark store"


def store_for_command() -> str | None:
    """ANDON_SPARK_STORE for a command, or None once the command's error is printed."""
    store = os.environ.get("ANDON_SPARK_STORE", "").strip()
    if not store:
        print(f"error: {NO_STORE}, written by `andon fhir load` on Spark or by `andon fhir parquet`",
              file=sys.stderr)
    return store or None


def extra_settings(text: str | None = None) -> dict[str, str]:
    """ANDON_SPARK_CONF as a dict; a clear error naming the item that has no '='."""
    text = os.environ.get("ANDON_SPARK_CONF", "") if text is None else text
    settings = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise EngineError(f"ANDON_SPARK_CONF: {item!r} is not key=value")
        settings[key.strip()] = value.strip()
    return settings


def spark(master: str | None = None):
    """The Spark session (made once per process, then shared)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("Spark is not installed: pip install 'andon[spark]' (PySpark 4 and sqlglot)") from None
    master = master or os.environ.get("ANDON_SPARK_MASTER") or DEFAULT_MASTER
    builder = SparkSession.builder.master(master).appName("andon")
    local = master.startswith("local")
    if local:
        # Python workers (eCQM evaluation) run Andon's own interpreter, with its packages, unless
        # told otherwise; on a cluster the executors' Python is the cluster's (PYSPARK_PYTHON)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in {**_SETTINGS, **(_LOCAL_SETTINGS if local else {}), **extra_settings()}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("OFF")
    # PySpark logs every failed query's plan and Java stack as an error; Andon reports the
    # failure itself, in words (a view's or a measure's error), so the log would only repeat it
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return session


def release(frame) -> None:
    """Free the blocks of a locally checkpointed frame now. `DataFrame.unpersist` does not (it
    uncaches `persist`'s data only), and Spark's cleaner frees them only once the JVM has
    collected the frame: a library's computation kept every measure's cases in the executors'
    memory and disk until then. The checkpoint is the RDD under the frame's plan (LogicalRDD)."""
    plan = frame._jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
