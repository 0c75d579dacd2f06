"""The engine as the simulator's credit policy (the three methods of :class:`creditmesh.simulate.policy.Policy`).

The simulator has no review queue, so a review is settled as the automated path proposed
(``provisional_outcome``) and reported with ``automated`` false, as the placeholder rule does.
Applications carry no id when the simulator asks, so the adapter numbers them per stage in the
order it sees them; a seeded simulation therefore gives the same ids, arms and decisions each run.

Fraud checks at arrival: once the simulator hands over the borrowers and their identities
(:meth:`EnginePolicy.prepare`), each credit-line application is looked up in the relationship
graph as it stood when the application arrived (:class:`ArrivalGraph`: the point-in-time graph of
:mod:`creditmesh.graph.features`, whose answers the tests hold equal to the online index's, one
application at a time), and its ``ring_size`` goes to the policy, whose ``fraud_ring`` knock-out
declines it and names the reason. The black list is not looked up: it is built from first-payment
defaults in the book, and the simulator decides every credit-line application before the first
repayment falls due.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmesh.decision.engine import DecisionEngine
from creditmesh.decision.policy import CreditPolicy
from creditmesh.graph.build import GraphConfig, encode_identities
from creditmesh.graph.features import PointInTimeGraph
from creditmesh.simulate import SimulationConfig
from creditmesh.simulate.policy import APPLICANT_COLUMNS
from creditmesh.stages import STAGE_NAMES


class ArrivalGraph:
    """The relationship graph of the simulated borrowers, answered as of each application's arrival.

    A borrower's identifiers count from registration (the simulator's applications all come later),
    and an identifier links only its first holders up to the namespace's cap, so the graph at any
    moment is what an online index fed in arrival order would hold.
    """

    def __init__(self, borrowers: pa.Table, identities: pa.Table, config: GraphConfig | None = None) -> None:
        encoded, _ = encode_identities(identities, borrowers)
        self.graph = PointInTimeGraph.build(encoded, encoded.registered_at_us, config)

    def ring_size(self, borrower_row: np.ndarray, applied_at_us: np.ndarray) -> np.ndarray:
        """Borrowers in each applicant's ring (component over strong links) when the application arrived."""
        return self.graph.ring_size(borrower_row, applied_at_us)


class EnginePolicy:
    """Adapts a :class:`DecisionEngine` to the simulator's ``Policy`` protocol."""

    def __init__(self, engine: DecisionEngine) -> None:
        self.engine = engine
        self.version = engine.champion.version
        self._seen = dict.fromkeys(STAGE_NAMES, 0)
        self.graph: ArrivalGraph | None = None

    def prepare(self, borrowers: pa.Table, identities: pa.Table) -> None:
        """Index the borrowers' identities for the fraud checks at arrival."""
        self.graph = ArrivalGraph(borrowers, identities)

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
        applicant = [c for c in APPLICANT_COLUMNS if c in applications.columns]
        if self.graph is not None and len(applicant) == len(APPLICANT_COLUMNS):
            ring_size = self.graph.ring_size(*(applications[c].to_numpy() for c in APPLICANT_COLUMNS))
            applications = applications.assign(ring_size=ring_size)
        decided = self._decide("credit_line", applications.drop(columns=applicant))
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


#: Months the burn-in platform runs under the placeholder before the engine's model is trained on it.
BURN_IN_MONTHS = 12


def engine_policy_after_burn_in(
    config: SimulationConfig,
    *,
    policy: CreditPolicy | None = None,
    burn_in_months: int = BURN_IN_MONTHS,
    num_threads: int = 1,
) -> EnginePolicy:
    """The engine running ``policy`` (default: the shipped champion) with a GBM trained on a burn-in.

    The burn-in is an earlier platform of the same size decided by the placeholder rule (the seed
    after ``config.seed``, ``burn_in_months`` long); the model learns ``bad_12m`` on its approved
    credit-line applications, as ``creditmesh model train --where approved`` does. The burn-in's
    population is a different draw, so nothing of the decided run leaks into its own model.
    """
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    import pyarrow.parquet as pq

    from creditmesh.decision.policy import default_policy_path, load_policy
    from creditmesh.scoring import GBMClassifier
    from creditmesh.scoring.dataset import APPLICATION_FEATURES, credit_line_table
    from creditmesh.simulate import simulate_to

    with tempfile.TemporaryDirectory(prefix="creditmesh-burn-in-") as scratch:
        # streamed to disk and read back: only the credit-line applications, their outcomes and true PDs
        # come back, not the burn-in's whole book (issue 22: at 1,000,000 borrowers it set the peak)
        burn_in = simulate_to(
            Path(scratch) / "book", replace(config, seed=config.seed + 1, months=burn_in_months)
        )
        table = credit_line_table(
            pq.read_table(
                burn_in / "applications.parquet", filters=[("stage", "==", "credit_line")]
            ).to_pandas(),
            pq.read_table(burn_in / "decisions.parquet", columns=["application_id", "outcome"]).to_pandas(),
            pq.read_table(
                burn_in / "truth" / "applications.parquet", columns=["application_id", "true_pd"]
            ).to_pandas(),
            seed=config.seed,
        )
    approved = table[table["approved"]]
    # the world is calibrated (tests/simulate/test_calibration.py) with this engine: pinned, not the estimator's
    # defaults, so that a change to how GBMClassifier folds or searches does not move the simulated platform
    model = GBMClassifier(n_splits=3, monotone="binning", search="none", num_threads=num_threads).fit(
        approved[list(APPLICATION_FEATURES)], approved["bad_12m"]
    )
    return EnginePolicy(DecisionEngine(policy or load_policy(default_policy_path()), model))
