"""The decision engine: the three credit decisions under a policy, for a table (batch) or one application (online).

Both paths give the same decision for the same application (tested): each stage's arithmetic
(``_credit_line``, ``_drawdown``, ``_line_adjustment``; the stages themselves are the records of
:mod:`creditmesh.stages`) is written once and reads a table as numpy arrays or one application as
Python scalars. The batch path runs each rule vectorised over the table and the model through
:func:`~creditmesh.scoring.serve.score_table`; the online path runs the same compiled rules on one
mapping and the model through :func:`~creditmesh.scoring.serve.score_application`. Money is
integer minor units on both paths.

Champion/challenger: each application goes to an arm by a deterministic hash
(SHA-256 of salt and application id), so the same application always meets the same policy.
Shadow mode: a candidate policy decides every application too; its answer is stored beside the
enforced one (``shadow_*`` columns, :attr:`Decision.shadow`) and never acted on.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from creditmesh.decision.policy import CreditPolicy
from creditmesh.decision.rules import column_values, scalar_value
from creditmesh.errors import ParameterError, SchemaError
from creditmesh.stages import CREDIT_LINE, DRAWDOWN, LINE_ADJUSTMENT, STAGES, stage_named

CHAMPION = "champion"
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


# --------------------------------------------------------------------------------------------------
# Each stage's arithmetic is written once and runs on a table (every value a numpy array, one entry
# a row) or on one application (every value a Python scalar, so the online path pays no numpy
# overhead). The few operations that differ between the two go through these helpers.


def _not(x: Any) -> Any:
    return ~x if isinstance(x, np.ndarray) else not x


def _where(condition: Any, yes: Any, no: Any) -> Any:
    return np.where(condition, yes, no) if isinstance(condition, np.ndarray) else (yes if condition else no)


def _lesser(a: Any, b: Any) -> Any:
    return np.minimum(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else min(a, b)


def _greater(a: Any, b: Any) -> Any:
    return np.maximum(a, b) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else max(a, b)


class _Table:
    """Applications of a table as the stage arithmetic reads them: arrays, one entry a row."""

    def __init__(self, frame: pd.DataFrame, scores: pd.DataFrame | None) -> None:
        self.frame = frame
        self.rows = len(frame)
        self._cache: dict = {}
        if scores is None:
            self.score, self.pd = np.full(self.rows, np.nan), np.full(self.rows, np.nan)
            self.grade = np.full(self.rows, None, dtype=object)
        else:
            self.score = scores["score"].to_numpy(np.float64)
            self.pd = scores["pd"].to_numpy(np.float64)
            self.grade = scores["grade"].to_numpy(object)

    def ints(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """An integer column (missing values read 0) and where it is known."""
        values, known = column_values(self.frame, name)
        return np.where(known, values, 0).astype(np.int64), known

    def holds(self, condition: Any, among: Any = True) -> np.ndarray:
        """Where ``condition`` holds, within ``among`` (every row by default)."""
        return among & condition.mask(self.frame, self._cache)

    def no(self) -> np.ndarray:
        return np.zeros(self.rows, bool)

    def grade_terms(self, terms: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        """Per row: its grade is offered, and the offer's line % of income, line bounds and APR (0 / NaN if not)."""
        found = [terms.get(g) for g in self.grade]
        return (
            np.array([t is not None for t in found], bool),
            np.array([t.line_income_pct if t else 0 for t in found], np.int64),
            np.array([t.line_min_minor if t else 0 for t in found], np.int64),
            np.array([t.line_max_minor if t else 0 for t in found], np.int64),
            np.array([t.apr if t else np.nan for t in found], np.float64),
        )


class _One:
    """One application as the stage arithmetic reads it: Python scalars."""

    def __init__(self, application: Mapping[str, Any], scored: Any) -> None:
        self.application = application
        self.score, self.pd, self.grade = (
            (None, None, None) if scored is None else (scored.score, scored.pd, scored.grade)
        )

    def ints(self, name: str) -> tuple[int, bool]:
        value = scalar_value(self.application.get(name))
        return (0, False) if value is None or isinstance(value, str) else (int(value), True)

    def holds(self, condition: Any, among: Any = True) -> bool:
        """Whether ``condition`` holds; not evaluated when ``among`` is false."""
        return among and condition.holds(self.application)

    def no(self) -> bool:
        return False

    def grade_terms(self, terms: Mapping[str, Any]) -> tuple[Any, ...]:
        found = terms.get(self.grade)
        if found is None:
            return False, 0, 0, 0, math.nan
        return True, found.line_income_pct, found.line_min_minor, found.line_max_minor, found.apr


