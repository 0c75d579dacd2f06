"""``--engine spark`` on the commands: the same figures, rings and grey list as the local engine, from the same folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from creditmesh.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def book_dir(spark, cli_book):
    return cli_book


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_metrics_and_series_on_spark_print_what_duckdb_prints(book_dir):
    local = json.loads(_run("metrics", str(book_dir), "--format", "json"))
    assert json.loads(_run("metrics", str(book_dir), "--format", "json", "--engine", "spark")) == local
    assert _run("series", str(book_dir), "--freq", "quarter", "--engine", "spark") == _run(
        "series", str(book_dir), "--freq", "quarter"
    )


def test_graph_build_rings_and_lists_on_spark_match_the_local_engine(book_dir, tmp_path):
    _run("graph", "build", str(book_dir), "--out", str(tmp_path / "local"))
    built = _run("graph", "build", str(book_dir), "--out", str(tmp_path / "spark"), "--engine", "spark")
    assert "wrote" in built and (tmp_path / "spark" / "manifest.json").is_file()
    common = ["--data", str(book_dir), "--min-size", "2", "--top", "1000", "--format", "json"]
    local = json.loads(_run("graph", "rings", "--graph", str(tmp_path / "local"), *common))
    ours = json.loads(
        _run("graph", "rings", "--graph", str(tmp_path / "spark"), *common, "--engine", "spark")
    )
    assert ours == local and local["rings"] > 0
    lists = ["--data", str(book_dir), "--threshold", "0.02"]
    _run(
        "graph", "lists", "--graph", str(tmp_path / "local"), *lists, "--out", str(tmp_path / "grey.parquet")
    )
    _run(
        "graph",
        "lists",
        "--graph",
        str(tmp_path / "spark"),
        *lists,
        "--out",
        str(tmp_path / "grey_spark.parquet"),
        "--engine",
        "spark",
    )
    expected, got = (
        pd.read_parquet(tmp_path / "grey.parquet"),
        pd.read_parquet(tmp_path / "grey_spark.parquet"),
    )
    assert sorted(got["borrower_id"]) == sorted(expected["borrower_id"]) and len(got) > 0
    assert (got["risk"] - expected["risk"]).abs().max() <= 1e-9  # riskiest first, ties within 1e-9 aside


def test_a_local_graph_folder_is_refused_by_the_spark_engine_with_a_reason(book_dir, tmp_path):
    _run("graph", "build", str(book_dir), "--out", str(tmp_path / "local"))
    result = runner.invoke(
        app,
        ["graph", "rings", "--graph", str(tmp_path / "local"), "--data", str(book_dir), "--engine", "spark"],
    )
    assert result.exit_code == 2 and "--engine spark" in result.output
