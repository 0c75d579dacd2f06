"""Online matching of one approved application: the eligible partners ranked, with a fallback order.

:class:`OnlineMatcher` holds the partners and their remaining capacity. :meth:`~OnlineMatcher.rank`
answers the eligible partners with room, best first by expected margin (or by margin less the
capacity prices of the last batch allocation), or a "no partner" answer with its reasons; it
reserves nothing. :meth:`~OnlineMatcher.reserve` takes the capacity once a partner accepts; when
the first partner declines, the next in the ranking is the fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from creditmesh.errors import ParameterError
from creditmesh.funding import FUNDING_MODELS
from creditmesh.matching.allocate import Prices, Room, grade_limits
from creditmesh.matching.applications import Applications, application_from_mapping
from creditmesh.matching.eligibility import eligible_one
from creditmesh.matching.margin import DEFAULT_LGD, expected_margin
from creditmesh.matching.partners import Partners

#: The most offers a ranking lists: the chosen partner and its fallbacks.
MAX_OFFERS = 10


@dataclass(frozen=True)
class Offer:
    """One partner in the ranking: its expected margin (float minor units) and the margin less capacity prices."""

    institution_id: str
    funding_model: str
    expected_margin: float
    priced_margin: float


@dataclass(frozen=True)
class Match:
    """The ranking for one application, best first (the fallback order); empty with ``reasons`` when no partner fits."""

    application_id: str
    amount_minor: int
    offers: tuple[Offer, ...]
    reasons: tuple[str, ...]

    @property
    def partner(self) -> Offer | None:
        return self.offers[0] if self.offers else None


class OnlineMatcher:
    """Ranks partners for one application at a time, honouring the remaining capacity it holds."""

    def __init__(
        self,
        partners: Partners,
        *,
        capacity_minor: np.ndarray | None = None,
        prices: Prices | None = None,
        lgd: float = DEFAULT_LGD,
        max_offers: int = MAX_OFFERS,
    ) -> None:
        capacity = partners.capacity_minor if capacity_minor is None else np.asarray(capacity_minor)
        if capacity.shape != (len(partners),) or (capacity < 0).any():
            raise ParameterError("capacity_minor", f"one non-negative amount per partner ({len(partners)})")
        self.partners = partners
        self.prices = prices
        self.lgd = lgd
        self.max_offers = max_offers
        self.room = Room(capacity, grade_limits(partners, capacity))
        self._index = {pid: j for j, pid in enumerate(partners.ids)}

    def rank(self, application: Mapping[str, Any] | Applications) -> Match:
        """The eligible partners with room, best first; or none, with the reasons."""
        one = application if isinstance(application, Applications) else application_from_mapping(application)
        amount, grade = int(one.amount_minor[0]), int(one.grade[0])
        candidates, failed = eligible_one(one, self.partners)
        if candidates.size == 0:
            return Match(str(one.ids[0]), amount, (), ("no_eligible_partner", *failed))
        zeros = np.zeros(candidates.size, dtype=np.int64)
        value = expected_margin(one, self.partners, zeros, candidates, lgd=self.lgd)
        priced = (
            value
            if self.prices is None
            else value - amount * (self.prices.capacity[candidates] + self.prices.grade[candidates, grade])
        )
        keep = value > 0
        if not keep.any():
            return Match(str(one.ids[0]), amount, (), ("no_positive_margin",))
        keep &= self.room.fits(candidates, grade, amount)
        if not keep.any():
            return Match(str(one.ids[0]), amount, (), ("capacity_exhausted",))
        order = np.flatnonzero(keep)[np.argsort(-priced[keep], kind="stable")][: self.max_offers]
        chosen = candidates[order]
        models = self.partners.model[chosen].tolist()
        offers = tuple(
            Offer(pid, FUNDING_MODELS[m], v, q)
            for pid, m, v, q in zip(
                self.partners.ids[chosen].tolist(), models, value[order].tolist(), priced[order].tolist()
            )
        )
        return Match(str(one.ids[0]), amount, offers, ())

    def reserve(self, match: Match, institution_id: str, grade: str | int) -> None:
        """Take the capacity for ``match`` at the partner that accepted it (one of its offers)."""
        if institution_id not in {o.institution_id for o in match.offers}:
            raise ParameterError(
                "institution_id", f"{institution_id!r} is not among the offers for {match.application_id}"
            )
        from creditmesh.matching.applications import GRADES

        g = GRADES.index(grade) if isinstance(grade, str) else int(grade)
        j = self._index[institution_id]
        if not self.room.fits(np.array([j]), g, match.amount_minor)[0]:
            raise ParameterError(
                "institution_id", f"{institution_id} has no room left for {match.amount_minor} minor units"
            )
        self.room.take(j, g, match.amount_minor)

    def remaining_minor(self, institution_id: str) -> int:
        return int(self.room.capacity[self._index[institution_id]])
