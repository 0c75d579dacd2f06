"""Reject inference: models learn from approved applications only, yet score every applicant.

Two standard corrections, each returning a training table (features, outcome,
weight) for any of our estimators:

* :func:`augment` (re-weighting): an acceptance model (a scorecard of approved vs
  declined) gives each approved application ``P(approve | x)``; its weight is
  ``1 / P(approve | x)`` (clipped), so approved applicants who resemble the
  declined ones speak for them.
* :func:`parcel` (parcelling): a model fitted on the approved applications scores the
  declined ones; in each band of that score the declined get outcomes drawn at the
  approved band's bad rate times ``prudence`` (declined applicants are assumed no
  better, usually worse, than approved ones of the same score).

On the simulator the outcome of declined applicants is known, so
``benchmarks/scoring_reject.py`` grades both on the whole through-the-door population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring.scorecard import Scorecard


@dataclass(frozen=True)
class TrainingSet:
    """Rows to fit on, with their outcomes and weights."""

    X: pd.DataFrame
    y: np.ndarray
    weight: np.ndarray | None  # None: every row counts once


def _split(X: pd.DataFrame, y: np.ndarray, approved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    approved = np.asarray(approved, dtype=bool)
    if approved.shape != (len(X),):
        raise SchemaError("approved", f"expected {len(X)} booleans, one per application")
    if approved.all() or not approved.any():
        raise SchemaError("approved", "needs both approved and declined applications")
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (len(X),):
        raise SchemaError(
            "y", f"expected {len(X)} values (declined rows may hold anything, they are not read)"
        )
    return approved, y


def augment(X: pd.DataFrame, y: np.ndarray, approved: np.ndarray, *, max_weight: float = 20.0) -> TrainingSet:
    """The approved applications, weighted by the inverse of their probability of approval."""
    if max_weight < 1:
        raise ParameterError("max_weight", f"must be at least 1, got {max_weight}")
    approved, y = _split(X, y, approved)
    acceptance = Scorecard(min_iv=0.0).fit(X, (~approved).astype(int))
    p_approve = 1.0 - acceptance.predict_proba(X[approved])[:, 1]
    weight = np.minimum(1.0 / np.maximum(p_approve, 1e-6), max_weight)
    weight *= approved.sum() / weight.sum()  # mean weight 1: the approved still count as many rows
    return TrainingSet(X[approved], y[approved], weight)


def parcel(
    X: pd.DataFrame,
    y: np.ndarray,
    approved: np.ndarray,
    *,
    model=None,
    bands: int = 10,
    prudence: float = 1.5,
    seed: int = 0,
) -> TrainingSet:
    """Approved applications with their outcomes, plus declined ones with outcomes drawn by score band.

    ``model`` (default: a :class:`Scorecard`) is fitted on the approved rows and scores the
    declined; bands are deciles of the approved rows' PD.
    """
    if prudence <= 0:
        raise ParameterError("prudence", f"must be positive, got {prudence}")
    approved, y = _split(X, y, approved)
    fitted = clone(model if model is not None else Scorecard()).fit(X[approved], y[approved])
    p_approved = fitted.predict_proba(X[approved])[:, 1]
    p_declined = fitted.predict_proba(X[~approved])[:, 1]
    edges = np.unique(np.quantile(p_approved, np.linspace(0, 1, bands + 1)[1:-1]))
    band_approved = np.searchsorted(edges, p_approved, side="right")
    band_declined = np.searchsorted(edges, p_declined, side="right")
    counts = np.bincount(band_approved, minlength=len(edges) + 1)
    bads = np.bincount(band_approved, weights=y[approved], minlength=len(edges) + 1)
    rate = np.divide(bads, counts, out=np.full(len(counts), y[approved].mean()), where=counts > 0)
    drawn = np.random.default_rng(seed).random(len(p_declined)) < np.minimum(
        rate[band_declined] * prudence, 1.0
    )
    frame = pd.concat([X[approved], X[~approved]], ignore_index=True)
    outcome = np.concatenate([y[approved], drawn.astype(np.float64)])
    return TrainingSet(frame, outcome, np.ones(len(frame)))


def training_set(
    X: pd.DataFrame, y: np.ndarray, approved: np.ndarray, *, reject_inference: str | None = None
) -> TrainingSet:
    """The rows to fit on: the approved only, or with ``reject_inference`` (augment or parcel) the correction.

    The outcome of declined rows is never read (it may be missing): it is set to 0 before the
    correction sees it.
    """
    approved = np.asarray(approved, dtype=bool)
    if reject_inference is None:
        return TrainingSet(X[approved], np.asarray(y)[approved], None)
    if reject_inference not in ("augment", "parcel"):
        raise ParameterError("reject_inference", f"must be augment or parcel, got {reject_inference!r}")
    correct = augment if reject_inference == "augment" else parcel
    return correct(X, np.where(approved, y, 0), approved)
