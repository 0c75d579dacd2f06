"""Optimal binning with a trend, WoE and IV, and the rules for bad input at scoring time.

Each feature becomes a :class:`FeatureBinning`: a small immutable record a modeller
can read (``table()``), edit (``to_dict`` → change the splits → ``user_splits``)
and save as JSON. :class:`BinningProcess` fits one per feature with scikit-learn's
conventions and turns a table into weights of evidence.

Bins of a numerical feature, in this order:

* regular bins ``[-inf, s1), [s1, s2), …, [s_k, inf)`` from the optimal merge of
  quantile pre-bins (:mod:`creditmesh.scoring.optimal`);
* one bin per declared special value (say ``-1`` or ``98`` meaning "not asked");
* one bin for missing values.

A categorical feature has regular bins that are groups of categories (categories
rarer than ``cat_cutoff`` are pooled first, then categories are ordered by event
rate and merged), then a missing bin.

WoE is ``ln(share of events / share of non-events)``: higher is riskier, so a
scorecard's coefficients come out positive. An empty bin has WoE 0 (neutral).

Rules at scoring time, one per feature, stored with the binning:

* ``missing``: ``"bin"`` (missing values get the missing bin's WoE) or ``"error"``;
* ``unseen`` (categorical): ``"other"`` (the bin that pooled the rare categories,
  or the riskiest bin when nothing was pooled) or ``"error"``;
* ``out_of_range`` (numerical): ``"clip"`` (the edge bins cover ±inf) or
  ``"error"`` (outside the training minimum and maximum is refused);
* a value of the wrong type (text in a numerical feature) or a missing column is
  always an error naming the feature.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring import _kernels
from creditmesh.scoring._params import Interval, OfType, Options, validate_params
from creditmesh.scoring.optimal import TRENDS, best_partition, woe_iv

NUMERICAL = "numerical"
CATEGORICAL = "categorical"
MISSING_RULES = ("bin", "error")
UNSEEN_RULES = ("other", "error")
RANGE_RULES = ("clip", "error")
#: Tables of fewer rows are binned at scoring time on the calling thread (starting threads costs more).
THREADED_ROWS = 50_000
#: The label of the pooled rare categories in a binning table.
OTHER = "__other__"


@dataclass(frozen=True)
class FeatureBinning:
    """One feature's fitted bins, their statistics and its bad-input rules."""

    name: str
    dtype: str
    trend: str
    splits: tuple[float, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    other_bin: int | None = None
    special_values: tuple[float, ...] = ()
    events: tuple[float, ...] = ()
    nonevents: tuple[float, ...] = ()
    woe: tuple[float, ...] = ()
    iv: float = 0.0
    value_range: tuple[float, float] | None = None
    missing: str = "bin"
    unseen: str = "other"
    out_of_range: str = "clip"
    _category_bin: dict[str, int] = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]
    _woe_array: np.ndarray = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]
    _split_array: np.ndarray = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]
    _special_array: np.ndarray = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_category_bin", {c: b for b, group in enumerate(self.groups) for c in group}
        )
        object.__setattr__(self, "_woe_array", np.asarray(self.woe, dtype=np.float64))
        object.__setattr__(self, "_split_array", np.asarray(self.splits, dtype=np.float64))
        object.__setattr__(self, "_special_array", np.asarray(self.special_values, dtype=np.float64))

    # -- shape -------------------------------------------------------------------------------
    @property
    def n_regular(self) -> int:
        return len(self.groups) if self.dtype == CATEGORICAL else len(self.splits) + 1

    @property
    def missing_bin(self) -> int:
        return self.n_regular + len(self.special_values)

    @property
    def n_bins(self) -> int:
        return self.missing_bin + 1

    def labels(self) -> list[str]:
        """A readable label per bin, in bin order."""
        if self.dtype == CATEGORICAL:
            regular = [", ".join(g if g != OTHER else "(rare)" for g in group) for group in self.groups]
        else:
            edges = [-math.inf, *self.splits, math.inf]
            regular = [f"[{_fmt(edges[b])}, {_fmt(edges[b + 1])})" for b in range(len(edges) - 1)]
        return [*regular, *(f"special {_fmt(v)}" for v in self.special_values), "missing"]

    # -- scoring -----------------------------------------------------------------------------
    def bin_index(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """The bin of every value (vectorised); bad values follow the feature's rules."""
        if self.dtype == CATEGORICAL:
            return self._bin_categorical(values)
        numbers = as_numbers(self.name, values)
        return self._bin_numbers(numbers)

    def bin_one(self, value: Any) -> int:
        """The bin of one value: the same answer as :meth:`bin_index`, without numpy."""
        if is_missing(value):
            if self.missing == "error":
                raise SchemaError(self.name, "missing value, and this feature's rule is missing='error'")
            return self.missing_bin
        if self.dtype == CATEGORICAL:
            found = self._category_bin.get(category_string(value))
            return found if found is not None else self._unseen_bin([category_string(value)])
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)
        ):
            raise SchemaError(self.name, f"expected a number, got {value!r}")
        value = float(value)
        if self.special_values and value in self.special_values:
            return self.n_regular + self.special_values.index(value)
        if self.out_of_range == "error":
            self._check_range(np.array([value]))
        return bisect.bisect_right(self.splits, value)

    def woe_of(self, bins: np.ndarray) -> np.ndarray:
        return self._woe_array[bins]

    def _bin_numbers(self, numbers: np.ndarray) -> np.ndarray:
        numbers = np.ascontiguousarray(numbers, dtype=np.float64)
        bins = _kernels.bin_numbers(numbers, self._split_array, self._special_array, self.n_regular)
        if self.missing == "error":
            missing = int(np.count_nonzero(bins == self.missing_bin))
            if missing:
                raise SchemaError(
                    self.name, f"{missing} missing values, and this feature's rule is missing='error'"
                )
        if self.out_of_range == "error":
            self._check_range(numbers[bins < self.n_regular])
        return bins

    def _check_range(self, numbers: np.ndarray) -> None:
        if self.value_range is None or numbers.size == 0:
            return
        low, high = self.value_range
        outside = (numbers < low) | (numbers > high)
        if outside.any():
            raise SchemaError(
                self.name,
                f"{int(outside.sum())} values outside the training range [{_fmt(low)}, {_fmt(high)}]"
                f" (e.g. {_fmt(float(numbers[outside][0]))}), and this feature's rule is out_of_range='error'",
            )

    def _bin_categorical(self, values: pd.Series | np.ndarray) -> np.ndarray:
        series = pd.Series(values) if not isinstance(values, pd.Series) else values
        missing = series.isna().to_numpy()
        if missing.any() and self.missing == "error":
            raise SchemaError(
                self.name, f"{int(missing.sum())} missing values, and this feature's rule is missing='error'"
            )
        codes, uniques = pd.factorize(category_strings(series), use_na_sentinel=True)
        lookup = np.array([self._category_bin.get(u, -1) for u in uniques], dtype=np.int64)
        unknown = [u for u, b in zip(uniques, lookup) if b < 0]
        if unknown:
            lookup[lookup < 0] = self._unseen_bin(unknown)
        bins = np.full(len(series), self.missing_bin, dtype=np.int64)
        bins[codes >= 0] = lookup[codes[codes >= 0]]
        return bins

    def _unseen_bin(self, unknown: Sequence[str]) -> int:
        if self.unseen == "error":
            shown = ", ".join(repr(u) for u in list(unknown)[:5])
            raise SchemaError(
                self.name,
                f"categories not seen in training: {shown}, and this feature's rule is unseen='error'",
            )
        if self.other_bin is not None:
            return self.other_bin
        return int(np.argmax(self._woe_array[: self.n_regular]))

    # -- reading and saving ------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """The binning table a risk analyst reads: counts, event rate, WoE and IV per bin, and a total."""
        events = np.asarray(self.events)
        nonevents = np.asarray(self.nonevents)
        count = events + nonevents
        total = count.sum()
        _, iv = woe_iv(events, nonevents, events.sum(), nonevents.sum())
        frame = pd.DataFrame(
            {
                "bin": self.labels(),
                "count": count,
                "count_share": count / total if total else 0.0,
                "nonevents": nonevents,
                "events": events,
                "event_rate": np.divide(events, count, out=np.zeros_like(count), where=count > 0),
                "woe": np.asarray(self.woe),
                "iv": np.where(count > 0, iv, 0.0),
            }
        )
        totals = pd.DataFrame(
            [
                {
                    "bin": "total",
                    "count": total,
                    "count_share": 1.0,
                    "nonevents": nonevents.sum(),
                    "events": events.sum(),
                    "event_rate": events.sum() / total if total else 0.0,
                    "woe": np.nan,
                    "iv": self.iv,
                }
            ]
        )
        return pd.concat([frame, totals], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        data["groups"] = [list(g) for g in self.groups]
        data["splits"] = list(self.splits)
        data["special_values"] = list(self.special_values)
        for key in ("events", "nonevents", "woe"):
            data[key] = list(data[key])
        data["value_range"] = list(self.value_range) if self.value_range is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureBinning:
        fields = dict(data)
        fields["groups"] = tuple(tuple(str(c) for c in g) for g in fields.get("groups", ()))
        for key in ("splits", "special_values", "events", "nonevents", "woe"):
            fields[key] = tuple(float(v) for v in fields.get(key, ()))
        if fields.get("value_range") is not None:
            fields["value_range"] = (float(fields["value_range"][0]), float(fields["value_range"][1]))
        return cls(**fields)


# -- fitting one feature ---------------------------------------------------------------------


def fit_numerical(
    name: str,
    values: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    *,
    trend: str,
    n_prebins: int,
    min_bin_size: float,
    min_rate_diff: float,
    special_values: Sequence[float] = (),
    user_splits: Sequence[float] | None = None,
    sample_size: int = 200_000,
    rules: Mapping[str, str] | None = None,
) -> FeatureBinning:
    """Bin one numerical feature: quantile pre-bins merged optimally under ``trend``.

    One compiled pass (:func:`creditmesh.scoring._kernels.prebin_counts`) counts events and
    non-events per pre-bin, per special value and for missing values; the bins are unions of pre-bins.
    """
    specials = tuple(float(v) for v in special_values)
    special_array = np.asarray(specials, dtype=np.float64)
    values = np.ascontiguousarray(values, dtype=np.float64)
    if user_splits is not None:
        edges = np.array(sorted({float(s) for s in user_splits}), dtype=np.float64)
    else:
        regular = ~np.isnan(values)
        if specials:
            regular &= ~np.isin(values, special_array)
        edges = prebin_edges(values[regular], n_prebins, sample_size)
    pe, pn, special_e, special_n, missing_e, missing_n, low, high = _kernels.prebin_counts(
        values,
        np.ascontiguousarray(y, dtype=np.float64),
        np.ascontiguousarray(weight, dtype=np.float64),
        edges,
        special_array,
    )
    total_e = float(pe.sum() + special_e.sum() + missing_e)
    total_n = float(pn.sum() + special_n.sum() + missing_n)

    if user_splits is not None:
        splits = edges
        chosen = trend
        bin_of_pre = np.arange(len(edges) + 1)
    else:
        kept = np.flatnonzero((pe + pn)[1:] > 0)  # an empty pre-bin merges into its left neighbour
        group = np.searchsorted(kept, np.arange(len(edges) + 1) - 1, side="right")  # pre-bin → merged pre-bin
        edges = edges[kept]
        pe = np.bincount(group, weights=pe, minlength=len(edges) + 1)
        pn = np.bincount(group, weights=pn, minlength=len(edges) + 1)
        partition = _partition(
            pe, pn, trend, min_bin_size * float(weight.sum()), total_e, total_n, min_rate_diff
        )
        cuts = np.asarray(partition.cuts, dtype=np.int64)
        splits = edges[cuts - 1] if len(cuts) else np.empty(0)
        chosen = partition.trend
        bin_of_pre = np.searchsorted(cuts, np.arange(len(edges) + 1), side="right")

    n_regular = len(splits) + 1
    n_special = len(specials)
    events = np.zeros(n_regular + n_special + 1)
    nonevents = np.zeros(n_regular + n_special + 1)
    events[:n_regular] = np.bincount(bin_of_pre, weights=pe, minlength=n_regular)
    nonevents[:n_regular] = np.bincount(bin_of_pre, weights=pn, minlength=n_regular)
    events[n_regular : n_regular + n_special] = special_e
    nonevents[n_regular : n_regular + n_special] = special_n
    events[-1] = missing_e
    nonevents[-1] = missing_n
    woe, iv = _woe_table(events, nonevents)
    value_range = (float(low), float(high)) if not math.isnan(low) else None
    return FeatureBinning(
        name,
        NUMERICAL,
        chosen,
        splits=tuple(float(s) for s in splits),
        special_values=specials,
        events=tuple(events),
        nonevents=tuple(nonevents),
        woe=tuple(woe),
        iv=iv,
        value_range=value_range,
        **dict(rules or {}),
    )


def fit_categorical(
    name: str,
    values: pd.Series,
    y: np.ndarray,
    weight: np.ndarray,
    *,
    min_bin_size: float,
    min_rate_diff: float,
    cat_cutoff: float,
    user_groups: Sequence[Sequence[str]] | None = None,
    rules: Mapping[str, str] | None = None,
) -> FeatureBinning:
    """Bin one categorical feature: rare categories pooled, the rest ordered by event rate and merged."""
    series = values.reset_index(drop=True)
    codes, uniques = pd.factorize(category_strings(series), use_na_sentinel=True)
    uniques = [str(u) for u in uniques]
    present = codes >= 0
    ce = np.bincount(codes[present], weights=(weight * y)[present], minlength=len(uniques))
    cw = np.bincount(codes[present], weights=weight[present], minlength=len(uniques))
    total_w = float(weight.sum())
    total_e = _weighted_sum(weight, y)
    total_n = total_w - total_e

    if user_groups is not None:
        groups = tuple(tuple(str(c) for c in g) for g in user_groups)
        other_bin = next((b for b, g in enumerate(groups) if OTHER in g), None)
    else:
        rare = cw < cat_cutoff * total_w
        pools: list[list[str]] = [[u] for u, r in zip(uniques, rare) if not r]
        pool_e = [ce[i] for i, r in enumerate(rare) if not r]
        pool_w = [cw[i] for i, r in enumerate(rare) if not r]
        if rare.any():
            pools.append([OTHER, *(u for u, r in zip(uniques, rare) if r)])
            pool_e.append(ce[rare].sum())
            pool_w.append(cw[rare].sum())
        pe, pw = np.asarray(pool_e, dtype=np.float64), np.asarray(pool_w, dtype=np.float64)
        order = np.argsort((pe + 0.5) / (pw + 1.0), kind="stable")
        partition = _partition(
            pe[order],
            pw[order] - pe[order],
            "ascending",
            min_bin_size * total_w,
            total_e,
            total_n,
            min_rate_diff,
        )
        bounds = [0, *partition.cuts, len(order)]
        groups = tuple(
            tuple(c for p in order[a:b] for c in pools[p]) for a, b in zip(bounds[:-1], bounds[1:])
        )
        other_bin = next((b for b, g in enumerate(groups) if OTHER in g), None)

    fitted = FeatureBinning(
        name, CATEGORICAL, "ascending", groups=groups, other_bin=other_bin, **dict(rules or {})
    )
    lookup = np.array([fitted._category_bin.get(u, -1) for u in uniques], dtype=np.int64)
    if (lookup < 0).any():  # categories a user's groups left out go with the pooled ones, or the last bin
        lookup[lookup < 0] = other_bin if other_bin is not None else len(groups) - 1
    bins = np.full(len(series), len(groups), dtype=np.int64)
    bins[present] = lookup[codes[present]]
    events, nonevents = _bin_counts(bins, y, weight, len(groups) + 1)
    woe, iv = _woe_table(events, nonevents)
    return replace(fitted, events=tuple(events), nonevents=tuple(nonevents), woe=tuple(woe), iv=iv)


def prebin_edges(x: np.ndarray, n_prebins: int, sample_size: int = 200_000, seed: int = 0) -> np.ndarray:
    """Up to ``n_prebins - 1`` cut points at quantiles of ``x`` (a sample of it when large), all actual values."""
    if len(x) == 0:
        return np.empty(0)
    sample = x
    if len(x) > sample_size:
        sample = x[np.random.default_rng(seed).integers(0, len(x), size=sample_size)]
    qs = np.linspace(0, 1, n_prebins + 1)[1:-1]
    edges = np.unique(np.quantile(sample, qs, method="inverted_cdf"))
    return edges[edges > sample.min()]


def monotone_direction(
    values: np.ndarray,
    y: np.ndarray,
    *,
    n_prebins: int = 20,
    min_bin_size: float = 0.05,
    keep_share: float = 0.95,
) -> int:
    """+1 (risk rises with the value), -1 (falls) or 0 (no clear monotone trend).

    Monotone when the best monotone binning keeps ``keep_share`` of the IV of the
    best unconstrained binning with the same minimum bin size.
    """
    regular = ~np.isnan(values)
    x, yr = values[regular], y[regular].astype(np.float64)
    if len(x) == 0:
        return 0
    edges = prebin_edges(x, n_prebins)
    pre = np.searchsorted(edges, x, side="right")
    pe = np.bincount(pre, weights=yr, minlength=len(edges) + 1)
    pn = np.bincount(pre, minlength=len(edges) + 1) - pe
    floor = min_bin_size * len(values)
    total_e, total_n = float(y.sum()), float(len(y) - y.sum())
    ivs = {
        t: best_partition(
            pe, pn, trend=t, min_bin_weight=floor, total_events=total_e, total_nonevents=total_n
        ).iv
        for t in ("ascending", "descending", "none")
    }
    best = max(ivs["ascending"], ivs["descending"])
    if ivs["none"] <= 0 or best < keep_share * ivs["none"]:
        return 0
    return 1 if ivs["ascending"] >= ivs["descending"] else -1


#: ``auto`` takes a peak or valley over the best monotone trend only when it adds this share of IV.
AUTO_SHAPE_GAIN = 0.10


def _partition(
    events: np.ndarray,
    nonevents: np.ndarray,
    trend: str,
    floor: float,
    total_e: float,
    total_n: float,
    min_rate_diff: float,
):
    """The optimal partition for ``trend``; ``auto``: the better monotone one, or a peak/valley worth
    :data:`AUTO_SHAPE_GAIN` more IV (a U-shaped risk, such as loan amount, is common in credit)."""

    def fit(t: str):
        return best_partition(
            events,
            nonevents,
            trend=t,
            min_bin_weight=floor,
            total_events=total_e,
            total_nonevents=total_n,
            min_rate_diff=min_rate_diff,
        )

    if trend != "auto":
        return fit(trend)
    monotone = max((fit("ascending"), fit("descending")), key=lambda p: p.iv)
    bar = monotone.iv * (1 + AUTO_SHAPE_GAIN)
    if (
        fit("none").iv <= bar
    ):  # no shape beats the unconstrained optimum: skip the costlier peak/valley search
        return monotone
    shaped = max((fit("peak"), fit("valley")), key=lambda p: p.iv)
    return shaped if shaped.iv > bar else monotone


def _weighted_sum(weight: np.ndarray, y: np.ndarray) -> float:
    """``Σ weight·y`` without BLAS: ``np.dot`` wakes BLAS threads, which costs milliseconds on a busy machine."""
    return float((weight * y).sum())


def _bin_counts(
    bins: np.ndarray, y: np.ndarray, weight: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    events = np.bincount(bins, weights=weight * y, minlength=n_bins)
    nonevents = np.bincount(bins, weights=weight, minlength=n_bins) - events
    return events, np.maximum(nonevents, 0.0)


def _woe_table(events: np.ndarray, nonevents: np.ndarray) -> tuple[np.ndarray, float]:
    woe, iv_terms = woe_iv(events, nonevents, events.sum(), nonevents.sum())
    empty = (events + nonevents) <= 0
    return np.where(empty, 0.0, woe), float(np.where(empty, 0.0, iv_terms).sum())


# -- values ------------------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    """None, NaN (any float type: NaN is the one value unequal to itself), pandas' NA or NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and value != value


def category_string(value: Any) -> str:
    """One category as text: ``1``, ``1.0`` and ``"1"`` are the same category."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def category_strings(series: pd.Series) -> pd.Series:
    """Every category as text, the vectorised twin of :func:`category_string` (missing stays missing).

    Each distinct value is converted once (``pd.factorize`` first), not once per row.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = np.array(
        [np.nan if is_missing(u) else category_string(u) for u in np.asarray(uniques, dtype=object)]
        + [np.nan],
        dtype=object,
    )
    return pd.Series(texts[codes], index=series.index, dtype=object, name=series.name)


def as_numbers(name: str, values: pd.Series | np.ndarray) -> np.ndarray:
    """The column as float64 with NaN for missing; text that is not a number is an error naming the feature."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype):
        raise SchemaError(name, "expected numbers, got booleans (declare the feature categorical)")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in series[bad].head(3))
        raise SchemaError(
            name, f"expected numbers, found {int(bad.sum())} values that are not (e.g. {examples})"
        )
    return converted.to_numpy(dtype=np.float64, na_value=np.nan)


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


# -- the estimator ------------------------------------------------------------------------------


class BinningProcess(TransformerMixin, BaseEstimator):
    """Optimal binning of every feature of a table; ``transform`` gives weights of evidence.

    Parameters
    ----------
    trend : "auto", "ascending", "descending", "peak", "valley", "none", or a dict feature → trend
        The event rate's shape across bins; ``auto`` keeps the monotone trend with more IV, or a peak or
        valley when that adds 10 % more IV.
    n_prebins : int
        Quantile pre-bins before the optimal merge. 100 (a cut every 1 %) lets cuts land where the event rate
        changes; 50 cost 0.2–2 AUC points (×1000) on German and HMDA against optbinning's tree pre-binning.
    min_bin_size : float
        Smallest bin, as a share of all rows (weighted).
    min_rate_diff : float
        Smallest difference of event rate between neighbouring bins.
    cat_cutoff : float
        Categories rarer than this share are pooled into one "other" group.
    categorical_features : list of str, optional
        Features to bin as categories; by default text, category and boolean columns.
    special_values : list of numbers, or dict feature → list, optional
        Values that get their own bins (sentinels such as 96 or 98).
    user_splits : dict feature → splits (numerical) or groups of categories, optional
        Bins chosen by the modeller, kept as given (the way to edit a binning).
    missing, unseen, out_of_range : str
        Scoring-time rules (see the module docstring), applied to every feature.
    n_jobs : int, optional
        Threads that fit features side by side (the compiled loops release the GIL); default: one per CPU.
        The result does not depend on it.

    Attributes
    ----------
    features_ : list of str
        The features, in the order of the training table.
    binnings_ : dict of str → FeatureBinning
    """

    _rules = {
        "trend": (Options(("auto", *TRENDS)), OfType((dict,))),
        "n_prebins": (Interval(2, 500, integer=True),),
        "min_bin_size": (Interval(0, 0.5, closed="right"),),
        "min_rate_diff": (Interval(0, 1),),
        "cat_cutoff": (Interval(0, 0.5),),
        "categorical_features": (None, OfType((list, tuple))),
        "special_values": (None, OfType((list, tuple, dict))),
        "user_splits": (None, OfType((dict,))),
        "missing": (Options(MISSING_RULES),),
        "unseen": (Options(UNSEEN_RULES),),
        "out_of_range": (Options(RANGE_RULES),),
        "n_jobs": (None, Interval(1, None, integer=True)),
    }

    def __init__(
        self,
        *,
        trend: str | dict = "auto",
        n_prebins: int = 100,
        min_bin_size: float = 0.05,
        min_rate_diff: float = 0.0,
        cat_cutoff: float = 0.01,
        categorical_features: Sequence[str] | None = None,
        special_values: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
        user_splits: Mapping[str, Sequence] | None = None,
        missing: str = "bin",
        unseen: str = "other",
        out_of_range: str = "clip",
        n_jobs: int | None = None,
    ) -> None:
        self.trend = trend
        self.n_prebins = n_prebins
        self.min_bin_size = min_bin_size
        self.min_rate_diff = min_rate_diff
        self.cat_cutoff = cat_cutoff
        self.categorical_features = categorical_features
        self.special_values = special_values
        self.user_splits = user_splits
        self.missing = missing
        self.unseen = unseen
        self.out_of_range = out_of_range
        self.n_jobs = n_jobs

    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> BinningProcess:
        frame, target, weight, categorical = prepare_fit(self, X, y, sample_weight)
        rules = {"missing": self.missing, "unseen": self.unseen, "out_of_range": self.out_of_range}

        def fit_one(name: str) -> FeatureBinning:
            user = (self.user_splits or {}).get(name)
            if name in categorical:
                return fit_categorical(
                    name,
                    frame[name],
                    target,
                    weight,
                    min_bin_size=self.min_bin_size,
                    min_rate_diff=self.min_rate_diff,
                    cat_cutoff=self.cat_cutoff,
                    user_groups=user,
                    rules=rules,
                )
            trend = self.trend.get(name, "auto") if isinstance(self.trend, dict) else self.trend
            if trend not in ("auto", *TRENDS):
                raise ParameterError(
                    f"BinningProcess.trend[{name!r}]", f"must be one of auto, {', '.join(TRENDS)}"
                )
            return fit_numerical(
                name,
                as_numbers(name, frame[name]),
                target,
                weight,
                trend=trend,
                n_prebins=self.n_prebins,
                min_bin_size=self.min_bin_size,
                min_rate_diff=self.min_rate_diff,
                special_values=self._specials(name),
                user_splits=user,
                rules=rules,
            )

        binnings = dict(zip(frame.columns, map_threads(fit_one, list(frame.columns), self.n_jobs)))
        self.features_ = list(frame.columns)
        self.binnings_ = binnings
        self.n_features_in_ = len(self.features_)
        self.feature_names_in_ = np.asarray(self.features_, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Weights of evidence, one column per feature."""
        return pd.DataFrame(
            {name: self.binnings_[name].woe_of(bins) for name, bins in self.bins(X).items()},
            index=as_frame(X).index,
        )

    def bins(self, X: pd.DataFrame, features: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """The bin index of every row, per feature (missing columns are an error naming them)."""
        frame = as_frame(X)
        wanted = list(features) if features is not None else self._fitted_features()
        absent = [f for f in wanted if f not in frame.columns]
        if absent:
            raise SchemaError(", ".join(absent), "missing from the table to score")
        jobs = self.n_jobs if len(frame) >= THREADED_ROWS else 1  # a few rows: no threads to start
        return dict(
            zip(wanted, map_threads(lambda name: self.binnings_[name].bin_index(frame[name]), wanted, jobs))
        )

    def summary(self) -> pd.DataFrame:
        """One row per feature: type, trend, number of bins and IV, highest IV first."""
        rows = [
            {"feature": b.name, "dtype": b.dtype, "trend": b.trend, "n_bins": b.n_bins, "iv": b.iv}
            for b in self.binnings_.values()
        ]
        return pd.DataFrame(rows).sort_values("iv", ascending=False, ignore_index=True)

    def binning_table(self, feature: str) -> pd.DataFrame:
        self._fitted_features()
        if feature not in self.binnings_:
            raise ParameterError("feature", f"{feature!r} was not fitted; features are {self.features_}")
        return self.binnings_[feature].table()

    def _fitted_features(self) -> list[str]:
        if not hasattr(self, "binnings_"):
            raise ParameterError(type(self).__name__, "not fitted yet: call fit first")
        return self.features_

    def asked_trend(self, name: str) -> str | None:
        """The shape the analyst set for a numerical feature (a trend other than ``auto`` or ``none``), else None."""
        binning = self.binnings_.get(name) if hasattr(self, "binnings_") else None
        if binning is None or binning.dtype != NUMERICAL:
            return None
        trend = self.trend.get(name, "auto") if isinstance(self.trend, dict) else self.trend
        return None if trend in ("auto", "none") else trend

    def _specials(self, name: str) -> tuple[float, ...]:
        if self.special_values is None:
            return ()
        if isinstance(self.special_values, Mapping):
            return tuple(self.special_values.get(name, ()))
        return tuple(self.special_values)


def map_threads(function, items: list, n_jobs: int | None = None) -> list:
    """``[function(item) for item in items]`` on up to ``n_jobs`` threads (default: one per CPU), in order.

    Worth it where ``function`` spends its time in compiled code that releases the GIL.
    """
    jobs = min(n_jobs or cpu_count(), len(items))
    if jobs <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(function, items))


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def prepare_fit(
    estimator: BaseEstimator, X: Any, y: Any, sample_weight: Any
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, set[str]]:
    """What every ``fit`` checks first: parameters, the table, the target and weights, the categorical features."""
    owner = type(estimator).__name__
    validate_params(owner, estimator.get_params(deep=False), estimator._rules)
    frame = as_frame(X)
    target, weight = check_target(y, len(frame), sample_weight)
    declared = set(estimator.categorical_features or ())
    unknown = declared - set(frame.columns)
    if unknown:
        raise ParameterError(f"{owner}.categorical_features", f"not in the table: {sorted(unknown)}")
    return frame, target, weight, declared | {c for c in frame.columns if _looks_categorical(frame[c])}


def check_target(y: Any, n_rows: int, sample_weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The target as 0/1 float64 and the weights; anything else is an error naming the problem."""
    target = np.asarray(y)
    if target.ndim != 1 or len(target) != n_rows:
        raise SchemaError("y", f"expected {n_rows} values in one column, got shape {target.shape}")
    if target.dtype == bool:
        target = target.astype(np.float64)
    try:
        target = target.astype(np.float64)
    except (TypeError, ValueError):
        raise SchemaError("y", "expected 0/1 values") from None
    if np.isnan(target).any() or not np.isin(target, (0.0, 1.0)).all():
        raise SchemaError("y", "expected only 0 (good) and 1 (bad), found other values or missing ones")
    if target.min() == target.max():
        raise SchemaError("y", "needs both goods (0) and bads (1)")
    if sample_weight is None:
        return target, np.ones(n_rows)
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n_rows,) or np.isnan(weight).any() or (weight < 0).any():
        raise SchemaError("sample_weight", f"expected {n_rows} non-negative numbers")
    return target, weight


def as_frame(X: Any) -> pd.DataFrame:
    """``X`` itself when it is a DataFrame: the estimators need named feature columns."""
    if isinstance(X, pd.DataFrame):
        return X
    raise SchemaError("X", f"expected a pandas DataFrame with named feature columns, got {type(X).__name__}")


def _looks_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )
