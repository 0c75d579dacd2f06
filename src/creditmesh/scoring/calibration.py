"""Probability calibration of a raw model score (a log-odds): Platt scaling or isotonic regression.

Both are small, saved as plain numbers, and applied by the same numpy code to a
table and to one application, so batch and online agree to the bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from creditmesh.scoring.metrics import log_loss

METHODS = ("platt", "isotonic", "none")


@dataclass(frozen=True)
class Calibrator:
    """``platt``: ``p = 1 / (1 + exp(−(a·z + b)))``; ``isotonic``: a step function by interpolation; ``none``: sigmoid(z)."""

    method: str
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()

    def apply(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(z, np.asarray(self.x), np.asarray(self.y))
        return 1.0 / (1.0 + np.exp(-(self.a * z + self.b)))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        return cls(
            data["method"],
            float(data["a"]),
            float(data["b"]),
            tuple(map(float, data["x"])),
            tuple(map(float, data["y"])),
        )


def fit_calibrator(z: np.ndarray, y: np.ndarray, method: str) -> Calibrator:
    """Fit one method on held-out log-odds ``z`` and outcomes ``y``."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if method == "none":
        return Calibrator("none")
    if method == "platt":
        model = LogisticRegression(C=1e6, max_iter=1000).fit(z.reshape(-1, 1), y)
        return Calibrator("platt", float(model.coef_[0, 0]), float(model.intercept_[0]))
    if method == "isotonic":
        model = IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6).fit(z, y)
        return Calibrator(
            "isotonic", x=tuple(map(float, model.X_thresholds_)), y=tuple(map(float, model.y_thresholds_))
        )
    raise ValueError(f"unknown calibration method {method!r}")


def choose_calibrator(
    z: np.ndarray, y: np.ndarray, method: str = "auto", *, seed: int = 0
) -> tuple[Calibrator, dict[str, float]]:
    """Fit ``method``, or for ``auto`` the one of Platt and isotonic with the lower cross-validated log loss.

    Returns the calibrator (fitted on all of ``z``) and the cross-validated log loss of each candidate.
    """
    if method != "auto":
        return fit_calibrator(z, y, method), {}
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    losses: dict[str, float] = {}
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=seed).split(z.reshape(-1, 1), y))
    for candidate in ("platt", "isotonic"):
        predicted = np.empty_like(z)
        for train, test in folds:
            predicted[test] = fit_calibrator(z[train], y[train], candidate).apply(z[test])
        losses[candidate] = log_loss(y, predicted)
    best = min(losses, key=losses.get)
    return fit_calibrator(z, y, best), losses
