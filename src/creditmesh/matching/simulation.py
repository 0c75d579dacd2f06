"""The simulated platform funded by the ICE matcher: each month's drawdowns routed online, capacity priced.

:class:`MatcherAllocation` is an :class:`creditmesh.simulate.allocation.Allocation`: the simulator
hands it each month's approved drawdowns and it answers each one's funding model and partner. The
month's drawdowns arrive in time order and go through :func:`~creditmesh.matching.allocate.route`,
the dual-price router, with the capacity prices of the LP over the previous month's drawdowns
(:func:`~creditmesh.matching.allocate.sample_prices`, its column generation started from the month
before's prices; the first month routes greedily on margin).
Partners' monthly capacity is sized to the platform's volume so that it binds, and so which share
of volume ends under capital-light, ICE and technology solutions is what allocation makes of it.

The levers (partners' terms, each a column of the ``institutions`` table or a default of
:mod:`creditmesh.funding`):

* capacity: :data:`~creditmesh.matching.partners.CAPACITY_SHARE` is each funding model's monthly
  capacity as a share of the month's approved drawdown volume, split across that model's partners
  in proportion to the ``monthly_capacity_minor`` the simulator drew
  (:func:`~creditmesh.matching.partners.capacity_for_volume`, which ``creditmesh match allocate
  --capacity volume`` sizes a month with too). The risk-bearing models earn the widest margin,
  so their capacity (0.44 of volume at the defaults) binds and decides how much spills to the
  platform services;
* risk appetite: ``max_pd`` and ``min_score`` (capital-light partners take the safer borrowers);
* APR range: ``apr_min``, ``apr_max`` (a drawdown outside it is not eligible);
* fee rates: ``fee_rate`` (default by model, :attr:`creditmesh.funding.FundingModel.default_fee_rate`)
  and acceptance (``default_acceptance_rate``), which set each pair's expected margin.

A drawdown no partner can take (none eligible, no positive margin, or every eligible partner full)
is funded by the platform itself: the ``capital_heavy_on`` partner with the most room left.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from creditmesh.funding import FUNDING_MODELS
from creditmesh.matching.allocate import Prices, build_problem, route, sample_prices
from creditmesh.matching.applications import GRADES, Applications
from creditmesh.matching.partners import CAPACITY_SHARE, Partners, capacity_for_volume, load_partners
from creditmesh.scoring.scorecard import BASE_ODDS, BASE_SCORE, PDO, scaling
from creditmesh.scoring.serve import grade_of
from creditmesh.simulate.state import Drawdowns

#: Applications in the sample whose LP prices next month's capacity.
PRICE_SAMPLE = 1_000
#: The funding model that takes what no partner can: the platform's own balance sheet.
FALLBACK_MODEL = "capital_heavy_on"


class MatcherAllocation:
    """Funds each month's drawdowns through the dual-price router over the simulator's institutions."""

    def __init__(
        self,
        institutions: pa.Table,
        borrower_region: np.ndarray,
        *,
        capacity_share: Mapping[str, float] = CAPACITY_SHARE,
        price_sample: int = PRICE_SAMPLE,
    ) -> None:
        self.partners: Partners = load_partners(institutions)
        self.borrower_region = np.asarray(borrower_region, dtype=object)
        self.capacity_share = capacity_share
        self.price_sample = price_sample
        self.prices: Prices | None = None
        #: Per month: (capacity per partner, allocated per partner, drawdowns the platform funded itself).
        self.months: list[tuple[np.ndarray, np.ndarray, int]] = []

    def capacity_minor(self, volume_minor: int) -> np.ndarray:
        """Each partner's capacity for a month of ``volume_minor``: its model's share, split by drawn capacity."""
        return capacity_for_volume(self.partners, volume_minor, self.capacity_share)

    def allocate(self, rng: np.random.Generator, drawdowns: Drawdowns) -> tuple[np.ndarray, np.ndarray]:
        arrival = np.lexsort((drawdowns.second, drawdowns.day))
        applications = self.applications(drawdowns).take(arrival)
        capacity = self.capacity_minor(int(drawdowns.principal_minor.sum()))
        problem = build_problem(applications, self.partners, capacity_minor=capacity)
        routed = route(problem, prices=self.prices, batch=drawdowns.day[arrival])
        partner = np.empty(drawdowns.size, np.int64)
        partner[arrival] = routed.partner
        unplaced = partner < 0
        partner[unplaced] = self.fallback_partner(capacity, routed.partner)
        self.months.append(
            (capacity, _allocated(partner, drawdowns.principal_minor, capacity.size), int(unplaced.sum()))
        )
        if len(applications) > 0:
            self.prices = sample_prices(
                problem, min(self.price_sample, len(applications)), full=False, prices=self.prices
            )
        return self.partners.model[partner].astype(np.int8), partner.astype(np.int64)

    def applications(self, drawdowns: Drawdowns) -> Applications:
        """The drawdowns as matching's approved applications (score from the PD on the scorecard's scale)."""
        pd_ = np.clip(np.nan_to_num(drawdowns.pd_estimate, nan=0.05), 1e-6, 1 - 1e-6)
        factor, offset = scaling(PDO, BASE_SCORE, BASE_ODDS)
        index = {g: k for k, g in enumerate(GRADES)}
        return Applications(
            ids=drawdowns.app.astype(object),
            pd=pd_,
            score=offset + factor * np.log((1 - pd_) / pd_),
            amount_minor=drawdowns.principal_minor.astype(np.int64),
            tenor_months=drawdowns.tenor.astype(np.int64),
            region=self.borrower_region[drawdowns.borrower],
            apr=drawdowns.apr.astype(np.float64),
            grade=np.array([index[g] for g in grade_of(pd_)], dtype=np.int8),
        )

    def fallback_partner(self, capacity: np.ndarray, partner: np.ndarray) -> int:
        """The platform's own partner with the most room left this month."""
        own = np.flatnonzero(self.partners.model == FUNDING_MODELS.index(FALLBACK_MODEL))
        used = np.bincount(partner[partner >= 0], minlength=capacity.size)
        return int(own[np.argmax(capacity[own] - used[own])])


def _allocated(partner: np.ndarray, amount: np.ndarray, partners: int) -> np.ndarray:
    return np.bincount(partner, weights=amount, minlength=partners).astype(np.int64)