class _Proposal(NamedTuple):
    """What a stage's arithmetic proposes, before the knock-outs that fired are told apart.

    ``notes`` are (where, reason code) pairs, in the order a borrower is told them, for applications
    no knock-out fired on; ``explain`` marks those that also get the model's reasons.
    """

    approve: Any
    review: Any
    credit_line_minor: Any
    apr: Any
    notes: tuple[tuple[Any, str], ...]
    explain: Any


def _credit_line(policy: CreditPolicy, rows: _Table | _One, blocked: Any) -> _Proposal:
    stage = policy.document.credit_line
    p, score = rows.pd, rows.score
    over = p > stage.max_pd
    below = score < stage.min_score if stage.min_score is not None else rows.no()
    offered, pct, low, high, apr = rows.grade_terms(policy.grade_terms)
    within_pd, within_score = _not(over), _not(below)
    model_approve = within_pd & within_score & offered
    band = (p > stage.max_pd - stage.review_band_below) & (p <= stage.max_pd + stage.review_band_above)
    income, income_known = rows.ints("monthly_income_minor")
    line = _lesser(_greater(_where(income_known, income * pct // 100, low), low), high)
    line = line - line % stage.line_round_minor
    approve = model_approve & _not(blocked)
    return _Proposal(
        approve=approve,
        review=band,
        credit_line_minor=_where(approve, line, 0),
        apr=_where(approve, apr, np.nan),
        notes=(
            (band, "review_band"),
            (over, "pd_above_cutoff"),
            (within_pd & below, "score_below_cutoff"),
            (within_pd & within_score & _not(offered), "grade_not_offered"),
        ),
        explain=_not(model_approve),
    )


def _drawdown(policy: CreditPolicy, rows: _Table | _One, blocked: Any) -> _Proposal:
    stage = policy.document.drawdown
    requested, _ = rows.ints("requested_amount_minor")
    available, _ = rows.ints("available_minor")
    amount = _lesser(_lesser(requested, _greater(available, 0)), stage.max_amount_minor)
    short = amount < stage.min_amount_minor
    approve = _not(blocked) & _not(short)
    return _Proposal(
        approve=approve,
        review=rows.no(),
        credit_line_minor=_where(approve, amount, 0),
        apr=np.nan,
        notes=((short, "insufficient_line"),),
        explain=rows.no(),
    )


#: The reason code of each line-review action.
ADJUSTMENT_CODES = {"freeze": "line_frozen", "decrease": "line_decreased", "increase": "line_increased"}


def _new_limit(kind: str, limit: Any, stage: Any) -> Any:
    if kind == "freeze":
        return limit * 0
    if kind == "decrease":
        new = limit * stage.decrease_pct // 100
    else:
        new = _greater(_lesser(limit * stage.increase_pct // 100, stage.line_max_minor), limit)
    return new - new % stage.line_round_minor


def _line_adjustment(policy: CreditPolicy, rows: _Table | _One, blocked: Any) -> _Proposal:
    stage = policy.document.line_adjustment
    limit, _ = rows.ints("limit_minor")
    new, untouched, notes = limit, _not(rows.no()), []
    for kind, condition in policy.adjustments:  # the first action whose condition holds
        hit = rows.holds(condition, among=untouched)
        new = _where(hit, _new_limit(kind, limit, stage), new)
        notes.append((hit, ADJUSTMENT_CODES[kind]))
        untouched = untouched & _not(hit)
    notes.append((untouched, "no_change"))
    return _Proposal(
        approve=_not(untouched),
        review=rows.no(),
        credit_line_minor=new,
        apr=np.nan,
        notes=tuple(notes),
        explain=rows.no(),
    )


#: Each stage's arithmetic (the test suite holds this to :data:`creditmesh.stages.STAGES`).
STAGE_ARITHMETIC = {
    CREDIT_LINE.name: _credit_line,
    DRAWDOWN.name: _drawdown,
    LINE_ADJUSTMENT.name: _line_adjustment,
}


def _knockouts(
    policy: CreditPolicy, stage: str, rows: _Table | _One
) -> tuple[Any, Any, list[tuple[Any, str]]]:
    """A declining knock-out fired, a reviewing one fired, and each knock-out with where it fired (policy order)."""
    decline, review, fired = rows.no(), rows.no(), []
    for rule, condition in policy.knockouts.get(stage, ()):
        hit = rows.holds(condition)
        if hit is False:  # one application the rule does not fire on (the usual case online)
            continue
        if rule.outcome == "decline":
            decline = decline | hit
        else:
            review = review | hit
        fired.append((hit, rule.name))
    return decline, review, fired


def _decide_table(stage: str, policy: CreditPolicy, rows: _Table, explain: Any) -> dict[str, Any]:
    """Every application of a table decided at ``stage`` under ``policy``: the decision's columns."""
    ko_decline, ko_review, fired = _knockouts(policy, stage, rows)
    proposal = STAGE_ARITHMETIC[stage](policy, rows, ko_decline)
    review = ~ko_decline & (ko_review | proposal.review)
    unexplained = ~ko_decline & ~ko_review
    reasons: list[list[str]] = [[] for _ in range(rows.rows)]
    for hit, name in fired:
        for i in np.flatnonzero(hit):
            reasons[i].append(name)
    for where, code in proposal.notes:
        for i in np.flatnonzero(where & unexplained):
            reasons[i].append(code)
    explained = np.flatnonzero(proposal.explain & unexplained)
    for i, why in zip(explained, explain(explained)):
        reasons[i] += why
    provisional = np.where(proposal.approve, "approve", "decline").astype(object)
    return {
        "outcome": np.where(review, "review", provisional).astype(object),
        "provisional_outcome": provisional,
        "automated": ~review,
        "score": rows.score,
        "pd": rows.pd,
        "grade": rows.grade,
        "credit_line_minor": proposal.credit_line_minor,
        "apr": np.broadcast_to(proposal.apr, (rows.rows,)).astype(np.float64),
        "reasons": [tuple(r) for r in reasons],
    }


def _decide_one(stage: str, policy: CreditPolicy, rows: _One, explain: Any) -> dict[str, Any]:
    """:func:`_decide_table` for one application: the same arithmetic, on Python scalars."""
    ko_decline, ko_review, fired = _knockouts(policy, stage, rows)
    proposal = STAGE_ARITHMETIC[stage](policy, rows, ko_decline)
    review = not ko_decline and (ko_review or proposal.review)
    reasons = [name for hit, name in fired if hit]
    if not ko_decline and not ko_review:
        reasons += [code for where, code in proposal.notes if where]
        if proposal.explain:
            reasons += explain()
    provisional = "approve" if proposal.approve else "decline"
    return {
        "outcome": "review" if review else provisional,
        "provisional_outcome": provisional,
        "automated": not review,
        "score": rows.score,
        "pd": rows.pd,
        "grade": rows.grade,
        "credit_line_minor": int(proposal.credit_line_minor),
        "apr": None if math.isnan(proposal.apr) else proposal.apr,
        "reasons": tuple(reasons),
    }


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
        if stage_named(stage).always_scored:
            if self.model is None:
                raise ParameterError("model", f"a {stage.replace('_', '-')} decision needs a scoring model")
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
        needed = set(STAGES[stage].inputs) | {f for p in policies for f in p.fields(stage)}
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
                _decide_table(
                    stage, policy, _Table(sub, sub_scores), self._explainer(model, sub, model_reasons)
                ),
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
                    _decide_table(
                        stage,
                        self.shadow,
                        _Table(frame, scores),
                        self._explainer(model, frame, model_reasons),
                    )
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
        rows = _One(application, scored)
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
                **_decide_one(stage, self.shadow, rows, explain),
                policy_version=self.shadow.version,
                arm="shadow",
            )
        return Decision(
            application_id,
            stage,
            **_decide_one(stage, policy, rows, explain),
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
