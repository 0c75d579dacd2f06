"""Scoring: binning, the WoE scorecard, gradient boosting, calibration, metrics and model artifacts.

A model turns an application's features into a calibrated probability of default
(PD), a score, a grade and reasons. :class:`Scorecard` and :class:`GBMClassifier`
follow scikit-learn's conventions; :func:`save_model` / :func:`load_model` keep
them as readable, hashed artifacts.
"""

from creditmesh.scoring.binning import BinningProcess, FeatureBinning
from creditmesh.scoring.calibration import Calibrator
from creditmesh.scoring.gbm import GBMClassifier
from creditmesh.scoring.scorecard import Scorecard, sql_points

__all__ = ["BinningProcess", "FeatureBinning", "Calibrator", "GBMClassifier", "Scorecard", "sql_points"]
