"""Apache Spark for the scale-out paths: one place that finds PySpark and Java and starts a session.

The graph, batch scoring and the portfolio metrics run on Spark with ``--engine spark``
(``graph/spark.py``, ``scoring/spark.py``, ``portfolio/spark.py``); they take a session from
:func:`spark_session`. The master is ``CREDITMESH_SPARK_MASTER`` (default ``local[*]``: every core
of this machine); a cluster URL (``spark://host:7077``, ``yarn``, ``k8s://...``) sends the same work
to a cluster. Where PySpark is missing the error says how to install the extra; where Java is
missing, it says that. Sessions are pinned to UTC, so a timestamp's calendar day is the same as
DuckDB's, and to the checkpoint folder the iterative graph algorithms cut their lineage with.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from creditmesh.errors import CreditmeshError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The environment variable naming the Spark master, and its default (every local core).
MASTER_VARIABLE = "CREDITMESH_SPARK_MASTER"
DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "install the spark extra: pip install 'creditmesh[spark]'"
JAVA_HINT = (
    "Spark needs Java 17 or later: install a JRE (Debian: apt-get install openjdk-17-jre-headless) "
    "or set JAVA_HOME"
)
#: Settings every creditmesh session has (callers may add to them).
BASE_CONFIG: Mapping[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}


class SparkUnavailable(CreditmeshError):
    """PySpark or Java is missing: the reason says what to install."""


def master() -> str:
    """The Spark master from ``CREDITMESH_SPARK_MASTER``, ``local[*]`` when unset or empty."""
    return os.environ.get(MASTER_VARIABLE, "").strip() or DEFAULT_MASTER


def require_pyspark() -> None:
    """Refuse, with the install command, when PySpark is not importable; with the Java hint when Java is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable("engine", f"PySpark is not installed; {INSTALL_HINT}") from None
    if java_executable() is None:
        raise SparkUnavailable("engine", f"no java found on PATH or in JAVA_HOME; {JAVA_HINT}")


def java_executable() -> str | None:
    """The java that Spark will start: ``$JAVA_HOME/bin/java`` when set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


def spark_session(
    app_name: str = "creditmesh",
    *,
    master_url: str | None = None,
    config: Mapping[str, str] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> SparkSession:
    """A SparkSession for creditmesh's work (an existing active one is reused, with the settings applied).

    ``master_url`` defaults to :func:`master`; ``config`` adds settings to :data:`BASE_CONFIG`
    (e.g. ``spark.sql.shuffle.partitions``); ``checkpoint_dir`` is where the iterative graph
    algorithms cut their lineage (default: a fresh temporary folder; on a cluster, pass a shared one).
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    url = master_url or master()
    settings = {**BASE_CONFIG, **(config or {})}
    if url.startswith("local"):
        # PySpark starts its workers with $PYSPARK_PYTHON (default: python3 on PATH, which need not have
        # creditmesh); locally they run this interpreter. A cluster's executors bring their own Python.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name).master(url)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:  # py4j / JVM start-up failures come as many types
        raise SparkUnavailable("engine", f"Spark did not start ({error}); {JAVA_HINT}") from None
    for key, value in settings.items():
        if key.startswith("spark.sql."):  # runtime settings; the others hold from the session's start
            session.conf.set(key, value)
    if checkpoint_dir is None and not session.sparkContext.getCheckpointDir():
        checkpoint_dir = tempfile.mkdtemp(prefix="creditmesh-spark-checkpoints-")
    if checkpoint_dir is not None:
        session.sparkContext.setCheckpointDir(str(checkpoint_dir))
    return session
