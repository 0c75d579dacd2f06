"""Artifacts: readable JSON and LightGBM text, a content hash that catches tampering, identical scores after loading."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from creditmesh.errors import CreditmeshError
from creditmesh.scoring import GBMClassifier, Scorecard
from creditmesh.scoring.artifact import _content_hash, load_model, save_model


@pytest.fixture(scope="module")
def scorecard(credit):
    return Scorecard().fit(*credit)


@pytest.fixture(scope="module")
def gbm(credit):
    return GBMClassifier(learning_rate=0.1, max_rounds=200, early_stopping=20, num_threads=1).fit(*credit)


def test_scorecard_round_trips_through_one_readable_json(scorecard, credit, tmp_path):
    X, _ = credit
    path = save_model(scorecard, tmp_path / "scorecard.json")
    document = json.loads(path.read_text())
    assert document["format_version"] == 1 and document["kind"] == "scorecard"
    assert document["training"]["rows"] == len(X) and len(document["training"]["sha256"]) == 64
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), scorecard.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict_points(X), scorecard.predict_points(X))
    assert loaded.get_params(deep=False).keys() == scorecard.get_params(deep=False).keys()
    assert loaded.content_hash_ == document["content_hash"]
    assert loaded.min_iv_ == scorecard.min_iv_ and loaded.sign_ == scorecard.sign_
    pd.testing.assert_frame_equal(loaded.cv_results_, scorecard.cv_results_)


def test_a_scorecard_with_a_negative_coefficient_round_trips_with_its_sign_rule(tmp_path):
    rng = np.random.default_rng(0)
    z, u = rng.normal(size=(2, 8000))
    X = pd.DataFrame({"x1": z + 0.3 * u, "x2": z - 0.3 * u})
    y = (rng.random(8000) < 1 / (1 + np.exp(-(-2 + 0.5 * z + 1.2 * u)))).astype(int)
    card = Scorecard(sign="free").fit(X, y)
    assert (card.coef_ < 0).any()
    loaded = load_model(save_model(card, tmp_path / "free.json"))
    assert loaded.sign_ == "free" and loaded.get_params()["sign"] == "free"
    np.testing.assert_array_equal(loaded.predict_points(X), card.predict_points(X))


def test_gbm_round_trips_through_lightgbm_text_models(gbm, credit, tmp_path):
    X, _ = credit
    path = save_model(gbm, tmp_path / "gbm")
    assert sorted(p.name for p in path.iterdir()) == [
        *(f"booster_{k}.txt" for k in range(gbm.n_splits)),
        "model.json",
    ]
    assert (path / "booster_0.txt").read_text().startswith("tree")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), gbm.predict_proba(X))
    assert loaded.reasons(X.head(20)) == gbm.reasons(X.head(20))
    assert loaded.search_ == gbm.search_ and loaded.get_params() == gbm.get_params()


def test_a_gbm_saved_before_the_shape_search_loads_as_fitted_without_it(gbm, credit, tmp_path):
    X, _ = credit
    path = save_model(gbm, tmp_path / "gbm")
    document = json.loads((path / "model.json").read_text())
    del document["state"]["search"], document["state"]["params"]["search"]
    document["state"]["params"]["monotone"] = "binning"
    document["content_hash"] = _content_hash(document)
    (path / "model.json").write_text(json.dumps(document))
    loaded = load_model(path)
    assert loaded.search == "none" and loaded.search_ == {
        "params": {},
        "monotone": "binning",
        "candidates": [],
    }
    np.testing.assert_array_equal(loaded.predict_proba(X), gbm.predict_proba(X))


def test_a_changed_file_is_refused(scorecard, gbm, tmp_path):
    path = save_model(scorecard, tmp_path / "scorecard.json")
    document = json.loads(path.read_text())
    document["state"]["intercept"] += 0.1
    path.write_text(json.dumps(document))
    with pytest.raises(CreditmeshError, match="content hash"):
        load_model(path)
    folder = save_model(gbm, tmp_path / "gbm")
    with open(folder / "booster_1.txt", "a") as handle:
        handle.write("\n")
    with pytest.raises(CreditmeshError, match="booster_1.txt"):
        load_model(folder)


def test_saving_over_an_artifact_replaces_it_whole(gbm, scorecard, tmp_path):
    folder = save_model(gbm, tmp_path / "model")
    first = (folder / "model.json").read_text()
    save_model(gbm, folder)
    assert (folder / "model.json").read_text() == first
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_not_a_model_is_named(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(CreditmeshError, match="not a creditmesh model"):
        load_model(tmp_path / "x.json")
    with pytest.raises(CreditmeshError, match="no model"):
        load_model(tmp_path / "absent.json")
