"""Fixtures every test folder may use: one local Spark session for the whole run (the Spark tests)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One small local SparkSession for the session: 2 cores, 4 shuffle partitions, no UI.

    Without PySpark or Java the Spark tests are skipped on a developer's machine and fail under
    CI (``CI`` set), where ``.ci/run`` installs both.
    """
    from creditmesh.spark import SparkUnavailable, require_pyspark, spark_session

    try:
        require_pyspark()
    except SparkUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI: the Spark tests cannot run: {error}")
        pytest.skip(str(error))
    session = spark_session(
        "creditmesh-tests",
        master_url="local[2]",
        config={
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "4",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "1g",
            "spark.sql.adaptive.enabled": "true",
        },
        checkpoint_dir=tmp_path_factory.mktemp("spark-checkpoints"),
    )
    yield session
    session.stop()
