"""The decision engine: the three credit decisions under a policy, for a table (batch) or one application (online).

Both paths give the same decision for the same application (tested): the batch path runs each
rule vectorised over the table and the model through :func:`~creditmesh.scoring.serve.score_table`;
the online path runs the same compiled rules on one mapping and the model through
:func:`~creditmesh.scoring.serve.score_application`. Money is integer minor units on both paths.

Champion/challenger: each application goes to an arm by a deterministic hash
(SHA-256 of salt and application id), so the same application always meets the same policy.
Shadow mode: a candidate policy decides every application too; its answer is stored beside the
enforced one (``shadow_*`` columns, :attr:`Decision.shadow`) and never acted on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from creditmesh.decision.policy import CreditPolicy
from creditmesh.decision.rules import column_values, scalar_value
from creditmesh.errors import ParameterError, SchemaError

STAGES = ("credit_line", "drawdown", "line_adjustment")
CHAMPION = "champion"
#: The columns each stage needs besides the policy's rule fields.
STAGE_INPUTS = {
    "credit_line": ("monthly_income_minor",),
    "drawdown": ("requested_amount_minor", "available_minor"),
    "line_adjustment": ("limit_minor",),
}
DECISION_COLUMNS = (
    "application_id",
    "stage",
    "outcome",
    "provisional_outcome",
    "automated",
    "score",
    "pd",
    "grade",
    "credit_line_minor",
    "apr",
    "reasons",
    "policy_version",
    "arm",
)
SHADOW_COLUMNS = ("outcome", "credit_line_minor", "apr", "reasons", "policy_version")


@dataclass(frozen=True)
class Decision:
    """One decision. ``provisional_outcome`` is what the automated path proposes for a review."""

    application_id: str
    stage: str
    outcome: str
    provisional_outcome: str
    automated: bool
    score: float | None
    pd: float | None
    grade: str | None
    credit_line_minor: int
    apr: float | None
    reasons: tuple[str, ...]
    policy_version: str
    arm: str
    shadow: Decision | None = field(default=None, compare=False)

    def as_row(self) -> dict[str, Any]:
        """The decision as one row of :meth:`DecisionEngine.decide_table`'s answer."""
        row = {c: getattr(self, c) for c in DECISION_COLUMNS}
        if self.shadow is not None:
            row.update({f"shadow_{c}": getattr(self.shadow, c) for c in SHADOW_COLUMNS})
        return row


def _arm_point(application_id: str, salt: str) -> float:
    digest = hashlib.sha256(f"{salt}:{application_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_arms(
    application_ids: Sequence[str], arms: Sequence[tuple[str, float]], *, salt: str
) -> np.ndarray:
    """The arm of each application: a deterministic point in [0, 1) from the hash, cut by the arms' shares.

    ``arms`` lists (name, share) of the challengers; the champion takes what is left. The same id and
    salt always give the same arm, whatever else is in the batch.
    """
    bounds = np.cumsum([share for _, share in arms]) if arms else np.array([])
    names = np.array([name for name, _ in arms] + [CHAMPION], dtype=object)
    points = np.fromiter(
        (_arm_point(str(a), salt) for a in application_ids), np.float64, count=len(application_ids)
    )
    return names[np.searchsorted(bounds, points, side="right")]


