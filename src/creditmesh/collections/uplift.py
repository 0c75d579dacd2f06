"""What contact changes: expected principal recovered in the next 30 days, with each action and with none.

A two-model (T-learner) uplift model: one fractional logistic regression per arm (no contact, and
each channel) on the recorded actions of past days and what was repaid in the 30 days after,
over the queue's own columns. The expected amount recovered with an action is that arm's share
times the principal at stake; the uplift is the difference from the no-contact arm, so a borrower
who pays anyway is not worth a call. Broken promises are a feature, so they lower what a
borrower is expected to pay.

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
)


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
    ]
    return np.column_stack(columns)


class UpliftModel:
    """Per arm, a logistic model of the share of the principal at stake repaid within 30 days."""

    def __init__(self, *, C: float = 1.0, max_iter: int = 300) -> None:
        self.C = C
        self.max_iter = max_iter

    def get_params(self) -> dict[str, Any]:
        return {"C": self.C, "max_iter": self.max_iter}

    def fit(self, queue: pd.DataFrame, action: np.ndarray, recovered_minor: np.ndarray) -> UpliftModel:
        """Learn from history: queue rows as they were, the action taken on each (a channel or ``"none"``),
        and the principal repaid in the 30 days after."""
        from sklearn.linear_model import LogisticRegression

        if not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ParameterError("UpliftModel.C", f"must be a positive number, got {self.C!r}")
        action = np.asarray(action, dtype=object)
        unknown = sorted(set(action) - set(ARMS))
        if unknown:
            raise ParameterError("action", f"unknown action(s) {unknown}; known: {list(ARMS)}")
        stake = queue["at_stake_minor"].to_numpy(np.float64)
        keep = stake > 0
        share = np.clip(np.asarray(recovered_minor, np.float64) / np.maximum(stake, 1.0), 0.0, 1.0)
        x = features(queue)
        if (action[keep] == NO_CONTACT).sum() < MIN_ARM_ROWS:
            raise ParameterError(
                "action", f"the no-contact arm needs at least {MIN_ARM_ROWS} rows with principal at stake"
            )
        self.coef_: dict[str, list[float]] = {}
        self.rows_: dict[str, int] = {}
        for arm in ARMS:
            rows = keep & (action == arm)
            if rows.sum() < MIN_ARM_ROWS:
                continue
            # a fractional target: each row once as a payer (weight = share) and once as not (1 - share)
            xa = np.vstack([x[rows], x[rows]])
            ya = np.concatenate([np.ones(rows.sum()), np.zeros(rows.sum())])
            wa = np.concatenate([share[rows], 1.0 - share[rows]]) + 1e-9
            model = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(xa, ya, sample_weight=wa)
            self.coef_[arm] = [float(model.intercept_[0]), *(float(c) for c in model.coef_[0])]
            self.rows_[arm] = int(rows.sum())
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
        """Each arm's expected share of the principal at stake repaid within 30 days (arms without a model of
        their own get the no-contact share: no uplift is claimed without evidence)."""
        self._check_fitted()
        x = features(queue)
        out = {}
        for arm in ARMS:
            coef = np.asarray(self.coef_.get(arm, self.coef_[NO_CONTACT]))
            out[arm] = 1.0 / (1.0 + np.exp(-np.clip(coef[0] + x @ coef[1:], -40.0, 40.0)))
        return out

    def expected_recovered(self, queue: pd.DataFrame) -> pd.DataFrame:
        """Expected principal recovered in 30 days (float minor units), one column an arm, one row a loan."""
        stake = queue["at_stake_minor"].to_numpy(np.float64)
        return pd.DataFrame(
            {arm: share * stake for arm, share in self.share(queue).items()}, index=queue.index
        )


def score_queue(queue: pd.DataFrame, model: UpliftModel) -> pd.DataFrame:
    """The queue with ``score`` (share expected with no contact), ``expected_no_contact_minor`` and
    ``expected_contact_minor`` (with the best action), and ``uplift_minor`` (their difference)."""
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
