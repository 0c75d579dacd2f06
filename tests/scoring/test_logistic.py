"""The projected-Newton logistic regression: scikit-learn's optimum, and the sign-constrained optimum's KKT conditions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from creditmesh.scoring import _kernels
from creditmesh.scoring.logistic import SAMPLED_STEPS, fit_logistic


def _problem(seed: int, n: int = 400, p: int = 5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    truth = rng.normal(size=p)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ truth - 0.5)))).astype(np.float64)
    return X, y, rng.choice([0.5, 1.0, 2.0], n)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.1, 1.0, 10.0]))
def test_unconstrained_fit_is_scikit_learns_optimum(seed, C):
    X, y, w = _problem(seed)
    ours = fit_logistic(X, y, w, C=C)
    theirs = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef, theirs.coef_[0], atol=1e-5)
    assert abs(ours.intercept - theirs.intercept_[0]) < 1e-5


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_nonnegative_fit_meets_the_kkt_conditions_and_equals_the_fit_without_its_zero_features(seed):
    X, y, w = _problem(seed)
    fit = fit_logistic(X, y, w, C=1.0, nonnegative=True)
    assert (fit.coef >= 0).all()
    _, grad = _kernels.logistic_loss_gradient(X, y, w, fit.coef, fit.intercept, 1.0)
    scale = w.sum()
    positive = fit.coef > 0
    assert np.all(np.abs(grad[:-1][positive]) < 1e-5 * scale) and abs(grad[-1]) < 1e-5 * scale
    assert np.all(grad[:-1][~positive] > -1e-5 * scale)  # lowering a zero coefficient would not help
    reduced = fit_logistic(X[:, positive], y, w, C=1.0)
    np.testing.assert_allclose(reduced.coef, fit.coef[positive], atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_bounds_on_some_columns_hold_those_and_leave_the_others_free(seed):
    X, y, w = _problem(seed)
    bounded = np.array([True, False, True, False, True])
    fit = fit_logistic(X, y, w, C=1.0, nonnegative=bounded)
    assert (fit.coef[bounded] >= 0).all()
    _, grad = _kernels.logistic_loss_gradient(X, y, w, fit.coef, fit.intercept, 1.0)
    scale = w.sum()
    at_zero = bounded & (fit.coef == 0)
    assert np.all(np.abs(grad[:-1][~at_zero]) < 1e-5 * scale) and abs(grad[-1]) < 1e-5 * scale
    assert np.all(grad[:-1][at_zero] > -1e-5 * scale)
    everything = fit_logistic(X, y, w, C=1.0, nonnegative=np.ones(5, dtype=bool))
    np.testing.assert_array_equal(everything.coef, fit_logistic(X, y, w, C=1.0, nonnegative=True).coef)


def test_nearly_collinear_columns_converge_in_a_few_steps_from_a_sampled_hessian():
    rng = np.random.default_rng(8)
    base = rng.normal(size=(6000, 6))
    X = np.repeat(base, 5, axis=1) + rng.normal(size=(6000, 30)) * 0.02  # five near-copies of each column
    y = (rng.random(6000) < 1 / (1 + np.exp(-(base[:, 0] - base[:, 1] - 2)))).astype(np.float64)
    w = np.ones(6000)
    exact = fit_logistic(X, y, w, hessian_rows=10_000)
    sampled = fit_logistic(X, y, w, hessian_rows=500)
    np.testing.assert_allclose(sampled.coef, exact.coef, atol=1e-4)
    assert sampled.n_iter <= SAMPLED_STEPS + exact.n_iter


def test_a_sampled_hessian_reaches_the_same_optimum():
    X, y, w = _problem(5, n=3000, p=8)
    exact = fit_logistic(X, y, w, hessian_rows=10_000)
    sampled = fit_logistic(X, y, w, hessian_rows=500)
    np.testing.assert_allclose(sampled.coef, exact.coef, atol=1e-4)


def test_a_warm_start_from_fewer_columns_gives_the_same_fit():
    X, y, w = _problem(6, p=6)
    small = fit_logistic(X[:, :3], y, w)
    cold, warm = fit_logistic(X, y, w), fit_logistic(X, y, w, start=small)
    np.testing.assert_allclose(warm.coef, cold.coef, atol=1e-6)
    assert warm.n_iter <= cold.n_iter
