"""The WoE scorecard: binning, feature selection, logistic regression, points and reason codes.

Scaling (Siddiqi): with ``factor = pdo / ln 2`` and ``offset = base_score − factor·ln(base_odds)``,
an applicant with good:bad odds ``o`` scores ``offset + factor·ln(o)``; the model's
log-odds of bad is ``b0 + Σ bᵢ·WoEᵢ``, so feature ``i`` in bin ``j`` is worth
``−factor·bᵢ·WoEᵢⱼ + (offset − factor·b0) / n`` points. ``base_score`` points mean
odds of ``base_odds``:1, and every ``pdo`` points double the odds.

Reason codes are the features where the applicant lost the most points against the
best bin of that feature (the adverse-action convention).

One scoring path serves a table and one application: both add the same per-bin
numbers in the same order, so their probabilities and points are identical.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring._params import Interval, OfType, Options, validate_params
from creditmesh.scoring.binning import BinningProcess, FeatureBinning, check_target
from creditmesh.scoring.fingerprint import data_fingerprint

SELECTIONS = ("filter", "stepwise")
#: The default scale: 600 points at good:bad odds of 50:1, and 20 more points double the odds.
PDO, BASE_SCORE, BASE_ODDS = 20.0, 600.0, 50.0


def scaling(pdo: float, base_score: float, base_odds: float) -> tuple[float, float]:
    """``(factor, offset)`` of the scale: a log-odds of good ``g`` scores ``offset + factor·g``."""
    factor = pdo / math.log(2)
    return factor, base_score - factor * math.log(base_odds)


class Scorecard(ClassifierMixin, BaseEstimator):
    """A points scorecard over optimally binned features.

    Parameters
    ----------
    binning : BinningProcess, optional
        How to bin (cloned at fit); the default bins every feature with a trend chosen by IV.
    min_iv : float
        Features with less information value are left out.
    max_corr : float
        Of two features whose WoE correlate more than this, the one with less IV is left out.
    selection : "filter" or "stepwise"
        ``stepwise`` adds features one at a time while the BIC improves (after the filters).
    max_features : int, optional
        At most this many features (highest IV first, or in stepwise order).
    C : float
        Inverse L2 regularisation of the logistic regression.
    pdo, base_score, base_odds : float
        Points to double the odds, the score at ``base_odds``:1 good:bad.
    round_points : bool
        Round each bin's points to whole numbers (the score is their sum; the PD is the model's).
    n_reasons : int
        Reason codes given per applicant.

    Attributes
    ----------
    binning_ : BinningProcess
    features_ : list of str      the features in the model, in scoring order
    coef_ : ndarray              one coefficient per feature in ``features_``
    intercept_ : float
    points_ : dict feature → ndarray of points per bin
    selection_ : DataFrame       every candidate feature, its IV and why it was kept or left out
    """

    _rules = {
        "binning": (None, OfType((BinningProcess,))),
        "min_iv": (Interval(0, None),),
        "max_corr": (Interval(0, 1, closed="right"),),
        "selection": (Options(SELECTIONS),),
        "max_features": (None, Interval(1, None, integer=True)),
        "C": (Interval(0, None, closed="neither"),),
        "pdo": (Interval(0, None, closed="neither"),),
        "base_score": (Interval(None, None),),
        "base_odds": (Interval(0, None, closed="neither"),),
        "round_points": (OfType((bool,)),),
        "n_reasons": (Interval(0, 20, integer=True),),
    }

    def __init__(
        self,
        *,
        binning: BinningProcess | None = None,
        min_iv: float = 0.02,
        max_corr: float = 0.8,
        selection: str = "filter",
        max_features: int | None = None,
        C: float = 1.0,
        pdo: float = PDO,
        base_score: float = BASE_SCORE,
        base_odds: float = BASE_ODDS,
        round_points: bool = True,
        n_reasons: int = 4,
    ) -> None:
        self.binning = binning
        self.min_iv = min_iv
        self.max_corr = max_corr
        self.selection = selection
        self.max_features = max_features
        self.C = C
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds
        self.round_points = round_points
        self.n_reasons = n_reasons

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> Scorecard:
        self._fit(X, y, sample_weight)
        self.training_ = data_fingerprint(X, y)
        return self

    def _fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> Scorecard:
        """``fit`` without the training fingerprint: for scorecards inside a model that fingerprints its own data."""
        validate_params(type(self).__name__, self.get_params(deep=False), self._rules)
        binning = clone(self.binning) if self.binning is not None else BinningProcess()
        binning.fit(X, y, sample_weight=sample_weight)
        target, weight = check_target(y, len(X), sample_weight)
        woe = binning.transform(X)
        chosen, selection = self._select(binning, woe, target, weight)
        if not chosen:
            raise SchemaError("X", f"no feature has information value of at least min_iv={self.min_iv}")
        coef, intercept, chosen, selection = self._fit_signed(woe, target, weight, chosen, selection)
        self.binning_ = binning
        self.features_ = chosen
        self.coef_ = coef
        self.intercept_ = intercept
        self.selection_ = selection
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = binning.n_features_in_
        self.feature_names_in_ = binning.feature_names_in_
        self._build_tables()
        return self

    def _select(self, binning: BinningProcess, woe: pd.DataFrame, y: np.ndarray, w: np.ndarray):
        ivs = {f: binning.binnings_[f].iv for f in binning.features_}
        order = sorted(ivs, key=lambda f: -ivs[f])
        reasons: dict[str, str] = {}
        strong = []
        for f in order:
            if ivs[f] < self.min_iv:
                reasons[f] = f"IV {ivs[f]:.4f} < min_iv {self.min_iv}"
            else:
                strong.append(f)
        sample = woe[strong]
        if len(sample) > 200_000:
            sample = sample.sample(200_000, random_state=0)
        corr = np.corrcoef(sample.to_numpy().T) if len(strong) > 1 else np.ones((1, 1))
        corr = np.nan_to_num(corr, nan=0.0)
        kept: list[int] = []
        for i, f in enumerate(strong):
            clash = [strong[k] for k in kept if abs(corr[i, k]) > self.max_corr]
            if clash:
                reasons[f] = (
                    f"WoE correlation {corr[i, strong.index(clash[0])]:.2f} with {clash[0]} > max_corr {self.max_corr}"
                )
            else:
                kept.append(i)
        chosen = [strong[k] for k in kept]
        if self.selection == "stepwise":
            chosen = self._stepwise(woe, y, w, chosen, reasons)
        if self.max_features is not None and len(chosen) > self.max_features:
            for f in chosen[self.max_features :]:
                reasons[f] = f"beyond max_features {self.max_features}"
            chosen = chosen[: self.max_features]
        selection = pd.DataFrame(
            {
                "feature": order,
                "iv": [ivs[f] for f in order],
                "selected": [f in chosen for f in order],
                "reason": [reasons.get(f, "selected") for f in order],
            }
        )
        return chosen, selection

    def _stepwise(
        self, woe: pd.DataFrame, y: np.ndarray, w: np.ndarray, candidates: list[str], reasons: dict
    ) -> list[str]:
        """Forward selection by BIC on (a sample of at most 200,000 rows of) the training data."""
        rows = np.arange(len(y))
        if len(rows) > 200_000:
            rows = np.random.default_rng(0).choice(rows, 200_000, replace=False)
        data, ys, ws = woe[candidates].to_numpy()[rows], y[rows], w[rows]
        chosen: list[int] = []
        best_bic = _bic(np.zeros((len(ys), 0)), ys, ws, self.C)
        remaining = list(range(len(candidates)))
        limit = self.max_features or len(candidates)
        while remaining and len(chosen) < limit:
            scores = [(_bic(data[:, chosen + [k]], ys, ws, self.C), k) for k in remaining]
            bic, k = min(scores)
            if bic >= best_bic:
                break
            best_bic = bic
            chosen.append(k)
            remaining.remove(k)
        for k in remaining:
            reasons[candidates[k]] = "stepwise: does not lower the BIC"
        return [candidates[k] for k in chosen]

    def _fit_signed(
        self, woe: pd.DataFrame, y: np.ndarray, w: np.ndarray, chosen: list[str], selection: pd.DataFrame
    ):
        """Logistic regression; a feature whose coefficient is not positive (risk against its WoE) is dropped."""
        chosen = list(chosen)
        while True:
            model = LogisticRegression(C=self.C, max_iter=1000, solver="newton-cholesky")
            model.fit(np.ascontiguousarray(woe[chosen].to_numpy(dtype=np.float64)), y, sample_weight=w)
            coef = model.coef_[0]
            wrong = [f for f, c in zip(chosen, coef) if c <= 0]
            if not wrong or len(chosen) == 1:
                break
            worst = chosen[int(np.argmin(coef))]
            chosen.remove(worst)
            selection.loc[selection.feature == worst, ["selected", "reason"]] = [
                False,
                "coefficient not positive",
            ]
        return np.asarray(coef, dtype=np.float64), float(model.intercept_[0]), chosen, selection

    def _build_tables(self) -> None:
        """Per feature and bin: the log-odds contribution and the points (shared by batch and online)."""
        factor, offset = scaling(self.pdo, self.base_score, self.base_odds)
        share = (offset - factor * self.intercept_) / len(self.features_)
        self.contrib_ = {}
        self.points_ = {}
        for f, b in zip(self.features_, self.coef_):
            contrib = float(b) * np.asarray(self.binning_.binnings_[f].woe, dtype=np.float64)
            points = share - factor * contrib
            self.contrib_[f] = contrib
            self.points_[f] = np.round(points) if self.round_points else points
        self._binnings = [self.binning_.binnings_[f] for f in self.features_]
        self._contrib_lists = [c.tolist() for c in self.contrib_.values()]
        self._points_lists = [p.tolist() for p in self.points_.values()]
        self._best_points = [max(p) for p in self._points_lists]

    # -- scoring a table -------------------------------------------------------------------------
    def _bins(self, X: pd.DataFrame) -> list[np.ndarray]:
        self._check_fitted()
        found = self.binning_.bins(X, self.features_)
        return [found[f] for f in self.features_]

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of bad per row."""
        bins_by_feature = self._bins(X)
        logit = np.full(len(X), self.intercept_)
        for contrib, bins in zip(self.contrib_.values(), bins_by_feature):
            logit += contrib[bins]
        return logit

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = _sigmoid(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def predict_points(self, X: pd.DataFrame) -> np.ndarray:
        """The score: the sum of each feature's points."""
        bins_by_feature = self._bins(X)
        total = np.zeros(len(X))
        for points, bins in zip(self.points_.values(), bins_by_feature):
            total += points[bins]
        return total

    def points_by_feature(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {f: p[b] for (f, p), b in zip(self.points_.items(), self._bins(X))}, index=X.index
        )

    def reasons(self, X: pd.DataFrame, n: int | None = None) -> list[list[str]]:
        """Per row, the features that cost the most points against their best bin (most first)."""
        n = self.n_reasons if n is None else n
        lost = np.column_stack(
            [best - p[b] for best, p, b in zip(self._best_points, self.points_.values(), self._bins(X))]
        )
        order = np.argsort(-lost, axis=1, kind="stable")[:, :n]
        names = np.asarray(self.features_, dtype=object)
        return [[names[k] for k in row if lost[i, k] > 0] for i, row in enumerate(order)]

    # -- scoring one application ---------------------------------------------------------------
    def score_one(self, application: Mapping[str, Any]) -> tuple[float, float, list[str]]:
        """PD, points and reason codes of one application, equal to the table path's answers."""
        bins = self.bins_one(application)
        total = 0.0
        lost: list[tuple[float, int]] = []
        for k, b in enumerate(bins):
            points = self._points_lists[k][b]
            total += points
            lost.append((-(self._best_points[k] - points), k))
        lost.sort()
        reasons = [self.features_[k] for gap, k in lost[: self.n_reasons] if gap < 0]
        return float(_sigmoid(np.array([self.logit_of_bins(bins)]))[0]), total, reasons

    def bins_one(self, application: Mapping[str, Any]) -> list[int]:
        """The bin of each model feature for one application (bad values follow each feature's rules)."""
        self._check_fitted()
        bins = []
        for binning in self._binnings:
            if binning.name not in application:
                raise SchemaError(binning.name, "missing from the application")
            bins.append(binning.bin_one(application[binning.name]))
        return bins

    def logit_of_bins(self, bins: list[int]) -> float:
        """Log-odds of bad from one application's bins, added in the same order as :meth:`decision_function`."""
        logit = self.intercept_
        for contrib, b in zip(self._contrib_lists, bins):
            logit += contrib[b]
        return logit

    # -- reading ---------------------------------------------------------------------------------
    def points_table(self) -> pd.DataFrame:
        """Every feature's bins with WoE and points: the scorecard on one page."""
        self._check_fitted()
        rows = []
        for f, coef in zip(self.features_, self.coef_):
            binning: FeatureBinning = self.binning_.binnings_[f]
            for label, woe, points in zip(binning.labels(), binning.woe, self.points_[f]):
                rows.append({"feature": f, "bin": label, "woe": woe, "coefficient": coef, "points": points})
        return pd.DataFrame(rows)

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ParameterError(type(self).__name__, "not fitted yet: call fit first")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _bic(data: np.ndarray, y: np.ndarray, w: np.ndarray, C: float) -> float:
    n = w.sum()
    if data.shape[1] == 0:
        p = np.full(len(y), np.average(y, weights=w))
    else:
        p = LogisticRegression(C=C, max_iter=500).fit(data, y, sample_weight=w).predict_proba(data)[:, 1]
    p = np.clip(p, 1e-15, 1 - 1e-15)
    loglik = float(np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))))
    return -2 * loglik + (data.shape[1] + 1) * math.log(n)


