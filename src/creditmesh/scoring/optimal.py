"""Optimal merging of pre-bins: the partition with the highest information value under a trend.

Given the (weighted) counts of events and non-events in ``P`` ordered pre-bins, find
the partition into contiguous bins that maximises the total information value
subject to

* a minimum bin size (a share of the rows the bins split),
* a trend of the event rate across bins: ``ascending``, ``descending``, ``peak``
  (up, then down), ``valley`` (down, then up) or ``none``.

The search is an exact dynamic programme over "last bin is ``[i, j)``" states, compiled
(:func:`creditmesh.scoring._kernels.partition`): ``O(P³)`` scalar steps, about half a
millisecond for 100 pre-bins, with the GIL released. optbinning solves the same problem
with a constraint-programming or MIP solver; the exact DP gives the same optimum for these
constraints without a solver.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditmesh.scoring import _kernels

TRENDS = ("ascending", "descending", "peak", "valley", "none")
_TREND_CODES = {
    "ascending": _kernels.ASCENDING,
    "descending": _kernels.DESCENDING,
    "none": _kernels.NONE,
    "peak": _kernels.PEAK,
    "valley": _kernels.VALLEY,
}

#: Counts are smoothed by this much per bin in WoE and IV, so a pure bin has a finite WoE.
SMOOTHING = 0.5


@dataclass(frozen=True)
class Partition:
    """The chosen cuts (indices into the pre-bin edges, 0 < c < P) and the total IV."""

    cuts: tuple[int, ...]
    iv: float
    trend: str


def woe_iv(
    events: np.ndarray, nonevents: np.ndarray, total_events: float, total_nonevents: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weight of evidence ``ln(share of events / share of non-events)`` and each bin's IV term.

    Higher WoE means a riskier bin. Counts are smoothed by :data:`SMOOTHING` so that
    a bin with no events (or no non-events) has a finite WoE.
    """
    share_e = (np.asarray(events, dtype=np.float64) + SMOOTHING) / (total_events + SMOOTHING)
    share_n = (np.asarray(nonevents, dtype=np.float64) + SMOOTHING) / (total_nonevents + SMOOTHING)
    woe = np.log(share_e / share_n)
    return woe, (share_e - share_n) * woe


def best_partition(
    events: np.ndarray,
    nonevents: np.ndarray,
    *,
    trend: str,
    min_bin_weight: float,
    total_events: float | None = None,
    total_nonevents: float | None = None,
    min_rate_diff: float = 0.0,
) -> Partition:
    """The IV-maximising partition of the pre-bins under ``trend`` (see the module docstring).

    ``total_events`` / ``total_nonevents`` are the totals the shares are taken of (all
    rows, including missing and special bins); they default to the pre-bins' sums.
    When no partition satisfies the minimum size, everything is one bin.
    """
    events = np.ascontiguousarray(events, dtype=np.float64)
    nonevents = np.ascontiguousarray(nonevents, dtype=np.float64)
    if trend not in _TREND_CODES:
        raise ValueError(f"unknown trend {trend!r}")
    if len(events) <= 1:
        return Partition((), 0.0, trend)
    total_events = float(events.sum()) if total_events is None else float(total_events)
    total_nonevents = float(nonevents.sum()) if total_nonevents is None else float(total_nonevents)
    cuts, iv = _kernels.partition(
        events,
        nonevents,
        total_events,
        total_nonevents,
        float(min_bin_weight),
        float(min_rate_diff),
        _TREND_CODES[trend],
        SMOOTHING,
    )
    return Partition(tuple(int(c) for c in cuts), float(iv), trend)
