"""Securitise the book: select a pool, project it under the book's curves, run the deal, price the funding."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from creditmesh.errors import ParameterError
from creditmesh.finance.deal import Deal, WaterfallResult, blended_funding_cost, run_waterfall
from creditmesh.finance.pool import (
    Curves,
    EligibilityCriteria,
    Pool,
    book_curves,
    project_pool,
    scenario_curves,
    select_pool,
)

if TYPE_CHECKING:
    from creditmesh.portfolio import Book


@dataclass(frozen=True)
class AbsReport:
    """The pool, the curves it was projected with, the deal's flows, and the funding cost they make."""

    pool: Pool
    curves: Curves
    waterfall: WaterfallResult
    #: The notes' weighted average coupon, and the blended cost with the trusts funding the rest.
    abs_cost: float
    blended_funding_cost: float

    def summary(self) -> dict[str, object]:
        flows = self.waterfall.pool
        collected = flows.collections.sum(axis=1)
        return {
            "cutoff": self.pool.cutoff.isoformat(),
            "loans": len(self.pool.loans),
            "pool_balance_minor": self.pool.balance_minor,
            **self.pool.concentration(),
            "scenarios": int(flows.collections.shape[0]),
            "months": int(flows.collections.shape[1]),
            "expected_collections_minor": int(collected.mean()),
            "expected_defaults_minor": int(flows.defaults.sum(axis=1).mean()),
            "scenarios_triggered": int((self.waterfall.triggered_month > 0).sum()),
            "abs_cost": self.abs_cost,
            "blended_funding_cost": self.blended_funding_cost,
        }


def securitise(
    book: Book,
    cutoff: dt.date,
    *,
    criteria: EligibilityCriteria | None = None,
    scenarios: int = 100,
    horizon_months: int = 36,
    recovery_rate: float = 0.1,
    recovery_lag_months: int = 6,
    seed: int = 0,
    trust_balance_minor: int = 0,
    trust_rate: float = 0.05,
    **deal_options,
) -> AbsReport:
    """Pool, curves, projection and waterfall at ``cutoff``; ``deal_options`` go to :meth:`Deal.sized`.

    The blended funding cost weighs the notes sold at their coupon against ``trust_balance_minor`` of
    trust funding at ``trust_rate`` (the subordinated tranche is the platform's own money).
    """
    pool = select_pool(book, cutoff, criteria, horizon_months=horizon_months)
    if pool.loans.empty:
        raise ParameterError(
            "criteria",
            f"no pool at {cutoff}: no eligible loan, or too few borrowers for the concentration caps "
            "(a borrower cap of c needs at least 1/c borrowers of like size)",
        )
    curves = book_curves(book, cutoff)
    defaults, prepayments = scenario_curves(curves, scenarios, seed=seed)
    flows = project_pool(
        pool, defaults, prepayments, recovery_rate=recovery_rate, recovery_lag_months=recovery_lag_months
    )
    deal = Deal.sized(pool.balance_minor, **deal_options)
    result = run_waterfall(deal, flows)
    sold = sum(t.balance_minor for t in deal.notes_sold)
    mix = {"abs": (sold, deal.weighted_average_coupon()), "trusts": (trust_balance_minor, trust_rate)}
    blended = blended_funding_cost(mix) if sold + trust_balance_minor > 0 else 0.0
    return AbsReport(pool, curves, result, deal.weighted_average_coupon(), blended)


def book_funding_costs(
    ledger, start: dt.date, end: dt.date, *, annual_rate: float
) -> list[tuple[dt.date, int]]:
    """Book each month's interest on the on-balance book's funding: the loans receivable at the month end
    times ``annual_rate / 12`` (e.g. :attr:`AbsReport.blended_funding_cost`); once per month."""
    import numpy as np

    from creditmesh.errors import ParameterError
    from creditmesh.finance.provisions import month_ends
    from creditmesh.ledger import journal
    from creditmesh.money import Rounding, mul_rate_array, rate_to_ppm

    if not 0 <= annual_rate < 1:
        raise ParameterError("annual_rate", f"must be in [0, 1), got {annual_rate}")
    booked = []
    for month_end in month_ends(start, end):
        funded = max(ledger.trial_balance(month_end).get(journal.RECEIVABLE, 0), 0)
        cost = int(
            mul_rate_array(np.array([funded]), rate_to_ppm(annual_rate), 12, rounding=Rounding.HALF_UP)[0]
        )
        if cost:
            ledger.book_funding_cost(month_end, cost, reference=f"funding cost {month_end.isoformat()}")
            booked.append((month_end, cost))
    return booked
