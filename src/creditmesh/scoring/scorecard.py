"""The WoE scorecard: binning, feature selection, logistic regression, points and reason codes.

Scaling (Siddiqi): with ``factor = pdo / ln 2`` and ``offset = base_score − factor·ln(base_odds)``,
an applicant with good:bad odds ``o`` scores ``offset + factor·ln(o)``; the model's
log-odds of bad is ``b0 + Σ bᵢ·WoEᵢ``, so feature ``i`` in bin ``j`` is worth
``−factor·bᵢ·WoEᵢⱼ + (offset − factor·b0) / n`` points. ``base_score`` points mean
odds of ``base_odds``:1, and every ``pdo`` points double the odds.

Reason codes are the features where the applicant lost the most points against the
best bin of that feature (the adverse-action convention).

Feature selection by default is chosen for out-of-sample performance: the IV cut-off
(``min_iv="cv"``) is the one of :data:`IV_GRID` whose scorecard ranks best (AUC) on
held-out folds of the training data, each fold's WoE taken from the other folds' counts so
that a weak feature's in-sample WoE does not flatter it. A table of many weak features
keeps them when they help; a table with a few strong ones drops the noise.

The sign rule (``sign``): under ``"positive"`` every coefficient is held at zero or above, so each
feature's points fall as its bins' bad rate rises, and WoE correlated above ``max_corr`` with a
stronger feature's is left out first; a feature held at zero is dropped. Under ``"free"`` every
feature is a candidate and coefficients may be negative: among many correlated features (IEEE-CIS)
a feature's points can then correct a stronger one's, which ranks better held out, but such a
feature's points rise with its own bad rate. Features whose trend the analyst set in the binning
(``BinningProcess(trend={"income": "descending"})``) keep a coefficient of zero or above under both,
so their points follow the trend asked for. ``"cv"`` (the default) takes ``"free"`` only when its
held-out AUC beats the sign rule's by more than :data:`CV_TIE`, in the same cross-validation as the
IV cut-off. The logistic regression is solved in one projected-Newton fit
(:mod:`creditmesh.scoring.logistic`).

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

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring import _kernels
from creditmesh.scoring._params import Interval, OfType, Options, validate_params
from creditmesh.scoring.binning import BinningProcess, FeatureBinning, check_target, map_threads
from creditmesh.scoring.fingerprint import data_fingerprint
from creditmesh.scoring.logistic import fit_logistic, predict_logit
from creditmesh.scoring.optimal import SMOOTHING

SELECTIONS = ("filter", "stepwise")
#: The sign rules: every coefficient at zero or above, free (but for features with a trend asked for),
#: or the one of the two that ranks better held out.
SIGNS = ("positive", "free", "cv")
#: ``max_corr=None``: WoE correlated above this with a stronger feature's is left out under the sign rule
#: (with free coefficients every feature is a candidate).
MAX_CORR = 0.8
#: The IV cut-offs ``min_iv="cv"`` chooses from (0: every feature the correlation filter keeps).
IV_GRID = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1)
#: Folds of that cross-validation (5 up to CV_SMALL rows, where held-out AUC is noisier), at most
#: CV_ROWS training rows in it (a stratified sample), and its fits' precision: they only rank cut-offs.
CV_FOLDS = 3
CV_FOLDS_SMALL = 5
CV_SMALL = 20_000
#: Up to CV_SMALL rows the folds are drawn this many times over (fits are cheap there, held-out AUC noisy).
CV_REPEATS_SMALL = 3
CV_ROWS = 60_000
CV_TOL = 1e-7
CV_HESSIAN_ROWS = 8_000
#: A cut-off whose held-out AUC is within this of the best counts as level, and the lowest such cut-off
#: (the most features) wins: under the L2 penalty a weak feature kept costs little, one left out can
#: cost more, and differences this small are fold noise (German credit: 0.001 between cut-offs held out,
#: 0.006 on fresh rows). Free coefficients must beat the sign rule by more than this under ``sign="cv"``.
CV_TIE = 0.002
#: Rows (a sample beyond) on which the WoE correlations and the stepwise BIC are computed.
CORR_ROWS = 20_000
STEPWISE_ROWS = 200_000
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
    min_iv : float or "cv"
        Features with less information value are left out; ``"cv"`` (the default) chooses the cut-off
        from :data:`IV_GRID` by cross-validation (see the module docstring).
    max_corr : float, optional
        Of two features whose WoE correlate more than this, the one with less IV is left out. ``None`` (the
        default): :data:`MAX_CORR` under the sign rule, no limit with free coefficients.
    sign : "cv", "positive" or "free"
        The sign rule on the coefficients (see the module docstring): ``positive`` holds every coefficient at
        zero or above; ``free`` lets those of features without an asked trend go negative; ``cv`` (the
        default) takes ``free`` only when it ranks better on held-out folds by more than :data:`CV_TIE`.
    selection : "filter" or "stepwise"
        ``stepwise`` adds features one at a time while the BIC improves (after the filters).
    max_features : int, optional
        At most this many features (highest IV first, or in stepwise order).
    C : float
        Inverse L2 regularisation of the logistic regression (scikit-learn's convention).
    special_values : list of numbers, or dict feature → list, optional
        Values that mean "not a value" (sentinels such as -1 or -99), each binned apart; passed to the
        default :class:`BinningProcess` (give them to ``binning`` instead when you pass one).
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
    min_iv_ : float              the IV cut-off used (the cross-validated one under ``min_iv="cv"``)
    sign_ : str                  the sign rule used, ``positive`` or ``free`` (the cross-validated one under ``"cv"``)
    cv_results_ : DataFrame      under ``min_iv="cv"`` or ``sign="cv"``: each sign rule and cut-off, its features
                                 and held-out AUC
    """

    _rules = {
        "binning": (None, OfType((BinningProcess,))),
        "min_iv": (Interval(0, None), Options(("cv",))),
        "max_corr": (None, Interval(0, 1, closed="right")),
        "sign": (Options(SIGNS),),
        "selection": (Options(SELECTIONS),),
        "max_features": (None, Interval(1, None, integer=True)),
        "C": (Interval(0, None, closed="neither"),),
        "pdo": (Interval(0, None, closed="neither"),),
        "base_score": (Interval(None, None),),
        "base_odds": (Interval(0, None, closed="neither"),),
        "round_points": (OfType((bool,)),),
        "n_reasons": (Interval(0, 20, integer=True),),
        "special_values": (None, OfType((list, tuple, dict))),
    }

    def __init__(
        self,
        *,
        binning: BinningProcess | None = None,
        min_iv: float | str = "cv",
        max_corr: float | None = None,
        sign: str = "cv",
        selection: str = "filter",
        max_features: int | None = None,
        C: float = 1.0,
        pdo: float = PDO,
        base_score: float = BASE_SCORE,
        base_odds: float = BASE_ODDS,
        round_points: bool = True,
        n_reasons: int = 4,
        special_values: list | tuple | dict | None = None,
    ) -> None:
        self.binning = binning
        self.min_iv = min_iv
        self.max_corr = max_corr
        self.sign = sign
        self.selection = selection
        self.max_features = max_features
        self.C = C
        self.pdo = pdo
        self.base_score = base_score
        self.base_odds = base_odds
        self.round_points = round_points
        self.n_reasons = n_reasons
        self.special_values = special_values

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> Scorecard:
        self._fit(X, y, sample_weight)
        self.training_ = data_fingerprint(X, y)
        return self

    def _fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> Scorecard:
        """``fit`` without the training fingerprint: for scorecards inside a model that fingerprints its own data."""
        validate_params(type(self).__name__, self.get_params(deep=False), self._rules)
        if self.binning is not None and self.special_values is not None:
            raise ParameterError(
                "Scorecard.special_values", "give special values to the binning you pass, or here, not both"
            )
        binning = (
            clone(self.binning)
            if self.binning is not None
            else BinningProcess(special_values=self.special_values)
        )
        binning.fit(X, y, sample_weight=sample_weight)
        target, weight = check_target(y, len(X), sample_weight)
        design = _Design(binning, X)
        chosen, selection = self._select(design, binning, target, weight)
        if not chosen:
            raise SchemaError("X", f"no feature has information value of at least min_iv={self.min_iv_}")
        bounded = self._bounded(binning, chosen, self.sign_)
        fit = fit_logistic(design.woe(chosen), target, weight, C=self.C, nonnegative=bounded)
        dropped = [f for f, c, b in zip(chosen, fit.coef, bounded) if b and c <= 0]
        if len(dropped) == len(chosen):  # nothing ranks risk the right way: keep the strongest alone
            dropped = chosen[1:]
            fit = fit_logistic(design.woe(chosen[:1]), target, weight, C=self.C)
        for f in dropped:
            selection.loc[selection.feature == f, ["selected", "reason"]] = [
                False,
                "coefficient not positive",
            ]
        keep = [k for k, f in enumerate(chosen) if f not in dropped]
        self.binning_ = binning
        self.features_ = [chosen[k] for k in keep]
        self.coef_ = np.asarray(fit.coef[keep], dtype=np.float64)
        self.intercept_ = float(fit.intercept)
        self.selection_ = selection
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = binning.n_features_in_
        self.feature_names_in_ = binning.feature_names_in_
        self._build_tables()
        return self

    def _select(
        self, design: _Design, binning: BinningProcess, y: np.ndarray, w: np.ndarray
    ) -> tuple[list[str], pd.DataFrame]:
        ivs = design.ivs
        order = design.features  # highest IV first
        signs = ("positive", "free") if self.sign == "cv" else (self.sign,)
        notes = {s: {} for s in signs}  # per sign rule: why a feature is left out
        families = {s: self._decorrelated(design, self._max_corr(s), notes[s]) for s in signs}
        if self.min_iv == "cv" or self.sign == "cv":
            grid = IV_GRID if self.min_iv == "cv" else (float(self.min_iv),)
            self.sign_, self.min_iv_, self.cv_results_ = self._cross_validate(
                design, binning, families, grid, y, w
            )
            note = " (cross-validated)" if self.min_iv == "cv" else ""
        else:
            self.sign_, self.min_iv_, self.cv_results_ = self.sign, float(self.min_iv), None
            note = ""
        candidates, reasons = families[self.sign_], notes[self.sign_]
        for f in order:
            if ivs[f] < self.min_iv_:
                reasons[f] = f"IV {ivs[f]:.4f} < min_iv {self.min_iv_:g}{note}"
        chosen = [f for f in candidates if ivs[f] >= self.min_iv_]
        if self.selection == "stepwise" and chosen:
            chosen = self._stepwise(design, y, w, chosen, reasons)
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

    def _max_corr(self, sign: str) -> float:
        if self.max_corr is not None:
            return float(self.max_corr)
        return MAX_CORR if sign == "positive" else 1.0

    @staticmethod
    def _bounded(binning: BinningProcess, features: list[str], sign: str) -> np.ndarray:
        """Per feature, whether its coefficient is held at zero or above under ``sign``."""
        if sign == "positive":
            return np.ones(len(features), dtype=bool)
        return np.array([binning.asked_trend(f) is not None for f in features], dtype=bool)

    def _decorrelated(self, design: _Design, max_corr: float, reasons: dict[str, str]) -> list[str]:
        """Features by IV, each left out when its WoE correlates above ``max_corr`` with a stronger one kept."""
        order = design.features
        if len(order) < 2 or max_corr >= 1:
            return list(order)
        rows = _sample_rows(design.n_rows, CORR_ROWS)
        corr = _kernels.correlation(design.woe(order, rows))
        kept: list[int] = []
        for i, f in enumerate(order):
            clash = next((k for k in kept if abs(corr[i, k]) > max_corr), None)
            if clash is None:
                kept.append(i)
            else:
                reasons[f] = f"WoE correlation {corr[i, clash]:.2f} with {order[clash]} > max_corr {max_corr}"
        return [order[k] for k in kept]

    def _cross_validate(
        self,
        design: _Design,
        binning: BinningProcess,
        families: dict[str, list[str]],
        grid: tuple[float, ...],
        y: np.ndarray,
        w: np.ndarray,
    ) -> tuple[str, float, pd.DataFrame]:
        """The sign rule and IV cut-off (of ``grid``) whose scorecard ranks best on held-out folds.

        ``families`` gives each sign rule's candidates in IV order; a cut-off keeps a leading run of
        them. Per fold the WoE comes from the other folds' counts, and each run's fit starts from the
        shorter one's. ``free`` is taken only when its best beats the sign rule's by more than
        :data:`CV_TIE`; then the lowest cut-off within :data:`CV_TIE` of that rule's best wins.
        """
        ivs = design.ivs
        sizes = {
            (s, t): sum(1 for f in candidates if ivs[f] >= t)
            for s, candidates in families.items()
            for t in grid
        }
        runs = {s: sorted({sizes[s, t] for t in grid if sizes[s, t] > 0}) for s in families}
        signs = [s for s in families if runs[s]]
        if not signs:
            empty = pd.DataFrame(columns=["sign", "min_iv", "n_features", "auc_mean", "auc_sd"])
            return next(iter(families)), max(grid), empty
        rows = _stratified_rows(y, CV_ROWS)
        small = len(y) <= CV_SMALL
        folds = CV_FOLDS_SMALL if small else CV_FOLDS
        splits = [
            _stratified_folds(y[rows], folds, seed)
            for seed in range(1, 1 + (CV_REPEATS_SMALL if small else 1))
        ]
        wanted = {f for s in signs for f in families[s][: runs[s][-1]]}
        used = [f for f in design.features if f in wanted]  # IV order
        column = {f: j for j, f in enumerate(used)}
        members = {
            s: np.array([column[f] for f in families[s][: runs[s][-1]]], dtype=np.int64) for s in signs
        }
        bounded = {s: self._bounded(binning, families[s][: runs[s][-1]], s) for s in signs}
        codes = design.codes(used, rows)
        ys, ws = y[rows], w[rows]

        def held_out(task: tuple[int, int, str]) -> list[float]:
            split, k, sign = task
            train, test = splits[split] != k, splits[split] == k
            family = members[sign]
            tables = _kernels.woe_tables(
                codes[train][:, family],
                ys[train],
                ws[train],
                design.n_bins([used[j] for j in family]),
                SMOOTHING,
            )
            X_train = _gather(tables, codes[train][:, family])
            X_test = _gather(tables, codes[test][:, family])
            aucs, start = [], None
            for size in runs[sign]:
                start = fit_logistic(
                    X_train[:, :size],
                    ys[train],
                    ws[train],
                    C=self.C,
                    nonnegative=bounded[sign][:size],
                    start=start,
                    tol=CV_TOL,
                    hessian_rows=CV_HESSIAN_ROWS,
                )
                aucs.append(_kernels.auc(ys[test], predict_logit(X_test[:, :size], start)))
            return aucs

        tasks = [(split, k, s) for s in signs for split in range(len(splits)) for k in range(folds)]
        scores = map_threads(held_out, tasks)
        by_run: dict[tuple[str, int], float] = {}
        spread: dict[tuple[str, int], float] = {}
        for s in signs:
            table = np.array([score for task, score in zip(tasks, scores) if task[2] == s])
            by_run.update({(s, r): m for r, m in zip(runs[s], table.mean(axis=0))})
            spread.update({(s, r): d for r, d in zip(runs[s], table.std(axis=0))})
        rows_out = [
            {
                "sign": s,
                "min_iv": t,
                "n_features": sizes[s, t],
                "auc_mean": by_run.get((s, sizes[s, t]), np.nan),
                "auc_sd": spread.get((s, sizes[s, t]), np.nan),
            }
            for s in families
            for t in grid
        ]
        best = {s: max(by_run[s, r] for r in runs[s]) for s in signs}
        sign = (
            "free" if "free" in best and best["free"] > best.get("positive", -np.inf) + CV_TIE else signs[0]
        )
        level = [
            t for t in grid if sizes[sign, t] > 0 and by_run[sign, sizes[sign, t]] >= best[sign] - CV_TIE
        ]
        return sign, min(level), pd.DataFrame(rows_out)

    def _stepwise(
        self, design: _Design, y: np.ndarray, w: np.ndarray, candidates: list[str], reasons: dict
    ) -> list[str]:
        """Forward selection by BIC on (a sample of at most 200,000 rows of) the training data."""
        rows = _sample_rows(len(y), STEPWISE_ROWS)
        data = design.woe(candidates, rows)
        ys, ws = (y, w) if rows is None else (y[rows], w[rows])
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
        p = _sigmoid(predict_logit(data, fit_logistic(data, y, w, C=C)))
    p = np.clip(p, 1e-15, 1 - 1e-15)
    loglik = float(np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))))
    return -2 * loglik + (data.shape[1] + 1) * math.log(n)


