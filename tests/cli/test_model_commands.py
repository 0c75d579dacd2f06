"""`creditmesh model ...`: from a simulated platform to a trained, evaluated, scored and monitored model."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from creditmesh.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def applications(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    book = root / "book"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--placeholders",
            "--borrowers",
            "3000",
            "--months",
            "12",
            "--seed",
            "3",
            "--out",
            str(book),
        ],
    )
    assert result.exit_code == 0, result.output
    table = root / "apps.parquet"
    result = runner.invoke(app, ["model", "dataset", str(book), "--out", str(table)])
    assert result.exit_code == 0, result.output
    return table


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_train_evaluate_score_and_monitor(applications, tmp_path, kind):
    model = tmp_path / ("model.json" if kind == "scorecard" else "model")
    result = runner.invoke(
        app,
        [
            "model",
            "train",
            "--data",
            str(applications),
            "--target",
            "bad_12m",
            "--where",
            "approved",
            "--kind",
            kind,
            "--out",
            str(model),
        ],
    )
    assert result.exit_code == 0, result.output
    report = tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "model",
            "evaluate",
            str(model),
            "--data",
            str(applications),
            "--target",
            "bad_12m",
            "--report",
            str(report),
            "--reference",
            str(applications),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "auc 0." in result.stdout
    page = report.read_text()
    assert page.count("data:image/png;base64,") >= 4 and "Stability" in page
    scores = tmp_path / "scores.parquet"
    result = runner.invoke(
        app, ["model", "score", str(model), "--data", str(applications), "--out", str(scores)]
    )
    assert result.exit_code == 0, result.output
    scored = pd.read_parquet(scores)
    assert list(scored.columns[:2]) == ["application_id", "pd"]
    assert scored.pd.between(0, 1).all() and scored.grade.notna().all()
    result = runner.invoke(
        app,
        [
            "model",
            "monitor",
            str(model),
            "--reference",
            str(applications),
            "--current",
            str(applications),
            "--output",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["what"] == "score (PSI)" and all(r["status"] == "stable" for r in rows)


def test_reject_inference_options_train(applications, tmp_path):
    for method in ("augment", "parcel"):
        result = runner.invoke(
            app,
            [
                "model",
                "train",
                "--data",
                str(applications),
                "--target",
                "bad_12m",
                "--where",
                "approved",
                "--reject-inference",
                method,
                "--out",
                str(tmp_path / f"{method}.json"),
            ],
        )
        assert result.exit_code == 0, result.output


def test_declared_special_values_get_bins_of_their_own(tmp_path):
    rng = np.random.default_rng(2)
    n = 3000
    months = rng.integers(0, 60, n).astype(float)
    months[rng.random(n) < 0.1] = -1.0  # "no file at the bureau"
    months[rng.random(n) < 0.05] = -99.0  # "not asked"
    risk = np.where(months == -1, 1.0, np.where(months == -99, -0.5, -0.02 * months))
    bad = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + risk)))).astype(int)
    table = tmp_path / "book.csv"
    pd.DataFrame({"months_on_book": months, "bad": bad}).to_csv(table, index=False)
    model = tmp_path / "model.json"
    args = ["model", "train", "--data", str(table), "--target", "bad", "--out", str(model)]
    result = runner.invoke(app, [*args, "--special", "-1,-99"])
    assert result.exit_code == 0, result.output
    binning = json.loads(model.read_text())["state"]["binning"]["binnings"][0]
    assert binning["special_values"] == [-1.0, -99.0]
    counts = [e + m for e, m in zip(binning["events"], binning["nonevents"])]
    n_regular = len(binning["splits"]) + 1
    assert counts[n_regular : n_regular + 2] == [float((months == -1).sum()), float((months == -99).sum())]
    assert binning["value_range"][0] == 0.0
    result = runner.invoke(app, [*args, "--special", "-1,none"])
    assert result.exit_code == 2 and "special" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, [*args, "--special", "-1", "--kind", "gbm"])
    assert result.exit_code == 2 and "special" in result.output


def test_bad_input_is_one_line_and_exit_code_2(applications, tmp_path):
    result = runner.invoke(
        app,
        [
            "model",
            "train",
            "--data",
            str(applications),
            "--target",
            "nope",
            "--out",
            str(tmp_path / "m.json"),
        ],
    )
    assert result.exit_code == 2 and "target" in result.output and "Traceback" not in result.output
    result = runner.invoke(
        app,
        [
            "model",
            "evaluate",
            str(tmp_path / "absent.json"),
            "--data",
            str(applications),
            "--target",
            "bad_12m",
        ],
    )
    assert result.exit_code == 2 and "no model" in result.output
