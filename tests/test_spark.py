"""The Spark session helper: the master from the environment, and what a user is told when Spark cannot run."""

from __future__ import annotations

import sys

import pytest

from creditmesh.spark import (
    DEFAULT_MASTER,
    MASTER_VARIABLE,
    SparkUnavailable,
    master,
    require_pyspark,
)


def test_the_master_comes_from_the_environment_with_local_as_default(monkeypatch):
    monkeypatch.delenv(MASTER_VARIABLE, raising=False)
    assert master() == DEFAULT_MASTER == "local[*]"
    monkeypatch.setenv(MASTER_VARIABLE, "spark://head:7077")
    assert master() == "spark://head:7077"


def test_without_pyspark_the_error_says_how_to_install_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    with pytest.raises(SparkUnavailable, match=r"pip install 'creditmesh\[spark\]'"):
        require_pyspark()


def test_without_java_the_error_says_to_install_a_jre(monkeypatch, tmp_path):
    pytest.importorskip("pyspark")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java-here"))
    with pytest.raises(SparkUnavailable, match="openjdk-17-jre-headless"):
        require_pyspark()


def test_the_command_line_says_what_to_install_instead_of_a_traceback(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from creditmesh.cli import app

    monkeypatch.setitem(sys.modules, "pyspark", None)
    result = CliRunner().invoke(app, ["series", str(tmp_path), "--engine", "spark"])
    assert result.exit_code == 2
    assert "creditmesh[spark]" in result.output and "Traceback" not in result.output