class _Design:
    """The fitted binning's view of the training table: each feature's bin per row, and WoE on demand.

    Features are in order of IV (highest first); WoE columns are built only for the features
    and rows asked for, so a wide table never becomes one dense matrix.
    """

    def __init__(self, binning: BinningProcess, X: pd.DataFrame) -> None:
        self.binnings = binning.binnings_
        self.ivs = {f: binning.binnings_[f].iv for f in binning.features_}
        self.features = sorted(binning.features_, key=lambda f: -self.ivs[f])
        self._bins = binning.bins(X, self.features)
        self.n_rows = len(X)

    def n_bins(self, features: list[str]) -> np.ndarray:
        return np.array([self.binnings[f].n_bins for f in features], dtype=np.int64)

    def codes(self, features: list[str], rows: np.ndarray | None = None) -> np.ndarray:
        """Rows × features of bin indices."""
        columns = [self._bins[f] if rows is None else self._bins[f][rows] for f in features]
        n = self.n_rows if rows is None else len(rows)
        out = np.empty((n, len(features)), dtype=np.int64)
        for j, column in enumerate(columns):
            out[:, j] = column
        return out

    def woe(self, features: list[str], rows: np.ndarray | None = None) -> np.ndarray:
        """Rows × features of the training WoE (float64, C order)."""
        width = max([self.binnings[f].n_bins for f in features] + [1])
        tables = np.zeros((len(features), width))
        for j, f in enumerate(features):
            tables[j, : self.binnings[f].n_bins] = self.binnings[f].woe
        return _gather(tables, self.codes(features, rows))


