"""The placeholder credit policy the simulator decides with, behind the interface the decision engine fills.

A :class:`Policy` takes a batch of applications (a DataFrame with the feature
columns of :data:`creditmesh.schema.FEATURE_COLUMNS`; credit-line applications also
carry :data:`APPLICANT_COLUMNS`, who applies and when) and returns one decision
per row. Before the first decision the simulator hands it the borrowers and their
identities (:meth:`Policy.prepare`), so that a policy can check applicants against
the relationship graph as they arrive. :class:`RulePolicy` is a deliberately simple points rule so that the
simulator works on its own; the decision engine plugs in through the same
three methods (structural typing: no import of this module is needed).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmesh.schema import EMPLOYMENT

GRADES = ("A", "B", "C", "D", "E")
#: Upper PD bound of each grade, and the APR the grade is priced at.
GRADE_PD_MAX = (0.02, 0.04, 0.07, 0.11, 1.0)
GRADE_APR = (0.12, 0.15, 0.18, 0.21, 0.24)
MINIMUM_DRAWDOWN_MINOR = 500_00
LINE_MAX_MINOR = 200_000_00
#: Columns beside the features of each credit-line application: the applicant's row in the borrowers
#: table and when the application arrived (µs since the epoch, UTC).
APPLICANT_COLUMNS = ("borrower_row", "applied_at_us")


class Policy(Protocol):
    """What the simulator asks of a credit policy. Each method returns one row per input row."""

    version: str

    def prepare(self, borrowers: pa.Table, identities: pa.Table) -> None:
        """Called once the borrowers (without truth) and their identities are drawn, before any decision."""
        ...

    def decide_credit_lines(self, applications: pd.DataFrame) -> pd.DataFrame:
        """Columns: outcome, automated, score, pd, grade, credit_line_minor, apr, reason."""
        ...

    def decide_drawdowns(
        self, applications: pd.DataFrame, available_minor: np.ndarray, delinquent: np.ndarray
    ) -> pd.DataFrame:
        """Columns: outcome, credit_line_minor (the amount approved), reason."""
        ...

    def decide_line_adjustments(self, applications: pd.DataFrame, limit_minor: np.ndarray) -> pd.DataFrame:
        """Columns: outcome, credit_line_minor (the new limit), reason."""
        ...


class RulePolicy:
    """A points rule on bureau score, income, inquiries, delinquencies, age and employment."""

    version = "rule-v0"

    def __init__(self, *, max_pd: float = 0.06, review_band: float = 0.0004) -> None:
        self.max_pd = max_pd
        self.review_band = review_band

    def prepare(self, borrowers: pa.Table, identities: pa.Table) -> None:
        """The rule reads no identities."""

    def estimate_pd(self, applications: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The rule's PD estimate and score (higher score is better) for each application."""
        bureau = applications["bureau_score"].astype("float64").fillna(600.0).to_numpy()
        income = applications["monthly_income_minor"].astype("float64").to_numpy()
        log_income = np.log(np.where(np.isnan(income), 4_000_00, np.maximum(income, 1_000)) / 100)
        inquiries = applications["bureau_inquiries_6m"].astype("float64").fillna(2.0).to_numpy()
        delinquencies = applications["bureau_delinquencies_24m"].astype("float64").fillna(0.5).to_numpy()
        age = applications["age"].to_numpy(dtype=np.float64)
        employment = applications["employment"].to_numpy(dtype=object)
        unstable = np.isin(employment, [EMPLOYMENT[3], EMPLOYMENT[5]]) | pd.isna(employment)
        score = (
            (bureau - 600) * 0.011
            + (log_income - 8.5) * 0.8
            - inquiries * 0.10
            - delinquencies * 0.35
            + np.minimum(age - 18, 20) * 0.015
            - unstable * 0.5
        )
        pd_estimate = 1.0 / (1.0 + np.exp(3.0 + score))
        return pd_estimate, 600 + 50 * score

    def decide_credit_lines(self, applications: pd.DataFrame) -> pd.DataFrame:
        pd_estimate, score = self.estimate_pd(applications)
        grade = np.searchsorted(np.array(GRADE_PD_MAX), pd_estimate, side="left").clip(0, len(GRADES) - 1)
        approve = pd_estimate <= self.max_pd
        income = applications["monthly_income_minor"].astype("float64").fillna(3_000_00).to_numpy()
        line = np.clip(income * 1.8 * (1.0 - 5.0 * pd_estimate), 1_000_00, LINE_MAX_MINOR)
        line = (np.floor(line / 100_00) * 100_00).astype(np.int64)
        reason = np.where(approve, "approved", "pd_above_cutoff").astype(object)
        thin = applications["bureau_score"].isna().to_numpy()
        reason[~approve & thin] = "thin_file_high_risk"
        return pd.DataFrame(
            {
                "outcome": np.where(approve, "approve", "decline"),
                # a human looks at the narrow band around the cut-off
                "automated": np.abs(pd_estimate - self.max_pd) > self.review_band,
                "score": score,
                "pd": pd_estimate,
                "grade": np.array(GRADES)[grade],
                "credit_line_minor": np.where(approve, line, 0),
                "apr": np.where(approve, np.array(GRADE_APR)[grade], np.nan),
                "reason": reason,
            }
        )

    def decide_drawdowns(
        self, applications: pd.DataFrame, available_minor: np.ndarray, delinquent: np.ndarray
    ) -> pd.DataFrame:
        requested = applications["requested_amount_minor"].to_numpy(dtype=np.int64)
        amount = np.minimum(requested, available_minor)
        approve = ~delinquent & (amount >= MINIMUM_DRAWDOWN_MINOR)
        reason = np.where(delinquent, "delinquent", np.where(approve, "approved", "insufficient_line"))
        return pd.DataFrame(
            {
                "outcome": np.where(approve, "approve", "decline"),
                "credit_line_minor": np.where(approve, amount, 0),
                "reason": reason,
            }
        )

    def decide_line_adjustments(self, applications: pd.DataFrame, limit_minor: np.ndarray) -> pd.DataFrame:
        worst = applications["max_dpd_on_book"].astype("float64").fillna(0).to_numpy()
        utilization = applications["line_utilization"].astype("float64").fillna(0).to_numpy()
        raise_line = (worst <= 3) & (utilization > 0.3)
        cut_line = worst > 30
        new_limit = np.where(raise_line, np.minimum(limit_minor * 13 // 10, LINE_MAX_MINOR), limit_minor)
        new_limit = np.where(cut_line, limit_minor // 2, new_limit)
        new_limit = (new_limit // 100_00) * 100_00
        outcome = np.where(raise_line | cut_line, "approve", "decline")
        reason = np.where(raise_line, "good_repayment", np.where(cut_line, "delinquency_cut", "no_change"))
        return pd.DataFrame(
            {"outcome": outcome, "credit_line_minor": new_limit.astype(np.int64), "reason": reason}
        )
