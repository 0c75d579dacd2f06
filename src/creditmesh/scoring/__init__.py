"""Scoring: binning, the WoE scorecard, gradient boosting, calibration, metrics and model artifacts.

A model turns an application's features into a calibrated probability of default
(PD), a score, a grade and reasons. :class:`Scorecard` and :class:`GBMClassifier`
follow scikit-learn's conventions; :func:`save_model` / :func:`load_model` keep
them as readable, hashed artifacts; :func:`score_table` and
:func:`score_application` are the one scoring path for a table and for one
application, with identical answers.
"""

from creditmesh.scoring.artifact import load_model, save_model
from creditmesh.scoring.binning import BinningProcess, FeatureBinning
from creditmesh.scoring.calibration import Calibrator
from creditmesh.scoring.gbm import GBMClassifier
from creditmesh.scoring.scorecard import Scorecard, sql_points
from creditmesh.scoring.serve import MASTER_SCALE, ScoreResult, grade_of, score_application, score_table

__all__ = [
    "BinningProcess",
    "FeatureBinning",
    "Calibrator",
    "GBMClassifier",
    "Scorecard",
    "sql_points",
    "save_model",
    "load_model",
    "score_table",
    "score_application",
    "ScoreResult",
    "MASTER_SCALE",
    "grade_of",
]
