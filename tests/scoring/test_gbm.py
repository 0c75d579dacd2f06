"""The GBM: monotone where the binning is, calibrated on held-out log-odds, reasons from contributions."""

from __future__ import annotations

import numpy as np
import pytest

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring import GBMClassifier, Scorecard
from creditmesh.scoring.metrics import auc, ece


@pytest.fixture(scope="module")
def gbm(credit):
    X, y = credit
    return GBMClassifier(
        n_splits=3, learning_rate=0.1, max_rounds=400, early_stopping=30, monotone="binning", num_threads=1
    ).fit(X, y)


@pytest.fixture(scope="module")
def searched(credit):
    """The defaults' search (every shape, with and without the constraints) on two threads."""
    X, y = credit
    return GBMClassifier(learning_rate=0.1, max_rounds=400, early_stopping=30, num_threads=2).fit(X, y)


def test_monotone_constraints_come_from_the_binning_and_hold(gbm, credit):
    X, _ = credit
    assert gbm.monotone_["utilisation"] == 1
    assert gbm.monotone_["income"] == -1
    assert gbm.monotone_["channel"] == 0  # categories are never constrained
    grid = np.linspace(0, 1, 41)
    for _, row in X.head(25).iterrows():
        probe = X.head(1).copy().iloc[[0] * len(grid)].reset_index(drop=True)
        for column in X.columns:
            probe[column] = row[column]
        probe["utilisation"] = grid
        boosted = np.zeros(len(grid))
        for booster in gbm.boosters_:  # the boosters alone (the scorecards are monotone by their bins)
            boosted += booster.predict(gbm.encoder_.matrix(probe), raw_score=True)
        assert np.diff(boosted).min() >= -1e-9, np.diff(boosted).min()


def test_gbm_ranks_at_least_as_well_as_its_scorecard_and_is_calibrated(gbm, credit):
    from tests_helpers import split_half

    X, y = credit
    train, test = split_half(len(X))
    model = GBMClassifier(learning_rate=0.1, max_rounds=400, early_stopping=30, num_threads=1).fit(
        X.iloc[train], y[train]
    )
    scorecard = Scorecard().fit(X.iloc[train], y[train])
    p = model.predict_proba(X.iloc[test])[:, 1]
    assert auc(y[test], p) >= auc(y[test], scorecard.predict_proba(X.iloc[test])[:, 1]) - 0.005
    assert ece(y[test], p) < 0.05
    assert model.calibrator_.method in ("platt", "isotonic")
    assert set(model.calibration_losses_) == {"platt", "isotonic"}


def test_contributions_add_up_to_the_log_odds_and_give_reasons(gbm, credit):
    X, _ = credit
    contrib = gbm.contributions(X.head(200))
    np.testing.assert_allclose(contrib.sum(axis=1), gbm.decision_function(X.head(200)), rtol=0, atol=1e-9)
    for (_, row), reasons in zip(contrib.iterrows(), gbm.reasons(X.head(200))):
        assert all(row[r] > 0 for r in reasons)
        if reasons:
            assert row[reasons[0]] == row.drop("base").max()


def test_unseen_categories_are_missing_or_refused(credit):
    X, y = credit
    lenient = GBMClassifier(max_rounds=30, early_stopping=5, blend="none", num_threads=1).fit(X, y)
    assert np.isfinite(lenient.predict_proba(X.head(5).assign(channel="drone"))).all()
    strict = GBMClassifier(max_rounds=30, early_stopping=5, blend="none", unseen="error", num_threads=1).fit(
        X, y
    )
    with pytest.raises(SchemaError, match="channel.*drone"):
        strict.predict_proba(X.head(5).assign(channel="drone"))
    with pytest.raises(SchemaError, match="channel.*drone"):
        strict.score_one({**X.iloc[0].to_dict(), "channel": "drone"})


def test_bad_parameters_are_named(credit):
    X, y = credit
    with pytest.raises(ParameterError, match="GBMClassifier.calibration"):
        GBMClassifier(calibration="beta").fit(X, y)
    with pytest.raises(ParameterError, match="GBMClassifier.n_splits"):
        GBMClassifier(n_splits=1).fit(X, y)


def test_clone_rebuilds_the_same_configuration():
    from sklearn.base import clone

    model = GBMClassifier(learning_rate=0.2, monotone="none", blend="none", calibration="platt")
    again = clone(model)
    assert again.get_params() == model.get_params()


def test_a_refitted_single_model_serves_when_ensemble_is_off(credit):
    from tests_helpers import application_of

    from creditmesh.scoring.serve import score_application, score_table

    X, y = credit
    model = GBMClassifier(
        ensemble=False, learning_rate=0.1, max_rounds=300, early_stopping=20, num_threads=1
    ).fit(X, y)
    assert len(model.boosters_) == 1 and len(model.scorecards_) == 1
    k = model.n_splits  # the refit sees k/(k-1) times a fold booster's rows: as many more rounds
    assert model.boosters_[0].num_trees() == round(np.mean(model.best_iterations_) * k / (k - 1))
    table = score_table(model, X.head(20))
    for (_, row), (_, expected) in zip(X.head(20).iterrows(), table.iterrows()):
        one = score_application(model, application_of(row))
        assert (one.pd, one.reasons) == (expected["pd"], expected["reasons"])


