"""The policies at work: the champion and its challengers, each arm's approval and bad rates, the shadow policy's
disagreements, and a back-test of the other policies against the champion on the latest applications.

Everything is read from the decision log, so it covers every policy the service has decided under, the ones
configured now and the ones before them. An arm's bad rate is the share of its approved applicants whose line has
a loan 30 or more days past due today (:data:`BAD_DPD`), among the approved that have a loan (the outcome is known
only for them); the rates are the decision box's :func:`~creditmesh.decision.arm_results`. The back-test is the
decision box's :func:`~creditmesh.decision.backtest.backtest` over the last :data:`BACKTEST_APPLICATIONS` credit-line
applications as stored. The whole page is kept for :data:`KEEP_SECONDS` (it reads the whole log).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from creditmesh.api.platform import Platform, today
from creditmesh.api.tables import credit_line_profiles
from creditmesh.decision import arm_results
from creditmesh.decision.audit import DECISIONS, POLICIES
from creditmesh.decision.backtest import backtest
from creditmesh.decision.policy import policy_from_dict
from creditmesh.ledger.tables import installments, loans
from creditmesh.stages import CREDIT_LINE

#: A loan this many days past due (or more) makes its borrower "bad" for the arms' bad rates.
BAD_DPD = 30
#: The applications a back-test decides again (the latest), and the most decisions the arms read.
BACKTEST_APPLICATIONS = 2_000
MAX_DECISIONS_READ = 500_000
KEEP_SECONDS = 30.0


def decisions_frame(platform: Platform) -> pd.DataFrame:
    """The credit-line decisions of the log, the latest first: arm, policy version, outcome, PD, shadow outcome."""
    with platform.engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                DECISIONS.c.application_id,
                DECISIONS.c.arm,
                DECISIONS.c.policy_version,
                DECISIONS.c.decision,
                DECISIONS.c.shadow,
            )
            .where(DECISIONS.c.stage == CREDIT_LINE.name)
            .order_by(DECISIONS.c.decided_at_ns.desc())
            .limit(MAX_DECISIONS_READ)
        ).all()
    decided = [json.loads(r.decision) for r in rows]
    return pd.DataFrame(
        {
            "application_id": [r.application_id for r in rows],
            "arm": [r.arm for r in rows],
            "policy_version": [r.policy_version for r in rows],
            "outcome": [d["outcome"] for d in decided],
            "automated": [bool(d["automated"]) for d in decided],
            "pd": [d.get("pd") for d in decided],
            "shadow_outcome": [json.loads(r.shadow)["outcome"] if r.shadow else None for r in rows],
        }
    )


def bad_outcomes(platform: Platform) -> pd.Series:
    """Per credit-line application with a loan: 1 when a loan on its line is :data:`BAD_DPD`+ days past due."""
    cutoff = today().toordinal() - BAD_DPD
    with platform.engine.connect() as connection:
        rows = connection.execute(
            sa.select(credit_line_profiles.c.application_id, installments.c.due_date, installments.c.paid_on)
            .join(loans, loans.c.credit_line_id == credit_line_profiles.c.credit_line_id)
            .join(installments, installments.c.loan_id == loans.c.loan_id)
        ).all()
    if not rows:
        return pd.Series(dtype=float)
    frame = pd.DataFrame(rows, columns=["application_id", "due", "paid"])
    due = pd.to_datetime(frame["due"]).map(lambda d: d.toordinal())
    paid = pd.to_datetime(frame["paid"]).map(lambda d: d.toordinal() if not pd.isna(d) else np.nan)
    late = (paid.isna() & (due <= cutoff)) | (paid - due >= BAD_DPD)
    return late.groupby(frame["application_id"]).max().astype(float)


def stored_policies(platform: Platform) -> dict[str, Any]:
    """Every policy the log holds, by version."""
    with platform.engine.connect() as connection:
        rows = connection.execute(sa.select(POLICIES.c.policy_version, POLICIES.c.document)).all()
    return {r.policy_version: policy_from_dict(json.loads(r.document)) for r in rows}


def arms(decisions: pd.DataFrame, bad: pd.Series, stored: dict[str, Any]) -> list[dict[str, Any]]:
    """Per arm: its policies, applications, approval and automation rates, mean PD and bad rate of the approved."""
    if not len(decisions):
        return []
    aligned = decisions["application_id"].map(bad)
    results = arm_results(decisions, aligned)
    known = aligned.notna().groupby(decisions["arm"]).sum()
    out = []
    for arm, row in results.iterrows():
        versions = decisions.loc[decisions["arm"] == arm, "policy_version"].unique()
        out.append(
            {
                "arm": arm,
                "policies": [f"{stored[v].name} {v[:12]}" if v in stored else v[:12] for v in versions],
                "applications": int(row["applications"]),
                "approval_rate": row["approval_rate"],
                "automation_rate": row["automation_rate"],
                "approved_mean_pd": row["approved_mean_pd"],
                "bad_rate": row["approved_bad_rate"],
                "known": int(known.get(arm, 0)),
            }
        )
    return out


def _describe(policy, role: str, share: float | None) -> dict[str, Any]:
    stage = policy.document.credit_line
    return {
        "role": role,
        "name": policy.name,
        "label": policy.document.label,
        "version": policy.version,
        "share": share,
        "max_pd": stage.max_pd,
        "review_band": (stage.review_band_below, stage.review_band_above),
        "knockouts": [r.name for r in stage.knockouts],
    }


def _latest_inputs(platform: Platform, bad: pd.Series) -> pd.DataFrame:
    with platform.engine.connect() as connection:
        rows = connection.execute(
            sa.select(DECISIONS.c.application_id, DECISIONS.c.inputs)
            .where(DECISIONS.c.stage == CREDIT_LINE.name)
            .order_by(DECISIONS.c.decided_at_ns.desc())
            .limit(BACKTEST_APPLICATIONS)
        ).all()
    frame = pd.DataFrame([json.loads(r.inputs) for r in rows])
    if frame.empty:
        return frame
    outcome = frame["application_id"].map(bad)
    return frame.assign(bad_12m=outcome.astype(float), known=outcome.notna())


def policies_page(platform: Platform) -> dict[str, Any]:
    """Everything the policies page shows (see the module notes)."""
    engine = platform.decisions
    configured = [_describe(engine.champion, "champion", None)]
    configured += [_describe(p, f"challenger {name}", share) for name, p, share in engine.challengers]
    if engine.shadow is not None:
        configured.append(_describe(engine.shadow, "shadow", None))
    decisions = decisions_frame(platform)
    bad = bad_outcomes(platform)
    stored = stored_policies(platform)
    shadowed = decisions[decisions["shadow_outcome"].notna()] if len(decisions) else decisions
    shadow = None
    if len(shadowed):
        table = pd.crosstab(shadowed["outcome"], shadowed["shadow_outcome"])
        shadow = {
            "decisions": len(shadowed),
            "agreement": float((shadowed["outcome"] == shadowed["shadow_outcome"]).mean()),
            "columns": list(table.columns),
            "rows": [{"outcome": index, "counts": [int(v) for v in row]} for index, row in table.iterrows()],
        }
    return {
        "configured": configured,
        "arms": arms(decisions, bad, stored),
        "shadow": shadow,
        "backtest": _backtests(platform, stored, bad),
        "bad_dpd": BAD_DPD,
    }


def _backtests(platform: Platform, stored: dict[str, Any], bad: pd.Series) -> dict[str, Any] | None:
    engine = platform.decisions
    applications = _latest_inputs(platform, bad)
    if applications.empty:
        return None
    others = [p for v, p in stored.items() if v != engine.champion.version]
    started = time.perf_counter()
    results = []
    for candidate in others or [engine.champion]:
        result = backtest(candidate, engine.champion, applications, engine.model, known="known")
        summary = result.summary.reset_index()
        results.append(
            {
                "candidate": f"{candidate.name} {candidate.version[:12]}",
                "summary": [
                    {
                        "policy": r.policy,
                        "approval": r.approval_rate,
                        "review": r.review_rate,
                        "expected_bad": r.expected_bad_rate,
                        "realised_bad": r.realised_bad_rate,
                        "known": int(r.realised_known),
                    }
                    for r in summary.itertuples(index=False)
                ],
                "swaps": [
                    {
                        "current": current,
                        "candidate": theirs,
                        "applications": int(row["applications"]),
                        "realised_bad": row["realised_bad_rate"],
                    }
                    for (current, theirs), row in result.swaps.iterrows()
                ],
            }
        )
    return {
        "applications": len(applications),
        "seconds": time.perf_counter() - started,
        "results": results,
        "against_itself": not others,
        "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


class PoliciesCache:
    """The policies page of one worker, kept for :data:`KEEP_SECONDS`."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._page: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def page(self) -> dict[str, Any]:
        with self._lock:
            if self._page is None or time.monotonic() - self._page[0] >= KEEP_SECONDS:
                self._page = (time.monotonic(), policies_page(self.platform))
            return self._page[1]
