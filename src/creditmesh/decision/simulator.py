"""The engine as the simulator's credit policy (the three methods of :class:`creditmesh.simulate.policy.Policy`).

The simulator has no review queue, so a review is settled as the automated path proposed
(``provisional_outcome``) and reported with ``automated`` false, as the placeholder rule does.
Applications carry no id when the simulator asks, so the adapter numbers them per stage in the
order it sees them; a seeded simulation therefore gives the same ids, arms and decisions each run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditmesh.decision.engine import DecisionEngine
from creditmesh.stages import STAGE_NAMES


class EnginePolicy:
    """Adapts a :class:`DecisionEngine` to the simulator's ``Policy`` protocol."""

    def __init__(self, engine: DecisionEngine) -> None:
        self.engine = engine
        self.version = engine.champion.version
        self._seen = dict.fromkeys(STAGE_NAMES, 0)

    def _decide(self, stage: str, applications: pd.DataFrame) -> pd.DataFrame:
        start = self._seen[stage]
        self._seen[stage] += len(applications)
        ids = [f"{stage}-{i}" for i in range(start, start + len(applications))]
        frame = applications.reset_index(drop=True).assign(application_id=ids)
        decided = self.engine.decide_table(stage, frame)
        decided["outcome"] = decided["provisional_outcome"]
        decided["reason"] = [r[0] if r else "approved" for r in decided["reasons"]]
        return decided

    def decide_credit_lines(self, applications: pd.DataFrame) -> pd.DataFrame:
        decided = self._decide("credit_line", applications)
        return decided[["outcome", "automated", "score", "pd", "grade", "credit_line_minor", "apr", "reason"]]

    def decide_drawdowns(
        self, applications: pd.DataFrame, available_minor: np.ndarray, delinquent: np.ndarray
    ) -> pd.DataFrame:
        frame = applications.assign(
            available_minor=np.asarray(available_minor, np.int64), delinquent=np.asarray(delinquent, bool)
        )
        return self._decide("drawdown", frame)[["outcome", "credit_line_minor", "reason"]]

    def decide_line_adjustments(self, applications: pd.DataFrame, limit_minor: np.ndarray) -> pd.DataFrame:
        frame = applications.assign(limit_minor=np.asarray(limit_minor, np.int64))
        return self._decide("line_adjustment", frame)[["outcome", "credit_line_minor", "reason"]]
