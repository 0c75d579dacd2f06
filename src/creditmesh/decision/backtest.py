"""Back-testing a candidate policy on past applications, against the current policy.

Both policies decide every past credit-line application with the same model (batch path,
without the model's reasons). A review counts as the outcome the automated path proposed
(``provisional_outcome``); the review rate is reported beside. The expected bad rate is the
mean PD of the approved; the realised bad rate is the observed outcome's mean over the approved
whose outcome is known (``known`` marks them: in real data, the loans the past policy booked).
The swap table counts applications by (current outcome, candidate outcome): swap-ins are
approved only by the candidate, swap-outs only by the current policy.

Expected profit is a first-year reading under stated assumptions: each approved line drawn in
full for a year, earning its APR when the borrower does not default and losing ``lgd`` of it
when they do: ``line × (apr × (1 − pd) − lgd × pd)``, summed in integer minor units (rates as
parts per million; each application's amount rounded half-even to a whole minor unit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditmesh.decision.engine import DecisionEngine
from creditmesh.decision.policy import CreditPolicy
from creditmesh.errors import ParameterError, SchemaError
from creditmesh.money import Rounding, format_minor, rate_to_ppm, round_ratio_array


@dataclass(frozen=True)
class BacktestResult:
    """The summary per policy and the swap table."""

    summary: (
        pd.DataFrame
    )  # one row per policy: applications, approval, review, expected and realised bad rates
    swaps: pd.DataFrame  # current outcome × candidate outcome: applications, realised bad rate

    def as_json(self) -> dict[str, list[dict[str, Any]]]:
        """Both tables as lists of records (JSON-ready: NaN becomes null)."""
        return {
            "summary": json.loads(self.summary.reset_index().to_json(orient="records")),
            "swaps": json.loads(self.swaps.reset_index().to_json(orient="records")),
        }

    def readable_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Both tables as a reader sees them: headed in words, rates in per cent, money formatted."""
        summary = pd.DataFrame(
            {
                "policy": [str(name) for name in self.summary.index],
                "applications": [f"{int(n):,}" for n in self.summary.applications],
                "approval": [f"{r:.2%}" for r in self.summary.approval_rate],
                "review": [f"{r:.2%}" for r in self.summary.review_rate],
                "expected bad": [f"{r:.2%}" for r in self.summary.expected_bad_rate],
                "realised bad (known)": [
                    f"{r:.2%} ({int(n):,})"
                    for r, n in zip(self.summary.realised_bad_rate, self.summary.realised_known)
                ],
                "expected profit, 1st year": [
                    format_minor(int(m)) for m in self.summary.expected_profit_minor
                ],
            }
        )
        swaps = pd.DataFrame(
            {
                "current": [was for was, _ in self.swaps.index],
                "candidate": [now for _, now in self.swaps.index],
                "applications": [f"{int(n):,}" for n in self.swaps.applications],
                "realised bad": [f"{r:.2%}" for r in self.swaps.realised_bad_rate],
            }
        )
        return summary, swaps


def expected_profit_minor(decided: pd.DataFrame, *, lgd: float) -> int:
    """``Σ line × (apr × (1 − pd) − lgd × pd)`` over the approved, in minor units (see the module's docstring)."""
    approved = decided["provisional_outcome"].to_numpy() == "approve"
    line = decided["credit_line_minor"].to_numpy(np.int64)[approved]
    apr_ppm = rate_to_ppm(decided["apr"].to_numpy(np.float64)[approved])
    pd_ppm = rate_to_ppm(decided["pd"].to_numpy(np.float64)[approved])
    margin_ppm2 = (
        apr_ppm * (1_000_000 - pd_ppm) - int(rate_to_ppm(lgd)) * pd_ppm
    )  # parts per 10^12, fits int64
    # line × margin can pass int64 (10^10 minor × 10^12): split the margin into its millions and the rest
    high, low = np.divmod(margin_ppm2, 1_000_000)
    per_line = line * high + round_ratio_array(line * low, 1_000_000, rounding=Rounding.HALF_EVEN)
    return int(round_ratio_array(per_line, 1_000_000, rounding=Rounding.HALF_EVEN).sum())