def _knockouts_table(
    policy: CreditPolicy, stage: str, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """Per row: a declining knock-out fired, a reviewing one fired, and the names of those that fired (policy order)."""
    n = len(frame)
    cache: dict = {}
    decline, review = np.zeros(n, bool), np.zeros(n, bool)
    reasons: list[list[str]] = [[] for _ in range(n)]
    for rule, cond in policy.knockouts[stage]:
        mask = cond.mask(frame, cache)
        if rule.outcome == "decline":
            decline |= mask
        else:
            review |= mask
        for i in np.flatnonzero(mask):
            reasons[i].append(rule.name)
    return decline, review, reasons


def _knockouts_one(
    policy: CreditPolicy, stage: str, application: Mapping[str, Any]
) -> tuple[bool, bool, list[str]]:
    """:func:`_knockouts_table` for one application."""
    fired = [rule for rule, cond in policy.knockouts[stage] if cond.holds(application)]
    return (
        any(r.outcome == "decline" for r in fired),
        any(r.outcome == "review" for r in fired),
        [r.name for r in fired],
    )


def _ints(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    values, known = column_values(frame, name)
    return np.where(known, values, 0).astype(np.int64), known


def _int_of(application: Mapping[str, Any], name: str) -> int | None:
    value = scalar_value(application.get(name))
    return None if value is None or isinstance(value, str) else int(value)


# --------------------------------------------------------------------------------------------------
# credit line


def _credit_line_table(
    policy: CreditPolicy, frame: pd.DataFrame, scores: pd.DataFrame, explain: Any
) -> dict[str, Any]:
    stage = policy.document.credit_line
    n = len(frame)
    ko_decline, ko_review, reasons = _knockouts_table(policy, "credit_line", frame)
    p = scores["pd"].to_numpy(np.float64)
    score = scores["score"].to_numpy(np.float64)
    grade = scores["grade"].to_numpy(object)
    below_score = score < stage.min_score if stage.min_score is not None else np.zeros(n, bool)
    over = p > stage.max_pd
    offered = np.isin(grade, list(policy.grade_terms))
    model_approve = ~over & ~below_score & offered
    band = (p > stage.max_pd - stage.review_band_below) & (p <= stage.max_pd + stage.review_band_above)

    income, income_known = _ints(frame, "monthly_income_minor")
    terms = [policy.grade_terms.get(g) for g in grade]
    pct = np.array([t.line_income_pct if t else 0 for t in terms], np.int64)
    low = np.array([t.line_min_minor if t else 0 for t in terms], np.int64)
    high = np.array([t.line_max_minor if t else 0 for t in terms], np.int64)
    apr = np.array([t.apr if t else np.nan for t in terms], np.float64)
    line = np.where(income_known, income * pct // 100, low)
    line = np.minimum(np.maximum(line, low), high)
    line -= line % stage.line_round_minor

    provisional = np.where(model_approve & ~ko_decline, "approve", "decline").astype(object)
    review = ~ko_decline & (ko_review | band)
    outcome = np.where(review, "review", provisional).astype(object)
    proposed = provisional == "approve"
    unexplained = ~ko_decline & ~ko_review
    for i in np.flatnonzero(unexplained & band):
        reasons[i].append("review_band")
    declined = np.flatnonzero(unexplained & ~model_approve)
    for i, why in zip(declined, explain(declined)):
        code = (
            "pd_above_cutoff"
            if over[i]
            else ("score_below_cutoff" if below_score[i] else "grade_not_offered")
        )
        reasons[i] += [code, *why]
    return {
        "outcome": outcome,
        "provisional_outcome": provisional,
        "automated": ~review,
        "score": score,
        "pd": p,
        "grade": grade,
        "credit_line_minor": np.where(proposed, line, 0),
        "apr": np.where(proposed, apr, np.nan),
        "reasons": [tuple(r) for r in reasons],
    }


def _credit_line_one(
    policy: CreditPolicy, application: Mapping[str, Any], scored: Any, explain: Any
) -> dict[str, Any]:
    stage = policy.document.credit_line
    ko_decline, ko_review, fired = _knockouts_one(policy, "credit_line", application)
    p, score, grade = scored.pd, scored.score, scored.grade
    over = p > stage.max_pd
    below_score = stage.min_score is not None and score < stage.min_score
    terms = policy.grade_terms.get(grade)
    model_approve = not over and not below_score and terms is not None
    band = stage.max_pd - stage.review_band_below < p <= stage.max_pd + stage.review_band_above
    provisional = "approve" if model_approve and not ko_decline else "decline"
    review = not ko_decline and (ko_review or band)
    reasons = list(fired)
    if not fired:
        if band:
            reasons.append("review_band")
        if not model_approve:
            code = (
                "pd_above_cutoff" if over else ("score_below_cutoff" if below_score else "grade_not_offered")
            )
            reasons += [code, *explain()]
    line, apr = 0, None
    if provisional == "approve":
        income = _int_of(application, "monthly_income_minor")
        line = terms.line_min_minor if income is None else income * terms.line_income_pct // 100
        line = min(max(line, terms.line_min_minor), terms.line_max_minor)
        line -= line % stage.line_round_minor
        apr = terms.apr
    return {
        "outcome": "review" if review else provisional,
        "provisional_outcome": provisional,
        "automated": not review,
        "score": score,
        "pd": p,
        "grade": grade,
        "credit_line_minor": line,
        "apr": apr,
        "reasons": tuple(reasons),
    }


# --------------------------------------------------------------------------------------------------
# drawdown


def _drawdown_table(
    policy: CreditPolicy, frame: pd.DataFrame, scores: pd.DataFrame | None, explain: Any
) -> dict[str, Any]:
    stage = policy.document.drawdown
    n = len(frame)
    ko_decline, ko_review, reasons = _knockouts_table(policy, "drawdown", frame)
    requested, _ = _ints(frame, "requested_amount_minor")
    available, _ = _ints(frame, "available_minor")
    amount = np.minimum(np.minimum(requested, np.maximum(available, 0)), stage.max_amount_minor)
    short = amount < stage.min_amount_minor
    provisional = np.where(ko_decline | short, "decline", "approve").astype(object)
    review = ~ko_decline & ko_review
    for i in np.flatnonzero(short & ~ko_decline & ~ko_review):
        reasons[i].append("insufficient_line")
    return {
        "outcome": np.where(review, "review", provisional).astype(object),
        "provisional_outcome": provisional,
        "automated": ~review,
        **_stage_scores(scores, n),
        "credit_line_minor": np.where(provisional == "approve", amount, 0),
        "apr": np.full(n, np.nan),
        "reasons": [tuple(r) for r in reasons],
    }


def _drawdown_one(
    policy: CreditPolicy, application: Mapping[str, Any], scored: Any, explain: Any
) -> dict[str, Any]:
    stage = policy.document.drawdown
    ko_decline, ko_review, fired = _knockouts_one(policy, "drawdown", application)
    requested = _int_of(application, "requested_amount_minor") or 0
    available = _int_of(application, "available_minor") or 0
    amount = min(requested, max(available, 0), stage.max_amount_minor)
    short = amount < stage.min_amount_minor
    provisional = "decline" if ko_decline or short else "approve"
    reasons = fired + (["insufficient_line"] if short and not fired else [])
    review = not ko_decline and ko_review
    return {
        "outcome": "review" if review else provisional,
        "provisional_outcome": provisional,
        "automated": not review,
        **_one_scores(scored),
        "credit_line_minor": amount if provisional == "approve" else 0,
        "apr": None,
        "reasons": tuple(reasons),
    }


# --------------------------------------------------------------------------------------------------
# line adjustment


def _new_limit(kind: str, limit: Any, stage: Any) -> Any:
    if kind == "freeze":
        return limit * 0
    if kind == "decrease":
        new = limit * stage.decrease_pct // 100
    else:
        new = np.maximum(np.minimum(limit * stage.increase_pct // 100, stage.line_max_minor), limit)
    return new - new % stage.line_round_minor


def _line_adjustment_table(
    policy: CreditPolicy, frame: pd.DataFrame, scores: pd.DataFrame | None, explain: Any
) -> dict[str, Any]:
    stage = policy.document.line_adjustment
    n = len(frame)
    limit, _ = _ints(frame, "limit_minor")
    new = limit.copy()
    reason = np.full(n, "no_change", dtype=object)
    open_ = np.ones(n, bool)
    cache: dict = {}
    for kind, cond in policy.adjustments:
        hit = open_ & cond.mask(frame, cache)
        new[hit] = _new_limit(kind, limit[hit], stage)
        reason[hit] = {"freeze": "line_frozen", "decrease": "line_decreased", "increase": "line_increased"}[
            kind
        ]
        open_ &= ~hit
    outcome = np.where(open_, "decline", "approve").astype(object)
    return {
        "outcome": outcome,
        "provisional_outcome": outcome,
        "automated": np.ones(n, bool),
        **_stage_scores(scores, n),
        "credit_line_minor": new,
        "apr": np.full(n, np.nan),
        "reasons": [(r,) for r in reason],
    }


def _line_adjustment_one(
    policy: CreditPolicy, application: Mapping[str, Any], scored: Any, explain: Any
) -> dict[str, Any]:
    stage = policy.document.line_adjustment
    limit = _int_of(application, "limit_minor") or 0
    for kind, cond in policy.adjustments:
        if cond.holds(application):
            code = {"freeze": "line_frozen", "decrease": "line_decreased", "increase": "line_increased"}[kind]
            return {
                "outcome": "approve",
                "provisional_outcome": "approve",
                "automated": True,
                **_one_scores(scored),
                "credit_line_minor": int(_new_limit(kind, limit, stage)),
                "apr": None,
                "reasons": (code,),
            }
    return {
        "outcome": "decline",
        "provisional_outcome": "decline",
        "automated": True,
        **_one_scores(scored),
        "credit_line_minor": limit,
        "apr": None,
        "reasons": ("no_change",),
    }


def _stage_scores(scores: pd.DataFrame | None, n: int) -> dict[str, Any]:
    if scores is None:
        return {
            "score": np.full(n, np.nan),
            "pd": np.full(n, np.nan),
            "grade": np.full(n, None, dtype=object),
        }
    return {
        "score": scores["score"].to_numpy(np.float64),
        "pd": scores["pd"].to_numpy(np.float64),
        "grade": scores["grade"].to_numpy(object),
    }


def _one_scores(scored: Any) -> dict[str, Any]:
    if scored is None:
        return {"score": None, "pd": None, "grade": None}
    return {"score": scored.score, "pd": scored.pd, "grade": scored.grade}


_TABLE = {
    "credit_line": _credit_line_table,
    "drawdown": _drawdown_table,
    "line_adjustment": _line_adjustment_table,
}
_ONE = {"credit_line": _credit_line_one, "drawdown": _drawdown_one, "line_adjustment": _line_adjustment_one}


# --------------------------------------------------------------------------------------------------


class DecisionEngine:
    """Decides applications under a champion policy, optional challengers (hash split) and a shadow policy.

    ``model`` is any object :func:`~creditmesh.scoring.serve.score_table` accepts; it scores every
    credit-line application. ``stage_models`` may give a model for the other stages (line reviews
    re-scored on behaviour, say); without one those stages decide on rules alone.
    """

    def __init__(
        self,
        champion: CreditPolicy,
        model: Any,
        *,
        challengers: Sequence[tuple[str, CreditPolicy, float]] = (),
        shadow: CreditPolicy | None = None,
        salt: str = "creditmesh",
        stage_models: Mapping[str, Any] | None = None,
    ) -> None:
        self.champion = champion
        self.model = model
        self.challengers = tuple(challengers)
        self.shadow = shadow
        self.salt = salt
        self.stage_models = dict(stage_models or {})

    # -- configuration ------------------------------------------------------------------------------

    def _arms(self) -> list[tuple[str, float]]:
        arms = [(name, share) for name, _, share in self.challengers]
        if any(not 0 < share < 1 for _, share in arms) or sum(s for _, s in arms) >= 1:
            raise ParameterError("challengers", "each share is in (0, 1) and they sum to less than 1")
        if CHAMPION in {name for name, _ in arms} or len({n for n, _ in arms}) != len(arms):
            raise ParameterError("challengers", f"challenger names are distinct and not {CHAMPION!r}")
        return arms

    def policy_of(self, arm: str) -> CreditPolicy:
        if arm == CHAMPION:
            return self.champion
        for name, policy, _ in self.challengers:
            if name == arm:
                return policy
        raise ParameterError("arm", f"unknown arm {arm!r}")

    def _model_for(self, stage: str) -> Any:
        if stage not in STAGES:
            raise ParameterError("stage", f"one of {', '.join(STAGES)}, got {stage!r}")
        if stage == "credit_line":
            if self.model is None:
                raise ParameterError("model", "a credit-line decision needs a scoring model")
            return self.model
        return self.stage_models.get(stage)

    @property
    def model_version(self) -> str | None:
        return getattr(self.model, "content_hash_", None)

    def _check_inputs(self, stage: str, columns: Any, where: str) -> None:
        policies = [
            self.champion,
            *(p for _, p, _ in self.challengers),
            *([self.shadow] if self.shadow else []),
        ]
        optional = {f for p in policies for f in p.optional_inputs}
        needed = set(STAGE_INPUTS[stage]) | {f for p in policies for f in p.fields(stage)}
        missing = sorted(needed - optional - set(columns) - {"pd", "score", "grade"})
        if missing:
            raise SchemaError(f"{where}.{missing[0]}", f"a {stage} application needs {', '.join(missing)}")

    @staticmethod
    def _explainer(model: Any, frame: pd.DataFrame, wanted: bool) -> Any:
        def explain(rows: np.ndarray) -> list[tuple[str, ...]]:
            if not wanted or model is None or not len(rows):
                return [()] * len(rows)
            from creditmesh.scoring.serve import score_table

            return list(score_table(model, frame.iloc[rows])["reasons"])

        return explain

    @staticmethod
    def _explainer_one(model: Any, application: Mapping[str, Any]) -> Any:
        def explain() -> tuple[str, ...]:
            if model is None:
                return ()
            from creditmesh.scoring.serve import score_application

            return score_application(model, application).reasons

        return explain

    # -- batch ---------------------------------------------------------------------------------------

    def decide_table(
        self,
        stage: str,
        applications: pd.DataFrame,
        *,
        decided_at: datetime | None = None,
        model_reasons: bool = True,
    ) -> pd.DataFrame:
        """One decision per row of ``applications`` (which has ``application_id`` and the features).

        The model's reasons are worked out only for the applications it declines; a back-test
        that needs outcomes alone can skip them (``model_reasons=False``): the cut-off's code stays.
        """
        model = self._model_for(stage)
        if "application_id" not in applications.columns:
            raise SchemaError("applications.application_id", "each application needs an id")
        self._check_inputs(stage, applications.columns, "applications")
        frame = applications.reset_index(drop=True)
        scores = None
        if model is not None:
            from creditmesh.scoring.serve import score_table

            scores = score_table(model, frame, reasons=False)
            frame = frame.assign(pd=scores["pd"].to_numpy(), score=scores["score"].to_numpy())
        ids = frame["application_id"].astype(str).to_numpy(object)
        arms = (
            assign_arms(ids, self._arms(), salt=self.salt)
            if self.challengers
            else np.full(len(frame), CHAMPION, dtype=object)
        )
        out = pd.DataFrame({"application_id": ids, "stage": stage, "arm": arms})
        parts = {}
        for arm in pd.unique(arms):
            rows = np.flatnonzero(arms == arm)
            whole = rows.size == len(frame)
            sub = frame if whole else frame.iloc[rows].reset_index(drop=True)
            sub_scores = scores if scores is None or whole else scores.iloc[rows].reset_index(drop=True)
            policy = self.policy_of(arm)
            parts[arm] = (
                rows,
                _TABLE[stage](policy, sub, sub_scores, self._explainer(model, sub, model_reasons)),
                policy.version,
            )
        for column in DECISION_COLUMNS[2:-2]:
            values = np.empty(len(frame), dtype=object)
            for rows, result, _ in parts.values():
                values[rows] = (
                    pd.Series(result[column], dtype=object).to_numpy()
                    if column == "reasons"
                    else result[column]
                )
            out[column] = values
        out["policy_version"] = np.empty(len(frame), dtype=object)
        for rows, _, version in parts.values():
            out.loc[rows, "policy_version"] = version
        out = _typed(out)
        if self.shadow is not None:
            shadow = _typed(
                pd.DataFrame(
                    _TABLE[stage](self.shadow, frame, scores, self._explainer(model, frame, model_reasons))
                )
            )
            for column in SHADOW_COLUMNS[:-1]:
                out[f"shadow_{column}"] = shadow[column].to_numpy()
            out["shadow_policy_version"] = self.shadow.version
        out["decided_at"] = pd.Timestamp(decided_at or datetime.now(UTC))
        return out[[*DECISION_COLUMNS, *[c for c in out.columns if c not in DECISION_COLUMNS]]]

    # -- online --------------------------------------------------------------------------------------

    def decide_one(self, stage: str, application: Mapping[str, Any]) -> Decision:
        """The decision for one application (a mapping with ``application_id`` and the features)."""
        model = self._model_for(stage)
        if application.get("application_id") is None:
            raise SchemaError("application_id", "each application needs an id")
        self._check_inputs(stage, application.keys(), "application")
        application_id = str(application["application_id"])
        scored = None
        if model is not None:
            from creditmesh.scoring.serve import score_application

            scored = score_application(model, application, reasons=False)
            application = {**application, "pd": scored.pd, "score": scored.score}
        explain = self._explainer_one(model, application)
        arm = (
            str(assign_arms([application_id], self._arms(), salt=self.salt)[0])
            if self.challengers
            else CHAMPION
        )
        policy = self.policy_of(arm)
        shadow = None
        if self.shadow is not None:
            shadow = Decision(
                application_id,
                stage,
                **_ONE[stage](self.shadow, application, scored, explain),
                policy_version=self.shadow.version,
                arm="shadow",
            )
        return Decision(
            application_id,
            stage,
            **_ONE[stage](policy, application, scored, explain),
            policy_version=policy.version,
            arm=arm,
            shadow=shadow,
        )


def decisions_table(decided: pd.DataFrame) -> pd.DataFrame:
    """The columns of the ``decisions`` table of :mod:`creditmesh.schema` (``schema.validate("decisions", ...)`` holds)."""
    from creditmesh.schema import TABLES

    out = decided[TABLES["decisions"].column_names].copy()
    out["reasons"] = out["reasons"].map(list)
    return out


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out["automated"] = out["automated"].astype(bool)
    out["credit_line_minor"] = out["credit_line_minor"].astype(np.int64)
    for column in ("score", "pd", "apr"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(np.float64)
    out["reasons"] = [tuple(r) for r in out["reasons"]]
    return out


# --------------------------------------------------------------------------------------------------
# measures


def automation_rate(decisions: pd.DataFrame) -> pd.Series:
    """Share of decisions not sent to manual review, by stage."""
    return decisions.groupby("stage", sort=True)["automated"].mean().rename("automation_rate")


def arm_results(decisions: pd.DataFrame, bad: pd.Series | None = None) -> pd.DataFrame:
    """Per arm: applications, approval and automation rates, mean PD of the approved, and (given
    ``bad``, a 0/1 outcome aligned with ``decisions``) the realised bad rate of the approved."""
    frame = decisions.assign(approved=decisions["outcome"].eq("approve"))
    frame["approved_pd"] = frame["pd"].where(frame["approved"])
    if bad is not None:
        frame["approved_bad"] = pd.Series(np.asarray(bad, dtype=float), index=frame.index).where(
            frame["approved"]
        )
    grouped = frame.groupby("arm", sort=True)
    result = pd.DataFrame(
        {
            "applications": grouped.size(),
            "approval_rate": grouped["approved"].mean(),
            "automation_rate": grouped["automated"].mean(),
            "approved_mean_pd": grouped["approved_pd"].mean(),
        }
    )
    if bad is not None:
        result["approved_bad_rate"] = grouped["approved_bad"].mean()
    return result
