"""Fixtures of the analytics tests."""

import shutil

import pytest


@pytest.fixture(scope="session")
def spark():
    """A Spark session in local mode, one per test process (made once, on first use); the test
    skips, saying why, without PySpark or Java."""
    pytest.importorskip("pyspark", reason="PySpark is not installed (the spark extra: pip install 'andon[spark]')")
    if shutil.which("java") is None:
        pytest.skip("no Java on this machine: Spark needs Java 17")
    from andon.analytics.spark import session

    return session.spark()
