"""Who funds each simulated loan: the placeholder allocation, behind the interface the matcher will fill.

An :class:`Allocation` takes the month's approved drawdowns and returns each
one's funding model (an int8 code in :data:`creditmesh.funding.MODELS` order)
and institution (a row of the institutions table). :class:`ShareAllocation`
draws the model by the configured volume shares, tilted by risk, and the
partner by capacity; the ICE matcher plugs in through the same method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from creditmesh.funding import FUNDING_MODELS, RISK_BEARING_MODELS
from creditmesh.simulate.state import Drawdowns

#: How strongly capital-heavy money leans towards the riskier borrowers (0: not at all, 1: fully).
RISK_TILT = 1.0


class Allocation(Protocol):
    """What the simulator asks of a funding allocation."""

    def allocate(self, rng: np.random.Generator, drawdowns: Drawdowns) -> tuple[np.ndarray, np.ndarray]:
        """Each drawdown's funding model (int8 code) and institution (int64 row)."""
        ...


@dataclass(frozen=True)
class ShareAllocation:
    """A funding model drawn by volume share, tilted by risk, then a partner of that model by capacity."""

    model_share: np.ndarray  # float64, each funding model's share of loans, in FUNDING_MODELS order
    institution_model: np.ndarray  # int8, each institution's funding model
    capacity: np.ndarray  # float64, each institution's monthly capacity

    def allocate(self, rng: np.random.Generator, drawdowns: Drawdowns) -> tuple[np.ndarray, np.ndarray]:
        model = funding_model(rng, drawdowns.pd_estimate, self.model_share)
        return model, institution(rng, model, self.institution_model, self.capacity)


def funding_model(rng: np.random.Generator, pd_estimate: np.ndarray, share: np.ndarray) -> np.ndarray:
    """A funding model drawn by volume share, tilted by risk.

    Risk-bearing (capital-heavy) money takes more of the riskier half of each
    batch and platform-service partners more of the safer half. The tilt is
    linear in the PD rank and balanced across models, so each model keeps its
    share of loans in expectation, as long as risk-bearing models hold at most
    half of it; above half the platform-service models' tilt is clipped at -1
    and the risk-bearing ones keep a little less (0.39 -> 0.385 at the defaults).
    """
    ranks = np.argsort(np.argsort(np.nan_to_num(pd_estimate, nan=0.05), kind="stable"), kind="stable")
    centred = (ranks + 0.5) / max(pd_estimate.size, 1) * 2.0 - 1.0  # in (-1, 1), riskier is higher
    risk_bearing = np.isin(np.array(FUNDING_MODELS), RISK_BEARING_MODELS)
    heavy = share[risk_bearing].sum()
    tilt = np.where(risk_bearing, RISK_TILT, -RISK_TILT * heavy / max(1.0 - heavy, 1e-9))
    weights = share[None, :] * (1.0 + np.clip(tilt, -1, 1)[None, :] * centred[:, None])
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights.cumsum(axis=1) > rng.random((pd_estimate.size, 1))).argmax(axis=1).astype(np.int8)


def institution(
    rng: np.random.Generator, model: np.ndarray, institution_model: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """A partner of each loan's funding model, chosen in proportion to its capacity."""
    chosen = np.empty(model.size, np.int64)
    for m in np.unique(model):
        members = np.flatnonzero(institution_model == m)
        weights = capacity[members] / capacity[members].sum()
        pick = model == m
        chosen[pick] = members[rng.choice(members.size, pick.sum(), p=weights)]
    return chosen
