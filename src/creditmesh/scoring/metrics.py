"""How good a model is, and whether the population moved: AUC, Gini, KS, Brier, ECE, lift, PSI, CSI.

``y`` is 1 for a bad (event) and 0 for a good; ``p`` is a probability of being bad,
or any score that rises with risk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

#: PSI/CSI below this is "stable", up to :data:`PSI_SHIFT` "watch", above it "shifted" (the usual 0.1 / 0.25 rule).
PSI_STABLE = 0.10
PSI_SHIFT = 0.25


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"y and p differ in shape: {y.shape} vs {p.shape}")
    return y, p


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half)."""
    y, p = _check(y, p)
    n_bad = y.sum()
    n_good = len(y) - n_bad
    if n_bad == 0 or n_good == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n_bad * (n_bad + 1) / 2) / (n_bad * n_good))


def gini(y: np.ndarray, p: np.ndarray) -> float:
    """Accuracy ratio: ``2·AUC − 1``."""
    return 2 * auc(y, p) - 1


def cumulative_shares(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Riskiest first, at each cut-off between distinct scores (and 0): shares of rows, of bads, of goods taken.

    Shares of goods against bads is the ROC curve; their largest gap is the KS.
    """
    y, p = _check(y, p)
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    last = np.r_[ps[1:] != ps[:-1], True]  # evaluate only where the score changes
    rows = np.r_[0.0, (np.flatnonzero(last) + 1) / max(len(ys), 1)]
    bads = np.r_[0.0, np.cumsum(ys)[last] / max(ys.sum(), 1)]
    goods = np.r_[0.0, np.cumsum(1 - ys)[last] / max((1 - ys).sum(), 1)]
    return rows, bads, goods


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov–Smirnov: the largest gap between the cumulative shares of bads and goods over the score."""
    _, bads, goods = cumulative_shares(y, p)
    return float(np.max(np.abs(bads - goods)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probability."""
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    y, p = _check(y, p)
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-frequency bins of ``p`` with the mean predicted and the observed bad rate."""
    y, p = _check(y, p)
    order = np.argsort(p, kind="mergesort")
    groups = np.array_split(order, bins)
    rows = [
        {"bin": i, "count": len(g), "mean_pd": float(p[g].mean()), "bad_rate": float(y[g].mean())}
        for i, g in enumerate(groups)
        if len(g)
    ]
    return pd.DataFrame(rows)


def ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the count-weighted mean ``|mean PD − bad rate|`` over equal-frequency bins."""
    table = calibration_table(y, p, bins)
    return float(np.average(np.abs(table["mean_pd"] - table["bad_rate"]), weights=table["count"]))


def gains_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Lift and gains by band of risk, riskiest band first: what a cut-off at each band would catch."""
    y, p = _check(y, p)
    order = np.argsort(-p, kind="mergesort")
    groups = np.array_split(order, bins)
    total_bad = max(y.sum(), 1.0)
    base = y.mean() if len(y) else 0.0
    rows, seen, caught = [], 0, 0.0
    for i, g in enumerate(groups):
        seen += len(g)
        caught += y[g].sum()
        rate = float(y[g].mean()) if len(g) else 0.0
        rows.append(
            {
                "band": i + 1,
                "count": len(g),
                "min_pd": float(p[g].min()) if len(g) else np.nan,
                "bad_rate": rate,
                "lift": rate / base if base else np.nan,
                "cum_share_of_rows": seen / len(y),
                "cum_share_of_bads": caught / total_bad,
                "cum_lift": (caught / seen) / base if base and seen else np.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Stability:
    """A PSI with its reading."""

    value: float
    status: str  # "stable", "watch" or "shifted"


def psi(
    reference: np.ndarray, current: np.ndarray, bins: int = 10, *, edges: np.ndarray | None = None
) -> Stability:
    """Population stability index of a score between two samples (bins from the reference's deciles).

    ``PSI = Σ (cur% − ref%) · ln(cur% / ref%)``; empty shares are floored at 1e-4.
    """
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if edges is None:
        edges = np.unique(np.quantile(reference[~np.isnan(reference)], np.linspace(0, 1, bins + 1)[1:-1]))
    ref = _shares(np.searchsorted(edges, reference, side="right"), np.isnan(reference), len(edges) + 2)
    cur = _shares(np.searchsorted(edges, current, side="right"), np.isnan(current), len(edges) + 2)
    return _stability(ref, cur)


def psi_of_bins(reference_bins: np.ndarray, current_bins: np.ndarray, n_bins: int) -> Stability:
    """PSI over given bin indices (a feature's binning): the characteristic stability index of that feature."""
    missing = np.zeros(0, dtype=bool)
    ref = _shares(np.asarray(reference_bins), missing, n_bins)
    cur = _shares(np.asarray(current_bins), missing, n_bins)
    return _stability(ref, cur)


def _shares(bins: np.ndarray, missing: np.ndarray, n_bins: int) -> np.ndarray:
    bins = bins.copy()
    if missing.size:
        bins[missing] = n_bins - 1
    counts = np.bincount(bins, minlength=n_bins).astype(np.float64)
    return np.maximum(counts / max(counts.sum(), 1.0), 1e-4)


def _stability(ref: np.ndarray, cur: np.ndarray) -> Stability:
    value = float(np.sum((cur - ref) * np.log(cur / ref)))
    status = "stable" if value < PSI_STABLE else "watch" if value < PSI_SHIFT else "shifted"
    return Stability(value, status)


def summary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The headline figures of a model on one sample."""
    return {
        "rows": float(len(y)),
        "bad_rate": float(np.mean(y)),
        "auc": auc(y, p),
        "gini": gini(y, p),
        "ks": ks(y, p),
        "brier": brier(y, p),
        "ece": ece(y, p),
        "log_loss": log_loss(y, p),
    }