def _gather(tables: np.ndarray, codes: np.ndarray) -> np.ndarray:
    out = np.empty(codes.shape, dtype=np.float64)
    _kernels.gather_columns(tables, np.ascontiguousarray(codes), out)
    return out


def _sample_rows(n: int, limit: int) -> np.ndarray | None:
    """All rows (None), or a fixed random sample of ``limit`` of them in order."""
    if n <= limit:
        return None
    return np.sort(np.random.default_rng(0).choice(n, limit, replace=False))


def _stratified_rows(y: np.ndarray, limit: int) -> np.ndarray:
    """Every row, or ``limit`` of them drawn with the same share of bads, in order."""
    rows = np.arange(len(y))
    if len(y) <= limit:
        return rows
    rng = np.random.default_rng(0)
    picked = [
        rng.choice(rows[y == label], round(limit * float(np.mean(y == label))), replace=False)
        for label in (0.0, 1.0)
    ]
    return np.sort(np.concatenate(picked))


def _stratified_folds(y: np.ndarray, folds: int, seed: int = 1) -> np.ndarray:
    """Each row's fold (0 … folds-1), bads and goods dealt out evenly after a fixed shuffle."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0.0, 1.0):
        members = np.flatnonzero(y == label)
        fold[rng.permutation(members)] = np.arange(len(members)) % folds
    return fold


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
