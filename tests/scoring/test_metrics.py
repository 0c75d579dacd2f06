"""Metrics agree with scikit-learn and with their definitions on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from creditmesh.scoring import metrics


def test_auc_and_brier_agree_with_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2000)
    p = np.round(np.clip(0.3 * y + rng.random(2000) * 0.7, 0, 1), 2)  # ties included
    assert metrics.auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics.gini(y, p) == pytest.approx(2 * roc_auc_score(y, p) - 1, abs=1e-12)
    assert metrics.brier(y, p) == pytest.approx(brier_score_loss(y, p))


def test_ks_of_a_perfect_and_a_useless_score():
    y = np.array([0, 0, 0, 1, 1, 1])
    assert metrics.ks(y, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])) == 1.0
    assert metrics.ks(y, np.full(6, 0.5)) == 0.0
    assert metrics.ks(y, np.array([0.1, 0.7, 0.3, 0.2, 0.8, 0.9])) == pytest.approx(2 / 3)


def test_ece_is_zero_when_predictions_equal_observed_rates():
    y = np.array([0] * 90 + [1] * 10 + [0] * 50 + [1] * 50)
    p = np.array([0.1] * 100 + [0.5] * 100)
    assert metrics.ece(y, p, bins=2) == pytest.approx(0.0)
    assert metrics.ece(y, np.full(200, 0.3), bins=2) == pytest.approx(0.2)  # |0.3 − 0.1| and |0.3 − 0.5|


def test_gains_table_catches_every_bad_by_the_last_band():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 1000)
    p = y * 0.5 + rng.random(1000) * 0.5
    table = metrics.gains_table(y, p, bins=10)
    assert table.cum_share_of_bads.iloc[-1] == pytest.approx(1.0)
    assert table.cum_share_of_rows.iloc[-1] == pytest.approx(1.0)
    assert table.lift.iloc[0] > 1.5 and table.cum_lift.iloc[-1] == pytest.approx(1.0)


def test_psi_is_zero_for_the_same_sample_and_large_for_a_shift():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=20000)
    assert metrics.psi(reference, reference).value == pytest.approx(0.0, abs=1e-12)
    assert metrics.psi(reference, rng.normal(size=20000)).status == "stable"
    shifted = metrics.psi(reference, rng.normal(loc=1.0, size=20000))
    assert shifted.value > metrics.PSI_SHIFT and shifted.status == "shifted"


def test_psi_by_bins_counts_missing_and_empty_bins():
    stable = metrics.psi_of_bins(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 2]), 4)
    assert stable.value == pytest.approx(0.0)
    moved = metrics.psi_of_bins(np.array([0, 0, 1, 1]), np.array([2, 2, 3, 3]), 4)
    assert moved.status == "shifted"
