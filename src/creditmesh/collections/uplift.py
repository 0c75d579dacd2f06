"""What contact changes: expected principal recovered over the next 30 days (120 for a loan 91 days late or
charged off), with each action and with none.

A two-model (T-learner) uplift model: one fractional logistic regression per arm (no contact, and
each channel) on the recorded actions of past days and what was repaid over the outcome horizon after,
over the queue's own columns. The horizon is the loan's bucket's (:data:`OUTCOME_DAYS`), the same for
every arm: an agency or a legal step works for months, and read over 30 days it showed a month of an
agency's year of work, so the optimised strategy under-placed late loans against fixed playbooks. The
expected amount recovered with an action is that arm's share times the principal at stake; the uplift is
the difference from the no-contact arm, so a borrower who pays anyway is not worth a call. Broken
promises are a feature, so they lower what a borrower is expected to pay.

The fitted model is a JSON artifact (coefficients, the training rows per arm, a SHA-256 content
hash over its canonical JSON), read back only if the hash still matches; never pickle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditmesh.collections.strategy import BUCKETS
from creditmesh.errors import CreditmeshError, ParameterError
from creditmesh.schema import COLLECTION_CHANNELS

FORMAT = "creditmesh.collections.uplift"
FORMAT_VERSION = 1
NO_CONTACT = "none"
ARMS = (NO_CONTACT, *COLLECTION_CHANNELS)
#: Rows an arm needs before it gets a model of its own; with fewer, it borrows the no-contact model.
MIN_ARM_ROWS = 50
#: Days over which what an action recovered is read, by the loan's bucket (every arm alike); the rest 30.
OUTCOME_DAYS = {"dpd_91_180": 120, "charged_off": 120}
DEFAULT_OUTCOME_DAYS = 30


def outcome_days(bucket: np.ndarray) -> np.ndarray:
    """The outcome horizon of each queue row from its bucket (:data:`OUTCOME_DAYS`)."""
    bucket = np.asarray(bucket, dtype=object)
    horizon = np.full(bucket.size, DEFAULT_OUTCOME_DAYS, np.int64)
    for name, days in OUTCOME_DAYS.items():
        horizon[bucket == name] = days
    return horizon


FEATURES = (
    *(f"bucket_{b}" for b in BUCKETS),
    "log_at_stake",
    "log_balance",
    "overdue_share",
    "broken_promises",
    "kept_promises",
    "contacts_30d",
    "contacted_this_week",
    "with_agency",
    "dpd_months",
    "days_since_contact",
)
#: The features an action's effect may depend on (its interactions in the pooled model): where the loan is,
#: and how recently and often the borrower was contacted (diminishing returns).
INTERACTING = (*(f"bucket_{b}" for b in BUCKETS), "contacts_30d", "contacted_this_week", "days_since_contact")


def features(queue: pd.DataFrame) -> np.ndarray:
    """The model's inputs from queue rows (:func:`creditmesh.collections.queue.build_queue`'s columns)."""
    bucket = queue["bucket"].to_numpy()
    at_stake = queue["at_stake_minor"].to_numpy(np.float64)
    balance = queue["balance_minor"].to_numpy(np.float64)
    columns = [(bucket == b).astype(np.float64) for b in BUCKETS]
    columns += [
        np.log1p(at_stake) / 10.0,
        np.log1p(balance) / 10.0,
        at_stake / np.maximum(balance, 1.0),
        np.minimum(queue["broken_promises"].to_numpy(np.float64), 5.0),
        np.minimum(queue["kept_promises"].to_numpy(np.float64), 5.0),
        np.minimum(queue["contacts_30d"].to_numpy(np.float64), 15.0) / 5.0,
        (queue["days_since_contact"].to_numpy() < 7).astype(np.float64),
        queue["with_agency"].to_numpy(np.float64),
        np.minimum(queue["dpd"].to_numpy(np.float64), 365.0) / 30.0,
        np.minimum(queue["days_since_contact"].to_numpy(np.float64), 30.0) / 30.0,
    ]
    return np.column_stack(columns)


class UpliftModel:
    """Per arm, a logistic model of the share of the principal at stake repaid over the outcome horizon
    (:data:`OUTCOME_DAYS`).

    Fitted as one pooled model (an "S-learner"): the features, each action's indicator, and each action's
    interactions with :data:`INTERACTING`, so that every arm learns from every row what does not depend on
    the action and its own rows only what does. Each arm's model is then a plain logistic model over the
    features (``coef_[arm]``: intercept, then one weight a feature); an action tried fewer than
    ``MIN_ARM_ROWS`` times gets none of its own (no uplift is claimed without evidence).
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 500) -> None:
        self.C = C
        self.max_iter = max_iter

    def get_params(self) -> dict[str, Any]:
        return {"C": self.C, "max_iter": self.max_iter}

    def fit(self, queue: pd.DataFrame, action: np.ndarray, recovered_minor: np.ndarray) -> UpliftModel:
        """Learn from history: queue rows as they were, the action taken on each (a channel or ``"none"``),
        and the principal repaid over the outcome horizon after."""
        from sklearn.linear_model import LogisticRegression

        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ParameterError("UpliftModel.C", f"must be a positive number, got {self.C!r}")
        action = np.asarray(action, dtype=object)
        unknown = sorted(set(action) - set(ARMS))
        if unknown:
            raise ParameterError("action", f"unknown action(s) {unknown}; known: {list(ARMS)}")
        stake = queue["at_stake_minor"].to_numpy(np.float64)
        keep = stake > 0
        share = np.clip(np.asarray(recovered_minor, np.float64) / np.maximum(stake, 1.0), 0.0, 1.0)[keep]
        x = features(queue)[keep]
        action = action[keep]
        if (action == NO_CONTACT).sum() < MIN_ARM_ROWS:
            raise ParameterError(
                "action", f"the no-contact arm needs at least {MIN_ARM_ROWS} rows with principal at stake"
            )
        tried = [a for a in ARMS[1:] if (action == a).sum() >= MIN_ARM_ROWS]
        action = np.where(np.isin(action, tried), action, NO_CONTACT)  # too rare to learn from: as no contact
        inter = [FEATURES.index(f) for f in INTERACTING]
        blocks = [x]
        for arm in tried:
            on = (action == arm).astype(np.float64)[:, None]
            blocks += [on, on * x[:, inter]]
        design = np.hstack(blocks)
        # a fractional target: each row once as a payer (weight = share) and once as not (1 - share)
        rows = design.shape[0]
        model = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(
            np.vstack([design, design]),
            np.concatenate([np.ones(rows), np.zeros(rows)]),
            sample_weight=np.concatenate([share, 1.0 - share]) + 1e-9,
        )
        weights = model.coef_[0]
        base = weights[: x.shape[1]]
        self.coef_: dict[str, list[float]] = {NO_CONTACT: [float(model.intercept_[0]), *map(float, base)]}
        self.rows_: dict[str, int] = {NO_CONTACT: int((action == NO_CONTACT).sum())}
        width = 1 + len(inter)
        for k, arm in enumerate(tried):
            part = weights[x.shape[1] + k * width : x.shape[1] + (k + 1) * width]
            own = base.copy()
            own[inter] += part[1:]
            self.coef_[arm] = [float(model.intercept_[0] + part[0]), *map(float, own)]
            self.rows_[arm] = int((action == arm).sum())
        self.content_hash_ = None
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise CreditmeshError("model", "the uplift model is not fitted: call fit() or load_uplift()")

    @property
    def arms(self) -> tuple[str, ...]:
        self._check_fitted()
        return tuple(a for a in ARMS if a in self.coef_)

    def share(self, queue: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each arm's expected share of the principal at stake repaid over the outcome horizon (arms without a
        model of their own get the no-contact share: no uplift is claimed without evidence)."""
        self._check_fitted()
        x = features(queue)
        out = {}
        for arm in ARMS:
            coef = np.asarray(self.coef_.get(arm, self.coef_[NO_CONTACT]))
            out[arm] = 1.0 / (1.0 + np.exp(-np.clip(coef[0] + x @ coef[1:], -40.0, 40.0)))
        return out

    def expected_recovered(self, queue: pd.DataFrame) -> pd.DataFrame:
        """Expected principal recovered over the outcome horizon (float minor units), one column an arm, one
        row a loan."""
        stake = queue["at_stake_minor"].to_numpy(np.float64)
        return pd.DataFrame(
            {arm: share * stake for arm, share in self.share(queue).items()}, index=queue.index
        )


def score_queue(
    queue: pd.DataFrame, model: UpliftModel, expected: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The queue with ``score`` (share expected with no contact), ``expected_no_contact_minor`` and
    ``expected_contact_minor`` (with the best action), and ``uplift_minor`` (their difference);
    ``expected`` is the model's :meth:`~UpliftModel.expected_recovered` when the caller has it already."""
    if expected is None:
        expected = model.expected_recovered(queue)
    best = expected[[a for a in ARMS if a != NO_CONTACT]].max(axis=1).to_numpy()
    none = expected[NO_CONTACT].to_numpy()
    stake = queue["at_stake_minor"].to_numpy(np.float64)
    without = np.round(none).astype(np.int64)
    with_contact = np.round(np.maximum(best, none)).astype(np.int64)
    return queue.assign(
        score=np.where(stake > 0, none / np.maximum(stake, 1.0), 1.0),
        expected_no_contact_minor=without,
        expected_contact_minor=with_contact,
        uplift_minor=with_contact - without,
    )