def sql_points(
    scorecard: Scorecard, *, table: str = "applications", key: str | None = "application_id", quote: str = '"'
) -> str:
    """A ``SELECT`` giving each row's points per feature and their sum, with no Python at scoring time.

    One ``CASE`` per feature over the raw column, then ``score`` as their sum in the
    model's feature order. Runs unchanged on SQLite, DuckDB and PostgreSQL. The SQL
    applies the ``bin``/``other``/``clip`` rules; a feature whose rule is ``error``
    scores as if it were ``bin``/``other``/``clip`` (SQL cannot refuse a row).
    """
    scorecard._check_fitted()
    cases = []
    for f in scorecard.features_:
        column = f"{quote}{f.replace(quote, quote * 2)}{quote}"
        cases.append((f, _sql_case(scorecard.binning_.binnings_[f], scorecard.points_[f], column)))
    select = [f"{quote}{key}{quote}"] if key else []
    select += [f"{case} AS {quote}points_{f}{quote}" for f, case in cases]
    select.append(" + ".join(f"({case})" for _, case in cases) + f" AS {quote}score{quote}")
    return "SELECT\n  " + ",\n  ".join(select) + f"\nFROM {table}"


def _sql_case(binning: FeatureBinning, points: np.ndarray, column: str) -> str:
    def lit(value: float) -> str:
        return (
            str(int(value))
            if float(value).is_integer() and abs(value) < 2**53
            else f"CAST({float(value)!r} AS DOUBLE PRECISION)"
        )

    whens = [f"WHEN {column} IS NULL THEN {lit(points[binning.missing_bin])}"]
    if binning.dtype == "categorical":
        for b, group in enumerate(binning.groups):
            values = ", ".join("'" + c.replace("'", "''") + "'" for c in group if c != "__other__")
            if values:
                whens.append(f"WHEN {column} IN ({values}) THEN {lit(points[b])}")
        fallback = binning._unseen_bin([]) if binning.unseen == "other" else (binning.other_bin or 0)
        return "CASE " + " ".join(whens) + f" ELSE {lit(points[fallback])} END"
    for offset, special in enumerate(binning.special_values):
        whens.append(f"WHEN {column} = {_sql_number(special)} THEN {lit(points[binning.n_regular + offset])}")
    for b, split in enumerate(binning.splits):
        whens.append(f"WHEN {column} < {_sql_number(split)} THEN {lit(points[b])}")
    return "CASE " + " ".join(whens) + f" ELSE {lit(points[binning.n_regular - 1])} END"


def _sql_number(value: float) -> str:
    return f"CAST({float(value)!r} AS DOUBLE PRECISION)"
