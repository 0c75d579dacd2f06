"""The scoring benchmarks end to end on small synthetic data, with a stand-in creditmesh.scoring."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scoring_quality  # noqa: E402
import scoring_speed  # noqa: E402


class _StandIn:
    """A logistic regression on one-hot strings and zero-filled numbers, with the scoring module's contract."""

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression

        self.columns_ = list(pd.get_dummies(X.fillna(0)).columns)
        self.model_ = LogisticRegression(max_iter=500).fit(self._design(X), y)
        return self

    def _design(self, X):
        return pd.get_dummies(X.fillna(0)).reindex(columns=self.columns_, fill_value=0).astype(float)

    def predict_proba(self, X):
        return self.model_.predict_proba(self._design(X))

    def score_one(self, record):
        return float(self.predict_proba(pd.DataFrame([record]).astype(float))[0, 1])


@pytest.fixture
def stand_in_scoring(monkeypatch):
    module = types.ModuleType("creditmesh.scoring")
    module.Scorecard = type("Scorecard", (_StandIn,), {})
    module.GBMClassifier = type("GBMClassifier", (_StandIn,), {})
    monkeypatch.setitem(sys.modules, "creditmesh.scoring", module)
    return module


@pytest.fixture
def book_csv(tmp_path):
    rng = np.random.default_rng(1)
    n = 600
    income = rng.lognormal(10, 0.5, n)
    grade = rng.choice(["A", "B", "C"], n)
    logit = -2 + (np.log(income) - 10) * -1.5 + (grade == "C") * 1.2
    frame = pd.DataFrame(
        {
            "id": range(n),
            "income": income,
            "grade": grade,
            "status": np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "bad", "good"),
        }
    )
    frame.loc[::17, "income"] = np.nan
    path = tmp_path / "book.csv"
    frame.to_csv(path, index=False)
    return path


def _last_json(capsys):
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    return json.loads(lines[-1])


def test_ece_is_zero_when_predictions_match_the_observed_rates_and_grows_with_bias():
    y = np.array([0, 1] * 500)
    assert scoring_quality.expected_calibration_error(y, np.full(1000, 0.5)) == pytest.approx(0.0)
    assert scoring_quality.expected_calibration_error(y, np.full(1000, 0.7)) == pytest.approx(0.2)


def test_quality_on_a_modellers_file_gives_creditmesh_rows_with_their_anchors(book_csv, capsys):
    code = scoring_quality.main(
        [
            "--data",
            str(book_csv),
            "--target",
            "status",
            "--folds",
            "3",
            "--methods",
            "creditmesh_scorecard,creditmesh_gbm",
        ]
    )
    assert code == 0
    payload = _last_json(capsys)
    assert payload["benchmark"] == "scoring_quality"
    rows = {row["name"]: row for row in payload["results"]}
    assert 0.6 < rows["auc_book_creditmesh_scorecard"]["creditmesh"] <= 1.0
    assert 0.6 < rows["auc_book_creditmesh_gbm"]["creditmesh"] <= 1.0
    assert rows["fit_s_book_creditmesh_scorecard"]["anchor_name"] == "toad"
    assert rows["fit_s_vs_optbinning_book_creditmesh_scorecard"]["anchor_name"] == "optbinning"
    assert "ece_book_creditmesh_gbm" not in rows  # fewer than 10,000 rows


def test_quality_says_not_available_while_the_scoring_module_is_missing(book_csv, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "creditmesh.scoring", None)  # import raises ImportError
    code = scoring_quality.main(
        [
            "--data",
            str(book_csv),
            "--target",
            "status",
            "--folds",
            "2",
            "--methods",
            "creditmesh_scorecard,creditmesh_gbm",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "not available" in out
    payload = json.loads(out.strip().splitlines()[-1])
    assert all(row["creditmesh"] is None for row in payload["results"])


def test_quality_hands_declared_special_values_to_the_scorecard(book_csv):
    X = pd.read_csv(book_csv).drop(columns=["id", "status"])
    X.loc[::5, "income"] = -99.0
    y = (pd.read_csv(book_csv).status == "bad").to_numpy(dtype=int)
    adapter = scoring_quality.METHODS["creditmesh_scorecard"].make(60.0, (-1.0, -99.0))
    adapter.fit(X, y)
    assert adapter.model.binning_.binnings_["income"].special_values == (-1.0, -99.0)
    plain = scoring_quality.METHODS["creditmesh_scorecard"].make(60.0, ())
    plain.fit(X, y)
    assert plain.model.binning_.binnings_["income"].special_values == ()


def test_quality_refuses_bad_special_values(capsys):
    with pytest.raises(SystemExit):
        scoring_quality.main(["--datasets", "german", "--special", "-1,x"])


def test_quality_refuses_a_target_without_data_and_unknown_methods(capsys):
    with pytest.raises(SystemExit):
        scoring_quality.main(["--target", "x"])
    with pytest.raises(SystemExit):
        scoring_quality.main(["--methods", "nope"])


def test_synthetic_applications_have_credit_shapes_missing_values_and_the_asked_bad_rate():
    X, y = scoring_speed.synthetic_applications(20_000, 17, seed=3)
    assert X.shape == (20_000, 17) and all(X.dtypes == np.float64)
    assert 0.06 < y.mean() < 0.10
    assert X.isna().any().sum() >= 3 and X.isna().all().sum() == 0
    amounts = X.filter(like="amount").to_numpy()
    assert (amounts[~np.isnan(amounts)] > 0).all()
    again, _ = scoring_speed.synthetic_applications(20_000, 17, seed=3)
    pd.testing.assert_frame_equal(X, again)


def test_online_timing_uses_score_one_when_the_model_has_it(stand_in_scoring):
    X, y = scoring_speed.synthetic_applications(2_000, 4, seed=1)
    model = stand_in_scoring.Scorecard().fit(X, y)
    latency = scoring_speed.time_online(model, X, calls=50, warmup=5)
    assert latency.how == "score_one(dict)" and 0 < latency.p50_us <= latency.p99_us
    bare = types.SimpleNamespace(predict_proba=model.predict_proba)
    assert scoring_speed.time_online(bare, X, calls=20, warmup=2).how.startswith(
        "predict_proba(1-row DataFrame)"
    )


def test_speed_runs_small_without_the_scoring_module(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "creditmesh.scoring", None)
    code = scoring_speed.main(
        [
            "--rows",
            "3000",
            "--features",
            "5",
            "--skip-optbinning",
            "--gbm-rows",
            "2000",
            "--online-calls",
            "50",
        ]
    )
    payload = _last_json(capsys)
    rows = {row["name"]: row for row in payload["results"]}
    assert code == 0 and rows["scorecard_online_p99_us"]["creditmesh"] is None
    assert rows["gbm_online_p99_us"]["anchor"] > 0
