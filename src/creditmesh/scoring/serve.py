"""One scoring path for a whole table (batch) and one application (online), with identical answers.

Every model gives a PD, a score on the scorecard's scale, a grade from the master
scale and reason codes. A scorecard's score is the sum of its points; a GBM's is
the same scaling applied to its calibrated PD
(``base_score + pdo/ln 2 · ln(odds_good / base_odds)``).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from creditmesh.errors import SchemaError
from creditmesh.scoring.gbm import GBMClassifier
from creditmesh.scoring.scorecard import BASE_ODDS, BASE_SCORE, PDO, Scorecard, scaling

#: The master scale: grade → the highest PD it holds (upper bounds, ascending); above the last, the last grade.
MASTER_SCALE: tuple[tuple[str, float], ...] = (
    ("A", 0.005),
    ("B", 0.01),
    ("C", 0.02),
    ("D", 0.04),
    ("E", 0.08),
    ("F", 0.16),
    ("G", 1.0),
)
_GRADE_BOUNDS = [bound for _, bound in MASTER_SCALE[:-1]]
_GRADES = [grade for grade, _ in MASTER_SCALE]


@dataclass(frozen=True)
class ScoreResult:
    """What a model says about one application."""

    pd: float
    score: float
    grade: str
    reasons: tuple[str, ...]


def grade_of(pd_values: np.ndarray) -> np.ndarray:
    """The master-scale grade of each PD (a PD equal to a bound belongs to that grade)."""
    return np.asarray(_GRADES, dtype=object)[
        np.searchsorted(_GRADE_BOUNDS, np.asarray(pd_values), side="left")
    ]


def grade_one(pd_value: float) -> str:
    return _GRADES[bisect.bisect_left(_GRADE_BOUNDS, pd_value)]


def _scaled(p: np.ndarray) -> np.ndarray:
    """A PD on the scorecard's default scale (:func:`creditmesh.scoring.scorecard.scaling`), to 2 decimals."""
    factor, offset = scaling(PDO, BASE_SCORE, BASE_ODDS)
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return np.round(offset + factor * np.log((1 - q) / q), 2)


def score_table(
    model: Scorecard | GBMClassifier, frame: pd.DataFrame, *, reasons: bool = True
) -> pd.DataFrame:
    """PD, score, grade and reasons for every row of ``frame`` (same index).

    ``reasons=False`` leaves them empty: a GBM's reasons need per-feature contributions, several
    times the cost of the PD, and a back-test or the approved rows of a batch do not use them.
    """
    if isinstance(model, Scorecard):
        p = model.predict_proba(frame)[:, 1]
        score = model.predict_points(frame)
    elif isinstance(model, GBMClassifier):
        p = model.predict_proba(frame)[:, 1]
        score = _scaled(p)
    else:
        raise SchemaError("model", f"expected a Scorecard or GBMClassifier, got {type(model).__name__}")
    why = [tuple(r) for r in model.reasons(frame)] if reasons else [()] * len(frame)
    return pd.DataFrame({"pd": p, "score": score, "grade": grade_of(p), "reasons": why}, index=frame.index)


def score_table_with_ids(model: Scorecard | GBMClassifier, frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`score_table` beside ``frame``'s identifier columns (``*_id``), reasons as lists (Parquet-ready)."""
    scored = score_table(model, frame)
    ids = [c for c in frame.columns if c.endswith("_id")]
    return frame[ids].join(scored.assign(reasons=scored.reasons.map(list)))


def score_application(
    model: Scorecard | GBMClassifier, application: Mapping[str, Any], *, reasons: bool = True
) -> ScoreResult:
    """The same answer as :func:`score_table` for one application given as a mapping of features."""
    if isinstance(model, Scorecard):
        p, score, why = model.score_one(application)
        why = why if reasons else []
    elif isinstance(model, GBMClassifier):
        p, why = model.score_one(application, with_reasons=reasons)
        score = float(_scaled(np.array([p]))[0])
    else:
        raise SchemaError("model", f"expected a Scorecard or GBMClassifier, got {type(model).__name__}")
    return ScoreResult(p, score, grade_one(p), tuple(why))
