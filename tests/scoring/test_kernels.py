"""The compiled loops give the answers of the plain numpy they replace."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from creditmesh.scoring import _kernels
from creditmesh.scoring.optimal import SMOOTHING, woe_iv

values = st.lists(
    st.one_of(st.sampled_from([np.nan, -1.0, -99.0, 0.0, 2.5]), st.floats(-50, 50, allow_nan=False)),
    min_size=1,
    max_size=60,
)
splits = st.lists(st.floats(-40, 40, allow_nan=False), max_size=6).map(lambda s: sorted(set(s)))
specials = st.lists(st.sampled_from([-1.0, -99.0, 2.5]), max_size=2, unique=True)


@settings(max_examples=100, deadline=None)
@given(values, splits, specials)
def test_bin_numbers_is_searchsorted_with_special_and_missing_bins_after_the_regular_ones(
    xs, cuts, sentinels
):
    x = np.array(xs, dtype=np.float64)
    edges = np.array(cuts, dtype=np.float64)
    found = _kernels.bin_numbers(x, edges, np.array(sentinels, dtype=np.float64), len(edges) + 1)
    expected = np.searchsorted(edges, x, side="right")
    for offset, special in enumerate(sentinels):
        expected[x == special] = len(edges) + 1 + offset
    expected[np.isnan(x)] = len(edges) + 1 + len(sentinels)
    np.testing.assert_array_equal(found, expected)


@settings(max_examples=100, deadline=None)
@given(values, splits, specials, st.randoms(use_true_random=False))
def test_prebin_counts_split_every_row_once_into_regular_special_and_missing(xs, cuts, sentinels, random):
    x = np.array(xs, dtype=np.float64)
    y = np.array([random.random() < 0.3 for _ in xs], dtype=np.float64)
    w = np.array([random.choice([0.5, 1.0, 2.0]) for _ in xs], dtype=np.float64)
    edges = np.array(cuts, dtype=np.float64)
    pe, pn, se, sn, me, mn, low, high = _kernels.prebin_counts(x, y, w, edges, np.array(sentinels))
    bins = _kernels.bin_numbers(x, edges, np.array(sentinels, dtype=np.float64), len(edges) + 1)
    events = np.bincount(bins, weights=w * y, minlength=len(edges) + 2 + len(sentinels))
    totals = np.bincount(bins, weights=w, minlength=len(edges) + 2 + len(sentinels))
    np.testing.assert_allclose(np.concatenate([pe, se, [me]]), events, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([pn, sn, [mn]]), totals - events, atol=1e-12)
    regular = x[bins <= len(edges)]
    if len(regular):
        assert (low, high) == (regular.min(), regular.max())
    else:
        assert np.isnan(low) and np.isnan(high)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.9])), min_size=2, max_size=80
    )
)
def test_auc_equals_scikit_learns_with_ties(pairs):
    y = np.array([float(a) for a, _ in pairs])
    score = np.array([b for _, b in pairs])
    if y.min() == y.max():
        assert _kernels.auc(y, score) == 0.5
    else:
        assert abs(_kernels.auc(y, score) - roc_auc_score(y, score)) < 1e-12


def test_woe_tables_are_the_binning_tables_woe_of_the_rows_counted():
    rng = np.random.default_rng(3)
    codes = np.column_stack([rng.integers(0, 4, 500), rng.integers(0, 3, 500)]).astype(np.int64)
    y = (rng.random(500) < 0.2).astype(np.float64)
    w = rng.choice([1.0, 2.0], 500)
    tables = _kernels.woe_tables(codes, y, w, np.array([5, 3]), SMOOTHING)
    for j, n_bins in enumerate((5, 3)):
        events = np.bincount(codes[:, j], weights=w * y, minlength=n_bins)
        nonevents = np.bincount(codes[:, j], weights=w, minlength=n_bins) - events
        woe, _ = woe_iv(events, nonevents, events.sum(), nonevents.sum())
        expected = np.where(events + nonevents > 0, woe, 0.0)
        np.testing.assert_allclose(tables[j, :n_bins], expected, rtol=1e-12)
    assert tables[0, 4] == 0.0  # an empty bin is neutral


def test_correlation_is_numpys_and_zero_for_a_constant_column():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4))
    X[:, 2] = X[:, 0] * 0.5 + rng.normal(size=300) * 0.1
    X[:, 3] = 7.0
    found = _kernels.correlation(X)
    np.testing.assert_allclose(found[:3, :3], np.corrcoef(X[:, :3].T), atol=1e-10)
    assert np.all(found[3, :] == 0.0) and np.all(found[:, 3] == 0.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 40), st.integers(0, 10_000))
def test_logistic_gradient_and_hessian_are_numpys_whatever_the_rows_left_in_the_last_block(n, p, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (rng.random(n) < 0.3).astype(np.float64)
    w = rng.choice([0.5, 1.0, 2.0], n)
    coef, intercept, alpha = rng.normal(size=p) * 0.3, -0.7, 0.5
    loss, grad, hess = _kernels.logistic_gradient_hessian(X, y, w, coef, intercept, alpha)
    eta = X @ coef + intercept
    mu = 1 / (1 + np.exp(-eta))
    Z = np.column_stack([X, np.ones(n)])
    ridge = np.append(np.full(p, alpha), 0.0)
    expected_loss = float(np.sum(w * (np.logaddexp(0, eta) - y * eta)) + 0.5 * alpha * coef @ coef)
    assert abs(loss - expected_loss) <= 1e-9 * max(1.0, abs(expected_loss))
    np.testing.assert_allclose(
        grad, Z.T @ (w * (mu - y)) + ridge * np.append(coef, 0.0), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        hess, Z.T @ (Z * (w * mu * (1 - mu))[:, None]) + np.diag(ridge), rtol=1e-9, atol=1e-9
    )