def _summary(
    decided: pd.DataFrame, bad: np.ndarray | None, known: np.ndarray | None, lgd: float
) -> dict[str, Any]:
    approved = decided["provisional_outcome"].to_numpy() == "approve"
    row = {
        "applications": len(decided),
        "approval_rate": approved.mean(),
        "review_rate": (decided["outcome"] == "review").mean(),
        "expected_bad_rate": decided["pd"].to_numpy()[approved].mean() if approved.any() else np.nan,
        "expected_profit_minor": expected_profit_minor(decided, lgd=lgd),
        "realised_bad_rate": np.nan,
        "realised_known": 0,
    }
    if bad is not None:
        seen = approved & known
        row["realised_known"] = int(seen.sum())
        row["realised_bad_rate"] = bad[seen].mean() if seen.any() else np.nan
    return row


def backtest(
    candidate: CreditPolicy,
    current: CreditPolicy,
    applications: pd.DataFrame,
    model: Any,
    *,
    outcome: str | None = "bad_12m",
    known: str | None = "approved",
    lgd: float = 1.0,
) -> BacktestResult:
    """Decide ``applications`` under both policies and compare (see the module's docstring)."""
    if not 0 <= lgd <= 1:
        raise ParameterError("lgd", f"a loss given default is in [0, 1], got {lgd}")
    if outcome is not None and outcome not in applications.columns:
        raise SchemaError(f"applications.{outcome}", "the outcome column is missing")
    bad = None if outcome is None else applications[outcome].to_numpy(np.float64)
    seen = (
        np.ones(len(applications), bool)
        if known is None or known not in applications.columns
        else applications[known].to_numpy(bool)
    )
    if bad is not None:
        seen = seen & ~np.isnan(bad)
    ours = DecisionEngine(candidate, model).decide_table("credit_line", applications, model_reasons=False)
    theirs = DecisionEngine(current, model).decide_table("credit_line", applications, model_reasons=False)
    summary = pd.DataFrame(
        [_summary(theirs, bad, seen, lgd), _summary(ours, bad, seen, lgd)],
        index=pd.Index([f"current ({current.name})", f"candidate ({candidate.name})"], name="policy"),
    )
    pair = pd.DataFrame(
        {
            "current": theirs["provisional_outcome"].to_numpy(),
            "candidate": ours["provisional_outcome"].to_numpy(),
            "bad": np.where(seen, bad if bad is not None else np.nan, np.nan),
        }
    )
    swaps = pair.groupby(["current", "candidate"]).agg(
        applications=("bad", "size"), realised_bad_rate=("bad", "mean")
    )
    return BacktestResult(summary, swaps)


def backtest_chart(result: BacktestResult, path: str | Path) -> Path:
    """A PNG: approval and bad rates per policy, and the swap counts."""
    from creditmesh.charts import new_figure

    figure, (left, right) = new_figure((11, 4), ncols=2)
    names = list(result.summary.index)
    x = np.arange(len(names))
    for offset, column in zip((-0.27, 0, 0.27), ("approval_rate", "expected_bad_rate", "realised_bad_rate")):
        left.bar(
            x + offset,
            result.summary[column].fillna(0).to_numpy(),
            width=0.27,
            label=column.replace("_", " "),
        )
    left.set_xticks(x, names)
    left.set_ylabel("share of applications / of approved")
    left.legend()
    left.set_title("policy comparison")
    labels = [f"{a} → {b}" for a, b in result.swaps.index]
    right.barh(labels, result.swaps["applications"].to_numpy())
    right.set_xlabel("applications")
    right.set_title("swap set (current → candidate)")
    figure.tight_layout()
    out = Path(path)
    figure.savefig(out, dpi=100)
    return out
