"""Fixtures of the analytics tests."""

import os
import shutil

import pytest


# The tests' data is tiny: compiling each query to Java (Spark's code generation) costs more than
# running it interpreted, which gives the same results by Spark's design (a third off the
# conformance suite's time here).
TEST_SETTINGS = "spark.sql.codegen.wholeStage=false;spark.sql.codegen.factoryMode=NO_CODEGEN"


@pytest.fixture(scope="session")
def spark():
    """A Spark session in local mode, one per test process (made once, on first use); the test
    skips, saying why, without PySpark or Java."""
    pytest.importorskip("pyspark", reason="PySpark is not installed (the spark extra: pip install 'andon[spark]')")
    if shutil.which("java") is None:
        pytest.skip("no Java on this machine: Spark needs Java 17")
    from andon.analytics.spark import session

    saved = os.environ.get("ANDON_SPARK_CONF")
    os.environ["ANDON_SPARK_CONF"] = TEST_SETTINGS
    try:
        return session.spark()
    finally:
        if saved is None:
            os.environ.pop("ANDON_SPARK_CONF")
        else:
            os.environ["ANDON_SPARK_CONF"] = saved
