"""Gradient boosting (LightGBM) with monotone constraints from the binning, cross-fitted and calibrated.

How a fit goes:

1. Each numerical feature whose best monotone binning keeps 95 % of its unconstrained
   IV gets a monotone constraint in that direction (risk rises or falls with the
   value); others are left free. Categorical features use LightGBM's own splits.
2. The training rows are cut into ``n_splits`` stratified folds; one booster per fold
   is trained on the others with early stopping on its own fold. Every training
   row thus gets an out-of-fold log-odds, and the model is the average of the
   boosters' log-odds (a small bagged ensemble that uses all the data).
   With ``search="auto"`` every tree shape of :data:`SEARCH_SPACE` is cross-fitted on the
   same folds (and with ``monotone="auto"`` each with and without the constraints); the
   candidate with the best out-of-fold AUC serves, the first one listed on a tie (the
   analyst's own shape, constrained). Each booster trains on one LightGBM thread and
   ``num_threads`` of them train at once: a booster on one thread spends its time in
   compiled code without the GIL, and its trees do not depend on what runs beside it.
3. A WoE scorecard is cross-fitted on the same folds and blended with the boosters
   by a logistic regression on the out-of-fold log-odds (``blend="scorecard"``):
   on small or nearly additive data the scorecard carries the model.
4. A calibrator (Platt or isotonic, ``auto`` picks the lower cross-validated log
   loss) is fitted on the out-of-fold log-odds.

Reasons are TreeSHAP contributions (the numbers of LightGBM's ``pred_contrib``): the features that
pushed the log-odds of bad up the most. Every booster is also flattened into one compiled
:class:`~creditmesh.scoring.forest.Forest`, which scores one application (bit-identical to
LightGBM's ``predict``) and works out every contribution without LightGBM's per-call set-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring._params import Interval, OfType, Options
from creditmesh.scoring.binning import (
    as_frame,
    as_numbers,
    category_string,
    category_strings,
    cpu_count,
    is_missing,
    map_threads,
    monotone_direction,
    prepare_fit,
)
from creditmesh.scoring.calibration import METHODS, choose_calibrator
from creditmesh.scoring.fingerprint import data_fingerprint
from creditmesh.scoring.forest import Forest
from creditmesh.scoring.scorecard import Scorecard

UNSEEN_RULES = ("missing", "error")
#: The blended scorecard keeps the sign rule: its coefficient × WoE terms are reasons, and a reason
#: must cost points where the feature's bad rate is high (the boosters carry the interactions).
SCORECARD_SIGN = "positive"
#: The tree shapes ``search="auto"`` cross-fits, each a change to the estimator's own settings (the first, no
#: change, is the analyst's shape): shallow and heavily pooled, the default's neighbour with more leaves and
#: more shrinkage, and deep trees on half the features. Small on purpose: four shapes × ``n_splits`` boosters
#: (× 2 with ``monotone="auto"``) on the folds the model is fitted on anyway, no inner split.
SEARCH_SPACE: tuple[dict[str, Any], ...] = (
    {},
    {"num_leaves": 7, "min_child_samples": 100},
    {"num_leaves": 31, "min_child_samples": 100, "lambda_l2": 10.0},
    {"num_leaves": 63, "min_child_samples": 50, "lambda_l2": 1.0, "feature_fraction": 0.5},
)
SEARCHES = ("auto", "none")
MONOTONE = ("auto", "binning", "none")


class FeatureEncoder:
    """Raw features → the float matrix LightGBM reads: numbers as they are, categories as fixed codes.

    An unseen category is treated as missing (``unseen="missing"``) or refused (``"error"``).
    """

    def __init__(
        self, features: Sequence[str], categories: Mapping[str, Sequence[str]], unseen: str = "missing"
    ) -> None:
        self.features = list(features)
        self.categories = {f: list(c) for f, c in categories.items()}
        self.unseen = unseen
        self._codes = {f: {c: float(i) for i, c in enumerate(cats)} for f, cats in self.categories.items()}

    @classmethod
    def fit(cls, frame: pd.DataFrame, categorical: set[str], unseen: str) -> FeatureEncoder:
        categories = {}
        for f in frame.columns:
            if f in categorical:
                values = category_strings(frame[f]).dropna()
                categories[f] = sorted(set(values))
        return cls(list(frame.columns), categories, unseen)

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f in self.categories]

    def matrix(self, X: pd.DataFrame) -> np.ndarray:
        frame = as_frame(X)
        absent = [f for f in self.features if f not in frame.columns]
        if absent:
            raise SchemaError(", ".join(absent), "missing from the table to score")
        out = np.empty((len(frame), len(self.features)), dtype=np.float64)
        for i, f in enumerate(self.features):
            if f in self.categories:
                strings = category_strings(frame[f])
                codes = strings.map(self._codes[f])
                unseen = codes.isna() & strings.notna()
                if unseen.any() and self.unseen == "error":
                    shown = ", ".join(repr(v) for v in strings[unseen].unique()[:5])
                    raise SchemaError(
                        f, f"categories not seen in training: {shown}, and the rule is unseen='error'"
                    )
                out[:, i] = codes.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                out[:, i] = as_numbers(f, frame[f])
        return out

    def row(self, application: Mapping[str, Any]) -> np.ndarray:
        out = np.empty((1, len(self.features)), dtype=np.float64)
        for i, f in enumerate(self.features):
            if f not in application:
                raise SchemaError(f, "missing from the application")
            value = application[f]
            if is_missing(value):
                out[0, i] = np.nan
            elif f in self.categories:
                code = self._codes[f].get(category_string(value))
                if code is None and self.unseen == "error":
                    raise SchemaError(
                        f, f"category {value!r} not seen in training, and the rule is unseen='error'"
                    )
                out[0, i] = np.nan if code is None else code
            elif isinstance(value, (bool, np.bool_)) or not isinstance(
                value, (int, float, np.integer, np.floating)
            ):
                raise SchemaError(f, f"expected a number, got {value!r}")
            else:
                out[0, i] = float(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"features": self.features, "categories": self.categories, "unseen": self.unseen}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureEncoder:
        return cls(data["features"], data["categories"], data["unseen"])


class GBMClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM, monotone where the binning says so, cross-fitted with early stopping, calibrated.

    Parameters
    ----------
    n_splits : int          folds of the cross-fit (boosters in the ensemble)
    ensemble : bool         ``True``: the fold models serve, averaged. ``False``: one booster (the folds' mean best
                            iteration × k/(k−1) rounds) and one scorecard refitted on every row serve; the
                            out-of-fold log-odds still fit the blend and the calibration (scikit-learn's
                            ``CalibratedClassifierCV(ensemble=False)`` does the same)
    learning_rate, num_leaves, min_child_samples, feature_fraction, bagging_fraction, lambda_l2 : LightGBM's
    max_rounds : int        most boosting rounds per booster; early stopping picks fewer
    early_stopping : int    rounds without improvement of the held-out log loss before stopping
    monotone : "auto", "binning" or "none"
        ``binning``: the constraints of step 1; ``none``: none; ``auto``: both are cross-fitted and the one with
        the better out-of-fold AUC serves (the constrained one on a tie). Constraints are a governance choice
        (risk never falls as utilisation rises); ``binning`` keeps them whatever they cost.
    search : "auto" or "none"
        ``auto``: the shapes of :data:`SEARCH_SPACE` are cross-fitted and the best out-of-fold AUC serves;
        ``none``: the estimator's own shape only.
    blend : "scorecard" or "none"
        ``scorecard``: a WoE scorecard is cross-fitted on the same folds, and the model's
        log-odds are a logistic blend of the boosters' and the scorecards' (weights fitted on
        the out-of-fold log-odds), so it keeps what the additive model gets right on small data.
    calibration : "auto", "platt", "isotonic" or "none"
    categorical_features : list of str, optional (default: text, category and boolean columns)
    unseen : "missing" or "error"   what an unseen category at scoring time becomes
    n_reasons : int
    random_state : int
    num_threads : int       boosters trained at once, one LightGBM thread each (0: one per core); the answer is
                            the same whatever the number. A lone booster (``ensemble=False``'s refit) gets them all

    Attributes
    ----------
    boosters_ : list of lightgbm.Booster
    forest_ : Forest             the boosters flattened for compiled scoring (rebuilt from them on loading)
    scorecards_ : list of Scorecard (empty unless ``blend="scorecard"``)
    blend_weights_ : (booster weight, scorecard weight, intercept)
    encoder_ : FeatureEncoder
    monotone_ : dict feature → -1, 0 or +1 (the constraints the serving boosters were trained with)
    search_ : dict          the serving candidate (``params``: its change to the shape, ``monotone``) and every
                            candidate's out-of-fold AUC (``candidates``)
    calibrator_ : Calibrator
    calibration_losses_ : dict method → cross-validated log loss (when ``calibration="auto"``)
    best_iterations_ : list of int
    """

    _rules = {
        "n_splits": (Interval(2, 20, integer=True),),
        "learning_rate": (Interval(0, 1, closed="right"),),
        "num_leaves": (Interval(2, 4096, integer=True),),
        "min_child_samples": (Interval(1, None, integer=True),),
        "feature_fraction": (Interval(0, 1, closed="right"),),
        "bagging_fraction": (Interval(0, 1, closed="right"),),
        "lambda_l2": (Interval(0, None),),
        "max_rounds": (Interval(1, None, integer=True),),
        "early_stopping": (Interval(1, None, integer=True),),
        "monotone": (Options(MONOTONE),),
        "search": (Options(SEARCHES),),
        "blend": (Options(("scorecard", "none")),),
        "calibration": (Options(("auto", *METHODS)),),
        "categorical_features": (None, OfType((list, tuple))),
        "unseen": (Options(UNSEEN_RULES),),
        "ensemble": (OfType((bool,)),),
        "n_reasons": (Interval(0, 20, integer=True),),
        "random_state": (Interval(0, None, integer=True),),
        "num_threads": (Interval(0, None, integer=True),),
    }

    def __init__(
        self,
        *,
        n_splits: int = 5,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        feature_fraction: float = 0.7,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 5.0,
        max_rounds: int = 5000,
        early_stopping: int = 100,
        monotone: str = "auto",
        search: str = "auto",
        blend: str = "scorecard",
        calibration: str = "auto",
        categorical_features: Sequence[str] | None = None,
        unseen: str = "missing",
        ensemble: bool = True,
        n_reasons: int = 4,
        random_state: int = 0,
        num_threads: int = 0,
    ) -> None:
        self.n_splits = n_splits
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.max_rounds = max_rounds
        self.early_stopping = early_stopping
        self.monotone = monotone
        self.search = search
        self.blend = blend
        self.calibration = calibration
        self.categorical_features = categorical_features
        self.unseen = unseen
        self.ensemble = ensemble
        self.n_reasons = n_reasons
        self.random_state = random_state
        self.num_threads = num_threads

    def _lgb_params(self, monotone: list[int], shape: Mapping[str, Any], threads: int) -> dict[str, Any]:
        settings = {
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "lambda_l2": self.lambda_l2,
            **shape,
        }
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            **settings,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1 if self.bagging_fraction < 1 else 0,
            "monotone_constraints": monotone,
            # "advanced" broke a constraint in our tests (LightGBM issue #5358); "intermediate" holds them
            "monotone_constraints_method": "intermediate",
            "seed": self.random_state,
            "num_threads": threads,
            "verbosity": -1,
            "deterministic": True,
            "force_row_wise": True,
        }

    def _candidates(self, directions: dict[str, int]) -> list[tuple[dict[str, Any], str]]:
        """(shape, monotone) pairs to cross-fit, in the order that wins a tie."""
        shapes = [dict(shape) for shape in SEARCH_SPACE] if self.search == "auto" else [{}]
        if self.monotone == "auto":
            # without any constrained feature the two settings are the same boosters: fit them once
            kinds = ["binning", "none"] if any(directions.values()) else ["binning"]
        else:
            kinds = [self.monotone]
        return [(shape, kind) for kind in kinds for shape in shapes]

    def fit(self, X: pd.DataFrame, y: Any, sample_weight: Any = None) -> GBMClassifier:
        import lightgbm as lgb

        frame, target, weight, categorical = prepare_fit(self, X, y, sample_weight)
        encoder = FeatureEncoder.fit(frame, categorical, self.unseen)
        data = encoder.matrix(frame)
        directions = {f: 0 for f in encoder.features}
        if self.monotone != "none":
            for i, f in enumerate(encoder.features):
                if f not in encoder.categories:
                    directions[f] = monotone_direction(data[:, i], target)
        unconstrained = {f: 0 for f in encoder.features}
        candidates = self._candidates(directions)
        folds = list(
            StratifiedKFold(n_splits=self.n_splits, shuffle=True, random_state=self.random_state).split(
                data, target
            )
        )

        def constraints(kind: str) -> dict[str, int]:
            return directions if kind == "binning" else unconstrained

        def train_fold(job: tuple[int, int]):
            """One booster: candidate ``c`` on fold ``k``, one LightGBM thread, early stopping on the fold."""
            c, k = job
            shape, kind = candidates[c]
            train, valid = folds[k]
            params = self._lgb_params([constraints(kind)[f] for f in encoder.features], shape, 1)
            train_set = lgb.Dataset(
                data[train],
                target[train],
                weight=weight[train],
                categorical_feature=encoder.categorical_indices,
                free_raw_data=True,
            )
            valid_set = lgb.Dataset(
                data[valid],
                target[valid],
                weight=weight[valid],
                reference=train_set,
                categorical_feature=encoder.categorical_indices,
            )
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=self.max_rounds,
                valid_sets=[valid_set],
                callbacks=[lgb.early_stopping(self.early_stopping, verbose=False)],
            )
            booster.free_dataset()
            raw = booster.predict(
                data[valid], raw_score=True, num_iteration=booster.best_iteration, num_threads=1
            )
            return _trimmed(booster), int(booster.best_iteration), raw

        threads = self.num_threads or cpu_count()
        jobs = [(c, k) for c in range(len(candidates)) for k in range(len(folds))]
        trained = dict(zip(jobs, map_threads(train_fold, jobs, n_jobs=threads)))
        candidate_oof = np.zeros((len(candidates), len(frame)))  # each candidate's out-of-fold log-odds
        for (c, k), (_, _, raw) in trained.items():
            candidate_oof[c, folds[k][1]] = raw
        scores = [float(roc_auc_score(target, raw, sample_weight=weight)) for raw in candidate_oof]
        chosen = int(np.argmax(scores))  # the first of equals: the analyst's shape, constrained
        shape, kind = candidates[chosen]
        monotone = dict(constraints(kind))

        oof = np.zeros((len(frame), 2))  # out-of-fold log-odds: boosters, scorecards
        oof[:, 0] = candidate_oof[chosen]
        del candidate_oof
        boosters, scorecards, best = [], [], []
        for k, (train, valid) in enumerate(folds):
            booster, rounds, _ = trained[(chosen, k)]
            boosters.append(booster)
            best.append(rounds)
            if self.blend == "scorecard":
                scorecard = Scorecard(sign=SCORECARD_SIGN)._fit(
                    frame.iloc[train], target[train], sample_weight=weight[train]
                )
                oof[valid, 1] = scorecard.decision_function(frame.iloc[valid])
                scorecards.append(scorecard)
        del trained
        params = self._lgb_params([monotone[f] for f in encoder.features], shape, threads)
        if not self.ensemble:  # one booster and one scorecard on every row serve; the folds only calibrate
            rounds = max(1, round(float(np.mean(best)) * self.n_splits / (self.n_splits - 1)))
            full = lgb.Dataset(data, target, weight=weight, categorical_feature=encoder.categorical_indices)
            boosters = [
                lgb.Booster(model_str=lgb.train(params, full, num_boost_round=rounds).model_to_string())
            ]
            if self.blend == "scorecard":
                scorecards = [Scorecard(sign=SCORECARD_SIGN)._fit(frame, target, sample_weight=weight)]
        if self.blend == "scorecard":
            stack = LogisticRegression(C=1e6, max_iter=1000).fit(oof, target, sample_weight=weight)
            self.blend_weights_ = (
                float(stack.coef_[0, 0]),
                float(stack.coef_[0, 1]),
                float(stack.intercept_[0]),
            )
        else:
            self.blend_weights_ = (1.0, 0.0, 0.0)
        self.boosters_ = boosters
        self.forest_ = Forest.from_boosters(boosters)
        self._tables = None
        self.scorecards_ = scorecards
        self.calibrator_, self.calibration_losses_ = choose_calibrator(
            self._blend(oof[:, 0], oof[:, 1]), target, self.calibration, seed=self.random_state
        )
        self.best_iterations_ = best
        self.encoder_ = encoder
        self.monotone_ = monotone
        self.search_ = {
            "params": dict(shape),
            "monotone": kind,
            "candidates": [
                {"params": dict(s), "monotone": m, "oof_auc": float(a)}
                for (s, m), a in zip(candidates, scores)
            ],
        }
        self.classes_ = np.array([0, 1])
        self.features_ = list(encoder.features)
        self.n_features_in_ = len(self.features_)
        self.feature_names_in_ = np.asarray(self.features_, dtype=object)
        self.training_ = data_fingerprint(X, y)
        return self

    # -- scoring -----------------------------------------------------------------------------------
    def _blend(self, booster_logit: np.ndarray, scorecard_logit: np.ndarray) -> np.ndarray:
        w_booster, w_scorecard, intercept = self.blend_weights_
        return w_booster * booster_logit + w_scorecard * scorecard_logit + intercept

    def _booster_raw(self, data: np.ndarray) -> np.ndarray:
        """Per row and booster, its raw score: the compiled forest (bit for bit LightGBM's, without the C-API's
        set-up) for a few rows, LightGBM's predict on every core for many."""
        if len(data) < _ONE_THREAD_ROWS:
            return self.forest_.raw(data)
        return np.column_stack([b.predict(data, raw_score=True, num_threads=0) for b in self.boosters_])

    def _raw(self, booster_raw: np.ndarray, scorecard_logits: Sequence[np.ndarray]) -> np.ndarray:
        """Blended log-odds: the boosters' mean and the scorecards' mean (one code path for a table and a row)."""
        boosted = np.zeros(len(booster_raw))
        for raw in booster_raw.T:
            boosted += raw
        linear = np.zeros(len(booster_raw))
        for logit in scorecard_logits:
            linear += logit
        n = len(self.boosters_)
        return self._blend(boosted / n, linear / max(len(scorecard_logits), 1))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return self._raw(
            self._booster_raw(self.encoder_.matrix(X)), [s.decision_function(X) for s in self.scorecards_]
        )

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.calibrator_.apply(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per row and feature, the contribution to the blended log-odds of bad (and the base value).

        The boosters' TreeSHAP contributions (:meth:`Forest.contributions`, LightGBM's ``pred_contrib``) and the scorecards'
        coefficient × WoE per feature, each weighted as in the blend; intercepts go to the base.
        """
        self._check_fitted()
        frame = as_frame(X)
        bins = [np.vstack(s._bins(frame)) if s.features_ else None for s in self.scorecards_]
        return pd.DataFrame(
            self._contrib(self.forest_.contributions(self.encoder_.matrix(frame)), bins),
            columns=[*self.features_, "base"],
            index=frame.index,
        )

    def _contrib(self, booster_contrib: np.ndarray, bins: Sequence[np.ndarray | None]) -> np.ndarray:
        """The blend of the boosters' contributions (rows, boosters, features + 1) and the scorecards', whose
        bins are one array (scorecard features, rows) per scorecard."""
        w_booster, w_scorecard, intercept = self.blend_weights_
        total = booster_contrib.sum(axis=1) * (w_booster / len(self.boosters_))
        total[:, -1] += intercept
        for (columns, offsets, table), scorecard, scorecard_bins in zip(
            self._scorecard_tables(), self.scorecards_, bins
        ):
            share = w_scorecard / len(self.scorecards_)
            total[:, -1] += share * scorecard.intercept_
            if scorecard_bins is not None:
                total[:, columns] += share * table[offsets[:, None] + scorecard_bins].T
        return total

    def _scorecard_tables(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per scorecard: its features' columns among the model's, and every feature's per-bin contributions
        end to end with where each feature's start (built once, on first use)."""
        if getattr(self, "_tables", None) is None:
            column = {f: i for i, f in enumerate(self.features_)}
            self._tables = []
            for scorecard in self.scorecards_:
                parts = [scorecard.contrib_[f] for f in scorecard.features_]
                sizes = np.array([len(p) for p in parts], dtype=np.int64)
                self._tables.append(
                    (
                        np.array([column[f] for f in scorecard.features_], dtype=np.int64),
                        np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
                        np.concatenate(parts) if parts else np.zeros(0),
                    )
                )
        return self._tables

    def reasons(self, X: pd.DataFrame, n: int | None = None) -> list[list[str]]:
        """Per row, the features that raised the log-odds of bad the most (only those that raised it)."""
        n = self.n_reasons if n is None else n
        return _top_reasons(self.contributions(X).to_numpy()[:, :-1], self.features_, n)

    def score_one(
        self, application: Mapping[str, Any], *, with_reasons: bool = True
    ) -> tuple[float, list[str]]:
        """PD and reasons of one application, equal to the table path's answers."""
        self._check_fitted()
        row = self.encoder_.row(application)
        one_bins = [s.bins_one(application) for s in self.scorecards_]
        logits = [np.array([s.logit_of_bins(b)]) for s, b in zip(self.scorecards_, one_bins)]
        if not with_reasons:
            return float(self.calibrator_.apply(self._raw(self._booster_raw(row), logits))[0]), []
        booster_raw, booster_contrib = self.forest_.explain(row)  # one pass: the PD's raw scores are its own
        p = float(self.calibrator_.apply(self._raw(booster_raw, logits))[0])
        bins = [np.array(b, dtype=np.int64)[:, None] if b else None for b in one_bins]
        return p, _top_reasons(self._contrib(booster_contrib, bins)[:, :-1], self.features_, self.n_reasons)[
            0
        ]

    def _check_fitted(self) -> None:
        if not hasattr(self, "boosters_"):
            raise ParameterError(type(self).__name__, "not fitted yet: call fit first")


#: Below this many rows the compiled forest scores on this thread; above, LightGBM's predict on every core (waking
#: OpenMP threads costs milliseconds a call on a busy machine, far more than scoring one application).
_ONE_THREAD_ROWS = 2_000


def _top_reasons(contrib: np.ndarray, features: Sequence[str], n: int) -> list[list[str]]:
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :n]
    return [[features[k] for k in row if contrib[i, k] > 0] for i, row in enumerate(order)]


def _trimmed(booster):
    """The booster cut at its best iteration, rebuilt from its text model (what is saved is what is served)."""
    import lightgbm as lgb

    return lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