def test_one_application_scores_as_the_boosters_do_bit_for_bit(gbm, credit):
    """The compiled forest serves one application; its PD is LightGBM's boosters' PD to the last bit."""
    from tests_helpers import application_of

    X, _ = credit
    head = X.head(60)
    data = gbm.encoder_.matrix(head)
    boosted = np.zeros(len(head))
    for booster in gbm.boosters_:
        boosted += booster.predict(data, raw_score=True)
    linear = np.zeros(len(head))
    for scorecard in gbm.scorecards_:
        linear += scorecard.decision_function(head)
    n = len(gbm.boosters_)
    expected = gbm.calibrator_.apply(gbm._blend(boosted / n, linear / len(gbm.scorecards_)))
    for (_, row), p in zip(head.iterrows(), expected):
        assert gbm.score_one(application_of(row), with_reasons=False)[0] == p


def test_contributions_are_lightgbms_treeshap_and_reasons_follow_them(gbm, credit):
    from tests_helpers import application_of

    X, _ = credit
    head = X.head(60)
    data = gbm.encoder_.matrix(head)
    boosted = sum(b.predict(data, pred_contrib=True) for b in gbm.boosters_)
    ours = np.zeros_like(boosted)
    for contrib in gbm.forest_.contributions(data).transpose(1, 0, 2):
        ours += contrib
    np.testing.assert_allclose(ours, boosted, rtol=0, atol=1e-11)
    table = gbm.reasons(head)
    for (_, row), why in zip(head.iterrows(), table):
        assert gbm.score_one(application_of(row))[1] == why


def test_reasons_name_the_feature_that_drives_the_risk(gbm, credit):
    """Months in arrears raise the risk most in the data: five of them is the first reason, none is no reason."""
    from tests_helpers import application_of

    X, _ = credit
    clean = X[(X.months_late == 0) & X.income.notna()].head(40)
    for _, row in clean.iterrows():
        _, calm = gbm.score_one(application_of(row))
        _, late = gbm.score_one({**application_of(row), "months_late": 5.0})
        assert "months_late" not in calm
        assert late[0] == "months_late", late


def test_the_search_serves_the_candidate_with_the_best_out_of_fold_auc(searched, credit):
    from sklearn.metrics import roc_auc_score

    from creditmesh.scoring.gbm import SEARCH_SPACE

    X, y = credit
    candidates = searched.search_["candidates"]
    # every shape, with and without the binning's constraints (utilisation and income are constrained)
    assert [(c["params"], c["monotone"]) for c in candidates] == [
        (shape, kind) for kind in ("binning", "none") for shape in SEARCH_SPACE
    ]
    best = max(candidates, key=lambda c: c["oof_auc"])
    assert (searched.search_["params"], searched.search_["monotone"]) == (best["params"], best["monotone"])
    assert len(searched.boosters_) == searched.n_splits
    expected_leaves = best["params"].get("num_leaves", searched.num_leaves)
    assert all(b.dump_model()["tree_info"][0]["num_leaves"] <= expected_leaves for b in searched.boosters_)
    if best["monotone"] == "none":
        assert set(searched.monotone_.values()) == {0}
    else:
        assert searched.monotone_["utilisation"] == 1
    # the serving candidate's out-of-fold AUC is what its boosters score on the rows they did not see
    assert 0.5 < best["oof_auc"] < 1.0
    p = searched.predict_proba(X)[:, 1]
    assert roc_auc_score(y, p) > best["oof_auc"] - 0.02


def test_the_answer_does_not_depend_on_how_many_boosters_train_at_once(searched, credit):
    X, y = credit
    alone = GBMClassifier(learning_rate=0.1, max_rounds=400, early_stopping=30, num_threads=1).fit(X, y)
    assert alone.search_ == searched.search_
    assert [b.model_to_string() for b in alone.boosters_] == [b.model_to_string() for b in searched.boosters_]
    np.testing.assert_array_equal(alone.predict_proba(X), searched.predict_proba(X))


def test_without_a_constrained_feature_the_unconstrained_candidates_are_not_fitted_twice(credit):
    X, y = credit
    categories = X[["channel"]]
    model = GBMClassifier(max_rounds=30, early_stopping=5, blend="none", num_threads=1).fit(categories, y)
    assert [c["monotone"] for c in model.search_["candidates"]] == ["binning"] * 4
    only = GBMClassifier(max_rounds=30, early_stopping=5, search="none", monotone="none", num_threads=1)
    assert only.fit(categories, y).search_["candidates"][0]["params"] == {}
    with pytest.raises(ParameterError, match="search"):
        GBMClassifier(search="grid").fit(categories, y)
