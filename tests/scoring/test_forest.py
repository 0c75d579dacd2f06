"""The compiled forest: LightGBM's own answers, bit for bit (scores) and to 1e-12 (TreeSHAP contributions)."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.scoring.forest import Forest

#: How far the forest's TreeSHAP may sit from LightGBM's: the same Shapley values by another sum.
CONTRIB_ATOL = 1e-12


def _table(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Numbers with NaN and exact zeros, a 40-level and a 3-level category, and a target that uses them all."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 2] = rng.integers(0, 40, n)
    X[:, 3] = rng.integers(0, 3, n)
    X[rng.random(n) < 0.1, 0] = np.nan
    X[rng.random(n) < 0.2, 1] = 0.0
    X[rng.random(n) < 0.05, 2] = np.nan
    signal = np.nan_to_num(X[:, 0], nan=1.0) + (X[:, 2] % 7 == 1) - 0.5 * X[:, 3] + X[:, 1] * X[:, 4]
    y = (signal + rng.normal(size=n) > 0.5).astype(int)
    return X, y


@pytest.fixture(scope="module")
def boosters() -> list[lgb.Booster]:
    """Three boosters that between them use every kind of split: NaN-missing, zero-missing, no missing, categories."""
    X, y = _table(3000, 0)
    out = []
    for seed, extra in ((0, {}), (1, {"zero_as_missing": True}), (2, {"use_missing": False})):
        params = {
            "objective": "binary",
            "verbose": -1,
            "num_leaves": 15,
            "min_data_in_leaf": 10,
            "seed": seed,
            "max_cat_to_onehot": 2,
            "num_threads": 1,
            **extra,
        }
        out.append(lgb.train(params, lgb.Dataset(X, y, categorical_feature=[2, 3]), num_boost_round=40))
    return out


@pytest.fixture(scope="module")
def forest(boosters) -> Forest:
    return Forest.from_boosters(boosters)


def _awkward(X: np.ndarray) -> np.ndarray:
    """Rows LightGBM treats specially: negative, huge, fractional and unseen category codes, ±0, tiny, infinite."""
    T = X.copy()
    T[:6, 2] = [-1, 100, 1e9, 3.5, np.nan, -0.5]
    T[6:11, 0] = [1e-40, -0.0, np.inf, -np.inf, 1e-30]
    T[11:14, 1] = [np.nan, 1e-36, -1e-36]
    return T


def test_raw_scores_are_lightgbms_bit_for_bit(boosters, forest):
    T = _awkward(_table(500, 1)[0])
    raw = forest.raw(T)
    assert raw.shape == (len(T), 3)
    for b, booster in enumerate(boosters):
        np.testing.assert_array_equal(raw[:, b], booster.predict(T, raw_score=True))


def test_contributions_are_lightgbms_treeshap(boosters, forest):
    T = _awkward(_table(300, 2)[0])
    contrib = forest.contributions(T)
    for b, booster in enumerate(boosters):
        expected = booster.predict(T, pred_contrib=True)
        np.testing.assert_allclose(contrib[:, b], expected, rtol=0, atol=CONTRIB_ATOL)
        # local accuracy: the contributions and the expected value add up to the score
        np.testing.assert_allclose(contrib[:, b].sum(axis=1), booster.predict(T, raw_score=True), atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([0.0, -0.0, 1e-36, 2.0, 39.0, 40.0, -1.0]),
        ),
        min_size=6,
        max_size=6,
    )
)
def test_any_row_scores_and_explains_as_lightgbm_does(boosters, forest, values):
    row = np.array([values], dtype=np.float64)
    raw, contrib = forest.raw(row), forest.contributions(row)
    for b, booster in enumerate(boosters):
        assert raw[0, b] == booster.predict(row, raw_score=True)[0]
        np.testing.assert_allclose(
            contrib[0, b], booster.predict(row, pred_contrib=True)[0], rtol=0, atol=CONTRIB_ATOL
        )


def test_a_tree_of_one_leaf_and_a_forest_read_back_from_text():
    X, y = _table(400, 3)
    stump = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 1000, "num_threads": 1},
        lgb.Dataset(X, y),
        num_boost_round=3,
    )
    assert all(t["num_leaves"] == 1 for t in stump.dump_model()["tree_info"])
    forest = Forest.from_model_strings([stump.model_to_string()])
    np.testing.assert_array_equal(forest.raw(X[:20])[:, 0], stump.predict(X[:20], raw_score=True))
    contrib = forest.contributions(X[:20])[:, 0]
    np.testing.assert_array_equal(contrib[:, :-1], 0.0)
    np.testing.assert_allclose(contrib[:, -1], stump.predict(X[:20], raw_score=True), atol=1e-15)


def test_a_row_of_the_wrong_width_is_refused(forest):
    with pytest.raises(ValueError, match="6 features"):
        forest.raw(np.zeros((1, 5)))


def test_explain_gives_the_raw_scores_bit_for_bit_and_the_contributions(boosters, forest):
    T = _awkward(_table(300, 4)[0])
    raw, contrib = forest.explain(T)
    np.testing.assert_array_equal(raw, forest.raw(T))
    np.testing.assert_array_equal(contrib, forest.contributions(T))
    for b, booster in enumerate(boosters):
        np.testing.assert_array_equal(raw[:, b], booster.predict(T, raw_score=True))


def test_trees_of_more_than_64_nodes_take_the_general_kernel():
    X, y = _table(3000, 5)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 90, "min_data_in_leaf": 5, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=[2, 3]), num_boost_round=5)
    assert max(t["num_leaves"] for t in booster.dump_model()["tree_info"]) > 65
    forest = Forest.from_boosters([booster])
    assert forest.shap is None
    T = _awkward(_table(200, 6)[0])
    raw, contrib = forest.explain(T)
    np.testing.assert_array_equal(raw[:, 0], booster.predict(T, raw_score=True))
    np.testing.assert_allclose(
        contrib[:, 0], booster.predict(T, pred_contrib=True), rtol=0, atol=CONTRIB_ATOL
    )


@pytest.mark.parametrize("leaves", [2, 3, 4])
def test_small_trees_whose_leaves_are_siblings_explain_as_lightgbm_does(leaves):
    """Two leaves under the root have no path above their split: the pair is one unit with an empty path."""
    X, y = _table(2000, 7)
    params = {
        "objective": "binary",
        "verbose": -1,
        "num_leaves": leaves,
        "min_data_in_leaf": 5,
        "num_threads": 1,
    }
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=[2, 3]), num_boost_round=30)
    forest = Forest.from_boosters([booster])
    assert forest.shap is not None
    T = _awkward(_table(300, 8)[0])
    raw, contrib = forest.explain(T)
    np.testing.assert_array_equal(raw[:, 0], booster.predict(T, raw_score=True))
    np.testing.assert_allclose(
        contrib[:, 0], booster.predict(T, pred_contrib=True), rtol=0, atol=CONTRIB_ATOL
    )