# -- the artifact --------------------------------------------------------------------------------------


def _hash(document: Mapping[str, Any]) -> str:
    body = json.dumps(
        {k: v for k, v in document.items() if k != "content_hash"}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(body.encode()).hexdigest()


def save_uplift(model: UpliftModel, path: str | Path) -> Path:
    """Write the fitted model as one JSON file with its content hash."""
    from creditmesh import __version__

    model._check_fitted()
    document: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "creditmesh_version": __version__,
        "params": model.get_params(),
        "features": list(FEATURES),
        "coef": model.coef_,
        "rows": model.rows_,
        "outcome_days": {"default": DEFAULT_OUTCOME_DAYS, **OUTCOME_DAYS},
    }
    document["content_hash"] = _hash(document)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(document, indent=1) + "\n")
    temp.replace(path)
    model.content_hash_ = document["content_hash"]
    return path


def load_uplift(path: str | Path) -> UpliftModel:
    """Read a model written by :func:`save_uplift`, refusing one whose format, features or hash do not match."""
    file = Path(path)
    try:
        document = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise CreditmeshError("model", f"{file} is not an uplift model: {error}") from None
    if document.get("format") != FORMAT or document.get("format_version") != FORMAT_VERSION:
        raise CreditmeshError("model", f"{file} is not a {FORMAT} version {FORMAT_VERSION} file")
    if document.get("content_hash") != _hash(document):
        raise CreditmeshError(
            "model", f"{file}: content hash does not match; the file changed after it was saved"
        )
    if tuple(document["features"]) != FEATURES:
        raise CreditmeshError("model", f"{file} was trained on other features: {document['features']}")
    model = UpliftModel(**document["params"])
    model.coef_ = {arm: list(c) for arm, c in document["coef"].items()}
    model.rows_ = dict(document["rows"])
    model.content_hash_ = document["content_hash"]
    return model
